"""Every notebook executes under the smoke profile, and the book builds strictly with 0 warnings."""

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml

from hmc import runner

ROOT = Path(__file__).resolve().parents[1]
SOURCES = runner.notebook_sources(ROOT / "notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_runs_under_smoke_profile(source, tmp_path):
    out = runner.run_notebook(source, "smoke", [], tmp_path / "book", tmp_path / "results", progress=False)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert "provenance" in nb.cells[-1].metadata.tags
    figures = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert figures, f"{source.name} shows no figure"


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_notebook_is_in_the_toc_and_executed_in_book():
    listed = set(toc_files())
    for source in SOURCES:
        assert f"book/{source.stem}" in listed, f"{source.stem} missing from _toc.yml"
        executed = ROOT / "book" / f"{source.stem}.ipynb"
        assert executed.is_file(), f"{executed} missing: run `python -m hmc run {source}`"
        nb = nbformat.read(executed, as_version=4)
        assert "provenance" in nb.cells[-1].metadata.tags


@dataclass
class BookBuild:
    """One strict build of a copy of the working tree (see :func:`strict_book_build`)."""

    tree: Path
    html: Path
    returncode: int
    log: str
    seconds: float


_BOOK_BUILD = pytest.StashKey[BookBuild]()


def strict_book_build(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """Build the book once per pytest session, shared by every test that needs the HTML.

    Builds a copy, so the tests never touch the working tree's _build/. Kept in the session's
    stash (not only in a fixture), so that test modules importing the fixture share one build.
    """
    if _BOOK_BUILD not in config.stash:
        tree = tmp_path_factory.mktemp("book") / "tree"
        ignore = shutil.ignore_patterns(".venv", "_build", ".git", "results", "__pycache__", ".pytest_cache")
        shutil.copytree(ROOT, tree, ignore=ignore)
        jb = Path(sys.executable).with_name("jupyter-book")
        start = time.monotonic()
        run = subprocess.run([str(jb), "build", "--all", ".", "-W", "-n", "--keep-going"], cwd=tree,
                             capture_output=True, text=True, timeout=600)
        config.stash[_BOOK_BUILD] = BookBuild(tree, tree / "_build" / "html", run.returncode,
                                              run.stdout + run.stderr, time.monotonic() - start)
    return config.stash[_BOOK_BUILD]


@pytest.fixture(scope="session")
def book_build(request, tmp_path_factory) -> BookBuild:
    """The strict build of the book (``jupyter-book build --all . -W -n --keep-going``), once."""
    return strict_book_build(request.config, tmp_path_factory)


@pytest.mark.slow
def test_strict_book_build_has_no_warnings(book_build):
    log = book_build.log
    warnings = [ln for ln in log.splitlines() if re.search(r"\bWARNING\b|: warning:|ERROR", ln)]
    assert book_build.returncode == 0, log[-3000:]
    assert not warnings, "\n".join(warnings)
    html = book_build.html
    for page in toc_files():
        assert (html / f"{page}.html").is_file(), f"{page}.html not built"
    for source in SOURCES:
        page = (html / "book" / f"{source.stem}.html").read_text()
        assert re.search(r'<img[^>]+src="[^"]+\.png"', page), f"{source.stem}.html has no figure"
