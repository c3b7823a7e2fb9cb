"""Evidence for the rare-node paper's claim 6 and the vision half of claim 5, from chapter 07's results table.

Chapter 07 (``notebooks/07_rare_nodes_images.py``) writes the tidy rows of
:func:`hmc.runs.stress_sweep.run_stress_sweep`: one row per (condition, method, seed, metric), the
condition's dataset (``data``), encoder degradation (``degradation``) and training fraction
(``fraction``) in their own columns. The functions here turn them into the chapter's curves and
tables and into the verdicts, so that the chapter and the verdicts page read the same numbers:

- :func:`method_roles`: which method of the table plays the baseline, the imbalance weighting, the
  focal loss and LPROS with weights (names parsed with :func:`hmc.rare_nodes.rare_config`);
- :func:`stress_curves`: per stress test, the value of a metric at each level of the stress, per
  method and seed (the degradation test is ``f = 1``, the fraction test ``a = 0``; both hold the cell
  ``a = 0, f = 1``);
- :func:`bucket_recall`: mean and std over seeds of the recall per training-frequency bucket;
- :func:`claims_evidence_07`: one row per claim with its verdict, evidence and reasons.

The verdict rules, fixed before any number was seen (macro F1 = the paper's average over all nodes
at threshold 0.5; alpha = 0.05; paired one-sided Wilcoxon signed-rank tests over seeds,
Holm-corrected within a family, :func:`hmc.stats.paired_wilcoxon`):

- **Claim 6** ("the loss helps convolutional networks when the encoder is suboptimal or the data are
  limited"). One part per dataset and stress test: *degraded encoder* (every ``a > 0`` at ``f = 1``)
  and *limited data* (every ``f < 1`` at ``a = 0``). A part holds when the focal loss (bbma, k = 1,
  with the imbalance weights: the paper's loss) has a significantly higher macro F1 than the baseline
  heads at more than half of the stressed levels (family: the levels of that test). Reproduced when
  every part holds, partly when some do, not reproduced when none does.
- **Claim 5, vision half** ("weighted loss + LPROS ... was worse on the vision dataset"). One part
  per dataset, at ``a = 0, f = 1``: LPROS with the weighted loss has a significantly lower macro F1
  than the same weighted loss without LPROS (family: the datasets). Same combination.

Each part carries the decidability gates of :mod:`hmc.claims.gates`; a fired gate leaves the part
undecided and the claim reads "inconclusive" unless every outcome of the undecided parts gives the
same verdict: **budget** (the paper's 20 epochs and 20 heads, on real data), **significance** (the
seeds can reach p < alpha after Holm at all), **baseline** (the reference's macro F1 is not 0 at any
compared level) and **chance** (the reference's accuracy at the finest level, at ``a = 0, f = 1``, is
above chance by a one-sided binomial test over the test images).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hmc.rare_nodes import rare_config
from hmc.stats import paired_wilcoxon

__all__ = [
    "ALPHA",
    "CLAIMS_07",
    "EVIDENCE_COLUMNS",
    "PAPER_EPOCHS",
    "PAPER_HEADS",
    "ROLES",
    "method_roles",
    "finest_level",
    "stress_curves",
    "bucket_recall",
    "claims_evidence_07",
]

ALPHA = 0.05
F1 = "macro_f1"
PAPER_EPOCHS = 20
PAPER_HEADS = 20
PAPER_SEEDS = 10
ROLES = ("baseline", "imbalance", "focal", "lpros+weights")
"""The chapter's method roles, in the order the figures show them."""
CLAIMS_07 = {
    "6": "The loss helps convolutional networks when the encoder is suboptimal or the data are limited.",
    "5 (vision half)": "Weighted loss + LPROS is best on the gene-product datasets, but was worse on the vision "
                       "dataset.",
}
EVIDENCE_COLUMNS = ("claim", "statement", "verdict", "rule_verdict", "evidence", "reason", "rule")


def method_roles(table: pd.DataFrame) -> dict[str, str]:
    """Role -> method name present in ``table`` (largest number of heads when several are present).

    ``baseline``: plain MCLoss without LPROS; ``imbalance``: imbalance weights, no focal term, no
    LPROS; ``focal``: focal loss with weights, measure bbma; ``lpros+weights``: LPROS with a weighted
    loss. Roles without a method are left out.
    """
    found: dict[str, list[tuple[int, str]]] = {}
    for name in pd.unique(table["method"]) if len(table) else []:
        try:
            c = rare_config(str(name))
        except ValueError:
            continue
        if c.lpros and c.has_weights:
            role = "lpros+weights"
        elif c.lpros:
            continue
        elif c.loss == "plain":
            role = "baseline"
        elif c.loss == "imbalance" and c.schedule is None and c.mixed_lambda is None:
            role = "imbalance"
        elif c.loss == "focal" and c.weighted and c.measure == "bbma":
            role = "focal"
        else:
            continue
        found.setdefault(role, []).append((c.n_members, str(name)))
    return {role: max(found[role])[1] for role in ROLES if role in found}


def finest_level(table: pd.DataFrame) -> str | None:
    """The finest level's name: the ``acc_<level>`` whose ``chance_<level>`` is smallest (most classes)."""
    chance = table[table.metric.str.startswith("chance_")]
    if chance.empty:
        return None
    return str(chance.groupby("metric").value.mean().idxmin()).removeprefix("chance_")


def _role_table(table: pd.DataFrame) -> pd.DataFrame:
    roles = method_roles(table)
    names = {v: k for k, v in roles.items()}
    t = table[table.method.isin(list(names))].copy()
    t["role"] = t.method.map(names)
    return t


def stress_curves(table: pd.DataFrame, metric: str = F1) -> pd.DataFrame:
    """Per stress test, a metric against the stress level: columns ``data, test, level, role, method, seed, value``.

    ``test`` is ``"degradation"`` (level = a, rows with f = 1) or ``"fraction"`` (level = f, rows
    with a = 0); the cell a = 0, f = 1 appears in both.
    """
    t = _role_table(table)
    t = t[t.metric == metric]
    deg = t[t.fraction == 1].assign(test="degradation", level=lambda d: d.degradation)
    frac = t[t.degradation == 0].assign(test="fraction", level=lambda d: d.fraction)
    cols = ["data", "test", "level", "role", "method", "seed", "value"]
    return pd.concat([deg, frac], ignore_index=True)[cols]


def bucket_recall(table: pd.DataFrame, degradation: float = 0.0, fraction: float = 1.0) -> pd.DataFrame:
    """Recall per training-frequency bucket at one condition: ``data, role, bucket, mean, std, seeds``."""
    t = _role_table(table)
    t = t[(t.degradation == degradation) & (t.fraction == fraction) & t.metric.str.startswith("recall@freq=")]
    if t.empty:
        return pd.DataFrame(columns=["data", "role", "bucket", "mean", "std", "seeds"])
    t = t.assign(bucket=t.metric.str.removeprefix("recall@freq="))
    out = t.groupby(["data", "role", "bucket"], sort=False).value.agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"count": "seeds"})


# ------------------------------------------------------------------------------------- verdicts
def _cell(table: pd.DataFrame, data: str, a: float, f: float, metric: str) -> pd.DataFrame:
    return table[(table.data == data) & (table.degradation == a) & (table.fraction == f) & (table.metric == metric)]


def _budget_gate(table: pd.DataFrame, methods: Sequence[str]):
    from hmc.claims.gates import Budget, Gate, Requirement, budget_gate

    units = table[table.method.isin(list(methods))].drop_duplicates(["dataset", "method", "seed"])
    if units.empty:
        return Gate("budget", False, "no unit to score")
    seeds = units.groupby(["dataset", "method"]).seed.nunique()
    epochs = units.epochs.astype(int)
    budget = Budget(datasets=tuple(str(d) for d in pd.unique(units.data)), seeds=(int(seeds.min()), int(seeds.max())),
                    paper_seeds=PAPER_SEEDS, epochs=(int(epochs.min()), int(epochs.max())),
                    epoch_share=(epochs.min() / PAPER_EPOCHS, epochs.max() / PAPER_EPOCHS),
                    paper=f"{PAPER_EPOCHS} epochs, {PAPER_HEADS} heads (the paper's vision setting)")
    gate = budget_gate(budget, Requirement(min_epoch_share=1.0, real_data=True), "trained models scored")
    heads = int(units.n_heads.astype(int).min())
    if heads < PAPER_HEADS:
        reason = f"{heads} heads, under the paper's {PAPER_HEADS}"
        text = f"{gate.reason}; {reason}" if not gate.passed else f"trained models scored: {reason}"
        return Gate("budget", False, text)
    return gate


def _chance_gate(table: pd.DataFrame, data: str, method: str, level: str | None, role: str):
    from hmc.claims.gates import Gate, chance_gate

    if level is None:
        return Gate("chance", False, f"{data}: no accuracy rows to compare with chance")
    ref = table[(table.method == method)]
    acc = _cell(ref, data, 0.0, 1.0, f"acc_{level}").value
    chance = _cell(ref, data, 0.0, 1.0, f"chance_{level}").value
    n_test = _cell(ref, data, 0.0, 1.0, "n_test").value
    if acc.empty or chance.empty or n_test.empty:
        return Gate("chance", False, f"{data}: the {role} has no accuracy at a = 0, f = 1")
    return chance_gate(float(acc.mean()), int(n_test.iloc[0]), float(chance.mean()), ALPHA,
                       f"{data}, {role} ({method}), {level} accuracy at a = 0, f = 1 (seed mean)")


def _paired(table: pd.DataFrame, data: str, a: float, f: float, method: str, reference: str,
            alternative: str) -> dict:
    cell = _cell(table[table.method.isin([method, reference])], data, a, f, F1)
    out = {"n": 0, "mean_diff": np.nan, "p": np.nan, "method": np.nan, "reference": np.nan}
    if cell.empty or cell.method.nunique() < 2:
        return out
    res = paired_wilcoxon(cell[["seed", "method", "value"]], reference, [method], alternative=alternative)
    row = res.loc[method]
    means = cell.groupby("method").value.mean()
    return {"n": int(row.n), "mean_diff": float(row.mean_diff), "p": float(row.p),
            "method": float(means.get(method, np.nan)), "reference": float(means.get(reference, np.nan))}


def _holm(pvalues: list[float]) -> list[float]:
    from hmc.stats import holm

    return list(holm(np.asarray(pvalues, dtype=np.float64))) if pvalues else []


def _stress_part(table, data, test, levels, roles, level_name):
    """One part of claim 6: focal vs baseline at every stressed level of one test on one dataset."""
    from hmc.claims.gates import Part, nonzero_gate, significance_gate

    focal, base = roles["focal"], roles["baseline"]
    cells = [(a, 1.0) for a in levels] if test == "degradation" else [(0.0, f) for f in levels]
    label = "degraded encoder" if test == "degradation" else "limited data"
    symbol = "a" if test == "degradation" else "f"
    stats = [_paired(table, data, a, f, focal, base, "greater") for a, f in cells]
    p_holm = _holm([s["p"] for s in stats])
    n = min((s["n"] for s in stats), default=0)
    sig = sum(1 for p in p_holm if np.isfinite(p) and p < ALPHA)
    texts = [f"{symbol}={a if test == 'degradation' else f:g}: {s['method']:.4f} vs {s['reference']:.4f} "
             f"({s['mean_diff']:+.4f}, n={s['n']}, p_holm={p:.3g})" for (a, f), s, p in zip(cells, stats, p_holm)]
    gates = (
        _budget_gate(table[table.data == data], [focal, base]),
        significance_gate(n, len(cells), ALPHA, f"{data}, {label}"),
        nonzero_gate({f"{symbol}={a if test == 'degradation' else f:g}": s["reference"] for (a, f), s in
                      zip(cells, stats)}, f"{data}: the baseline's macro F1 ({base})"),
        _chance_gate(table, data, base, level_name, "baseline"),
    )
    holds = bool(2 * sig > len(cells)) if n > 0 else None
    evidence = (f"{data}, {label}: macro F1 of {focal} vs {base}, seed means; significantly higher at {sig} of "
                f"{len(cells)} levels: " + "; ".join(texts))
    return Part(f"{data}: {label}", holds, evidence, gates)


def _claim6(table: pd.DataFrame, roles: dict[str, str], level_name: str | None) -> list:
    from hmc.claims.gates import Part

    if "focal" not in roles or "baseline" not in roles:
        return [Part("degraded encoder", None, "chapter 07 has no focal (bbma) and baseline methods"),
                Part("limited data", None, "")]
    parts = []
    for data in pd.unique(table.data):
        t = table[table.data == data]
        degradations = sorted(a for a in pd.unique(t[t.fraction == 1].degradation) if a > 0)
        fractions = sorted((f for f in pd.unique(t[t.degradation == 0].fraction) if f < 1), reverse=True)
        for test, levels in (("degradation", degradations), ("fraction", fractions)):
            if levels:
                parts.append(_stress_part(table, str(data), test, levels, roles, level_name))
            else:
                parts.append(Part(f"{data}: {test}", None, f"{data}: no stressed level of the {test} test"))
    return parts


def _claim5(table: pd.DataFrame, roles: dict[str, str], level_name: str | None) -> list:
    from hmc.claims.gates import Part, nonzero_gate, significance_gate

    if "lpros+weights" not in roles or "imbalance" not in roles:
        return [Part("LPROS", None, "chapter 07 has no LPROS + weighted loss next to the weighted loss alone")]
    target, ref = roles["lpros+weights"], roles["imbalance"]
    datasets = [str(d) for d in pd.unique(table.data)]
    stats = [_paired(table, d, 0.0, 1.0, target, ref, "less") for d in datasets]
    p_holm = _holm([s["p"] for s in stats])
    parts = []
    for d, s, p in zip(datasets, stats, p_holm):
        gates = (
            _budget_gate(table[table.data == d], [target, ref]),
            significance_gate(s["n"], len(datasets), ALPHA, f"{d}, LPROS"),
            nonzero_gate({"a=0, f=1": s["reference"]}, f"{d}: the weighted loss's macro F1 ({ref})"),
            _chance_gate(table, d, ref, level_name, "weighted loss"),
        )
        holds = bool(np.isfinite(p) and p < ALPHA) if s["n"] > 0 else None
        evidence = (f"{d}, a = 0, f = 1: macro F1 of {target} {s['method']:.4f} vs {ref} {s['reference']:.4f} "
                    f"({s['mean_diff']:+.4f}, n={s['n']}, one-sided p_holm={p:.3g})")
        parts.append(Part(f"{d}: LPROS", holds, evidence, gates))
    return parts


RULES_07 = {
    "6": "per dataset and stress test, the focal loss's macro F1 significantly above the baseline heads' "
         "(one-sided Wilcoxon over seeds, Holm over the test's stressed levels, alpha 0.05) at more than half of "
         "the stressed levels; every part: reproduced, some: partly, none: not reproduced",
    "5 (vision half)": "per image dataset at a = 0, f = 1, LPROS + weighted loss significantly below the weighted "
                       "loss alone in macro F1 (one-sided Wilcoxon over seeds, Holm over datasets, alpha 0.05); "
                       "every dataset: reproduced, some: partly, none: not reproduced",
}


def claim_parts_07(table: pd.DataFrame | None, claim: str) -> list:
    """The rule parts (:class:`hmc.claims.gates.Part`, with their gates) of ``claim`` (``"6"`` or
    ``"5 (vision half)"``) from chapter 07's tidy table; the rare-node scorecard uses them for claim 6."""
    from hmc.claims.gates import Part

    needed = {"data", "degradation", "fraction", "method", "seed", "metric", "value"}
    if table is None or not len(table) or not needed <= set(table.columns):
        return [Part("results", None, "no chapter 07 results")]
    t = table.copy()
    t["degradation"] = t.degradation.astype(float)
    t["fraction"] = t.fraction.astype(float)
    build = {"6": _claim6, "5 (vision half)": _claim5}[claim]
    return build(t, method_roles(t), finest_level(t))


def claims_evidence_07(table: pd.DataFrame) -> pd.DataFrame:
    """Claim 6 and claim 5's vision half from chapter 07's tidy table: one row per claim.

    Columns :data:`EVIDENCE_COLUMNS`: ``claim`` (``"6"``, ``"5 (vision half)"``), ``statement``,
    ``verdict`` (reproduced / partly / not reproduced / inconclusive / not tested here, with the
    gates), ``rule_verdict`` (the rule alone, gates ignored), ``evidence`` (the numbers in words, one
    sentence per part), ``reason`` (the fired gates in words; empty when the verdict is decided) and
    ``rule``. The rules and gates are in the module docstring. An empty table gives "not tested here".
    """
    from hmc.claims.gates import fired_reasons, rule_verdict, verdict

    rows = []
    for claim in ("6", "5 (vision half)"):
        parts = claim_parts_07(table, claim)
        v = verdict(parts)
        reasons = fired_reasons(parts)
        if v == "not tested here":
            reasons = [p.evidence for p in parts if p.evidence] or ["no chapter 07 results"]
        rows.append({"claim": claim, "statement": CLAIMS_07[claim], "verdict": v, "rule_verdict": rule_verdict(parts),
                     "evidence": " | ".join(p.evidence for p in parts if p.evidence),
                     "reason": "; ".join(reasons),
                     "rule": RULES_07[claim]})
    return pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))
