"""The headline: each claim's verdict from the strongest evidence it has, the counts, and the findings.

:func:`headline` gives one row per claim of both papers, from the ``full`` results where the claim's
chapters have any (with how much of the full design they cover, :func:`design_coverage`), else from
the ``quick`` results, which are a check that the pipeline runs and decide nothing: such a claim reads
"inconclusive" with that reason (or "not tested here" when even the quick run has no evidence).
:func:`findings` turns the headline and chapter 02's reproduction of C-HMCNN
(:func:`chmcnn_reproduction`) into the five lines the introduction opens with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from hmc.claims.design import image_design_from_parameters
from hmc.claims.gates import DECIDED, VERDICTS

__all__ = ["HEADLINE_COLUMNS", "QUICK_REASON", "chmcnn_reproduction", "design_coverage", "findings", "headline",
           "go_macro_f1", "headline_counts", "hcal_designs"]

QUICK_REASON = ("only the quick run: a check that the pipeline runs (about 1% of the paper's epochs, few seeds), "
                "not evidence; the full design has no results for this claim yet")
HEADLINE_COLUMNS = ("study", "claim", "statement", "verdict", "basis", "coverage", "reasons", "rule_verdict",
                    "data", "seeds", "epochs", "min_p", "effect", "estimate", "ci_low", "ci_high", "ci_over",
                    "paper", "ours", "evidence")
WITHIN = 0.01
"""Chapter 02's tolerance for a reproduced AU(PRC) (the published values have three decimals)."""
RARE_CHAPTERS = {1: ("03",), 2: ("03", "04"), 3: ("05",), 4: ("04", "04_cost"), 5: ("05",), 6: ()}
CHAPTER_STEMS = {"02": "02_chmcnn_reproduction", "03": "03_rare_node_loss", "04": "04_ensembles_and_dropout",
                 "05": "05_schedules_and_resampling"}


def _table(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() and path.stat().st_size > 0 else None


def design_coverage(results_dir: str | Path = "results") -> pd.DataFrame:
    """Per chapter, the units of the ``full`` design (the campaign's queue; chapter 06: its full profile) and
    how many ``results/full/`` holds. Columns ``chapter, done, designed, share``."""
    from hmc.runs.campaign import build_queue

    designed: dict[str, set] = {}
    for item in build_queue():
        key = item.chapter[:2]
        designed.setdefault(key, set()).update((item.dataset, item.method, s) for s in item.seeds)
    from hmc.image_train import METHOD_LABELS
    from hmc.profiles import profile_parameters

    full06 = profile_parameters("06_hcal", "full")
    designed["06"] = {(d, m, s) for d in full06["datasets"] for m in METHOD_LABELS for s in range(full06["n_seeds"])}
    rows = []
    for key in sorted(designed):
        stem = CHAPTER_STEMS.get(key, "06_hcal")
        t = _table(Path(results_dir) / "full" / f"{stem}.csv")
        have = set(zip(t.dataset, t.method, t.seed.astype(int))) if t is not None else set()
        done = len(designed[key] & have)
        rows.append({"chapter": key, "done": done, "designed": len(designed[key]),
                     "share": done / len(designed[key]) if designed[key] else 0.0})
    return pd.DataFrame(rows, columns=["chapter", "done", "designed", "share"])


def hcal_designs(results: pd.DataFrame, manifest: str | Path | None) -> dict:
    """Chapter 06's design per dataset of ``results`` from its run's manifest parameters (the chapter's
    defaults where the manifest is missing)."""
    params = {}
    if manifest is not None and Path(manifest).is_file():
        params = json.loads(Path(manifest).read_text()).get("parameters", {})
    out = {}
    for d in pd.unique(results["dataset"]):
        design = image_design_from_parameters(str(d), params)
        if design is not None:
            out[str(d)] = design
    return out


def _coverage_text(cov: pd.DataFrame, chapters) -> str:
    rows = cov[cov.chapter.isin([c[:2] for c in chapters])]
    return "; ".join(f"chapter {r.chapter}: {r.done} of {r.designed} units of the full design ({r.share:.0%})"
                     for r in rows.itertuples())


def headline(results_dir: str | Path = "results") -> pd.DataFrame:
    """Every claim's verdict from its strongest evidence: ``full`` where its chapters have results, else ``quick``.

    A claim resting on ``quick`` only is "inconclusive" with :data:`QUICK_REASON` (``quick`` decides no
    claim), unless the quick run has no evidence either ("not tested here"). Columns :data:`HEADLINE_COLUMNS`.
    """
    from hmc import hcal_evidence, scorecard

    results_dir = Path(results_dir)
    cov = design_coverage(results_dir)
    full = scorecard.read_chapter_tables(results_dir, "full")
    quick = scorecard.read_chapter_tables(results_dir, "quick")
    rows = []
    for claim in scorecard.CLAIMS:
        chapters = RARE_CHAPTERS[claim]
        has_full = any(full.get(c) is not None for c in chapters)
        profile = "full" if has_full else "quick"
        row = scorecard.claim_outcome(full if has_full else quick, claim, where=str(results_dir / profile))
        rows.append(_headline_row("rare", row, profile, _coverage_text(cov, chapters) if chapters else "-"))
    for profile in ("full", "quick"):
        path = results_dir / profile / "06_hcal.csv"
        results = _table(path)
        if results is None:
            continue
        history = _table(path.with_name("06_hcal_history.csv"))
        design = hcal_designs(results, results_dir / profile / "manifests" / "06_hcal.json")
        card = hcal_evidence.hcal_scorecard(results, history, design=design)
        for row in card.to_dict("records"):
            rows.append(_headline_row("hcal", row, profile, _coverage_text(cov, ["06"])))
        break
    else:
        for k, statement in hcal_evidence.HCAL_CLAIMS.items():
            rows.append({"study": "hcal", "claim": k, "statement": statement, "verdict": "not tested here",
                         "basis": "-", "coverage": "-", "reasons": "", "evidence": "no results of chapter 06"})
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def _headline_row(study: str, row: Mapping, profile: str, coverage: str) -> dict:
    out = {k: row.get(k) for k in HEADLINE_COLUMNS if k in row}
    out.update({"study": study, "basis": "full" if profile == "full" else "quick (pipeline check)",
                "coverage": coverage if profile == "full" else "no full results"})
    if profile != "full" and row["verdict"] != "not tested here":
        out["verdict"] = "inconclusive"
        out["reasons"] = QUICK_REASON + (f"; the quick run's own gates: {row['reasons']}" if row.get("reasons") else "")
    return out


def headline_counts(table: pd.DataFrame) -> pd.Series:
    """Claims per verdict (every verdict of :data:`VERDICTS`, zeros included)."""
    return table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


def chmcnn_reproduction(results_dir: str | Path = "results") -> dict | None:
    """Chapter 02 under ``full``: per dataset the mean AU(PRC) over seeds against C-HMCNN's published value.

    Returns ``datasets``, ``within`` (how many are within :data:`WITHIN`), ``max_abs_diff``, ``seeds`` (the
    fewest seeds of a dataset), or None without results.
    """
    from hmc.published import PUBLISHED_AUPRC

    t = _table(Path(results_dir) / "full" / "02_chmcnn_reproduction.csv")
    if t is None:
        return None
    t = t[(t.metric == "au_prc") & (t.method == "chmcnn") & t.dataset.isin(list(PUBLISHED_AUPRC))]
    if t.empty:
        return None
    g = t.groupby("dataset").agg(mean=("value", "mean"), seeds=("seed", "nunique"))
    diff = (g["mean"] - pd.Series({d: PUBLISHED_AUPRC[d][0] for d in g.index})).abs()
    return {"datasets": len(g), "within": int((diff <= WITHIN).sum()), "max_abs_diff": float(diff.max()),
            "seeds": int(g.seeds.min())}


_SHORT = {"budget": "a budget below the rule's minimum of epochs, seeds or real data",
          "significance": "too few seeds for any significant result",
          "baseline": "a baseline that scores 0 where it is compared", "design": "too few datasets or measures for the test",
          "chance": "accuracies at chance", "resolution": "differences of at most one test sample"}


def _why(row: Mapping) -> str:
    reasons = str(row.get("reasons") or "")
    if reasons.startswith(QUICK_REASON[:20]):
        return "only the quick pipeline check"
    names = list(dict.fromkeys(re.findall(r"(?:^|; )(?:\([a-z]\) )?(budget|significance|baseline|design|chance|"
                                          r"resolution)\b", reasons)))
    return ", ".join(_SHORT[n] for n in names) or "parts without results"


def _label(study: str) -> str:
    return "rare-node" if study == "rare" else "HCAL"


def _claims(rows) -> str:
    by: dict[str, list[int]] = {}
    for r in rows:
        by.setdefault(_label(r["study"]), []).append(int(r["claim"]))
    return "; ".join(f"{s} {', '.join(map(str, ks))}" for s, ks in by.items())


def findings(table: pd.DataFrame, results_dir: str | Path = "results") -> list[str]:
    """Five lines for the introduction: reproduced at the paper's protocol, decided, inconclusive (why), not
    tested, and what the quick pages are; from :func:`headline` and :func:`chmcnn_reproduction`."""
    lines = []
    ch = chmcnn_reproduction(results_dir)
    if ch:
        lines.append(f"Reproduced at the paper's protocol: C-HMCNN's AU(PRC) on {ch['within']} of {ch['datasets']} "
                     f"datasets within {WITHIN} of the published values (largest difference {ch['max_abs_diff']:.4f}), "
                     f"{ch['seeds']} seeds each.")
    else:
        lines.append("Reproduced at the paper's protocol: nothing yet (chapter 02 has no full results).")
    records = table.to_dict("records")
    decided = [r for r in records if r["verdict"] in DECIDED]
    total = len(records)
    if decided:
        lines.append(f"Decided: {len(decided)} of {total} claims: "
                     + "; ".join(f"{_label(r['study'])} {r['claim']} {r['verdict']}" for r in decided) + ".")
    else:
        lines.append(f"Decided: none of the {total} claims of the two papers yet.")
    undecided = [r for r in records if r["verdict"] == "inconclusive"]
    if undecided:
        groups: dict[str, list] = {}
        for r in undecided:
            groups.setdefault(_why(r), []).append(r)
        lines.append(f"Inconclusive: {len(undecided)} of {total} claims: "
                     + "; ".join(f"{_claims(rs)} ({why})" for why, rs in groups.items()) + ".")
    else:
        lines.append("Inconclusive: none.")
    untested = [r for r in records if r["verdict"] == "not tested here"]
    lines.append(f"Not tested here: {_claims(untested)} (no results its scorecard reads)." if untested
                 else "Not tested here: none.")
    cov = design_coverage(results_dir)
    share = cov.done.sum() / cov.designed.sum() if cov.designed.sum() else 0.0
    lines.append(f"The full design is {share:.0%} run ({', '.join(f'ch. {r.chapter} {r.done}/{r.designed}' for r in cov.itertuples())} "
                 "units); the quick pages are checks that the pipeline runs, not verdicts.")
    return lines


def go_macro_f1(results_dir: str | Path = "results") -> pd.DataFrame:
    """The rare-node paper's public GO macro-F1 values (%) beside the study's under ``full``.

    One row per dataset of :data:`hmc.published.GO_MACRO_F1_LEADERBOARD`: the leaderboard's value
    (method and seed unknown) and, where chapter 03's ``full`` results have the dataset, the seed-mean
    macro F1 (%) of the baseline and of the best focal method, with the seeds behind them.
    """
    from hmc.published import GO_MACRO_F1_LEADERBOARD

    t = _table(Path(results_dir) / "full" / "03_rare_node_loss.csv")
    rows = []
    for dataset, value in GO_MACRO_F1_LEADERBOARD.items():
        row = {"dataset": dataset, "leaderboard (%)": value, "ours: baseline (%)": float("nan"),
               "ours: best focal (%)": float("nan"), "best focal method": "-", "seeds": 0}
        if t is not None:
            f1 = t[(t.dataset == dataset) & (t.metric == "macro_f1")]
            if len(f1):
                means = f1.groupby("method")["value"].mean() * 100
                focal = means[[m for m in means.index if str(m).startswith("focal-")]]
                base = [m for m in means.index if str(m).startswith("baseline")]
                row.update({"ours: baseline (%)": float(means[base[0]]) if base else float("nan"),
                            "ours: best focal (%)": float(focal.max()) if len(focal) else float("nan"),
                            "best focal method": str(focal.idxmax()) if len(focal) else "-",
                            "seeds": int(f1.seed.nunique())})
        rows.append(row)
    return pd.DataFrame(rows)
