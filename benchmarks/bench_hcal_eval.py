"""What HCAL's evaluation costs beside its training, in the evidence setting of chapter 06.

    python benchmarks/bench_hcal_eval.py [--share 0.1] [--epochs 30] [--eval-every 5] [--method hcal]

All of Omniglot at 28 px with the validation split, the Conv-4 of width 64, batch 32, at the current
torch thread count (``OMP_NUM_THREADS``). Three timed runs of :func:`hmc.image_train.train_image_model`
with ``epochs=2, eval_every=2`` on the first ``--share`` of the training images (the test and
validation splits whole): epoch 1 trains only, epoch 2 trains and evaluates, so

* ``train`` = the time to the end of epoch 1, scaled by ``1 / share`` to a whole epoch;
* ``eval`` = (epoch 2's time - epoch 1's) of the run without robustness: the evaluation of test and
  validation (per-level accuracy, full path, HVR, consistent decoding);
* ``robust`` = the same difference with ``robustness_sigmas`` (0.05, 0.1, 0.2) minus ``eval``: the
  robustness curve, measured once, at the last epoch.

It prints the evaluation's share of a unit of ``--epochs`` epochs evaluated every epoch (the plain
path) and every ``--eval-every`` epochs (the ``full`` profile), the ratio of the two, and the load
average beside them (another busy process changes the times).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from hmc.data import load_image_hierarchy
from hmc.image_train import method_config, train_image_model


def epoch_times(data, method: str, sigmas: tuple[float, ...]) -> tuple[float, float]:
    """(seconds to the end of epoch 1, seconds of epoch 2) of a 2-epoch run evaluated at epoch 2 only."""
    config = method_config(method, 2, schedule="cosine", backbone="conv4", width=64, device="cpu", eval_every=2,
                           robustness_sigmas=sigmas)
    marks = [time.perf_counter()]
    train_image_model(data, config, progress=False, on_epoch_end=lambda e: marks.append(time.perf_counter()))
    return marks[1] - marks[0], marks[2] - marks[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--share", type=float, default=0.1, help="share of the training images trained on")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--method", default="hcal")
    args = p.parse_args()
    data = load_image_hierarchy("omniglot", size=28, validation=True)
    n = int(len(data.x_train) * args.share)
    sub = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    print(f"omniglot 28 px: {len(data.x_train)} training, {len(data.x_val)} validation, {len(data.x_test)} test "
          f"images; {args.method} on conv4-w64, batch 32, {torch.get_num_threads()} thread(s); trained on {n}")
    first, second = epoch_times(sub, args.method, ())
    _, second_robust = epoch_times(sub, args.method, (0.05, 0.1, 0.2))
    train = first / args.share
    evaluation = max(0.0, second - first)
    robust = max(0.0, second_robust - second)
    every = -(-args.epochs // args.eval_every)  # evaluations at k, 2k, ... and always the last epoch
    plain = args.epochs * evaluation / (args.epochs * train + args.epochs * evaluation)
    now = (every * evaluation + robust) / (args.epochs * train + every * evaluation + robust)
    print(f"train {train:.1f} s per epoch; evaluation (test + validation) {evaluation:.2f} s "
          f"({evaluation / train:.1%} of an epoch); robustness at 3 sigmas {robust:.2f} s, once")
    print(f"share of a {args.epochs}-epoch unit spent evaluating: every epoch {plain:.1%}; every {args.eval_every} "
          f"epochs {now:.1%} (with the robustness curve); ratio {now / plain:.2f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
