"""Chapter 06 (HCAL) in the evidence campaign: its ``full`` units, what is done, what they cost, how they run.

HCAL's units are trained by the image sweep (:func:`hmc.runs.image_sweep.run_image_sweep`), whose
results table ``results/full/06_hcal.csv`` is its store: a unit is finished when its rows are there
(written under an exclusive lock, with its per-epoch history beside it), and a unit cut mid-way
resumes from its per-epoch checkpoint. The settings are chapter 06's ``full`` parameter values
(:func:`hcal_values`, read through :func:`hmc.runner.resolve_parameters` as the notebook's own run
reads them), so a unit the campaign stores is the unit the chapter's ``full`` page looks up.

One unit is one work item (a unit takes minutes to hours; a batch of seeds would not fit a budget).
The queue (:func:`hcal_items`) runs the comparison of claims 1 and 2 first, HCAL against the flat,
C-HMCNN and MMoE baselines, seed by seed across the four (so that a partial design is paired), then
the ablations of claims 3-5. A unit's cost is its epochs times the measured seconds per training
step of finished units of the same model family (else of any family, else the prior
:data:`PRIOR_S_PER_STEP`), times the steps of one epoch.
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
from pathlib import Path

import pandas as pd

CHAPTER = "06_hcal"
SOURCE = "notebooks/06_hcal.py"
MAIN_METHODS = ("hcal", "flat", "chmcnn", "mmoe")
"""Claims 1 and 2 (accuracy per level and HVR against the baselines), first in the queue. MMoE is
last: the flat and C-HMCNN units ran before it joined (a baseline without units leaves the claims
undecided, :mod:`hmc.hcal_evidence`)."""
PRIOR_S_PER_STEP = 0.059
"""HCAL on the Conv-4 of width 64 at 28 px, batch 32, one thread, training and its share of
evaluation: 39 s per epoch of 660 steps on all of Omniglot, measured on this project's CPU with
another job on the other core."""


@functools.cache
def hcal_values() -> dict:
    """Chapter 06's parameter values under ``full`` (its notebook's defaults with the profile's values)."""
    from hmc import runner

    source = Path(__file__).resolve().parents[2] / SOURCE
    return runner.all_values(source, runner.resolve_parameters(source, "full", []))


def hcal_items(tiers: tuple[int, int], values: dict | None = None) -> list:
    """Chapter 06's ``full`` design as work items of one seed each: ``tiers[0]`` for HCAL, flat,
    C-HMCNN and MMoE seed by seed, ``tiers[1]`` for the ablations, seed by seed."""
    from hmc.runs.campaign import WorkItem

    v = values or hcal_values()
    methods, seeds = list(v["methods"]), range(int(v["n_seeds"]))
    main = [m for m in MAIN_METHODS if m in methods]
    rest = [m for m in methods if m not in main]
    items = []
    for tier, chosen, claims in ((tiers[0], main, "HCAL claims 1, 2"), (tiers[1], rest, "HCAL claims 3-5")):
        items += [WorkItem(tier, claims, CHAPTER, d, m, (s,)) for d in v["datasets"] for s in seeds for m in chosen]
    return items


class HcalUnits:
    """What the campaign needs to know about chapter 06's units: availability, done, cost, running.

    ``results``: the results folder (the table is ``<results>/full/06_hcal.csv``); ``checkpoints``:
    the campaign's checkpoint folder (units keep theirs in ``<checkpoints>/06_hcal/...``).
    """

    def __init__(self, results: str | Path, checkpoints: str | Path, values: dict | None = None):
        from hmc.runs.image_sweep import image_loader, sweep_settings

        self.values = values or hcal_values()
        self.csv = Path(results) / "full" / f"{CHAPTER}.csv"
        self.checkpoints = Path(checkpoints) / CHAPTER
        self.settings = sweep_settings(self.values)
        self._load = image_loader(self.values)
        self._data: dict = {}
        self._table: tuple[float, pd.DataFrame] | None = None

    @property
    def epochs(self) -> int:
        return self.settings["epochs"]

    def data(self, dataset: str):
        """The dataset's image hierarchy (loaded once); :class:`hmc.errors.DatasetMissingError` when absent."""
        if dataset not in self._data:
            self._data[dataset] = self._load(dataset)
        return self._data[dataset]

    def available(self, dataset: str) -> bool:
        from hmc.errors import DatasetMissingError

        try:
            self.data(dataset)
        except DatasetMissingError:
            return False
        return True

    def table(self) -> pd.DataFrame:
        """The results table (re-read when the file changed), one row per finished unit at ``full``'s epochs
        and backbone: ``dataset, method, seed, wall_time_s``."""
        from hmc.image_train import RESULT_COLUMNS
        from hmc.runs.sweep import read_results

        stamp = self.csv.stat().st_mtime if self.csv.exists() else 0.0
        if self._table is None or self._table[0] != stamp:
            t = read_results(self.csv, RESULT_COLUMNS)
            if len(t):
                from hmc.image_train import backbone_label, method_config

                label = backbone_label(method_config("flat", self.epochs, backbone=self.settings["backbone"],
                                                     width=self.settings["width"]))
                t = t[(t.epochs.astype(int) == self.epochs) & (t.backbone.astype(str) == label)]
            t = t.drop_duplicates(["dataset", "method", "seed"])[["dataset", "method", "seed", "wall_time_s"]]
            self._table = (stamp, t.assign(seed=t.seed.astype(int), wall_time_s=t.wall_time_s.astype(float)))
        return self._table[1]

    def done_seeds(self, item) -> list[int]:
        t = self.table()
        done = set(t.seed[(t.dataset == item.dataset) & (t.method == item.method)])
        return [s for s in item.seeds if s in done]

    def spent_s(self, item, seeds) -> float:
        t = self.table()
        sel = t[(t.dataset == item.dataset) & (t.method == item.method) & t.seed.isin(list(seeds))]
        return float(sel.wall_time_s.sum())

    def checkpoint_path(self, item, seed: int) -> Path:
        from hmc.image_train import checkpoint_path

        return checkpoint_path(self.checkpoints, item.dataset, item.method, seed)

    def steps_per_epoch(self, dataset: str) -> int:
        return math.ceil(len(self.data(dataset).x_train) / self.settings["batch_size"])

    @staticmethod
    def family(method: str) -> str:
        """The cost family of a method label: ``06_hcal-<model>`` (``hcal``, ``flat``, ``mmoe``, ``chmcnn``)."""
        from hmc.image_train import LABEL_SETTINGS

        return f"{CHAPTER}-{LABEL_SETTINGS[method]['method']}"

    def measured(self) -> list[tuple[str, str, float]]:
        """(dataset, cost family, seconds per training step) of every finished unit."""
        t = self.table()
        return [(d, self.family(m), s / (self.epochs * self.steps_per_epoch(d)))
                for d, m, s in zip(t.dataset, t.method, t.wall_time_s) if self.available(d)]

    def estimate_s(self, item, n_seeds: int, measured: list[tuple[str, str, float]]) -> tuple[float, str]:
        """Estimated seconds for ``n_seeds`` units of the item, and where the rate comes from."""
        family = self.family(item.method)
        mine = [r for d, f, r in measured if f == family]
        anyone = [r for d, f, r in measured if f.startswith(f"{CHAPTER}-")]
        if mine:
            rate, how = statistics.median(mine), f"{len(mine)} {family} units"
        elif anyone:
            rate, how = statistics.median(anyone), f"{len(anyone)} units of other image models"
        else:
            rate, how = PRIOR_S_PER_STEP, f"the prior of {PRIOR_S_PER_STEP * 1000:.0f} ms per step"
        return rate * n_seeds * self.epochs * self.steps_per_epoch(item.dataset), how

    def run(self, units, stop_at: float, threads: int) -> None:
        """Train the units (:func:`hmc.runs.image_sweep.run_image_sweep` with ``full``'s settings), pausing at
        ``stop_at`` (:class:`hmc.checkpoint.TrainingPaused`); each unit's checkpoint is removed once its
        rows are written (:func:`~hmc.runs.image_sweep.run_image_sweep`)."""
        import torch

        from hmc.runs.image_sweep import run_image_sweep

        embeddings = self.csv.with_name(f"{CHAPTER}_embeddings")
        history = self.csv.with_name(f"{CHAPTER}_history.csv")
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            run_image_sweep(units, self.csv, history, load=self.data, checkpoint_dir=self.checkpoints,
                            embeddings_dir=embeddings, progress=sys.stderr.isatty(), stop_at=stop_at,
                            **self.settings)
        finally:
            torch.set_num_threads(previous)
