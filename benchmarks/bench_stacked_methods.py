"""K rare-node methods of one dataset in one stacked model vs the K runs one after another.

    python benchmarks/bench_stacked_methods.py [--dataset cellcycle_FUN] [--seeds 5] [--epochs 1]
        [--methods baseline-H2,imbalance-neg-H2,focal-bma-H2] [--device cpu] [--rounds 3]

Both sides run in one process, alternating for ``--rounds`` rounds (so that a change of the
machine's load does not favour one side), at the current torch thread count (``OMP_NUM_THREADS``),
on the spec's settings for the dataset except the number of epochs: the separate runs are
:func:`hmc.rare_nodes.train_rare_nodes`, one per method (the plain path), the stacked run
:func:`hmc.stacked_methods.train_stacked_methods`. It prints each side's training time per step (all
networks of the side) in every round and its median, the ratio of the medians, whether every
method's test predictions are bitwise equal between the sides, and the load average at the start
and the end (another busy process changes the times, not the results).
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
import torch

from hmc.data import load_benchmark
from hmc.rare_nodes import train_rare_nodes
from hmc.stacked_methods import train_stacked_methods


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="cellcycle_FUN")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--methods", default="baseline-H2,imbalance-neg-H2,focal-bma-H2")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    bench = load_benchmark(args.dataset)
    methods, seeds = args.methods.split(","), list(range(args.seeds))
    common = dict(epochs=args.epochs, device=args.device, progress=False, num_threads=torch.get_num_threads())
    print(f"{bench.name}: {len(methods)} methods x {len(seeds)} seeds, {args.epochs} epoch(s), "
          f"{torch.get_num_threads()} thread(s), device {args.device}; load average {os.getloadavg()[0]:.2f}")
    times: dict[str, list[float]] = {"separate": [], "stacked": []}
    for _ in range(args.rounds):
        separate = [train_rare_nodes(bench, seeds, m, **common) for m in methods]
        times["separate"].append(sum(r.extra["fit_s"] for r in separate) / separate[0].n_steps * 1e3)
        stacked = train_stacked_methods(bench, seeds, methods, **common)
        times["stacked"].append(stacked[0].extra["fit_s"] / stacked[0].n_steps * 1e3)
    med = {side: statistics.median(ts) for side, ts in times.items()}
    networks = len(methods) * len(seeds) * separate[0].extra["config"]["n_members"]
    for side, label in (("separate", "separate runs (the plain path)"), ("stacked", "stacked model")):
        print(f"{label + ':':32s} {med[side]:.2f} ms per step of all {networks} networks, median of "
              f"{args.rounds} (rounds: {', '.join(f'{t:.2f}' for t in times[side])})")
    print(f"ratio separate / stacked {med['separate'] / med['stacked']:.2f}")
    for m, a, b in zip(methods, separate, stacked, strict=True):
        print(f"  {m}: predictions bitwise equal {np.array_equal(a.predictions, b.predictions)}; "
              f"AU(PRC) {np.round(b.au_prc, 4).tolist()}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
