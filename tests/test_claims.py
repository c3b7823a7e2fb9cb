"""The shared claims machinery (hmc.claims): each gate at its edge with a planted case that makes it fire
and one where it does not, the verdict under undecided parts, the bootstrap interval, the sensitivity
table, the image test designs, the claims registry, the headline from the strongest evidence, and the
agreement of the committed verdicts page with the chapter pages."""

import json
import math
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hmc.claims.design import image_design, image_design_from_parameters, infer_n_test
from hmc.claims.gates import (
    Budget,
    Gate,
    Part,
    Requirement,
    budget_gate,
    chance_gate,
    combine_parts,
    nonzero_gate,
    resolution_gate,
    rule_verdict,
    significance_gate,
    smallest_holm_p,
    smallest_wilcoxon_p,
    verdict,
    verdict_span,
)
from hmc.claims.sensitivity import Alternative, sensitivity_table
from hmc.claims.strength import Effect, Strength, bootstrap_mean, effect_of, paired_differences

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------- significance
def test_smallest_p_matches_the_exact_wilcoxon_and_holm():
    for n in range(1, 9):
        d = np.arange(1, n + 1, dtype=float)  # all positive, no ties: the most extreme outcome
        assert smallest_wilcoxon_p(n) == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    assert smallest_holm_p(6, 2) == pytest.approx(0.0625) and smallest_holm_p(5, 100) == 1.0
    assert smallest_holm_p(10, 100) == pytest.approx(100 * 2 / 2**10)
    assert math.isnan(smallest_wilcoxon_p(0))
    with pytest.raises(ValueError):
        smallest_holm_p(5, 0)


@pytest.mark.parametrize("n, family, alpha, passes", [
    (6, 1, 0.05, True), (6, 2, 0.05, False), (7, 2, 0.05, True),
    (5, 1, 0.0625, False),  # exactly at alpha: not below it
    (5, 1, 0.0626, True),
    (3, 1, 0.05, False), (0, 1, 0.05, False),
])
def test_significance_gate_edges(n, family, alpha, passes):
    g = significance_gate(n, family, alpha)
    assert g.passed is passes and g.name == "significance"
    assert f"{n} paired seed" in g.reason


# ------------------------------------------------------------------------------------- degenerate references
def test_nonzero_gate_fires_on_an_exact_zero_and_names_it():
    assert nonzero_gate({"a": 0.1, "b": 1e-12}, "recall").passed
    g = nonzero_gate({"a": 0.1, "b": 0.0, "c": float("nan")}, "recall")
    assert not g.passed and "is 0 in 2 of 3 (b, c)" in g.reason
    assert not nonzero_gate({}, "recall").passed
    assert not nonzero_gate({"a": -0.0}, "recall").passed


@pytest.mark.parametrize("k, n, chance", [(10, 100, 0.1), (7, 75, 1 / 15), (40, 96, 1 / 3), (30, 8115, 1 / 1623)])
def test_chance_gate_is_the_one_sided_exact_binomial_test(k, n, chance):
    g = chance_gate(k / n, n, chance)
    p = stats.binomtest(k, n, chance, alternative="greater").pvalue
    assert g.passed is bool(p < 0.05)
    assert f"{k}/{n}" in g.reason and f"binomial p {p:.3g}" in g.reason


def test_chance_gate_at_the_critical_count():
    n, chance = 100, 0.1
    critical = next(k for k in range(n + 1) if stats.binomtest(k, n, chance, alternative="greater").pvalue < 0.05)
    assert chance_gate(critical / n, n, chance).passed
    assert not chance_gate((critical - 1) / n, n, chance).passed
    assert not chance_gate(0.5, n, float("nan")).passed and not chance_gate(0.5, 0, 0.1).passed


@pytest.mark.parametrize("diff, n, passes", [
    (1 / 75, 75, False), (-1 / 75, 75, False), (0.0, 75, False), (2 / 75, 75, True), (1 / 75 + 1e-6, 75, True),
    (0.001, 1000, False), (0.0011, 1000, True),
])
def test_resolution_gate_one_test_sample_decides_nothing(diff, n, passes):
    assert resolution_gate(diff, n).passed is passes


# ------------------------------------------------------------------------------------- budget
def budget(share=(1.0, 1.0), seeds=(10, 10), epochs=(100, 100), synthetic=()):
    return Budget(datasets=("a", "b"), synthetic=synthetic, seeds=seeds, paper_seeds=10, epochs=epochs,
                  epoch_share=share)


@pytest.mark.parametrize("b, req, passes", [
    (budget(), Requirement(min_epoch_share=1.0), True),
    (budget(share=(0.999, 1.0)), Requirement(min_epoch_share=1.0), False),
    (budget(share=None), Requirement(min_epoch_share=1.0), False),
    (budget(epochs=(30, 40)), Requirement(min_epochs=30), True),
    (budget(epochs=(29, 40)), Requirement(min_epochs=30), False),
    (budget(seeds=(3, 10)), Requirement(min_seeds=3), True),
    (budget(seeds=(2, 10)), Requirement(min_seeds=3), False),
    (budget(synthetic=("b",)), Requirement(real_data=True), False),
    (budget(synthetic=("b",)), Requirement(), True),
])
def test_budget_gate_edges(b, req, passes):
    assert budget_gate(b, req).passed is passes


def test_budget_texts():
    b = budget(share=(0.0094, 0.0096), seeds=(3, 5), epochs=(1, 1))
    assert b.epochs_text == "1 epoch, 1% of the paper's" and b.seeds_text == "3-5 of the paper's 10"
    assert budget(synthetic=("b",)).data_text == "real: a; synthetic: b"
    assert not budget_gate(Budget(datasets=()), Requirement()).passed


# ------------------------------------------------------------------------------------- combining parts
FIRE = (Gate("budget", False, "short"),)
PASS = (Gate("budget", True, "ok"),)


@pytest.mark.parametrize("parts, expected, span", [
    ([Part("a", True, "", PASS), Part("b", True, "", PASS)], "reproduced", "reproduced"),
    ([Part("a", True, "", PASS), Part("b", False, "", PASS)], "partly", "partly"),
    ([Part("a", True, "", PASS), Part("b", False, "", FIRE)], "inconclusive", "partly to reproduced"),
    ([Part("a", False, "", PASS), Part("b", False, "", FIRE)], "inconclusive", "not reproduced to partly"),
    ([Part("a", True, "", PASS), Part("b", True, "", FIRE), Part("c", False, "", PASS)], "partly", "partly"),
    ([Part("a", None, "", FIRE), Part("b", None, "")], "inconclusive", "not reproduced to reproduced"),
    ([Part("a", None, "missing"), Part("b", None, "")], "not tested here", "not tested here"),
])
def test_verdict_every_completion_of_the_undecided_parts_must_agree(parts, expected, span):
    assert verdict(parts) == expected
    assert verdict_span(parts) == span


def test_rule_verdict_ignores_gates_and_ignore_leaves_out_named_gates():
    parts = [Part("a", True, "", FIRE), Part("b", False, "", (Gate("chance", True, ""),))]
    assert verdict(parts) == "inconclusive" and rule_verdict(parts) == "partly"
    assert verdict(parts, ignore=("budget",)) == "partly"
    assert verdict_span(parts, gates=False) == "partly"


def test_a_rule_that_is_not_monotone_is_refused():
    def perverse(outcomes):
        return "reproduced" if not any(outcomes) else "not reproduced"

    with pytest.raises(ValueError, match="monotone"):
        verdict([Part("a", None, "", FIRE)], perverse)
    assert combine_parts([True, False]) == "partly"


# ------------------------------------------------------------------------------------- strength
def test_bootstrap_interval_is_scipys_percentile_bootstrap_and_deterministic():
    x = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.35])
    mean, low, high = bootstrap_mean(x)
    ref = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=9999, rng=np.random.default_rng(0))
    assert mean == pytest.approx(x.mean())
    assert (low, high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert bootstrap_mean(x) == (mean, low, high)
    assert low < mean < high
    assert bootstrap_mean([0.25, 0.25, 0.25]) == (0.25, 0.25, 0.25)
    m, lo, hi = bootstrap_mean([0.3])
    assert m == 0.3 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in bootstrap_mean([]))


def test_the_resampled_unit_is_datasets_from_five_on():
    four = pd.DataFrame({"dataset": np.repeat(list("abcd"), 3), "seed": [0, 1, 2] * 4, "diff": np.arange(12.0)})
    values, unit = paired_differences(four)
    assert unit == "(dataset, seed) pairs" and len(values) == 12
    five = pd.DataFrame({"dataset": np.repeat(list("abcde"), 2), "seed": [0, 1] * 5, "diff": np.arange(10.0)})
    values, unit = paired_differences(five)
    assert unit == "datasets" and values.tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]
    e = effect_of("gain", five)
    assert e.n == 5 and e.unit == "datasets" and e.estimate == pytest.approx(4.5)
    assert "bootstrap over 5 datasets" in e.text()
    assert effect_of("none", None).text() == "none: not computable"


def test_strength_row_has_every_column():
    s = Strength(budget(), 0.002, "Wilcoxon over 10 seeds", Effect("gain", 0.1, 0.05, 0.15, "datasets", 8))
    from hmc.claims.strength import STRENGTH_COLUMNS

    assert list(s.row()) == list(STRENGTH_COLUMNS)
    assert "smallest attainable p 0.002" in s.text() and "[+0.0500, +0.1500]" in s.text()


# ------------------------------------------------------------------------------------- sensitivity
def test_sensitivity_table_marks_where_a_reading_flips():
    def evaluate(threshold=0.5):
        v = "reproduced" if 0.6 >= threshold else "partly"
        return {"verdict": v, "span": v, "budget_aside": v, "rule_span": v, "detail": f"t={threshold}"}

    table = sensitivity_table(evaluate, [Alternative("threshold", "0.5", {}, True),
                                         Alternative("threshold", "0.6", {"threshold": 0.6}),
                                         Alternative("threshold", "0.7", {"threshold": 0.7})])
    assert table.flips.tolist() == [False, False, True]
    assert table.verdict.tolist() == ["reproduced", "reproduced", "partly"]
    assert table.study.tolist() == [True, False, False]


# ------------------------------------------------------------------------------------- image designs
@pytest.mark.parametrize("branching, per_class", [((3, 2, 2), 16), ((2, 2), 4), ((2, 2, 2), 4)])
def test_design_from_parameters_matches_the_generated_hierarchy(branching, per_class):
    from hmc.data import load_image_hierarchy

    data = load_image_hierarchy("synthetic", branching=branching, n_per_class=per_class,
                                n_test_per_class=max(1, per_class // 2), size=8, seed=0)
    params = {"synthetic_branching": list(branching), "synthetic_per_class": per_class, "methods": ["hcal", "flat"]}
    assert image_design_from_parameters("synthetic", params) == image_design(data, ("hcal", "flat"))


def test_omniglot_design_from_parameters():
    quick = image_design_from_parameters("omniglot", {"omniglot_alphabets": 3, "omniglot_characters": 5})
    assert quick.n_test == 75 and quick.classes == {"acc_character": 15, "acc_alphabet": 3}
    full = image_design_from_parameters("omniglot", {"omniglot_alphabets": 0, "omniglot_characters": 0})
    assert full.n_test == 8115 and full.classes == {"acc_character": 1623, "acc_alphabet": 50}
    assert full.chance("acc_alphabet") == pytest.approx(0.02) and math.isnan(full.chance("acc_fine"))
    assert image_design_from_parameters("cifar100").paper_epochs == 500
    assert image_design_from_parameters("unknown") is None
    # the methods: the manifest's, else the chapter's eleven labels (its three baselines among them)
    assert {"flat", "mmoe", "chmcnn"} <= set(full.methods) and len(full.methods) == 11


def test_omniglot_design_matches_the_data_when_on_disk(sample_data):  # the sample: Omniglot's first alphabets
    from hmc.data import load_image_hierarchy
    from hmc.errors import DatasetMissingError

    try:
        data = load_image_hierarchy("omniglot", size=8, max_alphabets=3, max_characters_per_alphabet=5)
    except DatasetMissingError:
        pytest.skip("Omniglot is not on disk")
    assert image_design(data, ("hcal", "chmcnn")) == image_design_from_parameters(
        "omniglot", {"omniglot_alphabets": 3, "omniglot_characters": 5, "methods": ["hcal", "chmcnn"]})


def test_infer_n_test_is_the_common_denominator():
    assert infer_n_test([8 / 75, 7 / 75, 30 / 75]) == 75
    assert infer_n_test([0.5, 0.25]) == 4  # a lower bound: a divisor of the true size
    assert infer_n_test([]) is None


# ------------------------------------------------------------------------------------- registry and headline
def test_registry_holds_every_claim_with_its_rule_and_gates():
    from hmc import hcal_evidence, scorecard
    from hmc.claims.registry import CLAIMS, GATES, claims_table

    assert len(CLAIMS) == len(scorecard.CLAIMS) + len(hcal_evidence.HCAL_CLAIMS)
    for claim in CLAIMS.values():
        assert set(claim.gates) <= set(GATES)
        rules = scorecard.VERDICT_RULES if claim.study == "rare" else hcal_evidence.HCAL_VERDICT_RULES
        assert claim.rule == rules[claim.number]
    assert CLAIMS["rare-1"].evidence({}).get("verdict") == "not tested here"
    assert CLAIMS["rare-1"].sensitivity is not None and CLAIMS["hcal-3"].sensitivity is not None
    assert len(claims_table()) == len(CLAIMS)


def copy_results(tmp_path, profiles=("quick", "full")):
    """The committed results tables (not the stores) of some profiles, in a scratch results folder."""
    out = tmp_path / "results"
    for profile in profiles:
        src = ROOT / "results" / profile
        if not src.is_dir():
            continue
        (out / profile / "manifests").mkdir(parents=True)
        for f in src.glob("*.csv"):
            shutil.copy(f, out / profile / f.name)
        for f in (src / "manifests").glob("*.json"):
            shutil.copy(f, out / profile / "manifests" / f.name)
    return out


def test_headline_uses_full_where_it_exists_and_quick_decides_nothing(tmp_path):
    from hmc.claims.headline import QUICK_REASON, findings, headline, headline_counts

    quick_only = copy_results(tmp_path / "q", ("quick",))
    top = headline(quick_only)
    assert set(top.basis) == {"quick (pipeline check)"}
    assert set(top.verdict) <= {"inconclusive", "not tested here"}
    assert top[top.verdict == "inconclusive"].reasons.str.startswith(QUICK_REASON).all()
    both = copy_results(tmp_path / "b")
    top = headline(both)
    full_chapters = {p.stem[:2] for p in (both / "full").glob("0[3-6]_*.csv")}
    if "03" in full_chapters:
        assert top.set_index(["study", "claim"]).loc[("rare", 1), "basis"] == "full"
    counts = headline_counts(top)
    assert counts.sum() == 11 and list(counts.index) == ["reproduced", "partly", "not reproduced", "inconclusive",
                                                          "not tested here"]
    lines = findings(top, both)
    assert len(lines) == 5
    assert lines[0].startswith("Reproduced at the paper's protocol")
    assert lines[-1].endswith("the quick pages are checks that the pipeline runs, not verdicts.")
    n_inconclusive = int(counts["inconclusive"])
    if n_inconclusive:
        assert f"Inconclusive: {n_inconclusive} of 11 claims" in lines[2]


CLAIM_METHODS = {1: ("hcal", "flat", "mmoe", "chmcnn"), 2: ("hcal", "flat", "mmoe", "chmcnn"),
                 3: ("hcal", "hcal-equal"), 4: ("hcal", "hcal-noperturb"), 5: ("hcal", "hcal-noagg")}
"""The methods each HCAL claim compares (hcal_evidence.HCAL_VERDICT_RULES, read by hand)."""


def test_every_claim_from_quick_reads_inconclusive_under_the_committed_results():
    from hmc import hcal_evidence, scorecard
    from hmc.claims.headline import hcal_designs

    card = scorecard.scorecard_from_results(ROOT / "results", "quick")
    assert set(card.verdict) == {"inconclusive"}  # claim 6 too: chapter 07 under quick
    assert (card[card.verdict == "inconclusive"].reasons.str.len() > 0).all()
    for profile in ("quick", "full"):
        path = ROOT / "results" / profile / "06_hcal.csv"
        if not path.is_file():
            continue
        results = pd.read_csv(path)
        history = pd.read_csv(path.with_name("06_hcal_history.csv"))
        design = hcal_designs(results, path.parent / "manifests" / "06_hcal.json")
        hcal = hcal_evidence.hcal_scorecard(results, history, design=design)
        undecided = {"inconclusive", "not tested here"}
        if profile == "quick":  # 2 epochs, 2 seeds: nothing may be decided
            assert set(hcal.verdict) <= undecided, hcal[["claim", "verdict"]]
        # full holds the campaign's units so far: a claim may be decided only on methods that all ran
        # the full schedule (30 epochs) with at least 3 seeds
        units = results.drop_duplicates(["dataset", "method", "seed"])
        for claim in hcal[~hcal.verdict.isin(undecided)].claim:
            for method in set(CLAIM_METHODS[claim]) & set(units.method):
                runs = units[units.method == method]
                assert runs.seed.nunique() >= 3 and set(runs.epochs) == {30}, (claim, method)
        inconclusive = hcal[hcal.verdict == "inconclusive"]
        assert (inconclusive.reasons.str.len() > 0).all()


# ------------------------------------------------------------------------------------- the pages agree
def page_verdicts(stem):
    """The verdicts a committed chapter page shows in its scorecard, {claim: verdict}."""
    nb = nbformat.read(ROOT / "book" / f"{stem}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if stem.startswith("05") and "scorecard_from_results(" in cell.source:
                found = re.findall(r'<td id="T_\w+_row(\d+)_col1"[^>]*>([^<]*)</td>', out.get("data", {}).get("text/html", ""))
                if found:
                    return {int(r) + 1: v.strip() for r, v in found}
            if stem.startswith("06") and "verdict_report(" in cell.source:
                found = re.findall(r"^Claim (\d+): .*\n\s+verdict:\s+(.+)$", out.get("text", ""), re.M)
                if found:
                    return {int(c): v.strip() for c, v in found}
    return {}


def test_the_committed_verdicts_page_agrees_with_the_chapter_pages():
    nb = nbformat.read(ROOT / "book" / "80_verdicts.ipynb", as_version=4)
    text = "\n".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "differ from those of" not in text, "the verdicts page and a chapter page show different verdicts"
    assert text.count("shows the same") == 2
    for stem in ("05_schedules_and_resampling", "06_hcal"):
        shown = page_verdicts(stem)
        assert shown and set(shown.values()) <= {"inconclusive", "not tested here"}, (stem, shown)


def test_the_committed_chapter_pages_show_the_scorecards_of_the_committed_results():
    from hmc import hcal_evidence, scorecard
    from hmc.claims.headline import hcal_designs

    card = scorecard.scorecard_from_results(ROOT / "results", "quick")
    assert page_verdicts("05_schedules_and_resampling") == dict(zip(card.claim, card.verdict))
    path = ROOT / "results" / "quick" / "06_hcal.csv"
    results = pd.read_csv(path)
    design = hcal_designs(results, path.parent / "manifests" / "06_hcal.json")
    hcal = hcal_evidence.hcal_scorecard(results, pd.read_csv(path.with_name("06_hcal_history.csv")), design=design)
    assert page_verdicts("06_hcal") == dict(zip(hcal.claim, hcal.verdict))


def test_the_introduction_opens_with_the_findings_box():
    intro = (ROOT / "book" / "intro.md").read_text()
    body = intro.split("\n", 2)[2].lstrip()
    assert body.startswith(":::{admonition} Findings so far")
    box = body.split(":::", 2)[1]
    assert [int(k) for k in re.findall(r"80_verdicts\.ipynb::findings_(\d):s`", box)] == [1, 2, 3, 4, 5]
    nb = nbformat.read(ROOT / "book" / "80_verdicts.ipynb", as_version=4)
    glued = {o["metadata"]["scrapbook"]["name"] for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})}
    used = set(re.findall(r"80_verdicts\.ipynb::(\w+)", intro))
    assert used <= glued, used - glued


def test_claim4_costs_are_read_back_so_a_rerun_keeps_the_verdict():
    source = (ROOT / "notebooks" / "04_ensembles_and_dropout.py").read_text()
    assert "measure_costs = False" in source and "claim4_table(table, cost)" in source
    manifest = json.loads((ROOT / "results" / "quick" / "manifests" / "04_ensembles_and_dropout.json").read_text())
    assert manifest["parameters"].get("measure_costs", False) is False


def test_go_macro_f1_puts_the_leaderboard_beside_the_full_results(tmp_path):
    from hmc.claims.headline import go_macro_f1
    from hmc.published import GO_MACRO_F1_LEADERBOARD

    (tmp_path / "full").mkdir()
    rows = [{"dataset": "spo_GO", "method": m, "seed": s, "metric": "macro_f1", "value": v + s / 1000}
            for m, v in (("baseline-H2", 0.01), ("focal-gmu-H2", 0.02), ("focal-bma-H2", 0.015)) for s in range(3)]
    pd.DataFrame(rows).to_csv(tmp_path / "full" / "03_rare_node_loss.csv", index=False)
    table = go_macro_f1(tmp_path).set_index("dataset")
    assert list(table.index) == list(GO_MACRO_F1_LEADERBOARD)
    assert table.loc["spo_GO", "ours: best focal (%)"] == pytest.approx(2.1)
    assert table.loc["spo_GO", "best focal method"] == "focal-gmu-H2" and table.loc["spo_GO", "seeds"] == 3
    assert table.loc["spo_GO", "leaderboard (%)"] == 1.26 and math.isnan(table.loc["eisen_GO", "ours: baseline (%)"])
