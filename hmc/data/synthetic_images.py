"""A procedural image hierarchy that needs no download: coloured, striped shapes on tinted backgrounds.

``make_synthetic_images(branching=(4, 3))`` draws a 2- or 3-level class tree in a few tenths of a
second on a CPU. Each level is tied to one visual attribute, coarsest first:

- coarse (``branching[0]`` classes, at most 8): the shape family (disc, square, triangle, cross,
  ring, diamond, star, frame) AND the background hue, so coarse classes differ globally (easy);
- colour (3 levels only, ``branching[1]`` children per coarse class, at most 12): the hue of the
  shape, evenly spaced around the colour wheel (the same hues under every coarse class). With 2
  levels the shape's hue is random (a nuisance);
- stripes (the finest level, ``branching[-1]`` children per parent, at most 8): the orientation of a
  stripe texture inside the shape, evenly spaced over 180 degrees, with a random phase (hard on
  raw pixels: the class means of random-phase stripes are nearly flat, a convolution sees them).

Nuisances make it a learning problem: position jitter (+-15% of the image), size, rotation (+-20
degrees), hue, saturation and brightness jitter within a class, stripe phase, and Gaussian pixel
noise. Images are RGB uint8 (N, 3, size, size), deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hmc.data.images import ImageHierarchy, channel_stats

SHAPES = ("disc", "square", "triangle", "cross", "ring", "diamond", "star", "frame")
MAX_COLOURS = 12
MAX_STRIPES = 8
ATTRIBUTES = {2: ("shape+background", "stripes"), 3: ("shape+background", "colour", "stripes")}
"""The attribute behind each level, coarsest first, by number of levels."""
_CHUNK = 2048


def power_law_counts(n_classes: int, n_max: int, imbalance: float) -> np.ndarray:
    """Per-rank sample counts, int64 (n_classes,), descending: ``n_r = round(n_max * (r + 1) ** -a)``.

    The exponent ``a = log(imbalance) / log(n_classes)`` makes the largest / smallest count equal
    ``imbalance`` (before rounding); every count is at least 1. ``imbalance=1`` gives n_max each.
    """
    if imbalance < 1:
        raise ValueError(f"imbalance must be >= 1 (largest / smallest class), got {imbalance}")
    exponent = np.log(imbalance) / np.log(n_classes) if n_classes > 1 else 0.0
    counts = np.round(n_max * np.arange(1, n_classes + 1, dtype=np.float64) ** -exponent)
    return np.maximum(counts, 1).astype(np.int64)


def make_synthetic_images(
    branching: Sequence[int] = (4, 3),
    n_per_class: int = 100,
    imbalance: float = 1.0,
    n_test_per_class: int = 20,
    size: int = 32,
    noise: float = 0.06,
    validation: bool = False,
    seed: int = 0,
) -> ImageHierarchy:
    """Generate the synthetic hierarchy; see the module docstring for what each level looks like.

    branching : classes per parent, COARSEST first: ``(4, 3)`` = 4 coarse classes (shapes) with 3
        fine classes (stripe orientations) each, 12 fine; ``(4, 3, 2)`` = 4 coarse -> 12 middle
        (colours) -> 24 fine (stripe orientations).
    n_per_class, imbalance : training images of the fine classes follow :func:`power_law_counts`
        (the largest class has ``n_per_class``, the smallest ``n_per_class / imbalance``); which
        fine class gets which rank is a seeded random permutation. Test (and validation) sets are
        balanced, ``n_test_per_class`` per fine class.
    size : image side in pixels. noise : std of the Gaussian pixel noise on the 0..1 scale.

    Returns an :class:`ImageHierarchy` named ``"synthetic"`` with levels ``("fine", "coarse")`` or
    ``("fine", "middle", "coarse")``, samples grouped by fine class, mean/std of the training
    images, and ``meta``: ``branching``, ``attributes`` (coarsest first), ``train_counts`` (int64
    per fine class), ``seed``. Train, test and validation use independent random streams spawned
    from ``seed``, so asking for validation does not change train or test.
    """
    branching = tuple(int(b) for b in branching)
    _check_branching(branching)
    m = len(branching)
    n_fine = int(np.prod(branching))
    count_rng, *part_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    train_counts = power_law_counts(n_fine, n_per_class, imbalance)[count_rng.permutation(n_fine)]
    per_part = {"train": train_counts, "test": np.full(n_fine, n_test_per_class, dtype=np.int64)}
    if validation:
        per_part["val"] = per_part["test"]
    x, y = {}, {}
    for (part, counts), rng in zip(per_part.items(), part_rngs):
        fine = np.repeat(np.arange(n_fine, dtype=np.int64), counts)
        x[part] = _draw(fine, branching, size, noise, rng)
        y[part] = torch.from_numpy(np.stack([fine // int(np.prod(branching[m - k:])) for k in range(m)], axis=1))
    mean, std = channel_stats(x["train"])
    split = (f"generated: train {int(train_counts.sum())} images ({int(train_counts.min())}-{int(train_counts.max())} "
             f"per fine class, power-law imbalance {imbalance:g}), test {n_test_per_class} per fine class"
             + (f", validation {n_test_per_class} per fine class" if validation else "")
             + f"; independent draws from seed {seed}")
    return ImageHierarchy(
        name="synthetic", x_train=x["train"], y_train=y["train"], x_test=x["test"], y_test=y["test"],
        x_val=x.get("val"), y_val=y.get("val"),
        level_names=("fine", "coarse") if m == 2 else ("fine", "middle", "coarse"),
        class_names=_class_names(branching), level_parents=_level_parents(branching),
        mean=mean, std=std, split=split,
        meta={"branching": branching, "attributes": ATTRIBUTES[m], "train_counts": train_counts, "seed": seed},
    )


def _check_branching(branching: tuple[int, ...]) -> None:
    if len(branching) not in (2, 3):
        raise ValueError(f"branching must have 2 or 3 levels, got {branching}")
    limits = (len(SHAPES), MAX_COLOURS, MAX_STRIPES) if len(branching) == 3 else (len(SHAPES), MAX_STRIPES)
    for k, (b, limit) in enumerate(zip(branching, limits)):
        if not 1 <= b <= limit:
            raise ValueError(f"branching[{k}] = {b}: level {k} (coarsest first) allows 1..{limit} classes")


def _level_parents(branching: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Finest first: class i of level k has parent ``i // branching[m - 1 - k]``."""
    m = len(branching)
    return tuple(
        np.arange(int(np.prod(branching[: m - k])), dtype=np.int64) // branching[m - 1 - k] for k in range(m - 1)
    )


def _class_names(branching: tuple[int, ...]) -> tuple[tuple[str, ...], ...]:
    """Finest first: coarse ``"disc"``, colour ``"disc/hue060"``, stripes ``"disc/hue060/stripes045"``
    (2 levels: ``"disc/stripes045"``)."""
    levels = [list(SHAPES[: branching[0]])]
    if len(branching) == 3:
        hues = [f"hue{round(360 * (j + 0.5) / branching[1]):03d}" for j in range(branching[1])]
        levels.append([f"{shape}/{hue}" for shape in levels[0] for hue in hues])
    angles = [f"stripes{round(180 * s / branching[-1]):03d}" for s in range(branching[-1])]
    levels.append([f"{parent}/{angle}" for parent in levels[-1] for angle in angles])
    return tuple(tuple(names) for names in reversed(levels))


def _draw(
    fine: np.ndarray, branching: tuple[int, ...], size: int, noise: float, rng: np.random.Generator
) -> torch.Tensor:
    """Images uint8 (N, 3, size, size) of the given fine classes (int64 (N,)).

    Every random attribute is drawn for all N samples before rendering, so the result does not
    depend on the chunking.
    """
    n = len(fine)
    coarse = fine // int(np.prod(branching[1:]))
    angle = np.pi * ((fine % branching[-1]) + rng.uniform(-0.2, 0.2, n)) / branching[-1]
    if len(branching) == 3:
        hue = ((fine // branching[2]) % branching[1] + 0.5 + rng.uniform(-0.2, 0.2, n)) / branching[1]
    else:
        hue = rng.uniform(0, 1, n)
    attrs = {
        "shape": coarse,
        "bg_hue": (coarse + rng.uniform(-0.15, 0.15, n)) / branching[0],
        "bg_sat": rng.uniform(0.35, 0.6, n),
        "bg_val": rng.uniform(0.25, 0.45, n),
        "hue": hue,
        "sat": rng.uniform(0.7, 1.0, n),
        "val": rng.uniform(0.8, 1.0, n),
        "angle": angle,
        "phase": rng.uniform(0, 2 * np.pi, n),
        "cx": rng.uniform(-0.15, 0.15, n) * size,
        "cy": rng.uniform(-0.15, 0.15, n) * size,
        "radius": rng.uniform(0.24, 0.34, n) * size,
        "rotation": rng.uniform(-0.35, 0.35, n),
    }
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        part = {key: value[start:start + _CHUNK] for key, value in attrs.items()}
        pixel_noise = rng.standard_normal((len(part["shape"]), 3, size, size), dtype=np.float32) * noise
        out[start:start + _CHUNK] = _render(part, size, pixel_noise)
    return torch.from_numpy(out)


def _render(attrs: dict[str, np.ndarray], size: int, pixel_noise: np.ndarray) -> np.ndarray:
    """Compose background, shape and stripes for a chunk; returns uint8 (n, 3, size, size)."""
    grid = np.arange(size, dtype=np.float32) + 0.5 - size / 2
    dx = grid[None, None, :] - attrs["cx"][:, None, None].astype(np.float32)  # (n, 1, W)
    dy = grid[None, :, None] - attrs["cy"][:, None, None].astype(np.float32)  # (n, H, 1)
    cos, sin = (f(attrs["rotation"])[:, None, None].astype(np.float32) for f in (np.cos, np.sin))
    u, v = dx * cos + dy * sin, dy * cos - dx * sin  # shape frame, (n, H, W)
    distance = np.empty(u.shape, dtype=np.float32)
    for index in np.unique(attrs["shape"]):
        rows = attrs["shape"] == index
        radius = attrs["radius"][rows, None, None].astype(np.float32)
        distance[rows] = _signed_distance(SHAPES[index], u[rows], v[rows], radius)
    alpha = np.clip(0.5 - distance, 0, 1)[:, None]  # (n, 1, H, W), antialiased edge
    cos_a, sin_a = (f(attrs["angle"])[:, None, None].astype(np.float32) for f in (np.cos, np.sin))
    across = dx * cos_a + dy * sin_a
    wave = np.sin(2 * np.pi * across / (size / 5) + attrs["phase"][:, None, None].astype(np.float32))
    shade = (0.75 + 0.25 * wave)[:, None]  # (n, 1, H, W) in [0.5, 1]
    background = _hsv_to_rgb(attrs["bg_hue"], attrs["bg_sat"], attrs["bg_val"])[:, :, None, None]
    foreground = _hsv_to_rgb(attrs["hue"], attrs["sat"], attrs["val"])[:, :, None, None]
    image = background * (1 - alpha) + foreground * shade * alpha + pixel_noise
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def _signed_distance(shape: str, u: np.ndarray, v: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Approximate signed distance in pixels (negative inside) to a shape of outer radius ``radius``."""
    au, av = np.abs(u), np.abs(v)
    r = np.hypot(u, v)
    if shape == "disc":
        return r - radius
    if shape == "square":
        return np.maximum(au, av) - 0.8 * radius
    if shape == "triangle":  # equilateral, circumradius = radius, pointing up
        normals = (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 - 2 * np.pi / 3)
        return np.maximum.reduce([u * np.cos(t) + v * np.sin(t) for t in normals]) - 0.5 * radius
    if shape == "cross":
        arm = 0.3 * radius
        return np.minimum(np.maximum(au - arm, av - radius), np.maximum(av - arm, au - radius))
    if shape == "ring":
        return np.abs(r - 0.7 * radius) - 0.28 * radius
    if shape == "diamond":
        return (au + av - radius) / np.sqrt(2)
    if shape == "star":  # five points
        return r - radius * (0.62 + 0.38 * np.cos(5 * np.arctan2(v, u)))
    if shape == "frame":
        return np.abs(np.maximum(au, av) - 0.65 * radius) - 0.2 * radius
    raise ValueError(f"unknown shape {shape!r}")


def _hsv_to_rgb(hue: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] (hue wraps) -> RGB float32 (n, 3) in [0, 1]."""
    h6 = (np.mod(hue, 1.0) * 6)[:, None]
    k = np.mod(np.array([5.0, 3.0, 1.0]) + h6, 6)  # standard formula: f(n) = v - v s max(0, min(k, 4 - k, 1))
    rgb = val[:, None] - val[:, None] * sat[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)
    return rgb.astype(np.float32)
