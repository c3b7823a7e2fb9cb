"""hmc.book.reproduce_pages (the reproduce page): hand-written manifests, results tables and executed
pages in a temporary folder, with the rows and text expected written out by hand."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import reproduce_pages as rp  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402

CPU = "cpu: AMD EPYC (2 logical cores, torch threads 1)"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_duration_device_and_read_back():
    assert [rp.duration(s) for s in (None, float("nan"), 5.4, 89.6, 90, 5399, 5400, 12240)] == [
        "", "", "5 s", "90 s", "1.5 min", "90.0 min", "1.5 h", "3.4 h"]
    assert rp.device_label(CPU) == "CPU, 2 cores"
    assert rp.device_label("cuda: NVIDIA H100 80GB HBM3") == "NVIDIA H100 80GB HBM3"
    assert rp.device_label("?") == "?"
    assert rp.read_back_text({"units": 90, "wall_time_s": 12240}) == ", plus 90 units read back (3.4 h when they ran)"
    assert rp.read_back_text(None) == "" and rp.read_back_text(float("nan")) == ""


def test_short_value_and_profile_table():
    assert rp.short_value("abc") == "abc" and rp.short_value(["a", 1]) == '["a", 1]'
    assert rp.short_value("x" * 61) == "x" * 57 + "..." and rp.short_value("x" * 60) == "x" * 60
    profiles = {"00_a": {"smoke": {"n": 3, "names": ["p", "q"]}, "quick": {}}}
    table = rp.profile_table(profiles, ["smoke", "quick"])
    assert table.loc[("00_a", "smoke"), "settings"] == 'n = 3; names = ["p", "q"]'
    assert table.loc[("00_a", "quick"), "settings"] == "(the notebook's defaults)"


def write_manifest(root, profile, stem, **fields):
    folder = root / profile / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(fields))


@pytest.fixture
def manifests(tmp_path):
    write_manifest(tmp_path, "quick", "02_b", status="ok", wall_time_s=30.0, device=CPU, commit="c1",
                   started="2026-12-06 20:00:00 UTC", read_back={"units": 12, "wall_time_s": 600.0})
    write_manifest(tmp_path, "quick", "00_a", status="ok", wall_time_s=6.0, device=CPU, commit="c1",
                   started="2026-12-06 19:00:00 UTC")
    write_manifest(tmp_path, "full", "02_b", status="failed", wall_time_s=7200.0, device="cuda: H100", commit="c2",
                   started="2026-12-06 21:00:00 UTC")
    write_manifest(tmp_path, "quick", "90_r", status="ok", wall_time_s=15.0, device=CPU)
    return rp.read_manifests(tmp_path, ["smoke", "quick", "full"])


def test_read_manifests(manifests):
    assert list(manifests.columns) == rp.MANIFEST_COLUMNS
    assert list(zip(manifests.notebook, manifests.profile)) == [("00_a", "quick"), ("02_b", "quick"), ("90_r", "quick"),
                                                                 ("02_b", "full")]
    assert manifests.commit.tolist() == ["c1", "c1", "?", "c2"]
    assert pd.isna(manifests.started.iloc[2]) and manifests.read_back.iloc[1] == {"units": 12, "wall_time_s": 600.0}


def test_time_table(manifests):
    table = rp.time_table(manifests, ["00_a", "01_x", "02_b"], ["smoke", "quick", "full"])
    assert list(table.columns) == ["quick", "full"]  # no smoke manifest: no smoke column
    assert table.to_dict("index") == {
        "00_a": {"quick": "6 s (CPU, 2 cores)", "full": ""},
        "01_x": {"quick": "", "full": ""},
        "02_b": {"quick": "30 s (CPU, 2 cores), plus 12 units read back (10.0 min when they ran)",
                 "full": "2.0 h (H100), failed"}}


def test_quick_cost(manifests):
    cost = rp.quick_cost(manifests, ["00_a", "02_b"])  # 90_r is not a chapter
    assert cost == {"count": 2, "wall_s": 36.0, "read_back_s": 600.0, "total_s": 636.0}
    assert rp.quick_cost(manifests, ["01_x"]) == {"count": 0, "wall_s": 0.0, "read_back_s": 0.0, "total_s": 0.0}


def test_wall_time_figure(manifests):
    fig = rp.wall_time_figure(manifests, ["00_a", "02_b", "90_r"], ["quick", "full"])
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["quick", "full"]
    assert sorted(p.get_width() for p in ax.patches if p.get_width() > 0) == [6.0, 15.0, 30.0, 7200.0]
    empty = rp.wall_time_figure(manifests.iloc[:0], ["00_a"], ["quick"])
    assert empty.axes[0].texts[0].get_text() == "no run manifests found"


def test_stored_training(tmp_path):
    (tmp_path / "quick").mkdir()
    # two metric rows per unit: each unit's wall time counts once
    pd.DataFrame({"dataset": ["d1"] * 6 + ["d2"] * 2, "method": ["m", "m", "m", "m", "n", "n", "m", "m"],
                  "seed": [0, 0, 1, 1, 0, 0, 0, 0], "metric": ["a", "b"] * 4,
                  "wall_time_s": [60, 60, 40, 40, 100, 100, 3600, 3600],
                  "device": ["cpu"] * 6 + ["cuda", "cuda"]}).to_csv(tmp_path / "quick" / "03_c.csv", index=False)
    pd.DataFrame({"dataset": ["d1"], "value": [1]}).to_csv(tmp_path / "quick" / "01_x.csv", index=False)  # no times
    stored = rp.stored_training(tmp_path, ["quick", "full"], ["01_x", "03_c"])
    assert stored.to_dict("list") == {"notebook": ["03_c", "03_c"], "profile": ["quick", "quick"], "dataset": ["d1", "d2"],
                                      "units": [3, 1], "training time": ["3.3 min", "60.0 min"],
                                      "training_s": [200, 3600], "device": ["cpu", "cuda"]}
    totals = rp.stored_totals(stored)
    assert totals.to_dict("index") == {("quick", "03_c"): {"training time": "63.3 min", "device": "cpu, cuda"}}
    assert rp.stored_training(tmp_path, ["full"], ["03_c"]).empty


def executed(path, profile, start, end, duration=12.0, error=False):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    if error:
        cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"parameters": {"profile": profile}, "start_time": start, "end_time": end,
                                "duration": duration}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_page_list_and_status(tmp_path, manifests):
    book = tmp_path / "book"
    executed(book / "00_a.ipynb", "quick", "2026-12-06T19:00:30+00:00", "2026-12-06T19:00:36+00:00")  # the manifest's run
    executed(book / "02_b.ipynb", "quick", "2026-12-06T18:00:00+00:00", "2026-12-06T18:01:00+00:00", error=True)
    executed(book / "full" / "02_b.ipynb", "full", "2026-12-06T21:00:10+00:00", "2026-12-06T23:00:10+00:00")
    executed(book / "full" / "zz.ipynb", "full", "2026-12-06T21:00:10+00:00", "2026-12-06T23:00:10+00:00")
    pages = rp.page_list(tmp_path, ["00_a", "01_x", "02_b", "90_r"], "90_r")
    assert [(name, stem) for name, _, stem in pages] == [("00_a", "00_a"), ("01_x", "01_x"), ("02_b", "02_b"),
                                                         ("full/02_b", "02_b")]
    status = rp.page_status(pages, manifests)
    assert status.to_dict("index") == {
        "00_a": {"profile": "quick", "executed": "2026-12-06 19:00", "device": "CPU, 2 cores", "commit": "c1",
                 "wall time": "6 s", "status": "ok", "manifest": "this run"},
        "01_x": {"profile": "", "executed": "", "device": "", "commit": "", "wall time": "", "status": "not executed",
                 "manifest": ""},
        "02_b": {"profile": "quick", "executed": "2026-12-06 18:01", "device": "", "commit": "", "wall time": "12 s",
                 "status": "failed", "manifest": "another run"},
        "full/02_b": {"profile": "full", "executed": "2026-12-06 23:00", "device": "H100", "commit": "c2",
                      "wall time": "2.0 h", "status": "failed", "manifest": "this run"}}
    shown = rp.status_columns(status)
    assert shown.loc["00_a"].tolist() == ["quick, 2026-12-06 19:00 UTC<br>CPU, 2 cores<br>commit c1", "6 s",
                                          "ok<br>manifest: this run"]
    assert shown.loc["01_x"].tolist() == [",  UTC", "", "not executed"]
    assert shown.loc["02_b"].tolist() == ["quick, 2026-12-06 18:01 UTC", "12 s", "failed<br>manifest: another run"]


def test_status_columns_break_the_read_back_line():
    status = pd.DataFrame([{"profile": "quick", "executed": "2026-12-06 20:00", "device": "", "commit": "",
                            "wall time": "30 s, plus 12 units read back (10.0 min when they ran)", "status": "ok",
                            "manifest": "none"}], index=pd.Index(["02_b"], name="page"))
    assert rp.status_columns(status).loc["02_b", "wall time"] == "30 s<br>plus 12 units read back (10.0 min when they ran)"
