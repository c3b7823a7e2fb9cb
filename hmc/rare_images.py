"""The rare-node loss on images: a shared encoder with H C-HMCNN heads, and the two stress tests (claims 5 and 6).

Reference: Xu et al., arXiv 2602.08986 (2026) (bib key ``xu2026rarenodes``), vision setting
(``specs/rare_nodes.md``: one shared encoder with H C-HMCNN heads, 20 heads, ``k = 1``, measure
``bbma``; Adam lr 1e-3, weight decay 1e-4, 20 epochs, batch 128, head hidden size = feature size,
dropout 0.7; stress tests: a degraded encoder ``theta = (1 - a) theta_pretrained + a theta_random``,
``a in {0, 0.25, 0.5, 0.75}``, and training fractions such as 100%, 25%, 10%). Implemented from the
spec; no code is taken from the authors' implementation.

What is trained
---------------
:func:`train_rare_images` trains, seed by seed, a :class:`~hmc.models.rare_images.SharedEncoderHeads`:
the pretrained encoder of :mod:`hmc.encoders`, degraded to ``a`` with the seed's random
initialisation (:meth:`~hmc.encoders.PretrainedEncoder.build`), and H stacked C-HMCNN heads (one
module, batched matrix products, no loop over heads). The loss is the rare-node loss of the tabular
chapters, computed by the same function (:func:`hmc.rare_nodes.rare_node_terms`) on the heads'
sigmoid outputs ``p`` of shape ``(1, H, b, C)`` (the H heads play the H ensemble members; the
uncertainty ``u`` of the focal loss comes from them, detached):

.. math::

    L = R\\big(W_{b,c}\\,(m + u_{b,c}^k)\\,\\mathrm{BCE}_{h,b,c}\\big), \\qquad u = \\mathrm{bbma}(\\mathrm{sg}[p]),

with the configuration named as in :mod:`hmc.rare_nodes` (:func:`hmc.rare_nodes.method_name`):
``baseline-H20`` (plain MCLoss summed over the heads), ``imbalance-neg-H20`` (imbalance weights on the
``y = 0`` terms, the reference code's), ``focal-bbma-k1-H20`` (focal x imbalance weights) and
``lpros+imbalance-neg-H20`` (LPROS with the weighted loss; :func:`image_methods`). The whole network
(encoder and heads) is trained with Adam (L2 weight decay, as ``torch.optim.Adam``) on the training
split; the test prediction is the mean over the heads of ``MCM(sigmoid(logits))`` in eval mode.

Data of a seed: the training rows are a stratified fraction of the (long-tailed) training split,
drawn with ``derive_seed(seed, FRACTION_STREAM)`` (:func:`hmc.data.image_subsets.stratified_subset`:
every finest class keeps at least one image); with LPROS, clones of those rows are appended
(:func:`hmc.resampling.lpros`, budget 0.1, ``derive_seed(seed, LPROS_STREAM)``); imbalance weights and
the frequency buckets of the metrics come from the rows before LPROS. Everything random in epoch e
comes from ``derive_seed(seed, e)``: the data order, the augmentation, the heads' dropout masks; the
initialisation from ``torch.manual_seed(seed)`` (heads) and the seed's random encoder (degradation).
So a run can stop after any epoch and continue from its checkpoint with the same numbers on a CPU.

Metrics (per seed, on test, all nodes evaluated): ``au_prc``, the rare-node metrics of
:func:`hmc.rare_nodes.rare_node_metrics` (macro precision / recall / F1, per training-frequency bucket
and depth), ``acc_<level>`` (top-1 accuracy of each level from the argmax of its nodes' scores),
``chance_<level>`` (the largest class's share of the test images: the accuracy of always answering
it), ``n_test`` and ``train_images``.

The stress tests' units, their sweep and their table are in :mod:`hmc.runs.stress_sweep`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Sequence

import numpy as np
import torch

from hmc.augment import augment_batch
from hmc.checkpoint import TrainingPaused, load_checkpoint, save_checkpoint
from hmc.constraint import MaxConstraint
from hmc.data.image_subsets import long_tail_subset, node_targets, stratified_subset, subset_rows
from hmc.data.images import ImageHierarchy
from hmc.encoders import EncoderSpec, PretrainedEncoder
from hmc.losses import imbalance_weights
from hmc.metrics import au_prc
from hmc.models import derive_seed
from hmc.models.rare_images import SharedEncoderHeads
from hmc.rare_nodes import (
    LPROS_STREAM,
    RareNodeConfig,
    SchedulePosition,
    method_name,
    rare_config,
    rare_node_metrics,
    rare_node_terms,
)
from hmc.resampling import lpros
from hmc.train import TrainResult

__all__ = [
    "CHAPTER",
    "DEGRADATIONS",
    "FRACTIONS",
    "REFERENCE",
    "FRACTION_STREAM",
    "image_methods",
    "train_rare_images",
    "image_signature",
    "load_stress_data",
    "encoder_spec_for",
]

CHAPTER = "07_rare_nodes_images"
DEGRADATIONS = (0.0, 0.25, 0.5, 0.75)
"""The spec's encoder degradations a."""
FRACTIONS = (1.0, 0.25, 0.1)
"""The spec's training fractions."""
REFERENCE = {"n_heads": 20, "epochs": 20, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4, "dropout": 0.7,
             "measure": "bbma", "exponent": 1.0, "seeds": 10}
"""The reference vision settings (spec) and the study's seeds per setting (0-9)."""
FRACTION_STREAM = 13
"""Stream of a seed's training fraction: ``derive_seed(seed, FRACTION_STREAM)``."""
_AUGMENT_STREAM, _DROPOUT_STREAM = 1, 2
"""Sub-streams of an epoch's seed ``derive_seed(seed, epoch)``."""
LONG_TAIL_SEED = 0
"""The long-tailed training set is the same for every run seed (:func:`load_stress_data`)."""

# ------------------------------------------------------------------------------------- names
def image_methods(n_heads: int = REFERENCE["n_heads"]) -> dict[str, str]:
    """The chapter's four methods for H heads, role -> canonical name (:func:`hmc.rare_nodes.method_name`).

    ``baseline`` (plain MCLoss), ``imbalance`` (weights on the negatives), ``focal`` (bbma, k = 1, with
    the weights) and ``lpros+weights`` (LPROS with the weighted loss).
    """
    h = int(n_heads)
    return {
        "baseline": method_name(RareNodeConfig(loss="plain", n_members=h)),
        "imbalance": method_name(RareNodeConfig(loss="imbalance", n_members=h)),
        "focal": method_name(RareNodeConfig(loss="focal", measure="bbma", exponent=1.0, n_members=h)),
        "lpros+weights": method_name(RareNodeConfig(loss="imbalance", lpros=True, n_members=h)),
    }


# ------------------------------------------------------------------------------------- training
def image_signature(data: ImageHierarchy) -> dict:
    """What identifies the data of a unit: split sizes, node count, image shape and a hash of the labels."""
    h = hashlib.sha256()
    for y in (data.y_train, data.y_test):
        arr = np.ascontiguousarray(y.numpy().astype(np.int64))
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return {"name": data.name, "n_train": len(data.x_train), "n_test": len(data.x_test),
            "n_nodes": len(data.hierarchy), "image_shape": list(data.image_shape), "labels": h.hexdigest()[:16]}


def _check_fraction(fraction: float, degradation: float) -> None:
    if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if not (isinstance(degradation, int | float) and 0 <= degradation <= 1):
        raise ValueError(f"degradation must be in [0, 1], got {degradation!r}")


class _SeedRun:
    """One seed: its rows, weights, model, optimiser; the training loop and the prediction."""

    def __init__(self, data: ImageHierarchy, seed: int, config: RareNodeConfig, encoder: PretrainedEncoder,
                 degradation: float, fraction: float, settings: dict, device: torch.device):
        self.data, self.seed, self.config, self.encoder = data, int(seed), config, encoder
        self.settings, self.device = settings, device
        y_all = node_targets(data, data.y_train)
        rows = stratified_subset(data.y_train[:, 0].numpy(), fraction, derive_seed(seed, FRACTION_STREAM))
        self.y_fit = y_all[rows]  # the original fitting rows: weights and frequency buckets
        self.clones = 0
        fit_rows, fit_y = rows, self.y_fit
        if config.lpros:
            res = lpros(np.arange(len(rows))[:, None], self.y_fit, data.hierarchy, budget=config.lpros_budget,
                        seed=derive_seed(seed, LPROS_STREAM))
            self.clones = res.n_clones
            fit_rows = np.concatenate([rows, rows[res.source]])
            fit_y = res.y.astype(np.uint8)
        self.rows = torch.as_tensor(fit_rows, dtype=torch.int64, device=device)
        self.y = torch.as_tensor(fit_y, device=device)
        self.x = data.x_train.to(device)
        self.mcm = MaxConstraint(data.hierarchy).to(device)
        self.eval_idx = torch.arange(len(data.hierarchy), device=device)
        self.node_weights = None
        if config.has_weights:
            w = imbalance_weights(self.y_fit, data.hierarchy, config.weight_kind, config.weight_floor)
            self.node_weights = torch.as_tensor(w, dtype=torch.float64, device=device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            enc = encoder.build(degradation, self.seed)
            self.model = SharedEncoderHeads(enc, config.n_members, len(data.hierarchy), settings["hidden_dim"],
                                            settings["dropout"])
        if settings["prior_init"]:  # output biases at each node's training log-odds (before LPROS)
            q = np.clip(self.y_fit.mean(axis=0, dtype=np.float64), 1e-4, 1 - 1e-4)
            with torch.no_grad():
                self.model.heads.b2.copy_(torch.as_tensor(np.log(q / (1 - q)), dtype=torch.float32))
        self.model.to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.epoch_loss: list[float] = []

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def identity(self) -> dict:
        return {"trainer": "rare_images", "config": dataclasses.asdict(self.config), "settings": dict(self.settings),
                "seed": self.seed, "encoder": self.encoder.name, "encoder_sha256": self.encoder.sha256,
                "data": image_signature(self.data), "n_rows": self.n_rows, "device": self.device.type}

    def resume(self, checkpoint) -> None:
        state = load_checkpoint(checkpoint, self.identity(), map_location=self.device)
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.epoch_loss, self.elapsed = list(state["epoch_loss"]), float(state["elapsed_s"])

    def save(self, checkpoint, elapsed: float) -> None:
        save_checkpoint(checkpoint, {"identity": self.identity(), "model": self.model.state_dict(),
                                     "optimizer": self.opt.state_dict(), "epoch": self.epoch, "step": self.step,
                                     "epoch_loss": list(self.epoch_loss), "elapsed_s": elapsed})

    def fit(self, progress: bool, checkpoint, stop_at: float | None) -> None:
        from tqdm.std import tqdm

        s = self.settings
        bs, epochs, n = s["batch_size"], s["epochs"], self.n_rows
        steps = math.ceil(n / bs)
        bar = tqdm(total=epochs * steps, initial=self.epoch * steps, unit="step", disable=not progress,
                   mininterval=1.0, leave=False,
                   desc=f"{self.data.name} {method_name_or(self.config)} seed {self.seed}")
        begun = time.perf_counter()
        with bar:
            while self.epoch < epochs:
                epoch_start = time.perf_counter()
                epoch_seed = derive_seed(self.seed, self.epoch + 1)
                order = torch.Generator().manual_seed(epoch_seed)
                aug = torch.Generator(device=self.device).manual_seed(derive_seed(epoch_seed, _AUGMENT_STREAM))
                drop = torch.Generator(device=self.device).manual_seed(derive_seed(epoch_seed, _DROPOUT_STREAM))
                perm = torch.randperm(n, generator=order).to(self.device)
                self.model.train()
                total = 0.0
                for i, start in enumerate(range(0, n, bs)):
                    pos = perm[start:start + bs]
                    images = self.x[self.rows[pos]]
                    if s["augment"]:
                        images = augment_batch(images, padding=4, flip=True, degrees=15.0, generator=aug)
                    logits = self.model(self.encoder.normalize(images), generator=drop)
                    p = torch.sigmoid(logits).unsqueeze(0)  # (1, H, b, C)
                    terms = rare_node_terms(p, self.y[pos].unsqueeze(0), self.mcm, self.eval_idx, self.config,
                                            self.node_weights, SchedulePosition(i, steps, self.step, epochs * steps),
                                            validate=False)
                    loss = terms.sum() if self.config.reduction == "sum" else terms.mean()
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.opt.step()
                    total += float(loss.detach())
                    self.step += 1
                    bar.update(1)
                self.epoch += 1
                self.epoch_loss.append(total / steps)
                if progress:
                    bar.set_postfix(epoch=f"{self.epoch}/{epochs}", loss=f"{self.epoch_loss[-1]:.4g}")
                if checkpoint is not None and self.epoch < epochs:
                    self.save(checkpoint, self.elapsed + time.perf_counter() - begun)
                    if stop_at is not None and time.time() + (time.perf_counter() - epoch_start) > stop_at:
                        raise TrainingPaused(f"{self.data.name} seed {self.seed}: paused after epoch {self.epoch} of "
                                             f"{epochs} (time budget); {checkpoint} holds the progress", self.epoch)
        self.elapsed += time.perf_counter() - begun

    @torch.no_grad()
    def predict(self, batch_size: int) -> np.ndarray:
        """Mean over the heads of ``MCM(sigmoid(logits))`` on test, eval mode: float32 (N, C)."""
        self.model.eval()
        x = self.data.x_test
        out = np.empty((len(x), len(self.data.hierarchy)), dtype=np.float32)
        for start in range(0, len(x), batch_size):
            xb = self.encoder.normalize(x[start:start + batch_size].to(self.device))
            p = self.mcm(torch.sigmoid(self.model(xb)))  # (H, b, C)
            out[start:start + len(xb)] = p.mean(0).cpu().numpy()
        return out


def method_name_or(config: RareNodeConfig) -> str:
    try:
        return method_name(config)
    except ValueError:
        return "custom"


def _level_metrics(data: ImageHierarchy, pred: np.ndarray) -> dict[str, float]:
    """``acc_<level>`` (argmax over the level's nodes) and ``chance_<level>`` (largest test class share)."""
    out = {}
    y = data.y_test.numpy()
    for k, (level, index) in enumerate(zip(data.level_names, data.node_indices)):
        guess = pred[:, index].argmax(axis=1)
        out[f"acc_{level}"] = float((guess == y[:, k]).mean()) if len(y) else float("nan")
    for k, level in enumerate(data.level_names):
        counts = np.bincount(y[:, k], minlength=len(data.class_names[k]))
        out[f"chance_{level}"] = float(counts.max() / max(1, len(y)))
    return out


def train_rare_images(
    data: ImageHierarchy,
    seeds: Sequence[int],
    config: RareNodeConfig | str,
    *,
    encoder: PretrainedEncoder,
    degradation: float = 0.0,
    fraction: float = 1.0,
    epochs: int = REFERENCE["epochs"],
    batch_size: int = REFERENCE["batch_size"],
    lr: float = REFERENCE["lr"],
    weight_decay: float = REFERENCE["weight_decay"],
    dropout: float = REFERENCE["dropout"],
    hidden_dim: int | None = None,
    augment: bool = False,
    prior_init: bool = True,
    device: str | torch.device = "cpu",
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    stop_at: float | None = None,
    eval_batch_size: int = 512,
) -> TrainResult:
    """Train a rare-node configuration on images, seed after seed; predict and score test.

    Parameters
    ----------
    data
        The image hierarchy (its training split as given: :func:`load_stress_data` makes it long-tailed).
    seeds
        Distinct run seeds.
    config
        A :class:`~hmc.rare_nodes.RareNodeConfig` or a method name (:func:`hmc.rare_nodes.rare_config`);
        ``n_members`` is the number of heads H. MC-dropout members are not supported here.
    encoder
        The pretrained encoder (:func:`hmc.encoders.pretrained_encoder`).
    degradation, fraction
        The stress: ``a`` in [0, 1] and the training fraction in (0, 1].
    epochs, batch_size, lr, weight_decay, dropout, hidden_dim
        Adam with L2 weight decay; heads' hidden size (None: the encoder's feature size) and dropout.
    augment
        Random crop (4 px padding), flip and rotation (up to 15 degrees) on the device
        (:func:`hmc.augment.augment_batch`); off for Omniglot (a flipped character is another one).
    prior_init
        Start every head's output bias at the node's log-odds on the training rows,
        ``log(q_c / (1 - q_c))`` (q clipped to [1e-4, 1 - 1e-4]), instead of ``nn.Linear``'s uniform
        draw, so that the first steps do not spend the encoder on pushing every score towards the
        prior (measured on Omniglot with the Conv-4 at Adam lr 1e-3: without it the fine-tuned
        features collapse, their spread over images falling from 2.4 to 0.2, and the character
        accuracy stays at chance).
    checkpoint, stop_at
        One seed only: a checkpoint path written after every epoch and resumed from when it exists,
        and a ``time.time()`` at which to pause at an epoch boundary (:class:`hmc.checkpoint.TrainingPaused`).

    Returns
    -------
    TrainResult
        ``predictions`` (S, N_test, C) (hierarchy order), ``au_prc`` (S,), ``epoch_loss`` (S, epochs),
        ``settings`` (epochs, batch_size, lr, weight_decay, hidden_dim, dropout, device), ``metrics``
        (module docstring), ``extra`` (config, method, encoder, encoder_sha256, degradation, fraction,
        n_fit_rows and lpros_clones per seed).
    """
    if isinstance(config, str):
        config = rare_config(config)
    if config.members != "ensemble":
        raise ValueError("the image model has H heads on one encoder; MC-dropout members are not implemented here")
    if config.schedule is not None:
        raise ValueError("schedules are not part of the image experiments")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    if checkpoint is not None and len(seeds) != 1:
        raise ValueError("a checkpoint belongs to one seed: train the seeds one call each")
    _check_fraction(fraction, degradation)
    if encoder.spec.in_channels != data.image_shape[0] and not (encoder.spec.arch == "resnet18"):
        raise ValueError(f"the encoder takes {encoder.spec.in_channels} channels, the images have "
                         f"{data.image_shape[0]}")
    device = torch.device(device)
    settings = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
                "weight_decay": float(weight_decay), "hidden_dim": int(hidden_dim or encoder.feature_dim),
                "dropout": float(dropout), "augment": bool(augment), "prior_init": bool(prior_init)}
    if settings["epochs"] < 1 or settings["batch_size"] < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {settings}")
    started = time.perf_counter()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    predictions, losses, per_seed, rows, clones, n_steps, previous = [], [], [], [], [], 0, 0.0
    y_test = node_targets(data, data.y_test)
    try:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        for seed in seeds:
            run = _SeedRun(data, seed, config, encoder, degradation, fraction, settings, device)
            run.resume(checkpoint)
            previous += run.elapsed
            run.fit(progress, checkpoint, stop_at)
            pred = run.predict(eval_batch_size)
            predictions.append(pred)
            losses.append(run.epoch_loss)
            rows.append(run.n_rows)
            clones.append(run.clones)
            n_steps += run.step
            seed_metrics = {k: float(v[0]) for k, v in rare_node_metrics(
                y_test, pred[None], np.arange(len(data.hierarchy)), run.y_fit.sum(axis=0),
                data.hierarchy.depth).items()}
            seed_metrics.update(_level_metrics(data, pred))
            seed_metrics.update(n_test=float(len(data.x_test)), train_images=float(len(run.y_fit)))
            per_seed.append(seed_metrics)
            del run
    finally:
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
    scores = np.array([au_prc(y_test, p, np.arange(len(data.hierarchy))) for p in predictions])
    return TrainResult(
        seeds=seeds,
        predictions=np.stack(predictions),
        au_prc=scores,
        epoch_loss=np.array(losses, dtype=np.float64),
        settings={**settings, "device": device.type},
        wall_time_s=time.perf_counter() - started + previous,
        n_steps=n_steps,
        extra={"config": dataclasses.asdict(config), "method": method_name_or(config), "encoder": encoder.name,
               "encoder_sha256": encoder.sha256, "degradation": float(degradation), "fraction": float(fraction),
               "n_fit_rows": rows, "lpros_clones": clones},
        metrics={name: np.array([m.get(name, np.nan) for m in per_seed], dtype=np.float64)  # NaN: an empty group
                 for name in dict.fromkeys(k for m in per_seed for k in m)},
    )


# ------------------------------------------------------------------------------------- data and encoders
def load_stress_data(name: str, image_size: int = 28, imbalance: float = 1.0, omniglot_alphabets: int = 0,
                     omniglot_characters: int = 0) -> ImageHierarchy:
    """The evaluation hierarchy of a dataset, its training split made long-tailed with ``imbalance``.

    ``omniglot``: the 20 *evaluation* alphabets (:func:`hmc.data.image_subsets.omniglot_split`; the first
    ``omniglot_alphabets`` of them, the first ``omniglot_characters`` characters of each; 0 = all) at
    ``image_size`` px; ``cifar100``: 20 coarse + 100 fine classes, 32 px; ``aircraft``: 3 levels at
    ``image_size`` px. ``imbalance`` > 1 keeps a fixed long tail of the training images per finest class
    (:func:`hmc.data.image_subsets.long_tail_subset`, ratio ``imbalance`` between the largest and the
    smallest class, seed :data:`LONG_TAIL_SEED`); test is untouched.
    """
    from hmc.data.image_subsets import omniglot_split
    from hmc.data.images import load_image_hierarchy

    if name == "omniglot":
        data = omniglot_split("evaluation", size=image_size, max_alphabets=omniglot_alphabets or None,
                              max_characters_per_alphabet=omniglot_characters or None)
    elif name == "cifar100":
        data = load_image_hierarchy("cifar100")
    elif name == "aircraft":
        data = load_image_hierarchy("aircraft", size=image_size)
    else:
        raise ValueError(f"no stress-test data named {name!r}: use omniglot, cifar100 or aircraft")
    if imbalance != 1:
        data = subset_rows(data, long_tail_subset(data.y_train[:, 0].numpy(), imbalance, LONG_TAIL_SEED))
    return data


def encoder_spec_for(dataset: str, choice: str = "auto", image_size: int = 28, width: int = 64,
                     pretrain_epochs: int = 10, pretrain_alphabets: int = 0) -> EncoderSpec:
    """The encoder of a dataset: ``choice`` ``"conv4"`` (pretrained here on Omniglot's background
    alphabets; Omniglot only), ``"resnet18"`` (ImageNet weights, needed on disk) or ``"auto"`` (ImageNet
    when the file is on disk, else the Conv-4 for Omniglot)."""
    from hmc.models.images import find_resnet18_weights

    if choice not in ("auto", "conv4", "resnet18"):
        raise ValueError(f"encoder must be 'auto', 'conv4' or 'resnet18', got {choice!r}")
    size = 32 if dataset == "cifar100" else int(image_size)
    channels = 1 if dataset == "omniglot" else 3
    if choice == "resnet18" or (choice == "auto" and find_resnet18_weights() is not None):
        return EncoderSpec(arch="resnet18", source="imagenet", image_size=size, in_channels=channels)
    if dataset != "omniglot":
        raise ValueError(f"{dataset}: the only pretraining source disjoint from it here is ImageNet; put the ResNet-18 "
                         "weights on disk (`python -m hmc data fetch resnet18_weights`) or use encoder='resnet18'")
    return EncoderSpec(arch="conv4", source="omniglot-background", image_size=size, in_channels=1, width=int(width),
                       pretrain_epochs=int(pretrain_epochs), pretrain_alphabets=int(pretrain_alphabets))
