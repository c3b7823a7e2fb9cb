"""hmc.book.rare_node_pages (chapter 03): hand-built result rows and small tables, values computed by hand."""

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import rare_node_pages as rnp  # noqa: E402
from hmc.runs.sweep import Unit  # noqa: E402


def rows(entries) -> pd.DataFrame:
    """Tidy result rows from (dataset, method, seed, metric, value) tuples."""
    return pd.DataFrame(entries, columns=["dataset", "method", "seed", "metric", "value"])


def test_chapter_roles():
    methods, baseline, others, labels = rnp.chapter_roles(2, ["gmu", "js"])
    assert methods == ["baseline-H2", "imbalance-neg-H2", "imbalance-pos-H2", "focal-gmu-H2", "focal-js-H2"]
    assert baseline == "baseline-H2"
    assert others == ["imbalance-neg-H2", "imbalance-pos-H2", "focal-gmu-H2", "focal-js-H2"]
    assert labels == {"baseline-H2": "baseline", "imbalance-neg-H2": "imbalance-neg",
                      "imbalance-pos-H2": "imbalance-pos", "focal-gmu-H2": "focal-gmu", "focal-js-H2": "focal-js"}
    assert rnp.chapter_roles(5, [])[0] == ["baseline-H5", "imbalance-neg-H5", "imbalance-pos-H5"]
    with pytest.raises(ValueError, match="at least 2"):
        rnp.chapter_roles(1, ["gmu"])


def test_datasets_to_load():
    have = rows([("b", "m", 0, "au_prc", 0.1), ("c", "m", 0, "au_prc", 0.2), ("z", "m", 0, "au_prc", 0.3)])
    assert rnp.datasets_to_load(["a", "b", "c"], have, train=True) == ["a", "b", "c"]
    assert rnp.datasets_to_load(["c", "a", "b"], have, train=False) == ["c", "b"]  # the order of the names
    assert rnp.datasets_to_load(["a"], rows([]), train=False) == []


def test_design_units():
    units = rnp.design_units(["d1", "d2"], ["m1", "m2"], 2)
    assert len(units) == 8 and all(isinstance(u, Unit) for u in units)
    assert units[:4] == [("d1", "m1", 0), ("d1", "m1", 1), ("d1", "m2", 0), ("d1", "m2", 1)]
    assert units[-1] == ("d2", "m2", 1)
    assert rnp.design_units(["d"], ["m"], 0) == []


def test_train_design_runs_one_sweep_per_dataset(monkeypatch):
    calls = []
    monkeypatch.setattr(rnp, "run_sweep", lambda units, path, **kw: calls.append((list(units), path, kw)))
    loaded = {"a": SimpleNamespace(spec=SimpleNamespace(epochs=100)),
              "b": SimpleNamespace(spec=SimpleNamespace(epochs=30))}
    design = [Unit("a", "m", 0), Unit("b", "m", 0), Unit("a", "m", 1), Unit("gone", "m", 0)]
    assert rnp.train_design(loaded, design, "out.csv", 0.05, "cpu", 0, train=False) is None
    assert [c[0] for c in calls] == [[("a", "m", 0), ("a", "m", 1)], [("b", "m", 0)]]  # "gone" is not loaded
    assert {c[1] for c in calls} == {"out.csv"}
    # epochs: 100 * 0.05 = 5; 30 * 0.05 = 1.5, rounded to 2; threads 0 -> "auto"
    assert [c[2]["epochs"] for c in calls] == [5, 2]
    assert all(c[2]["num_threads"] == "auto" and c[2]["device"] == "cpu" and c[2]["train"] is False
               and c[2]["progress"] is False for c in calls)
    assert calls[0][2]["load"]("b") is loaded["b"]
    calls.clear()
    rnp.train_design(loaded, design, "out.csv", 0.001, "cuda", 3)
    assert [c[2]["epochs"] for c in calls] == [1, 1] and calls[0][2]["num_threads"] == 3 and calls[0][2]["train"]


def test_chapter_rows():
    t = rows([("a", "m", 0, "x", 1.0), ("a", "m", 3, "x", 2.0), ("a", "other", 0, "x", 3.0),
              ("b", "m", 1, "x", 4.0), ("c", "m", 0, "x", 5.0)])
    out = rnp.chapter_rows(t, ["a", "b"], ["m"], 3)
    assert out.value.tolist() == [1.0, 4.0]


def test_coverage_table():
    design = rnp.design_units(["a", "b"], ["m1", "m2"], 2)
    t = rows([("a", "m1", 0, "au_prc", 0.1), ("a", "m1", 1, "au_prc", 0.1), ("a", "m2", 1, "au_prc", 0.1)])
    out = rnp.coverage_table(t, design, ["b", "a"], ["m1", "m2"], {"m1": "one"})
    expected = pd.DataFrame({"one": [0, 2], "m2": [0, 1]}, index=pd.Index(["b", "a"], name="dataset"))
    pd.testing.assert_frame_equal(out, expected, check_names=False, check_dtype=False)
    assert all(np.issubdtype(d, np.integer) for d in out.dtypes)


def test_design_line():
    assert (rnp.design_line(["a", "b"], 2, 3, 0.01)
            == "mean over 2 dataset(s): a, b; H = 2, 3 seeds, epoch fraction 0.01")


def test_overall_view_means_and_bold_maximum():
    t = rows([("d1", "b", 0, "au_prc", 0.10), ("d1", "b", 1, "au_prc", 0.30),   # d1 seed mean 0.2
              ("d2", "b", 0, "au_prc", 0.40),                                    # d2: 0.4 -> b: 0.3
              ("d1", "m", 0, "au_prc", 0.25), ("d2", "m", 0, "au_prc", 0.25),   # m: 0.25
              ("d1", "b", 0, "macro_f1", 0.0), ("d1", "m", 0, "macro_f1", 0.5)])
    styler = rnp.overall_view(t, ["b", "m"], {"b": "base", "m": "meth"})
    assert styler.data.loc["base", "AU(PRC)"] == pytest.approx(0.3)
    assert styler.data.loc["meth", "AU(PRC)"] == pytest.approx(0.25)
    assert styler.data.loc["meth", "F1 (all)"] == pytest.approx(0.5)
    html = styler.to_html()
    assert "0.3000" in html and "0.2500" in html and "0.5000" in html
    assert "font-weight: bold" in html


def test_bucket_figure_title():
    t = rows([(d, m, 0, f"recall@freq={b}", v) for d in ("d1", "d2") for m, v in (("b", 0.1), ("m", 0.3))
              for b in ("1-5", "6-20")])
    gains = pd.DataFrame({"dataset": ["d1", "d2", "d1"], "method": ["m", "m", "m"], "group": ["1-5", "1-5", "6-20"],
                          "value": 0.3, "baseline_value": 0.1, "gain": [3.0, 3.0, np.inf]})
    fig = rnp.bucket_figure(t, gains, ["b", "m"], "b", {"b": "b", "m": "m"}, 4)
    assert fig._suptitle.get_text() == "Rare nodes (H = 4; weights on the negatives unless named -pos)"
    assert len(fig.axes) == 2
    plt.close(fig)


def test_bucket_view():
    t = rows([("d1", "b", 0, "recall@freq=1-5", 0.1), ("d1", "b", 1, "recall@freq=1-5", 0.3),  # d1 mean 0.2
              ("d2", "b", 0, "recall@freq=1-5", 0.4),                                          # -> b: 0.3
              ("d1", "m", 0, "recall@freq=1-5", 0.5), ("d1", "m", 0, "recall@freq=6-20", 0.8),
              ("d1", "b", 0, "f1@freq=1-5", 0.05), ("d1", "m", 0, "f1@freq=1-5", 0.25),
              ("d1", "b", 0, "f1@freq=6-20", 0.0), ("d1", "m", 0, "f1@freq=6-20", 0.6),
              ("d1", "b", 0, "recall@freq=6-20", 0.0)])
    gains = pd.DataFrame({"dataset": ["d1", "d2", "d1"], "method": "m", "group": ["1-5", "1-5", "6-20"],
                          "value": 0.5, "baseline_value": 0.1, "gain": [2.5, 1.5, np.inf]})
    styler = rnp.bucket_view(t, gains, ["b", "m"], {"b": "base", "m": "meth"})
    data = styler.data
    assert list(data.index) == ["base", "meth"]
    assert data.loc["base", ("recall", "1-5")] == pytest.approx(0.3)
    assert data.loc["meth", ("F1", "6-20")] == pytest.approx(0.6)
    assert data.loc["meth", ("max recall gain", "1-5")] == pytest.approx(2.5)  # the larger of 2.5 and 1.5
    assert math.isnan(data.loc["meth", ("max recall gain", "6-20")])  # an infinite gain is not a finite maximum
    html = styler.to_html()
    assert "0.300" in html and "2.500" in html and ">-<" in html


def test_depth_view():
    t = rows([("d1", "b", 0, "f1@depth=1", 0.2), ("d1", "b", 1, "f1@depth=1", 0.4), ("d2", "b", 0, "f1@depth=1", 0.6),
              ("d1", "b", 0, "recall@depth=2", 0.1), ("d1", "m", 0, "recall@depth=2", 0.9)])
    styler = rnp.depth_view(t, ["m", "b"], {"b": "base"})
    data = styler.data
    assert list(data.index) == ["m", "base"]
    assert data.loc["base", ("f1", 1)] == pytest.approx(0.45)  # mean of d1's 0.3 and d2's 0.6
    assert data.loc["m", ("recall", 2)] == pytest.approx(0.9)
    assert math.isnan(data.loc["m", ("f1", 1)])
    html = styler.to_html()
    assert "0.450" in html and "0.900" in html and ">-<" in html


def test_smallest_p_line():
    assert (rnp.smallest_p_line(3, "seeds", 0.05)
            == "3 seeds: smallest attainable two-sided p = 0.25  (too few seeds for any significant result)")
    assert rnp.smallest_p_line(10, "seeds", 0.05) == "10 seeds: smallest attainable two-sided p = 0.00195"
    assert (rnp.smallest_p_line(4, "datasets", 0.05) == "4 dataset(s): smallest attainable two-sided p = 0.125"
            "  (too few datasets for any significant result)")
    assert rnp.smallest_p_line(4, "datasets", 0.2) == "4 dataset(s): smallest attainable two-sided p = 0.125"


def test_significance_line():
    per = pd.DataFrame({"dataset": ["a", "a", "b"], "method": ["m", "n", "m"],
                        "p_holm": [0.01, 0.2, 0.049], "mean_diff": [0.1, -0.2, 0.0]})
    assert rnp.significance_line(per, 0.05) == ("significant at 0.05 after Holm: 2 of 3 (dataset, method) "
                                                "comparisons; 1 with a higher mean macro F1 than the baseline")
    assert rnp.significance_line(per, 0.01).startswith("significant at 0.01 after Holm: 0 of 3")


def test_across_datasets_one_family_per_metric():
    # the method beats the baseline by 0.1 on every one of 6 datasets, for every metric: the exact two-sided
    # Wilcoxon p is 2 / 2^6 = 0.03125, and Holm over one method leaves it
    entries = [(f"d{i}", m, 0, metric, 0.2 + 0.01 * i + (0.1 if m == "m" else 0.0))
               for i in range(6) for m in ("b", "m") for metric in rnp.ACROSS_METRICS]
    across = rnp.across_datasets(rows(entries), "b", ["m"])
    assert sorted(across.metric) == sorted(rnp.ACROSS_METRICS)
    assert set(across.index) == {"m"}
    assert across.mean_diff.to_numpy() == pytest.approx([0.1] * len(rnp.ACROSS_METRICS))
    assert across.p_holm.to_numpy() == pytest.approx([0.03125] * len(rnp.ACROSS_METRICS))
    assert rnp.ACROSS_METRICS == ["au_prc", "macro_f1", "macro_f1_pos", "macro_recall",
                                  "recall@freq=1-5", "recall@freq=6-20"]


def test_across_views():
    across = pd.DataFrame({"metric": ["au_prc", "macro_f1", "au_prc"], "p_holm": [0.03125, 0.5, 0.0625],
                           "mean_diff": [0.1, -0.02, 0.05]}, index=["m", "m", "n"])
    p_view, diff_view = rnp.across_views(across, ["m", "n"], {"m": "M"})
    assert p_view.caption == "Holm-adjusted p, across datasets"
    assert diff_view.caption == "mean difference to the baseline, across datasets"
    assert list(p_view.data.index) == ["M", "n"] and list(p_view.data.columns) == rnp.ACROSS_METRICS
    assert p_view.data.loc["M", "macro_f1"] == 0.5 and diff_view.data.loc["n", "au_prc"] == 0.05
    p_html, diff_html = p_view.to_html(), diff_view.to_html()
    assert "0.0312" in p_html and "0.0625" in p_html and ">-<" in p_html  # n has no macro_f1 test
    assert "+0.1000" in diff_html and "-0.0200" in diff_html


def test_friedman_text():
    assert rnp.friedman_text(None, (1, 9), 0.05) == (
        "The design is too small for the Friedman test: 1 dataset(s) x 9 methods (it needs at least 2 datasets "
        "and 3 methods). No ranks are computed.")
    result = SimpleNamespace(n_blocks=4, statistic=8.857, pvalue=0.11494, f_statistic=7.749, f_pvalue_text="0.0211",
                             cd=5.333)
    lines = rnp.friedman_text(result, (4, 9), 0.05).split("\n")
    assert lines == ["Only 4 datasets: the ranks describe this run, and the test has almost no power (Demsar 2006 "
                     "asks for about 10 or more datasets); do not read the p-value as evidence.",
                     "Friedman chi2 = 8.86 (p = 0.115), Iman-Davenport F = 7.75 (p = 0.0211); Nemenyi CD = 5.33 "
                     "at alpha = 0.05"]
    assert rnp.friedman_text(SimpleNamespace(**{**vars(result), "n_blocks": 10}), (10, 9), 0.1).split("\n") == [
        "Friedman chi2 = 8.86 (p = 0.115), Iman-Davenport F = 7.75 (p = 0.0211); Nemenyi CD = 5.33 at alpha = 0.1"]


def test_rank_figure():
    result = SimpleNamespace(avg_ranks=pd.Series({"base-H2": 2.5, "m-H2": 1.5, "n-H2": 2.0}), cd=1.2, n_blocks=7)
    fig = rnp.rank_figure(result, {"base-H2": "base", "m-H2": "m", "n-H2": "n"}, 2)
    assert fig.axes[0].get_title() == "Average rank on macro F1 over 7 datasets (H = 2)"
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "base" in texts and "base-H2" not in texts
    plt.close(fig)


def test_claims_header():
    lines = rnp.claims_header(2, 3, 10, 0.5, "quick").split("\n")
    assert len(lines) == 3
    assert lines[0].startswith("Claim 1: ") and lines[1].startswith("Claim 2: ")
    assert lines[2] == ("H = 2; 3 dataset(s); 10 seeds; epoch fraction 0.5; profile 'quick'  (a pipeline check, "
                        "not the paper's protocol)")
    assert rnp.claims_header(5, 15, 10, 1.0, "full").split("\n")[2] == (
        "H = 5; 15 dataset(s); 10 seeds; epoch fraction 1.0; profile 'full'")


def test_evidence_view():
    evidence = pd.DataFrame({"claim": ["1a", "2b"], "statement": ["s1", "s2"], "value": [1.23456, np.nan],
                             "detail": ["d1", "d2"], "test": ["t", "t"], "n": [10.0, np.nan],
                             "p": [0.001953125, np.nan], "p_holm": [0.0123456, np.nan], "min_p": [0.001953125, np.nan]})
    styler = rnp.evidence_view(evidence)
    assert list(styler.data.index) == ["1a", "2b"]
    html = styler.to_html()
    assert ">1.235<" in html and ">10<" in html and ">0.00195<" in html and ">0.0123<" in html
    assert html.count(">-<") == 5  # value, n, p, p_holm and min_p of claim 2b


def test_verdict_text():
    row = {"verdict": "inconclusive", "rule_verdict": "reproduced", "evidence": "e", "reasons": "budget",
           "strength": "weak", "paper": "5x", "ours": "2x"}
    assert rnp.verdict_text(1, row) == ("Claim 1: inconclusive  (the rule alone, gates ignored: reproduced)\n"
                                        "  evidence: e\n  why inconclusive: budget\n  strength: weak\n"
                                        "  paper:    5x\n  ours:     2x\n")
    assert "why inconclusive" not in rnp.verdict_text(2, {**row, "reasons": ""})
    assert rnp.verdict_text(2, {**row, "reasons": ""}).count("\n") == 5


def test_cost_figure_labels():
    cost = pd.DataFrame({"dataset": ["a", "a", "b"], "method": ["b-H2", "m-H2", "b-H2"], "seconds": [10.0, 20.0, 5.0],
                         "device": ["cuda", "cpu", "cpu"]})
    fig = rnp.cost_figure(cost, ["b-H2", "m-H2"], {"b-H2": "b", "m-H2": "m"}, 3, 2)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds for 3 seeds (cpu, cuda)"
    assert ax.get_title() == "Wall time per method (H = 2)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "m"]
    plt.close(fig)


def test_spec_epochs():
    synthetic = {"toy": SimpleNamespace(spec=SimpleNamespace(epochs=7))}
    # cellcycle_FUN's reference epochs are 106 (C-HMCNN's published settings)
    assert rnp.spec_epochs({"cellcycle_FUN", "toy"}, synthetic) == {"cellcycle_FUN": 106, "toy": 7}


def test_load_line(monkeypatch):
    monkeypatch.setattr(rnp.os, "getloadavg", lambda: (0.84, 1.06, 1.76))
    cost = pd.DataFrame({"device": ["cpu", "cuda", "cpu"]})
    assert rnp.load_line(cost) == "measured on cpu, cuda; load average now 0.8, 1.1, 1.8"


def test_estimate_view():
    estimate = pd.DataFrame({"s per epoch, all methods": [12.345], "reference epochs": [106],
                             "full: hours for 10 seeds": [3.6349]}, index=pd.Index(["a"], name="dataset"))
    html = rnp.estimate_view(estimate).to_html()
    assert ">12.3<" in html and ">3.6<" in html and ">106<" in html
