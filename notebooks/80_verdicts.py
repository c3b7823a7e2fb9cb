# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Verdicts: every claim of both studies on one page
#
# **Overview.** The book tests the claims of two papers: the rare-node loss {cite:p}`xu2026rarenodes`
# (chapters 03 to 05, scorecard in {doc}`05_schedules_and_resampling`) and HCAL {cite:p}`jiang2025hcal`
# (scorecard in {doc}`06_hcal`). This page gives every claim one verdict from the **strongest
# evidence** it has: the `full` results (the papers' protocol, run as a campaign) where the claim's
# chapters have any, with how much of the full design they cover; the `quick` results otherwise,
# which check that the pipeline runs and decide nothing. A verdict is only given when the evidence
# can decide it (budget, a reference that is not 0, reachable significance, accuracy above chance,
# differences of more than one test sample: `hmc.claims.gates`); otherwise the claim is
# **inconclusive**, with the reason in words. Beside each verdict: its evidence strength (data,
# seeds, epochs against the paper's, smallest attainable p, the effect with its 95% bootstrap
# interval), the paper's own figure beside ours, and, for the claims whose verdict depends on a
# choice the paper left open, how the verdict moves under the other readings. Nothing here is typed
# by hand, and the page checks that the chapter pages show the same verdicts.
#
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | {doc}`methods_rare_nodes`, {doc}`methods_hcal` | helpful | what the claims mean |
# | Profiles (`smoke`, `quick`, `full`) | necessary | {doc}`90_reproduce`, section 1 |
#
# *Time to run:* under a minute on any CPU under every profile (it trains nothing: it reads the
# manifests, the results tables and the executed chapter pages in `book/`). No GPU, no data files.

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`); the same page under every profile
root = ""  # the repository to report on; empty for the checkout that holds the `hmc` package
results_profile = ""  # empty: each chapter's results under the profile its page in book/ was executed with

# %% tags=["hide-input"]
import os
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from myst_nb import glue

import hmc
from hmc.book import verdict_pages as vp
from hmc.book.rare_plots import set_style
from hmc.book.verdict_text import findings_markdown, headline_table, registry_table
from hmc.claims.headline import design_coverage, findings, go_macro_f1, headline
from hmc.claims.registry import CLAIMS as CLAIM_REGISTRY
from hmc.claims.registry import GATES
from hmc.hcal_evidence import HCAL_VERDICT_RULES
from hmc.profiles import PROFILE_NAMES
from hmc.rare_images_evidence import claims_evidence_07
from hmc.runs.stress_sweep import read_stress_results
from hmc.scorecard import VERDICT_RULES

# %% tags=["hide-input"] mystnb={"markdown_format": "myst"}
set_style()
repo = Path(root) if root else Path(hmc.__file__).resolve().parents[1]
# the results tables and manifests: where `python -m hmc run --results` put them, else the repo's
results_root = (Path(os.environ["HMC_RESULTS_DIR"]) if "HMC_RESULTS_DIR" in os.environ and not root
                else repo / "results")
if results_profile and results_profile not in PROFILE_NAMES:
    raise ValueError(f"results_profile must be empty or one of {PROFILE_NAMES}, got {results_profile!r}")
pages = vp.read_pages(repo)  # the executed chapter pages in book/
link = vp.SectionLinks(pages)  # links to their sections; remembers the sections not found
basis = vp.basis_table(pages, results_root, results_profile)  # what each chapter page rests on
top = headline(results_root)  # every claim from its strongest evidence
display(Markdown(vp.basis_box(basis, top, design_coverage(results_root))))

# %% [markdown]
# ## 1. What the chapter pages rest on
#
# One row per chapter whose results enter a scorecard: the profile its page in `book/` was executed
# with and when (the budget and device of that run are in the box above). "Manifest" says whether
# `results/<profile>/manifests/<chapter>.json` describes the very run that produced the page (same
# start time), with its status and commit; a later run of the same notebook that wrote elsewhere
# (`--out`) would replace the manifest. "Rows read" counts the rows of the results tables the
# verdicts of sections 3 and 4 are computed from, `results/<profile>/<chapter>.csv` (with chapter
# 04's cost table and chapter 06's history table).

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
display(Markdown(vp.basis_rows(basis)))

# %% [markdown]
# ## 2. The headline: every claim from its strongest evidence
#
# One row per claim of both papers (`hmc.claims.headline.headline`): its verdict from the `full`
# results where its chapters have any, else from `quick`, which decides nothing. Under the badge: what
# the evidence rests on and, for an inconclusive claim, why it cannot decide (the gates that fired).
# "Strength" gives the seeds and epochs against the paper's, the smallest p the test design could
# reach at all, and the claim's effect with its 95% bootstrap interval (the resampled unit is named).
# "Paper / ours" puts the paper's own figure beside the study's number (HCAL's from a secondary
# source, as marked). The counts of section 6 and the introduction's findings come from this table.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
display(Markdown(headline_table(top)))

# %% [markdown]
# The one public list of the rare-node paper's numbers (a leaderboard of macro F1 on the GO datasets,
# method and seed unknown; `anchors.md`) beside the study's `full` results of chapter 03 on the same
# datasets, where the campaign has reached them (empty cells: not run yet).

# %% tags=["hide-input"]
go_macro_f1(results_root).style.format({"leaderboard (%)": "{:.2f}", "ours: baseline (%)": "{:.2f}",
                                        "ours: best focal (%)": "{:.2f}"}, na_rep="-").hide(axis="index")

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
finding_lines = findings(top, results_root)
for i, line in enumerate(finding_lines, start=1):
    glue(f"findings_{i}", line, display=False)
display(Markdown(findings_markdown(finding_lines)))

# %% [markdown]
# ## 3. The rare-node scorecard of the chapter pages
#
# Recomputed by `hmc.scorecard.scorecard` from the results tables of chapters 03, 04 (with its cost
# table) and 05, each under the profile its page was executed with (the box at the top): the
# scorecard chapter 05 shows. Under `quick` these are **pipeline checks, not verdicts**: every claim
# reads inconclusive, with its reasons. The evidence is shortened to one line per part ((a), (b),
# ...); the folded output under the table ("Show code cell output") has each claim's full evidence,
# test, rule and strength. The links go to the chapter sections that show the numbers.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
rare_card = vp.rare_scorecard(results_root, basis)  # each chapter's tables under the profile of its page
display(Markdown(vp.verdict_table("rare", rare_card, link) + "\n\n" + vp.agreement("rare", rare_card, pages, link, basis)))

# %% tags=["remove-input", "hide-output"]
vp.full_evidence(rare_card, VERDICT_RULES)

# %% [markdown]
# Claim 5 has a vision half ("... but worse on the vision dataset") that chapter 05's gene-product
# datasets cannot test: chapter 07 tests it on its image hierarchy, with claim 6, under the rules and
# gates below (`hmc.rare_images_evidence.claims_evidence_07`; claim 6's row above comes from the same
# parts).

# %% tags=["hide-input"]
profile_07 = basis.loc["07_rare_nodes_images", "results profile"]
evidence_07 = claims_evidence_07(read_stress_results(results_root / profile_07 / "07_rare_nodes_images.csv"))
print(f"chapter 07 under {profile_07}:")
evidence_07[["claim", "verdict", "reason", "evidence"]].style.hide(axis="index").set_properties(
    **{"text-align": "left", "font-size": "0.85em"})

# %% [markdown]
# ## 4. The HCAL scorecard of the chapter page
#
# Recomputed by `hmc.hcal_evidence.hcal_scorecard` from chapter 06's results and history tables
# under the profile of its page, with the test design of each dataset (test-set size and classes per
# level, for the chance and resolution gates) from that run's parameters. The verdicts select each
# run's epoch by the validation protocol where every run of a dataset has a validation split (else
# the last epoch), never by the authors' selection on the test set. Same layout as above.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
hcal_profile = basis.loc["06_hcal", "results profile"]
hcal_card, lead, protocol_note = vp.hcal_card(results_root, hcal_profile)
display(Markdown(protocol_note + vp.verdict_table("hcal", hcal_card, link, drop_lead=lead) + "\n\n"
                 + vp.agreement("hcal", hcal_card, pages, link, basis)))

# %% tags=["remove-input", "hide-output"]
vp.full_evidence(hcal_card, HCAL_VERDICT_RULES)

# %% [markdown]
# ## 5. Sensitivity to the study's free choices
#
# The papers leave open choices that decide verdicts; the study fixed one reading of each before any
# number was seen (`hmc.scorecard`, `hmc.hcal_evidence`). Each table recomputes a claim's verdict under
# every other reasonable reading, one choice at a time, on the claim's headline evidence. "Could be"
# lists the verdicts the undecided parts still allow; "without the budget gate" and "rule alone" drop
# the budget gate, then every gate, so that a reading that matters shows even where the budget
# decides nothing; `flips` marks the readings that change any of them. Claim 1 first shows every
# training-frequency bucket, the unbounded gains (baseline recall 0) included.

# %% tags=["hide-input"]
for table in vp.sensitivity_tables(top, results_root, hcal_profile):
    display(table)

# %% [markdown]
# ## 6. The verdicts counted
#
# The headline verdicts of section 2, per study and in all: the `full` results where a claim has
# them, the `quick` ones (which decide nothing) otherwise. The counts are glued for prose pages as
# `verdicts_<study>_<verdict>` (study `rare`, `hcal` or `all`; verdict `reproduced`, `partly`,
# `not_reproduced`, `inconclusive`, `not_tested_here`; quoted with
# `` {glue:text}`80_verdicts.ipynb::verdicts_all_inconclusive` `` from another page), with
# `verdicts_<study>_claims` (the number of claims) and `verdicts_<study>_basis` (how many of them
# rest on `full` results).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The headline verdicts counted per study: a stacked bar per study, a segment per verdict labelled with its number of claims."}}
counts = vp.verdict_counts(top)
for name, value in vp.count_glues(counts, top).items():
    glue(name, value, display=False)
if link.missing:
    print("WARNING: sections not found (links go to the chapter's top): " + "; ".join(link.missing))
fig = vp.counts_figure(counts)
plt.show()

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
display(Markdown(vp.counts_summary(counts)))

# %% [markdown]
# ## 7. The claims as data
#
# Every claim with the gates its rule applies and where its sensitivity table is (`hmc.claims.registry`):
# the statement, the rule and the evidence function of each live in one place, and the gates are
# shared by both studies (`hmc.claims.gates`).

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
display(Markdown(registry_table(CLAIM_REGISTRY.values(), GATES)))

# %% [markdown]
# ## Summary
#
# - Of the {glue:text}`verdicts_all_claims` claims, {glue:text}`verdicts_all_reproduced` are
#   reproduced, {glue:text}`verdicts_all_partly` partly, {glue:text}`verdicts_all_not_reproduced`
#   not reproduced, {glue:text}`verdicts_all_inconclusive` inconclusive and
#   {glue:text}`verdicts_all_not_tested_here` not tested here ({glue:text}`verdicts_all_basis`): a
#   verdict is only given where the evidence can decide it, and the reasons say what is missing.
# - The chapter pages' scorecards (sections 3 and 4) are recomputed from the results tables by the
#   rules fixed in `hmc.scorecard` and `hmc.hcal_evidence` and checked against the verdicts the pages
#   show; under `quick` they are pipeline checks.
# - Section 5 shows how each verdict moves under the other readings of the study's free choices.
#
# **What's next:** the linked chapter sections show the numbers behind each verdict;
# {doc}`90_reproduce` says how to rerun any chapter, and `make campaign` advances the `full` design
# that the headline verdicts rest on.
