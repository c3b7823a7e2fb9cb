"""Provenance: how a result was made (git commit, package versions, device, wall time).

Every executed notebook ends with a cell that calls :func:`show`, and every run writes the same
facts into a JSON manifest (see :mod:`hmc.runner`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata

PACKAGES = (
    "hmc", "torch", "torchvision", "numpy", "scipy", "pandas", "scikit-learn", "statsmodels",
    "matplotlib", "seaborn", "papermill", "jupytext",
)


GENERATED_PATHS = (":(exclude)results", ":(exclude,glob)book/*.ipynb")
"""Pathspecs of run outputs, which do not make the work tree dirty (:func:`git_commit`)."""


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """The current git commit (short hash), or ``unknown``.

    ``+dirty`` is appended when tracked files differ from the commit, outside what the runs
    themselves write (``results/`` and the executed notebooks ``book/*.ipynb``): a notebook executed
    while a sweep appends to a results table still names the code it ran.
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


def show(started_at: float | None = None, profile: str | None = None) -> dict:
    """Display the provenance record as a table (in a notebook; printed elsewhere) and return it."""
    record = collect(started_at)
    rows = []
    if profile is not None:
        rows.append(("profile", profile))
    rows += [("git commit", record["commit"]), ("device", record["device"]), ("platform", record["platform"])]
    if "wall_time_s" in record:
        rows.append(("wall time", f"{record['wall_time_s']} s (from the start of the run to this cell)"))
    rows.append(("finished", record["finished"]))
    rows.append(("packages", ", ".join(f"{k} {v}" for k, v in record["packages"].items())))
    try:
        import pandas as pd
        from IPython.display import Markdown, display

        display(Markdown("**Provenance of this page**"))
        display(pd.DataFrame(rows, columns=["", "value"]).set_index(""))
    except ImportError:
        print("\n".join(f"{k}: {v}" for k, v in rows))
    return record
