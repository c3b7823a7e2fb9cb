"""BatchedCHMCNN: member m of a batched model is bit-for-bit the single model with seed m."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hmc.models import DATA_STREAM, DROPOUT_STREAM, BatchedCHMCNN, derive_seed

IN, HID, OUT = 13, 37, 21  # odd sizes: the alignment padding is exercised


def _model(seeds, **kw):
    return BatchedCHMCNN(None, IN, HID, OUT, seeds=seeds, **kw)


def test_init_is_nn_linear_under_manual_seed():
    model = _model([5, 11])
    for m, seed in enumerate([5, 11]):
        torch.manual_seed(seed)
        ref = nn.Sequential(nn.Linear(IN, HID), nn.ReLU(), nn.Linear(HID, HID), nn.ReLU(), nn.Linear(HID, OUT))
        ref_params = [p for p in ref.parameters()]
        got = [p for p in model.member_linears(m).parameters()]
        assert len(got) == len(ref_params) == 6
        for a, b in zip(got, ref_params, strict=True):
            assert torch.equal(a, b)


def test_member_equals_single_model_bitwise():
    seeds = [0, 1, 2, 7]
    batched = _model(seeds)
    singles = [_model([s]) for s in seeds]
    for m, single in enumerate(singles):
        for pb, ps in zip(batched.parameters(), single.parameters(), strict=True):
            assert torch.equal(pb[m], ps[0])  # padding included
    g = torch.Generator().manual_seed(3)
    x_shared = torch.randn(5, IN, generator=g)
    x_own = torch.randn(len(seeds), 5, IN, generator=g)
    batched.eval()
    for m, single in enumerate(singles):
        single.eval()
        assert torch.equal(batched(x_shared)[m], single(x_shared)[0])
        assert torch.equal(batched(x_own)[m], single(x_own[m : m + 1])[0])
    # dropout on: two successive forwards, same per-member generator streams
    batched.train()
    out1, out2 = batched(x_own), batched(x_own)
    assert not torch.equal(out1, out2)
    for m, single in enumerate(singles):
        single.train()
        assert torch.equal(out1[m], single(x_own[m : m + 1])[0])
        assert torch.equal(out2[m], single(x_own[m : m + 1])[0])


def test_dropout_masks_differ_between_members_and_keep_fraction():
    model = BatchedCHMCNN(None, IN, 512, OUT, seeds=[0, 1, 2], dropout=0.7).train()
    mask = model._dropout_mask((64, 512), torch.empty(0))
    assert mask.shape == (3, 64, 512)
    assert torch.allclose(mask.unique(), torch.tensor([0.0, 1.0 / 0.3]))
    kept = (mask > 0).float().mean().item()
    assert 0.27 < kept < 0.33
    assert not torch.equal(mask[0], mask[1]) and not torch.equal(mask[1], mask[2])


def test_eval_is_deterministic_unless_mc_dropout():
    model = _model([0, 1]).eval()
    x = torch.randn(4, IN)
    assert torch.equal(model(x), model(x))
    model.mc_dropout = True
    assert not torch.equal(model(x), model(x))
    model.reset_dropout()
    first = model(x)
    model.reset_dropout()
    assert torch.equal(first, model(x))


def test_logits_flag_and_shapes():
    model = _model([0, 1, 2]).eval()
    x = torch.randn(4, IN)
    logits = model(x, logits=True)
    assert logits.shape == (3, 4, OUT)
    assert torch.equal(torch.sigmoid(logits), model(x))
    with pytest.raises(ValueError):
        model(torch.randn(2, 4, IN))  # wrong number of members
    with pytest.raises(ValueError):
        model(torch.randn(4, IN + 1))
    with pytest.raises(ValueError):
        BatchedCHMCNN(2, IN, HID, OUT, seeds=[0, 1, 2])


def test_fused_adam_keeps_members_bitwise_and_padding_zero():
    """Training steps with the fused optimiser: batched member m == single model m, padding stays 0."""
    seeds = [0, 1, 2]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(len(seeds), 4, IN, generator=g)
    y = (torch.rand(len(seeds), 4, OUT, generator=g) < 0.3).float()

    def train(model, xs, ys):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5, fused=True)
        for _ in range(5):
            out = model(xs)
            loss = nn.functional.binary_cross_entropy(out, ys, reduction="none").mean(dim=(1, 2)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return model

    batched = train(_model(seeds).train(), x, y)
    for m, s in enumerate(seeds):
        single = train(_model([s]).train(), x[m : m + 1], y[m : m + 1])
        for pb, ps in zip(batched.parameters(), single.parameters(), strict=True):
            assert torch.equal(pb[m], ps[0])
    for layer, (fan_in, fan_out) in enumerate(batched.layer_dims):
        w, b = batched.weights[layer], batched.biases[layer]
        assert w.shape[2] % 16 == 0
        assert torch.count_nonzero(w[:, :, fan_out:]) == 0
        assert torch.count_nonzero(w[:, fan_in:, :]) == 0
        assert torch.count_nonzero(b[:, :, fan_out:]) == 0


def test_derive_seed_streams_differ():
    assert derive_seed(0, DROPOUT_STREAM) != derive_seed(0, DATA_STREAM) != derive_seed(1, DATA_STREAM)
    assert derive_seed(3, DATA_STREAM) == derive_seed(3, DATA_STREAM)
    assert 0 <= derive_seed(2**40, 7) < 2**63


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_forward_matches_cpu_init():
    cpu = _model([0, 1]).eval()
    gpu = _model([0, 1]).cuda().eval()
    x = torch.randn(3, IN)
    assert torch.allclose(cpu(x), gpu(x.cuda()).cpu(), atol=1e-5)
    gpu.train()
    out = gpu(x.cuda())
    assert out.device.type == "cuda" and out.shape == (2, 3, OUT)


def test_fast_path_matches_autograd_path_and_float64_reference():
    seeds = [0, 1, 2]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(seeds), 6, IN, generator=g)
    r = torch.randn(len(seeds), 6, OUT, generator=g)

    fast = _model(seeds).train()
    z, cache = fast.forward_cached(x)
    grad_z = torch.zeros_like(z)
    grad_z[..., :OUT] = r
    fast.backward_cached(grad_z, cache)

    auto = _model(seeds).train()
    logits = auto(x, logits=True)
    assert torch.equal(logits, z[..., :OUT])
    (logits * r).sum().backward()
    for pf, pa in zip(fast.parameters(), auto.parameters(), strict=True):
        assert torch.equal(pf.grad, pa.grad)

    # float64 reference with plain autograd ops and the same dropout masks
    params = [p.detach().double().requires_grad_() for p in _model(seeds).parameters()]
    ws, bs = params[:3], params[3:]
    h = x.double()
    for layer in range(3):
        zz = torch.baddbmm(bs[layer], h, ws[layer])
        if layer < 2:
            h = torch.relu(zz) * cache["masks"][layer].double()
    (zz[..., :OUT] * r.double()).sum().backward()
    for pf, pr in zip(fast.parameters(), params, strict=True):
        assert torch.allclose(pf.grad.double(), pr.grad, rtol=1e-4, atol=1e-6)


def test_input_gradient_through_broadcast_input():
    model = _model([0, 1]).eval()
    x = torch.randn(3, IN, dtype=torch.float32, requires_grad=True)
    model(x).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    ref = sum(model.member_linears(m).eval()(x2).sum() for m in range(2))
    ref.backward()
    assert torch.allclose(x.grad, x2.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("matmul,rows", [("auto", 4), ("auto", 7), ("loop", 7), ("loop", 4), ("bmm", 4)])
def test_matmul_modes_keep_members_equal_to_single_models(matmul, rows):
    """Per-member GEMMs are exact for every shape; the batched GEMM is used (and checked) at <= 4 rows."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)  # the thread count at which MKL's batched GEMM differs for 5-11 rows
    try:
        _check_matmul_mode(matmul, rows)
    finally:
        torch.set_num_threads(old)
    with pytest.raises(ValueError, match="matmul"):
        _model([0], matmul="fast")


def _check_matmul_mode(matmul, rows):
    seeds = [0, 1, 2]
    g = torch.Generator().manual_seed(4)
    x = torch.randn(len(seeds), rows, IN, generator=g)
    gz = torch.randn(len(seeds), rows, 32, generator=g)  # OUT = 21 padded to 32
    gz[..., OUT:] = 0
    batched = _model(seeds, matmul=matmul).train()
    z, cache = batched.forward_cached(x)
    batched.backward_cached(gz, cache)
    for m, seed in enumerate(seeds):
        single = _model([seed], matmul=matmul).train()
        zs, cs = single.forward_cached(x[m : m + 1])
        single.backward_cached(gz[m : m + 1], cs)
        assert torch.equal(z[m], zs[0])
        for pb, ps in zip(batched.parameters(), single.parameters(), strict=True):
            assert torch.equal(pb.grad[m], ps.grad[0])
