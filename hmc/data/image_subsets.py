"""Subsets of an image hierarchy: coarse classes, long-tailed and stratified fractions, 0/1 node targets.

The rare-node image chapter (``notebooks/07_rare_nodes_images.py``, :mod:`hmc.rare_images`) trains on
parts of an :class:`~hmc.data.images.ImageHierarchy`:

- :func:`select_coarse`: the samples of some coarsest-level classes (e.g. Omniglot's evaluation
  alphabets), labels renumbered;
- :func:`omniglot_split`: Omniglot's official *background* (character IDs 1-964, 30 alphabets) or
  *evaluation* (965-1623, 20 alphabets) alphabets as their own 2-level hierarchy, so that an encoder
  pretrained on one never saw the classes of the other;
- :func:`long_tail_counts` and :func:`long_tail_subset`: a fixed long-tailed training set (the
  finest classes keep an exponentially decreasing number of their images), so that a balanced
  hierarchy has rare nodes;
- :func:`stratified_subset`: a seeded, stratified fraction of the training rows (the limited-data
  stress test);
- :func:`node_targets`: per-level labels ``(N, m)`` -> 0/1 node targets ``(N, C)`` in the order of
  ``data.hierarchy.nodes``, every ancestor set (what MCLoss and the rare-node weights take).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from hmc.data.images import OMNIGLOT_BACKGROUND_CHARACTERS, ImageHierarchy, load_omniglot

__all__ = [
    "OMNIGLOT_PARTS",
    "select_coarse",
    "subset_rows",
    "omniglot_split",
    "long_tail_counts",
    "long_tail_subset",
    "stratified_subset",
    "node_targets",
]

OMNIGLOT_PARTS = ("background", "evaluation")
"""Omniglot's official alphabet split: 30 background alphabets (IDs 1-964), 20 evaluation ones (965-1623)."""


def select_coarse(data: ImageHierarchy, classes: Sequence[int], name: str | None = None) -> ImageHierarchy:
    """The samples of the coarsest-level ``classes`` (indices into ``data.class_names[-1]``), relabelled.

    Every level keeps only the classes that lie under the selected coarse classes, in their original
    order, renumbered 0..; images, splits and normalisation constants are kept (the constants are the
    full data's). ``meta`` gains ``kept_classes``: per level, the original indices of the classes kept.
    """
    coarse = np.unique(np.asarray(classes, dtype=np.int64))
    n_top = len(data.class_names[-1])
    if coarse.size == 0 or coarse.min() < 0 or coarse.max() >= n_top:
        raise ValueError(f"classes must be non-empty indices in 0..{n_top - 1}, got {list(classes)}")
    m = data.n_levels
    kept = [None] * m
    kept[m - 1] = coarse
    for k in range(m - 2, -1, -1):  # a level-k class is kept when its parent is
        kept[k] = np.flatnonzero(np.isin(data.level_parents[k], kept[k + 1]))
    remap = []
    for k in range(m):
        table = np.full(len(data.class_names[k]), -1, dtype=np.int64)
        table[kept[k]] = np.arange(len(kept[k]))
        remap.append(table)
    parts = {}
    for part in ("train", "test", "val"):
        x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}").numpy()
        rows = np.flatnonzero(np.isin(y[:, -1], coarse))
        labels = np.stack([remap[k][y[rows, k]] for k in range(m)], axis=1) if len(rows) else np.empty((0, m), np.int64)
        parts[f"x_{part}"] = x[torch.as_tensor(rows, dtype=torch.int64)]
        parts[f"y_{part}"] = torch.as_tensor(labels, dtype=torch.int64)
    parents = tuple(remap[k + 1][data.level_parents[k][kept[k]]] for k in range(m - 1))
    names = tuple(tuple(data.class_names[k][i] for i in kept[k]) for k in range(m))
    meta = dict(data.meta)
    meta["kept_classes"] = tuple(kept)
    if "character_ids" in meta and m == 2:
        meta["character_ids"] = np.asarray(meta["character_ids"])[kept[0]]
    return ImageHierarchy(
        name=name or data.name, level_names=data.level_names, class_names=names, level_parents=parents,
        mean=data.mean, std=data.std, split=data.split, meta=meta, **parts,
    )


def subset_rows(data: ImageHierarchy, rows: np.ndarray, part: str = "train") -> ImageHierarchy:
    """A copy of ``data`` whose ``part`` split ("train", "test" or "val") holds only ``rows`` (in that order)."""
    if part not in ("train", "test", "val"):
        raise ValueError(f"part must be 'train', 'test' or 'val', got {part!r}")
    idx = torch.as_tensor(np.asarray(rows, dtype=np.int64))
    fields = {f"x_{p}": getattr(data, f"x_{p}") for p in ("train", "test", "val")}
    fields.update({f"y_{p}": getattr(data, f"y_{p}") for p in ("train", "test", "val")})
    fields[f"x_{part}"] = fields[f"x_{part}"][idx]
    fields[f"y_{part}"] = fields[f"y_{part}"][idx]
    return ImageHierarchy(
        name=data.name, level_names=data.level_names, class_names=data.class_names, level_parents=data.level_parents,
        mean=data.mean, std=data.std, split=data.split, meta=dict(data.meta), **fields,
    )


def omniglot_split(part: str, size: int | None = 28, max_alphabets: int | None = None,
                   max_characters_per_alphabet: int | None = None) -> ImageHierarchy:
    """Omniglot's background or evaluation alphabets as a 2-level hierarchy (character -> alphabet).

    ``part="background"``: the alphabets of character IDs 1-964 (the official ``images_background``);
    ``"evaluation"``: those of IDs 965-1623. The two share no character and no alphabet, so an encoder
    pretrained on the background alphabets has never seen a class of the evaluation ones. Each is
    split by drawing as :func:`hmc.data.images.load_omniglot` does (drawings 0-14 train, 15-19 test).
    ``max_alphabets``: the first N alphabets of the part (by ID); ``max_characters_per_alphabet``: the
    first N characters of each. The name is ``"omniglot-background"`` or ``"omniglot-evaluation"``.
    """
    if part not in OMNIGLOT_PARTS:
        raise ValueError(f"part must be one of {OMNIGLOT_PARTS}, got {part!r}")
    if max_alphabets is not None and max_alphabets < 1:
        raise ValueError(f"max_alphabets must be None or >= 1, got {max_alphabets}")
    full = load_omniglot(size=size, max_characters_per_alphabet=max_characters_per_alphabet)
    ids = np.asarray(full.meta["character_ids"])
    background = ids <= OMNIGLOT_BACKGROUND_CHARACTERS
    wanted = background if part == "background" else ~background
    alphabets = np.unique(full.level_parents[0][wanted])
    if len(alphabets) == 0:
        raise ValueError(f"no {part} alphabet in the Omniglot files found")
    if max_alphabets is not None:
        alphabets = alphabets[:max_alphabets]
    return select_coarse(full, alphabets, name=f"omniglot-{part}")


def long_tail_counts(n_per_class: np.ndarray, ratio: float, seed: int = 0) -> np.ndarray:
    """Images to keep per finest class for an exponential long tail with ``max / min = ratio``.

    Classes are ranked by a permutation drawn with ``numpy.random.default_rng(seed)``; the class of
    rank r (0..K-1) keeps ``max(1, round(n_max * ratio ** (-r / (K - 1))))`` images, at most the
    ``n_per_class[c]`` it has (``n_max`` = the largest class). ``ratio = 1`` keeps every image.
    """
    n = np.asarray(n_per_class, dtype=np.int64)
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and ratio >= 1):
        raise ValueError(f"ratio must be a finite number >= 1, got {ratio!r}")
    if ratio == 1 or len(n) < 2:
        return n.copy()
    rank = np.empty(len(n), dtype=np.int64)
    rank[np.random.default_rng(seed).permutation(len(n))] = np.arange(len(n))
    target = np.maximum(1, np.round(n.max() * float(ratio) ** (-rank / (len(n) - 1)))).astype(np.int64)
    return np.minimum(n, target)


def _per_class_draw(labels: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: ``keep[c]`` rows of each class c, drawn without replacement, class by class."""
    chosen = [rng.permutation(np.flatnonzero(labels == c))[: keep[c]] for c in range(len(keep))]
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.empty(0, np.int64)


def long_tail_subset(labels: np.ndarray, ratio: float, seed: int = 0) -> np.ndarray:
    """Sorted training rows of a fixed long tail over the finest classes ``labels`` (N,) (:func:`long_tail_counts`).

    The ranking and the rows kept within each class both come from ``default_rng(seed)``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if ratio == 1:
        return np.arange(len(labels), dtype=np.int64)
    n = np.bincount(labels, minlength=int(labels.max()) + 1 if len(labels) else 0)
    rng = np.random.default_rng(seed)
    keep = long_tail_counts(n, ratio, int(rng.integers(2**63 - 1)))
    return _per_class_draw(labels, keep, rng)


def stratified_subset(labels: np.ndarray, fraction: float, seed: int, min_per_class: int = 1) -> np.ndarray:
    """A seeded, stratified fraction of the rows: sorted indices, ``max(min_per_class, round(f n_c))`` per class.

    ``labels`` (N,): the finest class of each row. Each class c with ``n_c`` rows keeps
    ``min(n_c, max(min_per_class, round(fraction * n_c)))`` of them, drawn without replacement with
    ``numpy.random.default_rng(seed)`` (class by class, in increasing label order), so every class
    stays represented and the class proportions are kept up to rounding. ``fraction = 1`` returns
    every row (no draw).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if min_per_class < 0:
        raise ValueError(f"min_per_class must be >= 0, got {min_per_class}")
    if fraction == 1:
        return np.arange(len(labels), dtype=np.int64)
    n = np.bincount(labels, minlength=int(labels.max()) + 1 if len(labels) else 0)
    keep = np.minimum(n, np.maximum(min_per_class, np.round(fraction * n).astype(np.int64)))
    return _per_class_draw(labels, keep, np.random.default_rng(seed))


def node_targets(data: ImageHierarchy, y: torch.Tensor | np.ndarray) -> np.ndarray:
    """0/1 node targets uint8 ``(N, C)`` of per-level labels ``y`` (N, m), columns in ``data.hierarchy`` order.

    Row i has a 1 at the node of its class at every level (a path of the tree, so every ancestor is set).
    """
    y = np.asarray(y.numpy() if isinstance(y, torch.Tensor) else y, dtype=np.int64)
    out = np.zeros((len(y), len(data.hierarchy)), dtype=np.uint8)
    rows = np.arange(len(y))
    for k, index in enumerate(data.node_indices):
        out[rows, index[y[:, k]]] = 1
    return out
