"""Synthetic tabular hierarchies: a random tree or DAG, labels that respect it, features with signal.

The generator runs offline in milliseconds, so the classroom chapter and CI need no data files.

Generative process (all draws from one ``numpy.random.Generator`` seeded by ``seed``):

1. **Hierarchy.** A single root ``"root"``; every node above the last level gets between 1 and
   ``2 * branching - 1`` children (uniform, mean ``branching``), down to ``depth`` levels below the
   root. Node names are tree paths (``"2/1/3"``). With ``dag_fraction > 0`` that fraction of the
   nodes at depth >= 2 receives a second parent drawn from the level above (a DAG).
2. **Labels.** Each sample follows ``1 + Poisson(extra_paths)`` random walks from the root: at each
   node below the root the walk stops with probability ``stop_prob`` (always at a leaf), else it moves to a
   child drawn with that node's child popularities (Dirichlet(1) per node, so siblings are
   imbalanced too). The walks' end nodes and all their ancestors are the sample's labels, so the
   labels satisfy the hierarchy constraint, and a node at depth d is reached with probability about
   ``((1 - stop_prob) / branching) ** d``: frequencies decay geometrically with depth.
3. **Features.** Every node c has a prototype ``mu_c ~ N(0, signal^2 I_F)``; a sample's features are
   ``x = sum_{c in labels, c != root} mu_c + noise * N(0, I_F)``: every node carries signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmc.hierarchy import Hierarchy


@dataclass(frozen=True)
class TabularHierarchyData:
    """A synthetic tabular HMC dataset.

    x : float32 (N, F) features; y : uint8 (N, C) hierarchy-consistent labels (column order =
    ``hierarchy.nodes``); prototypes : float32 (C, F), the per-node feature means.
    """

    hierarchy: Hierarchy
    x: np.ndarray
    y: np.ndarray
    prototypes: np.ndarray


def random_hierarchy(depth: int = 4, branching: int = 3, dag_fraction: float = 0.0, seed: int = 0) -> Hierarchy:
    """A random tree (or DAG) with a single root ``"root"`` and ``depth`` levels below it."""
    if depth < 1 or branching < 1:
        raise ValueError(f"depth and branching must be >= 1, got depth={depth}, branching={branching}")
    if not 0.0 <= dag_fraction <= 1.0:
        raise ValueError(f"dag_fraction must be in [0, 1], got {dag_fraction}")
    rng = np.random.default_rng(seed)
    levels = [["root"]]
    edges = []
    for _ in range(depth):
        level = []
        for parent in levels[-1]:
            for k in range(rng.integers(1, 2 * branching)):
                child = f"{k + 1}" if parent == "root" else f"{parent}/{k + 1}"
                level.append(child)
                edges.append((parent, child))
        levels.append(level)
    for d in range(2, depth + 1):
        upper = levels[d - 1]
        for child in levels[d]:
            if len(upper) > 1 and rng.random() < dag_fraction:
                first = child.rpartition("/")[0]
                second = upper[rng.integers(len(upper))]
                if second != first:
                    edges.append((second, child))
    return Hierarchy([n for level in levels for n in level], edges)


def make_tabular(
    n_samples: int = 1000,
    depth: int = 4,
    branching: int = 3,
    dag_fraction: float = 0.0,
    n_features: int = 20,
    stop_prob: float = 0.25,
    extra_paths: float = 0.5,
    signal: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
) -> TabularHierarchyData:
    """Generate a hierarchy, hierarchy-consistent labels and informative features (module docstring)."""
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"n_samples and n_features must be >= 1, got {n_samples}, {n_features}")
    if not 0.0 <= stop_prob < 1.0:
        raise ValueError(f"stop_prob must be in [0, 1), got {stop_prob}")
    hierarchy = random_hierarchy(depth, branching, dag_fraction, seed)
    rng = np.random.default_rng([seed, 1])
    popularity = [rng.dirichlet(np.ones(len(kids))) if len(kids) else None for kids in hierarchy.children]
    root = int(hierarchy.roots[0])
    ends = np.zeros((n_samples, len(hierarchy)), dtype=np.uint8)
    for i in range(n_samples):
        for _ in range(1 + rng.poisson(extra_paths)):
            node = root
            while len(hierarchy.children[node]) and (node == root or rng.random() >= stop_prob):
                node = int(rng.choice(hierarchy.children[node], p=popularity[node]))
            ends[i, node] = 1
    y = hierarchy.propagate(ends)
    prototypes = rng.normal(0.0, signal, size=(len(hierarchy), n_features))
    prototypes[root] = 0.0
    x = y.astype(np.float64) @ prototypes + noise * rng.normal(size=(n_samples, n_features))
    return TabularHierarchyData(hierarchy, x.astype(np.float32), y, prototypes.astype(np.float32))
