"""Benchmark: batched augmentation of a uint8 tensor (hmc.augment) against a torchvision DataLoader.

    python benchmarks/bench_augment.py [--device cpu|cuda] [--threads T] [--workers N]
                                       [--images N] [--batch B] [--epochs E]

The CIFAR training input pipeline of the HCAL study (``specs/hcal.md``), on the same 32x32 RGB
images (seeded random uint8 pixels, 10,000 by default: the pixel values do not change the work),
measured in one run, one full pass over the images (an epoch) per timing:

* ``fast``: the images as one uint8 tensor on the device; per batch, random indices from a
  permutation, ``x[idx]``, :func:`hmc.augment.augment_batch` (random crop with padding 4,
  horizontal flip, rotation up to 15 degrees, one affine warp) and ``(x - mean) / std``;
* ``plain``: a ``torch.utils.data.DataLoader`` (shuffle, batch ``--batch``, ``--workers``
  worker processes) over a Dataset of PIL images with ``transforms.Compose([RandomCrop(32,
  padding=4), RandomHorizontalFlip(), RandomRotation(15), ToTensor(), Normalize(mean, std)])``,
  each batch then moved to the device; a pass includes starting the workers, as in training.

Both paths produce normalised float32 batches and their labels on the device. Each path runs one
warm-up pass, then ``--epochs`` timed passes; the rate is images per second of the median pass,
and the ratio is fast / plain. ``--threads`` sets torch's CPU threads in this process (default 1;
DataLoader workers use one thread each).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def make_data(n: int, seed: int = 0):
    """``n`` random RGB 32x32 images, uint8 (n, 3, 32, 32), and labels int64 (n,) in 0..99."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 100, (n,), generator=g)
    return x, y


def fast_batches(x, y, batch: int, mean, std, generator):
    """One pass over the device tensors in random batches: yields normalised (xb, yb) on x's device."""
    import torch

    from hmc.augment import augment_batch

    order = torch.randperm(len(x), generator=generator, device=generator.device).to(x.device)
    for start in range(0, len(x), batch):
        idx = order[start:start + batch]
        yield (augment_batch(x[idx], padding=4, flip=True, degrees=15.0, generator=generator) - mean) / std, y[idx]


class PILDataset:
    """PIL images and labels for the plain DataLoader path."""

    def __init__(self, x, y, transform):
        from PIL import Image

        self.images = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in x]
        self.labels = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def plain_batches(loader, device):
    """One pass over the DataLoader: yields its (xb, yb) moved to the device."""
    for xb, yb in loader:
        yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


def count(batches) -> int:
    """Run a pass; returns the number of images it produced."""
    return sum(len(xb) for xb, _ in batches)


def timed(run, sync, epochs: int) -> tuple[float, int]:
    """One warm-up call of ``run``, then ``epochs`` timed calls: (median seconds, images per call)."""
    run()
    sync()
    times, n = [], 0
    for _ in range(epochs):
        t0 = time.perf_counter()
        n = run()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads in this process (0: torch's default)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes of the plain path")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3, help="timed passes per path (median reported)")
    args = p.parse_args(argv)

    import torch
    import torchvision
    from torchvision import transforms

    from hmc.data.images import CIFAR100_MEAN, CIFAR100_STD

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    device = torch.device(args.device)
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name()
    else:
        device_name = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    x, y = make_data(args.images)
    print(f"augmentation benchmark: {args.images} random RGB 32x32 images, batch {args.batch}, "
          "RandomCrop(32, padding=4) + HorizontalFlip + Rotation(15) + Normalize")
    print(f"device {args.device} ({device_name}), torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"torch threads {torch.get_num_threads()}, DataLoader workers {args.workers}; "
          f"median of {args.epochs} passes after 1 warm-up pass")

    mean = torch.tensor(CIFAR100_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR100_STD, device=device).view(1, 3, 1, 1)
    x_dev, y_dev = x.to(device), y.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    fast_s, fast_n = timed(lambda: count(fast_batches(x_dev, y_dev, args.batch, mean, std, gen)), sync, args.epochs)

    transform = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.RandomRotation(15),
        transforms.ToTensor(),
        transforms.Normalize(CIFAR100_MEAN, CIFAR100_STD),
    ])
    loader = torch.utils.data.DataLoader(
        PILDataset(x, y, transform), batch_size=args.batch, shuffle=True, num_workers=args.workers,
        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0))
    plain_s, plain_n = timed(lambda: count(plain_batches(loader, device)), sync, args.epochs)

    fast_rate, plain_rate = fast_n / fast_s, plain_n / plain_s
    print()
    print(f"{'path':<6} {'pass s':>8} {'images/s':>10}")
    print(f"{'fast':<6} {fast_s:>8.3f} {fast_rate:>10.0f}   hmc.augment.augment_batch on a {args.device} uint8 tensor")
    print(f"{'plain':<6} {plain_s:>8.3f} {plain_rate:>10.0f}   DataLoader over PIL images, torchvision transforms")
    print(f"ratio fast/plain: {fast_rate / plain_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
