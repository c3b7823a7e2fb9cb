"""The claims of both papers as data: statement, evidence function, rule, gates, the paper's figure.

One :class:`Claim` per claim of the rare-node paper (``hmc.scorecard``) and of HCAL
(``hmc.hcal_evidence``): its statement and rule (the texts those modules fix), the function that
computes its scorecard row from the results (``evidence``), the one that recomputes its verdict under
the study's free choices (``sensitivity``, where the claim has choices that decide it), the gates its
rule applies (:mod:`hmc.claims.gates`), the chapters whose results it reads and the paper's own figure
(:mod:`hmc.published`). :func:`claims_table` lists them all; the verdicts page shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from hmc import hcal_evidence, scorecard
from hmc.published import PaperFigure, paper_figure

__all__ = ["Claim", "CLAIMS", "claims_table", "GATES"]

GATES: dict[str, str] = {
    "budget": "the run's budget against the paper's (epochs, seeds, real data) meets the rule's minimum",
    "baseline": "the compared metric of the reference of the comparison is not 0",
    "significance": "the smallest Holm-adjusted p the design can reach is below alpha",
    "design": "the design is large enough for the test at all (Friedman: 2 datasets x 3 measures)",
    "chance": "both methods' accuracy is above chance by a binomial test over the test set",
    "resolution": "the difference is more than one test sample",
}
"""Every gate a rule may apply, in words."""


@dataclass(frozen=True)
class Claim:
    """One claim: ``evidence(inputs, **options)`` gives its scorecard row; ``sensitivity(inputs)`` its table."""

    study: str
    number: int
    statement: str
    rule: str
    gates: tuple[str, ...]
    chapters: tuple[str, ...]
    evidence: Callable[..., dict]
    sensitivity: Callable[..., pd.DataFrame] | None
    paper: PaperFigure | None

    @property
    def key(self) -> str:
        return f"{self.study}-{self.number}"


def _rare(number: int, gates: tuple[str, ...], chapters: tuple[str, ...], sensitive: bool) -> Claim:
    def evidence(tables, **options):
        return scorecard.claim_outcome(tables, number, **options)

    def sensitivity(tables, **options):
        return scorecard.rare_sensitivity(tables, number, **options)

    return Claim("rare", number, scorecard.CLAIMS[number], scorecard.VERDICT_RULES[number], gates, chapters,
                 evidence, sensitivity if sensitive else None, paper_figure("rare", number))


def _hcal(number: int, gates: tuple[str, ...]) -> Claim:
    def evidence(results, history=None, design=None, **options):
        return hcal_evidence.hcal_claim(results, number, history, design=design, **options)

    def sensitivity(results, history=None, design=None):
        return hcal_evidence.hcal_sensitivity(results, number, history, design)

    return Claim("hcal", number, hcal_evidence.HCAL_CLAIMS[number], hcal_evidence.HCAL_VERDICT_RULES[number], gates,
                 ("06",), evidence, sensitivity, paper_figure("hcal", number))


_TRAINED = ("budget", "baseline")
_IMAGES = ("budget", "chance", "resolution")
CLAIMS: dict[str, Claim] = {c.key: c for c in (
    _rare(1, (*_TRAINED, "significance"), ("03",), True),
    _rare(2, (*_TRAINED, "design"), ("03", "04"), False),
    _rare(3, _TRAINED, ("05",), False),
    _rare(4, _TRAINED, ("04", "04_cost"), True),
    _rare(5, _TRAINED, ("05",), True),
    _rare(6, (), (), False),
    *(_hcal(k, _IMAGES) for k in hcal_evidence.HCAL_CLAIMS),
)}
"""``"<study>-<number>"`` -> :class:`Claim`, rare-node claims first."""


def claims_table() -> pd.DataFrame:
    """One row per claim: study, claim, statement, gates, chapters, sensitivity (whether it has a table), paper."""
    return pd.DataFrame([{"study": c.study, "claim": c.number, "statement": c.statement,
                          "gates": ", ".join(c.gates) or "-", "chapters": ", ".join(c.chapters) or "-",
                          "sensitivity": c.sensitivity is not None,
                          "paper": str(c.paper) if c.paper else "-"} for c in CLAIMS.values()])
