"""Evidence for the claims of HCAL (Jiang et al. 2025, bib key ``jiang2025hcal``): tables and the claims scorecard.

The spec (``specs/hcal.md``, "Claims") lists five claims the study must test. This module reads the
tidy tables of :func:`hmc.runs.image_sweep.run_image_sweep`:

- ``results``: columns :data:`hmc.image_train.RESULT_COLUMNS` (``dataset, method, seed, protocol,
  epoch, metric, value, ...``), ``method`` a label of :data:`hmc.image_train.METHOD_LABELS`,
  metrics ``acc_<level name>`` (one per level), ``full_path``, ``hvr``, ``consistent_full_path``,
  one row per model-selection protocol (:data:`hmc.metrics.levels.SELECTION_PROTOCOLS`);
- ``history``: ``dataset, method, seed`` then :func:`hmc.image_train.history_columns` (``epoch,
  split, acc_<k>, ..., loss_<k>, weight_<k>``), one row per evaluated epoch and split.

Functions
---------
:func:`level_table`
    Mean and standard deviation over seeds per dataset, method and metric, for one protocol (any of
    the three, the authors' included: the tables show every protocol).
:func:`weight_balance`
    The level weights of each run over the epochs (``weight_<k>`` of the history: the loss of a step
    is ``sum_k weight_k * loss_k``) with their shares, the largest share and a balance statistic.
:func:`baseline_comparisons`
    HCAL against each baseline per dataset and metric: difference of seed means, and a paired
    Wilcoxon test over seeds (Holm-adjusted) where there are enough seeds.
:func:`hcal_scorecard`
    One row per claim: statement, evidence (the numbers), test, rule and verdict (:data:`VERDICTS`).

The rules (:data:`HCAL_CONVENTIONS`, :data:`HCAL_VERDICT_RULES`, listed at the end of this
docstring) are fixed here, before any number is seen. Verdicts never use the authors' protocol
(best epoch on the test set): per dataset they use ``"validation"`` when every run of the dataset has
it, else ``"last"`` (:func:`verdict_protocols`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from hmc.metrics.levels import SELECTION_PROTOCOLS
from hmc.scorecard import VERDICTS
from hmc.stats import holm

__all__ = [
    "BASELINES",
    "HCAL_CLAIMS",
    "HCAL_CONVENTIONS",
    "HCAL_VERDICT_RULES",
    "MIN_SEEDS_FOR_TEST",
    "SCORECARD_COLUMNS",
    "VERDICTS",
    "VERDICT_PROTOCOLS",
    "baseline_comparisons",
    "hcal_scorecard",
    "level_table",
    "verdict_protocols",
    "weight_balance",
]

HCAL_CLAIMS: dict[int, str] = {
    1: "HCAL classifies more accurately than the baseline models at every level.",
    2: "HCAL has a lower Hierarchical Violation Rate (HVR) than the baselines.",
    3: "Adaptive loss balancing removes the \"one-strong-many-weak\" bias of fixed multi-task weights "
       "(the levels end up more evenly trained).",
    4: "Prototype perturbation (noise on prototypes) widens decision boundaries and improves robustness.",
    5: "Child-to-parent feature aggregation gives hierarchy consistency.",
}
"""The paper's claims, as the spec lists them."""

BASELINES = ("flat", "mmoe", "chmcnn")
"""The baseline labels of claims 1 and 2."""
VERDICT_PROTOCOLS = ("validation", "last")
"""Protocols a verdict may use, in order of preference; never ``"authors"``."""
MIN_SEEDS_FOR_TEST = 5
MEAN_TIE_TOLERANCE = 1e-12  # claim 3: a mean 'not lower' allows this float rounding slack
"""Paired seeds below which no significance test is run (the smallest two-sided Wilcoxon p with n
seeds is 2 / 2^n: 0.25 with 3 seeds, 0.0625 with 5, 0.016 with 7)."""
SCORECARD_COLUMNS = ("claim", "statement", "evidence", "test", "rule", "verdict")

HCAL_CONVENTIONS: tuple[str, ...] = (
    "**Model selection**: per dataset, the 'validation' protocol (the epoch with the best mean per-level "
    "accuracy on the held-out validation split) when every run of the dataset has it, else 'last' (the last "
    "epoch). The authors' protocol (best epoch on the test set) is shown in the tables but never used for a "
    "verdict, since it selects on the data it scores.",
    "A method's **score** on a dataset is the mean over its seeds of the selected epoch's test metric; a "
    "**difference** is hcal minus the other method. Accuracies of different levels are compared as they are "
    "(not normalised by the number of classes).",
    "**Comparisons are strict**: a tie is not an improvement (except 'not lower' in claim 3).",
    "**Significance** does not enter a verdict. With at least 5 paired seeds, claims 1 and 2 add a two-sided "
    "paired Wilcoxon signed-rank test over the seeds of each comparison (scipy), Holm-adjusted over the "
    "claim's comparisons; with fewer seeds the evidence says that no test is possible.",
    "A claim is **not tested here** when the methods it compares have no dataset in common.",
)
"""Conventions every verdict rule uses (appended to this module's docstring)."""

HCAL_VERDICT_RULES: dict[int, str] = {
    1: "For each dataset, level (metric acc_<level>) and baseline (flat, mmoe, chmcnn) with results, the "
       "difference of seed means hcal - baseline. Reproduced: every difference > 0; partly: at least half of "
       "them > 0; not reproduced: fewer than half. Not tested here without hcal or without a baseline on a "
       "dataset of hcal.",
    2: "As claim 1 on the HVR (lower is better): one difference hcal - baseline per dataset and baseline. "
       "Reproduced: every difference < 0; partly: at least half of them < 0; not reproduced: fewer than half.",
    3: "hcal (softmax_loss balancer) against hcal-equal (equal weights, all else the same) on each dataset "
       "with both: (a) the worst level's accuracy (the minimum over levels of the seed-mean accuracies) is "
       "higher with hcal; (b) the mean over levels of the seed-mean accuracies is not lower with hcal. Each "
       "part must hold on every such dataset. Reproduced: (a) and (b); partly: one of them; not reproduced: "
       "neither. The evidence quotes hcal's final-epoch level weights (weight_balance) to show whether one "
       "level dominates; they do not enter the verdict.",
    4: "hcal against hcal-noperturb (eps = 0) on the clean test accuracy of each level, on each dataset with "
       "both. Reproduced: hcal higher at every level on every dataset; partly: otherwise, if the mean over "
       "datasets of the mean over levels is higher; not reproduced: neither. Robustness to corrupted inputs "
       "is not measured, only clean accuracy.",
    5: "hcal against hcal-noagg (per-sample loss at every level) on the HVR of each dataset with both. "
       "Reproduced: lower with hcal on every dataset; partly: otherwise, if the mean over datasets is lower; "
       "not reproduced: neither.",
}
"""Claim -> its verdict rule, in words (appended to this module's docstring)."""

_RESULT_NEEDS = ("dataset", "method", "seed", "protocol", "metric", "value")
_RESULT_KEY = ("dataset", "method", "seed", "protocol", "metric")
_HISTORY_NEEDS = ("dataset", "method", "seed", "epoch", "split")


# ------------------------------------------------------------------------------------- inputs
def _check_results(results: pd.DataFrame) -> None:
    missing = [c for c in _RESULT_NEEDS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing} (expected hmc.image_train.RESULT_COLUMNS)")
    dup = results.duplicated(list(_RESULT_KEY))
    if dup.any():
        first = results.loc[dup, list(_RESULT_KEY)].iloc[0].tolist()
        raise ValueError(f"results have several rows for (dataset, method, seed, protocol, metric) = {first}")


def _check_protocol(protocol: str) -> None:
    if protocol not in SELECTION_PROTOCOLS:
        raise ValueError(f"protocol must be one of {SELECTION_PROTOCOLS}, got {protocol!r}")


def verdict_protocols(results: pd.DataFrame, protocol: str | None = None) -> dict[str, str]:
    """The model-selection protocol a verdict uses on each dataset of ``results``.

    ``protocol=None``: ``"validation"`` on a dataset where every run (method, seed) has validation
    rows, else ``"last"``. ``"validation"`` or ``"last"``: that one everywhere (ValueError when no
    row has it). ``"authors"`` (selection on the test set) raises ValueError.
    """
    _check_results(results)
    datasets = list(pd.unique(results["dataset"]))
    if protocol is not None:
        _check_protocol(protocol)
        if protocol not in VERDICT_PROTOCOLS:
            raise ValueError(f"verdicts use {VERDICT_PROTOCOLS}, never {protocol!r} (best epoch on the test set)")
        if len(results) and not (results["protocol"] == protocol).any():
            raise ValueError(f"no result row has protocol {protocol!r}; present: {sorted(set(results['protocol']))}")
        return {d: protocol for d in datasets}
    out = {}
    for dataset, t in results.groupby("dataset", sort=False):
        has_val = t.groupby(["method", "seed"])["protocol"].agg(lambda p: "validation" in set(p))
        out[dataset] = "validation" if has_val.all() else "last"
    return out


def _selected(results: pd.DataFrame, protocols: dict[str, str]) -> pd.DataFrame:
    """The rows of each dataset's verdict protocol."""
    return results[results["protocol"] == results["dataset"].map(protocols)]


def _protocol_text(protocols: dict[str, str]) -> str:
    used = set(protocols.values())
    if len(used) == 1:
        return f"protocol {used.pop()}"
    return "protocols " + ", ".join(f"{p} ({d})" for d, p in protocols.items())


class _Scores:
    """Per (dataset, method, metric): the values by seed of the selected rows."""

    def __init__(self, sel: pd.DataFrame):
        self.by_seed = {key: g.set_index("seed")["value"].astype(float)
                        for key, g in sel.groupby(["dataset", "method", "metric"], sort=False)}
        self.datasets = list(pd.unique(sel["dataset"]))

    def has(self, dataset, method) -> bool:
        return any(k[0] == dataset and k[1] == method for k in self.by_seed)

    def levels(self, dataset, method) -> list[str]:
        """The ``acc_<level>`` metrics of a method on a dataset, in table order."""
        return [k[2] for k in self.by_seed if k[0] == dataset and k[1] == method and str(k[2]).startswith("acc_")]

    def mean(self, dataset, method, metric) -> float:
        return float(self.by_seed[(dataset, method, metric)].mean())

    def seeds(self, dataset, method, metric) -> pd.Series:
        return self.by_seed[(dataset, method, metric)]

    def common_levels(self, a: str, b: str) -> dict:
        """Dataset -> the ``acc_<level>`` metrics both methods have there (datasets with at least one)."""
        out = {}
        for d in self.datasets:
            levels = [lv for lv in self.levels(d, a) if lv in self.levels(d, b)]
            if levels:
                out[d] = levels
        return out


def _fmt(x: float) -> str:
    return f"{x:+.4f}"


# ------------------------------------------------------------------------------------- tables
def level_table(results: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every metric, per dataset and method, for one protocol.

    For the rows of ``protocol`` (any of :data:`~hmc.metrics.levels.SELECTION_PROTOCOLS`, the
    authors' included), per (dataset, method, metric) with values ``v_s`` over n seeds:
    ``mean = (1/n) sum_s v_s``, ``std = sqrt(sum_s (v_s - mean)^2 / (n - 1))`` (NaN when n = 1).

    Returns columns ``dataset, method, metric, protocol, mean, std, n_seeds`` in the order the rows
    first appear. ValueError on an unknown protocol, one with no rows, or duplicated rows.
    """
    _check_results(results)
    _check_protocol(protocol)
    t = results[results["protocol"] == protocol]
    if t.empty:
        raise ValueError(f"no result row has protocol {protocol!r}; present: {sorted(set(results['protocol']))}")
    out = (t.groupby(["dataset", "method", "metric"], sort=False)["value"]
           .agg(mean="mean", std="std", n_seeds="count").reset_index())
    out.insert(3, "protocol", protocol)
    return out


def weight_balance(history: pd.DataFrame, last_epoch_only: bool = False) -> pd.DataFrame:
    """The level weights of each run over its epochs, their shares and how balanced they are.

    One row per (dataset, method, seed, epoch) of the history's test rows (the training columns are
    the same on an epoch's test and validation rows). With the m non-missing weights ``w_k`` of a
    row (``weight_<k>``, the epoch's mean weight of level k's loss), the shares are
    ``s_k = w_k / sum_j w_j`` and

    - ``max_share = max_k s_k``, ``dominant_level`` = its k (0 = finest; 1/m when even);
    - ``balance = -(sum_k s_k ln s_k) / ln m``, the normalised entropy: 1 when the weights are
      equal, towards 0 when one level takes all the weight (``0 ln 0 = 0``).

    Returns columns ``dataset, method, seed, epoch, weight_<k> ..., share_<k> ..., max_share,
    dominant_level, balance``; ``last_epoch_only`` keeps each run's last epoch. ValueError on
    missing columns, a negative weight, or a row whose weights sum to 0.
    """
    missing = [c for c in _HISTORY_NEEDS if c not in history.columns]
    wcols = sorted((c for c in history.columns if re.fullmatch(r"weight_\d+", str(c))), key=lambda c: int(c[7:]))
    if missing or not wcols:
        raise ValueError(f"history lacks the columns {missing or ['weight_<k>']} "
                         "(expected dataset, method, seed, then hmc.image_train.history_columns)")
    t = history[history["split"] == "test"].reset_index(drop=True)
    if last_epoch_only and len(t):
        last = t.groupby(["dataset", "method", "seed"], sort=False)["epoch"].transform("max")
        t = t[t["epoch"] == last].reset_index(drop=True)
    w = t[wcols].to_numpy(dtype=np.float64)
    present = ~np.isnan(w)
    if (w[present] < 0).any():
        raise ValueError(f"negative level weights in the history: {w[present].min()}")
    total = np.nansum(w, axis=1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("a history row has level weights summing to 0")
    shares = w / total
    m = present.sum(axis=1)
    plogp = np.where(present & (shares > 0), shares * np.log(np.where(shares > 0, shares, 1.0)), 0.0)
    balance = np.where(m > 1, -plogp.sum(axis=1) / np.log(np.maximum(m, 2)), np.nan)
    out = t[["dataset", "method", "seed", "epoch", *wcols]].copy()
    for k, c in enumerate(wcols):
        out[f"share_{c[7:]}"] = shares[:, k]
    ranked = np.where(present, shares, -1.0)
    out["max_share"] = ranked.max(axis=1) if len(t) else np.array([])
    out["dominant_level"] = ranked.argmax(axis=1) if len(t) else np.array([], dtype=np.int64)
    out["balance"] = balance
    return out


def baseline_comparisons(results: pd.DataFrame, kind: str = "accuracy", protocol: str | None = None,
                         baselines: Sequence[str] = BASELINES) -> pd.DataFrame:
    """HCAL against each baseline, per dataset and metric, on each dataset's verdict protocol.

    ``kind="accuracy"``: every ``acc_<level>`` metric of hcal; ``kind="hvr"``: ``hvr``. For each
    dataset, metric and baseline with results: ``diff = mean_s hcal_s - mean_s baseline_s`` (seed
    means, each over its own seeds); ``n`` = seeds both have; with ``n >= MIN_SEEDS_FOR_TEST``,
    ``p`` = two-sided paired Wilcoxon signed-rank test of ``d_s = hcal_s - baseline_s`` over those
    seeds (``scipy.stats.wilcoxon``; all d_s = 0 gives p = 1), else NaN; ``p_holm`` = Holm's
    adjustment over the non-NaN p of the table (:func:`hmc.stats.holm`).

    Returns columns ``dataset, protocol, metric, baseline, hcal, other, diff, n, p, p_holm``
    (``hcal``, ``other``: the seed means); empty without hcal or a baseline on a common dataset.
    """
    if kind not in ("accuracy", "hvr"):
        raise ValueError(f"kind must be 'accuracy' or 'hvr', got {kind!r}")
    protocols = verdict_protocols(results, protocol)
    scores = _Scores(_selected(results, protocols))
    rows = []
    for dataset in scores.datasets:
        if not scores.has(dataset, "hcal"):
            continue
        metrics = scores.levels(dataset, "hcal") if kind == "accuracy" else \
            (["hvr"] if (dataset, "hcal", "hvr") in scores.by_seed else [])
        for metric in metrics:
            for base in baselines:
                if (dataset, base, metric) not in scores.by_seed:
                    continue
                h, o = scores.seeds(dataset, "hcal", metric), scores.seeds(dataset, base, metric)
                paired = h.index.intersection(o.index)
                d = (h[paired] - o[paired]).to_numpy()
                p = np.nan
                if len(d) >= MIN_SEEDS_FOR_TEST:
                    p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d).pvalue)
                rows.append({"dataset": dataset, "protocol": protocols[dataset], "metric": metric, "baseline": base,
                             "hcal": float(h.mean()), "other": float(o.mean()), "diff": float(h.mean() - o.mean()),
                             "n": len(d), "p": p})
    columns = ["dataset", "protocol", "metric", "baseline", "hcal", "other", "diff", "n", "p", "p_holm"]
    out = pd.DataFrame(rows, columns=columns[:-1])
    out["p_holm"] = holm(out["p"].to_numpy(dtype=np.float64)) if len(out) else np.array([])
    return out[columns]


# ------------------------------------------------------------------------------------- verdicts
def _graded(good: int, total: int) -> str:
    if good == total:
        return "reproduced"
    return "partly" if 2 * good >= total else "not reproduced"


def _seed_text(comps: pd.DataFrame) -> str:
    ns = sorted(set(int(n) for n in comps["n"]))
    span = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
    few = int((comps["n"] < MIN_SEEDS_FOR_TEST).sum())
    tested = len(comps) - few
    parts = [f"{span} paired seeds per comparison"]
    if tested:
        parts.append(f"two-sided paired Wilcoxon over seeds (scipy), Holm over the {tested} tested comparisons")
    if few:
        parts.append(f"{few} comparison(s) with fewer than {MIN_SEEDS_FOR_TEST} paired seeds: no significance "
                     "test is possible")
    return "; ".join(parts)


def _claim_vs_baselines(results, protocol, kind) -> tuple[str, str, str]:
    test = ("difference of seed means hcal - baseline per dataset" + (" and level" if kind == "accuracy" else "")
            + f"; with >= {MIN_SEEDS_FOR_TEST} paired seeds a two-sided paired Wilcoxon test over seeds (scipy), "
            "Holm over the claim's comparisons (reported, not part of the verdict)")
    methods = set(results["method"])
    if "hcal" not in methods:
        return "not tested here", "no hcal results", test
    if not methods & set(BASELINES):
        return "not tested here", f"no baseline results ({', '.join(BASELINES)})", test
    comps = baseline_comparisons(results, kind, protocol)
    if comps.empty:
        return "not tested here", "hcal and the baselines share no dataset" + \
            (" with level accuracies" if kind == "accuracy" else " with HVR"), test
    good = comps["diff"] > 0 if kind == "accuracy" else comps["diff"] < 0
    listing = []
    for (dataset, metric), g in comps.groupby(["dataset", "metric"], sort=False):
        items = [f"{r.baseline} {_fmt(r.diff)}" + (f" (p_holm {r.p_holm:.3g})" if np.isfinite(r.p_holm) else "")
                 for r in g.itertuples()]
        listing.append(f"{dataset} {metric}: " + ", ".join(items))
    sign = "> 0" if kind == "accuracy" else "< 0"
    protocols = dict(zip(comps["dataset"], comps["protocol"]))
    evidence = (f"{_protocol_text(protocols)}; {int(good.sum())} of {len(comps)} differences hcal - baseline "
                f"(seed means) are {sign}: " + "; ".join(listing) + f"; {_seed_text(comps)}")
    return _graded(int(good.sum()), len(comps)), evidence, test


def _weights_text(history: pd.DataFrame | None, datasets: list) -> str:
    if history is None or len(history) == 0:
        return "final-epoch level weights of hcal: no history given"
    wb = weight_balance(history, last_epoch_only=True)
    wb = wb[(wb["method"] == "hcal") & wb["dataset"].isin(datasets)]
    if wb.empty:
        return "final-epoch level weights of hcal: no hcal history"
    wcols = [c for c in wb.columns if re.fullmatch(r"weight_\d+", str(c))]
    parts = []
    for dataset, g in wb.groupby("dataset", sort=False):
        means = g[wcols].mean().dropna()
        shares = g[[f"share_{c[7:]}" for c in means.index]].mean()
        parts.append(f"{dataset}: " + "/".join(f"{v:.3f}" for v in means)
                     + f" (largest mean share {shares.max():.3f} at level {int(np.argmax(shares.to_numpy()))}, "
                     f"balance {g['balance'].mean():.3f}; {len(g)} seed(s))")
    return ("final-epoch level weights of hcal, level 0 (finest) first, mean over seeds; balance = normalised "
            "entropy of the shares, 1 = even: " + "; ".join(parts))


def _claim3(scores: _Scores, protocols: dict, history) -> tuple[str, str, str]:
    test = "seed means per level; per dataset min over levels and mean over levels, hcal vs hcal-equal"
    common = scores.common_levels("hcal", "hcal-equal")
    datasets = list(common)
    if not datasets:
        return "not tested here", "no dataset with the level accuracies of both hcal and hcal-equal", test
    worst_ok, mean_ok, listing = [], [], []
    for d, levels in common.items():
        h = {lv: scores.mean(d, "hcal", lv) for lv in levels}
        e = {lv: scores.mean(d, "hcal-equal", lv) for lv in levels}
        wh, we = min(h, key=h.get), min(e, key=e.get)
        mh, me = float(np.mean(list(h.values()))), float(np.mean(list(e.values())))
        worst_ok.append(h[wh] > e[we])
        mean_ok.append(mh >= me - MEAN_TIE_TOLERANCE)  # equal means may differ in the last bit
        listing.append(f"{d}: worst level hcal {wh} {h[wh]:.4f} vs hcal-equal {we} {e[we]:.4f}; mean over "
                       f"levels {mh:.4f} vs {me:.4f}")
    a, b = all(worst_ok), all(mean_ok)
    verdict = "reproduced" if a and b else "partly" if a or b else "not reproduced"
    evidence = (f"{_protocol_text({d: protocols[d] for d in datasets})}; (a) worst level higher with hcal on "
                f"{sum(worst_ok)} of {len(datasets)} datasets ({'holds' if a else 'fails'}); (b) mean over levels "
                f"not lower on {sum(mean_ok)} of {len(datasets)} ({'holds' if b else 'fails'}): "
                + "; ".join(listing) + "; " + _weights_text(history, datasets))
    return verdict, evidence, test


def _claim4(scores: _Scores, protocols: dict) -> tuple[str, str, str]:
    test = "seed means of the clean test accuracy per level, hcal - hcal-noperturb"
    common = scores.common_levels("hcal", "hcal-noperturb")
    datasets = list(common)
    if not datasets:
        return "not tested here", "no dataset with the level accuracies of both hcal and hcal-noperturb", test
    higher, means, listing = [], [], []
    for d, levels in common.items():
        diffs = {lv: scores.mean(d, "hcal", lv) - scores.mean(d, "hcal-noperturb", lv) for lv in levels}
        higher += [v > 0 for v in diffs.values()]
        means.append(float(np.mean(list(diffs.values()))))  # mean over levels of the differences
        listing.append(f"{d}: " + ", ".join(f"{lv} {_fmt(v)}" for lv, v in diffs.items()))
    grand = float(np.mean(means))
    verdict = "reproduced" if all(higher) else "partly" if grand > 0 else "not reproduced"
    evidence = (f"{_protocol_text({d: protocols[d] for d in datasets})}; hcal - hcal-noperturb, higher at "
                f"{sum(higher)} of {len(higher)} (dataset, level) pairs; mean over datasets of the mean over levels "
                f"{_fmt(grand)}: " + "; ".join(listing)
                + "; robustness to input corruption is not measured here, only clean test accuracy")
    return verdict, evidence, test


def _claim5(scores: _Scores, protocols: dict) -> tuple[str, str, str]:
    test = "seed means of the HVR per dataset, hcal - hcal-noagg"
    datasets = [d for d in scores.datasets
                if (d, "hcal", "hvr") in scores.by_seed and (d, "hcal-noagg", "hvr") in scores.by_seed]
    if not datasets:
        return "not tested here", "no dataset with the HVR of both hcal and hcal-noagg", test
    diffs = {d: scores.mean(d, "hcal", "hvr") - scores.mean(d, "hcal-noagg", "hvr") for d in datasets}
    lower = sum(v < 0 for v in diffs.values())
    grand = float(np.mean(list(diffs.values())))
    verdict = "reproduced" if lower == len(diffs) else "partly" if grand < 0 else "not reproduced"
    evidence = (f"{_protocol_text({d: protocols[d] for d in datasets})}; HVR hcal - hcal-noagg lower on {lower} of "
                f"{len(diffs)} datasets, mean over datasets {_fmt(grand)}: "
                + ", ".join(f"{d} {_fmt(v)} ({scores.mean(d, 'hcal', 'hvr'):.4f} vs "
                            f"{scores.mean(d, 'hcal-noagg', 'hvr'):.4f})" for d, v in diffs.items()))
    return verdict, evidence, test


def hcal_scorecard(results: pd.DataFrame, history: pd.DataFrame | None = None,
                   protocol: str | None = None) -> pd.DataFrame:
    """The claims scorecard of HCAL: one row per claim of :data:`HCAL_CLAIMS`.

    Args:
        results: tidy results of :func:`hmc.runs.image_sweep.run_image_sweep` (columns ``dataset, method,
            seed, protocol, metric, value`` at least).
        history: the sweep's history table (``dataset, method, seed, epoch, split, weight_<k>``) for
            claim 3's level weights; None leaves them out of the evidence.
        protocol: None (per dataset ``"validation"`` when every run has it, else ``"last"``), or
            ``"validation"`` / ``"last"`` everywhere; ``"authors"`` raises ValueError
            (:func:`verdict_protocols`).

    Returns:
        Columns :data:`SCORECARD_COLUMNS`; verdicts in :data:`VERDICTS` by the rules of
        :data:`HCAL_VERDICT_RULES` under :data:`HCAL_CONVENTIONS`.
    """
    protocols = verdict_protocols(results, protocol)
    scores = _Scores(_selected(results, protocols))
    outcomes = {
        1: _claim_vs_baselines(results, protocol, "accuracy"),
        2: _claim_vs_baselines(results, protocol, "hvr"),
        3: _claim3(scores, protocols, history),
        4: _claim4(scores, protocols),
        5: _claim5(scores, protocols),
    }
    rows = [{"claim": k, "statement": HCAL_CLAIMS[k], "evidence": evidence, "test": test,
             "rule": HCAL_VERDICT_RULES[k], "verdict": verdict}
            for k, (verdict, evidence, test) in outcomes.items()]
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


if __doc__:  # None under python -OO
    __doc__ += ("\nConventions of every rule\n-------------------------\n"
                + "\n".join(f"- {text}" for text in HCAL_CONVENTIONS)
                + "\n\nVerdict rules\n-------------\n"
                + "\n".join(f"- Claim {k}. {rule}" for k, rule in HCAL_VERDICT_RULES.items()) + "\n")
