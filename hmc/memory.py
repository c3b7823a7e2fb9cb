"""Peak memory and step time of training work, measured inside the running process.

Used by chapter 04 to put the deep ensemble and MC-dropout side by side (the rare-node paper's claim 4:
MC-dropout cuts training time by ~68% and memory by ~66%); the approach is that of
``benchmarks/bench_focal.py``, in a form a notebook can call.

Measures
--------
:func:`allocator_peak`
    The most bytes torch's allocator held at once while ``fn`` ran, above what it held just before.
    On CPU from the profiler's memory events (the ``[memory]`` events of the Chrome trace, whose
    ``Total Allocated`` is the allocator's running total after each allocation or free): exact at the
    allocator level, and not disturbed by tensors that were alive before ``fn`` started. On CUDA from
    ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus ``memory_allocated``
    before. Memory that numpy owns (a tensor made with ``torch.as_tensor`` of an array shares it) is
    not the allocator's and is not counted.
:func:`rss_peak`
    The increase of the process's resident-set high-water mark (``VmHWM`` after writing 5 to
    ``/proc/self/clear_refs``; Linux), the operating system's view: Python objects and library
    buffers included. Freed heap memory is first handed back to the system (glibc ``malloc_trim``),
    so that memory freed by earlier work is not silently reused; still, an allocator may keep
    memory, so the figure is indicative only. None where the kernel offers no resettable mark.
:func:`state_bytes`
    Bytes of a model's training state for Adam: parameters, gradients and the two moments.
:func:`rare_node_costs`
    For rare-node training configurations (:mod:`hmc.rare_nodes`) on one benchmark: median ms per
    training step over interleaved blocks of steps (so that the load of a shared machine does not
    favour one variant), allocator peak and RSS increase over the set-up (model, optimiser, data on
    the device) and a few steps, and the training-state bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

__all__ = ["Peak", "allocator_peak", "rss_peak", "reset_peak_rss", "status_kib", "state_bytes", "rare_node_costs", "COST_COLUMNS"]


class Peak(NamedTuple):
    """What ``fn`` returned, its peak in bytes (None when it could not be measured), and how it was measured."""

    result: Any
    bytes: int | None
    method: str


def allocator_peak(fn: Callable[[], Any], device: str | torch.device = "cpu") -> Peak:
    """Peak bytes held by torch's allocator on ``device`` while ``fn()`` runs, above the level before it.

    CPU: the torch profiler's memory events; CUDA: the caching allocator's peak counter (module
    docstring). Work that allocates nothing gives 0 on CUDA and None on CPU (no memory event).
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        torch.cuda.synchronize(device)
        return Peak(result, int(torch.cuda.max_memory_allocated(device) - base), "torch.cuda.max_memory_allocated")
    if device.type != "cpu":
        raise ValueError(f"allocator_peak supports cpu and cuda devices, got {device}")
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():  # the profiler's C++ side logs its start and stop to file descriptor 2
        prof.start()
    try:
        result = fn()
    finally:
        with _quiet_stderr():
            prof.stop()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    method = "torch profiler, CPU allocator 'Total Allocated'"
    mem = sorted((e for e in events if e.get("name") == "[memory]"), key=lambda e: e["ts"])
    mem = [e for e in mem if "Total Allocated" in e.get("args", {}) and "Bytes" in e["args"]]
    if not mem:
        return Peak(result, None, method)
    base = mem[0]["args"]["Total Allocated"] - mem[0]["args"]["Bytes"]
    return Peak(result, int(max(max(e["args"]["Total Allocated"] for e in mem) - base, 0)), method)


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null for the duration (C++ log lines); Python's stderr is flushed first."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``, ...); None where there is none (not Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (``/proc/self/clear_refs``); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc only; a no-op elsewhere)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def rss_peak(fn: Callable[[], Any]) -> Peak:
    """Increase of the resident-set high-water mark while ``fn()`` runs (Linux; else bytes=None)."""
    _trim_heap()
    before = status_kib("VmRSS")
    if not reset_peak_rss():
        before = None
    result = fn()
    after = status_kib("VmHWM") if before is not None else None
    method = "VmHWM after clear_refs, minus VmRSS before"
    return Peak(result, None if after is None else max(after - before, 0) * 1024, method)


def state_bytes(model: torch.nn.Module) -> int:
    """Bytes of parameters, gradients and Adam's two moments: four copies of every parameter."""
    return 4 * sum(p.numel() * p.element_size() for p in model.parameters())


# ------------------------------------------------------------------------------------- rare-node training
def _make_run(benchmark, config, seeds: Sequence[int], device: torch.device, settings: dict):
    from hmc.rare_nodes import _Run

    return _Run(benchmark, list(seeds), config, settings, device, "fused")


def _steps(run):
    """Endless training steps of ``run`` (each seed's data order, epoch after epoch), as in training."""
    from hmc.rare_nodes import SchedulePosition

    bs, n = run.settings["batch_size"], run.n_rows
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


COST_COLUMNS = ("method", "ms_per_step", "peak_alloc_bytes", "peak_rss_bytes", "state_bytes", "n_parameters",
                "alloc_method", "timed_steps")
"""Columns of :func:`rare_node_costs`."""


def rare_node_costs(
    benchmark,
    methods: Mapping[str, Any] | Sequence[str],
    seeds: Sequence[int],
    *,
    epochs: int | None = None,
    device: str | torch.device = "cpu",
    num_threads: int | None = 1,
    warmup: int = 3,
    steps: int = 30,
    block: int = 10,
    memory_steps: int = 3,
    **settings,
) -> pd.DataFrame:
    """Step time and peak memory of rare-node training configurations, measured in one process, one device.

    Parameters
    ----------
    benchmark
        As for :func:`hmc.rare_nodes.train_rare_nodes`.
    methods
        Method names (:func:`hmc.rare_nodes.rare_config`), or a mapping name -> :class:`RareNodeConfig`.
    seeds
        The run seeds trained side by side (S), as in the sweep.
    epochs, settings
        C-HMCNN settings (:func:`hmc.train.chmcnn_settings`: ``lr``, ``hidden_dim``, ``batch_size``, ...).
    device, num_threads
        Where and with how many torch CPU threads (None: torch's current count) the steps run.
    warmup, steps, block
        Every method first runs ``warmup`` untimed steps; then the methods take turns running
        ``block`` steps each, ``max(1, steps // block)`` times; ``ms_per_step`` is the median over a
        method's blocks (CUDA synchronised at block ends).
    memory_steps
        Training steps inside the memory measurements (after the set-up).

    Returns
    -------
    DataFrame, one row per method, columns :data:`COST_COLUMNS`: ``peak_alloc_bytes``
    (:func:`allocator_peak` of the set-up plus ``memory_steps`` steps), ``peak_rss_bytes``
    (:func:`rss_peak` of the same work on CPU, None on CUDA), ``state_bytes`` (:func:`state_bytes`),
    ``n_parameters`` (all members), ``alloc_method``, ``timed_steps`` (per method).
    """
    from hmc.rare_nodes import rare_config
    from hmc.train import _torch_state, chmcnn_settings

    configs = dict(methods) if isinstance(methods, Mapping) else {m: rare_config(m) for m in methods}
    configs = {name: rare_config(c) if isinstance(c, str) else c for name, c in configs.items()}
    device = torch.device(device)
    run_settings = chmcnn_settings(benchmark, epochs, **settings)
    n_blocks = max(1, steps // block)
    rows: dict[str, dict] = {}

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with _torch_state(num_threads, device.type == "cpu"):
        for name, config in configs.items():

            def set_up_and_step(config=config):
                run = _make_run(benchmark, config, seeds, device, run_settings)
                it = _steps(run)
                for _ in range(memory_steps):
                    next(it)
                sync()
                return state_bytes(run.model), sum(p.numel() for p in run.model.parameters())

            rss = rss_peak(set_up_and_step) if device.type == "cpu" else Peak(None, None, "")
            gc.collect()
            alloc = allocator_peak(set_up_and_step, device)
            gc.collect()
            state, n_params = alloc.result
            rows[name] = {"method": name, "peak_alloc_bytes": alloc.bytes, "peak_rss_bytes": rss.bytes,
                          "state_bytes": state, "n_parameters": n_params, "alloc_method": alloc.method,
                          "timed_steps": n_blocks * block}
        runs = {name: _make_run(benchmark, config, seeds, device, run_settings) for name, config in configs.items()}
        steppers = {name: _steps(run) for name, run in runs.items()}
        for it in steppers.values():
            for _ in range(warmup):
                next(it)
        sync()
        blocks: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(n_blocks):
            for name, it in steppers.items():
                t0 = time.perf_counter()
                for _ in range(block):
                    next(it)
                sync()
                blocks[name].append((time.perf_counter() - t0) / block * 1e3)
        del steppers, runs
        gc.collect()
    for name, ms in blocks.items():
        rows[name]["ms_per_step"] = float(np.median(ms))
    return pd.DataFrame(list(rows.values()), columns=list(COST_COLUMNS))
