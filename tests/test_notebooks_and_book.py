"""Every notebook executes under the smoke profile (on the sample of the real data committed with the
tests), and `make book` builds the committed record strictly, with 0 warnings, in a clean clone with no
data folder and no network, leaving the clone's working tree clean; a rerun there executes nothing."""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import yaml

from hmc import runner

ROOT = Path(__file__).resolve().parents[1]
SOURCES = runner.notebook_sources(ROOT / "notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_runs_under_smoke_profile(source, tmp_path, sample_data):
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
    """One strict `make book` in a clean clone with no data (see :func:`strict_book_build`)."""

    tree: Path
    html: Path
    returncode: int
    log: str
    seconds: float
    status: str | None  # `git status --porcelain` of the clone after the build; None when not a git checkout
    env: dict = field(repr=False, default_factory=dict)
    make: list = field(repr=False, default_factory=list)


_BOOK_BUILD = pytest.StashKey[BookBuild]()
VENV = Path(sys.executable).parent.parent  # the environment running the tests (not resolved: a venv's python links out)
NO_NETWORK = "http://127.0.0.1:9"  # a closed port: every download through the proxy fails at once


def clean_clone(dest: Path) -> bool:
    """Copy what a clone of the working tree would hold into ``dest`` (tracked files and untracked
    ones git does not ignore) and commit it there; no data folder sits beside it. Returns False, after
    copying with the usual ignore list instead, where the working tree is not a git checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True) if shutil.which("git") else None
    if listed is None or listed.returncode != 0:
        ignore = shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".pytest_cache")
        shutil.copytree(ROOT, dest, ignore=ignore)
        return False
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A", "--force"], ["commit", "-q", "-m", "clean clone"]):
        subprocess.run(git + command, cwd=dest, check=True, capture_output=True)
    return True


def no_data_env(cache: Path) -> dict:
    """The environment of a new user: no HMC_DATA_DIR, an empty cache, no network."""
    env = {k: v for k, v in os.environ.items() if k not in ("HMC_DATA_DIR", "HMC_RESULTS_DIR")}
    env.update(HMC_CACHE_DIR=str(cache), http_proxy=NO_NETWORK, https_proxy=NO_NETWORK, HTTP_PROXY=NO_NETWORK,
               HTTPS_PROXY=NO_NETWORK, no_proxy="", NO_PROXY="")
    return env


def strict_book_build(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """`make book` (with ``-W -n --keep-going``) once per pytest session, shared by every test that
    needs the HTML.

    Runs in a clean clone of the working tree with no data folder beside it, an empty data cache and
    no network, reusing the tests' environment (``VENV=...``, its install stamp taken as up to date),
    so the tests never touch the working tree's _build/. Kept in the session's stash (not only in a
    fixture), so that test modules importing the fixture share one build.
    """
    if _BOOK_BUILD not in config.stash:
        base = tmp_path_factory.mktemp("book")
        tree = base / "clone"
        tree.mkdir()
        is_git = clean_clone(tree)
        env = no_data_env(base / "empty-cache")
        make = ["make", "-o", f"{VENV}/.installed", f"VENV={VENV}"]
        if shutil.which("make"):
            command = make + ["book", "JB_OPTIONS=-W -n --keep-going"]
        else:
            command = [str(VENV / "bin" / "jupyter-book"), "build", "--all", ".", "-W", "-n", "--keep-going"]
        start = time.monotonic()
        run = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=600, env=env)
        seconds = time.monotonic() - start
        status = subprocess.run(["git", "status", "--porcelain"], cwd=tree, capture_output=True,
                                text=True).stdout if is_git else None
        config.stash[_BOOK_BUILD] = BookBuild(tree, tree / "_build" / "html", run.returncode,
                                              run.stdout + run.stderr, seconds, status, env, make)
    return config.stash[_BOOK_BUILD]


@pytest.fixture(scope="session")
def book_build(request, tmp_path_factory) -> BookBuild:
    """The strict `make book` (``jupyter-book build --all . -W -n --keep-going``) in a clean clone with
    no data, once."""
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


@pytest.mark.slow
def test_make_book_in_a_clean_clone_without_data_renders_and_leaves_it_clean(book_build):
    """The README's `make book`: no data, no network, no execution; the working tree stays clean."""
    assert book_build.returncode == 0, book_build.log[-3000:]
    assert (book_build.html / "book" / "intro.html").is_file()
    if book_build.status is None:
        pytest.skip("not a git checkout: the clean-tree check needs git")
    assert book_build.status == "", f"`make book` changed the working tree:\n{book_build.status}"
    assert book_build.seconds < 300, f"make book took {book_build.seconds:.0f} s"


@pytest.mark.slow
def test_rerun_without_data_executes_nothing_and_says_what_to_fetch(book_build):
    """`make rerun` with no data and no network: it tries to fetch, lists what is missing, executes no
    notebook, and every committed page and results table stays byte for byte as it was."""
    if not shutil.which("make") or book_build.status is None:
        pytest.skip("needs make and git")
    run = subprocess.run(book_build.make + ["rerun", "PROFILE=quick"], cwd=book_build.tree, capture_output=True,
                         text=True, timeout=300, env=book_build.env)
    log = run.stdout + run.stderr
    assert run.returncode != 0, log[-3000:]
    assert "no network" in log and "nothing was executed" in log, log[-3000:]
    assert "python -m hmc data fetch cellcycle_FUN" in log and "omniglot: images_background.npz" in log
    assert "wrote " not in log  # no page was executed
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "book", "results"], cwd=book_build.tree,
                            capture_output=True, text=True).stdout
    assert status == "", status
