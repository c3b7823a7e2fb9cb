"""hmc.book.rare_tables: the tables of chapters 03 to 05 against hand-computed values and brute force."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hmc.book import rare_tables as rt
from hmc.synthetic import make_benchmark


def rows(entries, **extra):
    """Tidy rows from (dataset, method, seed, metric, value) tuples."""
    t = pd.DataFrame(entries, columns=["dataset", "method", "seed", "metric", "value"])
    for k, v in extra.items():
        t[k] = v
    return t


def test_method_settings():
    t = rt.method_settings(["baseline-H2", "imbalance-pos-H2", "focal-gmu-H2"])
    assert list(t.index) == ["baseline-H2", "imbalance-pos-H2", "focal-gmu-H2"]
    assert t.loc["baseline-H2", "weights on"] == "-" and t.loc["baseline-H2", "measure"] == "-"
    assert t.loc["imbalance-pos-H2", "weights on"] == "y = 1 terms"
    assert t.loc["focal-gmu-H2", "weights on"] == "y = 0 terms" and t.loc["focal-gmu-H2", "H"] == 2
    assert t.loc["focal-gmu-H2", "focal m + u^k"] == "0.25 + u^2"


TABLE = rows([("d1", "a", 0, "macro_f1", 0.1), ("d1", "a", 1, "macro_f1", 0.3), ("d1", "b", 0, "macro_f1", 0.2),
              ("d1", "b", 1, "macro_f1", 0.2), ("d2", "a", 0, "macro_f1", 0.5), ("d2", "a", 1, "macro_f1", 0.7),
              ("d2", "b", 0, "macro_f1", 0.0), ("d2", "b", 1, "macro_f1", 0.4)])


def test_overall_and_per_dataset_scores():
    overall = rt.overall_scores(TABLE, ["b", "a"], {"macro_f1": "F1"}, labels={"a": "A"})
    assert list(overall.index) == ["b", "A"] and list(overall.columns) == ["F1"]
    assert overall.loc["A", "F1"] == pytest.approx((0.2 + 0.6) / 2)  # seed means 0.2 and 0.6
    assert overall.loc["b", "F1"] == pytest.approx((0.2 + 0.2) / 2)
    cells = rt.per_dataset_scores(TABLE, ["d2", "d1"], ["a", "b"], {"macro_f1": "F1"})
    assert list(cells.index) == [("d2", "a"), ("d2", "b"), ("d1", "a"), ("d1", "b")]
    assert cells.loc[("d1", "a"), "F1"] == f"0.2000 ± {np.std([0.1, 0.3], ddof=1):.4f}"
    assert cells.loc[("d1", "b"), "F1"] == "0.2000 ± 0.0000"


def test_bucket_census_against_a_loop_over_nodes():
    from hmc.metrics import frequency_buckets

    b = make_benchmark(n_samples=300, depth=3, branching=2, seed=1)
    census = rt.bucket_census({"s": b})
    y_fit = np.concatenate([b.y_train, b.y_valid])  # labels already hold their ancestors
    for node in b.eval_nodes:
        count = int(y_fit[:, node].sum())
        bucket = str(frequency_buckets(np.array([count]))[0])
        assert census.loc["s", ("nodes", bucket)] >= 1
    total = sum(census.loc["s", ("nodes", k)] for k in rt.BUCKETS)
    assert total == len(b.eval_nodes)
    with_test = sum(int(b.y_test[:, n].sum() > 0) for n in b.eval_nodes)
    assert sum(census.loc["s", ("with test positives", k)] for k in rt.BUCKETS) == with_test


RECALL = rows([("d1", "base", 0, "recall@freq=1-5", 0.0), ("d1", "base", 0, "recall@freq=>100", 0.5),
               ("d1", "m", 0, "recall@freq=1-5", 0.2), ("d1", "m", 0, "recall@freq=>100", 1.0),
               ("d2", "base", 0, "recall@freq=>100", 0.3), ("d2", "m", 0, "recall@freq=>100", 0.6),
               ("d1", "m", 0, "f1@freq=>100", 0.4), ("d1", "base", 0, "f1@freq=>100", 0.2)])


def test_group_means_and_bucket_means():
    g = rt.group_means(RECALL, "recall@freq=")
    assert g.loc["m", ">100"] == pytest.approx(0.8) and g.loc["m", "1-5"] == pytest.approx(0.2)
    gains = pd.DataFrame({"dataset": ["d1", "d1", "d2"], "method": ["m"] * 3, "group": ["1-5", ">100", ">100"],
                          "gain": [np.inf, 2.0, 3.0]})
    t = rt.bucket_means(RECALL, gains, ["base", "m"], labels={"m": "M"})
    assert list(t.index) == ["base", "M"]
    assert t.loc["M", ("max recall gain", ">100")] == 3.0 and np.isnan(t.loc["M", ("max recall gain", "1-5")])
    assert t.loc["base", ("F1", ">100")] == pytest.approx(0.2) and t.columns.names[1] == "bucket"
    assert rt.gain_counts(gains.assign(gain=[np.inf, np.nan, 2.0])) == (
        "(dataset, method, bucket) gains: 1 finite, 1 infinite (baseline recall 0, method > 0), 1 undefined (0 / 0)")


def test_depth_means_and_table():
    t = rows([("d1", "m", 0, "f1@depth=1", 0.2), ("d1", "m", 1, "f1@depth=1", 0.4), ("d2", "m", 0, "f1@depth=1", 0.9),
              ("d1", "m", 0, "recall@depth=2", 0.5)])
    d = rt.depth_means(t)
    assert d[(d.kind == "f1") & (d.depth == 1)].value.item() == pytest.approx((0.3 + 0.9) / 2)
    wide = rt.depth_table(d, ["m"], {"m": "M"})
    assert wide.loc["M", ("recall", 2)] == 0.5


def test_test_cells_and_across_tables():
    per = pd.DataFrame({"dataset": ["d1", "d2"], "method": ["m", "m"], "mean_diff": [0.01234, -0.5], "p_holm": [0.25, 1.0]})
    cells = rt.per_dataset_test_cells(per, ["d2", "d1"], ["m"], {"m": "M"})
    assert cells.loc["d1", "M"] == "+0.0123 (p_holm 0.25)" and cells.loc["d2", "M"] == "-0.5000 (p_holm 1)"
    across = pd.DataFrame({"metric": ["au_prc", "macro_f1"], "p_holm": [0.5, 0.125], "mean_diff": [0.1, -0.2]},
                          index=["m", "m"])
    p, diff = rt.across_tables(across, ["m"], ["macro_f1", "au_prc"], {"m": "M"})
    assert p.loc["M"].tolist() == [0.125, 0.5] and diff.loc["M"].tolist() == [-0.2, 0.1]


def test_wall_times_and_full_estimate():
    t = rows([("d", "m", 0, "au_prc", 0.1), ("d", "m", 1, "au_prc", 0.1), ("d", "n", 0, "au_prc", 0.1)],
             wall_time_s=[4.0, 6.0, 3.0], epochs=2, device="cpu")
    cost = rt.wall_times(t)
    assert cost.set_index("method").loc["m", ["seeds", "seconds", "seconds per unit-epoch"]].tolist() == [2, 10.0, 2.5]
    est = rt.full_estimate(cost, {"d": 100})
    assert est.loc["d", "s per epoch, all methods"] == pytest.approx(2.5 + 1.5)
    assert est.loc["d", "full: hours for 10 seeds"] == pytest.approx(4.0 * 100 * 10 / 3600)


def test_ensemble_variants():
    names = rt.ensemble_variants([2, 5], "gmu")
    assert names["baseline ensemble", 2] == "baseline-H2" and names["focal ensemble", 5] == "focal-gmu-H5"
    assert names["focal MC-dropout", 2] == "mcdropout-gmu-H2" and len(names) == 6


def ens_scores():
    out = []
    for seed, (b, f, mc) in enumerate([(0.10, 0.15, 0.12), (0.20, 0.22, 0.10), (0.30, 0.31, 0.33)]):
        for variant, v in (("baseline ensemble", b), ("focal ensemble", f), ("focal MC-dropout", mc)):
            out.append(("d", variant, seed, "macro_f1", v))
    t = rows(out)
    t["variant"], t["H"] = t.method, 2
    return t


def test_focal_gains_and_paired_by_h():
    t = ens_scores()
    g = rt.focal_gains(t).set_index("seed")
    assert g["focal ensemble"].tolist() == pytest.approx([0.05, 0.02, 0.01])
    assert g["focal MC-dropout"].tolist() == pytest.approx([0.02, -0.10, 0.03])
    methods = {(v, 2): v for v in ("baseline ensemble", "focal ensemble", "focal MC-dropout")}
    res = rt.paired_by_h(t, methods, "focal ensemble", "focal MC-dropout", "macro_f1", [2])
    e, m = np.mean([0.15, 0.22, 0.31]), np.mean([0.12, 0.10, 0.33])
    assert res.loc[2, "relative change"] == pytest.approx((m - e) / e)
    assert res.loc[2, "n"] == 3 and res.loc[2, "mean diff"] == pytest.approx(m - e)
    ref = stats.wilcoxon(np.array([0.12, 0.10, 0.33]) - np.array([0.15, 0.22, 0.31])).pvalue
    assert res.loc[2, "p"] == pytest.approx(ref) and res.loc[2, "p (Holm over H)"] == pytest.approx(ref)


def test_claim4_cost_table_ratios_by_hand():
    measured = pd.DataFrame({"dataset": ["d", "d"], "H": [2, 2], "variant": ["ensemble", "mc_dropout"],
                             "method": ["focal-gmu-H2", "mcdropout-gmu-H2"], "ms_per_step": [10.0, 4.0],
                             "peak_alloc_bytes": [2**21, 2**20], "state_bytes": [4 * 2**20, 2**20],
                             "peak_rss_bytes": [None, None], "n_parameters": [100, 50], "alloc_method": "x",
                             "load_avg": 1.0})
    sweep = rows([("d", "focal-gmu-H2", 0, "au_prc", 0.1), ("d", "focal-gmu-H2", 1, "au_prc", 0.1),
                  ("d", "mcdropout-gmu-H2", 0, "au_prc", 0.1), ("d", "mcdropout-gmu-H2", 1, "au_prc", 0.1)],
                 wall_time_s=[3.0, 5.0, 1.0, 1.0], epochs=1, device="cpu")
    cost = rt.claim4_cost_table(measured, sweep, {("d", "focal-gmu-H2")}, {"d": 25}, "1")
    assert list(cost.columns) == rt.COST_COLUMNS
    mc = cost.set_index("variant").loc["mc_dropout"]
    assert (mc.train_wall_s, mc.step_time_ratio, mc.time_ratio) == (2.0, 0.4, 0.25)
    assert (mc.peak_alloc_mib, mc.memory_ratio, mc.state_ratio) == (1.0, 0.5, 0.25)
    assert cost.trained_this_run.tolist() == [True, False] and cost.steps.tolist() == [25, 25]


def test_network_parameters_and_arff_rows(tmp_path):
    from hmc.data.benchmarks import BenchmarkSpec

    spec = BenchmarkSpec("x", "FUN", {}, input_dim=10, n_labels=4, hidden_dim=3, epochs=1, lr=0.1)
    assert rt.network_parameters(spec) == 10 * 3 + 3 * 3 + 3 * 5
    path = tmp_path / "t.arff"
    path.write_text("@relation r\n@attribute a numeric\n% a comment\n@DATA\n1\n\n% skipped\n2\n3\n")
    assert rt.arff_rows(path) == 3


def test_fit_rows_counts_the_sample_files(sample_data):
    from hmc.data import BENCHMARKS, paths
    from hmc.data.arff import read_arff

    expected = sum(len(read_arff(paths.find(BENCHMARKS["cellcycle_FUN"].files[s])).x) for s in ("train", "valid"))
    assert rt.fit_rows("cellcycle_FUN") == expected


def test_ensemble_full_estimate_and_step_cost(monkeypatch):
    from hmc.data import BENCHMARKS

    monkeypatch.setattr(rt, "fit_rows", lambda name: 10 if name == "cellcycle_FUN" else None)
    est = rt.ensemble_full_estimate({"m": 1e-6}, ["cellcycle_FUN", "spo_FUN"], seeds=10)
    spec = BENCHMARKS["cellcycle_FUN"]
    assert est.dataset.tolist() == ["cellcycle_FUN"] and est.steps.item() == 3 * spec.epochs
    assert est.hours.item() == pytest.approx(10 * 3 * spec.epochs * rt.network_parameters(spec) * 1e-6 / 3600)
    b = make_benchmark(n_samples=100, depth=2, branching=2, seed=0)
    params = (b.x_train.shape[1] + b.spec.hidden_dim + len(b.hierarchy)) * b.spec.hidden_dim
    t = rows([("s", "m", 0, "au_prc", 0.1), ("s", "m", 1, "au_prc", 0.1), ("s", "m", 2, "au_prc", 0.1)],
             wall_time_s=[1.0, 2.0, 9.0])
    assert rt.step_cost_per_parameter(t, {"s": b}, {"s": 4})["m"] == pytest.approx(2.0 / 4 / params)


def test_read_back_costs(tmp_path):
    path = tmp_path / "cost.csv"
    assert rt.read_back_costs(path, {("d", 2, "ensemble")}) is None
    pd.DataFrame({"dataset": ["d", "d", "e"], "H": [2, 2, 2], "variant": ["ensemble", "mc_dropout", "ensemble"]}).to_csv(
        path, index=False)
    back = rt.read_back_costs(path, {("d", 2, "ensemble"), ("d", 2, "mc_dropout")})
    assert back.dataset.tolist() == ["d", "d"]
    assert rt.read_back_costs(path, {("d", 5, "ensemble")}) is None


def test_schedule_family():
    cases = {"baseline": "baseline", "imbalance-neg": "imbalance", "sched-lin": "per-epoch schedule",
             "sched-global-exp": "global schedule", "mixed-0.5": "mixed", "lpros": "LPROS",
             "lpros+imbalance-neg": "LPROS", "focal-gmu-H2": "other"}
    assert {m: rt.schedule_family(m) for m in cases} == cases
    assert set(cases.values()) <= set(rt.SCHEDULE_FAMILIES)


def test_wilcoxon_against():
    entries = []
    for seed in range(3):
        for m, v in (("base", 0.1 * seed), ("w", 0.1 * seed + 0.05), ("x", 0.1 * seed + [0.01, 0.02, 0.04][seed])):
            entries.append(("d", m, seed, "macro_f1", v))
    wide = rt.wilcoxon_against(rows(entries), ["base", "w", "x"], ["base", "w"])
    assert list(wide.index) == ["base", "w", "x"]
    assert wide.loc["x", ("mean_diff", "d", "base")] == pytest.approx(np.mean([0.01, 0.02, 0.04]))
    assert wide.loc["x", ("mean_diff", "d", "w")] == pytest.approx(np.mean([0.01, 0.02, 0.04]) - 0.05)
    assert np.isnan(wide.loc["base", ("mean_diff", "d", "base")])


def test_schedule_costs_and_estimate():
    t = rows([("d", "base", 0, "au_prc", 0.1), ("d", "base", 1, "au_prc", 0.1), ("d", "lpros", 0, "au_prc", 0.1)],
             wall_time_s=[3.0, 5.0, 6.0], epochs=2)
    cost = rt.schedule_costs(t, {"d": 10}, {"d": 3}).set_index("method")
    assert cost.loc["base", ["rows", "steps", "seeds"]].tolist() == [10, 6, 2]  # ceil(10 / 4) = 3 batches, 2 epochs
    assert cost.loc["lpros", ["rows", "steps"]].tolist() == [13, 8]
    assert cost.loc["base", "s per seed-step"] == pytest.approx(8.0 / 12)
    est = rt.schedule_full_estimate(cost.reset_index(), {"d": 100}, seeds=10)
    hours = (8.0 / 12 * 10 * 3 * 100 + 6.0 / 8 * 10 * 4 * 100) / 3600
    assert est.loc["d", "full estimate (hours, this device)"] == pytest.approx(hours)
    assert est.loc["d", "minutes"] == pytest.approx(14.0 / 60) and est.loc["d", "reference epochs"] == 100
