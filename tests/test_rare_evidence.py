"""hmc.rare_evidence: chapter 03's method names, tests against scipy, recall gains by hand, the claims table."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hmc.rare_evidence import (
    chapter_methods,
    claims_evidence,
    dataset_means,
    friedman_over_datasets,
    min_wilcoxon_p,
    recall_gains,
    short_label,
    wilcoxon_across_datasets,
    wilcoxon_per_dataset,
)
from hmc.rare_nodes import RARE_METHODS, rare_config


def test_chapter_methods_are_canonical_registered_names():
    names = chapter_methods(2)
    assert list(names) == ["baseline", "imbalance-neg", "imbalance-pos", "focal-bbma", "focal-bma",
                           "focal-aleatoric", "focal-js", "focal-kl", "focal-gmu"]
    assert names["baseline"] == "baseline-H2" and names["focal-js"] == "focal-js-H2"
    assert all(n in RARE_METHODS for n in names.values())
    assert rare_config(names["imbalance-pos"]).weight_target == "positives"
    assert rare_config(names["focal-gmu"]).weight_target == "negatives"
    assert list(chapter_methods(5, ["gmu"]).values()) == ["baseline-H5", "imbalance-neg-H5", "imbalance-pos-H5",
                                                         "focal-gmu-H5"]
    with pytest.raises(ValueError):
        chapter_methods(1)
    with pytest.raises(ValueError):
        chapter_methods(2, ["entropy"])


def test_short_label():
    assert short_label("focal-js-H2") == "focal-js"
    assert short_label("imbalance-neg-H10") == "imbalance-neg"
    assert short_label("chmcnn") == "chmcnn"
    assert short_label("mixed-0.5") == "mixed-0.5"


def test_min_wilcoxon_p_matches_scipy_exact():
    for n in (3, 5, 6):
        d = np.arange(1.0, n + 1)  # all positive, no ties: the most extreme outcome
        assert min_wilcoxon_p(n) == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    assert np.isnan(min_wilcoxon_p(0))


def rows_from(values, metric="macro_f1"):
    """values: {(dataset, method): [per-seed values]} -> tidy rows."""
    return pd.DataFrame([{"dataset": d, "method": m, "seed": s, "metric": metric, "value": v}
                         for (d, m), vs in values.items() for s, v in enumerate(vs)])


def make_rows(n_datasets=7, n_seeds=4, seed=0):
    """Tidy rows for every chapter method: focal-gmu best, bma second, the rest around the baseline."""
    rng = np.random.default_rng(seed)
    names = chapter_methods(2)
    shift = {"baseline": 0.0, "imbalance-neg": 0.001, "imbalance-pos": -0.002, "focal-bbma": 0.0005,
             "focal-bma": 0.004, "focal-aleatoric": -0.001, "focal-js": 0.002, "focal-kl": 0.0, "focal-gmu": 0.006}
    recall_factor = {role: 1.0 + 40 * s for role, s in shift.items()}
    parts = []
    for d in range(n_datasets):
        base = rng.uniform(0.02, 0.1)
        for role, m in names.items():
            f1 = base + shift[role] + rng.normal(0, 0.0005, n_seeds)
            parts.append(rows_from({(f"d{d}", m): list(f1)}))
            for bucket, r0 in (("0", 0.0), ("1-5", 0.02), ("6-20", 0.1)):
                r = r0 * recall_factor[role] * (1 + rng.normal(0, 0.01, n_seeds))
                parts.append(rows_from({(f"d{d}", m): list(r)}, f"recall@freq={bucket}"))
    return pd.concat(parts, ignore_index=True)


def test_wilcoxon_per_dataset_and_across_match_scipy():
    rows = make_rows()
    names = chapter_methods(2)
    base, other = names["baseline"], names["focal-gmu"]
    per = wilcoxon_per_dataset(rows, "macro_f1", base, [other, names["focal-bma"]])
    t = rows[(rows.metric == "macro_f1") & (rows.dataset == "d3")]
    wide = t.pivot(index="seed", columns="method", values="value")
    expected = stats.wilcoxon(wide[other] - wide[base]).pvalue
    got = per[(per.dataset == "d3") & (per.method == other)].iloc[0]
    assert got.p == pytest.approx(expected) and got.n == 4 and got.min_p == pytest.approx(0.125)
    across = wilcoxon_across_datasets(rows, "macro_f1", base, [other])
    means = rows[rows.metric == "macro_f1"].groupby(["dataset", "method"])["value"].mean().unstack()
    assert across.loc[other, "p"] == pytest.approx(stats.wilcoxon(means[other] - means[base]).pvalue)
    assert across.loc[other, "n"] == 7 and across.loc[other, "p_holm"] == across.loc[other, "p"]  # family of one


def test_recall_gains_ratio_of_seed_means_and_infinite_gain():
    rows = pd.concat([
        rows_from({("a", "b"): [0.1, 0.3], ("a", "m"): [0.4, 0.6]}, "recall@freq=1-5"),
        rows_from({("a", "b"): [0.0, 0.0], ("a", "m"): [0.2, 0.0]}, "recall@freq=0"),
        rows_from({("a", "b"): [0.0, 0.0], ("a", "m"): [0.0, 0.0]}, "recall@freq=6-20"),
    ])
    g = recall_gains(rows, "b", ["m"]).set_index("group")
    assert g.loc["1-5", "gain"] == pytest.approx(0.5 / 0.2)
    assert g.loc["1-5", "value"] == pytest.approx(0.5) and g.loc["1-5", "baseline_value"] == pytest.approx(0.2)
    assert np.isinf(g.loc["0", "gain"]) and np.isnan(g.loc["6-20", "gain"])


def test_dataset_means():
    rows = rows_from({("a", "m"): [1.0, 3.0], ("b", "m"): [2.0]})
    m = dataset_means(rows).set_index("dataset")
    assert m.loc["a", "mean"] == 2.0 and m.loc["a", "std"] == pytest.approx(np.sqrt(2)) and m.loc["b", "seeds"] == 1


def test_friedman_too_small_is_none():
    rows = make_rows(n_datasets=1)
    result, matrix = friedman_over_datasets(rows, "macro_f1", list(chapter_methods(2).values()))
    assert result is None and matrix.shape == (1, 9)
    result, _ = friedman_over_datasets(make_rows(n_datasets=3), "macro_f1", list(chapter_methods(2).values())[:2])
    assert result is None


def test_claims_evidence_on_constructed_results():
    rows = make_rows()
    ev = claims_evidence(rows, 2)
    assert list(ev.claim) == [1, 1, 1, 1, 2, 2, 2, 2]
    names = chapter_methods(2)
    # row 1: the largest rare-bucket gain is focal-gmu's (1 + 40 * 0.006 = 1.24, up to noise)
    assert names["focal-gmu"] in ev.detail[0] and ev.value[0] == pytest.approx(1.24, abs=0.05)
    # row 2: median gain of the reference (focal-js) in bucket 1-5, about 1.08
    assert ev.value[1] == pytest.approx(1.08, abs=0.02) and ev.n[1] == 7
    # row 3: F1 gain of focal-js over the baseline, about 0.002, p = the smallest attainable, Holm over 6
    assert ev.value[2] == pytest.approx(0.002, abs=0.0005)
    assert ev.p[2] == pytest.approx(min_wilcoxon_p(7)) and ev.min_p[2] == pytest.approx(2 / 2**7)
    # row 4: the focal method with the smallest p; row 5: gmu ranks first of the six measures
    assert ev.value[4] == pytest.approx(1.0) and ev.p_holm[4] == 1.0 and ev.n[4] == 7
    # rows 6-7: bma and gmu against imbalance-neg
    assert ev.value[5] == pytest.approx(0.003, abs=0.0005) and ev.value[6] == pytest.approx(0.005, abs=0.0005)
    assert np.isnan(ev.value[7]) and "chapter 04" in ev.detail[7]


def test_claims_evidence_small_design_says_so():
    rows = make_rows(n_datasets=1, n_seeds=2)
    ev = claims_evidence(rows, 2)
    assert np.isnan(ev.value[4]) and "too small" in ev.detail[4]
    assert ev.min_p[2] == 1.0  # one dataset: no test can be significant
    few = rows[rows.method.isin(list(chapter_methods(2, ["bbma", "gmu"]).values()))]
    ev = claims_evidence(few, 2, ["bbma", "gmu"])
    assert "not run" in ev.detail[1] and "not run" in ev.detail[5]


def test_gains_and_across_datasets_tests_use_seed_means_not_medians():
    """Three skewed seeds (mean 0.2, median 0.1): a median would give other numbers."""
    rows = pd.concat([
        rows_from({("a", "b"): [0.1, 0.1, 0.4], ("a", "m"): [0.3, 0.3, 0.3]}, "recall@freq=1-5"),
        rows_from({(d, "b"): [0.1, 0.1, 0.4] for d in "abcdefg"} | {(d, "m"): [0.3, 0.3, 0.3 + i / 100]
                                                                      for i, d in enumerate("abcdefg")},
                  "macro_f1"),
    ])
    g = recall_gains(rows, "b", ["m"]).set_index("group")
    assert g.loc["1-5", "baseline_value"] == pytest.approx(0.2) and g.loc["1-5", "gain"] == pytest.approx(1.5)
    across = wilcoxon_across_datasets(rows, "macro_f1", "b", ["m"])
    assert across.loc["m", "mean_diff"] == pytest.approx(np.mean([0.1 + i / 300 for i in range(7)]))
