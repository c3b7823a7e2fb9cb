"""The tabular design on an accelerator: one stacked model per dataset, its bandwidth fraction, and
the hours the whole C-HMCNN / rare-node design would take.

    python benchmarks/bench_gpu.py [--device cuda] [--dataset cellcycle_FUN] [--seeds 10]
        [--methods <chapter 03's nine methods at H = 2>] [--steps 200] [--copy-mb 1024]

Ready for the first session that has a GPU (``--device cpu`` runs it here, which the tests do on a
few steps). On ``--device`` it measures

* the copy bandwidth ``BW``: bytes read + written per second by ``dst.copy_(src)`` of ``--copy-mb``
  MB of float32 (best of 10, synchronised);
* the plain path: each method's ``--seeds`` seeds as their own model (:class:`hmc.rare_nodes._Run`,
  what :func:`hmc.rare_nodes.train_rare_nodes` trains), ``--steps`` steps each, one method after
  another;
* the stacked path: all methods x seeds as one model (:mod:`hmc.stacked_methods`), ``--steps`` steps;

and prints the time per step of each, their ratio, and each path's fraction of its memory-traffic
floor (a step moves at least 40 bytes per stacked parameter, ``benchmarks/bench_limits.py``:
fraction = (40 P / BW) / measured). Then it projects the hours of every tabular work item of the
campaign's queue (chapters 02 to 05, :func:`hmc.runs.campaign.build_queue`) whose data are on disk:
the item's network-steps (:meth:`hmc.runs.campaign.Campaign.network_steps`) times the stacked
path's measured seconds per network-step, scaled by the dataset's network size relative to
``--dataset`` (a bandwidth-bound step costs in proportion to its weights; on an accelerator a small
network's step is bound by launch overhead instead, so small datasets are over-estimated). Not done
yet: capturing the step as one device program (CUDA graphs or ``torch.compile(mode="reduce-overhead")``);
this benchmark measures the uncaptured stacked step.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from hmc.data import load_benchmark
from hmc.rare_evidence import chapter_methods
from hmc.rare_nodes import SchedulePosition, _Run, rare_config
from hmc.stacked_methods import _StackedRun, check_stackable
from hmc.train import DEFAULT_BATCH_SIZE, DEFAULT_DROPOUT, DEFAULT_WEIGHT_DECAY, chmcnn_settings

BYTES_PER_PARAMETER = 40
"""Weights read twice, the gradient written, Adam's reads and writes (``benchmarks/bench_limits.py``)."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def copy_bandwidth(mb: int, device: torch.device, reps: int = 10) -> float:
    """Bytes per second read + written by ``dst.copy_(src)`` of ``mb`` MB of float32 on ``device``."""
    src = torch.ones(mb * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best


def time_run(run: _Run, steps: int, device: torch.device, warmup: int = 5) -> float:
    """Seconds per step of ``run`` over ``steps`` steps after ``warmup`` (its own data order, batch 4)."""
    perm = run.permutations()
    bs = run.settings["batch_size"]
    n_batches = max(1, run.n_rows // bs)

    def step(i: int) -> None:
        start = (i % n_batches) * bs
        xb, yb = run.batch(perm[:, start : start + bs])
        run.loss_and_grad(xb, yb, SchedulePosition(i % n_batches, n_batches, i, steps + warmup))
        run.opt.step()

    for i in range(warmup):
        step(i)
    _sync(device)
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    _sync(device)
    return (time.perf_counter() - t0) / steps


def n_parameters(run: _Run) -> int:
    return sum(p.numel() for p in run.model.parameters())


def projected_hours(s_per_network_step: float, size: float, out) -> float:
    """Hours of the queue's tabular items with data on disk at ``s_per_network_step`` for a network of ``size``."""
    from hmc.runs.campaign import Campaign

    campaign = Campaign()
    total, missing = 0.0, set()
    for item in campaign.queue:
        if item.chapter not in ("02_chmcnn_reproduction", "03_rare_node_loss", "04_ensembles_and_dropout",
                                "05_schedules_and_resampling"):
            continue
        if not campaign.available(item.dataset):
            missing.add(item.dataset)
            continue
        steps = campaign.network_steps(item, len(item.seeds))
        total += steps * s_per_network_step * campaign.network_size(item.dataset) / size
    if missing:
        print(f"  (not counted, data not on disk: {', '.join(sorted(missing))})", file=out)
    return total / 3600


def main(argv=None, out=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--dataset", default="cellcycle_FUN")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--methods", default=",".join(chapter_methods(2).values()))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--copy-mb", type=int, default=1024)
    p.add_argument("--no-projection", action="store_true", help="skip the projection of the whole design")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: run with --device cpu, or on a machine with a GPU", file=out)
        return 2
    torch.manual_seed(0)
    bench = load_benchmark(args.dataset)
    configs = [rare_config(m) for m in args.methods.split(",")]
    check_stackable(configs)
    seeds = list(range(args.seeds))
    settings = chmcnn_settings(bench, None, None, None, DEFAULT_BATCH_SIZE, DEFAULT_WEIGHT_DECAY, DEFAULT_DROPOUT)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} thread(s)"
    bw = copy_bandwidth(args.copy_mb, device)
    print(f"{name}: copy bandwidth {bw / 1e9:.1f} GB/s; {bench.name}, {len(configs)} methods x {len(seeds)} seeds "
          f"x H = {configs[0].n_members}; {args.steps} timed steps; load average {os.getloadavg()[0]:.2f}", file=out)
    plain_s = 0.0
    for config in configs:
        plain_s += time_run(_Run(bench, seeds, config, settings, device, "fused"), args.steps, device)
    stacked = _StackedRun(bench, seeds, configs, settings, device, "fused")
    stacked_s = time_run(stacked, args.steps, device)
    params = n_parameters(stacked)
    networks = stacked.model.n_members
    floor = BYTES_PER_PARAMETER * params / bw
    print(f"plain (one model per method, one after another): {plain_s * 1e3:.3f} ms per step of {networks} networks, "
          f"{floor / plain_s:.2f} of the memory-traffic floor", file=out)
    print(f"stacked (one model):                             {stacked_s * 1e3:.3f} ms per step, "
          f"{floor / stacked_s:.2f} of the floor ({BYTES_PER_PARAMETER * params / 1e6:.0f} MB per step at "
          f"{bw / 1e9:.0f} GB/s = {floor * 1e3:.3f} ms); ratio plain / stacked {plain_s / stacked_s:.2f}", file=out)
    if not args.no_projection:
        from hmc.runs.campaign import Campaign

        size = Campaign().network_size(args.dataset)
        hours = projected_hours(stacked_s / networks, size, out)
        print(f"projected: the campaign's tabular items (chapters 02-05) at the stacked path's "
              f"{stacked_s / networks * 1e3:.3f} ms per network-step, scaled by network size: {hours:.1f} h", file=out)
    print(f"load average at the end {os.getloadavg()[0]:.2f}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
