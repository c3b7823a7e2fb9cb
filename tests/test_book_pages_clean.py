"""The executed pages a reader sees: every one carries its profile banner, and no output shows an
absolute path of the machine that ran it (issue 18: "Every executed page shows its profile banner;
no output contains an absolute path").

The checks are functions of a folder (:func:`path_leaks`, :func:`pages_without_banner`) so that a
page executed elsewhere (``python -m hmc run ... --out /tmp/x/book``) can be checked the same way.
"""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

ABSOLUTE_PATH = re.compile(
    r"(?<![\w.\-/])(?:/tmp/|/root/|/home/|/work/|/usr/|/opt/|/private/|/Users/|/var/folders/)"
    r"|/site-packages\b|/dist-packages\b"
    r"|(?<![A-Za-z0-9])[A-Za-z]:\\[^\s\\]+\\")
"""What an absolute path of a machine looks like in an output (a URL's path does not match: the
folder must not follow a host name)."""

TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")


def executed_pages(folder: Path) -> list[Path]:
    """The executed pages of a book folder: ``*.ipynb`` and ``full/*.ipynb``."""
    folder = Path(folder)
    return sorted(folder.glob("*.ipynb")) + sorted(folder.glob("full/*.ipynb"))


def output_texts(cell) -> list[tuple[str, str]]:
    """(kind, text) of every text output of a cell: stream text and the ``text/*`` data."""
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append((f"stream {out.get('name', '')}".strip(), "".join(out["text"])))
        for mime in TEXT_MIMES:
            value = out.get("data", {}).get(mime)
            if value is not None:
                texts.append((mime, "".join(value) if isinstance(value, list) else value))
        if out.get("output_type") == "error":
            texts.append(("error", "\n".join(out.get("traceback", []))))
    return texts


def path_leaks(folder: Path) -> list[str]:
    """One line per output that shows an absolute path: the page, the cell index, the kind of
    output and the offending text around the match."""
    leaks = []
    for page in executed_pages(folder):
        nb = nbformat.read(page, as_version=4)
        for index, cell in enumerate(nb.cells):
            for kind, text in output_texts(cell):
                match = ABSOLUTE_PATH.search(text)
                if match:
                    excerpt = text[max(0, match.start() - 60):match.end() + 80].replace("\n", " ")
                    leaks.append(f"{page.relative_to(folder.parent)}: cell {index} ({kind}): ...{excerpt}...")
    return leaks


def pages_without_banner(folder: Path) -> list[str]:
    """The executed pages of ``folder`` without exactly one cell tagged ``banner`` right after their
    title cell, or whose banner cell shows nothing."""
    problems = []
    for page in executed_pages(folder):
        nb = nbformat.read(page, as_version=4)
        tagged = [i for i, c in enumerate(nb.cells) if "banner" in c.metadata.get("tags", [])]
        title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        name = page.relative_to(folder.parent)
        if len(tagged) != 1:
            problems.append(f"{name}: {len(tagged)} cells tagged 'banner' (expected 1)")
        elif tagged[0] != title + 1:
            problems.append(f"{name}: the banner is cell {tagged[0]}, not right after the title (cell {title})")
        elif not any("Profile" in text for _, text in output_texts(nb.cells[tagged[0]])):
            problems.append(f"{name}: the banner cell (cell {tagged[0]}) shows no banner")
    return problems


def test_no_output_of_a_committed_page_shows_an_absolute_path():
    leaks = path_leaks(ROOT / "book")
    assert not leaks, "absolute paths in executed pages (rerun them: python -m hmc run):\n" + "\n".join(leaks)


def test_every_committed_page_has_its_profile_banner():
    assert executed_pages(ROOT / "book")
    problems = pages_without_banner(ROOT / "book")
    assert not problems, "pages without a profile banner (rerun them: python -m hmc run):\n" + "\n".join(problems)


def test_the_leak_check_finds_planted_paths_and_spares_urls(tmp_path):
    book = tmp_path / "book"
    (book / "full").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="see https://example.org/home/x and results/quick/a.csv\n")]),
        nbformat.v4.new_code_cell("y", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/plain": "ok", "text/html": "<td>/root/.cache/hmc-study/x.pt</td>"})]),
    ])
    nbformat.write(nb, book / "01_a.ipynb")
    nb.cells[1].outputs[0]["text"] = "file C:\\Users\\me\\x.csv and /work/main/.venv/lib/site-packages/torch"
    nb.cells[2].outputs = []
    nbformat.write(nb, book / "full" / "01_a.ipynb")
    leaks = path_leaks(book)
    assert len(leaks) == 2
    assert leaks[0].startswith("book/01_a.ipynb: cell 2 (text/html): ") and "/root/.cache" in leaks[0]
    assert leaks[1].startswith("book/full/01_a.ipynb: cell 1 (stream stdout): ") and "C:\\Users" in leaks[1]
    assert pages_without_banner(book) == ["book/01_a.ipynb: 0 cells tagged 'banner' (expected 1)",
                                          "book/full/01_a.ipynb: 0 cells tagged 'banner' (expected 1)"]
