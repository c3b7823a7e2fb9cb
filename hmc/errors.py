"""The library's own error types.

Every problem with input data (a malformed file, a hierarchy with a cycle, a label that is not in
the hierarchy, a missing dataset) raises :class:`HMCDataError` or a subclass, so a caller can catch
one type. The message always says what was found, where, and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class HMCDataError(ValueError):
    """A data problem, optionally located in a file and at a line (1-based).

    ``str(err)`` reads ``"<path>, line <line>: <message>"`` when the location is known.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f", line {line}" if line is not None else "") + ": "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)


class HierarchyError(HMCDataError):
    """A hierarchy that is not a valid tree or DAG (cycle, duplicate node, unknown label)."""


class DatasetMissingError(HMCDataError, FileNotFoundError):
    """A dataset file that is not on disk (and could not be downloaded)."""
