"""hmc.book.ensemble_pages (chapter 04): hand-built result rows and cost tables, values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from hmc.book import ensemble_pages as ep
from hmc.book.rare_tables import COST_COLUMNS

VARIANTS = ["baseline ensemble", "focal ensemble", "focal MC-dropout"]
SHORT = {"baseline ensemble": "b", "focal ensemble": "f", "focal MC-dropout": "m"}
METHODS = {(v, h): f"{SHORT[v]}{h}" for v in VARIANTS for h in (2, 5)}  # ("focal ensemble", 5) -> "f5"

# macro F1 of dataset d per (method, seed): gains over b2 are 0.01/0.02/0.03 (focal, mean 0.02) and
# -0.05/-0.10/-0.15 (MC, mean -0.10); over b5 0.03/0.04/0.05 (mean 0.04) and -0.04/-0.08/-0.12 (mean -0.08)
F1 = {"b2": [0.10, 0.20, 0.30], "f2": [0.11, 0.22, 0.33], "m2": [0.05, 0.10, 0.15],
      "b5": [0.10, 0.20, 0.30], "f5": [0.13, 0.24, 0.35], "m5": [0.06, 0.12, 0.18]}
# AU(PRC): the focal ensemble scores 0 everywhere (its relative change is undefined)
AUPRC = {"b2": [0.5, 0.6, 0.7], "f2": [0.0, 0.0, 0.0], "m2": [0.1, 0.2, 0.3],
         "b5": [0.5, 0.6, 0.7], "f5": [0.0, 0.0, 0.0], "m5": [0.1, 0.2, 0.4]}
VARIANT_OF = {m: v for (v, _), m in METHODS.items()}
H_OF = {m: h for (_, h), m in METHODS.items()}


def scores() -> pd.DataFrame:
    """Tidy rows of dataset d with the chapter's ``variant`` and ``H`` columns."""
    rows = [("d", m, s, metric, v) for metric, values in (("macro_f1", F1), ("au_prc", AUPRC))
            for m, seed_values in values.items() for s, v in enumerate(seed_values)]
    t = pd.DataFrame(rows, columns=["dataset", "method", "seed", "metric", "value"])
    t["variant"], t["H"] = t.method.map(VARIANT_OF), t.method.map(H_OF)
    return t


def gains() -> pd.DataFrame:
    """The seed-paired gains of :func:`hmc.book.rare_tables.focal_gains` on macro F1, built by hand."""
    rows = []
    for h in (2, 5):
        for s in range(3):
            base = F1[f"b{h}"][s]
            rows.append({"dataset": "d", "metric": "macro_f1", "seed": s, "H": h,
                         "focal ensemble": F1[f"f{h}"][s] - base, "focal MC-dropout": F1[f"m{h}"][s] - base})
    return pd.DataFrame(rows)


def test_ensemble_sizes():
    assert ep.ensemble_sizes([10, 2, 5, 2]) == [2, 5, 10]
    assert ep.ensemble_sizes(["3", 2.0]) == [2, 3]
    for bad in ([], [1, 2], [0]):
        with pytest.raises(ValueError, match="at least 2"):
            ep.ensemble_sizes(bad)


def test_method_grid_and_run_order():
    grid = ep.method_grid(METHODS)
    assert list(grid.index) == VARIANTS and grid.index.name == "variant"
    assert list(grid.columns) == ["H = 2", "H = 5"]
    assert grid.loc["focal MC-dropout", "H = 5"] == "m5" and grid.loc["baseline ensemble", "H = 2"] == "b2"
    assert ep.run_order(METHODS) == ["b2", "f2", "m2", "b5", "f5", "m5"]
    # sizes sort numerically, whatever the order of the mapping
    shuffled = {("x", 10): "x10", ("y", 10): "y10", ("x", 2): "x2", ("y", 2): "y2"}
    assert ep.run_order(shuffled) == ["x2", "y2", "x10", "y10"]
    assert list(ep.method_grid(shuffled).columns) == ["H = 2", "H = 10"]


def test_method_grid_of_the_chapter_names():
    from hmc.book.rare_tables import ensemble_variants

    grid = ep.method_grid(ensemble_variants([2, 10], "gmu"))
    assert grid.loc["baseline ensemble"].tolist() == ["baseline-H2", "baseline-H10"]
    assert grid.loc["focal ensemble"].tolist() == ["focal-gmu-H2", "focal-gmu-H10"]
    assert grid.loc["focal MC-dropout"].tolist() == ["mcdropout-gmu-H2", "mcdropout-gmu-H10"]


def test_train_variants_sweeps_each_dataset_in_turn(monkeypatch):
    calls = []

    def fake_sweep(units, path, **kwargs):
        calls.append((list(units), path, kwargs))

    monkeypatch.setattr(ep, "run_sweep", fake_sweep)
    benchmarks = {"a": "bench-a", "b": "bench-b"}
    lines = ep.train_variants(benchmarks, ["m1", "m2"], 2, "results.csv", {"a": 3, "b": 1}, {"a": 30, "b": 7},
                              "cpu", 1)
    assert next(lines) == "a: 3 epoch(s), 30 steps per run, 2 methods x 2 seeds; 0.0 min in this run"
    assert len(calls) == 1  # the second dataset is swept only when its line is asked for
    assert [tuple(u) for u in calls[0][0]] == [("a", "m1", 0), ("a", "m1", 1), ("a", "m2", 0), ("a", "m2", 1)]
    assert calls[0][1] == "results.csv"
    kwargs = calls[0][2]
    assert kwargs["epochs"] == 3 and kwargs["device"] == "cpu" and kwargs["num_threads"] == 1
    assert kwargs["progress"] is False and kwargs["load"]("b") == "bench-b"
    assert list(lines) == ["b: 1 epoch(s), 7 steps per run, 2 methods x 2 seeds; 0.0 min in this run"]
    assert calls[1][2]["epochs"] == 1 and calls[1][0][0] == ("b", "m1", 0)


def test_chapter_rows_keeps_the_design_and_labels_it():
    rows = pd.DataFrame({"dataset": ["d", "d", "d", "other", "d"], "method": ["f5", "m2", "x", "f5", "b2"],
                         "seed": [0, 2, 0, 0, 3], "metric": "macro_f1", "value": [0.1, 0.2, 0.3, 0.4, 0.5]})
    out = ep.chapter_rows(rows, ["d"], METHODS, n_seeds=3)
    assert out.method.tolist() == ["f5", "m2"]  # unknown method, other dataset and seed 3 dropped
    assert out.variant.tolist() == ["focal ensemble", "focal MC-dropout"] and out.H.tolist() == [5, 2]
    assert "variant" not in rows.columns  # the input is not modified


def test_score_summary():
    styled = ep.score_summary(scores())
    data = styled.data
    assert data.loc[("d", "macro_f1", "baseline ensemble"), ("mean", 2)] == pytest.approx(0.2)
    assert data.loc[("d", "macro_f1", "baseline ensemble"), ("std", 2)] == pytest.approx(0.1)
    assert data.loc[("d", "au_prc", "focal MC-dropout"), ("mean", 5)] == pytest.approx(0.7 / 3)
    assert list(data.columns) == [("mean", 2), ("mean", 5), ("std", 2), ("std", 5)]
    html = styled.to_html()
    assert ">0.2000<" in html and ">0.1000<" in html
    # a variant missing at one H shows "-"
    partial = scores()[lambda t: ~((t.method == "m5") & (t.metric == "au_prc"))]
    assert ">-<" in ep.score_summary(partial).to_html()


def test_gain_table_and_long_gains():
    styled = ep.gain_table(gains())
    data = styled.data
    assert list(data.columns) == ["focal ensemble: macro_f1", "focal MC-dropout: macro_f1"]
    assert data.loc[2].tolist() == pytest.approx([0.02, -0.10])
    assert data.loc[5].tolist() == pytest.approx([0.04, -0.08])
    html = styled.to_html()
    assert ">+0.0200<" in html and ">-0.1000<" in html
    long = ep.long_gains(gains())
    assert len(long) == 12 and set(long.variant) == {"focal ensemble", "focal MC-dropout"}
    row = long[(long.variant == "focal MC-dropout") & (long.H == 5) & (long.seed == 2)]
    assert row.gain.iloc[0] == pytest.approx(-0.12)


def test_size_tests_text():
    text = ep.size_tests(scores(), METHODS, [2, 5]).splitlines()
    assert text[0] == "focal ensemble against the plain ensemble, macro F1 (all nodes), paired Wilcoxon per H:"
    assert text[1].split() == ["n", "mean", "diff", "p", "p", "(Holm", "over", "H)"]
    # 3 positive differences: exact two-sided p = 2 / 2^3; Holm over the 2 sizes doubles it
    assert text[3].split() == ["2", "3", "0.02", "0.25", "0.5"]
    assert text[4].split() == ["5", "3", "0.04", "0.25", "0.5"]


def test_cost_keys():
    assert ep.cost_keys(["a"], [2, 5]) == {("a", 2, "ensemble"), ("a", 2, "mc_dropout"),
                                           ("a", 5, "ensemble"), ("a", 5, "mc_dropout")}


def cost_table(keys, trained=True) -> pd.DataFrame:
    """A cost table with every column of COST_COLUMNS, one row per (dataset, H, variant) of ``keys``."""
    rows = []
    for i, (d, h, v) in enumerate(keys):
        row = {c: 1.0 for c in COST_COLUMNS}
        row.update(dataset=d, H=h, variant=v, method=f"{v}{h}", device="cpu", threads="1", alloc_method="profiler",
                   trained_this_run=trained, load_avg=0.5 + 0.75 * i, train_wall_s=12.34, time_ratio=0.5,
                   peak_rss_mib=np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def test_read_or_measure_costs_reads_back_a_covering_table(tmp_path):
    path = tmp_path / "cost.csv"
    expected = {("a", 2, "ensemble"), ("a", 2, "mc_dropout")}
    cost_table([("a", 2, "ensemble"), ("a", 2, "mc_dropout"), ("a", 5, "ensemble")]).to_csv(path, index=False)

    def never():
        raise AssertionError("a covering table is read back, not measured")

    cost, note = ep.read_or_measure_costs(path, expected, never)
    assert set(zip(cost.dataset, cost.H, cost.variant)) == expected  # the extra row is left out
    assert note.startswith("read back from ")
    assert note.endswith(" (measured on cpu, 1 thread(s), load average 0.50-1.25); the verdict rests on these "
                         "committed measurements, so re-executing the page never changes it. "
                         "`-p measure_costs True` measures again.")


def test_read_or_measure_costs_measures_and_writes(tmp_path):
    path = tmp_path / "new" / "cost.csv"
    expected = {("a", 2, "ensemble"), ("a", 2, "mc_dropout")}
    made = cost_table(sorted(expected))
    cost, note = ep.read_or_measure_costs(path, expected, lambda: made)  # no file: measured
    assert cost is made and path.is_file() and len(pd.read_csv(path)) == 2
    assert note.startswith("wrote ") and note.endswith("; all sweep times from this run: True")
    stale = cost_table(sorted(expected), trained=False)
    cost, note = ep.read_or_measure_costs(path, expected, lambda: stale, remeasure=True)  # covering, but remeasured
    assert cost is stale and note.endswith("; all sweep times from this run: False")
    assert not pd.read_csv(path).trained_this_run.any()


def test_cost_view_drops_and_formats():
    styled = ep.cost_view(cost_table([("a", 2, "ensemble")]))
    assert not {"alloc_method", "device", "threads"} & set(styled.data.columns)
    assert "train_wall_s" in styled.data.columns
    html = styled.to_html()
    assert ">12.3<" in html and ">0.500<" in html and ">-<" in html  # 1 decimal, 3 decimals, NaN


def test_cost_panels():
    panels = ep.cost_panels("gmu", "cpu")
    assert list(panels) == ["time, focal (gmu), cpu", "memory, focal (gmu), cpu"]
    time_cols, time_claim = panels["time, focal (gmu), cpu"]
    memory_cols, memory_claim = panels["memory, focal (gmu), cpu"]
    assert list(time_cols) == ["time_ratio", "step_time_ratio"]
    assert list(memory_cols) == ["memory_ratio", "state_ratio", "rss_ratio"]
    assert time_claim == pytest.approx(0.32) and memory_claim == pytest.approx(0.34)


def test_dropout_f1_table():
    styled = ep.dropout_f1_table(scores(), METHODS, ["macro_f1", "au_prc"], [2, 5])
    data = styled.data
    assert list(data.columns) == ["ensemble", "MC-dropout", "difference", "relative change", "n", "p",
                                  "p (Holm over H)"]
    f1 = data.loc["macro_f1"]
    assert f1.loc[2, "ensemble"] == pytest.approx(0.22) and f1.loc[2, "MC-dropout"] == pytest.approx(0.10)
    assert f1.loc[2, "difference"] == pytest.approx(-0.12)
    assert f1.loc[2, "relative change"] == pytest.approx(-0.12 / 0.22)
    assert f1.loc[5, "difference"] == pytest.approx(0.12 - 0.24)
    assert f1.n.tolist() == [3, 3] and f1.p.tolist() == pytest.approx([0.25, 0.25])
    assert f1["p (Holm over H)"].tolist() == pytest.approx([0.5, 0.5])
    auprc = data.loc["au_prc"]
    assert auprc["relative change"].isna().all()  # the ensemble's AU(PRC) is 0
    assert auprc.loc[5, "MC-dropout"] == pytest.approx(0.7 / 3)
    html = styled.to_html()
    assert ">-54.5%<" in html and ">-0.1200<" in html and ">0.2200<" in html and ">-<" in html


def test_full_estimate_view():
    estimate = pd.DataFrame({"dataset": ["D1", "D1", "D2", "D2"], "method": ["b2", "f2", "b2", "m5"],
                             "steps": 100, "hours": [1000.0, 200.0, 34.0, 0.4]})
    line, styled = ep.full_estimate_view(estimate, METHODS, "cpu", 1, 27)
    assert line == ("estimated full-profile training time on cpu (1 thread(s)), 10 seeds, 2 datasets: 1,234 hours; "
                    "measured from 27 units of this profile")
    hours = styled.data
    assert list(hours.index) == [2, 5]
    assert hours.loc[2, "baseline ensemble"] == pytest.approx(1034.0)
    assert hours.loc[2, "focal ensemble"] == pytest.approx(200.0)
    assert hours.loc[5, "focal MC-dropout"] == pytest.approx(0.4)
    assert ">1,034.0<" in styled.to_html()
    assert "variant" not in estimate.columns  # the input is not modified
    empty = ep.full_estimate_view(estimate.iloc[:0], METHODS, "cpu", 1, 0)
    assert empty == ("no FUN or GO benchmark on disk: no estimate for the full profile", None)


def test_size_part():
    line, styled = ep.size_part(gains(), [2, 5])
    assert line == "claim 2 (size): gain at H = 5 minus gain at H = 2: +0.0200"
    assert styled.data["focal gain in macro F1 over the plain ensemble"].tolist() == pytest.approx([0.02, 0.04])
    assert list(styled.data.index) == [2, 5] and styled.data.index.name == "H"
    assert ">+0.0400<" in styled.to_html()
    line, styled = ep.size_part(gains(), [2, 5, 10])  # no gain at H = 10
    assert line == "claim 2 (size): gain at H = 10 minus gain at H = 2: +nan"
    assert ">-<" in styled.to_html()


def test_claim4_view():
    claim4 = pd.DataFrame({"H": [10], "part": ["time"], "measured": [0.64], "claimed": [0.68], "holds": [True]})
    styled = ep.claim4_view(claim4)
    html = styled.to_html()
    assert ">+0.640<" in html and ">0.68<" in html
    assert "Claim 4 per H and part (hmc.scorecard.claim4_table)" in html
    assert all(styled.hide_index_)


def test_claim4_report():
    outcome = {"verdict": "inconclusive", "rule_verdict": "reproduced", "evidence": "E", "reasons": "R",
               "strength": "S"}
    assert ep.claim4_report(outcome, "quick", 3, "gmu").splitlines() == [
        "claim 4 verdict: inconclusive (the rule alone, gates ignored: reproduced); quick profile, 3 seeds, "
        "focal gmu, weights on the negatives, sum",
        "evidence: E", "why it cannot decide: R", "strength: S"]
    decided = ep.claim4_report({**outcome, "verdict": "reproduced", "reasons": ""}, "full", 10, "bbma")
    assert decided.splitlines()[0].startswith("claim 4 verdict: reproduced (")
    assert "full profile, 10 seeds, focal bbma" in decided
    assert "why it cannot decide" not in decided and decided.endswith("strength: S")
