"""Image hierarchies behind one entry point: synthetic, Omniglot, CIFAR-100 and FGVC-Aircraft.

``load_image_hierarchy(name, **options)`` returns an :class:`ImageHierarchy`: uint8 image tensors
(N, C, H, W) for train / test (and an optional held-out validation split), int64 level labels
(N, m) with column 0 the FINEST level, the per-level class names and parent maps, the
:class:`~hmc.hierarchy.Hierarchy` of all classes, normalisation constants and a sentence that
documents the split. Images stay uint8 so that a training loop can move them to the device once and
augment / normalise there in batches (:meth:`ImageHierarchy.normalize`).

| name | levels (finest first) | split | mean / std |
|---|---|---|---|
| ``synthetic`` | fine -> (middle ->) coarse | independent draws (:mod:`hmc.data.synthetic_images`) | train set |
| ``omniglot`` | character 1623 -> alphabet 50 | drawings 0-14 of each character train, 15-19 test | train set |
| ``cifar100`` | fine 100 -> coarse 20 | official 50k / 10k (validation: 45k / 5k of train) | spec constants |
| ``aircraft`` | variant 100 -> family 70 -> manufacturer 30 | official trainval / test (or train/val/test) | ImageNet |

Class indices follow the source's own order (Omniglot: official character IDs; CIFAR-100: the
meta pickle; Aircraft: ``variants.txt`` / ``families.txt`` / ``manufacturers.txt``). The
hierarchy's node for class c of level k is named ``f"{level_names[k]}:{class_names[k][c]}"``, because
names repeat across levels (e.g. Aircraft variant and family "Cessna 172"). Missing files raise
:class:`~hmc.errors.DatasetMissingError` naming the file, where it was looked for and how to get it;
truncated or damaged files raise :class:`~hmc.errors.HMCDataError` naming the file and how to replace it.
"""

from __future__ import annotations

import io
import pickle
import re
import tarfile
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from hmc.data import paths
from hmc.errors import DatasetMissingError, HMCDataError
from hmc.hierarchy import Hierarchy

IMAGE_HIERARCHIES = ("synthetic", "omniglot", "cifar100", "aircraft")

CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# =============================================================================== the container
@dataclass(frozen=True, eq=False, repr=False)
class ImageHierarchy:
    """Images with a label per level of a class tree, split into train / test (/ validation).

    Attributes
    ----------
    name : str
        The hierarchy's name (one of :data:`IMAGE_HIERARCHIES`).
    x_train, x_test, x_val : torch.Tensor, uint8, shape (N, C, H, W)
        Images, 0..255. ``x_val`` has N = 0 when no validation split was asked for.
    y_train, y_test, y_val : torch.Tensor, int64, shape (N, m)
        ``y[i, k]`` is the class of sample i at level k; column 0 is the finest level and
        ``y[:, k + 1] == level_parents[k][y[:, k]]`` holds for every row (checked).
    level_names : tuple of m str
        Finest first, e.g. ``("character", "alphabet")``.
    class_names : tuple of m tuples of str
        ``class_names[k][c]`` names class c of level k.
    level_parents : tuple of m - 1 int64 arrays
        ``level_parents[k]``, shape (C_k,), maps a level-k class to its level-(k+1) parent.
    mean, std : tuple of C floats
        Per-channel normalisation constants on the 0..1 scale (see :meth:`normalize`).
    split : str
        How train / validation / test were formed, in words.
    meta : mapping
        Source-specific extras (file used, image ids, boxes, generator settings), documented by
        each loader.
    hierarchy : Hierarchy
        Built from ``level_parents``; node names ``"<level name>:<class name>"``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    level_names: tuple[str, ...]
    class_names: tuple[tuple[str, ...], ...]
    level_parents: tuple[np.ndarray, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    split: str
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    hierarchy: Hierarchy = field(init=False)

    def __post_init__(self):
        m = len(self.level_names)
        image_shape = tuple(self.x_train.shape[1:])
        if self.x_val is None:
            object.__setattr__(self, "x_val", torch.empty((0, *image_shape), dtype=torch.uint8))
        if self.y_val is None:
            object.__setattr__(self, "y_val", torch.empty((0, m), dtype=torch.int64))
        object.__setattr__(self, "level_parents", tuple(np.asarray(p, dtype=np.int64) for p in self.level_parents))
        object.__setattr__(self, "class_names", tuple(tuple(names) for names in self.class_names))
        self._check(m, image_shape)
        node_names = [[f"{level}:{c}" for c in names] for level, names in zip(self.level_names, self.class_names)]
        object.__setattr__(self, "hierarchy", Hierarchy.from_level_parents(self.level_parents, node_names))

    def _check(self, m: int, image_shape: tuple[int, ...]) -> None:
        """Raise :class:`HMCDataError` unless shapes, dtypes, label ranges and parent links agree."""
        if len(self.class_names) != m or len(self.level_parents) != m - 1:
            raise HMCDataError(f"{self.name}: {m} levels but {len(self.class_names)} class-name lists "
                               f"and {len(self.level_parents)} parent maps (expected {m - 1})")
        sizes = [len(names) for names in self.class_names]
        for k, parents in enumerate(self.level_parents):
            if len(parents) != sizes[k] or (len(parents) and (parents.min() < 0 or parents.max() >= sizes[k + 1])):
                raise HMCDataError(f"{self.name}: parent map of level {self.level_names[k]!r} must map "
                                   f"{sizes[k]} classes into 0..{sizes[k + 1] - 1}")
        if len(self.mean) != image_shape[0] or len(self.std) != image_shape[0]:
            raise HMCDataError(f"{self.name}: mean/std need one value per channel ({image_shape[0]})")
        for part in ("train", "test", "val"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != image_shape:
                raise HMCDataError(f"{self.name}: x_{part} must be uint8 (N, {', '.join(map(str, image_shape))}), "
                                   f"got {x.dtype} {tuple(x.shape)}")
            if y.dtype != torch.int64 or tuple(y.shape) != (len(x), m):
                raise HMCDataError(f"{self.name}: y_{part} must be int64 ({len(x)}, {m}), "
                                   f"got {y.dtype} {tuple(y.shape)}")
            for k in range(m):
                if len(y) and (int(y[:, k].min()) < 0 or int(y[:, k].max()) >= sizes[k]):
                    raise HMCDataError(f"{self.name}: y_{part} level {self.level_names[k]!r} outside 0..{sizes[k] - 1}")
            for k, parents in enumerate(self.level_parents):
                broken = np.flatnonzero(parents[y[:, k].numpy()] != y[:, k + 1].numpy())
                if len(broken):
                    i = int(broken[0])
                    raise HMCDataError(f"{self.name}: y_{part} row {i} has {self.level_names[k]} "
                                       f"{int(y[i, k])} under {self.level_names[k + 1]} {int(y[i, k + 1])}, "
                                       f"but its parent is {int(parents[y[i, k]])}")

    def __repr__(self) -> str:
        levels = " -> ".join(f"{n} {len(c)}" for n, c in zip(self.level_names, self.class_names))
        shape = "x".join(map(str, self.image_shape))
        return (f"ImageHierarchy({self.name!r}, {levels}; images {shape}; "
                f"train {len(self.x_train)}, val {len(self.x_val)}, test {len(self.x_test)})")

    @property
    def n_levels(self) -> int:
        """m, the number of levels."""
        return len(self.level_names)

    @property
    def n_classes(self) -> tuple[int, ...]:
        """(C_0, ..., C_{m-1}), classes per level, finest first."""
        return tuple(len(names) for names in self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.x_train.shape[1:])

    @property
    def node_indices(self) -> tuple[np.ndarray, ...]:
        """Per level k, int64 array (C_k,): the index in ``hierarchy.nodes`` of each level-k class."""
        return tuple(
            self.hierarchy.indices(f"{level}:{c}" for c in names)
            for level, names in zip(self.level_names, self.class_names)
        )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, C, H, W) -> float32 ``(x / 255 - mean) / std`` on x's device."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return (x.to(torch.float32) / 255.0 - mean) / std


# =============================================================================== entry point
def load_image_hierarchy(name: str, **options) -> ImageHierarchy:
    """Load an image hierarchy by name; ``options`` go to that loader.

    ``"synthetic"`` -> :func:`hmc.data.synthetic_images.make_synthetic_images`,
    ``"omniglot"`` -> :func:`load_omniglot`, ``"cifar100"`` -> :func:`load_cifar100`,
    ``"aircraft"`` -> :func:`load_aircraft`. An unknown name raises ValueError listing the valid ones.
    """
    if name == "synthetic":
        from hmc.data.synthetic_images import make_synthetic_images  # imports this module

        return make_synthetic_images(**options)
    loaders = {"omniglot": load_omniglot, "cifar100": load_cifar100, "aircraft": load_aircraft}
    if name not in loaders:
        raise ValueError(f"unknown image hierarchy {name!r}; valid names: {', '.join(IMAGE_HIERARCHIES)}")
    return loaders[name](**options)


# =============================================================================== shared helpers
def channel_stats(x: torch.Tensor, chunk: int = 8192) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (population) of uint8 images (N, C, H, W), on the 0..1 scale."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].to(torch.float32) / 255.0
        total += part.sum(dim=(0, 2, 3)).double()
        squares += part.square_().sum(dim=(0, 2, 3)).double()
    count = max(1, x.shape[0] * x.shape[2] * x.shape[3])
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def resize_images(x: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Antialiased bilinear resize of uint8 images (N, C, H, W) to uint8 (N, C, size, size).

    Works on float32 chunks and rounds back to 0..255; returns ``x`` itself when already that size.
    """
    if tuple(x.shape[-2:]) == (size, size):
        return x
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(x), chunk):
        part = F.interpolate(x[start:start + chunk].to(torch.float32), size=(size, size), mode="bilinear",
                             antialias=True, align_corners=False)
        out[start:start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


def parents_from_labels(
    y: np.ndarray, class_names: Sequence[Sequence[str]], level_names: Sequence[str], where: str | Path | None = None
) -> tuple[np.ndarray, ...]:
    """Derive each level's parent map from label rows, and check that it is a function.

    y : int array (N, m), column 0 the finest level. Returns m - 1 int64 arrays; entry k has shape
    (C_k,) with C_k = ``len(class_names[k])``. Raises :class:`HMCDataError` (located at ``where``)
    when a class occurs under two different parents, or never occurs (its parent is then unknown).
    """
    y = np.asarray(y, dtype=np.int64)
    maps = []
    for k in range(y.shape[1] - 1):
        child, parent = y[:, k], y[:, k + 1]
        n = len(class_names[k])
        pairs = np.unique(np.stack([child, parent], axis=1), axis=0)
        counts = np.bincount(pairs[:, 0], minlength=n)
        if (counts > 1).any():
            c = int(np.flatnonzero(counts > 1)[0])
            both = [class_names[k + 1][p] for p in pairs[pairs[:, 0] == c, 1]]
            raise HMCDataError(f"{level_names[k]} {class_names[k][c]!r} occurs under several {level_names[k + 1]} "
                               f"classes {both}: the labels do not form a tree", where)
        if (counts == 0).any():
            c = int(np.flatnonzero(counts == 0)[0])
            raise HMCDataError(f"{level_names[k]} {class_names[k][c]!r} never occurs, so its "
                               f"{level_names[k + 1]} is unknown", where)
        parents = np.empty(n, dtype=np.int64)
        parents[pairs[:, 0]] = pairs[:, 1]
        maps.append(parents)
    return tuple(maps)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into (kept, held out), holding out ``round(fraction * n_c)`` of each class.

    labels : int array (N,). Both outputs are sorted int64 index arrays; the draw within each class
    uses ``numpy.random.default_rng(seed)``, class by class in increasing label order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        held.append(rng.permutation(members)[: int(round(fraction * len(members)))])
    held_out = np.sort(np.concatenate(held)).astype(np.int64)
    kept = np.setdiff1d(np.arange(len(labels), dtype=np.int64), held_out)
    return kept, held_out


def _labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))


# =============================================================================== Omniglot
OMNIGLOT_ALPHABETS: tuple[tuple[str, int, int], ...] = (
    # (official folder name, first character ID, last character ID); IDs 1-964 are in
    # images_background, 965-1623 in images_evaluation. Transcribed from README-images.md.
    ("Arcadian", 1, 26),
    ("Armenian", 27, 67),
    ("Asomtavruli_(Georgian)", 68, 107),
    ("Balinese", 108, 131),
    ("Bengali", 132, 177),
    ("Blackfoot_(Canadian_Aboriginal_Syllabics)", 178, 191),
    ("Braille", 192, 217),
    ("Cyrillic", 218, 250),
    ("Early_Aramaic", 251, 272),
    ("Syriac_(Estrangelo)", 273, 295),
    ("Anglo-Saxon_Futhorc", 296, 324),
    ("Futurama", 325, 350),
    ("Grantha", 351, 393),
    ("Greek", 394, 417),
    ("Gujarati", 418, 465),
    ("Hebrew", 466, 487),
    ("Japanese_(hiragana)", 488, 539),
    ("Inuktitut_(Canadian_Aboriginal_Syllabics)", 540, 555),
    ("Malay_(Jawi_-_Arabic)", 556, 595),
    ("Japanese_(katakana)", 596, 642),
    ("Korean", 643, 682),
    ("Latin", 683, 708),
    ("Alphabet_of_the_Magi", 709, 728),
    ("Mkhedruli_(Georgian)", 729, 769),
    ("Burmese_(Myanmar)", 770, 803),
    ("N_Ko", 804, 836),
    ("Ojibwe_(Canadian_Aboriginal_Syllabics)", 837, 850),
    ("Sanskrit", 851, 892),
    ("Tagalog", 893, 909),
    ("Tifinagh", 910, 964),
    ("Angelic", 965, 984),
    ("Atemayar_Qelisayer", 985, 1010),
    ("Atlantean", 1011, 1036),
    ("Aurek-Besh", 1037, 1062),
    ("Avesta", 1063, 1088),
    ("Ge_ez", 1089, 1114),
    ("Glagolitic", 1115, 1159),
    ("Gurmukhi", 1160, 1204),
    ("Kannada", 1205, 1245),
    ("Keble", 1246, 1271),
    ("Malayalam", 1272, 1318),
    ("Manipuri", 1319, 1358),
    ("Mongolian", 1359, 1388),
    ("Old_Church_Slavonic_(Cyrillic)", 1389, 1433),
    ("Oriya", 1434, 1479),
    ("Syriac_(Serto)", 1480, 1502),
    ("Sylheti", 1503, 1530),
    ("Tengwar", 1531, 1555),
    ("Tibetan", 1556, 1597),
    ("ULOG", 1598, 1623),
)
"""Omniglot's 50 alphabets with their character-ID ranges, in ID order (= alphabet class order)."""

OMNIGLOT_DRAWINGS = 20
OMNIGLOT_BACKGROUND_CHARACTERS = 964
"""Characters 1..964 are in images_background, 965..1623 in images_evaluation."""
_OMNIGLOT_NPZ = ("omniglot/npz_bitsandscraps/images_background.npz", "omniglot/npz_bitsandscraps/images_evaluation.npz")
_OMNIGLOT_ZIPS = ("omniglot/images_background.zip", "omniglot/images_evaluation.zip")
_OMNIGLOT_HINT = ("run `python -m hmc data fetch omniglot` (the npz copy), or put the official "
                  "images_background.zip and images_evaluation.zip (torchvision.datasets.Omniglot's files) "
                  "in <HMC_DATA_DIR>/omniglot/")
_OMNIGLOT_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError)
"""What numpy / zipfile raise on a truncated or overwritten npz or zip (bad CRC, bad deflate data, ...)."""
_OMNIGLOT_PNG = re.compile(r"^images_(?:background|evaluation)/([^/]+)/character(\d+)/(\d+)_(\d+)\.png$")


def omniglot_alphabet_of(character_ids: np.ndarray) -> np.ndarray:
    """Alphabet index (0..49, table order) of official 1-based character IDs, int64 array of the same shape."""
    ids = np.asarray(character_ids, dtype=np.int64)
    if ids.size and (ids.min() < 1 or ids.max() > OMNIGLOT_ALPHABETS[-1][2]):
        raise HMCDataError(f"Omniglot character IDs must lie in 1..{OMNIGLOT_ALPHABETS[-1][2]}")
    firsts = np.array([first for _, first, _ in OMNIGLOT_ALPHABETS], dtype=np.int64)
    return np.searchsorted(firsts, ids, side="right") - 1


def load_omniglot(
    size: int | None = 28,
    white_ink: bool = True,
    max_alphabets: int | None = None,
    max_characters_per_alphabet: int | None = None,
    validation: bool = False,
    source: str = "auto",
) -> ImageHierarchy:
    """Omniglot as a 2-level hierarchy: character (finest, up to 1623) -> alphabet (up to 50).

    Source (``source``): ``"npz"`` the pixel-exact npz copy (``omniglot/npz_bitsandscraps/``),
    ``"zip"`` the official zips (``omniglot/images_background.zip`` and ``images_evaluation.zip``,
    layout ``images_background/<Alphabet>/characterNN/XXXX_YY.png``), ``"auto"`` the npz when
    present, else the zips. Both give identical images and labels.

    Split, fixed per character by drawing index (the file suffix ``_YY`` minus 1): drawings 0-14
    train, 15-19 test; with ``validation`` drawings 0-12 train, 13-14 validation, 15-19 test.
    Samples are ordered character by character (by ID), drawings in increasing order.

    Images: 1 channel, uint8. ``white_ink`` (default) gives white strokes (255) on black (0), so
    that zero padding matches the background; False keeps the original black on white. ``size``
    resizes the 105x105 drawings once to size x size (antialiased bilinear); None keeps 105.
    ``mean``/``std`` are the training images' statistics.

    Subsetting (deterministic, for quick runs): the first ``max_alphabets`` alphabets in ID order,
    and the first ``max_characters_per_alphabet`` characters (by ID) of each. Labels are
    renumbered 0.. over the selection. Class names: alphabets by official folder name, characters
    ``"<alphabet>/characterNN"``. ``meta``: ``source`` (the two files read), ``character_ids``
    (int64 (C_0,), official 1-based IDs of the character classes), ``drawings`` (per split, the
    drawing indices).
    """
    limits = {"max_alphabets": max_alphabets, "max_characters_per_alphabet": max_characters_per_alphabet}
    for option, value in limits.items():
        if value is not None and value < 1:
            raise ValueError(f"{option} must be None or >= 1, got {value}")
    drawings, character_ids, files = _omniglot_drawings(source)
    alphabet = omniglot_alphabet_of(character_ids)
    keep = _omniglot_selection(alphabet, max_alphabets, max_characters_per_alphabet)
    if len(keep) < len(character_ids):
        drawings, character_ids, alphabet = drawings[keep], character_ids[keep], alphabet[keep]
    alphabets_used, alphabet_label = np.unique(alphabet, return_inverse=True)

    parts = {"train": range(0, 13 if validation else 15), "val": range(13, 15) if validation else range(0),
             "test": range(15, OMNIGLOT_DRAWINGS)}
    x, y = {}, {}
    for part, draw in parts.items():
        x[part] = _omniglot_pixels(drawings, draw, white_ink, size)
        rows = np.repeat(np.stack([np.arange(len(character_ids)), alphabet_label], axis=1), len(draw), axis=0)
        y[part] = _labels(rows.reshape(-1, 2))

    alphabet_names = [OMNIGLOT_ALPHABETS[a][0] for a in alphabets_used]
    character_names = [
        f"{OMNIGLOT_ALPHABETS[a][0]}/character{cid - OMNIGLOT_ALPHABETS[a][1] + 1:02d}"
        for cid, a in zip(character_ids, alphabet)
    ]
    mean, std = channel_stats(x["train"])
    split = ("per character, by drawing index: drawings 0-12 train, 13-14 validation, 15-19 test" if validation
             else "per character, by drawing index: drawings 0-14 train, 15-19 test")
    return ImageHierarchy(
        name="omniglot", x_train=x["train"], y_train=y["train"], x_test=x["test"], y_test=y["test"],
        x_val=x["val"], y_val=y["val"], level_names=("character", "alphabet"),
        class_names=(tuple(character_names), tuple(alphabet_names)), level_parents=(alphabet_label,),
        mean=mean, std=std, split=split,
        meta={"source": tuple(str(f) for f in files), "character_ids": character_ids,
              "drawings": {part: tuple(draw) for part, draw in parts.items()}},
    )


def _omniglot_pixels(drawings: np.ndarray, draw: range, white_ink: bool, size: int | None) -> torch.Tensor:
    """bool drawings (n_char, 20, H, W), True = white -> uint8 (n_char * len(draw), 1, S, S), character-major.

    Converted and resized a block of characters at a time, so no full-size intermediate is made.
    """
    n_char, height, width = drawings.shape[0], drawings.shape[2], drawings.shape[3]
    side = (height, width) if size is None else (size, size)
    out = torch.empty((n_char * len(draw), 1, *side), dtype=torch.uint8)
    block = 256
    for start in range(0, n_char, block):
        white = torch.from_numpy(drawings[start:start + block, draw.start:draw.stop]).reshape(-1, 1, height, width)
        pixels = (white.logical_not() if white_ink else white).to(torch.uint8).mul_(255)
        out[start * len(draw):start * len(draw) + len(pixels)] = pixels if size is None else resize_images(pixels, size)
    return out


def _omniglot_selection(alphabet: np.ndarray, max_alphabets: int | None, max_per_alphabet: int | None) -> np.ndarray:
    """Indices (sorted, int64) of the characters kept: first alphabets, first characters of each."""
    keep = []
    for rank, a in enumerate(np.unique(alphabet)):
        if max_alphabets is not None and rank >= max_alphabets:
            break
        members = np.flatnonzero(alphabet == a)
        keep.append(members if max_per_alphabet is None else members[:max_per_alphabet])
    return np.concatenate(keep).astype(np.int64) if keep else np.empty(0, dtype=np.int64)


def _omniglot_drawings(source: str) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """All drawings as bool (n_char, 20, H, W), True = white background; character IDs int64 (n_char,).

    Also returns the two files read. Characters are sorted by ID.
    """
    if source not in ("auto", "npz", "zip"):
        raise ValueError(f"source must be 'auto', 'npz' or 'zip', got {source!r}")
    if source == "zip" or (source == "auto" and paths.find(_OMNIGLOT_NPZ[0]) is None
                           and paths.find(_OMNIGLOT_ZIPS[0]) is not None):
        files = [paths.locate(rel, _OMNIGLOT_HINT) for rel in _OMNIGLOT_ZIPS]
        parts = [_omniglot_zip(f) for f in files]
    else:
        files = [paths.locate(rel, _OMNIGLOT_HINT) for rel in _OMNIGLOT_NPZ]
        parts = [_omniglot_npz(f, first_id) for f, first_id in zip(files, (1, OMNIGLOT_BACKGROUND_CHARACTERS + 1))]
    if len({p[0].shape[2:] for p in parts}) != 1:
        raise HMCDataError(f"Omniglot background and evaluation drawings differ in size: {[p[0].shape for p in parts]}")
    drawings = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    if len(np.unique(ids)) != len(ids):
        raise HMCDataError("Omniglot character IDs repeat across the two files", files[1])
    if (np.diff(ids) < 0).any():
        order = np.argsort(ids)
        drawings, ids = drawings[order], ids[order]
    return drawings, ids, files


def _omniglot_npz(path: Path, first_id: int) -> tuple[np.ndarray, np.ndarray]:
    """One npz file: ``images`` bool (N, 20, 105, 105), ``labels`` (N, 20) equal to the row index.

    A truncated or damaged file raises :class:`HMCDataError` naming it and saying how to replace it.
    """
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in ("images", "labels") if name in data.files}
            found = sorted(data.files)
    except _OMNIGLOT_DAMAGED as err:
        raise _damaged(path, err, "omniglot") from err
    if len(arrays) != 2:
        raise HMCDataError(f"expected arrays 'images' and 'labels', found {found}", path)
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != bool or images.ndim != 4 or images.shape[1] != OMNIGLOT_DRAWINGS:
        raise HMCDataError(f"'images' must be bool (N, {OMNIGLOT_DRAWINGS}, H, W), got {images.dtype} {images.shape}",
                           path)
    expected = np.repeat(np.arange(len(images))[:, None], OMNIGLOT_DRAWINGS, axis=1)
    if labels.shape != expected.shape or not np.array_equal(labels, expected):
        raise HMCDataError("'labels' must equal the character index of each row", path)
    return images, first_id + np.arange(len(images), dtype=np.int64)


def _omniglot_zip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official zip -> bool drawings (n_char, 20, H, W), True = white, and character IDs (n_char,).

    Checks each file against the alphabet table: the folder must be the ID's alphabet and
    ``characterNN`` its position in it; every character needs drawings 01..20.
    """
    firsts = {name: first for name, first, _ in OMNIGLOT_ALPHABETS}
    found: dict[int, dict[int, np.ndarray]] = {}
    try:
        archive = zipfile.ZipFile(path)
    except _OMNIGLOT_DAMAGED as err:
        raise _damaged(path, err, "omniglot_zips") from err
    with archive:
        for entry in archive.namelist():
            match = _OMNIGLOT_PNG.match(entry)
            if match is None:
                continue
            folder, position, cid, drawing = match[1], int(match[2]), int(match[3]), int(match[4])
            expected = OMNIGLOT_ALPHABETS[int(omniglot_alphabet_of(np.array([cid]))[0])][0]
            if folder != expected or position != cid - firsts[expected] + 1:
                raise HMCDataError(f"{entry}: character ID {cid} is {expected}/character"
                                   f"{cid - firsts[expected] + 1:02d} in the alphabet table", path)
            try:
                data = archive.read(entry)
            except _OMNIGLOT_DAMAGED as err:
                raise _damaged(path, err, "omniglot_zips") from err
            with Image.open(io.BytesIO(data)) as img:
                found.setdefault(cid, {})[drawing] = np.asarray(img.convert("L")) >= 128
    if not found:
        raise HMCDataError("no images_*/<alphabet>/characterNN/XXXX_YY.png entries", path)
    ids = np.array(sorted(found), dtype=np.int64)
    shapes = {d.shape for per in found.values() for d in per.values()}
    if len(shapes) != 1:
        raise HMCDataError(f"drawings differ in size: {sorted(shapes)}", path)
    for cid in ids:
        if sorted(found[cid]) != list(range(1, OMNIGLOT_DRAWINGS + 1)):
            raise HMCDataError(f"character {cid} has drawings {sorted(found[cid])}, expected 1..{OMNIGLOT_DRAWINGS}",
                               path)
    drawings = np.stack([np.stack([found[cid][d] for d in range(1, OMNIGLOT_DRAWINGS + 1)]) for cid in ids])
    return drawings, ids


def _damaged(path: Path, err: BaseException, dataset: str) -> HMCDataError:
    """The error for a data file that cannot be decoded: which file, what failed, how to replace it."""
    return HMCDataError(
        f"the file is truncated or damaged ({type(err).__name__}: {err}); delete it and run "
        f"`python -m hmc data fetch {dataset}` to download it again (`python -m hmc data status` checks "
        "the files on disk)",
        path,
    )


# =============================================================================== CIFAR-100
_CIFAR_ARCHIVE = "cifar100/cifar-100-python.tar.gz"
_CIFAR_FOLDER = "cifar100/cifar-100-python"
_CIFAR_HINT = ("run `python -m hmc data fetch cifar100`, or put the official cifar-100-python.tar.gz "
               "(https://www.cs.toronto.edu/~kriz/cifar.html, 169 MB) in <HMC_DATA_DIR>/cifar100/")
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only (no arbitrary callables from a downloaded file)."""

    def find_class(self, module, name):
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def load_cifar100(validation: bool = False, val_fraction: float = 0.1, val_seed: int = 0) -> ImageHierarchy:
    """CIFAR-100 as a 2-level hierarchy: fine (100) -> coarse (20), images uint8 (N, 3, 32, 32).

    Reads the pickles ``train``, ``test`` and ``meta`` of the official python version, from the
    extracted folder ``cifar100/cifar-100-python/`` when present, else from the archive
    ``cifar100/cifar-100-python.tar.gz`` (no download here). Each fine class's coarse parent is
    derived from the labels and must be unique (else :class:`HMCDataError`).

    Split: the official 50,000 train / 10,000 test. ``validation`` holds out ``val_fraction`` of
    each fine class of train (default 10%: 45,000 / 5,000, 50 per class), drawn with
    ``numpy.random.default_rng(val_seed)``; samples keep the archive's order. ``mean``/``std`` are
    the spec's constants (:data:`CIFAR100_MEAN`, :data:`CIFAR100_STD`). ``meta["source"]``: the
    file or folder read.
    """
    raw, source = _cifar_pickles()
    meta = raw["meta"]
    names = []
    for key in (b"fine_label_names", b"coarse_label_names"):
        if key not in meta:
            raise HMCDataError(f"meta has no {key!r} (keys: {sorted(meta)})", source)
        names.append(tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[key]))
    x, y = {}, {}
    for part in ("train", "test"):
        x[part], y[part] = _cifar_split(raw[part], part, names, source)
    parents = parents_from_labels(np.concatenate([y["train"], y["test"]]), names, ("fine", "coarse"), source)
    split = "official CIFAR-100 split: 50,000 train, 10,000 test"
    x_val = y_val = None
    if validation:
        kept, held = stratified_holdout(y["train"][:, 0], val_fraction, val_seed)
        x_val, y_val = x["train"][held], _labels(y["train"][held])
        x["train"], y["train"] = x["train"][kept], y["train"][kept]
        split = (f"official CIFAR-100 test (10,000); train split {len(kept)} / {len(held)} validation, "
                 f"{val_fraction:g} of each fine class held out (numpy default_rng({val_seed}))")
    return ImageHierarchy(
        name="cifar100", x_train=x["train"], y_train=_labels(y["train"]), x_test=x["test"], y_test=_labels(y["test"]),
        x_val=x_val, y_val=y_val, level_names=("fine", "coarse"), class_names=tuple(names), level_parents=parents,
        mean=CIFAR100_MEAN, std=CIFAR100_STD, split=split, meta={"source": str(source)},
    )


def _cifar_pickles() -> tuple[dict[str, dict], Path]:
    """The three pickles ``train``, ``test``, ``meta`` as dicts with bytes keys, and the path read."""
    wanted = ("train", "test", "meta")
    folder = paths.find(_CIFAR_FOLDER)
    if folder is not None and all((folder / name).is_file() for name in wanted):
        return {name: _unpickle((folder / name).read_bytes(), folder / name) for name in wanted}, folder
    archive = paths.locate(_CIFAR_ARCHIVE, _CIFAR_HINT)
    raw = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                head, _, name = member.name.rpartition("/")
                if head.endswith("cifar-100-python") and name in wanted and member.isfile():
                    raw[name] = _unpickle(tar.extractfile(member).read(), f"{archive}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise HMCDataError(f"unreadable archive ({err})", archive) from err
    missing = [name for name in wanted if name not in raw]
    if missing:
        raise HMCDataError(f"archive lacks cifar-100-python/{', cifar-100-python/'.join(missing)}", archive)
    return raw, archive


def _unpickle(data: bytes, where: str | Path) -> dict:
    """A CIFAR pickle (protocol 2, Python 2 strings) -> dict with bytes keys."""
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # any unpickling failure means a malformed file
        raise HMCDataError(f"not a CIFAR pickle ({err})", where) from err
    if not isinstance(obj, dict):
        raise HMCDataError(f"expected a dict, found {type(obj).__name__}", where)
    return obj


def _cifar_split(d: dict, part: str, names: list[tuple[str, ...]], where: Path) -> tuple[torch.Tensor, np.ndarray]:
    """One split's dict -> images uint8 (N, 3, 32, 32) and labels int64 (N, 2) (fine, coarse)."""
    for key in (b"data", b"fine_labels", b"coarse_labels"):
        if key not in d:
            raise HMCDataError(f"{part} has no {key!r} (keys: {sorted(d)})", where)
    data = np.asarray(d[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise HMCDataError(f"{part} b'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}", where)
    fine = np.asarray(d[b"fine_labels"], dtype=np.int64).ravel()
    coarse = np.asarray(d[b"coarse_labels"], dtype=np.int64).ravel()
    if not len(fine) == len(coarse) == len(data):
        raise HMCDataError(f"{part} has {len(data)} images but {len(fine)} fine and {len(coarse)} coarse labels", where)
    y = np.stack([fine, coarse], axis=1)
    for k, level in enumerate(("fine", "coarse")):
        if len(y) and (y[:, k].min() < 0 or y[:, k].max() >= len(names[k])):
            raise HMCDataError(f"{part} {level} labels outside 0..{len(names[k]) - 1}", where)
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), y


# =============================================================================== FGVC-Aircraft
AIRCRAFT_LEVELS = ("variant", "family", "manufacturer")
_AIRCRAFT_DATA = "aircraft/fgvc-aircraft-2013b/data"
_AIRCRAFT_CLASS_FILES = {"variant": "variants.txt", "family": "families.txt", "manufacturer": "manufacturers.txt"}
_AIRCRAFT_HINT = ("download FGVC-Aircraft 2013b (2.75 GB) with torchvision.datasets.FGVCAircraft("
                  "root='<HMC_DATA_DIR>/aircraft', download=True), which extracts it to "
                  "<HMC_DATA_DIR>/aircraft/fgvc-aircraft-2013b/; or run `python -m hmc data fetch aircraft` "
                  "and extract the archive there (tar -xzf fgvc-aircraft-2013b.tar.gz)")


def load_aircraft(
    size: int = 64, crop_to_box: bool = False, crop_test_to_box: bool = False, validation: bool = False
) -> ImageHierarchy:
    """FGVC-Aircraft 2013b as a 3-level hierarchy: variant (100) -> family (70) -> manufacturer (30).

    Reads torchvision's extracted layout under ``aircraft/fgvc-aircraft-2013b/data/``: class lists
    ``variants.txt`` / ``families.txt`` / ``manufacturers.txt`` (class index = line order),
    ``images_<level>_<split>.txt`` (lines ``<image id> <class name>``), joined by image id across the
    three levels; ``images_box.txt`` (``<id> xmin ymin xmax ymax``, 1-based inclusive pixel
    coordinates) and ``images/<id>.jpg``. Parent maps are derived from the labels of all splits
    and must be functions (else :class:`HMCDataError`).

    Split: the official ``trainval`` (6,667) / ``test`` (3,333); with ``validation`` the official
    ``train`` / ``val`` / ``test``. Samples keep the order of the variant list files.

    Images: RGB, resized once to ``size`` x ``size`` (aspect ratio not kept), uint8.
    ``crop_to_box`` crops training (and validation) images to their bounding box first;
    ``crop_test_to_box`` does the same for test images. The authors crop both; the official
    protocol forbids test-time boxes, hence both default to off (no crop anywhere). Uncropped
    images keep the 20-pixel copyright banner at the bottom, as torchvision does. ``mean``/``std``:
    ImageNet constants. ``meta``: ``root`` (the data folder), ``image_ids`` and ``boxes`` per split
    (boxes int64 (N, 4), original 1-based coordinates), ``cropped`` per split.
    """
    root = _aircraft_root()
    classes = {level: _read_class_list(root / file) for level, file in _AIRCRAFT_CLASS_FILES.items()}
    boxes = _read_boxes(root / "images_box.txt")
    files = {"train": "train", "val": "val", "test": "test"} if validation else {"train": "trainval", "test": "test"}
    ids, y = {}, {}
    for part, split_name in files.items():
        ids[part], y[part] = _aircraft_labels(root, split_name, classes)
    names = tuple(tuple(classes[level]) for level in AIRCRAFT_LEVELS)
    parents = parents_from_labels(np.concatenate(list(y.values())), names, AIRCRAFT_LEVELS, root)
    cropped = {"train": crop_to_box, "val": crop_to_box, "test": crop_test_to_box}
    x, part_boxes = {}, {}
    for part in files:
        missing = [i for i in ids[part] if i not in boxes]
        if missing:
            raise HMCDataError(f"no bounding box for image {missing[0]} ({len(missing)} missing)",
                               root / "images_box.txt")
        part_boxes[part] = np.array([boxes[i] for i in ids[part]], dtype=np.int64).reshape(-1, 4)
        x[part] = _load_aircraft_images(root / "images", ids[part], part_boxes[part] if cropped[part] else None, size)
    split = ("official FGVC-Aircraft train / val / test" if validation else "official FGVC-Aircraft trainval / test")
    split += f"; bounding-box crop: train {'yes' if crop_to_box else 'no'}, test {'yes' if crop_test_to_box else 'no'}"
    return ImageHierarchy(
        name="aircraft", x_train=x["train"], y_train=_labels(y["train"]), x_test=x["test"], y_test=_labels(y["test"]),
        x_val=x.get("val"), y_val=_labels(y["val"]) if validation else None, level_names=AIRCRAFT_LEVELS,
        class_names=names, level_parents=parents, mean=IMAGENET_MEAN, std=IMAGENET_STD, split=split,
        meta={"root": str(root), "image_ids": {p: tuple(i) for p, i in ids.items()}, "boxes": part_boxes,
              "cropped": {p: cropped[p] for p in files}},
    )


def _aircraft_root() -> Path:
    """The extracted ``fgvc-aircraft-2013b/data`` folder; a missing one raises DatasetMissingError."""
    try:
        return paths.locate(f"{_AIRCRAFT_DATA}/variants.txt", _AIRCRAFT_HINT).parent
    except DatasetMissingError as err:
        archive = paths.find("aircraft/fgvc-aircraft-2013b.tar.gz")
        if archive is None:
            raise
        raise DatasetMissingError(f"{err.message}. The archive {archive} is there but not extracted: run "
                                  f"tar -xzf {archive.name} in {archive.parent}") from err


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetMissingError(f"missing data file {path.name!r} at {path}. To get it: {_AIRCRAFT_HINT}")
    return path


def _read_class_list(path: Path) -> list[str]:
    """One class name per non-empty line, in order; a repeated name raises HMCDataError."""
    names = [line.strip() for line in _require(path).read_text().splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise HMCDataError("a class name is listed twice", path)
    return names


def _read_boxes(path: Path) -> dict[str, tuple[int, int, int, int]]:
    """``<id> xmin ymin xmax ymax`` lines -> {id: box}; a malformed line raises HMCDataError at its line."""
    boxes = {}
    for number, line in enumerate(_require(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            box = tuple(int(v) for v in fields[1:])
        except ValueError:
            box = ()
        if len(fields) != 5 or len(box) != 4 or box[0] > box[2] or box[1] > box[3] or min(box) < 1:
            raise HMCDataError(f"expected '<id> xmin ymin xmax ymax' (1-based, xmin <= xmax), got {line!r}",
                               path, number)
        boxes[fields[0]] = box
    return boxes


def _read_image_labels(path: Path, classes: list[str], class_file: str) -> dict[str, int]:
    """``<image id> <class name>`` lines -> {id: class index}, in file order."""
    index = {name: i for i, name in enumerate(classes)}
    labels: dict[str, int] = {}
    for number, line in enumerate(_require(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        image_id, _, name = line.strip().partition(" ")
        if name not in index:
            raise HMCDataError(f"class {name!r} is not listed in {class_file}", path, number)
        if image_id in labels:
            raise HMCDataError(f"image {image_id} is listed twice", path, number)
        labels[image_id] = index[name]
    return labels


def _aircraft_labels(root: Path, split: str, classes: dict[str, list[str]]) -> tuple[list[str], np.ndarray]:
    """One official split: image ids (variant file order) and labels int64 (N, 3) joined by id."""
    per_level = {level: _read_image_labels(root / f"images_{level}_{split}.txt", classes[level],
                                           _AIRCRAFT_CLASS_FILES[level]) for level in AIRCRAFT_LEVELS}
    ids = list(per_level["variant"])
    for level in AIRCRAFT_LEVELS[1:]:
        if set(per_level[level]) != set(ids):
            odd = sorted(set(per_level[level]) ^ set(ids))
            raise HMCDataError(f"images_{level}_{split}.txt and images_variant_{split}.txt list different images "
                               f"(e.g. {odd[0]}, {len(odd)} in all)", root / f"images_{level}_{split}.txt")
    y = np.array([[per_level[level][i] for level in AIRCRAFT_LEVELS] for i in ids], dtype=np.int64).reshape(-1, 3)
    return ids, y


def _load_aircraft_images(folder: Path, ids: Sequence[str], boxes: np.ndarray | None, size: int) -> torch.Tensor:
    """Images ``folder/<id>.jpg`` -> uint8 (N, 3, size, size), each cropped to its box when ``boxes`` is given.

    boxes: int64 (N, 4) 1-based inclusive ``xmin ymin xmax ymax``. JPEG decoding uses PIL's draft
    mode (DCT-domain downscaling by 1/2, 1/4 or 1/8) when the region is still >= ``size`` pixels
    on each side afterwards, then an antialiased bilinear resize of the region.
    """
    out = np.empty((len(ids), size, size, 3), dtype=np.uint8)
    for n, image_id in enumerate(ids):
        path = _require(folder / f"{image_id}.jpg")
        with Image.open(path) as img:
            full_w, full_h = img.size
            if boxes is None:
                region = (0.0, 0.0, float(full_w), float(full_h))
            else:
                xmin, ymin, xmax, ymax = (int(v) for v in boxes[n])
                region = (max(0, xmin - 1), max(0, ymin - 1), min(full_w, xmax), min(full_h, ymax))
                if region[2] <= region[0] or region[3] <= region[1]:
                    raise HMCDataError(f"bounding box {tuple(boxes[n])} lies outside the {full_w}x{full_h} image", path)
            shrink = min(region[2] - region[0], region[3] - region[1]) / size
            if shrink >= 2:
                img.draft("RGB", (int(np.ceil(full_w / shrink)), int(np.ceil(full_h / shrink))))
            fx, fy = img.size[0] / full_w, img.size[1] / full_h
            scaled = (region[0] * fx, region[1] * fy, region[2] * fx, region[3] * fy)
            out[n] = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, box=scaled))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
