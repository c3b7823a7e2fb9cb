"""Tables, figures and lines of chapter 05 (schedules, the mixed loss and LPROS resampling) and of the
claims scorecard it ends with.

Each function takes the chapter's tidy result rows (columns ``dataset``, ``method``, ``seed``,
``metric``, ``value`` and, for costs, ``wall_time_s``, ``epochs``, ``device``), the loaded benchmarks,
their LPROS results or the scorecard of :func:`hmc.scorecard.scorecard_from_results`, and returns what
one step of the page shows: a DataFrame or pandas Styler, a Figure, or a line of text. The tables they
arrange come from :mod:`hmc.book.rare_tables` and the figures from :mod:`hmc.book.rare_plots`; nothing
here trains or decides a claim.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hmc.book import rare_plots, rare_tables
from hmc.rare_evidence import min_wilcoxon_p

SCORE_LABELS = {"au_prc": "AU(PRC)", "macro_precision": "macro P", "macro_recall": "macro R",
                "macro_f1": "macro F1"}
"""The metrics of the per-dataset score tables (section 3) and their column labels."""

ESTIMATE_FORMAT = {"minutes": "{:.1f}", "ms_per_seed_step": "{:.2f}", "full estimate (hours, this device)": "{:.1f}"}
"""Number formats of :func:`full_estimate`'s columns on the page."""

WRAPPED = {"text-align": "left", "white-space": "pre-wrap"}
"""Cell properties of the scorecard tables: left-aligned text whose line breaks are kept."""

HOURS = "full estimate (hours, this device)"
"""The column of :func:`full_estimate` that holds the hours of the ``full`` design."""


def method_list(methods: Sequence[str], required: Sequence[str]) -> list[str]:
    """The method names a ``methods`` parameter stands for: the chapter's 13
    (:data:`hmc.rare_evidence.CHAPTER05_METHODS`) for ``["all"]``, else the names themselves. Each name
    must parse (:func:`hmc.rare_nodes.rare_config` raises on a malformed one), and every name of
    ``required`` (the references of every comparison) must be among them, else ValueError."""
    from hmc.rare_evidence import CHAPTER05_METHODS
    from hmc.rare_nodes import rare_config

    names = list(CHAPTER05_METHODS) if list(methods) == ["all"] else list(methods)
    for m in names:
        rare_config(m)  # a malformed name fails here, before any training
    missing = [m for m in required if m not in names]
    if missing:
        raise ValueError(f"methods must include {missing}: every comparison is made against them")
    return names


def clone_table(lpros: Mapping[str, object]) -> pd.DataFrame:
    """Per dataset (rows, in order): the fitting rows LPROS started from, the clones it made and the
    minority paths it found (``lpros``: dataset -> :class:`hmc.resampling` result with ``n_original``,
    ``n_clones``, ``minority``)."""
    clones = {name: (r.n_original, r.n_clones, len(r.minority)) for name, r in lpros.items()}
    return pd.DataFrame(clones, index=["fitting rows", "LPROS clones (S = 0.1)", "minority paths"]).T


def units_line(rows: pd.DataFrame, name: str, methods: Sequence[str], n_seeds: int, epochs: int) -> str:
    """``"<name>: <epochs> epochs, <k> (method, seed) units, <t> min on <device>"``: the AU(PRC) rows of
    dataset ``name`` for ``methods`` and seeds below ``n_seeds``, their wall time summed in minutes."""
    done = rows[(rows.dataset == name) & (rows.metric == "au_prc") & rows.method.isin(list(methods))
                & (rows.seed < n_seeds)]
    return (f"{name}: {epochs} epochs, {len(done)} (method, seed) units, "
            f"{done.wall_time_s.sum() / 60:.1f} min on {done.device.iloc[0]}")


def score_tables(rows: pd.DataFrame, epochs: Mapping[str, int], methods: Sequence[str], n_seeds: int,
                 baseline: str) -> list[tuple[str, pd.DataFrame, str | None]]:
    """Per dataset of ``epochs`` (in order): its heading (Markdown), its table of ``"mean ± std"`` over
    the seeds per method (rows) and metric of :data:`SCORE_LABELS` (columns), and a warning when the
    baseline's mean macro F1 is below 0.001 (it predicts almost no positive at 0.5), else None."""
    out = []
    for name, n_epochs in epochs.items():
        scores = rare_tables.per_dataset_scores(rows, [name], methods, SCORE_LABELS).loc[name]
        base = rows[(rows.dataset == name) & (rows.method == baseline) & (rows.metric == "macro_f1")].value.mean()
        warning = (f"{name}: after {n_epochs} epoch(s) the baseline predicts (almost) no positive at 0.5 "
                   f"(macro F1 {base:.4f}): gains against it are infinite or undefined; a pipeline check only."
                   if base < 1e-3 else None)
        out.append((f"**{name}** ({n_epochs} epochs, {n_seeds} seeds)", scores, warning))
    return out


def seed_means(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, method) with the seed mean of every metric as a column."""
    return rows.groupby(["dataset", "method", "metric"])["value"].mean().unstack("metric").reset_index()


def precision_recall_figure(rows: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                            baseline: str, weighted: str):
    """The precision/recall plane (:func:`hmc.book.rare_plots.precision_recall_plane`) of the seed means
    (:func:`seed_means`), one panel per dataset, the methods coloured by their family
    (:func:`hmc.book.rare_tables.schedule_family`); returns the Figure, titled."""
    family = {m: rare_tables.schedule_family(m, baseline, weighted) for m in methods}
    fig = rare_plots.precision_recall_plane(seed_means(rows), list(datasets), list(methods), family,
                                            rare_tables.SCHEDULE_FAMILIES)
    fig.suptitle("Mean over seeds, all evaluated nodes, threshold 0.5", y=1.02)
    return fig


def bucket_recall(rows: pd.DataFrame, prefix: str = "recall@freq=") -> pd.Series:
    """The seed mean of each ``<prefix><bucket>`` metric, indexed by (dataset, method, bucket)."""
    rec = rows[rows.metric.str.startswith(prefix)]
    bucket = rec.metric.str.slice(len(prefix)).rename("bucket")
    return rec.groupby([rec.dataset, rec.method, bucket])["value"].mean()


def wilcoxon_table(rows: pd.DataFrame, methods: Sequence[str], references: Sequence[str]):
    """:func:`hmc.book.rare_tables.wilcoxon_against` on macro F1, styled: mean differences signed at 4
    decimals, Holm p-values at 3, ``-`` where there is none; returns the pandas Styler."""
    wide = rare_tables.wilcoxon_against(rows, methods, references)
    columns = {kind: [c for c in wide.columns if c[0] == kind] for kind in ("mean_diff", "p_holm")}
    return (wide.style.format("{:+.4f}", subset=columns["mean_diff"], na_rep="-")
            .format("{:.3f}", subset=columns["p_holm"], na_rep="-"))


def smallest_p_line(n_seeds: int) -> str:
    """The smallest two-sided p the exact Wilcoxon test can give with ``n_seeds`` pairs
    (:func:`hmc.rare_evidence.min_wilcoxon_p`: ``2 / 2^n``, at most 1)."""
    return f"smallest attainable two-sided p with {n_seeds} seeds: {min_wilcoxon_p(n_seeds):.4f}"


def rank_figure(rows: pd.DataFrame, methods: Sequence[str], metric: str = "macro_f1"):
    """The methods across datasets on ``metric`` (seed means; a dataset missing a method is left out).
    With at least 2 datasets and 3 methods: the Friedman/Nemenyi line and the critical-difference
    diagram (:func:`hmc.stats.friedman_nemenyi`); otherwise a line saying why not and bars of each
    method's mean per dataset. Returns ``(figure, line)``."""
    from hmc.stats import critical_difference_figure, friedman_nemenyi

    t = rows[rows.metric == metric]
    matrix = t.groupby(["dataset", "method"])["value"].mean().unstack("method").reindex(columns=list(methods)).dropna()
    if matrix.shape[0] >= 2 and matrix.shape[1] >= 3:
        fn = friedman_nemenyi(matrix)
        fig = critical_difference_figure(fn.avg_ranks, fn.cd)
        fig.axes[0].set_title("Average rank on macro F1 (1 = best)")
        return fig, (f"Friedman over {fn.n_blocks} datasets: chi2 = {fn.statistic:.2f}, p = {fn.pvalue:.3g}; "
                     f"Iman-Davenport p = {fn.f_pvalue_text}; CD = {fn.cd:.2f}")
    line = f"{matrix.shape[0]} dataset(s): no Friedman test; mean macro F1 per method instead"
    return rare_plots.mean_bars(matrix, "macro F1 (mean over seeds)"), line


def cost_table(rows: pd.DataFrame, benchmarks: Mapping[str, object], lpros: Mapping[str, object]) -> pd.DataFrame:
    """:func:`hmc.book.rare_tables.schedule_costs` with each benchmark's fitting rows (train + valid) and
    its LPROS clones (``lpros``: dataset -> result with ``n_clones``): one row per (dataset, method)."""
    n_fit = {name: len(b.x_train) + len(b.x_valid) for name, b in benchmarks.items()}
    return rare_tables.schedule_costs(rows, n_fit, {name: r.n_clones for name, r in lpros.items()})


def run_line(cost: pd.DataFrame, device: str, load: Sequence[float] | None = None) -> str:
    """One line: the minutes of all (dataset, method) runs of :func:`cost_table` on ``device``, and the
    load average (``load``, default :func:`os.getloadavg` now)."""
    load = os.getloadavg() if load is None else load
    return (f"this run: {cost.seconds.sum() / 60:.1f} minutes for {len(cost)} (dataset, method) runs on {device}; "
            f"load average now {', '.join(f'{x:.1f}' for x in load)}")


def full_estimate(cost: pd.DataFrame, benchmarks: Mapping[str, object]) -> pd.DataFrame:
    """:func:`hmc.book.rare_tables.schedule_full_estimate` at each dataset's reference epochs (those of
    :data:`hmc.data.BENCHMARKS`, else the benchmark's own spec): per dataset, minutes of this run, ms per
    (seed, step), reference epochs and the hours of the ``full`` design on this device."""
    from hmc.data import BENCHMARKS

    spec_epochs = {d: (BENCHMARKS[d].epochs if d in BENCHMARKS else b.spec.epochs) for d, b in benchmarks.items()}
    return rare_tables.schedule_full_estimate(cost, spec_epochs)


def full_total_line(per_dataset: pd.DataFrame, names: Sequence[str]) -> str | None:
    """A rough total of the ``full`` profile over the datasets ``names`` (its FUN and GO benchmarks on
    disk): the mean estimate of the FunCat datasets of ``per_dataset`` (:func:`full_estimate`) per FUN
    dataset and three times it per GO dataset, in hours and days; None when no FunCat dataset was run."""
    fun_run = [h for d, h in per_dataset[HOURS].items() if d.endswith("_FUN")]
    if not fun_run:
        return None
    n_fun = sum(n.endswith("_FUN") for n in names)
    rough = np.mean(fun_run) * (n_fun + 3 * (len(names) - n_fun))
    return (f"rough full-profile total on this device ({n_fun} FUN + {len(names) - n_fun} GO datasets on disk, "
            f"GO = 3 x FUN): {rough:,.0f} hours, i.e. {rough / 24:,.1f} days; a GPU is the intended device")


def cost_figure(cost: pd.DataFrame, methods: Sequence[str], device: str):
    """Bars of the minutes of every (dataset, method) run, all seeds together
    (:func:`hmc.book.rare_plots.cost_bars`); returns the Figure."""
    return rare_plots.cost_bars(cost.assign(minutes=cost.seconds / 60), methods, "minutes",
                                f"minutes for all seeds ({device})",
                                "Wall time per method and dataset: training, prediction, scoring")


def rules_markdown() -> str:
    """The scorecard's conventions and verdict rules (:data:`hmc.scorecard.RULE_CONVENTIONS`,
    :data:`hmc.scorecard.VERDICT_RULES`) as Markdown: two bold headings, one bullet each."""
    from hmc.scorecard import RULE_CONVENTIONS, VERDICT_RULES

    return ("**Conventions**\n\n" + "\n".join(f"- {text}" for text in RULE_CONVENTIONS)
            + "\n\n**Rules**\n\n" + "\n".join(f"- **Claim {k}.** {rule}" for k, rule in VERDICT_RULES.items()))


def verdict_table(card: pd.DataFrame):
    """The scorecard by claim: statement, verdict (coloured by
    :data:`hmc.book.rare_tables.VERDICT_COLOURS`; the second column, where the verdicts page reads it),
    why inconclusive, what the rule alone says, and the evidence; returns the pandas Styler."""
    shown = card[["claim", "statement", "verdict", "reasons", "rule_verdict", "evidence"]].rename(
        columns={"reasons": "why inconclusive", "rule_verdict": "rule alone"})
    return (shown.set_index("claim").style
            .map(lambda v: f"background-color: {rare_tables.VERDICT_COLOURS.get(v, '')}", subset=["verdict"])
            .set_properties(**WRAPPED))


def strength_table(card: pd.DataFrame):
    """The scorecard's evidence strength by claim: data, seeds, epochs, smallest attainable p, the effect
    with its estimate and interval (signed, 4 decimals) and what it resamples, the paper's figure and
    ours; ``-`` for a missing number. Returns the pandas Styler."""
    strength = card[["claim", "data", "seeds", "epochs", "min_p", "effect", "estimate", "ci_low", "ci_high",
                     "ci_over", "paper", "ours"]].rename(columns={"min_p": "smallest attainable p"})
    return (strength.set_index("claim").style
            .format({"smallest attainable p": "{:.3g}", "estimate": "{:+.4f}", "ci_low": "{:+.4f}",
                     "ci_high": "{:+.4f}"}, na_rep="-")
            .set_properties(**WRAPPED))
