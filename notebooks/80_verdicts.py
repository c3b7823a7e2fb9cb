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

# %% tags=["hide-input"] mystnb={"markdown_format": "myst"}
import json
import math
import os
import re
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
from docutils.nodes import make_id
from IPython.display import Markdown, display
from myst_nb import glue

import hmc
from hmc.claims.gates import VERDICTS
from hmc.claims.headline import design_coverage, findings, go_macro_f1, hcal_designs, headline, headline_counts
from hmc.claims.registry import CLAIMS as CLAIM_REGISTRY
from hmc.claims.registry import GATES
from hmc.hcal_evidence import HCAL_CLAIMS, HCAL_VERDICT_RULES, hcal_scorecard, hcal_sensitivity, verdict_protocols
from hmc.profiles import PROFILE_NAMES
from hmc.provenance import parse_time
from hmc.scorecard import CHAPTER_FILES, CLAIMS, VERDICT_RULES, rare_sensitivity, read_chapter_tables, scorecard

repo = Path(root) if root else Path(hmc.__file__).resolve().parents[1]
# the results tables and manifests: where `python -m hmc run --results` put them, else the repo's
results_root = (Path(os.environ["HMC_RESULTS_DIR"]) if "HMC_RESULTS_DIR" in os.environ and not root
                else repo / "results")
if results_profile and results_profile not in PROFILE_NAMES:
    raise ValueError(f"results_profile must be empty or one of {PROFILE_NAMES}, got {results_profile!r}")

STUDIES = {
    "rare": {"title": "Rare-node claims (Xu et al. 2026)",
             "chapters": ["03_rare_node_loss", "04_ensembles_and_dropout", "05_schedules_and_resampling",
                          "07_rare_nodes_images"],
             "scorecard_at": ("05_schedules_and_resampling", "The claims scorecard")},
    "hcal": {"title": "HCAL claims (Jiang et al. 2025)", "chapters": ["06_hcal"],
             "scorecard_at": ("06_hcal", "The claims scorecard")},
}
#: claim -> the chapter sections that show its evidence: (chapter page, start of the section's title)
EVIDENCE_AT = {
    "rare": {
        1: [("03_rare_node_loss", "Evidence for claims 1 and 2"), ("03_rare_node_loss", "Rare nodes: recall")],
        2: [("03_rare_node_loss", "Evidence for claims 1 and 2"), ("04_ensembles_and_dropout", "Claim 2, size part")],
        3: [("05_schedules_and_resampling", "AU(PRC) and macro precision"), ("05_schedules_and_resampling", "Significance")],
        4: [("04_ensembles_and_dropout", "Claim 4: time and peak memory"), ("04_ensembles_and_dropout", "Evidence for claims 2")],
        5: [("05_schedules_and_resampling", "AU(PRC) and macro precision"), ("05_schedules_and_resampling", "Significance"),
            ("07_rare_nodes_images", "8. The verdicts")],
        6: [("07_rare_nodes_images", "6. The stress tests"), ("07_rare_nodes_images", "8. The verdicts")],
    },
    "hcal": {
        1: [("06_hcal", "HCAL against the baselines")],
        2: [("06_hcal", "HCAL against the baselines")],
        3: [("06_hcal", "Level weights and per-level accuracy"), ("06_hcal", "Ablations")],
        4: [("06_hcal", "Ablations")],
        5: [("06_hcal", "Ablations")],
    },
}
COLOURS = {"reproduced": "#c7e9c0", "partly": "#fdd0a2", "not reproduced": "#fcbba1", "inconclusive": "#d9d9d9",
           "not tested here": "#f4f4f4"}
SYMBOLS = {"reproduced": "✔", "partly": "◐", "not reproduced": "✘", "inconclusive": "?", "not tested here": "○"}
STUDY_TITLES = {"rare": "rare-node", "hcal": "HCAL"}


pages = {}
for stem in sorted({c for s in STUDIES.values() for c in s["chapters"]}):
    path = repo / "book" / f"{stem}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"book/{stem}.ipynb is missing: run `python -m hmc run notebooks/{stem}.py` first")
    pages[stem] = nbformat.read(path, as_version=4)

BUDGET_KEYS = ("n_seeds", "epoch_fraction", "epochs", "n_members", "ensemble_sizes", "image_size")
TABLES = {stem: [n for n in [*CHAPTER_FILES.values(), "06_hcal.csv", "06_hcal_history.csv"] if n.startswith(stem)]
          for stem in pages}


def chapter_basis(stem):
    meta = pages[stem].metadata.get("papermill", {})
    page_profile = meta.get("parameters", {}).get("profile", "?")
    used = results_profile or page_profile
    manifest_path = results_root / used / "manifests" / f"{stem}.json"
    m = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    page_start, m_start = parse_time(meta.get("start_time")), parse_time(m.get("started"))
    same = bool(m) and page_start is not None and m_start is not None and abs((page_start - m_start).total_seconds()) < 120
    # the budget of the run behind the results: its manifest's, else the page's own when it ran that profile
    params = m.get("parameters") or (meta.get("parameters", {}) if page_profile == used else {})
    table = results_root / used / f"{stem}.csv"
    datasets = sorted(pd.read_csv(table, usecols=["dataset"])["dataset"].unique()) if table.is_file() else []
    rows = {}
    for name in TABLES[stem]:
        path = results_root / used / name
        rows[name] = sum(1 for _ in path.open()) - 1 if path.is_file() else None
    device = m.get("device", "device unknown (no manifest)")
    return {
        "chapter": stem, "page profile": page_profile, "results profile": used,
        "datasets": ", ".join(datasets) or "(no results table)",
        "budget": ", ".join(f"{k} = {json.dumps(params[k])}" for k in BUDGET_KEYS if k in params)
                  or "settings unknown (no manifest)",
        "device": device.split(" (")[0] if device.startswith("cpu") else device,
        "executed": parse_time(meta.get("end_time")).strftime("%Y-%m-%d %H:%M UTC") if meta.get("end_time") else "?",
        "status": m.get("status", "?"),
        "manifest": (f"this run, {m.get('status', '?')}, commit {m.get('commit', '?')}" if same
                     else "another run") if m else "none",
        "rows": rows,
    }


basis = pd.DataFrame([chapter_basis(s) for s in pages]).set_index("chapter")

MEANING = {
    "smoke": "the `smoke` profile (seconds per chapter, tiny data): it only checks that the code runs",
    "quick": "the `quick` profile (the book's laptop setting: few datasets, 2-3 seeds, one or two epochs): it "
             "checks the pipeline from results to verdicts",
    "full": "the `full` profile (the papers' settings)",
}
lines, used_profiles = [], []
for key, study in STUDIES.items():
    rows = basis.loc[study["chapters"]]
    used_profiles += list(rows["results profile"])
    lines.append(f"- **{study['title']}**, chapter pages:")
    lines += [f"  - chapter {stem[:2]} under `{r['results profile']}`: {r['datasets']}; {r['budget']}; {r['device']}"
              for stem, r in rows.iterrows()]
used_profiles = list(dict.fromkeys(used_profiles))

top = headline(results_root)
on_full = top[top.basis == "full"]
coverage = design_coverage(results_root)
covered = ", ".join(f"chapter {r.chapter}: {r.done} of {r.designed} units ({r.share:.0%})"
                    for r in coverage.itertuples() if r.done)
verdict_text = (f"The headline verdicts (section 2) rest on the `full` results for {len(on_full)} of {len(top)} "
                f"claims ({covered or 'none run yet'} of the full design) and on nothing else: the `quick` "
                "results of the other claims are a check that the pipeline runs, so those claims read "
                "*inconclusive*. The chapter pages themselves, and sections 3 and 4, show "
                + "; ".join(MEANING.get(p, f"the `{p}` profile") for p in used_profiles) + ".")
display(Markdown(":::{admonition} What the verdicts rest on\n:class: warning\n\n" + verdict_text + "\n\n"
                 + "\n".join(lines) + "\n:::"))

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
def md_escape(text):
    return re.sub(r"([\\`*_|<>\[\]#])", r"\\\1", str(text))


def rows_text(rows):
    """'2430' for a chapter's table; '810 + 6 (cost)' with a second table; 'missing' for an absent one."""
    parts = []
    for name, n in rows.items():
        extra = Path(name).stem.rsplit("_", 1)[-1]
        parts.append(("missing" if n is None else str(n)) + ("" if not parts else f" ({extra})"))
    return " + ".join(parts)


def find_section(stem, title_start):
    """(number, title, html id) of the '## N. Title' heading of a chapter page whose title starts so."""
    for cell in pages[stem].cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"^## (?:(\d+)\. )?(.+?)\s*$", line)
            if m and m.group(2).lower().startswith(title_start.lower()):
                return m.group(1), m.group(2), make_id(m.group(2))
    return None


missing_sections = []


def section_link(stem, title_start):
    found = find_section(stem, title_start)
    if found is None:
        missing_sections.append(f"{stem}: {title_start!r}")
        return f"[chapter {stem[:2]}]({stem}.html)"
    number, title, anchor = found
    label = f"ch.&nbsp;{stem[:2]}&nbsp;§{number}" if number else f"ch.&nbsp;{stem[:2]}, {md_escape(title)}"
    return f"[{label}]({stem}.html#{anchor} \"chapter {stem[:2]}, section {number}: {title.replace(chr(34), '')}\")"


def split_top(text, sep):
    """Split at ``sep`` outside parentheses and brackets."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(sep, i):
            out.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return out + [text[start:]]


def shorten(text, limit=120):
    """At most about ``limit`` characters, cut at a space and before a parenthesis the cut would leave open."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    open_at = []
    for i, ch in enumerate(cut):
        if ch == "(":
            open_at.append(i)
        elif ch == ")" and open_at:
            open_at.pop()
    if open_at:
        cut = cut[:open_at[0]]
    return cut.rstrip(" ,;:") + " …"


PART = re.compile(r"^\(([a-z])\) (?:(holds|fails|n/a|undecided(?: \(by the numbers it (?:holds|fails)\))?): )?")


def one_line(evidence):
    """The scorecard's evidence in short, one line per part ((a), (b), ...).

    The clauses before the first part are kept whole when they are short, else up to the first listing
    (cut at its colon, at most about 160 characters each); a part marked holds/fails/undecided/n/a keeps
    its first clause, an unmarked one its first clause up to a listing; each line at most about 120 characters (:func:`shorten`).
    """
    clauses = [c.strip() for c in split_top(evidence, "; ") if c.strip()]
    lead, parts = [], []
    for c in clauses:
        m = PART.match(c)
        if m:
            body = c[m.end():] if m.group(2) else split_top(c[m.end():], ": ")[0]
            parts.append(f"({m.group(1)}) " + (f"{m.group(2)}: " if m.group(2) else "") + shorten(body))
        elif not parts:
            lead.append(c)
    if len("; ".join(lead)) > 160:
        short = []
        for c in lead:
            head = split_top(c, ": ")
            short.append(shorten(head[0], 160))
            if len(head) > 1:
                break
        lead = short
    return ["; ".join(lead)] * bool(lead) + parts


def badge(verdict):
    return (f'<span style="background-color: {COLOURS.get(verdict, "#ffffff")}; padding: 0.1em 0.4em; '
            f'border-radius: 0.3em; white-space: nowrap">{SYMBOLS.get(verdict, "?")} {verdict}</span>')


def verdict_table(key, card, drop_lead="", links=True):
    """The study's table: claim, statement, verdict with its evidence in short, links to the evidence.
    ``drop_lead``: a first evidence clause every row shares (stated once above the table instead).
    ``links=False``: no "See" column (for results whose chapter pages are not the ones linked)."""
    head = ("| Claim | Statement | Verdict and evidence, in short |" + " See |" * links + "\n"
            + "|---|---|---|" + "---|" * links + "\n")
    rows = []
    for r in card.itertuples():
        evidence = r.evidence[len(drop_lead):].lstrip("; ") if drop_lead else r.evidence
        lines = [badge(r.verdict)] + [md_escape(line) for line in one_line(evidence)]
        see = ("<br>".join(section_link(stem, title) for stem, title in EVIDENCE_AT[key][int(r.claim)]) + " |"
               if links else "")
        rows.append(f"| {r.claim} | {md_escape(r.statement)} | {'<br>'.join(lines)} |{' ' + see if see else ''}")
    return head + "\n".join(rows)


def chapter_verdicts(key):
    """The verdicts the chapter page showing the scorecard displays: {claim: verdict} ({} if not found)."""
    stem = STUDIES[key]["scorecard_at"][0]
    for cell in pages[stem].cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if key == "rare" and "scorecard_from_results(" in cell.source:
                html = out.get("data", {}).get("text/html", "")
                found = re.findall(r'<td id="T_\w+_row(\d+)_col1"[^>]*>([^<]*)</td>', html)
                if found:
                    return {int(row) + 1: v.strip() for row, v in found}
            if key == "hcal" and "for row in card.itertuples" in cell.source:
                found = re.findall(r"^Claim (\d+): .*\n\s+verdict:\s+(.+)$", out.get("text", ""), re.M)
                if found:
                    return {int(c): v.strip() for c, v in found}
    return {}


def agreement(key, card):
    stem = STUDIES[key]["scorecard_at"][0]
    shown = chapter_verdicts(key)
    where = f"{section_link(*STUDIES[key]['scorecard_at'])} (page executed {basis.loc[stem, 'executed']})"
    if not shown:
        return f"The verdicts could not be read from {where}."
    ours = {int(r.claim): r.verdict for r in card.itertuples()}
    diff = [f"claim {c}: here {ours.get(c)}, there {shown.get(c)}" for c in sorted(set(ours) | set(shown))
            if ours.get(c) != shown.get(c)]
    if not diff:
        return f"The scorecard of {where} shows the same {len(ours)} verdicts."
    return (f"**These verdicts differ from those of {where}** (its results tables changed after it ran): "
            + "; ".join(diff) + ".")


def full_evidence(card, rules):
    for r in card.itertuples():
        print(f"Claim {r.claim}: {r.statement}\n  verdict:  {r.verdict}")
        for label, text in (("evidence", r.evidence), ("why", r.reasons), ("test", r.test),
                            ("rule", rules[int(r.claim)]), ("strength", r.strength), ("paper", r.paper),
                            ("ours", r.ours)):
            if text:
                print(textwrap.fill(str(text), width=110, initial_indent=f"  {label + ':':<10}",
                                    subsequent_indent=" " * 12))
        print()


basis_rows = ["| Chapter | Profile | Executed (UTC) | Manifest | Rows read |", "|---|---|---|---|---|"]
for stem, r in basis.iterrows():
    prof = r["page profile"] if r["page profile"] == r["results profile"] else \
        f"page {r['page profile']}, results {r['results profile']}"
    basis_rows.append(f"| [ch.&nbsp;{stem[:2]}]({stem}.html \"{stem}\") | {prof} | {r['executed'].removesuffix(' UTC')} | "
                      f"{md_escape(r['manifest'])} | {rows_text(r['rows'])} |")
display(Markdown("\n".join(basis_rows)))

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
def fmt_p(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def strength_cell(r):
    """Seeds, epochs, smallest attainable p and the effect with its interval, in a few short lines."""
    if not isinstance(r.get("effect"), str) or r.get("data") in (None, "-"):
        return "-"
    lines = [md_escape(r["data"]), f"seeds {md_escape(r['seeds'])}; {md_escape(r['epochs'])}",
             f"smallest attainable p {fmt_p(r['min_p'])}"]
    est = r.get("estimate")
    if isinstance(est, float) and math.isfinite(est):
        ci = (f" [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] over {md_escape(r['ci_over'])}"
              if isinstance(r.get("ci_low"), float) and math.isfinite(r["ci_low"]) else " (no interval)")
        lines.append(f"{md_escape(r['effect'])}: {est:+.4f}{ci}")
    return "<br>".join(lines)


def headline_table(table):
    head = ("| Claim | Statement | Verdict, basis and reasons | Strength | Paper / ours |\n"
            "|---|---|---|---|---|\n")
    rows = []
    for r in table.to_dict("records"):
        lines = [badge(r["verdict"]), f"basis: {md_escape(r['basis'])}"]
        if r["basis"] == "full" and isinstance(r.get("coverage"), str):
            lines.append(md_escape(r["coverage"]))
        if r.get("reasons"):
            lines.append("why: " + md_escape(shorten(str(r["reasons"]), 420)))
        paper = md_escape(r["paper"]) if isinstance(r.get("paper"), str) else "-"
        ours = md_escape(r["ours"]) if isinstance(r.get("ours"), str) else "-"
        rows.append(f"| {STUDY_TITLES[r['study']]} {r['claim']} | {md_escape(r['statement'])} | {'<br>'.join(lines)} | "
                    f"{strength_cell(r)} | paper: {paper}<br>ours: {ours} |")
    return head + "\n".join(rows)


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
display(Markdown("**Findings** (glued into the introduction as `findings_1` to `findings_5`):\n\n"
                 + "\n".join(f"{i}. {md_escape(line)}" for i, line in enumerate(finding_lines, start=1))))

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
# the chapters' tables, each under the profile of its chapter's page
rare_tables = {}
for table_key, file_name in CHAPTER_FILES.items():
    stem = next(s for s in STUDIES["rare"]["chapters"] if file_name.startswith(s))
    rare_tables[table_key] = read_chapter_tables(results_root, basis.loc[stem, "results profile"])[table_key]
rare_where = "results/" + "+".join(dict.fromkeys(basis.loc[STUDIES["rare"]["chapters"], "results profile"]))
rare_card = scorecard(rare_tables, where=rare_where)
assert list(rare_card.claim) == list(CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"
agreements = {"rare": agreement("rare", rare_card)}
display(Markdown(verdict_table("rare", rare_card) + "\n\n" + agreements["rare"]))

# %% tags=["remove-input", "hide-output"]
full_evidence(rare_card, VERDICT_RULES)

# %% [markdown]
# Claim 5 has a vision half ("... but worse on the vision dataset") that chapter 05's gene-product
# datasets cannot test: chapter 07 tests it on its image hierarchy, with claim 6, under the rules and
# gates below (`hmc.rare_images_evidence.claims_evidence_07`; claim 6's row above comes from the same
# parts).

# %% tags=["hide-input"]
from hmc.runs.stress_sweep import read_stress_results  # noqa: E402
from hmc.rare_images_evidence import claims_evidence_07  # noqa: E402

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
hcal_results_path = results_root / hcal_profile / "06_hcal.csv"
hcal_history_path = hcal_results_path.with_name("06_hcal_history.csv")
protocol_note, lead = "", ""
if hcal_results_path.is_file():
    hcal_results = pd.read_csv(hcal_results_path)
    hcal_history = pd.read_csv(hcal_history_path) if hcal_history_path.is_file() else None
    hcal_design = hcal_designs(hcal_results, results_root / hcal_profile / "manifests" / "06_hcal.json")
    hcal_card = hcal_scorecard(hcal_results, hcal_history, design=hcal_design)
    firsts = {split_top(e, "; ")[0] for e in hcal_card.evidence}
    if len(firsts) == 1 and next(iter(firsts)).startswith("protocol"):
        lead = firsts.pop()
        chosen = verdict_protocols(hcal_results)
        per_dataset = (f"the {next(iter(set(chosen.values())))} protocol on every dataset ({', '.join(chosen)})"
                       if len(set(chosen.values())) == 1 else ", ".join(f"{d}: {p}" for d, p in chosen.items()))
        protocol_note = f"Model selection for every verdict below: {md_escape(per_dataset)}.\n\n"
else:
    hcal_card = pd.DataFrame([{"claim": k, "statement": s, "verdict": "not tested here", "test": "-", "reasons": "",
                               "evidence": f"results/{hcal_profile}/06_hcal.csv not found", "rule": HCAL_VERDICT_RULES[k],
                               "strength": "-", "paper": "-", "ours": "-"}
                              for k, s in HCAL_CLAIMS.items()])
assert list(hcal_card.claim) == list(HCAL_CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"
agreements["hcal"] = agreement("hcal", hcal_card)
display(Markdown(protocol_note + verdict_table("hcal", hcal_card, drop_lead=lead) + "\n\n" + agreements["hcal"]))

# %% tags=["remove-input", "hide-output"]
full_evidence(hcal_card, HCAL_VERDICT_RULES)

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
from hmc.scorecard import bucket_table  # noqa: E402

headline_profile = {int(r.claim): ("full" if r.basis == "full" else "quick") for r in top[top.study == "rare"].itertuples()}
tables_for = {p: read_chapter_tables(results_root, p) for p in ("full", "quick")}
for number in (1, 4, 5):
    prof = headline_profile[number]
    table = rare_sensitivity(tables_for[prof], number, where=f"results/{prof}")
    if number == 1:
        display(bucket_table(tables_for[prof]["03"]).style.format({"largest finite gain": "{:.2f}"}, na_rep="-")
                .hide(axis="index").set_caption(f"Rare-node claim 1, every bucket (results/{prof})"))
    display(table.style.hide(axis="index").set_properties(**{"text-align": "left"})
            .set_caption(f"Rare-node claim {number}: {CLAIMS[number]} (results/{prof})"))

hcal_source = "full" if (results_root / "full" / "06_hcal.csv").is_file() else hcal_profile
src = results_root / hcal_source / "06_hcal.csv"
if src.is_file():
    res = pd.read_csv(src)
    hist = src.with_name("06_hcal_history.csv")
    hist = pd.read_csv(hist) if hist.is_file() else None
    des = hcal_designs(res, results_root / hcal_source / "manifests" / "06_hcal.json")
    for number in HCAL_CLAIMS:
        display(hcal_sensitivity(res, number, hist, des).style.hide(axis="index")
                .set_properties(**{"text-align": "left"})
                .set_caption(f"HCAL claim {number}: {HCAL_CLAIMS[number]} (results/{hcal_source})"))

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

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
cards = {"rare": top[top.study == "rare"], "hcal": top[top.study == "hcal"]}
counts = pd.DataFrame({STUDIES[k]["title"]: headline_counts(c) for k, c in cards.items()}).T
counts.loc["all claims"] = counts.sum()
counts["claims"] = counts[list(VERDICTS)].sum(axis=1)

study_keys = dict(zip(counts.index, [*cards, "all"]))
for label, key in study_keys.items():
    for v in VERDICTS:
        glue(f"verdicts_{key}_{v.replace(' ', '_')}", int(counts.loc[label, v]), display=False)
    glue(f"verdicts_{key}_claims", int(counts.loc[label, "claims"]), display=False)
    chosen = top if key == "all" else cards[key]
    glue(f"verdicts_{key}_basis", f"{int((chosen.basis == 'full').sum())} of {len(chosen)} on full results",
         display=False)

if missing_sections:
    print("WARNING: sections not found (links go to the chapter's top): " + "; ".join(missing_sections))
fig, ax = plt.subplots(figsize=(9, 2.4))
left = pd.Series(0, index=counts.index[:-1])
for v in VERDICTS:
    values = counts.loc[counts.index[:-1], v]
    ax.barh(list(values.index), values, left=left, color=COLOURS[v], edgecolor="#555555", label=f"{SYMBOLS[v]} {v}")
    for y, (x0, n) in enumerate(zip(left, values)):
        if n:
            ax.text(x0 + n / 2, y, str(n), ha="center", va="center")
    left += values
ax.invert_yaxis()
ax.set_xlabel("claims")
ax.xaxis.get_major_locator().set_params(integer=True)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
ax.set_title("Headline verdicts per study (strongest evidence: full where it exists)")
fig.tight_layout()
plt.show()

summary = []
for label, key in study_keys.items():
    parts = [f"{int(counts.loc[label, v])} {v}" for v in VERDICTS if counts.loc[label, v]]
    summary.append(f"- {label}: " + ", ".join(parts) + f" (of {int(counts.loc[label, 'claims'])})")
display(Markdown("\n".join(summary)))

# %% [markdown]
# ## 7. The claims as data
#
# Every claim with the gates its rule applies and where its sensitivity table is (`hmc.claims.registry`):
# the statement, the rule and the evidence function of each live in one place, and the gates are
# shared by both studies (`hmc.claims.gates`).

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
registry_rows = ["| Claim | Gates | Sensitivity table | Paper's figure |", "|---|---|---|---|"]
for c in CLAIM_REGISTRY.values():
    registry_rows.append(f"| {STUDY_TITLES[c.study]} {c.number} | {', '.join(c.gates) or '-'} | "
                         f"{'section 5' if c.sensitivity is not None else '-'} | {md_escape(c.paper) if c.paper else '-'} |")
display(Markdown("\n".join(registry_rows) + "\n\n" + "\n".join(f"- **{name}**: {md_escape(text)}"
                                                                for name, text in GATES.items())))

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
