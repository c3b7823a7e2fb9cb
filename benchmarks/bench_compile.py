"""What ``torch.compile`` would buy the C-HMCNN step's loss on this CPU, and what it would cost.

    python benchmarks/bench_compile.py [--dataset cellcycle_FUN] [--seeds 1,10] [--calls 300]

The part of a tabular training step that is neither a GEMM nor Adam is the loss: the member
sigmoid, MCM, MCLoss and their gradient by hand (:func:`hmc.constraint.mc_loss_and_grad`), a few
dozen small float64 operations on ``(S, 4, C)`` tensors. This times that function eagerly (the
plain path, what the trainers run) and compiled by ``torch.compile`` (inductor, ``dynamic=False``),
at the current torch thread count, for each ``--seeds`` count at batch 4, and prints the time per
call of each, their ratio, the compile time (paid once per input shape: a run compiles twice, for
the full batches and the last, shorter one; 44 s for S = 10 with a cold inductor cache, a few
seconds once ``/tmp/torchinductor_<user>`` holds the kernels) and the largest difference of the loss and gradient
(the compiled kernels round differently, so a compiled trainer could not equal the stored units bit
for bit). The load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from hmc.constraint import MaxConstraint, mc_loss_and_grad
from hmc.data import load_benchmark
from hmc.models import member_sigmoid


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="cellcycle_FUN")
    p.add_argument("--seeds", default="1,10")
    p.add_argument("--calls", type=int, default=300)
    args = p.parse_args(argv)
    bench = load_benchmark(args.dataset)
    y = torch.as_tensor(np.concatenate([bench.y_train, bench.y_valid]).astype(np.uint8))
    n, c = y.shape
    mcm = MaxConstraint(bench.hierarchy)
    eval_idx = torch.as_tensor(np.asarray(bench.eval_nodes, dtype=np.int64))
    scale = 1.0 / (4 * len(eval_idx))

    def step_loss(z: torch.Tensor, yb: torch.Tensor):
        probs = member_sigmoid(z)
        loss, grad = mc_loss_and_grad(probs, yb, mcm, eval_idx, grad_scale=scale)
        return loss.mean(dim=(1, 2)), torch.ops.aten.sigmoid_backward(grad, probs)

    print(f"{bench.name}: {c} nodes, batch 4, {torch.get_num_threads()} thread(s), torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}")
    for s in (int(v) for v in args.seeds.split(",")):
        gen = torch.Generator().manual_seed(s)
        z = torch.randn(s, 4, c, generator=gen)
        yb = y[torch.randint(0, n, (s, 4), generator=gen)]
        compiled = torch.compile(step_loss, dynamic=False)
        t0 = time.perf_counter()
        got = compiled(z, yb)
        compile_s = time.perf_counter() - t0
        ref = step_loss(z, yb)
        times = {}
        for name, fn in (("eager", step_loss), ("compiled", compiled)):
            for _ in range(20):
                fn(z, yb)
            t0 = time.perf_counter()
            for _ in range(args.calls):
                fn(z, yb)
            times[name] = (time.perf_counter() - t0) / args.calls
        print(f"S={s}: eager (the plain path) {times['eager'] * 1e3:.3f} ms, compiled {times['compiled'] * 1e3:.3f} ms "
              f"per call, ratio {times['eager'] / times['compiled']:.2f}; compile {compile_s:.1f} s; largest "
              f"difference: loss {(got[0] - ref[0]).abs().max().item():.1e}, gradient "
              f"{(got[1] - ref[1]).abs().max().item():.1e}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
