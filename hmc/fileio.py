"""Atomic file writes: a reader sees the old file or the complete new one, never a torn file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success fsync it and rename it to ``path``.

    ``mode`` is ``"w"`` (text, newline="") or ``"wb"``. If the block raises (or the process dies),
    the temporary file is removed (or left under a ``.tmp`` name) and ``path`` is untouched. The
    file gets the permissions of any file the user creates (``0666`` less the umask), so others
    sharing a results folder can read it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the user's usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _flock(path: str | os.PathLike, wait: bool) -> Iterator[bool]:
    """An exclusive advisory lock (``fcntl.flock``) on the file ``path`` (created if absent): yields True
    while held; without ``wait``, False at once (nothing held) when another process holds it."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """An exclusive advisory lock (``fcntl.flock``) on the file ``path`` (created if absent), held
    for the block: processes that take the same lock run their blocks one after another."""
    with _flock(path, wait=True):
        yield


def try_locked(path: str | os.PathLike):
    """The lock of :func:`locked` if no other process holds it: a context manager that yields True while
    held, or False at once (nothing held) when another process has it. The operating system releases
    it when its process ends, however it ends."""
    return _flock(path, wait=False)


def check_writable(folder: str | os.PathLike, what: str, advice: str = "") -> None:
    """Create ``folder`` if needed, write and remove a probe file in it; PermissionError naming it if that fails.

    ``what`` names the folder in the message (e.g. "the results store"), ``advice`` ends it.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"{what} {folder} is not writable ({err.strerror or err})"
                              + (f"; {advice}" if advice else "")) from err
