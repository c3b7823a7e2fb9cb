"""Pretrained image encoders that exist here: pretrained on data disjoint from the evaluation, cached with a checksum.

The rare-node paper's vision experiments start from a pretrained CNN. ImageNet weights cannot be
downloaded in every environment, so an encoder is described by an :class:`EncoderSpec` (architecture
and *source* of its weights) and :func:`pretrained_encoder` returns it:

- ``source="imagenet"`` (``arch="resnet18"``): torchvision's ImageNet ResNet-18 weights, used only when
  the file is already on disk (:func:`hmc.models.images.find_resnet18_weights`; never downloaded); the
  file's SHA-256 is checked against the published one (:data:`hmc.data.sources.SOURCES`). For images of
  at most 64 px the stem is a 3x3 convolution that the 7x7 weights do not fit: it is initialised under
  ``torch.manual_seed(spec.seed)``, so the encoder's state is the same on every call.
- ``source="omniglot-background"``: pretrained here, on Omniglot's 30 *background* alphabets (character
  IDs 1-964; :func:`hmc.data.image_subsets.omniglot_split`), as a softmax classifier over their
  characters (encoder -> ``Linear(F, n_characters)``, cross-entropy, Adam, drawings 0-14 of each
  character; drawings 15-19 give the held-out accuracy recorded with the weights). The rare-node
  experiments evaluate on the 20 *evaluation* alphabets (IDs 965-1623), whose characters and
  alphabets the encoder never saw.

The cache: a pretrained encoder is written once to ``<cache_dir>/encoders/<name>-<key>.pt`` (the user
cache dir, :func:`hmc.data.paths.cache_dir`; ``key`` = the first 12 hex digits of the SHA-256 of the
spec), beside ``<file>.sha256`` (the file's SHA-256, ``sha256sum`` format) and ``<file>.json`` (the
spec, the command that made it, the data files it read, the held-out accuracy, time, versions). Every
load recomputes the file's SHA-256 and refuses a file that does not match its sidecar
(:class:`hmc.errors.HMCDataError` naming the file and how to rebuild it). Results name the encoder
by :attr:`PretrainedEncoder.name` and :attr:`PretrainedEncoder.sha256`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hmc.data import paths
from hmc.data.images import IMAGENET_MEAN, IMAGENET_STD
from hmc.errors import DatasetMissingError, HMCDataError
from hmc.fileio import atomic_write
from hmc.models import derive_seed
from hmc.models.rare_images import ENCODER_ARCHS, ResNetEncoder, build_encoder, degrade_state, random_state

__all__ = [
    "SOURCES",
    "FORMAT",
    "DEGRADE_STREAM",
    "EncoderSpec",
    "PretrainedEncoder",
    "pretrained_encoder",
    "cache_path",
    "file_sha256",
    "verify_cached",
    "describe",
]

SOURCES = ("omniglot-background", "imagenet")
"""Where an encoder's weights come from: pretrained here on Omniglot's background alphabets, or ImageNet."""
FORMAT = "hmc-encoder/1"
DEGRADE_STREAM = 11
"""Stream of a run seed's random encoder initialisation: ``derive_seed(seed, DEGRADE_STREAM)``."""
_ORDER_STREAM = 12


@dataclass(frozen=True)
class EncoderSpec:
    """What an encoder is: architecture, input, and where its weights come from (and how they were made).

    Attributes
    ----------
    arch : {"conv4", "resnet18"}
        :func:`hmc.models.rare_images.build_encoder`.
    source : {"omniglot-background", "imagenet"}
        Module docstring. ``"imagenet"`` needs ``arch="resnet18"``.
    image_size, in_channels : int
        Input side in pixels and image channels (1 for Omniglot).
    width : int
        Conv-4's channels (= feature size); ignored by ResNet-18.
    pretrain_epochs, pretrain_lr, pretrain_batch_size : int, float, int
        Pretraining on the source (Adam, no weight decay); ignored for ImageNet.
    pretrain_alphabets : int
        The first N background alphabets (0: all 30).
    seed : int
        Initialisation and data order of the pretraining (and the ResNet stem for ImageNet).
    """

    arch: str = "conv4"
    source: str = "omniglot-background"
    image_size: int = 28
    in_channels: int = 1
    width: int = 64
    pretrain_epochs: int = 10
    pretrain_lr: float = 1e-3
    pretrain_batch_size: int = 128
    pretrain_alphabets: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.arch not in ENCODER_ARCHS:
            raise ValueError(f"arch must be one of {ENCODER_ARCHS}, got {self.arch!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "imagenet" and self.arch != "resnet18":
            raise ValueError("ImageNet weights exist here for arch='resnet18' only")
        for name in ("image_size", "in_channels", "width", "pretrain_epochs", "pretrain_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.pretrain_alphabets < 0 or not self.pretrain_lr > 0:
            raise ValueError("pretrain_alphabets must be >= 0 and pretrain_lr > 0")

    @property
    def name(self) -> str:
        """Short name, e.g. ``"conv4-w64-28px@omniglot-background"``, ``"resnet18-32px@imagenet"``."""
        width = f"-w{self.width}" if self.arch == "conv4" else ""
        return f"{self.arch}{width}-{self.image_size}px@{self.source}"

    def key(self) -> str:
        """First 12 hex digits of the SHA-256 of the spec (with the cache format)."""
        text = json.dumps({"format": FORMAT, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def command(self) -> str:
        """The shell command that builds (or loads) this encoder."""
        return ("python -c \"from hmc.encoders import EncoderSpec, pretrained_encoder; "
                f"pretrained_encoder(EncoderSpec(**{dataclasses.asdict(self)!r}))\"")


@dataclass(frozen=True, eq=False)
class PretrainedEncoder:
    """A pretrained encoder's weights, how to normalise its input, and where they came from.

    ``state``: the encoder's ``state_dict`` (CPU tensors); ``mean``/``std``: per-channel input
    normalisation on the 0..1 scale (the pretraining data's; ImageNet's for ImageNet weights);
    ``sha256``: of the cached file (Omniglot pretraining) or of the ImageNet weights file;
    ``path``: that file; ``info``: the sidecar's content (command, accuracy, ...).
    """

    spec: EncoderSpec
    state: dict = field(repr=False)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    sha256: str
    path: Path | None
    info: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def feature_dim(self) -> int:
        return self.spec.width if self.spec.arch == "conv4" else 512

    def _fresh(self) -> nn.Module:
        return build_encoder(self.spec.arch, self.spec.in_channels, self.spec.image_size, self.spec.width)

    def random_state(self, seed: int) -> dict:
        """A random initialisation of this architecture, seeded with ``derive_seed(seed, DEGRADE_STREAM)``."""
        return random_state(self.spec.arch, derive_seed(seed, DEGRADE_STREAM), in_channels=self.spec.in_channels,
                            image_size=self.spec.image_size, width=self.spec.width)

    def build(self, degradation: float = 0.0, seed: int = 0) -> nn.Module:
        """The encoder with ``theta = (1 - a) theta_pretrained + a theta_random(seed)`` (:func:`degrade_state`).

        ``a = 0`` loads the pretrained weights (no random draw); the global generator is untouched.
        """
        with torch.random.fork_rng(devices=[]):
            encoder = self._fresh()
        state = self.state if degradation == 0 else degrade_state(self.state, self.random_state(seed), degradation)
        encoder.load_state_dict(state)
        return encoder

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, c, s, s), uint8 0..255 or float 0..1 -> float32 normalised with this encoder's
        constants (1 channel repeated to 3 when the constants have 3)."""
        x = x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float32)
        if x.shape[1] == 1 and len(self.mean) == 3:
            x = x.expand(-1, 3, -1, -1)
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std


# ------------------------------------------------------------------------------------- files
def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def cache_path(spec: EncoderSpec, cache: str | Path | None = None) -> Path:
    """``<cache>/encoders/<name>-<key>.pt`` (``cache`` default: :func:`hmc.data.paths.cache_dir`)."""
    root = Path(cache) if cache is not None else paths.cache_dir()
    return root / "encoders" / f"{spec.name.replace('@', '_at_')}-{spec.key()}.pt"


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".sha256"), path.with_name(path.name + ".json")


def verify_cached(path: str | Path) -> str:
    """Recompute a cached encoder file's SHA-256 and compare it with its ``.sha256`` sidecar; return it.

    Raises :class:`~hmc.errors.HMCDataError` (naming the file) when the sidecar is missing or unreadable
    or the checksum differs: the file was cut, changed or replaced after it was written.
    """
    path = Path(path)
    sums, _ = _sidecars(path)
    fix = f"delete {path} and its sidecars to pretrain it again"
    try:
        stated = sums.read_text().split()[0].strip().lower()
    except (OSError, IndexError):
        raise HMCDataError(f"cached encoder has no readable checksum file {sums.name}; {fix}", path) from None
    actual = file_sha256(path)
    if actual != stated:
        raise HMCDataError(f"checksum mismatch: the file's SHA-256 is {actual}, its sidecar {sums.name} says "
                           f"{stated} (changed or damaged after it was written); {fix}", path)
    return actual


def _write_cached(path: Path, payload: dict, info: dict) -> str:
    with atomic_write(path, "wb") as fh:
        torch.save(payload, fh)
    digest = file_sha256(path)
    sums, meta = _sidecars(path)
    with atomic_write(meta) as fh:
        fh.write(json.dumps({**info, "sha256": digest}, indent=1, sort_keys=True) + "\n")
    with atomic_write(sums) as fh:  # written last: a file without it counts as unfinished
        fh.write(f"{digest}  {path.name}\n")
    return digest


def _read_cached(spec: EncoderSpec, path: Path) -> PretrainedEncoder:
    digest = verify_cached(path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT or payload.get("spec") != dataclasses.asdict(spec):
        raise HMCDataError(f"holds another encoder ({payload.get('format')}, {payload.get('spec')}), not {spec}", path)
    _, meta = _sidecars(path)
    info = json.loads(meta.read_text()) if meta.exists() else {}
    return PretrainedEncoder(spec, payload["state"], tuple(payload["mean"]), tuple(payload["std"]), digest, path, info)


# ------------------------------------------------------------------------------------- entry point
def pretrained_encoder(spec: EncoderSpec, *, cache: str | Path | None = None, device: str | torch.device = "cpu",
                       progress: bool = True) -> PretrainedEncoder:
    """The pretrained encoder of ``spec``: from the cache (checksum verified), else built and cached.

    ImageNet: from the weights file on disk (its SHA-256 checked against the published one); a missing
    file raises :class:`~hmc.errors.DatasetMissingError` saying where to put it. Omniglot background:
    read from :func:`cache_path` when there (its checksum must match: :func:`verify_cached`), else
    pretrained on ``device`` (the CPU results are deterministic) and written with its sidecars.
    """
    if spec.source == "imagenet":
        return _imagenet(spec)
    path = cache_path(spec, cache)
    if path.exists():
        return _read_cached(spec, path)
    started = time.perf_counter()
    state, mean, std, report = _pretrain_omniglot(spec, torch.device(device), progress)
    info = {
        "format": FORMAT,
        "name": spec.name,
        "spec": dataclasses.asdict(spec),
        "command": spec.command(),
        "argv": list(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 1),
        "device": torch.device(device).type,
        "torch": torch.__version__,
        "python": platform.python_version(),
        **report,
    }
    payload = {"format": FORMAT, "spec": dataclasses.asdict(spec), "state": state, "mean": list(mean),
               "std": list(std)}
    digest = _write_cached(path, payload, info)
    return PretrainedEncoder(spec, state, tuple(mean), tuple(std), digest, path, {**info, "sha256": digest})


_IMAGENET_SHA: dict[tuple[str, float], str] = {}


def _imagenet(spec: EncoderSpec) -> PretrainedEncoder:
    from hmc.data.sources import SOURCES as DATA_SOURCES
    from hmc.models.images import RESNET18_WEIGHTS_FILE, find_resnet18_weights

    weights = find_resnet18_weights()
    if weights is None:
        raise DatasetMissingError(f"the ImageNet ResNet-18 weights {RESNET18_WEIGHTS_FILE} are not on disk; "
                                  "`python -m hmc data fetch resnet18_weights` gets them (or use the encoder "
                                  "pretrained here on Omniglot's background alphabets: source='omniglot-background')")
    key = (str(weights), weights.stat().st_mtime)
    if key not in _IMAGENET_SHA:
        _IMAGENET_SHA[key] = file_sha256(weights)
    digest = _IMAGENET_SHA[key]
    published = DATA_SOURCES["resnet18_weights"][0].checksum.split(":", 1)[1]
    if digest != published:
        raise HMCDataError(f"SHA-256 {digest} is not the published {published}: a damaged or different file; "
                           "delete it and fetch it again", weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        encoder = ResNetEncoder(spec.image_size, pretrained=True)
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    info = {"name": spec.name, "file": str(weights), "sha256": digest, "command": spec.command(),
            "note": "torchvision ResNet18_Weights.IMAGENET1K_V1" + (
                "; the 3x3 stem of small images is initialised under the spec's seed"
                if spec.image_size <= 64 else "")}
    return PretrainedEncoder(spec, state, IMAGENET_MEAN, IMAGENET_STD, digest, weights, info)


def _pretrain_omniglot(spec: EncoderSpec, device: torch.device, progress: bool):
    """Train encoder + linear classifier on the background characters; return (state, mean, std, report)."""
    from tqdm.std import tqdm

    from hmc.data.image_subsets import omniglot_split

    if spec.in_channels != 1:
        raise ValueError(f"Omniglot images have 1 channel, the spec says {spec.in_channels}")
    data = omniglot_split("background", size=spec.image_size, max_alphabets=spec.pretrain_alphabets or None)
    n_classes = len(data.class_names[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        encoder = build_encoder(spec.arch, spec.in_channels, spec.image_size, spec.width)
        classifier = nn.Linear(encoder.feature_dim if spec.arch == "conv4" else 512, n_classes)
    model = nn.Sequential(encoder, classifier).to(device)
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    if spec.arch == "resnet18":
        mean, std = mean.expand(1, 3, 1, 1), std.expand(1, 3, 1, 1)

    def prep(x):
        x = x.to(device, torch.float32) / 255.0
        return ((x.expand(-1, 3, -1, -1) if spec.arch == "resnet18" else x) - mean) / std

    x, y = data.x_train.to(device), data.y_train[:, 0].to(device)
    opt = torch.optim.Adam(model.parameters(), lr=spec.pretrain_lr)
    order = torch.Generator().manual_seed(derive_seed(spec.seed, _ORDER_STREAM))
    bs = spec.pretrain_batch_size
    steps = math.ceil(len(x) / bs)
    losses = []
    bar = tqdm(total=spec.pretrain_epochs * steps, desc=f"pretraining {spec.name}", unit="step",
               disable=not progress, mininterval=1.0, leave=False)
    with bar:
        for _ in range(spec.pretrain_epochs):
            model.train()
            perm = torch.randperm(len(x), generator=order).to(device)
            total = 0.0
            for start in range(0, len(x), bs):
                idx = perm[start:start + bs]
                loss = F.cross_entropy(model(prep(x[idx])), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
                bar.update(1)
            losses.append(total / steps)
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data.x_test), 512):
            xb = prep(data.x_test[start:start + 512])
            correct += int((model(xb).argmax(1).cpu() == data.y_test[start:start + 512, 0]).sum())
    files = [str(f) for f in data.meta.get("source", ())]
    report = {
        "data": {"name": data.name, "alphabets": len(data.class_names[1]), "characters": n_classes,
                 "train_images": len(data.x_train), "heldout_images": len(data.x_test),
                 "split": "drawings 0-14 train, 15-19 held out", "files": files,
                 "file_sha256": {f: file_sha256(f) for f in files if Path(f).is_file()}},
        "epoch_loss": [round(v, 5) for v in losses],
        "heldout_accuracy": correct / max(1, len(data.x_test)),
        "chance": 1.0 / n_classes,
    }
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    return state, tuple(float(v) for v in data.mean), tuple(float(v) for v in data.std), report


def describe(encoder: PretrainedEncoder) -> dict[str, Any]:
    """One row describing an encoder for a table: name, sha256, file, command, held-out accuracy, chance."""
    info = encoder.info
    return {"encoder": encoder.name, "sha256": encoder.sha256[:16] + "...", "file": str(encoder.path),
            "pretrained on": info.get("data", {}).get("name", encoder.spec.source),
            "images": info.get("data", {}).get("train_images", np.nan),
            "held-out accuracy": info.get("heldout_accuracy", np.nan), "chance": info.get("chance", np.nan),
            "seconds": info.get("seconds", np.nan), "command": info.get("command", "")}
