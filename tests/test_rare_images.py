"""Tests of the rare-node image experiments: the stacked heads, the degraded encoder, the data fractions,
the pretrained-encoder cache, the trainer, the stress sweep and the verdicts of chapter 07."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from hmc.checkpoint import TrainingPaused
from hmc.data.image_subsets import (
    long_tail_counts,
    long_tail_subset,
    node_targets,
    omniglot_split,
    select_coarse,
    stratified_subset,
)
from hmc.encoders import DEGRADE_STREAM, EncoderSpec, PretrainedEncoder, cache_path, pretrained_encoder, verify_cached
from hmc.errors import HMCDataError
from hmc.models import derive_seed
from hmc.models.rare_images import ConvEncoder, SharedEncoderHeads, StackedHeads, degrade_state, random_state
from hmc.rare_images import image_methods, load_stress_data, train_rare_images
from hmc.runs.stress_sweep import (
    STRESS_COLUMNS,
    StressKind,
    condition_key,
    parse_condition,
    read_stress_results,
    run_stress_sweep,
    stress_design,
)
from hmc.rare_images_evidence import bucket_recall, claims_evidence_07, method_roles, stress_curves

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def no_imagenet(tmp_path, monkeypatch):
    """No ImageNet weights anywhere (the torch hub cache points at an empty folder)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


# ------------------------------------------------------------------------------------- the model
def _reference_outputs(encoder, heads, x):
    z = encoder(x)
    return torch.stack([heads.head(h)(z) for h in range(heads.n_heads)])


@pytest.mark.parametrize("hidden", [None, 5])
def test_stacked_heads_equal_separate_heads_outputs_and_gradients(hidden):
    torch.manual_seed(0)
    encoder = ConvEncoder(in_channels=1, width=6).double()
    model = SharedEncoderHeads(encoder, n_heads=4, n_nodes=7, hidden_dim=hidden, dropout=0.7).double()
    reference_encoder = ConvEncoder(in_channels=1, width=6).double()
    reference_encoder.load_state_dict(encoder.state_dict())
    separate = [model.heads.head(h).double() for h in range(4)]
    x = torch.randn(9, 1, 8, 8, dtype=torch.float64)
    target = torch.randn(4, 9, 7, dtype=torch.float64)

    model.eval()
    reference_encoder.eval()
    for m in separate:
        m.eval()
    z = reference_encoder(x)
    expected = torch.stack([m(z) for m in separate])
    out = model(x)
    assert out.shape == (4, 9, 7)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)

    # gradients: train mode without dropout masks (BatchNorm on batch statistics in both)
    model.train()
    model.heads.dropout = 0.0
    reference_encoder.train()
    for m in separate:
        m.train()
        m[2].p = 0.0
    (model(x) * target).sum().backward()
    z = reference_encoder(x)
    sum((m(z) * target[h]).sum() for h, m in enumerate(separate)).backward()
    for h, m in enumerate(separate):
        torch.testing.assert_close(model.heads.w1.grad[h], m[0].weight.grad.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(model.heads.b1.grad[h], m[0].bias.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(model.heads.w2.grad[h], m[3].weight.grad.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(model.heads.b2.grad[h], m[3].bias.grad, rtol=1e-10, atol=1e-12)
    for (name, p), (_, q) in zip(encoder.named_parameters(), reference_encoder.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_stacked_heads_dropout_masks_are_per_head_and_seeded():
    heads = StackedHeads(3, 16, 4, dropout=0.5)
    z = torch.rand(5, 16)
    a = heads(z, torch.Generator().manual_seed(1))
    b = heads(z, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a[0], a[1])  # the heads' weights and masks differ
    heads.eval()
    torch.testing.assert_close(heads(z), heads(z))


def test_stacked_heads_hidden_defaults_to_feature_size_and_checks_shapes():
    heads = StackedHeads(2, 12, 3)
    assert heads.w1.shape == (2, 12, 12) and heads.w2.shape == (2, 12, 3)
    with pytest.raises(ValueError, match="features"):
        heads(torch.zeros(4, 11))
    with pytest.raises(ValueError, match="dropout"):
        StackedHeads(2, 4, 3, dropout=1.0)


# ------------------------------------------------------------------------------------- degradation
def test_degradation_endpoints_are_the_pretrained_and_the_random_weights():
    pre = random_state("conv4", 1, in_channels=1, width=4)
    pre = {k: (v + 0.3 if v.is_floating_point() else v + 7) for k, v in pre.items()}  # BN stats not at init
    rnd = random_state("conv4", 2, in_channels=1, width=4)
    at0, at1, half = degrade_state(pre, rnd, 0.0), degrade_state(pre, rnd, 1.0), degrade_state(pre, rnd, 0.5)
    for key in pre:
        assert torch.equal(at0[key], pre[key]), key
        if pre[key].is_floating_point():
            assert torch.equal(at1[key], rnd[key]), key
            torch.testing.assert_close(half[key], (pre[key] + rnd[key]) / 2)
        else:  # num_batches_tracked keeps the pretrained count
            assert torch.equal(at1[key], pre[key]), key
    with pytest.raises(ValueError):
        degrade_state(pre, rnd, 1.5)


def test_encoder_build_degrades_towards_the_seeded_random_initialisation():
    spec = EncoderSpec(image_size=8, width=4)
    state = random_state("conv4", 5, in_channels=1, width=4)
    enc = PretrainedEncoder(spec, state, (0.5,), (0.25,), "0" * 64, None)
    random = random_state("conv4", derive_seed(3, DEGRADE_STREAM), in_channels=1, width=4)
    for key, value in enc.build(0.0, seed=3).state_dict().items():
        assert torch.equal(value, state[key])
    built = enc.build(1.0, seed=3).state_dict()
    for key, value in random.items():
        if value.is_floating_point():
            assert torch.equal(built[key], value), key
    assert not torch.equal(enc.build(1.0, seed=4).state_dict()["blocks.0.0.weight"], built["blocks.0.0.weight"])


# ------------------------------------------------------------------------------------- data
def test_stratified_fractions_keep_every_class_in_proportion_and_are_seeded():
    labels = np.repeat(np.arange(6), [40, 20, 10, 5, 2, 1])
    rng = np.random.default_rng(0)
    labels = labels[rng.permutation(len(labels))]
    n = np.bincount(labels)
    for fraction in (0.5, 0.25, 0.1):
        rows = stratified_subset(labels, fraction, seed=7)
        assert np.all(np.diff(rows) > 0)
        np.testing.assert_array_equal(np.bincount(labels[rows], minlength=6),
                                      np.minimum(n, np.maximum(1, np.round(fraction * n))))
        np.testing.assert_array_equal(rows, stratified_subset(labels, fraction, seed=7))
        assert not np.array_equal(rows, stratified_subset(labels, fraction, seed=8))
    np.testing.assert_array_equal(stratified_subset(labels, 1.0, seed=3), np.arange(len(labels)))
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError):
            stratified_subset(labels, bad, seed=0)


def test_long_tail_spans_the_ratio_and_is_fixed():
    counts = long_tail_counts(np.full(50, 15), ratio=10, seed=0)
    assert counts.max() == 15 and counts.min() == round(1.5) and sorted(counts)[::-1][0] == 15
    np.testing.assert_array_equal(counts, long_tail_counts(np.full(50, 15), ratio=10, seed=0))
    np.testing.assert_array_equal(long_tail_counts(np.full(5, 4), 1.0), np.full(5, 4))
    labels = np.repeat(np.arange(50), 15)
    rows = long_tail_subset(labels, 10, seed=0)
    np.testing.assert_array_equal(np.sort(np.bincount(labels[rows])), np.sort(counts))


def test_omniglot_split_and_node_targets(sample_data):
    background = omniglot_split("background", size=8)
    evaluation = omniglot_split("evaluation", size=8)
    assert background.class_names[1] == ("Arcadian", "Armenian") and evaluation.class_names[1] == ("Angelic",)
    assert not set(background.class_names[0]) & set(evaluation.class_names[0])
    assert len(evaluation.x_train) == 20 * 15 and len(evaluation.x_test) == 20 * 5
    t = node_targets(evaluation, evaluation.y_train)
    assert t.shape == (300, 21) and np.all(t.sum(axis=1) == 2)
    np.testing.assert_array_equal(evaluation.hierarchy.propagate(t), t)
    sub = select_coarse(background, [1])
    assert sub.class_names[1] == ("Armenian",) and len(sub.class_names[0]) == 41


# ------------------------------------------------------------------------------------- the encoder cache
TINY = EncoderSpec(image_size=8, width=4, pretrain_epochs=1, pretrain_batch_size=256)


def test_pretrained_encoder_is_cached_with_its_checksum(sample_data):
    first = pretrained_encoder(TINY, progress=False)
    path = cache_path(TINY)
    assert first.path == path and path.is_file()
    assert path.with_name(path.name + ".sha256").read_text().split()[0] == first.sha256 == verify_cached(path)
    assert first.info["command"].startswith("python -c") and 0 <= first.info["heldout_accuracy"] <= 1
    again = pretrained_encoder(TINY, progress=False)  # read back, not retrained
    assert again.sha256 == first.sha256
    for key, value in first.state.items():
        assert torch.equal(again.state[key], value)

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(HMCDataError, match="checksum mismatch"):
        pretrained_encoder(TINY, progress=False)
    path.with_name(path.name + ".sha256").unlink()
    with pytest.raises(HMCDataError, match="no readable checksum"):
        pretrained_encoder(TINY, progress=False)


def test_imagenet_encoder_needs_the_file_on_disk():
    from hmc.errors import DatasetMissingError

    with pytest.raises(DatasetMissingError, match="resnet18"):
        pretrained_encoder(EncoderSpec(arch="resnet18", source="imagenet", image_size=32, in_channels=3))
    with pytest.raises(ValueError):
        EncoderSpec(arch="conv4", source="imagenet")


# ------------------------------------------------------------------------------------- training
@pytest.fixture
def tiny(sample_data):
    encoder = pretrained_encoder(TINY, progress=False)
    data = load_stress_data("omniglot", image_size=8, imbalance=3.0)
    return data, encoder


def test_method_names_are_the_rare_node_grammar():
    assert image_methods(20) == {"baseline": "baseline-H20", "imbalance": "imbalance-neg-H20",
                                 "focal": "focal-bbma-k1-H20", "lpros+weights": "lpros+imbalance-neg-H20"}


def test_train_rare_images_scores_every_method(tiny):
    data, encoder = tiny
    for role, method in image_methods(2).items():
        r = train_rare_images(data, [0, 1], method, encoder=encoder, degradation=0.5, fraction=0.5, epochs=1,
                              batch_size=64, progress=False)
        assert r.predictions.shape == (2, len(data.x_test), len(data.hierarchy))
        assert np.all((r.predictions >= 0) & (r.predictions <= 1))
        assert {"macro_f1", "acc_character", "chance_character", "n_test", "train_images"} <= set(r.metrics)
        assert r.extra["encoder_sha256"] == encoder.sha256 and r.extra["degradation"] == 0.5
        assert (r.extra["lpros_clones"][0] > 0) == (role == "lpros+weights")
        alone = train_rare_images(data, [1], method, encoder=encoder, degradation=0.5, fraction=0.5, epochs=1,
                                  batch_size=64, progress=False)
        np.testing.assert_array_equal(alone.predictions[0], r.predictions[1])


def test_training_resumes_from_its_checkpoint_bit_for_bit(tiny, tmp_path):
    data, encoder = tiny
    kw = dict(encoder=encoder, epochs=3, batch_size=64, progress=False)
    whole = train_rare_images(data, [0], "focal-bbma-k1-H2", **kw)
    ckpt = tmp_path / "unit.pt"
    with pytest.raises(TrainingPaused):
        train_rare_images(data, [0], "focal-bbma-k1-H2", checkpoint=ckpt, stop_at=0.0, **kw)
    assert ckpt.exists()
    resumed = train_rare_images(data, [0], "focal-bbma-k1-H2", checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.predictions, whole.predictions)
    np.testing.assert_array_equal(resumed.epoch_loss, whole.epoch_loss)


def test_stress_sweep_stores_units_with_their_encoder_and_reads_them_back(tiny, tmp_path):
    data, encoder = tiny
    design = stress_design(["omniglot"], list(image_methods(2).values()), [0, 1], [0.0, 0.5], [1.0, 0.5])
    assert len(design) == 3 * 4 * 2 and {(u.degradation, u.fraction) for u in design} == {(0, 1), (0.5, 1), (0, 0.5)}
    settings = {"epochs": 1, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "dropout": 0.7, "hidden_dim": None,
                "augment": False}
    loads = []

    def load(name):
        loads.append(name)
        return data

    csv = tmp_path / "quick" / "07.csv"
    kind = StressKind(load, {"omniglot": encoder}, settings, imbalance=3.0)
    table = run_stress_sweep(design, csv, kind=kind, progress=False, checkpoint_dir=tmp_path / "ckpt")
    assert tuple(table.columns) == STRESS_COLUMNS
    assert set(table.encoder) == {encoder.name} and set(table.encoder_sha256) == {encoder.sha256}
    assert table.drop_duplicates(["dataset", "method", "seed"]).shape[0] == len(design)
    assert condition_key("omniglot", 0.5, 1.0) in set(table.dataset)
    assert loads == ["omniglot"]  # the three conditions share one load
    assert not list((tmp_path / "ckpt").rglob("*.pt"))  # a stored unit's checkpoint is removed
    files = list((tmp_path / "quick" / "units" / "07").glob("*/*/seed*.json"))
    assert len(files) == len(design)
    # a unit alone equals the same unit trained by the sweep (one seed per task, same data and encoder)
    unit = design[5]
    alone = train_rare_images(data, [unit.seed], unit.method, encoder=encoder, degradation=unit.degradation,
                              fraction=unit.fraction, epochs=1, batch_size=64, progress=False)
    stored = table[(table.dataset == condition_key(*unit[:3])) & (table.method == unit.method)
                   & (table.seed == unit.seed)].set_index("metric").value
    assert stored["au_prc"] == pytest.approx(float(alone.au_prc[0]), abs=0)
    again = run_stress_sweep(design, csv, kind=StressKind(load, {"omniglot": encoder}, settings, imbalance=3.0),
                             progress=False, train=False)
    pd.testing.assert_frame_equal(again, table)
    with pytest.raises(ValueError, match="another configuration"):
        run_stress_sweep(design[:1], csv, kind=StressKind(load, {"omniglot": encoder}, {**settings, "epochs": 2},
                                                          imbalance=3.0), progress=False)
    curves = stress_curves(table)
    assert set(curves.test) == {"degradation", "fraction"} and set(curves.role) == set(method_roles(table))
    assert not bucket_recall(table).empty
    evidence = claims_evidence_07(table)
    assert list(evidence.claim) == ["6", "5 (vision half)"]
    assert set(evidence.verdict) == {"inconclusive"}
    assert evidence.reason.str.contains("budget").all() and evidence.reason.str.contains("significance").all()
    pd.testing.assert_frame_equal(claims_evidence_07(read_stress_results(csv)), evidence)  # the verdicts page's read


def test_condition_keys_round_trip_and_malformed_ones_fail():
    for a, f in ((0.0, 1.0), (0.25, 1.0), (0.0, 0.1), (0.75, 0.25)):
        assert parse_condition(condition_key("omniglot", a, f)) == ("omniglot", a, f)
    assert condition_key("cifar100", 0.5, 1.0) == "cifar100@a0.5-f1"
    with pytest.raises(ValueError, match="not a stress condition"):
        parse_condition("omniglot")


# ------------------------------------------------------------------------------------- the verdicts
def _table(n_seeds=10, epochs=20, heads=20, gain=0.05, lpros_shift=-0.03, base_f1=0.3, acc=0.6, chance=0.01):
    rng = np.random.default_rng(0)
    names = image_methods(heads)
    rows = []
    conditions = [(0.0, 1.0), (0.25, 1.0), (0.5, 1.0), (0.75, 1.0), (0.0, 0.25), (0.0, 0.1)]
    for a, f in conditions:
        for role, method in names.items():
            for seed in range(n_seeds):
                shift = {"baseline": 0.0, "imbalance": 0.01, "focal": gain, "lpros+weights": 0.01 + lpros_shift}[role]
                f1 = base_f1 + shift + rng.normal(0, 0.002) if base_f1 or role != "baseline" else 0.0
                for metric, value in (("macro_f1", f1), ("acc_character", acc), ("chance_character", chance),
                                      ("acc_alphabet", 0.9), ("chance_alphabet", 0.2), ("n_test", 3000.0),
                                      ("recall@freq=1-5", 0.1)):
                    rows.append({"dataset": condition_key("omniglot", a, f), "method": method, "seed": seed,
                                 "metric": metric, "value": value, "data": "omniglot", "degradation": a,
                                 "fraction": f, "epochs": epochs, "n_heads": heads})
    return pd.DataFrame(rows)


def test_claims_evidence_07_decides_with_enough_evidence():
    ev = claims_evidence_07(_table()).set_index("claim")
    assert ev.loc["6", "verdict"] == "reproduced" and ev.loc["6", "reason"] == ""
    assert ev.loc["5 (vision half)", "verdict"] == "reproduced"
    ev = claims_evidence_07(_table(gain=-0.05, lpros_shift=0.05)).set_index("claim")
    assert ev.loc["6", "verdict"] == "not reproduced"
    assert ev.loc["5 (vision half)", "verdict"] == "not reproduced"


@pytest.mark.parametrize("kwargs, gate", [
    ({"n_seeds": 3}, "significance"),
    ({"base_f1": 0.0}, "baseline"),
    ({"acc": 0.01}, "chance"),
    ({"epochs": 10}, "budget"),
    ({"heads": 10}, "budget"),
])
def test_claims_evidence_07_is_inconclusive_with_the_reason(kwargs, gate):
    ev = claims_evidence_07(_table(**kwargs)).set_index("claim")
    assert ev.loc["6", "verdict"] == "inconclusive"
    assert gate in ev.loc["6", "reason"]
    assert ev.loc["6", "rule_verdict"] in ("reproduced", "partly", "not reproduced", "inconclusive")


def test_claims_evidence_07_without_results():
    ev = claims_evidence_07(pd.DataFrame())
    assert set(ev.verdict) == {"not tested here"}


def test_chapter_07_is_registered_for_every_profile():
    from pathlib import Path

    from hmc import runner
    from hmc.profiles import PROFILE_NAMES, profile_parameters

    root = Path(__file__).resolve().parents[1]
    source = root / "notebooks" / "07_rare_nodes_images.py"
    assert source in runner.notebook_sources(root / "notebooks")
    for profile in PROFILE_NAMES:
        runner.resolve_parameters(source, profile, [])  # every profile value has the parameter's type
    assert profile_parameters("07_rare_nodes_images", "full")["n_heads"] == 20


def test_pretrained_spec_key_changes_with_every_setting():
    keys = {EncoderSpec().key()}
    for change in ({"width": 32}, {"image_size": 16}, {"pretrain_epochs": 3}, {"seed": 1}, {"pretrain_alphabets": 5}):
        keys.add(dataclasses.replace(EncoderSpec(), **change).key())
    assert len(keys) == 6


# ------------------------------------------------------------------------------------- the campaign
def test_chapter_07_full_design_is_in_the_campaign_queue_after_the_first_rare_node_tier_and_hcal():
    from hmc.runs.campaign import STRESS_CHAPTER, build_queue, stress_values

    queue = build_queue()
    v = stress_values()
    assert (v["n_heads"], v["epochs"], v["batch_size"], v["image_size"]) == (20, 20, 128, 28)  # the spec's settings
    items = [i for i in queue if i.chapter == STRESS_CHAPTER]
    conditions = 4 + 2  # a in {0, .25, .5, .75} with f = 1; f in {.25, .1} with a = 0
    assert len(items) == len(v["datasets"]) * conditions * 4 * 2  # 4 methods, seeds 0-4 then 5-9
    assert {i.method for i in items} == set(image_methods(20).values())
    assert [i.seeds for i in items[: len(items) // 2]] == [(0, 1, 2, 3, 4)] * (len(items) // 2)
    assert {parse_condition(i.dataset) for i in items} == {
        (d, a, f) for d in v["datasets"] for a, f in
        [(0.0, 1.0), (0.25, 1.0), (0.5, 1.0), (0.75, 1.0), (0.0, 0.25), (0.0, 0.1)]}
    tiers = [i.tier for i in queue]
    assert tiers == sorted(tiers)  # the queue runs tier after tier
    assert {i.tier for i in items} == {3} and {i.chapter for i in queue if i.tier == 1} == {"03_rare_node_loss"}
    assert {i.chapter for i in queue if i.tier == 2} == {"06_hcal"}  # HCAL against its baselines in between


def test_the_campaign_trains_chapter_07_items_through_the_one_sweep(tiny, tmp_path):
    from hmc.runs.campaign import STRESS_CHAPTER, Campaign, WorkItem, run_campaign

    data, encoder = tiny
    settings = {"epochs": 1, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "dropout": 0.7, "hidden_dim": None,
                "augment": False}

    class Tiny(Campaign):
        def stress_kind(self, dataset):
            return StressKind(lambda name: data, {"omniglot": encoder}, settings, imbalance=3.0)

        def available(self, dataset):
            return True

        def epochs(self, dataset):
            return 1

        def pretraining_s(self, item):
            return 0.0

    campaign = Tiny(tmp_path / "results", tmp_path / "ckpt", book=tmp_path / "book")
    campaign.queue = [WorkItem(2, "test", STRESS_CHAPTER, condition_key("omniglot", a, f), m, (0, 1))
                      for a, f in ((0.0, 1.0), (0.5, 1.0)) for m in ("baseline-H2", "focal-bbma-k1-H2")]
    with open(tmp_path / "log.txt", "w") as out:
        first = run_campaign(campaign, 600, threads=1, pages=False, out=out)
        again = run_campaign(campaign, 600, threads=1, pages=False, out=out)
    assert first["items"] == 4 and first["units"] == 8
    assert again["items"] == 0 and again["stopped"] == "queue finished"
    assert [campaign.done_seeds(item) for item in campaign.queue] == [[0, 1]] * 4
    table = read_stress_results(campaign.csv(STRESS_CHAPTER))
    assert table.drop_duplicates(["dataset", "method", "seed"]).shape[0] == 8
    unit = table[(table.dataset == "omniglot@a0.5-f1") & (table.method == "focal-bbma-k1-H2") & (table.seed == 1)]
    alone = train_rare_images(data, [1], "focal-bbma-k1-H2", encoder=encoder, degradation=0.5, epochs=1,
                              batch_size=64, progress=False)
    assert unit.set_index("metric").value["au_prc"] == float(alone.au_prc[0])
    assert campaign.status_rows()[0]["done"] == 8
