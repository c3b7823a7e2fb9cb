"""hmc.book.hcal_pages and hmc.book.hcal_plots against small hand-built tables and hand-computed values."""

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hmc.book import hcal_pages as hp  # noqa: E402
from hmc.book import hcal_plots as hplots  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402
from hmc.errors import DatasetMissingError  # noqa: E402


def _rows(method, seed, values, protocol="last", epochs=30, backbone="conv4-w64", dataset="omniglot", **extra):
    return [{"dataset": dataset, "method": method, "seed": seed, "protocol": protocol, "epoch": epochs,
             "metric": k, "value": v, "epochs": epochs, "backbone": backbone, **extra} for k, v in values.items()]


def _table():
    rows = []
    for seed, (clean, noisy) in enumerate([(0.60, 0.40), (0.64, 0.44)]):
        rows += _rows("hcal", seed, {"acc_character": clean, "full_path": clean / 2,
                                     "robust_acc_character@0.1": noisy, "robust_full_path@0.1": noisy / 2,
                                     "robust_acc_character@0.2": noisy / 2, "robust_full_path@0.2": noisy / 4})
        rows += _rows("hcal", seed, {"acc_character": 0.9, "robust_acc_character@0.1": 0.9}, protocol="authors")
    rows += _rows("flat", 0, {"acc_character": 0.5, "full_path": 0.2})  # no robustness measured
    return pd.DataFrame(rows)


def _scores():
    """Two protocols, hcal with seeds 0 and 1, flat and hcal-noagg with seed 0 only."""
    rows = []
    for protocol, shift in (("last", 0.0), ("validation", 0.1)):
        rows += _rows("hcal", 0, {"acc_character": 0.6 + shift, "acc_alphabet": 0.8, "full_path": 0.5, "hvr": 0.2,
                                  "robust_acc_character@0.1": 0.3}, protocol)
        rows += _rows("hcal", 1, {"acc_character": 0.8 + shift, "acc_alphabet": 0.9, "full_path": 0.7, "hvr": 0.1},
                      protocol)
        rows += _rows("flat", 0, {"acc_character": 0.5, "acc_alphabet": 0.7, "full_path": 0.4, "hvr": 0.3}, protocol)
        rows += _rows("hcal-noagg", 0, {"acc_character": 0.55, "acc_alphabet": 0.85, "full_path": 0.45,
                                        "hvr": 0.25}, protocol)
    return pd.DataFrame(rows)


def _units(**columns):
    """One row per unit (the first metric row of each) with the setting columns given."""
    base = {"dataset": ["omniglot", "omniglot", "omniglot"], "method": ["hcal", "hcal", "flat"], "seed": [0, 1, 0],
            "protocol": "last", "epoch": 30, "metric": "acc_character", "value": 0.5, "epochs": 30,
            "batch_size": 32, "schedule": "cosine", "image_size": 28, "backbone": "conv4-w64",
            "pretrained_used": False, "device": "cpu", "wall_time_s": [10.0, 20.0, 60.0]}
    return pd.DataFrame({**base, **columns})


def _data():
    """4 finest classes (2 per coarse class), 1 x 4 x 4 images whose pixels are the image's index."""
    y_fine = np.array([0, 0, 1, 2, 3, 3, 3])
    parents = np.array([0, 0, 1, 1])
    y = torch.tensor(np.stack([y_fine, parents[y_fine]], axis=1))
    x = torch.tensor(np.arange(7, dtype=np.uint8)[:, None, None, None].repeat(4, 2).repeat(4, 3))
    return SimpleNamespace(x_train=x, y_train=y, x_test=x[:3], x_val=x[:2], level_names=("character", "alphabet"),
                           class_names=(("a1", "a2", "b1", "b2"), ("Alpha", "Beta")), level_parents=(parents,),
                           image_shape=(1, 4, 4), split="by drawing")


# ------------------------------------------------------------------------------- set-up
def test_check_parameters_refuses_unknown_names_and_empty_budgets():
    hp.check_parameters(["omniglot"], ["hcal", "flat"], 1, 1, "none")
    for args in ((["mnist"], ["hcal"], 1, 1, "none"), ([], ["hcal"], 1, 1, "none"), (["omniglot"], ["hcl"], 1, 1, "none"),
                 (["omniglot"], ["hcal"], 0, 1, "none"), (["omniglot"], ["hcal"], 1, 1, "test")):
        with pytest.raises(ValueError):
            hp.check_parameters(*args)


def test_result_paths_put_history_and_embeddings_beside_the_results(tmp_path, monkeypatch):
    monkeypatch.setenv("HMC_RESULTS_DIR", str(tmp_path))
    results, history, embeddings, checkpoints = hp.result_paths("full")
    assert (results, history, embeddings) == (tmp_path / "full" / "06_hcal.csv", tmp_path / "full" / "06_hcal_history.csv",
                                              tmp_path / "full" / "06_hcal_embeddings")
    assert checkpoints.as_posix() == "_build/checkpoints/06_hcal/full"
    assert hp.result_paths("quick", "x/r.csv")[1].as_posix() == "x/r_history.csv"
    assert hp.result_paths("quick", "", "ck/here")[3].as_posix() == "ck/here"


def test_use_device_sets_the_cpu_threads_and_names_the_files(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    paths = (Path("results/full/06_hcal.csv"), Path("results/full/06_hcal_history.csv"),
             Path("results/full/06_hcal_embeddings"), Path("_build/ck"))
    line = hp.use_device("cpu", 2, paths)
    assert calls == [2] and line == ("device: cpu (torch threads 3); results: results/full/06_hcal.csv, "
                                     "06_hcal_history.csv, 06_hcal_embeddings/; checkpoints: _build/ck/")
    hp.use_device("cuda", 2, paths)
    hp.use_device("cpu", 0, paths)
    assert calls == [2]  # not on a GPU, not for 0 (torch's default)


def test_method_table_names_each_labels_settings():
    t = hp.method_table(["hcal", "hcal-noagg", "hcal-noperturb", "hcal-gauss", "hcal-dwa", "flat"], epochs=2)
    assert t.loc["hcal"].tolist() == ["hcal", "softmax_loss", "yes", "uniform eps=0.01"]
    assert t.loc["hcal-noagg", "aggregation"] == "no" and t.loc["hcal-noperturb", "perturbation"] == "off"
    assert t.loc["hcal-gauss", "perturbation"] == "gaussian eps=0.01" and t.loc["hcal-dwa", "balancer"] == "dwa"
    assert t.loc["flat"].tolist() == ["flat", "-", "-", "-"]


def test_load_hierarchies_names_every_missing_dataset_and_how_to_leave_it_out(capsys):
    def load(name):
        if name == "cifar100":
            raise DatasetMissingError("cifar-100-python.tar.gz not found")
        return name.upper()

    assert hp.load_hierarchies(load, ["omniglot"]) == {"omniglot": "OMNIGLOT"}
    with pytest.raises(DatasetMissingError, match=r"cifar100: cifar-100.*leave it out: -p datasets '\[\"omniglot\"\]'"):
        hp.load_hierarchies(load, ["omniglot", "cifar100"])
    assert "not on disk: cifar100" in capsys.readouterr().out


def test_data_table_counts_classes_per_level_and_the_splits():
    row = hp.data_table({"toy": _data()}).loc["toy"]
    assert row["levels (finest first)"] == "4 character -> 2 alphabet"
    assert (row.train, row.validation, row.test, row.image) == (7, 2, 3, "1x4x4")


def test_shown_methods_keep_the_design_order_of_those_with_results():
    shown = hp.shown_methods(_scores(), ["flat", "mmoe", "hcal-noagg", "hcal", "hcal-dwa"])
    assert shown == ["flat", "hcal-noagg", "hcal"]
    assert hp.method_groups(shown) == (["hcal", "flat"], ["hcal-noagg"])
    assert hp.method_groups(["hcal"]) == (["hcal"], [])


def test_coverage_counts_finished_seeds_and_names_epochs_and_backbone():
    t = hp.coverage_table(_table(), ["omniglot"], ["hcal", "flat", "chmcnn"], n_seeds=5)
    assert t["seeds"].tolist() == ["2 / 5", "1 / 5", "0 / 5"]
    assert t.loc[("omniglot", "hcal"), "backbone"] == "conv4-w64" and t.loc[("omniglot", "chmcnn"), "epochs"] == "-"


def test_main_metrics_leave_out_the_robustness_metrics():
    assert hp.main_metrics(_scores(), "omniglot") == ["acc_character", "acc_alphabet", "full_path", "hvr"]


def test_cell_table_gives_mean_and_sample_std_per_method():
    t = hp.cell_table(_scores(), "omniglot", "last", ["flat", "hcal", "mmoe"])
    assert t.index.tolist() == ["flat", "hcal"] and t.columns.tolist() == ["acc_character", "acc_alphabet", "full_path",
                                                                            "hvr"]
    # hcal: (0.6, 0.8) -> 0.700 +- sqrt(0.02) = 0.141; flat has one seed: the mean alone
    assert t.loc["hcal", "acc_character"] == "0.700 ± 0.141" and t.loc["flat", "acc_character"] == "0.500"
    assert hp.cell_table(_scores(), "omniglot", "validation", ["hcal"]).loc["hcal", "acc_character"] == "0.800 ± 0.141"
    assert hp.cell_table(_scores(), "omniglot", "authors", ["hcal"]) is None


def test_cell_tables_caption_names_dataset_backbone_and_protocol():
    tables = hp.cell_tables(_scores(), ["omniglot", "cifar100"], ["last", "validation"], ["hcal"], "HCAL")
    assert [s.caption for s in tables] == ["omniglot: HCAL on conv4-w64; last epoch (no selection)",
                                           "omniglot: HCAL on conv4-w64; epoch selected on the validation split"]
    assert "white-space: nowrap" in tables[0].to_html()  # a cell "0.700 ± 0.141" never wraps


def test_cost_table_sums_seconds_and_divides_by_seeds_and_epochs():
    cost, line = hp.cost_table(_units())
    assert cost.loc[("omniglot", "hcal"), "seconds"] == 30.0 and cost.loc[("omniglot", "hcal"), "seeds"] == 2
    assert cost["s per epoch"].tolist() == pytest.approx([30 / 2 / 30, 60 / 1 / 30])
    assert line.startswith("3 units, 1.5 min of training")
    assert hp.cost_table(_units().iloc[:1])[1].startswith("1 unit, 0.2 min")
    assert hp.cost_table(_units().iloc[:0])[0] is None


def test_design_tables_caption_coverage_and_add_the_cost_once_a_unit_finished():
    tables, line = hp.design_tables(_units(), ["omniglot"], ["hcal", "flat"], n_seeds=5)
    assert [t.caption for t in tables] == [
        "how much of the design has finished: seeds per method, their epochs and backbone",
        "what the finished units cost"]
    assert tables[0].data["seeds"].tolist() == ["2 / 5", "1 / 5"] and tables[1].data["seconds"].tolist() == [30.0, 60.0]
    assert line.startswith("3 units, 1.5 min")
    tables, line = hp.design_tables(_units().iloc[:0], ["omniglot"], ["hcal"], n_seeds=5)
    assert len(tables) == 1 and tables[0].data["seeds"].tolist() == ["0 / 5"] and line.startswith("no unit")


def test_protocols_keep_the_selection_order_and_prefer_validation_for_the_verdicts():
    assert hp.protocols(_scores()) == (["last", "validation"], "validation")
    assert hp.protocols(_table()) == (["authors", "last"], "last")


def test_scorecard_table_shows_the_reasons_as_why_inconclusive():
    card = pd.DataFrame([{"claim": 1, "statement": "S1", "verdict": "inconclusive", "reasons": "budget", "rule": "R"}])
    styler = hp.scorecard_table(card)
    assert styler.data.columns.tolist() == ["claim", "statement", "verdict", "why inconclusive"]
    assert styler.data.iloc[0].tolist() == [1, "S1", "inconclusive", "budget"] and styler.caption.startswith("HCAL")


def test_sensitivity_table_stacks_the_claims_with_their_names_first(monkeypatch):
    def fake(results, claim, history, design):
        return pd.DataFrame({"reading": ["a", "b"], "verdict": [f"v{claim}", "x"], "detail": ["d", "d"]})

    monkeypatch.setattr(hp, "hcal_sensitivity", fake)
    t = hp.sensitivity_table(None, None, [1, 3], {}).data
    assert t.index.names == ["claim", "reading", "verdict"] and "detail" not in t.columns
    assert t.index.tolist() == [("claim 1", "a", "v1"), ("claim 1", "b", "x"), ("claim 3", "a", "v3"),
                                ("claim 3", "b", "x")]


def test_weight_summary_reads_the_last_epoch_shares_and_their_balance():
    history = pd.DataFrame({"dataset": "omniglot", "method": "hcal", "seed": [0, 0, 0, 1],
                            "epoch": [1, 2, 2, 2], "split": ["test", "test", "val", "test"],
                            "weight_0": [5.0, 1.0, 9.0, 3.0], "weight_1": [5.0, 3.0, 9.0, 1.0]})
    row = hp.weight_summary(history, ["omniglot"], ["hcal"]).loc[("omniglot", "hcal")]
    # seed 0 at epoch 2: shares (0.25, 0.75); seed 1: (0.75, 0.25); the means are 0.5 and 0.5
    assert row.share_0 == pytest.approx(0.5) and row.max_share == pytest.approx(0.75)
    balance = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(2)  # 0.8113, the same for both seeds
    assert row.balance == pytest.approx(balance)
    assert hp.weight_summary(history, ["omniglot"], ["flat"]) is None
    assert hp.weight_summary(history.iloc[:0][["dataset", "method", "seed", "epoch", "split"]], ["omniglot"], ["hcal"]) is None
    tables = hp.weight_tables(history, ["omniglot"], ["hcal"], "conv4-w64")
    assert len(tables) == 1 and tables[0].caption == "level weights at the last epoch on conv4-w64 (shares, mean over seeds)"
    assert tables[0].data.loc[("omniglot", "hcal"), "max_share"] == pytest.approx(0.75)
    assert hp.weight_tables(history, ["omniglot"], ["flat"], "conv4-w64") == []


# ------------------------------------------------------------------------------- robustness
def test_robustness_reads_the_last_protocol_with_the_clean_accuracy_at_sigma_0():
    long = hp.robustness_long(_table(), "omniglot", ["hcal", "flat"])
    assert set(long.method) == {"hcal"}  # flat measured nothing: no sigma-0 row of it either
    acc = long[(long.metric == "acc_character") & (long.seed == 1)].set_index("sigma").value
    assert acc.to_dict() == {0.0: 0.64, 0.1: 0.44, 0.2: 0.22}  # the authors' rows (0.9) are not read
    table = hp.robustness_table(_table(), "omniglot", ["flat", "hcal"], "acc_character")
    assert table.index.tolist() == ["hcal"] and table.columns.tolist() == ["sigma = 0", "sigma = 0.1", "sigma = 0.2"]
    # mean and sample std of (0.60, 0.64) and (0.40, 0.44): 0.62 and 0.42 +- 0.028
    assert table.loc["hcal", "sigma = 0"].startswith("0.620") and table.loc["hcal", "sigma = 0.1"].startswith("0.420")
    assert "0.028" in table.loc["hcal", "sigma = 0.1"]
    assert hp.robustness_table(_table(), "omniglot", ["flat"], "acc_character") is None
    assert hp.robustness_long(_table().iloc[:0], "omniglot", ["hcal"]).empty


def test_robustness_tables_show_the_finest_level_and_the_full_path():
    tables = hp.robustness_tables(_table(), {"omniglot": ("character", "alphabet"), "cifar100": ("fine", "coarse")},
                                  ["hcal", "flat"])
    assert [s.caption.split(" under")[0] for s in tables] == ["omniglot: character accuracy", "omniglot: full-path accuracy"]
    assert "on conv4-w64; last epoch" in tables[0].caption
    assert tables[1].data.loc["hcal", "sigma = 0.2"].startswith("0.105")  # (0.20 + 0.22) / 4


# ------------------------------------------------------------------------------- verdicts and settings
def test_verdict_report_lists_each_claim_with_its_reasons_only_when_inconclusive():
    card = pd.DataFrame([{"claim": 1, "statement": "S1", "verdict": "inconclusive", "rule": "R", "evidence": "E",
                          "test": "T", "reasons": "budget", "rule_verdict": "partly", "strength": "weak",
                          "paper": "P", "ours": "O"},
                         {"claim": 2, "statement": "S2", "verdict": "reproduced", "rule": "R", "evidence": "E",
                          "test": "T", "reasons": "", "rule_verdict": "reproduced", "strength": "strong",
                          "paper": "P", "ours": "O"}])
    design = {"omniglot": SimpleNamespace(n_test=10, classes={"acc_character": 4})}
    text = hp.verdict_report(card, {"omniglot": "last"}, design, ["**one** rule"], 1, 2, "quick")
    lines = text.splitlines()
    assert lines[:2] == ["Conventions of every rule:", "- one rule"]
    assert lines[3].startswith("verdict protocol per dataset: omniglot: last; 1 seed(s); 2 epoch(s); profile 'quick'")
    assert lines[4] == "test design per dataset: omniglot: 10 test images, classes acc_character 4"
    assert text.count("why inconclusive") == 1 and "Claim 2: S2\n  verdict:  reproduced" in text


def test_settings_used_names_backbone_pretraining_and_the_papers_epochs():
    units = _units(dataset=["omniglot", "cifar100", "cifar100"], pretrained_used=[False, True, False],
                   backbone=["conv4-w64", "resnet18", "resnet18"])
    t = hp.settings_used(units, {"omniglot": "validation"})
    assert t.loc["omniglot", "backbone"] == "conv4-w64" and t.loc["cifar100", "pretrained_used"] == "some units"
    assert t.loc["omniglot", "pretrained_used"] == "no" and t.loc["cifar100", "seeds"] == 2
    assert t["reference epochs"].tolist() == ["-", "500 (CIFAR-100)"]
    assert t["verdict protocol"].tolist() == ["validation", "-"]
    assert hp.settings_used(units.iloc[:0], {}) is None


# ------------------------------------------------------------------------------- figures
def test_show_prints_the_sentence_when_there_is_no_figure_and_closes_a_shown_one(capsys):
    hplots.show(None, "nothing yet.")
    assert capsys.readouterr().out == "nothing yet.\n"
    fig = plt.figure()
    hplots.show(fig, "unused")
    assert not plt.fignum_exists(fig.number)


def test_montage_puts_each_coarse_class_on_a_row_padded_in_white():
    data = _data()
    grid_img, shown = hplots.montage(data.x_train.numpy(), data.y_train[:, -1].numpy(), per_row=3, pad=1)
    assert shown == [0, 1] and grid_img.shape == (2 * 5 + 1, 3 * 5 + 1)
    # class 0 holds images 0, 1, 2; class 1 images 3, 4, 5 (6 is beyond per_row)
    assert (grid_img[1:5, 1:5] == 0).all() and (grid_img[1:5, 11:15] == 2).all() and (grid_img[6:10, 11:15] == 5).all()
    assert (grid_img[0] == 255).all() and (grid_img[:, 5] == 255).all()


def test_data_figure_counts_images_per_class_at_both_levels():
    fig = hplots.data_figure("toy", _data())
    montage_ax, coarse_ax, fine_ax = fig.axes
    assert [t.get_text() for t in montage_ax.get_yticklabels()] == ["0: Alpha", "1: Beta"]
    assert montage_ax.get_ylabel() == "alphabet"
    assert [p.get_height() for p in coarse_ax.patches] == [3, 4]
    assert [p.get_height() for p in fine_ax.patches] == [3, 2, 1, 1]  # per character, largest first
    assert fig.get_size_inches()[0] == WIDTH
    plt.close(fig)


def test_comparison_figure_draws_seed_means_per_protocol_and_a_panel_per_metric():
    fig = hplots.comparison_figure(_scores(), "omniglot", ["hcal", "flat"], ["last", "validation"])
    assert [ax.get_title() for ax in fig.axes] == ["acc_character", "acc_alphabet", "full_path", "hvr (lower is better)"]
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([0.7, 0.5, 0.8, 0.5])  # last: hcal, flat; validation: hcal, flat
    assert fig.get_size_inches()[0] == WIDTH and len(fig.axes) == 4 and fig.legends
    plt.close(fig)
    assert hplots.comparison_figure(_scores(), "omniglot", ["mmoe"], ["last"]) is None


def test_ablation_differences_pair_seeds_and_leave_out_the_unpaired():
    diff = hplots.ablation_differences(_scores(), "omniglot", "last", ["hcal-noagg", "hcal-dwa"])
    got = diff.set_index("metric").difference
    assert set(diff.seed) == {0} and set(diff.method) == {"hcal-noagg"}  # hcal-noagg has no seed 1
    assert got["acc_character"] == pytest.approx(-0.05) and got["acc_alphabet"] == pytest.approx(0.05)
    fig = hplots.ablation_figure(_scores(), "omniglot", "last", ["hcal-noagg"])
    offsets = fig.axes[3].collections[0].get_offsets()
    np.testing.assert_allclose(offsets, [[0.05, 0.0]])  # hvr: 0.25 - 0.2
    plt.close(fig)
    assert hplots.ablation_figure(_scores(), "omniglot", "last", ["hcal-dwa"]) is None


def test_level_curves_average_seeds_per_epoch_with_a_panel_per_method():
    history = pd.DataFrame({"dataset": "omniglot", "method": ["hcal", "hcal", "hcal", "hcal", "flat"],
                            "seed": [0, 1, 0, 1, 0], "epoch": [5, 5, 10, 10, 5], "split": "test",
                            "acc_0": [0.1, 0.3, 0.4, 0.6, 0.2], "acc_1": [0.5, 0.7, 0.8, 0.8, 0.6]})
    fig = hplots.level_curves(history, "omniglot", ["hcal", "mmoe", "flat"], ("character", "alphabet"), "acc_", "acc", "t")
    assert [ax.get_title() for ax in fig.axes] == ["hcal", "flat"]
    fine, coarse = fig.axes[0].lines
    np.testing.assert_allclose(fine.get_xdata(), [5, 10])
    np.testing.assert_allclose(fine.get_ydata(), [0.2, 0.5])
    np.testing.assert_allclose(coarse.get_ydata(), [0.6, 0.8])
    plt.close(fig)
    assert hplots.level_curves(history, "cifar100", ["hcal"], ("f", "c"), "acc_", "acc", "t") is None


def test_coarsest_ancestor_follows_every_parent_map():
    assert hplots.coarsest_ancestor([np.array([0, 0, 1, 1]), np.array([1, 0])], 4).tolist() == [1, 1, 0, 0]
    assert hplots.coarsest_ancestor([], 3).tolist() == [0, 1, 2]


def test_tsne_figure_colours_fine_prototypes_by_their_coarsest_ancestor():
    rng = np.random.default_rng(0)
    stored = {"features": rng.normal(size=(20, 8)).astype(np.float32), "labels": np.stack(
        [np.arange(20) % 4, (np.arange(20) % 4) // 2], axis=1), "prototypes": [rng.normal(size=(4, 8)), rng.normal(size=(2, 8))]}
    data = SimpleNamespace(level_parents=(np.array([1, 1, 0, 0]),), level_names=("character", "alphabet"))
    fig = hplots.tsne_figure("toy", data, stored, n_points=12)
    images, fine, coarse = fig.axes[0].collections
    assert [len(c.get_offsets()) for c in (images, fine, coarse)] == [12, 4, 2]
    colours = coarse.get_facecolors()
    np.testing.assert_allclose(fine.get_facecolors(), colours[[1, 1, 0, 0]])
    plt.close(fig)


def test_robustness_figure_has_a_panel_per_level_and_the_full_path():
    fig = hplots.robustness_figure(_table(), "omniglot", ["hcal", "flat"], ["character"])
    assert [ax.get_title() for ax in fig.axes] == ["accuracy: character", "full-path accuracy"]
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [0.62, 0.42, 0.21])
    plt.close(fig)
    assert hplots.robustness_figure(_table(), "omniglot", ["flat"], ["character"]) is None


def test_show_tables_displays_each_table_or_prints_the_sentence(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    hplots.show_tables([], "no table yet.")
    assert capsys.readouterr().out == "no table yet.\n" and shown == []
    hplots.show_tables(["a", "b"], "unused")
    assert shown == ["a", "b"] and capsys.readouterr().out == ""


def test_backbone_text_names_the_backbones_of_a_dataset_or_of_all():
    units = _units(dataset=["omniglot", "cifar100", "cifar100"], backbone=["conv4-w64", "resnet18", "conv4-w64"])
    assert hp.backbone_text(units, "omniglot") == "conv4-w64"
    assert hp.backbone_text(units) == "conv4-w64, resnet18" and hp.backbone_text(units, "aircraft") == "-"
