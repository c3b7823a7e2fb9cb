"""Benchmark: cost of the focal-weighted loss, and deep ensemble vs MC-dropout (rare-node spec, claim 4).

    python benchmarks/bench_focal.py [--dataset cellcycle_FUN] [--members 5] [--measure epistemic_js]
                                     [--steps 60] [--block 10] [--warmup 10] [--seeds 1]
                                     [--threads 1] [--device cpu|cuda] [--no-memory]

In one run on one device, with the dataset's spec settings (hidden width, lr, batch 4) and the
training step of :func:`hmc.rare_nodes.train_rare_nodes` (forward, loss, hand-written backward,
fused Adam; the data order of each seed as in training):

1. **Loss cost**, deep ensemble of H members: (a) the plain MCLoss ensemble (``loss="plain"``)
   against (b) the focal-weighted loss ``W (m + u^k) BCE`` (``loss="focal"``, imbalance weights on
   the negatives, ``--measure``), same model sizes. Printed: ms per step of each and the ratio
   focal / plain; the target is <= 1.5 (exit status 1 when missed).
2. **Deep ensemble vs MC-dropout** at the same H, both with the focal loss: ms per step, and peak
   memory, each measured in a fresh subprocess from just before the model is built (model,
   optimiser state, activations, the data tensors) through the warm-up and timed steps:

   * CPU: the peak of torch's CPU allocator over the set-up and 3 steps, from the profiler's memory
     events (``Total Allocated``; exact, the basis of the ratio), and the resident-set high-water
     mark increase (``VmHWM`` after ``/proc/self/clear_refs``, else ``ru_maxrss``; the OS view,
     indicative only);
   * CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the set-up;

   plus the exact bytes of the training state (parameters, gradients, Adam's two moments).
   The spec's claim 4: MC-dropout cuts training time by ~68% and memory by ~66%.

Timings interleave the variants in blocks of ``--block`` steps after ``--warmup`` steps each, and
report the median of the blocks' ms/step, which keeps the load of a shared machine from favouring
one variant. ``cellcycle_FUN`` is used when its files are found ($HMC_DATA_DIR), else a synthetic
benchmark of similar size (:func:`hmc.synthetic.make_benchmark`, 77 features, hidden 500).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TARGET_RATIO = 1.5
CLAIM_TIME_CUT, CLAIM_MEMORY_CUT = 0.68, 0.66


def _load(name: str):
    """The named benchmark, or a synthetic stand-in (and a note) when its files are missing."""
    from hmc.synthetic import make_benchmark

    if name != "synthetic":
        try:
            from hmc.data import load_benchmark

            return load_benchmark(name), ""
        except Exception as err:  # missing files: fall back, say so
            note = f"({name} not available: {type(err).__name__}: {str(err).splitlines()[0][:100]}; synthetic used)"
    else:
        note = ""
    bench = make_benchmark(n_samples=3750, depth=4, branching=5, n_features=77, epochs=1, lr=1e-4, hidden_dim=500)
    return bench, note


def _config(kind: str, members: int, measure: str):
    from hmc.rare_nodes import RareNodeConfig

    if kind == "plain":
        return RareNodeConfig(loss="plain", n_members=members)
    return RareNodeConfig(loss="focal", measure=measure, n_members=members,
                          members="mc_dropout" if kind == "mc_dropout" else "ensemble")


def _make_run(bench, kind: str, args):
    import torch

    from hmc.rare_nodes import _Run
    from hmc.train import chmcnn_settings

    settings = chmcnn_settings(bench)
    return _Run(bench, list(range(args.seeds)), _config(kind, args.members, args.measure), settings,
                torch.device(args.device), "fused")


def _stepper(run):
    """Endless training steps of ``run`` (each seed's data order, epoch after epoch); yields after each step."""
    from hmc.rare_nodes import SchedulePosition

    bs = run.settings["batch_size"]
    n = run.n_rows
    per_epoch = -(-n // bs)
    step = 0
    while True:
        perm = run.permutations()
        for i, start in enumerate(range(0, n, bs)):
            xb, yb = run.batch(perm[:, start : start + bs])
            run.loss_and_grad(xb, yb, SchedulePosition(i, per_epoch, step, per_epoch))
            run.opt.step()
            step += 1
            yield step


def worker(args) -> dict:
    """Peak memory of one variant's set-up and steps, in this (fresh) process."""
    import torch

    from hmc.memory import allocator_peak, reset_peak_rss, state_bytes, status_kib
    from hmc.train import _torch_state

    bench, _ = _load(args.dataset)
    out = {"variant": args.variant}
    with _torch_state(args.threads or None, args.device == "cpu"):
        if args.device == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            run = _make_run(bench, args.variant, args)
            steps = _stepper(run)
            for _ in range(args.warmup + args.block):
                next(steps)
            torch.cuda.synchronize()
            out["peak"] = int(torch.cuda.max_memory_allocated() - base)
            out["peak_method"] = "torch.cuda.max_memory_allocated"
        else:  # the RSS first, in the fresh process (later runs would reuse freed memory), then the profiler
            base_rss = status_kib("VmRSS")
            clear = base_rss is not None and reset_peak_rss()
            if not clear:
                base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            run = _make_run(bench, args.variant, args)
            steps = _stepper(run)
            for _ in range(args.warmup + args.block):
                next(steps)
            now = status_kib("VmHWM") if clear else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out["peak_rss"] = (now - base_rss) * 1024
            out["rss_method"] = "VmHWM after clear_refs" if clear else "ru_maxrss (set-up included)"
            out["state_bytes"] = state_bytes(run.model)
            del run, steps

            def set_up_and_step():
                steps = _stepper(_make_run(bench, args.variant, args))
                for _ in range(3):
                    next(steps)

            out["peak"] = allocator_peak(set_up_and_step).bytes
            out["peak_method"] = "profiler 'Total Allocated' (torch CPU allocator), set-up + 3 steps"
            return out
        out["state_bytes"] = state_bytes(run.model)
    return out


def _memory(args, variant: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--variant", variant, "--dataset", args.dataset,
           "--members", str(args.members), "--measure", args.measure, "--seeds", str(args.seeds),
           "--threads", str(args.threads), "--device", args.device, "--warmup", str(args.warmup),
           "--block", str(args.block)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"memory worker for {variant} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def time_steps(runs: dict, args) -> dict[str, float]:
    """Median ms/step of each run over interleaved blocks of ``args.block`` steps, after a warm-up."""
    import numpy as np
    import torch

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    steppers = {name: _stepper(run) for name, run in runs.items()}
    for steps in steppers.values():
        for _ in range(args.warmup):
            next(steps)
    sync()
    blocks: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(max(1, args.steps // args.block)):
        for name, steps in steppers.items():
            t0 = time.perf_counter()
            for _ in range(args.block):
                next(steps)
            sync()
            blocks[name].append((time.perf_counter() - t0) / args.block * 1e3)
    return {name: float(np.median(ms)) for name, ms in blocks.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="cellcycle_FUN", help="a benchmark name, or 'synthetic'")
    p.add_argument("--members", type=int, default=5, help="H, members per seed (ensemble) or passes (MC-dropout)")
    p.add_argument("--measure", default="epistemic_js", help="uncertainty measure of the focal loss")
    p.add_argument("--steps", type=int, default=60, help="timed steps per variant")
    p.add_argument("--block", type=int, default=10, help="steps per timed block (variants interleave)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps per variant first")
    p.add_argument("--seeds", type=int, default=1, help="seeds side by side (S)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    import torch

    from hmc.memory import state_bytes
    from hmc.train import _torch_state

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    started = time.perf_counter()
    bench, note = _load(args.dataset)
    h = args.members
    with _torch_state(args.threads or None, args.device == "cpu"):
        threads = torch.get_num_threads()
        runs = {kind: _make_run(bench, kind, args) for kind in ("plain", "focal", "mc_dropout")}
        ms = time_steps(runs, args)
    x_dim, c = bench.x_train.shape[1], len(bench.hierarchy)
    hidden = runs["plain"].settings["hidden_dim"]
    dev = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, {threads} thread(s)"
    print(f"bench_focal: {getattr(bench, 'name', args.dataset)} {note}".rstrip())
    print(f"  {x_dim} features, {c} nodes, hidden {hidden}, batch 4, {args.seeds} seed(s) x H = {h}; {dev}; "
          f"torch {torch.__version__}; load average {_loadavg()}")
    print(f"  median ms/step over {max(1, args.steps // args.block)} interleaved blocks of {args.block} steps "
          f"(after {args.warmup} warm-up steps each)")
    ratio = ms["focal"] / ms["plain"]
    ok = ratio <= TARGET_RATIO
    print(f"\n1. loss cost, deep ensemble H = {h}")
    print(f"   (a) plain MCLoss ensemble                 {ms['plain']:8.2f} ms/step")
    print(f"   (b) focal W (m + u^k) BCE, {args.measure:<14} {ms['focal']:8.2f} ms/step")
    print(f"   ratio (b)/(a) = {ratio:.3f}  (target <= {TARGET_RATIO}: {'met' if ok else 'MISSED'})")

    mc_ratio = ms["mc_dropout"] / ms["focal"]
    print(f"\n2. deep ensemble vs MC-dropout, focal ({args.measure}), H = {h}")
    print(f"   time      ensemble {ms['focal']:8.2f} ms/step   MC-dropout {ms['mc_dropout']:8.2f} ms/step   "
          f"ratio MC/ensemble {mc_ratio:.3f} (time cut {1 - mc_ratio:.0%}; claim ~{CLAIM_TIME_CUT:.0%})")
    ens_state, mc_state = state_bytes(runs["focal"].model), state_bytes(runs["mc_dropout"].model)
    print(f"   training state (params + grads + 2 Adam moments): ensemble {fmt_bytes(ens_state)}, "
          f"MC-dropout {fmt_bytes(mc_state)}, ratio {mc_state / ens_state:.3f}")
    if not args.no_memory:
        mem = {v: _memory(args, v) for v in ("focal", "mc_dropout")}
        e, m = mem["focal"], mem["mc_dropout"]
        if e["peak"] and m["peak"]:
            cut = 1 - m["peak"] / e["peak"]
            print(f"   peak memory ({e['peak_method']}): ensemble {fmt_bytes(e['peak'])}, MC-dropout "
                  f"{fmt_bytes(m['peak'])}, ratio {m['peak'] / e['peak']:.3f} (memory cut {cut:.0%}; "
                  f"claim ~{CLAIM_MEMORY_CUT:.0%})")
        if "peak_rss" in e:
            print(f"   peak RSS increase ({e['rss_method']}, set-up + {args.warmup + args.block} steps): ensemble "
                  f"{fmt_bytes(e['peak_rss'])}, MC-dropout {fmt_bytes(m['peak_rss'])}")
    print(f"\n  wall time {time.perf_counter() - started:.1f} s; load average {_loadavg()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
