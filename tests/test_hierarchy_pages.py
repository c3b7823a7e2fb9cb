"""hmc.book.hierarchy_pages (chapter 00): hand-built hierarchies and label matrices, hand-counted."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import hierarchy_pages as hp  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402
from hmc.hierarchy import Hierarchy  # noqa: E402

# root -> a, b; a -> c, d; b -> e; d -> f      (depths: root 0; a, b 1; c, d, e 2; f 3)
H = Hierarchy(["root", "a", "b", "c", "d", "e", "f"],
              [("root", "a"), ("root", "b"), ("a", "c"), ("a", "d"), ("b", "e"), ("d", "f")])
#                 root a  b  c  d  e  f
Y = np.array([[1, 1, 0, 1, 0, 0, 0],
              [1, 1, 1, 0, 1, 1, 1],
              [1, 0, 1, 0, 0, 1, 0],
              [1, 1, 0, 0, 1, 0, 0]], dtype=np.uint8)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_positive_nodes():
    assert hp.positive_nodes(H, Y[0]) == ["root", "a", "c"]
    assert hp.positive_nodes(H, np.zeros(7)) == []


def test_node_frequencies_leave_out_the_root():
    freq = hp.node_frequencies(H, Y)
    assert list(freq.node) == ["a", "b", "c", "d", "e", "f"]
    assert list(freq.depth) == [1, 1, 2, 2, 2, 3]
    assert list(freq.positives) == [3, 2, 1, 2, 2, 1]


def test_rare_shares_and_depth_summary():
    freq = hp.node_frequencies(H, Y)
    shares = hp.rare_shares(freq, rare_below=2)  # rare: fewer than 2 positives -> c and f
    assert list(shares.depth) == [1, 2, 3]
    assert shares.rare.tolist() == pytest.approx([0.0, 1 / 3, 1.0])
    summary = hp.depth_summary(freq)
    expected = pd.DataFrame({"nodes": [2, 3, 1], "median": [2.5, 2.0, 1.0], "mean": [2.5, 5 / 3, 1.0],
                             "min": [2, 1, 1], "max": [3, 2, 1]}, index=pd.Index([1, 2, 3], name="depth"))
    pd.testing.assert_frame_equal(summary, expected, check_dtype=False)


def test_violating_nodes_and_branch():
    # predicted: root, b, d (parent a not predicted), f (parent d predicted): one broken edge a -> d
    row = np.array([1, 0, 1, 0, 1, 0, 1])
    assert [H.nodes[i] for i in hp.violating_nodes(H, row)] == ["d"]
    row = np.array([1, 0, 0, 1, 0, 1, 0])  # c without a, e without b
    assert sorted(H.nodes[i] for i in hp.violating_nodes(H, row)) == ["c", "e"]
    branch, top = hp.branch_of(H, H.index["f"])
    assert H.nodes[top] == "a"
    assert branch.nodes == ["a", "c", "d", "f"]
    assert sorted(zip(*(np.array(branch.nodes)[e] for e in branch.edges))) == [("a", "c"), ("a", "d"), ("d", "f")]


def test_violation_rates_before_and_after_repair():
    pred = np.array([[1, 0, 1, 0, 1, 0, 1],   # d without a
                     [1, 1, 0, 1, 0, 0, 0],   # consistent
                     [1, 0, 0, 1, 0, 1, 0],   # c without a, e without b
                     [1, 1, 1, 0, 0, 1, 0]])  # consistent
    rates = hp.violation_rates(H, pred)
    assert list(rates.predictions) == ["independent per node", "after setting ancestors"]
    assert rates["samples with a violation"].tolist() == [0.5, 0.0]


def test_per_node_predictions_fit_only_nodes_with_enough_positives():
    # one feature; a is positive exactly when x > 0; b has 2 training positives (too few);
    # root and the all-positive column get no classifier (root is set to 1, the rest to 0)
    h = Hierarchy(["root", "a", "b"], [("root", "a"), ("root", "b")])
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    y = np.zeros((20, 3), dtype=np.uint8)
    y[:, 0] = 1
    y[:, 1] = (x[:, 0] > 0)
    y[[0, 19], 2] = 1
    x_test = np.array([[-0.9], [0.9]])
    pred, trainable = hp.per_node_predictions(h, x, y, x_test, min_positives=5)
    assert trainable.tolist() == [1]
    assert pred.tolist() == [[1, 0, 0], [1, 1, 0]]
    assert pred.dtype == np.uint8


def test_figures_are_book_width():
    fig, sample = hp.sample_figure(H, Y)
    assert sample == 1  # the row with the most labels
    figs = [fig, hp.label_matrix_figure(H, Y, n_samples=3, n_nodes=5),
            hp.frequency_figure(hp.node_frequencies(H, Y)),
            hp.violation_figure(H, np.array([[1, 0, 1, 0, 1, 0, 1]] * 2), 1),
            hp.violation_rate_figure(hp.violation_rates(H, Y))]
    for f in figs:
        assert f.get_size_inches()[0] == pytest.approx(WIDTH)
    assert len(figs[2].axes) == 2
    assert "branch 'a'" in figs[3].axes[0].get_title()
