"""Benchmark: the sparse max constraint module (MCM) against the dense reference, on cellcycle_GO.

    python benchmarks/bench_mcm.py [--device cpu|cuda] [--repeats N] [--threads T] [--dtype float64]
                                   [--batches 4 256] [--candidates]

Measures, in one run, forward+backward (and forward alone) of

* ``levels``: :class:`hmc.constraint.MaxConstraint`, the library's default (level-by-level forward,
  argmax backward),
* ``pairs``: the same module with ``method="pairs"`` (gather over all ancestor/descendant pairs and
  ``scatter_reduce``, autograd backward), the other exact candidate,
* ``dense``: :func:`hmc.constraint.max_constraint_dense`, the ``(B, C, C)`` reference,

at batch 4 (the C-HMCNN training batch) and 256, in float64 as in the reference training. The
backward is that of a fixed random linear functional of the output.

Each (path, batch) runs in a fresh subprocess. After the set-up (hierarchy, index or dense mask R,
inputs) and one warm-up call it measures one forward+backward's peak memory above the level before
it, two ways on CPU:

* peak alloc: bytes held by torch's CPU allocator, from the profiler's memory events (their
  ``Total Allocated`` running total); exact, and the basis of the memory ratio;
* peak RSS: the process's resident-set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``; else ``ru_maxrss``) minus the RSS before; the OS view, which misses
  memory that malloc reuses from earlier frees, so small numbers there are only indicative;

on CUDA ``torch.cuda.max_memory_allocated``. Then ``--repeats`` timed calls: median wall time of
forward+backward and of forward alone (under ``no_grad``). A dense run whose estimated need exceeds
80% of the available memory is not started: the table says "infeasible" with the bytes it needs.

``--candidates`` first times, in-process, the other forms that were tried for the default (see
:func:`candidates`). The exit status is 1 when the batch-4 target is missed. On a shared, loaded
CPU the multi-threaded timings jump between runs (idle OpenMP workers wake up late); ``--threads 1``
gives steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCHES = (4, 256)
PATHS = ("levels", "pairs", "dense")
TARGET_TIME, TARGET_MEMORY = 10.0, 20.0  # at batch 4: dense/fast


# ----------------------------------------------------------------------------------- hierarchy
def go_edges() -> list[tuple[str, str]]:
    """The cellcycle_GO edges: from hmc.data.load_benchmark, else from the ARFF header."""
    from hmc import Hierarchy  # noqa: F401  (fail early if the package is missing)

    try:
        from hmc.data import load_benchmark

        hier = load_benchmark("cellcycle_GO").hierarchy
        parent, child = hier.edges
        return [(hier.nodes[p], hier.nodes[c]) for p, c in zip(parent, child, strict=True)]
    except (ImportError, AttributeError):
        pass
    from hmc.data import find

    path = find("hmc_datasets/HMC_data/datasets_GO/cellcycle_GO/cellcycle_GO.train.arff")
    with open(path) as fh:
        for line in fh:
            m = re.match(r"@ATTRIBUTE\s+class\s+hierarchical\s+(\S+)", line, re.IGNORECASE)
            if m:
                return [tuple(e.split("/")) for e in m.group(1).split(",")]
    raise SystemExit(f"no hierarchical class attribute in {path}")


# ----------------------------------------------------------------------------------- worker
def worker(args) -> dict:
    """One (path, batch) measurement; returns a JSON-able dict."""
    import numpy as np
    import torch

    from hmc import Hierarchy
    from hmc.constraint import MaxConstraint, ancestor_mask, max_constraint_dense
    from hmc.memory import allocator_peak, reset_peak_rss, status_kib

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    hier = Hierarchy.from_edges(tuple(e) for e in json.loads(Path(args.edges).read_text()))
    C = len(hier)
    if args.path == "dense":
        R = ancestor_mask(hier, device=device)

        def f(x):
            return max_constraint_dense(x, R)
    else:
        mcm = MaxConstraint(hier).to(device)

        def f(x):
            return mcm(x, method=args.path)

    gen = torch.Generator().manual_seed(0)
    h = torch.rand(args.batch, C, dtype=dtype, generator=gen).to(device).requires_grad_()
    w = torch.randn(args.batch, C, dtype=dtype, generator=gen).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def fwd_bwd():
        (g,) = torch.autograd.grad((f(h) * w).sum(), h)
        return g

    def fwd():
        with torch.no_grad():
            return f(h)

    fwd_bwd()  # warm-up
    sync()
    out = {"path": args.path, "batch": args.batch, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fwd_bwd()
        sync()
        out["peak_alloc"] = int(torch.cuda.max_memory_allocated(device) - base)
        out["alloc_method"] = "torch.cuda.max_memory_allocated"
    else:
        base_rss = status_kib("VmRSS")
        if base_rss is not None and reset_peak_rss():
            fwd_bwd()
            out["peak_rss"] = (status_kib("VmHWM") - base_rss) * 1024
            out["rss_method"] = "VmHWM after clear_refs"
        else:  # a fresh process: ru_maxrss is the peak since start, set-up included
            base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            fwd_bwd()
            out["peak_rss"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) * 1024
            out["rss_method"] = "ru_maxrss"
        out["peak_alloc"] = allocator_peak(fwd_bwd).bytes
        out["alloc_method"] = "profiler 'Total Allocated' (CPU allocator)"
    times, ftimes = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fwd_bwd()
        sync()
        t1 = time.perf_counter()
        fwd()
        sync()
        t2 = time.perf_counter()
        times.append(t1 - t0)
        ftimes.append(t2 - t1)
    out["fwd_bwd_s"] = float(np.median(times))
    out["fwd_s"] = float(np.median(ftimes))
    return out


# ----------------------------------------------------------------------------------- candidates
def candidates(args, hier) -> None:
    """Time the forms tried for the default (in this process, no memory figures).

    * levels: the library default (node-major level-by-level forward, argmax backward);
    * pairs: library ``method="pairs"`` (gather over the pairs + ``scatter_reduce``, autograd);
    * segment: gather over the pairs sorted by ancestor + ``torch.segment_reduce(max)``, autograd;
    * levels-autograd: level by level in batch-major layout, out-of-place ``scatter_reduce`` per level,
      differentiated by autograd (same values; with ties its gradient split differs from dense amax:
      a tie at depth k is split level by level, not evenly).

    The check column compares values and gradients with ``levels`` on tie-free random scores.
    """
    import numpy as np
    import torch

    from hmc.constraint import MaxConstraint

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    mcm = MaxConstraint(hier).to(device)
    anc, desc = hier.descendant_pairs(include_self=True)  # CSR order: sorted by ancestor
    desc_t = torch.as_tensor(desc, device=device)
    lengths = torch.as_tensor(np.bincount(anc, minlength=len(hier)), device=device)

    def segment(x):
        vals = x.reshape(-1, x.shape[-1]).t().index_select(0, desc_t)
        return torch.segment_reduce(vals, "max", lengths=lengths, axis=0).t().reshape(x.shape)

    def levels_autograd(x):
        out = x.reshape(-1, x.shape[-1])
        for parent, child, _, _ in mcm.levels():
            idx = parent.unsqueeze(0).expand(out.shape[0], -1)
            out = out.scatter_reduce(1, idx, out.index_select(1, child), "amax", include_self=True)
        return out.reshape(x.shape)

    forms = {
        "levels": mcm,
        "pairs": lambda x: mcm(x, method="pairs"),
        "segment": segment,
        "levels-autograd": levels_autograd,
    }

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    print(f"candidates (same process, torch threads {torch.get_num_threads()}, median of {args.repeats}):")
    print(f"{'batch':>5}  {'form':<16} {'fwd+bwd ms':>11} {'fwd ms':>9}  check vs levels")
    for batch in args.batches:
        gen = torch.Generator().manual_seed(1)
        h = torch.rand(batch, len(hier), dtype=dtype, generator=gen).to(device).requires_grad_()
        w = torch.randn(batch, len(hier), dtype=dtype, generator=gen).to(device)
        ref = None
        for name, f in forms.items():
            times, ftimes = [], []
            for i in range(args.repeats + 1):
                t0 = time.perf_counter()
                out = f(h)
                (g,) = torch.autograd.grad((out * w).sum(), h)
                sync()
                t1 = time.perf_counter()
                with torch.no_grad():
                    f(h)
                sync()
                t2 = time.perf_counter()
                if i:
                    times.append(t1 - t0)
                    ftimes.append(t2 - t1)
            if ref is None:
                ref, check = (out.detach(), g), "-"
            else:
                same = torch.equal(out.detach(), ref[0]) and torch.allclose(g, ref[1], rtol=1e-12, atol=1e-12)
                check = "values and gradients equal" if same else "MISMATCH"
            print(f"{batch:>5}  {name:<16} {np.median(times) * 1e3:>11.3f} {np.median(ftimes) * 1e3:>9.3f}  {check}")
    print()


# ----------------------------------------------------------------------------------- driver
def dense_bytes(batch: int, C: int, itemsize: int) -> int:
    """Estimated peak of the dense forward+backward: the masked (B, C, C) tensor, amax's backward
    (a same-sized gradient and a bool mask)."""
    return batch * C * C * (2 * itemsize + 1)


def available_bytes(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=10, help="timed calls per path and batch (dense: at most 5)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    p.add_argument("--candidates", action="store_true", help="also time the other exact forms tried (in-process)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--edges", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    edges = go_edges()
    from hmc import Hierarchy

    hier = Hierarchy.from_edges(edges)
    C = len(hier)
    n_pairs = int(hier.ancestor_matrix.nnz)
    itemsize = torch.empty((), dtype=getattr(torch, args.dtype)).element_size()
    print(f"MCM benchmark: cellcycle_GO, C={C} nodes, {len(edges)} edges, {n_pairs} (ancestor, descendant) pairs "
          f"incl. self, depth {int(hier.depth.max())}")
    if args.device == "cuda":
        device_name = torch.cuda.get_device_name()
    else:
        device_name = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    dense_repeats = min(args.repeats, 5)
    print(f"device {args.device} ({device_name}), torch {torch.__version__}, dtype {args.dtype}, "
          f"median of {args.repeats} timed calls ({dense_repeats} for dense) after 1 warm-up, "
          "each (path, batch) in a fresh subprocess")

    if args.candidates:
        candidates(args, hier)

    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        edges_file = Path(tmp) / "edges.json"
        edges_file.write_text(json.dumps(edges))
        for batch in args.batches:
            for path in PATHS:
                if path == "dense":
                    need, avail = dense_bytes(batch, C, itemsize), available_bytes(args.device)
                    if need > 0.8 * avail:
                        results[(path, batch)] = {"infeasible": True, "need": need, "avail": avail}
                        continue
                repeats = dense_repeats if path == "dense" else args.repeats
                cmd = [sys.executable, __file__, "--worker", "--path", path, "--batch", str(batch),
                       "--edges", str(edges_file), "--device", args.device, "--repeats", str(repeats),
                       "--threads", str(args.threads), "--dtype", args.dtype]
                run = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if run.returncode:
                    results[(path, batch)] = {"error": (run.stderr.strip().splitlines() or ["?"])[-1]}
                    continue
                results[(path, batch)] = json.loads(run.stdout.strip().splitlines()[-1])

    first = next((r for r in results.values() if "alloc_method" in r), {})
    print(f"torch threads {first.get('threads', '?')}; peak alloc = {first.get('alloc_method', '?')}"
          + (f"; peak RSS = {first['rss_method']}" if "rss_method" in first else "")
          + ", both above the level before one forward+backward")
    print()
    header = (f"{'batch':>5}  {'path':<7} {'fwd+bwd ms':>11} {'fwd ms':>9} {'peak alloc':>11} {'peak RSS':>11}"
              f"  {'dense/x time':>12}  {'dense/x alloc':>13}")
    print(header)
    print("-" * len(header))
    verdict = None
    for batch in args.batches:
        dense = results.get(("dense", batch), {})
        for path in PATHS:
            r = results[(path, batch)]
            if "infeasible" in r:
                print(f"{batch:>5}  {path:<7} infeasible, not run: needs ~{fmt_bytes(r['need'])} "
                      f"(B*C*C*(2*{itemsize}+1) bytes), {fmt_bytes(r['avail'])} available")
                continue
            if "error" in r:
                print(f"{batch:>5}  {path:<7} failed: {r['error']}")
                continue
            t_ratio = m_ratio = ""
            if "fwd_bwd_s" in dense:
                t = dense["fwd_bwd_s"] / r["fwd_bwd_s"]
                m = None
                if dense.get("peak_alloc") and r.get("peak_alloc") is not None:
                    m = dense["peak_alloc"] / max(r["peak_alloc"], 1)
                t_ratio = f"{t:.1f}x"
                m_ratio = f"{m:.0f}x" if m is not None else "?"
                if path == "levels" and batch == 4:
                    verdict = t >= TARGET_TIME and m is not None and m >= TARGET_MEMORY
            rss = fmt_bytes(r["peak_rss"]) if "peak_rss" in r else "-"
            alloc = fmt_bytes(r["peak_alloc"]) if r.get("peak_alloc") is not None else "?"
            print(f"{batch:>5}  {path:<7} {r['fwd_bwd_s'] * 1e3:>11.3f} {r['fwd_s'] * 1e3:>9.3f} {alloc:>11} {rss:>11}"
                  f"  {t_ratio:>12}  {m_ratio:>13}")
    print()
    if verdict is not None:
        print(f"target at batch 4 (levels vs dense: >= {TARGET_TIME:.0f}x faster forward+backward, "
              f">= {TARGET_MEMORY:.0f}x less peak memory): " + ("PASS" if verdict else "FAIL"))
    return 0 if verdict in (None, True) else 1


if __name__ == "__main__":
    sys.exit(main())
