"""Image models of the HCAL study on a ResNet-18 backbone (``specs/hcal.md``, "Model", "Baselines").

Levels are indexed ``k = 0..m-1``, ``k = 0`` the finest (the spec's level 1); level k has ``C_k``
classes. Every model takes float images ``x`` of shape ``(B, 3, H, W)`` (already normalised) or
``(B, 1, H, W)`` (Omniglot: the one channel is repeated to three), has the attribute
``pretrained_used``, and offers

* ``forward(x) -> out`` (the model's own output, below);
* ``level_scores(out) -> [s_0, ..., s_{m-1}]``, ``s_k`` of shape ``(B, C_k)``, whose per-level
  argmax is the prediction (each level on its own, so predictions can violate the hierarchy);
* ``parameter_groups(lr_backbone, lr_heads) -> list[dict]`` for :class:`torch.optim.SGD`; every
  parameter is in exactly one group, and each group carries a ``"name"``. Layers shared by all
  levels (backbone, HCAL's embedding, MMoE's experts) use ``lr_backbone``; per-level layers use
  ``lr_heads[k]`` (a single float applies to every level).

Models
------
:func:`resnet18_backbone`
    torchvision's ResNet-18 with the final fc removed: ``(B, 3, H, W) -> (B, 512)`` after global
    average pooling. ``image_size <= 64``: the first conv is 3x3, stride 1, padding 1 (a 32x32 input
    stays 32x32 after it); larger: the standard 7x7 stride-2 conv (padding 3). No max-pool in either.
:class:`HCALNet`
    HCAL (Jiang et al., CIKM 2025): ``f = normalise(W z + b)``, ``z`` the backbone's 512 features,
    ``W`` a ``Linear(512, d)`` (d = 256), so ``forward(x) -> f`` of shape ``(B, d)``, unit norm. One
    learnable prototype bank ``P_k`` of shape ``(C_k, d)`` per level, initialised N(0, 0.01^2) and
    L2-normalised before every use (:meth:`HCALNet.banks`); no linear heads. Level scores are
    cosine similarities ``s_k = f normalise(P_k)^T``, shape ``(B, C_k)``.
:class:`FlatMultiTask`
    Flat multi-task baseline: one ``Linear(512, C_k)`` head per level on the shared backbone;
    ``forward(x) -> [logits_k (B, C_k)]``, trained with equal-weight cross-entropy.
:class:`MMoE`
    Multi-gate mixture of experts (Ma et al., KDD 2018): E experts ``e_j(z) = ReLU(V_j z + c_j)``
    (128 units each), one softmax gate per level ``g_k(z) = softmax(G_k z + h_k)`` over the experts,
    and one tower per level, ``Linear(128, 256)-ReLU-Linear(256, C_k)``, applied to
    ``sum_j g_k(z)_j e_j(z)``; ``forward(x) -> [logits_k (B, C_k)]``.
:class:`CHMCNNHeads`
    C-HMCNN (Giunchiglia & Lukasiewicz, NeurIPS 2020) on the same backbone: the classes of all levels
    are nodes of one multi-label hierarchy (node order: level 0's classes, then level 1's, ...; level
    k's nodes are ``node_offsets[k]:node_offsets[k+1]``), one ``Linear(512, n_nodes)``;
    ``forward(x) -> logits (B, n_nodes)``; scores are the max-constrained sigmoids
    ``MCM(sigmoid(logits))``, so a parent never scores below its children; trained with MCLoss
    (:meth:`CHMCNNHeads.loss`).

Backbones
---------
Every model takes ``backbone="resnet18"`` (the default, above) or ``backbone="conv4"``
(:class:`Conv4Trunk`, 4 blocks of ``width`` channels, ``width`` features, random initialisation): a
small encoder sized for a CPU, a deviation from the paper's ResNet-18. With conv4 the 512 of the
formulas below is ``width``.

Pretrained weights
------------------
``pretrained=None`` (default) loads torchvision's ``ResNet18_Weights.IMAGENET1K_V1`` when the file
``resnet18-f37072fd.pth`` is already on disk, and trains from a random initialisation otherwise;
``pretrained=True`` requires the file (FileNotFoundError saying where to put it); ``pretrained=False``
always starts from random weights. Nothing is ever downloaded. The file is looked for in torch's hub
cache, ``torch.hub.get_dir()/checkpoints/`` (``$TORCH_HOME/hub/checkpoints``), then as
``weights/resnet18-f37072fd.pth`` under the project's data roots (``$HMC_DATA_DIR``, then the
per-user cache, where ``python -m hmc data fetch resnet18_weights`` puts it). With the 3x3 stem of
small images the pretrained 7x7 ``conv1`` weights do not fit: ``conv1`` is then re-initialised
(kaiming-normal, fan-out, as torchvision initialises convolutions) and every other layer is
pretrained. Whether weights were loaded is the model's ``pretrained_used``; the study records it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import ResNet18_Weights, resnet18

from hmc.constraint import MaxConstraint, mc_loss
from hmc.data import paths
from hmc.hierarchy import Hierarchy

__all__ = [
    "RESNET18_WEIGHTS_FILE",
    "SMALL_STEM_MAX_SIZE",
    "find_resnet18_weights",
    "resnet18_backbone",
    "BACKBONES",
    "CONV4_WIDTH",
    "Conv4Trunk",
    "make_backbone",
    "HCALNet",
    "FlatMultiTask",
    "MMoE",
    "CHMCNNHeads",
]

RESNET18_WEIGHTS_FILE = os.path.basename(urlparse(ResNet18_Weights.IMAGENET1K_V1.url).path)
"""File name of torchvision's ImageNet ResNet-18 weights (``resnet18-f37072fd.pth``)."""

SMALL_STEM_MAX_SIZE = 64
"""Largest image size that gets the 3x3 stride-1 stem; larger images get the 7x7 stride-2 stem."""

FEATURE_DIM = 512
"""Width of the ResNet-18 features after global average pooling."""

BACKBONES = ("resnet18", "conv4")
"""Backbones of the image models (:func:`make_backbone`): torchvision's ResNet-18 (the paper's) and
the 4-block convolutional encoder (:class:`Conv4Trunk`), a CPU-sized deviation from the paper."""
CONV4_WIDTH = 64
"""Default channel width (= feature size) of the conv4 backbone."""


# =============================================================================== backbone
def find_resnet18_weights() -> Path | None:
    """The ImageNet ResNet-18 weights file if it is on disk, else None (never downloads).

    Looked for, in order: ``torch.hub.get_dir()/checkpoints/resnet18-f37072fd.pth``, then
    ``<root>/weights/resnet18-f37072fd.pth`` for each data root of :func:`hmc.data.paths.data_dirs`.
    """
    for candidate in _weights_candidates():
        if candidate.is_file():
            return candidate
    return None


def _weights_candidates() -> list[Path]:
    """Every place :func:`find_resnet18_weights` looks, in order."""
    hub = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_WEIGHTS_FILE
    return [hub] + [root / "weights" / RESNET18_WEIGHTS_FILE for root in paths.data_dirs()]


def resnet18_backbone(image_size: int = 32, pretrained: bool | None = None) -> tuple[nn.Module, bool]:
    """torchvision's ResNet-18 trunk, ``(B, 3, H, W) float -> (B, 512)``, and whether it is pretrained.

    The trunk is :func:`torchvision.models.resnet18` with ``fc`` and ``maxpool`` replaced by
    ``nn.Identity``. For ``image_size <= 64`` ``conv1`` becomes a 3x3 convolution with stride 1 and
    padding 1 (spatial size kept), for larger images it stays the 7x7 stride-2 convolution (padding 3).

    Args:
        image_size: side of the (square) input images in pixels; selects the stem.
        pretrained: None: load ``ResNet18_Weights.IMAGENET1K_V1`` when the file is on disk
            (:func:`find_resnet18_weights`), else random init; True: the file is required; False:
            random init. With the 3x3 stem, ``conv1`` is re-initialised even when the rest is
            pretrained (the 7x7 weights do not fit).

    Returns:
        ``(trunk, pretrained_used)``.

    Raises:
        ValueError: ``image_size`` not a positive int, or ``pretrained`` not None/True/False.
        FileNotFoundError: ``pretrained=True`` and the weights file is nowhere on disk.
        RuntimeError: the file found is not a ResNet-18 state dict.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    if pretrained not in (None, True, False):
        raise ValueError(f"pretrained must be None, True or False, got {pretrained!r}")
    trunk = resnet18(weights=None)
    weights = find_resnet18_weights() if pretrained is not False else None
    if pretrained is True and weights is None:
        looked = ", ".join(str(p) for p in _weights_candidates())
        raise FileNotFoundError(
            f"pretrained=True but the ResNet-18 ImageNet weights {RESNET18_WEIGHTS_FILE!r} are not on disk; "
            f"looked for {looked}. Put the file (from {ResNet18_Weights.IMAGENET1K_V1.url}) in one of these "
            f"places, e.g. with `python -m hmc data fetch resnet18_weights`, or use pretrained=None/False"
        )
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        try:
            trunk.load_state_dict(state)  # strict: every key of a torchvision ResNet-18, fc included
        except RuntimeError as err:
            raise RuntimeError(f"{weights} is not a torchvision ResNet-18 state dict: {err}") from err
    if image_size <= SMALL_STEM_MAX_SIZE:
        trunk.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(trunk.conv1.weight, mode="fan_out", nonlinearity="relu")
    trunk.maxpool = nn.Identity()
    trunk.fc = nn.Identity()
    return trunk, weights is not None


class Conv4Trunk(nn.Module):
    """Conv-4 encoder of few-shot work on Omniglot: ``blocks`` x (conv3x3 (padding 1) -> BatchNorm ->
    ReLU -> max-pool 2), then global average pooling: ``(B, 3, H, W) -> (B, width)``.

    The pooling of a block is skipped once the map is 1 pixel wide (28 px: 28 -> 14 -> 7 -> 3 -> 1).
    The same architecture as :class:`hmc.models.rare_images.ConvEncoder` with three input channels
    (one-channel images are repeated to three by the models, as for the ResNet-18).
    """

    def __init__(self, width: int = 64, blocks: int = 4, in_channels: int = 3):
        super().__init__()
        if width < 1 or blocks < 1 or in_channels < 1:
            raise ValueError(f"width, blocks and in_channels must be >= 1, got {width}, {blocks}, {in_channels}")
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1),
                          nn.BatchNorm2d(width), nn.ReLU(inplace=True))
            for i in range(blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
            if min(x.shape[-2:]) > 1:
                x = F.max_pool2d(x, 2)
        return x.mean(dim=(2, 3))


def make_backbone(name: str, image_size: int = 32, pretrained: bool | None = None,
                  width: int = CONV4_WIDTH) -> tuple[nn.Module, bool, int]:
    """``(trunk, pretrained_used, feature_dim)`` of a backbone name (:data:`BACKBONES`).

    ``"resnet18"``: :func:`resnet18_backbone` (``image_size``, ``pretrained``), 512 features.
    ``"conv4"``: :class:`Conv4Trunk` of ``width`` channels, ``width`` features, always from a random
    initialisation (``pretrained=True`` raises ValueError; None and False mean random).
    """
    if name == "resnet18":
        trunk, used = resnet18_backbone(image_size, pretrained)
        return trunk, used, FEATURE_DIM
    if name == "conv4":
        if pretrained is True:
            raise ValueError("the conv4 backbone has no pretrained weights (pretrained=True)")
        if isinstance(width, bool) or int(width) != width or width < 1:
            raise ValueError(f"width must be an integer >= 1, got {width!r}")
        return Conv4Trunk(int(width)), False, int(width)
    raise ValueError(f"backbone must be one of {BACKBONES}, got {name!r}")


# =============================================================================== shared pieces
def _check_n_classes(n_classes: Sequence[int]) -> tuple[int, ...]:
    """``n_classes`` as a tuple of positive ints (at least one level)."""
    values = list(n_classes)
    if not values or any(isinstance(c, (bool, str)) or int(c) != c or c < 1 for c in values):
        raise ValueError(f"n_classes must be a non-empty sequence of positive ints, got {values!r}")
    return tuple(int(c) for c in values)


def _level_lrs(lr_heads: Sequence[float] | float, n_levels: int) -> list[float]:
    """Per-level learning rates: a float for every level, or one value per level."""
    lrs = [float(lr_heads)] * n_levels if isinstance(lr_heads, (int, float)) else [float(v) for v in lr_heads]
    if len(lrs) != n_levels:
        raise ValueError(f"lr_heads must be a float or have one value per level ({n_levels}), got {lr_heads!r}")
    if any(v < 0 for v in lrs):
        raise ValueError(f"learning rates must be >= 0, got lr_heads={lr_heads!r}")
    return lrs


def _check_lr(lr: float, name: str) -> float:
    if lr < 0:
        raise ValueError(f"{name} must be >= 0, got {lr!r}")
    return float(lr)


class _BackboneModel(nn.Module):
    """A backbone (:func:`make_backbone`) plus ``pretrained_used`` and ``feature_dim``; :meth:`features`
    maps images to ``(B, feature_dim)`` (512 for the ResNet-18, ``width`` for conv4)."""

    def __init__(self, n_classes: Sequence[int], image_size: int, pretrained: bool | None,
                 backbone: str = "resnet18", width: int = CONV4_WIDTH):
        super().__init__()
        self.n_classes = _check_n_classes(n_classes)
        self.image_size = int(image_size)
        self.backbone_name = backbone
        self.backbone, self.pretrained_used, self.feature_dim = make_backbone(backbone, image_size, pretrained, width)

    @property
    def n_levels(self) -> int:
        """Number of levels m."""
        return len(self.n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Backbone features ``z`` (B, feature_dim) of float images ``x`` (B, 3, H, W), or (B, 1, H, W) repeated to 3."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"x must have shape (B, 1 or 3, H, W), got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.backbone(x)

    def _check_level_list(self, out: Sequence[Tensor]) -> list[Tensor]:
        """``out`` as a list of m tensors ``(B, C_k)``."""
        out = list(out)
        shapes = [tuple(t.shape[1:]) for t in out]
        if shapes != [(c,) for c in self.n_classes]:
            raise ValueError(f"expected {self.n_levels} tensors (B, C_k) with C = {self.n_classes}, got shapes "
                             f"{[tuple(t.shape) for t in out]}")
        return out


# =============================================================================== HCAL
class HCALNet(_BackboneModel):
    """HCAL's prototype network: unit-norm embeddings and one prototype bank per level.

    .. math::

        f = \\frac{W z + b}{\\lVert W z + b \\rVert_2}, \\qquad
        \\bar P_k = \\mathrm{rownorm}(P_k), \\qquad s_k = f \\bar P_k^{\\top},

    with ``z`` (B, 512) the backbone features, ``W`` the ``embed`` layer ``Linear(512, d)`` and
    ``P_k`` (C_k, d) the learnable prototypes of level k (``prototypes[k]``), initialised
    N(0, 0.01^2). ``s_k`` (B, C_k) is the cosine similarity of each sample with each level-k
    prototype; its argmax is the level-k prediction.

    Args:
        n_classes: ``(C_0, ..., C_{m-1})``, finest level first.
        image_size: input image side, selects the stem (:func:`resnet18_backbone`).
        pretrained: see :func:`resnet18_backbone`.
        embed_dim: d.
        backbone, width: see :func:`make_backbone` (``"resnet18"``, or ``"conv4"`` of ``width`` channels).
    """

    def __init__(self, n_classes: Sequence[int], image_size: int = 32, pretrained: bool | None = None,
                 embed_dim: int = 256, backbone: str = "resnet18", width: int = CONV4_WIDTH):
        super().__init__(n_classes, image_size, pretrained, backbone, width)
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {embed_dim!r}")
        self.embed_dim = int(embed_dim)
        self.embed = nn.Linear(self.feature_dim, self.embed_dim)
        self.prototypes = nn.ParameterList(
            nn.Parameter(0.01 * torch.randn(c, self.embed_dim)) for c in self.n_classes
        )

    def forward(self, x: Tensor) -> Tensor:
        """L2-normalised embeddings ``f`` (B, d) of images ``x`` (B, 1 or 3, H, W)."""
        return F.normalize(self.embed(self.features(x)), dim=1)

    def banks(self) -> list[Tensor]:
        """The L2-normalised prototype banks ``[normalise(P_k)]``, each (C_k, d)."""
        return [F.normalize(p, dim=1) for p in self.prototypes]

    def level_scores(self, f: Tensor) -> list[Tensor]:
        """Cosine scores ``s_k = f normalise(P_k)^T``, each (B, C_k), of unit-norm embeddings ``f`` (B, d)."""
        if f.dim() != 2 or f.shape[1] != self.embed_dim:
            raise ValueError(f"f must have shape (B, {self.embed_dim}), got {tuple(f.shape)}")
        return [f @ bank.T for bank in self.banks()]

    def parameter_groups(self, lr_backbone: float, lr_heads: Sequence[float] | float) -> list[dict]:
        """SGD groups: backbone and ``embed`` at ``lr_backbone``; ``prototypes[k]`` at ``lr_heads[k]``."""
        lrs = _level_lrs(lr_heads, self.n_levels)
        groups = [{"params": [*self.backbone.parameters(), *self.embed.parameters()],
                   "lr": _check_lr(lr_backbone, "lr_backbone"), "name": "backbone"}]
        groups += [{"params": [p], "lr": lr, "name": f"prototypes_{k}"}
                   for k, (p, lr) in enumerate(zip(self.prototypes, lrs))]
        return groups


# =============================================================================== baselines
class FlatMultiTask(_BackboneModel):
    """Flat multi-task baseline: ``logits_k = A_k z + a_k``, one ``Linear(512, C_k)`` per level.

    ``forward(x) -> [logits_k]``, each (B, C_k); ``level_scores`` returns them unchanged.

    Args:
        n_classes: ``(C_0, ..., C_{m-1})``, finest level first.
        image_size, pretrained: see :func:`resnet18_backbone`.
        backbone, width: see :func:`make_backbone` (``"resnet18"``, or ``"conv4"`` of ``width`` channels).
    """

    def __init__(self, n_classes: Sequence[int], image_size: int = 32, pretrained: bool | None = None,
                 backbone: str = "resnet18", width: int = CONV4_WIDTH):
        super().__init__(n_classes, image_size, pretrained, backbone, width)
        self.heads = nn.ModuleList(nn.Linear(self.feature_dim, c) for c in self.n_classes)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Per-level logits, each (B, C_k), of images ``x`` (B, 1 or 3, H, W)."""
        z = self.features(x)
        return [head(z) for head in self.heads]

    def level_scores(self, out: Sequence[Tensor]) -> list[Tensor]:
        """The logits themselves (their argmax is the prediction), each (B, C_k)."""
        return self._check_level_list(out)

    def parameter_groups(self, lr_backbone: float, lr_heads: Sequence[float] | float) -> list[dict]:
        """SGD groups: backbone at ``lr_backbone``; ``heads[k]`` at ``lr_heads[k]``."""
        lrs = _level_lrs(lr_heads, self.n_levels)
        groups = [{"params": list(self.backbone.parameters()), "lr": _check_lr(lr_backbone, "lr_backbone"),
                   "name": "backbone"}]
        groups += [{"params": list(head.parameters()), "lr": lr, "name": f"head_{k}"}
                   for k, (head, lr) in enumerate(zip(self.heads, lrs))]
        return groups


class MMoE(_BackboneModel):
    """Multi-gate mixture of experts on the shared backbone (Ma et al., KDD 2018).

    .. math::

        e_j = \\mathrm{ReLU}(V_j z + c_j) \\in \\mathbb{R}^{D_e}, \\quad
        g_k = \\mathrm{softmax}(G_k z + h_k) \\in \\Delta^{E}, \\quad
        \\mathrm{logits}_k = T_k\\Big(\\sum_{j=1}^{E} g_{k,j}\\, e_j\\Big),

    for ``z`` (B, 512) the backbone features, E experts ``Linear(512, D_e) + ReLU``, one gate
    ``Linear(512, E)`` per level and one tower ``T_k = Linear(D_e, D_t)-ReLU-Linear(D_t, C_k)`` per
    level. ``forward(x) -> [logits_k]``, each (B, C_k); ``level_scores`` returns them unchanged.

    Args:
        n_classes: ``(C_0, ..., C_{m-1})``, finest level first.
        image_size, pretrained: see :func:`resnet18_backbone`.
        backbone, width: see :func:`make_backbone` (``"resnet18"``, or ``"conv4"`` of ``width`` channels).
        n_experts: E. expert_dim: D_e. tower_dim: D_t.
    """

    def __init__(self, n_classes: Sequence[int], image_size: int = 32, pretrained: bool | None = None,
                 n_experts: int = 3, expert_dim: int = 128, tower_dim: int = 256, backbone: str = "resnet18",
                 width: int = CONV4_WIDTH):
        super().__init__(n_classes, image_size, pretrained, backbone, width)
        for name, value in (("n_experts", n_experts), ("expert_dim", expert_dim), ("tower_dim", tower_dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(self.feature_dim, expert_dim), nn.ReLU()) for _ in range(n_experts)
        )
        self.gates = nn.ModuleList(nn.Linear(self.feature_dim, n_experts) for _ in self.n_classes)
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(expert_dim, tower_dim), nn.ReLU(), nn.Linear(tower_dim, c))
            for c in self.n_classes
        )

    def gate_weights(self, z: Tensor) -> list[Tensor]:
        """Per-level gate weights ``g_k = softmax(G_k z + h_k)``, each (B, E), of features ``z`` (B, 512)."""
        return [torch.softmax(gate(z), dim=1) for gate in self.gates]

    def forward(self, x: Tensor) -> list[Tensor]:
        """Per-level logits, each (B, C_k), of images ``x`` (B, 1 or 3, H, W)."""
        z = self.features(x)
        experts = torch.stack([expert(z) for expert in self.experts], dim=1)  # (B, E, D_e)
        return [tower(torch.einsum("be,bed->bd", g, experts))
                for g, tower in zip(self.gate_weights(z), self.towers)]

    def level_scores(self, out: Sequence[Tensor]) -> list[Tensor]:
        """The logits themselves (their argmax is the prediction), each (B, C_k)."""
        return self._check_level_list(out)

    def parameter_groups(self, lr_backbone: float, lr_heads: Sequence[float] | float) -> list[dict]:
        """SGD groups: backbone and the shared experts at ``lr_backbone``; gate k and tower k at ``lr_heads[k]``."""
        lrs = _level_lrs(lr_heads, self.n_levels)
        groups = [{"params": [*self.backbone.parameters(), *self.experts.parameters()],
                   "lr": _check_lr(lr_backbone, "lr_backbone"), "name": "backbone"}]
        groups += [{"params": [*gate.parameters(), *tower.parameters()], "lr": lr, "name": f"head_{k}"}
                   for k, (gate, tower, lr) in enumerate(zip(self.gates, self.towers, lrs))]
        return groups


class CHMCNNHeads(_BackboneModel):
    """C-HMCNN's max-constrained multi-label output over the classes of all levels.

    Node ``node_offsets[k] + c`` is class c of level k (level 0's classes first). With
    ``h = sigmoid(logits)`` (B, n_nodes) and ``D(a)`` the node a and its descendants at finer levels,

    .. math::

        \\mathrm{MCM}(h)_a = \\max_{d \\in D(a)} h_d ,

    so a parent's score is never below any child's. ``level_scores`` returns the per-level slices of
    ``MCM(h)``; :meth:`loss` is MCLoss on the same nodes.

    Attributes:
        hierarchy: the :class:`~hmc.hierarchy.Hierarchy` of the nodes (names ``"L{k}:{c}"``), whose
            node order (coarsest first) is *not* this model's node order: convert with
            :meth:`to_hierarchy_order` before calling :mod:`hmc.constraint` functions directly.
        mcm: its :class:`~hmc.constraint.MaxConstraint` (non-persistent buffers; moves with ``.to``).
        node_offsets: ``(0, C_0, C_0 + C_1, ..., n_nodes)``.

    Args:
        level_parents: m - 1 int arrays; ``level_parents[k][c]`` is the level-(k+1) parent of level-k class c.
        n_classes: ``(C_0, ..., C_{m-1})``, finest level first.
        image_size, pretrained: see :func:`resnet18_backbone`.
        backbone, width: see :func:`make_backbone` (``"resnet18"``, or ``"conv4"`` of ``width`` channels).
    """

    def __init__(self, level_parents: Sequence[Sequence[int]], n_classes: Sequence[int], image_size: int = 32,
                 pretrained: bool | None = None, backbone: str = "resnet18", width: int = CONV4_WIDTH):
        sizes = _check_n_classes(n_classes)
        parents = [np.asarray(p) for p in level_parents]
        if len(parents) != len(sizes) - 1:
            raise ValueError(f"need {len(sizes) - 1} parent maps for {len(sizes)} levels, got {len(parents)}")
        for k, p in enumerate(parents):
            if p.shape != (sizes[k],) or not np.issubdtype(p.dtype, np.integer):
                raise ValueError(f"level_parents[{k}] must be {sizes[k]} ints, got shape {p.shape}, dtype {p.dtype}")
            if p.size and (p.min() < 0 or p.max() >= sizes[k + 1]):
                raise ValueError(f"level_parents[{k}] must lie in [0, {sizes[k + 1]}), got range "
                                 f"[{p.min()}, {p.max()}]")
        super().__init__(sizes, image_size, pretrained, backbone, width)
        self.node_offsets = tuple(int(v) for v in np.concatenate([[0], np.cumsum(sizes)]))
        n_nodes = self.node_offsets[-1]
        names = [f"L{k}:{c}" for k, size in enumerate(sizes) for c in range(size)]
        edges = [(f"L{k + 1}:{int(p[c])}", f"L{k}:{c}") for k, p in enumerate(parents) for c in range(sizes[k])]
        self.hierarchy = Hierarchy(names, edges)
        self.mcm = MaxConstraint(self.hierarchy)
        column = np.array([self.hierarchy.index[name] for name in names], dtype=np.int64)  # our node -> hier column
        self.register_buffer("_from_hierarchy", torch.as_tensor(column), persistent=False)
        self.register_buffer("_to_hierarchy", torch.as_tensor(np.argsort(column)), persistent=False)
        for k, p in enumerate(parents):
            self.register_buffer(f"_parents_{k}", torch.as_tensor(p.astype(np.int64)), persistent=False)
        self.head = nn.Linear(self.feature_dim, n_nodes)

    @property
    def n_nodes(self) -> int:
        """Number of nodes, ``sum_k C_k``."""
        return self.node_offsets[-1]

    def forward(self, x: Tensor) -> Tensor:
        """Node logits (B, n_nodes) of images ``x`` (B, 1 or 3, H, W)."""
        return self.head(self.features(x))

    def targets(self, y: Tensor) -> Tensor:
        """0/1 node targets (B, n_nodes) of per-level labels ``y`` (B, m): ``t[i, offset_k + y[i, k]] = 1``.

        Raises ValueError when a label is out of range or a row is not a valid path
        (``level_parents[k][y[:, k]] != y[:, k + 1]``).
        """
        y = torch.as_tensor(y, device=self.head.weight.device)
        if y.dim() != 2 or y.shape[1] != self.n_levels or y.dtype.is_floating_point:
            raise ValueError(f"y must be integer labels of shape (B, {self.n_levels}), got {tuple(y.shape)} {y.dtype}")
        sizes = torch.tensor(self.n_classes, device=y.device)
        if bool(((y < 0) | (y >= sizes)).any()):
            raise ValueError(f"labels out of range: level sizes {self.n_classes}, got min {y.min(0).values.tolist()}, "
                             f"max {y.max(0).values.tolist()}")
        for k in range(self.n_levels - 1):
            bad = getattr(self, f"_parents_{k}")[y[:, k]] != y[:, k + 1]
            if bool(bad.any()):
                row = int(bad.nonzero()[0, 0])
                raise ValueError(f"row {row} of y, {y[row].tolist()}, is not a path of the hierarchy (level {k})")
        offsets = torch.tensor(self.node_offsets[:-1], device=y.device)
        t = torch.zeros(y.shape[0], self.n_nodes, device=y.device, dtype=torch.float32)
        return t.scatter_(1, y.long() + offsets, 1.0)

    def to_hierarchy_order(self, t: Tensor) -> Tensor:
        """Reorder the last dim (n_nodes) from this model's node order to ``hierarchy.nodes`` order."""
        return t.index_select(-1, self._to_hierarchy)

    def constrained(self, logits: Tensor) -> Tensor:
        """``MCM(sigmoid(logits))`` (B, n_nodes), in this model's node order."""
        if logits.dim() != 2 or logits.shape[1] != self.n_nodes:
            raise ValueError(f"logits must have shape (B, {self.n_nodes}), got {tuple(logits.shape)}")
        h = self.mcm(self.to_hierarchy_order(torch.sigmoid(logits)))
        return h.index_select(-1, self._from_hierarchy)

    def level_scores(self, logits: Tensor) -> list[Tensor]:
        """Per-level slices of :meth:`constrained`, each (B, C_k); a parent's score is >= its children's."""
        h = self.constrained(logits)
        o = self.node_offsets
        return [h[:, o[k]:o[k + 1]] for k in range(self.n_levels)]

    def loss(self, logits: Tensor, y: Tensor, dtype: torch.dtype | None = torch.float64) -> Tensor:
        """MCLoss (:func:`hmc.constraint.mc_loss`, mean over batch x nodes) of logits (B, n_nodes), labels y (B, m)."""
        h = self.to_hierarchy_order(torch.sigmoid(logits))
        return mc_loss(h, self.to_hierarchy_order(self.targets(y)), self.mcm, dtype=dtype)

    def parameter_groups(self, lr_backbone: float, lr_heads: Sequence[float] | float) -> list[dict]:
        """SGD groups: backbone at ``lr_backbone``; the one node head at ``lr_heads``.

        The head covers every level, so a sequence ``lr_heads`` must hold one value repeated.
        """
        lrs = _level_lrs(lr_heads, self.n_levels)
        if len(set(lrs)) != 1:
            raise ValueError(f"CHMCNNHeads has one head for all levels: lr_heads must be one value, got {lr_heads!r}")
        return [
            {"params": list(self.backbone.parameters()), "lr": _check_lr(lr_backbone, "lr_backbone"),
             "name": "backbone"},
            {"params": list(self.head.parameters()), "lr": lrs[0], "name": "head"},
        ]
