"""Rare-node training core: C-HMCNN equality, seed independence, gradients, MC-dropout, LPROS, metrics, sweeps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score

from hmc import rare_nodes as R
from hmc import train as T
from hmc.constraint import MaxConstraint, mc_loss
from hmc.losses import focal_mc_loss, imbalance_weights, mixed_loss, term_weights
from hmc.models import derive_seed
from hmc.rare_nodes import RareNodeConfig, SchedulePosition, rare_config, train_rare_nodes
from hmc.resampling import lpros
from hmc.synthetic import make_benchmark
from hmc.runs.sweep import RESULT_COLUMNS, read_results, run_sweep
from hmc.train import train_chmcnn

FAST = {"epochs": 2, "lr": 1e-3, "hidden_dim": 16, "progress": False, "num_threads": 1}
FOCAL = RareNodeConfig(loss="focal", measure="gmu", n_members=3)
MC = dataclasses.replace(FOCAL, members="mc_dropout")


def _bench(seed=0, name="synthetic"):
    b = make_benchmark(n_samples=300, depth=3, branching=3, n_features=10, split=(0.4, 0.1, 0.5), epochs=2,
                       hidden_dim=16, seed=seed)
    return dataclasses.replace(b, name=name)


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def focal_run(bench):
    return train_rare_nodes(bench, [0, 1, 2], FOCAL, **FAST)


def _first_batch(run):
    return run.batch(run.permutations()[:, :4])


# ------------------------------------------------------------------------------------- C-HMCNN
def test_plain_single_member_mean_is_train_chmcnn_bit_for_bit(bench):
    kw = FAST
    ref = train_chmcnn(bench, [0, 1], **kw)
    for config in (RareNodeConfig(loss="plain", n_members=1, reduction="mean"), "baseline-mean"):
        res = train_rare_nodes(bench, [0, 1], config, **kw)
        np.testing.assert_array_equal(res.predictions, ref.predictions)
        np.testing.assert_allclose(res.au_prc, ref.au_prc, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.epoch_loss, ref.epoch_loss, rtol=1e-12)
        assert res.n_steps == ref.n_steps == 2 * 38
    # member 0 of every seed of a plain ensemble is C-HMCNN's seed too: its training is unchanged by the others
    assert R.member_seed(7, 0) == 7 and len({R.member_seed(7, h) for h in range(5)}) == 5


def test_a_seed_trained_with_others_equals_it_trained_alone(bench, focal_run):
    for config, batched in ((FOCAL, focal_run), (MC, train_rare_nodes(bench, [0, 1, 2], MC, **FAST))):
        alone = train_rare_nodes(bench, [1], config, **FAST)
        np.testing.assert_array_equal(alone.predictions[0], batched.predictions[1])
        np.testing.assert_array_equal(alone.epoch_loss[0], batched.epoch_loss[1])
        assert alone.metrics["macro_f1"][0] == batched.metrics["macro_f1"][1]
        assert not np.array_equal(batched.predictions[0], batched.predictions[1])
        assert batched.predictions.shape == (3, len(bench.x_test), len(bench.hierarchy))


@pytest.mark.parametrize("measure", sorted(R.MEASURE_SHORT))
def test_focal_factor_of_a_seed_does_not_depend_on_the_other_seeds(measure):
    # at cellcycle_FUN's width a measure over all seeds at once rounds some elements differently (measured)
    p = torch.rand((4, 5, 4, 499), generator=torch.Generator().manual_seed(0))
    config = RareNodeConfig(loss="focal", measure=measure, n_members=5)
    batched = R._focal_factor(p, config)
    torch.testing.assert_close(R._focal_factor(p, config, per_seed=False), batched)  # the GPU form
    for s in range(4):
        assert torch.equal(batched[s], R._focal_factor(p[s : s + 1], config)[0])
        u = R.UNCERTAINTY_MEASURES[measure](p[s].double())
        torch.testing.assert_close(batched[s].double(), 0.25 + u**2, rtol=1e-5, atol=1e-6)


def test_deep_ensemble_results_do_not_depend_on_the_thread_count(bench):
    one = train_rare_nodes(bench, [0, 1], FOCAL, **{**FAST, "epochs": 1})
    two = train_rare_nodes(bench, [0, 1], FOCAL, **{**FAST, "epochs": 1, "num_threads": 2})
    np.testing.assert_array_equal(one.predictions, two.predictions)
    np.testing.assert_array_equal(one.epoch_loss, two.epoch_loss)


# ------------------------------------------------------------------------------------- loss and gradients
def _settings(bench, dropout=0.7):
    return T.chmcnn_settings(bench, epochs=1, lr=1e-3, hidden_dim=16, dropout=dropout)


@pytest.mark.parametrize("config", [FOCAL, MC, RareNodeConfig(loss="imbalance", n_members=2, reduction="mean"),
                                    RareNodeConfig(loss="imbalance", n_members=1, schedule="lin")])
def test_step_gradient_equals_autograd_of_the_terms_bitwise(bench, config):
    """_Run.loss_and_grad (loss and gradient by hand) == autograd through rare_node_terms, bit for bit."""
    run = R._Run(bench, [0, 1], config, _settings(bench), torch.device("cpu"), "fused")
    xb, yb = _first_batch(run)
    position = SchedulePosition(3, 10, 3, 20)
    z, cache, probs = run.forward(xb)  # draws the dropout masks: replay them from a fresh state below
    state = [g.get_state() for g in run.model.dropout_generators()]
    got = run.loss_and_grad(xb, yb, position)
    grads = [p.grad.clone() for p in run.model.parameters()]
    for g, saved in zip(run.model.dropout_generators(), state, strict=True):
        g.set_state(saved)
    z, cache, probs = run.forward(xb)
    probs.requires_grad_(True)
    p = probs.view(2, config.n_members, yb.shape[1], -1)
    terms = R.rare_node_terms(p, yb, run.mcm, run.eval_idx, config, run.node_weights, position, validate=False)
    ref = terms.mean((1, 2, 3)) if config.reduction == "mean" else terms.sum((1, 2, 3))
    ref.sum().backward()
    assert torch.equal(got, ref.detach())
    grad_z = z.new_zeros(z.shape)
    grad_z[..., : run.n_nodes] = torch.ops.aten.sigmoid_backward(probs.grad, probs.detach())
    run.model.backward_cached(grad_z, cache)
    for a, b in zip(grads, run.model.parameters(), strict=True):
        assert torch.equal(a, b.grad)


def test_focal_exponent0_floor0_first_gradient_is_the_summed_plain_mcloss_gradient(bench):
    config = RareNodeConfig(loss="focal", measure="bbma", exponent=0, focal_floor=0, weighted=False, n_members=3)
    run = R._Run(bench, [0, 1], config, _settings(bench, dropout=0.0), torch.device("cpu"), "fused")
    xb, yb = _first_batch(run)
    run.loss_and_grad(xb, yb, SchedulePosition())
    model = run.model
    # independent reference: each member as nn.Linear layers, autograd, plain MCLoss (sum), summed over members
    mcm = MaxConstraint(bench.hierarchy)
    for m in range(6):
        net = model.member_linears(m)
        loss = mc_loss(net(xb[m // 3]), yb[m // 3], mcm, bench.eval_nodes, reduction="sum")
        loss.backward()
        linears = [mod for mod in net if isinstance(mod, torch.nn.Linear)]
        for layer, lin in enumerate(linears):
            fi, fo = model.layer_dims[layer]
            np.testing.assert_allclose(model.weights[layer].grad[m, :fi, :fo].numpy(), lin.weight.grad.T.numpy(),
                                       rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(model.biases[layer].grad[m, 0, :fo].numpy(), lin.bias.grad.numpy(),
                                       rtol=1e-4, atol=1e-6)
    # and the plain ensemble loss gives the very same bits (the focal factor is exactly 1)
    plain = R._Run(bench, [0, 1], dataclasses.replace(config, loss="plain"), _settings(bench, 0.0),
                   torch.device("cpu"), "fused")
    plain.loss_and_grad(*_first_batch(plain), SchedulePosition())
    for a, b in zip(plain.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)


def _random_step(bench, s=2, h=3, b=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    c = len(bench.hierarchy)
    p = torch.rand((s, h, b, c), generator=gen, dtype=torch.float32)
    rows = torch.randint(0, len(bench.y_train), (s, b), generator=gen)
    y = torch.as_tensor(bench.y_train)[rows]
    w = imbalance_weights(bench.y_train, bench.hierarchy)
    return p, y, torch.as_tensor(w), MaxConstraint(bench.hierarchy), torch.as_tensor(bench.eval_nodes)


@pytest.mark.parametrize("measure", ["gmu", "epistemic_js", "bbma"])
def test_focal_terms_per_seed_equal_focal_mc_loss(bench, measure):
    p, y, w, mcm, ev = _random_step(bench)
    for target in ("negatives", "positives"):
        config = RareNodeConfig(loss="focal", measure=measure, n_members=3, weight_target=target)
        p1 = p.clone().requires_grad_(True)
        R.rare_node_terms(p1, y, mcm, ev, config, w).sum().backward()
        for s in range(2):
            p2 = p[s].clone().requires_grad_(True)
            ref = focal_mc_loss(p2, y[s], mcm, ev, measure, 2, 0.25, term_weights(w, y[s], target), "sum")
            ref.backward()
            ours = R.rare_node_terms(p, y, mcm, ev, config, w)[s].sum()
            np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-12)
            np.testing.assert_allclose(p1.grad[s].numpy(), p2.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_schedules_mixed_and_imbalance_terms_against_hand_values(bench):
    p, y, w, mcm, ev = _random_step(bench, h=1)
    bce = mc_loss(p, y.unsqueeze(1), mcm, ev, reduction="none")  # (S, 1, b, C_eval)
    w0 = term_weights(w, y, "negatives").unsqueeze(1)[..., ev]  # (S, 1, b, C_eval)

    imbalance = R.rare_node_terms(p, y, mcm, ev, RareNodeConfig(loss="imbalance", n_members=1), w)
    torch.testing.assert_close(imbalance, w0 * bce, rtol=1e-12, atol=0)
    first, last = SchedulePosition(0, 10, 0, 50), SchedulePosition(9, 10, 49, 50)
    for kind in ("lin", "exp", "alt"):
        cfg = RareNodeConfig(loss="imbalance", n_members=1, schedule=kind)
        torch.testing.assert_close(R.rare_node_terms(p, y, mcm, ev, cfg, w, first), w0 * bce, rtol=1e-12, atol=0)
        torch.testing.assert_close(R.rare_node_terms(p, y, mcm, ev, cfg, w, last), 0.25 * bce, rtol=1e-12, atol=0)
        gcfg = dataclasses.replace(cfg, schedule=f"global-{kind}")
        torch.testing.assert_close(R.rare_node_terms(p, y, mcm, ev, gcfg, w, last), bce, rtol=1e-12, atol=0)
        # global: mid-epoch position does not matter, only the global step
        torch.testing.assert_close(R.rare_node_terms(p, y, mcm, ev, gcfg, w, SchedulePosition(9, 10, 0, 50)),
                                   w0 * bce, rtol=1e-12, atol=0)
    mid = R.rare_node_terms(p, y, mcm, ev, RareNodeConfig(loss="imbalance", n_members=1, schedule="lin"), w,
                            SchedulePosition(3, 7, 0, 1))
    torch.testing.assert_close(mid, (w0 + (0.25 - w0) * 0.5) * bce, rtol=1e-12, atol=0)
    for lam in (0.25, 0.75):
        cfg = RareNodeConfig(loss="imbalance", n_members=1, mixed_lambda=lam, reduction="mean")
        ours = R.rare_node_terms(p, y, mcm, ev, cfg, w)
        for s in range(2):
            ref = mixed_loss(bce[s, 0], w0[s, 0], lam)
            np.testing.assert_allclose(ours[s].mean().item(), ref.item(), rtol=1e-12)
    plain = R.rare_node_terms(p, y, mcm, ev, RareNodeConfig(loss="plain", n_members=1))
    torch.testing.assert_close(plain, bce, rtol=0, atol=0)


# ------------------------------------------------------------------------------------- MC-dropout
def test_mc_dropout_passes_draw_different_masks(bench):
    run = R._Run(bench, [0, 1], MC, _settings(bench, dropout=0.5), torch.device("cpu"), "fused")
    xb, _ = _first_batch(run)
    b = xb.shape[1]
    _, cache, probs = run.forward(xb)
    p = probs.view(2, 3, b, -1)
    for mask in cache["masks"]:  # (S, H*b, hidden) per hidden layer
        assert mask.shape[:2] == (2, 3 * b)
        blocks = mask.view(2, 3, b, -1)
        for s in range(2):
            for i in range(3):
                for j in range(i + 1, 3):
                    assert not torch.equal(blocks[s, i], blocks[s, j])
                    assert not torch.equal(p[s, i], p[s, j])
    run.model.eval()  # without dropout the H passes see the same rows and agree exactly
    _, _, probs = run.forward(xb)
    p = probs.view(2, 3, b, -1)
    assert torch.equal(p[:, 0], p[:, 1]) and torch.equal(p[:, 0], p[:, 2])


def test_mc_dropout_prediction_averages_stochastic_passes(bench):
    run = R._Run(bench, [0], MC, _settings(bench, dropout=0.5), torch.device("cpu"), "fused")
    x = bench.x_test[:50]
    one = R.predict_rare_nodes(run.model, x, bench.hierarchy, 1, 1, mc_dropout=True)
    three = R.predict_rare_nodes(run.model, x, bench.hierarchy, 1, 3, mc_dropout=True)
    again = R.predict_rare_nodes(run.model, x, bench.hierarchy, 1, 3, mc_dropout=True)
    det = T.predict_chmcnn(run.model, x, bench.hierarchy)
    np.testing.assert_array_equal(three, again)  # seeded
    assert not np.array_equal(one, three) and not np.array_equal(three, det)
    assert not run.model.mc_dropout and run.model.training  # restored


# ------------------------------------------------------------------------------------- LPROS
def test_lpros_changes_the_training_rows(bench):
    base = RareNodeConfig(loss="plain", n_members=1)
    plain = train_rare_nodes(bench, [0, 1], base, **FAST)
    zero = train_rare_nodes(bench, [0, 1], dataclasses.replace(base, lpros=True, lpros_budget=0.0), **FAST)
    np.testing.assert_array_equal(zero.predictions, plain.predictions)  # no clones: the same rows, same bits
    res = train_rare_nodes(bench, [0, 1], "lpros", **FAST)
    x_fit = np.concatenate([bench.x_train, bench.x_valid])
    y_fit = np.concatenate([bench.y_train, bench.y_valid])
    n_clones = lpros(x_fit, y_fit, bench.hierarchy, budget=0.1, seed=0).n_clones
    assert n_clones > 0
    assert res.extra["lpros_clones"] == [n_clones, n_clones]
    assert res.extra["n_fit_rows"] == len(x_fit) + n_clones
    assert res.n_steps == 2 * -(-(len(x_fit) + n_clones) // 4)
    assert not np.array_equal(res.predictions, plain.predictions)
    alone = train_rare_nodes(bench, [1], "lpros", **FAST)  # each seed its own LPROS draw
    np.testing.assert_array_equal(alone.predictions[0], res.predictions[1])
    # the node weights still come from the original rows
    run = R._Run(bench, [0], rare_config("lpros+imbalance-neg"), _settings(bench), torch.device("cpu"), "fused")
    assert run.y.shape[0] == len(y_fit) + n_clones
    np.testing.assert_array_equal(run.node_weights.numpy(), imbalance_weights(y_fit, bench.hierarchy))
    clone_rows = run.y[len(y_fit):].numpy()
    src = lpros(x_fit, y_fit, bench.hierarchy, budget=0.1, seed=derive_seed(0, R.LPROS_STREAM))
    np.testing.assert_array_equal(clone_rows, src.y[len(y_fit):])


# ------------------------------------------------------------------------------------- metrics
def test_extra_metrics_equal_the_metrics_of_the_returned_predictions(bench, focal_run):
    ev = bench.eval_nodes
    y = bench.y_test[:, ev]
    counts = np.concatenate([bench.y_train, bench.y_valid]).sum(0)[ev]
    depth = bench.hierarchy.depth[ev]
    for s in range(3):
        pred = focal_run.predictions[s][:, ev] > 0.5
        m = {k: v[s] for k, v in focal_run.metrics.items()}
        assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)
        assert m["macro_precision"] == pytest.approx(precision_score(y, pred, average="macro", zero_division=0))
        assert m["macro_recall"] == pytest.approx(recall_score(y, pred, average="macro", zero_division=0))
        pos = y.sum(0) > 0
        assert m["macro_f1_pos"] == pytest.approx(f1_score(y[:, pos], pred[:, pos], average="macro", zero_division=0))
        tp = (y.astype(bool) & pred).sum(0)
        recall = np.where(y.sum(0) > 0, tp / np.maximum(y.sum(0), 1), 0.0)
        f1 = np.where(y.sum(0) + pred.sum(0) > 0, 2 * tp / np.maximum(y.sum(0) + pred.sum(0), 1), 0.0)
        buckets = {"0": (0, 0), "1-5": (1, 5), "6-20": (6, 20), "21-100": (21, 100), ">100": (101, 10**9)}
        seen = 0
        for label, (lo, hi) in buckets.items():
            sel = (counts >= lo) & (counts <= hi)
            assert (f"recall@freq={label}" in m) == bool(sel.any())
            if sel.any():
                seen += 1
                assert m[f"recall@freq={label}"] == pytest.approx(recall[sel].mean(), abs=1e-12)
                assert m[f"f1@freq={label}"] == pytest.approx(f1[sel].mean(), abs=1e-12)
        assert seen >= 3
        for d in np.unique(depth):
            assert m[f"recall@depth={d}"] == pytest.approx(recall[depth == d].mean(), abs=1e-12)
            assert m[f"f1@depth={d}"] == pytest.approx(f1[depth == d].mean(), abs=1e-12)
        assert "recall@depth=0" not in m  # the root is not evaluated


# ------------------------------------------------------------------------------------- sweeps
def _loader(name):
    return _bench(seed=0, name=name)


def test_run_sweep_writes_the_rare_metrics_and_resumes(tmp_path, focal_run):
    units = [("syn", "focal-gmu-H3", s) for s in (0, 1)]
    kw = {k: v for k, v in FAST.items() if k != "progress"}
    full = run_sweep(units, tmp_path / "full.csv", load=_loader, progress=False, **kw)
    metrics = set(full.metric)
    assert {"au_prc", "train_loss", "macro_f1", "macro_f1_pos", "recall@freq=1-5", "f1@depth=3"} <= metrics
    seed0 = full[full.seed == 0].set_index("metric").value
    assert seed0["macro_f1"] == pytest.approx(focal_run.metrics["macro_f1"][0], abs=1e-12)
    assert seed0["au_prc"] == pytest.approx(focal_run.au_prc[0], abs=1e-12)
    assert len(full) == 2 * (2 + len(focal_run.metrics))

    path = tmp_path / "part.csv"
    calls = {"n": 0}

    def interrupt(step):
        calls["n"] += 1
        if calls["n"] > 100:  # a batch (one seed) is 76 steps: dies inside the second
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(units, path, load=_loader, seeds_per_batch=1, progress=False, step_callback=interrupt, **kw)
    assert set(read_results(path).seed) == {0}
    done = []
    rows = run_sweep(units, path, load=_loader, seeds_per_batch=1, progress=False,
                     on_batch_done=lambda r: done.append(sorted(set(r.seed))), **kw)
    assert done == [[1]]
    cols = [c for c in RESULT_COLUMNS if c != "wall_time_s"]
    pd.testing.assert_frame_equal(rows[cols].reset_index(drop=True), full[cols].reset_index(drop=True))


def test_method_names_resolve_and_round_trip(tmp_path):
    assert T.resolve_method("focal-gmu-H5") is T.METHODS["focal-gmu-H5"]
    fn = T.resolve_method("focal-gmu-H7")  # any H, not only the registered ones
    assert fn.keywords["config"] == RareNodeConfig(loss="focal", measure="gmu", n_members=7)
    assert T.resolve_method("nope") is None
    with pytest.raises(ValueError, match="spelled 'focal-gmu-H5'"):
        T.resolve_method("focal-gmu-H5-neg")
    with pytest.raises(ValueError, match="unknown method"):
        run_sweep([("syn", "nope", 0)], tmp_path / "unused.csv", load=_loader)
    for name in R.RARE_METHODS:
        assert R.method_name(rare_config(name)) == name
    expected = {
        "baseline-H5": RareNodeConfig(loss="plain", n_members=5),
        "imbalance-pos-H5": RareNodeConfig(loss="imbalance", weight_target="positives", n_members=5),
        "focal-js-unw-k1-H10-mean": RareNodeConfig(weighted=False, exponent=1, n_members=10, reduction="mean"),
        "focal-kl-binary-pos-H5": RareNodeConfig(measure="epistemic_kl", weight_kind="binary",
                                                 weight_target="positives", n_members=5),
        "mcdropout-bbma-H2": RareNodeConfig(measure="bbma", members="mc_dropout"),
        "sched-global-exp-pos": RareNodeConfig(loss="imbalance", schedule="global-exp", weight_target="positives",
                                               n_members=1),
        "mixed-0.25": RareNodeConfig(loss="imbalance", mixed_lambda=0.25, n_members=1),
        "lpros": RareNodeConfig(loss="plain", n_members=1, lpros=True),
        "lpros+focal-gmu-H5": RareNodeConfig(measure="gmu", n_members=5, lpros=True),
    }
    for name, config in expected.items():
        assert rare_config(name) == config
        assert R.method_name(config) == name
    for bad in ("focal", "focal-xx-H2", "imbalance-H2", "mixed-abc", "baseline-H2-zz", "sched-lin-unw"):
        with pytest.raises(ValueError):
            rare_config(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "weird"}, "loss must be"),
        ({"measure": "entropy"}, "measure must be"),
        ({"loss": "focal", "schedule": "lin"}, "needs loss='imbalance'"),
        ({"loss": "plain", "mixed_lambda": 0.5}, "needs loss='imbalance'"),
        ({"loss": "imbalance", "schedule": "lin", "mixed_lambda": 0.5}, "not both"),
        ({"loss": "imbalance", "schedule": "cosine"}, "schedule must be"),
        ({"loss": "imbalance", "mixed_lambda": 1.5}, "mixed_lambda must be"),
        ({"loss": "focal", "measure": "gmu", "n_members": 1}, "needs n_members >= 2"),
        ({"n_members": 0}, "n_members must be"),
        ({"exponent": -1}, "exponent must be"),
        ({"members": "bagging"}, "members must be"),
        ({"reduction": "none"}, "reduction must be"),
        ({"lpros_budget": 2.0}, "lpros_budget"),
        ({"loss": "imbalance", "weighted": False}, "use loss='plain'"),
    ],
)
def test_bad_configs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RareNodeConfig(**kwargs)


def test_bad_calls_raise(bench):
    with pytest.raises(ValueError, match="distinct"):
        train_rare_nodes(bench, [1, 1], FOCAL, **FAST)
    with pytest.raises(ValueError, match="dropout > 0"):
        train_rare_nodes(bench, [0], MC, **{**FAST, "dropout": 0.0})
    with pytest.raises(TypeError):
        train_rare_nodes(bench, [0], {"loss": "plain"}, **FAST)
