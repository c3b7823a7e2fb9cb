"""hmc.book.chmcnn_pages (chapter 02): a hand-built results table and published values, computed by hand."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import chmcnn_pages as cp  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402
from hmc.data import BENCHMARKS  # noqa: E402

COLUMNS = ["dataset", "method", "seed", "metric", "value", "epochs", "hidden_dim", "lr", "device", "wall_time_s"]


def rows():
    out = []
    for seed, v in enumerate([0.25, 0.27, 0.26]):  # cellcycle_FUN: mean 0.26, std 0.01
        out.append(("cellcycle_FUN", "chmcnn", seed, "au_prc", v, 10, 500, 1e-4, "cpu", 60.0))
        out.append(("cellcycle_FUN", "chmcnn", seed, "macro_f1", 0.1, 10, 500, 1e-4, "cpu", 60.0))
    for seed, v in enumerate([0.70, 0.80]):  # enron: mean 0.75
        out.append(("enron", "chmcnn", seed, "au_prc", v, 3, 1000, 1e-5, "cpu", 30.0))
    out.append(("synthetic", "chmcnn", 0, "au_prc", 0.5, 2, 100, 1e-3, "cpu", 6.0))
    return pd.DataFrame(out, columns=COLUMNS)


PUBLISHED = pd.DataFrame({"C-HMCNN": [0.255, 0.73], "HMCN-F": [0.252, 0.71], "Clus-Ens": [0.227, 0.71]},
                         index=pd.Index(["cellcycle_FUN", "enron"], name="dataset"))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_seeds_line():
    t = rows()
    assert cp.seeds_line(t, "cellcycle_FUN", 3) == "cellcycle_FUN: 3 seeds, mean AU(PRC) 0.2600, 3.0 min on cpu"
    assert cp.seeds_line(t, "cellcycle_FUN", 2) == "cellcycle_FUN: 2 seeds, mean AU(PRC) 0.2600, 2.0 min on cpu"
    assert cp.seeds_line(t, "gone", 3) is None


def test_comparison_table_by_hand():
    auprc = rows().query("metric == 'au_prc'")
    table = cp.comparison_table(auprc, PUBLISHED)
    assert list(table.index) == ["cellcycle_FUN", "enron", "synthetic"]
    assert table["ours (mean)"].tolist() == pytest.approx([0.26, 0.75, 0.5])
    assert table["ours (std)"].iloc[0] == pytest.approx(0.01)
    assert table.seeds.tolist() == [3, 2, 1]
    assert table["ours - C-HMCNN"].iloc[:2].tolist() == pytest.approx([0.005, 0.02])
    assert table["within 0.01"].tolist() == [True, False, False]  # no published value: not within
    assert np.isnan(table.loc["synthetic", "C-HMCNN"])
    assert table.loc["enron", ["epochs", "hidden_dim", "lr"]].tolist() == [3, 1000, 1e-5]
    assert table.loc["cellcycle_FUN", "reference epochs"] == BENCHMARKS["cellcycle_FUN"].epochs
    assert np.isnan(table.loc["synthetic", "reference epochs"])
    assert cp.reproduction_lines(table) == [
        "within 0.01 of the published C-HMCNN: 1 of 2 datasets",
        "  not within 0.01: enron: ours 0.7500 vs published 0.730"]


def test_cost_table_by_hand():
    auprc = rows().query("metric == 'au_prc'")
    benchmarks = {"cellcycle_FUN": SimpleNamespace(x_train=np.zeros((10, 1)), x_valid=np.zeros((3, 1))),  # 4 batches
                  "enron": SimpleNamespace(x_train=np.zeros((8, 1)), x_valid=np.zeros((0, 1))),  # 2 batches
                  "synthetic": SimpleNamespace(x_train=np.zeros((4, 1)), x_valid=np.zeros((1, 1)))}  # 2 batches
    cost = cp.cost_table(auprc, benchmarks)
    assert cost.seeds.tolist() == [3, 2, 1]
    assert cost.seconds.tolist() == [180.0, 60.0, 6.0]
    assert cost.steps.tolist() == [40, 6, 4]
    assert cost.minutes.tolist() == pytest.approx([3.0, 1.0, 0.1])
    assert cost["steps per second"].tolist() == pytest.approx([40 / 180, 0.1, 4 / 6])
    assert cost["ms per step (all seeds)"].tolist() == pytest.approx([4500.0, 10000.0, 1500.0])


def test_figures():
    auprc = rows().query("metric == 'au_prc'")
    table = cp.comparison_table(auprc, PUBLISHED)
    fig = cp.published_delta_figure(auprc, PUBLISHED, table)
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    assert ax.get_legend() is None and len(fig.legends) == 1  # one legend, below the panel
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["C-HMCNN +- 0.01", "ours (mean of seeds)", "HMCN-F (published)", "Clus-Ens (published)"]
    # the black bars sit at our mean minus the published mean
    bars = next(c for c in ax.collections if c.get_label() == "ours (mean of seeds)")
    assert bars.get_offsets()[:, 0].tolist() == pytest.approx([0.005, 0.02])
    none = pd.DataFrame(columns=PUBLISHED.columns, index=pd.Index([], name="dataset"))
    fig = cp.published_delta_figure(auprc, none, table)
    assert "no published value" in fig.axes[0].get_title()
    benchmarks = {n: SimpleNamespace(x_train=np.zeros((4, 1)), x_valid=np.zeros((0, 1))) for n in table.index}
    fig = cp.cost_figure(cp.cost_table(auprc, benchmarks))
    assert [p.get_width() for p in fig.axes[0].patches] == pytest.approx([3.0, 1.0, 0.1])
