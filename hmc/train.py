"""Training C-HMCNN on the tabular benchmarks: S seeds side by side, and resumable sweeps.

:func:`train_chmcnn` trains one :class:`~hmc.models.BatchedCHMCNN` whose members are the requested
seeds, as in the spec (``specs/chmcnn.md``): on train+valid (concatenated), for the dataset's fixed
number of epochs, Adam with L2 weight decay (not AdamW), batch size 4, MCLoss in float64 with the
roots excluded; then predicts the test split with the max constraint module and scores it with
AU(PRC). Each seed is bit-for-bit its own model (on CPU): its own initialisation and dropout
(see :mod:`hmc.models`) and its own data order (a permutation per epoch from its own generator,
seeded with ``derive_seed(seed, DATA_STREAM)``). The loss of a step is the sum over members of each
member's mean MCLoss, so each member's gradient is its single-model gradient, and one fused Adam
step updates all members. Trained alone (S = 1, the same code), a seed gives the same bits.

Speed on a CPU (``benchmarks/bench_seeds.py`` measures it): the data stay on the device as
tensors (no DataLoader), a batch is gathered as ``x[perm[:, i:i+B]]`` -> ``(S, B, F)``, the MLP's
gradients are written in place into persistent ``.grad`` buffers
(:meth:`~hmc.models.BatchedCHMCNN.backward_cached`: no per-step allocation of S x parameters
floats, which cost 4,000 page faults per step), Adam runs fused over the stacked weights
(``torch.optim.Adam(fused=True)``: 3 ms per step for 10 x 0.54 M parameters, against 24-30 ms for
``foreach=True``), the loss and its gradient are computed by hand without an autograd graph
(:func:`hmc.constraint.mc_loss_and_grad`), deterministic mode does not NaN-fill new tensors, and
the thread count follows the cores that other processes leave idle (``num_threads="auto"``). Measured on the project's 2-core CPU with other
processes running (load average about 2): the spec's full cellcycle_FUN run, 10 seeds x 106
epochs x 619 steps of batch 4, took 17.3 minutes (about 14 ms per step for all 10 seeds, 65-80
steps/s), mean test AU(PRC) 0.256 (published: 0.255).

Sweeps of many ``(dataset, method, seed)`` units, their results store and their executors live in
:mod:`hmc.runs` (:func:`hmc.runs.sweep.run_sweep`); methods register their training functions here
(:data:`METHODS`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hmc.checkpoint import TrainingPaused, load_checkpoint, save_checkpoint
from hmc.constraint import MaxConstraint, mc_loss_and_grad
from hmc.metrics import au_prc
from hmc.models import DATA_STREAM, BatchedCHMCNN, derive_seed, member_sigmoid

METHOD_CHMCNN = "chmcnn"

DEFAULT_BATCH_SIZE = 4
DEFAULT_WEIGHT_DECAY = 1e-5
DEFAULT_DROPOUT = 0.7

PARAM_COLUMNS = ("epochs", "batch_size", "lr", "weight_decay", "hidden_dim", "dropout")
"""The training settings of :func:`chmcnn_settings`: a finished unit is reused only if they match."""


# ------------------------------------------------------------------------------------- settings
def chmcnn_settings(
    benchmark,
    epochs: int | None = None,
    lr: float | None = None,
    hidden_dim: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    dropout: float = DEFAULT_DROPOUT,
) -> dict[str, Any]:
    """The training settings: the given values, else the benchmark's spec (epochs, lr, hidden dim).

    ``benchmark`` needs a ``.spec`` with ``epochs``, ``lr`` and ``hidden_dim`` only for the values
    left as None (a :class:`~hmc.data.benchmarks.Benchmark` or its ``BenchmarkSpec`` both do).
    """
    spec = getattr(benchmark, "spec", benchmark)
    resolved = {}
    for name, value in (("epochs", epochs), ("lr", lr), ("hidden_dim", hidden_dim)):
        if value is None:
            if not hasattr(spec, name):
                raise ValueError(f"{name} is not given and {type(benchmark).__name__} has no spec to take it from")
            value = getattr(spec, name)
        resolved[name] = value
    settings = {
        "epochs": int(resolved["epochs"]),
        "batch_size": int(batch_size),
        "lr": float(resolved["lr"]),
        "weight_decay": float(weight_decay),
        "hidden_dim": int(resolved["hidden_dim"]),
        "dropout": float(dropout),
    }
    if settings["epochs"] < 0 or settings["batch_size"] < 1 or settings["hidden_dim"] < 1:
        raise ValueError(f"invalid settings {settings}")
    return settings


# ------------------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What :func:`train_chmcnn` returns, one entry per seed (S seeds, N test rows, C nodes).

    Attributes
    ----------
    seeds : list[int]
    predictions : np.ndarray, float32, (S, N, C)
        MCM outputs on the test split (hierarchy-consistent scores; columns = hierarchy nodes).
    au_prc : np.ndarray, float64, (S,)
        Test AU(PRC) over the evaluated nodes.
    epoch_loss : np.ndarray, float64, (S, epochs)
        Mean training MCLoss per epoch (mean over the epoch's steps of each step's batch mean).
    settings : dict
        The resolved settings (:func:`chmcnn_settings`) plus ``device``.
    wall_time_s : float
        Training and evaluation time of the whole batch of seeds.
    n_steps : int
        Optimiser steps (each updates every seed).
    extra : dict
        ``fit_s`` (training time), ``predict_s`` (prediction time), ``threads`` (torch threads, or
        ``"auto"``), ``steps_per_thread_count`` (how many steps ran with each thread count).
    metrics : dict[str, np.ndarray]
        Further per-seed test metrics, name -> float64 array (S,) (e.g. the rare-node metrics of
        :mod:`hmc.rare_nodes`: ``"macro_f1"``, ``"recall@freq=1-5"``); empty for C-HMCNN.
        :func:`result_rows` writes one row per seed and name.
    """

    seeds: list[int]
    predictions: np.ndarray
    au_prc: np.ndarray
    epoch_loss: np.ndarray
    settings: dict
    wall_time_s: float
    n_steps: int
    extra: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@contextlib.contextmanager
def _torch_state(num_threads: int | str | None, deterministic: bool):
    """Temporarily set the intra-op thread count and deterministic algorithms; restore afterwards.

    ``"auto"`` leaves the thread count to the caller's :class:`_IdleCoreThreads`.
    """
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_fill = torch.utils.deterministic.fill_uninitialized_memory
    try:
        if num_threads is not None and num_threads != "auto":
            torch.set_num_threads(int(num_threads))
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            # no code here reads uninitialised memory; filling every torch.empty with NaN (the
            # default in deterministic mode) cost 5 ms of a 30 ms step (35,000 fills per 100 steps)
            torch.utils.deterministic.fill_uninitialized_memory = False
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.utils.deterministic.fill_uninitialized_memory = old_fill


def _busy_cpu_seconds() -> float | None:
    """CPU-seconds that all the machine's CPUs have spent busy since boot (Linux ``/proc/stat``:
    user + nice + system + irq + softirq + steal), or None where that file is not available."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError):
        return None


class _IdleCoreThreads:
    """Runs the training steps with one thread per core that the *other* processes leave idle.

    Every ``interval`` seconds it reads how many CPU-seconds the machine spent busy
    (:func:`_busy_cpu_seconds`) and subtracts this process's own (``time.process_time``): the
    rest is the other processes' load ``L`` in cores. The next steps use
    ``clamp(floor(max_threads - L + 0.25), 1, max_threads)`` threads: on a quiet 2-core machine 2
    threads, with one core busy elsewhere 1 (a core counts as free when the others use less than
    a quarter of it). The run starts with 1 thread until the first reading.

    Why not time the candidates (the policy this replaced, measured in issue 15): on a 2-core CPU
    shared with another process, 2 threads are 10-35x slower than 1 (they wait for each other at
    every parallel region), so even a few timed probe steps at 2 threads cost more than they
    could save (auto took 21.7 s per epoch against 13.6 s for a fixed 1 thread), and on a quiet
    machine probes and switches cost 18% (11.3 against 9.6 s for a fixed 2). Reading the load costs
    about 20 microseconds per interval and never runs a step at the wrong setting on purpose.
    ``benchmarks/bench_seeds.py --threads-compare`` runs this policy and the fixed settings side by
    side, quiet and with a competing process, and prints the ratios.
    Where ``/proc/stat`` is missing (not Linux), the thread count stays at ``max_threads``.
    """

    def __init__(self, max_threads: int, interval: float = 0.5):
        self.max_threads, self.interval = int(max_threads), float(interval)
        self.steps: dict[int, int] = {}
        self._current = 0
        self._last = self._reading()  # (wall, busy, own) at the last reading
        self._set(1 if self._last is not None else self.max_threads)
        self._next = 0.0 if self._last is None else self._last[0] + self.interval

    @staticmethod
    def _reading() -> tuple[float, float, float] | None:
        busy = _busy_cpu_seconds()
        return None if busy is None else (time.perf_counter(), busy, time.process_time())

    def _set(self, threads: int) -> None:
        if threads != self._current:
            torch.set_num_threads(threads)
            self._current = threads

    def threads_for(self, others: float) -> int:
        """The thread count when the other processes keep ``others`` cores busy."""
        return max(1, min(self.max_threads, math.floor(self.max_threads - others + 0.25)))

    def begin(self) -> None:
        if self._last is None:
            return
        now = time.perf_counter()
        if now < self._next:
            return
        reading = self._reading()
        others = ((reading[1] - self._last[1]) - (reading[2] - self._last[2])) / (reading[0] - self._last[0])
        self._set(self.threads_for(others))
        self._last, self._next = reading, now + self.interval

    def end(self) -> None:
        self.steps[self._current] = self.steps.get(self._current, 0) + 1


def _make_optimizer(params, lr: float, weight_decay: float, kind: str, device: torch.device):
    """Adam with L2 weight decay (``weight_decay`` added to the gradient, as the spec's reference)."""
    if kind == "fused":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    if kind == "foreach":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if kind == "plain":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=False)
    raise ValueError(f"optimizer must be 'fused', 'foreach' or 'plain', got {kind!r}")


def train_chmcnn(
    benchmark,
    seeds: Sequence[int],
    epochs: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float | None = None,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    hidden_dim: int | None = None,
    dropout: float = DEFAULT_DROPOUT,
    device: str | torch.device = "cpu",
    progress: bool = True,
    num_threads: int | str | None = "auto",
    deterministic: bool | None = None,
    optimizer: str = "fused",
    eval_batch_size: int = 2048,
    step_callback: Callable[[int], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    stop_at: float | None = None,
) -> TrainResult:
    """Train C-HMCNN for every seed in ``seeds`` side by side; predict and score the test split.

    Parameters
    ----------
    benchmark
        A :class:`~hmc.data.benchmarks.Benchmark`, or any object with ``x_train, y_train, x_valid,
        y_valid, x_test, y_test`` (float32 features, 0/1 uint8 labels ``(N, C)``), ``hierarchy``,
        ``eval_nodes`` and, for settings left as None, a ``spec`` (see :func:`chmcnn_settings`).
    seeds
        Distinct integer seeds; seed s trains exactly as ``train_chmcnn(benchmark, [s])`` would.
    epochs, lr, hidden_dim
        None: the spec's values for the dataset.
    batch_size, weight_decay, dropout
        The spec's 4, 1e-5 and 0.7 by default. The last batch of an epoch keeps the remainder
        (as a DataLoader with ``drop_last=False``).
    device
        ``"cpu"``, ``"cuda"``, ... The data are moved there once.
    progress
        Show a tqdm bar over optimiser steps.
    num_threads
        torch intra-op threads during the call (restored afterwards); None keeps the current count;
        ``"auto"`` (default, CPU) uses one thread per core left idle by the other processes, up
        to the current count, re-read every half second (:class:`_IdleCoreThreads`). The
        campaign (:mod:`hmc.runs.campaign`) runs at a fixed 1 thread, its own default. The
        results do not depend on the thread count (the tests check 1 vs 2 threads bit for bit);
        only the speed does: with 2 threads, another busy process on a 2-core CPU can make each
        step 2-3x slower than 1 thread (the threads wait for each other at every parallel region).
    deterministic
        ``torch.use_deterministic_algorithms(True, warn_only=True)`` during the call; None: on CPU.
    optimizer
        ``"fused"`` (default: one fused Adam kernel over the stacked weights), ``"foreach"``, ``"plain"``.
    eval_batch_size
        Test rows per forward pass at prediction time.
    step_callback
        Called with the global step number after every step (tests use it to interrupt a run).
    checkpoint
        A path: the state (weights, Adam, the data-order and dropout generators, the losses so far)
        is saved there after every epoch (:func:`hmc.checkpoint.save_checkpoint`), and a run that
        finds it continues after its last finished epoch, bit for bit the uninterrupted run. The
        caller removes it once the results are stored.
    stop_at
        ``time.time()`` value: after an epoch (with a checkpoint), if another epoch as long would end
        after it, raise :class:`hmc.checkpoint.TrainingPaused`.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("no seeds given")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    settings = chmcnn_settings(benchmark, epochs, lr, hidden_dim, batch_size, weight_decay, dropout)
    device = torch.device(device)
    if deterministic is None:
        deterministic = device.type == "cpu"
    started = time.perf_counter()
    with _torch_state(num_threads, deterministic):
        tuner = None
        if num_threads == "auto" and device.type == "cpu" and torch.get_num_threads() > 1:
            tuner = _IdleCoreThreads(torch.get_num_threads())
        threads = torch.get_num_threads()
        model, epoch_loss, n_steps, previous_s = _fit(
            benchmark, seeds, settings, device, progress, optimizer, step_callback, tuner, checkpoint, stop_at
        )
        fitted = time.perf_counter()
        predictions = predict_chmcnn(model, benchmark.x_test, benchmark.hierarchy, device, eval_batch_size)
    predicted = time.perf_counter()
    scores = np.array([au_prc(benchmark.y_test, predictions[s], benchmark.eval_nodes) for s in range(len(seeds))])
    return TrainResult(
        seeds=seeds,
        predictions=predictions,
        au_prc=scores,
        epoch_loss=epoch_loss,
        settings={**settings, "device": device.type},
        wall_time_s=previous_s + time.perf_counter() - started,
        n_steps=n_steps,
        extra={
            "fit_s": previous_s + fitted - started,
            "predict_s": predicted - fitted,
            "threads": threads if tuner is None else "auto",
            "steps_per_thread_count": tuner.steps if tuner is not None else {threads: n_steps},
        },
    )


def _fit(benchmark, seeds, settings, device, progress, optimizer, step_callback, tuner=None, checkpoint=None,
         stop_at=None):
    """The training loop; returns the trained model, the per-epoch losses (S, E), the step count and
    the seconds spent before a resumed checkpoint (``checkpoint``, ``stop_at``: :func:`train_chmcnn`)."""
    from tqdm.std import tqdm  # text bar: tqdm.auto warns in kernels without ipywidgets

    x_fit = np.concatenate([benchmark.x_train, benchmark.x_valid]).astype(np.float32, copy=False)
    y_fit = np.concatenate([benchmark.y_train, benchmark.y_valid]).astype(np.uint8, copy=False)
    x = torch.as_tensor(x_fit, device=device)
    y = torch.as_tensor(y_fit, device=device)
    n, n_nodes = y.shape
    n_seeds = len(seeds)
    hierarchy = benchmark.hierarchy
    if len(hierarchy) != n_nodes:
        raise ValueError(f"labels have {n_nodes} columns but the hierarchy has {len(hierarchy)} nodes")
    mcm = MaxConstraint(hierarchy).to(device)
    eval_idx = torch.as_tensor(np.asarray(benchmark.eval_nodes, dtype=np.int64), device=device)

    model = BatchedCHMCNN(
        None, x.shape[1], settings["hidden_dim"], n_nodes, dropout=settings["dropout"], seeds=seeds
    ).to(device)
    model.train()
    opt = _make_optimizer(model.parameters(), settings["lr"], settings["weight_decay"], optimizer, device)
    data_gens = [torch.Generator().manual_seed(derive_seed(s, DATA_STREAM)) for s in seeds]

    bs, epochs = settings["batch_size"], settings["epochs"]
    steps_per_epoch = math.ceil(n / bs) if n else 0
    epoch_loss = torch.zeros(n_seeds, epochs, dtype=torch.float64, device=device)
    name = getattr(benchmark, "name", "data")
    identity = {"trainer": "chmcnn", "settings": dict(settings), "seeds": list(seeds), "n_rows": int(n),
                "n_nodes": int(n_nodes), "device": device.type}
    state = load_checkpoint(checkpoint, identity, map_location=device)
    start_epoch, step, previous_s = 0, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        for gen, saved in zip(data_gens, state["data_generators"], strict=True):
            gen.set_state(saved)
        for gen, saved in zip(model.dropout_generators(device), state["dropout_generators"], strict=True):
            gen.set_state(saved)
        start_epoch, step, previous_s = int(state["epoch"]), int(state["step"]), float(state["elapsed_s"])
        epoch_loss[:, :start_epoch] = state["epoch_loss"].to(device)
    bar = tqdm(
        total=epochs * steps_per_epoch,
        initial=step,
        desc=f"{name} C-HMCNN, {n_seeds} seed{'s' if n_seeds > 1 else ''}/step",
        unit="step",
        disable=not progress,
        mininterval=1.0,
        leave=False,
    )
    begun = time.perf_counter()
    with bar:
        for epoch in range(start_epoch, epochs):
            epoch_start = time.perf_counter()
            # each seed's own order, drawn on the CPU so that it is the same on every device
            perm = torch.stack([torch.randperm(n, generator=g) for g in data_gens]).to(device)
            running = torch.zeros(n_seeds, dtype=torch.float64, device=device)
            for start in range(0, n, bs):
                if tuner is not None:
                    tuner.begin()
                idx = perm[:, start : start + bs]  # (S, b)
                running += _train_step(model, opt, mcm, eval_idx, x[idx], y[idx], n_nodes)
                if tuner is not None:
                    tuner.end()
                step += 1
                bar.update(1)
                if step_callback is not None:
                    step_callback(step)
            epoch_loss[:, epoch] = running / steps_per_epoch
            if progress:
                bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{epoch_loss[:, epoch].mean().item():.4f}")
            if checkpoint is not None and epoch + 1 < epochs:
                save_checkpoint(checkpoint, {
                    "identity": identity,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "data_generators": [g.get_state() for g in data_gens],
                    "dropout_generators": [g.get_state() for g in model.dropout_generators(device)],
                    "epoch": epoch + 1,
                    "step": step,
                    "epoch_loss": epoch_loss[:, : epoch + 1].cpu(),
                    "elapsed_s": previous_s + time.perf_counter() - begun,
                })
                if stop_at is not None and time.time() + (time.perf_counter() - epoch_start) > stop_at:
                    raise TrainingPaused(f"{name}: paused after epoch {epoch + 1} of {epochs} (time budget); "
                                         f"the checkpoint {checkpoint} holds the progress", epoch + 1)
    return model, epoch_loss.cpu().numpy(), step, previous_s


def _train_step(model, opt, mcm, eval_idx, xb, yb, n_nodes) -> torch.Tensor:
    """One optimiser step for all members; returns each member's batch-mean MCLoss (S,), detached.

    No autograd: the MLP and the sigmoid are differentiated by hand
    (:meth:`~hmc.models.BatchedCHMCNN.backward_cached`), the loss (MCM + MCLoss, float64) by
    :func:`hmc.constraint.mc_loss_and_grad`, bit for bit autograd's gradient of the sum over members
    of each member's mean MCLoss (so member m's gradient is exactly its single-model gradient).
    """
    z, cache = model.forward_cached(xb)  # padded logits (S, b, C_pad), no autograd graph
    probs = member_sigmoid(z[..., :n_nodes])
    scale = 1.0 / (probs.shape[1] * len(eval_idx))  # the gradient of a member's mean over (b, C_eval)
    loss, grad_probs = mc_loss_and_grad(probs, yb, mcm, eval_idx, grad_scale=scale)  # (S, b, C_eval), (S, b, C)
    grad_z = z.new_zeros(z.shape)
    grad_z[..., :n_nodes] = torch.ops.aten.sigmoid_backward(grad_probs, probs)
    model.backward_cached(grad_z, cache)
    opt.step()
    return loss.mean(dim=(1, 2))


@torch.no_grad()
def predict_chmcnn(
    model: BatchedCHMCNN,
    x: np.ndarray | torch.Tensor,
    hierarchy,
    device: str | torch.device | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """MCM outputs of every member on ``x`` (N, F): float32 ``(M, N, C)`` numpy array.

    Runs in eval mode (dropout off unless ``model.mc_dropout``); restores the model's mode.
    """
    device = torch.device(device) if device is not None else model.weights[0].device
    mcm = MaxConstraint(hierarchy).to(device)
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x)
    was_training = model.training
    model.eval()
    out = np.empty((model.n_members, len(x), model.out_dim), dtype=np.float32)
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device)
            z, _ = model.forward_cached(xb)
            out[:, start : start + len(xb)] = mcm(member_sigmoid(z[..., : model.out_dim])).cpu().numpy()
    finally:
        model.train(was_training)
    return out


METHODS: dict[str, Callable[..., TrainResult]] = {METHOD_CHMCNN: train_chmcnn}
"""Training functions by method name: ``fn(benchmark, seeds, **kwargs) -> TrainResult``.

Later methods (the rare-node loss variants) register here to become sweepable."""

METHOD_MODULES = ("hmc.rare_nodes",)
"""Modules imported by :func:`resolve_method` (on first use) so that they register their methods."""
METHOD_RESOLVERS: list[Callable[[str], Callable[..., TrainResult] | None]] = []
"""Asked in turn for a name that is not in :data:`METHODS` (parameterised families of methods,
e.g. ``"focal-gmu-H7"``): each returns the training function, or None if the name is not its own."""


def resolve_method(name: str) -> Callable[..., TrainResult] | None:
    """The training function of a method name: from :data:`METHODS`, else from the resolvers; or None."""
    import importlib

    if name in METHODS:
        return METHODS[name]
    for module in METHOD_MODULES:
        importlib.import_module(module)
    if name in METHODS:
        return METHODS[name]
    for resolver in METHOD_RESOLVERS:
        fn = resolver(name)
        if fn is not None:
            return fn
    return None
