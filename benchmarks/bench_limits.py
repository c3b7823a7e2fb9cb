"""How close each tabular training step runs to this machine's physical limits.

    python benchmarks/bench_limits.py [--dataset cellcycle_FUN] [--steps 60] [--reps 3]
                                      [--copy-mb 256] [--matmul-n 2048] [--members 5]

At the current torch thread count (set ``OMP_NUM_THREADS``/``--threads``) it measures

* the copy bandwidth ``BW``: bytes read + written per second by ``dst.copy_(src)`` of a float32
  tensor of ``--copy-mb`` MB (larger than the caches);
* the matmul peak ``PEAK``: FLOP/s of an ``n x n`` float32 ``torch.mm`` (``2 n^3`` FLOPs);

then, for each training path at the spec's batch size (4) on ``--dataset``, the bytes and FLOPs of
one step and the step's time:

* ``chmcnn S=1`` and ``chmcnn S=10``: :func:`hmc.train._train_step` of a
  :class:`~hmc.models.BatchedCHMCNN` with 1 and 10 stacked seeds;
* ``rare-node ensemble``: one step of :mod:`hmc.rare_nodes` (``focal-gmu``, 1 seed x ``--members``
  ensemble members stacked).

With ``P`` the stacked parameters (padded widths, all members) and ``W`` the weight-matrix entries
among them, a step moves at least ``B = 40 P`` bytes: the weights are read by the forward pass
and by the backward pass (4 + 4 bytes per parameter), the gradient is written (4), and Adam reads
parameter, gradient and both moments and writes parameter and moments (28); the activations of a
batch of 4 are negligible beside them. Its FLOPs are ``F = 6 b W`` (forward ``2 b W``, weight and
input gradients ``4 b W``) plus about 12 per parameter for Adam. The floor of a step is
``max(B / BW, F / PEAK)``, and the printed fraction is ``floor / measured``: 1 would be a step at
the machine's limit. The steps are timed in ``--reps`` rounds; the median round is printed. ``BW`` is the bandwidth
of memory, not of the caches: a one-seed model's state (0.57 M parameters x 4 arrays = 9 MB on
cellcycle_FUN) fits in a 32 MB L3 cache, so its true floor is lower than the printed one.

It also times, interleaved round by round, the trainer's step (loss and gradient by hand,
:func:`hmc.constraint.mc_loss_and_grad`) against the plain reference step (autograd through
:func:`hmc.constraint.mc_loss`), and prints the ratio. The load average is printed beside the
numbers: another busy process shares the memory bus and the caches, which changes the times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from hmc import rare_nodes as R
from hmc import train as T
from hmc.constraint import MaxConstraint, mc_loss
from hmc.data import load_benchmark
from hmc.models import BatchedCHMCNN, member_sigmoid

BATCH = 4
ADAM_FLOPS_PER_PARAM = 12


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def copy_bandwidth(mb: int, reps: int = 10) -> float:
    """Bytes per second read + written by ``dst.copy_(src)`` of ``mb`` MB of float32 (best of ``reps``)."""
    src = torch.ones(mb * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(_timed(lambda: dst.copy_(src)) for _ in range(reps))
    return 2 * src.numel() * 4 / best


def matmul_flops(n: int, reps: int = 5) -> float:
    """FLOP/s of an ``n x n`` float32 ``torch.mm`` (best of ``reps``)."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    out = torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b, out=out)) for _ in range(reps))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def step_cost(model: BatchedCHMCNN) -> tuple[float, float]:
    """``(bytes, FLOPs)`` of one training step of ``model`` at batch :data:`BATCH` (module docstring)."""
    n_params = sum(p.numel() for p in model.parameters())
    n_weights = sum(w.numel() for w in model.weights)
    return 40.0 * n_params, 6.0 * BATCH * n_weights + ADAM_FLOPS_PER_PARAM * n_params


def reference_step(model, opt, mcm, eval_idx, xb, yb, n_nodes) -> torch.Tensor:
    """The plain step: autograd through :func:`hmc.constraint.mc_loss` (what the trainer's equals)."""
    z, cache = model.forward_cached(xb)
    probs = member_sigmoid(z[..., :n_nodes]).requires_grad_(True)
    loss = mc_loss(probs, yb, mcm, eval_idx, reduction="none", validate=False)
    loss.backward(torch.full_like(loss, 1.0 / (loss.shape[1] * loss.shape[2])))
    grad_z = z.new_zeros(z.shape)
    grad_z[..., :n_nodes] = torch.ops.aten.sigmoid_backward(probs.grad, probs.detach())
    model.backward_cached(grad_z, cache)
    opt.step()
    return loss.detach().mean(dim=(1, 2))


class _Chmcnn:
    """C-HMCNN with ``n_seeds`` stacked seeds: ``step()`` runs one training step on the next batch."""

    def __init__(self, bench, n_seeds: int, step_fn):
        x = np.concatenate([bench.x_train, bench.x_valid]).astype(np.float32)
        y = np.concatenate([bench.y_train, bench.y_valid]).astype(np.uint8)
        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)
        self.n_nodes = self.y.shape[1]
        self.mcm = MaxConstraint(bench.hierarchy)
        self.eval_idx = torch.as_tensor(np.asarray(bench.eval_nodes, dtype=np.int64))
        seeds = list(range(n_seeds))
        self.model = BatchedCHMCNN(None, x.shape[1], bench.spec.hidden_dim, self.n_nodes, seeds=seeds)
        self.opt = T._make_optimizer(self.model.parameters(), bench.spec.lr, T.DEFAULT_WEIGHT_DECAY, "fused", "cpu")
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.perm = torch.stack([torch.randperm(len(x), generator=g) for g in gens])
        self.step_fn, self.i = step_fn, 0

    def step(self) -> None:
        start = (self.i * BATCH) % (len(self.x) - BATCH)
        idx = self.perm[:, start : start + BATCH]
        self.step_fn(self.model, self.opt, self.mcm, self.eval_idx, self.x[idx], self.y[idx], self.n_nodes)
        self.i += 1


class _RareEnsemble:
    """One seed of the rare-node deep ensemble (``focal-gmu``, ``members`` stacked members)."""

    def __init__(self, bench, members: int):
        config = R.RareNodeConfig(loss="focal", measure="gmu", n_members=members)
        settings = T.chmcnn_settings(bench)
        self.run = R._Run(bench, [0], config, settings, torch.device("cpu"), "fused")
        self.model = self.run.model
        self.perm, self.i = self.run.permutations(), 0

    def step(self) -> None:
        start = (self.i * BATCH) % (self.run.n_rows - BATCH)
        xb, yb = self.run.batch(self.perm[:, start : start + BATCH])
        self.run.loss_and_grad(xb, yb, R.SchedulePosition())
        self.run.opt.step()
        self.i += 1


def time_steps(paths: dict, steps: int, reps: int) -> dict[str, float]:
    """Median over ``reps`` rounds of the seconds per step of each path; the paths alternate within a round."""
    for path in paths.values():  # warm-up: first-touch of the Adam state, caches
        for _ in range(5):
            path.step()
    rounds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(reps):
        for name, path in paths.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                path.step()
            rounds[name].append((time.perf_counter() - t0) / steps)
    return {name: statistics.median(ts) for name, ts in rounds.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cellcycle_FUN")
    parser.add_argument("--steps", type=int, default=60, help="steps per path and round")
    parser.add_argument("--reps", type=int, default=3, help="rounds (the median is printed)")
    parser.add_argument("--copy-mb", type=int, default=256)
    parser.add_argument("--matmul-n", type=int, default=2048)
    parser.add_argument("--members", type=int, default=5, help="ensemble members of the rare-node path")
    parser.add_argument("--seeds", type=int, default=10, help="stacked seeds of the large C-HMCNN path")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's count)")
    args = parser.parse_args(argv)
    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s), {os.cpu_count()} CPUs; load average {_load()}")
    with T._torch_state(threads, deterministic=True):  # restores the thread count afterwards
        bw = copy_bandwidth(args.copy_mb)
        peak = matmul_flops(args.matmul_n)
        print(f"copy bandwidth ({args.copy_mb} MB float32, read + write): {bw / 1e9:.1f} GB/s")
        print(f"matmul peak ({args.matmul_n} x {args.matmul_n} float32): {peak / 1e9:.1f} GFLOP/s")

        bench = load_benchmark(args.dataset)
        paths = {
            "chmcnn S=1": _Chmcnn(bench, 1, T._train_step),
            f"chmcnn S={args.seeds}": _Chmcnn(bench, args.seeds, T._train_step),
            f"rare-node ensemble H={args.members}": _RareEnsemble(bench, args.members),
            "chmcnn S=1, reference step": _Chmcnn(bench, 1, reference_step),
            f"chmcnn S={args.seeds}, reference step": _Chmcnn(bench, args.seeds, reference_step),
        }
        times = time_steps(paths, args.steps, args.reps)
    print(f"\n{bench.name}, batch {BATCH}, {args.reps} rounds x {args.steps} steps per path (median round); "
          f"load average {_load()}")
    print(f"{'path':34s} {'params':>9s} {'MB/step':>8s} {'MFLOP':>8s} {'floor ms':>9s} {'step ms':>8s} "
          f"{'fraction':>8s}")
    for name, path in paths.items():
        if "reference" in name:
            continue
        n_bytes, flops = step_cost(path.model)
        floor = max(n_bytes / bw, flops / peak)
        n_params = sum(p.numel() for p in path.model.parameters())
        print(f"{name:34s} {n_params / 1e6:8.2f}M {n_bytes / 1e6:8.1f} {flops / 1e6:8.1f} {floor * 1e3:9.3f} "
              f"{times[name] * 1e3:8.3f} {floor / times[name]:8.2f}")
    for s in (1, args.seeds):
        ours, ref = times[f"chmcnn S={s}"], times[f"chmcnn S={s}, reference step"]
        print(f"chmcnn S={s}: step {ours * 1e3:.3f} ms, reference step (autograd loss) {ref * 1e3:.3f} ms: "
              f"{ref / ours:.2f}x")
    print(f"load average at end: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
