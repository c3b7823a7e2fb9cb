"""Decidability gates: whether a piece of evidence can decide the rule it is fed to.

A verdict rule (``hmc.scorecard``, ``hmc.hcal_evidence``) turns numbers into "holds" or "fails". Before
that outcome counts, the evidence must be able to decide it; each check below is a :class:`Gate` that
either passes or *fires*, and always says why in words:

- **budget** (:func:`budget_gate`): the run's budget against the paper's (share of the paper's epochs,
  seeds, real or synthetic data; :class:`Budget`), against the minimum a rule requires
  (:class:`Requirement`);
- **baseline** (:func:`nonzero_gate`): the compared metric of the reference of a comparison is not 0
  (a ratio or a "beats" against a model that predicts nothing decides nothing);
- **chance** (:func:`chance_gate`): an accuracy is above chance by a one-sided exact binomial test over
  the test set (:func:`scipy.stats.binomtest`);
- **significance** (:func:`significance_gate`): where a rule needs significance, the smallest p the test
  design can give at all, after Holm's correction over its family (:func:`smallest_holm_p`), is below
  alpha;
- **resolution** (:func:`resolution_gate`): a difference of at most one test sample (``1 / n_test``)
  never decides anything.

A rule's outcome together with its gates is a :class:`Part`. :func:`verdict` combines parts: a part
whose gates all pass is *decided*; an undecided part may turn out either way, and the claim gets the
verdict every completion agrees on, else ``"inconclusive"``. :func:`rule_verdict` is the same with the
gates ignored (what the rule alone says on the numbers, shown beside the verdict and in the
sensitivity tables).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from scipy import stats

__all__ = [
    "ALPHA",
    "VERDICTS",
    "DECIDED",
    "Gate",
    "Part",
    "Budget",
    "Requirement",
    "combine_parts",
    "verdict",
    "rule_verdict",
    "verdict_span",
    "fired_reasons",
    "smallest_wilcoxon_p",
    "smallest_holm_p",
    "significance_gate",
    "nonzero_gate",
    "chance_gate",
    "resolution_gate",
    "budget_gate",
]

ALPHA = 0.05
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive", "not tested here")
"""Every verdict a claim can get. ``inconclusive``: the evidence exists but cannot decide the rule."""
DECIDED = ("reproduced", "partly", "not reproduced")
_ORDER = {v: i for i, v in enumerate(("not reproduced", "partly", "reproduced"))}
RESOLUTION_SLACK = 1e-9
"""Float slack of the resolution gate: a difference counts as one sample when within this of 1 / n."""


@dataclass(frozen=True)
class Gate:
    """One decidability check: ``passed`` False means it fires (the evidence cannot decide); ``reason`` in words."""

    name: str
    passed: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


class Part(NamedTuple):
    """One part of a claim's rule.

    ``holds``: the rule's outcome on the numbers (None when it could not be computed); ``evidence``: the
    numbers in words; ``gates``: the checks that must all pass for ``holds`` to count. A part with
    neither an outcome nor a gate had no evidence at all (a missing results table or method): it is
    *not tested*; one with gates but no outcome had evidence that could not even be computed into one
    (every reference 0, a design too small): it is tested and undecided.
    """

    name: str
    holds: bool | None
    evidence: str
    gates: tuple[Gate, ...] = ()

    @property
    def decided(self) -> bool:
        """The rule's outcome counts: it was computed and every gate passes."""
        return self.decided_without(())

    def decided_without(self, ignore: Iterable[str]) -> bool:
        """As :attr:`decided`, with the gates named in ``ignore`` left out."""
        skip = set(ignore)
        return self.holds is not None and all(g.passed for g in self.gates if g.name not in skip)

    @property
    def tested(self) -> bool:
        """There was evidence for this part (an outcome, or a gate that says why there is none)."""
        return self.holds is not None or bool(self.gates)

    @property
    def fired(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]


def combine_parts(outcomes: Sequence[bool]) -> str:
    """The general rule: reproduced when every part holds, partly when some do, not reproduced when none does."""
    if all(outcomes):
        return "reproduced"
    return "partly" if any(outcomes) else "not reproduced"


def _span(options: list[bool | None], combine: Callable[[Sequence[bool]], str]) -> tuple[str, str]:
    """The worst and best verdicts when every unknown part (None) may hold or fail (``combine`` monotone)."""
    low = combine([bool(o) if o is not None else False for o in options])
    high = combine([bool(o) if o is not None else True for o in options])
    if _ORDER[low] > _ORDER[high]:
        raise ValueError(f"the rule is not monotone in its parts: {low} with less holding than {high}")
    return low, high


def _extremes(options: list[bool | None], combine: Callable[[Sequence[bool]], str]) -> str:
    low, high = _span(options, combine)
    return low if low == high else "inconclusive"


def verdict_span(parts: Sequence[Part], combine: Callable[[Sequence[bool]], str] = combine_parts,
                 ignore: Iterable[str] = (), gates: bool = True) -> str:
    """The verdicts the parts still allow: one verdict when decided, else ``"<worst> to <best>"``.

    ``gates=False`` ignores every gate (the rule alone); ``ignore`` leaves out the named gates only.
    """
    if not any(p.tested for p in parts):
        return "not tested here"
    ignore = tuple(ignore)
    low, high = _span([p.holds if (p.decided_without(ignore) if gates else True) else None for p in parts],
                      combine)
    return low if low == high else f"{low} to {high}"


def verdict(parts: Sequence[Part], combine: Callable[[Sequence[bool]], str] = combine_parts,
            ignore: Iterable[str] = ()) -> str:
    """The claim's verdict from its parts, with the gates.

    ``"not tested here"`` when no part was tested (:attr:`Part.tested`); otherwise each decided part counts as it is,
    and each undecided one (not computed, or a gate fired) may hold or fail: the verdict is the one
    ``combine`` gives under every such completion, else ``"inconclusive"``. ``combine`` (a rule over the
    parts' outcomes in order) must be monotone: more parts holding never gives a worse verdict, so the
    two extreme completions (all undecided fail; all hold) bound every other. ``ignore``: names of gates
    to leave out (the sensitivity tables show the verdict without the budget gate).
    """
    if not any(p.tested for p in parts):
        return "not tested here"
    ignore = tuple(ignore)
    return _extremes([p.holds if p.decided_without(ignore) else None for p in parts], combine)


def rule_verdict(parts: Sequence[Part], combine: Callable[[Sequence[bool]], str] = combine_parts) -> str:
    """What the rule alone says on the numbers, gates ignored (parts not computed still count as unknown).

    ``"not tested here"`` as for :func:`verdict`; ``"inconclusive"`` when no part's outcome could be computed
    or the computed ones leave the verdict open.
    """
    if not any(p.tested for p in parts):
        return "not tested here"
    return _extremes([p.holds for p in parts], combine)


def fired_reasons(parts: Iterable[Part], extra: Iterable[Gate] = ()) -> list[str]:
    """The reasons of every fired gate, each once, in order (``"name: reason"``)."""
    out = []
    for g in [*extra, *(g for p in parts for g in p.gates)]:
        if not g.passed and str(g) not in out:
            out.append(str(g))
    return out


# ------------------------------------------------------------------------------------- significance
def smallest_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p of the exact Wilcoxon signed-rank test with n non-zero paired differences: 2 / 2^n."""
    return float("nan") if n < 1 else min(1.0, 2.0 / 2.0**n)


def smallest_holm_p(n: int, family: int) -> float:
    """Smallest Holm-adjusted p of a family of ``family`` such tests with n pairs each: ``min(1, family * 2 / 2^n)``.

    Holm multiplies the smallest raw p by the family size, so a design reaches alpha only when
    ``family * 2 / 2^n < alpha``.
    """
    if family < 1:
        raise ValueError(f"a Holm family has at least one test, got {family}")
    return float("nan") if n < 1 else min(1.0, family * smallest_wilcoxon_p(n))


def significance_gate(n: int, family: int, alpha: float = ALPHA, what: str = "") -> Gate:
    """Passes when the design can reach significance: ``smallest_holm_p(n, family) < alpha``."""
    p = smallest_holm_p(n, family)
    where = f"{what}: " if what else ""
    detail = (f"{where}{n} paired seed{'s' * (n != 1)}, Holm over {family} test{'s' * (family != 1)}: "
              f"smallest attainable p {p:.3g}")
    if not (p < alpha):  # NaN (no pair) fires too
        return Gate("significance", False, f"{detail}, not below {alpha:g}: no outcome could be significant")
    return Gate("significance", True, f"{detail} < {alpha:g}")


# ------------------------------------------------------------------------------------- degenerate references
def nonzero_gate(values: Mapping[str, float], what: str) -> Gate:
    """Passes when every value (label -> the reference's metric) is non-zero; names the zeros when it fires."""
    zeros = [k for k, v in values.items() if not (isinstance(v, float | int) and math.isfinite(v) and v != 0)]
    if not values:
        return Gate("baseline", False, f"{what}: no value to check")
    if zeros:
        shown = ", ".join(zeros[:6]) + (f" and {len(zeros) - 6} more" if len(zeros) > 6 else "")
        return Gate("baseline", False, f"{what} is 0 in {len(zeros)} of {len(values)} ({shown}): a model that "
                    "finds nothing there is no reference")
    return Gate("baseline", True, f"{what} is non-zero in all {len(values)}")


def chance_gate(accuracy: float, n_test: int, chance: float, alpha: float = ALPHA, what: str = "") -> Gate:
    """Passes when ``accuracy`` on ``n_test`` test samples is above ``chance`` by a one-sided exact binomial test.

    ``k = round(accuracy * n_test)`` correct answers; ``p = P(X >= k)`` for X ~ Binomial(n_test, chance)
    (:func:`scipy.stats.binomtest`, ``alternative="greater"``); passes when ``p < alpha``.
    """
    if n_test < 1 or not 0 < chance < 1 or not math.isfinite(accuracy):
        return Gate("chance", False, f"{what}: chance level or test size unknown")
    k = min(n_test, max(0, int(round(accuracy * n_test))))
    p = float(stats.binomtest(k, n_test, chance, alternative="greater").pvalue)
    text = f"{what}: {k}/{n_test} = {accuracy:.4f} against chance {chance:.4f}, binomial p {p:.3g}"
    return Gate("chance", p < alpha, text + (" (above chance)" if p < alpha else f", not below {alpha:g}: at chance"))


def resolution_gate(diff: float, n_test: int, what: str = "") -> Gate:
    """Passes when ``|diff|`` exceeds one test sample, ``1 / n_test`` (with :data:`RESOLUTION_SLACK`)."""
    if n_test < 1 or not math.isfinite(diff):
        return Gate("resolution", False, f"{what}: test-set size unknown")
    step = 1.0 / n_test
    if abs(diff) > step + RESOLUTION_SLACK:
        return Gate("resolution", True, f"{what}: |{diff:+.4f}| above one test sample (1/{n_test})")
    return Gate("resolution", False, f"{what}: {diff:+.4f} is at most one test sample (1/{n_test} = {step:.4f})")


# ------------------------------------------------------------------------------------- budget
@dataclass(frozen=True)
class Budget:
    """What a piece of evidence rests on, against the paper's protocol.

    ``datasets``: the datasets used; ``synthetic``: those that are generated, not real; ``seeds``: the
    smallest and largest number of seeds of a (dataset, method) used; ``epoch_share``: the smallest and
    largest share of the paper's epochs of a unit (None where the paper gives none for a dataset);
    ``epochs``: the smallest and largest number of epochs; ``paper``: the paper's protocol in words.
    """

    datasets: tuple[str, ...]
    synthetic: tuple[str, ...] = ()
    seeds: tuple[int, int] = (0, 0)
    paper_seeds: int = 0
    epochs: tuple[int, int] = (0, 0)
    epoch_share: tuple[float, float] | None = None
    paper: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def data_text(self) -> str:
        real = [d for d in self.datasets if d not in self.synthetic]
        parts = []
        if real:
            parts.append(f"real: {', '.join(real)}")
        if self.synthetic:
            parts.append(f"synthetic: {', '.join(self.synthetic)}")
        return "; ".join(parts) or "no data"

    @property
    def seeds_text(self) -> str:
        lo, hi = self.seeds
        span = f"{lo}" if lo == hi else f"{lo}-{hi}"
        return f"{span} of the paper's {self.paper_seeds}" if self.paper_seeds else span

    @property
    def epochs_text(self) -> str:
        lo, hi = self.epochs
        span = f"{lo}" if lo == hi else f"{lo}-{hi}"
        if self.epoch_share is None:
            return f"{span} epoch{'s' * (hi != 1)} ({self.paper or 'no paper figure'})"
        s_lo, s_hi = (f"{x:.0%}" for x in self.epoch_share)
        share = s_lo if s_lo == s_hi else f"{s_lo}-{s_hi}"
        return f"{span} epoch{'s' * (hi != 1)}, {share} of the paper's"

    def text(self) -> str:
        return f"{self.data_text}; seeds {self.seeds_text}; {self.epochs_text}"


@dataclass(frozen=True)
class Requirement:
    """The least budget a rule accepts; None: no minimum of that kind."""

    min_epoch_share: float | None = None
    min_epochs: int | None = None
    min_seeds: int | None = None
    real_data: bool = False

    def text(self) -> str:
        parts = []
        if self.min_epoch_share is not None:
            parts.append(f"at least {self.min_epoch_share:.0%} of the paper's epochs")
        if self.min_epochs is not None:
            parts.append(f"at least {self.min_epochs} epochs")
        if self.min_seeds is not None:
            parts.append(f"at least {self.min_seeds} seeds")
        if self.real_data:
            parts.append("real data")
        return ", ".join(parts) or "no minimum"


def budget_gate(budget: Budget, requirement: Requirement, what: str = "") -> Gate:
    """Passes when the budget meets every minimum of the requirement; says which it misses."""
    short = []
    if not budget.datasets:
        return Gate("budget", False, f"{what}: no dataset")
    if requirement.min_epoch_share is not None:
        share = budget.epoch_share
        if share is None:
            short.append("no paper epochs to compare with")
        elif share[0] < requirement.min_epoch_share:
            short.append(f"{share[0]:.0%} of the paper's epochs, under the {requirement.min_epoch_share:.0%} required")
    if requirement.min_epochs is not None and budget.epochs[0] < requirement.min_epochs:
        short.append(f"{budget.epochs[0]} epoch{'s' * (budget.epochs[0] != 1)}, under the {requirement.min_epochs} "
                     "required")
    if requirement.min_seeds is not None and budget.seeds[0] < requirement.min_seeds:
        short.append(f"{budget.seeds[0]} seed{'s' * (budget.seeds[0] != 1)}, under the {requirement.min_seeds} required")
    if requirement.real_data and budget.synthetic:
        short.append(f"synthetic data ({', '.join(budget.synthetic)})")
    lead = f"{what}: " if what else ""
    if short:
        return Gate("budget", False, lead + "; ".join(short))
    return Gate("budget", True, lead + f"meets {requirement.text()} ({budget.text()})")
