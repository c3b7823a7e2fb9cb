"""The Clus HMC ARFF reader: small hand-written files (valid and malformed) and, when present, the real files."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from hmc.data import paths
from hmc.data.arff import hierarchy_kind, read_arff
from hmc.errors import HierarchyError, HMCDataError

import sample_data as sample

COUNTS_CSV = Path(__file__).parent / "data" / "benchmark_counts.csv"

FUN_HEADER = """\
@RELATION tiny
@ATTRIBUTE a numeric
@ATTRIBUTE b {x,y}
@ATTRIBUTE c NUMERIC
@ATTRIBUTE class hierarchical 01,01/01,02
@DATA
"""  # the @DATA line is line 6; the first data row is line 7

GO_HEADER = """\
@relation tiny_go
@attribute a numeric
@attribute class hierarchical root/GO1,root/GO2,GO1/GO3,GO2/GO3,GO3/GO4
@data
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never look into (or write to) the user's cache directory."""
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))


def write(tmp_path, text, name="tiny.arff"):
    path = tmp_path / name
    path.write_text(text)
    return path


def expect_error(path, line, *fragments, exc=HMCDataError):
    """read_arff(path) raises ``exc`` whose message names the file, ``line <line>`` and each fragment."""
    with pytest.raises(exc) as info:
        read_arff(path)
    message = str(info.value)
    assert path.name in message
    assert f"line {line}:" in message
    for fragment in fragments:
        assert fragment in message
    assert info.value.line == line
    return message


# ------------------------------------------------------------------------------------- valid input
def test_fun_file_with_comments_case_quotes_crlf_and_no_final_newline(tmp_path):
    text = (
        "% a comment line\n"
        "@relation 'tiny set'\n"
        "\n"
        "@Attribute a REAL\n"
        "@attribute 'b name' {x, 'y z', 'p,q'}\n"
        "@ATTRIBUTE c integer\n"
        "@ATTRIBUTE class HIERARCHICAL 01,01/01,01/01/03,02\n"
        "@data\n"
        "% comment inside the data\n"
        "1.5,x,?,01/01/03\n"
        "\n"
        "?,'y z',-2,01@02\n"
        "3e2,'p,q',4,02"  # no final newline
    )
    path = write(tmp_path, text.replace("\n", "\r\n"))
    data = read_arff(path)
    assert data.relation == "tiny set"
    assert data.attributes == (("a", "numeric"), ("b name", ("x", "y z", "p,q")), ("c", "numeric"))
    assert data.hierarchy_kind == "paths"
    assert data.hierarchy_line == 7
    assert data.hierarchy.nodes[0] == "root" and len(data.hierarchy) == 5
    np.testing.assert_array_equal(data.lines, [10, 12, 13])
    want = np.array([[1.5, 0, np.nan], [np.nan, 1, -2], [300, 2, 4]])
    np.testing.assert_array_equal(data.x, want)
    assert data.labels == [["01/01/03"], ["01", "02"], ["02"]]
    y = data.label_matrix()
    idx = data.hierarchy.index
    assert y.dtype == np.uint8 and y.shape == (3, 5)
    assert {data.hierarchy.nodes[j] for j in np.flatnonzero(y[0])} == {"root", "01", "01/01", "01/01/03"}
    assert y[1, idx["02"]] == 1 and y[1, idx["01/01"]] == 0
    assert data.hierarchy.is_consistent(y).all()
    assert (data.n_numeric, data.n_nominal) == (2, 1)


def test_go_edges_build_a_dag_and_labels_propagate_to_all_parents(tmp_path):
    path = write(tmp_path, GO_HEADER + "1,GO4\n2,GO2\n")
    data = read_arff(path)
    assert data.hierarchy_kind == "edges"
    assert len(data.hierarchy) == 5 and not data.hierarchy.is_tree
    y = data.label_matrix()
    names = data.hierarchy.nodes
    assert {names[j] for j in np.flatnonzero(y[0])} == {"root", "GO1", "GO2", "GO3", "GO4"}
    assert {names[j] for j in np.flatnonzero(y[1])} == {"root", "GO2"}


def test_repeated_paths_are_one_node(tmp_path):
    # ImCLEF07D lists the prefix chain of every leaf, so top-level paths repeat.
    path = write(tmp_path, "@relation r\n@attribute a numeric\n@attribute class hierarchical 1,1/1,1,1/2\n@data\n0,1/2\n")
    data = read_arff(path)
    assert data.hierarchy_entries == ("1", "1/1", "1", "1/2")
    assert data.hierarchy.nodes == ["root", "1", "1/1", "1/2"]


def test_no_data_rows_gives_empty_matrix(tmp_path):
    data = read_arff(write(tmp_path, FUN_HEADER))
    assert data.x.shape == (0, 3) and data.labels == []


@pytest.mark.parametrize(
    ("entries", "kind"),
    [
        (["01", "01/01", "01/01/03"], "paths"),
        (["1", "1/1"], "paths"),
        (["root/GO1", "GO1/GO2"], "edges"),
        (["a/b", "b/c"], "paths"),  # pairs without a root edge: read as paths (and rejected later)
    ],
)
def test_hierarchy_kind(entries, kind):
    assert hierarchy_kind(entries) == kind


# ------------------------------------------------------------------------------------- malformed input
def test_empty_file(tmp_path):
    expect_error(write(tmp_path, ""), 1, "empty file", "@RELATION")


def test_comments_only_is_empty(tmp_path):
    expect_error(write(tmp_path, "% nothing\n\n"), 1, "empty file")


def test_no_data_section(tmp_path):
    path = write(tmp_path, FUN_HEADER.replace("@DATA\n", ""))
    expect_error(path, 5, "without an @DATA section", "expected '@DATA'")


def test_no_hierarchical_class_attribute(tmp_path):
    path = write(tmp_path, "@RELATION r\n@ATTRIBUTE a numeric\n@ATTRIBUTE b numeric\n@DATA\n1,2\n")
    expect_error(path, 4, "expected an '@ATTRIBUTE class hierarchical <nodes>' declaration")


def test_hierarchical_attribute_not_last(tmp_path):
    path = write(tmp_path, "@RELATION r\n@ATTRIBUTE class hierarchical 01\n@ATTRIBUTE a numeric\n@DATA\n")
    expect_error(path, 3, "to be the last attribute")


def test_row_with_too_few_values(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n1,x,01\n3,y,4,02\n")
    expect_error(path, 8, "expected 4 comma-separated values (3 features + class), got 3")


def test_row_with_too_many_values(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n3,y,4,5,02\n")
    expect_error(path, 8, "expected 4 comma-separated values (3 features + class), got 5")


def test_text_in_numeric_column(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n1,y,2,02\n1,x,abc,01\n")
    expect_error(path, 9, "attribute 'c'", "expected a number or '?', got 'abc'")


def test_empty_value_in_numeric_column(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n,x,2,01\n")
    expect_error(path, 8, "attribute 'a'", "expected a number or '?', got ''")


def test_nominal_value_not_declared(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n1,z,2,01\n")
    expect_error(path, 8, "attribute 'b'", "expected one of {x,y} or '?', got 'z'")


def test_label_not_in_hierarchy(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,x,2,01\n1,y,2,01/01@03\n")
    expect_error(path, 8, "label '03' is not a node of the hierarchy declared at line 5", exc=HierarchyError)


def test_cycle_in_go_edges(tmp_path):
    text = GO_HEADER.replace("GO3/GO4", "GO3/GO4,GO4/GO1") + "1,GO4\n"
    expect_error(write(tmp_path, text), 3, "invalid hierarchy (edges)", "cycle", exc=HierarchyError)


def test_duplicate_hierarchy_entry(tmp_path):
    text = GO_HEADER.replace("GO3/GO4", "GO3/GO4,GO1/GO3") + "1,GO4\n"
    expect_error(write(tmp_path, text), 3, "duplicate edge 'GO1' -> 'GO3'", exc=HierarchyError)


def test_path_whose_parent_is_not_listed(tmp_path):
    text = FUN_HEADER.replace("01,01/01,02", "01,01/01,02/05") + "1,x,2,01\n"
    expect_error(write(tmp_path, text), 5, "'02/05' has parent '02', which is not listed", exc=HierarchyError)


def test_truncated_file(tmp_path):
    full = FUN_HEADER + "1,x,2,01\n3,y,4,02\n"
    path = write(tmp_path, full[: len(full) - 6])  # cuts the last row after "3,y"
    expect_error(path, 8, "expected 4 comma-separated values (3 features + class), got 2", "truncated")


def test_unknown_attribute_type(tmp_path):
    path = write(tmp_path, FUN_HEADER.replace("@ATTRIBUTE c NUMERIC", "@ATTRIBUTE c blob"))
    expect_error(path, 4, "attribute 'c': expected type numeric, real, integer, {nominal values} or hierarchical", "got 'blob'")


def test_attribute_without_type(tmp_path):
    path = write(tmp_path, FUN_HEADER.replace("@ATTRIBUTE c NUMERIC", "@ATTRIBUTE c"))
    expect_error(path, 4, "expected '@ATTRIBUTE <name> <type>'")


def test_unclosed_nominal_list(tmp_path):
    path = write(tmp_path, FUN_HEADER.replace("{x,y}", "{x,y"))
    expect_error(path, 3, "attribute 'b': expected a nominal list")


def test_empty_hierarchy_list(tmp_path):
    path = write(tmp_path, FUN_HEADER.replace(" 01,01/01,02", ""))
    expect_error(path, 5, "expected a comma-separated list of non-empty hierarchy entries")


def test_unterminated_quote_in_data(tmp_path):
    path = write(tmp_path, FUN_HEADER + "1,'x,2,01\n3,y,4,02\n")
    expect_error(path, 7, "unterminated quoted value")


def test_unknown_header_line(tmp_path):
    path = write(tmp_path, "@RELATION r\nhello\n")
    expect_error(path, 2, "expected @RELATION, @ATTRIBUTE or @DATA, got 'hello'")


# ------------------------------------------------------------------------------------- real files
def _count_rows():
    with COUNTS_CSV.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _count_rows(), ids=lambda row: Path(row["file"]).name)
def test_real_file_matches_readme_counts(row):
    """Instances, features (numeric/nominal), hierarchy entries and nodes as the data README lists them.

    'nodes' in the README counts the nodes the entries define: for GO (edges) that is
    len(hierarchy), root and ontology roots included; for paths it excludes the implicit root.
    """
    relpath = "hmc_datasets/" + row["file"]
    found = paths.find(relpath)
    if found is None:
        where = ", ".join(map(str, paths.data_dirs()))
        env = os.environ.get("HMC_DATA_DIR", "unset")
        pytest.skip(f"{relpath} not found; looked in {where} (HMC_DATA_DIR is {env}; "
                    "point it at the folder holding hmc_datasets/)")
    data = read_arff(found)
    assert found.stat().st_size == int(row["bytes"])
    assert data.x.shape == (int(row["instances"]), int(row["features"]))
    assert (data.n_numeric, data.n_nominal) == (int(row["numeric"]), int(row["nominal"]))
    assert len(data.hierarchy_entries) == int(row["hierarchy_entries"])
    implicit_root = 1 if data.hierarchy_kind == "paths" else 0
    assert len(data.hierarchy) - implicit_root == int(row["nodes"])
    assert data.hierarchy_kind == ("edges" if "datasets_GO" in relpath else "paths")


# ------------------------------------------------------------------------------------- the sample
@pytest.mark.parametrize("relpath", sample.benchmark_files(), ids=lambda p: Path(p).name)
def test_sample_file_parses_like_the_complete_one(relpath):
    """The committed sample (tests/data/sample): the complete file's header, hence its features and
    full hierarchy as the data README lists them, and the first rows of its data."""
    row = {r["file"]: r for r in _count_rows()}[relpath.removeprefix("hmc_datasets/")]
    data = read_arff(sample.SAMPLE_ROOT / relpath)
    assert data.x.shape == (sample.ROWS[sample.split_of(relpath)], int(row["features"]))
    assert (data.n_numeric, data.n_nominal) == (int(row["numeric"]), int(row["nominal"]))
    assert len(data.hierarchy_entries) == int(row["hierarchy_entries"])
    implicit_root = 1 if data.hierarchy_kind == "paths" else 0
    assert len(data.hierarchy) - implicit_root == int(row["nodes"])
    assert data.hierarchy_kind == ("edges" if "datasets_GO" in relpath else "paths")
    assert len(data.labels) == len(data.x) and all(len(labels) for labels in data.labels)
