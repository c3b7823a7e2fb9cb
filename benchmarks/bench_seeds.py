"""S seeds of C-HMCNN trained as one batched model vs the S single-seed runs one after another.

    python benchmarks/bench_seeds.py [--dataset cellcycle_FUN] [--seeds 10] [--epochs 3]
                                     [--device cpu] [--threads auto|N] [--profile-steps 300]
    python benchmarks/bench_seeds.py --threads-compare [--fixed 1,2] [--rounds 3] [--compete]
    python benchmarks/bench_seeds.py --group-sizes 1,2,3,4,5,10 [--epochs 1] [--threads 1]

Both sides run the same code (:func:`hmc.train.train_chmcnn`; the single runs with S = 1), in one
process, one after the other, on the spec's settings for the dataset except for the number of
epochs (reduced by default so that the whole benchmark takes a few minutes; the per-seed equality
holds at any epoch count). It prints the wall times and their ratio, each seed's test AU(PRC) from
both sides with the largest absolute difference, whether the test predictions are bit-for-bit
equal, the time per optimiser step, and the projected time of the spec's full run
(all epochs, S seeds batched). ``--profile-steps N`` also profiles N batched steps with
``torch.profiler`` and groups the time by part of the step.

``--threads-compare`` instead times the thread policy: the batched run with ``num_threads="auto"``
(:class:`hmc.train._IdleCoreThreads`) and with each fixed count of ``--fixed`` (default 1 and
torch's count), alternating run by run for ``--rounds`` rounds, and prints the median time per
step of each and the ratio of ``"auto"`` to the best fixed setting (the issue's bar: at most
1.05). With ``--compete`` it does so twice: as the machine is, then with a competing process (a
busy loop this script starts and stops) on one core.

``--group-sizes`` instead trains the batched model with each number of seeds G of the list and
prints its time per step, per network-step, and what ``--seeds`` networks would cost in groups of G
trained one group after another: whether networks whose state fits in the caches (one network of
cellcycle_FUN holds 9 MB of weights, gradients and Adam moments; the L3 cache here is 32 MB) run
faster in small groups than all at once.

The machine's load average is printed at the start and the end: on a shared machine, other
processes' load changes the times (not the results).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from hmc.data import load_benchmark
from hmc.train import train_chmcnn


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def profile_steps(bench, seeds, n_steps, device, threads) -> None:
    """Profile ``n_steps`` batched steps (after 30 warm-up steps) and print the time per part."""
    from torch.profiler import ProfilerActivity, profile

    class _Stop(Exception):
        pass

    marks = {}

    def callback(step):
        if step == 30:
            marks["prof"] = profile(activities=[ProfilerActivity.CPU])
            marks["prof"].__enter__()
            marks["t0"] = time.perf_counter()
        elif step == 30 + n_steps:
            marks["t1"] = time.perf_counter()
            marks["prof"].__exit__(None, None, None)
            raise _Stop

    steps_per_epoch = -(-(len(bench.x_train) + len(bench.x_valid)) // 4)
    epochs = -(-(30 + n_steps) // steps_per_epoch) + 1
    try:
        train_chmcnn(bench, seeds, epochs=epochs, device=device, progress=False, num_threads=threads,
                     step_callback=callback)
    except _Stop:
        pass
    wall = (marks["t1"] - marks["t0"]) / n_steps * 1e3
    groups = {
        "forward matmuls": ["aten::addmm", "aten::baddbmm"],
        "backward matmuls": ["aten::mm", "aten::bmm"],
        "Adam (fused)": ["aten::_fused_adam_"],
        "BCE fwd+bwd": ["aten::binary_cross_entropy", "aten::binary_cross_entropy_backward"],
        "dropout draws": ["aten::uniform_"],
        "batch gather": ["aten::index"],
    }
    table = {e.key: e for e in marks["prof"].key_averages()}
    print(f"\nprofile of {n_steps} steps, {len(seeds)} seeds, batch 4: {wall:.2f} ms/step wall "
          f"(profiler on: slower than unprofiled)")
    accounted = 0.0
    for name, keys in groups.items():  # self time of the named operators (the MCM's many small ones are in "rest")
        ms = sum(table[k].self_cpu_time_total for k in keys if k in table) / n_steps / 1e3
        accounted += ms
        print(f"  {name:26s} {ms:6.2f} ms/step")
    print(f"  {'rest (Python, small ops)':26s} {wall - accounted:6.2f} ms/step")


def compare_threads(bench, seeds, epochs, device, fixed, rounds, compete) -> None:
    """Time ``num_threads="auto"`` against each fixed count, alternating runs; print the ratios."""
    settings = ["auto", *fixed]
    conditions = ["as the machine is", "with a competing process"] if compete else ["as the machine is"]
    for condition in conditions:
        busy = None
        if condition.startswith("with"):
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            times = {s: [] for s in settings}
            auto_threads = {}
            for _ in range(rounds):
                for setting in settings:
                    res = train_chmcnn(bench, seeds, epochs=epochs, device=device, progress=False,
                                       num_threads=setting)
                    times[setting].append(res.extra["fit_s"] / res.n_steps * 1e3)
                    if setting == "auto":
                        for k, v in res.extra["steps_per_thread_count"].items():
                            auto_threads[k] = auto_threads.get(k, 0) + v
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        med = {s: statistics.median(ts) for s, ts in times.items()}
        best = min(fixed, key=lambda s: med[s])
        print(f"\nthreads, {condition} (load average {_load()}), {len(seeds)} seeds, {epochs} epoch(s) per run, "
              f"median of {rounds} alternating rounds:")
        for s in settings:
            print(f"  {str(s):>5s}: {med[s]:7.2f} ms/step  (rounds: {', '.join(f'{t:.2f}' for t in times[s])})")
        print(f"  auto used {auto_threads} (steps per thread count)")
        print(f"  auto / best fixed ({best} thread(s)): {med['auto'] / med[best]:.3f}")
        sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cellcycle_FUN")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3; the spec's count is used "
                        "only for the projection)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="auto",
                        help="torch threads: a number, or 'auto' (default: the trainer's switching between 1 "
                        "thread and torch's count, whichever steps faster)")
    parser.add_argument("--profile-steps", type=int, default=0, help="also profile this many batched steps")
    parser.add_argument("--skip-singles", action="store_true", help="time the batched run only")
    parser.add_argument("--threads-compare", action="store_true",
                        help="time num_threads='auto' against the fixed counts of --fixed instead")
    parser.add_argument("--fixed", default=None, help="fixed thread counts to compare, e.g. 1,2 (default: 1 and "
                        "torch's count)")
    parser.add_argument("--group-sizes", default=None, help="time groups of these many seeds instead, e.g. 1,2,5,10")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of --threads-compare")
    parser.add_argument("--compete", action="store_true", help="--threads-compare also with a competing busy process")
    args = parser.parse_args(argv)
    if args.threads != "auto":
        args.threads = int(args.threads)

    bench = load_benchmark(args.dataset)
    seeds = list(range(args.seeds))
    n_fit = len(bench.x_train) + len(bench.x_valid)
    steps_per_epoch = -(-n_fit // 4)
    spec = bench.spec
    print(f"dataset {bench.name}: {n_fit} train+valid rows, {bench.x_train.shape[1]} features, "
          f"{len(bench.hierarchy)} nodes; hidden {spec.hidden_dim}, lr {spec.lr}, batch 4, "
          f"{steps_per_epoch} steps/epoch")
    print(f"REDUCED RUN: {args.epochs} epochs per run (the spec trains {spec.epochs}); {args.seeds} seeds; "
          f"device {args.device}; torch threads {args.threads} (of {torch.get_num_threads()}); "
          f"torch {torch.__version__}")
    print(f"load average at start: {_load()}")
    sys.stdout.flush()
    if args.group_sizes:
        for g in (int(v) for v in args.group_sizes.split(",")):
            res = train_chmcnn(bench, list(range(g)), epochs=args.epochs, device=args.device, progress=False,
                               num_threads=args.threads)
            ms = res.extra["fit_s"] / res.n_steps * 1e3
            print(f"group of {g:2d}: {ms:7.2f} ms per step, {ms / g:5.2f} ms per network-step; {args.seeds} networks "
                  f"in groups of {g}: {ms * args.seeds / g:6.1f} ms per step of all")
            sys.stdout.flush()
        print(f"load average at end: {_load()}")
        return 0
    if args.threads_compare:
        fixed = sorted({int(t) for t in args.fixed.split(",")} if args.fixed else {1, torch.get_num_threads()})
        compare_threads(bench, seeds, args.epochs, args.device, fixed, args.rounds, args.compete)
        print(f"load average at end: {_load()}")
        return 0

    common = dict(epochs=args.epochs, device=args.device, progress=False, num_threads=args.threads)
    batched = train_chmcnn(bench, seeds, **common)
    fit_ms = batched.extra["fit_s"] / batched.n_steps * 1e3
    print(f"\nbatched: {args.seeds} seeds in one model: {batched.wall_time_s:.1f} s "
          f"(training {batched.extra['fit_s']:.1f} s = {fit_ms:.2f} ms/step = {1e3 / fit_ms:.1f} steps/s "
          f"for all {args.seeds} seeds; prediction {batched.extra['predict_s']:.1f} s; "
          f"steps per thread count {batched.extra['steps_per_thread_count']})")
    sys.stdout.flush()

    if not args.skip_singles:
        singles = []
        for seed in seeds:
            res = train_chmcnn(bench, [seed], **common)
            singles.append(res)
            step_ms = res.extra["fit_s"] / res.n_steps * 1e3
            print(f"  single seed {seed}: {res.wall_time_s:.1f} s ({step_ms:.2f} ms/step)")
            sys.stdout.flush()
        single_total = sum(r.wall_time_s for r in singles)
        print(f"single-seed runs one after another: {single_total:.1f} s")
        print(f"\nspeed-up (single-seed total / batched): {single_total / batched.wall_time_s:.2f}x")
        print("\nseed  AU(PRC) batched  AU(PRC) single  |diff|     predictions bitwise equal")
        diffs = []
        for m, (seed, res) in enumerate(zip(seeds, singles, strict=True)):
            diff = abs(batched.au_prc[m] - res.au_prc[0])
            diffs.append(diff)
            equal = np.array_equal(batched.predictions[m], res.predictions[0])
            print(f"{seed:4d}  {batched.au_prc[m]:.6f}         {res.au_prc[0]:.6f}        {diff:.1e}  {equal}")
        print(f"max |AU(PRC) batched - single| = {max(diffs):.3g}")
        print(f"mean AU(PRC) over seeds: {batched.au_prc.mean():.4f} (spec's {spec.epochs} epochs not reached here)")

    full_steps = spec.epochs * steps_per_epoch
    print(f"\nprojection for the spec's full run ({spec.epochs} epochs x {steps_per_epoch} steps = {full_steps} steps, "
          f"{args.seeds} seeds batched): {full_steps * fit_ms / 1e3 / 60:.1f} min of training at {fit_ms:.2f} ms/step")
    print(f"load average at end: {_load()}")
    if args.profile_steps:
        profile_steps(bench, seeds, args.profile_steps, args.device, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
