"""The claims scorecard of the rare-node study: one verdict per claim, built from the chapters' results.

Xu et al. 2026 (bib key ``xu2026rarenodes``) make six claims (``specs/rare_nodes.md``, "Claims"). This
module reads the tidy results tables of chapters 03 to 05 and 07 of one profile (``results/<profile>/``, the
files in :data:`CHAPTER_FILES`) and returns one row per claim: the claim, the evidence (the numbers,
with the methods and datasets they come from), the test used, the rule, the verdict (one of
:data:`VERDICTS`), the reasons when the evidence cannot decide it, the evidence strength
(:mod:`hmc.claims.strength`) and the paper's own figure beside ours. A table that is missing, or that
lacks the methods or metrics a claim needs, gives "not tested here" with the reason; claim 6
(convolutional encoders on images) comes from chapter 07 (:func:`hmc.rare_images_evidence.claim_parts_07`),
whose page also gives claim 5's vision half.

Each part of a rule carries its decidability gates (:mod:`hmc.claims.gates`): the budget against the
paper's (:data:`REQUIREMENT`), a reference of comparison whose compared metric is not 0, and, where a
rule needs significance, a design whose smallest attainable Holm-adjusted p is below alpha. A part
whose gate fires is undecided; the claim gets the verdict every outcome of its undecided parts agrees
on, else **inconclusive**, with the fired gates as its reasons (:func:`hmc.claims.gates.verdict`).

The numbers are computed with the functions chapter 03 shows them with (:mod:`hmc.rare_evidence`:
ratios of seed means per frequency bucket, paired Wilcoxon tests with Holm's correction, Friedman
ranks), and claim 4's with :func:`claim4_table`, which chapter 04 shows, so the scorecard and the
chapters cannot disagree. Method names are parsed with :func:`hmc.rare_nodes.rare_config`, so any H,
reduction or weight target a chapter chose is found. :func:`rare_sensitivity` recomputes a claim's
verdict under the other readings of the study's free choices.

The rules (:data:`RULE_CONVENTIONS` and :data:`VERDICT_RULES`, listed at the end of this docstring) are
fixed here, before any number is seen, and chapter 05 shows them next to the scorecard.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hmc.claims.gates import (
    ALPHA,
    VERDICTS,
    Budget,
    Gate,
    Part,
    Requirement,
    budget_gate,
    combine_parts,
    nonzero_gate,
    rule_verdict,
    significance_gate,
    smallest_holm_p,
    verdict,
    verdict_span,
)
from hmc.claims.sensitivity import Alternative, sensitivity_table
from hmc.claims.strength import STRENGTH_COLUMNS, Effect, Strength, effect_of
from hmc.published import paper_figure
from hmc.rare_evidence import F1, RARE_BUCKETS, friedman_over_datasets, recall_gains, wilcoxon_per_dataset
from hmc.rare_nodes import MEASURE_SHORT, RareNodeConfig, method_name, rare_config

__all__ = [
    "ALPHA",
    "ALMOST_ALL",
    "CHAPTER_FILES",
    "CLAIMS",
    "PAPER_SEEDS",
    "RECALL_FACTOR",
    "REQUIREMENT",
    "RULE_CONVENTIONS",
    "SCORECARD_COLUMNS",
    "TOLERANCE",
    "VERDICTS",
    "VERDICT_RULES",
    "Part",
    "claim4_holds",
    "claim4_table",
    "claim_outcome",
    "rare_budget",
    "rare_sensitivity",
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
    "07": "07_rare_nodes_images.csv",
}
"""Key -> file name under ``results/<profile>/``: the four chapters' results and chapter 04's cost table."""

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

RECALL_FACTOR = 4.5
"""Claim 1: the claimed factor of five, rounded (a largest gain of at least 4.5 counts as five)."""
TOLERANCE = 0.10
"""Claim 4: slack, in percentage points, on the unfavourable side of each claimed percentage."""
CLAIMED_TIME_CUT, CLAIMED_MEMORY_CUT, CLAIMED_F1_DROP = 0.68, 0.66, 0.06
ALMOST_ALL = 0.75
"""Claim 5: the share of gene-product datasets that "almost all" needs."""
PAPER_SEEDS = 10
"""Seeds per setting in the paper's protocol (the spec: seeds 0-9)."""
MIN_EPOCH_SHARE = 1.0
REQUIREMENT = Requirement(min_epoch_share=MIN_EPOCH_SHARE, real_data=True)
"""The least budget a part that scores trained models (F1, recall, precision) accepts: the paper's epochs
on every dataset it uses, on real data. Time and memory (claim 4 (a), (b)) need no training budget."""
CLAIM1_REQUIREMENT = Requirement(min_epoch_share=MIN_EPOCH_SHARE, min_seeds=PAPER_SEEDS, real_data=True)
"""Claim 1's parts also need the paper's 10 seeds on every dataset they use (specs/rare_nodes.md,
"Statistics"): its recall gains are ratios of seed means, which a few seeds of a near-zero baseline recall
inflate (measured: 9.6x from 0.0002 to 0.0017 on derisi_FUN while the campaign was still earning its seeds),
and its F1 part counts datasets, so a dataset whose seeds are still being earned decides nothing yet."""
COMPARE_DIGITS = 9
"""Claim 4: measured values and bounds are compared rounded to this many decimals (no float noise at a bound)."""

RULE_CONVENTIONS: tuple[str, ...] = (
    "**F1** is macro_f1 (macro F1 at threshold 0.5 over all evaluated nodes, the paper's average); **precision** "
    "macro_precision; a method's score on a dataset is the mean over its seeds.",
    "**Rare buckets** are the training-frequency buckets 1-5 and 6-20 (positive train + valid rows; "
    "hmc.rare_evidence.RARE_BUCKETS). A **recall gain** is the ratio of a method's seed-mean recall in a bucket "
    "to its baseline's; where the baseline's is 0 the gain is unbounded (or 0 / 0) and is not counted as a "
    "finite gain.",
    "**Significant** means a paired two-sided Wilcoxon signed-rank test over the seeds of one dataset, "
    "Holm-adjusted over the family the rule names, with p_holm < 0.05 and a positive mean difference. A dataset "
    "counts for a significance rule only where the design could reach it: with n paired seeds and m methods in the "
    "Holm family the smallest adjusted p is m * 2 / 2^n; where that is not below 0.05 the dataset is not testable "
    "(3 seeds: never).",
    "**Most datasets** means more than half of them; **almost all** at least three quarters.",
    "The **baseline** of a focal method is the plain (unweighted) ensemble of the same H and reduction "
    "(e.g. baseline-H2), else the single plain network (baseline).",
    "**Gates.** A part is decided only when its evidence can decide it: (budget) a part that scores trained "
    "models uses only units trained for the paper's epochs on real data (time and memory need no training "
    "budget); (baseline) the compared metric of the reference of every comparison the part uses is not 0 "
    "(for claim 1 (a): the baseline's recall in every rare bucket used, unless a finite gain already reaches "
    "the factor); (significance) a part that needs significance has at least one testable dataset. A part "
    "whose gate fires is undecided.",
    "A claim with parts (a), (b), ... is **reproduced** when every part holds, **partly** when at least one part "
    "holds but not all, **not reproduced** when none holds. An undecided part may hold or fail: the claim gets "
    "the verdict both outcomes agree on, else **inconclusive** (with the fired gates as reasons); it is **not "
    "tested here** when no part had any evidence (a missing results file, method or metric). Claim 5 has its "
    "own graded rule.",
)
"""The conventions every verdict rule uses (shown in chapter 05; appended to this module's docstring)."""

VERDICT_RULES: dict[int, str] = {
    1: "(a) the largest finite recall gain of a focal method (imbalance + focal weighting, any measure, "
       "deep ensemble) over its baseline, over the rare buckets (1-5, 6-20 training positives) and the "
       f"datasets of chapter 03, is at least {RECALL_FACTOR} (five, rounded); (b) some focal method has a "
       "significant macro-F1 gain over its baseline (Wilcoxon over seeds, Holm over the focal methods of "
       "the dataset) on at least half of the testable datasets. Reproduced: (a) and (b); partly: one of them. "
       "Both parts need the paper's epochs and 10 seeds on every dataset they use (CLAIM1_REQUIREMENT).",
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
       "The same rule (hmc.scorecard.claim4_table) gives chapter 04's evidence table. "
       "Reproduced: all three; partly: one or two.",
    5: "Chapter 05, gene-product (FunCat and GO) datasets only. Reproduced: LPROS + weighted loss has the "
       f"highest macro F1 of all chapter-05 methods on at least {ALMOST_ALL:.0%} of them; partly: otherwise, "
       "if it beats both the baseline and the same weighted loss without LPROS on most of them; not "
       "reproduced: neither. The vision half of the claim is chapter 07's (hmc.rare_images_evidence).",
    6: "Chapter 07's stress tests (a degraded pretrained encoder, limited training data): per image dataset and "
       "test, the focal loss's macro F1 significantly above the baseline heads' (one-sided Wilcoxon over seeds, "
       "Holm over the stressed levels) at more than half of the levels; every part: reproduced, some: partly, "
       "none: not reproduced (hmc.rare_images_evidence.RULES_07).",
}
"""Claim -> its verdict rule, in words (shown in chapter 05; appended to this module's docstring)."""

SCORECARD_COLUMNS = ("claim", "statement", "verdict", "evidence", "test", "rule", "sources", "reasons",
                     "rule_verdict", "span", "budget_aside", "rule_span", *STRENGTH_COLUMNS, "strength", "paper", "ours")
"""Columns of :func:`scorecard`: ``reasons`` are the fired gates (empty when decided), ``rule_verdict`` what
the rule alone says with the gates ignored, ``span`` the verdicts the undecided parts still allow
(:func:`hmc.claims.gates.verdict_span`), ``budget_aside`` the same with every gate but the budget's,
``rule_span`` with every gate ignored, then the strength columns (:data:`hmc.claims.strength.STRENGTH_COLUMNS`)
and the paper's figure beside ours."""


@dataclasses.dataclass
class _Outcome:
    """A claim's parts with what the row needs beside them."""

    parts: list[Part]
    test: str
    strength: Strength
    ours: str = "-"
    combine: Callable[[Sequence[bool]], str] = combine_parts


# ------------------------------------------------------------------------------------- reading
def read_chapter_tables(results_dir: str | Path, profile: str) -> dict[str, pd.DataFrame | None]:
    """The tables of :data:`CHAPTER_FILES` under ``results_dir/profile`` (None for a missing or empty file)."""
    out: dict[str, pd.DataFrame | None] = {}
    from hmc.runs.stress_sweep import read_stress_results

    for key, name in CHAPTER_FILES.items():
        path = Path(results_dir) / profile / name
        if not (path.is_file() and path.stat().st_size > 0):
            out[key] = None
        else:
            out[key] = read_stress_results(path) if key == "07" else pd.read_csv(path)
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


def _is_weighted(c: RareNodeConfig) -> bool:
    """Any imbalance-weighted deep ensemble without LPROS or schedule (focal or plain imbalance weighting)."""
    return c.has_weights and c.members == "ensemble" and not c.lpros and c.schedule is None and c.mixed_lambda is None


def _short(measure: str) -> str:
    return MEASURE_SHORT[measure]


def _missing(key: str, where: str) -> str:
    return f"{where}/{CHAPTER_FILES[key]} not found (run the chapter's notebook with this profile)"


# ------------------------------------------------------------------------------------- budget
def _spec_epochs(dataset: str) -> int | None:
    """The paper's (spec's) epochs of a benchmark; a ``name[:N]`` cut of it counts as the benchmark."""
    from hmc.data import BENCHMARKS

    spec = BENCHMARKS.get(str(dataset).split("[")[0])
    return None if spec is None else int(spec.epochs)


def rare_budget(table: pd.DataFrame, datasets: Sequence[str] | None = None,
                methods: Sequence[str] | None = None) -> Budget:
    """The budget of the units of ``table`` (restricted to ``datasets`` and ``methods``) against the paper's.

    Seeds: the fewest and most seeds of a (dataset, method); epochs: of the units (column ``epochs``),
    as a share of the spec's epochs of each benchmark (:data:`hmc.data.BENCHMARKS`); a dataset that is not
    a benchmark (the synthetic hierarchy) is synthetic and has no paper epochs.
    """
    t = table
    if datasets is not None:
        t = t[t.dataset.isin(list(datasets))]
    if methods is not None:
        t = t[t.method.isin(list(methods))]
    units = t.drop_duplicates(["dataset", "method", "seed"])
    names = tuple(str(d) for d in pd.unique(units.dataset))
    if units.empty:
        return Budget(datasets=(), paper_seeds=PAPER_SEEDS, paper="the paper's epochs per dataset")
    seeds = units.groupby(["dataset", "method"]).seed.nunique()
    synthetic = tuple(d for d in names if _spec_epochs(d) is None)
    shares, epochs = [], []
    if "epochs" in units.columns:
        for d, e in zip(units.dataset, units.epochs):
            epochs.append(int(e))
            spec = _spec_epochs(str(d))
            if spec is not None:
                shares.append(float(e) / spec)
    share = (min(shares), max(shares)) if shares and len(shares) == len(units) else None
    return Budget(datasets=names, synthetic=synthetic, seeds=(int(seeds.min()), int(seeds.max())),
                  paper_seeds=PAPER_SEEDS, epochs=(min(epochs), max(epochs)) if epochs else (0, 0),
                  epoch_share=share, paper="the paper's epochs per dataset")


def _budget_gate(table: pd.DataFrame, datasets, methods, requirement: Requirement = REQUIREMENT) -> Gate:
    b = rare_budget(table, datasets, methods)
    return budget_gate(b, requirement, "trained models scored")


def _strength(table: pd.DataFrame | None, datasets, methods, effect: Effect, min_p: float, design: str) -> Strength:
    budget = rare_budget(table, datasets, methods) if table is not None else None
    return Strength(budget, min_p, design, effect)


def _paired(table: pd.DataFrame, metric: str, method: str, reference: str,
            datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (dataset, seed): value(method) - value(reference) on ``metric`` (seeds both have)."""
    t = table[(table.metric == metric) & table.method.isin([method, reference])]
    if datasets is not None:
        t = t[t.dataset.isin(list(datasets))]
    wide = t.pivot_table(index=["dataset", "seed"], columns="method", values="value", aggfunc="mean")
    if method not in wide.columns or reference not in wide.columns:
        return pd.DataFrame(columns=["dataset", "seed", "diff"])
    d = (wide[method] - wide[reference]).dropna().rename("diff").reset_index()
    return d


def _no_effect(name: str) -> Effect:
    return effect_of(name, None)


def _no_strength(name: str = "-") -> Strength:
    return Strength(None, math.nan, "-", _no_effect(name))


# ------------------------------------------------------------------------------------- claim 1
def _claim1(t03: pd.DataFrame | None, where: str, alpha: float, buckets: Sequence[str] = RARE_BUCKETS,
            factor: float = RECALL_FACTOR, count_unbounded: bool = False, methods: str = "focal") -> _Outcome:
    test = ("recall gain = ratio of seed-mean recalls per bucket (hmc.rare_evidence.recall_gains); paired "
            "two-sided Wilcoxon over seeds per dataset on macro F1, Holm over the focal methods "
            "(hmc.rare_evidence.wilcoxon_per_dataset)")
    if t03 is None:
        return _Outcome([Part("recall", None, _missing("03", where)), Part("F1", None, "")], test, _no_strength())
    configs = _configs(t03)
    present = set(configs)
    chosen = _is_focal if methods == "focal" else _is_weighted
    focal = {m: c for m, c in configs.items() if chosen(c)}
    by_base: dict[str, list[str]] = {}
    for m, c in focal.items():
        base = _baseline_of(c, present)
        if base is not None:
            by_base.setdefault(base, []).append(m)
    if not by_base:
        why = "chapter 03 has no focal method" + (" with an unweighted baseline" if focal else "")
        return _Outcome([Part("recall", None, why), Part("F1", None, "")], test, _no_strength())
    used_methods = [m for base, ms in by_base.items() for m in (base, *ms)]

    # (a) largest finite rare-bucket recall gain
    gains = pd.concat([recall_gains(t03, base, ms, key="freq") for base, ms in by_base.items()], ignore_index=True)
    gains = gains.assign(gain=gains.gain.astype(float))
    rare = gains[gains.group.isin(list(buckets))]
    finite = rare[np.isfinite(rare.gain)]
    n_inf = int(np.isinf(rare.gain).sum())
    n_undefined = int(rare.gain.isna().sum())
    bucket_text = ", ".join(buckets)
    if rare.empty:
        part_a = Part("recall", None, f"chapter 03 has no recall@freq rows for buckets {bucket_text}")
    else:
        cells = rare.drop_duplicates(["dataset", "group"]).set_index(["dataset", "group"]).baseline_value
        base_recall = {f"{d} {g}": float(v) for (d, g), v in cells.items()}
        holds: bool | None
        if count_unbounded and n_inf:
            holds = True
        elif finite.empty:
            holds = None
        else:
            holds = bool(finite.gain.max() >= factor)
        baseline_gate = nonzero_gate(base_recall, "the baseline's recall in the (dataset, bucket) cells used")
        if holds and not baseline_gate.passed:  # a reached factor is decided whatever the degenerate cells hide
            baseline_gate = Gate("baseline", True, baseline_gate.reason + "; a gain reaches the factor elsewhere")
        gates = (_budget_gate(t03, list(cells.index.get_level_values(0).unique()), used_methods, CLAIM1_REQUIREMENT),
                 baseline_gate)
        if finite.empty:
            evidence = (f"no finite recall gain in buckets {bucket_text}: {n_inf} unbounded (baseline recall 0), "
                        f"{n_undefined} undefined (0 / 0)")
        else:
            top = finite.loc[finite.gain.idxmax()]
            evidence = (f"largest finite rare-bucket recall gain {top.gain:.2f}x ({top.method} on {top.dataset}, "
                        f"bucket {top.group}: {top.value:.4f} vs {top.baseline_value:.4f}; over {len(finite)} "
                        f"(dataset, method, bucket) gains; {n_inf} unbounded"
                        + (" counted as reaching the factor" if count_unbounded else " not counted")
                        + f", {n_undefined} undefined)")
        part_a = Part("recall", holds, evidence, gates)

    # (b) significant F1 gains on at least half of the testable datasets
    tests = pd.concat([wilcoxon_per_dataset(t03, F1, base, ms) for base, ms in by_base.items()], ignore_index=True)
    best_method = None
    if tests.empty:
        part_b = Part("F1", None, f"no {F1} rows in chapter 03")
        min_p, design = math.nan, "-"
    else:
        family = tests.groupby(["dataset", "baseline"]).method.transform("size").astype(int)
        smallest = [smallest_holm_p(int(n), int(f)) for n, f in zip(tests.n, family)]
        tests = tests.assign(family=family, smallest=smallest,
                             testable=[s < alpha for s in smallest],
                             significant=(tests.p_holm < alpha) & (tests.mean_diff > 0))
        i_min = int(np.nanargmin(tests.smallest.to_numpy())) if np.isfinite(tests.smallest).any() else 0
        min_p = float(tests.smallest.iloc[i_min])
        design = (f"Wilcoxon over {int(tests.n.iloc[i_min])} seeds, Holm over {int(tests.family.iloc[i_min])} "
                  "focal methods")
        testable = tests[tests.testable]
        f1 = _seed_means(t03, F1)
        base_f1 = {f"{d} ({b})": float(f1.loc[d, b]) for d, b in
                   tests[["dataset", "baseline"]].drop_duplicates().itertuples(index=False)}
        gates = [_budget_gate(t03, list(pd.unique(tests.dataset)), used_methods, CLAIM1_REQUIREMENT),
                 nonzero_gate(base_f1, "the baseline's macro F1 on the datasets tested")]
        if testable.empty:
            gates.append(significance_gate(int(tests.n.iloc[i_min]), int(tests.family.iloc[i_min]), alpha,
                                           "the most favourable dataset"))
            part_b = Part("F1", None, "significance not testable on any dataset: "
                          f"smallest attainable Holm-adjusted p {min_p:.3g}", tuple(gates))
        else:
            gates.append(Gate("significance", True, f"{testable.dataset.nunique()} of {tests.dataset.nunique()} "
                              f"datasets testable (smallest attainable p {min_p:.3g} < {alpha:g})"))
            counts = testable.groupby("method").agg(sig=("significant", "sum"), n=("dataset", "nunique"))
            counts = counts.assign(share=counts.sig / counts.n).sort_values(["share", "sig"], ascending=False,
                                                                            kind="stable")
            best_method, row = counts.index[0], counts.iloc[0]
            up = int((tests[tests.method == best_method].mean_diff > 0).sum())
            part_b = Part("F1", bool(2 * row.sig >= row.n),
                          f"{best_method}: significant macro-F1 gain on {int(row.sig)} of {int(row.n)} testable "
                          f"datasets (higher mean on {up}); the best of {len(counts)} focal "
                          f"method{'s' * (len(counts) > 1)}", tuple(gates))
    # effect: macro-F1 gain of the best focal method (part (b)'s, else the largest mean gain)
    f1_means = _seed_means(t03, F1)
    if best_method is None and len(tests):
        best_method = str(tests.groupby("method").mean_diff.mean().idxmax())
    effect = _no_effect("macro-F1 gain of the best focal method over its baseline")
    if best_method is not None:
        base = _baseline_of(configs[best_method], present)
        effect = effect_of(f"macro-F1 gain, {best_method} - {base}", _paired(t03, F1, best_method, base))
    strength = _strength(t03, list(pd.unique(t03.dataset)), used_methods, effect, min_p, design)
    ours = "-"
    if not rare.empty:
        ours = (f"largest finite rare-bucket recall gain {finite.gain.max():.2f}x" if len(finite) else
                "no finite rare-bucket recall gain") + f" ({n_inf} unbounded)"
        if best_method is not None and best_method in f1_means:
            ours += f"; macro F1 {effect.estimate:+.4f} ({best_method})"
    del f1_means
    return _Outcome([part_a, part_b], test, strength, ours)


# ------------------------------------------------------------------------------------- claim 2
def _focal_blocks(table: pd.DataFrame) -> dict[RareNodeConfig, dict[str, str]]:
    """Focal methods grouped by their settings other than the measure: key config -> measure -> method."""
    out: dict[RareNodeConfig, dict[str, str]] = {}
    for m, c in _configs(table).items():
        if _is_focal(c):
            key = dataclasses.replace(c, measure="bbma")
            out.setdefault(key, {})[_short(c.measure)] = m
    return out


def _claim2(t03: pd.DataFrame | None, t04: pd.DataFrame | None, where: str, alpha: float) -> _Outcome:
    test = ("Friedman average ranks of the measures on per-dataset mean macro F1 "
            "(hmc.rare_evidence.friedman_over_datasets); counts of datasets; mean F1 gains per H")
    effect = _no_effect("macro F1, better of focal-bma/gmu - imbalance weighting")
    strength_args = None
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
            names = list(measures.values())
            budget = _budget_gate(t03, None, names)
            result, matrix = friedman_over_datasets(t03, F1, names, alpha)
            if result is None:
                part_a = Part("measures", None, f"too small for ranks: {matrix.shape[0]} dataset(s) x "
                              f"{matrix.shape[1]} measures (at least 2 x 3)",
                              (budget, Gate("design", False, f"{matrix.shape[0]} dataset(s) x {matrix.shape[1]} "
                                                             "measures: ranks need at least 2 x 3")))
            else:
                ranks = result.avg_ranks
                ours = [measures[m] for m in ("bma", "gmu") if m in measures]
                rest = [m for m in ranks.index if m not in ours]
                listing = ", ".join(f"{m} {r:.2f}" for m, r in ranks.sort_values(kind="stable").items())
                tops = {f"{d} (best measure)": float(v) for d, v in matrix.max(axis=1).items()}
                part_a = Part("measures", bool(ranks[ours].min() < ranks[rest].min()),
                              f"average ranks over {result.n_blocks} datasets (1 = best): {listing} "
                              f"(Friedman p {result.pvalue:.3g})",
                              (budget, nonzero_gate(tops, "the best measure's macro F1 on each dataset")))
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
                    gates = (_budget_gate(t03, list(f1.index), [*ours, imb]),
                             nonzero_gate({str(d): float(v) for d, v in f1[imb].items()},
                                          f"the macro F1 of {imb}"))
                    part_b = Part("vs imbalance", bool(2 * wins > len(f1)),
                                  f"better of {'/'.join(ours)} above {imb} on {wins} of {len(f1)} datasets "
                                  f"(mean difference {diff:+.4f})", gates)
                    better = max(ours, key=lambda m: float(f1[m].mean()))
                    effect = effect_of(f"macro F1, {better} - {imb}", _paired(t03, F1, better, imb, list(f1.index)))
                    strength_args = (t03, list(f1.index), [*ours, imb])

    # (c) gains grow with H
    part_c = None
    for source, t in (("04", t04), ("03", t03)):
        if t is None:
            continue
        configs = _configs(t)
        present = set(configs)
        f1 = _seed_means(t, F1)
        per_measure, used, base_values = [], [], {}
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
            used += [ms[lo], ms[hi], base_lo, base_hi]
            base_values.update({f"{ds} ({b})": float(d.loc[ds, b]) for ds in d.index for b in (base_lo, base_hi)})
        if per_measure:
            delta = float(np.mean([g_hi - g_lo for _, _, _, g_lo, g_hi, _ in per_measure]))
            detail = "; ".join(f"{s}: gain {g_lo:+.4f} at H={lo}, {g_hi:+.4f} at H={hi} ({n} dataset{'s' * (n > 1)})"
                               for s, lo, hi, g_lo, g_hi, n in per_measure)
            part_c = Part("H", bool(delta > 0), f"chapter {source}: {detail}",
                          (_budget_gate(t, None, used), nonzero_gate(base_values, "the baselines' macro F1")))
            break
    if part_c is None:
        part_c = Part("H", None, "no focal bma/gmu method at two ensemble sizes with baselines "
                      f"({'chapter 04 missing' if t04 is None else 'in chapters 04 and 03'})")
    if strength_args is None:
        strength = _no_strength(effect.name)
    else:
        n_ds = len(strength_args[1])
        strength = _strength(*strength_args, effect, min(1.0, 2.0 / 2.0**n_ds) if n_ds else math.nan,
                             f"Wilcoxon across {n_ds} datasets")
    ours = f"{effect.estimate:+.4f} macro F1 over imbalance weighting" if math.isfinite(effect.estimate) else "-"
    return _Outcome([part_a, part_b, part_c], test, strength, ours)


# ------------------------------------------------------------------------------------- claim 3
def _single_networks(table: pd.DataFrame) -> dict[str, RareNodeConfig]:
    return {m: c for m, c in _configs(table).items() if not c.lpros and c.loss in ("plain", "imbalance")}


def _plain_baseline(configs: Mapping[str, RareNodeConfig]) -> str | None:
    plain = sorted((c.n_members, c.reduction != "sum", m) for m, c in configs.items()
                   if c.loss == "plain" and not c.lpros and c.members == "ensemble")
    return plain[0][2] if plain else None


def _claim3(t05: pd.DataFrame | None, where: str) -> _Outcome:
    test = "per-dataset seed means of macro precision and macro F1; counts of datasets"
    if t05 is None:
        return _Outcome([Part("precision", None, _missing("05", where)), Part("mixed", None, "")], test,
                        _no_strength())
    configs = _single_networks(t05)
    base = _plain_baseline(configs)
    scheds = {m: c for m, c in configs.items() if c.schedule is not None}
    per_epoch = {m: c for m, c in scheds.items() if not c.schedule.startswith("global-")}
    chosen = per_epoch or scheds
    effect = _no_effect("macro precision, best scheduler - baseline")
    strength_args = None
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
            gates = (_budget_gate(t05, list(prec.index), [base, *chosen]),
                     nonzero_gate({str(d): float(v) for d, v in prec[base].items()}, f"the macro precision of {base}"))
            part_a = Part("precision", bool(2 * below > len(prec)),
                          f"best {kind} scheduler below the baseline's macro precision on {below} of {len(prec)} "
                          f"datasets{extra}", gates)
            top = str(prec[list(chosen)].mean().idxmax())
            effect = effect_of(f"macro precision, {top} - {base}", _paired(t05, "macro_precision", top, base,
                                                                             list(prec.index)))
            strength_args = (t05, list(prec.index), [base, *chosen])
    mixed = [m for m, c in configs.items() if c.mixed_lambda is not None]
    if not mixed or len(configs) < 2:
        part_b = Part("mixed", None, "chapter 05 has no mixed loss" if not mixed else "no method to compare with")
    else:
        f1 = _seed_means(t05, F1).reindex(columns=list(configs)).dropna(how="all")
        winners = f1.idxmax(axis=1)
        wins = int(winners.isin(mixed).sum())
        listing = ", ".join(f"{d}: {w}" for d, w in winners.items())
        ref = {str(d): float(f1.loc[d, base]) for d in f1.index} if base in f1.columns else {}
        gates = (_budget_gate(t05, list(f1.index), list(configs)),
                 nonzero_gate(ref, f"the macro F1 of {base}"))
        part_b = Part("mixed", bool(2 * wins > len(f1)),
                      f"a mixed loss has the best macro F1 of {len(configs)} non-LPROS methods on {wins} of "
                      f"{len(f1)} datasets (best per dataset: {listing})", gates)
        if strength_args is None:
            strength_args = (t05, list(f1.index), list(configs))
    strength = _no_strength(effect.name) if strength_args is None else _strength(
        *strength_args, effect, min(1.0, 2.0 / 2.0 ** len(strength_args[1])),
        f"Wilcoxon across {len(strength_args[1])} datasets")
    ours = f"{effect.estimate:+.4f} macro precision (best scheduler - baseline)" if math.isfinite(effect.estimate) \
        else "-"
    return _Outcome([part_a, part_b], test, strength, ours)


# ------------------------------------------------------------------------------------- claim 4
TIME_COLUMN = "ms_per_step"
MEMORY_COLUMNS = ("peak_alloc_bytes", "peak_alloc_mib", "peak_rss_bytes", "peak_rss_mib")
"""Memory columns of a cost table, in order of preference (the allocator peak first; units cancel in a ratio)."""
CLAIM4_PARTS = ("time", "memory", "F1")
_CLAIMED = {"time": CLAIMED_TIME_CUT, "memory": CLAIMED_MEMORY_CUT, "F1": CLAIMED_F1_DROP}


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


def claim4_holds(part: str, value: float, tolerance: float = TOLERANCE, two_sided: bool = False) -> bool:
    """Claim 4's rule for one measured quantity, the one chapter 04 and the scorecard both apply.

    ``part`` ``"time"`` or ``"memory"``: ``value`` is the cut ``1 - MC / ensemble`` and holds when at least
    the claimed cut less ``tolerance`` (68% and 66%, less 10 points); ``"F1"``: ``value`` is the relative
    drop ``1 - F1(MC) / F1(ensemble)`` and holds when at most the claimed 6% plus ``tolerance``.
    ``two_sided=True`` (an alternative reading, for the sensitivity table) asks ``|value - claimed| <=
    tolerance`` instead. Values and bounds are compared at :data:`COMPARE_DIGITS` decimals.
    """
    if part not in _CLAIMED:
        raise ValueError(f"part must be one of {CLAIM4_PARTS}, got {part!r}")
    claimed = _CLAIMED[part]
    x = round(float(value), COMPARE_DIGITS)
    if two_sided:
        return bool(round(abs(x - claimed), COMPARE_DIGITS) <= round(tolerance, COMPARE_DIGITS))
    if part == "F1":
        return bool(x <= round(claimed + tolerance, COMPARE_DIGITS))
    return bool(x >= round(claimed - tolerance, COMPARE_DIGITS))


def _claim4_values(t04: pd.DataFrame | None, cost: pd.DataFrame | None, where: str):
    """Per H the measured values of each part (lists over datasets/measures), with the reasons for gaps."""
    per_h: dict[int, dict[str, list[float]]] = {}
    f1_pairs: dict[int, list[tuple[str, str, str]]] = {}

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
    ens_f1: dict[int, dict[str, float]] = {}
    if t04 is None:
        f1_reason = _missing("04", where)
    else:
        f1 = _seed_means(t04, F1)
        pairs = _mc_pairs(f1.columns)
        for mc, ens in pairs.items():
            h = rare_config(mc).n_members
            d = f1[[ens, mc]].dropna()
            ens_f1.setdefault(h, {}).update({f"{ds} ({ens})": float(v) for ds, v in d[ens].items()})
            d = d[d[ens] > 0]
            for ds, drop in (1 - d[mc] / d[ens]).items():
                add(h, "F1", drop)
                f1_pairs.setdefault(h, []).append((str(ds), mc, ens))
            if d.empty and len(f1[[ens, mc]].dropna()):
                per_h.setdefault(h, {})
        if not pairs:
            f1_reason = "chapter 04 has no (deep ensemble, MC-dropout) pair with macro F1"
    return per_h, mem_col, cost_reason, f1_reason, ens_f1, f1_pairs


def claim4_table(t04: pd.DataFrame | None, cost: pd.DataFrame | None, tolerance: float = TOLERANCE,
                 two_sided: bool = False, where: str = "results/<profile>") -> pd.DataFrame:
    """Claim 4's evidence per H and part, by :func:`claim4_holds`: what chapter 04 shows and the scorecard reads.

    One row per (H, part) with a measured value: ``H, part`` (``time``, ``memory``, ``F1``), ``measured``
    (the median over the (dataset, measure) pairs of the time cut ``1 - ms_per_step(MC) / ms_per_step
    (ensemble)``, the memory cut from the allocator peak (else the RSS), or the relative macro-F1 drop
    ``1 - F1(MC) / F1(ensemble)`` of the seed means, pairs with an ensemble F1 of 0 left out),
    ``claimed``, ``bound`` (the rule in words), ``holds``, ``n`` (pairs), ``source`` (the column or metric).
    """
    per_h, mem_col, _, _, _, _ = _claim4_values(t04, cost, where)
    rows = []
    for h in sorted(per_h):
        for what in CLAIM4_PARTS:
            values = per_h[h].get(what)
            if not values:
                continue
            x = float(np.median(values))
            claimed = _CLAIMED[what]
            if two_sided:
                bound = f"within {tolerance:.0%} points of {claimed:.0%}"
            elif what == "F1":
                bound = f"at most {claimed + tolerance:.0%}"
            else:
                bound = f"at least {claimed - tolerance:.0%}"
            rows.append({"H": h, "part": what, "measured": x, "claimed": claimed, "bound": bound,
                         "holds": claim4_holds(what, x, tolerance, two_sided), "n": len(values),
                         "source": {"time": TIME_COLUMN, "memory": mem_col or "-", "F1": F1}[what]})
    return pd.DataFrame(rows, columns=["H", "part", "measured", "claimed", "bound", "holds", "n", "source"])


def _claim4(t04: pd.DataFrame | None, cost: pd.DataFrame | None, where: str, tolerance: float = TOLERANCE,
            two_sided: bool = False, h_choice: int | None = None) -> _Outcome:
    test = ("per H, medians over datasets (and measures) of the cut 1 - MC / ensemble (time: median ms per step "
            "over interleaved blocks, same run and device; memory: allocator peak) and of the relative "
            "macro-F1 drop 1 - F1(MC) / F1(ensemble) of the seed means (hmc.scorecard.claim4_table); the H where "
            "most parts hold is reported")
    per_h, mem_col, cost_reason, f1_reason, ens_f1, f1_pairs = _claim4_values(t04, cost, where)
    table = claim4_table(t04, cost, tolerance, two_sided, where)

    def parts_at(h):
        rows = table[table.H == h].set_index("part")
        out = []
        for what in CLAIM4_PARTS:
            claimed = _CLAIMED[what]
            gates: tuple[Gate, ...] = ()
            if what == "F1" and t04 is not None:
                datasets = sorted({ds for ds, _, _ in f1_pairs.get(h, [])}) or None
                gates = (_budget_gate(t04, datasets, [m for _, mc, ens in f1_pairs.get(h, []) for m in (mc, ens)]
                                      or None),
                         nonzero_gate(ens_f1.get(h, {}), f"the deep ensemble's macro F1 at H={h}"))
            if what in rows.index:
                r = rows.loc[what]
                x = float(r.measured)
                label = {"time": f"training time cut {x:.0%}", "memory": f"memory cut {x:.0%}",
                         "F1": f"relative macro-F1 drop {x:.1%}" if x >= 0 else
                         f"no macro-F1 drop: MC-dropout's is {-x:.1%} higher"}[what]
                src = f"{mem_col}, " if what == "memory" else ""
                out.append(Part(what, bool(r.holds), f"{label} at H={h} ({src}median of {int(r.n)}; claimed "
                                f"~{claimed:.0%}; rule: {r.bound})", gates))
            else:
                reason = {"time": cost_reason, "memory": cost_reason if cost_reason else
                          "no memory column in the cost table", "F1": f1_reason}[what]
                if what == "F1" and reason is None and ens_f1.get(h):
                    out.append(Part(what, None, f"the deep ensemble's macro F1 is 0 on every dataset at H={h}: "
                                    "no relative drop", gates))
                else:
                    out.append(Part(what, None, reason or f"no {what} pair at H={h}"))
        return out

    if not per_h:
        return _Outcome([Part("time", None, cost_reason or ""), Part("memory", None, ""),
                         Part("F1", None, f1_reason or "")], test, _no_strength())
    if h_choice is not None:
        chosen = h_choice if h_choice in per_h else None
        if chosen is None:
            return _Outcome([Part("time", None, f"no pair at H={h_choice}"), Part("memory", None, ""),
                             Part("F1", None, "")], test, _no_strength())
    else:
        ranked = sorted(per_h, key=lambda h: (-sum(bool(p.holds) for p in parts_at(h)),
                                              -sum(p.holds is not None for p in parts_at(h)), h))
        chosen = ranked[0]
    parts = parts_at(chosen)
    if len(per_h) > 1:
        others = "; ".join(f"H={h}: " + ", ".join(f"{w} {np.median(v):.0%}" for w, v in per_h[h].items())
                           for h in sorted(per_h) if h != chosen)
        parts[-1] = parts[-1]._replace(evidence=f"{parts[-1].evidence}; other sizes: {others}")
    effect = _no_effect("relative macro-F1 drop 1 - F1(MC) / F1(ensemble)")
    strength = _no_strength(effect.name)
    pairs = f1_pairs.get(chosen, [])
    if t04 is not None and pairs:
        diffs = []
        for ds, mc, ens in pairs:
            w = t04[(t04.metric == F1) & (t04.dataset == ds) & t04.method.isin([mc, ens])]
            w = w.pivot_table(index="seed", columns="method", values="value", aggfunc="mean").dropna()
            w = w[w[ens] > 0]
            diffs += [{"dataset": ds, "seed": s, "diff": float(1 - w.loc[s, mc] / w.loc[s, ens])} for s in w.index]
        effect = effect_of(f"relative macro-F1 drop 1 - F1(MC) / F1(ensemble), H={chosen}", pd.DataFrame(diffs))
        n_units = effect.n
        strength = _strength(t04, sorted({p[0] for p in pairs}), [m for _, mc, ens in pairs for m in (mc, ens)],
                             effect, min(1.0, 2.0 / 2.0**n_units) if n_units else math.nan,
                             f"Wilcoxon over {n_units} {effect.unit}")
    got = {w: float(np.median(v)) for w, v in per_h.get(chosen, {}).items() if v}
    ours = ", ".join(f"{w} {'drop' if w == 'F1' else 'cut'} {got[w]:.0%}" for w in CLAIM4_PARTS if w in got)
    return _Outcome(parts, test, strength, f"{ours} at H={chosen}" if ours else "-")


# ------------------------------------------------------------------------------------- claim 5
def _is_gene(dataset: str) -> bool:
    return dataset.endswith(("_FUN", "_GO"))


def _combine5(outcomes: Sequence[bool]) -> str:
    """Claim 5's graded rule over its parts (best on almost all; beats on most)."""
    best, beats = outcomes
    return "reproduced" if best else "partly" if beats else "not reproduced"


def _claim5(t05: pd.DataFrame | None, where: str, almost_all: float = ALMOST_ALL) -> _Outcome:
    test = "per-dataset seed means of macro F1; counts of gene-product datasets"
    if t05 is None:
        return _Outcome([Part("best", None, _missing("05", where)), Part("beats", None, "")], test,
                        _no_strength(), combine=_combine5)
    configs = _configs(t05)
    target = [m for m, c in configs.items() if c.lpros and c.has_weights]
    genes = [d for d in pd.unique(t05.dataset) if _is_gene(str(d))]
    if not target:
        return _Outcome([Part("best", None, "chapter 05 has no LPROS + weighted-loss method"),
                         Part("beats", None, "")], test, _no_strength(), combine=_combine5)
    if not genes:
        return _Outcome([Part("best", None, "no gene-product (FunCat or GO) dataset in chapter 05's results"),
                         Part("beats", None, "")], test, _no_strength(), combine=_combine5)
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
    ref = {str(d): float(f1.loc[d, base]) for d in genes} if base in f1.columns else {}
    gates = (_budget_gate(t05, genes, list(configs)), nonzero_gate(ref, f"the macro F1 of {base}"))
    part_best = Part("best", bool(wins >= almost_all * len(genes)),
                     f"{'/'.join(target)} has the best macro F1 of {len(configs)} methods on {wins} of {len(genes)} "
                     f"gene-product datasets (rule: at least {almost_all:.0%})", gates)
    part_beats = Part("beats", bool(2 * beats > len(genes)),
                      f"beats the baseline and its weighted loss without LPROS on {beats} of {len(genes)}; the "
                      "vision half is tested in chapter 07", gates)
    # effect: the LPROS method against the best other method of each dataset, per seed
    diffs = []
    mine = target[0] if len(target) == 1 else str(f1[target].mean().idxmax())
    for d in genes:
        others = f1.loc[d].drop(labels=target).dropna()
        if others.empty:
            continue
        rival = str(others.idxmax())
        diffs.append(_paired(t05, F1, mine, rival, [d]))
    effect = effect_of(f"macro F1, {mine} - best other method per dataset",
                       pd.concat(diffs, ignore_index=True) if diffs else None)
    strength = _strength(t05, genes, list(configs), effect, min(1.0, 2.0 / 2.0 ** len(genes)),
                         f"Wilcoxon across {len(genes)} datasets")
    ours = f"best on {wins} of {len(genes)} gene-product datasets"
    return _Outcome([part_best, part_beats], test, strength, ours, combine=_combine5)


# ------------------------------------------------------------------------------------- the table
def _get(tables: Mapping[str, pd.DataFrame | None], key: str) -> pd.DataFrame | None:
    t = tables.get(key)
    return None if t is None or len(t) == 0 else t


def _outcome(tables: Mapping[str, pd.DataFrame | None], claim: int, where: str, alpha: float,
             **options) -> _Outcome:
    t03, t04, cost, t05 = (_get(tables, k) for k in ("03", "04", "04_cost", "05"))
    if claim == 1:
        return _claim1(t03, where, alpha, **options)
    if claim == 2:
        return _claim2(t03, t04, where, alpha, **options)
    if claim == 3:
        return _claim3(t05, where, **options)
    if claim == 4:
        return _claim4(t04, cost, where, **options)
    if claim == 5:
        return _claim5(t05, where, **options)
    if claim == 6:
        t07 = _get(tables, "07")
        if t07 is None:
            return _Outcome([Part("CNN", None, f"{_missing('07', where)}; chapter 07 tests it (CNN encoders: "
                                  "degraded pretrained weights, limited training data)")], "-", _no_strength())
        from hmc.rare_images_evidence import claim_parts_07

        return _Outcome(claim_parts_07(t07, "6"), "one-sided Wilcoxon over seeds per stressed level, Holm",
                        _no_strength())
    raise ValueError(f"claim must be one of {list(CLAIMS)}, got {claim!r}")


SOURCES = {1: ["03"], 2: ["03", "04"], 3: ["05"], 4: ["04", "04_cost"], 5: ["05"], 6: ["07"]}


def _status(p: Part) -> str:
    if p.holds is None:
        return "undecided" if p.gates else "n/a"
    word = "holds" if p.holds else "fails"
    return word if p.decided else f"undecided (by the numbers it {word})"


def _evidence_text(parts: Sequence[Part]) -> str:
    if len(parts) == 1 and parts[0].holds is None and not parts[0].gates:
        return parts[0].evidence
    return "; ".join(f"({chr(97 + i)}) {_status(p)}: {p.evidence}" for i, p in enumerate(parts) if p.evidence)


def _reasons_text(parts: Sequence[Part]) -> str:
    out = []
    for i, p in enumerate(parts):
        for g in p.fired:
            text = f"({chr(97 + i)}) {g}"
            if text not in out:
                out.append(text)
    return "; ".join(out)


def claim_outcome(tables: Mapping[str, pd.DataFrame | None], claim: int, where: str = "results/<profile>",
                  alpha: float = ALPHA, **options) -> dict:
    """One claim's row of :func:`scorecard`; ``options`` change the study's free choices (see
    :func:`rare_sensitivity`): claim 1 ``buckets``, ``factor``, ``count_unbounded``, ``methods``
    (``"focal"`` or ``"weighted"``); claim 4 ``tolerance``, ``two_sided``, ``h_choice``; claim 5
    ``almost_all``."""
    out = _outcome(tables, claim, where, alpha, **options)
    v = verdict(out.parts, out.combine)
    paper = paper_figure("rare", claim)
    row = {"claim": claim, "statement": CLAIMS[claim], "verdict": v,
           "evidence": _evidence_text(out.parts), "test": out.test, "rule": VERDICT_RULES[claim],
           "sources": ", ".join(CHAPTER_FILES[s] for s in SOURCES[claim]) if SOURCES[claim] else "-",
           "reasons": _reasons_text(out.parts) if v == "inconclusive" else "",
           "rule_verdict": rule_verdict(out.parts, out.combine),
           "span": verdict_span(out.parts, out.combine),
           "budget_aside": verdict_span(out.parts, out.combine, ignore=("budget",)),
           "rule_span": verdict_span(out.parts, out.combine, gates=False),
           **out.strength.row(), "strength": out.strength.text(),
           "paper": str(paper) if paper else "no figure in the material available", "ours": out.ours}
    if v == "inconclusive" and not row["reasons"]:
        row["reasons"] = "; ".join(f"({chr(97 + i)}) {p.evidence or 'no evidence'}" for i, p in enumerate(out.parts)
                                   if not p.decided)
    return row


def scorecard(tables: Mapping[str, pd.DataFrame | None], where: str = "results/<profile>",
              alpha: float = ALPHA) -> pd.DataFrame:
    """The scorecard from the chapters' tables (keys of :data:`CHAPTER_FILES`; a missing key counts as absent).

    Args:
        tables: key -> tidy results DataFrame (``dataset, method, seed, metric, value``, and ``epochs``
            for the budget, as :func:`hmc.runs.sweep.run_sweep` writes) or None; ``"04_cost"`` is chapter 04's
            cost table (one row per method, and per dataset when it has a ``dataset`` column, with
            ``ms_per_step`` and ``peak_alloc_bytes`` or ``peak_rss_bytes``, the columns of
            :data:`hmc.memory.COST_COLUMNS`).
        where: the folder named in "not found" reasons.
        alpha: significance level.

    Returns:
        One row per claim (1-6), columns :data:`SCORECARD_COLUMNS`.
    """
    rows = [claim_outcome(tables, k, where, alpha) for k in CLAIMS]
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def scorecard_from_results(results_dir: str | Path = "results", profile: str = "quick",
                           alpha: float = ALPHA) -> pd.DataFrame:
    """:func:`scorecard` of the chapters' tables under ``results_dir/profile`` (:func:`read_chapter_tables`)."""
    return scorecard(read_chapter_tables(results_dir, profile), where=str(Path(results_dir) / profile), alpha=alpha)


# ------------------------------------------------------------------------------------- sensitivity
ALL_BUCKETS = ("0", "1-5", "6-20", "21-100", ">100")
"""Every training-frequency bucket of :func:`hmc.metrics.frequency_buckets`."""


def _alternatives(claim: int, tables: Mapping[str, pd.DataFrame | None]) -> list[Alternative]:
    if claim == 1:
        alts = [Alternative("rare buckets", ", ".join(RARE_BUCKETS), {}, True)]
        for b in ("1-5", "6-20", "21-100", ">100"):
            alts.append(Alternative("rare buckets", f"{b} only", {"buckets": (b,)}))
        alts += [Alternative("rare buckets", "1-5, 6-20, 21-100", {"buckets": ("1-5", "6-20", "21-100")}),
                 Alternative("rare buckets", "every bucket with training positives",
                             {"buckets": ("1-5", "6-20", "21-100", ">100")}),
                 Alternative("factor that counts as five", f"{RECALL_FACTOR:g}", {}, True),
                 Alternative("factor that counts as five", "5", {"factor": 5.0}),
                 Alternative("factor that counts as five", "4", {"factor": 4.0}),
                 Alternative("unbounded gains (baseline recall 0)", "not counted", {}, True),
                 Alternative("unbounded gains (baseline recall 0)", "counted as reaching the factor",
                             {"count_unbounded": True}),
                 Alternative("methods read as the paper's", "focal (weights on the negatives)", {}, True),
                 Alternative("methods read as the paper's", "every imbalance-weighted ensemble (either target)",
                             {"methods": "weighted"})]
        return alts
    if claim == 4:
        alts = [Alternative("tolerance", f"{TOLERANCE:.0%} points", {}, True),
                Alternative("tolerance", "5% points", {"tolerance": 0.05}),
                Alternative("tolerance", "20% points", {"tolerance": 0.20}),
                Alternative("reading of '~'", "one-sided (a larger saving counts)", {}, True),
                Alternative("reading of '~'", "two-sided (within the tolerance either way)", {"two_sided": True}),
                Alternative("ensemble size H", "where most parts hold", {}, True)]
        hs = set()
        for key in ("04", "04_cost"):
            t = _get(tables, key)
            if t is not None and "method" in t.columns:
                hs |= {rare_config(m).n_members for m in _mc_pairs(pd.unique(t.method))}
        alts += [Alternative("ensemble size H", f"H = {h}", {"h_choice": h}) for h in sorted(hs)]
        return alts
    if claim == 5:
        return [Alternative("'almost all'", f"{ALMOST_ALL:.0%}", {}, True),
                Alternative("'almost all'", "two thirds", {"almost_all": 2 / 3}),
                Alternative("'almost all'", "90%", {"almost_all": 0.9})]
    return []


def rare_sensitivity(tables: Mapping[str, pd.DataFrame | None], claim: int, where: str = "results/<profile>",
                     alpha: float = ALPHA) -> pd.DataFrame:
    """The verdict of ``claim`` under each reading of the study's free choices (:func:`sensitivity_table`).

    Claim 1: the rare buckets (each bucket alone, wider sets), the factor that counts as five, whether
    unbounded gains (baseline recall 0) count, and which methods are the paper's; claim 4: the tolerance,
    one- or two-sided, the H; claim 5: the share that is "almost all". Other claims: an empty table.
    """
    def evaluate(**options):
        row = claim_outcome(tables, claim, where, alpha, **options)
        return {k: row[k] for k in ("verdict", "span", "budget_aside", "rule_span")} | {"detail": row["ours"]}

    alts = _alternatives(claim, tables)
    if not alts:
        return sensitivity_table(evaluate, [])
    return sensitivity_table(evaluate, alts)


def bucket_table(t03: pd.DataFrame | None, buckets: Sequence[str] = ALL_BUCKETS) -> pd.DataFrame:
    """Claim 1 per bucket: finite gains (largest, where), unbounded and undefined counts, baseline recall 0 cells.

    The gains of every focal method over its baseline on every dataset (:func:`hmc.rare_evidence.recall_gains`),
    one row per training-frequency bucket, the unbounded gains (baseline recall 0, method's > 0) included.
    """
    cols = ["bucket", "finite gains", "largest finite gain", "where", "unbounded", "undefined (0/0)",
            "cells with baseline recall 0", "reaches the factor"]
    if t03 is None:
        return pd.DataFrame(columns=cols)
    configs = _configs(t03)
    present = set(configs)
    by_base: dict[str, list[str]] = {}
    for m, c in configs.items():
        if _is_focal(c) and (base := _baseline_of(c, present)) is not None:
            by_base.setdefault(base, []).append(m)
    if not by_base:
        return pd.DataFrame(columns=cols)
    gains = pd.concat([recall_gains(t03, b, ms, key="freq") for b, ms in by_base.items()], ignore_index=True)
    gains = gains.assign(gain=gains.gain.astype(float))
    rows = []
    for b in buckets:
        g = gains[gains.group == b]
        if g.empty:
            continue
        fin = g[np.isfinite(g.gain)]
        top = fin.loc[fin.gain.idxmax()] if len(fin) else None
        zero_cells = g[g.baseline_value.astype(float) == 0].drop_duplicates(["dataset"]).dataset.tolist()
        rows.append({"bucket": b, "finite gains": len(fin),
                     "largest finite gain": float(top.gain) if top is not None else math.nan,
                     "where": f"{top.method} on {top.dataset}" if top is not None else "-",
                     "unbounded": int(np.isinf(g.gain).sum()), "undefined (0/0)": int(g.gain.isna().sum()),
                     "cells with baseline recall 0": ", ".join(zero_cells) or "-",
                     "reaches the factor": bool(top is not None and top.gain >= RECALL_FACTOR)})
    return pd.DataFrame(rows, columns=cols)


if __doc__:  # None under python -OO
    __doc__ += ("\nConventions of every rule\n-------------------------\n"
                + "\n".join(f"- {text}" for text in RULE_CONVENTIONS)
                + "\n\nVerdict rules\n-------------\n"
                + "\n".join(f"- Claim {k}. {rule}" for k, rule in VERDICT_RULES.items()) + "\n")
