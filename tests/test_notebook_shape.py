"""Thin notebooks (issue 18): no notebook source over 250 lines, no code cell over 15 non-blank lines.

A notebook is parameters, a few calls into `hmc`, tables, figures and prose; loops, helpers and
plotting routines live in the library, where they are tested. A code cell made only of imports does
not count (the set-up's import block). The notebooks that still exceed a limit are listed in
:data:`ALLOWED` with their sizes when the test was written: the test fails when one of them grows,
and the list is the visible debt (lower an entry as its notebook shrinks).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
MAX_LINES = 250
MAX_CELL_LINES = 15

# Debt: the notebooks over a limit, with (lines of the file, non-blank lines of their largest code
# cell that is not only imports) as they were when this test was written. The test fails when one of
# them grows past its entry; lower an entry when its notebook shrinks, and remove it once the notebook
# is within both limits. None of these may grow.
ALLOWED = {
    # every cell within 15 (its parameters in three groups); over 250 by its eight sections' markdown:
    # each states what its table or figure shows, and the deviations are named beside the numbers
    "06_hcal": (260, MAX_CELL_LINES),
}


def cells(text: str) -> list[tuple[str, list[str]]]:
    """The jupytext percent-format cells of a notebook source: (kind, lines), kind "code" or
    "markdown"; a cell starts at a line beginning with ``# %%``; lines before the first are the header."""
    out = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            out.append(("markdown" if "[markdown]" in line or "[md]" in line else "code", []))
        elif out:
            out[-1][1].append(line)
    return out


def only_imports(lines: list[str]) -> bool:
    """True when the cell's code parses and every statement in it is an import."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return bool(tree.body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in tree.body)


def largest_code_cell(text: str) -> int:
    """Non-blank lines of the largest code cell that is not only imports (0 when none)."""
    sizes = [sum(1 for line in lines if line.strip()) for kind, lines in cells(text)
             if kind == "code" and not only_imports(lines)]
    return max(sizes, default=0)


def test_cells_are_split_and_counted():
    text = ("# %% [markdown]\n# # Title\n\n# %% tags=[\"parameters\"]\nx = 1\n\ny = 2\n\n"
            "# %%\nimport os\nfrom pathlib import (\n    Path,\n)\n\n# %%\nfor i in range(3):\n    print(i)\n")
    parsed = cells(text)
    assert [kind for kind, _ in parsed] == ["markdown", "code", "code", "code"]
    assert [only_imports(lines) for _, lines in parsed[1:]] == [False, True, False]
    assert largest_code_cell(text) == 2  # the 4-line import cell does not count; blank lines do not either
    assert largest_code_cell(text.replace("import os\n", "import os\nz = 3\n")) == 5


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_is_thin(source):
    text = source.read_text()
    n_lines, cell = len(text.splitlines()), largest_code_cell(text)
    max_lines, max_cell = ALLOWED.get(source.stem, (MAX_LINES, MAX_CELL_LINES))
    max_lines, max_cell = max(max_lines, MAX_LINES), max(max_cell, MAX_CELL_LINES)
    assert n_lines <= max_lines, f"{source.name}: {n_lines} lines (limit {max_lines}): move code into hmc"
    assert cell <= max_cell, f"{source.name}: a code cell of {cell} non-blank lines (limit {max_cell})"


def test_allowed_debt_names_notebooks():
    """Every allow-list entry is a notebook over a limit: an entry whose notebook is gone, or is within
    both limits, is stale (remove it)."""
    for stem in ALLOWED:
        source = ROOT / "notebooks" / f"{stem}.py"
        assert source.is_file(), f"ALLOWED names {stem}, which is not a notebook"
        text = source.read_text()
        assert len(text.splitlines()) > MAX_LINES or largest_code_cell(text) > MAX_CELL_LINES, (
            f"{stem} is within the limits: remove it from ALLOWED")
