"""HCAL's claims scorecard and tables on hand-made tidy tables: every verdict branch of every claim,
missing methods, the protocol choice, level_table and weight_balance against hand computations.

The tables are built to pass every gate (30 epochs, 3 seeds, real dataset names, a test design of 1000
images with accuracies far above chance), so the verdicts are the rules' own; the gates themselves are
tested at their edges in ``tests/test_claims.py`` and at the end of this file."""

import dataclasses
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import hmc.hcal_evidence as ev
import hmc.scorecard
from hmc.claims.design import ImageDesign
from hmc.hcal_evidence import (
    HCAL_CLAIMS,
    HCAL_VERDICT_RULES,
    SCORECARD_COLUMNS,
    VERDICTS,
    baseline_comparisons,
    hcal_scorecard,
    level_table,
    verdict_protocols,
    weight_balance,
)
from hmc.image_train import RESULT_COLUMNS, ImageRunConfig, ImageRunResult, history_columns, result_rows

SEEDS = 3
PROTOCOLS = ("authors", "last", "validation")
SETTINGS = {"epoch": 1, "epochs": 30, "batch_size": 32, "schedule": "constant", "image_size": 32,
            "pretrained_used": False, "device": "cpu", "wall_time_s": 1.0}


def tidy(spec, seeds=SEEDS, protocols=PROTOCOLS):
    """Rows with RESULT_COLUMNS from {(dataset, method): {metric: value}}.

    Seed s of the i-th method gets ``value + 0.001 * (1 + i) * (s - (seeds - 1) / 2)``: the seed mean is
    the value, and paired differences between methods differ from seed to seed.
    """
    rows = []
    methods = list(dict.fromkeys(m for _, m in spec))
    for (dataset, method), metrics in spec.items():
        slope = 0.001 * (1 + methods.index(method))
        for protocol in protocols:
            for seed in range(seeds):
                for metric, value in metrics.items():
                    rows.append({"dataset": dataset, "method": method, "seed": seed, "protocol": protocol,
                                 "metric": metric, "value": value + slope * (seed - (seeds - 1) / 2), **SETTINGS})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def row(card, claim):
    return card.set_index("claim").loc[claim]


N_TEST = 1000
DESIGN = {d: ImageDesign(d, N_TEST, {"acc_fine": 100, "acc_coarse": 10}) for d in ("d", "e", "t")}
"""Chance 0.01 (fine) and 0.1 (coarse) over 1000 test images: every accuracy of the tables is far above it."""


def score(table, history=None, **kw):
    """The scorecard with the test design of the hand-made datasets."""
    return hcal_scorecard(table, history, design=kw.pop("design", DESIGN), **kw)


# ------------------------------------------------------------------------------------- structure
def test_scorecard_structure_and_rules_in_the_docstring():
    assert VERDICTS is hmc.scorecard.VERDICTS
    card = score(tidy({("d", "hcal"): {"acc_fine": 0.5}, ("d", "flat"): {"acc_fine": 0.4}}))
    assert list(card.columns) == list(SCORECARD_COLUMNS)
    assert list(SCORECARD_COLUMNS[:6]) == ["claim", "statement", "evidence", "test", "rule", "verdict"]
    assert card.claim.tolist() == [1, 2, 3, 4, 5]
    assert card.statement.tolist() == [HCAL_CLAIMS[k] for k in range(1, 6)]
    assert card.rule.tolist() == [HCAL_VERDICT_RULES[k] for k in range(1, 6)]
    assert set(card.verdict) <= set(VERDICTS)
    for k in range(1, 6):
        assert HCAL_VERDICT_RULES[k] in ev.__doc__


# ------------------------------------------------------------------------------------- claim 1
BASE_ACC = {("d", "flat"): {"acc_fine": 0.50, "acc_coarse": 0.70, "hvr": 0.10, "full_path": 0.45},
            ("d", "mmoe"): {"acc_fine": 0.55, "acc_coarse": 0.75, "hvr": 0.20, "full_path": 0.50}}


def claim1_table(fine, coarse, hvr=0.05, seeds=SEEDS):
    # full_path of hcal is always the worst: it must not count as a level
    return tidy({**BASE_ACC, ("d", "hcal"): {"acc_fine": fine, "acc_coarse": coarse, "hvr": hvr, "full_path": 0.1}},
                seeds)


@pytest.mark.parametrize("fine, coarse, expected, good", [
    (0.60, 0.80, "reproduced", 4),      # +0.10 +0.05 / +0.10 +0.05
    (0.60, 0.60, "partly", 2),          # exactly half above
    (0.60, 0.72, "partly", 3),
    (0.52, 0.60, "not reproduced", 1),  # +0.02 -0.03 / -0.10 -0.15
    (0.40, 0.60, "not reproduced", 0),
])
def test_claim1_verdicts(fine, coarse, expected, good):
    r = row(score(claim1_table(fine, coarse)), 1)
    assert r.verdict == expected, r.evidence
    assert f"{good} of 4 differences" in r.evidence
    assert f"d acc_fine: flat {fine - 0.50:+.4f}, mmoe {fine - 0.55:+.4f}" in r.evidence
    assert f"d acc_coarse: flat {coarse - 0.70:+.4f}, mmoe {coarse - 0.75:+.4f}" in r.evidence
    assert "full_path" not in r.evidence
    assert "3 paired seeds" in r.evidence and "no significance test is possible" in r.evidence
    assert "protocol validation" in r.evidence


def test_claim1_with_enough_seeds_gives_holm_adjusted_wilcoxon():
    seeds = 6
    table = tidy({**BASE_ACC, ("d", "hcal"): {"acc_fine": 0.60, "acc_coarse": 0.70, "hvr": 0.05}}, seeds)
    comps = baseline_comparisons(table, "accuracy")
    assert comps[["metric", "baseline"]].values.tolist() == [["acc_fine", "flat"], ["acc_fine", "mmoe"],
                                                             ["acc_coarse", "flat"], ["acc_coarse", "mmoe"]]
    # by hand: paired differences per seed, scipy's Wilcoxon, statsmodels' Holm over the four
    val = table[table.protocol == "validation"]
    raw = []
    for metric, base in comps[["metric", "baseline"]].values:
        h = val[(val.method == "hcal") & (val.metric == metric)].set_index("seed").value
        b = val[(val.method == base) & (val.metric == metric)].set_index("seed").value
        d = (h - b).to_numpy()
        raw.append(1.0 if np.all(d == 0) else stats.wilcoxon(d).pvalue)
    assert comps.n.tolist() == [seeds] * 4
    assert np.allclose(comps.p, raw)
    assert np.allclose(comps.p_holm, multipletests(raw, method="holm")[1])
    assert 0 < min(raw) < max(raw)  # the coarse comparison with flat has mixed signs
    r = row(score(table), 1)
    assert r.verdict == "partly"  # acc_coarse vs flat: 0.00 is not > 0, vs mmoe -0.05
    for p in comps.p_holm:
        assert f"(p_holm {p:.3g})" in r.evidence
    assert "Holm over the 4 tested comparisons" in r.evidence and "not possible" not in r.evidence


# ------------------------------------------------------------------------------------- claim 2
@pytest.mark.parametrize("hvr, expected", [(0.05, "reproduced"), (0.15, "partly"), (0.25, "not reproduced")])
def test_claim2_verdicts(hvr, expected):
    r = row(score(claim1_table(0.6, 0.8, hvr=hvr)), 2)
    assert r.verdict == expected, r.evidence
    assert f"d hvr: flat {hvr - 0.10:+.4f}, mmoe {hvr - 0.20:+.4f}" in r.evidence
    assert "are < 0" in r.evidence


def test_claims_1_2_not_tested_without_hcal_or_baselines():
    only_baselines = tidy(BASE_ACC)
    card = score(only_baselines)
    assert (card.verdict == "not tested here").all()
    assert "no hcal results" in row(card, 1).evidence
    only_hcal = tidy({("d", "hcal"): {"acc_fine": 0.5, "hvr": 0.1}, ("d", "hcal-equal"): {"acc_fine": 0.4}})
    card = score(only_hcal)
    assert row(card, 1).verdict == row(card, 2).verdict == "not tested here"
    assert "no baseline results" in row(card, 2).evidence
    apart = tidy({("d", "hcal"): {"acc_fine": 0.5, "hvr": 0.1}, ("e", "flat"): {"acc_fine": 0.4, "hvr": 0.2}})
    card = score(apart)
    assert row(card, 1).verdict == row(card, 2).verdict == "not tested here"
    assert "share no dataset" in row(card, 1).evidence
    assert baseline_comparisons(apart).empty
    assert (score(tidy({})).verdict == "not tested here").all()


# ------------------------------------------------------------------------------------- claim 3
def claim3_table(hcal, equal):
    return tidy({("d", "hcal"): {"acc_fine": hcal[0], "acc_coarse": hcal[1]},
                 ("d", "hcal-equal"): {"acc_fine": equal[0], "acc_coarse": equal[1]}})


@pytest.mark.parametrize("hcal, equal, expected", [
    ((0.70, 0.80), (0.60, 0.85), "reproduced"),      # worst 0.70 > 0.60; mean 0.75 >= 0.725
    ((0.65, 0.70), (0.60, 0.90), "partly"),          # worst higher, mean 0.675 < 0.75
    ((0.50, 0.95), (0.60, 0.80), "partly"),          # worst 0.50 < 0.60, mean 0.725 >= 0.70
    ((0.50, 0.70), (0.60, 0.80), "not reproduced"),
])
def test_claim3_verdicts(hcal, equal, expected):
    r = row(score(claim3_table(hcal, equal)), 3)
    assert r.verdict == expected, r.evidence
    worst_h = "acc_fine" if hcal[0] < hcal[1] else "acc_coarse"
    assert f"worst level hcal {worst_h} {min(hcal):.4f} vs hcal-equal acc_fine {min(equal):.4f}" in r.evidence
    assert f"mean over levels {np.mean(hcal):.4f} vs {np.mean(equal):.4f}" in r.evidence
    assert "no history given" in r.evidence


def test_claim3_mean_not_lower_counts_a_tie_and_every_dataset_must_hold():
    # one seed, exact values: the means tie (0.75 = 0.75) and the worst level is higher
    tie = tidy({("d", "hcal"): {"acc_fine": 0.5, "acc_coarse": 1.0},
                ("d", "hcal-equal"): {"acc_fine": 0.25, "acc_coarse": 1.25}}, seeds=1)
    r = row(score(tie), 3)
    assert r.rule_verdict == "reproduced"  # the rule alone; one seed and a tie decide nothing:
    assert r.verdict == "inconclusive" and "budget" in r.reasons and "resolution" in r.reasons
    # second dataset where the worst level is lower with hcal: (a) fails there, so only (b) holds overall
    two = pd.concat([claim3_table((0.70, 0.80), (0.60, 0.85)),
                     tidy({("e", "hcal"): {"acc_fine": 0.50, "acc_coarse": 0.95},
                           ("e", "hcal-equal"): {"acc_fine": 0.60, "acc_coarse": 0.80}})], ignore_index=True)
    r = row(score(two), 3)
    assert r.verdict == "partly" and "on 1 of 2 datasets" in r.evidence


def test_claim3_a_tie_of_the_worst_levels_is_not_higher():
    r = row(score(claim3_table((0.60, 0.90), (0.60, 0.80))), 3)  # worst levels tie at 0.60; mean higher
    assert r.rule_verdict == "partly"  # (a) fails on the tie, (b) holds
    assert r.verdict == "inconclusive" and "d worst level: +0.0000 is at most one test sample" in r.reasons


def test_claim3_quotes_final_level_weights_of_hcal():
    history = hand_history()
    r = row(score(claim3_table((0.70, 0.80), (0.60, 0.85)), history), 3)
    assert r.verdict == "reproduced"
    # final epoch (2), seeds 0 and 1: (0.2, 0.8) and (0.4, 0.6) -> mean 0.3 / 0.7
    balance = np.mean([entropy_balance([0.2, 0.8]), entropy_balance([0.4, 0.6])])
    assert f"d: 0.300/0.700 (largest mean share 0.700 at level 1, balance {balance:.3f}; 2 seed(s))" in r.evidence


def test_claims_3_to_5_not_tested_without_their_ablation():
    card = score(claim1_table(0.6, 0.8))  # hcal and baselines only
    for k in (3, 4, 5):
        assert row(card, k).verdict == "not tested here"
    assert "hcal-equal" in row(card, 3).evidence
    assert "hcal-noperturb" in row(card, 4).evidence
    assert "hcal-noagg" in row(card, 5).evidence


# ------------------------------------------------------------------------------------- claim 4
def claim4_table(d_fine, d_coarse, e_fine, e_coarse):
    """hcal - hcal-noperturb differences per dataset and level."""
    base = {"acc_fine": 0.5, "acc_coarse": 0.7}
    return tidy({("d", "hcal"): {"acc_fine": 0.5 + d_fine, "acc_coarse": 0.7 + d_coarse},
                 ("d", "hcal-noperturb"): base,
                 ("e", "hcal"): {"acc_fine": 0.5 + e_fine, "acc_coarse": 0.7 + e_coarse},
                 ("e", "hcal-noperturb"): base})


@pytest.mark.parametrize("diffs, expected", [
    ((0.02, 0.01, 0.03, 0.01), "reproduced"),
    ((0.02, -0.01, 0.03, 0.01), "partly"),        # one level lower, grand mean +0.0125
    ((0.02, -0.05, 0.01, -0.03), "not reproduced"),  # grand mean -0.0125
])
def test_claim4_verdicts(diffs, expected):
    r = row(score(claim4_table(*diffs)), 4)
    assert r.verdict == expected, r.evidence
    assert f"d: acc_fine {diffs[0]:+.4f}, acc_coarse {diffs[1]:+.4f}" in r.evidence
    assert f"mean over levels {np.mean(diffs):+.4f}" in r.evidence
    assert "robustness (accuracy under input noise) not measured for both methods" in r.evidence


@pytest.mark.parametrize("robust_diffs, expected", [
    ((0.03, 0.01), "reproduced"),   # clean accuracy and both noise strengths higher with hcal
    ((0.03, -0.02), "partly"),      # lower under the stronger noise: not every check; the clean mean is higher
])
def test_claim4_counts_robustness_at_each_noise_strength(robust_diffs, expected):
    table = claim4_table(0.02, 0.01, 0.03, 0.01)
    base = {"robust_acc_fine@0.1": 0.3, "robust_acc_coarse@0.1": 0.5, "robust_acc_fine@0.2": 0.2,
            "robust_acc_coarse@0.2": 0.4}
    lift = {"robust_acc_fine@0.1": robust_diffs[0], "robust_acc_coarse@0.1": robust_diffs[0],
            "robust_acc_fine@0.2": robust_diffs[1], "robust_acc_coarse@0.2": robust_diffs[1]}
    noisy = tidy({("d", "hcal"): {k: v + lift[k] for k, v in base.items()}, ("d", "hcal-noperturb"): base},
                 protocols=("last",))
    r = row(score(pd.concat([table, noisy], ignore_index=True)), 4)
    assert r.verdict == expected, r.evidence
    # the mean over levels of the seed-mean differences, per sigma, by hand
    assert f"d: sigma 0.1 {robust_diffs[0]:+.4f}, sigma 0.2 {robust_diffs[1]:+.4f}" in r.evidence
    assert f"higher at {sum(v > 0 for v in robust_diffs)} of 2 (dataset, sigma) pairs" in r.evidence


# ------------------------------------------------------------------------------------- claim 5
def claim5_table(d_diff, e_diff, protocols=PROTOCOLS):
    return tidy({("d", "hcal"): {"hvr": 0.2 + d_diff}, ("d", "hcal-noagg"): {"hvr": 0.2},
                 ("e", "hcal"): {"hvr": 0.3 + e_diff}, ("e", "hcal-noagg"): {"hvr": 0.3}}, protocols=protocols)


@pytest.mark.parametrize("d_diff, e_diff, expected", [
    (-0.10, -0.05, "reproduced"),
    (-0.10, 0.05, "partly"),         # mean -0.025
    (-0.05, 0.10, "not reproduced"),  # mean +0.025
    (0.0, 0.0, "inconclusive"),      # a tie is not lower, but a difference of 0 test samples decides nothing
])
def test_claim5_verdicts(d_diff, e_diff, expected):
    r = row(score(claim5_table(d_diff, e_diff)), 5)
    assert r.verdict == expected, r.evidence
    if expected == "inconclusive":
        assert r.rule_verdict == "not reproduced" and "resolution" in r.reasons
    assert f"d {d_diff:+.4f} ({0.2 + d_diff:.4f} vs 0.2000)" in r.evidence
    assert f"mean over datasets {(d_diff + e_diff) / 2:+.4f}" in r.evidence


# ------------------------------------------------------------------------------------- protocols
def test_verdicts_use_validation_else_last_never_the_authors_protocol():
    table = pd.concat([claim5_table(-0.10, -0.05, ("validation",)),   # reproduced
                       claim5_table(-0.05, 0.10, ("last",)),          # not reproduced
                       claim5_table(-0.10, 0.05, ("authors",))],      # partly
                      ignore_index=True)
    assert verdict_protocols(table) == {"d": "validation", "e": "validation"}
    r = row(score(table), 5)
    assert r.verdict == "reproduced" and "protocol validation" in r.evidence
    assert row(score(table, protocol="last"), 5).verdict == "not reproduced"
    no_val = table[table.protocol != "validation"]
    assert verdict_protocols(no_val) == {"d": "last", "e": "last"}
    assert row(score(no_val), 5).verdict == "not reproduced"
    with pytest.raises(ValueError, match="never"):
        score(table, protocol="authors")
    with pytest.raises(ValueError, match="protocol must be one of"):
        score(table, protocol="test")
    with pytest.raises(ValueError, match="no result row"):
        score(no_val, protocol="validation")


def test_protocol_is_chosen_per_dataset_and_needs_every_run():
    table = pd.concat([claim5_table(-0.10, -0.05, ("validation",)), claim5_table(0.05, 0.05, ("last",))],
                      ignore_index=True)
    # dataset e loses its validation rows; on d one seed of hcal-noagg loses them
    table = table[~((table.dataset == "e") & (table.protocol == "validation"))]
    assert verdict_protocols(table) == {"d": "validation", "e": "last"}
    r = row(score(table), 5)
    assert "protocols validation (d), last (e)" in r.evidence
    assert r.verdict == "partly"  # d -0.10 (validation), e +0.05 (last): mean -0.025
    assert "d -0.1000" in r.evidence and "e +0.0500" in r.evidence
    partial = table[~((table.dataset == "d") & (table.method == "hcal-noagg") & (table.seed == 0)
                      & (table.protocol == "validation"))]
    assert verdict_protocols(partial) == {"d": "last", "e": "last"}


# ------------------------------------------------------------------------------------- tables
def test_level_table_is_mean_and_sample_std_over_seeds():
    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("d", "e"):
        for method in ("hcal", "flat"):
            for seed in range(4 if method == "hcal" else 1):
                for protocol in PROTOCOLS:
                    for metric in ("acc_fine", "acc_coarse", "hvr"):
                        rows.append({"dataset": dataset, "method": method, "seed": seed, "protocol": protocol,
                                     "metric": metric, "value": float(rng.random()), **SETTINGS})
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for protocol in ("authors", "validation"):
        out = level_table(table, protocol)
        assert list(out.columns) == ["dataset", "method", "metric", "protocol", "mean", "std", "n_seeds"]
        assert len(out) == 2 * 2 * 3 and (out.protocol == protocol).all()
        for r in out.itertuples():
            values = [x["value"] for x in rows if (x["dataset"], x["method"], x["metric"], x["protocol"])
                      == (r.dataset, r.method, r.metric, protocol)]
            assert r.n_seeds == len(values)
            assert r.mean == pytest.approx(statistics.mean(values), abs=1e-15)
            if len(values) > 1:
                assert r.std == pytest.approx(statistics.stdev(values), abs=1e-15)
            else:
                assert np.isnan(r.std)
    with pytest.raises(ValueError, match="protocol must be one of"):
        level_table(table, "best")
    with pytest.raises(ValueError, match="no result row"):
        level_table(table[table.protocol == "last"], "authors")
    with pytest.raises(ValueError, match="several rows"):
        level_table(pd.concat([table, table.iloc[:1]]), "authors")
    with pytest.raises(ValueError, match="lack the columns"):
        level_table(table.drop(columns="protocol"), "last")


def entropy_balance(w):
    s = [x / sum(w) for x in w]
    return -sum(x * math.log(x) for x in s if x > 0) / math.log(len(w))


def hand_history():
    """History rows as run_image_sweep writes them: hcal on d (2 seeds, 2 epochs, 2 levels),
    flat on t (3 levels), mmoe on d, and an hcal-equal run with all weight on level 1."""
    rows = []

    def add(dataset, method, seed, epoch, weights, val_weights=None, m=2):
        for split, w in (("test", weights), ("val", val_weights or weights)):
            r = {"dataset": dataset, "method": method, "seed": seed, "epoch": epoch, "split": split}
            for k in range(m):
                r |= {f"acc_{k}": 0.5, f"loss_{k}": 1.0, f"weight_{k}": w[k]}
            rows.append(r | {"full_path": 0.4, "hvr": 0.1, "consistent_full_path": 0.45})

    add("d", "hcal", 0, 1, (0.5, 0.5), val_weights=(0.9, 0.1))  # val rows must be ignored
    add("d", "hcal", 0, 2, (0.2, 0.8), val_weights=(0.9, 0.1))
    add("d", "hcal", 1, 1, (0.45, 0.55))
    add("d", "hcal", 1, 2, (0.4, 0.6))
    add("t", "flat", 0, 1, (1 / 3, 1 / 3, 1 / 3), m=3)
    add("d", "mmoe", 0, 1, (1.0, 1.0))
    add("d", "hcal-equal", 0, 1, (0.0, 1.0))
    columns = ["dataset", "method", "seed", *history_columns(3)]
    return pd.DataFrame(rows).reindex(columns=columns)


def test_weight_balance_on_a_hand_made_history():
    out = weight_balance(hand_history())
    assert list(out.columns) == ["dataset", "method", "seed", "epoch", "weight_0", "weight_1", "weight_2",
                                 "share_0", "share_1", "share_2", "max_share", "dominant_level", "balance"]
    expected = [  # (method, seed, epoch, weights, max share, dominant level)
        ("hcal", 0, 1, [0.5, 0.5], 0.5, 0),
        ("hcal", 0, 2, [0.2, 0.8], 0.8, 1),
        ("hcal", 1, 1, [0.45, 0.55], 0.55, 1),
        ("hcal", 1, 2, [0.4, 0.6], 0.6, 1),
        ("flat", 0, 1, [1 / 3] * 3, 1 / 3, 0),
        ("mmoe", 0, 1, [1.0, 1.0], 0.5, 0),
        ("hcal-equal", 0, 1, [0.0, 1.0], 1.0, 1),
    ]
    assert len(out) == len(expected)
    for r, (method, seed, epoch, w, top, dom) in zip(out.itertuples(), expected):
        assert (r.method, r.seed, r.epoch) == (method, seed, epoch)
        shares = [x / sum(w) for x in w]
        got = [r.share_0, r.share_1, r.share_2][: len(w)]
        assert got == pytest.approx(shares, abs=1e-12)
        assert r.max_share == pytest.approx(top, abs=1e-12) and r.dominant_level == dom
        assert r.balance == pytest.approx(entropy_balance(w), abs=1e-12)
        if len(w) == 2:
            assert np.isnan(r.weight_2) and np.isnan(r.share_2)
    assert out.balance.iloc[-1] == 0.0 and out.balance.iloc[4] == pytest.approx(1.0)
    last = weight_balance(hand_history(), last_epoch_only=True)
    assert list(zip(last.method, last.seed, last.epoch)) == [("hcal", 0, 2), ("hcal", 1, 2), ("flat", 0, 1),
                                                             ("mmoe", 0, 1), ("hcal-equal", 0, 1)]
    bad = hand_history()
    bad.loc[0, "weight_0"] = -0.1
    with pytest.raises(ValueError, match="negative"):
        weight_balance(bad)
    with pytest.raises(ValueError, match="lacks the columns"):
        weight_balance(hand_history().drop(columns="split"))


# ------------------------------------------------------------------------------------- real column names
def _run_result(acc, hvr):
    """An ImageRunResult with a 2-epoch hand-written history (test and val rows) of 2 levels."""
    records = []
    for epoch in (1, 2):
        for split in ("test", "val"):
            records.append({"epoch": epoch, "split": split, "acc_0": acc[0] * epoch / 2, "acc_1": acc[1] * epoch / 2,
                            "full_path": 0.3, "hvr": hvr, "consistent_full_path": 0.3, "loss_0": 1.0,
                            "loss_1": 1.0, "weight_0": 0.4, "weight_1": 0.6})
    return ImageRunResult(history=pd.DataFrame(records, columns=history_columns(2)),
                          config=ImageRunConfig("hcal", 2, device="cpu"), pretrained_used=False, device="cpu",
                          wall_time_s=1.0, level_names=("fine", "coarse"), image_size=32)


def test_scorecard_reads_result_rows_of_the_trainer():
    runs = {("hcal", 0): ((0.8, 0.9), 0.05), ("hcal", 1): ((0.82, 0.88), 0.07),
            ("flat", 0): ((0.7, 0.95), 0.10), ("flat", 1): ((0.72, 0.93), 0.12)}
    results = pd.concat([result_rows("synthetic", m, s, _run_result(*v)) for (m, s), v in runs.items()],
                        ignore_index=True)
    card = score(results)
    r1, r2 = row(card, 1), row(card, 2)
    # validation protocol picks epoch 2: acc_fine +0.10, acc_coarse -0.05; hvr 0.06 vs 0.11
    assert r1.rule_verdict == "partly" and "synthetic acc_fine: flat +0.1000" in r1.evidence
    assert "synthetic acc_coarse: flat -0.0500" in r1.evidence
    assert r2.rule_verdict == "reproduced" and "synthetic hvr: flat -0.0500" in r2.evidence
    # 2 epochs, 2 seeds, synthetic data, no test design: nothing is decided, and the reasons say why
    for r in (r1, r2):
        assert r.verdict == "inconclusive"
        assert "2 epochs, under the 30 required" in r.reasons and "synthetic data" in r.reasons
        assert "chance level or test size unknown" in r.reasons
    table = level_table(results, "validation").set_index(["method", "metric"])
    assert table.loc[("hcal", "acc_fine"), "mean"] == pytest.approx(0.81)
    assert table.loc[("hcal", "acc_fine"), "std"] == pytest.approx(statistics.stdev([0.8, 0.82]))


def test_claim3_mean_tie_that_differs_in_the_last_bit_counts_as_not_lower():
    # mean(0.15, 0.15) = 0.15 but mean(0.1, 0.2) = 0.15000000000000002: equal means one rounding
    # step apart (as in a quick run); worst level 0.15 > 0.1, so (a) and (b) hold: "reproduced"
    assert np.mean([0.15, 0.15]) < np.mean([0.1, 0.2])
    tie = tidy({("d", "hcal"): {"acc_fine": 0.15, "acc_coarse": 0.15},
                ("d", "hcal-equal"): {"acc_fine": 0.1, "acc_coarse": 0.2}}, seeds=1)
    r = row(score(tie), 3)
    assert r.rule_verdict == "reproduced", r.evidence
    assert r.verdict == "inconclusive"  # one seed; and a tie of means is within one test sample


# ------------------------------------------------------------------------------------- gates
def test_one_test_image_out_of_75_decides_nothing():
    """The quick run's claim 4: +0.0133 on 75 test images is one image; the resolution gate fires."""
    design = {"o": ImageDesign("o", 75, {"acc_fine": 15, "acc_coarse": 3})}
    base = {"acc_fine": 30 / 75, "acc_coarse": 60 / 75}
    one_image = tidy({("o", "hcal"): {"acc_fine": 31 / 75, "acc_coarse": 61 / 75}, ("o", "hcal-noperturb"): base})
    r = row(score(one_image, design=design), 4)
    assert r.rule_verdict == "reproduced" and r.verdict == "inconclusive"
    assert "+0.0133 is at most one test sample (1/75 = 0.0133)" in r.reasons
    two_images = tidy({("o", "hcal"): {"acc_fine": 32 / 75, "acc_coarse": 62 / 75}, ("o", "hcal-noperturb"): base})
    assert row(score(two_images, design=design), 4).verdict == "reproduced"


@pytest.mark.parametrize("fine, decided", [(0.01, False), (0.02, False), (0.03, True), (0.5, True)])
def test_chance_gate_needs_accuracy_above_chance_by_a_binomial_test(fine, decided):
    """Chance is 1 / 100 on 1000 test images: 10 right is chance, 20 right has p 0.003 but the baseline is
    at 0.01 there, 30 right against a baseline also above chance decides."""
    base = {("d", "flat"): {"acc_fine": max(fine - 0.005, 0.01) if fine > 0.02 else 0.01, "acc_coarse": 0.7}}
    t = tidy({**base, ("d", "hcal"): {"acc_fine": fine, "acc_coarse": 0.8}})
    r = row(score(t), 1)
    if decided:
        assert "chance" not in r.reasons
    else:
        assert r.verdict == "inconclusive" and "at chance" in r.reasons


@pytest.mark.parametrize("epochs, seeds, dataset, decided", [
    (30, 3, "d", True), (29, 3, "d", False), (30, 2, "d", False), (100, 5, "d", True), (30, 3, "synthetic", False),
])
def test_budget_gate_of_the_hcal_rules(epochs, seeds, dataset, decided, monkeypatch):
    t = claim5_table(-0.10, -0.05).replace({"dataset": {"d": dataset}})
    t = t[t.seed < seeds].assign(epochs=epochs)
    design = {**DESIGN, "synthetic": ImageDesign("synthetic", N_TEST, {"acc_fine": 100, "acc_coarse": 10},
                                                 synthetic=True)}
    # the HVR comparisons need the level accuracies for the chance gate
    accs = t[t.metric == "hvr"].assign(metric="acc_fine", value=0.5)
    r = row(score(pd.concat([t, accs], ignore_index=True), design=design), 5)
    assert r.rule_verdict == "reproduced"
    assert r.verdict == ("reproduced" if decided else "inconclusive"), r.reasons
    if not decided:
        assert "budget" in r.reasons


def test_claim1_several_baselines_an_undecided_comparison_that_cannot_change_the_verdict():
    # 3 of 4 comparisons decided in hcal's favour, the 4th within one test sample: "partly" or "reproduced"
    t = claim1_table(0.60, 0.7505)  # coarse vs flat +0.0505, vs mmoe +0.0005 (< 1/1000)
    r = row(score(t), 1)
    assert r.verdict == "inconclusive" and r.rule_verdict == "reproduced"
    assert r.span == "partly to reproduced" and "resolution: 1 of 4 comparisons" in r.reasons
    # 3 of 4 decided against, 1 undecided: at best 1 of 4 (< half), so "not reproduced" either way
    t = claim1_table(0.4, 0.7005)
    r = row(score(t), 1)
    assert r.rule_verdict == "not reproduced" and r.verdict == "not reproduced", r.reasons


def test_a_baseline_the_design_trains_without_results_leaves_its_comparisons_undecided():
    design = {d: dataclasses.replace(x, methods=("hcal", "flat", "mmoe", "chmcnn")) for d, x in DESIGN.items()}
    # flat and mmoe: 4 of 4 differences favour hcal; chmcnn's two may go either way: 4 of 6 (partly) to 6 of 6
    r = row(score(claim1_table(0.60, 0.80), design=design), 1)
    assert r.verdict == "inconclusive" and r.span == "partly to reproduced", r.reasons
    assert "coverage: 2 of 6 comparisons (d: chmcnn has no finished unit" in r.reasons
    # claim 2: hcal's HVR 0.25 is above flat's and mmoe's; with chmcnn's at best 1 of 3 (< half): decided
    r = row(score(claim1_table(0.6, 0.8, hvr=0.25), design=design), 2)
    assert r.verdict == "not reproduced", r.reasons
    # a design that does not train chmcnn, or one not known: only the baselines with results count
    assert row(score(claim1_table(0.60, 0.80)), 1).verdict == "reproduced"
    no_chmcnn = {d: dataclasses.replace(x, methods=("hcal", "flat", "mmoe")) for d, x in DESIGN.items()}
    assert row(score(claim1_table(0.60, 0.80), design=no_chmcnn), 1).verdict == "reproduced"


def test_partly_share_is_a_free_choice_with_its_sensitivity_table():
    t = claim1_table(0.60, 0.72)  # 3 of 4 differences > 0
    table = ev.hcal_sensitivity(t, 1, design=DESIGN).set_index("alternative")
    assert table.loc["half", "verdict"] == "partly" and table.loc["two thirds", "verdict"] == "partly"
    t = claim1_table(0.60, 0.60)  # 2 of 4
    table = ev.hcal_sensitivity(t, 1, design=DESIGN).set_index("alternative")
    assert table.loc["half", "verdict"] == "partly"
    assert table.loc["two thirds", "verdict"] == "not reproduced" and bool(table.loc["two thirds", "flips"])
    assert "authors' (best epoch on the test set; not allowed for a verdict)" in table.index


def test_strength_and_paper_figure_of_an_hcal_verdict():
    r = row(score(claim1_table(0.60, 0.80)), 1)
    assert r.data == "real: d" and r.seeds == "3 of the paper's 3" and "30 epochs" in r.epochs
    assert r.estimate == pytest.approx(np.mean([0.10, 0.05, 0.10, 0.05]))
    assert r.ci_over == "3 (dataset, seed) pairs" and r.ci_low <= r.estimate <= r.ci_high
    assert "secondary source" in r.paper and "+5.0 to +10.0 points" in r.ours
    assert r.min_p == pytest.approx(0.25)


def test_a_backbone_other_than_the_papers_is_named_in_every_verdict():
    table = claim4_table(0.02, 0.01, 0.03, 0.01)
    card = score(table.assign(backbone="conv4-w64"))
    assert card["ours"].str.endswith("(on conv4-w64: not the paper's ResNet-18)").all()
    assert not score(table.assign(backbone="resnet18"))["ours"].str.contains("ResNet").any()
