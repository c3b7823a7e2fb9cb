"""hmc.book.schedule_pages (chapter 05): hand-built result rows, LPROS results and scorecards, against
values computed by hand."""

import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import schedule_pages as sp  # noqa: E402
from hmc.data import BENCHMARKS  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def rows(entries, **extra):
    """Tidy rows from (dataset, method, seed, metric, value) tuples, with constant or per-row extra columns."""
    t = pd.DataFrame(entries, columns=["dataset", "method", "seed", "metric", "value"])
    for k, v in extra.items():
        t[k] = v
    return t


def html_cells(styler) -> dict[tuple[int, int], str]:
    """The displayed text of every data cell of a rendered Styler, by (row, column)."""
    html = styler.to_html()
    return {(int(r), int(c)): text.strip()
            for r, c, text in re.findall(r'<td id="T_\w+_row(\d+)_col(\d+)"[^>]*>([^<]*)</td>', html)}


def test_method_list():
    assert sp.method_list(["all"], ["baseline", "imbalance-neg"]) == [
        "baseline", "imbalance-neg", "sched-lin", "sched-exp", "sched-alt", "sched-global-lin", "sched-global-exp",
        "sched-global-alt", "mixed-0.25", "mixed-0.5", "mixed-0.75", "lpros", "lpros+imbalance-neg"]
    assert sp.method_list(["baseline", "mixed-0.5", "imbalance-neg"], ["baseline", "imbalance-neg"]) == [
        "baseline", "mixed-0.5", "imbalance-neg"]
    with pytest.raises(ValueError, match=r"must include \['imbalance-neg'\]"):
        sp.method_list(["baseline", "sched-lin"], ["baseline", "imbalance-neg"])
    with pytest.raises(ValueError):
        sp.method_list(["baseline", "imbalance-sideways"], ["baseline"])


def test_clone_table():
    lpros = {"a": SimpleNamespace(n_original=100, n_clones=10, minority=[3, 5, 8]),
             "b": SimpleNamespace(n_original=40, n_clones=0, minority=[])}
    t = sp.clone_table(lpros)
    assert list(t.index) == ["a", "b"]
    assert list(t.columns) == ["fitting rows", "LPROS clones (S = 0.1)", "minority paths"]
    assert t.loc["a"].tolist() == [100, 10, 3] and t.loc["b"].tolist() == [40, 0, 0]


def test_units_line_counts_the_design_only():
    t = rows([("d", "m", 0, "au_prc", 0.1), ("d", "m", 1, "au_prc", 0.1), ("d", "n", 0, "au_prc", 0.1),
              ("d", "m", 0, "macro_f1", 0.1),  # another metric: not a unit
              ("d", "m", 3, "au_prc", 0.1),  # seed beyond n_seeds
              ("d", "other", 0, "au_prc", 0.1),  # method outside the list
              ("e", "m", 0, "au_prc", 0.1)],  # another dataset
             wall_time_s=[6.0, 12.0, 12.0, 99.0, 99.0, 99.0, 99.0], device="cpu")
    assert sp.units_line(t, "d", ["m", "n"], 2, 1) == "d: 1 epochs, 3 (method, seed) units, 0.5 min on cpu"


def test_score_tables_with_and_without_warning():
    t = rows([("d1", "base", 0, "macro_f1", 0.0), ("d1", "base", 1, "macro_f1", 0.0),
              ("d1", "w", 0, "macro_f1", 0.1), ("d1", "w", 1, "macro_f1", 0.3),
              ("d2", "base", 0, "macro_f1", 0.2), ("d2", "base", 1, "macro_f1", 0.4),
              ("d2", "w", 0, "macro_f1", 0.5), ("d2", "w", 1, "macro_f1", 0.5),
              ("d2", "w", 0, "au_prc", 0.25), ("d2", "w", 1, "au_prc", 0.75)])
    out = sp.score_tables(t, {"d2": 3, "d1": 1}, ["w", "base"], 2, "base")
    assert [heading for heading, _, _ in out] == ["**d2** (3 epochs, 2 seeds)", "**d1** (1 epochs, 2 seeds)"]
    (_, d2, warn2), (_, d1, warn1) = out
    assert warn2 is None
    assert warn1 == ("d1: after 1 epoch(s) the baseline predicts (almost) no positive at 0.5 (macro F1 0.0000): "
                     "gains against it are infinite or undefined; a pipeline check only.")
    assert list(d2.index) == ["w", "base"] and list(d2.columns) == ["AU(PRC)", "macro P", "macro R", "macro F1"]
    sd = f"{np.std([0.1, 0.3], ddof=1):.4f}"  # 0.1414
    assert d1.loc["w", "macro F1"] == f"0.2000 ± {sd}" and d2.loc["base", "macro F1"] == f"0.3000 ± {sd}"
    assert d2.loc["w", "macro F1"] == "0.5000 ± 0.0000" and d2.loc["w", "AU(PRC)"] == "0.5000 ± 0.3536"
    assert pd.isna(d1.loc["w", "AU(PRC)"])


PR = rows([(d, m, s, metric, v) for d, scale in (("d1", 1.0), ("d2", 0.5))
           for m, (p, r) in (("baseline", (0.4, 0.1)), ("imbalance-neg", (0.2, 0.6)), ("mixed-0.5", (0.3, 0.4)))
           for s, jitter in ((0, -0.1), (1, 0.1))
           for metric, v in (("macro_precision", scale * p + jitter * 0.1), ("macro_recall", scale * r),
                             ("macro_f1", 0.2))])


def test_seed_means():
    means = sp.seed_means(PR).set_index(["dataset", "method"])
    assert means.loc[("d1", "imbalance-neg"), "macro_precision"] == pytest.approx(0.2)  # 0.19 and 0.21
    assert means.loc[("d2", "mixed-0.5"), "macro_recall"] == pytest.approx(0.2)
    assert set(means.columns) == {"macro_f1", "macro_precision", "macro_recall"} and len(means) == 6


def test_precision_recall_figure_plots_the_seed_means():
    fig = sp.precision_recall_figure(PR, ["d1", "d2"], ["baseline", "imbalance-neg", "mixed-0.5"],
                                     "baseline", "imbalance-neg")
    assert fig._suptitle.get_text() == "Mean over seeds, all evaluated nodes, threshold 0.5"
    d1, d2 = fig.axes
    assert (d1.get_title(), d2.get_title()) == ("d1", "d2")
    points = sorted(tuple(np.round(c.get_offsets()[0], 6)) for c in d2.collections)
    assert points == [(0.1, 0.3), (0.15, 0.2), (0.2, 0.05)]
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in d1.collections}
    assert colours == {tuple(np.round(matplotlib.colors.to_rgb(c), 3)) for c in ("black", "tab:red", "tab:purple")}


def test_bucket_recall():
    t = rows([("d", "m", 0, "recall@freq=1-5", 0.2), ("d", "m", 1, "recall@freq=1-5", 0.4),
              ("d", "m", 0, "recall@freq=>100", 0.9), ("d", "m", 0, "f1@freq=1-5", 0.7),
              ("e", "n", 0, "recall@freq=0", 0.0)])
    r = sp.bucket_recall(t)
    assert r.index.names == ["dataset", "method", "bucket"]
    assert r.to_dict() == pytest.approx({("d", "m", "1-5"): 0.3, ("d", "m", ">100"): 0.9, ("e", "n", "0"): 0.0})


def test_wilcoxon_table_formats_the_differences_and_p():
    entries = []
    for seed in range(3):
        for m, v in (("base", 0.1 * seed), ("w", 0.1 * seed + 0.05), ("x", 0.1 * seed + [0.01, 0.02, 0.04][seed])):
            entries.append(("d", m, seed, "macro_f1", v))
    styler = sp.wilcoxon_table(rows(entries), ["base", "w", "x"], ["base", "w"])
    assert list(styler.data.index) == ["base", "w", "x"]
    # columns: (mean_diff, d, base), (p_holm, d, base), (mean_diff, d, w), (p_holm, d, w)
    # every difference has one sign over 3 seeds: exact p = 2 / 2**3 = 0.25, Holm over 2 methods: 0.5
    assert [html_cells(styler)[0, c] for c in range(4)] == ["-", "-", "-0.0500", "0.500"]
    assert [html_cells(styler)[1, c] for c in range(4)] == ["+0.0500", "0.500", "-", "-"]
    assert [html_cells(styler)[2, c] for c in range(4)] == ["+0.0233", "0.500", "-0.0267", "0.500"]


def test_smallest_p_line():
    assert sp.smallest_p_line(3) == "smallest attainable two-sided p with 3 seeds: 0.2500"
    assert sp.smallest_p_line(10) == "smallest attainable two-sided p with 10 seeds: 0.0020"
    assert sp.smallest_p_line(1) == "smallest attainable two-sided p with 1 seeds: 1.0000"


def test_rank_figure_friedman_by_hand():
    t = rows([(d, m, s, "macro_f1", v + 0.01 * s) for d in ("d1", "d2") for s in (0, 1)
              for m, v in (("a", 0.3), ("b", 0.2), ("c", 0.1))])
    fig, line = sp.rank_figure(t, ["a", "b", "c"])
    # both datasets rank a, b, c: rank sums 2, 4, 6; chi2 = 12 / (2 * 3 * 4) * 56 - 3 * 2 * 4 = 4, p = exp(-2);
    # Nemenyi CD = q(0.05, k = 3) sqrt(3 * 4 / (6 * 2)) = 2.343
    assert line == ("Friedman over 2 datasets: chi2 = 4.00, p = 0.135; Iman-Davenport p = undefined: every block "
                    "ranks the methods alike, F is infinite; CD = 2.34")
    assert fig.axes[0].get_title() == "Average rank on macro F1 (1 = best)"


def test_rank_figure_falls_back_to_bars():
    t = rows([("d1", "a", 0, "macro_f1", 0.3), ("d1", "a", 1, "macro_f1", 0.5), ("d1", "b", 0, "macro_f1", 0.1),
              ("d2", "a", 0, "macro_f1", 0.9)])  # d2 lacks b: left out
    fig, line = sp.rank_figure(t, ["a", "b"])
    assert line == "1 dataset(s): no Friedman test; mean macro F1 per method instead"
    assert sorted(round(p.get_width(), 6) for p in fig.axes[0].patches if p.get_width()) == [0.1, 0.4]


def bench(n_train, n_valid, epochs=7):
    return SimpleNamespace(x_train=np.zeros((n_train, 2)), x_valid=np.zeros((n_valid, 2)),
                           spec=SimpleNamespace(epochs=epochs))


def test_cost_table_and_full_estimate():
    t = rows([("cellcycle_FUN", "baseline", 0, "au_prc", 0.1), ("cellcycle_FUN", "baseline", 1, "au_prc", 0.1),
              ("cellcycle_FUN", "lpros", 0, "au_prc", 0.1), ("synthetic", "baseline", 0, "au_prc", 0.1)],
             wall_time_s=[3.0, 5.0, 6.0, 2.0], epochs=2)
    loaded = {"cellcycle_FUN": bench(6, 4), "synthetic": bench(3, 1, epochs=7)}
    lpros = {"cellcycle_FUN": SimpleNamespace(n_clones=3), "synthetic": SimpleNamespace(n_clones=0)}
    cost = sp.cost_table(t, loaded, lpros).set_index(["dataset", "method"])
    assert cost.loc[("cellcycle_FUN", "baseline"), ["rows", "steps", "seeds"]].tolist() == [10, 6, 2]  # 3 batches x 2
    assert cost.loc[("cellcycle_FUN", "lpros"), ["rows", "steps"]].tolist() == [13, 8]  # 4 batches x 2
    assert cost.loc[("synthetic", "baseline"), ["rows", "steps"]].tolist() == [4, 2]
    est = sp.full_estimate(cost.reset_index(), loaded)
    ref = BENCHMARKS["cellcycle_FUN"].epochs
    assert est["reference epochs"].to_dict() == {"cellcycle_FUN": ref, "synthetic": 7}
    hours = (8.0 / 12 * 10 * 3 * ref + 6.0 / 8 * 10 * 4 * ref) / 3600
    assert est.loc["cellcycle_FUN", sp.HOURS] == pytest.approx(hours)
    assert est.loc["synthetic", sp.HOURS] == pytest.approx(2.0 / 2 * 10 * 1 * 7 / 3600)
    assert est.loc["cellcycle_FUN", "minutes"] == pytest.approx(14.0 / 60)


def test_run_line():
    cost = pd.DataFrame({"seconds": [30.0, 60.0, 90.0]})
    assert sp.run_line(cost, "cpu", load=(1.0, 2.26, 3.04)) == (
        "this run: 3.0 minutes for 3 (dataset, method) runs on cpu; load average now 1.0, 2.3, 3.0")


def test_full_total_line():
    per = pd.DataFrame({sp.HOURS: [2.0, 4.0, 100.0]}, index=["a_FUN", "b_FUN", "c_GO"])
    # FUN mean 3 hours; 2 FUN + 1 GO on disk: 3 * (2 + 3 * 1) = 15 hours = 0.625 days
    assert sp.full_total_line(per, ["a_FUN", "b_FUN", "x_GO"]) == (
        "rough full-profile total on this device (2 FUN + 1 GO datasets on disk, GO = 3 x FUN): 15 hours, "
        "i.e. 0.6 days; a GPU is the intended device")
    assert sp.full_total_line(per.loc[["c_GO"]], ["a_FUN"]) is None


def test_cost_figure_shows_minutes():
    cost = pd.DataFrame({"dataset": ["d", "d", "e"], "method": ["m", "n", "m"], "seconds": [60.0, 180.0, 30.0]})
    fig = sp.cost_figure(cost, ["m", "n"], "cuda")
    ax = fig.axes[0]
    assert sorted(round(p.get_width(), 6) for p in ax.patches if p.get_width()) == [0.5, 1.0, 3.0]
    assert ax.get_xlabel() == "minutes for all seeds (cuda)"
    assert ax.get_title() == "Wall time per method and dataset: training, prediction, scoring"


def test_rules_markdown(monkeypatch):
    from hmc import scorecard

    monkeypatch.setattr(scorecard, "RULE_CONVENTIONS", ("one", "two"))
    monkeypatch.setattr(scorecard, "VERDICT_RULES", {1: "rule a", 3: "rule b"})
    assert sp.rules_markdown() == ("**Conventions**\n\n- one\n- two\n\n**Rules**\n\n"
                                   "- **Claim 1.** rule a\n- **Claim 3.** rule b")


CARD = pd.DataFrame({
    "claim": [1, 2], "statement": ["s1", "s2"], "verdict": ["inconclusive", "reproduced"],
    "reasons": ["budget", ""], "rule_verdict": ["partly", "reproduced"], "evidence": ["e1\ne2", "e3"],
    "test": ["t", "t"], "data": ["3 datasets", "1 dataset"], "seeds": [3, 10], "epochs": ["1%", "100%"],
    "min_p": [0.25, 0.001953125], "effect": ["F1 gain", "ratio"], "estimate": [0.12345, np.nan],
    "ci_low": [-0.01, np.nan], "ci_high": [0.2, np.nan], "ci_over": ["seeds", "-"], "paper": ["5x", "-"],
    "ours": ["2x", "-"]})


def test_verdict_table():
    styler = sp.verdict_table(CARD)
    assert list(styler.data.index) == [1, 2]
    assert list(styler.data.columns) == ["statement", "verdict", "why inconclusive", "rule alone", "evidence"]
    cells = html_cells(styler)
    assert [cells[r, 1] for r in (0, 1)] == ["inconclusive", "reproduced"]  # where the verdicts page reads them
    html = styler.to_html()
    assert "background-color: #d9d9d9" in html and "background-color: #c7e9c0" in html
    assert "white-space: pre-wrap" in html and "text-align: left" in html


def test_strength_table():
    styler = sp.strength_table(CARD)
    assert list(styler.data.columns) == ["data", "seeds", "epochs", "smallest attainable p", "effect", "estimate",
                                         "ci_low", "ci_high", "ci_over", "paper", "ours"]
    cells = html_cells(styler)
    assert [cells[0, c] for c in (3, 5, 6, 7)] == ["0.25", "+0.1235", "-0.0100", "+0.2000"]
    assert [cells[1, c] for c in (3, 5, 6, 7)] == ["0.00195", "-", "-", "-"]
    assert cells[0, 0] == "3 datasets" and cells[1, 1] == "10"
