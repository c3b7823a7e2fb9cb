"""Per-level metrics of hmc.metrics.levels: accuracies and HVR against hand-computed values (2 and 3
levels), the consistent decoding against brute-force enumeration of every valid path, per-level argmax,
and the three model-selection protocols on hand-made accuracy tables."""

import doctest
import itertools

import numpy as np
import pytest
import torch

import hmc.metrics.levels
from hmc.metrics import (
    SELECTION_PROTOCOLS,
    consistent_decode,
    full_path_accuracy,
    hierarchy_violation_rate,
    level_accuracy,
    predict_levels,
    select_epoch,
)

# 2 levels: 5 fine classes -> 3 coarse.
PARENTS_2 = [np.array([0, 0, 1, 1, 2])]
PRED_2 = np.array([[0, 0],   # valid, all right
                   [2, 0],   # parent of 2 is 1: violation; level 0 right, level 1 wrong
                   [4, 2],   # valid, both wrong
                   [3, 1]])  # valid, all right
Y_2 = np.array([[0, 0], [2, 1], [3, 1], [3, 1]])

# 3 levels: 6 -> 3 -> 2.
PARENTS_3 = [np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1])]
PRED_3 = np.array([[0, 0, 0],   # valid, all right
                   [1, 0, 1],   # only the middle -> coarse link broken
                   [2, 0, 0],   # only the fine -> middle link broken
                   [4, 1, 1],   # both links broken (counts once)
                   [5, 2, 1]])  # valid, all right
Y_3 = np.array([[0, 0, 0], [1, 0, 0], [2, 1, 0], [4, 2, 1], [5, 2, 1]])


def test_docstring_examples():
    assert doctest.testmod(hmc.metrics.levels, raise_on_error=False).failed == 0


def test_two_level_hand_computed():
    np.testing.assert_allclose(level_accuracy(PRED_2, Y_2), [3 / 4, 2 / 4])
    assert full_path_accuracy(PRED_2, Y_2) == pytest.approx(2 / 4)
    assert hierarchy_violation_rate(PRED_2, PARENTS_2) == pytest.approx(1 / 4)


def test_three_level_hand_computed():
    np.testing.assert_allclose(level_accuracy(PRED_3, Y_3), [5 / 5, 3 / 5, 4 / 5])
    assert full_path_accuracy(PRED_3, Y_3) == pytest.approx(2 / 5)
    assert hierarchy_violation_rate(PRED_3, PARENTS_3) == pytest.approx(3 / 5)


def test_hvr_ignores_ground_truth():
    """Every row wrong at every level but a valid path: HVR 0, accuracies 0."""
    wrong_but_valid = np.array([[5, 2, 1], [0, 0, 0], [3, 1, 0]])
    truth = np.array([[0, 0, 0], [4, 2, 1], [5, 2, 1]])
    assert hierarchy_violation_rate(wrong_but_valid, PARENTS_3) == 0.0
    assert hierarchy_violation_rate(truth, PARENTS_3) == 0.0
    np.testing.assert_allclose(level_accuracy(wrong_but_valid, truth), [0, 0, 0])
    assert full_path_accuracy(wrong_but_valid, truth) == 0.0


def test_torch_inputs_give_the_same_numbers():
    pred, y = torch.as_tensor(PRED_3), torch.as_tensor(Y_3)
    parents = [torch.as_tensor(p) for p in PARENTS_3]
    acc = level_accuracy(pred, y)
    assert isinstance(acc, np.ndarray) and acc.shape == (3,)
    np.testing.assert_allclose(acc, [1.0, 0.6, 0.8])
    assert full_path_accuracy(pred, y) == pytest.approx(0.4)
    assert hierarchy_violation_rate(pred, parents) == pytest.approx(0.6)


def test_bad_inputs_raise_with_the_offending_value():
    with pytest.raises(ValueError, match=r"\(4, 2\) and \(4, 3\)"):
        level_accuracy(PRED_2, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(4, 2\)"):
        full_path_accuracy(PRED_2[:3], Y_2)
    with pytest.raises(ValueError, match="negative class index: -1"):
        level_accuracy(np.array([[0, 0], [-1, 0]]), Y_2[:2])
    with pytest.raises(ValueError, match="integer"):
        level_accuracy(PRED_2.astype(float), Y_2)
    with pytest.raises(ValueError, match="3 levels need 2 level_parents arrays, got 1"):
        hierarchy_violation_rate(PRED_3, PARENTS_3[:1])
    with pytest.raises(ValueError, match="class 6, but level 0 has 6 classes"):
        hierarchy_violation_rate(np.array([[6, 2, 1]]), PARENTS_3)
    with pytest.raises(ValueError, match="parent 3"):
        hierarchy_violation_rate(PRED_3, [np.array([0, 0, 1, 1, 2, 3]), PARENTS_3[1]])


def test_predict_levels_is_per_level_argmax():
    s0 = np.array([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0]])  # second row ties: first index
    s1 = np.array([[2.0, -1.0], [-3.0, 4.0]])
    expected = [[1, 0], [0, 1]]
    out = predict_levels([s0, s1])
    assert isinstance(out, np.ndarray) and out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)
    out_t = predict_levels([torch.as_tensor(s0), torch.as_tensor(s1)])
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.int64
    assert out_t.tolist() == expected
    with pytest.raises(ValueError, match="scores\\[1\\] has 3 rows, scores\\[0\\] has 2"):
        predict_levels([s0, np.zeros((3, 2))])


def test_consistent_decode_hand_computed():
    """Independent argmax gives the invalid path (0, 1); the best valid path is (2, 1): 0.35 + 0.9."""
    parents = [np.array([0, 0, 1, 1])]
    s0 = np.array([[0.4, 0.0, 0.35, 0.3], [0.0, 0.0, 0.0, 0.0]])  # second row: all tied
    s1 = np.array([[0.1, 0.9], [0.0, 0.0]])
    assert predict_levels([s0, s1]).tolist()[0] == [0, 1]
    out = consistent_decode([s0, s1], parents)
    np.testing.assert_array_equal(out, [[2, 1], [0, 0]])  # ties: the first finest class


def test_consistent_decode_never_picks_a_class_without_descendants():
    parents = [np.array([0, 0, 2, 2])]  # level-1 class 1 has no child
    s0 = np.zeros((1, 4))
    s1 = np.array([[0.0, 100.0, 0.0]])
    np.testing.assert_array_equal(consistent_decode([s0, s1], parents), [[0, 0]])


def brute_force_decode(scores: list[np.ndarray], parents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Best valid path of each row by enumerating every tuple of classes and keeping the valid ones."""
    n, sizes = scores[0].shape[0], [s.shape[1] for s in scores]
    paths, best_scores = np.zeros((n, len(scores)), dtype=np.int64), np.zeros(n)
    for i in range(n):
        best, best_path = -np.inf, None
        for path in itertools.product(*(range(c) for c in sizes)):
            if all(parents[k][path[k]] == path[k + 1] for k in range(len(parents))):
                total = sum(scores[k][i, path[k]] for k in range(len(scores)))
                if total > best:
                    best, best_path = total, path
        paths[i], best_scores[i] = best_path, best
    return paths, best_scores


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_consistent_decode_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    sizes = (7, 4, 2)
    parents = [rng.integers(0, sizes[1], sizes[0]), rng.integers(0, sizes[2], sizes[1])]
    scores = [rng.normal(size=(30, c)) for c in sizes]
    expected, expected_score = brute_force_decode(scores, parents)

    out = consistent_decode(scores, parents)
    assert isinstance(out, np.ndarray) and out.shape == (30, 3)
    np.testing.assert_array_equal(out, expected)
    assert hierarchy_violation_rate(out, parents) == 0.0
    got_score = sum(scores[k][np.arange(30), out[:, k]] for k in range(3))
    np.testing.assert_allclose(got_score, expected_score)

    out_t = consistent_decode([torch.as_tensor(s) for s in scores], [torch.as_tensor(p) for p in parents])
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.int64
    np.testing.assert_array_equal(out_t.numpy(), expected)


def test_consistent_decode_one_level_is_argmax():
    s = np.array([[0.2, 0.9, 0.1], [1.0, 0.0, 3.0]])
    np.testing.assert_array_equal(consistent_decode([s], []), [[1], [2]])


def test_consistent_decode_bad_inputs():
    s = [np.zeros((2, 6)), np.zeros((2, 3)), np.zeros((2, 2))]
    with pytest.raises(ValueError, match="3 levels need 2 level_parents arrays, got 1"):
        consistent_decode(s, PARENTS_3[:1])
    with pytest.raises(ValueError, match="level_parents\\[0\\] has 5 entries, scores\\[0\\] has 6"):
        consistent_decode(s, [np.array([0, 0, 1, 1, 2]), PARENTS_3[1]])
    with pytest.raises(ValueError, match="parent 2, but the coarsest level has 2 classes"):
        consistent_decode(s, [PARENTS_3[0], np.array([0, 1, 2])])
    with pytest.raises(ValueError, match="scores\\[2\\] has 3 rows"):
        consistent_decode(s[:2] + [np.zeros((3, 2))], PARENTS_3)


# Test accuracy per evaluated epoch (rows) and level (columns).
TEST_ACC = np.array([[0.50, 0.60, 0.70],
                     [0.55, 0.65, 0.75],   # every level improves on epoch 0: best = 1
                     [0.60, 0.70, 0.74],   # level 2 drops (0.74 < 0.75): best stays 1
                     [0.58, 0.66, 0.76],   # below epoch 2, but above the best (epoch 1) everywhere: best = 3
                     [0.70, 0.66, 0.90]])  # level 1 ties the best (0.66): not strictly higher, best stays 3


def test_select_epoch_authors_protocol():
    assert select_epoch(TEST_ACC, "authors") == 3
    assert select_epoch(TEST_ACC[:3], "authors") == 1  # epoch 2 has the higher mean, but level 2 dropped
    # no later epoch beats epoch 0 at every level: epoch 0 is kept
    assert select_epoch([[0.5, 0.5], [0.9, 0.4], [0.4, 0.9], [0.5, 0.9]], "authors") == 0
    assert select_epoch(torch.as_tensor(TEST_ACC), "authors") == 3


def test_select_epoch_last_and_validation():
    assert select_epoch(TEST_ACC, "last") == 4
    val = np.array([[0.5, 0.5, 0.5],  # dyadic values: the tied means below are exactly equal
                    [0.625, 0.75, 0.875],
                    [0.875, 0.75, 0.625],  # same mean as epoch 1: the earlier epoch wins
                    [0.25, 0.25, 0.25],
                    [0.625, 0.625, 0.625]])
    assert select_epoch(TEST_ACC, "validation", val) == 1
    assert select_epoch(TEST_ACC, "validation", val[::-1].copy()) == 2  # tie again: now epochs 2 and 3
    assert select_epoch(TEST_ACC, "authors", val) == 3  # val_acc does not change the authors' choice
    for protocol in SELECTION_PROTOCOLS:
        assert select_epoch([[0.3, 0.2]], protocol, [[0.1, 0.1]]) == 0


def test_select_epoch_bad_inputs():
    with pytest.raises(ValueError, match="'best'"):
        select_epoch(TEST_ACC, "best")
    with pytest.raises(ValueError, match="needs val_acc"):
        select_epoch(TEST_ACC, "validation")
    with pytest.raises(ValueError, match=r"\(5, 3\), got \(4, 3\)"):
        select_epoch(TEST_ACC, "validation", TEST_ACC[:4])
    with pytest.raises(ValueError, match="NaN at \\(epoch, level\\) \\(2, 1\\)"):
        bad = TEST_ACC.copy()
        bad[2, 1] = np.nan
        select_epoch(bad, "last")
    with pytest.raises(ValueError, match=r"shape \(0, 3\)"):
        select_epoch(np.zeros((0, 3)), "last")
