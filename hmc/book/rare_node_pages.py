"""Tables, figures and text of chapter 03 (the rare-node loss at one ensemble size H), from the sweep's
tidy result rows (:data:`hmc.runs.sweep.RESULT_COLUMNS`) and the tests of :mod:`hmc.rare_evidence`.

Each table function returns what the page shows (a DataFrame or its Styler with the page's number
formats); each text function returns the lines the page prints; each figure function returns the
figure. ``labels`` maps a method name to its short label (:func:`hmc.rare_evidence.short_label`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from hmc.book import rare_plots, rare_tables
from hmc.book.pages import scaled_epochs
from hmc.data import BENCHMARKS
from hmc.rare_evidence import (CLAIMS, RARE_BUCKETS, chapter_methods, min_wilcoxon_p, short_label,
                               wilcoxon_across_datasets)
from hmc.runs.store import coverage
from hmc.runs.sweep import Unit, run_sweep
from hmc.stats import critical_difference_figure

ACROSS_METRICS = ["au_prc", "macro_f1", "macro_f1_pos", "macro_recall", *[f"recall@freq={b}" for b in RARE_BUCKETS]]
"""The metrics of the across-datasets tests, one Holm family each."""


def chapter_roles(n_members: int, measures: Sequence[str]) -> tuple[list[str], str, list[str], dict[str, str]]:
    """The chapter's methods at H = ``n_members`` (:func:`hmc.rare_evidence.chapter_methods`):
    ``(methods, baseline, others, labels)``: every method name in the chapter's order, the plain
    ensemble's name, the other names, and each name's short label without ``-H<n>``."""
    methods = list(chapter_methods(n_members, measures).values())
    baseline = methods[0]
    return methods, baseline, methods[1:], {m: short_label(m) for m in methods}


def datasets_to_load(names: Sequence[str], rows: pd.DataFrame, train: bool) -> list[str]:
    """The datasets to load: all of ``names`` when training, else only those with result ``rows``
    (a page of the campaign's results shows the datasets that have units), in the order of ``names``."""
    if train:
        return list(names)
    have = set(rows.dataset)
    return [n for n in names if n in have]


def design_units(datasets: Sequence[str], methods: Sequence[str], n_seeds: int) -> list[Unit]:
    """The design's (dataset, method, seed) units: every dataset, method and seed ``0 .. n_seeds-1``,
    by dataset, then method, then seed."""
    return [Unit(name, m, seed) for name in datasets for m in methods for seed in range(n_seeds)]


def train_design(benchmarks: Mapping[str, object], design: Sequence[Unit], results_path, epoch_fraction: float,
                 device: str, num_threads: int, train: bool = True) -> None:
    """Run the sweep (:func:`hmc.runs.sweep.run_sweep`) of the ``design`` units of each loaded dataset,
    one dataset after the other, at its scaled epochs (:func:`hmc.book.pages.scaled_epochs`);
    ``num_threads`` 0 is the library's automatic choice; ``train=False`` trains nothing. Returns None."""
    for name, benchmark in benchmarks.items():
        run_sweep([u for u in design if u.dataset == name], results_path, load=benchmarks.__getitem__,
                  epochs=scaled_epochs(benchmark, epoch_fraction), device=device, num_threads=num_threads or "auto",
                  progress=False, train=train)


def chapter_rows(rows: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str], n_seeds: int) -> pd.DataFrame:
    """The result rows of ``datasets`` and ``methods`` with a seed below ``n_seeds``."""
    return rows[rows.dataset.isin(list(datasets)) & rows.method.isin(list(methods)) & (rows.seed < n_seeds)]


def coverage_table(rows: pd.DataFrame, design: Sequence[Unit], datasets: Sequence[str], methods: Sequence[str],
                   labels: Mapping[str, str]) -> pd.DataFrame:
    """Seeds finished per dataset (rows, in ``datasets`` order) and method (columns, relabelled by
    ``labels``) of the ``design``, as integers; 0 where a dataset or method has no unit."""
    done = coverage(rows, design).pivot(index="dataset", columns="method", values="done")
    return done.reindex(index=list(datasets), columns=list(methods)).rename(columns=labels).fillna(0).astype(int)


def design_line(datasets: Sequence[str], n_members: int, n_seeds: int, epoch_fraction: float) -> str:
    """One line: which datasets the means run over, H, the seeds and the epoch fraction."""
    return (f"mean over {len(datasets)} dataset(s): {', '.join(datasets)}; H = {n_members}, "
            f"{n_seeds} seeds, epoch fraction {epoch_fraction}")


def overall_view(rows: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str]):
    """:func:`hmc.book.rare_tables.overall_scores` as a Styler at 4 decimals, each column's largest
    value in bold."""
    return rare_tables.overall_scores(rows, methods, labels=labels).style.format("{:.4f}").highlight_max(
        axis=0, props="font-weight: bold")


def bucket_figure(rows: pd.DataFrame, gains: pd.DataFrame, methods: Sequence[str], baseline: str,
                  labels: Mapping[str, str], n_members: int):
    """:func:`hmc.book.rare_plots.bucket_recall_and_gain` with the chapter's title (H, where the weights
    sit); returns the figure."""
    fig = rare_plots.bucket_recall_and_gain(rows, gains, methods, baseline, labels)
    fig.suptitle(f"Rare nodes (H = {n_members}; weights on the negatives unless named -pos)", y=1.02)
    return fig


def bucket_view(rows: pd.DataFrame, gains: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str]):
    """:func:`hmc.book.rare_tables.bucket_means` as a Styler at 3 decimals, ``-`` where missing."""
    return rare_tables.bucket_means(rows, gains, methods, labels).style.format("{:.3f}", na_rep="-")


def depth_view(rows: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str]):
    """Mean recall and F1 per depth (:func:`hmc.book.rare_tables.depth_table`), a row per method, as a
    Styler at 3 decimals, ``-`` where missing."""
    table = rare_tables.depth_table(rare_tables.depth_means(rows), methods, labels)
    return table.style.format("{:.3f}", na_rep="-")


def smallest_p_line(n: int, what: str, alpha: float) -> str:
    """One line: the smallest two-sided p the exact Wilcoxon test can give with ``n`` pairs of ``what``
    (``"seeds"`` or ``"datasets"``), and a warning when it is above ``alpha``."""
    smallest = min_wilcoxon_p(n)
    counted = f"{n} dataset(s)" if what == "datasets" else f"{n} {what}"
    return (f"{counted}: smallest attainable two-sided p = {smallest:.3g}"
            + (f"  (too few {what} for any significant result)" if smallest > alpha else ""))


def significance_line(tests: pd.DataFrame, alpha: float) -> str:
    """One line on :func:`hmc.rare_evidence.wilcoxon_per_dataset`'s rows: how many are significant after
    Holm at ``alpha``, and how many have a higher mean macro F1 than the baseline."""
    sig = tests[tests.p_holm < alpha]
    return (f"significant at {alpha} after Holm: {len(sig)} of {len(tests)} (dataset, method) comparisons; "
            f"{int((tests.mean_diff > 0).sum())} with a higher mean macro F1 than the baseline")


def across_datasets(rows: pd.DataFrame, baseline: str, others: Sequence[str]) -> pd.DataFrame:
    """:func:`hmc.rare_evidence.wilcoxon_across_datasets` of every method of ``others`` against the
    baseline, for each metric of :data:`ACROSS_METRICS` (one Holm family each), stacked."""
    return pd.concat([wilcoxon_across_datasets(rows, metric, baseline, others) for metric in ACROSS_METRICS])


def across_views(across: pd.DataFrame, others: Sequence[str], labels: Mapping[str, str]) -> tuple:
    """The across-datasets tests as two method x metric Stylers (:func:`hmc.book.rare_tables.across_tables`):
    the Holm-adjusted p (3 significant digits) and the mean difference to the baseline (signed, 4
    decimals), each with its caption; ``-`` where missing."""
    p_holm, diff = rare_tables.across_tables(across, others, ACROSS_METRICS, labels)
    return (p_holm.style.format("{:.3g}", na_rep="-").set_caption("Holm-adjusted p, across datasets"),
            diff.style.format("{:+.4f}", na_rep="-").set_caption(
                "mean difference to the baseline, across datasets"))


def friedman_text(result, shape: tuple[int, int], alpha: float) -> str:
    """What the page prints about the Friedman test (:func:`hmc.rare_evidence.friedman_over_datasets`'s
    ``result``, None when undefined; ``shape``: its matrix's (datasets, methods)): why there is no test,
    or a warning below 10 datasets and the statistics with the Nemenyi CD."""
    if result is None:
        return (f"The design is too small for the Friedman test: {shape[0]} dataset(s) x {shape[1]} "
                "methods (it needs at least 2 datasets and 3 methods). No ranks are computed.")
    lines = []
    if result.n_blocks < 10:
        lines.append(f"Only {result.n_blocks} datasets: the ranks describe this run, and the test has almost no "
                     "power (Demsar 2006 asks for about 10 or more datasets); do not read the p-value as evidence.")
    lines.append(f"Friedman chi2 = {result.statistic:.2f} (p = {result.pvalue:.3g}), Iman-Davenport F = "
                 f"{result.f_statistic:.2f} (p = {result.f_pvalue_text}); "
                 f"Nemenyi CD = {result.cd:.2f} at alpha = {alpha}")
    return "\n".join(lines)


def rank_figure(result, labels: Mapping[str, str], n_members: int):
    """The critical-difference diagram of a Friedman ``result`` with the methods' short labels and the
    chapter's title; returns the figure."""
    fig = critical_difference_figure(result.avg_ranks.rename(index=labels), result.cd)
    fig.axes[0].set_title(f"Average rank on macro F1 over {result.n_blocks} datasets (H = {n_members})")
    return fig


def claims_header(n_members: int, n_datasets: int, n_seeds: int, epoch_fraction: float, profile: str) -> str:
    """The statements of claims 1 and 2 (:data:`hmc.rare_evidence.CLAIMS`), one line each, then a line
    on the design (noting that a profile other than ``full`` is a pipeline check)."""
    lines = [f"Claim {number}: {text}" for number, text in CLAIMS.items()]
    note = "  (a pipeline check, not the paper's protocol)" if profile != "full" else ""
    lines.append(f"H = {n_members}; {n_datasets} dataset(s); {n_seeds} seeds; epoch fraction {epoch_fraction}; "
                 f"profile {profile!r}{note}")
    return "\n".join(lines)


def evidence_view(evidence: pd.DataFrame):
    """:func:`hmc.rare_evidence.claims_evidence` indexed by claim, as a Styler: value at 4 significant
    digits, the p-values at 3, ``n`` as an integer, ``-`` where missing."""
    return evidence.set_index("claim").style.format({"value": "{:.4g}", "p": "{:.3g}", "p_holm": "{:.3g}",
                                                     "min_p": "{:.3g}", "n": "{:.0f}"}, na_rep="-")


def verdict_text(number: int, row: Mapping[str, str]) -> str:
    """A claim's verdict (a row of :func:`hmc.scorecard.claim_outcome`) as the page prints it: verdict
    and the rule's own verdict, evidence, the reasons when there are any, strength, the paper's and our
    figures, then an empty line."""
    lines = [f"Claim {number}: {row['verdict']}  (the rule alone, gates ignored: {row['rule_verdict']})",
             f"  evidence: {row['evidence']}"]
    if row["reasons"]:
        lines.append(f"  why inconclusive: {row['reasons']}")
    lines += [f"  strength: {row['strength']}", f"  paper:    {row['paper']}", f"  ours:     {row['ours']}", ""]
    return "\n".join(lines)


def cost_figure(cost: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str], n_seeds: int, n_members: int):
    """Wall time per method and dataset (:func:`hmc.book.rare_plots.cost_bars` of
    :func:`hmc.book.rare_tables.wall_times`), the devices in the axis label; returns the figure."""
    devices = ", ".join(sorted(set(cost.device)))
    return rare_plots.cost_bars(cost, methods, "seconds", f"seconds for {n_seeds} seeds ({devices})",
                                f"Wall time per method (H = {n_members})", labels)


def spec_epochs(datasets, benchmarks: Mapping[str, object]) -> dict[str, int]:
    """The reference epochs of each dataset: the benchmark table's (:data:`hmc.data.BENCHMARKS`), else
    the loaded benchmark's spec (a synthetic one)."""
    return {d: BENCHMARKS[d].epochs if d in BENCHMARKS else benchmarks[d].spec.epochs for d in datasets}


def load_line(cost: pd.DataFrame) -> str:
    """One line: the devices the costs were measured on and the machine's load averages now."""
    return (f"measured on {', '.join(sorted(set(cost.device)))}; load average now "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def estimate_view(estimate: pd.DataFrame):
    """:func:`hmc.book.rare_tables.full_estimate` as a Styler: seconds and hours at 1 decimal."""
    return estimate.style.format({"s per epoch, all methods": "{:.1f}", "full: hours for 10 seeds": "{:.1f}"})
