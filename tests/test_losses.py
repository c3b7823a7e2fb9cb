"""Rare-node losses: hand-computed weights and uncertainties, scipy references, loop references, schedules."""

import math
import statistics

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch
import torch.nn.functional as F

from hmc import Hierarchy
from hmc.constraint import MaxConstraint, ancestor_mask, max_constraint_dense, mc_loss
from hmc.losses import (
    EPS,
    UNCERTAINTY_MEASURES,
    FocalMCLoss,
    aleatoric,
    balanced_weights,
    bbma,
    bma,
    epistemic_js,
    epistemic_kl,
    focal_mc_loss,
    global_scheduled_weights,
    gmu,
    imbalance_weights,
    mixed_loss,
    node_frequencies,
    rescale_weights,
    scheduled_weights,
    term_weights,
)
from hmc.synthetic import random_hierarchy

MEASURES = list(UNCERTAINTY_MEASURES)


def small() -> Hierarchy:
    """root -> a -> {a1, a2}, root -> b, root -> c; columns: root, a, b, c, a1, a2."""
    hier = Hierarchy.from_edges([("root", "a"), ("root", "b"), ("root", "c"), ("a", "a1"), ("a", "a2")])
    assert hier.nodes == ["root", "a", "b", "c", "a1", "a2"]
    return hier


# 4 training rows: {a1}, {a2}, {b}, {b} (+ ancestors). n = root 4, a 2, b 2, c 0, a1 1, a2 1.
# f_c = sum of n over D(c): root 4+2+2+0+1+1 = 10, a 2+1+1 = 4 (= N), b 2, c 0, a1 1, a2 1.
Y_TRAIN = [["a1"], ["a2"], ["b"], ["b"]]
F_HAND = [10, 4, 2, 0, 1, 1]
# classwise, K = 6, N = 4: w = 4 / (6 f); a (f = N) and c (f = 0) get 1
W_CLASSWISE = [4 / 60, 1.0, 4 / 12, 1.0, 4 / 6, 4 / 6]
# rescale: min 1/15, max 1 -> w' = 0.25 + 1 * (w - 1/15) / (14/15)
WP_CLASSWISE = [0.25, 1.25, 0.25 + 4 / 14, 1.25, 0.25 + 9 / 14, 0.25 + 9 / 14]
# binary, K = 2: w = 4 / (2 f): root 0.2, a 1 (f = N), b 1, c 1 (f = 0), a1 2, a2 2
W_BINARY = [0.2, 1.0, 1.0, 1.0, 2.0, 2.0]
# rescale: min 0.2, max 2 -> w' = 0.25 + 2 (w - 0.2) / 1.8
WP_BINARY = [0.25, 0.25 + 16 / 18, 0.25 + 16 / 18, 0.25 + 16 / 18, 2.25, 2.25]


# ----------------------------------------------------------------------------------- weights
def test_node_frequencies_by_hand():
    hier = small()
    y = hier.label_matrix(Y_TRAIN)
    assert node_frequencies(y, hier).tolist() == F_HAND
    assert node_frequencies(torch.from_numpy(y), hier).tolist() == F_HAND
    # leaves only: labels are propagated to the ancestors first
    leaves = np.zeros_like(y)
    for row, (name,) in enumerate(Y_TRAIN):
        leaves[row, hier.index[name]] = 1
    assert node_frequencies(leaves, hier).tolist() == F_HAND


def test_balanced_and_rescaled_weights_by_hand():
    hier = small()
    y = hier.label_matrix(Y_TRAIN)
    np.testing.assert_allclose(balanced_weights(np.array(F_HAND), 4, "classwise"), W_CLASSWISE, rtol=1e-15)
    np.testing.assert_allclose(balanced_weights(np.array(F_HAND), 4, "binary"), W_BINARY, rtol=1e-15)
    np.testing.assert_allclose(rescale_weights(np.array(W_CLASSWISE), 0.25), WP_CLASSWISE, rtol=1e-14)
    np.testing.assert_allclose(rescale_weights(np.array(W_BINARY), 0.25), WP_BINARY, rtol=1e-14)
    np.testing.assert_allclose(imbalance_weights(y, hier), WP_CLASSWISE, rtol=1e-14)
    np.testing.assert_allclose(imbalance_weights(y, hier, kind="binary"), WP_BINARY, rtol=1e-14)
    # another floor: omega 0 -> w' = max(w) (w - min) / (max - min)
    np.testing.assert_allclose(imbalance_weights(y, hier, kind="binary", floor=0.0), np.array(WP_BINARY) - 0.25)


def test_rescale_with_equal_weights_is_unweighted():
    np.testing.assert_array_equal(rescale_weights(np.array([0.7, 0.7, 0.7])), [1.0, 1.0, 1.0])
    # flat hierarchy x, z with f_x = N = 2 and f_z = 0: both w = 1, max == min, so w' = 1
    flat = Hierarchy(["x", "z"], [])
    np.testing.assert_array_equal(imbalance_weights(np.array([[1, 0], [1, 0]]), flat), [1.0, 1.0])
    # with a root above them: f_r = 2 + 2 = 4 != N, w_r = 2 / (3 * 4) is the minimum -> w'_r = 0.25,
    # and w_x = w_z = 1 = max -> 0.25 + 1
    hier = Hierarchy.from_edges([("r", "x"), ("r", "z")])
    np.testing.assert_allclose(imbalance_weights(np.array([[1, 1, 0], [1, 1, 0]]), hier), [0.25, 1.25, 1.25])


def test_term_weights_both_targets_by_hand():
    wp = np.array(WP_CLASSWISE)
    y = torch.tensor([[1, 1, 0, 0, 1, 0], [1, 0, 1, 0, 0, 0]])
    r, a, b, c, a1, a2 = WP_CLASSWISE
    neg = term_weights(wp, y, "negatives")
    assert neg.dtype == torch.float64 and neg.shape == (2, 6)
    assert neg.tolist() == [[1, 1, b, c, 1, a2], [1, a, 1, c, a1, a2]]
    pos = term_weights(wp, y, "positives")
    assert pos.tolist() == [[r, a, 1, 1, a1, 1], [r, 1, b, 1, 1, 1]]
    assert term_weights(torch.tensor(wp, dtype=torch.float32), y.bool()).dtype == torch.float32
    assert torch.equal(term_weights(wp, y), neg)  # default: "negatives" (reproduces the reference)


def test_weight_errors():
    hier = small()
    y = hier.label_matrix(Y_TRAIN)
    with pytest.raises(ValueError, match="kind"):
        imbalance_weights(y, hier, kind="inverse")
    with pytest.raises(ValueError, match="floor"):
        imbalance_weights(y, hier, floor=-0.1)
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        node_frequencies(y[:, :5], hier)
    with pytest.raises(ValueError, match="0/1"):
        node_frequencies(y * 2, hier)
    with pytest.raises(ValueError, match="weight_target"):
        term_weights(np.ones(6), torch.zeros(2, 6), "both")
    with pytest.raises(ValueError, match="must agree"):
        term_weights(np.ones(5), torch.zeros(2, 6))


# ----------------------------------------------------------------------------------- uncertainty
def h2(q: float) -> float:
    """Binary entropy in bits, by hand."""
    return 0.0 if q in (0.0, 1.0) else -(q * math.log2(q) + (1 - q) * math.log2(1 - q))


def kl2(a: float, b: float) -> float:
    """Binary KL in bits on probabilities clamped to [EPS, 1 - EPS], by hand."""
    a, b = min(max(a, EPS), 1 - EPS), min(max(b, EPS), 1 - EPS)
    return a * math.log2(a / b) + (1 - a) * math.log2((1 - a) / (1 - b))


def ref_measure(name: str, ps: list[float]) -> float:
    """Loop reference of each measure for one (sample, node): ps = the H members' probabilities."""
    pbar = sum(ps) / len(ps)
    pairs = [(a, b) for i, a in enumerate(ps) for j, b in enumerate(ps) if i != j]
    if name == "bbma":
        return 1 - abs(2 * pbar - 1)
    if name == "bma":
        return h2(pbar)
    if name == "aleatoric":
        return sum(h2(q) for q in ps) / len(ps)
    if name == "epistemic_js":
        return sum(h2((a + b) / 2) - (h2(a) + h2(b)) / 2 for a, b in pairs) / len(pairs)
    if name == "epistemic_kl":
        return sum(kl2(a, b) for a, b in pairs) / len(pairs)
    t = max(pbar, 1 - pbar)
    snr = (2 * t - 1) / (2 * statistics.stdev(ps) + 1e-10)
    return 1 - (1 - math.exp(-snr)) * (2 * t - 1)


def members(*values, shape=(1, 1)) -> torch.Tensor:
    """(H, *shape) float64 tensor, member h filled with values[h]."""
    return torch.tensor(values, dtype=torch.float64).reshape(-1, *[1] * len(shape)).expand(-1, *shape).clone()


KL_0_1 = (1 - 2 * EPS) * math.log2((1 - EPS) / EPS)  # KL(EPS || 1 - EPS) = KL(1 - EPS || EPS), ~19.93 bits

HAND_CASES = [
    # members, bbma, bma, aleatoric, epistemic_js, epistemic_kl, gmu
    ((0.5, 0.5, 0.5), 1.0, 1.0, 1.0, 0.0, 0.0, 1.0),  # all at 0.5: margin 0 -> gmu = 1
    ((0.0, 1.0), 1.0, 1.0, 0.0, 1.0, KL_0_1, 1.0),  # full disagreement, p_bar = 0.5
    ((0.0, 0.0, 0.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),  # certain agreement: snr = 1/1e-10, u = 1 - 1
    ((1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ((0.9, 0.9), 0.2, h2(0.9), h2(0.9), 0.0, 0.0, 0.2),  # s = 0: u = 1 - margin = 1 - 0.8
    (
        (0.2, 0.6),  # p_bar 0.4, margin 2 * 0.6 - 1 = 0.2, s = sqrt(0.08)
        0.8,
        h2(0.4),
        (h2(0.2) + h2(0.6)) / 2,
        h2(0.4) - (h2(0.2) + h2(0.6)) / 2,
        # (KL(0.2 || 0.6) + KL(0.6 || 0.2)) / 2
        (0.2 * math.log2(0.2 / 0.6) + 0.8 * math.log2(0.8 / 0.4)
         + 0.6 * math.log2(0.6 / 0.2) + 0.4 * math.log2(0.4 / 0.8)) / 2,
        1 - (1 - math.exp(-0.2 / (2 * math.sqrt(0.08) + 1e-10))) * 0.2,
    ),
]


@pytest.mark.parametrize("case", HAND_CASES, ids=lambda c: str(c[0]))
def test_measures_by_hand(case):
    values, *want = case
    p = members(*values, shape=(2, 3))
    for name, expected in zip(MEASURES, want, strict=True):
        got = UNCERTAINTY_MEASURES[name](p)
        assert got.shape == (2, 3), name
        torch.testing.assert_close(got, torch.full((2, 3), expected, dtype=torch.float64), rtol=1e-12, atol=1e-12,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_measures_against_scipy_and_loops():
    rng = np.random.default_rng(0)
    H, B, C = 4, 3, 5
    p_np = rng.uniform(0.01, 0.99, size=(H, B, C))
    p = torch.from_numpy(p_np)
    got = {name: fn(p).numpy() for name, fn in UNCERTAINTY_MEASURES.items()}
    for b in range(B):
        for c in range(C):
            ps = p_np[:, b, c]
            pbar = ps.mean()
            dist = [np.array([q, 1 - q]) for q in ps]
            assert got["bma"][b, c] == pytest.approx(scipy.stats.entropy([pbar, 1 - pbar], base=2), rel=1e-12)
            assert got["aleatoric"][b, c] == pytest.approx(np.mean([scipy.stats.entropy(d, base=2) for d in dist]))
            pairs = [(i, j) for i in range(H) for j in range(H) if i != j]
            js = np.mean([scipy.spatial.distance.jensenshannon(dist[i], dist[j], base=2) ** 2 for i, j in pairs])
            assert got["epistemic_js"][b, c] == pytest.approx(js, rel=1e-9, abs=1e-13)
            kl = np.mean([scipy.stats.entropy(dist[i], dist[j], base=2) for i, j in pairs])
            assert got["epistemic_kl"][b, c] == pytest.approx(kl, rel=1e-12)
            t = max(pbar, 1 - pbar)
            snr = (2 * t - 1) / (2 * np.std(ps, ddof=1) + 1e-10)
            assert got["gmu"][b, c] == pytest.approx(1 - (1 - np.exp(-snr)) * (2 * t - 1), rel=1e-12)
            for name in MEASURES:
                assert got[name][b, c] == pytest.approx(ref_measure(name, list(ps)), rel=1e-9, abs=1e-13), name


def test_measures_float32_finite_at_extremes_and_in_range():
    gen = torch.Generator().manual_seed(1)
    p = (torch.rand(5, 8, 9, generator=gen) < 0.5).float()  # only 0 and 1
    p[:, :4] = torch.rand(5, 4, 9, generator=gen)
    for name, fn in UNCERTAINTY_MEASURES.items():
        u = fn(p)
        assert u.dtype == torch.float32 and torch.isfinite(u).all(), name
        assert (u >= 0).all(), name
        if name != "epistemic_kl":
            assert (u <= 1 + 1e-6).all(), name
    assert epistemic_kl(p).max() <= KL_0_1 * 1.0001


def test_single_member():
    p = members(0.3, shape=(2, 2))
    torch.testing.assert_close(bbma(p), torch.full((2, 2), 0.6, dtype=torch.float64))
    torch.testing.assert_close(bma(p), torch.full((2, 2), h2(0.3), dtype=torch.float64))
    torch.testing.assert_close(aleatoric(p), bma(p))
    for fn in (epistemic_js, epistemic_kl, gmu):
        with pytest.raises(ValueError, match="at least 2 members"):
            fn(p)
    with pytest.raises(ValueError, match=r"\(H, B, C\)"):
        bbma(torch.rand(4))


# ----------------------------------------------------------------------------------- focal MCLoss
def random_case(hier: Hierarchy, H: int, B: int, seed: int, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    C = len(hier)
    h = (0.05 + 0.9 * torch.rand(H, B, C, generator=gen)).to(dtype)
    y = torch.as_tensor(hier.propagate((np.random.default_rng(seed).random((B, C)) < 0.3).astype(np.uint8)))
    return h, y


def loop_focal(h, y, hier, ev, name, k, m, W, u=None):
    """Explicit loops over members, samples and nodes, with the dense-by-definition MCM.

    ``u`` (B, C) as Python floats from :func:`ref_measure` unless given: constants for autograd.
    """
    H, B, C = h.shape
    desc = [[c] + [hier.index[d] for d in hier.descendants(c)] for c in range(C)]
    if u is None:
        u = [[ref_measure(name, [float(h[j, b, c].detach()) for j in range(H)]) for c in range(C)] for b in range(B)]
    total = h.new_zeros(())
    terms = []
    for j in range(H):
        for b in range(B):
            for c in ev:
                if y[b, c]:
                    o = torch.stack([h[j, b, d] for d in desc[c] if y[b, d]]).max()
                    bce = -torch.log(o)
                else:
                    o = torch.stack([h[j, b, d] for d in desc[c]]).max()
                    bce = -torch.log(1 - o)
                term = float(W[b, c]) * (m + u[b][c] ** k) * bce
                terms.append(term)
                total = total + term
    return total, torch.stack(terms).reshape(H, B, len(ev))


def test_exponent_zero_reduces_to_summed_mcloss():
    hier = random_hierarchy(3, 2, 0.3, seed=2)
    C = len(hier)
    ev = np.arange(1, C)
    h, y = random_case(hier, 3, 4, seed=2, dtype=torch.float32)
    mcm = MaxConstraint(hier)
    plain = sum(mc_loss(h[j], y, mcm, ev, reduction="sum") for j in range(3))
    for name in MEASURES:
        got = focal_mc_loss(h, y, mcm, ev, measure=name, exponent=0, floor=0.0)
        torch.testing.assert_close(got, plain, rtol=1e-12, atol=0)
        # the spec's factor is m + u^k: floor 1 and exponent 0 give twice the plain loss
        torch.testing.assert_close(focal_mc_loss(h, y, mcm, ev, measure=name, exponent=0, floor=1.0), 2 * plain)


@pytest.mark.parametrize("name", MEASURES)
@pytest.mark.parametrize("target", ["negatives", "positives"])
def test_focal_equals_loop_reference(name, target):
    hier = random_hierarchy(2, 2, 0.5, seed=3)
    C = len(hier)
    ev = [c for c in range(C) if c not in set(hier.roots.tolist())]
    h, y = random_case(hier, 3, 4, seed=3)
    wp = np.random.default_rng(3).uniform(0.25, 2.0, C)
    W = term_weights(wp, y, target)
    want, want_terms = loop_focal(h, y, hier, ev, name, 2, 0.25, W)
    got = focal_mc_loss(h, y, MaxConstraint(hier), ev, measure=name, exponent=2, floor=0.25, weight=W)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=0)
    none = focal_mc_loss(h, y, hier, ev, measure=name, weight=W, reduction="none")
    assert none.shape == (3, 4, len(ev))
    torch.testing.assert_close(none, want_terms, rtol=1e-10, atol=1e-14)
    mean = focal_mc_loss(h, y, hier, ev, measure=name, weight=W, reduction="mean")
    torch.testing.assert_close(mean, want / (3 * 4 * len(ev)), rtol=1e-10, atol=0)
    # exponent 1, floor 0.5, per-node weights (C,)
    want1, _ = loop_focal(h, y, hier, ev, name, 1, 0.5, np.broadcast_to(wp, (4, C)))
    got1 = focal_mc_loss(h, y, hier, ev, measure=name, exponent=1, floor=0.5, weight=torch.from_numpy(wp))
    torch.testing.assert_close(got1, want1, rtol=1e-10, atol=0)


def test_no_gradient_through_uncertainty():
    hier = random_hierarchy(2, 2, 0.5, seed=4)
    C = len(hier)
    ev = list(range(1, C))
    h, y = random_case(hier, 3, 3, seed=4)
    W = term_weights(np.linspace(0.3, 1.7, C), y)
    for name in MEASURES:
        hg = h.clone().requires_grad_()
        (g,) = torch.autograd.grad(focal_mc_loss(hg, y, hier, ev, measure=name, weight=W), hg)
        hr = h.clone().requires_grad_()
        ref, _ = loop_focal(hr, y, hier, ev, name, 2, 0.25, W)  # u as Python floats: constants
        (g_ref,) = torch.autograd.grad(ref, hr)
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-13)
        # the same loss with u attached to the graph has a different gradient: the check can fail
        ha = h.clone().requires_grad_()
        attached = mc_loss(ha, y, hier, ev, weight=W * (0.25 + UNCERTAINTY_MEASURES[name](ha) ** 2), reduction="sum")
        (g_att,) = torch.autograd.grad(attached, ha)
        assert (g_att - g_ref).abs().max() > 1e-4, name


def test_gradcheck_tiny():
    hier = small()
    mcm = MaxConstraint(hier)
    # distinct values >= 0.04 apart: finite differences never cross an MCM tie
    h = (torch.randperm(12, generator=torch.Generator().manual_seed(5)).reshape(2, 1, 6) / 25 + 0.05).double()
    h = torch.cat([h, h.flip(-1)], dim=1).requires_grad_()  # (H=2, B=2, C=6)
    y = torch.as_tensor(hier.label_matrix([["a1"], ["b"]]))
    W = term_weights(np.array(WP_CLASSWISE), y)
    u_const = torch.rand(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    assert torch.autograd.gradcheck(lambda x: focal_mc_loss(x, y, mcm, measure=lambda p: u_const, weight=W), (h,))
    assert torch.autograd.gradcheck(lambda x: focal_mc_loss(x, y, mcm, exponent=0, weight=W, reduction="none"), (h,))
    # with u computed from h (detached), finite differences see du/dh and the analytic gradient does not
    assert not torch.autograd.gradcheck(lambda x: focal_mc_loss(x, y, mcm, weight=W), (h,), raise_exception=False)


def test_module_and_function_agree():
    hier = random_hierarchy(3, 2, 0.3, seed=7)
    C = len(hier)
    h, y = random_case(hier, 4, 3, seed=7, dtype=torch.float32)
    W = term_weights(np.linspace(0.25, 2.0, C), y, "positives")
    for reduction in ("none", "mean", "sum"):
        module = FocalMCLoss(hier, eval_nodes=np.arange(1, C), measure="gmu", exponent=1, reduction=reduction)
        fn = focal_mc_loss(h, y, hier, np.arange(1, C), "gmu", 1, 0.25, W, reduction)
        assert torch.equal(module(h, y, W), fn)
    assert "measure=gmu" in repr(module)
    shared = MaxConstraint(hier)
    assert FocalMCLoss(shared).mcm is shared


def test_extreme_member_outputs_are_finite():
    hier = small()
    h = torch.tensor([[[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]], [[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]], requires_grad=True)
    y = torch.as_tensor(hier.label_matrix([["a2"]]))
    for name in MEASURES:
        loss = focal_mc_loss(h, y, hier, measure=name)
        (g,) = torch.autograd.grad(loss, h)
        assert torch.isfinite(loss) and torch.isfinite(g).all(), name


def test_focal_errors():
    hier = small()
    h, y = random_case(hier, 2, 3, seed=8)
    with pytest.raises(ValueError, match="measure"):
        focal_mc_loss(h, y, hier, measure="entropy")
    with pytest.raises(ValueError, match="measure"):
        FocalMCLoss(hier, measure="entropy")
    with pytest.raises(ValueError, match="reduction"):
        focal_mc_loss(h, y, hier, reduction="avg")
    with pytest.raises(ValueError, match=r"\(H, B, C\)"):
        focal_mc_loss(h[0], y, hier)
    with pytest.raises(ValueError, match="at least 2 members"):
        focal_mc_loss(h[:1], y, hier)  # default measure epistemic_js needs H >= 2
    with pytest.raises(ValueError, match="exponent must be a finite number >= 0"):
        focal_mc_loss(h, y, hier, exponent=-1)
    with pytest.raises(ValueError, match="broadcast"):
        focal_mc_loss(h, y, hier, weight=torch.ones(5))
    with pytest.raises(ValueError, match="broadcast"):
        focal_mc_loss(h, y[:2], hier)
    with pytest.raises(ValueError, match="return shape"):
        focal_mc_loss(h, y, hier, measure=lambda p: p.mean())


# ----------------------------------------------------------------------------------- schedules, mixed loss
def test_per_epoch_schedule_by_hand():
    w0 = np.array([2.0, 1.0, 0.25])
    for kind in ("lin", "exp"):
        np.testing.assert_array_equal(scheduled_weights(w0, 0, 5, kind), w0)  # first batch: W0
        np.testing.assert_allclose(scheduled_weights(w0, 4, 5, kind), [0.25, 0.25, 0.25], rtol=1e-15)  # last: omega
    # batch 1 of 5: t = 1/4; lin 2 + (0.25 - 2) / 4, exp 2 + (0.25 - 2) / 64
    np.testing.assert_allclose(scheduled_weights(w0, 1, 5, "lin"), [1.5625, 0.8125, 0.25], rtol=1e-15)
    np.testing.assert_allclose(scheduled_weights(w0, 1, 5, "exp"), [2 - 1.75 / 64, 1 - 0.75 / 64, 0.25], rtol=1e-15)
    np.testing.assert_allclose(scheduled_weights(w0, 2, 5, "lin", floor=0.5), [1.25, 0.75, 0.375], rtol=1e-15)
    for i in (0, 2, 4):
        np.testing.assert_array_equal(scheduled_weights(w0, i, 5, "alt"), w0)
    for i in (1, 3):
        np.testing.assert_array_equal(scheduled_weights(w0, i, 5, "alt"), [0.25, 0.25, 0.25])
    np.testing.assert_array_equal(scheduled_weights(w0, 0, 1, "lin"), w0)  # a single batch: W0
    t = torch.tensor([[2.0, 1.0]])
    out = scheduled_weights(t, 3, 4, "lin")
    assert isinstance(out, torch.Tensor) and out.shape == (1, 2) and out.tolist() == [[0.25, 0.25]]
    assert scheduled_weights(t, 1, 4, "alt").tolist() == [[0.25, 0.25]] and scheduled_weights(t, 1, 4, "alt") is not t


def test_global_schedule_by_hand():
    w0 = np.array([2.0, 0.25])
    for kind in ("lin", "exp"):
        np.testing.assert_array_equal(global_scheduled_weights(w0, 0, 1000, kind), w0)
        np.testing.assert_allclose(global_scheduled_weights(w0, 999, 1000, kind), [1.0, 1.0], rtol=1e-15)
    # step 1 of 3 (t = 1/2): lin 2 - 0.5, 0.25 + 0.375; exp 2 - 1/8, 0.25 + 0.75/8
    np.testing.assert_allclose(global_scheduled_weights(w0, 1, 3, "lin"), [1.5, 0.625], rtol=1e-15)
    np.testing.assert_allclose(global_scheduled_weights(w0, 1, 3, "exp"), [1.875, 0.34375], rtol=1e-15)
    np.testing.assert_array_equal(global_scheduled_weights(w0, 6, 10, "alt"), w0)
    np.testing.assert_array_equal(global_scheduled_weights(w0, 7, 10, "alt"), [1.0, 1.0])
    np.testing.assert_array_equal(global_scheduled_weights(w0, 7, 10, "alt", end=0.5), [0.5, 0.5])


def test_schedule_errors():
    with pytest.raises(ValueError, match="kind"):
        scheduled_weights(np.ones(2), 0, 3, "cosine")
    with pytest.raises(ValueError, match="kind"):
        global_scheduled_weights(np.ones(2), 0, 3, "cosine")
    with pytest.raises(ValueError, match="index"):
        scheduled_weights(np.ones(2), 3, 3)
    with pytest.raises(ValueError, match="index"):
        global_scheduled_weights(np.ones(2), -1, 3)
    with pytest.raises(ValueError, match="index"):
        scheduled_weights(np.ones(2), 0, 0)


def test_mixed_loss():
    bce = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    W = torch.tensor([[1.0, 0.5, 2.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    weighted = (1.0 + 1.0 + 6.0 + 0.0 + 5.0 + 6.0) / 6  # mean(W * BCE) = 19/6
    plain = 21 / 6
    assert mixed_loss(bce, W, 0.0).item() == pytest.approx(plain, rel=1e-15)
    assert mixed_loss(bce, W, 1.0).item() == pytest.approx(weighted, rel=1e-15)
    assert mixed_loss(bce, W, 0.25).item() == pytest.approx(0.25 * weighted + 0.75 * plain, rel=1e-15)
    # per-node weights broadcast over the batch; a BCE computed by torch for lambda 0
    p, y = torch.tensor([[0.2, 0.7]]), torch.tensor([[0.0, 1.0]])
    terms = F.binary_cross_entropy(p, y, reduction="none")
    torch.testing.assert_close(mixed_loss(terms, np.array([3.0, 1.0], dtype=np.float32), 0.0), terms.mean())
    want = 0.5 * (3 * -math.log(0.8) + -math.log(0.7)) / 2 + 0.5 * (-math.log(0.8) - math.log(0.7)) / 2
    assert mixed_loss(terms, np.array([3.0, 1.0], dtype=np.float32), 0.5).item() == pytest.approx(want, rel=1e-6)
    for lam in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lam"):
            mixed_loss(bce, W, lam)
    with pytest.raises(ValueError, match="broadcast"):
        mixed_loss(bce, torch.ones(2), 0.5)
    with pytest.raises(ValueError, match="broadcast"):
        mixed_loss(bce, torch.ones(4, 2, 3), 0.5)  # weights may not enlarge the terms


def test_mcm_of_focal_matches_dense_reference_on_a_dag():
    """One more independent check: focal terms = W (m + u^k) BCE with the dense MCM of hmc.constraint."""
    hier = random_hierarchy(3, 2, 0.5, seed=9)
    C = len(hier)
    h, y = random_case(hier, 2, 5, seed=9)
    R = ancestor_mask(hier)
    yd = y.double()
    out = (1 - yd) * max_constraint_dense(h, R) + yd * max_constraint_dense(yd * h, R)
    bce = F.binary_cross_entropy(out, yd.expand_as(out), reduction="none")
    u = gmu(h)
    want = (0.25 + u**2) * bce
    got = focal_mc_loss(h, y, hier, measure="gmu", reduction="none")
    assert got.shape == (2, 5, C)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
