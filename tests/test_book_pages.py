"""hmc.book.pages: the page helpers of the chapters, by hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from hmc.book import pages
from hmc.errors import DatasetMissingError
from hmc.synthetic import make_benchmark


def small():
    return make_benchmark(n_samples=100, depth=2, branching=2, seed=0)  # split 50 / 20 / 30 rows


def test_check_budget_rejects_bad_parameters():
    pages.check_budget(1.0, 1)
    for fraction, seeds in ((0.0, 3), (1.5, 3), (0.5, 0)):
        with pytest.raises(ValueError):
            pages.check_budget(fraction, seeds)


def test_resolve_device_keeps_an_explicit_choice():
    assert pages.resolve_device("cpu") == "cpu"
    assert pages.resolve_device("auto") in ("cpu", "cuda")


def test_results_csv(monkeypatch, tmp_path):
    monkeypatch.setenv("HMC_RESULTS_DIR", str(tmp_path))
    assert pages.results_csv("smoke", "x.csv") == tmp_path / "smoke" / "x.csv"
    assert str(pages.results_csv("smoke", "x.csv", "elsewhere/y.csv")) == "elsewhere/y.csv"


def test_select_benchmarks(sample_data):
    from hmc.data import BENCHMARKS
    from hmc.data.benchmarks import benchmark_names

    assert pages.select_benchmarks(["cellcycle_FUN", "spo_FUN"]) == ["cellcycle_FUN", "spo_FUN"]
    assert pages.select_benchmarks(["synthetic"], extra=["synthetic"]) == ["synthetic"]
    with pytest.raises(ValueError, match="unknown benchmarks \\['nope'\\]"):
        pages.select_benchmarks(["cellcycle_FUN", "nope"])
    on_disk = benchmark_names(available_only=True)
    assert on_disk and pages.select_benchmarks(["all"]) == on_disk
    fun_go = pages.select_benchmarks(["fun_go"])
    assert fun_go == [n for n in on_disk if n.endswith(("_FUN", "_GO"))]
    assert all(BENCHMARKS[n].family in ("FUN", "GO") for n in fun_go)


def test_load_benchmarks_reports_missing_and_falls_back(monkeypatch):
    def fake_load(name, imputation="trainvalid"):
        if name == "gone_FUN":
            raise DatasetMissingError("gone_FUN.train.arff: fetch it with `python -m hmc data fetch`")
        return f"{name}:{imputation}"

    monkeypatch.setattr(pages, "load_benchmark", fake_load)
    said = []
    loaded = pages.load_benchmarks(["a_FUN", "gone_FUN"], imputation="per_split", report=said.append)
    assert loaded == {"a_FUN": "a_FUN:per_split"}
    assert len(said) == 1 and said[0].startswith("not on disk: gone_FUN") and "python -m hmc data fetch" in said[0]
    said.clear()
    loaded = pages.load_benchmarks(["gone_FUN"], synthetic_samples=120, report=said.append)
    assert list(loaded) == ["synthetic"] and len(said) == 2 and "synthetic hierarchy" in said[1]
    b = loaded["synthetic"]
    assert len(b.x_train) + len(b.x_valid) + len(b.x_test) == 120
    assert pages.load_benchmarks(["gone_FUN"], fallback=False, report=said.append) == {}
    assert list(pages.load_benchmarks(["synthetic"], synthetic_samples=100, report=said.append)) == ["synthetic"]


def test_cap_fit_rows_train_first_and_proportional():
    b = small()
    assert (len(b.x_train), len(b.x_valid), len(b.x_test)) == (50, 20, 30)
    first = pages.cap_fit_rows(b, 60)
    assert (len(first.x_train), len(first.x_valid), len(first.x_test)) == (50, 10, 30)
    assert np.array_equal(first.x_valid, b.x_valid[:10]) and np.array_equal(first.y_valid, b.y_valid[:10])
    assert (len(pages.cap_fit_rows(b, 30).x_train), len(pages.cap_fit_rows(b, 30).x_valid)) == (30, 0)
    prop = pages.cap_fit_rows(b, 35, proportional=True)  # round(35 * 50 / 70) = 25, valid the other 10
    assert (len(prop.x_train), len(prop.y_train), len(prop.x_valid), len(prop.y_valid)) == (25, 25, 10, 10)
    assert pages.cap_fit_rows(b, 0) is b and pages.cap_fit_rows(b, 70) is b


def test_epochs_and_steps():
    b = small()  # 20 epochs, 70 fitting rows
    assert [pages.scaled_epochs(b, f) for f in (0.01, 0.05, 0.5, 1.0)] == [1, 1, 10, 20]
    assert pages.fit_steps(b, 2) == 36  # ceil(70 / 4) = 18 batches, twice
    assert pages.fit_steps(b, 1, batch_size=7) == 10


def units(*triples):
    return pd.DataFrame([{"dataset": d, "method": m, "seed": s, "metric": "au_prc", "value": 0.0}
                         for d, m, s in triples])


def test_units_report_and_trained_in_run():
    table = units(("a", "x", 0), ("a", "x", 1), ("a", "y", 0), ("b", "x", 0))
    before = units(("a", "x", 0), ("b", "x", 0), ("c", "z", 0))
    assert pages.units_report(table, before, 6) == (
        "4 of the design's 6 (dataset, method, seed) units: 2 read back from the results store, "
        "the others trained in this run")
    assert pages.units_report(table, units(), trained=False).startswith("4 (dataset, method, seed) units: 0 read")
    assert pages.trained_in_run(table, before) == {("a", "y")}
    assert pages.trained_in_run(table, units()) == {("a", "x"), ("a", "y"), ("b", "x")}


def test_mean_std_cell():
    assert pages.mean_std_cell(0.12345, 0.01) == "0.1235 ± 0.0100"
    assert pages.mean_std_cell(0.5, float("nan"), digits=2) == "0.50"
