"""hmc.book.rare_image_pages: chapter 07's tables and figures, from a synthetic stress table and an empty one."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import rare_image_pages as pages  # noqa: E402
from hmc.book.rare_plots import FONT, WIDTH, set_style  # noqa: E402
from hmc.rare_images import image_methods  # noqa: E402
from hmc.rare_images_evidence import method_roles, stress_curves  # noqa: E402
from hmc.runs.stress_sweep import STRESS_COLUMNS, condition_key  # noqa: E402

CONDITIONS = [(0.0, 1.0), (0.5, 1.0), (0.0, 0.1)]


@pytest.fixture(autouse=True)
def close_figures():
    set_style()
    yield
    plt.close("all")


def table(seeds=2):
    """acc_character = 0.5 + 0.1 * seed for the baseline (+0.1 for the others), chance 0.01; recall 0.2."""
    rows = []
    for a, f in CONDITIONS:
        for role, method in image_methods(4).items():
            for seed in range(seeds):
                shift = 0.0 if role == "baseline" else 0.1
                for metric, value in (("acc_character", 0.5 + 0.1 * seed + shift), ("chance_character", 0.01),
                                      ("acc_alphabet", 0.9), ("chance_alphabet", 0.1), ("macro_f1", 0.3 + shift),
                                      ("au_prc", 0.4), ("recall@freq=1-5", 0.2), ("recall@freq=>100", 0.0)):
                    rows.append({"dataset": condition_key("omniglot", a, f), "method": method, "seed": seed,
                                 "metric": metric, "value": value, "data": "omniglot", "degradation": a,
                                 "fraction": f, "encoder": "conv4", "encoder_sha256": "ab" * 32, "image_size": 28,
                                 "n_heads": 4, "epochs": 20, "batch_size": 128, "imbalance": 10.0, "device": "cpu"})
    return pd.DataFrame(rows)


def check(fig, n_axes):
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    axes = fig.axes
    assert len(axes) == n_axes
    assert len(axes) <= 2 * len({round(ax.get_position().y0, 3) for ax in axes})
    for ax in axes:
        assert len(ax.lines) + len(ax.patches) + len(ax.collections) > 0, "an empty panel"
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert min(sizes) >= FONT


def test_reference_summary_by_hand():
    t = table()
    summary, line = pages.reference_summary(t, method_roles(t))
    assert summary.loc["baseline", "acc_character"] == "0.550 ± 0.071"  # mean of 0.5, 0.6; sd 0.0707
    assert summary.loc["focal", "acc_character"] == "0.650 ± 0.071"
    assert summary.loc["chance (largest test class)", "acc_character"] == "0.010"
    assert line.startswith("baseline heads at a = 0, f = 1: character accuracy 0.550 (chance 0.0100, 55.0x)")
    assert "alphabet accuracy 0.900" in line


def test_stress_table_differences_by_hand():
    t = table()
    wide = pages.stress_table(stress_curves(t, "macro_f1"), method_roles(t)).data
    assert wide.loc[("omniglot", "degradation", 0.5), "focal − baseline"] == pytest.approx(0.1)
    assert wide.loc[("omniglot", "fraction", 0.1), "baseline"] == pytest.approx(0.3)


def test_figures_have_two_panels_per_row_and_readable_text():
    t = table()
    found = method_roles(t)
    curves = {m: stress_curves(t, m) for m in ("macro_f1", "acc_character")}
    check(pages.stress_figure(curves, "omniglot", found), 4)
    fig, silent = pages.bucket_figure(t, "omniglot", found, [(0.0, 1.0), (0.0, 0.1)])
    check(fig, 2)
    assert silent == {(0.0, 1.0): [">100"], (0.0, 0.1): [">100"]}
    assert not [t for t in fig.axes[0].texts if "recall 0" in t.get_text()]  # bars to see there


def test_a_panel_without_any_recall_says_so():
    t = table()
    t.loc[t.metric.str.startswith("recall@"), "value"] = 0.0
    fig, silent = pages.bucket_figure(t, "omniglot", method_roles(t), [(0.0, 1.0)])
    assert [x.get_text() for x in fig.axes[0].texts] == ["recall 0 in every bucket:\nno method finds a positive"]
    assert silent == {(0.0, 1.0): ["1-5", ">100"]}


def test_an_empty_table_gives_empty_outputs_not_errors():
    empty = pd.DataFrame(columns=list(STRESS_COLUMNS))
    summary, line = pages.reference_summary(empty, {})
    assert summary is None and "no finished unit" in line
    assert pages.stress_figure({"macro_f1": stress_curves(empty, "macro_f1")}, "omniglot", {}) is None
    assert pages.bucket_figure(empty, "omniglot", {}, [(0.0, 1.0)]) == (None, {})
    assert pages.stress_table(stress_curves(empty, "macro_f1"), {}) is None
    assert pages.settings_used(empty) is None


def test_settings_used_counts_seeds():
    t = table(seeds=3)
    used = pages.settings_used(t.drop_duplicates(["dataset", "method", "seed"]))
    assert used.loc["omniglot", "seeds"] == 3 and used.loc["omniglot", "sha256"] == "ab" * 8


def test_method_table_names_each_roles_loss():
    m = pages.method_table(image_methods(20))
    assert list(m.index) == ["baseline", "imbalance", "focal", "lpros+weights"]
    assert m.loc["focal", "heads H"] == 20 and m.loc["baseline", "loss"] == "plain"
    assert m.loc["lpros+weights", "LPROS"] != "-" and m.loc["baseline", "LPROS"] == "-"


def test_long_tail_figure_counts(monkeypatch):
    from types import SimpleNamespace

    import torch

    y = torch.tensor([[0, 0], [0, 0], [0, 0], [1, 0], [2, 1]])  # finest class, then coarse
    data = SimpleNamespace(y_train=y, class_names=[["a", "b", "c"], ["x", "y"]], level_names=["character", "alphabet"])
    monkeypatch.setattr(pages, "node_targets", lambda d, yy: np.eye(5, dtype=np.uint8)[[0, 0, 0, 1, 2]])
    fig = pages.long_tail_figure("toy", data)
    assert [p.get_height() for p in fig.axes[0].patches] == [3, 1, 1]  # most frequent first
    check(fig, 2)
