"""train_chmcnn and run_sweep: batched seeds == single seeds, determinism, learning, resumable sweeps."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hmc import provenance
from hmc.display_paths import display_path
from hmc import train as T
from hmc.synthetic import make_tabular
from hmc.runs.sweep import RESULT_COLUMNS, Unit, read_results, run_sweep, write_results_atomic
from hmc.train import METHOD_CHMCNN, train_chmcnn

FAST = {"epochs": 3, "lr": 1e-3, "hidden_dim": 24, "progress": False}


def _synthetic(n_fit=150, n_test=1281, seed=0, n_valid=30, name="synthetic"):
    data = make_tabular(n_samples=n_fit + n_test, depth=3, branching=3, n_features=12, seed=seed)
    h = data.hierarchy
    eval_nodes = np.array([i for i in range(len(h)) if i not in set(h.roots.tolist())], dtype=np.int64)
    n_train = n_fit - n_valid
    return SimpleNamespace(
        name=name,
        hierarchy=h,
        eval_nodes=eval_nodes,
        x_train=data.x[:n_train],
        y_train=data.y[:n_train],
        x_valid=data.x[n_train:n_fit],
        y_valid=data.y[n_train:n_fit],
        x_test=data.x[n_fit:],
        y_test=data.y[n_fit:],
        spec=SimpleNamespace(epochs=3, lr=1e-3, hidden_dim=24),
    )


@pytest.fixture(scope="module")
def bench():
    return _synthetic()


def test_batched_seeds_equal_single_seed_runs(bench):
    seeds = [0, 1, 2]
    batched = train_chmcnn(bench, seeds, num_threads=2, **FAST)
    assert batched.predictions.shape == (3, len(bench.x_test), len(bench.hierarchy))
    assert batched.predictions.dtype == np.float32
    # the test split is large enough for the 2 threads to split elementwise kernels mid-tensor
    assert batched.predictions[0].size * 3 > 32768
    for m, seed in enumerate(seeds):
        single = train_chmcnn(bench, [seed], num_threads=2, **FAST)
        np.testing.assert_array_equal(single.predictions[0], batched.predictions[m])
        assert abs(single.au_prc[0] - batched.au_prc[m]) <= 1e-6
        np.testing.assert_allclose(single.epoch_loss[0], batched.epoch_loss[m], rtol=1e-12)
    assert not np.array_equal(batched.predictions[0], batched.predictions[1])  # seeds differ


def test_training_is_deterministic(bench):
    a = train_chmcnn(bench, [3, 4], **FAST)
    b = train_chmcnn(bench, [3, 4], **FAST)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    np.testing.assert_array_equal(a.epoch_loss, b.epoch_loss)
    np.testing.assert_array_equal(a.au_prc, b.au_prc)


def test_predictions_are_hierarchy_consistent(bench):
    res = train_chmcnn(bench, [0], **{**FAST, "epochs": 1})
    parent, child = bench.hierarchy.edges
    pred = res.predictions[0]
    assert np.all(pred[:, parent] >= pred[:, child])


def test_loss_decreases_and_beats_the_positive_rate():
    bench = _synthetic(n_fit=400, n_test=300, seed=1)
    res = train_chmcnn(bench, [0, 1], epochs=8, lr=1e-3, hidden_dim=64, dropout=0.2, progress=False)
    assert np.all(res.epoch_loss[:, -1] < 0.8 * res.epoch_loss[:, 0])
    base_rate = bench.y_test[:, bench.eval_nodes].mean()
    assert np.all(res.au_prc > base_rate + 0.2), (res.au_prc, base_rate)


def test_steps_keep_the_last_partial_batch(bench):
    n_fit = len(bench.x_train) + len(bench.x_valid)  # 150: 37 full batches of 4 and one of 2
    res = train_chmcnn(bench, [0], epochs=2, batch_size=4, lr=1e-3, hidden_dim=8, progress=False)
    assert res.n_steps == 2 * -(-n_fit // 4) == 76
    assert res.settings == {
        "epochs": 2, "batch_size": 4, "lr": 1e-3, "weight_decay": 1e-5, "hidden_dim": 8, "dropout": 0.7, "device": "cpu"
    }


def test_settings_default_to_the_spec_and_validate(bench):
    assert T.chmcnn_settings(bench)["epochs"] == 3
    with pytest.raises(ValueError, match="distinct"):
        train_chmcnn(bench, [1, 1], **FAST)
    with pytest.raises(ValueError, match="no spec"):
        T.chmcnn_settings(SimpleNamespace(), lr=1e-3, hidden_dim=8)


def test_progress_bar_names_the_seeds(bench, capsys):
    train_chmcnn(bench, [0, 1], epochs=1, lr=1e-3, hidden_dim=8, progress=True)
    err = capsys.readouterr().err
    assert "2 seeds/step" in err


# ------------------------------------------------------------------------------------- sweeps
SWEEP = {"epochs": 2, "lr": 1e-3, "hidden_dim": 16, "progress": False}


def _loader(name):
    return _synthetic(n_fit=100, n_test=60, seed={"syn_a": 0, "syn_b": 1}[name], name=name)


UNITS = [Unit("syn_a", METHOD_CHMCNN, s) for s in range(4)] + [Unit("syn_b", METHOD_CHMCNN, 0)]


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["wall_time_s"]).reset_index(drop=True)


def test_sweep_resumes_after_an_interruption(tmp_path):
    full = tmp_path / "full.csv"
    ref = run_sweep(UNITS, full, load=_loader, seeds_per_batch=2, **SWEEP)
    assert len(ref) == 5 * 2  # au_prc and train_loss per unit
    assert list(ref.columns) == list(RESULT_COLUMNS)

    path = tmp_path / "part.csv"
    steps = {"n": 0}

    def interrupt(step):
        steps["n"] += 1
        if steps["n"] > 60:  # a batch is 2 epochs x 25 steps: dies inside the second batch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(UNITS, path, load=_loader, seeds_per_batch=2, step_callback=interrupt, **SWEEP)
    partial = read_results(path)
    assert sorted(set(partial["seed"])) == [0, 1] and len(partial) == 4  # the first batch only, whole
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []

    done = []
    rows = run_sweep(UNITS, path, load=_loader, seeds_per_batch=2,
                     on_batch_done=lambda r: done.append(sorted(set(zip(r.dataset, r.seed)))), **SWEEP)
    assert done == [[("syn_a", 2), ("syn_a", 3)], [("syn_b", 0)]]  # only the missing units
    pd.testing.assert_frame_equal(_comparable(rows), _comparable(ref))
    pd.testing.assert_frame_equal(_comparable(read_results(path)), _comparable(read_results(full)))

    again = []
    run_sweep(UNITS, path, load=_loader, on_batch_done=again.append, **SWEEP)
    assert again == []  # nothing left to do
    assert not read_results(path).duplicated(subset=["dataset", "method", "seed", "metric"]).any()


def test_sweep_reports_the_units_it_reads_back(tmp_path, monkeypatch):
    log = tmp_path / "read_back.jsonl"
    monkeypatch.setenv(provenance.READ_BACK_LOG, str(log))
    path = tmp_path / "r.csv"
    run_sweep(UNITS[:2], path, load=_loader, **SWEEP)
    assert not log.exists()  # both units ran: nothing read back
    stored = read_results(path).drop_duplicates(["dataset", "method", "seed"])  # one row per unit
    run_sweep(UNITS[:3], path, load=_loader, **SWEEP)  # seeds 0 and 1 read back, seed 2 runs
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    # the table as a page shows it (hmc.display_paths, tested on its own): never this machine's absolute path
    assert [{k: e[k] for k in ("table", "units")} for e in entries] == [{"table": display_path(path), "units": 2}]
    # the note rounds to 0.1 s; the two sums may fall on either side of a rounding boundary
    assert entries[0]["wall_time_s"] == pytest.approx(stored.wall_time_s.sum(), abs=0.05 + 1e-9)


def test_sweep_refuses_mixed_settings_and_force_replaces(tmp_path):
    path = tmp_path / "r.csv"
    units = UNITS[:2]
    run_sweep(units, path, load=_loader, **SWEEP)
    with pytest.raises(ValueError, match="under another configuration"):
        run_sweep(units, path, load=_loader, **{**SWEEP, "epochs": 1})
    rows = run_sweep(units, path, load=_loader, force=True, **{**SWEEP, "epochs": 1})
    assert len(rows) == 4 and set(rows["epochs"]) == {1}
    with pytest.raises(ValueError, match="unknown method"):
        run_sweep([("syn_a", "nope", 0)], path, load=_loader, **SWEEP)


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    old = pd.DataFrame({c: [1] for c in RESULT_COLUMNS})
    write_results_atomic(old, path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_results_atomic(pd.concat([old, old]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def _reference_step(model, opt, mcm, eval_idx, xb, yb, n_nodes):
    """The plain step the trainer's hand-differentiated one must equal: autograd through mc_loss."""
    import torch

    from hmc.constraint import mc_loss
    from hmc.models import member_sigmoid

    z, cache = model.forward_cached(xb)
    probs = member_sigmoid(z[..., :n_nodes]).requires_grad_(True)
    loss = mc_loss(probs, yb, mcm, eval_idx, reduction="none", validate=False)
    loss.mean(dim=(1, 2)).sum().backward()  # the sum of the members' means
    grad_z = z.new_zeros(z.shape)
    grad_z[..., :n_nodes] = torch.ops.aten.sigmoid_backward(probs.grad, probs.detach())
    model.backward_cached(grad_z, cache)
    opt.step()
    return loss.detach().mean(dim=(1, 2))


@pytest.mark.parametrize("form", ["pairs", "levels"])
def test_train_step_equals_the_autograd_reference_bitwise(bench, form, monkeypatch):
    """_train_step (loss and gradient by hand) == autograd through mc_loss, weights bit for bit."""
    import torch

    from hmc import constraint
    from hmc.constraint import MaxConstraint
    from hmc.models import BatchedCHMCNN

    monkeypatch.setattr(constraint, "PAIRS_MAX_ELEMENTS", 1 << 60 if form == "pairs" else 0)
    x = torch.as_tensor(np.concatenate([bench.x_train, bench.x_valid]))
    y = torch.as_tensor(np.concatenate([bench.y_train, bench.y_valid]))
    C = y.shape[1]
    mcm = MaxConstraint(bench.hierarchy)
    ev = torch.as_tensor(bench.eval_nodes)
    models, opts = [], []
    for _ in range(2):
        models.append(BatchedCHMCNN(None, x.shape[1], 24, C, dropout=0.5, seeds=[0, 1, 2]))
        opts.append(T._make_optimizer(models[-1].parameters(), 1e-2, 1e-5, "fused", "cpu"))
    perm = torch.stack([torch.randperm(len(x), generator=torch.Generator().manual_seed(s)) for s in range(3)])
    with T._torch_state(1, True):
        for start in range(0, 40, 4):
            idx = perm[:, start : start + 4]
            got = T._train_step(models[0], opts[0], mcm, ev, x[idx], y[idx], C)
            ref = _reference_step(models[1], opts[1], mcm, ev, x[idx], y[idx], C)
            assert torch.equal(got, ref)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_results_do_not_depend_on_the_thread_count(bench):
    one = train_chmcnn(bench, [0, 1], num_threads=1, **FAST)
    two = train_chmcnn(bench, [0, 1], num_threads=2, **FAST)
    auto = train_chmcnn(bench, [0, 1], num_threads="auto", **FAST)
    for other in (two, auto):
        np.testing.assert_array_equal(one.predictions, other.predictions)
        np.testing.assert_array_equal(one.epoch_loss, other.epoch_loss)
    assert sum(auto.extra["steps_per_thread_count"].values()) == auto.n_steps


def test_idle_core_threads_follow_the_other_processes_load(monkeypatch):
    """'auto' uses the cores that the other processes leave idle, read every `interval` seconds."""
    import torch

    clock = {"wall": 100.0, "busy": 5000.0, "own": 10.0, "others": 0.0}
    monkeypatch.setattr(T.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(T.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(T, "_busy_cpu_seconds", lambda: clock["busy"])
    old = torch.get_num_threads()
    used = []
    try:
        policy = T._IdleCoreThreads(2, interval=1.0)
        for step in range(80):
            if step == 30:
                clock["others"] = 1.0  # another process takes one core
            elif step == 55:
                clock["others"] = 0.1  # ... and leaves (a light background load stays)
            policy.begin()
            threads = torch.get_num_threads()
            used.append(threads)
            dt = 0.125  # seconds per step (8 per reading); this process keeps `threads` cores busy
            clock["wall"] += dt
            clock["own"] += threads * dt
            clock["busy"] += (threads + clock["others"]) * dt
            policy.end()
    finally:
        torch.set_num_threads(old)
    # 1 thread until the first reading (after 1 s = 8 steps), then 2 on the quiet machine
    assert set(used[:8]) == {1} and set(used[8:32]) == {2}
    # the load arrives at step 30: the reading at step 32 sees a quarter core (2 steps of 8), the
    # one at step 40 a whole core; it leaves at step 55, and the reading at step 64 sees it gone
    assert set(used[32:40]) == {2} and set(used[40:64]) == {1} and set(used[64:]) == {2}
    assert policy.steps == {1: 32, 2: 48}
    assert [policy.threads_for(x) for x in (0.0, 0.2, 0.3, 0.9, 1.0, 1.8)] == [2, 2, 1, 1, 1, 1]


def test_idle_core_threads_without_proc_stat_keep_the_count(monkeypatch):
    import torch

    monkeypatch.setattr(T, "_busy_cpu_seconds", lambda: None)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        policy = T._IdleCoreThreads(2)
        for _ in range(3):
            policy.begin()
            policy.end()
        assert torch.get_num_threads() == 2 and policy.steps == {2: 3}
    finally:
        torch.set_num_threads(old)
