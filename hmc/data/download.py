"""Download the study's data files from their public sources, verified, atomically.

:func:`fetch_file` streams one :class:`~hmc.data.sources.RemoteFile` into a temporary file beside
its destination, checks its size and checksum, and only then renames it into place: a failed,
corrupt or interrupted download leaves nothing behind. :func:`fetch` gets every missing file of a
dataset; :func:`status` says which files are on disk, where, and whether they can be used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from hmc.data import paths
from hmc.data.sources import SOURCES, RemoteFile
from hmc.errors import DatasetMissingError, HMCDataError

_CHUNK = 1 << 20

STATUS_CHECKSUM_MAX_BYTES = 16 << 20
""":func:`status` checksums the files up to this size (the benchmark ARFFs and the Omniglot npz: about
70 MB in all, a fraction of a second); larger ones (CIFAR-100, Aircraft, weights) only by size."""

_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
"""What a failed or cut-off transfer raises (HTTPError is a URLError; IncompleteRead an HTTPException)."""


class FileStatus(NamedTuple):
    """One row of :func:`status`: ``file`` is the relpath; ``path`` is where it was found, or None.

    ``problem`` says why a file that is present cannot be used (it cannot be read, or its size or
    checksum differs from its source's: truncated or damaged), with what to do; None when it can.
    """

    dataset: str
    file: str
    present: bool
    path: Path | None
    problem: str | None = None


def file_checksum(path: str | Path, kind: str) -> str:
    """The ``"<kind>:<hex>"`` checksum of a file on disk, for kind ``md5``, ``sha256`` or ``gitblob``.

    ``gitblob`` is git's blob hash (``git hash-object``): sha1 of ``b"blob <size>\\0"`` + content.
    """
    path = Path(path)
    if kind == "gitblob":
        hasher = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    else:
        hasher = hashlib.new(kind)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            hasher.update(chunk)
    return f"{kind}:{hasher.hexdigest()}"


def verify_file(path: str | Path, remote: RemoteFile, check_checksum: bool = True) -> None:
    """Raise :class:`HMCDataError` unless ``path`` has ``remote``'s size and (optionally) checksum.

    An unknown size or checksum is not checked. The message names the file and gives the expected
    and actual size and checksum.
    """
    path = Path(path)
    problems = []
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        problems.append(f"expected {remote.size} bytes, got {size} bytes")
    if check_checksum and remote.checksum is not None:
        actual = file_checksum(path, remote.checksum.partition(":")[0])
        if actual != remote.checksum:
            problems.append(f"expected checksum {remote.checksum}, got {actual}")
    if problems:
        raise HMCDataError(f"{remote.name} does not match its source {remote.url}: {'; '.join(problems)}",
                           path=path)


def fetch_file(remote: RemoteFile, dest_root: str | Path | None = None, timeout: float = 60,
               progress: bool = True) -> Path:
    """Download ``remote`` to ``dest_root / remote.relpath`` and return that path.

    ``dest_root`` defaults to :func:`hmc.data.paths.cache_dir`. The bytes go to a temporary file in
    the destination folder, are checked against ``remote.size`` and ``remote.checksum`` (a file
    without a checksum is downloaded with a warning that it cannot be verified), and only then
    replace the destination atomically. On any failure (bad size or checksum: :class:`HMCDataError`;
    network failure or a cut-off transfer: :class:`DatasetMissingError`; an interrupt) the temporary
    file and any folders created for it are removed, so nothing partial is left behind.
    """
    final = Path(dest_root if dest_root is not None else paths.cache_dir()) / remote.relpath
    if remote.checksum is None:
        warnings.warn(f"{remote.name} has no published checksum: the download from {remote.url} "
                      f"cannot be verified", stacklevel=2)
    created = _make_parents(final.parent)
    tmp, done = None, False
    try:
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out:
            try:
                _stream(remote, out, timeout, progress)
            except _NETWORK_ERRORS as err:
                raise _missing_error(remote, final, err) from err
        try:
            verify_file(tmp, remote)
        except HMCDataError as err:
            raise HMCDataError(f"{err.message}; the download was discarded", path=final) from None
        os.replace(tmp, final)
        done = True
    finally:
        if not done:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            _remove_empty(created)
    return final


def fetch(name: str, dest_root: str | Path | None = None, verify: bool = False, timeout: float = 60,
          progress: bool = True) -> list[Path]:
    """Make every file of dataset ``name`` (a key of :data:`~hmc.data.sources.SOURCES`) available.

    A file already present in a data root (:func:`hmc.data.paths.data_dirs`) is not downloaded; its
    size is checked, and with ``verify=True`` its checksum too (a mismatch raises
    :class:`HMCDataError`). Missing files are downloaded with :func:`fetch_file` into ``dest_root``
    (default: the cache root). Returns the path of every file, in the order of ``SOURCES[name]``.
    """
    if name not in SOURCES:
        raise HMCDataError(f"unknown dataset {name!r}; valid names: {', '.join(SOURCES)}")
    found_paths = []
    for remote in SOURCES[name]:
        found = paths.find(remote.relpath)
        if found is None:
            found = fetch_file(remote, dest_root=dest_root, timeout=timeout, progress=progress)
        else:
            verify_file(found, remote, check_checksum=verify)
        found_paths.append(found)
    return found_paths


def status() -> list[FileStatus]:
    """One row per file of every dataset in :data:`~hmc.data.sources.SOURCES`: present, where, usable.

    Each file found is opened (an unreadable one gets a ``problem``) and compared with its source:
    its size always, its checksum when it is at most :data:`STATUS_CHECKSUM_MAX_BYTES` (a truncated or
    overwritten Omniglot npz or ARFF is caught). ``fetch NAME --verify`` checksums the larger files too.
    """
    rows = []
    for dataset, remotes in SOURCES.items():
        for remote in remotes:
            found = paths.find(remote.relpath)
            problem = None if found is None else file_problem(found, remote, dataset)
            rows.append(FileStatus(dataset, remote.relpath, found is not None, found, problem))
    return rows


def file_problem(path: str | Path, remote: RemoteFile, dataset: str) -> str | None:
    """Why the file ``path`` (a copy of ``remote``, part of ``dataset``) cannot be used, or None.

    Checks that it can be read, its size, and its checksum when it is at most
    :data:`STATUS_CHECKSUM_MAX_BYTES`; the answer ends with what to do.
    """
    path = Path(path)
    refetch = f"delete it and run `python -m hmc data fetch {dataset}`"
    try:
        with open(path, "rb"):
            pass
        size = path.stat().st_size
        small = size <= STATUS_CHECKSUM_MAX_BYTES and (remote.size is None or size == remote.size)
        verify_file(path, remote, check_checksum=small)  # a wrong size needs no checksum to tell
    except HMCDataError as err:
        return f"truncated or damaged (not the published file: {err.message}); to replace it, {refetch}"
    except OSError as err:
        return f"cannot be read ({err.strerror or err}): fix its permissions, or {refetch}"
    return None


def _stream(remote: RemoteFile, out, timeout: float, progress: bool) -> None:
    """Copy the body at ``remote.url`` into the open binary file ``out``, with a progress bar.

    A body shorter than the server's Content-Length (the connection closed early) raises
    ConnectionError: ``http.client`` itself returns the short body without complaint.
    """
    with urllib.request.urlopen(remote.url, timeout=timeout) as response:
        header = response.headers.get("Content-Length")
        length = int(header) if header else None
        received = 0
        total = remote.size if remote.size is not None else length
        with tqdm(total=total, unit="B", unit_scale=True, desc=remote.name, disable=not progress) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if length is not None and received < length:
        raise ConnectionError(f"the connection closed after {received} of {length} bytes")


def _missing_error(remote: RemoteFile, final: Path, err: BaseException) -> DatasetMissingError:
    """The error for a download that failed on the network: the file, where it was looked for,
    the URL to get it from, and where to put it."""
    looked = ", ".join(str(root / remote.relpath) for root in paths.data_dirs())
    return DatasetMissingError(
        f"could not download {remote.name!r} from {remote.url} ({type(err).__name__}: {err}). "
        f"It was looked for at: {looked}. To use it offline, download {remote.url} elsewhere and put "
        f"it at {final} (or at <dir>/{remote.relpath} with HMC_DATA_DIR=<dir>)")


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the folders created, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove each folder (deepest first) if it is still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
