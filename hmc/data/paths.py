"""Where data files are looked for: ``$HMC_DATA_DIR``, then a per-user cache directory.

A data file is named by its path relative to a data root, e.g.
``hmc_datasets/HMC_data/datasets_FUN/cellcycle_FUN/cellcycle_FUN.train.arff``. The roots are searched
in order; downloads are written into the per-user cache root (``$HMC_CACHE_DIR`` when set, otherwise
the platform's user cache directory for ``hmc-study``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from hmc.errors import DatasetMissingError


def cache_dir() -> Path:
    """The per-user cache root: ``$HMC_CACHE_DIR`` or the platform user cache dir (not created here)."""
    env = os.environ.get("HMC_CACHE_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("hmc-study"))


def data_dirs() -> list[Path]:
    """The data roots searched, in order: ``$HMC_DATA_DIR`` (when set), then :func:`cache_dir`."""
    roots = []
    env = os.environ.get("HMC_DATA_DIR")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(cache_dir())
    return roots


def find(relpath: str | Path) -> Path | None:
    """The first existing ``root / relpath`` over :func:`data_dirs`, or None."""
    for root in data_dirs():
        candidate = root / relpath
        if candidate.exists():
            return candidate
    return None


def locate(relpath: str | Path, how_to_get: str = "") -> Path:
    """Like :func:`find`, but a missing file raises :class:`DatasetMissingError`.

    The message names the file, every place it was looked for, and how to get it.
    """
    found = find(relpath)
    if found is not None:
        return found
    looked = ", ".join(str(root / relpath) for root in data_dirs())
    hint = how_to_get or "set HMC_DATA_DIR to the folder that holds it"
    raise DatasetMissingError(f"missing data file {Path(relpath).name!r}; looked for {looked}. To get it: {hint}")
