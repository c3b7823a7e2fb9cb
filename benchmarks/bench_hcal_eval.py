"""What HCAL's evaluation costs beside its training, in the evidence setting of chapter 06.

    python benchmarks/bench_hcal_eval.py [--share 0.1] [--epochs 30] [--eval-every 5] [--method hcal]

All of Omniglot at 28 px with the validation split, the Conv-4 of width 64, batch 32, at the current
torch thread count (``OMP_NUM_THREADS``). Three timed runs of :func:`hmc.image_train.train_image_model`
with ``epochs=2, eval_every=2`` on the first ``--share`` of the training images (the test and
validation splits whole): epoch 1 trains only, epoch 2 trains and evaluates, so

* ``train`` = the time to the end of epoch 1, scaled by ``1 / share`` to a whole epoch;
* ``eval`` = (epoch 2's time - epoch 1's) of a run without robustness: the evaluation of test and
  validation (per-level accuracy, full path, HVR, consistent decoding), once at 512 images per
  forward pass (the plain path, the former default) and once at
  :data:`hmc.image_train.EVAL_BATCH_SIZE`;
* ``robust`` = the same difference with ``robustness_sigmas`` (0.05, 0.1, 0.2) minus ``eval``: the
  robustness curve, measured once, at the last epoch.

It prints the ratio of the two evaluations, the evaluation's share of a unit of ``--epochs`` epochs
evaluated every epoch and every ``--eval-every`` epochs (the ``full`` profile), and the load average
beside them (another busy process changes the times).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from hmc.data import load_image_hierarchy
from hmc.image_train import EVAL_BATCH_SIZE, method_config, train_image_model

PLAIN_EVAL_BATCH = 512


def epoch_times(data, method: str, sigmas: tuple[float, ...], eval_batch: int) -> tuple[float, float]:
    """(seconds to the end of epoch 1, seconds of epoch 2) of a 2-epoch run evaluated at epoch 2 only."""
    config = method_config(method, 2, schedule="cosine", backbone="conv4", width=64, device="cpu", eval_every=2,
                           robustness_sigmas=sigmas)
    marks = [time.perf_counter()]
    train_image_model(data, config, progress=False, eval_batch_size=eval_batch,
                      on_epoch_end=lambda e: marks.append(time.perf_counter()))
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
    first_plain, second_plain = epoch_times(sub, args.method, (), PLAIN_EVAL_BATCH)
    first, second = epoch_times(sub, args.method, (), EVAL_BATCH_SIZE)
    _, second_robust = epoch_times(sub, args.method, (0.05, 0.1, 0.2), EVAL_BATCH_SIZE)
    train = (first + first_plain) / 2 / args.share
    plain = max(0.0, second_plain - first_plain)
    evaluation = max(0.0, second - first)
    robust = max(0.0, second_robust - second)
    every = -(-args.epochs // args.eval_every)  # evaluations at k, 2k, ... and always the last epoch
    print(f"train {train:.1f} s per epoch; evaluation (test + validation) {plain:.2f} s at {PLAIN_EVAL_BATCH} images "
          f"per pass, {evaluation:.2f} s at {EVAL_BATCH_SIZE}: ratio {plain / evaluation:.2f}; robustness at "
          f"3 sigmas {robust:.2f} s, once")
    for name, cost in ((str(PLAIN_EVAL_BATCH), plain), (str(EVAL_BATCH_SIZE), evaluation)):
        per_epoch = every * cost / args.epochs
        unit = (every * cost + robust) / (args.epochs * train + every * cost + robust)
        print(f"at {name} per pass: one evaluation {cost / train:.1%} of an epoch; every {args.eval_every} epochs "
              f"{per_epoch / train:.1%} of an epoch on average, {unit:.1%} of a {args.epochs}-epoch unit with the "
              f"robustness curve")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
