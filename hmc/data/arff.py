"""A reader for the Clus HMC flavour of ARFF (the FUN / GO / "others" benchmark files).

The format is Weka's ARFF with one extension: the last attribute is the hierarchical class,
``@ATTRIBUTE class hierarchical <comma-separated list>``. The list holds either tree *paths*
(FunCat and "others": ``01,01/01,01/01/03``; an implicit ``root`` sits above the top level) or
``parent/child`` *edges* (GO: ``root/GO0003674,GO0003674/GO0003774``, a DAG). A data row is a dense
CSV line whose last value is the row's labels joined by ``@`` (``11/02/01@11/02/02`` or
``GO0003709@GO0000127``); ``?`` is a missing feature value. A numeric value must be a finite number:
``inf``, ``nan`` and numbers beyond float64's range (``1e400``) are errors, not values.

Supported: case-insensitive keywords, full-line ``%`` comments, blank lines, CRLF line ends, a last
line without a newline, quoted names and nominal values in the header (single or double quotes),
single-quoted values in the data rows (Weka's style). Not supported: sparse rows, string / date /
relational attributes, instance weights.

The data block is parsed in one vectorised ``pandas.read_csv`` call; every problem found raises
:class:`~hmc.errors.HMCDataError` (or its subclass :class:`~hmc.errors.HierarchyError`) whose message
names the file, the 1-based line and what was expected there.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from hmc.errors import HierarchyError, HMCDataError
from hmc.hierarchy import Hierarchy

NUMERIC = "numeric"
NUMERIC_TYPES = ("numeric", "real", "integer")
IMPLICIT_ROOT = "root"

_ATTRIBUTE = re.compile(r"""@attribute\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s{]+)\s*(.*)$""", re.IGNORECASE)
_HIERARCHICAL = re.compile(r"hierarchical(?:\s+(.*))?$", re.IGNORECASE)


@dataclass(frozen=True)
class ArffData:
    """One parsed Clus HMC ARFF file.

    Attributes
    ----------
    path : Path
        The file read.
    relation : str
        The ``@RELATION`` name (quotes removed; empty when the file has none).
    attributes : tuple of (name, kind)
        The F_raw feature attributes in file order (the class attribute excluded); ``kind`` is
        ``"numeric"`` or the tuple of declared nominal values.
    hierarchy_kind : str
        ``"paths"`` (tree paths, FUN / others) or ``"edges"`` (``parent/child`` pairs, GO).
    hierarchy_entries : tuple of str
        The items of the ``hierarchical`` list, as listed (a path may be listed more than once).
    hierarchy_line : int
        1-based line of the hierarchical class attribute.
    hierarchy : Hierarchy
        Built from the entries: ``Hierarchy.from_paths(..., root="root")`` for paths (repeated
        paths collapsed), ``Hierarchy.from_edges`` for edges.
    x : np.ndarray, shape (N, F_raw), float64
        Feature values; NaN for ``?``; a nominal value is its 0-based position in the declared list.
    labels : list of list of str, length N
        Per row, the node names of its labels (the class value split on ``@``).
    lines : np.ndarray, shape (N,), int64
        1-based line of each data row.
    """

    path: Path
    relation: str
    attributes: tuple[tuple[str, str | tuple[str, ...]], ...]
    hierarchy_kind: str
    hierarchy_entries: tuple[str, ...]
    hierarchy_line: int
    hierarchy: Hierarchy
    x: np.ndarray
    labels: list[list[str]]
    lines: np.ndarray

    @property
    def n_numeric(self) -> int:
        """Number of numeric feature attributes."""
        return sum(kind == NUMERIC for _, kind in self.attributes)

    @property
    def n_nominal(self) -> int:
        """Number of nominal feature attributes."""
        return len(self.attributes) - self.n_numeric

    def label_matrix(self) -> np.ndarray:
        """0/1 labels with all ancestors set, shape (N, len(hierarchy)), uint8."""
        return self.hierarchy.label_matrix(self.labels)


@dataclass(frozen=True)
class _Header:
    relation: str
    attributes: tuple[tuple[str, str | tuple[str, ...]], ...]
    hierarchy_entries: tuple[str, ...]
    hierarchy_line: int
    data_line: int  # 0-based index of the @DATA line


def read_arff(path: str | Path) -> ArffData:
    """Read a Clus HMC ARFF file; see the module docstring for the format.

    Raises :class:`HMCDataError` (with the file and the 1-based line) on any malformed input.
    """
    path = Path(path)
    lines = _read_lines(path)
    header = _parse_header(lines, path)
    kind = hierarchy_kind(header.hierarchy_entries)
    hierarchy = _build_hierarchy(header.hierarchy_entries, kind, path, header.hierarchy_line)
    rows, row_lines = _data_rows(lines, header.data_line + 1)
    _check_field_counts(rows, row_lines, len(header.attributes), path, last_line=len(lines))
    frame = _read_frame(rows, row_lines, header.attributes, path)
    x = _feature_matrix(frame, header.attributes, row_lines, path)
    _check_finite(x, rows, row_lines, header.attributes, path)
    labels = _labels(frame[len(header.attributes)], hierarchy, row_lines, path, header.hierarchy_line)
    return ArffData(
        path=path,
        relation=header.relation,
        attributes=header.attributes,
        hierarchy_kind=kind,
        hierarchy_entries=header.hierarchy_entries,
        hierarchy_line=header.hierarchy_line,
        hierarchy=hierarchy,
        x=x,
        labels=labels,
        lines=row_lines,
    )


def hierarchy_kind(entries: tuple[str, ...] | list[str]) -> str:
    """``"edges"`` when every entry is one ``parent/child`` pair and one starts ``root/``, else ``"paths"``.

    A FunCat path list always holds its top-level paths (no ``/``), so it never passes the
    first test; a GO edge list always hangs its ontology roots under ``root``.
    """
    one_slash = all(entry.count("/") == 1 for entry in entries)
    has_root_edge = any(entry.startswith(IMPLICIT_ROOT + "/") for entry in entries)
    return "edges" if one_slash and has_root_edge else "paths"


# ------------------------------------------------------------------------------------- header
def _read_lines(path: Path) -> list[str]:
    """The file's lines without line ends (UTF-8, falling back to Latin-1)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _parse_header(lines: list[str], path: Path) -> _Header:
    """Parse everything up to and including ``@DATA``."""
    relation = ""
    attributes: list[tuple[str, str | tuple[str, ...]]] = []
    hierarchy: tuple[tuple[str, ...], int] | None = None
    seen_content = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        seen_content = True
        lineno = i + 1
        keyword = line.split(None, 1)[0].lower()
        if keyword == "@relation":
            relation = _unquote(line[len("@relation"):].strip())
        elif keyword == "@attribute":
            if hierarchy is not None:
                raise HMCDataError(
                    f"expected the hierarchical class attribute (line {hierarchy[1]}) to be the last "
                    f"attribute, got another attribute after it: {_clip(line)!r}",
                    path,
                    lineno,
                )
            name, kind = _parse_attribute(line, path, lineno)
            if kind == "hierarchical":
                hierarchy = (_hierarchy_entries(line, path, lineno), lineno)
            else:
                attributes.append((name, kind))
        elif keyword == "@data":
            if hierarchy is None:
                raise HMCDataError(
                    "expected an '@ATTRIBUTE class hierarchical <nodes>' declaration before @DATA, found none",
                    path,
                    lineno,
                )
            return _Header(relation, tuple(attributes), hierarchy[0], hierarchy[1], i)
        else:
            raise HMCDataError(f"expected @RELATION, @ATTRIBUTE or @DATA, got {_clip(line)!r}", path, lineno)
    if not seen_content:
        raise HMCDataError("empty file: expected an ARFF header (@RELATION, @ATTRIBUTE ..., @DATA)", path, 1)
    raise HMCDataError(
        "reached the end of the file without an @DATA section: expected '@DATA' after the attribute declarations",
        path,
        max(len(lines), 1),
    )


def _parse_attribute(line: str, path: Path, lineno: int) -> tuple[str, str | tuple[str, ...]]:
    """``(name, kind)`` of an ``@ATTRIBUTE`` line; kind is numeric, a nominal tuple or ``"hierarchical"``."""
    match = _ATTRIBUTE.match(line)
    if match is None or not match.group(2):
        raise HMCDataError(f"expected '@ATTRIBUTE <name> <type>', got {_clip(line)!r}", path, lineno)
    name, spec = _unquote(match.group(1)), match.group(2).strip()
    if spec.lower() in NUMERIC_TYPES:
        return name, NUMERIC
    if spec.startswith("{"):
        return name, _nominal_values(name, spec, path, lineno)
    if _HIERARCHICAL.match(spec):
        return name, "hierarchical"
    raise HMCDataError(
        f"attribute {name!r}: expected type numeric, real, integer, {{nominal values}} or hierarchical, "
        f"got {_clip(spec)!r}",
        path,
        lineno,
    )


def _nominal_values(name: str, spec: str, path: Path, lineno: int) -> tuple[str, ...]:
    """The values of a nominal type ``{a, 'b c', ...}``, quotes removed."""
    values = _split_quoted(spec[1:-1], quotes="'\"") if spec.endswith("}") else None
    if values is None or any(v == "" for v in values) or len(set(values)) != len(values):
        raise HMCDataError(
            f"attribute {name!r}: expected a nominal list '{{v1,v2,...}}' of distinct non-empty values, "
            f"got {_clip(spec)!r}",
            path,
            lineno,
        )
    return tuple(values)


def _hierarchy_entries(line: str, path: Path, lineno: int) -> tuple[str, ...]:
    """The comma-separated items after the word ``hierarchical``."""
    spec = _ATTRIBUTE.match(line).group(2).strip()
    listed = _HIERARCHICAL.match(spec).group(1)
    entries = tuple(e.strip() for e in (listed or "").split(","))
    if not listed or any(e == "" for e in entries):
        raise HMCDataError(
            "expected a comma-separated list of non-empty hierarchy entries after 'hierarchical' "
            "(paths such as 01,01/01 or edges such as root/GO0003674)",
            path,
            lineno,
        )
    return entries


def _build_hierarchy(entries: tuple[str, ...], kind: str, path: Path, lineno: int) -> Hierarchy:
    """The Hierarchy the entries define; a HierarchyError gets the file and the line attached.

    Paths: a repeated path names the same node and is collapsed (ImCLEF07D lists each leaf's
    prefix chain, so its 78 entries hold 46 distinct paths). Edges: a repeated edge is an error.
    """
    try:
        if kind == "edges":
            return Hierarchy.from_edges(tuple(entry.split("/")) for entry in entries)
        return Hierarchy.from_paths(list(dict.fromkeys(entries)), root=IMPLICIT_ROOT)
    except HierarchyError as err:
        raise HierarchyError(f"invalid hierarchy ({kind}): {err.message}", path, lineno) from err


# ------------------------------------------------------------------------------------- data
def _data_rows(lines: list[str], start: int) -> tuple[list[str], np.ndarray]:
    """Non-blank, non-comment lines from index ``start`` on, stripped, and their 1-based line numbers."""
    rows, numbers = [], []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if line and line[0] != "%":
            rows.append(line)
            numbers.append(i + 1)
    return rows, np.asarray(numbers, dtype=np.int64)


def _check_field_counts(rows: list[str], row_lines: np.ndarray, n_features: int, path: Path, last_line: int) -> None:
    """Every row must hold ``n_features + 1`` comma-separated values (quoted commas excepted)."""
    expected = n_features + 1
    counts = np.fromiter((_count_fields(row) for row in rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(counts != expected)
    if len(bad) == 0:
        return
    r = int(bad[0])
    lineno = int(row_lines[r])
    if counts[r] < 0:
        raise HMCDataError("unterminated quoted value: expected a closing single quote", path, lineno)
    hint = " (this is the last line: is the file truncated?)" if lineno == last_line else ""
    raise HMCDataError(
        f"expected {expected} comma-separated values ({n_features} features + class), got {counts[r]}{hint}",
        path,
        lineno,
    )


def _count_fields(row: str) -> int:
    """Number of comma-separated values in a data row; -1 for an unterminated quote."""
    if "'" not in row:
        return row.count(",") + 1
    fields = _split_quoted(row, quotes="'")
    return -1 if fields is None else len(fields)


def _read_frame(rows: list[str], row_lines: np.ndarray, attributes, path: Path) -> pd.DataFrame:
    """The data rows as a DataFrame, shape (N, F_raw + 1): numeric columns float64, others str.

    A value that is not a number in a numeric column raises, naming its line and attribute.
    """
    n = len(attributes)
    dtypes = {j: (np.float64 if kind == NUMERIC else object) for j, (_, kind) in enumerate(attributes)}
    dtypes[n] = object
    if not rows:
        return pd.DataFrame({j: pd.Series([], dtype=dtype) for j, dtype in dtypes.items()})
    try:
        frame = _csv(rows, dtypes)
    except ValueError as err:
        _raise_bad_number(rows, row_lines, attributes, path, err)
    return frame


def _csv(rows: list[str], dtypes: dict) -> pd.DataFrame:
    """``pandas.read_csv`` on the joined rows; ``?`` is NaN in the feature columns only."""
    n_cols = len(dtypes)
    return pd.read_csv(
        io.StringIO("\n".join(rows)),
        header=None,
        names=list(range(n_cols)),
        dtype=dtypes,
        na_values={j: ["?"] for j in range(n_cols - 1)},
        keep_default_na=False,
        quotechar="'",
        escapechar="\\",
        skipinitialspace=True,
        skip_blank_lines=False,
        engine="c",
    )


def _raise_bad_number(rows, row_lines, attributes, path: Path, err: ValueError) -> NoReturn:
    """Find the first cell of a numeric column that is neither a number nor ``?`` and raise on it."""
    frame = _csv(rows, dict.fromkeys(range(len(attributes) + 1), object))
    first: tuple[int, int] | None = None
    for j, (_, kind) in enumerate(attributes):
        if kind != NUMERIC:
            continue
        cells = frame[j].fillna("?").str.strip()
        bad = np.flatnonzero(pd.to_numeric(cells, errors="coerce").isna().to_numpy() & (cells != "?").to_numpy())
        if len(bad) and (first is None or bad[0] < first[0]):
            first = (int(bad[0]), j)
    if first is None:
        raise HMCDataError(f"could not parse the data rows: {err}", path, int(row_lines[0])) from err
    r, j = first
    value = frame[j].iloc[r]
    raise HMCDataError(
        f"attribute {attributes[j][0]!r} (value {j + 1}): expected a number or '?', got {value!r}",
        path,
        int(row_lines[r]),
    ) from err


def _feature_matrix(frame: pd.DataFrame, attributes, row_lines: np.ndarray, path: Path) -> np.ndarray:
    """Float64 features, shape (N, F_raw): numbers as read, nominal values as codes, NaN for ``?``."""
    x = np.empty((len(frame), len(attributes)), dtype=np.float64)
    for j, (name, kind) in enumerate(attributes):
        column = frame[j]
        if kind == NUMERIC:
            x[:, j] = column.to_numpy(dtype=np.float64)
            continue
        cells = column.str.strip()
        codes = pd.Index(kind).get_indexer(cells)
        bad = np.flatnonzero((codes < 0) & cells.notna().to_numpy())
        if len(bad):
            r = int(bad[0])
            allowed = "{" + ",".join(kind) + "}"
            raise HMCDataError(
                f"attribute {name!r} (value {j + 1}): expected one of {allowed} or '?', got {cells.iloc[r]!r}",
                path,
                int(row_lines[r]),
            )
        x[:, j] = np.where(codes < 0, np.nan, codes)
    return x


def _check_finite(x: np.ndarray, rows: list[str], row_lines: np.ndarray, attributes, path: Path) -> None:
    """Raise on the first infinite feature value (``inf``, ``-inf``, or a number such as ``1e400`` that
    overflows float64), naming its line, attribute and text. NaN here is a ``?`` (missing): the
    text ``nan`` is already refused as "not a number" by :func:`_read_frame`."""
    bad = np.argwhere(np.isinf(x))  # row-major: the first bad row, then its first bad column
    if len(bad) == 0:
        return
    r, j = int(bad[0][0]), int(bad[0][1])
    text = _split_quoted(rows[r], quotes="'")[j]
    raise HMCDataError(
        f"attribute {attributes[j][0]!r} (value {j + 1}): expected a finite number or '?', got {text!r}, "
        "which is infinite as a float64; correct the value, or write '?' if it is missing",
        path,
        int(row_lines[r]),
    )


def _labels(column: pd.Series, hierarchy: Hierarchy, row_lines: np.ndarray, path: Path, hier_line: int) -> list[list[str]]:
    """Per row, the ``@``-separated labels; each must name a hierarchy node."""
    known = hierarchy.index
    labels = []
    for r, value in enumerate(column.tolist()):
        names = [name.strip() for name in value.split("@")]
        for name in names:
            if name not in known:
                raise HierarchyError(
                    f"label {name!r} is not a node of the hierarchy declared at line {hier_line}: expected "
                    "'@'-separated node names from that list",
                    path,
                    int(row_lines[r]),
                )
        labels.append(names)
    return labels


# ------------------------------------------------------------------------------------- helpers
def _split_quoted(text: str, quotes: str) -> list[str] | None:
    """Split on commas outside quotes; values stripped and unquoted. None if a quote is left open.

    A quote opens only at the start of a value; inside quotes a backslash escapes the next character.
    """
    fields: list[str] = []
    buf: list[str] = []
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
            else:
                buf.append(ch)
        elif ch in quotes and not "".join(buf).strip():
            quote, buf = ch, []
        elif ch == ",":
            fields.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quote is not None:
        return None
    fields.append("".join(buf).strip())
    return fields


def _unquote(text: str) -> str:
    """Remove one pair of matching surrounding quotes (and backslash escapes inside them)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _clip(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters for an error message."""
    return text if len(text) <= width else text[: width - 3] + "..."
