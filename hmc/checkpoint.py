"""Training checkpoints that survive kills: atomic writes, no stale temporary files, damage set aside.

A checkpoint is a ``torch.save`` of a dict holding an ``"identity"`` entry (what run it belongs to:
configuration, seeds, data) and whatever the trainer needs to continue. :func:`save_checkpoint`
writes it atomically (temporary file beside it, fsync, rename), so a kill during the write leaves
the previous checkpoint intact. :func:`load_checkpoint` first removes temporary files that such a
kill left behind (``<name>.*.tmp``), then loads; a file that cannot be loaded (cut, overwritten)
is renamed to ``<name>.damaged-<UTC time>`` (never deleted), a warning names it and the reason,
and the run starts from scratch. A readable checkpoint of another run raises ValueError.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import torch

from hmc.fileio import atomic_write


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporary files that an interrupted :func:`save_checkpoint` of ``path`` may have left."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.name}.*.tmp")) if path.parent.is_dir() else []


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (with an ``"identity"`` entry) to ``path`` atomically."""
    if "identity" not in state:
        raise ValueError("a checkpoint state needs an 'identity' entry")
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)


def load_checkpoint(path: str | os.PathLike | None, identity: dict, map_location=None) -> dict | None:
    """The checkpoint at ``path`` if it exists, can be read and belongs to ``identity``; else None.

    Removes stale temporaries first. A damaged file is set aside (renamed, with a warning naming
    both paths) and None is returned, so the run restarts. A readable checkpoint whose identity
    differs raises ValueError naming the entries that differ.
    """
    if path is None:
        return None
    path = Path(path)
    for tmp in stale_temporaries(path):
        tmp.unlink(missing_ok=True)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(state, dict) or "identity" not in state:
            raise ValueError("no 'identity' entry")
    except Exception as err:  # noqa: BLE001 - any failure to read means the file is damaged
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        os.replace(path, aside)
        warnings.warn(f"checkpoint {path} could not be read ({type(err).__name__}: {err}); set aside as {aside}, "
                      "the run starts from the beginning", RuntimeWarning, stacklevel=2)
        return None
    if state["identity"] != identity:
        keys = sorted(k for k in state["identity"].keys() | identity.keys()
                      if state["identity"].get(k) != identity.get(k))
        raise ValueError(f"checkpoint {path} belongs to another run (differs in {keys}): stored "
                         f"{ {k: state['identity'].get(k) for k in keys} }, this run { {k: identity.get(k) for k in keys} }; "
                         "use another checkpoint path or delete the file")
    return state


def remove_checkpoint(path: str | os.PathLike | None) -> None:
    """Delete a finished run's checkpoint and any temporaries beside it."""
    if path is None:
        return
    path = Path(path)
    for tmp in stale_temporaries(path):
        tmp.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


class TrainingPaused(RuntimeError):
    """A run stopped at an epoch boundary because its time budget would end before the next epoch;
    its checkpoint holds the progress. ``epochs_done`` says how far it got."""

    def __init__(self, message: str, epochs_done: int):
        super().__init__(message)
        self.epochs_done = epochs_done
