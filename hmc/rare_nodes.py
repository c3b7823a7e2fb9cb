"""Training core of the rare-node study: imbalance- and uncertainty-focal-weighted C-HMCNN ensembles.

Reference: Xu, Gillis, Sharma, Misiuk, Brown, Trappenberg, "Improving Detection of Rare Nodes in
Hierarchical Multi-Label Learning", arXiv 2602.08986 (2026) (bib key ``xu2026rarenodes``), built on
C-HMCNN (:mod:`hmc.train`). Implemented from the project spec (``specs/rare_nodes.md``); no code is
taken from the authors' (GPL-3.0) implementation.

What is trained
---------------
:func:`train_rare_nodes` trains, for every run seed s of ``seeds`` (S of them), an ensemble of H
C-HMCNN members (:class:`RareNodeConfig` says which loss, which members, ...), all seeds side by
side as in :func:`hmc.train.train_chmcnn`, and returns a :class:`hmc.train.TrainResult`.

*Deep ensemble* (``members="ensemble"``): the S x H members are the members of **one**
:class:`~hmc.models.BatchedCHMCNN` (stacked weights, member ``s * H + h`` is member h of seed s),
updated by one fused Adam step; member h of seed s is initialised from, and draws its dropout masks
from, :func:`member_seed` ``(s, h)``, which is ``s`` itself for ``h = 0``: member 0 of seed s *is*
C-HMCNN seed s. The H members of a seed see the same minibatch (that seed's data order, drawn as
:mod:`hmc.train` draws it, from ``derive_seed(s, DATA_STREAM)``), ``(S, b, F)`` tiled to
``(S * H, b, F)``.

*MC-dropout* (``members="mc_dropout"``): one network per seed (S members, initialised as C-HMCNN
seed s); each step passes the seed's batch H times with independent dropout masks: the batch is
tiled H times along the batch dimension, ``(S, H * b, F)`` with row ``h * b + i`` = pass h of
sample i, and since every row draws its own mask the H passes are independent. Its outputs are
viewed as ``(S, H, b, C)``, exactly the shape of the ensemble's, and the same loss follows.
Prediction: the mean over H stochastic passes with dropout on (``model.mc_dropout``), each seed's
masks drawn from a generator seeded with ``derive_seed(member seed, MC_PREDICT_STREAM)``.

The loss of a step
------------------
With ``p`` the members' sigmoid outputs before the MCM, shape ``(S, H, b, C)``, and ``BCE`` their
MCLoss terms (:func:`hmc.constraint.mc_loss`, no reduction, evaluated nodes only), seed s's loss is

.. math::

    L_s = R\\Big( \\big[\\, W_{s,b,c} \\,(m + u_{s,b,c}^k) \\,\\mathrm{BCE}_{s,h,b,c} \\,\\big]_{h,b,c} \\Big),
    \\qquad u_s = \\mathrm{measure}(\\mathrm{sg}[p_s]),

with R the sum (``reduction="sum"``, the reference's) or the mean over ``H x b x C_eval``
(``"mean"``), ``W`` the imbalance term weights (:func:`hmc.losses.term_weights` of
:func:`hmc.losses.imbalance_weights`), ``m`` the focal floor and ``k`` the exponent; ``u`` (detached,
from all H members of the seed) only for ``loss="focal"``, else the factor is 1; ``W = 1`` for
``loss="plain"`` (and for focal with ``weighted=False``). The schedules replace ``W`` by
:func:`hmc.losses.scheduled_weights` (per epoch, to ``omega``) or
:func:`hmc.losses.global_scheduled_weights` (over the run, to 1); the mixed loss by
``lambda W + (1 - lambda)``, so that ``R = mean`` gives :func:`hmc.losses.mixed_loss` exactly as the
spec writes it: ``lambda mean(W BCE) + (1 - lambda) mean(BCE)``. The step minimises
``sum_s L_s``: seed s's gradient is its own. For one seed, ``loss="focal"`` is
:func:`hmc.losses.focal_mc_loss` of ``p_s`` (the tests check it); with ``loss="plain"``, ``H = 1``
and ``reduction="mean"`` the step is C-HMCNN's, and the run equals ``train_chmcnn`` bit for bit on
CPU (tested).

As in :mod:`hmc.train`, the MLP and the sigmoid are differentiated by hand
(:meth:`~hmc.models.BatchedCHMCNN.forward_cached`/``backward_cached``), the float64 loss too
(:func:`hmc.constraint.mc_loss_and_grad`: no autograd in a step), the data stay on the device, there is no DataLoader, and one fused Adam step updates
all members. On CPU the uncertainty measure runs seed by seed on ``(H, b, C)`` slices, the shapes of
a one-seed run (a batched call over all seeds rounds a few elements differently, measured: the
reductions and ``exp``/``log`` kernels depend on the layout), so a seed trained in a batch of seeds
equals the seed trained alone, bit for bit (tested for the focal ensemble and MC-dropout).

Data
----
The final models fit on train+valid, as in :mod:`hmc.train`. The imbalance weights and the
training-frequency buckets of the metrics use those **train+valid rows, before LPROS** (the spec's
"training split" is, for the final model, train+valid; LPROS clones never enter the frequencies).
With ``lpros=True`` each seed oversamples with :func:`hmc.resampling.lpros_benchmark` (budget
``lpros_budget``, seeded with ``derive_seed(s, LPROS_STREAM)``); the clones' number does not depend
on the seed, so all seeds keep the same number of steps, and each seed draws its order over its
own augmented rows (the clones share the original rows' feature storage through an index map).

Metrics
-------
Besides AU(PRC), :func:`rare_node_metrics` gives per seed, on test and the evaluated nodes, the
macro precision/recall/F1 at 0.5 over all evaluated nodes (``macro_f1``, ...) and over those with
test positives (``macro_f1_pos``, ...), and the mean recall and F1 per training-frequency bucket
(``recall@freq=1-5``) and per depth (``f1@depth=3``); empty groups are left out. They go to
``TrainResult.metrics``, and :func:`hmc.runs.sweep.result_rows` writes one tidy row per name.

Method names
------------
Importing this module registers :data:`RARE_METHODS` in :data:`hmc.train.METHODS` and a resolver
(:func:`rare_config`) for any other well-formed name, so that :func:`hmc.runs.sweep.run_sweep` can run
e.g. ``"focal-gmu-H7"``. The grammar (:func:`method_name` gives the canonical spelling; the
resolver refuses other spellings of the same configuration, so that one configuration never gets
two names in a results table)::

    name     = ["lpros+"] core {"-" modifier}        ("lpros" alone = LPROS + baseline)
    core     = "baseline"                            plain MCLoss (W = 1, no focal term)
             | "imbalance-neg" | "imbalance-pos"     imbalance weights on the y=0 / y=1 terms
             | "focal-<measure>"                     focal x imbalance weights, deep ensemble
             | "mcdropout-<measure>"                 the same with MC-dropout members
             | "sched-<kind>" | "sched-global-<kind>" scheduled imbalance weights (lin, exp, alt)
             | "mixed-<lambda>"                      mixed loss, e.g. mixed-0.5
    measure  = bbma | bma | aleatoric | js | kl | gmu   (js, kl: epistemic_js, epistemic_kl)
    modifier = "binary"        K = 2 in the balanced weights (default classwise, K = C)
             | "pos"           W on the y=1 terms (focal, sched, mixed; default the y=0 terms)
             | "unw"           focal without imbalance weights (W = 1)
             | "mc"            MC-dropout members for a non-focal loss
             | "k<x>"          focal exponent (default 2, tabular)
             | "H<n>"          members per seed (default 1)
             | "mean"          mean reduction (default sum, the reference's)

Modifiers appear in that order, each only when it differs from the default. All named methods use
``reduction="sum"`` unless ``-mean`` is given (so that methods differ by their weights only);
``"baseline-mean"`` is C-HMCNN itself (``"chmcnn"``), bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from hmc.checkpoint import TrainingPaused, load_checkpoint, save_checkpoint
from hmc.constraint import MaxConstraint, mc_loss, mc_loss_and_grad
from hmc.losses import (
    UNCERTAINTY_MEASURES,
    global_scheduled_weights,
    imbalance_weights,
    scheduled_weights,
    term_weights,
)
from hmc.metrics import au_prc, breakdown, frequency_buckets, macro_prf
from hmc.models import DATA_STREAM, BatchedCHMCNN, derive_seed, member_sigmoid
from hmc.resampling import lpros_benchmark
from hmc.train import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DROPOUT,
    DEFAULT_WEIGHT_DECAY,
    METHOD_RESOLVERS,
    METHODS,
    TrainResult,
    _IdleCoreThreads,
    _make_optimizer,
    _torch_state,
    chmcnn_settings,
)

__all__ = [
    "MEMBER_STREAM",
    "LPROS_STREAM",
    "MC_PREDICT_STREAM",
    "RareNodeConfig",
    "SchedulePosition",
    "member_seed",
    "rare_node_weights",
    "rare_node_terms",
    "train_rare_nodes",
    "predict_rare_nodes",
    "rare_node_metrics",
    "method_name",
    "rare_config",
    "rare_method",
    "RARE_METHODS",
]

MEMBER_STREAM = 3
"""Stream of the ensemble members' seeds (:func:`member_seed`); 1 and 2 are dropout and data order."""
LPROS_STREAM = 4
"""Stream of the LPROS draws of a run seed: ``derive_seed(seed, LPROS_STREAM)``."""
MC_PREDICT_STREAM = 5
"""Stream of the MC-dropout prediction masks: ``derive_seed(member seed, MC_PREDICT_STREAM)``."""

LOSSES = ("plain", "imbalance", "focal")
WEIGHT_KINDS = ("classwise", "binary")
WEIGHT_TARGETS = ("negatives", "positives")
MEMBER_KINDS = ("ensemble", "mc_dropout")
SCHEDULES = ("lin", "exp", "alt", "global-lin", "global-exp", "global-alt")
REDUCTIONS = ("sum", "mean")
PAIRWISE_MEASURES = ("epistemic_js", "epistemic_kl", "gmu")
"""Measures that need H >= 2 members (a pair, or the unbiased std)."""
MEASURE_SHORT = {"bbma": "bbma", "bma": "bma", "aleatoric": "aleatoric", "epistemic_js": "js",
                 "epistemic_kl": "kl", "gmu": "gmu"}
"""Measure name -> its spelling in method names."""


# ------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class RareNodeConfig:
    """One rare-node training configuration (spec ``rare_nodes.md``); the defaults are the reference's.

    Attributes
    ----------
    loss : {"plain", "imbalance", "focal"}
        ``"plain"``: MCLoss summed over the members (W = 1, no focal term); ``"imbalance"``: each term
        times its imbalance weight ``W``; ``"focal"``: times ``W (m + u^k)`` (default).
    weight_kind : {"classwise", "binary"}
        K = C or K = 2 in ``w_c = N / (K f_c)`` (:func:`hmc.losses.balanced_weights`).
    weight_target : {"negatives", "positives"}
        Which terms get ``w'_c`` (:func:`hmc.losses.term_weights`); ``"negatives"`` reproduces the
        reference.
    measure : str
        A name in :data:`hmc.losses.UNCERTAINTY_MEASURES` (default ``"epistemic_js"``, the reference's
        for tabular data). ``epistemic_js``, ``epistemic_kl`` and ``gmu`` need H >= 2.
    exponent : float
        k (2 for tabular data, 1 for images).
    focal_floor : float
        m = 0.25.
    weight_floor : float
        omega = 0.25, the floor of the rescaled weights and the end of the per-epoch schedule.
    weighted : bool
        Focal only: multiply by the imbalance weights (True, the spec's) or not (W = 1).
    members : {"ensemble", "mc_dropout"}
        Deep ensemble of H networks, or H MC-dropout passes of one network.
    n_members : int
        H (reference default 2; the study sweeps 2, 5, 10).
    schedule : None or one of :data:`SCHEDULES`
        Per-epoch (``lin``, ``exp``, ``alt``: from W0 to omega over each epoch's batches) or global
        (``global-*``: over all steps, to 1) schedule of the imbalance weights; ``loss="imbalance"`` only.
    mixed_lambda : None or float in [0, 1]
        Mixed loss ``lambda W + (1 - lambda)``; ``loss="imbalance"`` only, not with a schedule.
    lpros : bool
        Oversample the fitting rows with LPROS (budget ``lpros_budget``, default 0.1).
    reduction : {"sum", "mean"}
        Per seed, the sum (the reference's) or the mean over ``H x b x C_eval`` of the weighted terms.
    """

    loss: str = "focal"
    weight_kind: str = "classwise"
    weight_target: str = "negatives"
    measure: str = "epistemic_js"
    exponent: float = 2.0
    focal_floor: float = 0.25
    weight_floor: float = 0.25
    weighted: bool = True
    members: str = "ensemble"
    n_members: int = 2
    schedule: str | None = None
    mixed_lambda: float | None = None
    lpros: bool = False
    lpros_budget: float = 0.1
    reduction: str = "sum"

    def __post_init__(self):
        def choice(field, options):
            if getattr(self, field) not in options:
                raise ValueError(f"{field} must be one of {options}, got {getattr(self, field)!r}")

        choice("loss", LOSSES)
        choice("weight_kind", WEIGHT_KINDS)
        choice("weight_target", WEIGHT_TARGETS)
        choice("members", MEMBER_KINDS)
        choice("reduction", REDUCTIONS)
        if self.measure not in UNCERTAINTY_MEASURES:
            raise ValueError(f"measure must be one of {tuple(UNCERTAINTY_MEASURES)}, got {self.measure!r}")
        if self.schedule is not None:
            choice("schedule", SCHEDULES)
        for name in ("exponent", "focal_floor", "weight_floor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if isinstance(self.n_members, bool) or not isinstance(self.n_members, int) or self.n_members < 1:
            raise ValueError(f"n_members must be an integer >= 1, got {self.n_members!r}")
        if not (isinstance(self.lpros_budget, int | float) and 0.0 <= self.lpros_budget <= 1.0):
            raise ValueError(f"lpros_budget must be in [0, 1], got {self.lpros_budget!r}")
        if self.mixed_lambda is not None and not (
            isinstance(self.mixed_lambda, int | float) and 0.0 <= self.mixed_lambda <= 1.0
        ):
            raise ValueError(f"mixed_lambda must be None or in [0, 1], got {self.mixed_lambda!r}")
        for name, value in (("schedule", self.schedule), ("mixed_lambda", self.mixed_lambda)):
            if value is not None and self.loss != "imbalance":
                raise ValueError(
                    f"{name}={value!r} needs loss='imbalance' (the spec's scheduler and mixed loss weight the "
                    f"imbalance weights, with no focal term), got loss={self.loss!r}"
                )
        if self.schedule is not None and self.mixed_lambda is not None:
            raise ValueError("give a schedule or a mixed loss (mixed_lambda), not both")
        if self.loss == "imbalance" and not self.weighted:
            raise ValueError("loss='imbalance' with weighted=False is the plain loss: use loss='plain'")
        if self.loss == "focal" and self.measure in PAIRWISE_MEASURES and self.n_members < 2:
            raise ValueError(f"measure {self.measure!r} needs n_members >= 2, got {self.n_members}")

    @property
    def has_weights(self) -> bool:
        """Whether the loss uses the imbalance weights ``W``."""
        return self.loss == "imbalance" or (self.loss == "focal" and self.weighted)


def member_seed(seed: int, h: int) -> int:
    """Seed of member h of run seed ``seed``: ``seed`` for ``h = 0``, else a 63-bit derived seed.

    ``h > 0``: ``numpy.random.SeedSequence([seed, MEMBER_STREAM, h])``, independent of the seed's
    other streams (:func:`hmc.models.derive_seed`) and of the other members. The member initialises
    and draws dropout from it exactly as a C-HMCNN model of that seed would, so member 0 of seed s is
    C-HMCNN seed s.
    """
    if h < 0:
        raise ValueError(f"member index must be >= 0, got {h}")
    if h == 0:
        return int(seed)
    state = np.random.SeedSequence([int(seed), MEMBER_STREAM, int(h)]).generate_state(1, dtype=np.uint64)[0]
    return int(state) & ((1 << 63) - 1)


# ------------------------------------------------------------------------------------- loss
class SchedulePosition(NamedTuple):
    """Where a step sits: batch ``batch_index`` of ``n_batches`` in its epoch, global ``step`` of ``n_steps``."""

    batch_index: int = 0
    n_batches: int = 1
    step: int = 0
    n_steps: int = 1


def _focal_factor(p: Tensor, config: RareNodeConfig, per_seed: bool | None = None) -> Tensor:
    """``m + u^k`` per seed, ``(S, H, b, C)`` -> ``(S, b, C)`` in ``p``'s dtype; ``u`` from ``p`` (detached).

    ``per_seed`` (default: on CPU): seed by seed, on the ``(H, b, C)`` slices (bitwise the values of a
    one-seed run; module docstring); else in one call over ``(H, S * b, C)`` (GPU).
    """
    fn = UNCERTAINTY_MEASURES[config.measure]
    p = p.detach()
    s, h, b, c = p.shape
    if per_seed is None:
        per_seed = p.device.type == "cpu"
    if per_seed:
        return torch.stack([config.focal_floor + fn(p[i]).pow(config.exponent) for i in range(s)])
    u = fn(p.transpose(0, 1).reshape(h, s * b, c)).view(s, b, c)
    return config.focal_floor + u.pow(config.exponent)


def rare_node_weights(
    p: Tensor,
    y: Tensor,
    config: RareNodeConfig,
    node_weights: Tensor | np.ndarray | None = None,
    position: SchedulePosition = SchedulePosition(),
) -> Tensor | None:
    """Per-term weights of a step, ``(S, 1, b, C)`` (broadcast over the H members), or None (all 1).

    ``W0 = term_weights(node_weights, y, weight_target)`` (float64), then the schedule
    (:func:`~hmc.losses.scheduled_weights` at ``(batch_index, n_batches)`` with end omega, or
    :func:`~hmc.losses.global_scheduled_weights` at ``(step, n_steps)`` with end 1) or the mixing
    ``lambda W + (1 - lambda)``; for ``loss="focal"``, times ``m + u^k`` (:func:`_focal_factor`).

    Args:
        p: member sigmoid outputs before the MCM, ``(S, H, b, C)`` (only the focal term reads them).
        y: 0/1 labels ``(S, b, C)``.
        config: the :class:`RareNodeConfig`.
        node_weights: ``w'`` of :func:`hmc.losses.imbalance_weights`, ``(C,)``; needed when the loss has
            weights.
        position: the step's :class:`SchedulePosition` (schedules only).
    """
    weight = None
    if config.has_weights:
        if node_weights is None:
            raise ValueError(f"loss={config.loss!r} needs the node weights")
        weight = term_weights(torch.as_tensor(node_weights, device=y.device), y, config.weight_target)
        if config.schedule is not None:
            kind = config.schedule.removeprefix("global-")
            if config.schedule.startswith("global-"):
                weight = global_scheduled_weights(weight, position.step, position.n_steps, kind, end=1.0)
            else:
                weight = scheduled_weights(weight, position.batch_index, position.n_batches, kind,
                                           floor=config.weight_floor)
        elif config.mixed_lambda is not None:
            weight = weight * config.mixed_lambda + (1.0 - config.mixed_lambda)
    if config.loss == "focal":
        factor = _focal_factor(p, config)
        weight = factor if weight is None else weight * factor
    return None if weight is None else weight.unsqueeze(1)


def rare_node_terms(
    p: Tensor,
    y: Tensor,
    mcm: MaxConstraint,
    eval_nodes: Tensor | np.ndarray | None,
    config: RareNodeConfig,
    node_weights: Tensor | np.ndarray | None = None,
    position: SchedulePosition = SchedulePosition(),
    validate: bool = True,
) -> Tensor:
    """Weighted MCLoss terms of every seed and member, float64 ``(S, H, b, C_eval)``.

    ``W_{s,b,c} (m + u_{s,b,c}^k) BCE_{s,h,b,c}`` (module docstring) with the weights of
    :func:`rare_node_weights`; one MCM pass for all seeds and members. Reduce with
    ``terms.sum((1, 2, 3))`` (``reduction="sum"``) or ``terms.mean((1, 2, 3))`` for the per-seed losses.

    Args:
        p: member sigmoid outputs before the MCM, ``(S, H, b, C)`` (differentiable).
        y: 0/1 labels ``(S, b, C)`` (seed s's batch, shared by its H members).
        mcm: the hierarchy's :class:`~hmc.constraint.MaxConstraint`.
        eval_nodes: evaluated node indices (int64 tensor for the hot path) or None.
        config, node_weights, position: as for :func:`rare_node_weights`.
        validate: check the values of ``p``, ``y`` and the weights (:func:`hmc.constraint.mc_loss`);
            the training loop passes False (the loaders check the labels, the sigmoid bounds ``p``).
    """
    if p.dim() != 4 or y.dim() != 3 or p.shape[0] != y.shape[0] or p.shape[2:] != y.shape[1:]:
        raise ValueError(f"p must be (S, H, b, C) and y (S, b, C), got {tuple(p.shape)} and {tuple(y.shape)}")
    weight = rare_node_weights(p, y, config, node_weights, position)
    return mc_loss(p, y.unsqueeze(1), mcm, eval_nodes, weight=weight, reduction="none", validate=validate)


# ------------------------------------------------------------------------------------- training
class _Run:
    """Everything one training run needs: data on the device, LPROS index maps, weights, model, optimiser."""

    def __init__(self, benchmark, seeds: list[int], config: RareNodeConfig, settings: dict, device, optimizer: str):
        self.config, self.seeds, self.settings, self.device = config, seeds, settings, device
        self.n_seeds, self.n_members = len(seeds), config.n_members
        self.mc = config.members == "mc_dropout"
        x_fit = np.concatenate([benchmark.x_train, benchmark.x_valid]).astype(np.float32, copy=False)
        y_fit = np.concatenate([benchmark.y_train, benchmark.y_valid]).astype(np.uint8, copy=False)
        hierarchy = benchmark.hierarchy
        self.n_fit, self.n_nodes = y_fit.shape
        if len(hierarchy) != self.n_nodes:
            raise ValueError(f"labels have {self.n_nodes} columns but the hierarchy has {len(hierarchy)} nodes")
        self.y_fit = hierarchy.propagate(y_fit)  # the original fitting rows: frequencies, buckets
        self.x = torch.as_tensor(x_fit, device=device)
        self.xmap = self.ymap = None
        self.clones = [0] * self.n_seeds
        y_rows = y_fit
        if config.lpros:
            results = [
                lpros_benchmark(benchmark, budget=config.lpros_budget, seed=derive_seed(s, LPROS_STREAM))[1]
                for s in seeds
            ]
            self.clones = [r.n_clones for r in results]
            m = self.clones[0]
            if any(c != m for c in self.clones):
                raise RuntimeError(f"LPROS made different numbers of clones per seed: {self.clones}")
            n = self.n_fit
            self.xmap = torch.stack(
                [torch.cat([torch.arange(n), torch.as_tensor(r.source, dtype=torch.int64)]) for r in results]
            ).to(device)
            self.ymap = torch.stack(
                [torch.cat([torch.arange(n), n + i * m + torch.arange(m)]) for i in range(self.n_seeds)]
            ).to(device)
            y_rows = np.concatenate([y_fit] + [r.y[n:].astype(np.uint8) for r in results])
        self.y = torch.as_tensor(y_rows, device=device)
        self.n_rows = self.n_fit + self.clones[0]  # rows each seed draws its order over

        self.mcm = MaxConstraint(hierarchy).to(device)
        self.eval_idx = torch.as_tensor(np.asarray(benchmark.eval_nodes, dtype=np.int64), device=device)
        self.node_weights = None
        if config.has_weights:
            w = imbalance_weights(self.y_fit, hierarchy, config.weight_kind, config.weight_floor)
            self.node_weights = torch.as_tensor(w, dtype=torch.float64, device=device)
        h = 1 if self.mc else self.n_members
        model_seeds = [member_seed(s, j) for s in seeds for j in range(h)]
        self.model = BatchedCHMCNN(
            None, self.x.shape[1], settings["hidden_dim"], self.n_nodes, dropout=settings["dropout"], seeds=model_seeds
        ).to(device)
        self.model.train()
        self.opt = _make_optimizer(self.model.parameters(), settings["lr"], settings["weight_decay"], optimizer, device)
        self.data_gens = [torch.Generator().manual_seed(derive_seed(s, DATA_STREAM)) for s in seeds]

    def identity(self) -> dict:
        """What a checkpoint of this run must match to be resumed (configuration, settings, seeds, rows)."""
        return {"trainer": "rare_nodes", "config": dataclasses.asdict(self.config), "settings": dict(self.settings),
                "seeds": list(self.seeds), "n_rows": int(self.n_rows), "n_nodes": int(self.n_nodes),
                "device": self.device.type}

    def permutations(self) -> Tensor:
        """Each seed's order of its rows for one epoch, ``(S, n_rows)``, drawn on the CPU as hmc.train does."""
        return torch.stack([torch.randperm(self.n_rows, generator=g) for g in self.data_gens]).to(self.device)

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``(S, b, F)`` and labels ``(S, b, C)`` of the row positions ``idx`` ``(S, b)``."""
        if self.xmap is None:
            return self.x[idx], self.y[idx]
        return self.x[self.xmap.gather(1, idx)], self.y[self.ymap.gather(1, idx)]

    def forward(self, xb: Tensor) -> tuple[Tensor, dict, Tensor]:
        """Padded logits, the forward cache and the member probabilities ``(S * H, b, C)`` or ``(S, H * b, C)``."""
        s, b, f = xb.shape
        h, c = self.n_members, self.n_nodes
        if self.mc:
            xin = xb.repeat(1, h, 1)  # (S, H*b, F): row j*b + i is pass j of sample i, each row its own mask
        else:
            xin = xb.unsqueeze(1).expand(s, h, b, f).reshape(s * h, b, f)  # member s*H + j gets seed s's batch
        z, cache = self.model.forward_cached(xin)
        probs = member_sigmoid(z[..., :c])  # (S*H, b, C) or (S, H*b, C): same memory order
        return z, cache, probs

    def loss_and_grad(self, xb: Tensor, yb: Tensor, position: SchedulePosition) -> Tensor:
        """Write the step's parameter gradients into ``.grad``; return the per-seed losses ``(S,)``, detached.

        The terms and their gradient come from :func:`hmc.constraint.mc_loss_and_grad` with the
        weights of :func:`rare_node_weights`: bit for bit autograd's of :func:`rare_node_terms`.
        """
        z, cache, probs = self.forward(xb)
        s, b = yb.shape[:2]
        p = probs.view(s, self.n_members, b, self.n_nodes)
        weight = rare_node_weights(p, yb, self.config, self.node_weights, position)
        n_terms = self.n_members * b * len(self.eval_idx)
        scale = 1.0 / n_terms if self.config.reduction == "mean" else 1.0
        terms, grad_p = mc_loss_and_grad(p, yb.unsqueeze(1), self.mcm, self.eval_idx, weight, grad_scale=scale)
        per_seed = terms.mean(dim=(1, 2, 3)) if self.config.reduction == "mean" else terms.sum(dim=(1, 2, 3))
        grad_z = z.new_zeros(z.shape)
        grad_z[..., : self.n_nodes] = torch.ops.aten.sigmoid_backward(grad_p.view(probs.shape), probs)
        self.model.backward_cached(grad_z, cache)
        return per_seed


def train_rare_nodes(
    benchmark,
    seeds: Sequence[int],
    config: RareNodeConfig | str = RareNodeConfig(),
    epochs: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float | None = None,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    hidden_dim: int | None = None,
    dropout: float = DEFAULT_DROPOUT,
    device: str | torch.device = "cpu",
    progress: bool = True,
    num_threads: int | str | None = "auto",
    deterministic: bool | None = None,
    optimizer: str = "fused",
    eval_batch_size: int = 2048,
    step_callback: Callable[[int], None] | None = None,
    checkpoint: str | None = None,
    stop_at: float | None = None,
) -> TrainResult:
    """Train a rare-node configuration for every seed in ``seeds`` side by side; predict and score test.

    Parameters
    ----------
    benchmark
        As for :func:`hmc.train.train_chmcnn` (a Benchmark, or an object with the six split arrays,
        ``hierarchy``, ``eval_nodes`` and, for settings left as None, a ``spec``).
    seeds
        Distinct run seeds; seed s trains exactly as ``train_rare_nodes(benchmark, [s], config)`` would.
    config
        A :class:`RareNodeConfig`, or a method name (:func:`rare_config`).
    epochs, batch_size, lr, weight_decay, hidden_dim, dropout
        The C-HMCNN settings (:func:`hmc.train.chmcnn_settings`; None: the dataset's spec).
    device, progress, num_threads, deterministic, optimizer, eval_batch_size, step_callback
        As for :func:`hmc.train.train_chmcnn`. ``eval_batch_size`` is divided by H for a deep
        ensemble (rows per prediction pass of all S x H members). The deep ensemble's results do not
        depend on the thread count (its training GEMMs have the spec's batch of 4 rows; tested).
        MC-dropout's have ``H x b`` rows and run one GEMM per member, which MKL does not always
        round the same way with 1 and 2 threads (measured: a 10-feature x 16-unit layer's weight
        gradient over 20 or more rows differs by 1 ulp; at the spec's layer sizes it did not), so
        for MC-dropout ``num_threads="auto"`` keeps the current thread count for the whole run
        (no switching between 1 and all threads) and the run is deterministic for a given count.
    checkpoint, stop_at
        A checkpoint path (saved after every epoch, resumed from when it exists) and a time to
        pause at (an epoch boundary): see :func:`_fit`. The caller removes the checkpoint once the
        results are stored.

    Returns
    -------
    TrainResult
        ``predictions`` (S, N_test, C) float32: per seed the mean over its H members (or H MC-dropout
        passes) of the MCM outputs; ``au_prc`` (S,); ``epoch_loss`` (S, epochs): mean over an epoch's
        steps of the seed's step loss (the configured reduction of its weighted terms);
        ``metrics``: :func:`rare_node_metrics`; ``settings``: the C-HMCNN settings plus ``device``;
        ``extra``: as train_chmcnn's plus ``config`` (dict), ``method`` (canonical name or None),
        ``n_fit_rows`` (rows each seed draws from per epoch, clones included), ``lpros_clones`` (per seed).
    """
    if isinstance(config, str):
        config = rare_config(config)
    if not isinstance(config, RareNodeConfig):
        raise TypeError(f"config must be a RareNodeConfig or a method name, got {type(config).__name__}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("no seeds given")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    settings = chmcnn_settings(benchmark, epochs, lr, hidden_dim, batch_size, weight_decay, dropout)
    device = torch.device(device)
    if config.members == "mc_dropout" and config.n_members > 1 and settings["dropout"] == 0:
        raise ValueError("MC-dropout members need dropout > 0 (with dropout 0 the H passes are identical)")
    if deterministic is None:
        deterministic = device.type == "cpu"
    mc = config.members == "mc_dropout"
    started = time.perf_counter()
    with _torch_state(num_threads, deterministic):
        tuner = None
        if num_threads == "auto" and device.type == "cpu" and torch.get_num_threads() > 1 and not mc:
            tuner = _IdleCoreThreads(torch.get_num_threads())
        threads = torch.get_num_threads()
        run = _Run(benchmark, seeds, config, settings, device, optimizer)
        epoch_loss, n_steps, previous_s = _fit(run, getattr(benchmark, "name", "data"), progress, step_callback,
                                               tuner, checkpoint, stop_at)
        fitted = time.perf_counter()
        predictions = predict_rare_nodes(
            run.model, benchmark.x_test, benchmark.hierarchy, len(seeds), config.n_members,
            mc_dropout=mc, device=device, batch_size=eval_batch_size,
        )
    predicted = time.perf_counter()
    timing = {"fit_s": previous_s + fitted - started, "predict_s": predicted - fitted,
              "threads": threads if tuner is None else "auto",
              "steps_per_thread_count": tuner.steps if tuner is not None else {threads: n_steps}}
    result = _result(benchmark, run, config, seeds, predictions, epoch_loss, n_steps, timing)
    result.wall_time_s = previous_s + time.perf_counter() - started  # training, prediction and scoring
    return result


def _result(benchmark, run: _Run, config: RareNodeConfig, seeds: list[int], predictions: np.ndarray,
            epoch_loss: np.ndarray, n_steps: int, timing: dict) -> TrainResult:
    """The :class:`~hmc.train.TrainResult` of ``config``'s seeds: AU(PRC) and :func:`rare_node_metrics`
    of its ``predictions`` (S, N_test, C) on test, its ``epoch_loss`` (S, E), ``timing`` (``fit_s``,
    ``predict_s``, ...) in ``extra``; ``wall_time_s`` is left 0 for the caller to set once it has scored."""
    scores = np.array([au_prc(benchmark.y_test, predictions[s], benchmark.eval_nodes) for s in range(len(seeds))])
    metrics = rare_node_metrics(
        benchmark.y_test, predictions, benchmark.eval_nodes, run.y_fit.sum(axis=0), benchmark.hierarchy.depth
    )
    try:
        name = method_name(config)
    except ValueError:
        name = None
    return TrainResult(
        seeds=seeds,
        predictions=predictions,
        au_prc=scores,
        epoch_loss=epoch_loss,
        settings={**run.settings, "device": run.device.type},
        wall_time_s=0.0,
        n_steps=n_steps,
        extra={
            **timing,
            "config": dataclasses.asdict(config),
            "method": name,
            "n_fit_rows": run.n_rows,
            "lpros_clones": list(run.clones),
        },
        metrics=metrics,
    )


def _fit(run: _Run, name: str, progress: bool, step_callback, tuner, checkpoint=None,
         stop_at: float | None = None) -> tuple[np.ndarray, int, float]:
    """The training loop (that of :func:`hmc.train.train_chmcnn`).

    Returns the losses (S, E), the step count and the seconds spent before a resumed checkpoint.
    With ``checkpoint`` (a path), the state is saved after every epoch (:func:`hmc.checkpoint.save_checkpoint`:
    weights, Adam, the data-order and dropout generators, the losses so far) and a run finds it
    there and continues after its last finished epoch; the resumed run is bit for bit the
    uninterrupted one (tested with SIGKILL). ``stop_at`` (a ``time.time()`` value): after an epoch,
    if another epoch as long as the last would end after it, raise :class:`hmc.checkpoint.TrainingPaused`
    (the checkpoint holds the progress).
    """
    from tqdm.std import tqdm

    bs, epochs = run.settings["batch_size"], run.settings["epochs"]
    n = run.n_rows
    steps_per_epoch = math.ceil(n / bs) if n else 0
    n_steps = epochs * steps_per_epoch
    epoch_loss = torch.zeros(run.n_seeds, epochs, dtype=torch.float64, device=run.device)
    identity = run.identity() if checkpoint is not None else {}
    state = load_checkpoint(checkpoint, identity, map_location=run.device)
    start_epoch, step, previous_s = 0, 0, 0.0
    if state is not None:
        run.model.load_state_dict(state["model"])
        run.opt.load_state_dict(state["optimizer"])
        for gen, saved in zip(run.data_gens, state["data_generators"], strict=True):
            gen.set_state(saved)
        for gen, saved in zip(run.model.dropout_generators(run.device), state["dropout_generators"], strict=True):
            gen.set_state(saved)
        start_epoch, step, previous_s = int(state["epoch"]), int(state["step"]), float(state["elapsed_s"])
        epoch_loss[:, :start_epoch] = state["epoch_loss"].to(run.device)
    what = "MC-dropout passes" if run.mc else "members"
    bar = tqdm(
        total=n_steps,
        initial=step,
        desc=f"{name} rare-node, {run.n_seeds} seed{'s' if run.n_seeds > 1 else ''} x {run.n_members} {what}/step",
        unit="step",
        disable=not progress,
        mininterval=1.0,
        leave=False,
    )
    begun = time.perf_counter()
    with bar:
        for epoch in range(start_epoch, epochs):
            epoch_start = time.perf_counter()
            perm = run.permutations()
            running = torch.zeros(run.n_seeds, dtype=torch.float64, device=run.device)
            for i, start in enumerate(range(0, n, bs)):
                if tuner is not None:
                    tuner.begin()
                xb, yb = run.batch(perm[:, start : start + bs])
                running += run.loss_and_grad(xb, yb, SchedulePosition(i, steps_per_epoch, step, n_steps))
                run.opt.step()
                if tuner is not None:
                    tuner.end()
                step += 1
                bar.update(1)
                if step_callback is not None:
                    step_callback(step)
            epoch_loss[:, epoch] = running / steps_per_epoch
            if progress:
                bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{epoch_loss[:, epoch].mean().item():.4f}")
            if checkpoint is not None and epoch + 1 < epochs:
                save_checkpoint(checkpoint, {
                    "identity": identity,
                    "model": run.model.state_dict(),
                    "optimizer": run.opt.state_dict(),
                    "data_generators": [g.get_state() for g in run.data_gens],
                    "dropout_generators": [g.get_state() for g in run.model.dropout_generators(run.device)],
                    "epoch": epoch + 1,
                    "step": step,
                    "epoch_loss": epoch_loss[:, : epoch + 1].cpu(),
                    "elapsed_s": previous_s + time.perf_counter() - begun,
                })
                now = time.time()
                if stop_at is not None and now + (time.perf_counter() - epoch_start) > stop_at:
                    raise TrainingPaused(f"{name}: paused after epoch {epoch + 1} of {epochs} (time budget); "
                                         f"the checkpoint {checkpoint} holds the progress", epoch + 1)
    return epoch_loss.cpu().numpy(), step, previous_s


@torch.no_grad()
def predict_rare_nodes(
    model: BatchedCHMCNN,
    x: np.ndarray | Tensor,
    hierarchy,
    n_seeds: int,
    n_members: int,
    mc_dropout: bool = False,
    device: str | torch.device | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """Per-seed ensemble predictions on ``x`` (N, F): float32 ``(S, N, C)``.

    Deep ensemble (``model`` has S x H members, member ``s * H + h``): the mean over h of the
    members' MCM outputs, eval mode, ``batch_size // H`` rows per pass. MC-dropout (``model`` has S
    members): the mean of H passes with dropout on (``model.mc_dropout``), each member's masks drawn
    from a generator re-seeded with ``derive_seed(member seed, MC_PREDICT_STREAM)`` (independent of
    how long it trained). The mean is a float32 running sum in member order divided by H (for
    H = 1 the outputs themselves). Restores the model's mode and ``mc_dropout`` flag.
    """
    device = torch.device(device) if device is not None else model.weights[0].device
    expected = n_seeds if mc_dropout else n_seeds * n_members
    if model.n_members != expected:
        raise ValueError(f"model has {model.n_members} members, expected {expected}")
    mcm = MaxConstraint(hierarchy).to(device)
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, Tensor) else x)
    c = model.out_dim
    out = torch.empty((n_seeds, len(x), c), dtype=torch.float32)
    was_training, was_mc = model.training, model.mc_dropout
    model.eval()
    try:
        if mc_dropout:
            model.mc_dropout = True
            for gen, seed in zip(model.dropout_generators(device), model.seeds, strict=True):
                gen.manual_seed(derive_seed(seed, MC_PREDICT_STREAM))
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].to(device)
                acc = None
                for _ in range(n_members):
                    z, _ = model.forward_cached(xb)
                    pred = mcm(member_sigmoid(z[..., :c]))
                    acc = pred if acc is None else acc.add_(pred)
                out[:, start : start + len(xb)] = (acc / n_members if n_members > 1 else acc).cpu()
        else:
            rows = max(1, batch_size // n_members)
            for start in range(0, len(x), rows):
                xb = x[start : start + rows].to(device)
                z, _ = model.forward_cached(xb)
                pred = mcm(member_sigmoid(z[..., :c])).view(n_seeds, n_members, len(xb), c)
                acc = pred[:, 0].clone()
                for h in range(1, n_members):
                    acc.add_(pred[:, h])
                out[:, start : start + len(xb)] = (acc / n_members if n_members > 1 else acc).cpu()
    finally:
        model.train(was_training)
        model.mc_dropout = was_mc
    return out.numpy()


# ------------------------------------------------------------------------------------- metrics
def rare_node_metrics(
    y_test,
    predictions: np.ndarray,
    eval_nodes,
    train_counts: np.ndarray,
    depth: np.ndarray,
    threshold: float = 0.5,
) -> dict[str, np.ndarray]:
    """Per-seed rare-node metrics on test (spec "Metrics"), name -> float64 array ``(S,)``.

    ``macro_precision``, ``macro_recall``, ``macro_f1`` (:func:`hmc.metrics.macro_prf`, all evaluated
    nodes) and the same with ``_pos`` (nodes with test positives); ``recall@freq=<bucket>`` and
    ``f1@freq=<bucket>`` (:func:`hmc.metrics.breakdown` over :func:`hmc.metrics.frequency_buckets` of
    ``train_counts``, all evaluated nodes of the bucket), ``recall@depth=<d>``, ``f1@depth=<d>``
    (the same per ``depth``). Groups without evaluated nodes are left out.

    Args:
        y_test: 0/1 labels ``(N, C)``.
        predictions: ``(S, N, C)`` MCM outputs.
        eval_nodes: evaluated node indices.
        train_counts: positives per node on the training rows, ``(C,)`` (labels propagated).
        depth: per-node depth ``(C,)`` (``hierarchy.depth``).
        threshold: a score above it is a positive prediction.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim != 3:
        raise ValueError(f"predictions must be (S, N, C), got shape {predictions.shape}")
    buckets = frequency_buckets(np.asarray(train_counts))
    out: dict[str, list[float]] = {}

    def add(name, value):
        out.setdefault(name, []).append(float(value))

    for pred in predictions:
        for suffix, nodes in (("", "all"), ("_pos", "with_positives")):
            macro = macro_prf(y_test, pred, eval_nodes, threshold, nodes=nodes)
            add(f"macro_precision{suffix}", macro.precision)
            add(f"macro_recall{suffix}", macro.recall)
            add(f"macro_f1{suffix}", macro.f1)
        for key, groups in (("freq", buckets), ("depth", np.asarray(depth))):
            table = breakdown(y_test, pred, groups, eval_nodes, threshold)
            for group, row in table[table.n_nodes > 0].iterrows():
                add(f"recall@{key}={group}", row.recall)
                add(f"f1@{key}={group}", row.f1)
    return {name: np.asarray(values, dtype=np.float64) for name, values in out.items()}


# ------------------------------------------------------------------------------------- method names
_MEASURE_LONG = {short: long for long, short in MEASURE_SHORT.items()}


def method_name(config: RareNodeConfig) -> str:
    """The canonical method name of a configuration (module docstring, "Method names").

    Raises ValueError for settings that names do not express (floors, LPROS budget other than the
    spec's 0.25, 0.25 and 0.1).
    """
    default = RareNodeConfig()
    for name in ("focal_floor", "weight_floor", "lpros_budget"):
        if getattr(config, name) != getattr(default, name):
            raise ValueError(f"no method name expresses {name}={getattr(config, name)!r}")
    c = config
    if c.loss == "plain":
        core = "baseline"
    elif c.schedule is not None:
        core = f"sched-{c.schedule}"
    elif c.mixed_lambda is not None:
        core = f"mixed-{c.mixed_lambda:g}"
    elif c.loss == "imbalance":
        core = "imbalance-" + ("neg" if c.weight_target == "negatives" else "pos")
    else:
        core = ("mcdropout-" if c.members == "mc_dropout" else "focal-") + MEASURE_SHORT[c.measure]
    mods = []
    if c.has_weights and c.weight_kind == "binary":
        mods.append("binary")
    if c.loss == "focal" and not c.weighted:
        mods.append("unw")
    elif c.has_weights and not core.startswith("imbalance-") and c.weight_target == "positives":
        mods.append("pos")
    if c.members == "mc_dropout" and c.loss != "focal":
        mods.append("mc")
    if c.loss == "focal" and c.exponent != 2:
        mods.append(f"k{c.exponent:g}")
    if c.n_members != 1:
        mods.append(f"H{c.n_members}")
    if c.reduction == "mean":
        mods.append("mean")
    name = "-".join([core, *mods])
    if c.lpros:
        name = "lpros" + name.removeprefix("baseline") if name.startswith("baseline") else f"lpros+{name}"
    return name


def rare_config(name: str) -> RareNodeConfig:
    """The :class:`RareNodeConfig` of a method name (grammar in the module docstring); ValueError if malformed.

    Any modifier order is parsed; :func:`method_name` gives the canonical spelling.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a method name must be a non-empty string, got {name!r}")
    rest = name
    kw: dict = {}
    if rest.startswith("lpros+"):
        kw["lpros"], rest = True, rest[len("lpros+") :]
    elif rest == "lpros" or rest.startswith("lpros-"):
        kw["lpros"], rest = True, "baseline" + rest[len("lpros") :]
    tokens = rest.split("-")
    core = tokens.pop(0)

    def need(what):
        if not tokens:
            raise ValueError(f"method {name!r}: {core!r} needs {what}")
        return tokens.pop(0)

    kw["n_members"] = 1
    if core == "baseline":
        kw["loss"] = "plain"
    elif core == "imbalance":
        kw["loss"] = "imbalance"
        target = need("'neg' or 'pos'")
        if target not in ("neg", "pos"):
            raise ValueError(f"method {name!r}: imbalance-<neg|pos> expected, got {target!r}")
        kw["weight_target"] = "negatives" if target == "neg" else "positives"
    elif core in ("focal", "mcdropout"):
        measure = need("a measure")
        measure = _MEASURE_LONG.get(measure, measure)
        if measure not in UNCERTAINTY_MEASURES:
            raise ValueError(f"method {name!r}: unknown measure; use one of {sorted(_MEASURE_LONG)}")
        kw.update(loss="focal", measure=measure, members="mc_dropout" if core == "mcdropout" else "ensemble")
    elif core == "sched":
        kind = need("a schedule kind")
        if kind == "global":
            kind = "global-" + need("a schedule kind")
        kw.update(loss="imbalance", schedule=kind)
    elif core == "mixed":
        token = need("lambda")
        try:
            lam = float(token)
        except ValueError:
            raise ValueError(f"method {name!r}: mixed-<lambda> expected, got {token!r}") from None
        kw.update(loss="imbalance", mixed_lambda=lam)
    else:
        raise ValueError(f"method {name!r}: unknown core {core!r}")
    for token in tokens:
        if token in ("neg", "pos") and core != "imbalance":
            kw["weight_target"] = "negatives" if token == "neg" else "positives"
        elif token == "binary":
            kw["weight_kind"] = "binary"
        elif token == "unw":
            kw["weighted"] = False
        elif token == "mc":
            kw["members"] = "mc_dropout"
        elif token == "mean":
            kw["reduction"] = "mean"
        elif re.fullmatch(r"H[0-9]+", token):
            kw["n_members"] = int(token[1:])
        elif re.fullmatch(r"k[0-9]+(\.[0-9]+)?", token):
            kw["exponent"] = float(token[1:])
        else:
            raise ValueError(f"method {name!r}: unknown modifier {token!r}")
    if "unw" in tokens and kw.get("loss") != "focal":
        raise ValueError(f"method {name!r}: 'unw' applies to focal losses only")
    return RareNodeConfig(**kw)


def rare_method(config: RareNodeConfig | str) -> Callable[..., TrainResult]:
    """A sweepable training function ``fn(benchmark, seeds, **kwargs)`` for a configuration or name."""
    if isinstance(config, str):
        config = rare_config(config)
    fn = functools.partial(train_rare_nodes, config=config)
    functools.update_wrapper(fn, train_rare_nodes)
    return fn


def _resolve(name: str) -> Callable[..., TrainResult] | None:
    """Resolver for :data:`hmc.train.METHOD_RESOLVERS`: a canonical rare-node name, else None."""
    try:
        config = rare_config(name)
    except ValueError:
        return None
    canonical = method_name(config)
    if canonical != name:
        raise ValueError(f"method {name!r} is spelled {canonical!r} in this study: use that name")
    return rare_method(config)


def _named_methods() -> dict[str, RareNodeConfig]:
    short = list(MEASURE_SHORT.values())
    names = ["baseline", "baseline-mean", "imbalance-neg", "imbalance-pos", "lpros", "lpros+imbalance-neg"]
    names += [f"sched-{kind}" for kind in SCHEDULES]
    names += [f"mixed-{lam:g}" for lam in (0.25, 0.5, 0.75)]
    for h in (2, 5, 10):
        names += [f"baseline-H{h}", f"imbalance-neg-H{h}", f"imbalance-pos-H{h}", f"lpros+imbalance-neg-H{h}"]
        for m in short:
            names += [f"focal-{m}-H{h}", f"focal-{m}-pos-H{h}", f"focal-{m}-unw-H{h}", f"mcdropout-{m}-H{h}",
                      f"lpros+focal-{m}-H{h}"]
    return {n: rare_config(n) for n in names}


RARE_METHODS: dict[str, RareNodeConfig] = _named_methods()
"""The study's named rare-node methods (canonical names, H in {1, 2, 5, 10}); all registered in
:data:`hmc.train.METHODS` on import. Other well-formed names (e.g. ``"focal-gmu-H7"``) resolve too."""

for _name, _config in RARE_METHODS.items():
    METHODS.setdefault(_name, rare_method(_config))
if _resolve not in METHOD_RESOLVERS:
    METHOD_RESOLVERS.append(_resolve)
