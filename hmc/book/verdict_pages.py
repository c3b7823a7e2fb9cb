"""The verdicts page (80): what the chapter pages rest on, the scorecards recomputed from the results
tables with links to the chapter sections that show their evidence, whether the chapter pages show the
same verdicts, the sensitivity tables and the verdicts counted.

The page reads the executed chapter pages in ``book/`` (:func:`read_pages`), their manifests and the
results tables under ``results/<profile>/``; the Markdown it displays is built here and in
:mod:`hmc.book.verdict_text`. Nothing here trains or decides a claim: the verdicts come from
:mod:`hmc.scorecard`, :mod:`hmc.hcal_evidence` and :mod:`hmc.claims`.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from docutils.nodes import make_id

from hmc.book.pages import key_first
from hmc.book.rare_plots import WIDTH, legend_below
from hmc.book.verdict_text import COLOURS, SYMBOLS, badge, md_escape, one_line, rows_text, split_top
from hmc.claims.gates import VERDICTS
from hmc.provenance import parse_time

STUDIES = {
    "rare": {"title": "Rare-node claims (Xu et al. 2026)",
             "chapters": ["03_rare_node_loss", "04_ensembles_and_dropout", "05_schedules_and_resampling",
                          "07_rare_nodes_images"],
             "scorecard_at": ("05_schedules_and_resampling", "The claims scorecard")},
    "hcal": {"title": "HCAL claims (Jiang et al. 2025)", "chapters": ["06_hcal"],
             "scorecard_at": ("06_hcal", "The claims scorecard")},
}
"""Per study: its title, the chapters whose results enter its scorecard, and the (chapter, section) that
shows the scorecard."""

EVIDENCE_AT = {
    "rare": {
        1: [("03_rare_node_loss", "Evidence for claims 1 and 2"), ("03_rare_node_loss", "Rare nodes: recall")],
        2: [("03_rare_node_loss", "Evidence for claims 1 and 2"), ("04_ensembles_and_dropout", "Claim 2, size part")],
        3: [("05_schedules_and_resampling", "AU(PRC) and macro precision"), ("05_schedules_and_resampling", "Significance")],
        4: [("04_ensembles_and_dropout", "Claim 4: time and peak memory"), ("04_ensembles_and_dropout", "Evidence for claims 2")],
        5: [("05_schedules_and_resampling", "AU(PRC) and macro precision"), ("05_schedules_and_resampling", "Significance"),
            ("07_rare_nodes_images", "The verdicts")],
        6: [("07_rare_nodes_images", "The stress tests"), ("07_rare_nodes_images", "The verdicts")],
    },
    "hcal": {
        1: [("06_hcal", "HCAL against the baselines")],
        2: [("06_hcal", "HCAL against the baselines")],
        3: [("06_hcal", "Level weights and per-level accuracy"), ("06_hcal", "Ablations")],
        4: [("06_hcal", "Ablations")],
        5: [("06_hcal", "Ablations")],
    },
}
"""Claim -> the chapter sections that show its evidence: (chapter page, start of the section's title)."""

MEANING = {
    "smoke": "the `smoke` profile (seconds per chapter, tiny data): it only checks that the code runs",
    "quick": "the `quick` profile (the book's laptop setting: few datasets, 2-3 seeds, one or two epochs): it "
             "checks the pipeline from results to verdicts",
    "full": "the `full` profile (the papers' settings)",
}
"""What the results of each profile are, in the words of the page's box."""

BUDGET_KEYS = ("n_seeds", "epoch_fraction", "epochs", "n_members", "ensemble_sizes", "image_size")
"""The run parameters that state a chapter's budget."""


def chapters() -> list[str]:
    """Every chapter whose results enter a scorecard, sorted."""
    return sorted({c for s in STUDIES.values() for c in s["chapters"]})


def read_pages(repo: str | Path) -> dict:
    """The executed chapter pages ``book/<stem>.ipynb`` of :func:`chapters` as ``{stem: notebook}``;
    FileNotFoundError naming the command that makes a missing one."""
    import nbformat

    pages = {}
    for stem in chapters():
        path = Path(repo) / "book" / f"{stem}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"book/{stem}.ipynb is missing: run `python -m hmc run notebooks/{stem}.py` first")
        pages[stem] = nbformat.read(path, as_version=4)
    return pages


def chapter_tables(stem: str) -> list[str]:
    """The results tables of a chapter the scorecards read (chapter 04 has its cost table, 06 its
    history table)."""
    from hmc.scorecard import CHAPTER_FILES

    return [n for n in [*CHAPTER_FILES.values(), "06_hcal.csv", "06_hcal_history.csv"] if n.startswith(stem)]


def chapter_basis(stem: str, page, results_root: str | Path, results_profile: str = "") -> dict:
    """What a chapter page's verdicts rest on: the profile its page was executed with, the profile whose
    results are read (``results_profile``, else the page's), the datasets of its results table, the
    budget and device of the run (from its manifest; the page's own parameters where there is no
    manifest and the page ran that profile), when the page was executed, the run's status, whether the
    manifest describes the very run of the page (start times within 2 minutes) and the rows of each of
    its results tables (None: missing)."""
    results_root = Path(results_root)
    meta = page.metadata.get("papermill", {})
    page_profile = meta.get("parameters", {}).get("profile", "?")
    used = results_profile or page_profile
    manifest_path = results_root / used / "manifests" / f"{stem}.json"
    m = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    page_start, m_start = parse_time(meta.get("start_time")), parse_time(m.get("started"))
    same = bool(m) and page_start is not None and m_start is not None and abs((page_start - m_start).total_seconds()) < 120
    params = m.get("parameters") or (meta.get("parameters", {}) if page_profile == used else {})
    table = results_root / used / f"{stem}.csv"
    datasets = sorted(pd.read_csv(table, usecols=["dataset"])["dataset"].unique()) if table.is_file() else []
    rows = {}
    for name in chapter_tables(stem):
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


def basis_table(pages: Mapping, results_root: str | Path, results_profile: str = "") -> pd.DataFrame:
    """:func:`chapter_basis` of every page, indexed by chapter."""
    return pd.DataFrame([chapter_basis(s, p, results_root, results_profile) for s, p in pages.items()]).set_index("chapter")


def basis_box(basis: pd.DataFrame, top: pd.DataFrame, coverage: pd.DataFrame) -> str:
    """The warning box at the top of the page: on which results the headline verdicts rest (how many
    claims on ``full`` results, and how much of the full design those cover), what the profiles of the
    chapter pages mean (:data:`MEANING`), and per study each chapter's profile, datasets, budget and device."""
    lines, used_profiles = [], []
    for study in STUDIES.values():
        rows = basis.loc[study["chapters"]]
        used_profiles += list(rows["results profile"])
        lines.append(f"- **{study['title']}**, chapter pages:")
        lines += [f"  - chapter {stem[:2]} under `{r['results profile']}`: {r['datasets']}; {r['budget']}; {r['device']}"
                  for stem, r in rows.iterrows()]
    used_profiles = list(dict.fromkeys(used_profiles))
    on_full = top[top.basis == "full"]
    covered = ", ".join(f"chapter {r.chapter}: {r.done} of {r.designed} units ({r.share:.0%})"
                        for r in coverage.itertuples() if r.done)
    text = (f"The headline verdicts (section 2) rest on the `full` results for {len(on_full)} of {len(top)} "
            f"claims ({covered or 'none run yet'} of the full design) and on nothing else: the `quick` "
            "results of the other claims are a check that the pipeline runs, so those claims read "
            "*inconclusive*. The chapter pages themselves, and sections 3 and 4, show "
            + "; ".join(MEANING.get(p, f"the `{p}` profile") for p in used_profiles) + ".")
    return ":::{admonition} What the verdicts rest on\n:class: warning\n\n" + text + "\n\n" + "\n".join(lines) + "\n:::"


def basis_rows(basis: pd.DataFrame) -> str:
    """Section 1's Markdown table: per chapter a link to its page, the profiles (page and results when
    they differ), when it was executed, the manifest and the rows read (:func:`rows_text`)."""
    out = ["| Chapter | Profile | Executed (UTC) | Manifest | Rows read |", "|---|---|---|---|---|"]
    for stem, r in basis.iterrows():
        prof = r["page profile"] if r["page profile"] == r["results profile"] else \
            f"page {r['page profile']}, results {r['results profile']}"
        out.append(f"| [ch.&nbsp;{stem[:2]}]({stem}.html \"{stem}\") | {prof} | {r['executed'].removesuffix(' UTC')} | "
                   f"{md_escape(r['manifest'])} | {rows_text(r['rows'])} |")
    return "\n".join(out)


def find_section(page, title_start: str):
    """``(number, title, html id)`` of the first ``## N. Title`` heading (the number optional) of a page's
    Markdown cells whose title starts with ``title_start`` (case-insensitive); None when there is none."""
    for cell in page.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"^## (?:(\d+)\. )?(.+?)\s*$", line)
            if m and m.group(2).lower().startswith(title_start.lower()):
                return m.group(1), m.group(2), make_id(m.group(2))
    return None


class SectionLinks:
    """Markdown links to the sections of the chapter pages; a section that is not found links to the
    chapter's top and is remembered in :attr:`missing` (``"<stem>: '<title start>'"``)."""

    def __init__(self, pages: Mapping):
        self.pages = pages
        self.missing: list[str] = []

    def __call__(self, stem: str, title_start: str) -> str:
        """``[ch. 03 §4](03_rare_node_loss.html#anchor "chapter 03, section 4: Title")``, or the title for an
        unnumbered section, or ``[chapter 03](03_rare_node_loss.html)`` when it is not found."""
        found = find_section(self.pages[stem], title_start)
        if found is None:
            self.missing.append(f"{stem}: {title_start!r}")
            return f"[chapter {stem[:2]}]({stem}.html)"
        number, title, anchor = found
        label = f"ch.&nbsp;{stem[:2]}&nbsp;§{number}" if number else f"ch.&nbsp;{stem[:2]}, {md_escape(title)}"
        return f"[{label}]({stem}.html#{anchor} \"chapter {stem[:2]}, section {number}: {title.replace(chr(34), '')}\")"


def verdict_table(key: str, card: pd.DataFrame, link: SectionLinks, drop_lead: str = "", links: bool = True) -> str:
    """The study's table: claim, statement, verdict with its evidence in short (:func:`one_line`), links
    to the evidence (:data:`EVIDENCE_AT`). ``drop_lead``: a first evidence clause every row shares (stated
    once above the table instead). ``links=False``: no "See" column."""
    head = ("| Claim | Statement | Verdict and evidence, in short |" + " See |" * links + "\n"
            + "|---|---|---|" + "---|" * links + "\n")
    rows = []
    for r in card.itertuples():
        evidence = r.evidence[len(drop_lead):].lstrip("; ") if drop_lead else r.evidence
        lines = [badge(r.verdict)] + [md_escape(line) for line in one_line(evidence)]
        see = ("<br>".join(link(stem, title) for stem, title in EVIDENCE_AT[key][int(r.claim)]) + " |"
               if links else "")
        rows.append(f"| {r.claim} | {md_escape(r.statement)} | {'<br>'.join(lines)} |{' ' + see if see else ''}")
    return head + "\n".join(rows)


def chapter_verdicts(page, key: str) -> dict[int, str]:
    """The verdicts the chapter page showing study ``key``'s scorecard displays, ``{claim: verdict}``:
    for ``rare`` the second column of the HTML table of the cell calling ``scorecard_from_results(``, for
    ``hcal`` the ``verdict:`` lines printed by the cell calling ``verdict_report(``
    (:func:`hmc.book.hcal_pages.verdict_report`); {} when not found."""
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if key == "rare" and "scorecard_from_results(" in cell.source:
                html = out.get("data", {}).get("text/html", "")
                found = re.findall(r'<td id="T_\w+_row(\d+)_col1"[^>]*>([^<]*)</td>', html)
                if found:
                    return {int(row) + 1: v.strip() for row, v in found}
            if key == "hcal" and "verdict_report(" in cell.source:
                found = re.findall(r"^Claim (\d+): .*\n\s+verdict:\s+(.+)$", out.get("text", ""), re.M)
                if found:
                    return {int(c): v.strip() for c, v in found}
    return {}


def agreement(key: str, card: pd.DataFrame, pages: Mapping, link: SectionLinks, basis: pd.DataFrame) -> str:
    """One sentence: whether the scorecard page of study ``key`` shows the same verdicts as ``card``, and
    if not, which claims differ."""
    stem = STUDIES[key]["scorecard_at"][0]
    shown = chapter_verdicts(pages[stem], key)
    where = f"{link(*STUDIES[key]['scorecard_at'])} (page executed {basis.loc[stem, 'executed']})"
    if not shown:
        return f"The verdicts could not be read from {where}."
    ours = {int(r.claim): r.verdict for r in card.itertuples()}
    diff = [f"claim {c}: here {ours.get(c)}, there {shown.get(c)}" for c in sorted(set(ours) | set(shown))
            if ours.get(c) != shown.get(c)]
    if not diff:
        return f"The scorecard of {where} shows the same {len(ours)} verdicts."
    return (f"**These verdicts differ from those of {where}** (its results tables changed after it ran): "
            + "; ".join(diff) + ".")


def full_evidence(card: pd.DataFrame, rules: Mapping[int, str]) -> None:
    """Print every claim of a scorecard with its verdict and, wrapped at 110 characters, its evidence,
    reasons, test, rule, strength and the paper's figure beside ours (empty fields left out)."""
    for r in card.itertuples():
        print(f"Claim {r.claim}: {r.statement}\n  verdict:  {r.verdict}")
        for label, text in (("evidence", r.evidence), ("why", r.reasons), ("test", r.test),
                            ("rule", rules[int(r.claim)]), ("strength", r.strength), ("paper", r.paper),
                            ("ours", r.ours)):
            if text:
                print(textwrap.fill(str(text), width=110, initial_indent=f"  {label + ':':<10}",
                                    subsequent_indent=" " * 12))
        print()


def rare_scorecard(results_root: str | Path, basis: pd.DataFrame) -> pd.DataFrame:
    """The rare-node scorecard (:func:`hmc.scorecard.scorecard`) of the chapters' results tables, each
    under the results profile of its chapter's page; AssertionError when its claims are not
    :data:`hmc.scorecard.CLAIMS` (then :data:`EVIDENCE_AT` needs updating)."""
    from hmc.scorecard import CHAPTER_FILES, CLAIMS, read_chapter_tables, scorecard

    tables = {}
    for table_key, file_name in CHAPTER_FILES.items():
        stem = next(s for s in STUDIES["rare"]["chapters"] if file_name.startswith(s))
        tables[table_key] = read_chapter_tables(results_root, basis.loc[stem, "results profile"])[table_key]
    where = "results/" + "+".join(dict.fromkeys(basis.loc[STUDIES["rare"]["chapters"], "results profile"]))
    card = scorecard(tables, where=where)
    assert list(card.claim) == list(CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"
    return card


def hcal_card(results_root: str | Path, profile: str) -> tuple[pd.DataFrame, str, str]:
    """The HCAL scorecard (:func:`hmc.hcal_evidence.hcal_scorecard`) of chapter 06's results under
    ``profile``, each dataset's test design from that run's manifest, as ``(card, lead, note)``: where
    every claim's evidence starts with the same protocol clause, ``lead`` is that clause and ``note`` a
    sentence naming the model selection per dataset (else both empty). Without a results table every
    claim is "not tested here". AssertionError when the claims are not :data:`HCAL_CLAIMS`."""
    from hmc.claims.headline import hcal_designs
    from hmc.hcal_evidence import HCAL_CLAIMS, HCAL_VERDICT_RULES, hcal_scorecard, verdict_protocols

    results_path = Path(results_root) / profile / "06_hcal.csv"
    history_path = results_path.with_name("06_hcal_history.csv")
    note, lead = "", ""
    if results_path.is_file():
        results = pd.read_csv(results_path)
        history = pd.read_csv(history_path) if history_path.is_file() else None
        design = hcal_designs(results, Path(results_root) / profile / "manifests" / "06_hcal.json")
        card = hcal_scorecard(results, history, design=design)
        firsts = {split_top(e, "; ")[0] for e in card.evidence}
        if len(firsts) == 1 and next(iter(firsts)).startswith("protocol"):
            lead = firsts.pop()
            chosen = verdict_protocols(results)
            per_dataset = (f"the {next(iter(set(chosen.values())))} protocol on every dataset ({', '.join(chosen)})"
                           if len(set(chosen.values())) == 1 else ", ".join(f"{d}: {p}" for d, p in chosen.items()))
            note = f"Model selection for every verdict below: {md_escape(per_dataset)}.\n\n"
    else:
        card = pd.DataFrame([{"claim": k, "statement": s, "verdict": "not tested here", "test": "-", "reasons": "",
                              "evidence": f"results/{profile}/06_hcal.csv not found", "rule": HCAL_VERDICT_RULES[k],
                              "strength": "-", "paper": "-", "ours": "-"}
                             for k, s in HCAL_CLAIMS.items()])
    assert list(card.claim) == list(HCAL_CLAIMS), "the scorecard's claims changed: update EVIDENCE_AT"
    return card, lead, note


def sensitivity_tables(top: pd.DataFrame, results_root: str | Path, hcal_profile: str) -> list:
    """Section 5's tables, styled, in order: rare-node claim 1's buckets, then rare-node claims 1, 4 and
    5 (:func:`hmc.scorecard.rare_sensitivity`), each on the results of its headline basis (``full`` where
    the headline rests on it, else ``quick``); then every HCAL claim
    (:func:`hmc.hcal_evidence.hcal_sensitivity`) on ``results/full`` where it has chapter 06's table,
    else on ``hcal_profile``'s (none when that is missing too)."""
    from hmc.claims.headline import hcal_designs
    from hmc.hcal_evidence import HCAL_CLAIMS, hcal_sensitivity
    from hmc.scorecard import CLAIMS, bucket_table, rare_sensitivity, read_chapter_tables

    results_root = Path(results_root)
    out = []
    headline_profile = {int(r.claim): ("full" if r.basis == "full" else "quick")
                        for r in top[top.study == "rare"].itertuples()}
    tables_for = {p: read_chapter_tables(results_root, p) for p in ("full", "quick")}
    for number in (1, 4, 5):
        prof = headline_profile[number]
        table = rare_sensitivity(tables_for[prof], number, where=f"results/{prof}")
        if number == 1:
            out.append(key_first(bucket_table(tables_for[prof]["03"]))
                       .style.format({"largest finite gain": "{:.2f}"}, na_rep="-").set_caption(f"Rare-node claim 1, every bucket (results/{prof})"))
        out.append(key_first(table, 2).style.set_properties(**{"text-align": "left"})
                   .set_caption(f"Rare-node claim {number}: {CLAIMS[number]} (results/{prof})"))
    source = "full" if (results_root / "full" / "06_hcal.csv").is_file() else hcal_profile
    src = results_root / source / "06_hcal.csv"
    if src.is_file():
        res = pd.read_csv(src)
        hist = src.with_name("06_hcal_history.csv")
        hist = pd.read_csv(hist) if hist.is_file() else None
        design = hcal_designs(res, results_root / source / "manifests" / "06_hcal.json")
        for number in HCAL_CLAIMS:
            out.append(key_first(hcal_sensitivity(res, number, hist, design), 2).style
                       .set_properties(**{"text-align": "left"})
                       .set_caption(f"HCAL claim {number}: {HCAL_CLAIMS[number]} (results/{source})"))
    return out


def verdict_counts(top: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict (columns :data:`hmc.claims.gates.VERDICTS`, then ``claims``), one row per study
    (named by its title) and a last row ``all claims``."""
    from hmc.claims.headline import headline_counts

    counts = pd.DataFrame({STUDIES[k]["title"]: headline_counts(top[top.study == k]) for k in STUDIES}).T
    counts.loc["all claims"] = counts.sum()
    counts["claims"] = counts[list(VERDICTS)].sum(axis=1)
    return counts


def count_glues(counts: pd.DataFrame, top: pd.DataFrame) -> dict:
    """The values the page glues, by name: ``verdicts_<study>_<verdict>`` (study ``rare``, ``hcal`` or
    ``all``; spaces of the verdict as ``_``), ``verdicts_<study>_claims`` and ``verdicts_<study>_basis``
    ("k of n on full results")."""
    out = {}
    for label, key in zip(counts.index, [*STUDIES, "all"], strict=True):
        for v in VERDICTS:
            out[f"verdicts_{key}_{v.replace(' ', '_')}"] = int(counts.loc[label, v])
        out[f"verdicts_{key}_claims"] = int(counts.loc[label, "claims"])
        chosen = top if key == "all" else top[top.study == key]
        out[f"verdicts_{key}_basis"] = f"{int((chosen.basis == 'full').sum())} of {len(chosen)} on full results"
    return out


def counts_figure(counts: pd.DataFrame):
    """Stacked bars of the verdicts per study (the ``all claims`` row left out), each segment labelled
    with its count, in the verdicts' colours; one legend below the panel."""
    fig, ax = plt.subplots(figsize=(WIDTH, 2.4))
    studies = counts.index[:-1]
    left = pd.Series(0, index=studies)
    for v in VERDICTS:
        values = counts.loc[studies, v]
        ax.barh(list(values.index), values, left=left, color=COLOURS[v], edgecolor="#555555", label=f"{SYMBOLS[v]} {v}")
        for y, (x0, n) in enumerate(zip(left, values, strict=True)):
            if n:
                ax.text(x0 + n / 2, y, str(n), ha="center", va="center")
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("claims")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Headline verdicts per study (strongest evidence: full where it exists)")
    fig.tight_layout()
    legend_below(fig, *ax.get_legend_handles_labels(), ncol=3)
    return fig


def counts_summary(counts: pd.DataFrame) -> str:
    """One bullet per row of :func:`verdict_counts`: the non-zero verdicts and the number of claims."""
    lines = []
    for label in counts.index:
        parts = [f"{int(counts.loc[label, v])} {v}" for v in VERDICTS if counts.loc[label, v]]
        lines.append(f"- {label}: " + ", ".join(parts) + f" (of {int(counts.loc[label, 'claims'])})")
    return "\n".join(lines)
