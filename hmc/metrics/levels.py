"""Per-level metrics of single-label-per-level hierarchies (HCAL, Jiang et al. 2025, bib key ``jiang2025hcal``).

Every sample has one class per level. Levels are indexed ``k = 0 .. m-1``, 0 the finest (the spec's
level 1); ``y`` and ``pred`` are integer matrices of shape ``(N, m)`` whose column k holds the level-k
class, and ``level_parents[k]`` (shape ``(C_k,)``, ``m - 1`` arrays) maps each level-k class to its
level-(k+1) parent. Inputs may be numpy arrays or torch tensors. The tests (``tests/test_level_metrics.py``)
compare with hand-computed values and with brute-force enumeration of all valid paths.

Definitions
-----------
Per-level accuracy (:func:`level_accuracy`)
    ``acc_k = (1/N) sum_i [pred_ik == y_ik]``, one top-1 accuracy per level.
Full-path accuracy (:func:`full_path_accuracy`)
    ``(1/N) sum_i [pred_ik == y_ik for every k]``: all levels right.
Hierarchical Violation Rate, HVR (:func:`hierarchy_violation_rate`)
    The fraction of test samples whose predicted labels do not form a valid path:

    .. math::

        \\mathrm{HVR} = \\frac{1}{N} \\sum_i \\Big[\\exists\\, k < m-1:\\;
        \\mathrm{parent}_k(\\hat y_{ik}) \\ne \\hat y_{i,k+1}\\Big] .

    For 3 levels both parent links (fine -> middle and middle -> coarse) must hold; a sample that breaks
    one or both counts once. HVR ignores the ground truth (a wrong but consistent path is no
    violation); lower is better, and a hierarchy-consistent decoding has HVR 0 by construction.
Prediction (:func:`predict_levels`, :func:`consistent_decode`)
    HCAL predicts each level independently (per-level argmax of its scores), which is what HVR
    measures. :func:`consistent_decode` is the extra of the spec: the valid path with the largest sum
    of per-level scores. In a tree a valid path is fixed by its finest class ``c``, so
    ``score(c) = sum_k scores_k[anc_k(c)]`` with ``anc_k`` the level-k ancestor; the decoding is the
    argmax over finest classes, mapped up to every level.

Model-selection protocols (:data:`SELECTION_PROTOCOLS`, :func:`select_epoch`)
-------------------------------------------------------------------------------
The study reports all three, labelled, because they give different numbers:

``"authors"``
    The authors' protocol: the best epoch **on the test set**. The first evaluated epoch is the
    initial best, and a later epoch replaces it only when the test accuracy of every level is strictly
    higher than at the current best (a tie or a drop at any level keeps the earlier epoch). This
    selects the model on the test data it is then scored on, which inflates the reported numbers: it
    is a reproduction of the published protocol, not an unbiased estimate.
``"last"``
    The last evaluated epoch; no selection, so no test data is used.
``"validation"``
    The epoch with the highest mean per-level accuracy on a held-out validation split (CIFAR-100: 45k /
    5k of the training set), earliest on exact ties. The unbiased protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "level_accuracy",
    "full_path_accuracy",
    "hierarchy_violation_rate",
    "consistent_decode",
    "predict_levels",
    "SELECTION_PROTOCOLS",
    "select_epoch",
]

SELECTION_PROTOCOLS: tuple[str, ...] = ("authors", "last", "validation")
"""Model-selection protocols of :func:`select_epoch`: the authors' (best on test), last epoch, validation."""


def _to_numpy(a) -> np.ndarray:
    """A numpy copy/view of an array-like or torch tensor (detached, on the CPU)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _label_matrix(a, name: str) -> np.ndarray:
    """An integer (N, m) label matrix with N >= 1, m >= 1, no negative entry."""
    a = _to_numpy(a)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-d (samples, levels) matrix, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    if a.min() < 0:
        raise ValueError(f"{name} holds a negative class index: {a.min()}")
    return a.astype(np.int64)


def _pred_and_truth(pred, y) -> tuple[np.ndarray, np.ndarray]:
    p, t = _label_matrix(pred, "pred"), _label_matrix(y, "y")
    if p.shape != t.shape:
        raise ValueError(f"pred and y must have the same shape (N, m), got {p.shape} and {t.shape}")
    return p, t


def _parents_numpy(level_parents, m: int) -> list[np.ndarray]:
    """``level_parents`` as m - 1 int64 1-d arrays, each parent index inside the next level's class range.

    The class count of level k + 1 < m - 1 is ``len(level_parents[k + 1])``; the coarsest level's is not
    known here, so its parents are only checked to be non-negative.
    """
    if len(level_parents) != m - 1:
        raise ValueError(f"{m} levels need {m - 1} level_parents arrays, got {len(level_parents)}")
    parents = []
    for k, par in enumerate(level_parents):
        par = _to_numpy(par)
        if par.ndim != 1 or not np.issubdtype(par.dtype, np.integer):
            raise ValueError(f"level_parents[{k}] must be a 1-d integer array, got shape {par.shape}, "
                             f"dtype {par.dtype}")
        parents.append(par.astype(np.int64))
    for k, par in enumerate(parents):
        upper = len(parents[k + 1]) if k + 1 < len(parents) else None
        if par.size and (par.min() < 0 or (upper is not None and par.max() >= upper)):
            bad = par.min() if par.min() < 0 else par.max()
            raise ValueError(f"level_parents[{k}] holds parent {bad}, outside level {k + 1}'s classes "
                             f"[0, {upper if upper is not None else 'C'})")
    return parents


def level_accuracy(pred, y) -> np.ndarray:
    """Top-1 accuracy of every level.

    .. math::

        \\mathrm{acc}_k = \\frac{1}{N} \\sum_{i=1}^{N} [\\hat y_{ik} = y_{ik}] .

    Args:
        pred: predicted classes, integer shape (N, m), column k = level k (0 the finest).
        y: true classes, integer shape (N, m).

    Returns:
        float64 array of shape (m,).

    Example:
        >>> level_accuracy([[0, 0], [1, 0]], [[0, 0], [2, 1]]).tolist()
        [0.5, 0.5]
    """
    p, t = _pred_and_truth(pred, y)
    return (p == t).mean(axis=0)


def full_path_accuracy(pred, y) -> float:
    """Fraction of samples whose every level is right.

    .. math::

        \\mathrm{acc}_{\\mathrm{path}} = \\frac{1}{N} \\sum_{i=1}^{N} \\prod_{k} [\\hat y_{ik} = y_{ik}] .

    Args:
        pred: predicted classes, integer shape (N, m).
        y: true classes, integer shape (N, m).

    Returns:
        The accuracy as a Python float.
    """
    p, t = _pred_and_truth(pred, y)
    return float((p == t).all(axis=1).mean())


def hierarchy_violation_rate(pred, level_parents: Sequence) -> float:
    """Hierarchical Violation Rate: fraction of rows whose predicted labels are not a valid path.

    .. math::

        \\mathrm{HVR} = \\frac{1}{N} \\sum_{i=1}^{N}
        \\Big[\\exists\\, k < m-1:\\; \\mathrm{parents}_k[\\hat y_{ik}] \\ne \\hat y_{i,k+1}\\Big] .

    The ground truth is not used; lower is better. With one level (no parent link) it is 0.

    Args:
        pred: predicted classes, integer shape (N, m).
        level_parents: m - 1 integer arrays; ``level_parents[k]`` (shape (C_k,)) maps level-k classes to
            level-(k+1) classes.

    Returns:
        The rate as a Python float in [0, 1].

    Raises:
        ValueError: wrong number of ``level_parents``, or a predicted class outside
            ``[0, len(level_parents[k]))`` at a level k < m - 1.
    """
    p = _label_matrix(pred, "pred")
    parents = _parents_numpy(level_parents, p.shape[1])
    violated = np.zeros(p.shape[0], dtype=bool)
    for k, par in enumerate(parents):
        if p[:, k].max() >= len(par):
            raise ValueError(f"pred[:, {k}] holds class {p[:, k].max()}, but level {k} has {len(par)} classes")
        violated |= par[p[:, k]] != p[:, k + 1]
    return float(violated.mean())


def _score_list(scores: Sequence, name: str = "scores") -> list[torch.Tensor]:
    """``scores`` as m >= 1 torch tensors (N, C_k) with one N, on scores[0]'s device."""
    if len(scores) == 0:
        raise ValueError(f"{name} must hold one (N, C_k) matrix per level, got none")
    out = []
    for k, s in enumerate(scores):
        s = s if isinstance(s, torch.Tensor) else torch.as_tensor(np.asarray(s))
        if s.ndim != 2 or s.shape[1] == 0:
            raise ValueError(f"{name}[{k}] must be a 2-d (N, C_k) matrix with C_k >= 1, got shape "
                             f"{tuple(s.shape)}")
        if k and s.shape[0] != out[0].shape[0]:
            raise ValueError(f"{name}[{k}] has {s.shape[0]} rows, {name}[0] has {out[0].shape[0]}")
        out.append(s.detach().to(out[0].device) if k else s.detach())
    return out


def _like_input(result: torch.Tensor, first):
    """``result`` as a torch tensor if ``first`` (the input's scores[0]) is one, else as a numpy array."""
    return result if isinstance(first, torch.Tensor) else result.cpu().numpy()


def predict_levels(scores: Sequence):
    """Independent per-level prediction: the argmax of every level's scores.

    .. math::

        \\hat y_{ik} = \\arg\\max_c \\; s^{(k)}_{ic} \\quad (\\text{first index on ties}).

    Args:
        scores: m matrices, ``scores[k]`` of shape (N, C_k) (logits, cosine similarities or
            probabilities; numpy or torch).

    Returns:
        int64 (N, m): a torch tensor on scores[0]'s device if scores[0] is a tensor, else a numpy array.
    """
    s = _score_list(scores)
    pred = torch.stack([sk.argmax(dim=1) for sk in s], dim=1)
    return _like_input(pred, scores[0])


def consistent_decode(scores: Sequence, level_parents: Sequence):
    """Hierarchy-consistent decoding: the valid path with the largest sum of per-level scores.

    In a tree a valid path is fixed by its finest class ``c``. With ``anc_0(c) = c`` and
    ``anc_{k+1}(c) = parents_k[anc_k(c)]``:

    .. math::

        \\hat c_i = \\arg\\max_{c} \\sum_{k=0}^{m-1} s^{(k)}_{i, \\mathrm{anc}_k(c)}, \\qquad
        \\hat y_{ik} = \\mathrm{anc}_k(\\hat c_i) ,

    the first finest class on ties. Vectorised: one (m, C_0) ancestor table, one gather per level.
    Coarse classes without a descendant at level 0 are on no valid path and are never predicted.
    The scores are summed as given, so they should be on comparable scales (e.g. log-probabilities,
    or the cosine similarities of HCAL's prototypes). Low-precision scores are summed in float32.

    Args:
        scores: m matrices, ``scores[k]`` of shape (N, C_k), numpy or torch (converted to scores[0]'s
            type and device).
        level_parents: m - 1 integer arrays, ``level_parents[k]`` of shape (C_k,) mapping level-k classes
            to level-(k+1) classes.

    Returns:
        int64 (N, m), every row a valid path (its HVR is 0): a torch tensor on scores[0]'s device if
        scores[0] is a tensor, else a numpy array.

    Raises:
        ValueError: wrong number of ``level_parents``, ``len(level_parents[k]) != C_k``, a parent outside
            ``[0, C_{k+1})``, or score matrices with different numbers of rows.
    """
    s = _score_list(scores)
    parents = _parents_numpy(level_parents, len(s))
    for k, par in enumerate(parents):
        if len(par) != s[k].shape[1]:
            raise ValueError(f"level_parents[{k}] has {len(par)} entries, scores[{k}] has {s[k].shape[1]} classes")
    if parents and parents[-1].size and parents[-1].max() >= s[-1].shape[1]:
        raise ValueError(f"level_parents[{len(parents) - 1}] holds parent {parents[-1].max()}, but the "
                         f"coarsest level has {s[-1].shape[1]} classes")
    device = s[0].device
    anc = [torch.arange(s[0].shape[1], device=device)]
    for par in parents:
        anc.append(torch.as_tensor(par, device=device)[anc[-1]])
    dtype = s[0].dtype
    for sk in s[1:]:
        dtype = torch.promote_types(dtype, sk.dtype)
    dtype = torch.promote_types(dtype, torch.float32)
    path_score = sum(sk.to(dtype)[:, a] for sk, a in zip(s, anc))  # (N, C_0)
    best = path_score.argmax(dim=1)  # (N,)
    pred = torch.stack([a[best] for a in anc], dim=1)
    return _like_input(pred, scores[0])


def _accuracy_table(a, name: str) -> np.ndarray:
    a = _to_numpy(a)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-d (epochs, levels) table, got shape {a.shape}")
    a = a.astype(np.float64)
    if np.isnan(a).any():
        epoch, level = (int(i) for i in np.argwhere(np.isnan(a))[0])
        raise ValueError(f"{name} holds NaN at (epoch, level) ({epoch}, {level})")
    return a


def select_epoch(test_acc, protocol: str, val_acc=None) -> int:
    """Index of the selected epoch among the E evaluated ones, under a model-selection protocol.

    - ``"authors"``: best epoch on the **test** set. ``best = 0``; for ``e = 1 .. E-1``,
      ``best = e`` if ``test_acc[e, k] > test_acc[best, k]`` for every level k (strictly). Selecting
      on the test set inflates the numbers; see the module docstring.
    - ``"last"``: ``E - 1``.
    - ``"validation"``: ``argmax_e mean_k val_acc[e, k]``, the earliest epoch on exact ties.

    Args:
        test_acc: per-level test accuracy, shape (E, m), one row per evaluated epoch in order.
        protocol: one of :data:`SELECTION_PROTOCOLS`.
        val_acc: per-level validation accuracy at the same epochs, shape (E, m); required for
            ``"validation"``, checked for shape when given.

    Returns:
        The row index (Python int) into ``test_acc``.

    Raises:
        ValueError: unknown protocol, missing or mis-shaped ``val_acc``, empty tables, NaN entries.

    Example:
        >>> select_epoch([[0.5, 0.7], [0.6, 0.7], [0.7, 0.8]], "authors")  # epoch 1 ties at level 1
        2
    """
    if protocol not in SELECTION_PROTOCOLS:
        raise ValueError(f"unknown selection protocol {protocol!r}; choose one of {SELECTION_PROTOCOLS}")
    test = _accuracy_table(test_acc, "test_acc")
    if val_acc is not None:
        val = _accuracy_table(val_acc, "val_acc")
        if val.shape != test.shape:
            raise ValueError(f"val_acc must have test_acc's shape {test.shape}, got {val.shape}")
    if protocol == "last":
        return test.shape[0] - 1
    if protocol == "validation":
        if val_acc is None:
            raise ValueError("the 'validation' protocol needs val_acc (E, m)")
        return int(np.argmax(val.mean(axis=1)))
    best = 0
    for e in range(1, test.shape[0]):
        if (test[e] > test[best]).all():
            best = e
    return best
