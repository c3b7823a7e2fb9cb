"""Command line: ``python -m hmc run ...`` and ``python -m hmc data ...``.

    python -m hmc run notebooks/00_what_is_hmc.py [--profile smoke|quick|full] [-p NAME VALUE ...]
    python -m hmc run --all --profile quick
    python -m hmc data status
    python -m hmc data fetch NAME
    python -m hmc campaign [--budget 150m] [--threads 1]     advance the evidence campaign
    python -m hmc campaign status | plan                     coverage, hours, the queue
    python -m hmc store check | import RESULTS_CSV ...       verify a results store, import a table

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
        except PermissionError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return 2
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


def _campaign(args: argparse.Namespace) -> int:
    from hmc.runs import campaign

    c = campaign.Campaign(args.results, args.checkpoints, book=args.book)
    if args.action == "status":
        campaign.print_status(c)
        return 0
    if args.action == "plan":
        lines = campaign.plan_lines(c)
        print(f"{len(lines)} unfinished work items, in the order the campaign runs them:")
        print("\n".join(lines))
        return 0
    try:
        budget = campaign.parse_budget(args.budget)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads < 1:
        print("error: --threads must be at least 1", file=sys.stderr)
        return 2
    print(f"campaign: budget {budget / 60:.0f} min, {args.threads} thread(s); the next items:")
    print("\n".join(campaign.plan_lines(c, limit=8)))
    campaign.run_campaign(c, budget, threads=args.threads, pages=not args.no_pages)
    return 0


def _store(args: argparse.Namespace) -> int:
    from hmc.runs.store import DamagedResult, ResultStore, import_table

    if args.action == "import":
        for table in args.tables:
            print(f"{table}: {import_table(table)} units imported")
        return 0
    bad = 0
    roots = sorted(p for p in Path(args.results).glob("*/units/*") if p.is_dir())
    for root in roots:
        store, n = ResultStore(root), 0
        for path in store.paths():
            try:
                store.read(path)
                n += 1
            except DamagedResult as err:
                print(f"DAMAGED {err}", file=sys.stderr)
                bad += 1
        print(f"{root}: {n} units verified")
    return 1 if bad else 0


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
    camp = sub.add_parser("campaign", help="advance the evidence campaign (the full design, a slice at a time)",
                          description="Run the full design's work items in priority order within a time "
                                      "budget, or print its status or plan.")
    camp.add_argument("action", nargs="?", default="run", choices=("run", "status", "plan"))
    camp.add_argument("--budget", default="150m", help="time budget of a run, e.g. 150m, 2h, 1h30m (default 150m)")
    camp.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the other core stays free)")
    camp.add_argument("--results", default="results", help="results root (stores in RESULTS/full/units/)")
    camp.add_argument("--book", default="book", help="where the re-executed pages go (BOOK/full/ and BOOK/)")
    camp.add_argument("--checkpoints", default="_build/campaign/checkpoints", help="per-epoch checkpoints")
    camp.add_argument("--no-pages", action="store_true", help="do not re-execute the book/full pages after each item")
    camp.set_defaults(func=_campaign)
    store = sub.add_parser("store", help="verify the results stores, or import a results table into its store")
    store.add_argument("action", choices=("check", "import"))
    store.add_argument("tables", nargs="*", help="results CSVs to import (import)")
    store.add_argument("--results", default="results", help="results root to check (check)")
    store.set_defaults(func=_store)
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
