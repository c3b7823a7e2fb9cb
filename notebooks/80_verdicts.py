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
# (scorecard in {doc}`06_hcal`). This page gathers both scorecards: for every claim its verdict, the
# evidence in short and links to the chapter sections that show it. Nothing on it is typed by hand:
# it reads which profile each chapter page was executed with and that run's manifest, recomputes
# each scorecard from that profile's results tables with the functions the chapters call, checks
# that the chapter pages show the same verdicts, and counts them. The box below says what budget the
# verdicts rest on.
#
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | {doc}`methods_rare_nodes`, {doc}`methods_hcal` | helpful | what the claims mean |
# | Profiles (`smoke`, `quick`, `full`) | necessary | {doc}`90_reproduce`, section 1 |
#
# *Time to run:* seconds on any CPU under every profile (it trains nothing: it reads the manifests,
# the results tables and the executed chapter pages in `book/`). No GPU, no data files.

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`); the same page under every profile
root = ""  # the repository to report on; empty for the checkout that holds the `hmc` package
results_profile = ""  # empty: each chapter's results under the profile its page in book/ was executed with

# %% tags=["hide-input"] mystnb={"markdown_format": "myst"}
import json
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
from hmc.hcal_evidence import HCAL_CLAIMS, HCAL_VERDICT_RULES, hcal_scorecard, verdict_protocols
from hmc.profiles import PROFILE_NAMES
from hmc.provenance import parse_time
from hmc.scorecard import CHAPTER_FILES, CLAIMS, VERDICT_RULES, VERDICTS, read_chapter_tables, scorecard

repo = Path(root) if root else Path(hmc.__file__).resolve().parents[1]
# the results tables and manifests: where `python -m hmc run --results` put them, else the repo's
results_root = (Path(os.environ["HMC_RESULTS_DIR"]) if "HMC_RESULTS_DIR" in os.environ and not root
                else repo / "results")
if results_profile and results_profile not in PROFILE_NAMES:
    raise ValueError(f"results_profile must be empty or one of {PROFILE_NAMES}, got {results_profile!r}")

STUDIES = {
    "rare": {"title": "Rare-node claims (Xu et al. 2026)",
             "chapters": ["03_rare_node_loss", "04_ensembles_and_dropout", "05_schedules_and_resampling"],
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
        4: [("04_ensembles_and_dropout", "Claim 4: time and peak memory"), ("04_ensembles_and_dropout", "Claim 4, F1 part")],
        5: [("05_schedules_and_resampling", "AU(PRC) and macro precision"), ("05_schedules_and_resampling", "Significance")],
        6: [("05_schedules_and_resampling", "The claims scorecard")],
    },
    "hcal": {
        1: [("06_hcal", "HCAL against the baselines")],
        2: [("06_hcal", "HCAL against the baselines")],
        3: [("06_hcal", "Level weights and per-level accuracy"), ("06_hcal", "Ablations")],
        4: [("06_hcal", "Ablations")],
        5: [("06_hcal", "Ablations")],
    },
}
COLOURS = {"reproduced": "#c7e9c0", "partly": "#fdd0a2", "not reproduced": "#fcbba1", "not tested here": "#e0e0e0"}
SYMBOLS = {"reproduced": "✔", "partly": "◐", "not reproduced": "✘", "not tested here": "○"}


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
    "full": "the `full` profile (the papers' settings, run on a GPU)",
}
lines, used_profiles = [], []
for key, study in STUDIES.items():
    rows = basis.loc[study["chapters"]]
    used_profiles += list(rows["results profile"])
    lines.append(f"- **{study['title']}**:")
    lines += [f"  - chapter {stem[:2]} under `{r['results profile']}`: {r['datasets']}; {r['budget']}; {r['device']}"
              for stem, r in rows.iterrows()]
used_profiles = list(dict.fromkeys(used_profiles))
meaning = "; ".join(MEANING.get(p, f"the `{p}` profile") for p in used_profiles)
unfinished = [stem[:2] for stem, r in basis.iterrows() if not r["manifest"].startswith("this run, ok")]
if all(p == "full" for p in used_profiles) and not unfinished:
    kind, title = "note", "The verdicts rest on the `full` profile"
    verdict_text = f"Every verdict below comes from {meaning}."
elif all(p == "full" for p in used_profiles):
    kind, title = "warning", "The `full` results may be incomplete"
    verdict_text = (f"The verdicts below come from {meaning}, but for chapter(s) {', '.join(unfinished)} no manifest "
                    "shows a finished `full` run behind the page in `book/` (section 1): their tables may hold a "
                    "sweep in progress or an older run.")
else:
    kind, title = "warning", "Pipeline checks, not evidence"
    verdict_text = (f"The verdicts below come from {meaning}. They show that the results become verdicts by the "
                    "fixed rules; they are **not** evidence for or against the papers' claims, which needs the "
                    "`full` profile (its settings: {doc}`90_reproduce`, section 1).")
display(Markdown(f":::{{admonition}} {title}\n:class: {kind}\n\n{verdict_text}\n\n" + "\n".join(lines) + "\n:::"))

# %% [markdown]
# ## 1. What the verdicts rest on
#
# One row per chapter whose results enter a scorecard: the profile its page in `book/` was executed
# with and when (the budget and device of that run are in the box above). "Manifest" says whether
# `results/<profile>/manifests/<chapter>.json` describes the very run that produced the page (same
# start time), with its status and commit; a later run of the same notebook that wrote elsewhere
# (`--out`) would replace the manifest. "Rows read" counts the rows of the results tables the
# verdicts below are computed from, `results/<profile>/<chapter>.csv` (with chapter 04's cost table
# and chapter 06's history table).

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


basis_rows = ["| Chapter | Profile | Executed (UTC) | Manifest | Rows read |", "|---|---|---|---|---|"]
for stem, r in basis.iterrows():
    prof = r["page profile"] if r["page profile"] == r["results profile"] else \
        f"page {r['page profile']}, results {r['results profile']}"
    basis_rows.append(f"| [ch.&nbsp;{stem[:2]}]({stem}.html \"{stem}\") | {prof} | {r['executed'].removesuffix(' UTC')} | "
                      f"{md_escape(r['manifest'])} | {rows_text(r['rows'])} |")
display(Markdown("\n".join(basis_rows)))

# %% [markdown]
# ## 2. The rare-node claims
#
# Recomputed by `hmc.scorecard.scorecard` from the results tables of chapters 03, 04 (with its cost
# table) and 05, each under the profile in the box above. The evidence is the scorecard's, shortened
# to one line per part ((a), (b), ...); the folded output under the table ("Show code cell output")
# has each claim's full evidence, test and rule. The links go to the chapter sections that show the
# numbers.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
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


PART = re.compile(r"^\(([a-z])\) (?:(holds|fails|n/a): )?")


def one_line(evidence):
    """The scorecard's evidence in short, one line per part ((a), (b), ...).

    The clauses before the first part are kept whole when they are short, else up to the first listing
    (cut at its colon, at most about 160 characters each); a part marked holds/fails/n/a keeps its first
    clause, an unmarked one its first clause up to a listing; each line at most about 120 characters (:func:`shorten`).
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
        for label, text in (("evidence", r.evidence), ("test", r.test), ("rule", rules[int(r.claim)])):
            print(textwrap.fill(text, width=110, initial_indent=f"  {label + ':':<10}", subsequent_indent=" " * 12))
        print()


# the chapters' tables, each under the profile of its chapter's page
rare_tables = {}
for table_key, file_name in CHAPTER_FILES.items():
    stem = next(s for s in STUDIES["rare"]["chapters"] if file_name.startswith(s))
    rare_tables[table_key] = read_chapter_tables(results_root, basis.loc[stem, "results profile"])[table_key]
rare_where = "results/" + "+".join(dict.fromkeys(basis.loc[STUDIES["rare"]["chapters"], "results profile"]))
rare_card = scorecard(rare_tables, where=rare_where)
assert list(rare_card.claim) == list(CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"

display(Markdown(verdict_table("rare", rare_card) + "\n\n" + agreement("rare", rare_card)))

# %% tags=["remove-input", "hide-output"]
full_evidence(rare_card, VERDICT_RULES)

# %% [markdown]
# ## 3. The HCAL claims
#
# Recomputed by `hmc.hcal_evidence.hcal_scorecard` from chapter 06's results and history tables
# under the profile in the box above. The verdicts select each run's epoch by the validation
# protocol where every run of a dataset has a validation split (else the last epoch), never by the
# authors' selection on the test set. Same layout as above.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
hcal_profile = basis.loc["06_hcal", "results profile"]
hcal_results_path = results_root / hcal_profile / "06_hcal.csv"
hcal_history_path = hcal_results_path.with_name("06_hcal_history.csv")
protocol_note, lead = "", ""
if hcal_results_path.is_file():
    hcal_results = pd.read_csv(hcal_results_path)
    hcal_history = pd.read_csv(hcal_history_path) if hcal_history_path.is_file() else None
    hcal_card = hcal_scorecard(hcal_results, hcal_history)
    firsts = {split_top(e, "; ")[0] for e in hcal_card.evidence}
    if len(firsts) == 1 and next(iter(firsts)).startswith("protocol"):
        lead = firsts.pop()
        chosen = verdict_protocols(hcal_results)
        per_dataset = (f"the {next(iter(set(chosen.values())))} protocol on every dataset ({', '.join(chosen)})"
                       if len(set(chosen.values())) == 1 else ", ".join(f"{d}: {p}" for d, p in chosen.items()))
        protocol_note = f"Model selection for every verdict below: {md_escape(per_dataset)}.\n\n"
else:
    hcal_card = pd.DataFrame([{"claim": k, "statement": s, "verdict": "not tested here", "test": "-",
                               "evidence": f"results/{hcal_profile}/06_hcal.csv not found", "rule": HCAL_VERDICT_RULES[k]}
                              for k, s in HCAL_CLAIMS.items()])
assert list(hcal_card.claim) == list(HCAL_CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"
display(Markdown(protocol_note + verdict_table("hcal", hcal_card, drop_lead=lead) + "\n\n"
                 + agreement("hcal", hcal_card)))

# %% tags=["remove-input", "hide-output"]
full_evidence(hcal_card, HCAL_VERDICT_RULES)

# %% [markdown]
# ## 4. The verdicts counted
#
# Per study and in all. The counts are glued for prose pages as `verdicts_<study>_<verdict>` (study
# `rare`, `hcal` or `all`; verdict `reproduced`, `partly`, `not_reproduced`, `not_tested_here`;
# quoted with `` {glue:text}`80_verdicts.ipynb::verdicts_all_partly` `` from another page), with
# `verdicts_<study>_claims` (the number of claims) and `verdicts_<study>_profile` (the profile the
# study's results come from).

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
cards = {"rare": rare_card, "hcal": hcal_card}
counts = pd.DataFrame({STUDIES[k]["title"]: c["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)
                       for k, c in cards.items()}).T
counts.loc["all claims"] = counts.sum()
counts["claims"] = counts[list(VERDICTS)].sum(axis=1)

study_keys = dict(zip(counts.index, [*cards, "all"]))
for label, key in study_keys.items():
    for v in VERDICTS:
        glue(f"verdicts_{key}_{v.replace(' ', '_')}", int(counts.loc[label, v]), display=False)
    glue(f"verdicts_{key}_claims", int(counts.loc[label, "claims"]), display=False)
    chapters = [c for k in (cards if key == "all" else [key]) for c in STUDIES[k]["chapters"]]
    glue(f"verdicts_{key}_profile", "+".join(dict.fromkeys(basis.loc[chapters, "results profile"])), display=False)

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
ax.set_title(f"Verdicts per study (results profile: {'+'.join(used_profiles)})")
fig.tight_layout()
plt.show()

summary = []
for label, key in study_keys.items():
    parts = [f"{int(counts.loc[label, v])} {v}" for v in VERDICTS if counts.loc[label, v]]
    summary.append(f"- {label}: " + ", ".join(parts) + f" (of {int(counts.loc[label, 'claims'])})")
display(Markdown("\n".join(summary)))

# %% [markdown]
# ## 5. The same rules on the CPU runs of `full`
#
# Two chapters also have a page executed under `full` on this project's 2-core CPU, on a part of
# the design only (no GPU was lent to the study so far): chapter 03's and chapter 06's, listed
# under their chapters in the table of contents. The same scorecard functions give the verdicts
# below from `results/full/`, with the budget read from the tables. Claims whose evidence lies in
# chapters with no `full` results come out "not tested here". These verdicts are shown beside the
# counts above, not added to them, and the linked pages say what their budget can and cannot show.

# %% tags=["hide-input"] mystnb={"markdown_format": "gfm"}
def count(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def budget_of(table):
    """'2 datasets (a, b), 5 methods, 3 seeds' for a tidy results table."""
    units = table.drop_duplicates(["dataset", "method", "seed"])
    return (f"{count(units.dataset.nunique(), 'dataset')} ({', '.join(sorted(units.dataset.unique()))}), "
            f"{count(units.method.nunique(), 'method')}, {count(units.seed.nunique(), 'seed')}")


full_blocks = []
full_rare = read_chapter_tables(results_root, "full")
if full_rare["03"] is not None and (repo / "book" / "full" / "03_rare_node_loss.ipynb").is_file():
    card = scorecard(full_rare, where="results/full")
    present = [k for k, t in full_rare.items() if t is not None]
    full_blocks.append(f"**{STUDIES['rare']['title']}**, from the tables of {', '.join(present)} under `full`: "
                       f"chapter 03: {budget_of(full_rare['03'])} "
                       "([its page](full/03_rare_node_loss.html)).\n\n" + verdict_table("rare", card, links=False))
full_hcal = results_root / "full" / "06_hcal.csv"
if full_hcal.is_file() and (repo / "book" / "full" / "06_hcal.ipynb").is_file():
    results_full = pd.read_csv(full_hcal)
    history_path = full_hcal.with_name("06_hcal_history.csv")
    card = hcal_scorecard(results_full, pd.read_csv(history_path) if history_path.is_file() else None)
    epochs = sorted(results_full["epochs"].unique())
    epochs = count(int(epochs[0]), "epoch") if len(epochs) == 1 else f"{', '.join(map(str, epochs))} epochs"
    full_blocks.append(f"**{STUDIES['hcal']['title']}**: chapter 06: {budget_of(results_full)}, {epochs} "
                       "([its page](full/06_hcal.html)).\n\n" + verdict_table("hcal", card, links=False))
display(Markdown("\n\n".join(full_blocks) if full_blocks else "No chapter has results under `full` here."))

# %% [markdown]
# ## Summary
#
# - Of the {glue:text}`verdicts_all_claims` claims, {glue:text}`verdicts_all_reproduced` are
#   reproduced, {glue:text}`verdicts_all_partly` partly, {glue:text}`verdicts_all_not_reproduced`
#   not reproduced and {glue:text}`verdicts_all_not_tested_here` not tested here, on results of the
#   {glue:text}`verdicts_all_profile` profile; the box at the top of the page says what that budget
#   can and cannot show.
# - Each verdict above is recomputed from the results tables by the rules fixed in `hmc.scorecard`
#   and `hmc.hcal_evidence`, and checked against the verdict its chapter page shows.
# - Section 5 applies the same rules to the parts of `full` run on the CPU (chapters 03 and 06).
#
# **What's next:** the linked chapter sections show the numbers behind each verdict;
# {doc}`90_reproduce` says how to rerun any chapter, under the `full` profile for the study's own
# verdicts.
