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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score

__all__ = ["au_prc"]


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
