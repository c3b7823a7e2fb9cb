"""Evidence strength: what a verdict rests on, and the size of the effect with a 95% bootstrap interval.

Every verdict of the scorecards carries one :class:`Strength`: the data (real or synthetic, which
datasets), the seeds and epochs against the paper's (:class:`hmc.claims.gates.Budget`), the smallest p
the claim's test design can reach, and the claim's effect (a mean paired difference, named in words)
with a 95% percentile bootstrap confidence interval (:func:`scipy.stats.bootstrap`, 9,999 resamples,
fixed seed, so a rerun gives the same interval).

The resampled unit is stated with each interval (:func:`paired_differences`): the datasets when there
are at least :data:`MIN_DATASETS_FOR_DATASET_BOOTSTRAP` (each contributes its mean over seeds), else
the (dataset, seed) pairs. With one unit there is no interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hmc.claims.gates import Budget

__all__ = [
    "CONFIDENCE",
    "MIN_DATASETS_FOR_DATASET_BOOTSTRAP",
    "Effect",
    "Strength",
    "bootstrap_mean",
    "paired_differences",
    "effect_of",
    "STRENGTH_COLUMNS",
]

CONFIDENCE = 0.95
N_RESAMPLES = 9999
BOOTSTRAP_SEED = 0
MIN_DATASETS_FOR_DATASET_BOOTSTRAP = 5
"""Below this many datasets the interval resamples (dataset, seed) pairs instead of datasets."""
STRENGTH_COLUMNS = ("data", "seeds", "epochs", "min_p", "effect", "estimate", "ci_low", "ci_high", "ci_over")
"""The strength columns every scorecard row carries (see :meth:`Strength.row`)."""


@dataclass(frozen=True)
class Effect:
    """A claim's effect: ``estimate`` (a mean) with its interval ``[low, high]`` over ``n`` ``unit``."""

    name: str
    estimate: float
    low: float
    high: float
    unit: str
    n: int

    def text(self, spec: str = "+.4f") -> str:
        if not math.isfinite(self.estimate):
            return f"{self.name}: not computable"
        ci = (f"95% CI [{format(self.low, spec)}, {format(self.high, spec)}], bootstrap over {self.n} {self.unit}"
              if math.isfinite(self.low) else f"no interval ({self.n} {self.unit})")
        return f"{self.name}: {format(self.estimate, spec)} ({ci})"


def bootstrap_mean(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile bootstrap interval; NaN interval with fewer than 2 values.

    Identical values give the degenerate interval [v, v].
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    if np.all(x == x[0]):
        return mean, mean, mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES,
                              method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED))
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_differences(diffs: pd.DataFrame) -> tuple[np.ndarray, str]:
    """The units to resample from paired differences ``diffs`` (columns ``dataset, seed, diff``).

    At least :data:`MIN_DATASETS_FOR_DATASET_BOOTSTRAP` datasets: one value per dataset (its mean over
    seeds), unit ``"datasets"``; else every (dataset, seed) difference, unit ``"(dataset, seed) pairs"``.
    """
    d = diffs[np.isfinite(diffs["diff"].astype(float))]
    if d["dataset"].nunique() >= MIN_DATASETS_FOR_DATASET_BOOTSTRAP:
        return d.groupby("dataset", sort=False)["diff"].mean().to_numpy(), "datasets"
    return d["diff"].to_numpy(dtype=np.float64), "(dataset, seed) pairs"


def effect_of(name: str, diffs: pd.DataFrame | None) -> Effect:
    """The :class:`Effect` of paired differences (see :func:`paired_differences`); NaN without any."""
    if diffs is None or len(diffs) == 0:
        return Effect(name, math.nan, math.nan, math.nan, "units", 0)
    values, unit = paired_differences(diffs)
    mean, low, high = bootstrap_mean(values)
    return Effect(name, mean, low, high, unit, len(values))


@dataclass(frozen=True)
class Strength:
    """What one verdict rests on: the budget, the smallest attainable p of its test design, its effect."""

    budget: Budget | None
    min_p: float
    min_p_design: str
    effect: Effect

    def row(self) -> dict:
        b = self.budget
        e = self.effect
        return {
            "data": b.data_text if b else "-",
            "seeds": b.seeds_text if b else "-",
            "epochs": b.epochs_text if b else "-",
            "min_p": self.min_p,
            "effect": e.name,
            "estimate": e.estimate,
            "ci_low": e.low,
            "ci_high": e.high,
            "ci_over": f"{e.n} {e.unit}" if e.n else "-",
        }

    def text(self) -> str:
        p = f"{self.min_p:.3g}" if math.isfinite(self.min_p) else "-"
        return (f"{self.budget.text() if self.budget else 'no data'}; smallest attainable p {p} "
                f"({self.min_p_design}); {self.effect.text()}")
