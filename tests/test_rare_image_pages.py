"""hmc.book.rare_image_pages: chapter 07's tables and figures, from a synthetic stress table and an empty one."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hmc.book import rare_image_pages as pages  # noqa: E402
from hmc.book.rare_plots import FONT, WIDTH, set_style  # noqa: E402
from hmc.rare_images import image_methods  # noqa: E402
from hmc.rare_images_evidence import method_roles, stress_curves  # noqa: E402
from hmc.runs.stress_sweep import STRESS_COLUMNS, condition_key  # noqa: E402

CONDITIONS = [(0.0, 1.0), (0.5, 1.0), (0.0, 0.1)]


@pytest.fixture(autouse=True)
def close_figures():
    set_style()
    yield
    plt.close("all")


def table(seeds=2):
    """acc_character = 0.5 + 0.1 * seed for the baseline (+0.1 for the others), chance 0.01; recall 0.2."""
    rows = []
    for a, f in CONDITIONS:
        for role, method in image_methods(4).items():
            for seed in range(seeds):
                shift = 0.0 if role == "baseline" else 0.1
                for metric, value in (("acc_character", 0.5 + 0.1 * seed + shift), ("chance_character", 0.01),
                                      ("acc_alphabet", 0.9), ("chance_alphabet", 0.1), ("macro_f1", 0.3 + shift),
                                      ("au_prc", 0.4), ("recall@freq=1-5", 0.2), ("recall@freq=>100", 0.0)):
                    rows.append({"dataset": condition_key("omniglot", a, f), "method": method, "seed": seed,
                                 "metric": metric, "value": value, "data": "omniglot", "degradation": a,
                                 "fraction": f, "encoder": "conv4", "encoder_sha256": "ab" * 32, "image_size": 28,
                                 "n_heads": 4, "epochs": 20, "batch_size": 128, "imbalance": 10.0, "device": "cpu"})
    return pd.DataFrame(rows)


def check(fig, n_axes):
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    axes = fig.axes
    assert len(axes) == n_axes
    assert len(axes) <= 2 * len({round(ax.get_position().y0, 3) for ax in axes})
    for ax in axes:
        assert len(ax.lines) + len(ax.patches) + len(ax.collections) > 0, "an empty panel"
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert min(sizes) >= FONT


def test_reference_summary_by_hand():
    t = table()
    summary, line = pages.reference_summary(t, method_roles(t))
    assert summary.loc["baseline", "acc_character"] == "0.550 ± 0.071"  # mean of 0.5, 0.6; sd 0.0707
    assert summary.loc["focal", "acc_character"] == "0.650 ± 0.071"
    assert summary.loc["chance (largest test class)", "acc_character"] == "0.010"
    assert line.startswith("baseline heads at a = 0, f = 1: character accuracy 0.550 (chance 0.0100, 55.0x)")
    assert "alphabet accuracy 0.900" in line


def test_stress_table_differences_by_hand():
    t = table()
    wide = pages.stress_table(stress_curves(t, "macro_f1"), method_roles(t)).data
    assert wide.loc[("omniglot", "degradation", 0.5), "focal − baseline"] == pytest.approx(0.1)
    assert wide.loc[("omniglot", "fraction", 0.1), "baseline"] == pytest.approx(0.3)


def test_figures_have_two_panels_per_row_and_readable_text():
    t = table()
    found = method_roles(t)
    curves = {m: stress_curves(t, m) for m in ("macro_f1", "acc_character")}
    check(pages.stress_figure(curves, "omniglot", found), 4)
    fig, silent = pages.bucket_figure(t, "omniglot", found, [(0.0, 1.0), (0.0, 0.1)])
    check(fig, 2)
    assert silent == {(0.0, 1.0): [">100"], (0.0, 0.1): [">100"]}
    assert not [t for t in fig.axes[0].texts if "recall 0" in t.get_text()]  # bars to see there


def test_a_panel_without_any_recall_says_so():
    t = table()
    t.loc[t.metric.str.startswith("recall@"), "value"] = 0.0
    fig, silent = pages.bucket_figure(t, "omniglot", method_roles(t), [(0.0, 1.0)])
    assert [x.get_text() for x in fig.axes[0].texts] == ["recall 0 in every bucket:\nno method finds a positive"]
    assert silent == {(0.0, 1.0): ["1-5", ">100"]}


def test_an_empty_table_gives_empty_outputs_not_errors():
    empty = pd.DataFrame(columns=list(STRESS_COLUMNS))
    summary, line = pages.reference_summary(empty, {})
    assert summary is None and "no finished unit" in line
    assert pages.stress_figure({"macro_f1": stress_curves(empty, "macro_f1")}, "omniglot", {}) is None
    assert pages.bucket_figure(empty, "omniglot", {}, [(0.0, 1.0)]) == (None, {})
    assert pages.stress_table(stress_curves(empty, "macro_f1"), {}) is None
    assert pages.settings_used(empty) is None


def test_settings_used_counts_seeds():
    t = table(seeds=3)
    used = pages.settings_used(t.drop_duplicates(["dataset", "method", "seed"]))
    assert used.loc["omniglot", "seeds"] == 3 and used.loc["omniglot", "sha256"] == "ab" * 8


def test_method_table_names_each_roles_loss():
    m = pages.method_table(image_methods(20))
    assert list(m.index) == ["baseline", "imbalance", "focal", "lpros+weights"]
    assert m.loc["focal", "heads H"] == 20 and m.loc["baseline", "loss"] == "plain"
    assert m.loc["lpros+weights", "LPROS"] != "-" and m.loc["baseline", "LPROS"] == "-"


def test_long_tail_figure_counts(monkeypatch):
    from types import SimpleNamespace

    import torch

    y = torch.tensor([[0, 0], [0, 0], [0, 0], [1, 0], [2, 1]])  # finest class, then coarse
    data = SimpleNamespace(y_train=y, class_names=[["a", "b", "c"], ["x", "y"]], level_names=["character", "alphabet"])
    monkeypatch.setattr(pages, "node_targets", lambda d, yy: np.eye(5, dtype=np.uint8)[[0, 0, 0, 1, 2]])
    fig = pages.long_tail_figure("toy", data)
    assert [p.get_height() for p in fig.axes[0].patches] == [3, 1, 1]  # most frequent first
    check(fig, 2)


# ------------------------------------------------------------------------- the page's steps
def test_check_parameters_refuses_unknown_datasets_and_empty_budgets():
    pages.check_parameters(["omniglot", "aircraft"], 1, 1, 1)
    for args in ((["mnist"], 1, 1, 1), ([], 1, 1, 1), (["omniglot", "svhn"], 1, 1, 1), (["omniglot"], 0, 1, 1),
                 (["omniglot"], 1, 0, 1), (["omniglot"], 1, 1, 0)):
        with pytest.raises(ValueError):
            pages.check_parameters(*args)


def test_use_device_sets_the_cpu_threads_only_when_asked():
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert pages.use_device("cpu", 0) == "cpu" and torch.get_num_threads() == 2  # 0: left as it is
        assert pages.use_device("cpu", 1) == "cpu" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_run_sweeps_runs_each_datasets_units_and_concatenates(monkeypatch):
    from hmc.runs.stress_sweep import StressUnit

    design = [StressUnit("omniglot", 0.0, 1.0, "m", 0), StressUnit("cifar100", 0.0, 1.0, "m", 0),
              StressUnit("omniglot", 0.5, 1.0, "m", 1)]
    calls = []

    def fake(units, path, kind, **kwargs):
        calls.append((kind, [(u.degradation, u.seed) for u in units], path, kwargs))
        return pd.DataFrame({"data": [kind] * len(units), "value": [float(u.seed) for u in units]})

    monkeypatch.setattr(pages, "run_stress_sweep", fake)
    t = pages.run_sweeps(design, {"omniglot": "K1", "cifar100": "K2"}, ["cifar100", "omniglot"], "r.csv", train=False)
    assert calls == [("K2", [(0.0, 0)], "r.csv", {"train": False}), ("K1", [(0.0, 0), (0.5, 1)], "r.csv", {"train": False})]
    assert list(t.data) == ["K2", "K1", "K1"] and list(t.value) == [0.0, 0.0, 1.0] and list(t.index) == [0, 1, 2]
    empty = pages.run_sweeps(design, {}, [], "r.csv")
    assert empty.empty and list(empty.columns) == list(STRESS_COLUMNS)


def test_units_line_by_hand():
    units = pd.DataFrame({"wall_time_s": [60.0, 90.0, 30.0], "device": ["cpu", "cuda", "cpu"]})
    assert pages.units_line(units, 48, 12.4) == ("3 of the design's 48 units in the table; this run: 12 s; "
                                                  "training time of all units 3.0 min (cpu, cuda)")
    assert pages.units_line(units.iloc[:0], 240, 0.2) == "0 of the design's 240 units in the table; this run: 0 s"


def test_show_stress_figures_displays_each_and_names_the_empty(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    t = table()
    curves = {m: stress_curves(t, m) for m in ("macro_f1", "acc_character")}
    pages.show_stress_figures(curves, ["omniglot", "cifar100"], method_roles(t))
    assert len(shown) == 1 and len(shown[0].axes) == 4 and shown[0].get_suptitle() == "omniglot"
    assert not plt.fignum_exists(shown[0].number)  # closed once displayed
    assert capsys.readouterr().out == "cifar100: no finished unit yet\n"


def test_silent_lines_by_hand():
    silent = {(0.0, 1.0): [], (0.0, 0.1): ["1-5", "6-20"], (0.25, 1.0): [">100"]}
    assert pages.silent_lines("omniglot", silent) == [
        "omniglot, a = 0, f = 10%: no method finds any positive of the nodes in bucket(s) 1-5, 6-20 "
        "(no such node scores above 0.5 for any test image)",
        "omniglot, a = 0.25, f = 100%: no method finds any positive of the nodes in bucket(s) >100 "
        "(no such node scores above 0.5 for any test image)"]
    assert pages.silent_lines("omniglot", {}) == []


def test_show_bucket_figures_prints_the_silent_buckets_and_displays(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    t = table()
    pages.show_bucket_figures(t, ["omniglot", "cifar100"], method_roles(t), [(0.0, 1.0), (0.0, 0.1)])
    assert len(shown) == 1 and len(shown[0].axes) == 2 and not plt.fignum_exists(shown[0].number)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["omniglot, a = 0, f = 100%", "omniglot, a = 0, f = 10%"]
    assert all(line.endswith("bucket(s) >100 (no such node scores above 0.5 for any test image)") for line in out)


def evidence():
    return pd.DataFrame({"claim": ["6", "5 (vision half)"], "statement": ["S6.", "S5."],
                         "verdict": ["inconclusive", "reproduced"], "rule_verdict": ["not reproduced", "reproduced"],
                         "evidence": ["E6", "E5"], "reason": ["too few seeds", ""], "rule": ["R6", "R5"]})


def test_verdict_cards_by_hand():
    cards = pages.verdict_cards(evidence())
    assert [c.data for c in cards] == [
        "**Claim 6**: S6.\n\n*Verdict:* **inconclusive** (the rule alone, gates ignored: not reproduced).\n\n"
        "*Evidence:* E6\n\n*Why not decided:* too few seeds\n\n*Rule:* R6",
        "**Claim 5 (vision half)**: S5.\n\n*Verdict:* **reproduced** (the rule alone, gates ignored: reproduced)."
        "\n\n*Evidence:* E5\n\n*Rule:* R5"]


def test_verdict_glues_name_each_claim_by_its_number():
    assert pages.verdict_glues(evidence()) == {"ch07_verdict_claim6": "inconclusive",
                                               "ch07_verdict_claim5": "reproduced"}
