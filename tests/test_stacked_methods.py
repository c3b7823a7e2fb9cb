"""The stacked-methods path: K rare-node configurations in one model equal K separate runs, bit for bit.

Tiny CPU runs on the synthetic benchmark of tests/test_rare_nodes.py (300 rows, 3 levels of 3
children, hidden 16), 2 epochs, one thread.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hmc.rare_nodes import RareNodeConfig, train_rare_nodes
from hmc.stacked_methods import check_stackable, train_stacked_methods
from hmc.synthetic import make_benchmark

FAST = {"epochs": 2, "lr": 1e-3, "hidden_dim": 16, "progress": False, "num_threads": 1}
CONFIGS = [  # every loss family, both reductions, a schedule and a mixed loss; H = 2 throughout
    RareNodeConfig(loss="plain", n_members=2),
    RareNodeConfig(loss="imbalance", n_members=2),
    RareNodeConfig(loss="focal", measure="gmu", n_members=2),
    RareNodeConfig(loss="focal", measure="bma", exponent=1.0, weighted=False, reduction="mean", n_members=2),
    RareNodeConfig(loss="imbalance", schedule="lin", weight_target="positives", n_members=2),
    RareNodeConfig(loss="imbalance", mixed_lambda=0.5, weight_kind="binary", reduction="mean", n_members=2),
]


@pytest.fixture(scope="module")
def bench():
    b = make_benchmark(n_samples=300, depth=3, branching=3, n_features=10, split=(0.4, 0.1, 0.5), epochs=2,
                       hidden_dim=16, seed=0)
    return dataclasses.replace(b, name="synthetic")


def test_stacked_methods_equal_the_separate_runs_bit_for_bit(bench):
    stacked = train_stacked_methods(bench, [0, 3], CONFIGS, **FAST)
    assert len(stacked) == len(CONFIGS)
    for config, got in zip(CONFIGS, stacked, strict=True):
        alone = train_rare_nodes(bench, [0, 3], config, **FAST)
        np.testing.assert_array_equal(got.predictions, alone.predictions)
        np.testing.assert_array_equal(got.epoch_loss, alone.epoch_loss)
        np.testing.assert_array_equal(got.au_prc, alone.au_prc)
        assert got.metrics.keys() == alone.metrics.keys() and got.n_steps == alone.n_steps
        for name, values in alone.metrics.items():
            np.testing.assert_array_equal(got.metrics[name], values)
        assert got.extra["config"] == alone.extra["config"] and got.extra["stacked_methods"] == len(CONFIGS)
    # the configurations did train differently: no two give the same predictions
    assert len({r.predictions.tobytes() for r in stacked}) == len(CONFIGS)


@pytest.mark.parametrize("configs, message", [
    ([], "no configurations"),
    ([CONFIGS[0], CONFIGS[0]], "twice"),
    ([CONFIGS[0], dataclasses.replace(CONFIGS[2], members="mc_dropout")], "MC-dropout"),
    ([CONFIGS[0], dataclasses.replace(CONFIGS[1], lpros=True)], "LPROS"),
    ([CONFIGS[0], dataclasses.replace(CONFIGS[1], n_members=3)], "different numbers of members"),
])
def test_configurations_that_cannot_share_a_model_are_refused(configs, message):
    with pytest.raises(ValueError, match=message):
        check_stackable(configs)


def test_a_sweep_stacks_the_methods_it_can_and_stores_what_separate_tasks_store(tmp_path, bench):
    """run_sweep groups seed batches of stackable methods into one task each; the rows equal those of
    the unstacked sweep; chmcnn, MC-dropout, LPROS and another H train alone; a tight memory bound
    splits a stack."""
    from hmc.runs import sweep as S

    methods = ["baseline-H2", "chmcnn", "imbalance-neg-H2", "mcdropout-gmu-H2", "lpros-H2",
               "focal-bma-H3", "focal-gmu-H2"]
    units = [S.Unit("syn", m, s) for m in methods for s in (0, 1)]
    load = {"syn": bench}.__getitem__
    kw = {k: v for k, v in FAST.items() if k != "progress"}
    tasks = []
    stacked = S.run_sweep(units, tmp_path / "stacked.csv", load=load, seeds_per_batch=1, progress=False,
                          stack_methods=True, on_batch_done=lambda rows: tasks.append(sorted(set(zip(rows.method, rows.seed)))),
                          checkpoint_dir=tmp_path / "ckpt", **kw)
    separate = S.run_sweep(units, tmp_path / "separate.csv", load=load, seeds_per_batch=1, progress=False, **kw)
    cols = [c for c in S.RESULT_COLUMNS if c != "wall_time_s"]
    key = ["dataset", "method", "seed", "metric"]
    pd.testing.assert_frame_equal(stacked[cols].sort_values(key).reset_index(drop=True),
                                  separate[cols].sort_values(key).reset_index(drop=True), check_exact=True)
    stacks = [sorted((m, s) for m in ("baseline-H2", "imbalance-neg-H2", "focal-gmu-H2")) for s in (0, 1)]
    assert [t for t in tasks if len(t) > 1] == stacks
    assert sum(len(t) == 1 for t in tasks) == 8 and len(tasks) == 10  # 4 methods x 2 seeds alone, 2 stacks
    assert not any((tmp_path / "ckpt").rglob("*.pt"))  # every task's checkpoint removed once stored

    data = {(0, "baseline-H2"), (0, "imbalance-neg-H2"), (0, "focal-gmu-H2")}
    batches = [("syn", m, (s,)) for s, m in sorted(data)]
    assert S._stacks(batches, lambda ms: True, {"syn": 4}) == [
        ("syn", ("baseline-H2", "focal-gmu-H2"), (0,)), ("syn", ("imbalance-neg-H2",), (0,))]  # 2 x 1 x H2 = 4
    assert S._stacks(batches, None, {}) == [("syn", (m,), (0,)) for _, m, _ in batches]
