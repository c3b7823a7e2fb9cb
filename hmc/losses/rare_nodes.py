"""Rare-node losses: node imbalance weights, uncertainty-focal MCLoss over an ensemble, schedules.

Reference: Xu, Gillis, Sharma, Misiuk, Brown, Trappenberg, "Improving Detection of Rare Nodes in
Hierarchical Multi-Label Learning", arXiv 2602.08986 (2026) (bib key ``xu2026rarenodes``), built on
C-HMCNN (:mod:`hmc.constraint`). Implemented from the project spec (``specs/rare_nodes.md``); no code
is taken from the authors' implementation.

Contents
--------
*Imbalance weights* (computed once, on the training rows): :func:`node_frequencies` (subtree
frequencies ``f_c``), :func:`balanced_weights` (``w_c = N / (K f_c)``), :func:`rescale_weights`
(``w'_c``), :func:`imbalance_weights` (all three), and :func:`term_weights`, which places the node
weights on the ``y = 0`` (``"negatives"``, reproduces the reference) or ``y = 1`` (``"positives"``,
the stated intent) terms of a batch.

*Uncertainty measures* of H ensemble members, each a function of the member probabilities ``p`` of
shape ``(H, B, C)`` returning ``(B, C)``: :func:`bbma`, :func:`bma`, :func:`aleatoric`,
:func:`epistemic_js`, :func:`epistemic_kl`, :func:`gmu`, collected in :data:`UNCERTAINTY_MEASURES`.
All entropies and divergences are in bits.

*Focal-weighted MCLoss* over the members: :func:`focal_mc_loss` (and the module :class:`FocalMCLoss`):

.. math::

    L = \\sum_h \\sum_b \\sum_{c \\in \\mathrm{eval}} W_{b,c} \\, (m + u_{b,c}^k) \\, \\mathrm{BCE}_{h,b,c},

with ``BCE_{h,b,c}`` the MCLoss terms of member h (:func:`hmc.constraint.mc_loss`, no reduction) and
``u`` an uncertainty measure of the members' sigmoid outputs before the MCM, detached (no gradient
flows through ``u``).

*Schedules and the mixed loss* (single network, no focal term): :func:`scheduled_weights` (per epoch,
from ``W0`` to the uniform floor ``omega``), :func:`global_scheduled_weights` (over all training steps,
ending at weight 1) and :func:`mixed_loss`.

Numerics
--------
Binary entropies use ``xlogy`` (``0 log 0 = 0``), so they are exact at ``p in {0, 1}`` and need no
clamping. The KL divergence is unbounded at ``p in {0, 1}``: :func:`epistemic_kl` clamps the
probabilities to ``[EPS, 1 - EPS]`` (``EPS = 1e-6``, in ``p``'s dtype) first, so two members at 0 and 1
are ``(1 - 2 EPS) log2((1 - EPS) / EPS) ~ 19.93`` bits apart. The measures are computed in ``p``'s
dtype (float32 for the networks' outputs); the loss itself in :func:`~hmc.constraint.mc_loss`'s
dtype (float64 by default, as in the reference).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from hmc.constraint import MaxConstraint, _node_selector, mc_loss
from hmc.hierarchy import Hierarchy

__all__ = [
    "EPS",
    "node_frequencies",
    "balanced_weights",
    "rescale_weights",
    "imbalance_weights",
    "term_weights",
    "binary_entropy",
    "bbma",
    "bma",
    "aleatoric",
    "epistemic_js",
    "epistemic_kl",
    "gmu",
    "UNCERTAINTY_MEASURES",
    "focal_mc_loss",
    "FocalMCLoss",
    "scheduled_weights",
    "global_scheduled_weights",
    "mixed_loss",
]

EPS = 1e-6
"""Clamp of the probabilities in :func:`epistemic_kl`: ``p -> clamp(p, EPS, 1 - EPS)``."""

_LN2 = math.log(2.0)
_WEIGHT_KINDS = ("classwise", "binary")
_WEIGHT_TARGETS = ("negatives", "positives")
_SCHEDULES = ("lin", "exp", "alt")
_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------- imbalance weights
def _label_matrix(y_train, hierarchy: Hierarchy) -> np.ndarray:
    """``y_train`` as a 0/1 numpy array (N, C), checked and propagated to the ancestors."""
    y = y_train.detach().cpu().numpy() if isinstance(y_train, Tensor) else np.asarray(y_train)
    c = len(hierarchy)
    if y.ndim != 2 or y.shape[1] != c:
        raise ValueError(f"y_train must have shape (N, {c}), got {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("y_train must hold 0/1 labels")
    return hierarchy.propagate(y.astype(np.uint8))


def node_frequencies(y_train: np.ndarray | Tensor, hierarchy: Hierarchy) -> np.ndarray:
    """Subtree frequency of every node on the training rows.

    .. math::

        n_c = \\#\\{i : y_{ic} = 1\\}, \\qquad f_c = \\sum_{d \\in D(c)} n_d ,

    with ``D(c)`` the descendants of ``c``, ``c`` included (the reference's definition). A row
    labelled with a deep node is counted once at every node of its path below ``c`` too, so ``f_c``
    can exceed the number of rows N (the root's ``f`` is the total number of positive labels).

    Args:
        y_train: 0/1 labels of the training rows only, shape ``(N, C)``, columns in hierarchy order.
            They are propagated to the ancestors first (a no-op for consistent labels).
        hierarchy: the :class:`~hmc.hierarchy.Hierarchy`.

    Returns:
        int64 array of shape ``(C,)``.
    """
    y = _label_matrix(y_train, hierarchy)
    n = y.sum(axis=0, dtype=np.int64)
    return np.asarray(hierarchy.ancestor_matrix.astype(np.int64) @ n, dtype=np.int64).reshape(-1)


def balanced_weights(freq: np.ndarray, n_rows: int, kind: str = "classwise") -> np.ndarray:
    """Balanced weights ``w_c = N / (K f_c)`` of the subtree frequencies.

    ``K`` is the number of nodes ``C`` (``kind="classwise"``, the default) or 2 (``"binary"``). A node
    with ``f_c = 0`` or ``f_c = N`` gets ``w_c = 1`` (the spec's rule; with subtree frequencies
    ``f_c > N`` is possible and then gives ``w_c < 1/K``, not 1).

    Args:
        freq: subtree frequencies ``f``, shape ``(C,)`` (:func:`node_frequencies`).
        n_rows: N, the number of training rows.
        kind: ``"classwise"`` or ``"binary"``.

    Returns:
        float64 array of shape ``(C,)``.
    """
    if kind not in _WEIGHT_KINDS:
        raise ValueError(f"kind must be one of {_WEIGHT_KINDS}, got {kind!r}")
    f = np.asarray(freq, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"freq must be 1-d (C,), got shape {f.shape}")
    if n_rows < 0 or (f < 0).any():
        raise ValueError("n_rows and the frequencies must be non-negative")
    k = len(f) if kind == "classwise" else 2
    special = (f == 0) | (f == n_rows)
    return np.where(special, 1.0, n_rows / (k * np.where(special, 1.0, f)))


def rescale_weights(w: np.ndarray, floor: float = 0.25) -> np.ndarray:
    """Rescale balanced weights to ``[omega, omega + max(w)]``.

    .. math::

        w'_c = \\omega + \\max(w) \\, \\frac{w_c - \\min(w)}{\\max(w) - \\min(w)} ,\\qquad \\omega = \\text{floor}.

    If all weights are equal (``max(w) == min(w)``, e.g. a single node, or every node has ``f_c`` in
    ``{0, N}``) the ratio is undefined; there is then no imbalance to correct and every ``w'_c`` is 1
    (the unweighted loss).

    Args:
        w: balanced weights, shape ``(C,)`` (:func:`balanced_weights`).
        floor: omega >= 0, the smallest rescaled weight (spec: 0.25).

    Returns:
        float64 array of shape ``(C,)``.
    """
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"w must be 1-d (C,), got shape {w.shape}")
    if w.size == 0:
        return w.copy()
    lo, hi = w.min(), w.max()
    if hi == lo:
        return np.ones_like(w)
    return floor + hi * (w - lo) / (hi - lo)


def imbalance_weights(
    y_train: np.ndarray | Tensor, hierarchy: Hierarchy, kind: str = "classwise", floor: float = 0.25
) -> np.ndarray:
    """Rescaled node imbalance weights ``w'`` from the training labels (spec defaults).

    :func:`node_frequencies` -> :func:`balanced_weights` (``N`` = number of rows of ``y_train``)
    -> :func:`rescale_weights`. ``K``, ``min(w)`` and ``max(w)`` are taken over all C nodes of the
    hierarchy, roots included (the root, with the largest ``f``, usually sets ``min(w)``).

    Args:
        y_train: 0/1 labels of the training rows only, shape ``(N, C)``. With LPROS, pass the original
            rows (before the clones are appended), as the spec says.
        hierarchy: the :class:`~hmc.hierarchy.Hierarchy`.
        kind: ``"classwise"`` (K = C, default) or ``"binary"`` (K = 2).
        floor: omega (spec: 0.25).

    Returns:
        float64 array of shape ``(C,)``; place it on the loss terms with :func:`term_weights`.
    """
    freq = node_frequencies(y_train, hierarchy)
    return rescale_weights(balanced_weights(freq, int(np.shape(y_train)[0]), kind), floor)


def term_weights(node_weights: np.ndarray | Tensor, y: Tensor, weight_target: str = "negatives") -> Tensor:
    """Per-term weight matrix ``W`` of a batch from per-node weights.

    ``"negatives"`` (reproduces the reference code): ``W_{b,c} = w'_c`` where ``y_{b,c} = 0`` and 1
    where ``y_{b,c} = 1``. ``"positives"`` (the paper's stated intent): ``w'_c`` where ``y = 1``, 1
    where ``y = 0``.

    Args:
        node_weights: ``w'``, shape ``(C,)`` (:func:`imbalance_weights`).
        y: 0/1 labels, shape ``(..., C)`` (e.g. ``(B, C)``), columns in hierarchy order.
        weight_target: ``"negatives"`` or ``"positives"``.

    Returns:
        Tensor of ``y``'s shape on ``y``'s device, in ``node_weights``' floating dtype (float64 for a
        numpy array).
    """
    if weight_target not in _WEIGHT_TARGETS:
        raise ValueError(f"weight_target must be one of {_WEIGHT_TARGETS}, got {weight_target!r}")
    y = torch.as_tensor(y)
    w = torch.as_tensor(node_weights, device=y.device)
    if not w.is_floating_point():
        w = w.to(torch.get_default_dtype())
    if w.dim() != 1 or y.dim() == 0 or y.shape[-1] != w.shape[0]:
        raise ValueError(f"node_weights (C,) and y (..., C) must agree: got {tuple(w.shape)} and {tuple(y.shape)}")
    positive = y != 0
    one = torch.ones((), dtype=w.dtype, device=y.device)
    if weight_target == "negatives":
        return torch.where(positive, one, w)
    return torch.where(positive, w, one)


# ---------------------------------------------------------------------------- uncertainty measures
def _members(p: Tensor, min_members: int = 1, name: str = "") -> Tensor:
    if not isinstance(p, Tensor) or p.dim() < 2:
        raise ValueError("member probabilities must be a tensor of shape (H, B, C) (any dims after H)")
    if p.shape[0] < min_members:
        raise ValueError(f"{name} needs at least {min_members} members (p.shape[0] = H), got H = {p.shape[0]}")
    return p


def binary_entropy(p: Tensor) -> Tensor:
    """Binary entropy in bits, ``H2(p) = -p log2 p - (1 - p) log2(1 - p)``, exact at 0 and 1 (``xlogy``).

    Elementwise; ``p`` is clamped to ``[0, 1]`` first (guards against rounding outside it).
    """
    p = p.clamp(0.0, 1.0)
    q = 1.0 - p
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(q, q)) / _LN2


def bbma(p: Tensor) -> Tensor:
    """Binary margin of the model average: ``u = 1 - |2 p_bar - 1|``, ``p_bar`` = member mean.

    Shape: ``(H, B, C)`` -> ``(B, C)``; values in [0, 1] (1 at ``p_bar = 0.5``). The name is the
    project's mapping of the paper's measure (its exact definition was not available).
    """
    return 1.0 - (2.0 * _members(p, 1, "bbma").mean(0) - 1.0).abs()


def bma(p: Tensor) -> Tensor:
    """Entropy of the model average in bits: ``u = H2(p_bar)``.

    Shape: ``(H, B, C)`` -> ``(B, C)``; values in [0, 1]. The name is the project's mapping.
    """
    return binary_entropy(_members(p, 1, "bma").mean(0))


def aleatoric(p: Tensor) -> Tensor:
    """Expected entropy: ``u = mean_h H2(p_h)`` in bits. Shape: ``(H, B, C)`` -> ``(B, C)``."""
    return binary_entropy(_members(p, 1, "aleatoric")).mean(0)


def _pairs(h: int, device: torch.device) -> tuple[Tensor, Tensor]:
    i, j = torch.triu_indices(h, h, offset=1, device=device)
    return i, j


def epistemic_js(p: Tensor) -> Tensor:
    """Mean pairwise Jensen-Shannon divergence between the members, in bits.

    .. math::

        u = \\frac{1}{H(H-1)} \\sum_{h \\ne h'} \\mathrm{JS}(p_h, p_{h'}), \\qquad
        \\mathrm{JS}(p, q) = H_2\\!\\left(\\tfrac{p + q}{2}\\right) - \\tfrac{1}{2}\\big(H_2(p) + H_2(q)\\big).

    JS is symmetric, so the mean over the ordered pairs equals the mean over the ``H(H-1)/2``
    unordered ones; and since each member appears in ``H - 1`` pairs, the mean of the second term is
    :func:`aleatoric`. Computed as ``mean_{h<h'} H2((p_h + p_h')/2) - aleatoric(p)``, clamped at 0
    (rounding). Values in [0, 1]; 1 for two members at 0 and 1.

    Shape: ``(H, B, C)`` -> ``(B, C)``. Needs H >= 2 (a single member has no pair: ValueError,
    rather than a silent 0 that would turn the focal loss into a constant rescaling).
    """
    p = _members(p, 2, "epistemic_js")
    i, j = _pairs(p.shape[0], p.device)
    mid = binary_entropy((p.index_select(0, i) + p.index_select(0, j)) * 0.5).mean(0)
    return (mid - aleatoric(p)).clamp_min(0.0)


def epistemic_kl(p: Tensor) -> Tensor:
    """Mean pairwise KL divergence between the members, in bits.

    .. math::

        u = \\frac{1}{H(H-1)} \\sum_{h \\ne h'} \\mathrm{KL}(p_h \\,\\|\\, p_{h'}), \\qquad
        \\mathrm{KL}(p \\| q) = p \\log_2 \\frac{p}{q} + (1 - p) \\log_2 \\frac{1 - p}{1 - q} ,

    on probabilities clamped to ``[EPS, 1 - EPS]`` (module docstring). Each unordered pair enters
    through ``KL(p||q) + KL(q||p) = (p - q)(logit p - logit q) / ln 2``, which is non-negative
    term by term (no cancellation). Unbounded above (about 19.93 bits for members at 0 and 1).

    Shape: ``(H, B, C)`` -> ``(B, C)``. Needs H >= 2 (ValueError otherwise, as :func:`epistemic_js`).
    """
    p = _members(p, 2, "epistemic_kl")
    h = p.shape[0]
    pc = p.clamp(EPS, 1.0 - EPS)
    logit = torch.log(pc) - torch.log1p(-pc)
    i, j = _pairs(h, p.device)
    sym = (pc.index_select(0, i) - pc.index_select(0, j)) * (logit.index_select(0, i) - logit.index_select(0, j))
    return sym.sum(0) / (h * (h - 1) * _LN2)


def gmu(p: Tensor) -> Tensor:
    """Gated margin uncertainty.

    .. math::

        t = \\max(\\bar p, 1 - \\bar p), \\quad s = \\mathrm{std}_h(p_h) \\text{ (unbiased)}, \\quad
        \\mathrm{snr} = \\frac{2t - 1}{2s + 10^{-10}}, \\quad
        u = 1 - \\big(1 - e^{-\\mathrm{snr}}\\big)(2t - 1).

    Values in [0, 1]: 1 when the average sits at 0.5, ``1 - margin`` when the members agree exactly.
    Shape: ``(H, B, C)`` -> ``(B, C)``. Needs H >= 2 for the unbiased std (ValueError otherwise).
    """
    p = _members(p, 2, "gmu")
    margin = 2.0 * torch.maximum(p.mean(0), 1.0 - p.mean(0)) - 1.0
    snr = margin / (2.0 * p.std(0, correction=1) + 1e-10)
    return 1.0 - (1.0 - torch.exp(-snr)) * margin


UNCERTAINTY_MEASURES: dict[str, Callable[[Tensor], Tensor]] = {
    "bbma": bbma,
    "bma": bma,
    "aleatoric": aleatoric,
    "epistemic_js": epistemic_js,
    "epistemic_kl": epistemic_kl,
    "gmu": gmu,
}
"""The spec's uncertainty measures by name: ``(H, B, C)`` member probabilities -> ``(B, C)``."""


def _measure(measure: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(measure):
        return measure
    if measure not in UNCERTAINTY_MEASURES:
        raise ValueError(f"measure must be one of {tuple(UNCERTAINTY_MEASURES)} or a callable, got {measure!r}")
    return UNCERTAINTY_MEASURES[measure]


# ---------------------------------------------------------------------------- focal MCLoss
def focal_mc_loss(
    h: Tensor,
    y: Tensor,
    mcm: MaxConstraint | Hierarchy,
    eval_nodes: Sequence[int] | np.ndarray | Tensor | None = None,
    measure: str | Callable[[Tensor], Tensor] = "epistemic_js",
    exponent: float = 2,
    floor: float = 0.25,
    weight: Tensor | np.ndarray | None = None,
    reduction: str = "sum",
    dtype: torch.dtype | None = torch.float64,
    validate: bool = True,
) -> Tensor:
    """Uncertainty-focal, imbalance-weighted MCLoss of an ensemble of H members.

    .. math::

        L = \\sum_{h=1}^{H} \\sum_b \\sum_{c \\in \\mathrm{eval}} W_{b,c} \\,(m + u_{b,c}^k)\\, \\mathrm{BCE}_{h,b,c},
        \\qquad u = \\mathrm{measure}(\\mathrm{sg}[h]),

    where ``BCE_{h,b,c}`` are member h's MCLoss terms (:func:`hmc.constraint.mc_loss`, no reduction),
    ``sg`` stops the gradient (``u`` is computed from ``h.detach()``), ``m`` = ``floor`` and ``k`` =
    ``exponent``. The focal factor and ``W`` are passed to ``mc_loss`` as one ``(B, C)`` weight, so
    the MCM runs once for all members (one call on ``(H, B, C)``), with no loop over members.
    With ``exponent=0`` the factor is ``m + 1`` (``0 ** 0 = 1``): ``floor=0, exponent=0`` is the plain
    MCLoss summed over the members.

    Spec settings: ``m = 0.25``; ``k = 2`` (tabular), 1 (images); ``measure="epistemic_js"``
    (reference default for tabular), ``"bbma"`` for images; reduction ``"sum"`` (reference).

    Args:
        h: the members' sigmoid outputs *before* the MCM, shape ``(H, B, C)``.
        y: 0/1 labels, shape ``(B, C)`` (broadcast over the members).
        mcm: the :class:`~hmc.constraint.MaxConstraint` (or a Hierarchy, cached).
        eval_nodes: evaluated nodes (indices or bool mask of length C; None: all), as in ``mc_loss``.
        measure: a name in :data:`UNCERTAINTY_MEASURES` or a callable ``(H, B, C) -> (B, C)``.
        exponent: k, a finite number >= 0 (NaN and inf raise ValueError).
        floor: m, a finite number >= 0 (NaN and inf raise ValueError).
        weight: ``W``, broadcastable to ``(B, C)`` with columns in hierarchy order (e.g.
            :func:`term_weights`, or per-node ``(C,)``); None: 1.
        reduction: ``"sum"`` (default, the reference), ``"mean"`` (the sum divided by
            ``H * B * C_eval``) or ``"none"`` (the weighted terms, ``(H, B, C_eval)``).
        dtype: computation dtype of the MCM and BCE (``mc_loss``; float64 default). The uncertainty is
            computed in ``h``'s dtype.
        validate: check the values of ``h``, ``y``, the weights and ``eval_nodes`` (passed on to
            :func:`~hmc.constraint.mc_loss`, which says what is checked); False in training loops.
            ``exponent``, ``floor``, shapes and types are checked either way.

    Returns:
        Scalar, or ``(H, B, C_eval)`` for ``reduction="none"``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    _check_nonnegative(exponent, "exponent")
    _check_nonnegative(floor, "floor")
    fn = _measure(measure)
    if not isinstance(h, Tensor) or h.dim() != 3:
        raise ValueError(f"h must be the members' outputs of shape (H, B, C), got {tuple(getattr(h, 'shape', ()))}")
    u = fn(h.detach())
    if tuple(u.shape) != tuple(h.shape[1:]):
        raise ValueError(f"the measure must return shape {tuple(h.shape[1:])}, got {tuple(u.shape)}")
    factor = floor + u.pow(exponent)
    if weight is not None:
        weight = torch.as_tensor(weight, device=h.device)
        try:
            factor = torch.broadcast_to(weight, factor.shape) * factor
        except RuntimeError as err:
            raise ValueError(
                f"weight of shape {tuple(weight.shape)} does not broadcast to (B, C) = {tuple(factor.shape)}"
            ) from err
    return mc_loss(h, y, mcm, eval_nodes, weight=factor, reduction=reduction, dtype=dtype, validate=validate)


def _check_nonnegative(value, name: str) -> None:
    """ValueError unless ``value`` is a real number, finite and >= 0 (NaN fails)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 <= value < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


class FocalMCLoss(nn.Module):
    """Module form of :func:`focal_mc_loss`; ``forward(h, y, weight=None)`` only calls it.

    Args:
        hierarchy: a :class:`~hmc.hierarchy.Hierarchy` or an existing :class:`~hmc.constraint.MaxConstraint`.
        eval_nodes, measure, exponent, floor, reduction, dtype, validate: see :func:`focal_mc_loss`.

    Shape:
        - h: ``(H, B, C)``; y: ``(B, C)``; weight: broadcastable to ``(B, C)``.
        - Output: scalar, or ``(H, B, C_eval)`` with ``reduction="none"``.
    """

    eval_nodes: Tensor | None

    def __init__(
        self,
        hierarchy: Hierarchy | MaxConstraint,
        eval_nodes: Sequence[int] | np.ndarray | Tensor | None = None,
        measure: str | Callable[[Tensor], Tensor] = "epistemic_js",
        exponent: float = 2,
        floor: float = 0.25,
        reduction: str = "sum",
        dtype: torch.dtype | None = torch.float64,
        validate: bool = True,
    ):
        super().__init__()
        _measure(measure)
        _check_nonnegative(exponent, "exponent")
        _check_nonnegative(floor, "floor")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.mcm = hierarchy if isinstance(hierarchy, MaxConstraint) else MaxConstraint(hierarchy)
        self.register_buffer(
            "eval_nodes", _node_selector(eval_nodes, self.mcm.num_nodes, torch.device("cpu")), persistent=False
        )
        self.measure, self.exponent, self.floor = measure, exponent, floor
        self.reduction, self.dtype, self.validate = reduction, dtype, validate

    def forward(self, h: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        return focal_mc_loss(
            h, y, self.mcm, self.eval_nodes, self.measure, self.exponent, self.floor, weight, self.reduction,
            self.dtype, self.validate,
        )

    def extra_repr(self) -> str:
        name = self.measure if isinstance(self.measure, str) else getattr(self.measure, "__name__", "callable")
        return f"measure={name}, exponent={self.exponent}, floor={self.floor}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------- schedules, mixed loss
def _interpolate(w0, end: float, t: float, parity: int, kind: str):
    """``w0 + (end - w0) * s(t)`` for lin/exp, ``w0``/``end`` on even/odd ``parity`` for alt."""
    if kind not in _SCHEDULES:
        raise ValueError(f"kind must be one of {_SCHEDULES}, got {kind!r}")
    if not isinstance(w0, Tensor):
        w0 = np.asarray(w0, dtype=np.float64)
    if kind == "alt":
        if parity % 2 == 0:
            return w0.clone() if isinstance(w0, Tensor) else w0.copy()
        return torch.full_like(w0, end) if isinstance(w0, Tensor) else np.full_like(w0, end)
    s = t if kind == "lin" else t**3
    return w0 + (end - w0) * s


def _check_step(index: int, n: int, what: str) -> None:
    if n < 1 or not 0 <= index < n:
        raise ValueError(f"{what} index must be in [0, {n}) with {n} >= 1, got {index}")


def scheduled_weights(w0, batch_index: int, n_batches: int, kind: str = "lin", floor: float = 0.25):
    """Per-epoch schedule from the weights ``W0`` to the uniform floor ``omega`` (spec).

    Over the batches ``i = 0 .. B-1`` of *each* epoch (the schedule restarts every epoch):

    - ``lin``: ``W_i = W0 + (omega - W0) * i / (B - 1)``
    - ``exp``: ``W_i = W0 + (omega - W0) * (i / (B - 1)) ** 3``
    - ``alt``: ``W0`` on even batches, ``omega`` (every entry) on odd ones.

    The first batch gets ``W0``, the last ``omega`` (lin/exp). With ``B = 1`` the single batch gets
    ``W0``. Pass the per-term matrix (:func:`term_weights`) so that every term, the unweighted side
    of the ``weight_target`` included, ends at ``omega``.

    Args:
        w0: starting weights, any shape (tensor, array or number).
        batch_index: ``i``, the batch's position within its epoch, ``0 <= i < n_batches``.
        n_batches: ``B``, batches per epoch.
        kind: ``"lin"``, ``"exp"`` or ``"alt"``.
        floor: omega, the end weight.

    Returns:
        ``W_i``, same shape as ``w0`` (a tensor for a tensor, else a float64 numpy array).
    """
    _check_step(batch_index, n_batches, "batch")
    t = batch_index / (n_batches - 1) if n_batches > 1 else 0.0
    return _interpolate(w0, floor, t, batch_index, kind)


def global_scheduled_weights(w0, step: int, n_steps: int, kind: str = "lin", end: float = 1.0):
    """Schedule over the whole training run, from ``W0`` to the unweighted loss (weight ``end = 1``).

    The alternative reading of "towards the unweighted loss": one horizon over all ``T`` training
    steps ``s = 0 .. T-1`` (epochs x batches), no restart:

    - ``lin``: ``W_s = W0 + (end - W0) * s / (T - 1)``
    - ``exp``: ``W_s = W0 + (end - W0) * (s / (T - 1)) ** 3``
    - ``alt``: ``W0`` on even steps, ``end`` on odd ones.

    The first step gets ``W0``, the last ``end`` (lin/exp); with ``T = 1`` the single step gets ``W0``.

    Args:
        w0: starting weights, any shape.
        step: ``s``, the global step, ``0 <= s < n_steps``.
        n_steps: ``T``, total training steps.
        kind: ``"lin"``, ``"exp"`` or ``"alt"``.
        end: the final weight (1: the unweighted loss).

    Returns:
        ``W_s``, same shape as ``w0`` (a tensor for a tensor, else a float64 numpy array).
    """
    _check_step(step, n_steps, "step")
    t = step / (n_steps - 1) if n_steps > 1 else 0.0
    return _interpolate(w0, end, t, step, kind)


def mixed_loss(bce_terms: Tensor, weights: Tensor | np.ndarray, lam: float) -> Tensor:
    """Mixed loss: a convex combination of the weighted and the unweighted mean BCE.

    .. math::

        L = \\lambda \\, \\mathrm{mean}(W \\odot \\mathrm{BCE}) + (1 - \\lambda) \\, \\mathrm{mean}(\\mathrm{BCE}),

    both means over all entries of ``bce_terms``. Spec: ``lambda in {0.25, 0.5, 0.75}``.

    Args:
        bce_terms: unreduced loss terms, e.g. ``mc_loss(..., reduction="none")``, shape ``(B, C_eval)``.
        weights: ``W``, broadcastable to ``bce_terms`` (not the other way round), e.g. the per-term
            matrix restricted to the evaluated nodes.
        lam: lambda in [0, 1].

    Returns:
        Scalar tensor.
    """
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    w = torch.as_tensor(weights, device=bce_terms.device)
    try:
        shape = torch.broadcast_shapes(w.shape, bce_terms.shape)
    except RuntimeError:
        shape = None
    if shape != bce_terms.shape:
        raise ValueError(f"weights of shape {tuple(w.shape)} do not broadcast to bce_terms {tuple(bce_terms.shape)}")
    return lam * (w * bce_terms).mean() + (1.0 - lam) * bce_terms.mean()
