"""Several rare-node methods of one dataset trained as one stacked model: the stacked-methods path.

:func:`train_stacked_methods` trains K configurations (:class:`hmc.rare_nodes.RareNodeConfig`) for
the same S seeds as **one** :class:`~hmc.models.BatchedCHMCNN` of K x S x H members, updated by one
fused Adam step, and returns the K results that K calls of :func:`hmc.rare_nodes.train_rare_nodes`
would return. It pays most where a step is bound by per-operation overhead (a GPU, where K x S x H
small networks cost about what one does). On this project's CPU at one thread, 3 methods x 5 seeds x
H = 2 on cellcycle_FUN step in 46.75 ms stacked against 54.53 ms as three runs (1.17x, medians of 3
alternating rounds, ``benchmarks/bench_stacked_methods.py``): the per-step work outside the GEMMs and
Adam is paid once.

Why the runs can share a model. Run slot ``(k, s)`` (configuration k, seed s; slot ``k * S + s``)
is, member by member, the run of seed s alone: its H members are initialised from and draw dropout
from :func:`~hmc.rare_nodes.member_seed` ``(s, h)``, and its data order from ``derive_seed(s,
DATA_STREAM)``, as in a one-configuration run, so the K slots of seed s see the same batches. The
configurations differ only in the per-term weights and the reduction of the loss, which are computed
slot by slot (:func:`~hmc.rare_nodes.rare_node_weights` on the slot's ``(S, H, b, C)`` slice, the
shapes of a one-configuration run), then the loss and its gradient of all slots in one
:func:`~hmc.constraint.mc_loss_and_grad` call: unit weights where a configuration has none (``x *
1`` is exact) and one gradient scale per slot (``1 / (H b C_eval)`` for ``reduction="mean"``, else
1). Each member's GEMMs, MCM rows, weights and Adam update are then those of its own run, so on a CPU
the results equal the separate runs bit for bit (tested).

What must be shared: the C-HMCNN settings (epochs, batch, learning rate, ...), the members (deep
ensembles of the same H; MC-dropout passes tile the batch and are left out), and the rows (no LPROS:
its clones change what a seed draws). :func:`check_stackable` says which configurations fail.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hmc.constraint import mc_loss_and_grad
from hmc.losses import imbalance_weights
from hmc.rare_nodes import (
    RareNodeConfig,
    SchedulePosition,
    _fit,
    _result,
    _Run,
    predict_rare_nodes,
    rare_config,
    rare_node_weights,
)
from hmc.train import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DROPOUT,
    DEFAULT_WEIGHT_DECAY,
    TrainResult,
    _IdleCoreThreads,
    _torch_state,
    chmcnn_settings,
)

__all__ = ["check_stackable", "train_stacked_methods"]


def check_stackable(configs: Sequence[RareNodeConfig]) -> None:
    """Raise ValueError unless ``configs`` can train as one stacked model (module docstring)."""
    if not configs:
        raise ValueError("no configurations given")
    if len(set(configs)) != len(configs):
        raise ValueError("a configuration is given twice")
    for config in configs:
        if config.members != "ensemble":
            raise ValueError(f"{config}: MC-dropout members tile the batch and cannot be stacked; train them alone")
        if config.lpros:
            raise ValueError(f"{config}: LPROS changes the rows a seed draws; train it alone")
    sizes = {config.n_members for config in configs}
    if len(sizes) > 1:
        raise ValueError(f"the configurations have different numbers of members {sorted(sizes)}; stack equal H only")


class _StackedRun(_Run):
    """A :class:`hmc.rare_nodes._Run` whose "seeds" are the K x S run slots; the loss is per configuration."""

    def __init__(self, benchmark, seeds: list[int], configs: list[RareNodeConfig], settings: dict, device,
                 optimizer: str):
        # the slots' seeds, configuration-major: the base class builds their members and data orders
        super().__init__(benchmark, [s for _ in configs for s in seeds], configs[0], settings, device, optimizer)
        self.configs, self.run_seeds = configs, seeds
        self.slot_weights = [
            torch.as_tensor(imbalance_weights(self.y_fit, benchmark.hierarchy, c.weight_kind, c.weight_floor),
                            dtype=torch.float64, device=device) if c.has_weights else None
            for c in configs
        ]

    def identity(self) -> dict:
        return {**super().identity(), "trainer": "stacked_methods", "seeds": list(self.run_seeds),
                "config": [dataclasses.asdict(c) for c in self.configs]}

    def loss_and_grad(self, xb: Tensor, yb: Tensor, position: SchedulePosition) -> Tensor:
        """As :meth:`hmc.rare_nodes._Run.loss_and_grad` for the K x S slots; returns their losses ``(K * S,)``."""
        z, cache, probs = self.forward(xb)
        n_slots, b = yb.shape[:2]
        h, c, s = self.n_members, self.n_nodes, len(self.run_seeds)
        p = probs.view(n_slots, h, b, c)
        n_terms = h * b * len(self.eval_idx)
        weights, scales = [], []
        for k, config in enumerate(self.configs):
            part = slice(k * s, (k + 1) * s)
            w = rare_node_weights(p[part], yb[part], config, self.slot_weights[k], position)
            weights.append(torch.ones((s, 1, b, c), dtype=torch.float64, device=self.device) if w is None else w)
            scales += [1.0 / n_terms if config.reduction == "mean" else 1.0] * s
        scale = torch.tensor(scales, dtype=torch.float64, device=self.device).view(-1, 1, 1, 1)
        terms, grad_p = mc_loss_and_grad(p, yb.unsqueeze(1), self.mcm, self.eval_idx, torch.cat(weights),
                                         grad_scale=scale)
        losses = torch.cat([terms[k * s : (k + 1) * s].mean(dim=(1, 2, 3)) if config.reduction == "mean"
                            else terms[k * s : (k + 1) * s].sum(dim=(1, 2, 3)) for k, config in enumerate(self.configs)])
        grad_z = z.new_zeros(z.shape)
        grad_z[..., :c] = torch.ops.aten.sigmoid_backward(grad_p.view(probs.shape), probs)
        self.model.backward_cached(grad_z, cache)
        return losses


def train_stacked_methods(
    benchmark,
    seeds: Sequence[int],
    configs: Sequence[RareNodeConfig | str],
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
    checkpoint: str | None = None,
    stop_at: float | None = None,
) -> list[TrainResult]:
    """Train every configuration of ``configs`` for every seed of ``seeds`` in one stacked model.

    Parameters are those of :func:`hmc.rare_nodes.train_rare_nodes`, with ``configs`` (configurations
    or method names, :func:`check_stackable`) for its ``config``.

    Returns
    -------
    list of TrainResult
        One per configuration, in order, each what ``train_rare_nodes(benchmark, seeds, config, ...)``
        returns (bit for bit on a CPU), except the times: ``wall_time_s`` is the configuration's share
        of the stacked run's (its wall time / K), ``extra["fit_s"]`` and ``extra["predict_s"]`` are the
        stacked run's, and ``extra["stacked_methods"]`` = K.
    """
    configs = [rare_config(c) if isinstance(c, str) else c for c in configs]
    check_stackable(configs)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
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
        run = _StackedRun(benchmark, seeds, configs, settings, device, optimizer)
        name = f"{getattr(benchmark, 'name', 'data')} x {len(configs)} methods"
        epoch_loss, n_steps, previous_s = _fit(run, name, progress, step_callback, tuner, checkpoint, stop_at)
        fitted = time.perf_counter()
        predictions = predict_rare_nodes(run.model, benchmark.x_test, benchmark.hierarchy, len(configs) * len(seeds),
                                         run.n_members, device=device, batch_size=eval_batch_size)
    predicted = time.perf_counter()
    k, s = len(configs), len(seeds)
    timing = {"fit_s": previous_s + fitted - started, "predict_s": predicted - fitted,
              "threads": threads if tuner is None else "auto",
              "steps_per_thread_count": tuner.steps if tuner is not None else {threads: n_steps},
              "stacked_methods": k}
    results = [_result(benchmark, run, config, seeds, predictions[i * s : (i + 1) * s],
                       epoch_loss[i * s : (i + 1) * s], n_steps, timing) for i, config in enumerate(configs)]
    share = (previous_s + time.perf_counter() - started) / k  # training, prediction and scoring, per method
    for result in results:
        result.wall_time_s = share
    return results
