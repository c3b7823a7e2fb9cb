"""hmc.book.verdict_text (the verdicts page's Markdown): hand-written inputs and the exact text expected."""

import math
from types import SimpleNamespace

import pandas as pd

from hmc.book import verdict_text as vt


def test_md_escape():
    assert vt.md_escape("a_b|c*d `e` <f> [g] #h \\") == "a\\_b\\|c\\*d \\`e\\` \\<f\\> \\[g\\] \\#h \\\\"
    assert vt.md_escape(3) == "3"


def test_split_top_keeps_brackets_whole():
    assert vt.split_top("a; b (c; d); e [f; g]", "; ") == ["a", "b (c; d)", "e [f; g]"]
    assert vt.split_top("x: (y: z): w", ": ") == ["x", "(y: z)", "w"]
    assert vt.split_top("a) b; c", "; ") == ["a) b", "c"]  # an unmatched ")" does not go below 0
    assert vt.split_top("", "; ") == [""]


def test_shorten():
    assert vt.shorten("  short text  ") == "short text"
    assert vt.shorten("one two three four", limit=12) == "one two …"  # cut at the last space within 12
    assert vt.shorten("alpha (beta gamma delta) epsilon", limit=20) == "alpha …"  # no open parenthesis left
    assert vt.shorten("alpha, beta, gamma", limit=13) == "alpha, beta …"  # "alpha, beta," without its comma


def test_one_line_keeps_one_clause_per_part():
    evidence = ("protocol val; 3 datasets; (a) holds: gain 0.02 on rare nodes; on 3 of 3 datasets; "
                "(b) fails: no gain; (c) measured: x 1, y 2; tail")
    assert vt.one_line(evidence) == ["protocol val; 3 datasets", "(a) holds: gain 0.02 on rare nodes",
                                     "(b) fails: no gain", "(c) measured"]
    undecided = "(a) undecided (by the numbers it holds): p = 0.3"
    assert vt.one_line(undecided) == ["(a) undecided (by the numbers it holds): p = 0.3"]
    # a lead over 160 characters is cut at its first listing's colon
    lead = "results: " + ", ".join(f"item {i}" for i in range(40))
    assert vt.one_line(lead + "; second") == ["results"]
    assert vt.one_line("") == []


def test_badge_and_p():
    assert vt.badge("partly") == ('<span style="background-color: #fdd0a2; padding: 0.1em 0.4em; border-radius: 0.3em; '
                                  'white-space: nowrap">◐ partly</span>')
    assert "#ffffff" in vt.badge("odd") and ">? odd<" in vt.badge("odd")
    assert vt.fmt_p(None) == "-" and vt.fmt_p(math.nan) == "-" and vt.fmt_p(0.0123456) == "0.0123"


RECORD = {"study": "rare", "claim": 1, "statement": "Focal beats *baseline*", "verdict": "inconclusive",
          "basis": "full", "coverage": "chapter 03: 104 of 1440 units", "reasons": "budget: 1 seed",
          "data": "3 datasets", "seeds": "2 of 10", "epochs": "1% of epochs", "min_p": 0.25,
          "effect": "macro F1 gain", "estimate": 0.0123, "ci_low": -0.001, "ci_high": 0.02, "ci_over": "datasets",
          "paper": "+2 points", "ours": math.nan}


def test_strength_cell():
    assert vt.strength_cell(RECORD) == ("3 datasets<br>seeds 2 of 10; 1% of epochs<br>smallest attainable p 0.25<br>"
                                        "macro F1 gain: +0.0123 [-0.0010, +0.0200] over datasets")
    assert vt.strength_cell({**RECORD, "ci_low": math.nan}).endswith("macro F1 gain: +0.0123 (no interval)")
    assert vt.strength_cell({**RECORD, "estimate": math.nan}).endswith("smallest attainable p 0.25")
    assert vt.strength_cell({**RECORD, "data": "-"}) == "-"
    assert vt.strength_cell({**RECORD, "effect": None}) == "-"


def test_headline_table():
    text = vt.headline_table(pd.DataFrame([RECORD]))
    head, rule, row = text.split("\n")
    assert head == "| Claim | Statement | Verdict, basis and reasons | Strength | Paper / ours |"
    assert rule == "|---|---|---|---|---|"
    assert row == ("| rare-node 1 | Focal beats \\*baseline\\* | " + vt.badge("inconclusive")
                   + "<br>basis: full<br>chapter 03: 104 of 1440 units<br>why: budget: 1 seed | "
                   + vt.strength_cell(RECORD) + " | paper: +2 points<br>ours: - |")
    quick = vt.headline_table(pd.DataFrame([{**RECORD, "study": "hcal", "basis": "quick", "reasons": ""}]))
    assert "| HCAL 1 |" in quick and "basis: quick |" in quick and "104 of 1440" not in quick


def test_rows_text():
    assert vt.rows_text({"03_rare_node_loss.csv": 2430}) == "2430"
    assert vt.rows_text({"04_ens.csv": 810, "04_ens_cost.csv": 6}) == "810 + 6 (cost)"
    assert vt.rows_text({"06_hcal.csv": None, "06_hcal_history.csv": None}) == "missing + missing (history)"


def test_findings_and_registry():
    assert vt.findings_markdown(["a_b", "c"]) == ("**Findings** (glued into the introduction as `findings_1` to "
                                                  "`findings_5`):\n\n1. a\\_b\n2. c")
    claims = [SimpleNamespace(study="rare", number=1, gates=("budget", "power"), sensitivity=len, paper="+2 *pts*"),
              SimpleNamespace(study="hcal", number=2, gates=(), sensitivity=None, paper=None)]
    assert vt.registry_table(claims, {"budget": "enough_epochs"}) == (
        "| Claim | Gates | Sensitivity table | Paper's figure |\n|---|---|---|---|\n"
        "| rare-node 1 | budget, power | section 5 | +2 \\*pts\\* |\n"
        "| HCAL 2 | - | - | - |\n\n- **budget**: enough\\_epochs")
