"""Command line: ``python -m hmc run ...`` and ``python -m hmc data ...``.

    python -m hmc run notebooks/00_what_is_hmc.py [--profile smoke|quick|full] [-p NAME VALUE ...]
    python -m hmc run --all --profile quick [--offline] [--check | --skip-missing | --stand-ins]
    python -m hmc data status
    python -m hmc data fetch NAME
    python -m hmc campaign [--budget 150m] [--threads 1]     advance the evidence campaign
    python -m hmc campaign status | plan                     coverage, hours, the queue
    python -m hmc store check | import RESULTS_CSV ...       verify a results store, import a table

``run`` first works out which datasets the notebooks need under their parameters, fetches those
not on disk (each file checked against its checksum; ``--offline`` skips this), and executes nothing
when some are still missing: it lists the missing files and how to get them, and the committed pages
and results tables stay as they are. ``--skip-missing`` executes the notebooks whose data are on disk;
``--stand-ins`` executes every notebook on synthetic stand-ins for the missing data, into
``_build/stand-ins/`` (never into ``book/`` or ``results/``).

Exit status of ``run``: 0 when every notebook ran (or was skipped as ``--skip-missing`` asks), 1 when
a cell raised, 3 when the only problem was a dataset that is not on disk (nothing executed, or the
notebook stopped cleanly; the message says how to get it), 2 for bad arguments or parameters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from hmc import profiles


STAND_INS_DIR = Path("_build/stand-ins")
"""Where ``run --stand-ins`` writes its pages (``book/``) and results (``results/``) by default."""


def _run(args: argparse.Namespace) -> int:
    from hmc import data_needs, runner

    if args.executor != "local" or args.address:  # the notebooks' sweeps read it (hmc.runs.executors)
        from hmc.runs.executors import ADDRESS_ENV, EXECUTOR_ENV, make_executor

        try:
            make_executor(args.executor, args.address)  # checks the name and the address's pairing
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        os.environ[EXECUTOR_ENV] = args.executor  # the kernels inherit it
        if args.address:
            os.environ[ADDRESS_ENV] = args.address

    if args.all == bool(args.notebooks):
        print("error: give NOTEBOOK paths or --all (not both)", file=sys.stderr)
        return 2
    if args.all and args.param:
        print("error: -p applies to one notebook; with --all use --profile, or run the notebooks one by one",
              file=sys.stderr)
        return 2
    if args.skip_missing and args.stand_ins:
        print("error: --skip-missing and --stand-ins exclude each other", file=sys.stderr)
        return 2
    out = args.out or str(STAND_INS_DIR / "book" if args.stand_ins else "book")
    results = args.results or str(STAND_INS_DIR / "results" if args.stand_ins else "results")
    sources = runner.notebook_sources(args.notebooks_dir) if args.all else [Path(n) for n in args.notebooks]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing or not sources:
        print(f"error: no such notebook: {', '.join(missing) or args.notebooks_dir + '/NN_*.py'}", file=sys.stderr)
        return 2
    overrides = [tuple(p) for p in args.param]
    try:  # check every notebook's parameters before executing any
        needs = {source: runner.data_needs_of(source, runner.resolve_parameters(source, args.profile, overrides))
                 for source in sources}
    except runner.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    blocked = _check_data(needs, fetch=not args.offline, progress=not args.no_progress)
    if args.check:
        print("data: " + (f"{len(blocked)} notebook(s) cannot run on real data" if blocked
                          else "every notebook's data are on disk"))
        return 3 if blocked else 0
    if blocked and args.stand_ins:
        problem = runner.stand_in_destination_problem(out, results)
        if problem:
            print(f"error: {problem}; nothing was executed", file=sys.stderr)
            return 2
    if blocked and not (args.skip_missing or args.stand_ins):
        names = list(dict.fromkeys(n for ds in blocked.values() for n in ds))
        print(f"error: the data of {len(blocked)} notebook(s) are not on disk, so nothing was executed: the "
              f"committed pages, manifests and results tables are unchanged.\nMissing:\n"
              f"{data_needs.describe_missing(names)}\n"
              "Then run this command again. Or: --skip-missing executes only the notebooks whose data are "
              f"on disk; --stand-ins executes every notebook on synthetic stand-ins into {STAND_INS_DIR}/ "
              "(never into book/ or results/).", file=sys.stderr)
        return 3
    failures, stopped, skipped = [], [], []
    for i, source in enumerate(sources, 1):
        print(f"[{i}/{len(sources)}] {source} (profile {args.profile})", flush=True)
        if source in blocked and args.skip_missing:
            print(f"      SKIPPED: {', '.join(blocked[source])} not on disk; the page and its results are unchanged",
                  flush=True)
            skipped.append(str(source))
            continue
        start = time.time()
        try:
            out_page = runner.run_notebook(source, args.profile, overrides, out, results,
                                           progress=not args.no_progress, stand_ins=args.stand_ins)
        except runner.DataMissing as err:
            print(f"STOPPED: {err}", file=sys.stderr, flush=True)
            stopped.append(str(source))
            continue
        except runner.NotebookFailed as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            failures.append(str(source))
            continue
        except (PermissionError, runner.ParameterError) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return 2
        note = f" (stand-ins for {', '.join(blocked[source])})" if source in blocked else ""
        print(f"      wrote {out_page} in {time.time() - start:.1f} s{note}", flush=True)
    if skipped:
        print(f"skipped for missing data (as --skip-missing asks): {', '.join(skipped)}", flush=True)
    if stopped:
        print(f"error: {len(stopped)} notebook(s) stopped for missing data: {', '.join(stopped)}", file=sys.stderr)
    if failures:
        print(f"error: {len(failures)} notebook(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 3 if stopped else 0


def _check_data(needs: dict, fetch: bool, progress: bool) -> dict[Path, list[str]]:
    """Fetch what the notebooks need and is not on disk (unless ``fetch`` is False), print what is
    still missing, and return {notebook: the datasets whose absence stops it} for those stopped."""
    from hmc import data_needs

    wanted = list(dict.fromkeys(n for need in needs.values() for n in need.to_fetch() if not data_needs.on_disk(n)))
    if wanted and fetch:
        print(f"data: fetching what is not on disk: {', '.join(wanted)}", flush=True)
        report = data_needs.fetch_missing(wanted, progress=progress)
        for name in report.fetched:
            print(f"data: {name} fetched, checksums verified", flush=True)
        for name, why in report.failed.items():
            print(f"data: {name} not fetched: {why}", flush=True)
        if report.offline:
            print(f"data: no network, nothing more is fetched ({report.offline.split('. ')[0]})", flush=True)
    elif wanted:
        print(f"data: not on disk and not fetched (--offline): {', '.join(wanted)}", flush=True)
    blocked = {}
    for source, need in needs.items():
        stopping = need.blocking()
        if stopping:
            blocked[source] = stopping
            print(f"data: {source.stem} cannot run on real data: {_names(stopping)} not on disk", flush=True)
            continue
        absent = need.absent()
        if absent:
            print(f"data: {source.stem} runs without {_names(absent)} (not on disk: the page uses what is "
                  "there and says what is not)", flush=True)
    return blocked


def _names(names: list[str], shown: int = 6) -> str:
    """``a, b, c`` or, for a long list, its first names and how many in all."""
    return ", ".join(names) if len(names) <= shown else f"{', '.join(names[:shown])}, ... ({len(names)} in all)"


def _data(args: argparse.Namespace) -> int:
    from hmc.data import cli

    return cli.main(args.rest)


def _campaign(args: argparse.Namespace) -> int:
    from hmc.runs import campaign

    from hmc.runs.executors import make_executor

    c = campaign.Campaign(args.results, args.checkpoints, book=args.book)
    if args.action == "status":
        campaign.print_status(c)
        print("\nNext in the queue (`campaign plan` lists every unfinished item):")
        print("\n".join(campaign.plan_lines(c, limit=6)))
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
    try:
        executor = make_executor(args.executor, args.address, cpus_per_task=args.threads)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    campaign.run_campaign(c, budget, threads=args.threads, pages=not args.no_pages, executor=executor)
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
    run.add_argument("--out", default=None,
                     help=f"folder for the executed notebooks (default book/; {STAND_INS_DIR}/book with --stand-ins)")
    run.add_argument("--results", default=None,
                     help="results root; manifests go to RESULTS/PROFILE/manifests (default results/; "
                          f"{STAND_INS_DIR}/results with --stand-ins)")
    run.add_argument("--offline", action="store_true",
                     help="do not download missing data (by default what the notebooks need is fetched first, "
                          "each file checked against its checksum)")
    run.add_argument("--skip-missing", action="store_true",
                     help="execute the notebooks whose data are on disk and skip the others (by default a missing "
                          "dataset stops the whole run before anything executes)")
    run.add_argument("--check", action="store_true",
                     help="only fetch and check the notebooks' data, execute nothing (exit 3 when some are missing)")
    run.add_argument("--stand-ins", action="store_true",
                     help="execute every notebook, synthetic stand-ins for the data not on disk, into "
                          f"{STAND_INS_DIR}/ "
                          "(never into the committed book/ or results/)")
    run.add_argument("--notebooks-dir", default="notebooks", help="where --all looks (default notebooks/)")
    run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    run.add_argument("--executor", default="local", choices=("local", "ray"),
                     help="where the notebooks' sweeps train their units (default local; ray: a Ray cluster)")
    run.add_argument("--address", default=None, help="Ray cluster to join (e.g. auto); default: start a local one")
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
    camp.add_argument("--executor", default="local", choices=("local", "ray"),
                      help="local: one item after another here; ray: the items that fit the budget at once on a Ray cluster")
    camp.add_argument("--address", default=None, help="Ray cluster to join (e.g. auto); default: start a local one")
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
