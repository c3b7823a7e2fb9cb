"""The claims scorecard of the rare-node study: one verdict per claim, built from the chapters' results.

Xu et al. 2026 (bib key ``xu2026rarenodes``) make six claims (``specs/rare_nodes.md``, "Claims"). This
module reads the tidy results tables of chapters 03 to 05 of one profile (``results/<profile>/``, the
files in :data:`CHAPTER_FILES`) and returns one row per claim: the claim, the evidence (the numbers,
with the methods and datasets they come from), the test used, the rule and the verdict, one of
:data:`VERDICTS`. A table that is missing, or that lacks the methods or metrics a claim needs, gives
"not tested here" with the reason; claim 6 (convolutional encoders on images) is never tested by
these chapters and points to the image chapters.

The numbers are computed with the functions chapter 03 shows them with (:mod:`hmc.rare_evidence`:
ratios of seed means per frequency bucket, paired Wilcoxon tests with Holm's correction, Friedman
ranks), so the scorecard and the chapters cannot disagree. Method names are parsed with
:func:`hmc.rare_nodes.rare_config`, so any H, reduction or weight target a chapter chose is found.

The rules (:data:`RULE_CONVENTIONS` and :data:`VERDICT_RULES`, listed at the end of this docstring) are
fixed here, before any number is seen, and chapter 05 shows them next to the scorecard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from hmc.rare_evidence import F1, RARE_BUCKETS, friedman_over_datasets, recall_gains, wilcoxon_per_dataset
from hmc.rare_nodes import RareNodeConfig, method_name, rare_config

__all__ = [
    "CHAPTER_FILES",
    "CLAIMS",
    "RULE_CONVENTIONS",
    "VERDICTS",
    "VERDICT_RULES",
    "SCORECARD_COLUMNS",
    "read_chapter_tables",
    "scorecard",
    "scorecard_from_results",
    "verdict",
]

CHAPTER_FILES: dict[str, str] = {
    "03": "03_rare_node_loss.csv",
    "04": "04_ensembles_and_dropout.csv",
    "04_cost": "04_ensembles_and_dropout_cost.csv",
    "05": "05_schedules_and_resampling.csv",
}
"""Key -> file name under ``results/<profile>/``: the three chapters' results and chapter 04's cost table."""

VERDICTS = ("reproduced", "partly", "not reproduced", "not tested here")

CLAIMS: dict[int, str] = {
    1: "Imbalance + focal weighting raises rare-node recall up to 5x and gives significant F1 gains over "
       "the unweighted baseline.",
    2: "Focal weighting with BMA or GMU beats the other uncertainty measures and plain imbalance weighting; "
       "gains grow with the ensemble size.",
    3: "A scheduler from the weighted to the unweighted loss does not recover the lost precision; a mixed "
       "loss gives the best overall F1 on most datasets.",
    4: "MC-dropout instead of a deep ensemble cuts training time by ~68% and memory by ~66%, for ~6% lower F1.",
    5: "Weighted loss + LPROS is best on almost all gene-product datasets (worse on the vision dataset).",
    6: "The loss helps convolutional networks when the encoder is suboptimal or the data are limited.",
}
"""The paper's claims, as the spec lists them."""

ALPHA = 0.05
RECALL_FACTOR = 4.5
"""Claim 1: the claimed factor of five, rounded (a largest gain of at least 4.5 counts as five)."""
TOLERANCE = 0.10
"""Claim 4: slack, in percentage points, on the unfavourable side of each claimed percentage."""
CLAIMED_TIME_CUT, CLAIMED_MEMORY_CUT, CLAIMED_F1_DROP = 0.68, 0.66, 0.06
ALMOST_ALL = 0.75
"""Claim 5: the share of gene-product datasets that "almost all" needs."""

RULE_CONVENTIONS: tuple[str, ...] = (
    "**F1** is macro_f1 (macro F1 at threshold 0.5 over all evaluated nodes, the paper's average); **precision** "
    "macro_precision; a method's score on a dataset is the mean over its seeds.",
    "**Rare buckets** are the training-frequency buckets 1-5 and 6-20 (positive train + valid rows; "
    "hmc.rare_evidence.RARE_BUCKETS). A **recall gain** is the ratio of a method's seed-mean recall in a bucket "
    "to its baseline's; where the baseline's is 0 the gain is infinite and is not counted as a finite gain.",
    "**Significant** means a paired two-sided Wilcoxon signed-rank test over the seeds of one dataset, "
    "Holm-adjusted over the family the rule names, with p_holm < 0.05 and a positive mean difference. A dataset "
    "counts for a significance rule only where the design could reach it: with n paired seeds and m methods in the "
    "Holm family the smallest adjusted p is m * 2 / 2^n; where that is not below 0.05 the dataset is not testable "
    "(3 seeds: never), and with no testable dataset the significance part is not evaluated.",
    "**Most datasets** means more than half of them; **almost all** at least three quarters.",
    "The **baseline** of a focal method is the plain (unweighted) ensemble of the same H and reduction "
    "(e.g. baseline-H2), else the single plain network (baseline).",
    "A claim with parts (a), (b), ... is **reproduced** when every part was evaluated and holds, **partly** when at "
    "least one part holds but not all (or some could not be evaluated), **not reproduced** when no evaluated part "
    "holds, and **not tested here** when no part could be evaluated (a missing results file, method or metric). "
    "Claim 5 has its own graded rule.",
)
"""The conventions every verdict rule uses (shown in chapter 05; appended to this module's docstring)."""

VERDICT_RULES: dict[int, str] = {
    1: "(a) the largest finite recall gain of a focal method (imbalance + focal weighting, any measure, "
       "deep ensemble) over its baseline, over the rare buckets (1-5, 6-20 training positives) and the "
       f"datasets of chapter 03, is at least {RECALL_FACTOR} (five, rounded); (b) some focal method has a "
       "significant macro-F1 gain over its baseline (Wilcoxon over seeds, Holm over the focal methods of "
       "the dataset) on at least half of the testable datasets. Reproduced: (a) and (b); partly: one of them.",
    2: "(a) among the focal methods of chapter 03 of one H, bma or gmu has the best Friedman average rank "
       "on macro F1 over the datasets (strictly better than every other measure); (b) the better of "
       "focal-bma and focal-gmu has a higher macro F1 than plain imbalance weighting (weights on the "
       "negatives, same H) on most datasets; (c) chapter 04 (else 03): the F1 gain of focal-bma/gmu over "
       "the baseline of the same H, averaged over bma, gmu and the datasets run at both, is larger at the "
       "largest H than at the smallest. Reproduced: all three; partly: one or two.",
    3: "Chapter 05, one network per seed. (a) On most datasets the best per-epoch scheduler (sched-lin/exp/"
       "alt, the reference's; the global ones if no per-epoch one was run) has a lower macro precision "
       "than the unweighted baseline; (b) on most datasets the highest macro F1 among the non-LPROS "
       "methods (baseline, imbalance weighting, schedulers, mixed losses) is a mixed loss's. "
       "Reproduced: both; partly: one.",
    4: "Chapter 04, each (dataset, measure, H) run both as a deep ensemble (focal-<m>-H<n>) and with "
       "MC-dropout (mcdropout-<m>-H<n>); per H, medians over those pairs of (a) the training time cut "
       "1 - ms_per_step(MC) / ms_per_step(ensemble), at least "
       f"{CLAIMED_TIME_CUT - TOLERANCE:.0%} (68% less 10 points); (b) the memory cut from the allocator "
       f"peak (else the peak RSS increase), at least {CLAIMED_MEMORY_CUT - TOLERANCE:.0%}; (c) the relative "
       f"macro-F1 drop 1 - F1(MC) / F1(ensemble), at most {CLAIMED_F1_DROP + TOLERANCE:.0%} (6% plus 10 "
       "points). A larger saving or a smaller drop counts (the claim is a saving). The paper does not say "
       "at which H, so the verdict is that of the H where most parts hold (ties: the smaller H). "
       "Reproduced: all three; partly: one or two.",
    5: "Chapter 05, gene-product (FunCat and GO) datasets only. Reproduced: LPROS + weighted loss has the "
       f"highest macro F1 of all chapter-05 methods on at least {ALMOST_ALL:.0%} of them; partly: otherwise, "
       "if it beats both the baseline and the same weighted loss without LPROS on most of them; not "
       "reproduced: neither. The vision half of the claim is the image chapters'.",
    6: "Not tested by chapters 03-05: the convolutional-encoder stress tests (suboptimal encoder, limited "
       "data) are the image chapters'.",
}
"""Claim -> its verdict rule, in words (shown in chapter 05; appended to this module's docstring)."""

SCORECARD_COLUMNS = ("claim", "statement", "verdict", "evidence", "test", "rule", "sources")


class Part(NamedTuple):
    """One evaluated part of a claim: ``holds`` is None when it could not be evaluated (``evidence`` says why)."""

    name: str
    holds: bool | None
    evidence: str


def verdict(parts: list[Part]) -> str:
    """The general verdict of a claim's parts (module docstring, "Conventions")."""
    evaluated = [p.holds for p in parts if p.holds is not None]
    if not evaluated:
        return "not tested here"
    if len(evaluated) == len(parts) and all(evaluated):
        return "reproduced"
    if any(evaluated):
        return "partly"
    return "not reproduced"


# ------------------------------------------------------------------------------------- reading
def read_chapter_tables(results_dir: str | Path, profile: str) -> dict[str, pd.DataFrame | None]:
    """The tables of :data:`CHAPTER_FILES` under ``results_dir/profile`` (None for a missing or empty file)."""
    out: dict[str, pd.DataFrame | None] = {}
    for key, name in CHAPTER_FILES.items():
        path = Path(results_dir) / profile / name
        out[key] = pd.read_csv(path) if path.is_file() and path.stat().st_size > 0 else None
    return out


def _config(name: str) -> RareNodeConfig | None:
    """The configuration behind a method name; C-HMCNN itself is ``baseline-mean``; None if not a rare-node name."""
    if name == "chmcnn":
        return rare_config("baseline-mean")
    try:
        return rare_config(name)
    except ValueError:
        return None


def _configs(table: pd.DataFrame) -> dict[str, RareNodeConfig]:
    return {m: c for m in pd.unique(table.method) if (c := _config(str(m))) is not None}


def _seed_means(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """(dataset x method) seed means of ``metric``."""
    t = table[table.metric == metric]
    return t.groupby(["dataset", "method"], sort=False)["value"].mean().unstack("method")


def _name(config: RareNodeConfig) -> str | None:
    try:
        return method_name(config)
    except ValueError:
        return None


def _baseline_of(config: RareNodeConfig, present: set[str]) -> str | None:
    """The unweighted baseline of a configuration: the plain ensemble of its H and reduction, else H = 1."""
    for h in (config.n_members, 1):
        name = _name(RareNodeConfig(loss="plain", n_members=h, reduction=config.reduction))
        if name in present:
            return name
    if config.reduction == "mean" and "chmcnn" in present:
        return "chmcnn"
    return None


def _is_focal(c: RareNodeConfig) -> bool:
    """Imbalance + focal weighting with a deep ensemble and no LPROS: the paper's method (claims 1, 2)."""
    return c.loss == "focal" and c.weighted and c.members == "ensemble" and not c.lpros


def _short(measure: str) -> str:
    from hmc.rare_nodes import MEASURE_SHORT

    return MEASURE_SHORT[measure]


def _fmt(x: float, spec: str = ".3f") -> str:
    return "inf" if np.isinf(x) else "nan" if np.isnan(x) else format(x, spec)


def _missing(key: str, where: str) -> str:
    return f"{where}/{CHAPTER_FILES[key]} not found (run the chapter's notebook with this profile)"


# ------------------------------------------------------------------------------------- claim 1
def _claim1(t03: pd.DataFrame | None, where: str, alpha: float) -> tuple[list[Part], str]:
    test = ("recall gain = ratio of seed-mean recalls per bucket (hmc.rare_evidence.recall_gains); paired "
            "two-sided Wilcoxon over seeds per dataset on macro F1, Holm over the focal methods "
            "(hmc.rare_evidence.wilcoxon_per_dataset)")
    if t03 is None:
        return [Part("recall", None, _missing("03", where)), Part("F1", None, "")], test
    configs = _configs(t03)
    present = set(configs)
    focal = {m: c for m, c in configs.items() if _is_focal(c)}
    by_base: dict[str, list[str]] = {}
    for m, c in focal.items():
        base = _baseline_of(c, present)
        if base is not None:
            by_base.setdefault(base, []).append(m)
    if not by_base:
        why = "chapter 03 has no focal method" + (" with an unweighted baseline" if focal else "")
        return [Part("recall", None, why), Part("F1", None, "")], test

    # (a) largest finite rare-bucket recall gain
    gains = pd.concat([recall_gains(t03, base, ms, key="freq") for base, ms in by_base.items()], ignore_index=True)
    gains = gains.assign(gain=gains.gain.astype(float))
    rare = gains[gains.group.isin(RARE_BUCKETS)]
    finite = rare[np.isfinite(rare.gain)]
    n_inf = int(np.isinf(rare.gain).sum())
    if rare.empty:
        part_a = Part("recall", None, f"chapter 03 has no recall@freq rows for buckets {', '.join(RARE_BUCKETS)}")
    elif finite.empty:
        part_a = Part("recall", None, f"no finite recall gain in buckets {', '.join(RARE_BUCKETS)}: {n_inf} "
                      f"infinite (baseline recall 0), {int(rare.gain.isna().sum())} undefined (0 / 0)")
    else:
        top = finite.loc[finite.gain.idxmax()]
        part_a = Part("recall", bool(top.gain >= RECALL_FACTOR),
                      f"largest finite rare-bucket recall gain {top.gain:.2f}x ({top.method} on {top.dataset}, "
                      f"bucket {top.group}: {top.value:.4f} vs {top.baseline_value:.4f}; over {len(finite)} "
                      f"(dataset, method, bucket) gains; {n_inf} infinite not counted)")

    # (b) significant F1 gains on at least half of the testable datasets
    tests = pd.concat([wilcoxon_per_dataset(t03, F1, base, ms) for base, ms in by_base.items()], ignore_index=True)
    if tests.empty:
        return [part_a, Part("F1", None, f"no {F1} rows in chapter 03")], test
    family = tests.groupby(["dataset", "baseline"]).method.transform("size")
    tests = tests.assign(testable=family * 2.0 / 2.0 ** tests.n.astype(float) < alpha,
                         significant=(tests.p_holm < alpha) & (tests.mean_diff > 0))
    testable = tests[tests.testable]
    if testable.empty:
        n = int(tests.n.max())
        part_b = Part("F1", None, f"significance not testable: {n} paired seeds and up to {int(family.max())} "
                      f"focal methods per Holm family (smallest adjusted p {min(1.0, family.max() * 2 / 2 ** n):.3g})")
    else:
        counts = testable.groupby("method").agg(sig=("significant", "sum"), n=("dataset", "nunique"))
        counts = counts.assign(share=counts.sig / counts.n).sort_values(["share", "sig"], ascending=False)
        best, row = counts.index[0], counts.iloc[0]
        up = int((tests[tests.method == best].mean_diff > 0).sum())
        part_b = Part("F1", bool(2 * row.sig >= row.n),
                      f"{best}: significant macro-F1 gain on {int(row.sig)} of {int(row.n)} testable datasets "
                      f"(higher mean on {up}); the best of {len(counts)} focal method{'s' * (len(counts) > 1)}")
    return [part_a, part_b], test


# ------------------------------------------------------------------------------------- claim 2
def _focal_blocks(table: pd.DataFrame) -> dict[RareNodeConfig, dict[str, str]]:
    """Focal methods grouped by their settings other than the measure: key config -> measure -> method."""
    out: dict[RareNodeConfig, dict[str, str]] = {}
    for m, c in _configs(table).items():
        if _is_focal(c):
            key = dataclasses.replace(c, measure="bbma")
            out.setdefault(key, {})[_short(c.measure)] = m
    return out


def _claim2(t03: pd.DataFrame | None, t04: pd.DataFrame | None, where: str, alpha: float) -> tuple[list[Part], str]:
    test = ("Friedman average ranks of the measures on per-dataset mean macro F1 "
            "(hmc.rare_evidence.friedman_over_datasets); counts of datasets; mean F1 gains per H")
    if t03 is None:
        part_a = Part("measures", None, _missing("03", where))
        part_b = Part("vs imbalance", None, "")
    else:
        blocks = _focal_blocks(t03)
        # the settings group with the most measures (ties: the smallest H)
        candidates = [(k, v) for k, v in blocks.items() if {"bma", "gmu"} & set(v) and len(v) >= 2]
        if not candidates:
            part_a = Part("measures", None, "chapter 03 has no focal bma or gmu method next to another measure")
            part_b = Part("vs imbalance", None, "no focal bma/gmu method in chapter 03")
        else:
            key, measures = max(candidates, key=lambda kv: (len(kv[1]), -kv[0].n_members))
            result, matrix = friedman_over_datasets(t03, F1, list(measures.values()), alpha)
            if result is None:
                part_a = Part("measures", None, f"too small for ranks: {matrix.shape[0]} dataset(s) x "
                              f"{matrix.shape[1]} measures (at least 2 x 3)")
            else:
                ranks = result.avg_ranks
                ours = [measures[m] for m in ("bma", "gmu") if m in measures]
                rest = [m for m in ranks.index if m not in ours]
                listing = ", ".join(f"{m} {r:.2f}" for m, r in ranks.sort_values().items())
                part_a = Part("measures", bool(ranks[ours].min() < ranks[rest].min()),
                              f"average ranks over {result.n_blocks} datasets (1 = best): {listing} "
                              f"(Friedman p {result.pvalue:.3g})")
            imb = _name(RareNodeConfig(loss="imbalance", weight_kind=key.weight_kind, n_members=key.n_members,
                                       reduction=key.reduction))
            imb = imb if imb in set(t03.method) else ("imbalance-neg" if "imbalance-neg" in set(t03.method) else None)
            ours = [measures[m] for m in ("bma", "gmu") if m in measures]
            if imb is None:
                part_b = Part("vs imbalance", None, "chapter 03 has no plain imbalance weighting on the negatives")
            else:
                f1 = _seed_means(t03, F1).reindex(columns=[*ours, imb]).dropna()
                if f1.empty:
                    part_b = Part("vs imbalance", None, f"no dataset with both {imb} and focal bma/gmu")
                else:
                    wins = int((f1[ours].max(axis=1) > f1[imb]).sum())
                    diff = float((f1[ours].max(axis=1) - f1[imb]).mean())
                    part_b = Part("vs imbalance", bool(2 * wins > len(f1)),
                                  f"better of {'/'.join(ours)} above {imb} on {wins} of {len(f1)} datasets "
                                  f"(mean difference {diff:+.4f})")

    # (c) gains grow with H
    part_c = None
    for source, t in (("04", t04), ("03", t03)):
        if t is None:
            continue
        configs = _configs(t)
        present = set(configs)
        f1 = _seed_means(t, F1)
        per_measure = []
        for short in ("bma", "gmu"):
            ms = {c.n_members: m for m, c in configs.items() if _is_focal(c) and _short(c.measure) == short
                  and c.weight_target == "negatives" and c.weight_kind == "classwise" and c.exponent == 2}
            if len(ms) < 2:
                continue
            lo, hi = min(ms), max(ms)
            base_lo, base_hi = _baseline_of(configs[ms[lo]], present), _baseline_of(configs[ms[hi]], present)
            if base_lo is None or base_hi is None:
                continue
            d = f1.reindex(columns=list(dict.fromkeys([ms[lo], ms[hi], base_lo, base_hi]))).dropna()
            if d.empty:
                continue
            g_lo, g_hi = (d[ms[lo]] - d[base_lo]).mean(), (d[ms[hi]] - d[base_hi]).mean()
            per_measure.append((short, lo, hi, float(g_lo), float(g_hi), len(d)))
        if per_measure:
            delta = float(np.mean([g_hi - g_lo for _, _, _, g_lo, g_hi, _ in per_measure]))
            detail = "; ".join(f"{s}: gain {g_lo:+.4f} at H={lo}, {g_hi:+.4f} at H={hi} ({n} dataset{'s' * (n > 1)})"
                               for s, lo, hi, g_lo, g_hi, n in per_measure)
            part_c = Part("H", bool(delta > 0), f"chapter {source}: {detail}")
            break
    if part_c is None:
        part_c = Part("H", None, "no focal bma/gmu method at two ensemble sizes with baselines "
                      f"({'chapter 04 missing' if t04 is None else 'in chapters 04 and 03'})")
    return [part_a, part_b, part_c], test


# ------------------------------------------------------------------------------------- claim 3
def _single_networks(table: pd.DataFrame) -> dict[str, RareNodeConfig]:
    return {m: c for m, c in _configs(table).items() if not c.lpros and c.loss in ("plain", "imbalance")}


def _plain_baseline(configs: Mapping[str, RareNodeConfig]) -> str | None:
    plain = sorted((c.n_members, c.reduction != "sum", m) for m, c in configs.items()
                   if c.loss == "plain" and not c.lpros and c.members == "ensemble")
    return plain[0][2] if plain else None


def _claim3(t05: pd.DataFrame | None, where: str) -> tuple[list[Part], str]:
    test = "per-dataset seed means of macro precision and macro F1; counts of datasets"
    if t05 is None:
        return [Part("precision", None, _missing("05", where)), Part("mixed", None, "")], test
    configs = _single_networks(t05)
    base = _plain_baseline(configs)
    scheds = {m: c for m, c in configs.items() if c.schedule is not None}
    per_epoch = {m: c for m, c in scheds.items() if not c.schedule.startswith("global-")}
    chosen = per_epoch or scheds
    if base is None or not chosen:
        part_a = Part("precision", None, "chapter 05 has no " + ("baseline" if base is None else "scheduler"))
    else:
        prec = _seed_means(t05, "macro_precision").reindex(columns=[base, *chosen]).dropna()
        if prec.empty:
            part_a = Part("precision", None, "no dataset with the baseline and every scheduler")
        else:
            best = prec[list(chosen)].max(axis=1)
            below = int((best < prec[base]).sum())
            imb = next((m for m, c in configs.items() if c.loss == "imbalance" and c.schedule is None
                        and c.mixed_lambda is None and c.weight_target == "negatives"), None)
            extra = ""
            p = _seed_means(t05, "macro_precision")
            if imb is not None and imb in p.columns:
                extra = f"; mean precision: {base} {p[base].mean():.4f}, {imb} {p[imb].mean():.4f}, " \
                        f"best scheduler {best.mean():.4f}"
            kind = "per-epoch" if per_epoch else "global"
            part_a = Part("precision", bool(2 * below > len(prec)),
                          f"best {kind} scheduler below the baseline's macro precision on {below} of {len(prec)} "
                          f"datasets{extra}")
    mixed = [m for m, c in configs.items() if c.mixed_lambda is not None]
    if not mixed or len(configs) < 2:
        part_b = Part("mixed", None, "chapter 05 has no mixed loss" if not mixed else "no method to compare with")
    else:
        f1 = _seed_means(t05, F1).reindex(columns=list(configs)).dropna(how="all")
        winners = f1.idxmax(axis=1)
        wins = int(winners.isin(mixed).sum())
        listing = ", ".join(f"{d}: {w}" for d, w in winners.items())
        part_b = Part("mixed", bool(2 * wins > len(f1)),
                      f"a mixed loss has the best macro F1 of {len(configs)} non-LPROS methods on {wins} of "
                      f"{len(f1)} datasets (best per dataset: {listing})")
    return [part_a, part_b], test


# ------------------------------------------------------------------------------------- claim 4
TIME_COLUMN = "ms_per_step"
MEMORY_COLUMNS = ("peak_alloc_bytes", "peak_alloc_mib", "peak_rss_bytes", "peak_rss_mib")
"""Memory columns of a cost table, in order of preference (the allocator peak first; units cancel in a ratio)."""


def _mc_pairs(methods) -> dict[str, str]:
    """MC-dropout focal method -> the deep ensemble of the same configuration, for the names in ``methods``."""
    present = set(methods)
    out = {}
    for m in present:
        c = _config(str(m))
        if c is not None and c.members == "mc_dropout" and c.loss == "focal":
            ens = _name(dataclasses.replace(c, members="ensemble"))
            if ens in present:
                out[m] = ens
    return out


def _claim4(t04: pd.DataFrame | None, cost: pd.DataFrame | None, where: str) -> tuple[list[Part], str]:
    test = ("per H, medians over datasets (and measures) of the cut 1 - MC / ensemble (time: median ms per step "
            "over interleaved blocks, same run and device; memory: allocator peak) and of the relative "
            "macro-F1 drop 1 - F1(MC) / F1(ensemble) of the seed means; the H where most parts hold is reported")
    per_h: dict[int, dict[str, list[float]]] = {}

    def add(h, what, value):
        if np.isfinite(value):
            per_h.setdefault(h, {}).setdefault(what, []).append(float(value))

    cost_reason = mem_col = None
    if cost is None:
        cost_reason = _missing("04_cost", where)
    elif "method" not in cost.columns or TIME_COLUMN not in cost.columns:
        cost_reason = f"the cost table lacks 'method' or '{TIME_COLUMN}'"
    else:
        mem_col = next((c for c in MEMORY_COLUMNS if c in cost.columns and cost[c].notna().any()), None)
        groups = cost.groupby("dataset", sort=False) if "dataset" in cost.columns else [(None, cost)]
        for _, d in groups:
            values = d.groupby("method")[[TIME_COLUMN, *([mem_col] if mem_col else [])]].median()
            for mc, ens in _mc_pairs(values.index).items():
                h = rare_config(mc).n_members
                add(h, "time", 1 - values.loc[mc, TIME_COLUMN] / values.loc[ens, TIME_COLUMN])
                if mem_col:
                    add(h, "memory", 1 - values.loc[mc, mem_col] / values.loc[ens, mem_col])
        if not per_h:
            cost_reason = "the cost table has no (deep ensemble, MC-dropout) pair of one configuration"
    f1_reason = None
    if t04 is None:
        f1_reason = _missing("04", where)
    else:
        f1 = _seed_means(t04, F1)
        pairs = _mc_pairs(f1.columns)
        for mc, ens in pairs.items():
            d = f1[[ens, mc]].dropna()
            d = d[d[ens] > 0]
            for drop in 1 - d[mc] / d[ens]:
                add(rare_config(mc).n_members, "F1", drop)
        if not pairs:
            f1_reason = "chapter 04 has no (deep ensemble, MC-dropout) pair with macro F1"

    def parts_at(h):
        got = per_h.get(h, {})
        out = []
        for what, claimed, ok, label in (
            ("time", CLAIMED_TIME_CUT, lambda x: x >= CLAIMED_TIME_CUT - TOLERANCE, "training time cut {:.0%}".format),
            ("memory", CLAIMED_MEMORY_CUT, lambda x: x >= CLAIMED_MEMORY_CUT - TOLERANCE, "memory cut {:.0%}".format),
            ("F1", CLAIMED_F1_DROP, lambda x: x <= CLAIMED_F1_DROP + TOLERANCE,
             lambda x: f"relative macro-F1 drop {x:.1%}" if x >= 0 else f"no macro-F1 drop: MC-dropout's is {-x:.1%} higher"),
        ):
            if what in got:
                x = float(np.median(got[what]))
                src = f"{mem_col}, " if what == "memory" else ""
                out.append(Part(what, bool(ok(x)), f"{label(x)} at H={h} ({src}median of {len(got[what])}; "
                                f"claimed ~{claimed:.0%})"))
            else:
                reason = {"time": cost_reason, "memory": cost_reason if cost_reason else
                          "no memory column in the cost table", "F1": f1_reason}[what]
                out.append(Part(what, None, reason or f"no {what} pair at H={h}"))
        return out

    if not per_h:
        return [Part("time", None, cost_reason or ""), Part("memory", None, ""),
                Part("F1", None, f1_reason or "")], test
    ranked = sorted(per_h, key=lambda h: (-sum(bool(p.holds) for p in parts_at(h)),
                                          -sum(p.holds is not None for p in parts_at(h)), h))
    parts = parts_at(ranked[0])
    if len(per_h) > 1:
        others = "; ".join(f"H={h}: " + ", ".join(f"{w} {np.median(v):.0%}" for w, v in per_h[h].items())
                           for h in sorted(per_h) if h != ranked[0])
        parts[-1] = parts[-1]._replace(evidence=f"{parts[-1].evidence}; other sizes: {others}")
    return parts, test


# ------------------------------------------------------------------------------------- claim 5
def _is_gene(dataset: str) -> bool:
    return dataset.endswith(("_FUN", "_GO"))


def _claim5(t05: pd.DataFrame | None, where: str) -> tuple[str, str, str]:
    test = "per-dataset seed means of macro F1; counts of gene-product datasets"
    if t05 is None:
        return "not tested here", _missing("05", where), test
    configs = _configs(t05)
    target = [m for m, c in configs.items() if c.lpros and c.has_weights]
    genes = [d for d in pd.unique(t05.dataset) if _is_gene(str(d))]
    if not target:
        return "not tested here", "chapter 05 has no LPROS + weighted-loss method", test
    if not genes:
        return "not tested here", "no gene-product (FunCat or GO) dataset in chapter 05's results", test
    f1 = _seed_means(t05, F1).reindex(index=genes, columns=list(configs))
    best = f1.idxmax(axis=1)
    wins = int(best.isin(target).sum())
    base = _plain_baseline(configs)
    beats = 0
    for d in genes:
        row = f1.loc[d]
        top = row[target].max()
        refs = [base] + [_name(dataclasses.replace(configs[m], lpros=False)) for m in target]
        refs = [r for r in refs if r in row.index and pd.notna(row[r])]
        if refs and top > row[refs].max():
            beats += 1
    evidence = (f"{'/'.join(target)} has the best macro F1 of {len(configs)} methods on {wins} of {len(genes)} "
                f"gene-product datasets, and beats the baseline and its weighted loss without LPROS on {beats}; "
                "the vision half is tested in the image chapters")
    if wins >= ALMOST_ALL * len(genes):
        return "reproduced", evidence, test
    if 2 * beats > len(genes):
        return "partly", evidence, test
    return "not reproduced", evidence, test


# ------------------------------------------------------------------------------------- the table
def scorecard(tables: Mapping[str, pd.DataFrame | None], where: str = "results/<profile>",
              alpha: float = ALPHA) -> pd.DataFrame:
    """The scorecard from the chapters' tables (keys of :data:`CHAPTER_FILES`; a missing key counts as absent).

    Args:
        tables: key -> tidy results DataFrame (``dataset, method, seed, metric, value``, as
            :func:`hmc.runs.sweep.run_sweep` writes) or None; ``"04_cost"`` is chapter 04's cost table (one row per
            method, and per dataset when it has a ``dataset`` column, with ``ms_per_step`` and
            ``peak_alloc_bytes`` or ``peak_rss_bytes``, the columns of :data:`hmc.memory.COST_COLUMNS`).
        where: the folder named in "not found" reasons.
        alpha: significance level.

    Returns:
        One row per claim (1-6), columns :data:`SCORECARD_COLUMNS`.
    """
    def get(key):
        t = tables.get(key)
        return None if t is None or len(t) == 0 else t

    t03, t04, cost, t05 = get("03"), get("04"), get("04_cost"), get("05")
    rows = []

    def add(claim, verdict_, evidence, test, sources):
        rows.append({"claim": claim, "statement": CLAIMS[claim], "verdict": verdict_, "evidence": evidence,
                     "test": test, "rule": VERDICT_RULES[claim],
                     "sources": ", ".join(CHAPTER_FILES[s] for s in sources) if sources else "-"})

    def from_parts(claim, parts_test, sources):
        parts, test = parts_test
        evidence = "; ".join(f"({chr(97 + i)}) {'holds' if p.holds else 'fails' if p.holds is not None else 'n/a'}: "
                             f"{p.evidence}" for i, p in enumerate(parts) if p.evidence)
        add(claim, verdict(parts), evidence, test, sources)

    from_parts(1, _claim1(t03, where, alpha), ["03"])
    from_parts(2, _claim2(t03, t04, where, alpha), ["03", "04"])
    from_parts(3, _claim3(t05, where), ["05"])
    from_parts(4, _claim4(t04, cost, where), ["04", "04_cost"])
    add(5, *_claim5(t05, where), ["05"])
    add(6, "not tested here", "not tested in chapters 03-05: see the image chapters (CNN encoders: degraded "
        "pretrained weights, limited training data)", "-", [])
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def scorecard_from_results(results_dir: str | Path = "results", profile: str = "quick",
                           alpha: float = ALPHA) -> pd.DataFrame:
    """:func:`scorecard` of the chapters' tables under ``results_dir/profile`` (:func:`read_chapter_tables`)."""
    return scorecard(read_chapter_tables(results_dir, profile), where=str(Path(results_dir) / profile), alpha=alpha)


if __doc__:  # None under python -OO
    __doc__ += ("\nConventions of every rule\n-------------------------\n"
                + "\n".join(f"- {text}" for text in RULE_CONVENTIONS)
                + "\n\nVerdict rules\n-------------\n"
                + "\n".join(f"- Claim {k}. {rule}" for k, rule in VERDICT_RULES.items()) + "\n")
