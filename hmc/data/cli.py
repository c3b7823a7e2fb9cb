"""``python -m hmc data ...``: say where the data files are, and download missing ones.

``hmc/__main__.py`` dispatches ``python -m hmc data ARGS`` to :func:`main` with ``ARGS``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path, PurePosixPath

from hmc.data import paths
from hmc.data.download import FileStatus, fetch, status
from hmc.data.sources import INFO, SOURCES
from hmc.errors import HMCDataError

_EPILOG = """\
Data files are looked for in $HMC_DATA_DIR (when set), then in the per-user cache ($HMC_CACHE_DIR,
or the platform's user cache directory); downloads go to the cache. Examples:
  python -m hmc data status
  python -m hmc data fetch cellcycle_FUN diatoms
"""


def main(argv: list[str]) -> int:
    """Run ``data status`` or ``data fetch NAME...`` and return the exit code.

    0: success; 1: a fetch failed (the error is printed); 2: a usage error (bad arguments or an
    unknown dataset name, with the valid names printed).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help (0) and on usage errors (2)
        return int(exit_.code or 0)
    return args.command(args)


def _parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m hmc data``."""
    parser = argparse.ArgumentParser(
        prog="python -m hmc data", description="Where the study's data files are, and how to get the missing ones.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    show = commands.add_parser(
        "status", help="list every dataset: files present, where, which are missing or unusable",
        description="List every dataset with its usable files/total, the data root(s) they are in, "
                    "and the names of the missing or unusable files (cannot be read; wrong size; wrong "
                    "checksum, checked for files up to 16 MiB); then each problem with its path and what "
                    "to do, and what each dataset is and its source. A data root that cannot be read is "
                    "skipped (the next root, the cache, is searched) and says so.")
    show.set_defaults(command=_status)

    get = commands.add_parser(
        "fetch", help="download the missing files of one or more datasets",
        description="Download every missing file of each named dataset from its public source into the "
                    "cache (or --dest), checking its size and checksum. Files already present in a data "
                    "root are not downloaded again; their size is checked (and their checksum with --verify).",
        epilog="Valid names: " + ", ".join(SOURCES))
    get.add_argument("names", nargs="+", metavar="NAME", help="dataset name, as listed by 'status'")
    get.add_argument("--verify", action="store_true", help="also check the checksum of files already present")
    get.add_argument("--dest", type=Path, metavar="DIR",
                     help=f"download into DIR instead of the cache ({paths.cache_dir()})")
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(command=_fetch)
    return parser


def _status(args: argparse.Namespace) -> int:
    """Print the data roots, then one table row per dataset, the problems found, what each dataset is."""
    print("Data roots searched, in order:")
    for i, (root, origin) in enumerate(_roots(), start=1):
        problem = paths.root_problem(root)
        note = f"; {problem}: skipped, the next root is searched" if problem else ""
        print(f"  {i}. {root}  ({origin}{note})")
    print()
    rows_by_dataset: dict[str, list[FileStatus]] = {}
    with warnings.catch_warnings():  # an unreadable root is reported above, not once per file
        warnings.simplefilter("ignore")
        rows = status()
    for row in rows:
        rows_by_dataset.setdefault(row.dataset, []).append(row)
    table = [("dataset", "files", "where", "missing or unusable")]
    table += [_status_row(name, rows) for name, rows in rows_by_dataset.items()]
    print(_format_table(table))
    problems = [row for row in rows if row.problem is not None]
    if problems:
        print("\nProblems:")
        for row in problems:
            print(f"  {row.path}: {row.problem}")
    print("\nDatasets:")
    width = max(map(len, SOURCES))
    for name in SOURCES:
        print(f"  {name:<{width}}  {INFO[name].description} [{INFO[name].source}]")
    print(f"\nTo download what is missing: python -m hmc data fetch NAME [NAME ...] (into {paths.cache_dir()})")
    return 0


def _roots() -> list[tuple[Path, str]]:
    """The data roots, each with where it comes from."""
    origins = ["HMC_DATA_DIR"] if os.environ.get("HMC_DATA_DIR") else []
    origins.append("cache, from HMC_CACHE_DIR" if os.environ.get("HMC_CACHE_DIR") else "cache")
    return list(zip(paths.data_dirs(), origins))


def _status_row(name: str, rows: list[FileStatus]) -> tuple[str, str, str, str]:
    """(dataset, usable/total, the roots holding the usable files, the missing or unusable file names)."""
    usable = [row for row in rows if row.present and row.problem is None]
    roots = dict.fromkeys(str(_root_of(row)) for row in usable)
    missing = [PurePosixPath(row.file).name for row in rows if not row.present]
    missing += [f"{PurePosixPath(row.file).name} (unusable)" for row in rows if row.problem is not None]
    return name, f"{len(usable)}/{len(rows)}", ", ".join(roots) or "-", ", ".join(missing) or "-"


def _root_of(row: FileStatus) -> Path:
    """The data root in which a present file was found (its path minus its relpath)."""
    return row.path.parents[len(PurePosixPath(row.file).parts) - 1]


def _format_table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns, a rule under the header; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]) for row in rows]
    lines.insert(1, "  ".join([*("-" * w for w in widths), "-" * len(rows[0][-1])]))
    return "\n".join(lines)


def _fetch(args: argparse.Namespace) -> int:
    """Fetch each named dataset; report every failure, and return 1 if any failed."""
    unknown = [name for name in args.names if name not in SOURCES]
    if unknown:
        print(f"error: unknown dataset(s): {', '.join(unknown)}\nvalid names: {', '.join(SOURCES)}",
              file=sys.stderr)
        return 2
    failed = False
    for name in args.names:
        try:
            found = fetch(name, dest_root=args.dest, verify=args.verify, progress=not args.quiet)
        except (HMCDataError, OSError) as err:
            print(f"error: {name}: {err}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: {len(found)} file(s) ready")
        for path in found:
            print(f"  {path}")
    return 1 if failed else 0
