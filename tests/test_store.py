"""The results store and checkpoints: concurrent writers, kills, damaged files, budgets.

Each test can fail: the concurrency test failed with the table-rewriting sweep this store replaced
(units of one writer lost), the kill test compares against an uninterrupted run, and every damaged
file is made by hand from a good one.
"""

import dataclasses
import json
import multiprocessing
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hmc import train as T
from hmc.checkpoint import TrainingPaused, load_checkpoint, save_checkpoint, stale_temporaries
from hmc.runs.campaign import parse_budget
from hmc.runs.store import ConfigMismatch, DamagedResult, ResultStore, coverage, import_table, store_for
from hmc.synthetic import make_benchmark
from hmc.runs.sweep import Unit, read_results, run_sweep, unit_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


def _bench(name="syn", seed=0, n=200):
    b = make_benchmark(n_samples=n, depth=3, branching=2, n_features=8, split=(0.5, 0.1, 0.4), epochs=3, seed=seed)
    return dataclasses.replace(b, name=name)


BENCH = {"syn": _bench()}


def _fake(benchmark, seeds, progress=True, **kwargs):
    """A method that costs nothing: its metric is a function of the seed (known to the test)."""
    seeds = list(seeds)
    s = len(seeds)
    return T.TrainResult(seeds=seeds, predictions=np.zeros((s, 1, 1), np.float32),
                         au_prc=np.array([0.001 * x for x in seeds]), epoch_loss=np.ones((s, 1)),
                         settings={**T.chmcnn_settings(None, epochs=1, lr=0.1, hidden_dim=4), "device": "cpu"},
                         wall_time_s=0.01 * s, n_steps=1)


@pytest.fixture
def fake_method(monkeypatch):
    monkeypatch.setitem(T.METHODS, "fake", _fake)


FAKE = {"epochs": 1, "lr": 0.1, "hidden_dim": 4}


def _writer(path, seeds):
    run_sweep([Unit("syn", "fake", s) for s in seeds], path, load=BENCH.__getitem__, seeds_per_batch=1,
              progress=False, **FAKE)


def test_two_processes_writing_one_store_lose_no_unit(tmp_path, fake_method):
    ctx = multiprocessing.get_context("fork")
    for trial in range(20):
        path = tmp_path / f"t{trial}" / "r.csv"
        procs = [ctx.Process(target=_writer, args=(path, range(i, 80, 2))) for i in (0, 1)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0]
        units = list(ResultStore(store_for(path)).units())
        assert len(units) == 80, f"trial {trial}: {len(units)} of 80 units stored"
        assert sorted(u.seed for u in units) == list(range(80))
        # the table is rebuilt under a lock after every batch; a final read of the store completes it
        table = run_sweep([Unit("syn", "fake", s) for s in range(80)], path, load=BENCH.__getitem__, **FAKE)
        au = table[table.metric == "au_prc"].set_index("seed")["value"].sort_index()
        assert np.allclose(au.to_numpy(), 0.001 * np.arange(80))


KILL_SCRIPT = """
import os, signal, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_store import BENCH
from hmc.runs.sweep import Unit, run_sweep
kill_at = int(sys.argv[1])
def cb(step):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
run_sweep([Unit("syn", sys.argv[4], s) for s in (0, 1)], sys.argv[2], load=BENCH.__getitem__,
          checkpoint_dir=sys.argv[3], progress=False, step_callback=cb, epochs=4, lr=1e-3, hidden_dim=16,
          num_threads=1)
"""


@pytest.mark.parametrize("method", ["focal-gmu-H2", "chmcnn"])
def test_sigkill_mid_unit_then_rerun_gives_the_uninterrupted_metrics(tmp_path, method):
    kw = dict(epochs=4, lr=1e-3, hidden_dim=16, num_threads=1, progress=False)
    units = [Unit("syn", method, s) for s in (0, 1)]
    ref = run_sweep(units, tmp_path / "ref.csv", load=BENCH.__getitem__, **kw)
    steps_per_epoch = -(-(len(BENCH["syn"].x_train) + len(BENCH["syn"].x_valid)) // 4)
    kill_at = int(np.random.default_rng().integers(steps_per_epoch + 1, 3 * steps_per_epoch))
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests")))
    path, ckpt = tmp_path / "r.csv", tmp_path / "ckpt"
    run = subprocess.run([sys.executable, str(script), str(kill_at), str(path), str(ckpt), method], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert not store_for(path).exists() or not list(ResultStore(store_for(path)).paths())
    assert list(ckpt.rglob("*.pt")), "no checkpoint was written before the kill"
    rows = run_sweep(units, path, load=BENCH.__getitem__, checkpoint_dir=ckpt, **kw)
    cols = ["dataset", "method", "seed", "metric", "value"]
    pd.testing.assert_frame_equal(rows[cols].reset_index(drop=True), ref[cols].reset_index(drop=True))
    assert not list(ckpt.rglob("*.pt")) and not list(ckpt.rglob("*.tmp"))  # removed once stored


# ------------------------------------------------------------------------------------- damaged files
@pytest.fixture
def stored(tmp_path, fake_method):
    path = tmp_path / "r.csv"
    run_sweep([Unit("syn", "fake", s) for s in range(3)], path, load=BENCH.__getitem__, **FAKE)
    return path, ResultStore(store_for(path))


def _rerun(path):
    return run_sweep([Unit("syn", "fake", s) for s in range(3)], path, load=BENCH.__getitem__, **FAKE)


def test_a_truncated_unit_file_is_reported_with_its_path_and_line(stored):
    path, store = stored
    unit = store.unit_path("syn", "fake", 1)
    unit.write_bytes(unit.read_bytes()[:-40])
    with pytest.raises(DamagedResult) as err:
        _rerun(path)
    assert str(unit) in str(err.value) and "line" in str(err.value)
    assert unit.read_bytes().endswith(b"\n") is False  # never rewritten


def test_overwritten_bytes_and_a_lost_row_fail_the_checksum(stored):
    path, store = stored
    unit = store.unit_path("syn", "fake", 2)
    body = json.loads(unit.read_text())
    body["metrics"][0][1] = 0.5  # a value edited: still valid JSON
    unit.write_text(json.dumps(body))
    with pytest.raises(DamagedResult, match="checksum") as err:
        _rerun(path)
    assert str(unit) in str(err.value)
    body["metrics"] = body["metrics"][:1]  # a row lost
    unit.write_text(json.dumps(body))
    with pytest.raises(DamagedResult, match="checksum"):
        store.read(unit)


def test_a_unit_under_another_configuration_is_not_finished(stored):
    path, store = stored
    with pytest.raises(ValueError, match="another configuration.*epochs: stored 1, asked 2"):
        run_sweep([Unit("syn", "fake", 0)], path, load=BENCH.__getitem__, **{**FAKE, "epochs": 2})
    other = _bench(seed=5)  # other labels: the data signature differs
    with pytest.raises(ConfigMismatch, match="data"):
        store.lookup("syn", "fake", 0, unit_config(T.chmcnn_settings(None, **FAKE), other, {}))


def test_damaged_tables_are_reported_with_path_and_line(stored):
    path, _ = stored
    text = path.read_text()
    path.write_text(text + text)  # concatenated twice: a header row inside the data
    with pytest.raises(DamagedResult) as err:
        read_results(path)
    assert str(path) in str(err.value) and f"line {len(text.splitlines()) + 1}" in str(err.value)
    lines = text.splitlines()
    path.write_text("\n".join(lines[:3] + [lines[3] + ",extra"] + lines[4:]) + "\n")
    with pytest.raises(DamagedResult, match="extra or missing fields") as err:
        read_results(path)
    assert str(path) in str(err.value)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 20)
    with pytest.raises(DamagedResult, match="not UTF-8") as err:
        read_results(path)
    assert str(path) in str(err.value)


def test_a_table_with_units_its_store_lacks_is_refused_not_overwritten(tmp_path, fake_method):
    path = tmp_path / "old.csv"
    run_sweep([Unit("syn", "fake", 0)], path, load=BENCH.__getitem__, **FAKE)
    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(path.read_bytes())  # a table written before the store existed
    with pytest.raises(ValueError, match="hmc store import"):
        run_sweep([Unit("syn", "fake", 1)], legacy, load=BENCH.__getitem__, **FAKE)
    before = legacy.read_bytes()
    assert import_table(legacy, load=BENCH.__getitem__) == 1
    assert legacy.read_bytes() == before  # the same rows, rebuilt from the store
    rows = run_sweep([Unit("syn", "fake", 0), Unit("syn", "fake", 1)], legacy, load=BENCH.__getitem__, **FAKE)
    assert sorted(set(rows.seed)) == [0, 1]


def test_an_unwritable_store_is_found_before_training(tmp_path, fake_method, monkeypatch):
    blocked = tmp_path / "results"
    blocked.mkdir()
    (blocked / "units").write_text("a file where the store folder should be")
    calls = []
    monkeypatch.setitem(T.METHODS, "fake", lambda *a, **k: calls.append(1) or _fake(*a, **k))
    with pytest.raises(PermissionError, match="not writable"):
        run_sweep([Unit("syn", "fake", 0)], blocked / "r.csv", load=BENCH.__getitem__, **FAKE)
    assert calls == []


def test_coverage_counts_finished_seeds_of_the_design(stored):
    path, _ = stored
    design = [Unit("syn", m, s) for m in ("fake", "other") for s in range(5)]
    cov = coverage(read_results(path), design)
    assert cov.to_dict("records") == [
        {"dataset": "syn", "method": "fake", "done": 3, "designed": 5, "seeds": "0, 1, 2"},
        {"dataset": "syn", "method": "other", "done": 0, "designed": 5, "seeds": "-"},
    ]


# ------------------------------------------------------------------------------------- checkpoints
def test_checkpoints_clean_stale_temporaries_and_set_damage_aside(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"identity": {"a": 1}, "x": torch.ones(3)})
    (tmp_path / "c.pt.abc123.tmp").write_bytes(b"\0" * 1000)  # a write killed half way
    assert len(stale_temporaries(path)) == 1
    assert torch.equal(load_checkpoint(path, {"a": 1})["x"], torch.ones(3))
    assert stale_temporaries(path) == []
    with pytest.raises(ValueError, match="another run"):
        load_checkpoint(path, {"a": 2})
    path.write_bytes(path.read_bytes()[:50])  # cut
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_checkpoint(path, {"a": 1}) is None
    assert not path.exists()
    aside = list(tmp_path.glob("c.pt.damaged-*"))
    assert len(aside) == 1 and str(path) in str(caught[0].message) and str(aside[0]) in str(caught[0].message)


def test_a_damaged_checkpoint_restarts_its_unit_with_the_same_result(tmp_path):
    kw = dict(epochs=3, lr=1e-3, hidden_dim=16, num_threads=1, progress=False)
    units = [Unit("syn", "imbalance-neg-H2", 0)]
    ref = run_sweep(units, tmp_path / "ref.csv", load=BENCH.__getitem__, **kw)
    ckpt = tmp_path / "ckpt" / "syn" / "imbalance-neg-H2" / "seeds0.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.warns(RuntimeWarning, match="set aside"):
        rows = run_sweep(units, tmp_path / "r.csv", load=BENCH.__getitem__, checkpoint_dir=tmp_path / "ckpt", **kw)
    assert np.array_equal(rows.value.to_numpy(), ref.value.to_numpy())


def test_a_time_budget_pauses_at_an_epoch_boundary_within_5_percent(tmp_path):
    big = _bench("big", n=2000)
    budget = 4.0
    start = time.time()
    with pytest.raises(TrainingPaused) as paused:
        run_sweep([Unit("big", "baseline-H2", 0)], tmp_path / "r.csv", load={"big": big}.__getitem__,
                  checkpoint_dir=tmp_path / "ckpt", stop_at=start + budget, epochs=200, lr=1e-3, hidden_dim=16,
                  num_threads=1, progress=False)
    took = time.time() - start
    assert 0 < paused.value.epochs_done < 200
    assert took <= budget * 1.05, f"{took:.2f} s for a budget of {budget} s"
    assert list((tmp_path / "ckpt").rglob("*.pt"))  # the progress is kept


@pytest.mark.parametrize("text, seconds", [("150m", 9000), ("2h", 7200), ("1h30m", 5400), ("90s", 90),
                                           ("0.5h", 1800)])
def test_parse_budget(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "5", "m"])
def test_parse_budget_refuses_other_text(text):
    with pytest.raises(ValueError, match="budget"):
        parse_budget(text)


# ------------------------------------------------------------------------------------- the campaign
class _SyntheticCampaign:
    """A campaign whose queue runs on a synthetic dataset (the real one needs the benchmarks)."""

    @staticmethod
    def make(tmp_path, epochs):
        from hmc.runs.campaign import Campaign, WorkItem

        big = _bench("big", n=2000)
        big = dataclasses.replace(big, spec=dataclasses.replace(big.spec, hidden_dim=16, epochs=epochs))

        class Synthetic(Campaign):
            def available(self, dataset):
                return True

            def epochs(self, dataset):
                return epochs

        c = Synthetic(tmp_path / "results", tmp_path / "ckpt", load={"big": big}.__getitem__, book=tmp_path / "book")
        c.queue = [WorkItem(1, "test", "03_rare_node_loss", "big", m, (0, 1)) for m in ("baseline-H2", "focal-gmu-H2")]
        return c


def test_the_campaign_stops_within_5_percent_of_its_budget_and_resumes(tmp_path):
    from hmc.runs.campaign import run_campaign

    campaign = _SyntheticCampaign.make(tmp_path, epochs=400)
    budget = 8.0
    start = time.time()
    log = tmp_path / "log.txt"
    with open(log, "w") as out:
        summary = run_campaign(campaign, budget, threads=1, pages=False, out=out)
    took = time.time() - start
    assert took <= budget * 1.05, f"{took:.2f} s for a budget of {budget} s"
    text = log.read_text()
    assert "about" in text and "min" in text  # each item's estimate is printed before it starts
    assert summary["units"] == 0 and "budget" in summary["stopped"]
    # the two items trained stacked: the progress is kept for the next call, and each item sees it
    assert [len(campaign.stacked_checkpoints(item, [0, 1])) for item in campaign.queue] == [1, 1]
    assert campaign.checkpoint_share(campaign.queue[0], [0, 1]) > 0


def test_the_campaign_stores_finished_items_and_skips_them_next_time(tmp_path):
    from hmc.runs.campaign import run_campaign

    campaign = _SyntheticCampaign.make(tmp_path, epochs=1)
    with open(tmp_path / "log.txt", "w") as out:
        first = run_campaign(campaign, 600, threads=1, pages=False, out=out)
        again = run_campaign(campaign, 600, threads=1, pages=False, out=out)
    assert first["items"] == 2 and first["units"] == 4
    assert "these 2 items train together" in (tmp_path / "log.txt").read_text()  # one sweep: their methods stack
    assert again["items"] == 0 and again["stopped"] == "queue finished"
    assert [campaign.done_seeds(item) for item in campaign.queue] == [[0, 1], [0, 1]]
    rows = campaign.status_rows()
    assert rows[0]["done"] == 4 and rows[0]["total"] == 4 and rows[0]["left_h"] == 0


def test_items_of_one_dataset_and_seed_batch_group_while_their_estimates_fit():
    """_item_groups: consecutive items of a stacking chapter with one dataset and the same pending seeds
    form a group while the summed estimate fits before the deadline; chapter 04 and others stay alone."""
    from hmc.runs.campaign import WorkItem, _item_groups

    def entry(chapter, dataset, method, seeds=(0, 1), estimate=60.0):
        return WorkItem(5, "", chapter, dataset, method, tuple(seeds)), list(seeds), estimate, "test"

    c3, c4 = "03_rare_node_loss", "04_ensembles_and_dropout"
    entries = [entry(c3, "a", "m1"), entry(c3, "a", "m2"), entry(c3, "a", "m3", estimate=500.0),  # m3: over budget
               entry(c3, "a", "m4"), entry(c3, "b", "m1"), entry(c3, "b", "m2", seeds=(2,)),
               entry(c4, "a", "m1"), entry(c4, "a", "m2")]
    groups = [[e[0].method + e[0].dataset for e in g] for g in _item_groups(iter(entries), time.time() + 300)]
    assert groups == [["m1a", "m2a"], ["m3a"], ["m4a"], ["m1b"], ["m2b"], ["m1a"], ["m2a"]]


def test_an_item_another_process_trains_is_skipped_and_the_next_one_runs(tmp_path):
    from hmc.fileio import try_locked
    from hmc.runs.campaign import run_campaign

    campaign = _SyntheticCampaign.make(tmp_path, epochs=1)
    held = campaign.claim_path(campaign.queue[0])
    held.parent.mkdir(parents=True)
    # the other campaign process: a child holding the item's lock with flock, as try_locked takes it
    child = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                              "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)", str(held)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with try_locked(held) as claimed:
            assert claimed is False
        with open(tmp_path / "log.txt", "w") as out:
            summary = run_campaign(campaign, 600, threads=1, pages=False, out=out)
    finally:
        child.kill()
        child.wait()
    assert "another campaign process is running it" in (tmp_path / "log.txt").read_text()
    assert summary["items"] == 1 and summary["units"] == 2
    assert [campaign.done_seeds(item) for item in campaign.queue] == [[], [0, 1]]
    with try_locked(held) as claimed:  # the lock went with the process that held it
        assert claimed is True


def test_a_table_cut_mid_row_is_reported_with_its_line(stored):
    path, _ = stored
    text = path.read_text()
    path.write_text(text[: text.rindex(",", 0, len(text) - 40)] + "\n")  # the last row loses its last fields
    with pytest.raises(DamagedResult, match="cut mid-row") as err:
        read_results(path)
    assert str(path) in str(err.value) and f"line {len(text.splitlines())}" in str(err.value)


def test_written_files_get_the_users_permissions(stored, tmp_path):
    import os
    import stat

    from hmc.fileio import atomic_write

    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as fh:
            fh.write("x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        path, store = stored
        assert stat.S_IMODE(store.unit_path("syn", "fake", 0).stat().st_mode) in (0o644, 0o664)
    finally:
        os.umask(old)
