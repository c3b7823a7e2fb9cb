"""Sensitivity of a verdict to the study's free choices.

The papers leave choices open that decide verdicts (which nodes are "rare", tolerances, thresholds,
the model-selection protocol, which terms the imbalance weight multiplies). The study fixed one
reading of each before any number was seen; :func:`sensitivity_table` recomputes a claim's verdict
under every reasonable alternative, one choice at a time, and marks where it flips.

Each row gives the verdict with the gates (:func:`hmc.claims.gates.verdict`), the verdicts its undecided
parts still allow ("could be", :func:`hmc.claims.gates.verdict_span`), the same with every gate but the
budget's, and with the gates ignored (what the rule alone says on the numbers): under a budget that
decides nothing every gated verdict is "inconclusive", and the other columns still show whether the
reading matters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Alternative", "SENSITIVITY_COLUMNS", "sensitivity_table"]

SENSITIVITY_COLUMNS = ("choice", "alternative", "study", "verdict", "could be", "without the budget gate",
                       "rule alone", "flips", "detail")


@dataclass(frozen=True)
class Alternative:
    """One reading of one free choice: ``kwargs`` are passed to the claim's evaluation."""

    choice: str
    label: str
    kwargs: Mapping = field(default_factory=dict)
    study: bool = False


def sensitivity_table(evaluate: Callable[..., Mapping], alternatives: Sequence[Alternative]) -> pd.DataFrame:
    """One row per alternative: its verdict, the rule's outcome alone, and whether either flips.

    ``evaluate(**kwargs)`` returns a mapping with ``verdict``, ``span`` (the verdicts still allowed),
    ``budget_aside`` (the same without the budget gate), ``rule_span`` (gates ignored) and ``detail`` (the
    deciding number in words). The study's own reading is evaluated with no keyword arguments;
    ``flips`` is True where any of the three verdicts differs from the study's reading.
    Alternatives are evaluated in order; the study's reading of each choice is marked in ``study``.
    """
    base = evaluate()
    rows = []
    for alt in alternatives:
        got = base if alt.study and not alt.kwargs else evaluate(**alt.kwargs)
        keys = ("verdict", "span", "budget_aside", "rule_span")
        flips = any(got.get(k) != base.get(k) for k in keys)
        rows.append({"choice": alt.choice, "alternative": alt.label, "study": alt.study,
                     "verdict": got["verdict"], "could be": got.get("span", "-"),
                     "without the budget gate": got.get("budget_aside", "-"),
                     "rule alone": got.get("rule_span", "-"), "flips": bool(flips), "detail": got.get("detail", "")})
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
