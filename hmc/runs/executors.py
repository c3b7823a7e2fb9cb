"""Executors: where the tasks of a sweep run. Here, one after another, or on a Ray cluster.

A *task* (:class:`Task`) is one (dataset, method) and a batch of seeds, trained as one batched
model (or several methods of the dataset stacked in that model, :mod:`hmc.stacked_methods`); :func:`run_task` trains it with the sweep's *kind* (:class:`hmc.runs.sweep.TabularKind`, or
the image stress tests' :class:`hmc.runs.stress_sweep.StressKind`) and returns its tidy rows. An
executor's ``map(tasks, kind, loaded)`` yields ``(task, rows)`` as tasks finish; the driver
(:func:`hmc.runs.sweep.run_sweep`) writes each to the results store. Workers never write the store or the tables.

Why Ray is the cluster engine. A task asks for its resources (``num_cpus`` threads, and one GPU
when it trains on CUDA: Ray then sets ``CUDA_VISIBLE_DEVICES`` for the worker, so tasks share the
GPUs of a machine without code here); a worker that dies mid-task has its task run again on
another worker (``max_retries``), and with a checkpoint folder every worker sees, the retry
continues from the last epoch; one ``ray.init(address=...)`` joins a multi-GPU box, a cloud
cluster or a SLURM allocation (Ray documents the SLURM launch). Machine-learning groups already run
hyper-parameter sweeps this way (Ray Tune). Dask distributed would also do (``dask-jobqueue`` for
SLURM); it was not added, since it assigns GPUs only through worker-level resources or dask-cuda.

Ray is an optional dependency: ``pip install -e ".[cluster]"`` (``make test`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

CLUSTER_EXTRA = 'pip install -e ".[cluster]"'
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Task:
    """One batch of seeds of one (dataset, method), with the keyword arguments of its training function;
    ``method`` a tuple: several methods of the dataset stacked in one model (:mod:`hmc.stacked_methods`)."""

    dataset: str
    method: str | tuple[str, ...]
    seeds: tuple[int, ...]
    kwargs: dict = field(default_factory=dict, hash=False)

    def methods(self) -> tuple[str, ...]:
        """The methods the task trains: its one, or the stacked ones."""
        return self.method if isinstance(self.method, tuple) else (self.method,)

    def label(self) -> str:
        return f"{self.dataset} {' + '.join(self.methods())} seeds {', '.join(map(str, self.seeds))}"


def run_task(task: Task, kind, data=None) -> pd.DataFrame:
    """Train a task with the sweep's ``kind`` and return its tidy rows.

    ``data``: the task's dataset if the caller holds it; else ``kind.load(task.dataset)`` (on a worker).
    """
    if data is None:
        data = kind.load(task.dataset)
    return kind.train(data, task)


class LocalExecutor:
    """The tasks one after another in this process (the default)."""

    name = "local"

    def slots(self) -> int:
        return 1

    def map(self, tasks: list[Task], kind, loaded: dict | None = None) -> Iterator[tuple[Task, pd.DataFrame]]:
        loaded = loaded if loaded is not None else {}
        for task in tasks:
            if task.dataset not in loaded:
                loaded[task.dataset] = kind.load(task.dataset)
            yield task, run_task(task, kind, loaded[task.dataset])


class RayExecutor:
    """The tasks on a Ray cluster, as many at once as its resources allow.

    Parameters
    ----------
    address
        None: start a local Ray instance (``ray.init()``; ``num_cpus`` caps its CPUs); ``"auto"``
        or ``"ray://host:10001"`` / ``"host:6379"``: join a running cluster.
    cpus_per_task
        CPUs a task asks for; also its torch thread count (``num_threads``) unless the sweep sets one.
    gpus_per_task
        GPUs a task asks for: None means 1 when the task trains on CUDA (``device="cuda"``), else 0.
    max_retries
        How often a task whose worker died is run again (elsewhere).
    num_cpus
        CPUs of a local instance (None: all of the machine's).
    """

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_task: int = 1, gpus_per_task: float | None = None,
                 max_retries: int = 3, num_cpus: int | None = None):
        if cpus_per_task < 1:
            raise ValueError(f"cpus_per_task must be at least 1, got {cpus_per_task}")
        self.address, self.cpus_per_task, self.gpus_per_task = address, cpus_per_task, gpus_per_task
        self.max_retries, self.num_cpus = max_retries, num_cpus

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise ImportError(f"the Ray executor needs Ray, an optional dependency: {CLUSTER_EXTRA}") from None
        if not ray.is_initialized():
            env = {k: os.environ[k] for k in ("HMC_DATA_DIR", "HMC_CACHE_DIR") if k in os.environ}
            env.update(OMP_NUM_THREADS=str(self.cpus_per_task), MKL_NUM_THREADS=str(self.cpus_per_task))
            ray.init(address=self.address, num_cpus=self.num_cpus if self.address is None else None,
                     include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
        return ray

    def slots(self) -> int:
        """Tasks that can run at once: the cluster's CPUs (or GPUs, for GPU tasks) over a task's share."""
        ray = self._ray()
        resources = ray.cluster_resources()
        if self.gpus_per_task:
            return max(1, int(resources.get("GPU", 0) // self.gpus_per_task))
        return max(1, int(resources.get("CPU", 1) // self.cpus_per_task))

    def map(self, tasks: list[Task], kind, loaded: dict | None = None) -> Iterator[tuple[Task, pd.DataFrame]]:
        ray = self._ray()
        kind_ref = ray.put(kind)
        pending = {}
        for task in tasks:
            kwargs = dict(task.kwargs)
            kwargs.setdefault("num_threads", self.cpus_per_task)
            kwargs["progress"] = False  # no bars from workers
            gpus = self.gpus_per_task
            if gpus is None:
                gpus = 1 if str(kwargs.get("device", "cpu")).startswith("cuda") else 0
            remote = ray.remote(num_cpus=self.cpus_per_task, num_gpus=gpus, max_retries=self.max_retries)(run_task)
            pending[remote.remote(Task(task.dataset, task.method, task.seeds, kwargs), kind_ref)] = task
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                task = pending.pop(done[0])
                yield task, ray.get(done[0])
        finally:
            for ref in pending:  # the driver stopped (an error, a pause): cancel what did not finish
                ray.cancel(ref, force=True)


EXECUTOR_ENV, ADDRESS_ENV = "HMC_EXECUTOR", "HMC_EXECUTOR_ADDRESS"
"""Environment variables through which ``python -m hmc run --executor`` reaches the notebooks' sweeps."""


def executor_from_env():
    """The executor that ``HMC_EXECUTOR`` / ``HMC_EXECUTOR_ADDRESS`` name (default: local)."""
    return make_executor(os.environ.get(EXECUTOR_ENV, "local"), os.environ.get(ADDRESS_ENV) or None)


def make_executor(name: str = "local", address: str | None = None, cpus_per_task: int = 1, **kwargs):
    """An executor by name (:data:`EXECUTORS`): ``"local"`` or ``"ray"`` (``address``: see :class:`RayExecutor`)."""
    if name == "local":
        if address is not None:
            raise ValueError("--address applies to --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address=address, cpus_per_task=cpus_per_task, **kwargs)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
