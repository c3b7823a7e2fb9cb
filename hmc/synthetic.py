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


@dataclass(frozen=True)
class SyntheticSpec:
    """Training settings of a synthetic benchmark (the fields a trainer reads from a benchmark's spec)."""

    epochs: int
    lr: float
    hidden_dim: int


@dataclass(frozen=True)
class SyntheticBenchmark:
    """A synthetic tabular benchmark with the interface of :class:`hmc.data.benchmarks.Benchmark`.

    ``x_*``: float32 (N_split, F), standardised with the train + valid mean and std;
    ``y_*``: uint8 (N_split, C); ``eval_nodes``: every node but the root.
    """

    name: str
    family: str
    hierarchy: Hierarchy
    x_train: np.ndarray
    x_valid: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_valid: np.ndarray
    y_test: np.ndarray
    eval_nodes: np.ndarray
    spec: SyntheticSpec


def make_benchmark(
    n_samples: int = 3000,
    depth: int = 4,
    branching: int = 3,
    dag_fraction: float = 0.0,
    n_features: int = 20,
    split: tuple[float, float, float] = (0.5, 0.2, 0.3),
    epochs: int = 20,
    lr: float = 1e-3,
    hidden_dim: int = 64,
    seed: int = 0,
) -> SyntheticBenchmark:
    """:func:`make_tabular` cut into train / valid / test (fractions ``split``, in row order).

    Lets every training chapter run without data files (CI, a laptop offline). ``epochs``, ``lr``
    and ``hidden_dim`` are the settings a trainer takes from ``.spec`` when not given.
    """
    if len(split) != 3 or min(split) < 0 or not np.isclose(sum(split), 1.0):
        raise ValueError(f"split must be three non-negative fractions summing to 1, got {split}")
    data = make_tabular(n_samples, depth, branching, dag_fraction, n_features, seed=seed)
    n_train = int(round(split[0] * n_samples))
    n_valid = int(round(split[1] * n_samples))
    if n_train < 1 or n_samples - n_train - n_valid < 1:
        raise ValueError(f"split {split} of {n_samples} samples leaves an empty train or test split")
    cuts = [0, n_train, n_train + n_valid, n_samples]
    fit = data.x[: cuts[2]]
    mean, std = fit.mean(0), fit.std(0)
    x = ((data.x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    xs = [x[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    ys = [data.y[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    return SyntheticBenchmark(
        name="synthetic",
        family="synthetic",
        hierarchy=data.hierarchy,
        x_train=xs[0],
        x_valid=xs[1],
        x_test=xs[2],
        y_train=ys[0],
        y_valid=ys[1],
        y_test=ys[2],
        eval_nodes=np.flatnonzero(data.hierarchy.depth > 0).astype(np.int64),
        spec=SyntheticSpec(epochs=epochs, lr=lr, hidden_dim=hidden_dim),
    )
