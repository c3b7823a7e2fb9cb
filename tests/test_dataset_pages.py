"""hmc.book.dataset_pages (chapter 01): tables of hand-built benchmarks and image sets, counted by hand."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import hmc.data  # noqa: E402
from hmc.book import dataset_pages as dp  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402
from hmc.errors import DatasetMissingError  # noqa: E402
from hmc.hierarchy import Hierarchy  # noqa: E402

# root -> a, b; a -> c; c -> d (a tree; depths 0, 1, 1, 2, 3); evaluated: a, b, c, d
TREE = Hierarchy(["root", "a", "b", "c", "d"], [("root", "a"), ("root", "b"), ("a", "c"), ("c", "d")])
# the same with a second parent for d (b -> d): a DAG
DAG = Hierarchy(["root", "a", "b", "c", "d"], [("root", "a"), ("root", "b"), ("a", "c"), ("c", "d"), ("b", "d")])


def bench(family, hierarchy, y_train, n_valid=2, n_test=3, n_features=4):
    c = len(hierarchy)
    return SimpleNamespace(family=family, hierarchy=hierarchy, y_train=np.array(y_train, dtype=np.uint8),
                           y_valid=np.zeros((n_valid, c), np.uint8), y_test=np.zeros((n_test, c), np.uint8),
                           eval_nodes=np.array([1, 2, 3, 4]), x_train=np.zeros((len(y_train), n_features)))


#          root a  b  c  d
Y_FUN = [[1, 1, 0, 1, 1],
         [1, 1, 0, 1, 0],
         [1, 0, 1, 0, 0]]
Y_GO = [[1, 1, 1, 1, 1],
        [1, 0, 1, 0, 0]]
LOADED = {"x_FUN": bench("FUN", TREE, Y_FUN), "x_GO": bench("GO", DAG, Y_GO, n_valid=0, n_test=1, n_features=7)}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_benchmark_tables_by_hand():
    summary, nodes = dp.benchmark_tables(LOADED, rare_threshold=2)
    assert list(summary.index) == ["x_FUN", "x_GO"]
    fun = summary.loc["x_FUN"]
    assert (fun["train samples"], fun["valid samples"], fun["test samples"], fun["features"]) == (3, 2, 3, 4)
    assert (fun["evaluated nodes"], fun["DAG"], fun["max depth"]) == (4, False, 3)
    assert fun["labels per sample"] == pytest.approx(2.0)  # (3 + 2 + 1) / 3
    go = summary.loc["x_GO"]
    assert (go["train samples"], go["valid samples"], go["test samples"], go["features"]) == (2, 0, 1, 7)
    assert bool(go["DAG"]) and go["max depth"] == 3 and go["labels per sample"] == pytest.approx(2.5)
    # positives FUN: a 2, b 1, c 2, d 1 -> rare (< 2): b, d = 50%; GO: a 1, b 2, c 1, d 1 -> 75%
    assert list(summary["rare nodes"]) == ["50%", "75%"]
    assert nodes[nodes.dataset == "x_FUN"].positives.tolist() == [2, 1, 2, 1]
    assert nodes[nodes.dataset == "x_GO"].depth.tolist() == [1, 1, 2, 3]
    assert nodes.rare.tolist() == [False, True, False, True, True, False, True, True]


def test_benchmark_tables_fall_back_to_a_synthetic_hierarchy():
    summary, nodes = dp.benchmark_tables({}, rare_threshold=5, seed=0)
    assert list(summary.index) == ["synthetic"]
    row = summary.loc["synthetic"]
    assert (row["train samples"], row["valid samples"], row["test samples"]) == (2000, 0, 1000)
    assert set(nodes.family) == {"synthetic"} and nodes.depth.min() == 1


def test_rare_by_depth_and_fun_go_table():
    summary, nodes = dp.benchmark_tables(LOADED, rare_threshold=2)
    rare = dp.rare_by_depth(nodes)
    assert rare[rare.family == "FUN"].rare.tolist() == [0.5, 0.0, 1.0]  # depth 1: a, b; 2: c; 3: d
    assert rare[rare.family == "GO"].rare.tolist() == [0.5, 1.0, 1.0]
    table = dp.fun_go_table(nodes, summary)
    assert table.features.tolist() == ["x", "x"] and table.family.tolist() == ["FUN", "GO"]
    assert table.nodes.tolist() == [4, 4]
    assert table.rare.tolist() == [0.5, 0.75]
    assert table["labels per sample"].tolist() == [2.0, 2.5]
    others = nodes.assign(family="others")  # no FUN or GO: every dataset is kept
    assert len(dp.fun_go_table(others, summary)) == 2


def test_benchmark_figures_keep_two_panels_per_row_and_the_legend_outside():
    summary, nodes = dp.benchmark_tables(LOADED, rare_threshold=2)
    three = pd.concat([nodes, nodes[nodes.dataset == "x_FUN"].assign(dataset="y", family="others")])
    fig = dp.depth_boxes_figure(three)
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH) and len(fig.axes) == 3
    assert len({round(ax.get_position().y0, 2) for ax in fig.axes}) == 2  # two rows: 2 + 1 panels
    fig = dp.fun_go_figure(dp.fun_go_table(nodes, summary), rare_threshold=2)
    assert len(fig.axes) == 3 and all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    fig = dp.rare_depth_figure(nodes, rare_threshold=2)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["FUN", "GO"]


def images(n_fine=3):
    # 6 training images: fine classes 0, 0, 0, 2, 2, 0 (class 1 empty); coarse classes 0, 0, 0, 1, 1, 0
    fine = torch.tensor([0, 0, 0, 2, 2, 0])
    coarse = torch.tensor([0, 0, 0, 1, 1, 0])
    return SimpleNamespace(y_train=torch.stack([fine, coarse], 1), y_test=torch.zeros(4, 2, dtype=torch.long),
                           x_train=torch.zeros(6, 1, 5, 5, dtype=torch.uint8), level_names=["fine", "coarse"],
                           class_names=[[f"f{i}" for i in range(n_fine)], ["c0", "c1"]], split="fixed")


def test_image_table_and_class_counts():
    table = dp.image_table({"toy": images()})
    assert table.loc["toy"].tolist() == ["3 fine -> 2 coarse", 6, 4, "1x5x5", "fixed"]
    assert dp.class_counts(images()).tolist() == [4, 2, 0]
    assert dp.class_counts(images(n_fine=5)).tolist() == [4, 2, 0, 0, 0]


def test_load_image_sets_reports_the_missing(monkeypatch):
    calls = []

    def fake(name, **options):
        calls.append((name, options))
        if name == "gone":
            raise DatasetMissingError("missing data file 'gone.tar.gz'")
        return name

    monkeypatch.setattr(hmc.data, "load_image_hierarchy", fake)
    said = []
    sets = dp.load_image_sets(["synthetic", "gone", "omniglot"], seed=3, report=said.append)
    assert sets == {"synthetic": "synthetic", "omniglot": "omniglot"}
    assert calls[0] == ("synthetic", {"seed": 3, "imbalance": 10.0}) and calls[2] == ("omniglot", {})
    assert len(said) == 1 and said[0].startswith("not on disk: gone") and "gone.tar.gz" in said[0]


def test_image_figures():
    fig = dp.image_montage("toy", images(), n_rows=8, per_row=4)
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    assert len(fig.axes) == 2 * 4  # one row per coarse class present
    assert sum(len(ax.images) for ax in fig.axes) == 6  # every image of both classes, at most 4 per row
    fig = dp.class_count_figure("toy", images())
    (steps,) = fig.axes[0].patches  # one filled step patch, visible however many classes
    assert steps.get_data().values.tolist() == [4, 2, 0] and steps.get_fill()
