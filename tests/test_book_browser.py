"""The built book as a reader sees it: every page opened in headless Chromium.

Uses the session's one strict build (``book_build``, shared with test_notebooks_and_book.py) and
``hmc.browser``. Skips when no chromium binary is found (``make test`` and ``.ci/run`` install
Debian's ``chromium`` where they run as root with apt-get). Screenshots and a text report go to
``_build/screenshots/``.
"""

import base64
import json
import struct
import subprocess
import time

import pytest

from hmc import browser
from test_notebooks_and_book import ROOT, VENV, book_build  # noqa: F401  (the shared session fixture)

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "_build" / "screenshots"

#: name -> (page, required): pages photographed for a reader's look (every chapter page, quick and
#: full, at the browser's 1280 px width); a missing optional page skips.
SHOTS = {
    "intro": ("book/intro.html", True),
    **{stem: (f"book/{stem}.html", False) for stem in (
        "00_what_is_hmc", "01_datasets", "02_chmcnn_reproduction", "03_rare_node_loss", "04_ensembles_and_dropout",
        "05_schedules_and_resampling", "06_hcal", "07_rare_nodes_images", "80_verdicts", "90_reproduce")},
    **{f"full_{stem}": (f"book/full/{stem}.html", False) for stem in (
        "02_chmcnn_reproduction", "03_rare_node_loss", "06_hcal", "07_rare_nodes_images")},
}

#: Uncaught script errors that come from the toolchain, not from the book, and change nothing a
#: reader sees. Each key is a substring of the error message.
KNOWN_SCRIPT_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared":
        "jupyter-book 1.0.4 writes sphinx-thebe's configuration <script> twice into every page; the "
        "second copy fails, the first is in effect (and live code via thebe is not offered here)",
}


@pytest.fixture(scope="module")
def chromium():
    binary = browser.find_chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (tried " + ", ".join(browser.CANDIDATES) + "; or set "
                    "HMC_CHROMIUM): `make test` installs Debian's chromium when run as root with "
                    "apt-get, otherwise `apt-get install --no-install-recommends chromium`")
    with browser.Chromium(binary) as b:
        yield b


@pytest.fixture(scope="module")
def site(chromium, book_build):  # chromium first: skip before building when there is no browser
    html = book_build.html
    if not (html / "book" / "intro.html").is_file():
        pytest.fail(f"the book did not build (rc {book_build.returncode}):\n{book_build.log[-3000:]}")
    start = time.monotonic()
    report = browser.check_site(html, chromium)
    seconds = time.monotonic() - start
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    text = f"book built in {book_build.seconds:.1f} s; pages checked in {seconds:.1f} s\n{report.summary()}\n"
    (SCREENSHOTS / "browser-report.txt").write_text(text)
    print(text)
    return report


def _listing(problems):
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_every_page_loads(site):
    assert "book/intro.html" in site.pages and len(site.pages) >= 3, sorted(site.pages)
    assert not site.load_failures, _listing(site.load_failures)


def test_every_image_loads_and_has_a_rendered_size(site):
    assert site.n_images > 0, "no images on any page"
    assert not site.broken_images, _listing(site.broken_images)


def test_every_internal_link_resolves(site):
    assert site.n_links > 0, "no internal links found"
    assert not site.broken_links, _listing(site.broken_links)


def test_every_local_resource_loads(site):
    assert not site.failed_resources, _listing(site.failed_resources)


def test_no_page_shows_an_error_output(site):
    assert not site.error_outputs, _listing(site.error_outputs)


def test_every_formula_is_typeset_and_fits_the_column(site):
    assert not site.math_problems, _listing(site.math_problems)


def test_every_figure_has_a_numbered_caption(site):
    assert not site.figure_problems, _listing(site.figure_problems)


def test_every_table_fits_the_column(site):
    assert not site.wide_tables, _listing(site.wide_tables)


def test_no_unexpected_script_errors(site):
    unexpected = [e for e in site.script_errors if not any(k in e for k in KNOWN_SCRIPT_ERRORS)]
    assert not unexpected, _listing(unexpected)


@pytest.mark.parametrize("name", list(SHOTS))
def test_screenshot(name, site, chromium):
    page, required = SHOTS[name]
    seen = site.pages.get(page)
    if seen is None:
        if required:
            pytest.fail(f"{page} was not built")
        pytest.skip(f"{page} is not in the built book: no screenshot of it")
    chromium.visit(seen.path)
    out = chromium.screenshot(SCREENSHOTS / f"{name}.png")
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{out} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 800 and height >= 400, f"{out} is {width}x{height} px"
    print(f"{page}: {out} ({width}x{height} px)")


PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_checker_finds_planted_problems(chromium, tmp_path):
    """The checks themselves: a tiny site with one of each problem, and one good page."""
    (tmp_path / "ok.png").write_bytes(PIXEL)
    (tmp_path / "good.html").write_text(
        '<html><head><title>Good</title></head><body><p id="here">text</p>'
        '<img src="ok.png" width="10" height="10"><a href="bad.html#top">bad</a><a href="#here">self</a>'
        '<details><summary>more</summary><img src="ok.png"></details></body></html>')
    (tmp_path / "bad.html").write_text(
        '<html><head><title>Bad</title></head><body id="top"><p>text</p>'
        '<img src="missing.png"><img src="ok.png" style="width:0">'
        '<a href="nowhere.html">gone</a><a href="good.html#not-there">no id</a>'
        '<div class="cell_output docutils container"><div class="output stderr">a warning</div>'
        '<div class="output traceback highlight-ipythontb">ValueError: boom</div></div>'
        '<span class="math notranslate">\\(x^2\\)</span>'
        '<div style="width:300px"><mjx-container display="true" style="display:block">'
        '<span style="display:inline-block;width:600px">wide</span></mjx-container></div>'
        '<script>undefinedFunction()</script></body></html>')
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=gone.html" />')
    report = browser.check_site(tmp_path, chromium)
    assert sorted(report.pages) == ["bad.html", "good.html"]
    assert not report.load_failures
    assert [p.split(": ")[1].split()[-1] for p in report.broken_images] == ["load", "px"], report.broken_images
    assert all(p.startswith("bad.html") for p in report.broken_images)
    assert len(report.broken_links) == 3, report.broken_links
    assert any("index.html: redirects to missing gone.html" in p for p in report.broken_links)
    assert any("'nowhere.html'" in p and "missing file" in p for p in report.broken_links)
    assert any("not-there" in p for p in report.broken_links)
    assert len(report.error_outputs) == 1 and "ValueError: boom" in report.error_outputs[0]
    assert report.script_errors == ["bad.html: ReferenceError: undefinedFunction is not defined"]
    assert len(report.failed_resources) == 1 and "missing.png" in report.failed_resources[0]
    assert len(report.math_problems) == 2, report.math_problems
    assert "left as TeX: '\\\\(x^2\\\\)'" in report.math_problems[0]
    assert "600 px in a 300 px column" in report.math_problems[1]


def _figure(src, caption):
    """A figure as Sphinx writes it with numfig (``caption``: the figcaption's inner HTML)."""
    return f'<figure id="f-{src}"><img src="{src}.png"><figcaption><p>{caption}</p></figcaption></figure>'


def _table(width, key=False):
    """A one-row table ``width`` px wide, captioned with its width; with ``key`` its row starts with a
    header cell (a pandas index)."""
    head = '<th style="padding:0">row</th>' if key else ""
    return (f'<table style="border-spacing:0"><caption>{width} px table</caption><tr>{head}<td style="padding:0">'
            f'<span style="display:inline-block;width:{width}px">cells</span></td></tr></table>')


def test_checker_finds_uncaptioned_figures_and_wide_tables(chromium, tmp_path):
    """A page of figures without a (numbered) caption and of tables wider than their 300 px column
    (one of them scrolling, but with no key column), and a page of numbered, captioned figures, fitting
    tables and a wide table that scrolls with its key column first: only the first is reported. Images
    and tables outside the page's article (the theme's navigation and sidebars) do not count."""
    for name in ("ok", "bare", "empty", "unnumbered", "captioned", "hidden"):
        (tmp_path / f"{name}.png").write_bytes(PIXEL)
    number = '<span class="caption-number">Fig. 1 </span>'
    column = '<div style="width:300px">{}</div>'
    nav = f'<nav><img src="ok.png" alt="logo">{_table(2000)}</nav>'
    (tmp_path / "bad.html").write_text(
        f'<html><head><title>Bad</title></head><body>{nav}<article class="bd-article">'
        '<section id="s"><h2>Results</h2>'
        '<div class="cell_output"><img src="bare.png"></div>'
        + _figure("empty", number + '<span class="caption-text"> </span>')
        + _figure("unnumbered", '<span class="caption-text">Recall per bucket.</span>')
        + column.format(_table(600))
        + column.format(f'<div style="overflow-x:auto">{_table(450)}</div>')
        + '</section></article></body></html>')
    (tmp_path / "good.html").write_text(
        f'<html><head><title>Good</title></head><body>{nav}<article class="bd-article">'
        + _figure("captioned", number + '<span class="caption-text">Macro F1 per method.</span>')
        + column.format(_table(250))
        + column.format(f'<div style="overflow-x:auto">{_table(280)}</div>')
        + column.format(f'<div style="overflow-x:auto">{_table(450, key=True)}</div>')  # scrolls, key first
        + f'<details><summary>more</summary>{_figure("hidden", number + "Hidden but captioned.")}</details>'
        + '</article></body></html>')
    report = browser.check_site(tmp_path, chromium)
    assert sorted(report.pages) == ["bad.html", "good.html"]
    assert not report.load_failures and not report.broken_images, report.summary()
    assert len(report.figure_problems) == 3, report.figure_problems
    assert all(p.startswith("bad.html: figure ") for p in report.figure_problems)
    bare, empty, unnumbered = report.figure_problems
    assert "bare.png" in bare and '(under "Results")' in bare and bare.endswith("no caption")
    assert "empty.png" in empty and empty.endswith("no caption")
    assert "unnumbered.png" in unnumbered and "caption not numbered: Recall per bucket." in unnumbered
    assert len(report.wide_tables) == 2, report.wide_tables
    assert all(p.startswith("bad.html: table wider than its column") for p in report.wide_tables)
    assert "600 px in a 300 px column" in report.wide_tables[0] and "600 px table" in report.wide_tables[0]
    assert "450 px in a 300 px column, scrolled without its key column first" in report.wide_tables[1]
    assert "figure problems: 3" in report.summary() and "wide tables: 2" in report.summary()


def test_captions_from_cell_metadata_make_numbered_figures(chromium, tmp_path):
    """The book's mechanism end to end: a tiny Jupyter Book whose notebook has a figure cell with
    ``mystnb: figure: caption`` metadata (the caption the notebooks' jupytext headers carry), a cell
    drawing two figures under one caption, a figure cell without one, and a wide table output. The
    built page numbers the captioned figures (Fig. 1-3) and the check reports only the uncaptioned
    figure and the wide table."""
    png = base64.b64encode(PIXEL).decode()
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<Figure>"}}
    wide = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/html": _table(3000), "text/plain": "table"}}
    stream = {"output_type": "stream", "name": "stdout", "text": "one dataset\n"}

    def cell(outputs, caption=None):
        metadata = {"mystnb": {"figure": {"caption": caption}}} if caption else {}
        return {"cell_type": "code", "execution_count": 1, "metadata": metadata, "source": "plot()",
                "outputs": outputs}

    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Page\n\n## Figures"},
             cell([image], "Macro F1 per method, one dot per seed."),
             cell([image, stream, image], "For one dataset (its name in the title): recall per bucket."),
             cell([image]), cell([wide])]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (tmp_path / "page.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "intro.md").write_text("# Intro\n\nA tiny book.\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (tmp_path / "_config.yml").write_text('title: tiny\nonly_build_toc_files: true\n'
                                          'execute:\n  execute_notebooks: "off"\n')
    run = subprocess.run([str(VENV / "bin" / "jupyter-book"), "build", "--all", ".", "-W", "-n", "--keep-going"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    html = tmp_path / "_build" / "html"
    assert run.returncode == 0 and (html / "page.html").is_file(), (run.stdout + run.stderr)[-3000:]
    text = (html / "page.html").read_text()
    assert [f"Fig. {n} " in text for n in (1, 2, 3, 4)] == [True, True, True, False]
    report = browser.check_site(html, chromium)
    assert not report.figure_problems[1:] and len(report.figure_problems) == 1, report.figure_problems
    assert report.figure_problems[0].startswith("page.html: figure ") and "no caption" in report.figure_problems[0]
    assert len(report.wide_tables) == 1 and "3000 px table" in report.wide_tables[0], report.wide_tables
