"""Chapter 06 in the evidence campaign (hmc.runs.hcal_campaign): the queue's order, what counts as done,
the cost estimates (hand-computed), a run that stores its unit and skips it next time, and a budget
that pauses a unit and keeps its progress."""

import math
import time
from pathlib import Path

import pandas as pd
import pytest

from hmc import runner
from hmc.runs.campaign import Campaign, WorkItem, build_queue, run_campaign
from hmc.runs.hcal_campaign import CHAPTER, PRIOR_S_PER_STEP, HcalUnits, hcal_items
from hmc.runs.image_sweep import run_image_sweep, sweep_settings

ROOT = Path(__file__).resolve().parents[1]


def _values(**changes):
    """Chapter 06's smoke values (a tiny synthetic hierarchy at 8 px) on the Conv-4, with ``changes``."""
    source = ROOT / "notebooks" / "06_hcal.py"
    v = runner.all_values(source, runner.resolve_parameters(source, "smoke", []))
    v.update(methods=["hcal", "flat"], backbone="conv4", width=8, device="cpu", robustness_sigmas=[0.1])
    v.update(changes)
    return v


class _TinyCampaign(Campaign):
    """A campaign whose queue is chapter 06's items under the tiny values."""

    def __init__(self, tmp_path, values):
        super().__init__(tmp_path / "results", tmp_path / "ckpt", book=tmp_path / "book")
        self._hcal = HcalUnits(self.results, self.checkpoints, values=values)
        self.queue = hcal_items((2, 4), values)


def test_hcal_items_pair_the_main_methods_seed_by_seed_then_the_rest():
    v = {"datasets": ["omniglot"], "n_seeds": 2, "methods": ["hcal-noagg", "flat", "hcal", "mmoe", "chmcnn"]}
    labels = [(i.tier, i.method, i.seeds) for i in hcal_items((2, 4), v)]
    assert labels == [(2, "hcal", (0,)), (2, "flat", (0,)), (2, "chmcnn", (0,)), (2, "mmoe", (0,)),
                      (2, "hcal", (1,)), (2, "flat", (1,)), (2, "chmcnn", (1,)), (2, "mmoe", (1,)),
                      (4, "hcal-noagg", (0,)), (4, "hcal-noagg", (1,))]


def test_the_queue_runs_hcal_after_the_first_rare_node_tier_and_before_chapter_07():
    queue = build_queue()
    tiers = [i.tier for i in queue]
    assert tiers == sorted(tiers)
    chapters = [i.chapter for i in queue if i.tier in (1, 2, 3, 4)]
    first_hcal, first_07 = chapters.index(CHAPTER), chapters.index("07_rare_nodes_images")
    assert set(chapters[:first_hcal]) == {"03_rare_node_loss"} and first_hcal < first_07
    main = [i for i in queue if i.chapter == CHAPTER and i.tier == 2]
    assert {i.method for i in main} == {"hcal", "flat", "chmcnn", "mmoe"} and len(main) == 4 * 5  # full: 5 seeds


def test_estimates_use_the_prior_then_the_measured_units(tmp_path):
    campaign = _TinyCampaign(tmp_path, _values())
    hcal = campaign.hcal()
    item = campaign.queue[0]
    data = hcal.data(item.dataset)
    steps = math.ceil(len(data.x_train) / 32) * 2  # batch 32, 2 epochs under smoke
    assert hcal.estimate_s(item, 1, [])[0] == pytest.approx(PRIOR_S_PER_STEP * steps)
    measured = [(item.dataset, "06_hcal-hcal", 0.5), (item.dataset, "06_hcal-hcal", 0.7),
                (item.dataset, "06_hcal-flat", 0.1), ("x", "images-omniglot", 9.0)]  # a chapter 07 rate: ignored
    assert hcal.estimate_s(item, 2, measured)[0] == pytest.approx(0.6 * steps * 2)
    flat = campaign.queue[1]
    assert flat.method == "flat" and hcal.estimate_s(flat, 1, measured)[0] == pytest.approx(0.1 * steps)
    mmoe = WorkItem(4, "", CHAPTER, item.dataset, "mmoe", (0,))  # no mmoe unit: the median of every family
    assert hcal.estimate_s(mmoe, 1, measured)[0] == pytest.approx(0.5 * steps)


def test_a_campaign_run_stores_hcal_units_and_skips_them_next_time(tmp_path):
    campaign = _TinyCampaign(tmp_path, _values())
    campaign.queue = campaign.queue[:2]  # hcal and flat, seed 0
    with open(tmp_path / "log.txt", "w") as out:
        first = run_campaign(campaign, 600, threads=1, pages=False, out=out)
        again = run_campaign(campaign, 600, threads=1, pages=False, out=out)
    assert first["units"] == 2 and again["units"] == 0 and again["stopped"] == "queue finished"
    table = pd.read_csv(tmp_path / "results" / "full" / "06_hcal.csv")
    assert set(zip(table.method, table.seed)) == {("hcal", 0), ("flat", 0)}
    assert set(table.backbone) == {"conv4-w8"} and set(table.epochs) == {2}
    assert "robust_acc_fine@0.1" in set(table.metric[table.protocol == "last"])
    assert [campaign.done_seeds(i) for i in campaign.queue] == [[0], [0]]
    rows = campaign.status_rows()
    spent = table.drop_duplicates(["method", "seed"]).wall_time_s.sum()
    assert rows[0]["done"] == 2 and rows[0]["spent_h"] == pytest.approx(spent / 3600)
    assert not list((tmp_path / "ckpt").rglob("*.pt"))  # each unit's checkpoint removed once stored
    # another backbone is another setting: the units are not done under it
    other = HcalUnits(campaign.results, campaign.checkpoints, values=_values(width=16))
    assert other.done_seeds(campaign.queue[0]) == []


def test_a_budget_pauses_an_hcal_unit_and_keeps_its_progress(tmp_path):
    campaign = _TinyCampaign(tmp_path, _values(epochs=2000))
    campaign.queue = campaign.queue[:1]
    campaign.hcal().estimate_s = lambda item, n, measured: (0.0, "test")  # let the item start
    start = time.time()
    with open(tmp_path / "log.txt", "w") as out:
        summary = run_campaign(campaign, 3.0, threads=1, pages=False, out=out)
    assert "budget" in summary["stopped"] and summary["units"] == 0
    assert time.time() - start < 3.0 * 1.5 + 2  # one epoch of overrun at most, plus loading
    assert 0 < campaign.checkpoint_share(campaign.queue[0], [0]) < 1


def test_the_image_sweep_reads_back_without_training_and_refuses_another_backbone(tmp_path):
    values = _values()
    settings = sweep_settings(values)
    from hmc.runs.image_sweep import image_loader

    load = image_loader(values)
    csv, history = tmp_path / "r.csv", tmp_path / "h.csv"
    units = [("synthetic", "flat", 0)]
    results, _ = run_image_sweep(units, csv, history, load=load, checkpoint_dir=tmp_path / "ck", progress=False,
                                 train=False, **settings)
    assert results.empty and not csv.exists()
    run_image_sweep(units, csv, history, load=load, checkpoint_dir=tmp_path / "ck", progress=False, **settings)
    results, _ = run_image_sweep(units, csv, history, load=load, checkpoint_dir=tmp_path / "ck", progress=False,
                                 train=False, **settings)
    assert set(results.method) == {"flat"}
    with pytest.raises(ValueError, match="backbone"):
        run_image_sweep(units, csv, history, load=load, checkpoint_dir=tmp_path / "ck", progress=False,
                        **dict(settings, width=16))
