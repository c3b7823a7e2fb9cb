"""Figures of the HCAL chapter (06), from its data, tidy results and history tables.

Every figure is :data:`hmc.book.rare_plots.WIDTH` wide with at most two panels per row
(:func:`hmc.book.rare_plots.grid`), its legend below the panels (:func:`~hmc.book.rare_plots.legend_below`)
and its dataset named in its title, so that one caption holds for the figure of every dataset; the
fonts are the book's (:func:`~hmc.book.rare_plots.set_style`, at least 10 pt). A function with
nothing to draw (a method or a dataset the evidence campaign has not reached yet) returns None
before it makes a figure; :func:`show` then prints one sentence in its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from hmc.book.hcal_pages import PROTOCOL_TITLES, main_metrics, robustness_long
from hmc.book.rare_plots import WIDTH, grid, legend_below


def show(fig, nothing: str) -> None:
    """Display ``fig`` once and close it; print ``nothing`` (one sentence) when ``fig`` is None."""
    if fig is None:
        print(nothing)
        return
    from IPython.display import display

    display(fig)
    plt.close(fig)


def show_tables(tables: Sequence, nothing: str) -> None:
    """Display each table (DataFrame or Styler) of ``tables``; print ``nothing`` (one sentence) when
    there is none."""
    if not len(tables):
        print(nothing)
        return
    from IPython.display import display

    for table in tables:
        display(table)


def _titled(fig, title: str) -> None:
    """A figure title above the panels, with the panels laid out below it (tight_layout leaves it no room)."""
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.32 / fig.get_size_inches()[1]))


def _metric_title(metric: str) -> str:
    return metric + (" (lower is better)" if metric == "hvr" else "")


# ------------------------------------------------------------------------------- the data
def montage(images: np.ndarray, coarse: np.ndarray, per_row: int = 8, max_rows: int = 6,
            pad: int = 1) -> tuple[np.ndarray, list[int]]:
    """A grid of training images: one row per coarse class (the first ``max_rows`` classes present,
    in increasing order), its first ``per_row`` images left to right, ``pad`` pixels of white (255)
    between and around them; a class with fewer images leaves its row's end white.

    ``images``: uint8 (N, C, H, W); ``coarse``: (N,) class of each image. Returns the montage, (H', W')
    for one channel or (H', W', C), and the classes of its rows.
    """
    shown = [int(c) for c in np.unique(coarse)[:max_rows]]
    n, ch, h, w = images.shape
    out = np.full((len(shown) * (h + pad) + pad, per_row * (w + pad) + pad, ch), 255, dtype=np.uint8)
    for r, c in enumerate(shown):
        for j, i in enumerate(np.flatnonzero(coarse == c)[:per_row]):
            y, x = pad + r * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = np.transpose(images[i], (1, 2, 0))
    return (out[..., 0] if ch == 1 else out), shown


def data_figure(name: str, data):
    """One dataset's training split: eight images of each of the first six coarsest classes (top), the
    training images per coarsest class (bottom left) and per finest class, largest first (bottom right)."""
    images = data.x_train.numpy() if hasattr(data.x_train, "numpy") else np.asarray(data.x_train)
    coarse, fine = np.asarray(data.y_train[:, -1]), np.asarray(data.y_train[:, 0])
    grid_img, shown = montage(images, coarse)
    coarse_name, fine_name = data.level_names[-1], data.level_names[0]
    fig = plt.figure(figsize=(WIDTH, 0.45 * len(shown) + 3.6))
    spec = fig.add_gridspec(2, 2, height_ratios=[0.45 * len(shown) + 0.4, 2.6])
    ax0 = fig.add_subplot(spec[0, :])
    ax0.imshow(grid_img, cmap="gray", vmin=0, vmax=255)
    step = grid_img.shape[0] / max(len(shown), 1)
    ax0.set_yticks([step * (r + 0.5) for r in range(len(shown))],
                   [f"{c}: {data.class_names[-1][c].replace('_', ' ')[:24]}" for c in shown])
    ax0.set_ylabel(coarse_name)
    ax0.set_xticks([])
    ax0.grid(False)
    ax0.set_title(f"{name}: training images by {coarse_name}")
    ax1, ax2 = fig.add_subplot(spec[1, 0]), fig.add_subplot(spec[1, 1])
    per_coarse = np.bincount(coarse, minlength=len(data.class_names[-1]))
    ax1.bar(np.arange(len(per_coarse)), per_coarse, color="tab:orange", linewidth=0)
    ax1.set(xlabel=f"{coarse_name} class", ylabel="training images", title=f"per {coarse_name}")
    per_fine = np.sort(np.bincount(fine, minlength=len(data.class_names[0])))[::-1]
    ax2.bar(np.arange(len(per_fine)), per_fine, width=1.0, color="tab:blue", linewidth=0)
    ax2.set(xlabel=f"{fine_name} classes, largest first", title=f"per {fine_name} ({len(per_fine)} classes)")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------- results
def comparison_figure(results: pd.DataFrame, dataset: str, methods: Sequence[str], protocols: Sequence[str]):
    """One panel per metric of ``dataset`` (:func:`hmc.book.hcal_pages.main_metrics`): per method a bar
    for each protocol at the mean over seeds, with a dark dot per seed; the protocols' legend below.
    None when none of ``methods`` has results there."""
    d = results[(results.dataset == dataset) & results.method.isin(methods) & results.protocol.isin(protocols)]
    if d.empty:
        return None
    present = [m for m in methods if m in set(d.method)]
    metrics = main_metrics(d, dataset)
    colours = dict(zip(protocols, sns.color_palette("tab10", len(protocols))))
    width = 0.8 / len(protocols)
    fig, axes = grid(len(metrics), 2.5)
    for ax, metric in zip(axes, metrics):
        dm = d[d.metric == metric]
        for j, p in enumerate(protocols):
            x = np.arange(len(present)) + (j - (len(protocols) - 1) / 2) * width
            dp = dm[dm.protocol == p]
            ax.bar(x, dp.groupby("method").value.mean().reindex(present), width, color=colours[p], alpha=0.6)
            for xi, m in zip(x, present):
                seeds = dp[dp.method == m].value.to_numpy(dtype=float)
                ax.scatter(np.full(len(seeds), xi), seeds, color="0.2", s=10, zorder=3)
        ax.set_xticks(range(len(present)), present, rotation=30, ha="right")
        ax.grid(False, axis="x")
        ax.set_title(_metric_title(metric))
    _titled(fig, f"{dataset}: test metrics under each selection protocol")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[p], alpha=0.6) for p in protocols]
    legend_below(fig, handles, [PROTOCOL_TITLES[p] for p in protocols], ncol=1, title="selection protocol")
    return fig


def ablation_differences(results: pd.DataFrame, dataset: str, protocol: str, ablations: Sequence[str]) -> pd.DataFrame:
    """Per seed and metric, ``value(ablation) - value(hcal)`` of the same seed under ``protocol``:
    columns ``seed, metric, method, difference`` (seeds that lack either method are left out)."""
    sel = results[(results.dataset == dataset) & (results.protocol == protocol)
                  & results.method.isin(["hcal", *ablations])]
    wide = sel.pivot_table(index=["seed", "metric"], columns="method", values="value")
    present = [m for m in ablations if m in wide.columns]
    if "hcal" not in wide.columns or not present:
        return pd.DataFrame(columns=["seed", "metric", "method", "difference"])
    diff = wide[present].sub(wide["hcal"], axis=0).stack().rename("difference").reset_index()
    return diff.dropna(subset=["difference"])[["seed", "metric", "method", "difference"]]


def ablation_figure(results: pd.DataFrame, dataset: str, protocol: str, ablations: Sequence[str]):
    """One panel per metric: each ablation's seed-paired difference to ``hcal`` (a dot per seed, one
    row per ablation), a vertical line at 0. None when no seed has both hcal and an ablation."""
    diff = ablation_differences(results, dataset, protocol, ablations)
    if diff.empty:
        return None
    present = [m for m in ablations if m in set(diff.method)]
    metrics = [m for m in main_metrics(results, dataset) if m in set(diff.metric)]
    fig, axes = grid(len(metrics), 0.32 * len(present) + 1.4, sharey=True)
    for ax, metric in zip(axes, metrics):
        dm = diff[diff.metric == metric]
        ax.scatter(dm.difference, dm.method.map({m: i for i, m in enumerate(present)}), color="tab:blue", s=16,
                   alpha=0.8)
        ax.axvline(0, color="0.3", lw=1)
        ax.set_yticks(range(len(present)), present)
        ax.set_ylim(len(present) - 0.5, -0.5)
        ax.set(title=_metric_title(metric), xlabel="ablation - hcal")
    _titled(fig, f"{dataset}: ablations against hcal, one dot per seed ({protocol})")
    return fig


def level_curves(history: pd.DataFrame, dataset: str, methods: Sequence[str], level_names: Sequence[str],
                 prefix: str, ylabel: str, title: str):
    """One panel per method with test history on ``dataset``: the mean over seeds of
    ``<prefix><k>`` (``weight_`` or ``acc_``) of each level k by evaluated epoch, one line per level
    (finest first); the levels' legend below. None when no method has history there."""
    d = history[(history.dataset == dataset) & (history.split == "test") & history.method.isin(methods)]
    if d.empty:
        return None
    present = [m for m in methods if m in set(d.method)]
    columns = [f"{prefix}{k}" for k in range(len(level_names))]
    mean = d.groupby(["method", "epoch"])[columns].mean()
    fig, axes = grid(len(present), 2.3)
    colours = sns.color_palette("tab10", len(columns))
    for ax, method in zip(axes, present):
        curve = mean.loc[method]
        for k, col in enumerate(columns):
            ax.plot(curve.index, curve[col], marker="o", ms=4, color=colours[k])
        ax.set(title=method, xlabel="epoch", ylabel=ylabel)
        if len(curve.index) <= 8:
            ax.set_xticks(curve.index)  # the evaluated epochs
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _titled(fig, f"{dataset}: {title}")
    handles = [Line2D([], [], color=c, marker="o") for c in colours]
    legend_below(fig, handles, list(level_names), ncol=len(level_names), title="level")
    return fig


def coarsest_ancestor(level_parents: Sequence[np.ndarray], n_fine: int) -> np.ndarray:
    """The coarsest-level class of each of the ``n_fine`` finest classes (``level_parents`` finest first)."""
    to_coarsest = np.arange(n_fine)
    for parents in level_parents:
        to_coarsest = np.asarray(parents)[to_coarsest]
    return to_coarsest


def tsne_figure(name: str, data, stored: Mapping, n_points: int, seed: int = 0):
    """A t-SNE (cosine distance, PCA start, ``random_state`` 0) of up to ``n_points`` stored HCAL test
    embeddings (:func:`hmc.image_train.load_embeddings`, a fixed random subset) embedded jointly with
    the finest and coarsest prototypes; colour = the coarsest class of the image or of the prototype's
    ancestor. ``seed`` is the run's seed, for the title."""
    from sklearn.manifold import TSNE

    features, labels = stored["features"], stored["labels"]
    fine, coarsest = stored["prototypes"][0], stored["prototypes"][-1]
    keep = np.random.default_rng(0).permutation(len(features))[:n_points]
    features, labels = features[keep], labels[keep]
    points = np.concatenate([features, fine, coarsest])
    xy = TSNE(n_components=2, metric="cosine", init="pca", perplexity=min(30.0, (len(points) - 1) / 3),
              random_state=0).fit_transform(points)
    n, f = len(features), len(fine)
    colours = np.array(sns.color_palette("tab10" if len(coarsest) <= 10 else "husl", len(coarsest)))
    fig, ax = plt.subplots(figsize=(WIDTH, 5.5))
    ax.scatter(*xy[:n].T, c=colours[labels[:, -1]], s=10, alpha=0.6)
    ax.scatter(*xy[n:n + f].T, c=colours[coarsest_ancestor(data.level_parents, f)], marker="^",
               s=max(8.0, min(60.0, 6000 / f)), edgecolors="black", linewidths=0.6 if f <= 100 else 0.2)
    ax.scatter(*xy[n + f:].T, c=colours, marker="*", s=min(300.0, 6000 / len(coarsest)), edgecolors="black",
               linewidths=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{name}: HCAL seed {seed}, {n} test embeddings and the prototypes\n"
                 f"(colour: {data.level_names[-1]} class)")
    fig.tight_layout()
    handles = [Line2D([], [], color="0.5", marker=m, ls="", ms=s, markeredgecolor="black")
               for m, s in (("o", 5), ("^", 8), ("*", 14))]
    legend_below(fig, handles, ["test images", f"{data.level_names[0]} prototypes",
                                f"{data.level_names[-1]} prototypes"])
    return fig


def robustness_figure(results: pd.DataFrame, dataset: str, methods: Sequence[str], level_names: Sequence[str]):
    """One panel per level (finest first) and one for the full path: mean test accuracy over seeds against
    the noise strength sigma, one line per method with a band of +- one standard deviation over seeds
    (none with one seed). None when nothing was measured."""
    long = robustness_long(results, dataset, methods)
    if long.empty:
        return None
    panels = [f"acc_{name}" for name in level_names] + ["full_path"]
    fig, axes = grid(len(panels), 2.6)
    colours = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    handles = {}
    for ax, metric in zip(axes, panels):
        stats = long[long.metric == metric].groupby(["method", "sigma"]).value.agg(["mean", "std"])
        for m in methods:
            if m not in stats.index.get_level_values(0):
                continue
            s = stats.loc[m]
            (line,) = ax.plot(s.index, s["mean"], marker="o", color=colours[m], label=m)
            std = np.nan_to_num(s["std"].to_numpy())
            ax.fill_between(s.index, s["mean"] - std, s["mean"] + std, color=colours[m], alpha=0.2, lw=0)
            handles[m] = line
        ax.set_title(metric.replace("acc_", "accuracy: ").replace("full_path", "full-path accuracy"))
        ax.set_xlabel("input noise sigma")
        ax.set_ylabel("test accuracy")
    _titled(fig, f"{dataset}: test accuracy under Gaussian input noise (last epoch)")
    legend_below(fig, list(handles.values()), list(handles), ncol=min(4, len(handles)), title="method")
    return fig
