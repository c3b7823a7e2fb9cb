"""Provenance: how a result was made (git commit, package versions, device, wall time).

Every executed notebook ends with a cell that calls :func:`show`, and every run writes the same
facts into a JSON manifest (see :mod:`hmc.runner`). A sweep that reads finished units back from its
results table instead of computing them says so through :func:`note_read_back`, so that a page
executed in seconds from stored results does not pass for the cost of those results.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata

from hmc.display_paths import display_path

PACKAGES = (
    "hmc", "torch", "torchvision", "numpy", "scipy", "pandas", "scikit-learn", "statsmodels",
    "matplotlib", "seaborn", "papermill", "jupytext",
)


READ_BACK_LOG = "HMC_READ_BACK_LOG"
"""Environment variable naming a file to which :func:`note_read_back` appends one JSON line per call
(set by :func:`hmc.runner.run_notebook`, which adds the total to the run's manifest)."""

_read_back: list[dict] = []  # this process's calls of note_read_back, for show()


GENERATED_PATHS = (":(exclude)results", ":(exclude,glob)book/**/*.ipynb")
"""Pathspecs of run outputs, which do not make the work tree dirty (:func:`git_commit`)."""


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """The current git commit (short hash), or ``unknown``.

    ``+dirty`` is appended when tracked files differ from the commit, outside what the runs
    themselves write (``results/`` and the executed notebooks ``book/**/*.ipynb``, those in
    ``book/full/`` included): a notebook executed while a sweep appends to a results table still
    names the code it ran.
    """
    try:
        run = lambda *args: subprocess.run(  # noqa: E731
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        commit = run("rev-parse", "--short=12", "HEAD")
        dirty = run("status", "--porcelain", "--untracked-files=no", "--", ".", *GENERATED_PATHS)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution (``not installed`` where absent)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description() -> str:
    """The compute device torch would use: the GPU's name, or the CPU model and core count."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu: {model} ({os.cpu_count()} logical cores, torch threads {torch.get_num_threads()})"


def collect(started_at: float | None = None) -> dict:
    """The provenance record: commit, platform, device, package versions and wall time (s)."""
    record = {
        "commit": git_commit(),
        "platform": platform.platform(),
        "device": device_description(),
        "packages": package_versions(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if started_at is not None:
        record["wall_time_s"] = round(time.time() - started_at, 1)
    return record


def parse_time(text: str | None) -> datetime | None:
    """A time as papermill stores it (ISO 8601 with offset) or as a manifest does
    (``YYYY-mm-dd HH:MM:SS UTC``), as an aware datetime; None if absent or unreadable.
    A time without an offset is taken as UTC."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S %Z"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def note_read_back(results_csv: str | os.PathLike, units: int, wall_time_s: float) -> None:
    """Record that a sweep read ``units`` finished units back from ``results_csv`` instead of running them.

    ``wall_time_s`` is what those units took when they ran (the sum of their stored wall times).
    Nothing is recorded for ``units == 0``.
    """
    if units == 0:
        return
    table = display_path(os.path.abspath(results_csv))  # a path a reader can follow, not this machine's
    entry = {"table": table, "units": int(units), "wall_time_s": round(float(wall_time_s), 1)}
    _read_back.append(entry)
    log = os.environ.get(READ_BACK_LOG)
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps(entry) + "\n")


def summarise_read_back(entries: list[dict]) -> dict | None:
    """Total units and stored wall time of :func:`note_read_back` entries, with their tables; None if none."""
    if not entries:
        return None
    return {
        "units": sum(e["units"] for e in entries),
        "wall_time_s": round(sum(e["wall_time_s"] for e in entries), 1),
        "tables": sorted({e["table"] for e in entries}),
    }


def show(started_at: float | None = None, profile: str | None = None) -> dict:
    """Display the provenance record as a table (in a notebook; printed elsewhere) and return it."""
    record = collect(started_at)
    read_back = summarise_read_back(_read_back)
    rows = []
    if profile is not None:
        rows.append(("profile", profile))
    rows += [("git commit", record["commit"]), ("device", record["device"]), ("platform", record["platform"])]
    if "wall_time_s" in record:
        rows.append(("wall time", f"{record['wall_time_s']} s (from the start of this run to this cell)"))
    if read_back is not None:
        tables = ", ".join(read_back["tables"])
        rows.append(("results read back", f"{read_back['units']} finished units from {tables}, not run "
                     f"again: they took {read_back['wall_time_s'] / 60:.1f} min when they ran, not "
                     "included in the wall time above"))
    rows.append(("finished", record["finished"]))
    rows.append(("packages", ", ".join(f"{k} {v}" for k, v in record["packages"].items())))
    try:
        import pandas as pd
        from IPython.display import Markdown, display

        display(Markdown("**Provenance of this page**"))
        with pd.option_context("display.max_colwidth", None):  # pandas cuts cells at 50 characters
            display(pd.DataFrame(rows, columns=["", "value"]).set_index(""))
    except ImportError:
        print("\n".join(f"{k}: {v}" for k, v in rows))
    return record
