"""The synthetic benchmark (hmc.synthetic.make_benchmark) and the published-numbers table."""

import numpy as np
import pytest

from hmc.published import PUBLISHED_METHODS, published_auprc
from hmc.synthetic import make_benchmark, make_tabular


def test_make_benchmark_splits_in_row_order_and_standardises_on_train_valid():
    b = make_benchmark(n_samples=100, depth=3, branching=2, split=(0.5, 0.2, 0.3), seed=3)
    raw = make_tabular(n_samples=100, depth=3, branching=2, seed=3)
    assert (len(b.x_train), len(b.x_valid), len(b.x_test)) == (50, 20, 30)
    np.testing.assert_array_equal(np.concatenate([b.y_train, b.y_valid, b.y_test]), raw.y)
    fit = np.concatenate([b.x_train, b.x_valid])
    np.testing.assert_allclose(fit.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(fit.std(0), 1.0, atol=1e-4)
    # the same affine map on every split: test rows are the raw rows scaled with the fit statistics
    mean, std = raw.x[:70].mean(0), raw.x[:70].std(0)
    np.testing.assert_allclose(b.x_test, (raw.x[70:] - mean) / std, rtol=1e-5, atol=1e-5)
    assert b.hierarchy.nodes[0] == "root" and 0 not in b.eval_nodes
    assert len(b.eval_nodes) == len(b.hierarchy) - 1
    assert b.x_train.dtype == np.float32 and b.y_train.dtype == np.uint8


def test_make_benchmark_rejects_bad_splits():
    with pytest.raises(ValueError, match="split"):
        make_benchmark(n_samples=100, split=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="empty"):
        make_benchmark(n_samples=10, split=(1.0, 0.0, 0.0))


def test_published_values_match_the_anchors_table():
    frame = published_auprc(["cellcycle_FUN", "enron", "gasch2_GO"])
    assert list(frame.columns) == list(PUBLISHED_METHODS)
    assert frame.loc["cellcycle_FUN"].tolist() == [0.255, 0.252, 0.227]
    assert frame.loc["enron"].tolist() == [0.756, 0.724, 0.696]
    assert frame.loc["gasch2_GO"].tolist() == [0.414, 0.465, 0.395]
    assert len(published_auprc()) == 20
    with pytest.raises(KeyError, match="no published"):
        published_auprc(["nope"])
