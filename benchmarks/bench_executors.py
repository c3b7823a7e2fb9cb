"""The same small sweep on the local executor and on a Ray cluster of W workers, in one run.

    python benchmarks/bench_executors.py [--units 40] [--workers 2] [--epochs 2]

Each unit is one seed of a tiny rare-node ensemble on a synthetic hierarchy (a fraction of a second
of training), so the difference between the two wall times is mostly the executor's own cost:
starting the cluster, shipping tasks and results, and the first torch import of each worker. It
prints both wall times, their ratio, the cluster's start-up time, and the overhead per unit
(cluster time x workers - local time, over the units), with the load average before and after:
measure on a quiet machine (nothing else running), since both sides share its cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import torch

from hmc.runs.executors import LocalExecutor, RayExecutor
from hmc.runs.sweep import Unit, run_sweep
from hmc.synthetic import make_benchmark


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    import ray

    torch.set_num_threads(1)
    bench = dataclasses.replace(make_benchmark(n_samples=160, depth=3, branching=2, n_features=6,
                                               split=(0.5, 0.1, 0.4), epochs=args.epochs, hidden_dim=8, seed=0),
                                name="syn")
    units = [Unit("syn", "baseline-H2", s) for s in range(args.units)]
    kw = dict(load={"syn": bench}.__getitem__, seeds_per_batch=1, progress=False, num_threads=1)
    print(f"{args.units} units (one seed of baseline-H2 each, {args.epochs} epochs on a synthetic hierarchy); "
          f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_sweep(units, Path(tmp) / "local.csv", executor=LocalExecutor(), **kw)
        local = time.perf_counter() - t0
        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(units, Path(tmp) / "ray.csv", executor=RayExecutor(cpus_per_task=1), **kw)
        cluster = time.perf_counter() - t0
        ray.shutdown()
    per_unit = (cluster * args.workers - local) / args.units
    print(f"local executor:           {local:7.1f} s ({local / args.units * 1000:.0f} ms per unit)")
    print(f"Ray, {args.workers} workers:           {cluster:7.1f} s, plus {start:.1f} s to start the cluster")
    print(f"ratio local / Ray:        {local / cluster:7.2f}x (ideal {args.workers}x with no overhead)")
    print(f"Ray overhead per unit:    {per_unit * 1000:7.0f} ms of worker time (cluster time x workers - local time,"
          f" over the units)")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
