"""Published AU(PRC) values that the C-HMCNN reproduction compares against (facts, not tuned to).

Test-split AU(PRC), mean of 10 seeds where the source ran seeds. Sources, as collected in the
study's ``anchors.md``:

- ``C-HMCNN``: Giunchiglia & Lukasiewicz, NeurIPS 2020, Table 2
  (sklearn's step-wise micro average precision, the metric of :func:`hmc.metrics.au_prc`).
- ``HMCN-F``: Wehrmann et al., ICML 2018, as quoted by C-HMCNN.
- ``Clus-Ens``: Schietgat et al. 2010, as quoted by C-HMCNN.

HMCN-F and Clus-Ens used the pooled, interpolated AU(PRC) of Vens et al. 2008: close to the
step-wise micro average precision, not identical.

Beside them, the claims' own figures (:data:`RARE_NODE_FIGURES`, :data:`HCAL_FIGURES`,
:func:`paper_figure`), which the scorecards show next to the study's, and the one public list of
GO macro-F1 values of the rare-node paper (:data:`GO_MACRO_F1_LEADERBOARD`). Neither paper's tables
were available: each figure names its source, and HCAL's come from a secondary one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

PUBLISHED_METHODS = ("C-HMCNN", "HMCN-F", "Clus-Ens")
"""The published methods, in the column order of :data:`PUBLISHED_AUPRC`."""

PUBLISHED_AUPRC: dict[str, tuple[float, float, float]] = {
    "cellcycle_FUN": (0.255, 0.252, 0.227),
    "derisi_FUN": (0.195, 0.193, 0.187),
    "eisen_FUN": (0.306, 0.298, 0.286),
    "expr_FUN": (0.302, 0.301, 0.271),
    "gasch1_FUN": (0.286, 0.284, 0.267),
    "gasch2_FUN": (0.258, 0.254, 0.231),
    "seq_FUN": (0.292, 0.291, 0.284),
    "spo_FUN": (0.215, 0.211, 0.211),
    "cellcycle_GO": (0.413, 0.400, 0.387),
    "derisi_GO": (0.370, 0.369, 0.361),
    "eisen_GO": (0.455, 0.440, 0.433),
    "expr_GO": (0.447, 0.452, 0.422),
    "gasch1_GO": (0.436, 0.428, 0.415),
    "gasch2_GO": (0.414, 0.465, 0.395),
    "seq_GO": (0.446, 0.447, 0.438),
    "spo_GO": (0.382, 0.376, 0.371),
    "diatoms": (0.758, 0.530, 0.501),
    "enron": (0.756, 0.724, 0.696),
    "imclef07a": (0.956, 0.950, 0.803),
    "imclef07d": (0.927, 0.920, 0.881),
}
"""Dataset -> AU(PRC) of (C-HMCNN, HMCN-F, Clus-Ens)."""


def published_auprc(datasets=None) -> pd.DataFrame:
    """The published values as a DataFrame (index: dataset, columns: :data:`PUBLISHED_METHODS`).

    ``datasets``: names to keep, in that order (None: all). An unknown name raises KeyError.
    """
    names = list(PUBLISHED_AUPRC) if datasets is None else list(datasets)
    unknown = [n for n in names if n not in PUBLISHED_AUPRC]
    if unknown:
        raise KeyError(f"no published AU(PRC) for {unknown}; known: {', '.join(PUBLISHED_AUPRC)}")
    frame = pd.DataFrame.from_dict(
        {n: PUBLISHED_AUPRC[n] for n in names}, orient="index", columns=list(PUBLISHED_METHODS)
    )
    frame.index.name = "dataset"
    return frame


# ------------------------------------------------------------------------------------- the claims' own figures


@dataclass(frozen=True)
class PaperFigure:
    """A paper's own figure for one claim: ``text`` as the source gives it, ``source`` where it comes from.

    ``secondary`` is True when the source is not the paper itself (a summary of it): say so beside it.
    """

    text: str
    source: str
    secondary: bool = False

    def __str__(self) -> str:
        return f"{self.text} ({self.source}{'; a secondary source, not the paper' if self.secondary else ''})"


RARE_NODE_FIGURES: dict[int, PaperFigure] = {
    1: PaperFigure("rare-node recall up to 5x the baseline's; significant F1 gains",
                   "Xu et al. 2026, abstract"),
    4: PaperFigure("MC-dropout: ~68% less training time, ~66% less memory, ~6% lower F1 than the deep ensemble",
                   "Xu et al. 2026, abstract and summaries"),
}
"""Claim -> the rare-node paper's figure (its tables were not available; ``anchors.md``)."""

HCAL_FIGURES: dict[int, PaperFigure] = {
    1: PaperFigure("+2.1 to +4.7 percentage points of accuracy over the baselines",
                   "a machine-written summary of Jiang et al. 2025", secondary=True),
    2: PaperFigure("HVR 18.3% to 32.6% lower than the baselines'",
                   "a machine-written summary of Jiang et al. 2025", secondary=True),
}
"""Claim -> HCAL's headline figures, from a secondary source (its tables were not available; ``anchors.md``)."""

GO_MACRO_F1_LEADERBOARD: dict[str, float] = {
    "cellcycle_GO": 1.94, "derisi_GO": 0.77, "eisen_GO": 3.17, "expr_GO": 4.61, "gasch1_GO": 2.66,
    "gasch2_GO": 1.84, "seq_GO": 4.46, "spo_GO": 1.26, "enron": 15.4, "diatoms": 57.65,
}
"""Macro F1 (%) per dataset from one public leaderboard of the rare-node paper (method and seed unknown)."""


def paper_figure(study: str, claim: int) -> PaperFigure | None:
    """The paper's own figure for a claim (``study`` ``"rare"`` or ``"hcal"``), None where it gives none."""
    if study not in ("rare", "hcal"):
        raise ValueError(f"study must be 'rare' or 'hcal', got {study!r}")
    return (RARE_NODE_FIGURES if study == "rare" else HCAL_FIGURES).get(claim)
