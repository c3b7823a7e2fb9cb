"""The image networks in channels-last (NHWC) against the default NCHW memory format, on this CPU.

    python benchmarks/bench_image_memory_format.py [--backbone conv4] [--width 64] [--rounds 3] [--method hcal]

Omniglot at 28 px. The network of :mod:`hmc.image_train` (built as a run builds it, so in
:data:`hmc.image_train.MEMORY_FORMAT`) and a copy in NCHW, with the same weights, timed round by round
(interleaved, so both see the same load) at the current torch thread count (``OMP_NUM_THREADS``):

* ``train``: 40 steps of batch 32: forward, a sum-of-squares loss of the outputs, backward (the
  network's share of a training step; the loss and the optimiser do not depend on the format);
* ``eval``: a forward pass under ``inference_mode`` over 2,048 test images in batches of 512.

It prints the median round of each, the ratio NCHW / channels-last (above 1: channels-last is
faster), the largest difference of the two formats' outputs, and the load average beside them.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from hmc.data import load_image_hierarchy
from hmc.image_train import _Run, method_config


def _outputs(out) -> list[torch.Tensor]:
    return [o for o in (out if isinstance(out, (list, tuple)) else [out]) if isinstance(o, torch.Tensor)]


def train_time(model, x: torch.Tensor) -> float:
    start = time.perf_counter()
    for i in range(0, len(x), 32):
        loss = sum(o.float().square().mean() for o in _outputs(model(x[i : i + 32])))
        model.zero_grad(set_to_none=True)
        loss.backward()
    return time.perf_counter() - start


def eval_time(model, x: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(x), 512):
            model(x[i : i + 512])
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="conv4")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--method", default="hcal")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    data = load_image_hierarchy("omniglot", size=28, validation=True)
    extra = {"width": args.width} if args.backbone == "conv4" else {}
    run = _Run(data, method_config(args.method, 1, backbone=args.backbone, device="cpu", **extra), torch.device("cpu"))
    fast = run.model
    plain = copy.deepcopy(fast).to(memory_format=torch.contiguous_format)
    norm = lambda x: (x.float() / 255 - run.mean) / run.std  # noqa: E731
    x_train, x_test = norm(data.x_train[: 32 * 40]), norm(data.x_test[:2048])
    cl = lambda x: x.contiguous(memory_format=torch.channels_last)  # noqa: E731
    print(f"{args.method} on {args.backbone}{'-w' + str(args.width) if extra else ''}, omniglot 28 px, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} rounds")
    for name, timer, x in (("train", train_time, x_train), ("eval", eval_time, x_test)):
        for model in (plain, fast):
            model.train(name == "train")
        rounds = [(timer(plain, x), timer(fast, cl(x))) for _ in range(args.rounds)]
        a, b = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
        print(f"{name:>5}: NCHW {a:.2f} s, channels-last {b:.2f} s, ratio {a / b:.2f}")
    plain.eval(), fast.eval()
    with torch.inference_mode():
        diff = max(float((u - v).abs().max()) for u, v in zip(_outputs(plain(x_test[:512])),
                                                              _outputs(fast(cl(x_test[:512])))))
    print(f"largest output difference {diff:.2e}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
