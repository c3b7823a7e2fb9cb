"""Tests of hmc.image_train: every method trains, runs are seeded, a killed run resumes exactly;
method labels and the resumable sweep.

Tiny CPU runs: synthetic 8x8 images, 64 training images (16 in the sweep tests), batch 16 (8),
ResNet-18 from random weights, one torch thread. The resume test kills a training subprocess with
SIGKILL after its first checkpoint and checks that the continued run equals an uninterrupted one
bit for bit; the sweep tests stop a sweep between units and inside a unit and check what it redoes.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from hmc import provenance
from hmc.display_paths import display_path
from hmc.data.synthetic_images import make_synthetic_images
import hmc.image_train as image_train
import hmc.runs.image_sweep as image_sweep
from hmc.image_train import (
    METHOD_LABELS,
    RESULT_COLUMNS,
    ImageRunConfig,
    ImageRunResult,
    _test_view,
    _train_view,
    checkpoint_path,
    embeddings_path,
    history_columns,
    load_embeddings,
    method_config,
    result_rows,
    train_image_model,
)
from hmc.runs.image_sweep import run_image_sweep


pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
DATA = {  # 64 training images each
    "two": {"branching": (2, 2), "n_per_class": 16, "n_test_per_class": 4, "size": 8, "validation": True},
    "three": {"branching": (2, 2, 2), "n_per_class": 8, "n_test_per_class": 2, "size": 8, "validation": True},
}
BASE = {"batch_size": 16, "pretrained": False, "device": "cpu"}


@lru_cache(maxsize=None)
def _data(key: str):
    return make_synthetic_images(**DATA[key], seed=0)


@lru_cache(maxsize=None)
def _run(key: str, method: str, epochs: int = 2, **options) -> ImageRunResult:
    config = ImageRunConfig(method, epochs, **BASE, **options)
    return train_image_model(_data(key), config, progress=False)


# ------------------------------------------------------------------------------------- methods
@pytest.mark.parametrize(
    "key, method, options, epochs_seen",
    [
        ("three", "hcal", {}, [1, 2]),
        ("two", "flat", {}, [1, 2]),
        ("two", "mmoe", {"epochs": 3, "eval_every": 2}, [2, 3]),
        ("three", "chmcnn", {}, [1, 2]),
    ],
)
def test_each_method_trains_and_reports_history(key, method, options, epochs_seen):
    result = _run(key, method, **options)
    data = _data(key)
    m = data.n_levels
    h = result.history
    assert list(h.columns) == history_columns(m)
    assert list(h.columns[:2 + m]) == ["epoch", "split", *(f"acc_{k}" for k in range(m))]
    assert h["epoch"].tolist() == [e for e in epochs_seen for _ in ("test", "val")]
    assert h["split"].tolist() == ["test", "val"] * len(epochs_seen)
    metrics = h[[f"acc_{k}" for k in range(m)] + ["full_path", "hvr", "consistent_full_path"]].to_numpy()
    assert ((metrics >= 0) & (metrics <= 1)).all()
    losses = h[[f"loss_{k}" for k in range(m)]].to_numpy()
    assert np.isfinite(losses).all() and (losses > 0).all()
    weights = h[[f"weight_{k}" for k in range(m)]].to_numpy()
    expected = {
        "flat": np.full(m, 1 / m),
        "mmoe": np.ones(m),
        # MCLoss summed over the nodes: level k's mean node loss counts C_k times
        "chmcnn": np.array(data.n_classes, dtype=float),
    }
    if method == "hcal":  # softmax of the losses / gamma at every step: each step's weights sum to 1
        assert np.allclose(weights.sum(axis=1), 1.0) and (weights > 0).all()
    else:
        assert np.allclose(weights, expected[method][None, :], rtol=0, atol=1e-12)
    # test and validation rows of an epoch carry the same training losses, different metrics
    assert np.array_equal(losses[0::2], losses[1::2])
    assert result.device == "cpu" and result.pretrained_used is False
    assert result.level_names == data.level_names and result.image_size == 8


def test_the_chmcnn_loss_is_mcloss_summed_over_nodes_and_averaged_over_the_batch():
    """The total of a batch is n_nodes x the mean of MCLoss over batch x nodes (CHMCNNHeads.loss, the
    C-HMCNN reference's reduction), and its levels' weighted losses add up to it."""
    from hmc.image_train import _Run

    data = _data("three")
    run = _Run(data, ImageRunConfig("chmcnn", 1, **BASE), torch.device("cpu"))
    x = (data.x_train[:6].float() / 255 - torch.tensor(data.mean).view(1, -1, 1, 1)) / torch.tensor(data.std).view(1, -1, 1, 1)
    logits = run.model(x)
    total, losses, weights = run._losses(logits, data.y_train[:6], None)
    n_nodes = sum(data.n_classes)
    assert torch.allclose(total, run.model.loss(logits, data.y_train[:6]) * n_nodes, rtol=1e-12, atol=0)
    assert torch.allclose((weights * losses).sum(), total.detach(), rtol=1e-12, atol=0)


def test_evaluation_matches_a_hand_computation():
    """The history's test and validation metrics, recomputed from the trained model with loops."""
    result = _run("three", "hcal")
    data, model = _data("three"), result.model
    m = data.n_levels
    parents = data.level_parents
    last = result.history[result.history["epoch"] == 2].set_index("split")
    for split, x, y in (("test", data.x_test, data.y_test), ("val", data.x_val, data.y_val)):
        mean = torch.tensor(data.mean).view(1, -1, 1, 1)
        std = torch.tensor(data.std).view(1, -1, 1, 1)
        with torch.no_grad():
            f = model((x.float() / 255 - mean) / std)
            scores = [(f @ F.normalize(p, dim=1).T).numpy() for p in model.prototypes]
        y = y.numpy()
        n = len(y)
        pred = np.array([[int(np.argmax(scores[k][i])) for k in range(m)] for i in range(n)])
        for k in range(m):
            assert last.loc[split, f"acc_{k}"] == sum(pred[i, k] == y[i, k] for i in range(n)) / n
        assert last.loc[split, "full_path"] == sum(all(pred[i] == y[i]) for i in range(n)) / n
        violations = sum(any(parents[k][pred[i, k]] != pred[i, k + 1] for k in range(m - 1)) for i in range(n))
        assert last.loc[split, "hvr"] == violations / n
        # consistent decoding by enumerating every valid path (fine class -> its ancestors)
        paths = []
        for c in range(data.n_classes[0]):
            path = [c]
            for k in range(m - 1):
                path.append(int(parents[k][path[-1]]))
            paths.append(path)
        right = 0
        for i in range(n):
            best = max(paths, key=lambda p: sum(scores[k][i, p[k]] for k in range(m)))
            right += best == list(y[i])
        assert last.loc[split, "consistent_full_path"] == right / n


def test_transforms_of_small_and_large_images():
    x = torch.randint(0, 256, (2, 3, 72, 72), dtype=torch.uint8)
    small = x[:, :, :8, :8]
    assert torch.equal(_test_view(small, 8), small.float() / 255)
    assert _train_view(small, 8, torch.Generator().manual_seed(0)).shape == (2, 3, 8, 8)
    assert _test_view(x, 72).shape == (2, 3, 224, 224)
    assert _train_view(x, 72, torch.Generator().manual_seed(0)).shape == (2, 3, 224, 224)


# ------------------------------------------------------------------------------------- seeds
def test_same_seed_same_history_other_seed_differs():
    first = _run("three", "hcal")
    again = train_image_model(_data("three"), first.config, progress=False)
    pd.testing.assert_frame_equal(first.history, again.history, check_exact=True)
    for (name, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name
    other = _run("three", "hcal", seed=1)
    assert not np.array_equal(first.history[["loss_0", "loss_1"]].to_numpy(),
                              other.history[["loss_0", "loss_1"]].to_numpy())


# ------------------------------------------------------------------------------------- resuming
_CHILD = """
import json, sys, time, torch
torch.set_num_threads(1)
from hmc.data.synthetic_images import make_synthetic_images
from hmc.image_train import ImageRunConfig, train_image_model
data_kw, config_kw, path = json.loads(sys.argv[1])
data_kw["branching"] = tuple(data_kw["branching"])
config_kw["lr_prototypes"] = tuple(config_kw["lr_prototypes"])

def pause(epoch):  # after the checkpoint of epoch 1: wait to be killed
    if epoch == 1:
        time.sleep(600)

train_image_model(make_synthetic_images(**data_kw, seed=0), ImageRunConfig(**config_kw), checkpoint=path,
                  progress=False, on_epoch_end=pause)
"""


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL after epoch 1's checkpoint; the continued run must equal a run never interrupted."""
    # a stateful balancer (losses of past epochs) and a cosine schedule: both must be restored
    config = ImageRunConfig("hcal", 3, balancer="dwa", schedule="cosine", **BASE)
    path = tmp_path / "run.pt"
    args = json.dumps([DATA["two"], dataclasses.asdict(config), str(path)])
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, args], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        uninterrupted = train_image_model(_data("two"), config, progress=False)  # meanwhile, here
        deadline = time.monotonic() + 120
        while not path.exists():
            if child.poll() is not None:
                pytest.fail(f"the training subprocess ended early:\n{child.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint after 120 s")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert torch.load(path, weights_only=True)["epoch"] == 1

    epochs = []
    resumed = train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=epochs.append)
    assert epochs == [2, 3]  # it continued, it did not start over
    pd.testing.assert_frame_equal(resumed.history, uninterrupted.history, check_exact=True)
    for (name, a), b in zip(uninterrupted.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    # a finished checkpoint is returned as it is
    epochs.clear()
    again = train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=epochs.append)
    assert epochs == []
    pd.testing.assert_frame_equal(again.history, uninterrupted.history, check_exact=True)


def test_a_time_budget_pauses_at_an_epoch_boundary_and_the_run_continues(tmp_path):
    from hmc.checkpoint import TrainingPaused

    config = ImageRunConfig("hcal", 3, balancer="dwa", schedule="cosine", **BASE)
    uninterrupted = train_image_model(_data("two"), config, progress=False)
    path, epochs = tmp_path / "run.pt", []
    with pytest.raises(TrainingPaused, match="paused after epoch 1 of 3"):  # the budget is already over
        train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=epochs.append,
                          stop_at=time.time())
    assert epochs == [1] and torch.load(path, weights_only=True)["epoch"] == 1
    far = time.time() + 3600  # room for every epoch: no pause
    resumed = train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=epochs.append,
                                stop_at=far)
    assert epochs == [1, 2, 3]
    pd.testing.assert_frame_equal(resumed.history, uninterrupted.history, check_exact=True)
    with pytest.raises(ValueError, match="stop_at needs a checkpoint"):
        train_image_model(_data("two"), config, progress=False, stop_at=far)


class _Stop(Exception):
    pass


def _stop_after_epoch_1(epoch):
    if epoch == 1:
        raise _Stop


def test_checkpoint_holds_the_schedule_and_refuses_another_config(tmp_path):
    config = ImageRunConfig("hcal", 2, schedule="cosine", lr_prototypes=(0.05, 0.1), **BASE)
    path = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=_stop_after_epoch_1)
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == 1 and [row["epoch"] for row in state["history"]] == [1, 1]
    # cosine over 2 epochs: epoch 2 runs at (1 + cos(pi / 2)) / 2 = 1/2 of each base rate
    factor = 0.5 * (1 + math.cos(math.pi / 2))
    lrs = sorted(group["lr"] for group in state["optimizer"]["param_groups"])
    assert lrs == pytest.approx(sorted([0.01 * factor, 0.05 * factor, 0.1 * factor]), rel=1e-12)
    with pytest.raises(ValueError, match=r"another run \(differs in \['config'\]"):
        train_image_model(_data("two"), dataclasses.replace(config, seed=1), checkpoint=path, progress=False)
    other_data = make_synthetic_images(**{**DATA["two"], "n_per_class": 15}, seed=0)
    with pytest.raises(ValueError, match=r"another run \(differs in \['data'\]"):
        train_image_model(other_data, config, checkpoint=path, progress=False)


# ------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "resnet"},
        {"balancer": "max"},
        {"noise": "laplace"},
        {"schedule": "step"},
        {"epochs": 0},
        {"batch_size": 0},
        {"eval_every": 0},
        {"eps": -0.1},
        {"tau": 0.0},
        {"lr_prototypes": ()},
        {"pretrained": "yes"},
        {"device": "gpu0"},
    ],
)
def test_invalid_config_raises(kwargs):
    with pytest.raises(ValueError):
        ImageRunConfig(**{"method": "hcal", "epochs": 1, **kwargs})


def test_too_few_prototype_rates_raise():
    with pytest.raises(ValueError, match="lr_prototypes"):
        train_image_model(_data("three"), ImageRunConfig("hcal", 1, lr_prototypes=(0.1, 0.2), **BASE), progress=False)


# ------------------------------------------------------------------------------------- result rows
def _result(rows: list[tuple], level_names=("fine", "coarse")) -> ImageRunResult:
    """A result with a hand-written history: rows of (epoch, split, acc_0, acc_1, full_path)."""
    records = [{"epoch": e, "split": s, "acc_0": a0, "acc_1": a1, "full_path": fp, "hvr": 0.1 * e,
                "consistent_full_path": fp + 0.01, "loss_0": 1.0, "loss_1": 1.0, "weight_0": 0.5, "weight_1": 0.5}
               for e, s, a0, a1, fp in rows]
    config = ImageRunConfig("hcal", 3, schedule="cosine", **BASE)
    return ImageRunResult(history=pd.DataFrame(records, columns=history_columns(2)), config=config,
                          pretrained_used=False, device="cpu", wall_time_s=12.3456, level_names=level_names,
                          image_size=32)


def test_result_rows_select_epochs_by_protocol():
    test = [(1, "test", 0.5, 0.6, 0.30), (2, "test", 0.7, 0.6, 0.40), (3, "test", 0.6, 0.9, 0.35)]
    val = [(1, "val", 0.9, 0.9, 0.0), (2, "val", 0.95, 0.95, 0.0), (3, "val", 0.5, 0.5, 0.0)]
    rows = result_rows("synthetic", "hcal", 7, _result(list(itertools.chain(*zip(test, val)))))
    assert list(rows.columns) == list(RESULT_COLUMNS)
    # authors: epoch 2 ties level 1 (0.6) so epoch 1 stays; epoch 3 beats epoch 1 at both levels
    # last: 3; validation: best mean validation accuracy at epoch 2
    chosen = rows.groupby("protocol", sort=False)["epoch"].unique().map(list).to_dict()
    assert chosen == {"authors": [3], "last": [3], "validation": [2]}
    metrics = ["acc_fine", "acc_coarse", "full_path", "hvr", "consistent_full_path"]
    for protocol in ("authors", "last", "validation"):
        assert rows[rows["protocol"] == protocol]["metric"].tolist() == metrics
    at_2 = rows[rows["protocol"] == "validation"].set_index("metric")["value"]
    assert at_2.to_dict() == pytest.approx({"acc_fine": 0.7, "acc_coarse": 0.6, "full_path": 0.40, "hvr": 0.2,
                                            "consistent_full_path": 0.41})
    assert (rows["dataset"] == "synthetic").all() and (rows["method"] == "hcal").all() and (rows["seed"] == 7).all()
    settings = rows.iloc[0][["epochs", "batch_size", "schedule", "image_size", "backbone", "pretrained_used",
                             "device", "wall_time_s"]].tolist()
    assert settings == [3, 16, "cosine", 32, "resnet18", False, "cpu", 12.346]

    # without validation rows: authors and last only; authors keeps epoch 1 when no epoch beats it everywhere
    rows = result_rows("synthetic", "hcal", 7, _result([(1, "test", 0.5, 0.6, 0.3), (2, "test", 0.9, 0.5, 0.4)]))
    assert rows.groupby("protocol", sort=False)["epoch"].first().to_dict() == {"authors": 1, "last": 2}


def test_result_rows_from_a_real_run_and_embeddings():
    result = _run("three", "hcal")
    rows = result_rows("synthetic", "hcal", 0, result)
    assert set(rows["protocol"]) == {"authors", "last", "validation"}
    assert set(rows["metric"]) == {"acc_fine", "acc_middle", "acc_coarse", "full_path", "hvr", "consistent_full_path"}
    last = result.history[(result.history["split"] == "test") & (result.history["epoch"] == 2)].iloc[0]
    got = rows[rows["protocol"] == "last"].set_index("metric")["value"]
    assert got["acc_middle"] == last["acc_1"] and got["hvr"] == last["hvr"]

    emb = result.embeddings(n=5)
    assert emb["features"].shape == (5, 256) and emb["labels"].shape == (5, 3)
    assert np.allclose(np.linalg.norm(emb["features"], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(emb["labels"], _data("three").y_test.numpy()[emb["index"]])
    assert [p.shape for p in emb["prototypes"]] == [(8, 256), (4, 256), (2, 256)]


# ------------------------------------------------------------------------------------- method labels
def test_method_labels_map_to_their_configs():
    assert METHOD_LABELS == ("hcal", "hcal-noagg", "hcal-noperturb", "hcal-gauss", "hcal-convergence_rate",
                             "hcal-dwa", "hcal-uncertainty", "hcal-equal", "flat", "mmoe", "chmcnn")
    shared = {"batch_size": 8, "schedule": "cosine", "lr_backbone": 0.02, "seed": 3}
    expected = {  # written out by hand: the defaults are softmax_loss, aggregation, eps 0.01 uniform
        "hcal": ImageRunConfig("hcal", 4, **shared),
        "hcal-noagg": ImageRunConfig("hcal", 4, aggregate=False, **shared),
        "hcal-noperturb": ImageRunConfig("hcal", 4, eps=0.0, **shared),
        "hcal-gauss": ImageRunConfig("hcal", 4, noise="gaussian", **shared),
        "hcal-convergence_rate": ImageRunConfig("hcal", 4, balancer="convergence_rate", **shared),
        "hcal-dwa": ImageRunConfig("hcal", 4, balancer="dwa", **shared),
        "hcal-uncertainty": ImageRunConfig("hcal", 4, balancer="uncertainty", **shared),
        "hcal-equal": ImageRunConfig("hcal", 4, balancer="equal", **shared),
        "flat": ImageRunConfig("flat", 4, **shared),
        "mmoe": ImageRunConfig("mmoe", 4, **shared),
        "chmcnn": ImageRunConfig("chmcnn", 4, **shared),
    }
    for label in METHOD_LABELS:
        assert method_config(label, 4, **shared) == expected[label], label
    hcal = method_config("hcal", 4)
    assert (hcal.balancer, hcal.aggregate, hcal.eps, hcal.noise) == ("softmax_loss", True, 0.01, "uniform")


@pytest.mark.parametrize("label, common", [
    ("hcal-focal", {}),          # unknown label
    ("HCAL", {}),
    ("hcal", {"balancer": "dwa"}),  # a field the labels define
    ("flat", {"eps": 0.0}),
    ("hcal", {"learning_rate": 0.1}),  # not a config field
    ("hcal", {"batch_size": 0}),  # refused by ImageRunConfig
])
def test_method_config_rejects_bad_labels_and_settings(label, common):
    with pytest.raises(ValueError):
        method_config(label, 2, **common)


# ------------------------------------------------------------------------------------- sweeps
SWEEP_DATA = {  # 16 training images each
    "two": {"branching": (2, 2), "n_per_class": 4, "n_test_per_class": 2, "size": 8, "validation": True},
    "three": {"branching": (2, 2, 2), "n_per_class": 2, "n_test_per_class": 1, "size": 8, "validation": True},
}
SWEEP = {"batch_size": 8, "pretrained": False, "device": "cpu"}


@lru_cache(maxsize=None)
def _sweep_data(name: str):
    return make_synthetic_images(**SWEEP_DATA[name], seed=0)


def _paths(tmp_path):
    return tmp_path / "results.csv", tmp_path / "history.csv"


def test_a_unit_with_more_levels_is_stored_beside_units_with_fewer(tmp_path):
    """A table holding a 2-level dataset's rows (acc_2 empty) and a 3-level one's takes another 3-level
    unit (its rows must not be read as cut mid-row)."""
    results_csv, history_csv = _paths(tmp_path)
    kw = {"load": _sweep_data, "epochs": 1, "checkpoint_dir": tmp_path / "ckpt", "progress": False, **SWEEP}
    run_image_sweep([("two", "flat", 0), ("three", "flat", 0)], results_csv, history_csv, **kw)
    run_image_sweep([("three", "hcal", 0)], results_csv, history_csv, **kw)
    stored = pd.read_csv(history_csv)
    assert stored.groupby(["dataset", "method"]).size().to_dict() == {("three", "flat"): 2, ("three", "hcal"): 2,
                                                                       ("two", "flat"): 2}
    assert stored.loc[stored.dataset == "two", "acc_2"].isna().all()
    assert stored.loc[stored.dataset == "three", "acc_2"].notna().all()


def test_sweep_trains_writes_and_reads_back_without_training(tmp_path, monkeypatch):
    results_csv, history_csv = _paths(tmp_path)
    ckpt, emb = tmp_path / "ckpt", tmp_path / "emb"
    units = [("two", "hcal", 0), ("two", "flat", 0), ("three", "hcal-noagg", 1), ("two", "hcal", 0)]
    loads, done = [], []

    def load(name):
        loads.append(name)
        return _sweep_data(name)

    kw = {"load": load, "epochs": 1, "checkpoint_dir": ckpt, "progress": False, "on_unit_done": done.append,
          "embeddings_dir": emb, "keep_checkpoints": True, **SWEEP}
    results, histories = run_image_sweep(units, results_csv, history_csv, **kw)
    assert loads == ["two", "three"] and len(done) == 3  # the duplicate unit runs once
    assert list(results.columns) == list(RESULT_COLUMNS)
    keys = [("two", "hcal", 0), ("two", "flat", 0), ("three", "hcal-noagg", 1)]
    assert list(results[["dataset", "method", "seed"]].drop_duplicates().itertuples(index=False, name=None)) == keys
    assert list(histories.columns[:5]) == ["dataset", "method", "seed", "epoch", "split"]
    assert histories.groupby(["dataset", "method", "seed"], sort=False).size().tolist() == [2, 2, 2]  # test, val
    assert histories.loc[histories.dataset == "two", "acc_2"].isna().all()
    assert histories.loc[histories.dataset == "three", "acc_2"].notna().all()

    # the label's config with the unit's seed, as a direct run gives it
    config = method_config("hcal-noagg", 1, seed=1, **SWEEP)
    direct = train_image_model(_sweep_data("three"), config, progress=False)
    mine = results[(results.dataset == "three")].reset_index(drop=True)
    expected = result_rows("three", "hcal-noagg", 1, direct)
    pd.testing.assert_frame_equal(mine.drop(columns="wall_time_s"), expected.drop(columns="wall_time_s"),
                                  check_dtype=False)
    mine_history = histories[histories.dataset == "three"].iloc[:, 3:].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine_history[direct.history.columns], direct.history, check_dtype=False)

    # checkpoints where the contract says, holding the unit's config
    for dataset, label, seed in keys:
        state = torch.load(checkpoint_path(ckpt, dataset, label, seed), weights_only=True)
        assert state["epoch"] == 1
        assert state["identity"]["config"] == image_train.config_identity(method_config(label, 1, seed=seed, **SWEEP))
    assert checkpoint_path(ckpt, "two", "flat", 0) == ckpt / "two" / "flat" / "seed0.pt"

    # embeddings of the HCAL-family units only
    assert sorted(p.name for p in emb.iterdir()) == ["three__hcal-noagg__seed1.npz", "two__hcal__seed0.npz"]
    assert embeddings_path(emb, "two", "hcal", 0) == emb / "two__hcal__seed0.npz"
    got = load_embeddings(emb / "three__hcal-noagg__seed1.npz")
    ref = direct.embeddings(n=500)
    assert got["features"].dtype == np.float32 and got["features"].shape == (8, 256)  # every test image
    assert np.allclose(got["features"], ref["features"], atol=1e-3)  # stored as float16
    assert np.array_equal(got["labels"], _sweep_data("three").y_test.numpy()[got["index"]])
    assert [p.shape for p in got["prototypes"]] == [(8, 256), (4, 256), (2, 256)]
    assert np.allclose(got["prototypes"][1], ref["prototypes"][1], atol=1e-6)
    assert got["level_names"] == ("fine", "middle", "coarse")

    # a second call reads everything back: no loading, no training
    def no_training(*args, **kwargs):
        raise AssertionError("a finished unit was trained again")

    monkeypatch.setattr(image_sweep, "train_image_model", no_training)
    loads.clear()
    done.clear()
    log = tmp_path / "read_back.jsonl"
    monkeypatch.setenv(provenance.READ_BACK_LOG, str(log))
    again_results, again_histories = run_image_sweep(units, results_csv, history_csv, **kw)
    assert loads == [] and done == []
    per_unit = results.drop_duplicates(["dataset", "method", "seed"]).wall_time_s  # the 3 distinct units
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [{k: e[k] for k in ("table", "units")} for e in entries] == [{"table": display_path(results_csv), "units": 3}]
    assert entries[0]["wall_time_s"] == pytest.approx(per_unit.sum(), abs=0.05 + 1e-9)  # the note rounds to 0.1 s
    monkeypatch.delenv(provenance.READ_BACK_LOG)
    pd.testing.assert_frame_equal(again_results, results)
    pd.testing.assert_frame_equal(again_histories, histories)
    # a subset comes back in the order asked
    sub, _ = run_image_sweep([("three", "hcal-noagg", 1), ("two", "hcal", 0)], results_csv, history_csv, **kw)
    assert sub.method.unique().tolist() == ["hcal-noagg", "hcal"]

    # other recorded settings, a seed as a shared setting, an unknown label: ValueError, nothing written
    before = results_csv.read_bytes(), history_csv.read_bytes()
    for change in ({"epochs": 2}, {"batch_size": 4}, {"schedule": "cosine"}, {"pretrained": True}, {"seed": 0}):
        with pytest.raises(ValueError):
            run_image_sweep(units, results_csv, history_csv, **{**kw, **change})
    with pytest.raises(ValueError, match="unknown method label"):
        run_image_sweep([("two", "hcal-max", 0)], results_csv, history_csv, **kw)
    assert (results_csv.read_bytes(), history_csv.read_bytes()) == before


def test_sweep_paused_by_its_budget_writes_nothing_and_continues(tmp_path):
    from hmc.checkpoint import TrainingPaused

    results_csv, history_csv = _paths(tmp_path)
    kw = {"load": _sweep_data, "epochs": 2, "checkpoint_dir": tmp_path / "ckpt", "progress": False, **SWEEP}
    with pytest.raises(TrainingPaused):
        run_image_sweep([("two", "hcal", 0)], results_csv, history_csv, stop_at=time.time(), **kw)
    assert not results_csv.exists() or pd.read_csv(results_csv).empty
    results, _ = run_image_sweep([("two", "hcal", 0)], results_csv, history_csv, stop_at=time.time() + 3600, **kw)
    assert results.method.unique().tolist() == ["hcal"]


class _Killed(Exception):
    pass


def test_sweep_stopped_between_and_inside_units_resumes(tmp_path, monkeypatch):
    results_csv, history_csv = _paths(tmp_path)
    ckpt = tmp_path / "ckpt"
    units = [("two", "flat", 0), ("two", "hcal", 0)]
    kw = {"load": _sweep_data, "epochs": 2, "checkpoint_dir": ckpt, "progress": False, **SWEEP}

    def killed(rows):
        raise _Killed

    with pytest.raises(_Killed):  # stopped right after the first unit's rows were written
        run_image_sweep(units, results_csv, history_csv, on_unit_done=killed, **kw)
    first = pd.read_csv(results_csv)
    assert set(first.method) == {"flat"} and set(pd.read_csv(history_csv).method) == {"flat"}

    # the second unit stopped inside: its checkpoint holds epoch 1 only
    config = method_config("hcal", 2, seed=0, **SWEEP)
    with pytest.raises(_Stop):
        train_image_model(_sweep_data("two"), config, checkpoint=checkpoint_path(ckpt, "two", "hcal", 0),
                          progress=False, on_epoch_end=_stop_after_epoch_1)

    calls, epochs_run = [], []
    real = train_image_model

    def counting(data, config, **kwargs):
        calls.append((config.method, config.seed, Path(kwargs["checkpoint"])))
        return real(data, config, on_epoch_end=epochs_run.append, **kwargs)

    monkeypatch.setattr(image_sweep, "train_image_model", counting)  # the name the sweep calls
    results, histories = run_image_sweep(units, results_csv, history_csv, **kw)
    assert calls == [("hcal", 0, checkpoint_path(ckpt, "two", "hcal", 0))]  # flat read back
    assert epochs_run == [2]  # hcal continued after its checkpointed epoch 1
    assert results.method.unique().tolist() == ["flat", "hcal"]
    pd.testing.assert_frame_equal(results[results.method == "flat"].reset_index(drop=True), first)
    assert histories[histories.method == "hcal"].epoch.tolist() == [1, 1, 2, 2]


# ------------------------------------------------------------------------------------- spec pieces
def test_per_level_eps_perturbs_each_level_by_its_own_bound(monkeypatch):
    calls = []
    real = image_train.perturb_prototypes

    def recording(P, eps, noise="uniform", generator=None):
        out = real(P, eps, noise, generator)
        calls.append((P.shape[0], eps, float((out - torch.nn.functional.normalize(P, dim=1)).abs().max())))
        return out

    monkeypatch.setattr(image_train, "perturb_prototypes", recording)
    config = ImageRunConfig("hcal", 1, eps=(0.0, 0.3), **BASE)
    train_image_model(_data("two"), config, progress=False)
    n_fine, n_coarse = _data("two").n_classes
    assert calls and {(c, e) for c, e, _ in calls} == {(n_fine, 0.0), (n_coarse, 0.3)}
    assert max(d for c, e, d in calls if e == 0.0) == 0.0  # the finest level is not perturbed
    assert max(d for c, e, d in calls if e == 0.3) > 0.0
    with pytest.raises(ValueError, match="3 per-level bounds for a hierarchy of 2 levels"):
        train_image_model(_data("two"), ImageRunConfig("hcal", 1, eps=(0.1, 0.1, 0.1), **BASE), progress=False)
    with pytest.raises(ValueError, match="eps must be"):
        ImageRunConfig("hcal", 1, eps=(0.1, float("nan")), **BASE)


# ------------------------------------------------------------------------------------- robustness, backbones
def test_robustness_metrics_in_history_and_result_rows():
    """Measured at the last epoch only: sigma 0 equals the clean test accuracy there, earlier epochs and
    val rows have NaN; the rows name each level and sigma, for the protocols that select the last epoch."""
    sigmas = (0.0, 0.2)
    result = _run("three", "flat", robustness_sigmas=sigmas)
    data, m = _data("three"), 3
    h = result.history
    assert list(h.columns) == history_columns(m, sigmas)
    test = h[h["split"] == "test"]
    final, earlier = test[test["epoch"] == 2], test[test["epoch"] < 2]
    assert len(final) == 1 and len(earlier) == 1
    for k in range(m):
        np.testing.assert_array_equal(final[f"robust_acc_{k}@0"], final[f"acc_{k}"])
    np.testing.assert_array_equal(final["robust_full_path@0"], final["full_path"])
    assert earlier.filter(like="robust_").isna().all(axis=None)
    assert h[h["split"] == "val"]["robust_acc_0@0.2"].isna().all()
    # the noisy accuracy recomputed by hand from the trained model and the seeded noise
    from hmc.metrics.robustness import noise_for
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    x = data.x_test.float() / 255
    v = torch.clamp(x + 0.2 * noise_for(0, len(x), x.shape[1:]), 0, 1)
    with torch.no_grad():
        out = result.model((v - mean) / std)
    pred = torch.stack([s.argmax(1) for s in out], 1)
    last = test[test["epoch"] == 2].iloc[0]
    for k in range(m):
        assert last[f"robust_acc_{k}@0.2"] == pytest.approx(float((pred[:, k] == data.y_test[:, k]).double().mean()))
    rows = result_rows("synthetic", "flat", 0, result)
    names = data.level_names
    expected = [f"acc_{n}" for n in names] + ["full_path", "hvr", "consistent_full_path"]
    for label in ("0", "0.2"):
        expected += [f"robust_acc_{n}@{label}" for n in names] + [f"robust_full_path@{label}"]
    assert rows[rows["protocol"] == "last"]["metric"].tolist() == expected
    for protocol, chosen in rows.groupby("protocol"):  # robust rows only where the selected epoch is the last
        robust = chosen["metric"].str.startswith("robust_")
        assert robust.any() == (chosen["epoch"].iloc[0] == 2), protocol


def test_robustness_off_by_default_leaves_history_and_rows_unchanged():
    result = _run("two", "flat")
    assert list(result.history.columns) == history_columns(2)
    assert not result_rows("synthetic", "flat", 0, result)["metric"].str.startswith("robust").any()


def test_robustness_noise_is_the_same_for_every_method(monkeypatch):
    """HCAL and the flat baseline, with different run seeds, are scored on identical noisy images."""
    import hmc.metrics.robustness as robustness

    seen = {}
    real = robustness.noise_for

    def spy(start, stop, shape, seed=robustness.ROBUSTNESS_SEED):
        z = real(start, stop, shape, seed)
        seen.setdefault(key, []).append(z)
        return z

    monkeypatch.setattr(robustness, "noise_for", spy)
    for key, method, seed in (("a", "hcal", 0), ("b", "flat", 3)):
        config = ImageRunConfig(method, 1, seed=seed, robustness_sigmas=(0.1,), **BASE)
        train_image_model(_data("two"), config, progress=False)
    a, b = torch.cat(seen["a"]), torch.cat(seen["b"])
    assert len(a) == len(_data("two").x_test) and torch.equal(a, b)


def test_late_fields_at_defaults_keep_the_checkpoint_identity():
    config = ImageRunConfig("hcal", 2, **BASE)
    old = {k: v for k, v in dataclasses.asdict(config).items() if k not in image_train.LATE_FIELDS}
    assert image_train.config_identity(config) == old  # as recorded before the fields existed
    conv = dataclasses.replace(config, backbone="conv4", width=8, robustness_sigmas=(0.1,))
    ident = image_train.config_identity(conv)
    assert ident["backbone"] == "conv4" and ident["width"] == 8 and ident["robustness_sigmas"] == (0.1,)


def test_checkpoint_without_late_fields_resumes(tmp_path):
    """A checkpoint whose identity predates backbone/width/robustness_sigmas is resumed by a default config."""
    config = ImageRunConfig("flat", 2, **BASE)
    path = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        train_image_model(_data("two"), config, checkpoint=path, progress=False, on_epoch_end=_stop_after_epoch_1)
    state = torch.load(path, weights_only=True)
    assert not set(image_train.LATE_FIELDS) & set(state["identity"]["config"])
    result = train_image_model(_data("two"), config, checkpoint=path, progress=False)
    assert result.history["epoch"].tolist() == [1, 1, 2, 2]
    with pytest.raises(ValueError, match="another run"):
        train_image_model(_data("two"), dataclasses.replace(config, backbone="conv4"), checkpoint=path,
                          progress=False)


@pytest.mark.parametrize("method", ["hcal", "flat", "mmoe", "chmcnn"])
def test_conv4_backbone_trains_each_method(method):
    key = "three" if method in ("hcal", "chmcnn") else "two"
    result = _run(key, method, backbone="conv4", width=8)
    from hmc.models.images import Conv4Trunk
    assert isinstance(result.model.backbone, Conv4Trunk) and result.model.feature_dim == 8
    assert not result.pretrained_used
    assert np.isfinite(result.history.drop(columns="split").to_numpy(dtype=float)).all()
    with torch.no_grad():
        assert result.model.features(torch.zeros(2, 1, 8, 8)).shape == (2, 8)


def test_default_backbone_builds_the_same_model_as_before():
    """resnet18 (default) initialises exactly as the models built without a backbone argument."""
    from hmc.models.images import HCALNet
    data = _data("three")
    torch.manual_seed(0)
    before = HCALNet(data.n_classes, image_size=8, pretrained=False).state_dict()
    torch.manual_seed(0)
    run = image_train._Run(data, ImageRunConfig("hcal", 1, **BASE), torch.device("cpu"))
    after = run.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kwargs", [
    {"backbone": "vgg"},
    {"width": 32},  # width is conv4's
    {"backbone": "conv4", "width": 0},
    {"backbone": "conv4", "pretrained": True},
    {"robustness_sigmas": (-0.1,)},
    {"robustness_sigmas": (0.1, 0.1)},
    {"robustness_sigmas": (float("nan"),)},
])
def test_invalid_backbone_and_robustness_settings_raise(kwargs):
    with pytest.raises(ValueError):
        ImageRunConfig("hcal", 1, **kwargs)


# ------------------------------------------------------------------------------------- memory format
@pytest.mark.parametrize("backbone, options", [("conv4", {"width": 8}), ("resnet18", {})])
def test_the_channels_last_network_matches_nchw_to_float_rounding(backbone, options):
    """A run's network lives in channels-last (image_train.MEMORY_FORMAT); the same weights in the
    default NCHW layout give the same outputs and gradients to float32 rounding."""
    import copy

    data = _data("three")
    run = image_train._Run(data, ImageRunConfig("hcal", 1, backbone=backbone, **BASE, **options), torch.device("cpu"))
    fast = run.model.eval()
    conv = next(p for p in fast.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    plain = copy.deepcopy(fast).to(memory_format=torch.contiguous_format)
    x = (_test_view(data.x_test, 8) - run.mean) / run.std

    def loss_and_grads(model, inp):
        model.zero_grad()
        out = model(inp)
        outs = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if isinstance(o, torch.Tensor)]
        sum(o.square().mean() for o in outs).backward()
        return outs, [p.grad.clone() for p in model.parameters() if p.grad is not None]

    out_a, grad_a = loss_and_grads(plain, x)
    out_b, grad_b = loss_and_grads(fast, image_train._network_input(x))
    for a, b in zip(out_a, out_b, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(grad_a, grad_b, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_sweep_deletes_a_units_checkpoint_once_its_rows_are_written_unless_kept(tmp_path):
    results_csv, history_csv = _paths(tmp_path)
    ckpt = tmp_path / "ckpt"
    kw = {"load": _sweep_data, "epochs": 1, "checkpoint_dir": ckpt, "progress": False, **SWEEP}
    run_image_sweep([("two", "flat", 0)], results_csv, history_csv, **kw)
    assert not checkpoint_path(ckpt, "two", "flat", 0).exists()
    run_image_sweep([("two", "flat", 1)], results_csv, history_csv, keep_checkpoints=True, **kw)
    assert checkpoint_path(ckpt, "two", "flat", 1).exists()
    assert set(pd.read_csv(results_csv).seed) == {0, 1}


def test_the_evaluation_batch_changes_no_score_and_no_metric():
    """600 test images evaluated 128 at a time (the default) and 512 at a time (the former default)
    give the same history, and the trained Conv-4's scores in chunks of 128 equal its scores of all
    600 images in one pass, bit for bit."""
    data = make_synthetic_images(branching=(2, 2), n_per_class=16, n_test_per_class=150, size=8, validation=True,
                                 seed=0)
    config = ImageRunConfig("flat", 1, **BASE, backbone="conv4", width=8)
    default = train_image_model(data, config, progress=False)
    former = train_image_model(data, config, progress=False, eval_batch_size=512)
    assert len(data.x_test) == 600 and image_train.EVAL_BATCH_SIZE == 128
    pd.testing.assert_frame_equal(default.history, former.history, check_exact=True)
    model = default.model.eval()
    x = (data.x_test.float() / 255 - torch.tensor(data.mean).view(1, -1, 1, 1)) / torch.tensor(data.std).view(1, -1, 1, 1)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        whole = model.level_scores(model(x))
        chunks = [model.level_scores(model(x[i : i + 128])) for i in range(0, 600, 128)]
    for k, s in enumerate(whole):
        assert torch.equal(torch.cat([c[k] for c in chunks]), s)
