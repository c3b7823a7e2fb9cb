"""HCAL losses: loop references for the prototype losses, hand-computed balancer weights, perturbation noise."""

import math

import pytest
import torch
import torch.nn.functional as F

from hmc.losses import (
    BALANCERS,
    ConvergenceRateBalancer,
    DWABalancer,
    EqualBalancer,
    SoftmaxLossBalancer,
    UncertaintyBalancer,
    aggregated_prototype_ce,
    hcal_level_losses,
    make_balancer,
    perturb_prototypes,
    prototype_ce,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")
DT = torch.float64


def _unit_rows(x):
    """Rows of x divided by their Euclidean norm, by an explicit loop."""
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] / math.sqrt(sum(float(v) ** 2 for v in x[i]))
    return out


def _batch(seed=0, b=12, d=5, c=4):
    g = torch.Generator().manual_seed(seed)
    f_raw = torch.randn(b, d, generator=g, dtype=DT)
    bank_raw = torch.randn(c, d, generator=g, dtype=DT)
    y = torch.randint(0, c, (b,), generator=g)
    return f_raw, bank_raw, y


def _cosine_logits_loop(f_raw, bank_raw, tau):
    """logits[i, j] = cos(f_i, p_j) / tau, one dot product at a time."""
    b, c = f_raw.shape[0], bank_raw.shape[0]
    logits = torch.empty(b, c, dtype=DT)
    for i in range(b):
        for j in range(c):
            dot = sum(float(f_raw[i, k]) * float(bank_raw[j, k]) for k in range(f_raw.shape[1]))
            nf = math.sqrt(sum(float(v) ** 2 for v in f_raw[i]))
            npj = math.sqrt(sum(float(v) ** 2 for v in bank_raw[j]))
            logits[i, j] = dot / (nf * npj) / tau
    return logits


def _ce_loop(features, bank, target, tau):
    """-log softmax(features . bank / tau)[target] for one feature vector, in plain Python."""
    logits = [sum(float(a) * float(p) for a, p in zip(features, bank[j])) / tau for j in range(bank.shape[0])]
    top = max(logits)
    return top + math.log(sum(math.exp(v - top) for v in logits)) - logits[target]


def _proto_loop(f, bank, y, tau):
    return sum(_ce_loop(f[i], bank, int(y[i]), tau) for i in range(f.shape[0])) / f.shape[0]


def _aggregated_loop(f, bank, y, tau):
    """Mean over the classes present of CE(mean of their features, class), a loop over classes."""
    losses = []
    for c in sorted(set(y.tolist())):
        rows = [i for i in range(f.shape[0]) if int(y[i]) == c]
        mean = [sum(float(f[i, k]) for i in rows) / len(rows) for k in range(f.shape[1])]
        losses.append(_ce_loop(mean, bank, c, tau))
    return sum(losses) / len(losses)


# ------------------------------------------------------------------------------- prototype losses
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_prototype_ce_is_cross_entropy_of_cosine_logits(tau):
    f_raw, bank_raw, y = _batch()
    got = prototype_ce(_unit_rows(f_raw), _unit_rows(bank_raw), y, tau)
    expected = F.cross_entropy(_cosine_logits_loop(f_raw, bank_raw, tau), y)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert got.item() == pytest.approx(_proto_loop(_unit_rows(f_raw), _unit_rows(bank_raw), y, tau), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_aggregated_prototype_ce_equals_per_class_loop(seed):
    f_raw, bank_raw, _ = _batch(seed, b=12, c=6)
    y = torch.randint(0, 4, (12,), generator=torch.Generator().manual_seed(seed))  # classes 4, 5 absent
    f, bank = _unit_rows(f_raw), _unit_rows(bank_raw)
    assert len(set(y.tolist())) < 12  # some classes several times
    got = aggregated_prototype_ce(f, bank, y, 0.1)
    assert got.item() == pytest.approx(_aggregated_loop(f, bank, y, 0.1), rel=1e-12)


def test_aggregated_means_are_not_renormalised():
    f = _unit_rows(torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=DT))
    bank = _unit_rows(torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=DT))
    y = torch.tensor([0, 0])
    # F_0 = (0.5, 0.5): logits (F_0 . p_0, F_0 . p_1) / tau = (sqrt(2)/2, 0) / 0.1
    z = math.sqrt(2) / 2 / 0.1
    expected = math.log(math.exp(z) + 1.0) - z
    assert aggregated_prototype_ce(f, bank, y, 0.1).item() == pytest.approx(expected, rel=1e-12)


def test_aggregated_with_distinct_labels_is_prototype_ce():
    f_raw, bank_raw, _ = _batch(3, b=5, c=7)
    y = torch.tensor([4, 0, 6, 2, 3])
    f, bank = _unit_rows(f_raw), _unit_rows(bank_raw)
    torch.testing.assert_close(aggregated_prototype_ce(f, bank, y), prototype_ce(f, bank, y), rtol=1e-12, atol=0)


def test_prototype_losses_gradcheck():
    f_raw, bank_raw, y = _batch(4, b=6, d=3, c=3)
    f = _unit_rows(f_raw).requires_grad_(True)
    bank = _unit_rows(bank_raw).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, p: aggregated_prototype_ce(a, p, y, 0.2), (f, bank))
    assert torch.autograd.gradcheck(lambda a, p: prototype_ce(a, p, y, 0.2), (f, bank))


@pytest.mark.parametrize("aggregate", [True, False])
def test_hcal_level_losses_per_level(aggregate):
    g = torch.Generator().manual_seed(5)
    f = _unit_rows(torch.randn(10, 4, generator=g, dtype=DT))
    banks = [_unit_rows(torch.randn(c, 4, generator=g, dtype=DT)) for c in (6, 3, 2)]
    y = torch.stack([torch.randint(0, c, (10,), generator=g) for c in (6, 3, 2)], dim=1)
    got = hcal_level_losses(f, banks, y, tau=0.1, aggregate=aggregate)
    upper = _aggregated_loop if aggregate else _proto_loop
    expected = [_proto_loop(f, banks[0], y[:, 0], 0.1)] + [upper(f, banks[k], y[:, k], 0.1) for k in (1, 2)]
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)


def test_prototype_loss_errors():
    f, bank, y = _batch()
    with pytest.raises(ValueError, match="same d"):
        prototype_ce(f, bank[:, :3], y)
    with pytest.raises(ValueError, match="y must have shape"):
        aggregated_prototype_ce(f, bank, y[:5])
    with pytest.raises(ValueError, match="2-d"):
        prototype_ce(f[0], bank, y)
    with pytest.raises(ValueError, match="tau"):
        prototype_ce(f, bank, y, tau=0.0)
    with pytest.raises(ValueError, match="integer"):
        aggregated_prototype_ce(f, bank, y.to(DT))
    with pytest.raises(ValueError, match="empty"):
        aggregated_prototype_ce(f[:0], bank, y[:0])
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        hcal_level_losses(f, [bank, bank], y[:, None])


# ------------------------------------------------------------------------------- perturbation
@pytest.mark.parametrize("noise", ["uniform", "gaussian"])
@pytest.mark.parametrize("eps", [0.01, 0.5])
def test_perturbed_prototypes_are_unit_norm(noise, eps):
    P = torch.randn(20, 8, generator=torch.Generator().manual_seed(0))
    out = perturb_prototypes(P, eps, noise, generator=torch.Generator().manual_seed(1))
    assert out.shape == P.shape
    torch.testing.assert_close(out.norm(dim=1), torch.ones(20), rtol=0, atol=1e-6)


def test_uniform_noise_recovered_from_the_generator_is_within_eps():
    eps = 0.05
    P = 3.0 * torch.randn(30, 8, generator=torch.Generator().manual_seed(0), dtype=DT)
    out = perturb_prototypes(P, eps, "uniform", generator=torch.Generator().manual_seed(7))
    u = eps * (2 * torch.rand(30, 8, generator=torch.Generator().manual_seed(7), dtype=DT) - 1)
    unit = _unit_rows(P)
    moved = unit + u
    assert (u.abs() <= eps).all() and u.abs().max() > 0.9 * eps
    torch.testing.assert_close(out, _unit_rows(moved), rtol=0, atol=1e-12)
    # out points along normalise(P) + u, which is within eps of normalise(P) in every entry
    scale = moved.norm(dim=1, keepdim=True)
    assert ((out * scale - unit).abs() <= eps + 1e-12).all()


def test_gaussian_noise_recovered_from_the_generator():
    eps = 0.05
    P = torch.randn(30, 8, generator=torch.Generator().manual_seed(0), dtype=DT)
    out = perturb_prototypes(P, eps, "gaussian", generator=torch.Generator().manual_seed(7))
    u = eps * torch.randn(30, 8, generator=torch.Generator().manual_seed(7), dtype=DT)
    torch.testing.assert_close(out, _unit_rows(_unit_rows(P) + u), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("noise", "std"), [("uniform", 1 / math.sqrt(3)), ("gaussian", 1.0)])
def test_noise_std_on_a_large_sample(noise, std):
    # small eps: out - normalise(P) ~ u minus its radial part, std eps * std_unit * sqrt(1 - 1/d)
    eps, d = 1e-3, 64
    P = torch.randn(1000, d, generator=torch.Generator().manual_seed(0), dtype=DT)
    delta = perturb_prototypes(P, eps, noise, generator=torch.Generator().manual_seed(1)) - _unit_rows(P)
    expected = eps * std * math.sqrt(1 - 1 / d)
    assert delta.std().item() == pytest.approx(expected, rel=0.03)
    assert abs(delta.mean().item()) < 0.05 * eps


def test_eps_zero_is_normalise_and_draws_nothing():
    P = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    out = perturb_prototypes(P, 0.0, generator=g)
    assert torch.equal(out, F.normalize(P, dim=1))
    torch.testing.assert_close(out, _unit_rows(P), rtol=1e-6, atol=0)
    assert torch.equal(g.get_state(), state)


def test_perturbation_gradients_reach_P():
    P = torch.randn(4, 3, dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p: perturb_prototypes(p, 0.1, generator=torch.Generator().manual_seed(0)), (P,)
    )
    f = _unit_rows(torch.randn(8, 3, dtype=DT))
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    prototype_ce(f, perturb_prototypes(P, 0.01, generator=torch.Generator().manual_seed(0)), y).backward()
    assert P.grad is not None and torch.isfinite(P.grad).all() and P.grad.abs().sum() > 0


def test_perturbation_errors():
    P = torch.randn(4, 3)
    with pytest.raises(ValueError, match="eps"):
        perturb_prototypes(P, -0.01)
    with pytest.raises(ValueError, match="eps"):
        perturb_prototypes(P, float("nan"))
    with pytest.raises(ValueError, match="noise"):
        perturb_prototypes(P, 0.01, "laplace")
    with pytest.raises(ValueError, match="2-d"):
        perturb_prototypes(P[0], 0.01)


# ------------------------------------------------------------------------------- balancers
def test_softmax_loss_weights_by_hand():
    b = make_balancer("softmax_loss", 2, gamma=0.5)
    assert isinstance(b, SoftmaxLossBalancer)
    losses = torch.tensor([4.6, 3.0], requires_grad=True)
    total, w = b(losses)
    # softmax([9.2, 6.0]) = [1, e^-3.2] / (1 + e^-3.2) = [0.9608, 0.0392]
    assert w.tolist() == pytest.approx([0.961, 0.039], abs=5e-4)
    assert total.item() == pytest.approx(4.6 * w[0].item() + 3.0 * w[1].item(), rel=1e-6)
    assert not w.requires_grad
    total.backward()  # the weights are constants: d total / d L_k = lambda_k
    torch.testing.assert_close(losses.grad, w)
    b.epoch_end([1.0, 1.0])
    assert b(torch.tensor([4.6, 3.0]))[1].tolist() == pytest.approx(w.tolist())
    assert b.state_dict() == {}


def test_dwa_equal_for_two_epochs_then_hand_values():
    b = make_balancer("dwa", 3)
    assert isinstance(b, DWABalancer) and b.gamma == 2.0
    losses = torch.tensor([2.0, 1.0, 0.5])
    assert b(losses)[1].tolist() == [1.0, 1.0, 1.0]
    b.epoch_end([1.0, 1.0, 1.0])
    assert b(losses)[1].tolist() == [1.0, 1.0, 1.0]
    b.epoch_end(torch.tensor([0.5, 1.0, 0.8]))
    # r = (0.5, 1.0, 0.8); lambda = 3 softmax(r / 2) = 3 (e^.25, e^.5, e^.4) / 4.424571
    expected = [0.870610, 1.117885, 1.011505]
    total, w = b(losses)
    assert w.tolist() == pytest.approx(expected, abs=2e-6)
    assert total.item() == pytest.approx(2.0 * 0.870610 + 1.0 * 1.117885 + 0.5 * 1.011505, abs=1e-5)
    b.epoch_end([0.25, 0.5, 0.8])  # r = (0.5, 0.5, 1.0): 3 (e^.25, e^.25, e^.5) / 4.216772
    assert b(losses)[1].tolist() == pytest.approx([0.913513, 0.913513, 1.172974], abs=2e-6)


@pytest.mark.parametrize(
    ("reference", "after_two", "after_three"),
    [
        # r = (1/2, 0.9/1) -> softmax((1, 1.8)); then r = (0.5/1, 0.45/0.9) -> equal
        ("previous", [0.310026, 0.689974], [0.5, 0.5]),
        # r = (1/2, 0.9/1) -> softmax((1, 1.8)); then r = (0.5/2, 0.45/1) -> softmax((0.5, 0.9))
        ("initial", [0.310026, 0.689974], [0.401312, 0.598688]),
    ],
)
def test_convergence_rate_by_hand(reference, after_two, after_three):
    b = make_balancer("convergence_rate", 2, gamma=0.5, reference=reference)
    assert isinstance(b, ConvergenceRateBalancer) and not isinstance(b, DWABalancer)
    losses = torch.tensor([3.0, 1.0])
    assert b(losses)[1].tolist() == [0.5, 0.5]
    b.epoch_end([2.0, 1.0])
    assert b(losses)[1].tolist() == [0.5, 0.5]  # "previous" lacks a ratio; "initial": r = (1, 1)
    b.epoch_end([1.0, 0.9])
    total, w = b(losses)
    assert w.tolist() == pytest.approx(after_two, abs=2e-6)
    assert total.item() == pytest.approx(3.0 * after_two[0] + 1.0 * after_two[1], abs=1e-5)
    b.epoch_end([0.5, 0.45])
    assert b(losses)[1].tolist() == pytest.approx(after_three, abs=2e-6)


def test_uncertainty_total_and_gradient_by_hand():
    b = make_balancer("uncertainty", 2)
    assert isinstance(b, UncertaintyBalancer)
    assert [p.shape for p in b.parameters()] == [(2,)]
    losses = torch.tensor([3.0, 1.0], requires_grad=True)
    total, w = b(losses)  # s = 0: total = 3 + 1, weights 1
    assert total.item() == pytest.approx(4.0) and w.tolist() == [1.0, 1.0]
    with torch.no_grad():
        b.log_var.copy_(torch.tensor([0.0, math.log(2.0)]))
    total, w = b(losses)
    # e^0 * 3 + 0 + e^-ln2 * 1 + ln 2
    assert total.item() == pytest.approx(3.5 + math.log(2.0), rel=1e-6)
    assert w.tolist() == pytest.approx([1.0, 0.5], rel=1e-6) and not w.requires_grad
    total.backward()
    # d/ds_k = 1 - e^-s_k L_k = (1 - 3, 1 - 0.5); d/dL_k = e^-s_k
    assert b.log_var.grad.tolist() == pytest.approx([-2.0, 0.5], rel=1e-6)
    assert losses.grad.tolist() == pytest.approx([1.0, 0.5], rel=1e-6)


def test_equal_is_one_over_m():
    b = make_balancer("equal", 4)
    assert isinstance(b, EqualBalancer)
    total, w = b(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert w.tolist() == [0.25] * 4 and total.item() == pytest.approx(3.0)


@pytest.mark.parametrize("name", BALANCERS)
def test_state_dict_round_trip_reproduces_weights(name):
    m = 3
    b = make_balancer(name, m)
    if name == "uncertainty":
        with torch.no_grad():
            b.log_var.copy_(torch.tensor([0.3, -0.2, 1.1]))
    for epoch in ([1.0, 2.0, 3.0], [0.7, 1.9, 2.0], [0.6, 1.0, 1.9]):
        b.epoch_end(epoch)
    fresh = make_balancer(name, m)
    fresh.load_state_dict(b.state_dict())
    losses = torch.tensor([1.5, 0.7, 0.2])
    for got, want in zip(fresh(losses), b(losses)):
        assert torch.equal(got, want)
    if name in ("dwa", "convergence_rate"):
        assert int(fresh.n_epochs) == 3
        assert not torch.equal(b(losses)[1], make_balancer(name, m)(losses)[1])  # the state mattered
    for bal in (b, fresh):
        bal.epoch_end([0.5, 0.9, 1.7])
    assert torch.equal(fresh(losses)[1], b(losses)[1])


def test_balancer_errors():
    with pytest.raises(ValueError, match="balancer"):
        make_balancer("gradnorm", 3)
    with pytest.raises(ValueError, match="n_levels"):
        make_balancer("equal", 0)
    with pytest.raises(ValueError, match="gamma"):
        make_balancer("softmax_loss", 3, gamma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        make_balancer("convergence_rate", 3, gamma=-1.0)
    with pytest.raises(ValueError, match="reference"):
        make_balancer("convergence_rate", 3, reference="first")
    with pytest.raises(ValueError, match="gamma"):  # DWA's temperature is its softmax temperature
        make_balancer("dwa", 3, temperature=0.0)
    for name in BALANCERS:
        b = make_balancer(name, 3)
        with pytest.raises(ValueError, match=r"losses must have shape \(3,\)"):
            b(torch.ones(2))
        with pytest.raises(ValueError, match=r"mean_losses must have shape \(3,\)"):
            b.epoch_end([1.0, 1.0])
    with pytest.raises(ValueError, match="> 0"):
        make_balancer("dwa", 2).epoch_end([1.0, 0.0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_and_balancers_on_cuda_match_cpu():
    f_raw, bank_raw, y = _batch(6, b=16, c=5)
    f, bank = _unit_rows(f_raw), _unit_rows(bank_raw)
    for loss in (prototype_ce, aggregated_prototype_ce):
        torch.testing.assert_close(loss(f.cuda(), bank.cuda(), y.cuda()).cpu(), loss(f, bank, y))
    for name in BALANCERS:
        cpu, gpu = make_balancer(name, 2), make_balancer(name, 2).cuda()
        for bal in (cpu, gpu):
            bal.epoch_end([1.0, 2.0])
            bal.epoch_end(torch.tensor([0.5, 1.9]))
        losses = torch.tensor([0.8, 0.3])
        torch.testing.assert_close(gpu(losses.cuda())[1].cpu(), cpu(losses)[1])


@pytest.mark.parametrize("make", [lambda: ConvergenceRateBalancer(2), lambda: DWABalancer(2)])
def test_returned_balancer_weights_do_not_change_after_epoch_end(make):
    balancer = make()
    balancer.epoch_end([1.0, 2.0])
    balancer.epoch_end([0.5, 1.9])
    _, weights = balancer(torch.tensor([0.3, 0.4], dtype=torch.float64))
    kept = weights.clone()
    balancer.epoch_end([0.1, 1.8])  # moves the weights buffer
    assert torch.equal(weights, kept)
    assert not torch.equal(balancer(torch.tensor([0.3, 0.4], dtype=torch.float64))[1], kept)
