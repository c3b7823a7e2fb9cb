"""The downloader against a real HTTP server on 127.0.0.1, and the registry against the real files.

Only 127.0.0.1 is ever contacted: every RemoteFile used in a download points at the local server
started here (or at a closed local port).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hmc.data import download, sources
from hmc.data.download import FileStatus, fetch, fetch_file, file_checksum, status, verify_file
from hmc.data.sources import SOURCES, RemoteFile
from hmc.errors import DatasetMissingError, HMCDataError

DATA = bytes(range(256)) * 40
CORRUPT = DATA[:-1] + b"\x00"
RELPATH = "sub/dir/file.bin"


def _shared_data() -> Path | None:
    """The project's data folder (``$HMC_DATA_DIR`` or ``../shared/data`` beside the checkout), if any."""
    for candidate in (os.environ.get("HMC_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "data"):
        if candidate and (Path(candidate) / "hmc_datasets").is_dir():
            return Path(candidate)
    return None


SHARED = _shared_data()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, declared length, reset)``; reset aborts the connection
    with a TCP RST right after the body."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.hits[self.path] += 1
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, declared, reset = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) with the routes the tests need."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hits = Counter()
    httpd.routes = {
        "/good.bin": (DATA, len(DATA), False),
        "/corrupt.bin": (CORRUPT, len(CORRUPT), False),
        "/short.bin": (DATA[:-100], len(DATA) - 100, False),
        "/cut.bin": (DATA[: len(DATA) // 2], len(DATA), False),
        "/reset.bin": (DATA[: len(DATA) // 2], len(DATA), True),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def local_env(tmp_path, monkeypatch):
    """Empty data and cache roots in tmp_path, and no proxy between the tests and 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))


def url(server, route: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{route}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def remote(server, route: str, relpath: str = RELPATH, size: int | None = len(DATA),
           checksum: str | None = sha256(DATA)) -> RemoteFile:
    return RemoteFile(relpath, url(server, route), size, checksum)


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- fetch_file ----------------------------------------------------------------------------------

def test_good_file_lands_at_relpath(server, tmp_path):
    dest = tmp_path / "dest"
    path = fetch_file(remote(server, "/good.bin"), dest_root=dest, progress=False)
    assert path == dest / RELPATH
    assert path.read_bytes() == DATA
    assert all_files(dest) == [path]


def test_default_destination_is_the_cache_root(server, tmp_path):
    path = fetch_file(remote(server, "/good.bin", checksum="md5:" + hashlib.md5(DATA).hexdigest()), progress=True)
    assert path == tmp_path / "cache" / RELPATH
    assert path.read_bytes() == DATA


def test_corrupt_file_rejected_by_checksum_and_nothing_left(server, tmp_path):
    folder = tmp_path / "dest" / "sub" / "dir"
    folder.mkdir(parents=True)
    with pytest.raises(HMCDataError) as info:
        fetch_file(remote(server, "/corrupt.bin"), dest_root=tmp_path / "dest", progress=False)
    message = str(info.value)
    assert "file.bin" in message and sha256(DATA) in message and sha256(CORRUPT) in message
    assert not isinstance(info.value, DatasetMissingError)
    assert list(folder.iterdir()) == []


def test_shorter_body_rejected_by_size_and_nothing_left(server, tmp_path):
    with pytest.raises(HMCDataError, match=f"expected {len(DATA)} bytes, got {len(DATA) - 100} bytes"):
        fetch_file(remote(server, "/short.bin"), dest_root=tmp_path / "dest", progress=False)
    assert not (tmp_path / "dest").exists()  # the folders created for the download are gone too


def test_fewer_bytes_than_content_length_rejected_and_nothing_left(server, tmp_path):
    with pytest.raises(DatasetMissingError, match="closed after 5120 of 10240 bytes"), pytest.warns(UserWarning):
        fetch_file(remote(server, "/cut.bin", size=None, checksum=None), dest_root=tmp_path / "dest",
                   progress=False)
    assert all_files(tmp_path / "dest") == []


def test_connection_reset_mid_body_leaves_no_partial_file(server, tmp_path):
    folder = tmp_path / "dest" / "sub" / "dir"
    folder.mkdir(parents=True)
    with pytest.raises(DatasetMissingError):
        fetch_file(remote(server, "/reset.bin"), dest_root=tmp_path / "dest", progress=False)
    assert list(folder.iterdir()) == []


def test_keyboard_interrupt_mid_download_leaves_no_partial_file(server, tmp_path, monkeypatch):
    class InterruptingBar:
        """Stands in for tqdm: the first chunk is written, then the user presses Ctrl-C."""

        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "tqdm", InterruptingBar)
    with pytest.raises(KeyboardInterrupt):
        fetch_file(remote(server, "/good.bin"), dest_root=tmp_path / "dest", progress=False)
    assert all_files(tmp_path / "dest") == []


def test_unreachable_server_names_file_url_roots_and_destination(tmp_path):
    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    missing = RemoteFile("hmc_datasets/x/absent.arff", f"http://127.0.0.1:{port}/absent.arff", 10, sha256(DATA))
    with pytest.raises(DatasetMissingError) as info:
        fetch_file(missing, timeout=5, progress=False)
    message = str(info.value)
    assert "absent.arff" in message and missing.url in message
    assert str(tmp_path / "data" / missing.relpath) in message  # where it was looked for
    assert str(tmp_path / "cache" / missing.relpath) in message  # where to put it
    assert all_files(tmp_path / "cache") == []


def test_http_error_is_a_missing_dataset(server, tmp_path):
    with pytest.raises(DatasetMissingError, match="404"):
        fetch_file(remote(server, "/nowhere.bin"), dest_root=tmp_path / "dest", progress=False)
    assert not (tmp_path / "dest").exists()


def test_file_without_checksum_is_fetched_with_a_warning(server, tmp_path):
    with pytest.warns(UserWarning, match="cannot be verified"):
        path = fetch_file(remote(server, "/good.bin", size=None, checksum=None), dest_root=tmp_path, progress=False)
    assert path.read_bytes() == DATA


def test_gitblob_checksum_is_gits_blob_hash(server, tmp_path):
    blob = "gitblob:" + hashlib.sha1(b"blob %d\0" % len(DATA) + DATA).hexdigest()
    path = fetch_file(remote(server, "/good.bin", size=None, checksum=blob), dest_root=tmp_path, progress=False)
    assert file_checksum(path, "gitblob") == blob
    wrong = "gitblob:" + hashlib.sha1(DATA).hexdigest()  # sha1 without the header is not a blob hash
    with pytest.raises(HMCDataError, match=blob):
        fetch_file(remote(server, "/good.bin", relpath="other.bin", size=None, checksum=wrong),
                   dest_root=tmp_path, progress=False)
    assert not (tmp_path / "other.bin").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_gitblob_checksum_equals_git_hash_object(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(DATA)
    out = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
    assert file_checksum(path, "gitblob") == "gitblob:" + out.stdout.strip()


# --- fetch and status ----------------------------------------------------------------------------

@pytest.fixture
def toy(server, monkeypatch):
    """A dataset 'toy' of two files served by the local server."""
    files = (remote(server, "/good.bin", relpath="toy/a.bin"), remote(server, "/good.bin", relpath="toy/b.bin"))
    monkeypatch.setitem(SOURCES, "toy", files)
    return files


def test_fetch_downloads_only_what_is_missing(server, toy, tmp_path):
    present = tmp_path / "data" / "toy" / "a.bin"
    present.parent.mkdir(parents=True)
    present.write_bytes(DATA)
    hits_before = server.hits["/good.bin"]
    assert fetch("toy", progress=False) == [present, tmp_path / "cache" / "toy" / "b.bin"]
    assert server.hits["/good.bin"] == hits_before + 1
    assert fetch("toy", progress=False)[1] == tmp_path / "cache" / "toy" / "b.bin"
    assert server.hits["/good.bin"] == hits_before + 1


def test_fetch_checks_present_files(toy, tmp_path):
    present = tmp_path / "data" / "toy" / "a.bin"
    present.parent.mkdir(parents=True)
    present.write_bytes(DATA[:-1])
    with pytest.raises(HMCDataError, match=f"expected {len(DATA)} bytes, got {len(DATA) - 1} bytes"):
        fetch("toy", progress=False)
    present.write_bytes(CORRUPT)  # right size, wrong bytes: only found with verify=True
    fetch("toy", progress=False)
    with pytest.raises(HMCDataError, match="expected checksum"):
        fetch("toy", verify=True, progress=False)


def test_fetch_unknown_dataset():
    with pytest.raises(HMCDataError, match="valid names: .*cellcycle_FUN"):
        fetch("no_such_dataset")


def test_status_lists_every_file_and_where_it_is(toy, tmp_path):
    present = tmp_path / "cache" / "toy" / "b.bin"
    present.parent.mkdir(parents=True)
    present.write_bytes(DATA)
    rows = status()
    assert {row.dataset for row in rows} == set(SOURCES)
    assert len(rows) == sum(len(files) for files in SOURCES.values())
    toy_rows = [row for row in rows if row.dataset == "toy"]
    assert toy_rows == [FileStatus("toy", "toy/a.bin", False, None), FileStatus("toy", "toy/b.bin", True, present)]


# --- the registry --------------------------------------------------------------------------------

BENCHMARKS = [f"{d}_{o}" for o in ("FUN", "GO") for d in
              ("cellcycle", "derisi", "eisen", "expr", "gasch1", "gasch2", "seq", "spo")]
BENCHMARKS += ["diatoms", "enron", "imclef07a", "imclef07d"]


def test_registry_names_and_shape():
    assert set(SOURCES) == set(BENCHMARKS) | {"omniglot", "omniglot_zips", "cifar100", "resnet18_weights", "aircraft"}
    assert set(sources.INFO) == set(SOURCES)
    files = [f for remotes in SOURCES.values() for f in remotes]
    assert len({f.relpath for f in files}) == len(files) == 63
    for name in BENCHMARKS:
        expected = 2 if name in ("diatoms", "enron", "imclef07a", "imclef07d") else 3
        assert len(SOURCES[name]) == expected
        for f in SOURCES[name]:
            assert f.relpath.startswith("hmc_datasets/HMC_data/")
            assert f.url == ("https://raw.githubusercontent.com/EGiunchiglia/C-HMCNN/"
                             "e887855ab4b3b8f22e4fafc80a0a33c1d1ac0041/" + f.relpath.removeprefix("hmc_datasets/"))
    assert not any("church" in f.relpath or "pheno" in f.relpath for f in files)
    assert all(f.url.startswith("https://") for f in files)


def test_checksums_are_well_formed():
    with pytest.raises(ValueError, match="malformed checksum"):
        RemoteFile("x", "https://example.invalid/x", 1, "md5:1234")


@pytest.mark.skipif(SHARED is None, reason="the project's shared data folder is not here")
@pytest.mark.parametrize("remote_file", [f for fs in SOURCES.values() for f in fs], ids=lambda f: f.name)
def test_registered_files_match_the_shared_data(remote_file):
    path = SHARED / remote_file.relpath
    if not path.exists():
        pytest.skip(f"{remote_file.relpath} is not in {SHARED}")
    verify_file(path, remote_file)


@pytest.mark.skipif(SHARED is None, reason="the project's shared data folder is not here")
def test_known_checksums_of_expr_fun_train():
    """The README's md5 and C-HMCNN's git blob hash for expr_FUN.train.arff."""
    path = SHARED / "hmc_datasets/HMC_data/datasets_FUN/expr_FUN/expr_FUN.train.arff"
    assert file_checksum(path, "md5") == "md5:052ab28152c6a8c8d52f016e760dd12d"
    assert file_checksum(path, "gitblob") == "gitblob:ca9cf9c613b7b0c170b3fc265997ef512faf934c"
