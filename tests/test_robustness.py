"""Tests of hmc.metrics.robustness: seeded noise identical for every caller, sigma 0 is the clean
accuracy, and the batched measurement equals a per-image loop and a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmc.metrics.robustness import NOISE_BLOCK, ROBUSTNESS_SEED, noise_for, robust_accuracy, sigma_label


def _data(n=300, m=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 6, 6), generator=gen, dtype=torch.uint8)
    y = torch.stack([torch.randint(0, 4, (n,), generator=gen), torch.randint(0, 2, (n,), generator=gen)], dim=1)
    return x, y[:, :m]


class _Linear(torch.nn.Module):
    """Per-level linear scores of the flattened view: (B, 1, 6, 6) -> [(B, 4), (B, 2)]."""

    def __init__(self, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w = [torch.randn(36, 4, generator=gen), torch.randn(36, 2, generator=gen)]

    def forward(self, v):
        flat = v.flatten(1) - 0.5
        return [flat @ w for w in self.w]


def test_noise_is_seeded_and_independent_of_batching_and_global_seed():
    torch.manual_seed(1)
    a = noise_for(0, 700, (1, 6, 6))
    torch.manual_seed(2)
    b = noise_for(0, 700, (1, 6, 6))
    assert torch.equal(a, b)  # the global generator plays no part
    parts = torch.cat([noise_for(0, 100, (1, 6, 6)), noise_for(100, 300, (1, 6, 6)), noise_for(300, 700, (1, 6, 6))])
    assert torch.equal(a, parts)
    assert a.shape == (700, 1, 6, 6) and a.dtype == torch.float32
    assert not torch.equal(a[:NOISE_BLOCK], a[NOISE_BLOCK : 2 * NOISE_BLOCK])  # blocks differ
    assert not torch.equal(a, noise_for(0, 700, (1, 6, 6), seed=ROBUSTNESS_SEED + 1))
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 1) < 0.05
    assert noise_for(5, 5, (1, 6, 6)).shape == (0, 1, 6, 6)


def test_every_model_sees_the_same_corrupted_images():
    """Two different models (and batch sizes, and global seeds) are scored on identical noisy views."""
    x, y = _data()
    seen = {}
    for name, seed, batch in (("first", 0, 256), ("second", 1, 100)):
        torch.manual_seed(seed + 10)  # a different "run seed" for each
        model = _Linear(seed)
        views = []

        def scores(v, model=model, views=views):
            views.append(v.clone())
            return model(v)

        robust_accuracy(scores, x, y, (0.0, 0.2), batch_size=batch)
        seen[name] = views
    # per sigma, the concatenated views of all batches
    first = [torch.cat(seen["first"][s::2]) for s in range(2)]
    second = [torch.cat(seen["second"][s::2]) for s in range(2)]
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(first[0], x.float() / 255)  # sigma 0: the clean views
    assert not torch.equal(first[1], first[0])


def test_sigma_zero_is_the_clean_accuracy():
    x, y = _data()
    model = _Linear(3)
    res = robust_accuracy(model, x, y, (0.0, 0.1), batch_size=64)
    with torch.no_grad():
        out = model(x.float() / 255)
    pred = torch.stack([s.argmax(1) for s in out], 1)
    clean = (pred == y).double().mean(0).numpy()
    np.testing.assert_array_equal(res.level[0], clean)
    assert res.full_path[0] == (pred == y).all(1).double().mean().item()
    assert res.sigmas == (0.0, 0.1) and res.level.shape == (2, 2) and res.full_path.shape == (2,)


def test_batched_measurement_equals_a_per_image_loop():
    x, y = _data(n=290)
    model = _Linear(5)
    sigmas = (0.0, 0.1, 0.4, 2.0)
    res = robust_accuracy(model, x, y, sigmas, batch_size=NOISE_BLOCK)
    for s, sigma in enumerate(sigmas):
        hits = np.zeros(2)
        path = 0
        for i in range(len(x)):
            z = noise_for(i, i + 1, (1, 6, 6))
            v = torch.clamp(x[i : i + 1].float() / 255 + sigma * z, 0, 1)
            right = [int(torch.argmax(sk[0])) == int(y[i, k]) for k, sk in enumerate(model(v))]
            hits += right
            path += all(right)
        np.testing.assert_allclose(res.level[s], hits / len(x), rtol=0, atol=1e-12)
        assert res.full_path[s] == pytest.approx(path / len(x), abs=1e-12)
    assert res.level[-1, 0] < res.level[0, 0] + 0.2  # noise does not help a random model much


def test_a_hand_computed_case():
    """A model that reads one pixel: level 0 says 1 when it is above 0.5, level 1 always says 0.

    Images: 4 with the pixel at 1.0 (label 1) and 4 at 0.0 (label 0). Clean: all right. Under
    sigma = 10 the clipped pixel is 1 exactly when z > 0 (so |sigma z| >> 0.5 up to rare small z), so
    level 0 is right for image i iff (z_i > 0) == (label_i == 1) -- computed here from the noise.
    """
    x = torch.zeros((8, 1, 2, 2), dtype=torch.uint8)
    x[:4, 0, 0, 0] = 255
    y = torch.tensor([[1, 0]] * 4 + [[0, 0]] * 4)

    def scores(v):
        p = v[:, 0, 0, 0]
        return [torch.stack([0.5 - p, p - 0.5], 1), torch.stack([torch.ones_like(p), torch.zeros_like(p)], 1)]

    res = robust_accuracy(scores, x, y, (0.0, 10.0))
    z = noise_for(0, 8, (1, 2, 2))[:, 0, 0, 0]
    noisy = torch.clamp(x[:, 0, 0, 0].float() / 255 + 10 * z, 0, 1)
    expected = float(((noisy > 0.5).long() == y[:, 0]).double().mean())
    assert res.level[0].tolist() == [1.0, 1.0]
    assert res.level[1].tolist() == [expected, 1.0]
    assert res.full_path.tolist() == [1.0, expected]


def test_runs_under_inference_mode_and_refuses_bad_input():
    x, y = _data(n=10)
    flags = []

    def scores(v):
        flags.append(torch.is_inference_mode_enabled())
        return _Linear(0)(v)

    robust_accuracy(scores, x, y, (0.1,))
    assert flags and all(flags)
    with pytest.raises(ValueError):
        robust_accuracy(scores, x, y, ())
    with pytest.raises(ValueError):
        robust_accuracy(scores, x, y, (-0.1,))
    with pytest.raises(ValueError):
        robust_accuracy(scores, x, y[:5], (0.1,))


def test_sigma_labels():
    assert [sigma_label(s) for s in (0, 0.0, 0.1, 0.2, 0.4, 1)] == ["0", "0", "0.1", "0.2", "0.4", "1"]
