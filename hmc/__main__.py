"""Command line: ``python -m hmc run ...`` and ``python -m hmc data ...``.

    python -m hmc run notebooks/00_what_is_hmc.py [--profile smoke|quick|full] [-p NAME VALUE ...]
    python -m hmc run --all --profile quick
    python -m hmc data status
    python -m hmc data fetch NAME

Exit status of ``run``: 0 when every notebook ran, 1 when a cell raised, 3 when the only problem was
a dataset that is not on disk (the notebook stopped cleanly and the message says how to get it),
2 for bad arguments or parameters.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hmc import profiles


def _run(args: argparse.Namespace) -> int:
    from hmc import runner

    if args.all == bool(args.notebooks):
        print("error: give NOTEBOOK paths or --all (not both)", file=sys.stderr)
        return 2
    if args.all and args.param:
        print("error: -p applies to one notebook; with --all use --profile, or run the notebooks one by one",
              file=sys.stderr)
        return 2
    sources = runner.notebook_sources(args.notebooks_dir) if args.all else [Path(n) for n in args.notebooks]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing or not sources:
        print(f"error: no such notebook: {', '.join(missing) or args.notebooks_dir + '/NN_*.py'}", file=sys.stderr)
        return 2
    overrides = [tuple(p) for p in args.param]
    try:  # check every notebook's parameters before executing any
        for source in sources:
            runner.resolve_parameters(source, args.profile, overrides)
    except runner.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failures, stopped = [], []
    for i, source in enumerate(sources, 1):
        print(f"[{i}/{len(sources)}] {source} (profile {args.profile})", flush=True)
        start = time.time()
        try:
            out = runner.run_notebook(source, args.profile, overrides, args.out, args.results,
                                      progress=not args.no_progress)
        except runner.DataMissing as err:
            print(f"STOPPED: {err}", file=sys.stderr, flush=True)
            stopped.append(str(source))
            continue
        except runner.NotebookFailed as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            failures.append(str(source))
            continue
        print(f"      wrote {out} in {time.time() - start:.1f} s", flush=True)
    if stopped:
        print(f"error: {len(stopped)} notebook(s) stopped for missing data: {', '.join(stopped)}", file=sys.stderr)
    if failures:
        print(f"error: {len(failures)} notebook(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 3 if stopped else 0


def _data(args: argparse.Namespace) -> int:
    from hmc.data import cli

    return cli.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hmc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks with papermill under a profile",
                         description="Execute notebook sources (jupytext .py) with papermill and write "
                                     "the executed notebooks into book/ (or --out).")
    run.add_argument("notebooks", nargs="*", help="notebook sources, e.g. notebooks/00_what_is_hmc.py")
    run.add_argument("--all", action="store_true", help="run every notebooks/NN_*.py in order")
    run.add_argument("--profile", default=profiles.DEFAULT_PROFILE, choices=profiles.PROFILE_NAMES,
                     help=f"parameter profile (default {profiles.DEFAULT_PROFILE})")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter (repeatable)")
    run.add_argument("--out", default="book", help="folder for the executed notebooks (default book/)")
    run.add_argument("--results", default="results", help="results root; manifests go to RESULTS/PROFILE/manifests")
    run.add_argument("--notebooks-dir", default="notebooks", help="where --all looks (default notebooks/)")
    run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    run.set_defaults(func=_run)
    data = sub.add_parser("data", help="where the datasets are; fetch missing ones (see `data --help`)",
                          add_help=False)
    data.add_argument("rest", nargs=argparse.REMAINDER)
    data.set_defaults(func=_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
