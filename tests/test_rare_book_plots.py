"""hmc.book.rare_plots: the figures' structure (panels, lines, labels, legends outside, no empty panel)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import rare_plots as rp  # noqa: E402

METHODS = ["base-H2", "imbalance-neg-H2", "focal-gmu-H2"]
LABELS = {m: m[:-3] for m in METHODS}


@pytest.fixture(autouse=True)
def close_figures():
    rp.set_style()
    yield
    plt.close("all")


def drawn(ax) -> int:
    return len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images)


def check(fig, n_axes):
    """n_axes panels, at most two per row, WIDTH wide, none empty, every text at least FONT points."""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == n_axes
    assert fig.get_size_inches()[0] == pytest.approx(rp.WIDTH)
    for ax in axes:
        assert drawn(ax) > 0, f"empty panel {ax.get_title()!r}"
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    assert len(axes) <= 2 * len(rows)
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert min(sizes) >= rp.FONT


def table():
    rng = np.random.default_rng(0)
    out = []
    for d in ("d1", "d2", "d3"):
        for m in METHODS:
            for s in range(2):
                out.append((d, m, s, "macro_f1", rng.uniform(0, 0.1)))
                for b, base in (("0", 0.0), ("1-5", 0.1), (">100", 0.8)):
                    out.append((d, m, s, f"recall@freq={b}", base * (1.5 if "focal" in m else 1.0)))
                for depth in (1, 2):
                    out.append((d, m, s, f"f1@depth={depth}", 0.1 * depth))
                    out.append((d, m, s, f"recall@depth={depth}", 0.2 * depth))
    return pd.DataFrame(out, columns=["dataset", "method", "seed", "metric", "value"])


def test_grid_removes_unused_cells():
    fig, axes = rp.grid(3, 2.0)
    assert len(axes) == 3 and len(fig.axes) == 3 and fig.get_size_inches()[1] == pytest.approx(4.0)
    fig, axes = rp.grid(1, 2.0)
    assert len(fig.axes) == 1


def test_f1_strips_one_panel_per_dataset():
    fig = rp.f1_strips(table(), ["d1", "d2", "d3"], METHODS, "base-H2", LABELS, title="t")
    check(fig, 3)
    assert [ax.get_title() for ax in fig.axes] == ["d1", "d2", "d3"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(LABELS.values())
    assert all(ax.get_xlabel() == "macro F1 (all nodes)" for ax in fig.axes)


def test_bucket_recall_and_gain():
    gains = pd.DataFrame({"dataset": ["d1", "d1", "d2"], "method": ["focal-gmu-H2"] * 3,
                          "group": ["0", "1-5", ">100"], "gain": [np.inf, 1.5, 0.0]})
    fig = rp.bucket_recall_and_gain(table(), gains, METHODS, "base-H2", LABELS)
    check(fig, 2)
    left, right = fig.axes
    assert len(left.lines) == 3 and [t.get_text() for t in left.get_xticklabels()] == ["0", "1-5", ">100"]
    assert right.get_yscale() == "log" and "∞" in [t.get_text() for t in right.get_yticklabels()]
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()][:3] == list(LABELS.values())
    assert legend.get_bbox_to_anchor().y0 <= min(ax.get_position().y0 for ax in fig.axes) * fig.bbox.height


def test_depth_lines():
    fig = rp.depth_lines(table(), METHODS, "base-H2", LABELS)
    check(fig, 2)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3]
    assert [ax.get_ylabel() for ax in fig.axes] == ["mean f1", "mean recall"]
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)


def test_cost_bars():
    cost = pd.DataFrame({"dataset": ["d1", "d2"] * 3, "method": np.repeat(METHODS, 2), "seconds": [1, 2, 3, 4, 5, 6]})
    fig = rp.cost_bars(cost, METHODS, "seconds", "s", "Wall time", LABELS)
    check(fig, 1)
    ax = fig.axes[0]
    assert len(ax.patches) >= 6 and ax.get_title() == "Wall time"
    assert ax.get_legend().get_bbox_to_anchor().x0 >= ax.bbox.x1 - 1  # right of the panel


def test_variant_lines_and_cost_ratio_lines():
    out = []
    for h in (2, 5):
        for s in range(2):
            for v in rp.VARIANT_LOOK:
                for metric in ("macro_f1", "au_prc", "macro_f1_pos"):
                    out.append(("d", v, s, metric, 0.1 * h + s, v, h))
    long = pd.DataFrame(out, columns=["dataset", "method", "seed", "metric", "value", "variant", "H"])
    panels = {"macro_f1": "F1", "au_prc": "AU(PRC)", "macro_f1_pos": "F1 pos"}
    fig = rp.variant_lines(long, "value", panels, [2, 5], "value")
    check(fig, 3)
    assert [ax.get_title() for ax in fig.axes] == list(panels.values())
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(rp.VARIANT_LOOK)
    cost = pd.DataFrame({"dataset": "d", "H": [2, 5], "variant": "mc_dropout", "time_ratio": [0.5, 0.3],
                         "memory_ratio": [0.5, 0.2]})
    fig = rp.cost_ratio_lines(cost, [2, 5], {"time": ({"time_ratio": "run"}, 0.32),
                                             "memory": ({"memory_ratio": "peak"}, 0.34)})
    check(fig, 2)
    assert len(fig.legends) == 2 and not any(ax.get_legend() for ax in fig.axes)  # one per panel, below it
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["run", "paper: 68% less", "1 / H"]
    fig.canvas.draw()
    for ax, legend in zip(fig.axes, fig.legends, strict=True):
        box, label = legend.get_window_extent(), ax.xaxis.label.get_window_extent()
        assert box.y1 <= label.y0  # below the "H" axis label, not over it
        assert box.x0 < (ax.bbox.x0 + ax.bbox.x1) / 2 < box.x1  # centred under its own panel


def test_schedule_weights():
    fig = rp.schedule_weights(w0=3.0, n_batches=20, n_epochs=2)
    check(fig, 3)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3, 5]
    per_epoch = fig.axes[0].lines[0].get_ydata()
    assert per_epoch[0] == pytest.approx(3.0) and per_epoch[20] == pytest.approx(3.0)  # restarts every epoch
    assert fig.axes[2].lines[1].get_ydata()[0] == pytest.approx(0.5 * 3 + 0.5)  # mixed-0.5


def test_precision_recall_plane_numbers_the_methods():
    means = pd.DataFrame({"dataset": "d", "method": ["baseline", "imbalance-neg", "sched-lin"],
                          "macro_precision": [0.1, 0.05, 0.08], "macro_recall": [0.1, 0.3, 0.2],
                          "macro_f1": [0.1, 0.08, 0.11]})
    family = {"baseline": "baseline", "imbalance-neg": "imbalance", "sched-lin": "per-epoch schedule"}
    from hmc.book.rare_tables import SCHEDULE_FAMILIES

    fig = rp.precision_recall_plane(means, ["d"], list(family), family, SCHEDULE_FAMILIES)
    check(fig, 1)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "2", "3"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["1: baseline", "2: imbalance-neg", "3: sched-lin"]


def test_bucket_heatmaps_and_notes():
    idx = pd.MultiIndex.from_product([["d1", "d2"], ["baseline", "m"], ["0", ">100"]],
                                     names=["dataset", "method", "bucket"])
    recall = pd.Series([0.0, 0.5, 0.2, 1.0] * 2, index=idx)
    fig = rp.bucket_heatmaps(recall, ["d1", "d2"], ["baseline", "m"], "baseline", buckets=["0", ">100"])
    check(fig, 2)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "0.200\nx inf" in texts and "1.000\nx 2.00" in texts and "0.500" in texts
    assert rp.heatmap_note(0.0, np.nan, False) == "0.000\n-" and rp.heatmap_note(np.nan, 1.0, False) == ""


def test_mean_bars():
    matrix = pd.DataFrame({"a": [0.1], "b": [0.2], "c": [0.3]}, index=["d"])
    fig = rp.mean_bars(matrix, "macro F1")
    check(fig, 1)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert fig.axes[0].get_ylim()[0] > fig.axes[0].get_ylim()[1]  # the first method on top
