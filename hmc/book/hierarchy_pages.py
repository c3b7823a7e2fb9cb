"""Figures and tables of chapter 00 (what HMC is), on a synthetic hierarchy: one sample's labels, the
label matrix, node frequency against depth, and the hierarchy violations of independent per-node
classifiers.

Figures are :data:`hmc.book.rare_plots.WIDTH` wide, at most two panels per row; each function returns
the Figure (the notebook shows it) or a DataFrame.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hmc.book.rare_plots import WIDTH, grid
from hmc.hierarchy import Hierarchy
from hmc.plots import draw_hierarchy


def positive_nodes(hierarchy: Hierarchy, row) -> list[str]:
    """The names of the nodes set to 1 in one 0/1 row of a label (or prediction) matrix."""
    return [n for n, v in zip(hierarchy.nodes, np.asarray(row), strict=True) if v]


def sample_figure(hierarchy: Hierarchy, y: np.ndarray):
    """The hierarchy with the labels of its sample with the most labels drawn in blue.
    Returns ``(fig, sample)``, ``sample`` the row drawn (the first of the largest rows)."""
    sample = int(np.argmax(np.asarray(y).sum(axis=1)))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    draw_hierarchy(hierarchy, ax, highlight=y[sample])
    ax.set_title(f"A small synthetic hierarchy; blue = the labels of sample {sample}")
    return fig, sample


def label_matrix_figure(hierarchy: Hierarchy, y: np.ndarray, n_samples: int = 40, n_nodes: int = 120):
    """Heatmap of the first ``n_samples`` rows of ``y`` over its first ``n_nodes`` columns in order of
    depth (a stable sort: parents before children within the topological order)."""
    order = np.argsort(hierarchy.depth, kind="stable")[:n_nodes]
    fig, ax = plt.subplots(figsize=(WIDTH, 3))
    sns.heatmap(y[:n_samples][:, order], cmap="Blues", cbar=False, ax=ax, xticklabels=False, yticklabels=False)
    ax.set_xlabel(f"nodes, by depth (first {n_nodes})")
    ax.set_ylabel(f"{n_samples} samples")
    ax.set_title("Label matrix y: 1 = the sample has that node")
    return fig


def node_frequencies(hierarchy: Hierarchy, y: np.ndarray) -> pd.DataFrame:
    """Per node below the roots (depth > 0): its name, depth and number of positive samples in ``y``."""
    freq = pd.DataFrame({"node": hierarchy.nodes, "depth": hierarchy.depth, "positives": np.asarray(y).sum(axis=0)})
    return freq[freq.depth > 0]


def rare_shares(freq: pd.DataFrame, rare_below: int = 5) -> pd.DataFrame:
    """Per depth, the share of nodes of :func:`node_frequencies` with fewer than ``rare_below``
    positives (columns ``depth``, ``rare``)."""
    return freq.assign(rare=freq.positives < rare_below).groupby("depth")["rare"].mean().reset_index()


def depth_summary(freq: pd.DataFrame) -> pd.DataFrame:
    """Per depth: the number of nodes and the median, mean, min and max of their positives."""
    return freq.groupby("depth")["positives"].agg(["count", "median", "mean", "min", "max"]).rename(
        columns={"count": "nodes"})


def frequency_figure(freq: pd.DataFrame, rare_below: int = 5):
    """Two panels: positives per node by depth (symlog scale), and the share of nodes per depth with
    fewer than ``rare_below`` positives."""
    fig, (left, right) = grid(2, 3.4)
    sns.stripplot(data=freq, x="depth", y="positives", ax=left, size=3, alpha=0.6, jitter=0.25)
    left.set_yscale("symlog", linthresh=1)
    left.set_ylim(bottom=0)
    left.set_title("Positive samples per node (log scale)")
    sns.barplot(data=rare_shares(freq, rare_below), x="depth", y="rare", ax=right, color="tab:red")
    right.set_ylim(0, 1)
    right.set_ylabel("share of nodes")
    right.set_title(f"Nodes with fewer than {rare_below}\npositive samples")
    fig.tight_layout()
    return fig


def per_node_predictions(hierarchy: Hierarchy, x_train, y_train, x_test, min_positives: int = 5):
    """Independent per-node predictions: one logistic regression per node with at least
    ``min_positives`` training positives and at least one negative, thresholded at 0.5; the roots are
    always 1, every other node 0. Returns ``(pred, trainable)``: the 0/1 matrix of shape
    (len(x_test), C), ``y_train``'s dtype, and the indices of the nodes that got a classifier."""
    from sklearn.linear_model import LogisticRegression

    positives = y_train.sum(0)
    trainable = np.flatnonzero((positives >= min_positives) & (positives < len(y_train)))
    pred = np.zeros((len(x_test), y_train.shape[1]), dtype=y_train.dtype)
    pred[:, hierarchy.roots] = 1
    for node in trainable:
        pred[:, node] = LogisticRegression(max_iter=500).fit(x_train, y_train[:, node]).predict(x_test)
    return pred, trainable


def violating_nodes(hierarchy: Hierarchy, row) -> np.ndarray:
    """Indices of the nodes set in ``row`` with a parent that is not (one entry per broken edge)."""
    row = np.asarray(row)
    parent, child = hierarchy.edges
    return child[(row[child] == 1) & (row[parent] == 0)]


def branch_of(hierarchy: Hierarchy, node: int) -> tuple[Hierarchy, int]:
    """The sub-hierarchy under the first depth-1 node among ``node``'s ancestors and itself (in
    topological order), that node included: ``(branch, top)``, ``top`` its index in ``hierarchy``."""
    path = hierarchy.indices([*hierarchy.ancestors(node), hierarchy.nodes[node]])
    top = next(int(a) for a in path if hierarchy.depth[a] == 1)
    keep = set(hierarchy.indices([hierarchy.nodes[top], *hierarchy.descendants(top)]).tolist())
    parent, child = hierarchy.edges
    branch = Hierarchy([hierarchy.nodes[i] for i in sorted(keep)],
                       [(hierarchy.nodes[p], hierarchy.nodes[c]) for p, c in zip(parent, child, strict=True)
                        if p in keep and c in keep])
    return branch, top


def violation_figure(hierarchy: Hierarchy, pred: np.ndarray, example: int, max_labels: int = 40):
    """The branch (:func:`branch_of`) where test sample ``example``'s first broken edge is, with the
    predicted nodes in blue and those predicted without a parent in red (node names drawn when the
    branch has at most ``max_labels`` nodes)."""
    bad = violating_nodes(hierarchy, pred[example])
    branch, top = branch_of(hierarchy, int(bad[0]))
    in_branch = hierarchy.indices(branch.nodes)
    marked = np.zeros(len(hierarchy), dtype=np.uint8)
    marked[bad] = 1
    fig, ax = plt.subplots(figsize=(WIDTH, 3.5))
    draw_hierarchy(branch, ax, highlight=pred[example, in_branch], violated=marked[in_branch],
                   labels=len(branch) <= max_labels)
    ax.set_title(f"Test sample {example}, branch {hierarchy.nodes[top]!r}:\n"
                 "blue = predicted, red = predicted without its parent")
    return fig


def violation_rates(hierarchy: Hierarchy, pred: np.ndarray) -> pd.DataFrame:
    """The share of samples with at least one violation, as predicted and after setting every
    predicted node's ancestors (:meth:`~hmc.hierarchy.Hierarchy.propagate`)."""
    return pd.DataFrame({
        "predictions": ["independent per node", "after setting ancestors"],
        "samples with a violation": [np.mean(hierarchy.violations(pred) > 0),
                                     np.mean(hierarchy.violations(hierarchy.propagate(pred)) > 0)],
    })


def violation_rate_figure(rates: pd.DataFrame):
    """Horizontal bars of :func:`violation_rates` on a 0 to 1 axis."""
    fig, ax = plt.subplots(figsize=(WIDTH, 2.6))
    sns.barplot(data=rates, y="predictions", x="samples with a violation", ax=ax, color="tab:red")
    ax.set_xlim(0, 1)
    ax.set_title("Share of test samples with a hierarchy violation")
    return fig
