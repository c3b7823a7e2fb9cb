"""Tables and figures of chapter 02 (the C-HMCNN reproduction), from the sweep's tidy results rows
(:data:`hmc.runs.sweep` columns: dataset, method, seed, metric, value, epochs, hidden_dim, lr, device,
wall_time_s) and the published values (:func:`hmc.published.published_auprc`).

Figures are :data:`hmc.book.rare_plots.WIDTH` wide with their legends outside the data; each function
returns the Figure (the notebook shows it), a DataFrame or text.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hmc.book.pages import fit_steps
from hmc.book.rare_plots import WIDTH, legend_below
from hmc.data import BENCHMARKS

MARGIN = 0.01
"""The study's criterion of a reproduction: our mean AU(PRC) within this of the published C-HMCNN mean."""

COMPARISON_FORMAT = {"ours (mean)": "{:.4f}", "ours (std)": "{:.4f}", "C-HMCNN": "{:.3f}", "HMCN-F": "{:.3f}",
                     "Clus-Ens": "{:.3f}", "ours - C-HMCNN": "{:+.4f}", "lr": "{:.0e}", "reference epochs": "{:.0f}"}
"""Number formats of :func:`comparison_table`'s columns on the page."""

COST_FORMAT = {"minutes": "{:.1f}", "steps per second": "{:.0f}", "ms per step (all seeds)": "{:.1f}"}
"""Number formats of :func:`cost_table`'s columns on the page."""


def seeds_line(rows: pd.DataFrame, name: str, n_seeds: int) -> str | None:
    """``"<name>: <k> seeds, mean AU(PRC) <m>, <t> min on <device>"`` for the AU(PRC) rows of dataset
    ``name`` with seed below ``n_seeds`` (the minutes summed over the seeds); None when there is none."""
    done = rows[(rows.dataset == name) & (rows.metric == "au_prc") & (rows.seed < n_seeds)]
    if not len(done):
        return None
    return (f"{name}: {len(done)} seeds, mean AU(PRC) {done.value.mean():.4f}, "
            f"{done.wall_time_s.sum() / 60:.1f} min on {done.device.iloc[0]}")


def comparison_table(auprc: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Per dataset (in order of appearance): our mean, std and number of seeds of the test AU(PRC), the
    published values (NaN where there is none), our mean minus the published C-HMCNN mean, whether that is
    within :data:`MARGIN`, the run's epochs, hidden width and learning rate, and the reference epochs
    (NaN for a dataset that is not a benchmark)."""
    ours = auprc.groupby("dataset", sort=False)["value"].agg(["mean", "std", "count"])
    ours.columns = ["ours (mean)", "ours (std)", "seeds"]
    comparison = ours.join(published, how="left")
    comparison["ours - C-HMCNN"] = comparison["ours (mean)"] - comparison["C-HMCNN"]
    comparison["within 0.01"] = comparison["ours - C-HMCNN"].abs() <= MARGIN
    settings = auprc.groupby("dataset", sort=False)[["epochs", "hidden_dim", "lr"]].first()
    settings["reference epochs"] = [BENCHMARKS[n].epochs if n in BENCHMARKS else np.nan for n in settings.index]
    return comparison.join(settings)


def published_delta_figure(auprc: pd.DataFrame, published: pd.DataFrame, comparison: pd.DataFrame):
    """Every seed's AU(PRC) minus the published C-HMCNN mean (grey dots), our mean (black bar) and the
    published HMCN-F and Clus-Ens means (open marks), with the +-:data:`MARGIN` band; the raw values
    when no dataset has a published value (the synthetic fallback). One legend below the panel."""
    rel = auprc[auprc.dataset.isin(published.index)].copy()
    if rel.empty:
        fig, ax = plt.subplots(figsize=(WIDTH, 2.5))
        sns.stripplot(data=auprc, y="dataset", x="value", color="0.45", ax=ax)
        ax.set_xlabel("test AU(PRC)")
        ax.set_title("AU(PRC) per seed (no published value to compare with)")
        fig.tight_layout()
        return fig
    order = list(published.index)
    rel["delta"] = rel.value - rel.dataset.map(published["C-HMCNN"])
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(order) + 1.8))
    ax.axvspan(-MARGIN, MARGIN, color="tab:green", alpha=0.15, label=f"C-HMCNN +- {MARGIN}")
    ax.axvline(0, color="tab:green", lw=1.2)
    sns.stripplot(data=rel, y="dataset", x="delta", order=order, color="0.55", size=4, jitter=0.15, ax=ax)
    y = np.arange(len(order))
    ax.scatter(comparison.loc[order, "ours - C-HMCNN"], y, marker="|", s=500, color="black",
               label="ours (mean of seeds)", zorder=3)
    for method, marker, color in [("HMCN-F", "s", "tab:blue"), ("Clus-Ens", "^", "tab:orange")]:
        ax.scatter(published[method] - published["C-HMCNN"], y, marker=marker, facecolors="none",
                   edgecolors=color, s=60, label=f"{method} (published)", zorder=4)
    ax.set_xlabel("test AU(PRC) minus the published C-HMCNN mean")
    ax.set_ylabel("")
    ax.set_title("Our C-HMCNN seeds against the published numbers")
    if ax.get_legend() is not None:  # seaborn's own legend of the labelled artists: one legend, below
        ax.get_legend().remove()
    fig.tight_layout()
    legend_below(fig, *ax.get_legend_handles_labels(), ncol=2)
    return fig


def cost_table(auprc: pd.DataFrame, benchmarks: Mapping[str, object]) -> pd.DataFrame:
    """Per dataset: seeds, epochs, device, seconds (summed over the seeds), training steps of one run
    (:func:`hmc.book.pages.fit_steps`, batch size 4), minutes, steps per second and ms per step."""
    cost = auprc.groupby("dataset", sort=False).agg(seeds=("seed", "size"), epochs=("epochs", "first"),
                                                    device=("device", "first"), seconds=("wall_time_s", "sum"))
    cost["steps"] = [fit_steps(benchmarks[n], int(e)) for n, e in zip(cost.index, cost.epochs, strict=True)]
    cost["minutes"] = cost.seconds / 60
    cost["steps per second"] = cost.steps / cost.seconds
    cost["ms per step (all seeds)"] = 1000 * cost.seconds / cost.steps
    return cost


def cost_figure(cost: pd.DataFrame):
    """Bars of the minutes per dataset (all seeds), the devices named on the axis."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.4 * len(cost) + 1.5))
    ax.barh(cost.index, cost.minutes, color="tab:blue")
    ax.invert_yaxis()
    ax.set_xlabel(f"minutes for all seeds ({', '.join(sorted(set(cost.device)))})")
    ax.set_title("Wall time per dataset: training, prediction and scoring")
    fig.tight_layout()
    return fig


def reproduction_lines(comparison: pd.DataFrame) -> list[str]:
    """How many datasets with a published value are within :data:`MARGIN`, then one line per one that
    is not (ours against the published C-HMCNN mean)."""
    has = comparison["C-HMCNN"].notna()
    off = comparison[~comparison["within 0.01"] & has]
    return ([f"within 0.01 of the published C-HMCNN: {int(comparison['within 0.01'].sum())} of {int(has.sum())} datasets"]
            + [f"  not within 0.01: {name}: ours {row['ours (mean)']:.4f} vs published {row['C-HMCNN']:.3f}"
               for name, row in off.iterrows()])
