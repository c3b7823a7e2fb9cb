"""The Ray executor on a real local cluster of 2 workers (no mocks): same results as here, a killed
worker's task runs again, a killed driver's sweep resumes. Skipped only where Ray is not installed
(`pip install -e ".[cluster]"`; `make test` installs it)."""

import dataclasses
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from hmc.runs.executors import LocalExecutor, RayExecutor, make_executor
from hmc.runs.store import ResultStore, store_for
from hmc.runs.sweep import Unit, run_sweep
from hmc.synthetic import make_benchmark

ray = pytest.importorskip("ray", reason='the cluster executor needs Ray: pip install -e ".[cluster]"')
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow  # a Ray cluster: a minute or two
ROOT = Path(__file__).resolve().parents[1]
BENCH = dataclasses.replace(make_benchmark(n_samples=160, depth=3, branching=2, n_features=6, split=(0.5, 0.1, 0.4),
                                           epochs=2, hidden_dim=8, seed=0), name="syn")
LOAD = {"syn": BENCH}.__getitem__
UNITS = [Unit("syn", m, s) for m in ("baseline-H2", "imbalance-neg-H2") for s in range(20)]  # 40 units
KW = dict(load=LOAD, seeds_per_batch=1, progress=False, num_threads=1, stack_methods=True)  # 2 methods per task


@pytest.fixture(scope="module")
def cluster():
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    executor = RayExecutor(cpus_per_task=1)
    executor.gcs_address = context.address_info["gcs_address"]  # for a second driver to join
    yield executor
    ray.shutdown()


def _metrics(table):
    return table[["dataset", "method", "seed", "metric", "value"]].sort_values(
        ["dataset", "method", "seed", "metric"]).reset_index(drop=True)


def test_make_executor_names_and_errors():
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("spark")
    with pytest.raises(ValueError, match="--address applies to --executor ray"):
        make_executor("local", "auto")


def test_a_sweep_on_two_workers_stores_every_unit_with_the_local_metrics(tmp_path, cluster):
    here = run_sweep(UNITS, tmp_path / "local.csv", **KW)
    there = run_sweep(UNITS, tmp_path / "ray.csv", executor=cluster, **KW)
    assert len(list(ResultStore(store_for(tmp_path / "ray.csv")).units())) == 40
    pd.testing.assert_frame_equal(_metrics(there), _metrics(here))
    assert cluster.slots() == 2


def _kill_one_worker_when(path, n_stored, killed):
    store = ResultStore(store_for(path))
    deadline = time.time() + 120
    while time.time() < deadline and len(store.paths()) < n_stored:
        time.sleep(0.05)
    for proc in psutil.process_iter(["cmdline"]):
        if any("ray::run_task" in part for part in (proc.info["cmdline"] or [])):
            proc.send_signal(signal.SIGKILL)
            killed.append(proc.pid)
            return


def test_a_worker_killed_mid_sweep_loses_no_unit_and_duplicates_none(tmp_path, cluster):
    path = tmp_path / "r.csv"
    killed = []
    killer = threading.Thread(target=_kill_one_worker_when, args=(path, 5, killed))
    killer.start()
    stored = []
    table = run_sweep(UNITS, path, executor=cluster, on_batch_done=stored.append, **KW)
    killer.join()
    assert killed, "no running task was found to kill"
    assert len(list(ResultStore(store_for(path)).units())) == 40
    keys = table[["dataset", "method", "seed", "metric"]]
    assert not keys.duplicated().any() and table[["dataset", "method", "seed"]].drop_duplicates().shape[0] == 40
    # the driver stored each unit once (both methods of a seed train as one stacked task)
    assert len(stored) == 20 and sum(len(rows[["method", "seed"]].drop_duplicates()) for rows in stored) == 40


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from test_executors import KW, UNITS
from hmc.runs.executors import RayExecutor
from hmc.runs.sweep import run_sweep
run_sweep(UNITS, sys.argv[1], executor=RayExecutor(address=sys.argv[2]), **KW)
"""


def test_a_driver_killed_mid_sweep_leaves_a_store_the_next_call_resumes(tmp_path, cluster):
    """A second driver joins the running cluster (as `--address` does), is killed, and this one resumes."""
    path = tmp_path / "r.csv"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(ROOT / "tests")))
    driver = subprocess.Popen([sys.executable, str(script), str(path), cluster.gcs_address], cwd=ROOT)
    store = ResultStore(store_for(path))
    deadline = time.time() + 180
    while time.time() < deadline and len(store.paths()) < 8 and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = len(store.paths())
    assert 0 < before < 40, f"{before} units stored when the driver was killed"
    stored = []
    run_sweep(UNITS, path, executor=cluster, on_batch_done=stored.append, **KW)
    assert len(store.paths()) == 40
    # only what was missing was trained again
    assert sum(len(rows[["method", "seed"]].drop_duplicates()) for rows in stored) == 40 - before
