"""Training HCAL and its baselines on image hierarchies: one seeded, resumable run per call.

:func:`train_image_model` trains one model (``config.method``) on an
:class:`~hmc.data.images.ImageHierarchy` and evaluates it on the test split (and on the validation
split, when the data have one) every ``config.eval_every`` epochs. Methods (``specs/hcal.md``):

| method | model (:mod:`hmc.models.images`) | training loss of a batch |
|---|---|---|
| ``hcal`` | :class:`HCALNet` (prototype banks) | :func:`~hmc.losses.hcal.hcal_level_losses` on the perturbed banks, combined by the balancer |
| ``flat`` | :class:`FlatMultiTask` | ``(1/m) sum_k CE_k`` (equal weights) |
| ``mmoe`` | :class:`MMoE` | ``sum_k CE_k`` |
| ``chmcnn`` | :class:`CHMCNNHeads` | MCLoss (:func:`hmc.constraint.mc_loss`) summed over all nodes, mean over the batch |

Each run records, per level k, the epoch's mean training loss ``loss_k`` and mean weight
``weight_k`` such that a step's total loss is ``sum_k weight_k * loss_k`` (HCAL: the balancer's
weights; flat: 1/m; MMoE: 1; C-HMCNN: ``C_k``, since its loss is the sum over the nodes).

C-HMCNN's loss on images is MCLoss *summed* over the nodes (mean over the batch), not the mean over
batch x nodes of the C-HMCNN reference, which trains with Adam, whose steps do not depend on the
loss's scale. Under the HCAL spec's SGD, shared by every method here, the mean over Omniglot's 1,673
nodes divides every gradient by 1,673, and at the spec's learning rates the heads learned to predict
every node absent (character accuracy 0.000 after 30 epochs, seed 0 of chapter 06's evidence
setting). The sum gives the heads the gradient scale of a per-image loss, as the flat baseline's
cross-entropy has: a deviation, named on chapter 06's page.

The loop follows the project's speed rules (``DESIGN.md``): the whole dataset is moved to the device
once as uint8; each epoch visits it in a random order and every batch is augmented and normalised on
the device (:mod:`hmc.augment`): images of at most 64 px get the spec's CIFAR augmentation
(RandomCrop with padding 4, horizontal flip, rotation of up to 15 degrees) and no test-time
transform; larger images get RandomResizedCrop(224) + flip, and Resize(256) + CenterCrop(224) at test
time. Normalisation is ``(x - mean) / std`` with the dataset's constants. On CUDA with
``config.amp`` the forward passes run under ``torch.autocast`` (bfloat16 where supported, else
float16 with a gradient scaler); losses are computed in float32 (MCLoss in float64).

Randomness and resuming: the model is initialised under ``torch.manual_seed(config.seed)`` (the
global generator's state is restored afterwards); everything random in epoch e (1-based) comes from
generators seeded by ``(seed, e)`` alone: the data order from ``derive_seed(seed, e)`` (a CPU
generator, so the order is the same on every device), the augmentation and the prototype
perturbation from ``derive_seed(derive_seed(seed, e), AUGMENT_STREAM / PERTURB_STREAM)`` on the
device. After every epoch the run writes a checkpoint atomically (temporary file, fsync,
``os.replace``) holding the model, optimiser, learning-rate schedule, balancer, gradient scaler,
history, epoch and config; a later call with the same checkpoint path and config continues after
the last finished epoch, and on a CPU (deterministic algorithms on) its history equals that of an
uninterrupted run bit for bit (``tests/test_image_train.py`` kills a run with SIGKILL to check it).

:func:`result_rows` turns a run into tidy rows, one per model-selection protocol
(:data:`hmc.metrics.levels.SELECTION_PROTOCOLS`) and metric.

Options added later (:data:`LATE_FIELDS`, left out of a checkpoint's identity at their defaults):
``backbone="conv4"`` (with ``width``) trains every method on the 4-block convolutional encoder of
:func:`hmc.models.images.make_backbone` instead of the paper's ResNet-18; ``robustness_sigmas``
adds, at every evaluation of the test split, the accuracy of each level and the full-path accuracy
under seeded Gaussian pixel noise (:func:`hmc.metrics.robustness.robust_accuracy`: the same noisy
images for every method and seed), as history columns ``robust_acc_<k>@<sigma>`` and result metrics
``robust_acc_<level name>@<sigma>``, ``robust_full_path@<sigma>``.

Sweeps: the result tables name a run by a method *label* (:data:`METHOD_LABELS`): HCAL as the
authors run it (``hcal``), its ablations (``hcal-noagg``, ``hcal-noperturb``, ``hcal-gauss``, one
``hcal-<balancer>`` per other balancer) and the baselines; :func:`method_config` gives a label's
:class:`ImageRunConfig`. :func:`run_image_sweep` runs units ``(dataset, label, seed)`` one after the
other, each with its own checkpoint, and appends their rows to a results CSV and a history CSV
(rewritten atomically after each unit), so a sweep killed at any moment resumes where it stopped:
finished units are read back, the unit in progress continues from its last epoch. It can also keep
the t-SNE material of the HCAL runs (:func:`save_embeddings`, :func:`load_embeddings`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from hmc.augment import augment_batch, random_resized_crop, resize_center_crop
from hmc.constraint import mc_loss
from hmc.data.images import ImageHierarchy
from hmc.checkpoint import TrainingPaused, load_checkpoint, save_checkpoint
from hmc.fileio import atomic_write
from hmc.losses.hcal import BALANCERS, hcal_level_losses, make_balancer, perturb_prototypes
from hmc.metrics.levels import (
    SELECTION_PROTOCOLS,
    consistent_decode,
    full_path_accuracy,
    hierarchy_violation_rate,
    level_accuracy,
    predict_levels,
    select_epoch,
)
from hmc.metrics.robustness import robust_accuracy, sigma_label
from hmc.models import derive_seed
from hmc.models.images import BACKBONES, CONV4_WIDTH, MMoE, CHMCNNHeads, FlatMultiTask, HCALNet

METHODS = ("hcal", "flat", "mmoe", "chmcnn")
"""Values of ``ImageRunConfig.method``."""
SCHEDULES = ("constant", "cosine")
"""Learning-rate schedules: constant, or ``lr_e = lr * (1 + cos(pi * e / epochs)) / 2`` for epoch e = 0.."""
NOISES = ("uniform", "gaussian")
"""Prototype-perturbation noise (:func:`~hmc.losses.hcal.perturb_prototypes`)."""

AUGMENT_STREAM = 1
PERTURB_STREAM = 2
EMBED_STREAM = 3
"""Sub-streams of an epoch's seed ``derive_seed(seed, epoch)`` (EMBED: the t-SNE subset, ``epoch`` 0)."""

MEMORY_FORMAT = torch.channels_last
"""The memory format of the image networks' weights and inputs. Channels-last (NHWC) runs the Conv-4's
forward and backward pass 1.44x and its evaluation 1.51x faster than the default NCHW on this
project's CPU at one thread (``benchmarks/bench_image_memory_format.py``, HCAL on the Conv-4 of width
64 at 28 px, nothing else running); the outputs agree with NCHW's to float32 rounding
(``tests/test_image_train.py``)."""

SMALL_IMAGE_MAX = 64
"""Images up to this side get the CIFAR augmentation; larger ones the 224-px crops."""
CROP_SIZE, RESIZE_SIZE = 224, 256
CIFAR_PADDING, CIFAR_DEGREES = 4, 15.0

METRICS = ("full_path", "hvr", "consistent_full_path")
"""Path metrics of a history row, after the per-level ``acc_<k>`` columns."""
SETTING_COLUMNS = ("epochs", "batch_size", "schedule", "image_size", "backbone", "pretrained_used", "device",
                   "wall_time_s")
RESULT_COLUMNS = ("dataset", "method", "seed", "protocol", "epoch", "metric", "value", *SETTING_COLUMNS)
"""Columns of :func:`result_rows`."""


# ------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ImageRunConfig:
    """Everything that determines a training run (two runs with equal configs on equal data and the
    same device give the same results; a checkpoint is resumed only under an equal config).

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    epochs : int
        Training epochs (>= 1).
    balancer, gamma : str, float
        HCAL's loss balancer (:data:`hmc.losses.hcal.BALANCERS`) and its temperature gamma (0.5).
    aggregate : bool
        HCAL: child-to-parent feature aggregation for levels >= 1 (else per-sample loss at every level).
    eps, noise : float or tuple of float, str
        HCAL's prototype perturbation during training: ``eps`` (0 = off), one bound for every level
        or one per level (finest first, as ``lr_prototypes``; the spec asks for an eps per level),
        and ``"uniform"`` / ``"gaussian"`` noise.
    tau : float
        HCAL's temperature of the cosine logits (0.1).
    batch_size : int
        Training batch (32). The last batch of an epoch keeps the remainder.
    lr_backbone : float
        Learning rate of the backbone (and HCAL's 512 -> 256 embedding; the uncertainty balancer's
        log-variances also use it, without weight decay).
    lr_prototypes : tuple of float
        HCAL: learning rate of the prototype bank of each level, finest first (0.05, 0.1, 0.2); the
        first m are used.
    lr_heads : float
        Baselines: learning rate of the heads (flat, MMoE experts/gates/towers, C-HMCNN).
    momentum, weight_decay : float
        SGD settings (0.9, 1e-4), weight decay on every parameter group of the model.
    schedule : str
        ``"constant"`` or ``"cosine"`` (per epoch, see :data:`SCHEDULES`).
    pretrained : bool or None
        ImageNet weights for the ResNet-18 (:func:`hmc.models.images.resnet18_backbone`): None = if in
        the local cache.
    seed : int
        Initialisation and all per-epoch randomness.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    amp : bool
        Mixed precision on CUDA (ignored on a CPU).
    eval_every : int
        Evaluate every this many epochs; the last epoch is always evaluated.
    backbone, width : str, int
        The image backbone (:data:`hmc.models.images.BACKBONES`): ``"resnet18"`` (the paper's, the
        default) or ``"conv4"`` (4 conv blocks of ``width`` channels; a CPU-sized deviation from the
        paper). ``width`` applies to conv4 only (64; another value with resnet18 is refused).
    robustness_sigmas : tuple of float
        Noise strengths sigma >= 0 (in [0, 1] pixel units of the view the network sees, before
        normalisation) of the robustness measurement (:func:`hmc.metrics.robustness.robust_accuracy`)
        made once, at the last epoch's evaluation of the test split (each sigma costs a pass over the
        test set, so measuring it every epoch would double the evaluation); empty (the default) =
        none. Adds the history columns ``robust_acc_<k>@<sigma>`` and ``robust_full_path@<sigma>``
        (:func:`history_columns`; NaN in the rows of earlier epochs and of the validation split).

    The fields added after results were committed (:data:`LATE_FIELDS`: ``backbone``, ``width``,
    ``robustness_sigmas``) enter a checkpoint's identity only when they differ from their
    defaults, so checkpoints written before they existed are still resumed.
    """

    method: str
    epochs: int
    balancer: str = "softmax_loss"
    aggregate: bool = True
    eps: float | tuple[float, ...] = 0.01
    noise: str = "uniform"
    tau: float = 0.1
    gamma: float = 0.5
    batch_size: int = 32
    lr_backbone: float = 0.01
    lr_prototypes: tuple[float, ...] = (0.05, 0.1, 0.2)
    lr_heads: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "constant"
    pretrained: bool | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    eval_every: int = 1
    backbone: str = "resnet18"
    width: int = CONV4_WIDTH
    robustness_sigmas: tuple[float, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "lr_prototypes", tuple(float(v) for v in self.lr_prototypes))
        try:
            sigmas = tuple(float(v) for v in self.robustness_sigmas)
        except (TypeError, ValueError) as err:
            raise ValueError(f"robustness_sigmas must be a tuple of numbers, got {self.robustness_sigmas!r}") from err
        if any(not math.isfinite(v) or v < 0 for v in sigmas) \
                or len({sigma_label(v) for v in sigmas}) != len(sigmas):
            raise ValueError(f"robustness_sigmas must be distinct finite numbers >= 0, got {self.robustness_sigmas!r}")
        object.__setattr__(self, "robustness_sigmas", sigmas)
        choices = {"method": METHODS, "balancer": BALANCERS, "noise": NOISES, "schedule": SCHEDULES,
                   "backbone": BACKBONES}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "eval_every", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("tau", "gamma", "lr_backbone", "lr_heads"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("momentum", "weight_decay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        eps = self.eps if isinstance(self.eps, tuple) else (self.eps,)
        if not eps or not all(isinstance(e, int | float) and math.isfinite(e) and e >= 0 for e in eps):
            raise ValueError(f"eps must be a finite number >= 0 or a non-empty tuple of them, got {self.eps!r}")
        if not self.lr_prototypes or min(self.lr_prototypes) <= 0:
            raise ValueError(f"lr_prototypes must be positive rates, got {self.lr_prototypes}")
        if self.pretrained not in (None, True, False):
            raise ValueError(f"pretrained must be None, True or False, got {self.pretrained!r}")
        if self.backbone == "resnet18" and self.width != CONV4_WIDTH:
            raise ValueError(f"width applies to the conv4 backbone only, got width={self.width} with resnet18")
        if self.backbone == "conv4" and self.pretrained is True:
            raise ValueError("the conv4 backbone has no pretrained weights (pretrained=True)")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError as err:
                raise ValueError(f"device must be 'auto' or a torch device name, got {self.device!r}") from err


LATE_FIELDS = ("backbone", "width", "robustness_sigmas")
""":class:`ImageRunConfig` fields added after results and checkpoints were committed; at their
defaults they are left out of a checkpoint's identity (:func:`config_identity`)."""


def config_identity(config: ImageRunConfig) -> dict[str, Any]:
    """``dataclasses.asdict(config)`` without the :data:`LATE_FIELDS` that hold their defaults: the
    configuration a checkpoint records, equal to the one recorded before those fields existed."""
    out = dataclasses.asdict(config)
    defaults = {f.name: f.default for f in dataclasses.fields(ImageRunConfig)}
    for name in LATE_FIELDS:
        if out[name] == defaults[name]:
            del out[name]
    return out


def backbone_label(config: ImageRunConfig) -> str:
    """The backbone as the results name it: ``"resnet18"``, or ``"conv4-w<width>"``.

    >>> backbone_label(ImageRunConfig("flat", 1, backbone="conv4", width=32))
    'conv4-w32'
    """
    return config.backbone if config.backbone == "resnet18" else f"{config.backbone}-w{config.width}"


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> ``cuda`` if available else ``cpu``; any other name -> ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ------------------------------------------------------------------------------------- result
@dataclass
class ImageRunResult:
    """What :func:`train_image_model` returns.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per evaluated epoch and split (``"test"``, and ``"val"`` when the data have a
        validation split), columns :func:`history_columns`: ``epoch`` (1-based), ``split``,
        ``acc_<k>`` (top-1 accuracy of level k, 0 = finest), ``full_path``, ``hvr``,
        ``consistent_full_path`` (full-path accuracy of :func:`~hmc.metrics.levels.consistent_decode`),
        ``loss_<k>`` and ``weight_<k>`` (the epoch's mean training loss and weight of level k; equal
        on the test and val rows of an epoch).
    config : ImageRunConfig
    pretrained_used : bool
        Whether the ResNet-18 started from ImageNet weights.
    device : str
        Where it ran (``"cpu"``, ``"cuda"``).
    wall_time_s : float
        Training and evaluation time, summed over resumed calls.
    level_names : tuple of str
        The data's level names, finest first.
    image_size : int
        Side of the stored images (the network sees 224 px when it is above 64).
    model : nn.Module or None
        The trained model in eval mode, on ``device``.
    data : ImageHierarchy or None
        The training data (for :meth:`embeddings`).
    """

    history: pd.DataFrame
    config: ImageRunConfig
    pretrained_used: bool
    device: str
    wall_time_s: float
    level_names: tuple[str, ...]
    image_size: int
    model: nn.Module | None = field(default=None, repr=False)
    data: ImageHierarchy | None = field(default=None, repr=False)

    def embeddings(self, n: int = 1000, batch_size: int = 256) -> dict[str, Any]:
        """Features of a random test subset and the prototype banks, for a t-SNE figure.

        The subset: ``n`` test images (all of them if fewer), drawn without replacement with a
        generator seeded by ``derive_seed(derive_seed(seed, 0), EMBED_STREAM)``, in test order.

        Returns a dict of numpy arrays: ``features`` float32 (n, d) (HCAL: the L2-normalised
        embedding f, d = 256; baselines: the backbone's 512 features), ``labels`` int64 (n, m),
        ``index`` int64 (n,) (rows of ``x_test``), and ``prototypes``: HCAL's normalised banks
        ``[(C_k, d)]`` (an empty list for the baselines).
        """
        if self.model is None or self.data is None:
            raise ValueError("embeddings() needs the result's model and data (this result has none)")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        x_test, y_test = self.data.x_test, self.data.y_test
        gen = torch.Generator().manual_seed(derive_seed(derive_seed(self.config.seed, 0), EMBED_STREAM))
        index = torch.randperm(len(x_test), generator=gen)[: min(n, len(x_test))].sort().values
        device = next(self.model.parameters()).device
        mean, std = _channel_constants(self.data, device)
        hcal = isinstance(self.model, HCALNet)
        features = []
        with torch.no_grad():
            for start in range(0, len(index), batch_size):
                xb = _test_view(x_test[index[start : start + batch_size]].to(device), self.image_size)
                xb = (xb - mean) / std
                out = self.model(xb) if hcal else self.model.features(xb)
                features.append(out.float().cpu())
            prototypes = [b.float().cpu().numpy() for b in self.model.banks()] if hcal else []
        return {
            "features": torch.cat(features).numpy(),
            "labels": y_test[index].numpy(),
            "index": index.numpy(),
            "prototypes": prototypes,
        }


def level_eps(eps: float | tuple[float, ...], n_levels: int) -> list[float]:
    """The perturbation bound of each level (finest first): one ``eps`` for all, or one per level."""
    if not isinstance(eps, tuple):
        return [float(eps)] * n_levels
    if len(eps) != n_levels:
        raise ValueError(f"eps gives {len(eps)} per-level bounds for a hierarchy of {n_levels} levels")
    return [float(e) for e in eps]


def history_columns(n_levels: int, robustness_sigmas: tuple[float, ...] = ()) -> list[str]:
    """Columns of :attr:`ImageRunResult.history` for m = ``n_levels`` levels; with
    ``robustness_sigmas``, then :func:`robust_columns` (NaN on the validation rows)."""
    m = range(n_levels)
    return ["epoch", "split", *(f"acc_{k}" for k in m), *METRICS, *(f"loss_{k}" for k in m),
            *(f"weight_{k}" for k in m), *robust_columns(n_levels, robustness_sigmas)]


def robust_columns(n_levels: int, robustness_sigmas: tuple[float, ...]) -> list[str]:
    """History columns of the robustness measurement: per sigma, ``robust_acc_<k>@<sigma>`` for each
    level k, then ``robust_full_path@<sigma>`` (sigma as :func:`hmc.metrics.robustness.sigma_label`)."""
    cols = []
    for sigma in robustness_sigmas:
        label = sigma_label(sigma)
        cols += [*(f"robust_acc_{k}@{label}" for k in range(n_levels)), f"robust_full_path@{label}"]
    return cols


# ------------------------------------------------------------------------------------- training
EVAL_BATCH_SIZE = 128
"""Images per forward pass at evaluation. On this project's 2-core CPU at one thread, the Conv-4 of
width 64 at 28 px evaluates Omniglot's validation split in 0.80 s at 128 images per pass and 1.48 s
at 512 (the former default), with bit-identical scores: at 512 a block's activations (512 x 64 x 28
x 28 floats, 103 MB) leave the caches between the convolution, the batch norm and the pooling
(``benchmarks/bench_hcal_eval.py`` prints the ratio)."""


def train_image_model(
    data: ImageHierarchy,
    config: ImageRunConfig,
    *,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    eval_batch_size: int = EVAL_BATCH_SIZE,
    on_epoch_end: Callable[[int], None] | None = None,
    stop_at: float | None = None,
) -> ImageRunResult:
    """Train ``config.method`` on ``data``; evaluate and checkpoint along the way.

    Parameters
    ----------
    data
        The image hierarchy; ``x_train`` etc. uint8 (N, C, H, W) with H = W, labels (N, m).
    config
        The run (:class:`ImageRunConfig`).
    checkpoint
        Path of the checkpoint file (None: none). Written atomically after every epoch. If it exists
        when the call starts, it must hold a run of an equal ``config`` on data of the same shape
        (else ValueError), and training continues after its last epoch (a finished run returns at
        once). On a CPU the continued run equals an uninterrupted one bit for bit.
    progress
        A tqdm bar over the optimiser steps, with the epoch and its mean loss.
    eval_batch_size
        Images per forward pass at evaluation (:data:`EVAL_BATCH_SIZE`); on a CPU the scores do not
        depend on it, bit for bit (tested).
    on_epoch_end
        Called with the epoch number (1-based) after each epoch's checkpoint is written.
    stop_at
        A ``time.time()`` at which to pause: after an epoch whose checkpoint is written, when another
        epoch as long as it would end after ``stop_at``, :class:`hmc.checkpoint.TrainingPaused` is
        raised (the next call with the same checkpoint continues). Needs ``checkpoint``.

    Returns
    -------
    ImageRunResult

    One epoch, for a batch of indices I of the epoch's permutation: ``x = normalise(augment(x_train[I]))``,
    ``out = model(x)``; HCAL: ``banks_k = perturb_prototypes(P_k, eps, noise)``,
    ``L = hcal_level_losses(out, banks, y[I], tau, aggregate)`` (m,), ``total, w = balancer(L)``;
    flat: ``L_k = CE(out_k, y_k)``, total = mean_k L_k; MMoE: total = sum_k L_k; C-HMCNN:
    ``mc_loss(sigmoid(out), targets(y))`` per node, ``L_k`` the mean over level k's nodes, total the
    sum over all nodes (mean over the batch). Then one SGD step (momentum, weight decay; per-group learning rates from
    ``model.parameter_groups``). After the epoch: the schedule steps, the balancer sees the epoch's
    mean level losses (``epoch_end``), and the model is evaluated when due.
    """
    if eval_batch_size < 1:
        raise ValueError(f"eval_batch_size must be >= 1, got {eval_batch_size}")
    if stop_at is not None and checkpoint is None:
        raise ValueError("stop_at needs a checkpoint: a paused run continues from it")
    _check_data(data)
    device = resolve_device(config.device)
    started = time.perf_counter()
    with _torch_state(device):
        run = _Run(data, config, device)
        previous_time = run.resume(checkpoint)
        run.fit(checkpoint, progress, eval_batch_size, on_epoch_end, previous_time - started, stop_at)
    run.model.eval()
    return ImageRunResult(
        history=pd.DataFrame(run.history, columns=history_columns(data.n_levels, config.robustness_sigmas)),
        config=config,
        pretrained_used=run.pretrained_used,
        device=device.type,
        wall_time_s=previous_time + time.perf_counter() - started,
        level_names=tuple(data.level_names),
        image_size=int(data.image_shape[1]),
        model=run.model,
        data=data,
    )


def _check_data(data: ImageHierarchy) -> None:
    _, height, width = data.image_shape
    if height != width:
        raise ValueError(f"{data.name}: images must be square, got {height}x{width}")
    if len(data.x_train) == 0 or len(data.x_test) == 0:
        raise ValueError(f"{data.name}: empty train ({len(data.x_train)}) or test ({len(data.x_test)}) split")


@contextlib.contextmanager
def _torch_state(device: torch.device):
    """Deterministic algorithms on a CPU (warn only where an op has none), cuDNN autotuning on CUDA;
    both restored afterwards."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_bench = torch.backends.cudnn.benchmark
    try:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        yield
    finally:
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.backends.cudnn.benchmark = old_bench


def _channel_constants(data: ImageHierarchy, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """mean, std as float32 (1, C, 1, 1) on ``device``."""
    mean = torch.tensor(data.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return mean, std


def _train_view(x: torch.Tensor, image_size: int, generator: torch.Generator) -> torch.Tensor:
    """Training augmentation of uint8 (B, C, H, H) -> float32 in [0, 1] (before normalisation)."""
    if image_size <= SMALL_IMAGE_MAX:
        return augment_batch(x, padding=CIFAR_PADDING, flip=True, degrees=CIFAR_DEGREES, generator=generator)
    return random_resized_crop(x, size=CROP_SIZE, flip=True, generator=generator)


def _network_input(x: torch.Tensor) -> torch.Tensor:
    """A normalised batch (B, C, H, W) in the network's memory format (:data:`MEMORY_FORMAT`)."""
    return x.contiguous(memory_format=MEMORY_FORMAT)


def _test_view(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Test-time view of uint8 (B, C, H, H) -> float32 in [0, 1]: as is, or Resize(256) + CenterCrop(224)."""
    if image_size <= SMALL_IMAGE_MAX:
        return x.to(torch.float32) / 255.0
    return resize_center_crop(x, resize=RESIZE_SIZE, crop=CROP_SIZE)


class _Run:
    """The state of one run: data on the device, model, optimiser, schedule, balancer, history."""

    def __init__(self, data: ImageHierarchy, config: ImageRunConfig, device: torch.device):
        self.data, self.config, self.device = data, config, device
        self.m = data.n_levels
        self.image_size = int(data.image_shape[1])
        if config.method == "hcal" and len(config.lr_prototypes) < self.m:
            raise ValueError(f"lr_prototypes has {len(config.lr_prototypes)} rates for {self.m} levels")
        self.x = data.x_train.to(device)
        self.y = data.y_train.to(device)
        self.mean, self.std = _channel_constants(data, device)
        self.level_eps = level_eps(config.eps, self.m)  # refuses a per-level tuple of the wrong length now

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = self._build_model()
        self.pretrained_used = bool(self.model.pretrained_used)
        self.model.to(device, memory_format=MEMORY_FORMAT)
        self.balancer = make_balancer(config.balancer, self.m, gamma=config.gamma).to(device) \
            if config.method == "hcal" else None
        heads_lr = list(config.lr_prototypes[: self.m]) if config.method == "hcal" else config.lr_heads
        groups = self.model.parameter_groups(config.lr_backbone, heads_lr)
        balancer_params = list(self.balancer.parameters()) if self.balancer is not None else []
        if balancer_params:  # the uncertainty balancer's log-variances
            groups.append({"params": balancer_params, "lr": config.lr_backbone, "weight_decay": 0.0, "name": "balancer"})
        self.optimizer = torch.optim.SGD(groups, lr=config.lr_backbone, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        epochs = config.epochs
        factor = (lambda e: 0.5 * (1.0 + math.cos(math.pi * e / epochs))) if config.schedule == "cosine" \
            else (lambda e: 1.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

        self.autocast_dtype = None
        if device.type == "cuda" and config.amp:
            self.autocast_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.autocast_dtype == torch.float16)
        if config.method == "chmcnn":  # columns of each level's nodes in the hierarchy's node order
            index = self.model.hierarchy.index
            self.level_columns = [torch.tensor([index[f"L{k}:{c}"] for c in range(size)], device=device)
                                  for k, size in enumerate(data.n_classes)]
        self.epoch = 0
        self.history: list[dict] = []

    def _build_model(self) -> nn.Module:
        c, data = self.config, self.data
        common = {"image_size": self.image_size, "pretrained": c.pretrained}
        if c.backbone != "resnet18":  # the default is left out, so resnet18 models are built exactly as before
            common.update(backbone=c.backbone, width=c.width)
        if c.method == "hcal":
            return HCALNet(data.n_classes, **common)
        if c.method == "flat":
            return FlatMultiTask(data.n_classes, **common)
        if c.method == "mmoe":
            return MMoE(data.n_classes, **common)
        return CHMCNNHeads(data.level_parents, data.n_classes, **common)

    # ---------------------------------------------------------------- checkpoint
    def _data_signature(self) -> dict:
        d = self.data
        return {"name": d.name, "n_classes": list(d.n_classes), "image_shape": list(d.image_shape),
                "n_train": len(d.x_train), "n_val": len(d.x_val), "n_test": len(d.x_test)}

    def _identity(self) -> dict:
        return {"config": config_identity(self.config), "data": self._data_signature()}

    def save(self, path: str | os.PathLike, wall_time_s: float) -> None:
        save_checkpoint(path, {
            "identity": self._identity(),
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "balancer": self.balancer.state_dict() if self.balancer is not None else None,
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "pretrained_used": self.pretrained_used,
            "wall_time_s": wall_time_s,
        })

    def resume(self, path: str | os.PathLike | None) -> float:
        """Load ``path`` if it exists and belongs to this config and data; return the wall time already spent.

        :func:`hmc.checkpoint.load_checkpoint`: stale temporaries of a killed write are removed, a
        damaged file is set aside (the run restarts), another run's checkpoint raises ValueError.
        """
        state = load_checkpoint(path, self._identity(), map_location=self.device)
        if state is None:
            return 0.0
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.balancer is not None:
            self.balancer.load_state_dict(state["balancer"])
        self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"])
        self.pretrained_used = bool(state["pretrained_used"])
        return float(state["wall_time_s"])

    # ---------------------------------------------------------------- training
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _losses(self, out, yb: torch.Tensor, perturb_gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total scalar, level losses (m,) detached, weights (m,) detached) of one batch."""
        c = self.config
        if c.method == "hcal":
            banks = [perturb_prototypes(p, eps, c.noise, generator=perturb_gen)
                     for p, eps in zip(self.model.prototypes, self.level_eps, strict=True)]
            losses = hcal_level_losses(out.float(), banks, yb, tau=c.tau, aggregate=c.aggregate, validate=False)
            total, weights = self.balancer(losses)
            return total, losses.detach(), weights.detach()
        if c.method in ("flat", "mmoe"):
            losses = torch.stack([F.cross_entropy(z.float(), yb[:, k]) for k, z in enumerate(out)])
            weights = torch.full_like(losses, 1.0 / self.m if c.method == "flat" else 1.0).detach()
            return (weights * losses).sum(), losses.detach(), weights
        to_hier = self.model.to_hierarchy_order
        per_node = mc_loss(to_hier(torch.sigmoid(out.float())), to_hier(self.model.targets(yb)), self.model.mcm,
                           reduction="none", validate=False)  # float64 (B, n_nodes), hierarchy order
        losses = torch.stack([per_node[:, cols].mean() for cols in self.level_columns])
        weights = torch.tensor([float(len(cols)) for cols in self.level_columns], dtype=losses.dtype,
                               device=losses.device)
        return per_node.sum(1).mean(), losses.detach(), weights

    def _epoch_generators(self, epoch: int) -> tuple[torch.Generator, torch.Generator, torch.Generator]:
        """(order on the CPU, augmentation on the device, perturbation on the device) of ``epoch``."""
        epoch_seed = derive_seed(self.config.seed, epoch)
        order = torch.Generator().manual_seed(epoch_seed)
        augment = torch.Generator(device=self.device).manual_seed(derive_seed(epoch_seed, AUGMENT_STREAM))
        perturb = torch.Generator(device=self.device).manual_seed(derive_seed(epoch_seed, PERTURB_STREAM))
        return order, augment, perturb

    def fit(self, checkpoint, progress: bool, eval_batch_size: int, on_epoch_end, time_offset: float,
            stop_at: float | None = None) -> None:
        from tqdm.std import tqdm  # text bar: tqdm.auto warns in kernels without ipywidgets

        c = self.config
        n, bs = len(self.x), c.batch_size
        steps = math.ceil(n / bs)
        bar = tqdm(total=c.epochs * steps, initial=self.epoch * steps, desc=f"{self.data.name} {c.method}",
                   unit="step", disable=not progress, mininterval=1.0, leave=False)
        with bar:
            while self.epoch < c.epochs:
                epoch_started = time.time()
                epoch = self.epoch + 1
                order, augment, perturb = self._epoch_generators(epoch)
                perm = torch.randperm(n, generator=order).to(self.device)
                loss_sum = torch.zeros(self.m, dtype=torch.float64, device=self.device)
                weight_sum = torch.zeros(self.m, dtype=torch.float64, device=self.device)
                total_sum = torch.zeros((), dtype=torch.float64, device=self.device)
                self.model.train()
                for start in range(0, n, bs):
                    idx = perm[start : start + bs]
                    xb = _network_input((_train_view(self.x[idx], self.image_size, augment) - self.mean) / self.std)
                    with self._autocast():
                        out = self.model(xb)
                    total, losses, weights = self._losses(out, self.y[idx], perturb)
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scaler.scale(total).backward()
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    loss_sum += losses
                    weight_sum += weights
                    total_sum += total.detach()
                    bar.update(1)
                mean_losses = loss_sum / steps
                self.scheduler.step()
                if self.balancer is not None:
                    self.balancer.epoch_end(mean_losses.to(torch.float32))
                self.epoch = epoch
                train_cols = {**{f"loss_{k}": float(v) for k, v in enumerate(mean_losses.tolist())},
                              **{f"weight_{k}": float(v) for k, v in enumerate((weight_sum / steps).tolist())}}
                if epoch % c.eval_every == 0 or epoch == c.epochs:
                    for split, x, y in self._eval_splits():
                        row = {"epoch": epoch, "split": split, **self.evaluate(x, y, eval_batch_size)}
                        if split == "test" and c.robustness_sigmas and epoch == c.epochs:
                            row.update(self.robustness(x, y, eval_batch_size))
                        self.history.append({**row, **train_cols})
                if checkpoint is not None:
                    self.save(checkpoint, time_offset + time.perf_counter())
                if progress:
                    bar.set_postfix(epoch=f"{epoch}/{c.epochs}", loss=f"{float(total_sum) / steps:.4f}")
                if on_epoch_end is not None:
                    on_epoch_end(epoch)
                now = time.time()
                if stop_at is not None and epoch < c.epochs and now + (now - epoch_started) > stop_at:
                    raise TrainingPaused(f"{self.data.name} {c.method} seed {c.seed}: paused after epoch {epoch} of "
                                         f"{c.epochs} (time budget); {checkpoint} holds the progress", epoch)

    def _eval_splits(self):
        d = self.data
        yield "test", d.x_test, d.y_test
        if len(d.x_val):
            yield "val", d.x_val, d.y_val

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict[str, float]:
        """Metrics of the model (eval mode) on uint8 images x (N, C, H, H) with labels y (N, m).

        ``acc_<k>``: per-level top-1 accuracy of ``predict_levels(model.level_scores(out))``;
        ``full_path``, ``hvr`` of those predictions; ``consistent_full_path``: full-path accuracy of
        :func:`~hmc.metrics.levels.consistent_decode` of the same scores.
        """
        self.model.eval()
        scores: list[list[torch.Tensor]] = [[] for _ in range(self.m)]
        for start in range(0, len(x), batch_size):
            xb = _network_input((_test_view(x[start : start + batch_size].to(self.device), self.image_size) - self.mean)
                                / self.std)
            with self._autocast():
                out = self.model(xb)
            for k, s in enumerate(self.model.level_scores(out)):
                scores[k].append(s.float())
        self.model.train()
        per_level = [torch.cat(s) for s in scores]
        pred = predict_levels(per_level).cpu().numpy()
        consistent = consistent_decode(per_level, self.data.level_parents).cpu().numpy()
        truth = y.cpu().numpy()
        acc = level_accuracy(pred, truth)
        return {
            **{f"acc_{k}": float(a) for k, a in enumerate(acc)},
            "full_path": float(full_path_accuracy(pred, truth)),
            "hvr": float(hierarchy_violation_rate(pred, self.data.level_parents)),
            "consistent_full_path": float(full_path_accuracy(consistent, truth)),
        }

    def robustness(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict[str, float]:
        """:func:`hmc.metrics.robustness.robust_accuracy` of the model (eval mode) on uint8 images x
        (N, C, H, H) with labels y (N, m) for ``config.robustness_sigmas``: the noise is added to the
        test view in [0, 1] (:func:`_test_view`), clipped to [0, 1], then normalised as at evaluation.
        Keys :func:`robust_columns`."""
        self.model.eval()

        def scores(v: torch.Tensor) -> list[torch.Tensor]:
            with self._autocast():
                out = self.model(_network_input((v - self.mean) / self.std))
            return [s.float() for s in self.model.level_scores(out)]

        try:
            res = robust_accuracy(scores, x, y, self.config.robustness_sigmas,
                                  view=lambda xb: _test_view(xb.to(self.device), self.image_size),
                                  batch_size=batch_size, device=self.device)
        finally:
            self.model.train()
        out: dict[str, float] = {}
        for s, sigma in enumerate(res.sigmas):
            label = sigma_label(sigma)
            out.update({f"robust_acc_{k}@{label}": float(a) for k, a in enumerate(res.level[s])})
            out[f"robust_full_path@{label}"] = float(res.full_path[s])
        return out


# ------------------------------------------------------------------------------------- results
def result_rows(dataset: str, method_label: str, seed: int, result: ImageRunResult) -> pd.DataFrame:
    """Tidy rows of a run: per selection protocol, the test metrics at the epoch it selects.

    Protocols (:func:`hmc.metrics.levels.select_epoch` on the test rows' ``acc_<k>``): ``"authors"``
    (best on test, replaced only when every level improves), ``"last"``, and ``"validation"`` (best
    mean per-level validation accuracy) when the history has validation rows. Metrics, in order:
    ``acc_<level name>`` per level (finest first), ``full_path``, ``hvr``, ``consistent_full_path``,
    then, when ``config.robustness_sigmas`` is set, per sigma ``robust_acc_<level name>@<sigma>`` per
    level and ``robust_full_path@<sigma>`` (test accuracy under noise; measured at the last epoch
    only, so these rows appear for the protocols that select it: always ``"last"``).
    Columns :data:`RESULT_COLUMNS`; ``epoch`` is the selected epoch (1-based), and the settings
    columns repeat the run's ``epochs``, ``batch_size``, ``schedule``, ``image_size``, ``backbone``
    (:func:`backbone_label`), ``pretrained_used``, ``device`` and ``wall_time_s``.
    """
    history = result.history
    m = len(result.level_names)
    acc_cols = [f"acc_{k}" for k in range(m)]
    missing = set(history_columns(m, result.config.robustness_sigmas)) - set(history.columns)
    if missing:
        raise ValueError(f"history lacks the columns {sorted(missing)}")
    test = history[history["split"] == "test"].reset_index(drop=True)
    val = history[history["split"] == "val"].reset_index(drop=True)
    if test.empty:
        raise ValueError("history has no test rows")
    if len(val) and not np.array_equal(val["epoch"].to_numpy(), test["epoch"].to_numpy()):
        raise ValueError(f"validation epochs {val['epoch'].tolist()} differ from test epochs {test['epoch'].tolist()}")
    val_acc = val[acc_cols].to_numpy() if len(val) else None
    protocols = [p for p in SELECTION_PROTOCOLS if p != "validation" or val_acc is not None]
    settings = {
        "epochs": result.config.epochs,
        "batch_size": result.config.batch_size,
        "schedule": result.config.schedule,
        "image_size": result.image_size,
        "backbone": backbone_label(result.config),
        "pretrained_used": bool(result.pretrained_used),
        "device": result.device,
        "wall_time_s": round(float(result.wall_time_s), 3),
    }
    metric_cols = {**{f"acc_{name}": f"acc_{k}" for k, name in enumerate(result.level_names)},
                   **{name: name for name in METRICS}}
    for sigma in result.config.robustness_sigmas:
        label = sigma_label(sigma)
        metric_cols.update({f"robust_acc_{name}@{label}": f"robust_acc_{k}@{label}"
                            for k, name in enumerate(result.level_names)})
        metric_cols[f"robust_full_path@{label}"] = f"robust_full_path@{label}"
    rows = []
    for protocol in protocols:
        i = select_epoch(test[acc_cols].to_numpy(), protocol, val_acc)
        for metric, column in metric_cols.items():
            value = float(test[column].iloc[i])
            if column.startswith("robust_") and not np.isfinite(value):
                continue  # robustness is measured at the last epoch only
            rows.append({"dataset": dataset, "method": method_label, "seed": int(seed), "protocol": protocol,
                         "epoch": int(test["epoch"].iloc[i]), "metric": metric, "value": value, **settings})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


# ------------------------------------------------------------------------------------- sweeps
LABEL_SETTINGS: dict[str, dict[str, Any]] = {
    "hcal": {"method": "hcal"},
    "hcal-noagg": {"method": "hcal", "aggregate": False},
    "hcal-noperturb": {"method": "hcal", "eps": 0.0},
    "hcal-gauss": {"method": "hcal", "noise": "gaussian"},
    **{f"hcal-{b}": {"method": "hcal", "balancer": b} for b in ("convergence_rate", "dwa", "uncertainty", "equal")},
    "flat": {"method": "flat"},
    "mmoe": {"method": "mmoe"},
    "chmcnn": {"method": "chmcnn"},
}
"""Method label -> the :class:`ImageRunConfig` fields it sets; every other field keeps its default
(HCAL: balancer ``softmax_loss``, aggregation on, uniform perturbation with eps 0.01) or the sweep's
shared setting. ``hcal-noperturb`` is eps = 0; ``hcal-gauss`` is N(0, eps^2) noise with eps 0.01."""
METHOD_LABELS = tuple(LABEL_SETTINGS)
"""The method labels of the result tables: ``hcal``, its ablations, then the baselines ``flat``,
``mmoe``, ``chmcnn``."""
LABEL_FIELDS = ("method", "balancer", "aggregate", "eps", "noise")
"""Config fields that the labels define; :func:`method_config` refuses them as shared settings."""
SWEEP_KEY = ("dataset", "method", "seed")
"""Columns that name a unit in the results and history CSVs (``method`` holds the label)."""


def method_config(label: str, epochs: int, **common) -> ImageRunConfig:
    """The :class:`ImageRunConfig` of a method label (:data:`METHOD_LABELS`).

    ``ImageRunConfig(epochs=epochs, **LABEL_SETTINGS[label], **common)``. ``common`` are the shared
    settings of a study (``batch_size``, ``schedule``, ``lr_*``, ``device``, ``pretrained``,
    ``seed``, ...); the fields a label defines (:data:`LABEL_FIELDS`) are not accepted there.

    Raises ValueError on an unknown label, a label field or an unknown field in ``common``, and
    on settings that :class:`ImageRunConfig` refuses.

    >>> method_config("hcal-noagg", 5).aggregate
    False
    """
    if label not in LABEL_SETTINGS:
        raise ValueError(f"unknown method label {label!r}; known: {', '.join(METHOD_LABELS)}")
    fixed = sorted(set(common) & set(LABEL_FIELDS))
    if fixed:
        raise ValueError(f"{fixed} are set by the method labels, not shared settings (got {common})")
    known = {f.name for f in dataclasses.fields(ImageRunConfig)}
    unknown = sorted(set(common) - known)
    if unknown:
        raise ValueError(f"unknown ImageRunConfig field(s) {unknown}; known: {sorted(known - set(LABEL_FIELDS))}")
    return ImageRunConfig(epochs=epochs, **LABEL_SETTINGS[label], **common)


def checkpoint_path(checkpoint_dir: str | os.PathLike, dataset: str, label: str, seed: int) -> Path:
    """Where :func:`run_image_sweep` keeps a unit's checkpoint: ``<checkpoint_dir>/<dataset>/<label>/seed<k>.pt``."""
    return Path(checkpoint_dir) / dataset / label / f"seed{int(seed)}.pt"


def embeddings_path(embeddings_dir: str | os.PathLike, dataset: str, label: str, seed: int) -> Path:
    """Where :func:`run_image_sweep` keeps a unit's embeddings: ``<embeddings_dir>/<dataset>__<label>__seed<k>.npz``."""
    return Path(embeddings_dir) / f"{dataset}__{label}__seed{int(seed)}.npz"


def save_embeddings(result: ImageRunResult, path: str | os.PathLike, n: int = 500) -> None:
    """Write ``result.embeddings(n=n)`` to ``path`` as a compressed npz, atomically.

    Arrays: ``features`` float16 (n, d), ``labels`` int64 (n, m), ``index`` int64 (n,),
    ``prototypes_<k>`` float32 (C_k, d) for each level k (HCAL only), ``level_names`` (m,) str.
    Read it back with :func:`load_embeddings`.
    """
    emb = result.embeddings(n=n)
    arrays = {
        "features": emb["features"].astype(np.float16),
        "labels": emb["labels"],
        "index": emb["index"],
        "level_names": np.array(result.level_names, dtype=str),
        **{f"prototypes_{k}": p.astype(np.float32) for k, p in enumerate(emb["prototypes"])},
    }
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_embeddings(path: str | os.PathLike) -> dict[str, Any]:
    """The npz of :func:`save_embeddings` as a dict: ``features`` float32 (n, d), ``labels`` (n, m),
    ``index`` (n,), ``prototypes`` list of (C_k, d) (empty for a baseline), ``level_names`` tuple."""
    with np.load(path, allow_pickle=False) as z:
        n_banks = sum(1 for key in z.files if key.startswith("prototypes_"))
        return {
            "features": z["features"].astype(np.float32),
            "labels": z["labels"],
            "index": z["index"],
            "prototypes": [z[f"prototypes_{k}"] for k in range(n_banks)],
            "level_names": tuple(str(v) for v in z["level_names"]),
        }
