"""Batched image augmentation on the device: the spec's torchvision transforms, one batch at a time.

The study keeps each dataset as one uint8 tensor ``(N, C, H, W)`` on the device and augments whole
batches there (``specs/hcal.md``, "Datasets"), instead of a DataLoader that transforms PIL images one
by one on the CPU. Each function reproduces the torchvision transform it replaces, image by image:

* CIFAR training, :func:`augment_batch`: ``RandomCrop(H, padding)`` (zero fill),
  ``RandomHorizontalFlip()``, ``RandomRotation(degrees)`` (nearest, fill 0), composed into one
  affine map per image and applied by one :func:`torch.nn.functional.affine_grid` +
  :func:`torch.nn.functional.grid_sample` (:func:`affine_augment`);
* Aircraft training, :func:`random_resized_crop`: ``RandomResizedCrop(size)`` (bilinear,
  antialiased) + ``RandomHorizontalFlip()``, as two batched matrix products (:func:`resized_crop`);
* Aircraft test, :func:`resize_center_crop`: ``Resize(256)`` + ``CenterCrop(224)``.

Every function returns float32 images on the 0..1 scale (``x / 255``, the scale of ``ToTensor``);
normalisation ``(x - mean) / std`` is left to the caller (as :meth:`hmc.data.images.ImageHierarchy.normalize`
does). The random draws are separate functions (:func:`augment_params`, :func:`resized_crop_params`)
that take a :class:`torch.Generator`, so a seed reproduces a batch and tests can pin exact values.

Coordinates: pixel ``(i, j)`` (row, column) of an ``H x W`` image has its centre at
``(u, v) = (j - (W - 1) / 2, i - (H - 1) / 2)`` relative to the image centre (``u`` right, ``v`` down),
the convention of torchvision's tensor ``rotate`` and of ``affine_grid(align_corners=False)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "affine_augment",
    "augment_batch",
    "augment_params",
    "random_resized_crop",
    "resize_center_crop",
    "resized_crop",
    "resized_crop_params",
]


# =============================================================================== checks
def _check_images(x: Tensor) -> None:
    """Raise ValueError unless ``x`` is a uint8 tensor of shape (B, C, H, W)."""
    if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        what = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"images must be a uint8 tensor (B, C, H, W), got a {what}")


def _check_batch(name: str, t: Tensor, shape: tuple[int, ...]) -> None:
    """Raise ValueError unless ``t`` has ``shape``."""
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")


def _check_range(name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """``(low, high)`` as floats; ValueError unless ``0 < low <= high``."""
    low, high = (float(b) for b in bounds)
    if not 0 < low <= high:
        raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {bounds}")
    return low, high


def _draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Where random numbers are drawn: the generator's device, else ``device`` (its default generator)."""
    return generator.device if generator is not None else device


# =============================================================================== CIFAR: crop, flip, rotate
def augment_params(
    n: int,
    *,
    padding: int = 4,
    flip: bool = True,
    degrees: float = 15.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw the parameters of :func:`augment_batch` for ``n`` images.

    Returns, on ``device``:

    * ``shifts``, int64 (n, 2): ``(dy, dx)`` uniform on the integers ``-padding..padding``, i.e.
      torchvision's ``RandomCrop`` offsets ``(top, left) = (padding + dy, padding + dx)`` in the
      zero-padded image;
    * ``flips``, bool (n,): True with probability 0.5 (always False when ``flip`` is False);
    * ``angles``, float32 (n,): degrees, uniform on ``[-degrees, degrees]``.

    Drawn on the generator's device (on ``device`` with its default generator when ``generator``
    is None) in that order, then moved to ``device``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding}")
    if degrees < 0:
        raise ValueError(f"degrees must be >= 0, got {degrees}")
    device = torch.device(device)
    at = _draw_device(generator, device)
    padding = int(padding)
    shifts = torch.randint(-padding, padding + 1, (n, 2), generator=generator, device=at)
    if flip:
        flips = torch.rand(n, generator=generator, device=at) < 0.5
    else:
        flips = torch.zeros(n, dtype=torch.bool, device=at)
    angles = (torch.rand(n, generator=generator, device=at) * 2 - 1) * float(degrees)
    return shifts.to(device), flips.to(device), angles.to(device)


def affine_augment(x: Tensor, shifts: Tensor, flips: Tensor, angles: Tensor) -> Tensor:
    """Shift, flip and rotate each image by given amounts, in one batched affine warp.

    Parameters
    ----------
    x : uint8 (B, C, H, W), any device.
    shifts : int (B, 2)
        ``(dy, dx)``: the crop of torchvision's ``RandomCrop`` at ``(top, left) = (p + dy, p + dx)``
        of the image zero-padded by ``p``, i.e. ``crop[i, j] = x[i + dy, j + dx]`` (0 outside x).
    flips : bool (B,)
        Horizontal flip after the crop: ``flipped[i, j] = crop[i, W - 1 - j]``.
    angles : float (B,)
        Degrees, counter-clockwise on screen (torchvision's ``rotate``), about the image centre.

    Returns
    -------
    float32 (B, C, H, W) on x's device, values ``x / 255`` (nearest neighbour, so no new values).

    Math: in centred pixel coordinates ``p = (u, v)`` (module docstring) output pixel ``p`` takes
    its value from the crop at ``q = F R p`` and so from ``x`` at ``q + (dx, dy)``, with

    .. math::

        R = \\begin{pmatrix} \\cos\\theta & -\\sin\\theta \\\\ \\sin\\theta & \\cos\\theta \\end{pmatrix},
        \\qquad F = \\operatorname{diag}(f, 1),\\ f = -1 \\text{ if flipped else } 1

    (``v`` points down, so this ``R`` turns the picture counter-clockwise). In the normalised
    coordinates of ``affine_grid`` (``2u / W``, ``2v / H``) the matrix is
    ``theta = [S F R S^-1 | S t]`` with ``S = diag(2 / W, 2 / H)`` and ``t = (dx, dy)``. One ``grid_sample`` (nearest, zeros outside x,
    ``align_corners=False``) applies it. As in torchvision, where the rotation looks outside the
    crop window (``round(q)`` not a pixel of the ``H x W`` crop) the output is 0, even if ``x``
    has a pixel there (a mask computed from ``q``). The result equals torchvision's
    pad-crop / ``hflip`` / ``rotate(NEAREST)`` sequence on the tensor, except for pixels whose source
    coordinate falls, in float arithmetic, on the other side of a rounding tie (a few boundary
    pixels at angles with exact half-pixel sources, e.g. 30 degrees on an odd-sized image).
    """
    _check_images(x)
    B, C, H, W = x.shape
    device = x.device
    shifts, flips, angles = (torch.as_tensor(t, device=device) for t in (shifts, flips, angles))
    _check_batch("shifts", shifts, (B, 2))
    _check_batch("flips", flips, (B,))
    _check_batch("angles", angles, (B,))
    if shifts.is_floating_point() or flips.dtype != torch.bool:
        raise ValueError(f"shifts must be integers and flips bool, got {shifts.dtype} and {flips.dtype}")
    theta_rad = torch.deg2rad(angles.to(torch.float64))
    cos, sin = theta_rad.cos(), theta_rad.sin()
    f = 1.0 - 2.0 * flips.to(torch.float64)
    dy, dx = shifts[:, 0].to(torch.float64), shifts[:, 1].to(torch.float64)
    theta = torch.stack([
        torch.stack([f * cos, -f * sin * (H / W), 2 * dx / W], dim=-1),
        torch.stack([sin * (W / H), cos, 2 * dy / H], dim=-1),
    ], dim=1).to(torch.float32)  # (B, 2, 3)
    grid = F.affine_grid(theta, [B, C, H, W], align_corners=False)  # (B, H, W, 2): (u, v) normalised
    out = F.grid_sample(x.to(torch.float32) / 255.0, grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)
    u = torch.arange(W, dtype=torch.float64, device=device) - (W - 1) / 2  # (W,) centred columns
    v = torch.arange(H, dtype=torch.float64, device=device)[:, None] - (H - 1) / 2  # (H, 1) centred rows
    inside = _in_window(f * cos, -f * sin, u, v, W) & _in_window(sin, cos, u, v, H)  # q = F R p in the crop
    return out * inside[:, None]


def _in_window(a: Tensor, b: Tensor, u: Tensor, v: Tensor, n: int) -> Tensor:
    """bool (B, H, W): is ``round(a_b u_j + b_b v_i + (n - 1) / 2)`` a pixel index ``0..n-1``?

    ``a``, ``b`` float64 (B,); ``u`` (W,) and ``v`` (H, 1) the centred pixel coordinates. The two
    terms are formed on (B, 1, W) and (B, H, 1) and added once at full size.
    """
    index = torch.round((a[:, None, None] * u + (n - 1) / 2).float() + (b[:, None, None] * v).float())
    return (index >= 0) & (index <= n - 1)


def augment_batch(
    x: Tensor,
    *,
    padding: int = 4,
    flip: bool = True,
    degrees: float = 15.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """CIFAR training augmentation of a batch: random crop with zero padding, flip, rotation.

    ``x`` uint8 (B, C, H, W) on any device -> float32 (B, C, H, W) in [0, 1] on the same device.
    Per image, independently, the torchvision pipeline ``RandomCrop(H, padding)`` (fill 0; for
    square images, crop size = image size), ``RandomHorizontalFlip(0.5)`` (if ``flip``),
    ``RandomRotation(degrees)`` (nearest, fill 0), then ``ToTensor``'s ``/ 255``; parameters from
    :func:`augment_params` (drawn with ``generator`` on its device, or on x's device's default
    generator), applied by :func:`affine_augment` as one affine warp. No loop over images.
    """
    _check_images(x)
    params = augment_params(len(x), padding=padding, flip=flip, degrees=degrees, generator=generator,
                            device=x.device)
    return affine_augment(x, *params)


# =============================================================================== Aircraft: resized crops
def resized_crop_params(
    n: int,
    height: int,
    width: int,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    attempts: int = 10,
) -> tuple[Tensor, Tensor]:
    """Draw ``RandomResizedCrop`` boxes (and flips) for ``n`` images of ``height x width``.

    torchvision's rule, vectorised over images: each of ``attempts`` tries draws an area fraction
    ``s ~ U(scale)`` and an aspect ratio ``r = exp(U(log ratio))``, and proposes
    ``w = round(sqrt(s H W r))``, ``h = round(sqrt(s H W / r))``; the first try with
    ``0 < w <= W`` and ``0 < h <= H`` is taken, placed at ``top ~ U{0..H-h}``, ``left ~ U{0..W-w}``.
    If no try fits, the central crop of the largest box whose aspect ratio is clamped into
    ``ratio`` (the whole image when ``W / H`` lies in ``ratio``).

    Returns ``boxes`` int64 (n, 4) as ``(top, left, h, w)`` and ``flips`` bool (n,) (probability
    0.5 when ``flip``, else all False), on ``device``; drawn on the generator's device.
    """
    if n < 0 or height < 1 or width < 1 or attempts < 1:
        raise ValueError(f"need n >= 0, height, width, attempts >= 1; got {n}, {height}, {width}, {attempts}")
    s_low, s_high = _check_range("scale", scale)
    r_low, r_high = _check_range("ratio", ratio)
    device = torch.device(device)
    at = _draw_device(generator, device)
    area = float(height * width)
    s = s_low + (s_high - s_low) * torch.rand(n, attempts, generator=generator, device=at, dtype=torch.float64)
    u = torch.rand(n, attempts, generator=generator, device=at, dtype=torch.float64)
    r = torch.exp(math.log(r_low) + (math.log(r_high) - math.log(r_low)) * u)
    w = torch.round(torch.sqrt(area * s * r)).long()
    h = torch.round(torch.sqrt(area * s / r)).long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.int8).argmax(dim=1, keepdim=True)  # first fitting try (0 when none fits)
    w, h = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0]
    found = fits.any(dim=1)

    in_ratio = width / height  # torchvision's fallback box
    if in_ratio < r_low:
        fw, fh = width, int(round(width / r_low))
    elif in_ratio > r_high:
        fw, fh = int(round(height * r_high)), height
    else:
        fw, fh = width, height
    pos = torch.rand(n, 2, generator=generator, device=at, dtype=torch.float64)
    top = torch.floor(pos[:, 0] * (height - h + 1)).long()
    left = torch.floor(pos[:, 1] * (width - w + 1)).long()
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], device=at)
    boxes = torch.where(found[:, None], torch.stack([top, left, h, w], dim=1), fallback)
    if flip:
        flips = torch.rand(n, generator=generator, device=at) < 0.5
    else:
        flips = torch.zeros(n, dtype=torch.bool, device=at)
    return boxes.to(device), flips.to(device)


def _crop_weights(start: Tensor, length: Tensor, in_size: int, out_size: int) -> Tensor:
    """Antialiased bilinear resampling of the segment ``[start, start + length)`` to ``out_size``.

    ``start``, ``length`` int (B,) -> float32 (B, out_size, in_size), rows summing to 1. The weights
    of ``F.interpolate(mode="bilinear", antialias=True, align_corners=False)`` on the cropped
    segment: with ``scale = length / out_size``, output ``o`` centred at ``c_o = scale (o + 0.5)``
    (segment coordinates), segment pixel ``k`` gets ``max(0, 1 - |k + 0.5 - c_o| / max(scale, 1))``,
    then each row is normalised over the pixels of the segment. Upsampling (``scale < 1``) gives
    plain bilinear interpolation with the source clamped to the segment.
    """
    scale = length.to(torch.float32) / out_size  # (B,)
    centre = scale[:, None] * (torch.arange(out_size, device=start.device, dtype=torch.float32) + 0.5)
    k = torch.arange(in_size, device=start.device)[None, :] - start[:, None]  # segment coordinate of each pixel
    distance = (k[:, None, :] + 0.5 - centre[:, :, None]) / scale.clamp_min(1.0)[:, None, None]
    weights = (1.0 - distance.abs()).clamp_min(0.0) * ((k >= 0) & (k < length[:, None]))[:, None, :]
    return weights / weights.sum(dim=-1, keepdim=True)


def resized_crop(x: Tensor, boxes: Tensor, size: int, flips: Tensor | None = None) -> Tensor:
    """Crop each image to its box, resize it to ``size x size`` (antialiased bilinear), maybe flip.

    ``x`` uint8 (B, C, H, W); ``boxes`` int (B, 4) rows ``(top, left, h, w)`` inside the image;
    ``flips`` bool (B,) or None -> float32 (B, C, size, size) in [0, 1] on x's device.

    Per image this is torchvision's ``resized_crop(img, top, left, h, w, [size, size], BILINEAR,
    antialias=True)`` (then ``hflip`` where flipped), / 255. The resize is separable, so with the
    row weights ``A_b`` (size, H) and column weights ``B_b`` (size, W) of :func:`_crop_weights`
    (zero outside the box) the batch is two batched matrix products,
    ``out_b = A_b x_b B_b^T``; a flip reverses the rows of ``B_b``.
    """
    _check_images(x)
    B, C, H, W = x.shape
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    boxes = torch.as_tensor(boxes, device=x.device)
    _check_batch("boxes", boxes, (B, 4))
    top, left, h, w = boxes.long().unbind(dim=1)
    bad = (top < 0) | (left < 0) | (h < 1) | (w < 1) | (top + h > H) | (left + w > W)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"box {boxes[i].tolist()} (top, left, h, w) of image {i} is not inside {H}x{W}")
    rows = _crop_weights(top, h, H, size)  # (B, size, H)
    cols = _crop_weights(left, w, W, size)  # (B, size, W)
    if flips is not None:
        flips = torch.as_tensor(flips, device=x.device)
        _check_batch("flips", flips, (B,))
        if flips.dtype != torch.bool:
            raise ValueError(f"flips must be bool, got {flips.dtype}")
        cols = torch.where(flips[:, None, None], cols.flip(1), cols)
    out = rows[:, None] @ (x.to(torch.float32) / 255.0) @ cols.transpose(1, 2)[:, None]
    return out.clamp_(0.0, 1.0)


def random_resized_crop(
    x: Tensor,
    size: int = 224,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Aircraft training augmentation: ``RandomResizedCrop(size, scale, ratio)`` + horizontal flip.

    ``x`` uint8 (B, C, H, W) -> float32 (B, C, size, size) in [0, 1] on x's device:
    :func:`resized_crop` with the boxes and flips of :func:`resized_crop_params` (drawn with
    ``generator``), batched, no loop over images.
    """
    _check_images(x)
    boxes, flips = resized_crop_params(len(x), x.shape[-2], x.shape[-1], scale=scale, ratio=ratio, flip=flip,
                                       generator=generator, device=x.device)
    return resized_crop(x, boxes, size, flips)


def resize_center_crop(x: Tensor, resize: int = 256, crop: int = 224) -> Tensor:
    """Test-time transform ``Resize(resize)`` + ``CenterCrop(crop)``, / 255.

    ``x`` uint8 (B, C, H, W) -> float32 (B, C, crop, crop) in [0, 1] on x's device. The shorter
    side becomes ``resize`` and the longer ``int(resize * long / short)`` (torchvision's rule),
    by ``F.interpolate(mode="bilinear", antialias=True, align_corners=False)`` (torchvision's
    tensor ``resize``), then the ``crop x crop`` window at ``top = round((H' - crop) / 2)``,
    ``left = round((W' - crop) / 2)``. Unlike torchvision, which would pad, a crop larger than
    the resized image is a ValueError.
    """
    _check_images(x)
    if resize < 1 or crop < 1:
        raise ValueError(f"resize and crop must be >= 1, got {resize} and {crop}")
    H, W = x.shape[-2:]
    if W <= H:
        new_h, new_w = int(resize * H / W), resize
    else:
        new_h, new_w = resize, int(resize * W / H)
    if crop > min(new_h, new_w):
        raise ValueError(f"crop {crop} is larger than the resized image {new_h}x{new_w}")
    out = F.interpolate(x.to(torch.float32), size=(new_h, new_w), mode="bilinear", align_corners=False,
                        antialias=True)
    top, left = int(round((new_h - crop) / 2.0)), int(round((new_w - crop) / 2.0))
    return (out[..., top:top + crop, left:left + crop] / 255.0).clamp_(0.0, 1.0)
