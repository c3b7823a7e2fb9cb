"""The synthetic image hierarchy: shapes, determinism, imbalance, parents, separability and speed."""

import time

import numpy as np
import pytest
import torch

from hmc.data import load_image_hierarchy
from hmc.data.synthetic_images import make_synthetic_images, power_law_counts


@pytest.fixture(scope="module")
def default():
    return make_synthetic_images()


def test_default_shapes_labels_and_parents(default):
    h = default
    assert h.name == "synthetic" and h.level_names == ("fine", "coarse") and h.n_classes == (12, 4)
    assert h.x_train.shape == (1200, 3, 32, 32) and h.x_test.shape == (240, 3, 32, 32)
    assert h.x_train.dtype == torch.uint8 and h.y_train.dtype == torch.int64 and len(h.x_val) == 0
    assert list(h.level_parents[0]) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert torch.equal(h.y_train[:, 1], h.y_train[:, 0] // 3)
    assert h.class_names[1] == ("disc", "square", "triangle", "cross")
    assert h.class_names[0][:3] == ("disc/stripes000", "disc/stripes060", "disc/stripes120")
    assert h.meta["attributes"] == ("shape+background", "stripes")
    assert len(h.hierarchy) == 16 and h.hierarchy.is_tree
    assert all(0.1 < m < 0.6 for m in h.mean) and all(0.05 < s < 0.4 for s in h.std)
    assert int(h.x_train.min()) == 0 or int(h.x_train.max()) > 200  # uses the range


def test_three_levels_and_the_registry_entry():
    h = load_image_hierarchy("synthetic", branching=(3, 2, 4), n_per_class=10, n_test_per_class=3, size=24)
    assert h.level_names == ("fine", "middle", "coarse") and h.n_classes == (24, 6, 3)
    assert list(h.level_parents[0]) == list(np.arange(24) // 4) and list(h.level_parents[1]) == [0, 0, 1, 1, 2, 2]
    assert h.x_train.shape == (240, 3, 24, 24) and h.x_test.shape == (72, 3, 24, 24)
    assert h.class_names[0][5] == "disc/hue270/stripes045"
    assert torch.equal(h.y_test[:, 2], h.y_test[:, 0] // 8)


def test_deterministic_for_a_seed(default):
    again = make_synthetic_images()
    assert torch.equal(default.x_train, again.x_train) and torch.equal(default.x_test, again.x_test)
    other = make_synthetic_images(seed=1)
    assert not torch.equal(default.x_train, other.x_train)
    with_val = make_synthetic_images(validation=True)
    assert torch.equal(with_val.x_train, default.x_train) and torch.equal(with_val.x_test, default.x_test)
    assert with_val.x_val.shape == (240, 3, 32, 32) and not torch.equal(with_val.x_val, default.x_test)


def test_counts_follow_the_power_law_imbalance():
    counts = power_law_counts(12, 200, 10.0)
    assert counts[0] == 200 and counts[-1] == 20 and (np.diff(counts) <= 0).all()
    assert list(power_law_counts(5, 7, 1.0)) == [7] * 5
    h = make_synthetic_images(n_per_class=200, imbalance=10.0, n_test_per_class=5)
    per_class = torch.bincount(h.y_train[:, 0], minlength=12).numpy()
    assert list(per_class) == list(h.meta["train_counts"])
    assert sorted(per_class, reverse=True) == list(counts)
    assert list(np.bincount(h.y_test[:, 0].numpy())) == [5] * 12  # test stays balanced
    with pytest.raises(ValueError):
        power_law_counts(3, 10, 0.5)


def _nearest_mean_accuracy(h, level):
    x_train = h.x_train.reshape(len(h.x_train), -1).float()
    x_test = h.x_test.reshape(len(h.x_test), -1).float()
    y_train, y_test = h.y_train[:, level], h.y_test[:, level]
    means = torch.stack([x_train[y_train == c].mean(0) for c in range(h.n_classes[level])])
    predicted = torch.cdist(x_test, means).argmin(1)
    return (predicted == y_test).float().mean().item()


def test_classes_are_separable_on_raw_pixels(default):
    coarse = _nearest_mean_accuracy(default, 1)
    fine = _nearest_mean_accuracy(default, 0)
    assert coarse > 0.8  # chance 0.25: shape and background colour
    # stripe orientation (random phase) is invisible to class means: about coarse accuracy / 3
    assert 2 / 12 < fine < 0.6


def test_default_generation_takes_under_five_seconds():
    start = time.perf_counter()
    make_synthetic_images()
    assert time.perf_counter() - start < 5


def test_invalid_branching():
    with pytest.raises(ValueError, match="2 or 3 levels"):
        make_synthetic_images(branching=(4,))
    with pytest.raises(ValueError, match="allows 1..8"):
        make_synthetic_images(branching=(9, 2))
