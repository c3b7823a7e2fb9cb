"""Where data files are looked for: ``$HMC_DATA_DIR``, then a per-user cache directory.

A data file is named by its path relative to a data root, e.g.
``hmc_datasets/HMC_data/datasets_FUN/cellcycle_FUN/cellcycle_FUN.train.arff``. The roots are searched
in order; downloads are written into the per-user cache root (``$HMC_CACHE_DIR`` when set, otherwise
the platform's user cache directory for ``hmc-study``).

A root that cannot be read (no permission, not a folder) is skipped with a warning that names it, so
an unreadable ``$HMC_DATA_DIR`` falls back to the cache instead of failing.
"""

from __future__ import annotations

import os
import warnings
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


def root_problem(root: str | Path) -> str | None:
    """Why the data root ``root`` cannot be searched (e.g. ``"cannot be read (Permission denied)"``), or None.

    A root that does not exist is no problem (nothing is found there).
    """
    try:
        with os.scandir(root):
            pass
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return "is not a folder"
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    return None


def find(relpath: str | Path) -> Path | None:
    """The first existing ``root / relpath`` over :func:`data_dirs`, or None.

    A root (or a folder in it) that cannot be read is skipped with a warning naming it, and the
    search goes on in the next root.
    """
    for root in data_dirs():
        candidate = root / relpath
        try:
            candidate.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as err:  # e.g. PermissionError: the root or a folder in it cannot be read
            warnings.warn(
                f"data root {root} cannot be searched ({err.strerror or err}: {err.filename}); skipping it. "
                "Fix its permissions or point HMC_DATA_DIR elsewhere",
                stacklevel=2,
            )
            continue
        return candidate
    return None


def locate(relpath: str | Path, how_to_get: str = "") -> Path:
    """Like :func:`find`, but a missing file raises :class:`DatasetMissingError`.

    The message names the file, every place it was looked for (and why a root could not be read),
    and how to get it.
    """
    found = find(relpath)
    if found is not None:
        return found
    looked = []
    for root in data_dirs():
        problem = root_problem(root)
        looked.append(str(root / relpath) + (f" (the root {problem})" if problem else ""))
    hint = how_to_get or "set HMC_DATA_DIR to the folder that holds it"
    raise DatasetMissingError(
        f"missing data file {Path(relpath).name!r}; looked for {', '.join(looked)}. To get it: {hint}"
    )
