"""The test design of an image hierarchy, as the HCAL gates need it: test-set size and classes per level.

The chance gate (:func:`hmc.claims.gates.chance_gate`) needs each level's number of classes and the
size of the test set; the resolution gate needs the test-set size. :func:`image_design` reads both
from a loaded :class:`hmc.data.images.ImageHierarchy`; :func:`image_design_from_parameters` computes
them from chapter 06's parameters without loading a pixel (the verdicts page, which reads the results
back, uses it); the two agree (tested). :func:`infer_n_test` recovers a lower bound of the test-set
size from the accuracies themselves (every accuracy is k / n), for results without a design.

Each design also says whether the data are synthetic and what the paper's epochs are for the dataset
(:data:`PAPER_EPOCHS`: HCAL trains 500 epochs on CIFAR-100 and 1000 on Aircraft; Omniglot and the
synthetic hierarchy are not the paper's datasets).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["ImageDesign", "PAPER_EPOCHS", "image_design", "image_design_from_parameters", "infer_n_test"]

PAPER_EPOCHS: dict[str, int] = {"cifar100": 500, "aircraft": 1000}
"""HCAL's epochs per dataset in the paper's protocol (``specs/hcal.md``, "Training")."""
OMNIGLOT_TEST_DRAWINGS = 5
CHAPTER06_DEFAULTS = {"synthetic_branching": [3, 2, 2], "synthetic_per_class": 16, "omniglot_alphabets": 3,
                      "omniglot_characters": 5,
                      "methods": ["hcal", "flat", "mmoe", "chmcnn", "hcal-noagg", "hcal-noperturb", "hcal-gauss",
                                  "hcal-convergence_rate", "hcal-dwa", "hcal-uncertainty", "hcal-equal"]}
"""Chapter 06's parameter defaults that decide a design (used where a manifest does not list them)."""


@dataclass(frozen=True)
class ImageDesign:
    """``n_test`` test images; ``classes``: ``acc_<level>`` -> number of classes of that level;
    ``methods``: the method labels the chapter's design trains on the dataset (empty: not known)."""

    dataset: str
    n_test: int
    classes: Mapping[str, int] = field(default_factory=dict)
    synthetic: bool = False
    methods: tuple[str, ...] = ()

    @property
    def paper_epochs(self) -> int | None:
        return PAPER_EPOCHS.get(self.dataset)

    def chance(self, metric: str) -> float:
        """Chance accuracy of a level (1 / classes; the test sets of these hierarchies are balanced); NaN if unknown."""
        c = self.classes.get(metric)
        return 1.0 / c if c else math.nan


def image_design(hierarchy, methods: Sequence[str] = ()) -> ImageDesign:
    """The design of a loaded :class:`hmc.data.images.ImageHierarchy` on which ``methods`` are trained."""
    classes = {f"acc_{name}": len(names) for name, names in zip(hierarchy.level_names, hierarchy.class_names)}
    return ImageDesign(hierarchy.name, int(len(hierarchy.y_test)), classes, synthetic=hierarchy.name == "synthetic",
                       methods=tuple(methods))


def image_design_from_parameters(dataset: str, parameters: Mapping | None = None) -> ImageDesign | None:
    """The design chapter 06 gets for ``dataset`` with ``parameters`` (a manifest's; defaults: the chapter's).

    Known without data for ``synthetic`` (``synthetic_branching``, ``synthetic_per_class``; test: half
    as many per finest class), ``omniglot`` (``omniglot_alphabets``, ``omniglot_characters``; 0 = all;
    5 test drawings per character), ``cifar100`` (10,000 test images, 100 fine, 20 coarse) and
    ``aircraft`` (3,333 test images; 100 variants, 70 families, 30 manufacturers); None otherwise. Its
    ``methods`` are the parameters' ``methods`` (the chapter's default: all eleven labels).
    """
    p = {**CHAPTER06_DEFAULTS, **(parameters or {})}
    methods = tuple(p["methods"])
    if dataset == "synthetic":
        branching = [int(b) for b in p["synthetic_branching"]]
        names = ("fine", "coarse") if len(branching) == 2 else ("fine", "middle", "coarse")
        counts = [math.prod(branching[: len(branching) - k]) for k in range(len(branching))]  # finest first
        per_test = max(1, int(p["synthetic_per_class"]) // 2)
        return ImageDesign("synthetic", counts[0] * per_test, {f"acc_{n}": c for n, c in zip(names, counts)},
                           synthetic=True, methods=methods)
    if dataset == "omniglot":
        from hmc.data.images import OMNIGLOT_ALPHABETS

        n_alpha = int(p["omniglot_alphabets"]) or len(OMNIGLOT_ALPHABETS)
        per = int(p["omniglot_characters"])
        chars = sum(min(per, last - first + 1) if per else last - first + 1
                    for _, first, last in OMNIGLOT_ALPHABETS[:n_alpha])
        return ImageDesign("omniglot", chars * OMNIGLOT_TEST_DRAWINGS,
                           {"acc_character": chars, "acc_alphabet": min(n_alpha, len(OMNIGLOT_ALPHABETS))},
                           methods=methods)
    if dataset == "cifar100":
        return ImageDesign("cifar100", 10000, {"acc_fine": 100, "acc_coarse": 20}, methods=methods)
    if dataset == "aircraft":
        return ImageDesign("aircraft", 3333, {"acc_variant": 100, "acc_family": 70, "acc_manufacturer": 30},
                           methods=methods)
    return None


def infer_n_test(values: Iterable[float], max_denominator: int = 100_000) -> int | None:
    """A lower bound of the test-set size: the least common denominator of values that are all k / n.

    Each value's fraction (:meth:`fractions.Fraction.limit_denominator`) has a denominator dividing n, so
    their least common multiple divides n; with many values it is n itself. None without a value.
    """
    lcm = None
    for v in values:
        if not math.isfinite(v):
            continue
        d = Fraction(float(v)).limit_denominator(max_denominator).denominator
        lcm = d if lcm is None else lcm * d // math.gcd(lcm, d)
    return lcm
