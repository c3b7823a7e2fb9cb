"""Sweeps: run the unfinished units of a set of ``(dataset, method, seed)`` units into the results store.

:func:`run_sweep` groups the units by (dataset, method), reads back the finished ones from the
results store (:mod:`hmc.runs.store`: one file per unit, under its full configuration), and hands
the rest, as *tasks* of ``seeds_per_batch`` seeds trained as one batched model, to an executor
(:mod:`hmc.runs.executors`: in this process, or on a Ray cluster). Workers only train and return
rows; the driver writes each finished task's units to the store and rebuilds the tidy table
``results/<profile>/<experiment>.csv`` from it, so a kill at any point loses at most the tasks in
progress, and a rerun skips what is stored.

What a sweep trains is its *kind*: how a dataset key loads, which configuration a unit is stored
under, how a task trains and which columns its table has. :class:`TabularKind` (the default) trains
the tabular methods of :data:`hmc.train.METHODS` on benchmarks (chapters 02-05; columns
:data:`RESULT_COLUMNS`); :class:`hmc.runs.stress_sweep.StressKind` the rare-node image stress tests
(chapter 07), whose dataset keys name a condition. One driver, one store, one executor for both.

A kind has ``params`` and ``columns`` (the settings its rows carry; the table's columns),
``max_seeds_per_task`` (None: any number trains as one batched model), and the methods
``load(dataset)``, ``check_method(method)`` (ValueError for an unknown one), ``config(dataset, data,
method, train_kwargs)`` (everything that changes a unit's results, stored with it),
``checkpoints(method)`` (whether its training takes ``checkpoint`` and ``stop_at``),
``train(data, task) -> rows`` (with ``metric, value, device, wall_time_s``) and ``read(path)`` (its
table, validated). On a cluster it is pickled to the workers. A kind that also has
``stackable(methods)`` (the tabular one) can train the same seed batch of several methods of a
dataset as one task (``stack_methods=True``, :mod:`hmc.stacked_methods`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from hmc import provenance
from hmc.fileio import atomic_write, check_writable
from hmc.runs.executors import Task, executor_from_env
from hmc.runs.store import ConfigMismatch, DamagedResult, ResultStore, data_signature, store_for, validate_table
from hmc.train import METHODS, PARAM_COLUMNS, TrainResult, chmcnn_settings, resolve_method

RESULT_KEY = ("dataset", "method", "seed")
RESULT_COLUMNS = (*RESULT_KEY, "metric", "value", *PARAM_COLUMNS, "device", "wall_time_s")
"""Columns of the tidy results table. ``wall_time_s`` is the unit's share (batch wall time / seeds in
the batch, training and evaluation); ``device`` where it ran. Neither is compared on a rerun."""


class Unit(NamedTuple):
    """One independent piece of a sweep: a dataset, a method and a seed."""

    dataset: str
    method: str
    seed: int


def result_rows(dataset: str, method: str, result: TrainResult) -> pd.DataFrame:
    """Tidy rows of a :class:`TrainResult`: per seed, ``au_prc``, ``train_loss`` (last epoch), then
    one row per entry of ``result.metrics`` (in its order)."""
    per_seed_time = result.wall_time_s / len(result.seeds)
    rows = []
    for s, seed in enumerate(result.seeds):
        metrics = {"au_prc": float(result.au_prc[s])}
        if result.epoch_loss.shape[1]:
            metrics["train_loss"] = float(result.epoch_loss[s, -1])
        for name, values in result.metrics.items():
            metrics[name] = float(values[s])
        for metric, value in metrics.items():
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "seed": int(seed),
                    "metric": metric,
                    "value": value,
                    **{k: result.settings[k] for k in PARAM_COLUMNS},
                    "device": result.settings["device"],
                    "wall_time_s": round(per_seed_time, 3),
                }
            )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def read_results(path: str | os.PathLike, columns: Sequence[str] = RESULT_COLUMNS) -> pd.DataFrame:
    """The tidy results CSV as a DataFrame (empty, with ``columns``, when absent or empty).

    The table is checked as it is read: a file that is not UTF-8 text, a row with a wrong number
    of fields, a repeated header or text in a numeric column raises
    :class:`hmc.runs.store.DamagedResult` naming the path and the line.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(columns))
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DamagedResult(f"not UTF-8 text (byte {err.start}): not a results table, or a damaged one", path,
                            line) from None
    except pd.errors.ParserError as err:
        raise DamagedResult(f"cannot be parsed as a CSV table ({err}): a row with extra or missing fields",
                            path) from None
    numeric = ("value", *PARAM_COLUMNS, "wall_time_s")
    frame = validate_table(frame, path, int_columns=("seed",), float_columns=numeric)
    required = [c for c in columns if c != "value" and c in frame.columns]  # a metric's value may be NaN
    empty = frame[required].isna().any(axis=1)
    if empty.any():
        i = int(empty.to_numpy().argmax())
        missing = [c for c in required if pd.isna(frame[c].iloc[i])]
        raise DamagedResult(f"the row has no {', '.join(missing)} (cut mid-row?); the table is rebuilt from its "
                            "store by the next sweep, or repair the line", path, i + 2)
    return frame


def write_results_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` to ``path`` as CSV atomically: temporary file in the same folder, fsync, rename."""
    with atomic_write(path) as fh:
        frame.to_csv(fh, index=False)


def unique_units(units: Iterable) -> list[Unit]:
    """``(dataset, method, seed)`` triples as :class:`Unit`, in order, duplicates dropped."""
    out, seen = [], set()
    for u in units:
        unit = Unit(str(u[0]), str(u[1]), int(u[2]))
        if unit not in seen:
            seen.add(unit)
            out.append(unit)
    return out


def _settings_for(benchmark, train_kwargs: dict) -> dict:
    """The resolved training settings of a dataset: those given, the rest from ``benchmark.spec``."""
    keys = ("epochs", "lr", "hidden_dim", "batch_size", "weight_decay", "dropout")
    return chmcnn_settings(benchmark, **{k: train_kwargs[k] for k in keys if k in train_kwargs})


def unit_config(settings: dict, benchmark, train_kwargs: dict) -> dict:
    """Everything that changes a tabular unit's results, as stored with it (:mod:`hmc.runs.store`):
    the resolved :data:`PARAM_COLUMNS`, the optimiser and :func:`~hmc.runs.store.data_signature`."""
    return {**{k: settings[k] for k in PARAM_COLUMNS}, "optimizer": train_kwargs.get("optimizer", "fused"),
            "data": data_signature(benchmark)}


class TabularKind:
    """The tabular sweep (chapters 02-05): a benchmark per dataset, a method of :data:`hmc.train.METHODS`.

    ``load(dataset) -> benchmark`` (default :func:`hmc.data.load_benchmark`; on a cluster it runs on
    the workers too, so it must be picklable). A unit's configuration is :func:`unit_config`; a task
    trains its seeds as one batched model and returns :func:`result_rows`.
    """

    params, columns = PARAM_COLUMNS, RESULT_COLUMNS
    max_seeds_per_task = None  # any number of seeds trains as one batched model

    def __init__(self, load: Callable[[str], Any] | None = None):
        if load is None:
            from hmc.data import load_benchmark as load
        self._load = load

    def load(self, dataset: str):
        return self._load(dataset)

    def check_method(self, method: str) -> None:
        if resolve_method(method) is None:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")

    def config(self, dataset: str, data, method: str, train_kwargs: dict) -> dict:
        return unit_config(_settings_for(data, train_kwargs), data, train_kwargs)

    def checkpoints(self, method: str) -> bool:
        """Whether the method takes ``checkpoint`` and ``stop_at`` (per-epoch checkpoints)."""
        return _accepts(resolve_method(method), "checkpoint")

    def stackable(self, methods: Sequence[str]) -> bool:
        """Whether ``methods`` can train as one stacked model (:func:`hmc.stacked_methods.check_stackable`:
        rare-node deep ensembles of one H without LPROS; ``chmcnn`` and other trainers never stack)."""
        from hmc.rare_nodes import rare_config
        from hmc.stacked_methods import check_stackable

        try:
            check_stackable([rare_config(m) for m in methods])
        except ValueError:
            return False
        return True

    def train(self, data, task: Task) -> pd.DataFrame:
        if isinstance(task.method, tuple):
            from hmc.stacked_methods import train_stacked_methods

            results = train_stacked_methods(data, list(task.seeds), list(task.method), **task.kwargs)
            return pd.concat([result_rows(task.dataset, m, r) for m, r in zip(task.method, results, strict=True)],
                             ignore_index=True)
        result = resolve_method(task.method)(data, list(task.seeds), **task.kwargs)
        return result_rows(task.dataset, task.method, result)

    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        return read_results(path)


def run_sweep(
    units: Iterable[Unit | tuple[str, str, int]],
    results_csv: str | os.PathLike,
    *,
    kind=None,
    load: Callable[[str], Any] | None = None,
    seeds_per_batch: int | None = None,
    stack_methods: bool = False,
    force: bool = False,
    progress: bool = True,
    on_batch_done: Callable[[pd.DataFrame], None] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    stop_at: float | None = None,
    train: bool = True,
    executor=None,
    **train_kwargs,
) -> pd.DataFrame:
    """Run the unfinished units of a sweep into the results store; return the tidy table of all units.

    Parameters
    ----------
    units
        ``(dataset, method, seed)`` triples; for the default kind ``method`` names a function in
        :data:`hmc.train.METHODS` (or one that :func:`hmc.train.resolve_method` finds).
    results_csv
        The tidy results table (``kind.columns``) that notebooks read. It is a view of the results
        store :func:`hmc.runs.store.store_for` ``(results_csv)`` (one file per unit), rebuilt after
        every task and at the end. A unit is finished when its file is there under the same
        configuration (``kind.config``: for tabular units :func:`unit_config`, the settings, the
        optimiser, the data's signature); stored under another, a ValueError names the settings
        that differ, so that two settings never mix.
    kind
        What the sweep trains (module docstring); None: :class:`TabularKind` ``(load)``.
    load
        ``load(dataset) -> benchmark`` of the default kind; default :func:`hmc.data.load_benchmark`.
        On a cluster it runs on the workers too, so it must be picklable. Not with ``kind``.
    seeds_per_batch
        Seeds of one (dataset, method) trained together as one batched model (one task); None: all
        (at most ``kind.max_seeds_per_task``).
    stack_methods
        Where the kind can (:meth:`TabularKind.stackable`), train the same seeds of several methods of
        a dataset as one stacked model (:mod:`hmc.stacked_methods`: the same results bit for bit on a
        CPU, 1.17x faster for 3 methods there), within :data:`STACK_MAX_STATE_BYTES` per task. A
        stacked unit's ``wall_time_s`` is its share of the stacked task's, so leave it off where wall
        times are evidence (chapter 04 compares the training time of ensembles and MC-dropout).
    force
        Recompute the given units even when finished; their files are replaced.
    progress
        tqdm bars (one per task, over steps).
    on_batch_done
        Called after each task's units are safely stored, with their rows.
    checkpoint_dir
        Where a task keeps its per-epoch checkpoint (methods that take ``checkpoint``):
        :func:`task_checkpoint`; a killed sweep continues from it (on a
        cluster, a folder every worker sees). None: none.
    stop_at
        ``time.time()`` at which to pause (at an epoch boundary, with a checkpoint;
        :class:`hmc.checkpoint.TrainingPaused`).
    train
        False: train nothing, only read back the finished units (a page that shows whatever part of
        a design the campaign has finished; :func:`hmc.runs.store.coverage` says how much).
    executor
        Where the tasks run: :class:`~hmc.runs.executors.LocalExecutor` (here, one after another),
        or :class:`~hmc.runs.executors.RayExecutor` (a Ray cluster); None: the one the environment
        names (:func:`~hmc.runs.executors.executor_from_env`: ``python -m hmc run --executor``), else local.
    train_kwargs
        Passed to the training function (``epochs``, ``lr``, ``device``, ``num_threads``, ...).

    Every output is checked for writability before anything trains. A table whose rows are not in
    its store (written before the store existed) is refused with the command that imports it.
    """
    if kind is None:
        kind = TabularKind(load)
    elif load is not None:
        raise ValueError("give either kind or load: a kind loads its own data")
    executor = executor or executor_from_env()
    units = unique_units(units)
    for unit in units:
        try:
            kind.check_method(unit.method)
        except ValueError as err:
            raise ValueError(f"{err} (in {unit})") from None
    if seeds_per_batch is not None and seeds_per_batch < 1:
        raise ValueError(f"seeds_per_batch must be >= 1, got {seeds_per_batch}")
    results_csv = Path(results_csv)
    store = ResultStore(store_for(results_csv))
    store.check_writable()
    advice = "give writable folders before training anything"
    check_writable(results_csv.parent, f"the folder of the results table {results_csv.name}:", advice)
    if checkpoint_dir is not None:
        check_writable(checkpoint_dir, "the checkpoint folder", advice)
    _refuse_unimported(results_csv, store, kind)
    loaded: dict[str, Any] = {}

    groups: dict[tuple[str, str], list[int]] = {}
    for unit in units:
        groups.setdefault((unit.dataset, unit.method), []).append(unit.seed)
    tasks: list[Task] = []
    batches: list[tuple[str, str, tuple[int, ...]]] = []  # (dataset, method, seeds) of each pending batch
    configs: dict[tuple[str, str], dict] = {}
    read_back_units, read_back_s = 0, 0.0
    for (dataset, method), seeds in groups.items():
        if dataset not in loaded:
            loaded[dataset] = kind.load(dataset)
        config = configs[dataset, method] = kind.config(dataset, loaded[dataset], method, train_kwargs)
        pending = []
        for seed in seeds:
            stored = None
            if not force:
                try:
                    stored = store.lookup(dataset, method, seed, config)
                except ConfigMismatch as err:
                    raise ValueError(str(err)) from None
            if stored is not None:
                read_back_units += 1
                read_back_s += stored.wall_time_s
                continue
            pending.append(seed)
        step = min(seeds_per_batch or len(pending), kind.max_seeds_per_task or len(pending)) or 1
        batches += [(dataset, method, tuple(pending[i : i + step])) for i in range(0, len(pending), step)]
    stackable = kind.stackable if stack_methods and hasattr(kind, "stackable") else None
    limits = {d: _network_limit(loaded[d], train_kwargs) for d in loaded} if stackable is not None else {}
    for dataset, methods, batch in _stacks(batches, stackable, limits):
        method = methods[0] if len(methods) == 1 else methods
        kwargs = dict(train_kwargs, progress=progress)
        if checkpoint_dir is not None and all(kind.checkpoints(m) for m in methods):
            kwargs.update(checkpoint=str(task_checkpoint(checkpoint_dir, dataset, methods, batch)), stop_at=stop_at)
        tasks.append(Task(dataset, method, batch, kwargs))
    provenance.note_read_back(results_csv, read_back_units, read_back_s)
    if not train:
        tasks = []

    if tasks:
        for task, rows in executor.map(tasks, kind, loaded):
            store_task(store, task, rows, configs)
            store.export_csv(results_csv, kind.params, kind.columns)
            if on_batch_done is not None:
                on_batch_done(rows)
    return store.export_csv(results_csv, kind.params, kind.columns)  # the table always the store's view


STACK_PREFIX = "stack-"


def task_checkpoint(checkpoint_dir: str | os.PathLike, dataset: str, methods: Sequence[str],
                    seeds: Sequence[int]) -> Path:
    """A task's checkpoint file: ``<dir>/<dataset>/<method>/seeds<s0>-<s1>...pt``, the method folder
    ``stack-<m1>+<m2>...`` for stacked methods."""
    folder = methods[0] if len(methods) == 1 else STACK_PREFIX + "+".join(methods)
    return Path(checkpoint_dir) / dataset / folder / f"seeds{'-'.join(map(str, seeds))}.pt"


STACK_MAX_STATE_BYTES = 2 * 2**30
"""At most this much Adam state (parameters, gradients, two moments: 16 bytes per parameter) in one
stacked task: about 230 networks of cellcycle_FUN's size (0.57 M parameters), a few dozen of a GO
dataset's."""


def _network_limit(data, train_kwargs: dict) -> int:
    """Networks of ``data``'s C-HMCNN (the settings' hidden width, 3 layers) within :data:`STACK_MAX_STATE_BYTES`."""
    h = _settings_for(data, train_kwargs)["hidden_dim"]
    f, c = data.x_train.shape[1], data.y_train.shape[1]
    return max(1, STACK_MAX_STATE_BYTES // (16 * (f * h + h * h + h * c)))


def _stacks(batches: list[tuple[str, str, tuple[int, ...]]], stackable, limits: dict[str, int]) -> list[tuple]:
    """``(dataset, methods, seeds)`` tasks from the pending ``(dataset, method, seeds)`` batches, in
    their order: a batch joins the first earlier task of the same dataset and seeds whose methods
    ``stackable`` accepts with it while the task stays within ``limits[dataset]`` networks
    (methods x seeds x members); ``stackable`` None: every batch its own task."""
    from hmc.rare_nodes import rare_config

    out: list[tuple[str, list[str], tuple]] = []
    for dataset, method, seeds in batches:
        for task_dataset, methods, task_seeds in out if stackable is not None else []:
            if task_dataset != dataset or task_seeds != seeds or not stackable([*methods, method]):
                continue
            if (len(methods) + 1) * len(seeds) * rare_config(method).n_members <= limits[dataset]:
                methods.append(method)
                break
        else:
            out.append((dataset, [method], seeds))
    return [(d, tuple(m), s) for d, m, s in out]


def store_task(store: ResultStore, task: Task, rows: pd.DataFrame, configs: dict) -> None:
    """Write a finished task's units to the store (one file per method and seed, under its
    ``configs[dataset, method]``), then remove its checkpoint."""
    from hmc.checkpoint import remove_checkpoint

    for method in task.methods():
        for seed in task.seeds:
            unit_rows = rows[(rows.method == method) & (rows.seed == seed)]
            if unit_rows.empty:
                raise RuntimeError(f"task {task.label()} returned no rows for {method} seed {seed}")
            store.write(task.dataset, method, seed, configs[task.dataset, method],
                        dict(zip(unit_rows.metric, unit_rows.value)), str(unit_rows.device.iloc[0]),
                        float(unit_rows.wall_time_s.iloc[0]))
    remove_checkpoint(task.kwargs.get("checkpoint"))


def _accepts(fn: Callable, name: str) -> bool:
    import inspect

    return name in inspect.signature(fn).parameters


def _refuse_unimported(results_csv: Path, store, kind) -> None:
    """A table with units that its store lacks was written before the store: refuse to overwrite it."""
    table = kind.read(results_csv)
    if table.empty:
        return
    stored = {(u.parent.parent.name, u.parent.name, int(u.stem[4:])) for u in store.paths()}
    keys = set(zip(table.dataset, table.method, table.seed.astype(int)))
    lost = keys - stored
    if lost:
        raise ValueError(
            f"{results_csv} holds {len(lost)} units that its store {store.root} lacks (e.g. {sorted(lost)[0]}): "
            f"import them first with `python -m hmc store import {results_csv}`, or move the table aside"
        )
