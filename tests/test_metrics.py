"""Metrics: AU(PRC) against a brute-force average precision, scikit-learn and hand-computed values."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from hmc.metrics import au_prc


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
