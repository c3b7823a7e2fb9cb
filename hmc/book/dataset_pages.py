"""Tables and figures of chapter 01 (the datasets): the gene-function benchmarks' sizes and node
frequencies by depth, FunCat against GO, and the image hierarchies.

Figures are :data:`hmc.book.rare_plots.WIDTH` wide, at most two panels per row, legends outside the
data; each function returns the Figure (the notebook shows it) or a DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hmc.book.pages import levels_text
from hmc.book.rare_plots import WIDTH, grid, legend_below
from hmc.display_paths import display_paths_in
from hmc.errors import DatasetMissingError

FUN_GO = ("FUN", "GO")
"""The two labellings of the yeast feature sets."""


def describe(name: str, family: str, hierarchy, splits: Mapping[str, np.ndarray], eval_nodes, n_features: int) -> dict:
    """One summary row: samples per split (``splits`` maps a split to its label matrix), features,
    evaluated nodes, whether the hierarchy is a DAG, the deepest evaluated node's depth and the mean
    number of evaluated labels per training sample (one decimal)."""
    y_train = splits["train"]
    return {
        "dataset": name, "family": family,
        **{f"{split} samples": len(y) for split, y in splits.items()},
        "features": n_features, "evaluated nodes": len(eval_nodes), "DAG": not hierarchy.is_tree,
        "max depth": int(hierarchy.depth[eval_nodes].max()),
        "labels per sample": round(float(y_train[:, eval_nodes].sum(1).mean()), 1),
    }


def node_rows(name: str, family: str, hierarchy, y_train: np.ndarray, eval_nodes) -> pd.DataFrame:
    """Per evaluated node: the dataset, family, depth and number of positive training samples."""
    return pd.DataFrame({"dataset": name, "family": family, "depth": hierarchy.depth[eval_nodes],
                         "positives": y_train[:, eval_nodes].sum(0)})


def synthetic_stand_in(seed: int = 0):
    """The chapter's stand-in when no benchmark is on disk: :func:`hmc.synthetic.make_tabular` with 3000
    samples (depth 5, branching 3), as ``(splits, eval_nodes, n_features, hierarchy)``: the first 2000
    rows train, the rest test, no validation rows; every node below the root evaluated."""
    from hmc.synthetic import make_tabular

    syn = make_tabular(n_samples=3000, depth=5, branching=3, seed=seed)
    cut = 2000
    splits = {"train": syn.y[:cut], "valid": syn.y[:0], "test": syn.y[cut:]}
    return splits, np.flatnonzero(syn.hierarchy.depth > 0), syn.x.shape[1], syn.hierarchy


def benchmark_tables(loaded: Mapping[str, object], rare_threshold: int = 5,
                     seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, nodes)`` of the loaded benchmarks: one :func:`describe` row per dataset (index
    ``dataset``) with the share of rare nodes as a percentage string, and the :func:`node_rows` of all
    of them with a ``rare`` column (fewer than ``rare_threshold`` training positives). With nothing
    loaded, the :func:`synthetic_stand_in` under the name and family ``"synthetic"``."""
    summary, nodes = [], []
    for name, b in loaded.items():
        splits = {"train": b.y_train, "valid": b.y_valid, "test": b.y_test}
        summary.append(describe(name, b.family, b.hierarchy, splits, b.eval_nodes, b.x_train.shape[1]))
        nodes.append(node_rows(name, b.family, b.hierarchy, b.y_train, b.eval_nodes))
    if not loaded:
        splits, ev, n_features, hierarchy = synthetic_stand_in(seed)
        summary.append(describe("synthetic", "synthetic", hierarchy, splits, ev, n_features))
        nodes.append(node_rows("synthetic", "synthetic", hierarchy, splits["train"], ev))
    summary = pd.DataFrame(summary).set_index("dataset")
    nodes = pd.concat(nodes, ignore_index=True)
    nodes["rare"] = nodes.positives < rare_threshold
    summary["rare nodes"] = nodes.groupby("dataset", sort=False)["rare"].mean().map("{:.0%}".format)
    return summary, nodes


def families(nodes: pd.DataFrame) -> list[str]:
    """The families of ``nodes`` in order of first appearance."""
    return list(dict.fromkeys(nodes.family))


def depth_boxes_figure(nodes: pd.DataFrame):
    """Per family a panel: boxes of the positive training samples per node at each depth, on a symlog
    scale (nodes with no positive sit at 0), all datasets of the family pooled."""
    names = families(nodes)
    fig, axes = grid(len(names), 3.2, sharey=True)
    for ax, family in zip(axes, names, strict=True):
        sns.boxplot(data=nodes[nodes.family == family], x="depth", y="positives", ax=ax, color="tab:blue",
                    fliersize=1.5, linewidth=0.8)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(bottom=0)
        ax.set_title(f"family = {family}")
        ax.set_ylabel("positive training\nsamples per node")
    fig.suptitle("Node frequency against depth (all datasets of each family pooled)")
    fig.tight_layout()
    return fig


def rare_by_depth(nodes: pd.DataFrame) -> pd.DataFrame:
    """Per family and depth, the share of rare nodes (columns ``family``, ``depth``, ``rare``)."""
    return nodes.groupby(["family", "depth"], as_index=False)["rare"].mean()


def rare_depth_figure(nodes: pd.DataFrame, rare_threshold: int = 5):
    """The share of nodes with fewer than ``rare_threshold`` positives per depth, one line per family
    (legend to the right of the panel)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    sns.lineplot(data=rare_by_depth(nodes), x="depth", y="rare", hue="family", hue_order=families(nodes),
                 marker="o", ax=ax)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of nodes with < {rare_threshold} positives")
    ax.set_title("Rare nodes per depth")
    ax.legend(title="family", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig


def fun_go_table(nodes: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per FUN or GO dataset (every dataset when there is none): its feature set (the name before the
    last ``_``), family, evaluated nodes, share of rare nodes and labels per sample (from ``summary``)."""
    is_fun_go = nodes.family.isin(FUN_GO)
    chosen = nodes[is_fun_go] if is_fun_go.any() else nodes
    per_dataset = (chosen.assign(features=chosen.dataset.str.rsplit("_", n=1).str[0])
                   .groupby(["dataset", "features", "family"], as_index=False)
                   .agg(nodes=("rare", "size"), rare=("rare", "mean")))
    per_dataset["labels per sample"] = per_dataset.dataset.map(summary["labels per sample"])
    return per_dataset


def fun_go_figure(per_dataset: pd.DataFrame, rare_threshold: int = 5):
    """Three panels of bars per feature set, one bar per family: evaluated nodes, labels per training
    sample, share of rare nodes; one legend below."""
    panels = {"nodes": "evaluated nodes", "labels per sample": "labels per training sample",
              "rare": f"share of nodes with\n< {rare_threshold} positives"}
    fig, axes = grid(len(panels), 3.4, sharey=True)
    for ax, (column, title) in zip(axes, panels.items(), strict=True):
        sns.barplot(data=per_dataset, y="features", x=column, hue="family", ax=ax)
        ax.set_title(title)
        ax.set_xlabel("")
        ax.set_ylabel("")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout()
    if handles:
        legend_below(fig, handles, labels, title="family")
    return fig


IMAGE_OPTIONS = {"synthetic": {"imbalance": 10.0}}
"""Loader options per image hierarchy beyond the seed: the synthetic one is imbalanced on purpose."""


def load_image_sets(names: Iterable[str], seed: int = 0, report: Callable[[str], None] = print) -> dict:
    """The named image hierarchies that are on disk, ``{name: ImageHierarchy}`` in order; the synthetic
    one drawn with ``seed`` (:data:`IMAGE_OPTIONS`). A missing one is reported (``report``) with the
    message that says how to get it, its paths shown as on the book's pages."""
    from hmc.data import load_image_hierarchy

    sets = {}
    for name in names:
        options = {"seed": seed, **IMAGE_OPTIONS[name]} if name == "synthetic" else {}
        try:
            sets[name] = load_image_hierarchy(name, **options)
        except DatasetMissingError as err:
            report(f"not on disk: {name}\n  {display_paths_in(str(err))}\n")
    return sets


def image_table(image_sets: Mapping[str, object]) -> pd.DataFrame:
    """Per image hierarchy (index ``dataset``): classes per level (finest first), train and test
    images, image size (C x H x W) and the split's description."""
    rows = []
    for name, data in image_sets.items():
        rows.append({"dataset": name, "levels (finest first)": levels_text(data), "train images": len(data.y_train),
                     "test images": len(data.y_test), "image size": "x".join(map(str, data.x_train.shape[1:])),
                     "split": data.split})
    return pd.DataFrame(rows, columns=["dataset", "levels (finest first)", "train images", "test images",
                                       "image size", "split"]).set_index("dataset")


def image_montage(name: str, data, n_rows: int = 8, per_row: int = 8):
    """Training images in a grid: one row per coarsest class (the first ``n_rows``), its first
    ``per_row`` images, the class name above the row."""
    coarse = data.y_train[:, -1].numpy()
    shown = np.unique(coarse)[:n_rows]
    fig, axes = plt.subplots(len(shown), per_row, figsize=(WIDTH, 1.05 * len(shown)), squeeze=False)
    for row, c in zip(axes, shown, strict=True):
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, np.flatnonzero(coarse == c)[:per_row], strict=False):
            img = data.x_train[i].permute(1, 2, 0).numpy()
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
        row[0].set_title(data.class_names[-1][c][:18], loc="left")
    fig.suptitle(f"{name}: training images by {data.level_names[-1]}", y=1.0)
    return fig


def class_counts(data) -> np.ndarray:
    """Training images per finest class (every class, empty ones as 0), largest first."""
    counts = np.bincount(data.y_train[:, 0].numpy(), minlength=len(data.class_names[0]))
    return np.sort(counts)[::-1]


def class_count_figure(name: str, data):
    """:func:`class_counts` as one filled step per finest class (a step patch, not a bar per class:
    thousands of bars with edges would draw as white)."""
    counts = class_counts(data)
    fig, ax = plt.subplots(figsize=(WIDTH, 2.6))
    ax.stairs(counts, np.arange(len(counts) + 1) - 0.5, fill=True, color="tab:blue")
    ax.set_xlim(-0.5, len(counts) - 0.5)
    ax.set_ylim(0, max(1, int(counts.max(initial=0))) * 1.05)
    ax.set_xlabel(f"{data.level_names[0]} classes, largest first")
    ax.set_ylabel("training images")
    ax.set_title(f"{name}: images per {data.level_names[0]} class")
    return fig
