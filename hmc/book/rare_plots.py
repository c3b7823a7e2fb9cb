"""Figures of the rare-node chapters 03 to 05 (matplotlib/seaborn), sized for the book's column.

Every figure is :data:`WIDTH` inches wide with at most two panels per row, its text at least
:data:`FONT` points (the body text at the column width), and its legend outside the data (below the
panels, or to the right of a single one). Each function returns the Figure; the notebook shows it.
Unused grid cells are removed, never left empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from hmc.book.rare_tables import BUCKETS, depth_means, group_means

WIDTH = 7.0
"""Figure width in inches: the book's text column."""
FONT = 10
"""Smallest font size in points of any text in a figure."""


def set_style() -> None:
    """The book's seaborn theme with every font at least :data:`FONT` points."""
    sns.set_theme(style="whitegrid", context="notebook",
                  rc={"font.size": FONT, "axes.titlesize": FONT + 1, "axes.labelsize": FONT,
                      "xtick.labelsize": FONT, "ytick.labelsize": FONT, "legend.fontsize": FONT,
                      "legend.title_fontsize": FONT, "figure.titlesize": FONT + 1})


def grid(n: int, row_height: float, sharex: bool = False, sharey: bool = False, cols: int = 2):
    """A figure :data:`WIDTH` wide with ``n`` panels, at most ``cols`` (<= 2) per row; the cells of the
    last row beyond ``n`` are removed. Returns ``(fig, axes)`` with ``axes`` a list of length ``n``."""
    cols = max(1, min(cols, 2, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, row_height * rows), squeeze=False,
                             sharex=sharex, sharey=sharey)
    flat = list(axes.flat)
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def legend_below(fig, handles, labels, ncol: int = 3, title: str | None = None, ax=None) -> None:
    """One legend for the whole figure, centred below the panels (outside the data): it hangs from the
    figure's bottom edge, so after ``fig.tight_layout()`` it sits below every tick and axis label, and
    the page's image (saved with ``bbox_inches="tight"``) grows to hold it. With ``ax``, the legend of
    that panel alone, centred under it (one call per panel, after the layout)."""
    kwargs = {} if ax is None else {"bbox_transform": blended_transform_factory(ax.transAxes, fig.transFigure)}
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False,
               title=title, **kwargs)


def method_styles(methods: Sequence[str], baseline: str) -> dict[str, dict]:
    """Line style per method: tab10 colours; the baseline thick; the focal methods and the baseline
    solid, the others (imbalance weighting) dashed."""
    colors = sns.color_palette("tab10", len(methods))
    return {m: {"color": c, "lw": 2.2 if m == baseline else 1.2,
                "ls": "-" if m == baseline or m.startswith("focal") else "--"}
            for m, c in zip(methods, colors, strict=True)}


# ------------------------------------------------------------------------------- chapter 03
def f1_strips(rows: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str], baseline: str,
              labels: Mapping[str, str], metric: str = "macro_f1", title: str = ""):
    """Per dataset a panel: ``metric`` of each seed (grey dots) and its seed mean (black bar) per
    method, and the baseline's mean as a dashed line."""
    t = rows[rows.metric == metric].assign(label=lambda d: d.method.map(labels))
    order = [labels[m] for m in methods]
    fig, axes = grid(len(datasets), 0.3 * len(methods) + 1.3, sharey=True)
    for ax, name in zip(axes, datasets, strict=True):
        d = t[t.dataset == name]
        sns.stripplot(data=d, y="label", x="value", order=order, color="0.55", size=4, jitter=0.12, ax=ax)
        mean = d.groupby("label")["value"].mean().reindex(order)
        ax.scatter(mean, np.arange(len(order)), marker="|", s=300, color="black", zorder=3)
        ax.axvline(mean[labels[baseline]], color="tab:red", ls="--", lw=1)
        ax.set_title(name)
        ax.set_xlabel("macro F1 (all nodes)")
        ax.set_ylabel("")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def bucket_recall_and_gain(rows: pd.DataFrame, gains: pd.DataFrame, methods: Sequence[str], baseline: str,
                           labels: Mapping[str, str]):
    """Two panels over the training-frequency buckets: mean recall per method (left), and each
    method's recall gain over the baseline per dataset (dots) with its median (bar), on a log scale
    with an infinite gain drawn as a triangle at the top and a zero gain at the bottom (right)."""
    styles = method_styles(methods, baseline)
    recall = group_means(rows, "recall@freq=")
    present = [b for b in BUCKETS if b in recall.columns]
    gains = gains.assign(gain=gains.gain.astype(float))
    drawable = gains[np.isfinite(gains.gain) & (gains.gain > 0)]
    hi = max(10.0, 2 * drawable.gain.max()) if len(drawable) else 10.0
    lo = min(0.5, drawable.gain.min() / 2) if len(drawable) else 0.5
    fig, (ax1, ax2) = grid(2, 3.6)
    for m in methods:
        if m in recall.index:
            ax1.plot(present, recall.loc[m, present], marker="o", label=labels[m], **styles[m])
    ax1.set(xlabel="training positives", ylabel="mean recall", title="Recall per bucket")
    others = [m for m in methods if m != baseline]
    x_pos = {b: i for i, b in enumerate(present)}
    for off, m in zip(np.linspace(-0.3, 0.3, len(others)), others, strict=True):
        d = gains[(gains.method == m) & gains.group.isin(present)]
        x, g = d.group.map(x_pos).to_numpy(dtype=float) + off, d.gain.to_numpy()
        ok = np.isfinite(g) & (g > 0)
        color = styles[m]["color"]
        ax2.scatter(x[ok], g[ok], color=color, s=14, alpha=0.7)
        ax2.scatter(x[np.isinf(g)], np.full(np.isinf(g).sum(), hi * 1.5), color=color, marker="^", s=22)
        ax2.scatter(x[g == 0], np.full((g == 0).sum(), lo / 1.5), color=color, marker="v", s=22)
        med = d[ok].groupby("group")["gain"].median().reindex(present)
        ax2.plot(np.arange(len(present)) + off, med, color=color, marker="_", ms=10, lw=1)
    ax2.axhline(1, color="0.3", ls="--", lw=1)
    ax2.axhline(5, color="tab:red", ls="--", lw=1)
    ax2.set_yscale("log")
    ax2.set_ylim(lo / 2, hi * 2)
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo <= t <= hi]
    ax2.set_yticks([lo / 1.5, *ticks, hi * 1.5], ["0", *[f"{t:g}" for t in ticks], "∞"])
    ax2.minorticks_off()
    ax2.set_xticks(range(len(present)), present)
    ax2.set(xlabel="training positives", ylabel="recall / baseline recall", title="Recall gain")
    handles, names = ax1.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", marker="^", ls=""), Line2D([], [], color="0.3", marker="v", ls="")]
    names += ["∞: baseline recall 0", "0: method's recall 0"]
    fig.tight_layout()
    legend_below(fig, handles, names)
    return fig


def depth_lines(rows: pd.DataFrame, methods: Sequence[str], baseline: str, labels: Mapping[str, str]):
    """Two panels, mean F1 (left) and recall (right) per node depth, one line per method."""
    styles = method_styles(methods, baseline)
    depth = depth_means(rows)
    fig, axes = grid(2, 3.4, sharex=True)
    for ax, kind in zip(axes, ("f1", "recall"), strict=True):
        d = depth[depth.kind == kind]
        for m in methods:
            dm = d[d.method == m]
            ax.plot(dm.depth, dm.value, marker="o", label=labels[m], **styles[m])
        ax.set(xlabel="depth of the node", ylabel=f"mean {kind}", title=f"{'F1' if kind == 'f1' else 'Recall'} per depth")
    fig.tight_layout()
    legend_below(fig, *axes[0].get_legend_handles_labels())
    return fig


def cost_bars(cost: pd.DataFrame, methods: Sequence[str], value: str, xlabel: str, title: str,
              labels: Mapping[str, str] | None = None):
    """One horizontal bar per (method, dataset) of ``cost[value]``; the datasets' legend on the right."""
    labels = labels or {m: m for m in methods}
    fig, ax = plt.subplots(figsize=(WIDTH, 0.32 * len(methods) + 1.5))
    sns.barplot(data=cost.assign(label=cost.method.map(labels)), y="label", x=value, hue="dataset",
                order=[labels[m] for m in methods], ax=ax)
    ax.set(xlabel=xlabel, ylabel="", title=title)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------- chapter 04
VARIANT_LOOK = {"baseline ensemble": ("tab:blue", "", "o"), "focal ensemble": ("tab:orange", (4, 1.5), "X"),
                "focal MC-dropout": ("tab:green", (1, 1), "s")}
"""Colour, dashes and marker of each chapter-04 variant, the same in every figure."""


def _h_axis(ax, sizes: Sequence[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(h) for h in sizes])
    ax.minorticks_off()


def variant_lines(long: pd.DataFrame, y: str, panels: Mapping[str, str], sizes: Sequence[int], ylabel: str,
                  variants: Sequence[str] = tuple(VARIANT_LOOK), zero_line: bool = False):
    """One panel per metric of ``panels`` (metric -> title): ``y`` against H (log axis), one line per
    variant: a point is the mean over the datasets of a seed's value, the band the standard deviation
    over the seeds. ``long`` has columns ``metric``, ``variant``, ``H``, ``seed`` and ``y``."""
    long = long.groupby(["metric", "variant", "H", "seed"], as_index=False)[y].mean()
    fig, axes = grid(len(panels), 3.1, sharex=True)
    looks = {v: VARIANT_LOOK[v] for v in variants}
    for ax, (metric, title) in zip(axes, panels.items(), strict=True):
        if zero_line:
            ax.axhline(0, color="0.3", lw=1)
        sns.lineplot(data=long[long.metric == metric], x="H", y=y, hue="variant", style="variant",
                     hue_order=list(looks), style_order=list(looks), palette={v: c for v, (c, _, _) in looks.items()},
                     dashes={v: d for v, (_, d, _) in looks.items()}, markers={v: m for v, (_, _, m) in looks.items()},
                     errorbar="sd", ax=ax, legend=ax is axes[0])
        _h_axis(ax, sizes)
        ax.set(title=title, ylabel=ylabel, xlabel="H")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.tight_layout()
    legend_below(fig, handles, labels)
    return fig


def cost_ratio_lines(cost: pd.DataFrame, sizes: Sequence[int], claims: Mapping[str, tuple[dict, float]]):
    """Per panel of ``claims`` (title -> ({ratio column: label}, claimed ratio)): MC-dropout's ratios to
    the deep ensemble against H (the band: their range over datasets), the claimed ratio (red dashed)
    and 1/H (dotted). Each panel's legend below it, under the figure's axis labels."""
    mc = cost[cost.variant == "mc_dropout"]
    hh = np.linspace(min(sizes), max(sizes), 50)
    fig, axes = grid(len(claims), 3.4, sharey=True)
    for ax, (title, (cols, claim)) in zip(axes, claims.items(), strict=True):
        long = mc.melt(id_vars=["dataset", "H"], value_vars=list(cols), var_name="measure", value_name="ratio").dropna()
        long["measure"] = long.measure.map(cols)
        sns.lineplot(data=long, x="H", y="ratio", hue="measure", style="measure", markers=True,
                     errorbar=("pi", 100), ax=ax)
        ax.axhline(claim, color="tab:red", ls="--", lw=1.2, label=f"paper: {1 - claim:.0%} less")
        ax.plot(hh, 1 / hh, ":", color="0.4", label="1 / H")
        ax.axhline(1, color="0.3", lw=0.8)
        _h_axis(ax, sizes)
        ax.set_ylim(0, max(1.1, float(long.ratio.max()) * 1.05 if len(long) else 1.1))
        ax.set(ylabel="MC-dropout / ensemble", title=title)
        if ax.get_legend() is not None:  # seaborn's legend of the measures: replaced by the one below
            ax.get_legend().remove()
    fig.tight_layout()
    for ax in axes:
        legend_below(fig, *ax.get_legend_handles_labels(), ncol=1, ax=ax)
    return fig


# ------------------------------------------------------------------------------- chapter 05
def schedule_weights(w0: float = 3.0, n_batches: int = 20, n_epochs: int = 2,
                     lambdas: Sequence[float] = (0.25, 0.5, 0.75)):
    """The weight of one loss term with imbalance weight ``w0`` over ``n_epochs`` epochs of
    ``n_batches`` batches: per-epoch schedules, global schedules, and the mixed loss; one panel each,
    one per row, the legend to the right of its panel."""
    from hmc.losses import global_scheduled_weights, scheduled_weights

    steps = np.arange(n_batches * n_epochs)
    fig, axes = grid(3, 2.1, sharex=True, sharey=True, cols=1)
    for kind, color in zip(("lin", "exp", "alt"), ("tab:blue", "tab:orange", "tab:green"), strict=True):
        draw = "steps-post" if kind == "alt" else "default"
        per_epoch = [float(scheduled_weights(w0, s % n_batches, n_batches, kind)) for s in steps]
        global_ = [float(global_scheduled_weights(w0, s, len(steps), kind)) for s in steps]
        axes[0].plot(steps, per_epoch, color=color, label=kind, drawstyle=draw)
        axes[1].plot(steps, global_, color=color, label=f"global-{kind}", drawstyle=draw)
    for lam, color in zip(lambdas, ("tab:purple", "tab:red", "tab:brown"), strict=False):
        axes[2].plot(steps, np.full(len(steps), lam * w0 + 1 - lam), color=color, label=f"mixed-{lam:g}")
    axes[2].axhline(w0, color="0.5", ls="--", lw=1, label="imbalance-neg (W0)")
    axes[2].axhline(1, color="0.5", ls=":", lw=1, label="baseline (1)")
    for ax, title in zip(axes, ("per-epoch schedules (end: omega)", "global schedules (end: 1)", "mixed loss"),
                         strict=True):
        ax.set(title=title, ylabel="weight")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes[2].set_xlabel(f"training step ({n_epochs} epochs x {n_batches} batches)")
    fig.tight_layout()
    return fig


def precision_recall_plane(means: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                           family: Mapping[str, str], palette: Mapping[str, str]):
    """Per dataset a panel: each method's mean macro precision (x) and recall (y), coloured by its
    family and numbered; grey curves of equal F1. The numbers are keyed in the legend below.
    ``means`` has ``dataset``, ``method``, ``macro_precision``, ``macro_recall``, ``macro_f1``."""
    number = {m: i + 1 for i, m in enumerate(methods)}
    fig, axes = grid(len(datasets), 3.4)
    for ax, name in zip(axes, datasets, strict=True):
        d = means[(means.dataset == name) & means.method.isin(list(methods))]
        p_max = max(d.macro_precision.max(), 1e-3) * 1.15
        r_max = max(d.macro_recall.max(), 1e-3) * 1.15
        pp = np.linspace(1e-4, p_max, 200)
        for f1 in np.linspace(0, max(d.macro_f1.max(), 1e-3), 5)[1:]:
            rr = f1 * pp / np.maximum(2 * pp - f1, 1e-12)
            ok = (2 * pp > f1) & (rr <= r_max)
            ax.plot(pp[ok], rr[ok], color="0.85", lw=0.8, zorder=0)
        for _, row in d.iterrows():
            ax.scatter(row.macro_precision, row.macro_recall, color=palette[family[row.method]], s=50, zorder=2)
            ax.annotate(str(number[row.method]), (row.macro_precision, row.macro_recall), xytext=(3, 2),
                        textcoords="offset points")
        ax.set(xlim=(0, p_max), ylim=(0, r_max), title=name, xlabel="macro precision", ylabel="macro recall")
    handles = [Line2D([], [], color=palette[family[m]], marker="o", ls="") for m in methods]
    fig.tight_layout()
    legend_below(fig, handles, [f"{number[m]}: {m}" for m in methods])
    return fig


def bucket_heatmaps(recall: pd.Series, datasets: Sequence[str], methods: Sequence[str], baseline: str,
                    buckets: Sequence[str] = BUCKETS):
    """Per dataset a heatmap of mean recall per method (rows) and bucket (columns), each cell annotated
    with its recall and, below it, the gain over the baseline (``x inf`` where the baseline's is 0,
    ``-`` for 0 / 0); empty buckets blank. ``recall``: seed-mean recall indexed by (dataset, method,
    bucket)."""
    fig, axes = grid(len(datasets), 0.42 * len(methods) + 1.4)
    vmax = max(float(recall.max()), 1e-3)
    for i, (ax, name) in enumerate(zip(axes, datasets, strict=True)):
        r = recall.loc[name].unstack("bucket").reindex(index=list(methods), columns=list(buckets))
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = r / r.loc[baseline]
        notes = np.array([[heatmap_note(r.iat[a, b], gain.iat[a, b], m == baseline) for b in range(len(buckets))]
                          for a, m in enumerate(r.index)])
        sns.heatmap(r, ax=ax, cmap="viridis", vmin=0, vmax=vmax, cbar=False, annot=notes, fmt="",
                    annot_kws={"fontsize": FONT}, yticklabels=i % 2 == 0)
        ax.set(title=name, xlabel="positive training rows", ylabel="")
    fig.colorbar(axes[-1].collections[0], ax=axes, label="mean recall", location="bottom", shrink=0.6, pad=0.12)
    return fig


def heatmap_note(recall: float, gain: float, is_baseline: bool) -> str:
    """A heatmap cell's text: the recall at 3 decimals and, unless it is the baseline's, the gain below
    it (``x 1.25``, ``x inf``, or ``-`` for 0 / 0); empty for a missing recall."""
    if np.isnan(recall):
        return ""
    if is_baseline:
        return f"{recall:.3f}"
    return f"{recall:.3f}\n" + ("x inf" if np.isinf(gain) else "-" if np.isnan(gain) else f"x {gain:.2f}")


def mean_bars(matrix: pd.DataFrame, xlabel: str):
    """A horizontal bar per method (rows of ``matrix.T``) and dataset (columns of ``matrix.T``), the
    first method on top; the datasets' legend on the right."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.3 * matrix.shape[1] + 1.5))
    matrix.T.plot.barh(ax=ax)
    ax.set_xlabel(xlabel)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig
