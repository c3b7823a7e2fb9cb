"""MCM and MCLoss: against the dense reference (values and gradients), invariants, hand-computed cases."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import hmc.constraint as constraint
from hmc import Hierarchy
from hmc.constraint import (
    MaxConstraint,
    MCLoss,
    ancestor_mask,
    max_constraint,
    max_constraint_dense,
    mc_loss,
    mc_loss_and_grad,
)
from hmc.synthetic import random_hierarchy
from sample_data import SAMPLE_ROOT

METHODS = ["levels", "pairs"]


# ----------------------------------------------------------------------------------- helpers
def random_dag(n: int, max_parents: int, n_roots: int, seed: int) -> Hierarchy:
    """A random DAG on n nodes whose edges may skip levels; nodes are named in a shuffled order."""
    rng = np.random.default_rng(seed)
    edges = []
    for i in range(n_roots, n):
        k = rng.integers(1, max_parents + 1)
        for p in rng.choice(i, size=min(k, i), replace=False):
            edges.append((f"n{p}", f"n{i}"))
    names = [f"n{i}" for i in rng.permutation(n)]  # the constructor must sort them topologically
    return Hierarchy(names, edges)


def random_hierarchies():
    """120 small random hierarchies: trees and DAGs from hmc.synthetic, plus level-skipping DAGs."""
    out = []
    for seed in range(40):
        depth, branching = 1 + seed % 4, 1 + seed % 3
        out.append(random_hierarchy(depth, branching, 0.0, seed))
        out.append(random_hierarchy(depth + 1, branching + 1, 0.4, seed))
        out.append(random_dag(n=5 + seed, max_parents=1 + seed % 3, n_roots=1 + seed % 3, seed=seed))
    return out


HIERARCHIES = random_hierarchies()


def linear_functional_grad(f, h, w):
    """Gradient of sum(w * f(h)) w.r.t. h."""
    (g,) = torch.autograd.grad((f(h) * w).sum(), h)
    return g


GO_ARFF = "hmc_datasets/HMC_data/datasets_GO/cellcycle_GO/cellcycle_GO.train.arff"


def go_hierarchy() -> Hierarchy:
    """The cellcycle_GO hierarchy (4126 nodes, a DAG), read from the sample of the real data committed
    with the tests (its header is the complete file's, tests/data/sample)."""
    from hmc.data.arff import read_arff

    return read_arff(SAMPLE_ROOT / GO_ARFF).hierarchy


@pytest.fixture(scope="module")
def go():
    return go_hierarchy()


def tiny() -> Hierarchy:
    """p with children c1, c2 (column order p, c1, c2)."""
    return Hierarchy(["p", "c1", "c2"], [("p", "c1"), ("p", "c2")])


# ----------------------------------------------------------------------------------- MCM vs dense
@pytest.mark.parametrize("method", METHODS)
def test_matches_dense_on_random_hierarchies(method):
    gen = torch.Generator().manual_seed(0)
    kinds = {"tree": 0, "dag": 0}
    for hier in HIERARCHIES:
        kinds["tree" if hier.is_tree else "dag"] += 1
        mcm = MaxConstraint(hier)
        R = ancestor_mask(hier)
        C = len(hier)
        h = torch.rand(3, C, dtype=torch.float64, generator=gen).requires_grad_()
        w = torch.randn(3, C, dtype=torch.float64, generator=gen)
        got = mcm(h, method=method)
        want = max_constraint_dense(h, R)
        assert torch.equal(got, want), hier
        g_got = linear_functional_grad(lambda x: mcm(x, method=method), h, w)
        g_want = linear_functional_grad(lambda x: max_constraint_dense(x, R), h, w)
        torch.testing.assert_close(g_got, g_want, rtol=1e-12, atol=1e-12)
    assert kinds["tree"] >= 40 and kinds["dag"] >= 60


@pytest.mark.parametrize("method", METHODS)
def test_ties_split_gradient_like_dense_amax(method):
    """Quantised scores: many exact ties, on trees and DAGs (diamonds reach one argmax twice)."""
    gen = torch.Generator().manual_seed(1)
    for hier in HIERARCHIES[::3]:
        mcm = MaxConstraint(hier)
        R = ancestor_mask(hier)
        h = (torch.randint(0, 3, (4, len(hier)), generator=gen) / 2).double().requires_grad_()
        w = torch.randn(4, len(hier), dtype=torch.float64, generator=gen)
        assert torch.equal(mcm(h, method=method), max_constraint_dense(h, R))
        g_got = linear_functional_grad(lambda x: mcm(x, method=method), h, w)
        g_want = linear_functional_grad(lambda x: max_constraint_dense(x, R), h, w)
        torch.testing.assert_close(g_got, g_want, rtol=1e-12, atol=1e-12)


def test_diamond_and_chain_ties_by_hand():
    # r -> a -> c, r -> b -> c (diamond), c -> d
    hier = Hierarchy(["r", "a", "b", "c", "d"], [("r", "a"), ("r", "b"), ("a", "c"), ("b", "c"), ("c", "d")])
    mcm = MaxConstraint(hier)
    # unique argmax c reached by two paths: not a tie, all of r, a, b, c send their gradient to c
    h = torch.tensor([[0.1, 0.2, 0.3, 0.9, 0.5]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(mcm(h).sum(), h)
    assert g.tolist() == [[0.0, 0.0, 0.0, 4.0, 1.0]]
    # c and d tie at 0.9: each of r, a, b, c splits its gradient 1/2 : 1/2; d keeps its own
    h = torch.tensor([[0.1, 0.2, 0.3, 0.9, 0.9]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(mcm(h).sum(), h)
    assert g.tolist() == [[0.0, 0.0, 0.0, 2.0, 3.0]]


def test_fast_backward_unless_a_tie_carries_gradient(monkeypatch):
    hier = random_hierarchy(4, 3, 0.4, seed=3)
    mcm = MaxConstraint(hier)
    calls = []
    real = constraint._pairs_backward
    monkeypatch.setattr(constraint, "_pairs_backward", lambda *a: calls.append(1) or real(*a))
    h = torch.rand(5, len(hier), dtype=torch.float64, requires_grad=True)
    torch.autograd.grad(mcm(h).sum(), h)
    assert calls == []  # continuous scores: no ties, argmax path
    hz = torch.zeros_like(h, requires_grad=True)  # all tied ...
    (g,) = torch.autograd.grad((mcm(hz) * 0).sum(), hz)
    assert calls == [] and not g.any()  # ... but no gradient flows through the ties
    torch.autograd.grad(mcm(hz).sum(), hz)
    assert calls == [1]  # ties that carry gradient: exact pair formula


def test_go_hierarchy_matches_dense(go):
    C = len(go)
    assert C == 4126 and not go.is_tree
    mcm = MaxConstraint(go)
    R = ancestor_mask(go)
    gen = torch.Generator().manual_seed(2)
    h = torch.rand(4, C, dtype=torch.float64, generator=gen).requires_grad_()
    w = torch.randn(4, C, dtype=torch.float64, generator=gen)
    got = mcm(h)
    g_got = linear_functional_grad(mcm, h, w)
    for b in range(4):  # the dense reference one sample at a time (C x C = 136 MB each)
        hb = h[b : b + 1].detach().requires_grad_()
        want = max_constraint_dense(hb, R)
        assert torch.equal(got[b : b + 1], want)
        g_want = linear_functional_grad(lambda x: max_constraint_dense(x, R), hb, w[b : b + 1])
        torch.testing.assert_close(g_got[b : b + 1], g_want, rtol=1e-12, atol=1e-12)
    parent, child = go.edges
    assert (got[:, parent] >= got[:, child]).all()


@pytest.mark.parametrize("method", METHODS)
def test_no_parent_below_child_after_mcm(method):
    gen = torch.Generator().manual_seed(3)
    for hier in HIERARCHIES:
        out = max_constraint(torch.rand(6, len(hier), generator=gen), hier, method=method)
        parent, child = hier.edges
        assert (out[:, parent] >= out[:, child]).all()
        assert (out >= 0).all() and (out <= 1).all()


@pytest.mark.parametrize("method", METHODS)
def test_leading_dims(method):
    hier = random_hierarchy(3, 3, 0.3, seed=5)
    C = len(hier)
    mcm = MaxConstraint(hier)
    h = torch.rand(2, 3, C, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, C, dtype=torch.float64)
    out = mcm(h, method=method)
    assert out.shape == (2, 3, C) and out.is_contiguous()
    torch.testing.assert_close(out, max_constraint_dense(h, ancestor_mask(hier)), rtol=0, atol=0)
    flat = mcm(h.reshape(6, C), method=method).reshape(2, 3, C)
    assert torch.equal(out, flat)
    g = linear_functional_grad(lambda x: mcm(x, method=method), h, w)
    g_dense = linear_functional_grad(lambda x: max_constraint_dense(x, ancestor_mask(hier)), h, w)
    torch.testing.assert_close(g, g_dense, rtol=1e-12, atol=1e-12)
    one = torch.rand(C, dtype=torch.float64)  # a single score vector (C,)
    assert torch.equal(mcm(one), mcm(one[None])[0])


def test_input_not_modified_and_dtypes_kept():
    hier = random_hierarchy(3, 2, 0.3, seed=6)
    for dtype in (torch.float32, torch.float64):
        h = torch.rand(1, len(hier), dtype=dtype)  # (1, C): its node-major view needs no copy
        before = h.clone()
        out = max_constraint(h, hier)
        assert out.dtype == dtype and torch.equal(h, before)


@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_tiny(method):
    hier = Hierarchy(["r", "a", "b", "c", "d"], [("r", "a"), ("r", "b"), ("a", "c"), ("b", "c"), ("a", "d")])
    mcm = MaxConstraint(hier)
    # distinct values, at least 0.05 apart: finite differences never cross a tie
    h = (torch.randperm(15, generator=torch.Generator().manual_seed(7)).reshape(3, 5) / 20 + 0.1).double()
    assert torch.autograd.gradcheck(lambda x: mcm(x, method=method), (h.requires_grad_(),))
    y = torch.tensor([[1, 1, 0, 1, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: mc_loss(x, y, mcm, reduction="sum"), (h,))


def test_errors():
    hier = tiny()
    mcm = MaxConstraint(hier)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        mcm(torch.rand(2, 4))
    with pytest.raises(ValueError, match="method"):
        mcm(torch.rand(2, 3), method="dense")
    with pytest.raises(TypeError, match="Hierarchy or a MaxConstraint"):
        max_constraint(torch.rand(2, 3), [[0, 1]])
    with pytest.raises(ValueError, match="reduction"):
        mc_loss(torch.rand(2, 3), torch.ones(2, 3), mcm, reduction="avg")
    with pytest.raises(ValueError, match="eval_nodes"):
        mc_loss(torch.rand(2, 3), torch.ones(2, 3), mcm, eval_nodes=[0, 3])
    with pytest.raises(ValueError, match="weight"):
        mc_loss(torch.rand(2, 3), torch.ones(2, 3), mcm, weight=torch.ones(2))
    with pytest.raises(ValueError, match="broadcast"):
        mc_loss(torch.rand(2, 3), torch.ones(4, 3), mcm)
    with pytest.raises(ValueError, match="R must be"):
        max_constraint_dense(torch.rand(2, 3), torch.ones(3, 3))


def test_module_buffers_move_and_stay_out_of_state_dict():
    mcm = MaxConstraint(random_hierarchy(3, 2, 0.3, seed=8))
    names = {name for name, _ in mcm.named_buffers()}
    assert {"edge_parent", "edge_child", "level_nodes", "edge_slot", "pair_anc", "pair_desc"} <= names
    assert mcm.state_dict() == {}
    moved = mcm.to(torch.device("meta"))
    assert all(b.device.type == "meta" for b in moved.buffers())
    assert "levels=" in repr(MaxConstraint(tiny()))


def test_mcm_of_labels_is_label_propagation():
    for hier in HIERARCHIES[::7]:
        y = (np.random.default_rng(len(hier)).random((4, len(hier))) < 0.2).astype(np.int64)
        got = max_constraint(torch.from_numpy(y), hier)
        assert got.dtype == torch.int64 and np.array_equal(got.numpy(), hier.propagate(y))


def test_flat_and_edgeless_hierarchies():
    flat = Hierarchy([f"n{i}" for i in range(5)], [])
    h = torch.rand(4, 5)
    assert torch.equal(max_constraint(h, flat), h)


# ----------------------------------------------------------------------------------- MCLoss
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_flat_hierarchy_mcloss_is_bce(reduction):
    flat = Hierarchy([f"n{i}" for i in range(6)], [])
    gen = torch.Generator().manual_seed(9)
    h = torch.sigmoid(torch.randn(5, 6, generator=gen))
    y = (torch.rand(5, 6, generator=gen) < 0.4).float()
    got = mc_loss(h, y, MaxConstraint(flat), reduction=reduction)
    want = F.binary_cross_entropy(h.double(), y.double(), reduction=reduction)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-15, atol=0)
    got32 = mc_loss(h, y, flat, reduction=reduction, dtype=None)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32, F.binary_cross_entropy(h, y, reduction=reduction))


def test_weight_multiplies_per_node_terms_by_hand():
    hier = tiny()  # columns: p, c1, c2
    h = torch.tensor([[0.3, 0.6, 0.2], [0.2, 0.1, 0.4]])
    y = torch.tensor([[1, 0, 1], [0, 0, 0]])
    # sample 1: MCM(h) = [.6, .6, .2], MCM(y*h) = [.3, 0, .2]
    #           o = [.3 (p positive: only positive descendants count), .6 (c1 negative), .2 (c2 positive)]
    #           terms -log .3, -log(1 - .6), -log .2
    # sample 2: all negative, o = MCM(h) = [.4, .1, .4]: terms -log .6, -log .9, -log .6
    terms = torch.tensor(
        [[-math.log(0.3), -math.log(0.4), -math.log(0.2)], [-math.log(0.6), -math.log(0.9), -math.log(0.6)]],
        dtype=torch.float64,
    )
    weight = torch.tensor([1.0, 2.0, 3.0])
    none = mc_loss(h, y, hier, weight=weight, reduction="none")
    torch.testing.assert_close(none, terms * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    want_sum = (
        1 * -math.log(0.3) + 2 * -math.log(0.4) + 3 * -math.log(0.2)
        + 1 * -math.log(0.6) + 2 * -math.log(0.9) + 3 * -math.log(0.6)
    )
    torch.testing.assert_close(mc_loss(h, y, hier, weight=weight, reduction="sum").item(), want_sum)
    torch.testing.assert_close(mc_loss(h, y, hier, weight=weight).item(), want_sum / 6)
    # evaluated nodes c1, c2 (root excluded); weights given per node (C,) or per evaluated node
    want_eval = (2 * -math.log(0.4) + 3 * -math.log(0.2) + 2 * -math.log(0.9) + 3 * -math.log(0.6)) / 4
    torch.testing.assert_close(mc_loss(h, y, hier, eval_nodes=[1, 2], weight=weight).item(), want_eval)
    torch.testing.assert_close(
        mc_loss(h, y, hier, eval_nodes=[1, 2], weight=torch.tensor([2.0, 3.0])).item(), want_eval
    )
    mask = np.array([False, True, True])
    torch.testing.assert_close(mc_loss(h, y, hier, eval_nodes=mask, weight=weight).item(), want_eval)
    # per-sample weights (B, C), e.g. focal weights
    wb = torch.tensor([[0.0, 1.0, 0.5], [2.0, 0.0, 1.0]])
    want_b = (1.0 * -math.log(0.4) + 0.5 * -math.log(0.2) + 0.0 * -math.log(0.9) + 1.0 * -math.log(0.6)) / 4
    torch.testing.assert_close(mc_loss(h, y, hier, eval_nodes=[1, 2], weight=wb).item(), want_b)
    assert mc_loss(h, y, hier, eval_nodes=[1, 2], reduction="none").shape == (2, 2)


def test_members_dim_broadcasts_labels_and_weights():
    hier = random_hierarchy(3, 3, 0.3, seed=10)
    C = len(hier)
    gen = torch.Generator().manual_seed(10)
    h = torch.rand(3, 4, C, generator=gen)  # (H, B, C)
    y = torch.as_tensor(hier.propagate((np.random.default_rng(10).random((4, C)) < 0.2).astype(np.uint8)))
    w = torch.rand(3, 4, C, generator=gen)
    ev = np.arange(1, C)
    got = mc_loss(h, y, hier, eval_nodes=ev, weight=w, reduction="none")
    assert got.shape == (3, 4, C - 1)
    for m in range(3):
        torch.testing.assert_close(got[m], mc_loss(h[m], y, hier, eval_nodes=ev, weight=w[m], reduction="none"))
    torch.testing.assert_close(mc_loss(h, y, hier, eval_nodes=ev, weight=w), got.mean())


def test_mcloss_pairs_with_dense_formula():
    """The loss equals BCE of (1-y) MCM(h) + y MCM(y h), with MCM from the dense reference."""
    hier = random_hierarchy(4, 3, 0.4, seed=11)
    C = len(hier)
    R = ancestor_mask(hier)
    gen = torch.Generator().manual_seed(11)
    h = torch.rand(6, C, dtype=torch.float64, generator=gen).requires_grad_()
    y = torch.as_tensor(hier.propagate((np.random.default_rng(11).random((6, C)) < 0.2).astype(np.uint8))).double()
    ev = np.arange(1, C)
    got = mc_loss(h, y, hier, eval_nodes=ev)
    out = (1 - y) * max_constraint_dense(h, R) + y * max_constraint_dense(y * h, R)
    want = F.binary_cross_entropy(out[:, 1:], y[:, 1:])
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)
    (g_got,) = torch.autograd.grad(got, h)
    (g_want,) = torch.autograd.grad(want, h)
    torch.testing.assert_close(g_got, g_want, rtol=1e-12, atol=1e-15)


def test_extreme_outputs_are_finite():
    hier = tiny()
    h = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[0, 0, 0], [0, 0, 0]])
    loss = mc_loss(h, y, hier, reduction="none")
    assert torch.isfinite(loss).all() and loss.max() == 100.0  # log clamped at -100, as nn.BCELoss


def test_module_and_function_agree():
    hier = random_hierarchy(3, 3, 0.3, seed=12)
    C = len(hier)
    h = torch.rand(4, C)
    y = torch.as_tensor(hier.propagate((np.random.default_rng(12).random((4, C)) < 0.3).astype(np.uint8)))
    w = torch.rand(C)
    for reduction in ("none", "mean", "sum"):
        module = MCLoss(hier, eval_nodes=np.arange(1, C), reduction=reduction)
        fn = mc_loss(h, y, hier, eval_nodes=np.arange(1, C), weight=w, reduction=reduction)
        assert torch.equal(module(h, y, w), fn)
    shared = MaxConstraint(hier)
    assert MCLoss(shared).mcm is shared
    assert torch.equal(shared(h), max_constraint(h, hier))
    assert MCLoss(hier, dtype=None)(h, y).dtype == torch.float32


# ----------------------------------------------------------------------------------- loss and gradient by hand
def _autograd_loss_and_grad(h, y, mcm, ev, weight, scale):
    """The plain reference: mc_loss's terms and autograd's gradient of ``scale * terms.sum()``."""
    h = h.detach().clone().requires_grad_(True)
    terms = mc_loss(h, y, mcm, ev, weight=weight, reduction="none", validate=False)
    terms.backward(torch.full_like(terms, scale))
    return terms.detach(), h.grad


@pytest.mark.parametrize("form", ["pairs", "levels"])
def test_loss_and_grad_by_hand_equal_autograd_bitwise(form, monkeypatch):
    """mc_loss_and_grad == autograd of mc_loss bit for bit: both MCM forms, DAGs, ties, weights, members."""
    monkeypatch.setattr(constraint, "PAIRS_MAX_ELEMENTS", 1 << 60 if form == "pairs" else 0)
    rng = np.random.default_rng(0)
    for k, hier in enumerate(HIERARCHIES[::4] + [random_dag(40, 3, 2, seed=5)]):
        C = len(hier)
        mcm = MaxConstraint(hier)
        gen = torch.Generator().manual_seed(k)
        h = torch.rand(2, 3, 4, C, generator=gen)  # (S, H, b, C) float32, as the trainers pass it
        h[..., : C // 3] = h[..., :1]  # exact ties (same score), some carrying gradient
        h[0, 0, 0] = 1.0  # saturated outputs tie everywhere
        y = torch.as_tensor(hier.propagate((rng.random((8, C)) < 0.3).astype(np.uint8))).view(2, 1, 4, C)  # (S, 1, b, C)
        ev = torch.arange(min(1, C - 1), C)
        for weight in (None, torch.rand(2, 1, 4, C, generator=gen, dtype=torch.float64), torch.rand(C)):
            for y_in in (y, y.expand(h.shape)):
                ref = _autograd_loss_and_grad(h, y_in, mcm, ev, weight, 0.25)
                got = mc_loss_and_grad(h, y_in, mcm, ev, weight, grad_scale=0.25)
                assert got[1].dtype == h.dtype and got[1].shape == h.shape
                assert torch.equal(got[0], ref[0])
                assert torch.equal(got[1], ref[1]), (k, form)
        ref = _autograd_loss_and_grad(h[0, 0], y[0, 0], mcm, None, None, 1.0)  # (b, C), every node evaluated
        got = mc_loss_and_grad(h[0, 0], y[0, 0], mcm, None)
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])


@pytest.mark.parametrize("weighted", [False, True])
def test_a_gradient_scale_per_run_equals_autograd_with_that_scale(weighted):
    """grad_scale as an (S, 1, 1, 1) tensor (the stacked-methods path): autograd of sum_s scale_s terms_s."""
    hier = HIERARCHIES[4]
    C = len(hier)
    mcm = MaxConstraint(hier)
    gen = torch.Generator().manual_seed(3)
    h = torch.rand(3, 2, 4, C, generator=gen)
    y = torch.as_tensor(hier.propagate((np.random.default_rng(3).random((12, C)) < 0.3).astype(np.uint8))).view(3, 1, 4, C)
    weight = torch.rand(3, 1, 4, C, generator=gen, dtype=torch.float64) if weighted else None
    scale = torch.tensor([1.0, 0.125, 1 / 3], dtype=torch.float64).view(3, 1, 1, 1)
    x = h.detach().clone().requires_grad_(True)
    terms = mc_loss(x, y, mcm, None, weight=weight, reduction="none", validate=False)
    terms.backward(scale.expand(terms.shape))
    got = mc_loss_and_grad(h, y, mcm, None, weight, grad_scale=scale)
    assert torch.equal(got[0], terms.detach()) and torch.equal(got[1], x.grad)
    for s in range(3):  # and run s's gradient is the one of its own call with its float scale
        alone = mc_loss_and_grad(h[s : s + 1], y[s : s + 1], mcm, None, None if weight is None else weight[s : s + 1],
                                 grad_scale=float(scale[s]))
        assert torch.equal(alone[1], got[1][s : s + 1])


def test_loss_and_grad_by_hand_on_go_picks_the_level_form(go):
    """GO (43,000 pairs): the level form is used, and it equals autograd bit for bit."""
    C = len(go)
    mcm = MaxConstraint(go)
    gen = torch.Generator().manual_seed(1)
    h = torch.rand(1, 4, C, generator=gen)
    y = torch.as_tensor(go.propagate((np.random.default_rng(1).random((4, C)) < 0.01).astype(np.uint8))).view(1, 4, C)
    assert len(mcm.closure_anc) * 2 * 4 > constraint.PAIRS_MAX_ELEMENTS
    ev = torch.arange(1, C)
    ref = _autograd_loss_and_grad(h, y, mcm, ev, None, 1e-3)
    got = mc_loss_and_grad(h, y, mcm, ev, grad_scale=1e-3)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])


def test_loss_and_grad_by_hand_refuses_a_broadcast_h():
    hier = tiny()
    with pytest.raises(ValueError, match="broadcast"):
        mc_loss_and_grad(torch.rand(1, 3), torch.ones(2, 3), MaxConstraint(hier), None)
