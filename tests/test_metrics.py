"""Metrics: AU(PRC) against a brute-force average precision, scikit-learn and hand-computed values;
macro/per-node precision, recall and F1 against scikit-learn and loops; frequency buckets, per-group
breakdowns and recall gains against hand-computed values and a brute-force pandas computation."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from hmc.metrics import au_prc, breakdown, frequency_buckets, macro_prf, per_node_prf, recall_gain


def brute_force_ap(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision of a flat ranking by explicit loops over the distinct thresholds.

    At each distinct score t (descending) every item scored >= t is predicted positive;
    AP = sum over thresholds of (recall gain) x (precision there). Without ties this is the mean,
    over the positives, of the precision at each positive's rank.
    """
    y, s = np.ravel(y).astype(int), np.ravel(s).astype(float)
    n_pos = y.sum()
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        predicted = s >= t
        tp = int((y[predicted] == 1).sum())
        recall = tp / n_pos
        precision = tp / int(predicted.sum())
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


def mean_precision_at_positives(y: np.ndarray, s: np.ndarray) -> float:
    """Tie-free form: sort by score, precision at each positive, averaged over the positives."""
    y, s = np.ravel(y), np.ravel(s)
    order = np.argsort(-s, kind="stable")
    hits, precisions = 0, []
    for rank, i in enumerate(order, start=1):
        if y[i]:
            hits += 1
            precisions.append(hits / rank)
    return float(np.mean(precisions))


def test_hand_computed_tiny_case():
    y = np.array([[1, 0], [0, 1]])
    s = np.array([[0.9, 0.8], [0.3, 0.1]])
    # flat ranking 0.9 (+), 0.8 (-), 0.3 (-), 0.1 (+): precisions 1/1 and 2/4 -> (1 + 0.5) / 2
    assert au_prc(y, s) == pytest.approx(0.75)
    assert au_prc(y, s, eval_nodes=[0]) == pytest.approx(1.0)  # 0.9 (+), 0.3 (-)
    assert au_prc(y, s, eval_nodes=[1]) == pytest.approx(0.5)  # 0.8 (-), 0.1 (+): 1/2
    assert au_prc(y, s, eval_nodes=np.array([False, True])) == pytest.approx(0.5)


def test_hand_computed_with_ties():
    y = np.array([[1, 0, 1], [0, 0, 1]])
    s = np.array([[0.5, 0.5, 0.9], [0.5, 0.2, 0.1]])
    # thresholds 0.9: TP 1, P 1/1, R 1/3; 0.5: TP 2 of 4 predicted, R 2/3; 0.2: R unchanged; 0.1: TP 3 of 6
    want = (1 / 3) * 1.0 + (1 / 3) * (2 / 4) + 0.0 + (1 / 3) * (3 / 6)
    assert au_prc(y, s) == pytest.approx(want)
    assert brute_force_ap(y, s) == pytest.approx(want)


@pytest.mark.parametrize("seed", range(10))
def test_matches_brute_force_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(5, 40), rng.integers(2, 30)
    y = (rng.random((n, c)) < rng.uniform(0.05, 0.5)).astype(np.uint8)
    y[0, 0] = 1  # at least one positive
    y[:, -1] = 0  # a node with no positive: it must still count
    s = rng.random((n, c))  # continuous: no ties
    ev = np.arange(1, c)
    assert au_prc(y, s) == pytest.approx(mean_precision_at_positives(y, s), abs=1e-12)
    assert au_prc(y, s, eval_nodes=ev) == pytest.approx(brute_force_ap(y[:, ev], s[:, ev]), abs=1e-12)
    tied = np.round(s * 4) / 4  # 5 distinct values: many ties
    assert au_prc(y, tied) == pytest.approx(brute_force_ap(y, tied), abs=1e-12)


def test_nodes_without_positives_are_included():
    rng = np.random.default_rng(3)
    y = (rng.random((30, 6)) < 0.3).astype(int)
    y[:, 2] = 0
    s = rng.random((30, 6))
    got = au_prc(y, s)
    assert got == pytest.approx(average_precision_score(y.ravel(), s.ravel()))
    assert got != pytest.approx(au_prc(y, s, eval_nodes=[0, 1, 3, 4, 5]))  # dropping it changes AP


def test_torch_inputs_and_column_selection():
    rng = np.random.default_rng(4)
    y = (rng.random((20, 5)) < 0.3).astype(np.uint8)
    s = rng.random((20, 5)).astype(np.float32)
    ev = [1, 3, 4]
    want = au_prc(y, s, eval_nodes=ev)
    assert au_prc(torch.from_numpy(y), torch.from_numpy(s).requires_grad_(), eval_nodes=torch.tensor(ev)) == want
    assert want == pytest.approx(average_precision_score(y[:, ev], s[:, ev], average="micro"))
    assert isinstance(want, float)


def test_input_errors():
    with pytest.raises(ValueError, match="same shape"):
        au_prc(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2-d"):
        au_prc(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="0/1"):
        au_prc(np.full((2, 2), 2), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="eval_nodes"):
        au_prc(np.eye(2), np.eye(2), eval_nodes=[2])
    with pytest.raises(ValueError, match="mask"):
        au_prc(np.eye(2), np.eye(2), eval_nodes=np.array([True]))


# --- precision, recall, F1 at a threshold ---------------------------------------------------------


def random_case(seed: int):
    """Random labels and scores with a column without positives, one never predicted, one both."""
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(4, 40)), int(rng.integers(4, 25))
    y = (rng.random((n, c)) < rng.uniform(0.05, 0.5)).astype(np.uint8)
    s = rng.random((n, c))
    y[:, 0] = 0  # no test positive (but likely predicted): precision 0, recall 0
    s[:, 1] = rng.uniform(0, 0.5, n)  # never predicted: precision 0 (recall 0 too)
    y[0, 1] = 1
    y[:, 2], s[:, 2] = 0, 0.1  # neither positive nor predicted: all 0
    s[rng.random((n, c)) < 0.05] = 0.5  # exactly at the threshold: negative (strict >)
    return y, s


@pytest.mark.parametrize("seed", range(8))
def test_macro_prf_matches_sklearn_macro(seed):
    y, s = random_case(seed)
    pred = (s > 0.5).astype(int)
    want = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    got = macro_prf(y, s)
    assert got.n_nodes == y.shape[1]
    assert (got.precision, got.recall, got.f1) == pytest.approx(want[:3], abs=1e-12)
    ev = np.arange(1, y.shape[1], 2)
    want_ev = precision_recall_fscore_support(y[:, ev], pred[:, ev], average="macro", zero_division=0)
    assert tuple(macro_prf(y, s, eval_nodes=ev))[:3] == pytest.approx(want_ev[:3], abs=1e-12)
    assert macro_prf(y, pred) == macro_prf(y, s)  # 0/1 predictions as scores give the same numbers


@pytest.mark.parametrize("seed", range(8))
def test_per_node_prf_matches_sklearn_per_column(seed):
    y, s = random_case(seed)
    pred = (s > 0.5).astype(int)
    p, r, f, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    got = per_node_prf(y, s)
    np.testing.assert_array_equal(got.nodes, np.arange(y.shape[1]))
    np.testing.assert_allclose(got.precision, p, atol=1e-12)
    np.testing.assert_allclose(got.recall, r, atol=1e-12)
    np.testing.assert_allclose(got.f1, f, atol=1e-12)
    np.testing.assert_array_equal(got.support, support)
    np.testing.assert_array_equal(got.n_predicted, pred.sum(0))
    assert got.precision[1] == got.recall[0] == got.f1[0] == got.f1[2] == 0.0


def loop_macro_with_positives(y, s, threshold=0.5):
    """Macro P/R/F1 over the nodes with a test positive, by explicit loops over nodes and samples."""
    ps, rs, fs = [], [], []
    for c in range(y.shape[1]):
        tp = fp = fn = 0
        for i in range(y.shape[0]):
            pred = s[i, c] > threshold
            tp += bool(pred and y[i, c])
            fp += bool(pred and not y[i, c])
            fn += bool(not pred and y[i, c])
        if tp + fn == 0:
            continue
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn)
        ps.append(p)
        rs.append(r)
        fs.append(2 * p * r / (p + r) if p + r else 0.0)
    return np.mean(ps), np.mean(rs), np.mean(fs), len(ps)


@pytest.mark.parametrize("seed", range(5))
def test_macro_prf_with_positives_matches_loop(seed):
    y, s = random_case(seed)
    got = macro_prf(y, s, nodes="with_positives")
    want = loop_macro_with_positives(y, s)
    assert tuple(got)[:3] == pytest.approx(want[:3], abs=1e-12)
    assert got.n_nodes == want[3] == int((y.sum(0) > 0).sum())
    # every metric is 0 on a node without test positives: all = with_positives * share of such nodes
    everything = macro_prf(y, s, nodes="all")
    assert everything.f1 == pytest.approx(got.f1 * got.n_nodes / y.shape[1], abs=1e-12)


def test_macro_prf_hand_computed_and_threshold():
    y = np.array([[1, 0, 0], [1, 1, 0]])
    s = np.array([[0.9, 0.8, 0.1], [0.5, 0.3, 0.6]])
    # node 0: 0.5 is not > 0.5 -> TP 1, FN 1: P 1, R 1/2, F1 2/3; node 1: FP 1, FN 1: all 0; node 2: FP 1: all 0
    got = macro_prf(y, s)
    assert got == pytest.approx((1 / 3, 1 / 6, 2 / 9, 3))
    assert macro_prf(y, s, nodes="with_positives") == pytest.approx((1 / 2, 1 / 4, 1 / 3, 2))
    # threshold 0.4 takes in 0.5: node 0 P 1, R 1, F1 1
    assert macro_prf(y, s, threshold=0.4).recall == pytest.approx(1 / 3)
    assert macro_prf(y, s, eval_nodes=[2], nodes="with_positives").n_nodes == 0
    assert math.isnan(macro_prf(y, s, eval_nodes=[2], nodes="with_positives").f1)
    t = macro_prf(torch.tensor(y), torch.tensor(s, requires_grad=True), eval_nodes=torch.tensor([0, 1]))
    assert t == macro_prf(y, s, eval_nodes=np.array([True, True, False]))
    assert isinstance(t.f1, float) and isinstance(t.n_nodes, int)
    with pytest.raises(ValueError, match="nodes"):
        macro_prf(y, s, nodes="positives")
    with pytest.raises(ValueError, match="same shape"):
        per_node_prf(y, s[:, :2])


# --- frequency buckets, breakdowns, recall gain --------------------------------------------------


def test_frequency_buckets_hand_picked_counts():
    got = frequency_buckets([0, 1, 5, 6, 20, 21, 100, 101, 5000])
    assert list(got) == ["0", "1-5", "1-5", "6-20", "6-20", "21-100", "21-100", ">100", ">100"]
    assert list(got.categories) == ["0", "1-5", "6-20", "21-100", ">100"] and got.ordered
    assert list(frequency_buckets(np.array([3.0, 0.0]))) == ["1-5", "0"]
    assert list(frequency_buckets(torch.tensor([7, 2]))) == ["6-20", "1-5"]
    assert list(frequency_buckets([0, 2, 3, 9], edges=(0, 3))) == ["0-2", "0-2", ">2", ">2"]
    assert list(frequency_buckets([], edges=(0, 1)).categories) == ["0", ">0"]
    with pytest.raises(ValueError, match="counts"):
        frequency_buckets([-1, 2])
    with pytest.raises(ValueError, match="counts"):
        frequency_buckets([1.5])
    with pytest.raises(ValueError, match="increasing"):
        frequency_buckets([1], edges=(0, 5, 5))


def brute_force_breakdown(y, s, labels, eval_nodes, threshold=0.5, with_positives=False):
    """Per-group means by a loop over nodes and a plain pandas groupby (no metrics code reused)."""
    rows = []
    for c in eval_nodes:
        truth, pred = y[:, c] == 1, s[:, c] > threshold
        tp, fp, fn = int((truth & pred).sum()), int((~truth & pred).sum()), int((truth & ~pred).sum())
        rows.append(
            {
                "group": labels[c],
                "pos": tp + fn > 0,
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            }
        )
    df = pd.DataFrame(rows)
    out = {}
    for g, part in df.groupby("group"):
        used = part[part.pos] if with_positives else part
        out[g] = {
            "n_nodes": len(part),
            "n_with_positives": int(part.pos.sum()),
            **{m: used[m].mean() if len(used) else np.nan for m in ("precision", "recall", "f1")},
        }
    return pd.DataFrame.from_dict(out, orient="index")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("with_positives", [False, True])
def test_breakdown_matches_brute_force(seed, with_positives):
    y, s = random_case(seed)
    rng = np.random.default_rng(100 + seed)
    c = y.shape[1]
    depth = rng.integers(0, 4, c)
    buckets = frequency_buckets(rng.choice([0, 3, 10, 50, 500], c))
    ev = np.flatnonzero(rng.random(c) < 0.8)
    nodes = "with_positives" if with_positives else "all"
    for labels in (depth, buckets):
        got = breakdown(y, s, labels, eval_nodes=ev, nodes=nodes)
        want = brute_force_breakdown(y, s, np.asarray(labels), ev, with_positives=with_positives)
        present = got[got.n_nodes > 0]
        assert set(present.index) == set(want.index)
        pd.testing.assert_frame_equal(
            present.reset_index(drop=True),
            want.loc[list(present.index), list(got.columns)].reset_index(drop=True),
            check_dtype=False,
            atol=1e-12,
        )
    by_bucket = breakdown(y, s, buckets, eval_nodes=ev, nodes=nodes)
    assert list(by_bucket.index) == ["0", "1-5", "6-20", "21-100", ">100"]  # all buckets, in order
    pd.testing.assert_frame_equal(by_bucket, breakdown(y, s, pd.Series(buckets), eval_nodes=ev, nodes=nodes))
    assert by_bucket.n_nodes.sum() == len(ev)
    empty = by_bucket[by_bucket.n_nodes == 0]
    assert empty[["precision", "recall", "f1"]].isna().all().all()
    # group means of the whole set reproduce the macro average
    one = breakdown(y, s, np.zeros(c, dtype=int), eval_nodes=ev, nodes=nodes)
    assert one.loc[0, ["precision", "recall", "f1"]].tolist() == pytest.approx(
        list(macro_prf(y, s, eval_nodes=ev, nodes=nodes))[:3], abs=1e-12
    )


def test_breakdown_hand_computed_and_errors():
    y = np.array([[1, 0, 0, 1], [1, 1, 0, 1]])
    s = np.array([[0.9, 0.8, 0.1, 0.7], [0.2, 0.3, 0.6, 0.9]])
    # per node (P, R, F1): 0 (1, 1/2, 2/3); 1 (0, 0, 0); 2 no positive (0, 0, 0); 3 (1, 1, 1)
    got = breakdown(y, s, ["rare", "rare", "rare", "common"])
    assert list(got.index) == ["common", "rare"] and got.index.name == "group"
    assert got.loc["rare"].tolist() == pytest.approx([3, 2, 1 / 3, 1 / 6, 2 / 9])
    assert got.loc["common"].tolist() == pytest.approx([1, 1, 1, 1, 1])
    pos = breakdown(y, s, ["rare", "rare", "rare", "common"], nodes="with_positives")
    assert pos.loc["rare", "recall"] == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="one label per column"):
        breakdown(y, s, ["rare", "common"], eval_nodes=[0, 3])


def test_recall_gain_hand_example():
    baseline = pd.DataFrame({"recall": [0.1, 0.2, 0.5, 0.0, 0.0], "f1": [0.1, 0.2, 0.4, 0.0, 0.1]},
                            index=["1-5", "6-20", ">100", "0", "21-100"])
    method = pd.DataFrame({"recall": [0.0, 0.5, 0.3, 0.6, 0.5], "f1": [0.0, 0.3, 0.3, 0.5, 0.2]},
                          index=["0", "1-5", "6-20", "21-100", ">100"])
    gain = recall_gain(method, baseline)
    assert gain.name == "recall_gain" and list(gain.index) == list(method.index)
    # 0/0 -> NaN; 0.5/0.1 = 5; 0.3/0.2 = 1.5; 0.6/0 -> inf; 0.5/0.5 = 1
    np.testing.assert_allclose(gain.to_numpy(), [np.nan, 5.0, 1.5, np.inf, 1.0])
    assert recall_gain(method, baseline, column="f1")["21-100"] == pytest.approx(5.0)
    partial = recall_gain(method.iloc[1:3], baseline.iloc[[0, 3]])  # a group missing on one side -> NaN
    assert list(partial.index) == ["1-5", "6-20", "0"]  # the union, the method's groups first
    assert partial["1-5"] == pytest.approx(5.0) and partial[["6-20", "0"]].isna().all()
    with pytest.raises(ValueError, match="column"):
        recall_gain(method, baseline, column="auc")


def test_recall_gain_same_for_all_and_with_positives():
    y, s = random_case(3)
    rng = np.random.default_rng(7)
    s_base = rng.random(s.shape) * 0.8
    buckets = frequency_buckets(rng.choice([0, 3, 10, 50, 500], y.shape[1]))
    gains = [
        recall_gain(breakdown(y, s, buckets, nodes=n), breakdown(y, s_base, buckets, nodes=n))
        for n in ("all", "with_positives")
    ]
    pd.testing.assert_series_equal(gains[0], gains[1])
