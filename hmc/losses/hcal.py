"""HCAL's losses: prototype contrastive loss, child-to-parent aggregation, prototype perturbation, balancers.

Reference: R. Jiang, M. Liu, H. Liu, Y. Yu, "Hierarchy-Consistent Learning and Adaptive Loss Balancing
for Hierarchical Multi-Label Classification", CIKM 2025 (bib key ``jiang2025hcal``). Implemented from
the project spec (``specs/hcal.md``); no code is taken from the authors' implementation.

Levels are indexed ``k = 0 .. m-1`` in code, ``k = 0`` the finest (the spec's level 1). ``f`` are the
L2-normalised embeddings ``(B, d)``, a *bank* the L2-normalised prototypes of one level ``(C_k, d)``,
so ``f @ bank.T`` are cosine similarities.

Contents
--------
*Prototype losses*: :func:`prototype_ce` (per sample, the finest level), :func:`aggregated_prototype_ce`
(child-to-parent aggregation: one mean feature per class present in the batch) and
:func:`hcal_level_losses` (the m level losses of a batch).

*Prototype perturbation*: :func:`perturb_prototypes`, ``P~ = normalise(normalise(P) + u)`` with uniform
or Gaussian noise ``u``, applied by the trainer to every bank at every training step.

*Loss balancers* (:class:`Balancer` modules, built by :func:`make_balancer` from a name in
:data:`BALANCERS`): each maps the m level losses to a total loss and the level weights.

========================  ==========================================================================
``softmax_loss``          :class:`SoftmaxLossBalancer`, the authors' code (default)
``convergence_rate``      :class:`ConvergenceRateBalancer`, the abstract's wording
``dwa``                   :class:`DWABalancer`, Liu et al. 2019 (``liu2019dwa``)
``uncertainty``           :class:`UncertaintyBalancer`, Kendall et al. 2018 (``kendall2018multitask``)
``equal``                 :class:`EqualBalancer`, ``1/m`` each
========================  ==========================================================================

Input checks: the losses check shapes and dtypes always, and by default (``validate=True``) also the
values: ``f`` and the banks finite (NaN or inf raise ValueError naming the argument), ``y`` in
``[0, C)``. The value checks wait for the device; a training loop passes ``validate=False``.

A balancer keeps all its state in buffers and parameters, so ``state_dict()`` / ``load_state_dict()``
checkpoint it exactly; move it to the losses' device with ``.to(device)``. The epoch-based balancers
compute their weights once per epoch, in :meth:`Balancer.epoch_end`, so ``forward`` never waits on the
device.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "PERTURBATION_NOISES",
    "perturb_prototypes",
    "prototype_ce",
    "aggregated_prototype_ce",
    "hcal_level_losses",
    "BALANCERS",
    "RATE_REFERENCES",
    "Balancer",
    "SoftmaxLossBalancer",
    "ConvergenceRateBalancer",
    "DWABalancer",
    "UncertaintyBalancer",
    "EqualBalancer",
    "make_balancer",
]

PERTURBATION_NOISES = ("uniform", "gaussian")
"""Noise kinds of :func:`perturb_prototypes`."""

BALANCERS = ("softmax_loss", "convergence_rate", "dwa", "uncertainty", "equal")
"""Names accepted by :func:`make_balancer`."""

RATE_REFERENCES = ("previous", "initial")
"""Denominators of :class:`ConvergenceRateBalancer`'s ratio: the epoch before the last, or the first."""


# ---------------------------------------------------------------------------- checks
def _check_positive(value: float, name: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_features(f: Tensor, bank: Tensor, y: Tensor, tau: float, validate: bool = True) -> None:
    """Shapes of ``f (B, d)``, ``bank (C, d)``, ``y (B,)`` (integer) and ``tau > 0``; with ``validate`` the values too."""
    if f.ndim != 2 or bank.ndim != 2:
        shapes = f"{tuple(f.shape)} and {tuple(bank.shape)}"
        raise ValueError(f"f and bank must be 2-d (B, d) and (C, d), got shapes {shapes}")
    if f.shape[1] != bank.shape[1]:
        raise ValueError(f"f (B, d) and bank (C, d) must have the same d, got {f.shape[1]} and {bank.shape[1]}")
    if y.ndim != 1 or y.shape[0] != f.shape[0]:
        raise ValueError(f"y must have shape ({f.shape[0]},) to match f, got {tuple(y.shape)}")
    if f.shape[0] == 0:
        raise ValueError("the batch is empty (B = 0): the loss is a mean over no samples")
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}")
    _check_positive(tau, "tau")
    if validate:
        _check_finite(f, "f")
        _check_finite(bank, "bank")
        _check_classes(y, bank.shape[0], "y")


def _check_finite(x: Tensor, name: str) -> None:
    """ValueError unless every value of ``x`` is finite."""
    bad = ~torch.isfinite(x.detach())
    if bool(bad.any()):
        n_nan = int(torch.isnan(x.detach()).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {int(bad.sum()) - n_nan} infinite value(s) of {x.numel()}: expected "
            "finite numbers; look for NaN or inf in the model's inputs or parameters (a diverged training step?)"
        )


def _check_classes(y: Tensor, n_classes: int, name: str) -> None:
    """ValueError unless every class index of ``y`` lies in [0, n_classes)."""
    if y.numel():
        lo, hi = torch.stack(torch.aminmax(y)).tolist()
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"{name} must hold class indices in [0, {n_classes}), got indices from {lo} to {hi}")


# ---------------------------------------------------------------------------- perturbation
def perturb_prototypes(
    P: Tensor, eps: float, noise: str = "uniform", generator: torch.Generator | None = None
) -> Tensor:
    """Perturbed, L2-normalised prototypes (the spec's prototype perturbation).

    .. math::

        \\tilde P_c = \\frac{\\hat P_c + u_c}{\\lVert \\hat P_c + u_c \\rVert_2}, \\qquad
        \\hat P_c = \\frac{P_c}{\\lVert P_c \\rVert_2},

    with ``u = eps * (2 * torch.rand(C, d, generator=generator) - 1)`` (``"uniform"``: every entry
    ``~ U(-eps, eps)``) or ``u = eps * torch.randn(C, d, generator=generator)`` (``"gaussian"``:
    ``N(0, eps^2)``), drawn in ``P``'s dtype on ``P``'s device (``generator`` must live there too).
    ``eps = 0`` draws nothing and returns ``normalise(P)``. Normalisation is
    :func:`torch.nn.functional.normalize` (``||x|| -> max(||x||, 1e-12)``). Differentiable w.r.t. ``P``
    (``u`` is a constant); the trainer applies it at training steps only, with fresh noise each step.

    Args:
        P: raw prototypes of one level, shape ``(C, d)``.
        eps: noise scale, ``>= 0`` (spec: 0.01).
        noise: ``"uniform"`` or ``"gaussian"``.
        generator: random generator for ``u`` (``None``: torch's global one).

    Returns:
        ``(C, d)``, every row of unit norm.
    """
    if noise not in PERTURBATION_NOISES:
        raise ValueError(f"noise must be one of {PERTURBATION_NOISES}, got {noise!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if P.ndim != 2:
        raise ValueError(f"P must be 2-d (C, d), got shape {tuple(P.shape)}")
    unit = F.normalize(P, dim=1)
    if eps == 0:
        return unit
    draw = torch.rand if noise == "uniform" else torch.randn
    u = draw(P.shape, generator=generator, dtype=P.dtype, device=P.device)
    u = eps * (2 * u - 1) if noise == "uniform" else eps * u
    return F.normalize(unit + u, dim=1)


# ---------------------------------------------------------------------------- prototype losses
def prototype_ce(f: Tensor, bank: Tensor, y: Tensor, tau: float = 0.1, validate: bool = True) -> Tensor:
    """Prototype contrastive loss, per sample: cross-entropy over cosine logits / tau.

    .. math::

        L = \\frac{1}{B} \\sum_{i=1}^{B} -\\log \\frac{\\exp(f_i \\cdot p_{y_i} / \\tau)}
            {\\sum_{c=1}^{C} \\exp(f_i \\cdot p_c / \\tau)} .

    ``f`` and ``bank`` are used as given: pass L2-normalised features and prototypes (then the dot
    products are cosines).

    Args:
        f: features, shape ``(B, d)``, ``B >= 1``.
        bank: prototypes of the level, shape ``(C, d)``.
        y: class indices in ``[0, C)``, shape ``(B,)``.
        tau: temperature ``> 0`` (spec: 0.1).
        validate: check that ``f`` and ``bank`` are finite and ``y`` in range (ValueError naming the
            argument); False in training loops (the checks wait for the device).

    Returns:
        scalar.
    """
    _check_features(f, bank, y, tau, validate)
    return F.cross_entropy(f @ bank.T / tau, y)


def aggregated_prototype_ce(f: Tensor, bank: Tensor, y: Tensor, tau: float = 0.1, validate: bool = True) -> Tensor:
    """Prototype contrastive loss with child-to-parent aggregation: one mean feature per class present.

    For every class ``c`` present in ``y`` (the set ``K``), ``F_c`` is the mean of the features of the
    samples labelled ``c`` (not re-normalised), and

    .. math::

        F_c = \\frac{1}{n_c} \\sum_{i : y_i = c} f_i, \\qquad
        L = \\frac{1}{|K|} \\sum_{c \\in K} -\\log \\frac{\\exp(F_c \\cdot p_c / \\tau)}
            {\\sum_{j=1}^{C} \\exp(F_c \\cdot p_j / \\tau)} .

    Vectorised with a one-hot matrix ``Y (B, C)``: ``F = (Y^T f) / max(n, 1)`` for all C classes, the
    cross-entropy of every row, and the mean over the rows with ``n_c > 0`` (absent classes get
    weight 0), so there is no loop over classes and no host-device synchronisation.

    Args:
        f: features, shape ``(B, d)``, ``B >= 1``.
        bank: prototypes of the level, shape ``(C, d)``.
        y: class indices in ``[0, C)``, shape ``(B,)``.
        tau: temperature ``> 0`` (spec: 0.1).
        validate: check the values, as :func:`prototype_ce`.

    Returns:
        scalar. With every class of the batch present once it equals :func:`prototype_ce`.
    """
    _check_features(f, bank, y, tau, validate)
    n_classes = bank.shape[0]
    onehot = F.one_hot(y, n_classes).to(f.dtype)  # (B, C)
    counts = onehot.sum(dim=0)  # (C,)
    means = (onehot.T @ f) / counts.clamp(min=1).unsqueeze(1)  # (C, d)
    per_class = F.cross_entropy(means @ bank.T / tau, torch.arange(n_classes, device=f.device), reduction="none")
    present = (counts > 0).to(per_class.dtype)
    return (per_class * present).sum() / present.sum()


def hcal_level_losses(
    f: Tensor, banks: Sequence[Tensor], y: Tensor, tau: float = 0.1, aggregate: bool = True, validate: bool = True
) -> Tensor:
    """The m level losses of HCAL for one batch.

    ``L_0 = prototype_ce(f, banks[0], y[:, 0])`` (finest level, per sample); for ``k >= 1``
    ``L_k = aggregated_prototype_ce(f, banks[k], y[:, k])`` when ``aggregate`` (child-to-parent
    aggregation, the spec's default), else ``prototype_ce`` (the no-aggregation ablation).

    Args:
        f: L2-normalised features, shape ``(B, d)``.
        banks: m prototype banks, ``banks[k]`` of shape ``(C_k, d)`` (normalised, perturbed or not).
        y: labels, shape ``(B, m)``, column k the level-k class.
        tau: temperature ``> 0``.
        aggregate: aggregate levels ``k >= 1``.
        validate: check the values once for all levels (``f`` and every bank finite, ``y`` in
            range; ValueError naming the argument and the level); False in training loops.

    Returns:
        ``(m,)``, the level losses, differentiable.
    """
    if y.ndim != 2 or y.shape[1] != len(banks):
        raise ValueError(f"y must have shape (B, {len(banks)}) (one column per bank), got {tuple(y.shape)}")
    if validate:
        _check_finite(f, "f")
        for k, bank in enumerate(banks):
            _check_finite(bank, f"banks[{k}]")
            _check_classes(y[:, k], bank.shape[0], f"y[:, {k}]")
    losses = [prototype_ce(f, banks[0], y[:, 0], tau, validate=False)]
    level_loss = aggregated_prototype_ce if aggregate else prototype_ce
    losses += [level_loss(f, banks[k], y[:, k], tau, validate=False) for k in range(1, len(banks))]
    return torch.stack(losses)


# ---------------------------------------------------------------------------- balancers
class Balancer(nn.Module, ABC):
    """Combines the m level losses into one: ``forward(losses) -> (total, weights)``.

    ``total = sum_k lambda_k L_k`` (plus a regulariser for :class:`UncertaintyBalancer`); ``weights``
    are the ``lambda_k``, detached. :meth:`epoch_end` records the epoch's mean level losses; only the
    epoch-based balancers use them.

    Args:
        n_levels: m >= 1.

    Shape:
        - losses: ``(m,)``.
        - Output: a scalar and ``(m,)``.
    """

    def __init__(self, n_levels: int):
        super().__init__()
        if not (isinstance(n_levels, (int, np.integer)) and n_levels >= 1):
            raise ValueError(f"n_levels must be an integer >= 1, got {n_levels!r}")
        self.n_levels = int(n_levels)

    def _check_losses(self, losses: Tensor) -> None:
        if losses.shape != (self.n_levels,):
            raise ValueError(f"losses must have shape ({self.n_levels},), got {tuple(losses.shape)}")

    @abstractmethod
    def level_weights(self, losses: Tensor) -> Tensor:
        """The weights ``lambda`` (``(m,)``, no gradient) for the level losses ``losses`` (``(m,)``)."""

    def forward(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        self._check_losses(losses)
        weights = self.level_weights(losses).detach()
        return (weights * losses).sum(), weights

    def epoch_end(self, mean_losses: Tensor | Sequence[float]) -> None:
        """Record the mean level losses of a finished epoch, shape ``(m,)`` (ignored by this balancer)."""
        self._epoch_vector(mean_losses)

    def _epoch_vector(self, mean_losses: Tensor | Sequence[float]) -> Tensor:
        x = torch.as_tensor(mean_losses).detach()
        if x.shape != (self.n_levels,):
            raise ValueError(f"mean_losses must have shape ({self.n_levels},), got {tuple(x.shape)}")
        return x

    def extra_repr(self) -> str:
        return f"n_levels={self.n_levels}"


class SoftmaxLossBalancer(Balancer):
    """The authors' balancer: softmax of the detached level losses, every step (``jiang2025hcal``).

    .. math::

        \\lambda = \\operatorname{softmax}\\big(\\operatorname{sg}[L_1, \\dots, L_m] / \\gamma\\big), \\qquad
        L = \\sum_k \\lambda_k L_k ,

    ``sg`` = stop-gradient, so ``dL/dL_k = lambda_k``. The weights sum to 1; the level with the larger
    loss gets the larger weight. No state.

    Args:
        n_levels: m.
        gamma: temperature ``> 0`` (spec: 0.5).
    """

    def __init__(self, n_levels: int, gamma: float = 0.5):
        super().__init__(n_levels)
        _check_positive(gamma, "gamma")
        self.gamma = float(gamma)

    def level_weights(self, losses: Tensor) -> Tensor:
        return torch.softmax(losses.detach() / self.gamma, dim=0)

    def extra_repr(self) -> str:
        return f"n_levels={self.n_levels}, gamma={self.gamma}"


class ConvergenceRateBalancer(Balancer):
    """Weights from the levels' loss ratios over epochs (the HCAL abstract's "convergence rate").

    .. math::

        \\lambda = \\operatorname{softmax}(r / \\gamma), \\qquad
        r_k = \\frac{\\bar L_k(t-1)}{\\bar L_k(t-2)} \\;(\\text{reference = "previous"}) \\quad\\text{or}\\quad
        r_k = \\frac{\\bar L_k(t-1)}{\\bar L_k(1)} \\;(\\text{reference = "initial"}),

    with ``\\bar L_k(s)`` the mean loss of level k over epoch s (recorded by :meth:`epoch_end`) and t the
    current epoch. A level whose loss falls more slowly has the larger ratio and gets more weight. Until
    two epochs (``"previous"``) or one epoch (``"initial"``) are recorded, ``lambda_k = 1/m``. The weights
    sum to 1 and stay fixed within an epoch; ``total = sum_k lambda_k L_k``.

    State (buffers, float64): ``first``, ``previous``, ``last`` (the mean losses of epochs 1, t-2, t-1),
    ``n_epochs`` (recorded so far) and ``weights`` (the current lambda).

    Args:
        n_levels: m.
        gamma: temperature ``> 0`` (default 0.5, the softmax_loss balancer's).
        reference: ``"previous"`` (DWA-style) or ``"initial"``.
    """

    first: Tensor
    previous: Tensor
    last: Tensor
    n_epochs: Tensor
    weights: Tensor

    def __init__(self, n_levels: int, gamma: float = 0.5, reference: str = "previous"):
        super().__init__(n_levels)
        _check_positive(gamma, "gamma")
        if reference not in RATE_REFERENCES:
            raise ValueError(f"reference must be one of {RATE_REFERENCES}, got {reference!r}")
        self.gamma, self.reference = float(gamma), reference
        for name in ("first", "previous", "last"):
            self.register_buffer(name, torch.zeros(self.n_levels, dtype=torch.float64))
        self.register_buffer("n_epochs", torch.zeros((), dtype=torch.int64))
        self.register_buffer("weights", self._initial_weights())

    def _initial_weights(self) -> Tensor:
        """The weights before enough epochs are recorded: ``1/m`` each."""
        return torch.full((self.n_levels,), 1.0 / self.n_levels, dtype=torch.float64)

    def _ratio_weights(self, r: Tensor) -> Tensor:
        """The weights of the ratios ``r``: ``softmax(r / gamma)``."""
        return torch.softmax(r / self.gamma, dim=0)

    def level_weights(self, losses: Tensor) -> Tensor:
        # a copy: the buffer is overwritten in place at the next epoch_end, and callers keep the weights
        return self.weights.to(device=losses.device, dtype=losses.dtype, copy=True)

    def epoch_end(self, mean_losses: Tensor | Sequence[float]) -> None:
        """Record an epoch's mean level losses ``(m,)`` (finite, > 0) and recompute the weights."""
        x = self._epoch_vector(mean_losses).to(device=self.last.device, dtype=torch.float64)
        if not (torch.isfinite(x).all() and (x > 0).all()):
            raise ValueError(f"mean_losses must be finite and > 0 (they divide), got {x.tolist()}")
        if int(self.n_epochs) == 0:
            self.first.copy_(x)
        self.previous.copy_(self.last)
        self.last.copy_(x)
        self.n_epochs += 1
        needed = 2 if self.reference == "previous" else 1
        if int(self.n_epochs) >= needed:
            denominator = self.previous if self.reference == "previous" else self.first
            self.weights.copy_(self._ratio_weights(self.last / denominator))

    def extra_repr(self) -> str:
        return f"n_levels={self.n_levels}, gamma={self.gamma}, reference={self.reference!r}"


class DWABalancer(ConvergenceRateBalancer):
    """Dynamic Weight Average (Liu, Johns, Davison, "End-to-end multi-task learning with attention",
    CVPR 2019, bib key ``liu2019dwa``).

    .. math::

        \\lambda_k(t) = m \\, \\frac{\\exp(r_k / T)}{\\sum_j \\exp(r_j / T)}, \\qquad
        r_k = \\frac{\\bar L_k(t-1)}{\\bar L_k(t-2)}, \\qquad L = \\sum_k \\lambda_k L_k ,

    ``\\bar L_k(s)`` the mean loss of level k over epoch s, ``T = 2``; ``lambda_k = 1`` for the first two
    epochs (until two epochs are recorded). The weights sum to m. State as
    :class:`ConvergenceRateBalancer` (reference ``"previous"``).

    Args:
        n_levels: m.
        temperature: T ``> 0`` (paper: 2).
    """

    def __init__(self, n_levels: int, temperature: float = 2.0):
        super().__init__(n_levels, gamma=temperature, reference="previous")

    def _initial_weights(self) -> Tensor:
        return torch.ones(self.n_levels, dtype=torch.float64)

    def _ratio_weights(self, r: Tensor) -> Tensor:
        return self.n_levels * torch.softmax(r / self.gamma, dim=0)

    def extra_repr(self) -> str:
        return f"n_levels={self.n_levels}, temperature={self.gamma}"


class UncertaintyBalancer(Balancer):
    """Homoscedastic-uncertainty weighting (Kendall, Gal, Cipolla, "Multi-task learning using uncertainty
    to weigh losses for scene geometry and semantics", CVPR 2018, bib key ``kendall2018multitask``).

    .. math::

        L = \\sum_k \\big( e^{-s_k} L_k + s_k \\big), \\qquad s_k = \\log \\sigma_k^2, \\qquad \\lambda_k = e^{-s_k},

    with learnable ``s`` (the parameter ``log_var``, initialised 0: ``lambda_k = 1``), so
    ``dL/ds_k = 1 - e^{-s_k} L_k`` and the optimum is ``e^{-s_k} = 1 / L_k``. This is the form most
    implementations use; the paper's classification term ``L_k / sigma_k^2 + log sigma_k`` halves the
    ``s_k`` term. Give ``parameters()`` to the optimiser.

    Args:
        n_levels: m.
    """

    def __init__(self, n_levels: int):
        super().__init__(n_levels)
        self.log_var = nn.Parameter(torch.zeros(self.n_levels))

    def level_weights(self, losses: Tensor) -> Tensor:
        return torch.exp(-self.log_var).detach().to(losses.dtype)

    def forward(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        self._check_losses(losses)
        precision = torch.exp(-self.log_var)
        return (precision * losses + self.log_var).sum(), precision.detach()


class EqualBalancer(Balancer):
    """Fixed equal weights ``lambda_k = 1/m``: ``L = (1/m) sum_k L_k``.

    ``1/m`` rather than 1 keeps the total on the scale of :class:`SoftmaxLossBalancer`, whose weights
    also sum to 1, so the same learning rates apply. No state.

    Args:
        n_levels: m.
    """

    def level_weights(self, losses: Tensor) -> Tensor:
        return torch.full_like(losses, 1.0 / self.n_levels)


def make_balancer(
    name: str, n_levels: int, gamma: float = 0.5, temperature: float = 2.0, reference: str = "previous"
) -> Balancer:
    """The balancer called ``name`` (one of :data:`BALANCERS`) for ``n_levels`` levels.

    ``gamma`` is used by ``softmax_loss`` and ``convergence_rate``, ``reference`` by
    ``convergence_rate``, ``temperature`` by ``dwa``; the others ignore them.
    """
    if name == "softmax_loss":
        return SoftmaxLossBalancer(n_levels, gamma)
    if name == "convergence_rate":
        return ConvergenceRateBalancer(n_levels, gamma, reference)
    if name == "dwa":
        return DWABalancer(n_levels, temperature)
    if name == "uncertainty":
        return UncertaintyBalancer(n_levels)
    if name == "equal":
        return EqualBalancer(n_levels)
    raise ValueError(f"balancer must be one of {BALANCERS}, got {name!r}")
