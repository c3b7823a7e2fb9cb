"""``python -m hmc data status|fetch``, called as ``hmc.data.cli.main([...])``.

Downloads go only to a file server on 127.0.0.1 started here.
"""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hmc.data.cli import main
from hmc.data.sources import INFO, SOURCES, DatasetInfo, RemoteFile

PAYLOAD = b"toy data\n" * 100


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def empty_roots(tmp_path, monkeypatch):
    """HMC_DATA_DIR and HMC_CACHE_DIR point at two empty folders; no proxy for 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def file_server(tmp_path):
    """Serves ``tmp_path / "served"`` on 127.0.0.1 (ephemeral port); yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "toy.bin").write_bytes(PAYLOAD)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def add_toy(monkeypatch, url: str) -> RemoteFile:
    """Register a one-file dataset 'toy' downloaded from ``url``."""
    toy = RemoteFile("toy/toy.bin", url, len(PAYLOAD), "sha256:" + hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setitem(SOURCES, "toy", (toy,))
    monkeypatch.setitem(INFO, "toy", DatasetInfo("a toy dataset", "this test"))
    return toy


def test_status_lists_every_dataset_and_marks_missing_ones(capsys, tmp_path):
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "data") in out and str(tmp_path / "cache") in out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:1].strip()}  # table rows
    for name, files in SOURCES.items():
        assert f"0/{len(files)}" in lines[name]
    assert "cifar-100-python.tar.gz" in lines["cifar100"]
    assert "cellcycle_FUN.train.arff" in lines["cellcycle_FUN"]


def test_status_shows_where_present_files_are(capsys, tmp_path, monkeypatch):
    toy = add_toy(monkeypatch, "http://127.0.0.1:1/unused")
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / toy.relpath).write_bytes(PAYLOAD)
    assert main(["status"]) == 0
    toy_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("toy "))
    assert toy_line.split() == ["toy", "1/1", str(tmp_path / "cache"), "-"]


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "status" in capsys.readouterr().out
    assert main(["fetch", "--help"]) == 0
    assert "cellcycle_FUN" in capsys.readouterr().out


def test_unknown_dataset_exits_2_with_the_valid_names(capsys):
    assert main(["fetch", "cellcycle_FUN", "no_such_dataset"]) == 2
    err = capsys.readouterr().err
    assert "no_such_dataset" in err
    assert all(name in err for name in SOURCES)


def test_missing_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_fetch_from_local_server(capsys, tmp_path, monkeypatch, file_server):
    toy = add_toy(monkeypatch, f"{file_server}/toy.bin")
    assert main(["fetch", "--quiet", "toy"]) == 0
    path = tmp_path / "cache" / toy.relpath
    assert path.read_bytes() == PAYLOAD
    assert str(path) in capsys.readouterr().out
    assert main(["fetch", "--quiet", "--dest", str(tmp_path / "elsewhere"), "toy"]) == 0  # already present
    assert not (tmp_path / "elsewhere").exists()


def test_failed_fetch_prints_the_error_and_exits_1(capsys, tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    toy = add_toy(monkeypatch, f"http://127.0.0.1:{port}/toy.bin")
    assert main(["fetch", "--quiet", "toy"]) == 1
    err = capsys.readouterr().err
    assert "toy.bin" in err and toy.url in err
    assert not (tmp_path / "cache" / toy.relpath).exists()
