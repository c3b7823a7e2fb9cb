"""hmc.augment against explicit padding/slicing, torch.flip / rot90 and torchvision's own transforms.

Tolerances (measured when the tests were written, torch 2.15 / torchvision 0.29, CPU):

* shift / flip / rot90 / the full crop-flip-rotate sequence at generic angles: exact (nearest
  neighbour, so the output is ``x / 255`` of the very pixels torchvision picks);
* rotation at angles whose source coordinates fall exactly on half pixels (30 and -60 degrees on
  an odd-sized image): every differing pixel is such a rounding tie, at most 3% of the pixels
  (2.2% seen on 15 x 15);
* resized crops and ``resize_center_crop`` against torchvision on float tensors: 1e-6 on the 0..1
  scale (3e-7 seen); on uint8 tensors torchvision rounds its result to integers: 1/255 (0.5/255 seen).
"""

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode, RandomResizedCrop

from hmc.augment import (
    affine_augment,
    augment_batch,
    augment_params,
    random_resized_crop,
    resize_center_crop,
    resized_crop,
    resized_crop_params,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def images(b, h, w, seed=0, c=3):
    """Random uint8 images (b, c, h, w), no zero pixel (so the zero fill is visible)."""
    return torch.randint(1, 256, (b, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def no_flip(b):
    return torch.zeros(b, dtype=torch.bool)


def torchvision_sequence(x, shifts, flips, angles, padding):
    """Per image: zero-pad + crop (RandomCrop's output), hflip, rotate (nearest, fill 0); / 255."""
    H, W = x.shape[-2:]
    out = []
    for img, (dy, dx), f, a in zip(x, shifts.tolist(), flips.tolist(), angles.tolist(), strict=True):
        img = TF.crop(TF.pad(img, [padding]), padding + dy, padding + dx, H, W)
        if f:
            img = TF.hflip(img)
        out.append(TF.rotate(img, a, interpolation=InterpolationMode.NEAREST))
    return torch.stack(out).float() / 255


def rounding_ties(h, w, angle, tol=1e-4):
    """bool (h, w): output pixels whose rotation source (float64) lies within tol of a half pixel."""
    t = math.radians(angle)
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64) - (h - 1) / 2,
                          torch.arange(w, dtype=torch.float64) - (w - 1) / 2, indexing="ij")
    src_col = math.cos(t) * u - math.sin(t) * v + (w - 1) / 2
    src_row = math.sin(t) * u + math.cos(t) * v + (h - 1) / 2
    return ((src_col % 1 - 0.5).abs() < tol) | ((src_row % 1 - 0.5).abs() < tol)


# ------------------------------------------------------------------------ crop, flip, rotate
@pytest.mark.parametrize("shape", [(8, 8), (6, 9)])
def test_shift_equals_zero_pad_and_slice(shape):
    H, W = shape
    p = 4
    x = images(5, H, W)
    shifts = torch.tensor([[0, 0], [2, -1], [-3, 4], [4, 4], [-4, -2]])
    out = affine_augment(x, shifts, no_flip(5), torch.zeros(5))
    padded = F.pad(x, (p, p, p, p))
    expected = torch.stack([padded[b, :, p + dy:p + dy + H, p + dx:p + dx + W]
                            for b, (dy, dx) in enumerate(shifts.tolist())]).float() / 255
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.equal(out, expected)
    assert torch.equal(out[3, :, :H - 4, :W - 4], x[3, :, 4:, 4:].float() / 255)  # shift (4, 4): x[i + 4, j + 4]
    assert (out[3, :, H - 4:] == 0).all() and (out[3, :, :, W - 4:] == 0).all()


def test_flip_equals_torch_flip():
    x = images(3, 7, 10)
    out = affine_augment(x, torch.zeros(3, 2, dtype=torch.long), torch.tensor([True, False, True]), torch.zeros(3))
    assert torch.equal(out[0], torch.flip(x[0], dims=[-1]).float() / 255)
    assert torch.equal(out[1], x[1].float() / 255)
    assert torch.equal(out[2], torch.flip(x[2], dims=[-1]).float() / 255)


@pytest.mark.parametrize("side", [7, 8])
@pytest.mark.parametrize("angle,k", [(90.0, 1), (-90.0, -1), (180.0, 2)])
def test_right_angles_equal_rot90(side, angle, k):
    """Positive angle = counter-clockwise, as torch.rot90 with k > 0 on (H, W)."""
    x = images(2, side, side)
    out = affine_augment(x, torch.zeros(2, 2, dtype=torch.long), no_flip(2), torch.full((2,), angle))
    assert torch.equal(out, torch.rot90(x, k, dims=(-2, -1)).float() / 255)


@pytest.mark.parametrize("shape", [(15, 15), (16, 16), (15, 18)])
def test_rotation_matches_torchvision_rotate(shape):
    H, W = shape
    x = images(2, H, W)
    worst = 0.0
    for angle in (5.0, -12.5, 15.0, 37.3, 45.0, 30.0, -60.0):
        out = affine_augment(x, torch.zeros(2, 2, dtype=torch.long), no_flip(2), torch.full((2,), angle))
        ref = TF.rotate(x, angle, interpolation=InterpolationMode.NEAREST).float() / 255
        differ = (out != ref).any(dim=1)  # (2, H, W)
        ties = rounding_ties(H, W, angle)
        assert not (differ & ~ties).any(), f"{angle} deg: a pixel that is not a rounding tie differs"
        if not ties.any():
            assert not differ.any()
        worst = max(worst, differ.float().mean().item())
    assert worst <= 0.03


@pytest.mark.parametrize("shape", [(16, 16), (15, 15), (12, 17)])
def test_composition_matches_torchvision_sequence(shape):
    """Random shift, flip and angle: equals pad-crop -> hflip -> rotate per image, including the
    zero corners where the rotation looks outside the crop window (x has pixels there)."""
    B, p = 24, 4
    x = images(B, *shape)
    shifts, flips, angles = augment_params(B, padding=p, degrees=15.0, generator=torch.Generator().manual_seed(1))
    assert flips.any() and not flips.all()
    out = affine_augment(x, shifts, flips, angles)
    assert torch.equal(out, torchvision_sequence(x, shifts, flips, angles, p))


def test_augment_batch_seeded_and_built_from_params():
    x = images(6, 8, 8)
    a = augment_batch(x, generator=torch.Generator().manual_seed(5))
    b = augment_batch(x, generator=torch.Generator().manual_seed(5))
    c = augment_batch(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    params = augment_params(6, padding=4, flip=True, degrees=15.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, affine_augment(x, *params))
    assert a.dtype == torch.float32 and a.shape == x.shape and a.min() >= 0 and a.max() <= 1


def test_augment_params_ranges():
    n, p, d = 20000, 3, 15.0
    shifts, flips, angles = augment_params(n, padding=p, degrees=d, generator=torch.Generator().manual_seed(0))
    assert shifts.shape == (n, 2) and shifts.dtype == torch.int64
    assert set(shifts.unique().tolist()) == set(range(-p, p + 1))
    assert flips.dtype == torch.bool and abs(flips.float().mean().item() - 0.5) < 0.02
    assert angles.shape == (n,) and angles.abs().max() <= d
    assert angles.min() < -0.99 * d and angles.max() > 0.99 * d and abs(angles.mean().item()) < 0.3
    shifts, flips, angles = augment_params(50, padding=0, flip=False, degrees=0.0)
    assert not shifts.any() and not flips.any() and not angles.any()
    x = images(4, 8, 8)
    assert torch.equal(augment_batch(x, padding=0, flip=False, degrees=0.0), x.float() / 255)


def test_bad_input_raises():
    x = images(2, 8, 8)
    zeros, flips, angles = torch.zeros(2, 2, dtype=torch.long), no_flip(2), torch.zeros(2)
    with pytest.raises(ValueError, match="uint8"):
        augment_batch(x.float())
    with pytest.raises(ValueError, match="uint8"):
        augment_batch(x[0])
    with pytest.raises(ValueError, match="padding"):
        augment_batch(x, padding=-1)
    with pytest.raises(ValueError, match="degrees"):
        augment_batch(x, degrees=-5)
    with pytest.raises(ValueError, match=r"shifts must have shape \(2, 2\)"):
        affine_augment(x, torch.zeros(3, 2, dtype=torch.long), flips, angles)
    with pytest.raises(ValueError, match="integers"):
        affine_augment(x, zeros.float(), flips, angles)
    with pytest.raises(ValueError, match="not inside 8x8"):
        resized_crop(x, torch.tensor([[0, 0, 8, 8], [1, 0, 8, 8]]), 4)
    with pytest.raises(ValueError, match="scale"):
        random_resized_crop(x, 4, scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="larger than the resized image"):
        resize_center_crop(x, resize=8, crop=9)


# ------------------------------------------------------------------------ resized crops
@pytest.mark.parametrize("shape,size", [((16, 20), 12), ((16, 20), 24), ((24, 24), 7)])
def test_resized_crop_matches_torchvision(shape, size):
    """Boxes smaller and larger than ``size`` (up- and downsampling), flips, antialias on."""
    H, W = shape
    B = 12
    x = images(B, H, W)
    boxes, flips = resized_crop_params(B, H, W, generator=torch.Generator().manual_seed(2))
    assert flips.any() and not flips.all()
    out = resized_crop(x, boxes, size, flips)
    assert out.shape == (B, 3, size, size) and out.dtype == torch.float32
    for img, box, f, o in zip(x, boxes.tolist(), flips.tolist(), out, strict=True):
        for src, atol in ((img.float(), 1e-6 * 255), (img, 1.0)):
            ref = TF.resized_crop(src, *box, [size, size], InterpolationMode.BILINEAR, antialias=True)
            ref = TF.hflip(ref) if f else ref
            torch.testing.assert_close(o * 255, ref.float(), rtol=0, atol=atol)


def test_random_resized_crop_seeded_shape_and_flip():
    x = images(5, 16, 16)
    out = random_resized_crop(x, 10, generator=torch.Generator().manual_seed(3))
    boxes, flips = resized_crop_params(5, 16, 16, generator=torch.Generator().manual_seed(3))
    assert out.shape == (5, 3, 10, 10) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, resized_crop(x, boxes, 10, flips))
    whole = resized_crop(x, torch.tensor([[0, 0, 16, 16]] * 5), 16, torch.tensor([True] * 5))
    torch.testing.assert_close(whole, torch.flip(x, dims=[-1]).float() / 255, rtol=0, atol=1e-6)


def test_resized_crop_boxes_within_bounds():
    n, H, W = 4000, 32, 24
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    boxes, _ = resized_crop_params(n, H, W, scale=scale, ratio=ratio, generator=torch.Generator().manual_seed(0))
    top, left, h, w = boxes.double().unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= H).all() and (left + w <= W).all()
    assert (h >= 1).all() and (w >= 1).all()
    # w, h are the rounded sqrt(s H W r), sqrt(s H W / r): bounds up to half a pixel on each side
    area = H * W
    assert ((w - 0.5) * (h - 0.5) <= scale[1] * area).all() and ((w + 0.5) * (h + 0.5) >= scale[0] * area).all()
    assert ((w - 0.5) / (h + 0.5) <= ratio[1]).all() and ((w + 0.5) / (h - 0.5) >= ratio[0]).all()
    # the same distribution as torchvision's get_params (means within 5 standard errors)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        ref = torch.tensor([RandomResizedCrop.get_params(torch.empty(1, H, W), list(scale), list(ratio))
                            for _ in range(n)], dtype=torch.float64)
    for ours, theirs in ((h * w / area, ref[:, 2] * ref[:, 3] / area), (w / h, ref[:, 3] / ref[:, 2]),
                         (top + h / 2, ref[:, 0] + ref[:, 2] / 2), (left + w / 2, ref[:, 1] + ref[:, 3] / 2)):
        se = math.sqrt((ours.var() + theirs.var()).item() / n)
        assert abs(ours.mean().item() - theirs.mean().item()) < 5 * se


def test_resized_crop_fallback_is_central_crop():
    """16 x 32 (aspect 2 > 4/3) with scale 1: no try fits (h = sqrt(512 / r) > 16), so torchvision's
    fallback: h = 16, w = round(16 * 4/3) = 21, top 0, left (32 - 21) // 2 = 5."""
    boxes, _ = resized_crop_params(6, 16, 32, scale=(1.0, 1.0), generator=torch.Generator().manual_seed(0))
    assert boxes.tolist() == [[0, 5, 16, 21]] * 6
    boxes, _ = resized_crop_params(3, 20, 20, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert boxes.tolist() == [[0, 0, 20, 20]] * 3


@pytest.mark.parametrize("shape,resize,crop", [((40, 50), 256, 224), ((21, 17), 12, 10), ((16, 16), 16, 16)])
def test_resize_center_crop_matches_torchvision(shape, resize, crop):
    x = images(3, *shape)
    out = resize_center_crop(x, resize, crop)
    assert out.shape == (3, 3, crop, crop) and out.dtype == torch.float32
    for src, atol in ((x.float(), 1e-6 * 255), (x, 1.0)):
        ref = TF.center_crop(TF.resize(src, resize, InterpolationMode.BILINEAR, antialias=True), crop)
        torch.testing.assert_close(out * 255, ref.float(), rtol=0, atol=atol)


# ------------------------------------------------------------------------ CUDA
@CUDA
def test_cuda_matches_cpu():
    x = images(8, 16, 16)
    cpu = augment_batch(x, generator=torch.Generator().manual_seed(4))
    gpu = augment_batch(x.cuda(), generator=torch.Generator().manual_seed(4))  # CPU draws, moved
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
    g1, g2 = (torch.Generator(device="cuda").manual_seed(4) for _ in range(2))
    assert torch.equal(augment_batch(x.cuda(), generator=g1), augment_batch(x.cuda(), generator=g2))
    cpu = random_resized_crop(x, 12, generator=torch.Generator().manual_seed(4))
    gpu = random_resized_crop(x.cuda(), 12, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-5)
    torch.testing.assert_close(resize_center_crop(x.cuda(), 12, 10).cpu(), resize_center_crop(x, 12, 10),
                               rtol=0, atol=1e-5)
