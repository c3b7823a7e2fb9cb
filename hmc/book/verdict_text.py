"""Markdown of the verdicts page (80): escaping, shortening a scorecard's evidence to one line per part,
verdict badges, and the headline and registry tables.

Pure text: every function takes strings, records or DataFrames and returns a string (or lines); the
page (:mod:`hmc.book.verdict_pages`) adds the links to the chapter pages and displays them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

COLOURS = {"reproduced": "#c7e9c0", "partly": "#fdd0a2", "not reproduced": "#fcbba1", "inconclusive": "#d9d9d9",
           "not tested here": "#f4f4f4"}
"""Background colour of each verdict's badge and bar."""
SYMBOLS = {"reproduced": "✔", "partly": "◐", "not reproduced": "✘", "inconclusive": "?", "not tested here": "○"}
"""The symbol in front of each verdict."""
STUDY_TITLES = {"rare": "rare-node", "hcal": "HCAL"}
"""How a study's claims are named in the tables ("rare-node 3", "HCAL 1")."""

PART = re.compile(r"^\(([a-z])\) (?:(holds|fails|n/a|undecided(?: \(by the numbers it (?:holds|fails)\))?): )?")
"""The start of a part of a scorecard's evidence: ``(a) holds: ``, ``(b) `` ... (letter, mark)."""


def md_escape(text) -> str:
    """``text`` with Markdown's special characters (``\\ ` * _ | < > [ ] #``) backslash-escaped."""
    return re.sub(r"([\\`*_|<>\[\]#])", r"\\\1", str(text))


def split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses and brackets (an unmatched closing one is ignored)."""
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


def shorten(text: str, limit: int = 120) -> str:
    """At most about ``limit`` characters, cut at a space and before a parenthesis the cut would leave
    open, trailing ``,;:`` dropped and `` …`` added; a text within the limit is only stripped."""
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


def one_line(evidence: str) -> list[str]:
    """The scorecard's evidence in short, one line per part ((a), (b), ...).

    The clauses (split at ``"; "``) before the first part are kept whole when together they are at most
    160 characters, else up to the first listing (cut at its colon, at most about 160 characters each);
    a part marked holds/fails/undecided/n/a keeps its first clause, an unmarked one its first clause up to
    a listing; each part at most about 120 characters (:func:`shorten`).
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


def badge(verdict: str) -> str:
    """An inline HTML badge: the verdict's symbol and name on its colour (white and ``?`` when unknown)."""
    return (f'<span style="background-color: {COLOURS.get(verdict, "#ffffff")}; padding: 0.1em 0.4em; '
            f'border-radius: 0.3em; white-space: nowrap">{SYMBOLS.get(verdict, "?")} {verdict}</span>')


def fmt_p(x) -> str:
    """A p-value at three significant digits; ``-`` for None or NaN."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def strength_cell(r: Mapping) -> str:
    """A headline row's strength in a few ``<br>``-separated lines: its data, seeds and epochs, the
    smallest attainable p and, where there is an estimate, the effect with its interval; ``-`` when the
    row has no effect or no data."""
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


def headline_table(table: pd.DataFrame) -> str:
    """The headline (:func:`hmc.claims.headline.headline`) as a Markdown table: claim, statement, the
    verdict's badge with its basis, coverage (full basis only) and reasons, the strength
    (:func:`strength_cell`) and the paper's figure beside ours."""
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


def rows_text(rows: Mapping[str, int | None]) -> str:
    """The rows read per table: ``'2430'`` for one table; ``'810 + 6 (cost)'`` with a second one (named
    by the last ``_`` part of its file's stem); ``'missing'`` for an absent one."""
    parts = []
    for name, n in rows.items():
        extra = Path(name).stem.rsplit("_", 1)[-1]
        parts.append(("missing" if n is None else str(n)) + ("" if not parts else f" ({extra})"))
    return " + ".join(parts)


def findings_markdown(lines: Iterable[str]) -> str:
    """The findings as a numbered list under a bold heading naming their glue keys."""
    lines = list(lines)
    return ("**Findings** (glued into the introduction as `findings_1` to `findings_5`):\n\n"
            + "\n".join(f"{i}. {md_escape(line)}" for i, line in enumerate(lines, start=1)))


def registry_table(claims: Iterable, gates: Mapping[str, str]) -> str:
    """Every claim of the registry with its gates, whether section 5 has its sensitivity table and the
    paper's figure, then each gate's meaning as a bullet list."""
    rows = ["| Claim | Gates | Sensitivity table | Paper's figure |", "|---|---|---|---|"]
    for c in claims:
        rows.append(f"| {STUDY_TITLES[c.study]} {c.number} | {', '.join(c.gates) or '-'} | "
                    f"{'section 5' if c.sensitivity is not None else '-'} | {md_escape(c.paper) if c.paper else '-'} |")
    return "\n".join(rows) + "\n\n" + "\n".join(f"- **{name}**: {md_escape(text)}" for name, text in gates.items())
