"""Robustness of per-level classifiers to additive Gaussian pixel noise, identical for every method.

Images are in the ``[0, 1]`` pixel units of the view the network sees (before its per-channel
normalisation). For a noise strength sigma, image i of the test set becomes

.. math::

    \\tilde x_i(\\sigma) = \\mathrm{clip}_{[0, 1]}\\big(x_i + \\sigma\\, z_i\\big), \\qquad
    z_i \\sim \\mathcal N(0, I) \\text{ of shape } (C, H, W),

and the accuracy of level k under noise is
``acc_k(sigma) = (1/N) sum_i [argmax_c s^(k)(x~_i(sigma))_c == y_ik]``; the full-path accuracy counts
the images whose every level is right. The same ``z_i`` serves every sigma (common random numbers,
so the curve over sigma is smooth in sigma), and ``z_i`` depends only on ``seed`` (default
:data:`ROBUSTNESS_SEED`, fixed, not the run's seed), the image's index i and the view's shape: every
method, seed and device sees exactly the same corrupted test images, whatever the batch size.

``z`` is drawn on the CPU in blocks of :data:`NOISE_BLOCK` images: block b (images
``b * NOISE_BLOCK ...``) is ``torch.randn((NOISE_BLOCK, C, H, W), generator=Generator().manual_seed(
derive(seed, b)))`` (:func:`noise_for`), so the noise of an image does not depend on how the test set
is batched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["ROBUSTNESS_SEED", "NOISE_BLOCK", "RobustAccuracy", "noise_for", "robust_accuracy", "sigma_label"]

ROBUSTNESS_SEED = 16_2025
"""Seed of the test-set noise; fixed for the study, independent of every run's seed."""
NOISE_BLOCK = 256
"""Images per block of noise (:func:`noise_for`)."""


def _block_seed(seed: int, block: int) -> int:
    """A 63-bit seed for noise block ``block`` of ``seed`` (``numpy.random.SeedSequence`` mixing)."""
    state = np.random.SeedSequence([int(seed), int(block)]).generate_state(1, dtype=np.uint64)[0]
    return int(state) & ((1 << 63) - 1)


def noise_for(start: int, stop: int, shape: Sequence[int], seed: int = ROBUSTNESS_SEED) -> Tensor:
    """Standard normal noise ``z`` of test images ``start..stop-1``: float32 ``(stop - start, *shape)`` on the CPU.

    Image i's noise is row ``i % NOISE_BLOCK`` of block ``i // NOISE_BLOCK`` (module docstring), so
    ``noise_for(a, c)`` equals ``cat(noise_for(a, b), noise_for(b, c))`` for any a <= b <= c.
    """
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got {start}, {stop}")
    shape = tuple(int(v) for v in shape)
    parts = []
    for block in range(start // NOISE_BLOCK, -(-stop // NOISE_BLOCK)):
        gen = torch.Generator().manual_seed(_block_seed(seed, block))
        z = torch.randn((NOISE_BLOCK, *shape), generator=gen)
        lo = max(start - block * NOISE_BLOCK, 0)
        hi = min(stop - block * NOISE_BLOCK, NOISE_BLOCK)
        parts.append(z[lo:hi])
    return torch.cat(parts) if parts else torch.empty((0, *shape))


def sigma_label(sigma: float) -> str:
    """The sigma in a metric name: ``0.2 -> "0.2"``, ``0.0 -> "0"`` (``format(sigma, "g")``)."""
    return format(float(sigma), "g")


@dataclass(frozen=True)
class RobustAccuracy:
    """What :func:`robust_accuracy` returns.

    Attributes
    ----------
    sigmas : tuple of float
        The S noise strengths, in the order asked.
    level : numpy.ndarray
        float64 (S, m): ``level[s, k]`` is the accuracy of level k (0 = finest) under ``sigmas[s]``.
    full_path : numpy.ndarray
        float64 (S,): the fraction of images with every level right under ``sigmas[s]``.
    """

    sigmas: tuple[float, ...]
    level: np.ndarray
    full_path: np.ndarray


def robust_accuracy(
    scores: Callable[[Tensor], Sequence[Tensor]],
    x: Tensor,
    y: Tensor,
    sigmas: Sequence[float],
    *,
    view: Callable[[Tensor], Tensor] | None = None,
    seed: int = ROBUSTNESS_SEED,
    batch_size: int = NOISE_BLOCK,
    device: torch.device | str | None = None,
) -> RobustAccuracy:
    """Per-level and full-path accuracy under additive Gaussian pixel noise of each sigma.

    Parameters
    ----------
    scores
        ``scores(v) -> [s_0, ..., s_{m-1}]``: the per-level scores ``(B, C_k)`` of a batch of views
        ``v`` float32 ``(B, C, H, W)`` in [0, 1] (the caller normalises and runs the model, in eval
        mode). The prediction of level k is the argmax of ``s_k`` (first index on ties).
    x
        Test images ``(N, ...)``: uint8 or float, turned into views by ``view`` batch by batch.
    y
        int labels ``(N, m)``.
    sigmas
        Noise strengths >= 0, in [0, 1] pixel units.
    view
        ``view(x[a:b]) -> (B, C, H, W)`` float in [0, 1] on ``device``; default: ``x / 255`` for
        uint8 input, ``x`` as float32 otherwise, moved to ``device``.
    seed
        Seed of the noise (:func:`noise_for`); keep the default so every method sees the same images.
    batch_size
        Images per call of ``scores``; a multiple of :data:`NOISE_BLOCK` avoids drawing a block twice.
    device
        Where the views and the noise go (default: ``x``'s device).

    Runs under :func:`torch.inference_mode`. Noise is drawn on the CPU (same on every device) and
    reused for every sigma: ``v~ = clamp(v + sigma * z, 0, 1)``; with sigma = 0 the clean views are
    used as they are.
    """
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or any(not np.isfinite(s) or s < 0 for s in sigmas):
        raise ValueError(f"sigmas must be a non-empty sequence of finite numbers >= 0, got {sigmas}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(x)
    if y.dim() != 2 or len(y) != n:
        raise ValueError(f"y must have shape ({n}, m), got {tuple(y.shape)}")
    device = torch.device(device) if device is not None else x.device
    if view is None:
        def view(xb: Tensor) -> Tensor:
            xb = xb.to(device)
            return xb.to(torch.float32) / 255.0 if xb.dtype == torch.uint8 else xb.to(torch.float32)
    m = y.shape[1]
    y_dev = y.to(device)
    level_hits = torch.zeros((len(sigmas), m), dtype=torch.int64, device=device)
    path_hits = torch.zeros(len(sigmas), dtype=torch.int64, device=device)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            v = view(x[start:stop])
            z = noise_for(start, stop, v.shape[1:], seed).to(device) if any(sigmas) else None
            yb = y_dev[start:stop]
            for i, sigma in enumerate(sigmas):
                vs = v if sigma == 0 else (v + sigma * z).clamp_(0.0, 1.0)
                out = list(scores(vs))
                if len(out) != m:
                    raise ValueError(f"scores returned {len(out)} levels, y has {m}")
                pred = torch.stack([s.argmax(dim=1) for s in out], dim=1)
                right = pred == yb
                level_hits[i] += right.sum(dim=0)
                path_hits[i] += right.all(dim=1).sum()
    total = max(n, 1)
    return RobustAccuracy(sigmas=sigmas, level=level_hits.cpu().numpy() / total,
                          full_path=path_hits.cpu().numpy() / total)
