"""The claims of both papers as data, and the machinery every verdict shares.

- :mod:`hmc.claims.gates`: the decidability gates (budget, a reference that is not 0, chance,
  reachable significance, the resolution of one test sample), the :class:`~hmc.claims.gates.Part` of
  a rule, and the verdict that every outcome of the undecided parts agrees on, else "inconclusive".
- :mod:`hmc.claims.strength`: the evidence strength of a verdict (data, seeds, epochs against the
  paper's, smallest attainable p) and its effect with a 95% bootstrap interval.
- :mod:`hmc.claims.sensitivity`: a verdict recomputed under each reading of the study's free choices.
- :mod:`hmc.claims.design`: the test design of an image hierarchy (test-set size, classes per level).
- :mod:`hmc.claims.registry`: each claim of both papers with its statement, evidence function, rule,
  gates and the paper's own figure (the evidence functions live in ``hmc.scorecard`` and
  ``hmc.hcal_evidence``, the studies' scorecards).
- :mod:`hmc.claims.headline`: each claim's verdict from its strongest evidence, the counts, and the
  findings the introduction opens with.

Only :mod:`~hmc.claims.gates`, :mod:`~hmc.claims.strength`, :mod:`~hmc.claims.sensitivity` and
:mod:`~hmc.claims.design` are imported here: the scorecards import them, and the registry and the
headline import the scorecards.
"""

from hmc.claims.design import ImageDesign, image_design, image_design_from_parameters
from hmc.claims.gates import VERDICTS, Budget, Gate, Part, Requirement, rule_verdict, verdict
from hmc.claims.sensitivity import Alternative, sensitivity_table
from hmc.claims.strength import Effect, Strength, bootstrap_mean

__all__ = ["VERDICTS", "Alternative", "Budget", "Effect", "Gate", "ImageDesign", "Part", "Requirement", "Strength",
           "bootstrap_mean", "image_design", "image_design_from_parameters", "rule_verdict", "sensitivity_table",
           "verdict"]
