"""Page helpers shared by the chapters: parameter checks, where results go, the benchmarks of a page.

The benchmark-loading loop of chapters 01 to 05 lives here once (:func:`load_benchmarks`): it loads
every named benchmark that is on disk, prints what is missing with the message that says where to get
it, and falls back to a synthetic hierarchy when nothing could be loaded.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hmc.data.benchmarks import BENCHMARKS, benchmark_names, load_benchmark
from hmc.errors import DatasetMissingError

SELECTIONS = {"all": None, "fun_go": ("FUN", "GO")}
"""Names a ``datasets`` parameter may hold alone: every benchmark on disk, or its FUN and GO ones."""


def check_budget(epoch_fraction: float, n_seeds: int) -> None:
    """Raise ValueError unless ``0 < epoch_fraction <= 1`` and ``n_seeds >= 1``."""
    if not 0 < epoch_fraction <= 1:
        raise ValueError(f"epoch_fraction must be in (0, 1], got {epoch_fraction}")
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; any other value unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def results_csv(profile: str, filename: str, override: str | Path = "") -> Path:
    """``override`` when given, else ``$HMC_RESULTS_DIR/<profile>/<filename>`` (default ``results/``)."""
    return Path(override or Path(os.environ.get("HMC_RESULTS_DIR", "results")) / profile / filename)


def select_benchmarks(datasets: Sequence[str], extra: Iterable[str] = ()) -> list[str]:
    """The benchmark names a ``datasets`` parameter stands for.

    ``["all"]``: every benchmark whose files are on disk; ``["fun_go"]``: the FUN and GO ones among
    them; otherwise the names themselves, each of which must be a known benchmark or one of
    ``extra`` (e.g. ``"synthetic"``), else ValueError naming the unknown ones.
    """
    datasets = list(datasets)
    if len(datasets) == 1 and datasets[0] in SELECTIONS:
        families = SELECTIONS[datasets[0]]
        return [n for n in benchmark_names(available_only=True) if families is None or BENCHMARKS[n].family in families]
    unknown = [n for n in datasets if n not in BENCHMARKS and n not in set(extra)]
    if unknown:
        known = ", ".join([*BENCHMARKS, *SELECTIONS, *extra])
        raise ValueError(f"unknown benchmarks {unknown}; known: {known}")
    return datasets


def load_benchmarks(names: Iterable[str], imputation: str = "trainvalid", fallback: bool = True,
                    synthetic_samples: int = 2000, report: Callable[[str], None] = print) -> dict:
    """Load the named benchmarks that are on disk, in order, as ``{name: benchmark}``.

    A benchmark whose files are missing is reported (``report``, default ``print``) with the
    :class:`~hmc.errors.DatasetMissingError` message, which names the file and where to get it. The
    name ``"synthetic"`` is :func:`hmc.synthetic.make_benchmark` with ``synthetic_samples`` rows
    (depth 4, branching 3, seed 0); with ``fallback`` the same hierarchy stands in, under that name,
    when no benchmark could be loaded.
    """
    from hmc.synthetic import make_benchmark

    def synthetic():
        return make_benchmark(n_samples=synthetic_samples, depth=4, branching=3, seed=0)

    loaded, missing = {}, {}
    for name in names:
        try:
            loaded[name] = synthetic() if name == "synthetic" else load_benchmark(name, imputation=imputation)
        except DatasetMissingError as err:
            missing[name] = str(err)
    for name, message in missing.items():
        report(f"not on disk: {name}\n  {message}\n")
    if not loaded and fallback:
        report("No benchmark is on disk: running on a synthetic hierarchy instead.")
        loaded["synthetic"] = synthetic()
    return loaded


def cap_fit_rows(benchmark, n: int, proportional: bool = False):
    """The benchmark fitted on only ``n`` rows of train + valid (``n <= 0``: unchanged); test is kept.

    By default the first ``n`` rows of train, then of valid; with ``proportional`` the first rows of
    each split in proportion to their sizes (train's share rounded, valid takes the rest).
    """
    n_tr, n_va = len(benchmark.x_train), len(benchmark.x_valid)
    if n <= 0 or n_tr + n_va <= n:
        return benchmark
    k_tr = min(n_tr, round(n * n_tr / (n_tr + n_va))) if proportional else min(n_tr, n)
    k_va = min(n_va, n - k_tr)
    return dataclasses.replace(benchmark, x_train=benchmark.x_train[:k_tr], y_train=benchmark.y_train[:k_tr],
                               x_valid=benchmark.x_valid[:k_va], y_valid=benchmark.y_valid[:k_va])


def scaled_epochs(benchmark, epoch_fraction: float) -> int:
    """The dataset's epochs (``benchmark.spec.epochs``) times ``epoch_fraction``, rounded, at least 1."""
    return max(1, round(benchmark.spec.epochs * epoch_fraction))


def fit_steps(benchmark, epochs: int, batch_size: int = 4) -> int:
    """Training steps of one run: batches of ``batch_size`` over train + valid, times ``epochs``."""
    return -(-(len(benchmark.x_train) + len(benchmark.x_valid)) // batch_size) * epochs


def units_report(table: pd.DataFrame, before: pd.DataFrame, n_design: int | None = None,
                 trained: bool = True) -> str:
    """One line: how many (dataset, method, seed) units ``table`` holds, and how many of them were
    already in ``before`` (read back from the results store) rather than trained in this run."""
    key = ["dataset", "method", "seed"]
    units = table[key].drop_duplicates()
    reused = units.merge(before[key].drop_duplicates(), how="inner").shape[0] if len(before) else 0
    of = f" of the design's {n_design}" if n_design is not None else ""
    rest = "the others trained in this run" if trained else "none trained"
    return f"{len(units)}{of} (dataset, method, seed) units: {reused} read back from the results store, {rest}"


def mean_std_cell(mean: float, std: float, digits: int = 4) -> str:
    """``"m ± s"`` at ``digits`` decimals on one line; the mean alone where ``std`` is not finite."""
    if not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def trained_in_run(table: pd.DataFrame, before: pd.DataFrame) -> set[tuple[str, str]]:
    """The (dataset, method) pairs of ``table`` none of whose (dataset, method, seed) units were in
    ``before``: all their seeds were trained in this run."""
    key = ["dataset", "method", "seed"]
    units = table[key].drop_duplicates()
    if not len(before):
        return set(zip(units.dataset, units.method, strict=True))
    merged = units.merge(before[key].drop_duplicates(), how="left", indicator=True)
    fresh = merged.groupby(["dataset", "method"])["_merge"].apply(lambda s: bool((s == "left_only").all()))
    return {k for k, v in fresh.items() if v}


def key_first(frame: pd.DataFrame, n: int = 1) -> pd.DataFrame:
    """``frame`` with its first ``n`` columns as the index (they must name each row once): shown as the
    row headers of a table, which stay its first columns when a wide table scrolls sideways (the
    book's browser check accepts a wide table only so)."""
    return frame.set_index(list(frame.columns[:n]))


def levels_text(data) -> str:
    """An image hierarchy's levels, finest first, each with its number of classes: ``"1623 character -> 50 alphabet"``."""
    return " -> ".join(f"{len(c)} {n}" for n, c in zip(data.level_names, data.class_names, strict=True))
