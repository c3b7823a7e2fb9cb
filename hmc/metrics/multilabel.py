"""Evaluation metrics for hierarchical multi-label classification.

Every metric takes a 0/1 label matrix ``y_true`` and a score (or prediction) matrix of shape
``(N, C)`` (numpy arrays or torch tensors; columns in hierarchy order), plus optional
``eval_nodes``: the indices (or a bool mask of length C) of the evaluated nodes, so that roots can
be left out. Each is tested against scikit-learn or a brute-force reference (``tests/test_metrics.py``).

Metrics
-------
:func:`au_prc`
    AU(PRC) of C-HMCNN's published tables: micro-averaged average precision over the flattened
    ``(samples x evaluated nodes)`` matrix.
:func:`per_node_prf`, :func:`macro_prf`
    Precision, recall and F1 of each evaluated node at a threshold, and their macro averages over all
    evaluated nodes or over the nodes with test positives (the rare-node spec's "Metrics" section).
:func:`frequency_buckets`, :func:`breakdown`, :func:`recall_gain`
    Per-group (training-frequency bucket, depth level) means of the per-node metrics, and the ratio
    of a method's recall to the baseline's per group: the number behind claim 1 of
    Xu et al. 2026 (bib key ``xu2026rarenodes``): "recall of rare nodes up to a factor of five".

Thresholding
------------
A score counts as a positive prediction when it is **strictly greater** than the threshold
(``score > 0.5``), the rule of C-HMCNN's reference code (``constr_output > 0.5``), which the rare-node
code builds on. A score of exactly 0.5 (a zero logit) is therefore a negative. 0/1 predictions may
be passed as scores: 1 > 0.5 and 0 is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

__all__ = [
    "au_prc",
    "PerNodePRF",
    "MacroPRF",
    "per_node_prf",
    "macro_prf",
    "frequency_buckets",
    "breakdown",
    "recall_gain",
    "FREQUENCY_EDGES",
]

FREQUENCY_EDGES: tuple[int, ...] = (0, 1, 6, 21, 101)
"""Left edges of the training-frequency buckets of the rare-node spec: 0, 1-5, 6-20, 21-100, >100."""


def _as_numpy(a, name: str) -> np.ndarray:
    """A numpy view/copy of an array-like or torch tensor (detached, on the CPU)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch.Tensor, without importing torch
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (samples, nodes) matrix, got shape {a.shape}")
    return a


def _select_nodes(eval_nodes, n: int) -> np.ndarray | slice:
    """Column selector for ``eval_nodes`` (None: all columns; int indices; or a bool mask of length n)."""
    if eval_nodes is None:
        return slice(None)
    if hasattr(eval_nodes, "detach"):
        eval_nodes = eval_nodes.detach().cpu().numpy()
    idx = np.asarray(eval_nodes)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise ValueError(f"a boolean eval_nodes mask must have shape ({n},), got {idx.shape}")
        return np.flatnonzero(idx)
    if idx.ndim != 1 or (idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n)):
        raise ValueError(f"eval_nodes must be a 1-d array of node indices in [0, {n}) or a bool mask")
    return idx.astype(np.int64)


def _labels_and_scores(y_true, scores, eval_nodes) -> tuple[np.ndarray, np.ndarray]:
    y = _as_numpy(y_true, "y_true")
    s = _as_numpy(scores, "scores")
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have the same shape, got {y.shape} and {s.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 labels")
    cols = _select_nodes(eval_nodes, y.shape[1])
    return y[:, cols].astype(np.int64), s[:, cols].astype(np.float64)


def au_prc(
    y_true,
    scores,
    eval_nodes: Sequence[int] | np.ndarray | None = None,
) -> float:
    """Area under the precision-recall curve, micro-averaged: C-HMCNN's AU(PRC).

    The ``(N, C_eval)`` matrices are flattened and the average precision of the flat ranking is
    computed with ``sklearn.metrics.average_precision_score(..., average="micro")``:

    .. math::

        \\mathrm{AP} = \\sum_k (R_k - R_{k-1}) \\, P_k ,

    with ``P_k``, ``R_k`` the precision and recall at the k-th distinct score threshold (descending;
    tied scores enter together). Evaluated nodes with no positive sample are included: their
    entries count as negatives, as in the published tables.

    Args:
        y_true: 0/1 labels, shape (N, C); numpy array or torch tensor.
        scores: scores (e.g. MCM outputs), shape (N, C).
        eval_nodes: indices, or bool mask of length C, of the evaluated nodes (None: all columns).

    Returns:
        The AU(PRC) as a Python float (sklearn's value, with its warning, if there is no positive).

    Example:
        >>> au_prc([[1, 0], [0, 1]], [[0.9, 0.8], [0.3, 0.1]])  # positives at ranks 1 and 4
        0.75
    """
    y, s = _labels_and_scores(y_true, scores, eval_nodes)
    return float(average_precision_score(y, s, average="micro"))


class PerNodePRF(NamedTuple):
    """Per-node metrics of :func:`per_node_prf`; every field has shape (C_eval,), in ``nodes`` order."""

    nodes: np.ndarray  # int64: column index of each evaluated node in y_true
    precision: np.ndarray  # float64: TP / (TP + FP), 0 where nothing is predicted
    recall: np.ndarray  # float64: TP / (TP + FN), 0 where the node has no test positive
    f1: np.ndarray  # float64: 2 TP / (2 TP + FP + FN), 0 where that is 0 / 0
    support: np.ndarray  # int64: test positives, TP + FN
    n_predicted: np.ndarray  # int64: predicted positives, TP + FP


class MacroPRF(NamedTuple):
    """Macro averages of :func:`macro_prf` (Python floats) and the number of nodes averaged over."""

    precision: float
    recall: float
    f1: float
    n_nodes: int


_NodeSet = Literal["all", "with_positives"]


def _check_nodes_option(nodes: str) -> None:
    if nodes not in ("all", "with_positives"):
        raise ValueError(f"nodes must be 'all' or 'with_positives', got {nodes!r}")


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num, den = num.astype(np.float64), den.astype(np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_node_prf(
    y_true,
    scores,
    eval_nodes: Sequence[int] | np.ndarray | None = None,
    threshold: float = 0.5,
) -> PerNodePRF:
    """Precision, recall and F1 of each evaluated node, predictions ``scores > threshold``.

    With ``TP_c, FP_c, FN_c`` the counts over the N test samples of node c:

    .. math::

        P_c = \\frac{TP_c}{TP_c + FP_c}, \\quad R_c = \\frac{TP_c}{TP_c + FN_c}, \\quad
        F1_c = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c} ,

    each set to 0 where its denominator is 0, as ``precision_recall_fscore_support(average=None,
    zero_division=0)`` does (the tests check equality with it): a node with no predicted positive has
    precision 0, a node with no test positive has recall 0 and F1 0, even when nothing is predicted
    for it. F1 is the harmonic mean of P and R wherever that is defined.

    Args:
        y_true: 0/1 labels, shape (N, C); numpy array or torch tensor.
        scores: scores (e.g. MCM outputs) or 0/1 predictions, shape (N, C).
        eval_nodes: indices, or bool mask of length C, of the evaluated nodes (None: all columns).
        threshold: a score strictly above it is a positive prediction (see the module docstring).

    Returns:
        :class:`PerNodePRF` of arrays of shape (C_eval,).
    """
    y, s = _labels_and_scores(y_true, scores, eval_nodes)
    n_cols = _as_numpy(y_true, "y_true").shape[1]
    nodes = np.arange(n_cols, dtype=np.int64)[_select_nodes(eval_nodes, n_cols)]
    truth = y.astype(bool)
    predicted = s > threshold
    tp = (truth & predicted).sum(axis=0)
    support = truth.sum(axis=0)
    n_predicted = predicted.sum(axis=0)
    precision = _safe_ratio(tp, n_predicted)
    recall = _safe_ratio(tp, support)
    f1 = _safe_ratio(2 * tp, support + n_predicted)  # 2TP + FP + FN = (TP + FN) + (TP + FP)
    return PerNodePRF(nodes, precision, recall, f1, support.astype(np.int64), n_predicted.astype(np.int64))


def macro_prf(
    y_true,
    scores,
    eval_nodes: Sequence[int] | np.ndarray | None = None,
    threshold: float = 0.5,
    nodes: _NodeSet = "all",
) -> MacroPRF:
    """Macro precision, recall and F1 over the evaluated nodes at a threshold (rare-node spec).

    .. math::

        P_{macro} = \\frac{1}{|V|} \\sum_{c \\in V} P_c , \\quad
        R_{macro} = \\frac{1}{|V|} \\sum_{c \\in V} R_c , \\quad
        F1_{macro} = \\frac{1}{|V|} \\sum_{c \\in V} F1_c ,

    with the per-node values of :func:`per_node_prf` (0 on a zero denominator). Macro F1 is the mean of
    the per-node F1 scores (scikit-learn's ``average="macro"``), not the F1 of macro P and macro R.

    ``nodes="all"``: V = all evaluated nodes, the spec's headline number; nodes without a test positive
    contribute 0 to all three means, which is why macro F1 on GO is a few percent. This equals
    ``precision_recall_fscore_support(..., average="macro", zero_division=0)`` on the evaluated columns.
    ``nodes="with_positives"``: V = evaluated nodes with at least one test positive. Because every metric
    is 0 on a node without test positives, the two are related by
    ``all = with_positives * n_with_positives / n_evaluated``.

    Args:
        y_true, scores, eval_nodes, threshold: as for :func:`per_node_prf`.
        nodes: ``"all"`` or ``"with_positives"``.

    Returns:
        :class:`MacroPRF` (precision, recall, f1, n_nodes); the three means are NaN when V is empty.

    Example:
        >>> y = [[1, 0, 0], [1, 1, 0]]
        >>> s = [[0.9, 0.8, 0.1], [0.2, 0.3, 0.6]]
        >>> macro_prf(y, s)  # node 0: P 1, R 1/2; node 1: P 0, R 0; node 2 (no positive): P 0, R 0
        MacroPRF(precision=0.3333333333333333, recall=0.16666666666666666, f1=0.2222222222222222, n_nodes=3)
        >>> macro_prf(y, s, nodes="with_positives").recall
        0.25
    """
    _check_nodes_option(nodes)
    per = per_node_prf(y_true, scores, eval_nodes, threshold)
    keep = per.support > 0 if nodes == "with_positives" else np.ones(len(per.nodes), dtype=bool)
    n = int(keep.sum())
    if n == 0:
        return MacroPRF(float("nan"), float("nan"), float("nan"), 0)
    return MacroPRF(float(per.precision[keep].mean()), float(per.recall[keep].mean()), float(per.f1[keep].mean()), n)


def _bucket_labels(edges: Sequence[int]) -> list[str]:
    labels = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        labels.append(str(lo) if hi - 1 == lo else f"{lo}-{hi - 1}")
    labels.append(f">{edges[-1] - 1}")
    return labels


def frequency_buckets(train_counts, edges: Sequence[int] = FREQUENCY_EDGES) -> pd.Categorical:
    """Training-frequency bucket of each node: ``"0"``, ``"1-5"``, ``"6-20"``, ``"21-100"``, ``">100"``.

    Bucket i holds the counts ``edges[i] <= n < edges[i + 1]``; the last one holds ``n >= edges[-1]``.
    A bucket of one value is labelled by it (``"0"``), the others ``"lo-hi"`` (inclusive), the last
    ``">{edges[-1] - 1}"``. The default edges are the spec's buckets (the paper does not define "rare").

    Args:
        train_counts: per-node positive counts on the **training split** (labels propagated to
            ancestors), e.g. ``y_train.sum(axis=0)``; shape (C,), non-negative integers. (These are
            the ``n_c`` of the spec, not the subtree frequencies ``f_c`` of the loss weights.)
        edges: strictly increasing integer left edges; every count must be >= ``edges[0]``.

    Returns:
        An ordered ``pandas.Categorical`` of length C whose categories are all the bucket labels in
        increasing order (empty buckets included), so groupings and tables keep that order.

    Example:
        >>> list(frequency_buckets([0, 1, 5, 6, 20, 21, 100, 101]))
        ['0', '1-5', '1-5', '6-20', '6-20', '21-100', '21-100', '>100']
    """
    if hasattr(train_counts, "detach"):
        train_counts = train_counts.detach().cpu().numpy()
    counts = np.asarray(train_counts)
    edges = [int(e) for e in edges]
    if len(edges) < 1 or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise ValueError(f"edges must be a non-empty strictly increasing sequence, got {edges}")
    if counts.ndim != 1 or (counts.size and (np.any(counts != np.round(counts)) or counts.min() < edges[0])):
        raise ValueError(f"train_counts must be a 1-d array of integer counts >= {edges[0]}")
    labels = _bucket_labels(edges)
    codes = np.searchsorted(np.asarray(edges), counts, side="right") - 1
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def breakdown(
    y_true,
    scores,
    group_labels,
    eval_nodes: Sequence[int] | np.ndarray | None = None,
    threshold: float = 0.5,
    nodes: _NodeSet = "all",
) -> pd.DataFrame:
    """Mean per-node precision, recall and F1 within each group of evaluated nodes.

    For each group g (a training-frequency bucket from :func:`frequency_buckets`, a depth level
    ``hierarchy.depth``, ...) and V_g the evaluated nodes in g (restricted to those with a test positive
    when ``nodes="with_positives"``), the rows hold ``mean_{c in V_g} P_c``, ``R_c`` and ``F1_c`` of
    :func:`per_node_prf`: the macro averages of :func:`macro_prf` within the group.

    Args:
        y_true, scores, eval_nodes, threshold, nodes: as for :func:`macro_prf`.
        group_labels: one label per **column of y_true** (length C, the same column order, e.g.
            ``frequency_buckets(y_train.sum(0))`` or ``hierarchy.depth``); only the evaluated nodes'
            labels are used. A ``pandas.Categorical`` (or categorical Series) keeps its category order and
            all its categories.

    Returns:
        DataFrame indexed by group (index name ``"group"``; categories in order, otherwise sorted
        labels) with columns ``n_nodes`` (evaluated nodes in the group), ``n_with_positives`` (those
        with a test positive), ``precision``, ``recall``, ``f1`` (NaN for a group with no node averaged).
    """
    _check_nodes_option(nodes)
    n_cols = _as_numpy(y_true, "y_true").shape[1]
    if isinstance(group_labels, pd.Series | pd.Index):
        group_labels = group_labels.array  # a categorical Series/Index gives its Categorical
    groups = group_labels if isinstance(group_labels, pd.Categorical) else np.asarray(group_labels)
    if len(groups) != n_cols:
        raise ValueError(f"group_labels needs one label per column of y_true ({n_cols}), got {len(groups)}")
    per = per_node_prf(y_true, scores, eval_nodes, threshold)
    frame = pd.DataFrame(
        {
            "group": groups[per.nodes],
            "with_positives": per.support > 0,
            "precision": per.precision,
            "recall": per.recall,
            "f1": per.f1,
        }
    )
    counts = frame.groupby("group", observed=False, sort=True).agg(
        n_nodes=("with_positives", "size"), n_with_positives=("with_positives", "sum")
    )
    averaged = frame[frame.with_positives] if nodes == "with_positives" else frame
    means = averaged.groupby("group", observed=False, sort=True)[["precision", "recall", "f1"]].mean()
    table = counts.join(means, how="left").astype({"n_nodes": np.int64, "n_with_positives": np.int64})
    table.index.name = "group"
    return table


def recall_gain(method_table: pd.DataFrame, baseline_table: pd.DataFrame, column: str = "recall") -> pd.Series:
    """Ratio of a method's mean recall to the baseline's, per group: ``method[column] / baseline[column]``.

    The tables are :func:`breakdown` outputs (or any frames with that column), aligned on their index;
    a group missing from either gives NaN. Division follows IEEE/numpy: where the baseline's recall is 0
    the gain is **inf** if the method's recall is positive and **NaN** if it is 0 too (0/0) or either is
    NaN (an empty group). Filter with ``np.isfinite`` before taking a maximum ("up to a factor of five").

    Both tables must use the same ``nodes`` option and node set. Recall is 0 on nodes without a test
    positive for every method, so the ratio is the same for ``nodes="all"`` and ``"with_positives"``.
    Over several seeds, average each method's tables first: the gain is a ratio of means.

    Args:
        method_table, baseline_table: DataFrames indexed by group with a ``column`` column.
        column: the metric to compare (``"recall"``, or ``"f1"``/``"precision"`` for the same ratio).

    Returns:
        Series indexed by group (the union of both indexes, in the method table's order first),
        named ``f"{column}_gain"``.

    Example:
        >>> m = pd.DataFrame({"recall": [0.5, 0.2, 0.0]}, index=["0", "1-5", "6-20"])
        >>> b = pd.DataFrame({"recall": [0.0, 0.1, 0.0]}, index=["0", "1-5", "6-20"])
        >>> recall_gain(m, b).tolist()
        [inf, 2.0, nan]
    """
    for name, table in (("method_table", method_table), ("baseline_table", baseline_table)):
        if column not in table.columns:
            raise ValueError(f"{name} has no {column!r} column")
    index = method_table.index.append(baseline_table.index.difference(method_table.index, sort=False))
    num = method_table[column].reindex(index).to_numpy(dtype=np.float64)
    den = baseline_table[column].reindex(index).to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = num / den
    return pd.Series(gain, index=index, name=f"{column}_gain")
