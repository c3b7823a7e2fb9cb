"""Figures shared by the notebooks (matplotlib/seaborn)."""

from __future__ import annotations

import numpy as np

from hmc.hierarchy import Hierarchy


def hierarchy_layout(hierarchy: Hierarchy) -> np.ndarray:
    """Node positions, shape (C, 2): x spreads the leaves evenly, y = -depth.

    Each leaf gets the next x slot in depth-first order (following first parents); an inner node
    sits above the mean x of its children.
    """
    pos = np.zeros((len(hierarchy), 2))
    pos[:, 1] = -hierarchy.depth
    tree_children = [[] for _ in range(len(hierarchy))]
    for c, parents in enumerate(hierarchy.parents):
        if len(parents):
            tree_children[parents[0]].append(c)
    next_slot = 0

    def place(node: int) -> float:
        nonlocal next_slot
        if not tree_children[node]:
            pos[node, 0] = next_slot
            next_slot += 1
        else:
            pos[node, 0] = np.mean([place(k) for k in tree_children[node]])
        return pos[node, 0]

    for root in hierarchy.roots:
        place(root)
    return pos


def draw_hierarchy(hierarchy: Hierarchy, ax, highlight=None, violated=None, labels: bool = True) -> None:
    """Draw the hierarchy as a layered graph on a matplotlib axis.

    highlight : optional 0/1 array (C,), nodes drawn filled (e.g. one sample's labels).
    violated : optional 0/1 array (C,), nodes drawn in red (e.g. positives whose parent is negative).
    """
    pos = hierarchy_layout(hierarchy)
    parent, child = hierarchy.edges
    for p, c in zip(parent, child, strict=True):
        ax.plot(pos[[p, c], 0], pos[[p, c], 1], color="0.7", lw=0.8, zorder=1)
    colors = np.array(["white"] * len(hierarchy), dtype=object)
    if highlight is not None:
        colors[np.asarray(highlight).astype(bool)] = "tab:blue"
    if violated is not None:
        colors[np.asarray(violated).astype(bool)] = "tab:red"
    ax.scatter(pos[:, 0], pos[:, 1], s=120, c=list(colors), edgecolors="0.3", zorder=2)
    if labels:
        for i, name in enumerate(hierarchy.nodes):
            ink = "black" if colors[i] == "white" else "white"
            ax.annotate(name.rpartition("/")[2], pos[i], fontsize=7, ha="center", va="center", color=ink, zorder=3)
    ax.grid(False)
    ax.set_yticks(-np.arange(hierarchy.depth.max() + 1), [f"depth {d}" for d in range(hierarchy.depth.max() + 1)])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
