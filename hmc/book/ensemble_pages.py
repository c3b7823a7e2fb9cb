"""Tables and text of chapter 04 (ensemble size and MC-dropout), from the sweep's tidy result rows
(:data:`hmc.runs.sweep.RESULT_COLUMNS`), the cost table (:data:`hmc.book.rare_tables.COST_COLUMNS`)
and claim 4's rule (:func:`hmc.scorecard.claim4_table`, :func:`hmc.scorecard.claim_outcome`).

A *variant* is one of the three families the chapter compares at each ensemble size H: ``baseline
ensemble`` (plain), ``focal ensemble`` and ``focal MC-dropout`` (``methods``:
:func:`hmc.book.rare_tables.ensemble_variants`, (variant, H) -> method name). Each table function
returns what the page shows (a DataFrame or its Styler with the page's number formats); the text
functions return the lines the page prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hmc.book import rare_tables
from hmc.display_paths import display_path
from hmc.runs.sweep import Unit, run_sweep

CLAIM_TIME, CLAIM_MEMORY = 1 - 0.68, 1 - 0.66
"""Claim 4's time and memory of MC-dropout as a fraction of the deep ensemble's (68% and 66% less)."""

COST_VARIANTS = ("ensemble", "mc_dropout")
"""The two focal variants of the cost table (its ``variant`` column)."""


def ensemble_sizes(sizes: Sequence) -> list[int]:
    """The ensemble sizes H as sorted distinct integers; ValueError when there is none or one is below 2."""
    out = sorted({int(h) for h in sizes})
    if not out or out[0] < 2:
        raise ValueError(f"ensemble_sizes must be integers of at least 2, got {sizes}")
    return out


def method_grid(methods: Mapping[tuple[str, int], str]) -> pd.DataFrame:
    """The method names of ``methods`` as a table: one row per variant (index ``variant``, in the order
    of ``methods``), one column ``H = h`` per ensemble size in increasing order."""
    variants = list(dict.fromkeys(v for v, _ in methods))
    sizes = sorted({h for _, h in methods})
    return pd.DataFrame([{"variant": v, **{f"H = {h}": methods[v, h] for h in sizes}}
                         for v in variants]).set_index("variant")


def run_order(methods: Mapping[tuple[str, int], str]) -> list[str]:
    """The method names in training order: by increasing H, and within one H the variants in the order
    of ``methods``, so that the variants of one H run back to back."""
    variants = list(dict.fromkeys(v for v, _ in methods))
    return [methods[v, h] for h in sorted({h for _, h in methods}) for v in variants]


def train_variants(benchmarks: Mapping[str, object], order: Sequence[str], n_seeds: int, results_path,
                   epochs: Mapping[str, int], steps: Mapping[str, int], device: str, threads) -> Iterator[str]:
    """Run the sweep (:func:`hmc.runs.sweep.run_sweep`) of every method of ``order`` and seed
    ``0 .. n_seeds-1``, one dataset of ``benchmarks`` after the other; yields, as each dataset is done,
    ``"<name>: <e> epoch(s), <s> steps per run, <m> methods x <n> seeds; <t> min in this run"``."""
    for name in benchmarks:
        started = time.perf_counter()
        run_sweep([Unit(name, m, s) for m in order for s in range(n_seeds)], results_path,
                  load=benchmarks.__getitem__, epochs=epochs[name], device=device, num_threads=threads,
                  progress=False)
        yield (f"{name}: {epochs[name]} epoch(s), {steps[name]} steps per run, {len(order)} methods x {n_seeds} "
               f"seeds; {(time.perf_counter() - started) / 60:.1f} min in this run")


def chapter_rows(rows: pd.DataFrame, datasets: Sequence[str], methods: Mapping[tuple[str, int], str],
                 n_seeds: int) -> pd.DataFrame:
    """The result rows of the chapter's datasets, methods (the values of ``methods``) and seeds below
    ``n_seeds``, with each row's ``variant`` and ``H`` added (a copy)."""
    variant_of = {m: v for (v, _), m in methods.items()}
    h_of = {m: h for (_, h), m in methods.items()}
    out = rows[rows.dataset.isin(list(datasets)) & rows.method.isin(list(variant_of)) & (rows.seed < n_seeds)].copy()
    out["variant"], out["H"] = out.method.map(variant_of), out.method.map(h_of)
    return out


def score_summary(scores: pd.DataFrame):
    """Mean and standard deviation over the seeds of ``value`` per (dataset, metric, variant) and H
    (columns ``(mean | std, H)``), as a Styler at 4 decimals with ``-`` for a missing value."""
    summary = scores.groupby(["dataset", "metric", "variant", "H"])["value"].agg(["mean", "std"]).unstack("H")
    return summary.style.format("{:.4f}", na_rep="-")


def gain_table(gains: pd.DataFrame):
    """The mean over datasets and seeds of :func:`hmc.book.rare_tables.focal_gains`: one row per H, one
    column ``"<variant>: <metric>"`` per focal variant and metric, as a Styler with signed 4 decimals."""
    table = gains.groupby(["metric", "H"])[["focal ensemble", "focal MC-dropout"]].mean().unstack("metric")
    table.columns = [f"{v}: {m}" for v, m in table.columns]
    return table.style.format("{:+.4f}")


def size_tests(scores: pd.DataFrame, methods: Mapping[tuple[str, int], str], sizes: Sequence[int]) -> str:
    """The paired Wilcoxon test per H of the focal against the plain ensemble on macro F1 (all nodes)
    (:func:`hmc.book.rare_tables.paired_by_h`): a heading line, then its columns ``n``, ``mean diff``,
    ``p`` and ``p (Holm over H)`` per H as text at 4 significant digits."""
    tests = rare_tables.paired_by_h(scores, methods, "baseline ensemble", "focal ensemble", "macro_f1", sizes)
    return ("focal ensemble against the plain ensemble, macro F1 (all nodes), paired Wilcoxon per H:\n"
            + tests[["n", "mean diff", "p", "p (Holm over H)"]].to_string(float_format=lambda x: f"{x:.4g}"))


def long_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """:func:`hmc.book.rare_tables.focal_gains` in long form: columns dataset, metric, seed, H,
    ``variant`` (the focal variant) and ``gain``, for :func:`hmc.book.rare_plots.variant_lines`."""
    return gains.melt(id_vars=["dataset", "metric", "seed", "H"], var_name="variant", value_name="gain")


def cost_keys(datasets: Sequence[str], sizes: Sequence[int]) -> set[tuple[str, int, str]]:
    """The (dataset, H, variant) rows a cost table must hold for ``datasets`` and ``sizes``: both
    variants of :data:`COST_VARIANTS` at every H."""
    return {(name, h, v) for name in datasets for h in sizes for v in COST_VARIANTS}


def read_or_measure_costs(path, expected: set, measure: Callable[[], pd.DataFrame],
                          remeasure: bool = False) -> tuple[pd.DataFrame, str]:
    """Claim 4's cost table and a line saying where it comes from.

    Unless ``remeasure``, the committed table at ``path`` is read back when it covers ``expected``
    (:func:`hmc.book.rare_tables.read_back_costs`); otherwise ``measure()`` makes it and it is written
    to ``path`` (its folder created). Returns (table, line): ``"read back from <path> (measured on
    <device>, <threads> thread(s), load average <min>-<max>); ..."`` or ``"wrote <path>; all sweep
    times from this run: <bool>"``.
    """
    path = Path(path)
    cost = None if remeasure else rare_tables.read_back_costs(path, expected)
    if cost is not None:
        return cost, (f"read back from {display_path(path)} (measured on {cost.device.iloc[0]}, "
                      f"{cost.threads.iloc[0]} thread(s), load average {cost.load_avg.min():.2f}-"
                      f"{cost.load_avg.max():.2f}); the verdict rests on these committed measurements, so "
                      "re-executing the page never changes it. `-p measure_costs True` measures again.")
    cost = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    cost.to_csv(path, index=False)
    return cost, f"wrote {display_path(path)}; all sweep times from this run: {bool(cost.trained_this_run.all())}"


def cost_view(cost: pd.DataFrame):
    """The cost table as the page shows it: without ``alloc_method``, ``device`` and ``threads``, as a
    Styler in :data:`hmc.book.rare_tables.COST_FORMATS` with ``-`` for a missing value."""
    return cost.drop(columns=["alloc_method", "device", "threads"]).style.format(rare_tables.COST_FORMATS, na_rep="-")


def cost_panels(measure: str, device: str) -> dict[str, tuple[dict[str, str], float]]:
    """The panels of :func:`hmc.book.rare_plots.cost_ratio_lines`: ``"time, focal (<measure>), <device>"``
    (the sweep's and the per-step time ratios, claimed :data:`CLAIM_TIME`) and ``"memory, ..."`` (the
    allocator peak, training state and RSS ratios, claimed :data:`CLAIM_MEMORY`), each {column: label}."""
    return {f"time, focal ({measure}), {device}": (
                {"time_ratio": "training run (sweep wall time)", "step_time_ratio": "ms per step"}, CLAIM_TIME),
            f"memory, focal ({measure}), {device}": (
                {"memory_ratio": "allocator peak", "state_ratio": "training state",
                 "rss_ratio": "RSS high-water (indicative)"}, CLAIM_MEMORY)}


def dropout_f1_table(scores: pd.DataFrame, methods: Mapping[tuple[str, int], str], metrics: Sequence[str],
                     sizes: Sequence[int]):
    """Focal MC-dropout against the focal ensemble per (metric, H): the means over the datasets' seed
    means (``ensemble``, ``MC-dropout``), their ``difference`` (MC-dropout minus ensemble), the
    ``relative change``, and the paired Wilcoxon ``n``, ``p`` and ``p (Holm over H)``
    (:func:`hmc.book.rare_tables.paired_by_h`), as a Styler with ``-`` for a missing value."""
    table = pd.concat({metric: rare_tables.paired_by_h(scores, methods, "focal ensemble", "focal MC-dropout",
                                                       metric, sizes) for metric in metrics}, names=["metric"])
    table = table.rename(columns={"focal ensemble": "ensemble", "focal MC-dropout": "MC-dropout"})
    table["difference"] = table["MC-dropout"] - table["ensemble"]
    return table[["ensemble", "MC-dropout", "difference", "relative change", "n", "p", "p (Holm over H)"]].style.format(
        {"ensemble": "{:.4f}", "MC-dropout": "{:.4f}", "difference": "{:+.4f}", "relative change": "{:+.1%}",
         "p": "{:.3g}", "p (Holm over H)": "{:.3g}"}, na_rep="-")


def full_estimate_view(estimate: pd.DataFrame, methods: Mapping[tuple[str, int], str], device: str, threads,
                       n_units: int) -> tuple[str, object]:
    """The ``full`` profile's estimate (:func:`hmc.book.rare_tables.ensemble_full_estimate`, 10 seeds)
    as a line (its total hours over ``estimate``'s datasets, on ``device`` with ``threads``, measured from
    ``n_units`` units) and a Styler of its hours summed per H (rows) and variant (columns) at one
    decimal; the line ``"no FUN or GO benchmark on disk: ..."`` and None when it is empty."""
    if estimate.empty:
        return "no FUN or GO benchmark on disk: no estimate for the full profile", None
    estimate = estimate.assign(variant=estimate.method.map({m: v for (v, _), m in methods.items()}),
                               H=estimate.method.map({m: h for (_, h), m in methods.items()}))
    line = (f"estimated full-profile training time on {device} ({threads} thread(s)), 10 seeds, "
            f"{estimate.dataset.nunique()} datasets: {estimate.hours.sum():,.0f} hours; "
            f"measured from {n_units} units of this profile")
    hours = estimate.pivot_table(index="H", columns="variant", values="hours", aggfunc="sum")
    return line, hours.style.format("{:,.1f}")


def size_part(gains: pd.DataFrame, sizes: Sequence[int]) -> tuple[str, object]:
    """Claim 2's size part: the focal ensemble's mean gain in macro F1 (all nodes) over the plain one
    at each H of ``sizes`` (NaN where there is none). Returns the line ``"claim 2 (size): gain at H =
    <last> minus gain at H = <first>: <difference>"`` and the gains as a Styler (index H, signed 4
    decimals, ``-`` for a missing value)."""
    g = gains[gains.metric == "macro_f1"].groupby("H")["focal ensemble"].mean()
    table = pd.DataFrame({"H": list(sizes), "focal gain in macro F1 over the plain ensemble":
                          [g.get(h, np.nan) for h in sizes]}).set_index("H")
    line = (f"claim 2 (size): gain at H = {sizes[-1]} minus gain at H = {sizes[0]}: "
            f"{g.get(sizes[-1], np.nan) - g.get(sizes[0], np.nan):+.4f}")
    return line, table.style.format("{:+.4f}", na_rep="-")


def claim4_view(claim4: pd.DataFrame):
    """:func:`hmc.scorecard.claim4_table` as the page shows it: a Styler without the index, ``measured``
    signed at 3 decimals, ``claimed`` at 2, captioned with where the table comes from."""
    return (claim4.style.format({"measured": "{:+.3f}", "claimed": "{:.2f}"}).hide(axis="index")
            .set_caption("Claim 4 per H and part (hmc.scorecard.claim4_table)"))


def claim4_report(outcome: Mapping[str, object], profile: str, n_seeds: int, measure: str) -> str:
    """The lines of claim 4's outcome (:func:`hmc.scorecard.claim_outcome`): the verdict and the rule's
    own verdict with the run's profile, seeds and measure, the evidence, why it cannot decide (only
    when there are reasons) and the evidence strength."""
    lines = [f"claim 4 verdict: {outcome['verdict']} (the rule alone, gates ignored: {outcome['rule_verdict']}); "
             f"{profile} profile, {n_seeds} seeds, focal {measure}, weights on the negatives, sum",
             f"evidence: {outcome['evidence']}"]
    if outcome["reasons"]:
        lines.append(f"why it cannot decide: {outcome['reasons']}")
    lines.append(f"strength: {outcome['strength']}")
    return "\n".join(lines)
