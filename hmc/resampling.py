"""LPROS: label-path random oversampling of the training rows (rare-node spec, section "LPROS").

Reference: Xu et al., "Improving Detection of Rare Nodes in Hierarchical Multi-Label Learning"
:cite:`xu2026rarenodes`, whose LPROS adapts the label-powerset random oversampling (LP-ROS) of
Charte et al. (2015) to label paths. Implemented from the project spec (``specs/rare_nodes.md``);
the authors' code is GPL-3.0 and was neither read nor copied.

Definitions (N training rows, S the budget)
-------------------------------------------
*Label paths of a row.* Our label matrices are already propagated to ancestors, so a row's label
paths "as written in the data" are its **most specific labels**: the labelled nodes none of whose
children is labelled (in a tree, the ends of the row's root-to-node paths; in a DAG the same rule).
A row labelled ``01/02/03`` and ``04`` (plus their ancestors) has the two paths ``01/02/03`` and
``04``. A row whose only label is a root has the root as its path; a row with no label has none.

*Counts.* ``count(c)`` = the number of path occurrences at c or below it: every path adds 1 to its
own node and to each of its ancestors (each ancestor once, also when a DAG reaches it along several
lines). A row with two paths under the same node adds 2 to it. Nodes with count 0 are dropped. The
*paths* are the remaining non-root nodes (roots = nodes without parents, e.g. ``root`` of FUN;
the three GO ontology nodes under GO's ``root`` are not roots and take part). P = their number.

.. math::

    \\mathrm{IRLbP}(c) = \\frac{\\mathrm{maxCount}}{\\mathrm{count}(c)},\\qquad
    \\mathrm{HMeanIR} = \\frac{1}{P} \\sum_{c} \\mathrm{IRLbP}(c),\\qquad
    c \\text{ minority} \\iff \\mathrm{IRLbP}(c) > \\mathrm{HMeanIR},

with maxCount the largest count among the paths. Since maxCount cancels, c is a minority path iff
its count is below the harmonic mean of the path counts, ``P / sum_c 1 / count(c)``; the comparison
is done in exact rational arithmetic (no float ties). Then

* ``samplesToCreate = int(S * N)`` (Python's float product truncated, as written: ``int(0.29 * 100)``
  is 28),
* ``meanSize = ceil(N / P)``,
* ``maxIncrease = ceil(samplesToCreate / #minority)`` (0 when there is no minority path).

Step 4, cloning: the paths are visited **deepest first**: by decreasing depth (longest distance from
a root), ties in hierarchy order (``hierarchy.nodes``). Taking "the deepest remaining leaf" and
then removing it gives exactly this order: every child is deeper than each of its parents, so when
a node is reached all its descendants have been visited and removed, i.e. it is a leaf of what is
left, in trees and DAGs alike. For each visited node c that is a minority path *under the current
counts* (threshold: the original HMeanIR, and maxCount is also kept at its original value):

* ``k = min(maxIncrease, meanSize - count(c))`` clones; nothing when ``k <= 0``. With
  ``cap_budget=True`` (default) also ``k <= samplesToCreate - clones made so far``;
* each clone copies the features of a row drawn uniformly, with replacement, among the **original**
  rows that carry c (``y[:, c] == 1``, i.e. c or a descendant of it; earlier clones are not drawn);
* its label is the single path of c: c and all its ancestors (in a DAG every ancestor, so that the
  label is hierarchy-consistent), nothing else;
* count(c) and the count of every ancestor of c grow by k; c is removed (never visited again).

Since counts only grow and the threshold is fixed, a node can leave the minority set (e.g. a parent
whose children were just cloned) but never join it. The number of clones of a node does not depend
on the seed; the seed only picks the source rows (one ``numpy.random.Generator``, draws in visiting
order), so the output is a deterministic function of ``(x, y, hierarchy, budget, seed, cap_budget)``.

Budget. At most #minority nodes receive clones, each at most maxIncrease, so without the cap the
total is at most ``#minority * ceil(samplesToCreate / #minority) <= samplesToCreate + #minority - 1``:
the spec's ceiling **can overshoot** the budget by up to ``#minority - 1`` clones
(``cap_budget=False`` reproduces the formulas literally). With ``cap_budget=True`` the total never
exceeds ``int(S * N)``; the deepest minority nodes are served first when the cap binds.

Edge cases: N = 0, no path, or no minority path: no clones (HMeanIR is NaN when there is no path).
``budget = 0``: no clones. ``meanSize - count <= 0``: that node gets no clone (it stays visited and
removed). When there are at least as many paths as rows, meanSize = 1 and every path has count >= 1,
so **no clones at all**: this is the case of the GO benchmarks (cellcycle_GO: 3694 paths for 2473
train+valid rows), while FUN/others get about the full budget (cellcycle_FUN: 247 clones of 247).

Node-weight frequencies (the imbalance weights of the rare-node loss) must still come from the
**original** rows: callers compute them on :attr:`LPROSResult.y_original`, not on the augmented
``y``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from hmc.hierarchy import Hierarchy

__all__ = ["LPROSResult", "lpros", "lpros_benchmark", "label_path_counts"]


@dataclass(frozen=True)
class LPROSResult:
    """Output of :func:`lpros`: the augmented data and the quantities of the spec's steps 1-4.

    With N original rows, M clones and C nodes:

    Attributes
    ----------
    x : np.ndarray, shape (N + M, F), the input's dtype
        The original rows first (unchanged), then the clones in the order they were made.
    y : np.ndarray, shape (N + M, C), the input's dtype
        Labels; each clone's row is its path's node and all its ancestors.
    source : np.ndarray, int64, shape (M,)
        For each clone, the index of the original row whose features it copies.
    path : np.ndarray, int64, shape (M,)
        For each clone, the node index of the path it carries.
    n_original : int
        N.
    counts, final_counts : np.ndarray, int64, shape (C,)
        Path-occurrence counts propagated to ancestors (step 1), before and after the cloning.
    path_nodes : np.ndarray, int64
        The non-root nodes with ``counts > 0`` (the spec's label paths), in hierarchy order.
    irlbp : np.ndarray, float64, shape (C,)
        The initial ``IRLbP`` of each path node; NaN elsewhere.
    hmean_ir : float
        HMeanIR (NaN when there is no path).
    minority : np.ndarray, int64
        The initial minority paths, in hierarchy order.
    samples_to_create, mean_size, max_increase : int
        ``int(S * N)``, ``ceil(N / #paths)`` (0 without paths), ``ceil(samples_to_create / #minority)``
        (0 without minority paths).
    clones_per_node : np.ndarray, int64, shape (C,)
        Number of clones made for each node.
    visit_order : np.ndarray, int64
        The path nodes in the order step 4 visited them (deepest first, ties in hierarchy order).
    """

    x: np.ndarray
    y: np.ndarray
    source: np.ndarray
    path: np.ndarray
    n_original: int
    counts: np.ndarray
    final_counts: np.ndarray
    path_nodes: np.ndarray
    irlbp: np.ndarray
    hmean_ir: float
    minority: np.ndarray
    samples_to_create: int
    mean_size: int
    max_increase: int
    clones_per_node: np.ndarray
    visit_order: np.ndarray

    @property
    def n_clones(self) -> int:
        """M, the number of appended rows."""
        return int(len(self.source))

    @property
    def x_original(self) -> np.ndarray:
        """The original features, shape (N, F) (a view of ``x``)."""
        return self.x[: self.n_original]

    @property
    def y_original(self) -> np.ndarray:
        """The original labels, shape (N, C) (a view of ``y``): compute node weights on these."""
        return self.y[: self.n_original]


def label_path_counts(y: np.ndarray, hierarchy: Hierarchy) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: per node, the number of rows with it as a label path, and those counts propagated.

    y : 0/1 array of shape (N, C), hierarchy-consistent. A row's label paths are its most specific
    labels (labelled nodes with no labelled child). Returns ``(path_count, counts)``, both int64 of
    shape (C,): ``path_count[c]`` rows have c as a path; ``counts[a] = sum_{d in D(a)} path_count[d]``
    (D(a): a and its descendants, each once).
    """
    yb = sp.csr_matrix(np.asarray(y).astype(bool).astype(np.int32))
    n_nodes = len(hierarchy)
    parent, child = hierarchy.edges
    child_to_parent = sp.csr_matrix(
        (np.ones(len(parent), dtype=np.int32), (child, parent)), shape=(n_nodes, n_nodes)
    )
    labelled_children = (yb @ child_to_parent).toarray()  # (N, C): labelled children of each node
    specific = yb.toarray().astype(bool) & (labelled_children == 0)
    path_count = specific.sum(axis=0).astype(np.int64)
    counts = hierarchy.ancestor_matrix.astype(np.int64) @ path_count
    return path_count, np.asarray(counts, dtype=np.int64)


def lpros(
    x: np.ndarray,
    y: np.ndarray,
    hierarchy: Hierarchy,
    budget: float = 0.1,
    seed: int = 0,
    cap_budget: bool = True,
) -> LPROSResult:
    """Label-path random oversampling (module docstring): originals first, then the clones.

    Parameters
    ----------
    x : array of shape (N, F)
        Training features (any dtype; kept).
    y : array of shape (N, C)
        0/1 training labels with every ancestor set (hierarchy-consistent), columns in
        ``hierarchy.nodes`` order (any integer or bool dtype; kept).
    hierarchy : Hierarchy
    budget : float in [0, 1]
        S: at most ``int(S * N)`` clones with ``cap_budget`` (the spec's default 0.1).
    seed : int
        Seeds the ``numpy.random.Generator`` that draws the source rows; the clone counts do not
        depend on it.
    cap_budget : bool
        True: never more than ``int(S * N)`` clones. False: the spec's formulas literally, which can
        exceed the budget by up to ``#minority - 1`` (ceiling of maxIncrease).

    Returns
    -------
    LPROSResult
        Augmented ``x``, ``y``, each clone's source row and path, and the step quantities.
        Compute imbalance weights on ``result.y_original``.

    Raises
    ------
    ValueError
        Budget outside [0, 1] (or NaN); x not 2-D; y not of shape (N, C) for the x's N and the
        hierarchy's C; labels other than 0/1; labels that violate the hierarchy (the message names the
        first offending row).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    budget = _check_inputs(x, y, hierarchy, budget)
    n_rows = x.shape[0]
    n_nodes = len(hierarchy)

    # step 1: counts of the label paths, propagated to ancestors; paths = non-root nodes with count > 0
    _, counts = label_path_counts(y, hierarchy)
    is_root = np.array([len(p) == 0 for p in hierarchy.parents], dtype=bool)
    path_nodes = np.flatnonzero((counts > 0) & ~is_root).astype(np.int64)
    n_paths = len(path_nodes)

    # step 2: IRLbP, HMeanIR (exact), minority paths
    irlbp = np.full(n_nodes, np.nan)
    if n_paths:
        max_count = int(counts[path_nodes].max())
        irlbp[path_nodes] = max_count / counts[path_nodes]
        values, multiplicity = np.unique(counts[path_nodes], return_counts=True)
        inverse_sum = sum((Fraction(int(m), int(v)) for v, m in zip(values, multiplicity, strict=True)), Fraction(0))
        hmean_exact = max_count * inverse_sum / n_paths
        hmean_ir = float(hmean_exact)
    else:
        max_count, hmean_exact, hmean_ir = 0, None, float("nan")

    def is_minority(count: int) -> bool:
        return hmean_exact is not None and Fraction(max_count, int(count)) > hmean_exact

    minority = np.array([c for c in path_nodes if is_minority(counts[c])], dtype=np.int64)

    # step 3
    samples_to_create = int(budget * n_rows)
    mean_size = -(-n_rows // n_paths) if n_paths else 0
    max_increase = -(-samples_to_create // len(minority)) if len(minority) else 0

    # step 4: deepest first, ties in hierarchy order
    visit_order = path_nodes[np.lexsort((path_nodes, -hierarchy.depth[path_nodes]))]
    rng = np.random.default_rng(seed)
    ancestor_cols = hierarchy.ancestor_matrix.tocsc()  # column c: c and its ancestors
    current = counts.copy()
    clones_per_node = np.zeros(n_nodes, dtype=np.int64)
    sources: list[np.ndarray] = []
    paths: list[np.ndarray] = []
    remaining = samples_to_create
    for node in visit_order:
        if not is_minority(current[node]):
            continue
        k = min(max_increase, mean_size - int(current[node]))
        if cap_budget:
            k = min(k, remaining)
        if k <= 0:
            continue
        carriers = np.flatnonzero(y[:, node])
        sources.append(carriers[rng.integers(0, len(carriers), size=k)])
        paths.append(np.full(k, node, dtype=np.int64))
        lineage = ancestor_cols[:, node].nonzero()[0]
        current[lineage] += k
        clones_per_node[node] = k
        remaining -= k

    # step 5: append the clones, labels propagated to ancestors
    source = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
    path = np.concatenate(paths) if paths else np.empty(0, dtype=np.int64)
    clone_y = ancestor_cols[:, path].T.toarray().astype(y.dtype) if len(path) else np.empty((0, n_nodes), y.dtype)
    return LPROSResult(
        x=np.concatenate([x, x[source]]),
        y=np.concatenate([y, clone_y]),
        source=source.astype(np.int64),
        path=path,
        n_original=n_rows,
        counts=counts,
        final_counts=current,
        path_nodes=path_nodes,
        irlbp=irlbp,
        hmean_ir=hmean_ir,
        minority=minority,
        samples_to_create=samples_to_create,
        mean_size=mean_size,
        max_increase=max_increase,
        clones_per_node=clones_per_node,
        visit_order=visit_order.astype(np.int64),
    )


def lpros_benchmark(benchmark, budget: float = 0.1, seed: int = 0, cap_budget: bool = True):
    """A copy of a benchmark whose fitting rows are augmented by :func:`lpros`, and the LPROS result.

    The final training (:func:`hmc.train.train_chmcnn`) fits on ``concat(x_train, x_valid)``
    (``y`` likewise), so LPROS runs on those concatenated rows (N = train + valid rows) and the copy
    holds them in ``x_train``/``y_train`` (originals first, train before valid, then the clones),
    with ``x_valid``/``y_valid`` empty (0 rows, same widths and dtypes): the trainer then fits on
    exactly the augmented rows. Do not use the copy for validation (its valid split is merged).
    Test split, hierarchy and every other attribute are shared with the original, which is not
    modified.

    benchmark : a :class:`~hmc.data.benchmarks.Benchmark` (or another dataclass, copied with
        :func:`dataclasses.replace`), or any object with ``x_train, y_train, x_valid, y_valid`` and
        ``hierarchy`` (shallow-copied, then the four arrays are set).

    Returns ``(augmented_benchmark, result)``; compute node weights on ``result.y_original``
    (= the concatenated original train+valid labels, what the trainer would fit on without LPROS).
    """
    x_fit = np.concatenate([np.asarray(benchmark.x_train), np.asarray(benchmark.x_valid)])
    y_fit = np.concatenate([np.asarray(benchmark.y_train), np.asarray(benchmark.y_valid)])
    result = lpros(x_fit, y_fit, benchmark.hierarchy, budget=budget, seed=seed, cap_budget=cap_budget)
    arrays = {
        "x_train": result.x,
        "y_train": result.y,
        "x_valid": result.x[:0].copy(),
        "y_valid": result.y[:0].copy(),
    }
    if dataclasses.is_dataclass(benchmark) and not isinstance(benchmark, type):
        return dataclasses.replace(benchmark, **arrays), result
    augmented = copy.copy(benchmark)
    for name, value in arrays.items():
        setattr(augmented, name, value)
    return augmented, result


def _check_inputs(x: np.ndarray, y: np.ndarray, hierarchy: Hierarchy, budget: float) -> float:
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise ValueError(f"budget must be a number in [0, 1], got {budget!r}") from None
    if not 0.0 <= budget <= 1.0:  # also rejects NaN
        raise ValueError(f"budget must be in [0, 1], got {budget}")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, F), got {x.shape}")
    if y.ndim != 2 or y.shape != (x.shape[0], len(hierarchy)):
        raise ValueError(f"y must have shape (N, C) = ({x.shape[0]}, {len(hierarchy)}) to match x and the hierarchy, "
                         f"got {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))][0]
        raise ValueError(f"labels must be 0/1, found {bad!r}")
    if len(y):
        ok = hierarchy.is_consistent(y)
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            parent, child = hierarchy.edges
            bad = np.flatnonzero(y[row, child].astype(bool) & ~y[row, parent].astype(bool))[0]
            raise ValueError(
                f"labels are not hierarchy-consistent ({int((~ok).sum())} rows): row {row} has "
                f"{hierarchy.nodes[child[bad]]!r} without its parent {hierarchy.nodes[parent[bad]]!r}; "
                "propagate labels to ancestors first (Hierarchy.propagate)"
            )
    return budget
