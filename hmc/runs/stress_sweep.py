"""The rare-node image stress tests (chapter 07) as a kind of sweep: units, design, training, table.

A unit is ``(dataset, degradation a, fraction f, method, seed)`` (:class:`StressUnit`): the pretrained
encoder degraded to ``a`` and a stratified fraction ``f`` of the long-tailed training split
(:func:`hmc.rare_images.train_rare_images`). :func:`stress_design` lists both stress tests' units
(they share ``a = 0, f = 1``). The results store keys a unit by ``(condition, method, seed)`` with the
condition ``"<dataset>@a<a>-f<f>"`` (:func:`condition_key`), so that :func:`hmc.runs.sweep.run_sweep`,
with :class:`StressKind` as its kind, runs these units through the same driver, store and executors
as the tabular chapters; each unit trains alone (one seed per task, with its own checkpoint). A unit
is stored under its full configuration, the encoder's name and SHA-256 included
(:meth:`StressKind.config`), and the tidy table has the columns :data:`STRESS_COLUMNS`.

:meth:`StressKind.from_parameters` builds the kind from a chapter 07 notebook's parameter values, so
that the notebook and the evidence campaign (:mod:`hmc.runs.campaign`, which reads the ``full``
profile's values) train and look up exactly the same configuration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from hmc.data.images import ImageHierarchy
from hmc.encoders import PretrainedEncoder
from hmc.rare_images import DEGRADATIONS, FRACTIONS, image_signature, train_rare_images
from hmc.rare_nodes import rare_config
from hmc.runs.executors import Task
from hmc.runs.store import validate_table

__all__ = [
    "STRESS_PARAMS",
    "STRESS_COLUMNS",
    "StressUnit",
    "condition_key",
    "parse_condition",
    "stress_design",
    "StressKind",
    "EncoderNotMade",
    "run_stress_sweep",
    "read_stress_results",
]

STRESS_PARAMS = ("data", "degradation", "fraction", "imbalance", "encoder", "encoder_sha256", "image_size", "n_heads",
                 "epochs", "batch_size", "lr", "weight_decay", "dropout", "hidden_dim", "augment", "prior_init")
"""The settings of a unit that its rows carry (from its stored configuration)."""
STRESS_COLUMNS = ("dataset", "method", "seed", "metric", "value", *STRESS_PARAMS, "device", "wall_time_s")
"""Columns of the tidy table; ``dataset`` is the condition key (:func:`condition_key`), ``data`` the dataset."""
SETTINGS = ("epochs", "batch_size", "lr", "weight_decay", "dropout", "augment")
"""Training settings every unit of a stress sweep shares (also ``hidden_dim``, None: the feature size,
and ``prior_init``, default True)."""


class EncoderNotMade(LookupError):
    """The pretrained encoder of a kind built with ``pretrain=False`` is not in its cache."""


class StressUnit(NamedTuple):
    """One unit of the stress sweep."""

    dataset: str
    degradation: float
    fraction: float
    method: str
    seed: int


def condition_key(dataset: str, degradation: float, fraction: float) -> str:
    """The store's dataset key of a condition: ``"omniglot@a0.25-f1"``."""
    return f"{dataset}@a{float(degradation):g}-f{float(fraction):g}"


_CONDITION = re.compile(r"(?P<dataset>[^@]+)@a(?P<a>[0-9.e-]+)-f(?P<f>[0-9.e-]+)")


def parse_condition(key: str) -> tuple[str, float, float]:
    """``"omniglot@a0.25-f1"`` -> ``("omniglot", 0.25, 1.0)``; ValueError for another shape."""
    m = _CONDITION.fullmatch(key)
    if m is None:
        raise ValueError(f"{key!r} is not a stress condition such as 'omniglot@a0.25-f1'")
    return m["dataset"], float(m["a"]), float(m["f"])


def stress_design(datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int],
                  degradations: Sequence[float] = DEGRADATIONS,
                  fractions: Sequence[float] = FRACTIONS) -> list[StressUnit]:
    """Both stress tests' units: ``(a, f=1)`` for every a, and ``(a=0, f)`` for every f (shared cell once).

    Order: dataset, then condition (a ascending, then f descending), then method, then seed.
    """
    conditions = [(float(a), 1.0) for a in sorted(set(map(float, degradations)) | {0.0})]
    conditions += [(0.0, float(f)) for f in sorted(set(map(float, fractions)) - {1.0}, reverse=True)]
    for a, f in conditions:
        if not (0 <= a < 1 and 0 < f <= 1):
            raise ValueError(f"degradations must lie in [0, 1) and fractions in (0, 1], got a={a}, f={f}")
    return [StressUnit(d, a, f, m, int(s)) for d in datasets for a, f in conditions for m in methods for s in seeds]


class StressKind:
    """The stress sweep's kind for :func:`hmc.runs.sweep.run_sweep` (dataset keys are conditions).

    Parameters
    ----------
    load
        ``load(dataset) -> ImageHierarchy``: the (long-tailed) data of a dataset, made with ``imbalance``
        (:func:`hmc.rare_images.load_stress_data`); one dataset is held at a time.
    encoders
        ``dataset -> PretrainedEncoder``, a mapping or a function (called once per dataset, when a unit
        of it first needs it: pretraining may take minutes).
    settings
        :data:`SETTINGS` (and optionally ``hidden_dim``, ``prior_init``), shared by every unit.
    imbalance
        The long tail's ratio that ``load`` applied (recorded with each unit).
    device
        Where units train.
    """

    params, columns = STRESS_PARAMS, STRESS_COLUMNS
    max_seeds_per_task = 1  # a checkpoint belongs to one seed
    PARAMETERS = ("image_size", "aircraft_size", "omniglot_alphabets", "omniglot_characters", "imbalance", "encoder",
                  "encoder_width", "pretrain_epochs", "pretrain_alphabets", "epochs", "batch_size", "lr",
                  "weight_decay", "dropout")
    """The chapter 07 notebook parameters that :meth:`from_parameters` reads."""

    def __init__(self, load: Callable[[str], ImageHierarchy],
                 encoders: Mapping[str, PretrainedEncoder] | Callable[[str], PretrainedEncoder],
                 settings: Mapping, imbalance: float = 1.0, device: str = "cpu"):
        missing = [k for k in SETTINGS if k not in settings]
        if missing:
            raise ValueError(f"settings lack {missing}")
        self._load, self.settings = load, dict(settings)
        self._get_encoder = encoders if callable(encoders) else encoders.__getitem__
        self.imbalance, self.device = float(imbalance), str(device)
        self._held: tuple[str, ImageHierarchy] | None = None
        self._encoders: dict[str, PretrainedEncoder] = {}

    @staticmethod
    def encoder_spec(dataset: str, values: Mapping):
        """The :class:`hmc.encoders.EncoderSpec` of a dataset from a chapter 07 notebook's parameter
        values (:func:`hmc.rare_images.encoder_spec_for`); ValueError where none can be made here."""
        from hmc.rare_images import encoder_spec_for

        size = int(values["aircraft_size"] if dataset == "aircraft" else values["image_size"])
        return encoder_spec_for(dataset, values["encoder"], image_size=size, width=values["encoder_width"],
                                pretrain_epochs=values["pretrain_epochs"],
                                pretrain_alphabets=values["pretrain_alphabets"])

    @classmethod
    def from_parameters(cls, dataset: str, values: Mapping, encoder_cache: str | os.PathLike,
                        device: str = "cpu", progress: bool = False, pretrain: bool = True) -> StressKind:
        """The kind of one dataset from a chapter 07 notebook's parameter values (:data:`PARAMETERS`). The
        pretrained encoder (:meth:`encoder_spec`) is read from (or made into) ``encoder_cache`` (:func:`hmc.encoders.pretrained_encoder`; with ``pretrain`` False a missing one
        raises :class:`EncoderNotMade` instead of being pretrained); characters are not augmented (a
        flipped character is another one), natural images are."""
        from hmc.encoders import cache_path, pretrained_encoder
        from hmc.rare_images import load_stress_data

        v = dict(values)
        size = int(v["aircraft_size"] if dataset == "aircraft" else v["image_size"])

        def load(name):
            return load_stress_data(name, image_size=size, imbalance=v["imbalance"],
                                    omniglot_alphabets=v["omniglot_alphabets"],
                                    omniglot_characters=v["omniglot_characters"])

        def encoder(name):
            spec = cls.encoder_spec(name, v)
            if not pretrain and spec.source != "imagenet" and not cache_path(spec, encoder_cache).exists():
                raise EncoderNotMade(f"{spec.name} is not in {os.path.relpath(encoder_cache)} yet: no unit can have "
                                     "used it")
            return pretrained_encoder(spec, cache=encoder_cache, device=device, progress=progress)

        settings = {k: v[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "dropout")}
        settings.update(hidden_dim=None, prior_init=True, augment=dataset != "omniglot")
        return cls(load, encoder, settings, imbalance=v["imbalance"], device=device)

    def load(self, key: str) -> ImageHierarchy:
        """The data of a condition key (its dataset's)."""
        return self.data(parse_condition(key)[0])

    def data(self, dataset: str) -> ImageHierarchy:
        """A dataset's (long-tailed) data; the last one loaded is held."""
        if self._held is None or self._held[0] != dataset:
            self._held = (dataset, self._load(dataset))
        return self._held[1]

    def encoder(self, dataset: str) -> PretrainedEncoder:
        if dataset not in self._encoders:
            self._encoders[dataset] = self._get_encoder(dataset)
        return self._encoders[dataset]

    def check_method(self, method: str) -> None:
        rare_config(method)  # a malformed name raises ValueError before anything trains

    def checkpoints(self, method: str) -> bool:
        return True

    def config(self, key: str, data: ImageHierarchy, method: str, train_kwargs: dict) -> dict:
        """Everything that changes a unit's results: condition, settings, encoder name and SHA-256, data."""
        dataset, a, f = parse_condition(key)
        encoder, s = self.encoder(dataset), self.settings
        return {
            "data": dataset, "degradation": a, "fraction": f, "imbalance": self.imbalance,
            "encoder": encoder.name, "encoder_sha256": encoder.sha256, "image_size": int(data.image_shape[1]),
            "n_heads": int(rare_config(method).n_members), "epochs": int(s["epochs"]),
            "batch_size": int(s["batch_size"]), "lr": float(s["lr"]), "weight_decay": float(s["weight_decay"]),
            "dropout": float(s["dropout"]), "hidden_dim": int(s.get("hidden_dim") or encoder.feature_dim),
            "augment": bool(s["augment"]), "prior_init": bool(s.get("prior_init", True)),
            "signature": image_signature(data),
        }

    def train(self, data: ImageHierarchy, task: Task) -> pd.DataFrame:
        """Train the task's one seed; its rows: ``au_prc``, ``train_loss`` and every finite metric."""
        import torch

        dataset, a, f = parse_condition(task.dataset)
        kwargs = dict(task.kwargs)
        threads = kwargs.pop("num_threads", None)  # set by a cluster executor
        previous = torch.get_num_threads()
        if threads and self.device == "cpu":
            torch.set_num_threads(int(threads))
        try:
            result = train_rare_images(
                data, list(task.seeds), task.method, encoder=self.encoder(dataset), degradation=a, fraction=f,
                epochs=self.settings["epochs"], batch_size=self.settings["batch_size"], lr=self.settings["lr"],
                weight_decay=self.settings["weight_decay"], dropout=self.settings["dropout"],
                hidden_dim=self.settings.get("hidden_dim"), augment=self.settings["augment"],
                prior_init=self.settings.get("prior_init", True), device=self.device, **kwargs)
        finally:
            torch.set_num_threads(previous)
        values = {"au_prc": float(result.au_prc[0]), "train_loss": float(result.epoch_loss[0, -1])}
        values.update({k: float(v[0]) for k, v in result.metrics.items() if np.isfinite(v[0])})
        return pd.DataFrame({"dataset": task.dataset, "method": task.method, "seed": int(task.seeds[0]),
                             "metric": list(values), "value": list(values.values()),
                             "device": result.settings["device"], "wall_time_s": round(result.wall_time_s, 3)})

    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        return read_stress_results(path)


def run_stress_sweep(units: Iterable[StressUnit], results_csv: str | os.PathLike, *, kind: StressKind,
                     **sweep_kwargs) -> pd.DataFrame:
    """Train the unfinished stress units into the store of ``results_csv`` (:func:`hmc.runs.sweep.run_sweep`
    with ``kind``; ``sweep_kwargs``: ``force``, ``train``, ``progress``, ``checkpoint_dir``, ``stop_at``,
    ``executor``, ...); return the table's rows of the given units."""
    from hmc.runs.sweep import run_sweep

    units = [StressUnit(str(u[0]), float(u[1]), float(u[2]), str(u[3]), int(u[4])) for u in units]
    keyed = [(condition_key(u.dataset, u.degradation, u.fraction), u.method, u.seed) for u in units]
    table = run_sweep(keyed, results_csv, kind=kind, **sweep_kwargs)
    if table.empty:
        return table
    wanted = set(keyed)
    mask = [(d, m, int(s)) in wanted for d, m, s in zip(table.dataset, table.method, table.seed)]
    return table[mask].reset_index(drop=True)


def read_stress_results(path: str | os.PathLike) -> pd.DataFrame:
    """The tidy table of a stress sweep at ``path`` (empty, with :data:`STRESS_COLUMNS`, when absent).

    Numeric columns are checked as they are read (:func:`hmc.runs.store.validate_table`: a damaged row
    raises :class:`hmc.runs.store.DamagedResult` naming the line).
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(STRESS_COLUMNS))
    numeric = ("value", "degradation", "fraction", "imbalance", "image_size", "n_heads", "epochs", "batch_size", "lr",
               "weight_decay", "dropout", "hidden_dim", "wall_time_s")
    return validate_table(pd.read_csv(path), path, int_columns=("seed",), float_columns=numeric)
