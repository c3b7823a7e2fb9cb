"""The claims scorecard on hand-made tidy tables: every verdict branch of every claim, and missing inputs."""

import numpy as np
import pandas as pd
import pytest

from hmc.scorecard import (
    CHAPTER_FILES,
    CLAIMS,
    RULE_CONVENTIONS,
    SCORECARD_COLUMNS,
    VERDICT_RULES,
    VERDICTS,
    Part,
    read_chapter_tables,
    scorecard,
    scorecard_from_results,
    verdict,
)

SEEDS = 8  # enough for a Wilcoxon test to reach 0.05 (smallest two-sided p 2 / 2**8)


def tidy(spec, seeds=SEEDS):
    """Tidy rows from {(dataset, method): {metric: value}}; seed s gets value + 0.001 * s * (1 + index of method).

    The per-seed slope differs between methods, so paired differences are distinct and non-zero.
    """
    rows = []
    methods = list(dict.fromkeys(m for _, m in spec))
    for (dataset, method), metrics in spec.items():
        slope = 0.001 * (1 + methods.index(method))
        for seed in range(seeds):
            for metric, value in metrics.items():
                rows.append({"dataset": dataset, "method": method, "seed": seed, "metric": metric,
                             "value": value + slope * seed})
    return pd.DataFrame(rows)


def row(card, claim):
    return card.set_index("claim").loc[claim]


# ------------------------------------------------------------------------------------- claim 1
def chapter03(gain, f1_up, datasets=("a_FUN", "b_FUN"), seeds=SEEDS):
    spec = {}
    for d in datasets:
        spec[(d, "baseline-H2")] = {"macro_f1": 0.10, "recall@freq=1-5": 0.05, "recall@freq=6-20": 0.2}
        spec[(d, "focal-bma-H2")] = {"macro_f1": 0.12 if f1_up else 0.08, "recall@freq=1-5": 0.05 * gain,
                                     "recall@freq=6-20": 0.2}
    return tidy(spec, seeds)


@pytest.mark.parametrize("gain, f1_up, expected", [
    (6.0, True, "reproduced"),
    (2.0, True, "partly"),
    (6.0, False, "partly"),
    (2.0, False, "not reproduced"),
])
def test_claim1_verdicts(gain, f1_up, expected):
    card = scorecard({"03": chapter03(gain, f1_up)})
    r = row(card, 1)
    assert r.verdict == expected, r.evidence
    assert "focal-bma-H2" in r.evidence


def test_claim1_gain_is_ratio_of_seed_means_and_ignores_infinite():
    t = chapter03(6.0, True)
    base = (t.method == "baseline-H2") & (t.metric == "recall@freq=6-20")
    t.loc[base, "value"] = 0.0  # baseline recall 0 in 6-20: infinite gain, not counted
    r = row(scorecard({"03": t}), 1)
    # seed means: focal 0.3 + 0.002 * 3.5, baseline 0.05 + 0.001 * 3.5
    assert f"{(0.3 + 0.007) / (0.05 + 0.0035):.2f}x" in r.evidence
    assert "2 infinite" in r.evidence


def test_claim1_too_few_seeds_leaves_significance_untested():
    r = row(scorecard({"03": chapter03(6.0, True, seeds=3)}), 1)
    assert r.verdict == "partly"  # the recall part holds, the significance part cannot be evaluated
    assert "not testable" in r.evidence


def test_claim1_not_tested():
    assert row(scorecard({}), 1).verdict == "not tested here"
    t = chapter03(6.0, True)
    r = row(scorecard({"03": t[t.method != "focal-bma-H2"]}), 1)
    assert r.verdict == "not tested here" and "no focal method" in r.evidence


# ------------------------------------------------------------------------------------- claim 2
def claim2_tables(bma_best, beats_imbalance, grows):
    spec = {}
    for d in ("a_FUN", "b_FUN", "c_GO"):
        spec[(d, "baseline-H2")] = {"macro_f1": 0.10}
        spec[(d, "imbalance-neg-H2")] = {"macro_f1": 0.13}
        spec[(d, "focal-bma-H2")] = {"macro_f1": (0.15 if beats_imbalance else 0.12) if bma_best else 0.11}
        spec[(d, "focal-js-H2")] = {"macro_f1": 0.115}
        spec[(d, "focal-kl-H2")] = {"macro_f1": 0.112}
    t04 = {}
    for d in ("a_FUN", "b_FUN"):
        t04[(d, "baseline-H2")] = {"macro_f1": 0.10}
        t04[(d, "baseline-H10")] = {"macro_f1": 0.10}
        t04[(d, "focal-bma-H2")] = {"macro_f1": 0.12}
        t04[(d, "focal-bma-H10")] = {"macro_f1": 0.15 if grows else 0.11}
    return tidy(spec), tidy(t04)


@pytest.mark.parametrize("bma_best, beats, grows, expected", [
    (True, True, True, "reproduced"),
    (True, False, False, "partly"),
    (False, False, True, "partly"),
    (False, False, False, "not reproduced"),
])
def test_claim2_verdicts(bma_best, beats, grows, expected):
    t03, t04 = claim2_tables(bma_best, beats, grows)
    r = row(scorecard({"03": t03, "04": t04}), 2)
    assert r.verdict == expected, r.evidence


def test_claim2_without_chapter04_is_at_most_partly():
    t03, _ = claim2_tables(True, True, True)
    r = row(scorecard({"03": t03}), 2)
    assert r.verdict == "partly"
    assert "chapter 04 missing" in r.evidence


def test_claim2_not_tested():
    r = row(scorecard({}), 2)
    assert r.verdict == "not tested here"
    assert CHAPTER_FILES["03"] in r.evidence


# ------------------------------------------------------------------------------------- claim 3
def chapter05_claim3(sched_below, mixed_best, datasets=("a_FUN", "b_FUN", "c_GO")):
    spec = {}
    for d in datasets:
        spec[(d, "baseline")] = {"macro_precision": 0.20, "macro_f1": 0.10}
        spec[(d, "imbalance-neg")] = {"macro_precision": 0.10, "macro_f1": 0.12}
        spec[(d, "sched-lin")] = {"macro_precision": 0.15 if sched_below else 0.25, "macro_f1": 0.11}
        # a global schedule above the baseline's precision does not count when a per-epoch one ran
        spec[(d, "sched-global-lin")] = {"macro_precision": 0.30, "macro_f1": 0.105}
        spec[(d, "mixed-0.5")] = {"macro_precision": 0.15, "macro_f1": 0.14 if mixed_best else 0.09}
        spec[(d, "lpros+imbalance-neg")] = {"macro_precision": 0.1, "macro_f1": 0.5}  # not in claim 3's race
    return tidy(spec)


@pytest.mark.parametrize("sched_below, mixed_best, expected", [
    (True, True, "reproduced"),
    (False, True, "partly"),
    (True, False, "partly"),
    (False, False, "not reproduced"),
])
def test_claim3_verdicts(sched_below, mixed_best, expected):
    r = row(scorecard({"05": chapter05_claim3(sched_below, mixed_best)}), 3)
    assert r.verdict == expected, r.evidence


def test_claim3_not_tested():
    r = row(scorecard({"03": chapter03(6.0, True)}), 3)
    assert r.verdict == "not tested here"
    assert CHAPTER_FILES["05"] in r.evidence


# ------------------------------------------------------------------------------------- claim 4
def claim4_tables(time_cut, memory_cut, f1_drop, memory_column="peak_alloc_bytes", per_dataset=True):
    spec = {}
    for d in ("a_FUN", "b_FUN"):
        spec[(d, "focal-bma-H5")] = {"macro_f1": 0.10}
        spec[(d, "mcdropout-bma-H5")] = {"macro_f1": 0.10 * (1 - f1_drop)}
        spec[(d, "baseline-H5")] = {"macro_f1": 0.09}
    t04 = tidy(spec, seeds=3)
    t04.loc[t04.method == "mcdropout-bma-H5", "value"] = 0.10 * (1 - f1_drop)  # no per-seed slope
    t04.loc[t04.method == "focal-bma-H5", "value"] = 0.10
    cost = []
    for d in ("a_FUN", "b_FUN") if per_dataset else (None,):
        cost.append({"dataset": d, "method": "focal-bma-H5", "ms_per_step": 100.0, memory_column: 1000.0})
        cost.append({"dataset": d, "method": "mcdropout-bma-H5", "ms_per_step": 100.0 * (1 - time_cut),
                     memory_column: 1000.0 * (1 - memory_cut)})
    cost = pd.DataFrame(cost)
    if not per_dataset:
        cost = cost.drop(columns="dataset")
    return t04, cost


@pytest.mark.parametrize("time_cut, memory_cut, f1_drop, expected", [
    (0.70, 0.65, 0.05, "reproduced"),
    (0.59, 0.57, 0.15, "reproduced"),  # within 10 points on the unfavourable side
    (0.20, 0.70, 0.05, "partly"),
    (0.10, 0.10, 0.50, "not reproduced"),
])
def test_claim4_verdicts(time_cut, memory_cut, f1_drop, expected):
    t04, cost = claim4_tables(time_cut, memory_cut, f1_drop)
    r = row(scorecard({"04": t04, "04_cost": cost}), 4)
    assert r.verdict == expected, r.evidence


def test_claim4_evidence_names_a_gain_in_f1_as_no_drop():
    r = row(scorecard(dict(zip(("04", "04_cost"), claim4_tables(0.70, 0.65, -0.25), strict=True))), 4)
    assert r.verdict == "reproduced"
    assert "no macro-F1 drop: MC-dropout's is 25.0% higher" in r.evidence, r.evidence
    r = row(scorecard(dict(zip(("04", "04_cost"), claim4_tables(0.70, 0.65, 0.05), strict=True))), 4)
    assert "relative macro-F1 drop 5.0%" in r.evidence, r.evidence


def test_claim4_rss_column_and_no_dataset_column():
    t04, cost = claim4_tables(0.70, 0.65, 0.05, memory_column="peak_rss_bytes", per_dataset=False)
    r = row(scorecard({"04": t04, "04_cost": cost}), 4)
    assert r.verdict == "reproduced"
    assert "peak_rss_bytes" in r.evidence and "70%" in r.evidence


def test_claim4_reads_chapter04_cost_columns_and_picks_the_best_h():
    # chapter 04 writes one row per (dataset, H, variant) with peak_alloc_mib, not bytes
    spec, cost = {}, []
    for h, (time_cut, mem_cut) in {2: (0.30, 0.40), 10: (0.70, 0.80)}.items():
        spec[("a_FUN", f"focal-gmu-H{h}")] = {"macro_f1": 0.10}
        spec[("a_FUN", f"mcdropout-gmu-H{h}")] = {"macro_f1": 0.099}
        for variant, method, cut_t, cut_m in (("ensemble", f"focal-gmu-H{h}", 0, 0),
                                              ("mc_dropout", f"mcdropout-gmu-H{h}", time_cut, mem_cut)):
            cost.append({"dataset": "a_FUN", "H": h, "variant": variant, "method": method,
                         "ms_per_step": 50.0 * (1 - cut_t), "peak_alloc_mib": 8.0 * (1 - cut_m),
                         "peak_rss_mib": 20.0, "train_wall_s": 1.0})
    r = row(scorecard({"04": tidy(spec, seeds=3), "04_cost": pd.DataFrame(cost)}), 4)
    assert r.verdict == "reproduced", r.evidence  # at H = 10 every part holds
    assert "at H=10" in r.evidence and "H=2: time 30%, memory 40%" in r.evidence
    assert "peak_alloc_mib" in r.evidence


def test_claim4_not_tested_and_partial_inputs():
    assert row(scorecard({}), 4).verdict == "not tested here"
    t04, cost = claim4_tables(0.70, 0.65, 0.05)
    r = row(scorecard({"04": t04}), 4)  # F1 part only: it holds, the cost parts are missing
    assert r.verdict == "partly"
    assert CHAPTER_FILES["04_cost"] in r.evidence


# ------------------------------------------------------------------------------------- claim 5
def chapter05_claim5(winners, beats, datasets=("a_FUN", "b_GO", "c_FUN", "d_GO")):
    """LPROS + weighted is best on the first `winners` datasets, above baseline and imbalance on the first `beats`."""
    spec = {}
    for i, d in enumerate(datasets):
        top = 0.30 if i < winners else 0.15 if i < beats else 0.05
        spec[(d, "baseline")] = {"macro_f1": 0.10}
        spec[(d, "imbalance-neg")] = {"macro_f1": 0.12}
        spec[(d, "mixed-0.5")] = {"macro_f1": 0.20}
        spec[(d, "lpros")] = {"macro_f1": 0.09}
        spec[(d, "lpros+imbalance-neg")] = {"macro_f1": top}
    return tidy(spec)


@pytest.mark.parametrize("winners, beats, expected", [
    (4, 4, "reproduced"),
    (3, 3, "reproduced"),  # 75% is "almost all"
    (2, 3, "partly"),
    (1, 2, "not reproduced"),
])
def test_claim5_verdicts(winners, beats, expected):
    r = row(scorecard({"05": chapter05_claim5(winners, beats)}), 5)
    assert r.verdict == expected, r.evidence
    assert "image chapters" in r.evidence


def test_claim5_not_tested():
    r = row(scorecard({"05": chapter05_claim5(4, 4, datasets=("synthetic",))}), 5)
    assert r.verdict == "not tested here" and "gene-product" in r.evidence
    t = chapter05_claim5(4, 4)
    r = row(scorecard({"05": t[t.method != "lpros+imbalance-neg"]}), 5)
    assert r.verdict == "not tested here" and "LPROS" in r.evidence
    assert row(scorecard({}), 5).verdict == "not tested here"


# ------------------------------------------------------------------------------------- the table
def test_claim6_and_table_shape():
    card = scorecard({})
    assert list(card.columns) == list(SCORECARD_COLUMNS)
    assert card.claim.tolist() == [1, 2, 3, 4, 5, 6]
    assert set(card.verdict) == {"not tested here"}
    assert "image chapters" in row(card, 6).evidence
    assert card.statement.tolist() == [CLAIMS[k] for k in range(1, 7)]
    assert card.rule.tolist() == [VERDICT_RULES[k] for k in range(1, 7)]
    assert set(card.verdict) <= set(VERDICTS)


def test_verdict_rule():
    def p(h):
        return Part("x", h, "")

    assert verdict([p(None), p(None)]) == "not tested here"
    assert verdict([p(True), p(True)]) == "reproduced"
    assert verdict([p(True), p(None)]) == "partly"
    assert verdict([p(True), p(False)]) == "partly"
    assert verdict([p(False), p(None)]) == "not reproduced"
    assert verdict([p(False), p(False)]) == "not reproduced"


def test_from_results_reads_the_profile_folder(tmp_path):
    folder = tmp_path / "quick"
    folder.mkdir()
    chapter05_claim3(True, True).to_csv(folder / CHAPTER_FILES["05"], index=False)
    (folder / CHAPTER_FILES["03"]).write_text("")  # an empty file counts as missing
    tables = read_chapter_tables(tmp_path, "quick")
    assert tables["03"] is None and tables["04"] is None and tables["05"] is not None
    card = scorecard_from_results(tmp_path, "quick")
    assert row(card, 3).verdict == "reproduced"
    assert row(card, 1).verdict == "not tested here"
    assert str(folder / CHAPTER_FILES["03"]) in row(card, 1).evidence
    assert np.all(card.sources.str.len() > 0)


def test_rules_are_in_the_module_docstring():
    import hmc.scorecard

    for text in (*RULE_CONVENTIONS, *VERDICT_RULES.values()):
        assert text in hmc.scorecard.__doc__
