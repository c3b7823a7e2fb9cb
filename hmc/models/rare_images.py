"""The rare-node image model: one shared CNN encoder and H C-HMCNN heads, the heads stacked as one module.

Reference: Xu et al., "Improving Detection of Rare Nodes in Hierarchical Multi-Label Learning",
arXiv 2602.08986 (2026) (bib key ``xu2026rarenodes``), vision setting (``specs/rare_nodes.md``, "How
members are produced": *one shared encoder with H C-HMCNN heads*; reference: 20 heads, head hidden
size = feature size, dropout 0.7). Implemented from the spec; no code is taken from the authors'.

Shapes: images ``x`` (B, c, s, s) float (normalised); features ``z = encoder(x)`` (B, F); node logits
of head h, ``(H, B, C)`` with columns in the hierarchy's node order.

:class:`ConvEncoder`
    A small Conv-4 network for small images (Omniglot): four blocks ``conv3x3 -> BatchNorm -> ReLU ->
    max-pool 2`` (the pool is skipped once the map is 1 pixel), then global average pooling; F = width.
:class:`ResNetEncoder`
    torchvision's ResNet-18 trunk (:func:`hmc.models.images.resnet18_backbone`), F = 512; one-channel
    images are repeated to three.
:class:`StackedHeads`
    H C-HMCNN heads ``Linear(F, D) -> ReLU -> Dropout(p) -> Linear(D, C)`` as stacked weights
    ``W1 (H, F, D)``, ``W2 (H, D, C)``: one batched matrix product per layer for all heads, no loop.
    Head h's logits are

    .. math::

        o_h = W_{2,h}^\\top\\, \\mathrm{drop}\\big(\\mathrm{ReLU}(W_{1,h}^\\top z + b_{1,h})\\big) + b_{2,h} ,

    with an independent dropout mask per head and sample. :meth:`StackedHeads.head` returns head h as
    a plain ``nn.Sequential`` (same weights): the tests check that the stack equals H such heads, in
    outputs and gradients.
:class:`SharedEncoderHeads`
    ``forward(x) = heads(encoder(x))``, ``(H, B, C)``.

Encoder degradation (the "suboptimal encoder" stress test): :func:`degrade_state` interpolates every
floating-point tensor of a state dict, ``theta = (1 - a) theta_pretrained + a theta_random`` (weights,
biases and the BatchNorm statistics; integer counters keep the pretrained value), so ``a = 0`` is the
pretrained encoder and ``a = 1`` the random one, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmc.models.images import resnet18_backbone

__all__ = [
    "ENCODER_ARCHS",
    "ConvEncoder",
    "ResNetEncoder",
    "build_encoder",
    "StackedHeads",
    "SharedEncoderHeads",
    "degrade_state",
    "random_state",
]

ENCODER_ARCHS = ("conv4", "resnet18")


class ConvEncoder(nn.Module):
    """Conv-4: ``blocks`` x (conv3x3 -> BatchNorm -> ReLU -> max-pool 2), then global average pooling.

    Args:
        in_channels: image channels (1 for Omniglot).
        width: channels of every block, and the feature size F.
        blocks: number of blocks (4).
    """

    def __init__(self, in_channels: int = 1, width: int = 64, blocks: int = 4):
        super().__init__()
        if in_channels < 1 or width < 1 or blocks < 1:
            raise ValueError(f"in_channels, width and blocks must be >= 1, got {in_channels}, {width}, {blocks}")
        self.in_channels, self.feature_dim = int(in_channels), int(width)
        layers = []
        for i in range(blocks):
            layers.append(nn.Sequential(nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1),
                                        nn.BatchNorm2d(width), nn.ReLU(inplace=True)))
        self.blocks = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        """Features (B, F) of images (B, in_channels, s, s)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        for block in self.blocks:
            x = block(x)
            if min(x.shape[-2:]) > 1:
                x = F.max_pool2d(x, 2)
        return x.mean(dim=(2, 3))


class ResNetEncoder(nn.Module):
    """ResNet-18 trunk (:func:`hmc.models.images.resnet18_backbone`, without its fc): F = 512.

    ``pretrained`` as there (None: ImageNet weights when on disk; True: required; False: random);
    ``pretrained_used`` says what happened. One-channel images are repeated to three.
    """

    def __init__(self, image_size: int = 32, pretrained: bool | None = False):
        super().__init__()
        self.trunk, self.pretrained_used = resnet18_backbone(image_size, pretrained)
        self.feature_dim = 512

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"x must have shape (B, 1 or 3, H, W), got {tuple(x.shape)}")
        return self.trunk(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


def build_encoder(arch: str, in_channels: int = 1, image_size: int = 28, width: int = 64) -> nn.Module:
    """A randomly initialised encoder (from the global torch generator): ``"conv4"`` or ``"resnet18"``."""
    if arch == "conv4":
        return ConvEncoder(in_channels, width)
    if arch == "resnet18":
        return ResNetEncoder(image_size, pretrained=False)
    raise ValueError(f"arch must be one of {ENCODER_ARCHS}, got {arch!r}")


class StackedHeads(nn.Module):
    """H C-HMCNN heads ``Linear(F, D) -> ReLU -> Dropout(p) -> Linear(D, C)`` with stacked weights.

    Parameters ``w1`` (H, F, D), ``b1`` (H, D), ``w2`` (H, D, C), ``b2`` (H, C); each head is
    initialised as ``nn.Linear`` initialises its layers (from the global generator, head by head).
    ``forward(z, generator=None)``: features (B, F) -> logits (H, B, C). In training mode dropout
    draws an independent mask per head, sample and unit (from ``generator`` when given, so that a
    run can be resumed bit for bit), and scales the kept units by ``1 / (1 - p)`` as ``nn.Dropout``.

    Args:
        n_heads: H.
        in_dim: F, the encoder's feature size.
        hidden_dim: D (None: F, the reference's "hidden size = feature size").
        out_dim: C, the number of nodes.
        dropout: p (0.7, the reference's).
    """

    def __init__(self, n_heads: int, in_dim: int, out_dim: int, hidden_dim: int | None = None, dropout: float = 0.7):
        super().__init__()
        hidden_dim = in_dim if hidden_dim is None else hidden_dim
        if min(n_heads, in_dim, out_dim, hidden_dim) < 1:
            raise ValueError(f"n_heads, in_dim, out_dim and hidden_dim must be >= 1, got {n_heads}, {in_dim}, "
                             f"{out_dim}, {hidden_dim}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_heads, self.in_dim = int(n_heads), int(in_dim)
        self.hidden_dim, self.out_dim = int(hidden_dim), int(out_dim)
        self.dropout = float(dropout)
        first = [nn.Linear(in_dim, hidden_dim) for _ in range(n_heads)]
        second = [nn.Linear(hidden_dim, out_dim) for _ in range(n_heads)]
        self.w1 = nn.Parameter(torch.stack([m.weight.detach().T for m in first]).contiguous())
        self.b1 = nn.Parameter(torch.stack([m.bias.detach() for m in first]))
        self.w2 = nn.Parameter(torch.stack([m.weight.detach().T for m in second]).contiguous())
        self.b2 = nn.Parameter(torch.stack([m.bias.detach() for m in second]))

    def forward(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"features must have shape (B, {self.in_dim}), got {tuple(z.shape)}")
        zs = z.unsqueeze(0).expand(self.n_heads, -1, -1)
        hidden = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), zs, self.w1))  # (H, B, D)
        if self.training and self.dropout > 0:
            keep = torch.rand(hidden.shape, generator=generator, device=hidden.device, dtype=hidden.dtype)
            hidden = hidden * (keep >= self.dropout).to(hidden.dtype) / (1.0 - self.dropout)
        return torch.baddbmm(self.b2.unsqueeze(1), hidden, self.w2)  # (H, B, C)

    @torch.no_grad()
    def head(self, h: int) -> nn.Sequential:
        """Head h as ``nn.Sequential(Linear, ReLU, Dropout, Linear)`` holding a copy of its weights."""
        if not 0 <= h < self.n_heads:
            raise IndexError(f"head {h} of {self.n_heads}")
        first, second = nn.Linear(self.in_dim, self.hidden_dim), nn.Linear(self.hidden_dim, self.out_dim)
        first.weight.copy_(self.w1[h].T)
        first.bias.copy_(self.b1[h])
        second.weight.copy_(self.w2[h].T)
        second.bias.copy_(self.b2[h])
        return nn.Sequential(first, nn.ReLU(), nn.Dropout(self.dropout), second).to(self.w1.device)

    def extra_repr(self) -> str:
        return (f"n_heads={self.n_heads}, in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, "
                f"out_dim={self.out_dim}, dropout={self.dropout}")


class SharedEncoderHeads(nn.Module):
    """One shared encoder and H stacked C-HMCNN heads: ``forward(x) -> logits (H, B, C)``."""

    def __init__(self, encoder: nn.Module, n_heads: int, n_nodes: int, hidden_dim: int | None = None,
                 dropout: float = 0.7):
        super().__init__()
        self.encoder = encoder
        self.heads = StackedHeads(n_heads, encoder.feature_dim, n_nodes, hidden_dim, dropout)

    @property
    def n_heads(self) -> int:
        return self.heads.n_heads

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.heads(self.encoder(x), generator)


# ------------------------------------------------------------------------------------- degradation
def random_state(arch: str, seed: int, **kwargs) -> dict[str, Tensor]:
    """The state dict of a fresh ``build_encoder(arch, **kwargs)`` initialised under ``torch.manual_seed(seed)``.

    The global generator's state is restored afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        encoder = build_encoder(arch, **kwargs)
    return {k: v.detach().clone() for k, v in encoder.state_dict().items()}


def degrade_state(pretrained: Mapping[str, Tensor], random: Mapping[str, Tensor], a: float) -> dict[str, Tensor]:
    """``theta = (1 - a) theta_pretrained + a theta_random`` for every floating tensor of two state dicts.

    Non-floating tensors (BatchNorm's ``num_batches_tracked``) keep the pretrained value. ``a = 0``
    returns the pretrained tensors' values and ``a = 1`` the random ones, exactly (``0 * x = 0``
    for finite x). The two dicts must have the same keys and shapes.

    Args:
        pretrained: the pretrained encoder's ``state_dict()``.
        random: a randomly initialised encoder's (:func:`random_state`).
        a: degradation in [0, 1].
    """
    if not (isinstance(a, int | float) and math.isfinite(a) and 0 <= a <= 1):
        raise ValueError(f"a must be in [0, 1], got {a!r}")
    if set(pretrained) != set(random):
        raise ValueError(f"the state dicts differ in keys: {sorted(set(pretrained) ^ set(random))[:5]}")
    out = {}
    for key, p in pretrained.items():
        r = random[key]
        if p.shape != r.shape:
            raise ValueError(f"{key}: shapes {tuple(p.shape)} and {tuple(r.shape)} differ")
        if p.is_floating_point():
            out[key] = (1.0 - a) * p + a * r.to(p.device, p.dtype)
        else:
            out[key] = p.clone()
    return out
