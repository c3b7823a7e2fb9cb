"""hmc.memory: allocator peak and RSS against known allocations; rare-node step costs on a tiny benchmark."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch

from hmc.memory import COST_COLUMNS, allocator_peak, rare_node_costs, rss_peak, state_bytes
from hmc.synthetic import make_benchmark

MIB = 1 << 20


def _alloc(nbytes, device="cpu"):
    return torch.empty(nbytes, dtype=torch.uint8, device=device)


def test_allocator_peak_is_the_largest_live_total_not_the_sum():
    def work():
        a = _alloc(8 * MIB)
        del a  # freed: the next allocation reuses the room, the peak stays 8 MiB
        b = _alloc(4 * MIB)
        c = _alloc(2 * MIB)  # 6 MiB live at once
        return b.numel() + c.numel()

    peak = allocator_peak(work)
    assert peak.result == 6 * MIB
    assert peak.bytes == pytest.approx(8 * MIB, abs=64 * 1024)


def test_allocator_peak_ignores_tensors_alive_before_and_counts_one_freed_inside():
    before = _alloc(32 * MIB)  # alive throughout: not part of the work's peak

    def work():
        x = _alloc(3 * MIB)
        y = _alloc(5 * MIB)
        del x, y  # both freed before returning: the peak still counts them
        return "done"

    peak = allocator_peak(work)
    assert peak.result == "done"
    assert peak.bytes == pytest.approx(8 * MIB, abs=64 * 1024)
    assert before.numel() == 32 * MIB


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_allocator_peak_cuda():
    peak = allocator_peak(lambda: _alloc(16 * MIB, "cuda").numel(), "cuda")
    assert peak.bytes >= 16 * MIB and peak.bytes < 17 * MIB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_rss_peak_sees_touched_memory_even_after_memory_was_freed_before():
    scratch = np.ones(64 * MIB, dtype=np.uint8)  # touched, then freed: the measure must not reuse it silently
    del scratch

    def work():
        a = np.ones(48 * MIB, dtype=np.uint8)  # ones() touches every page
        return int(a[::4096].sum())

    peak = rss_peak(work)
    assert peak.result == len(range(0, 48 * MIB, 4096))
    if peak.bytes is None:
        pytest.skip("no resettable RSS high-water mark on this kernel")
    assert 44 * MIB <= peak.bytes <= 80 * MIB


def test_state_bytes_counts_four_copies():
    model = torch.nn.Linear(10, 3)  # 33 float32 parameters
    assert state_bytes(model) == 4 * 33 * 4


def test_rare_node_costs_ensemble_against_mc_dropout():
    bench = make_benchmark(n_samples=200, depth=2, branching=3, n_features=8, split=(0.5, 0.2, 0.3),
                           epochs=1, hidden_dim=32, seed=0)
    bench = dataclasses.replace(bench, name="tiny")
    costs = rare_node_costs(bench, ["focal-gmu-H5", "mcdropout-gmu-H5"], seeds=[0, 1], steps=4, block=2,
                            warmup=1, memory_steps=2).set_index("method")
    assert list(costs.reset_index().columns) == list(COST_COLUMNS)
    ens, mc = costs.loc["focal-gmu-H5"], costs.loc["mcdropout-gmu-H5"]
    # 2 seeds x 5 members against 2 networks: the training state is exactly five times larger
    assert ens.n_parameters == 5 * mc.n_parameters
    assert ens.state_bytes == 5 * mc.state_bytes == 4 * 4 * ens.n_parameters
    # the set-up and steps hold at least the training state in the allocator
    assert ens.peak_alloc_bytes >= ens.state_bytes and mc.peak_alloc_bytes >= mc.state_bytes
    assert ens.peak_alloc_bytes > mc.peak_alloc_bytes
    assert (costs.ms_per_step > 0).all() and (costs.timed_steps == 4).all()
