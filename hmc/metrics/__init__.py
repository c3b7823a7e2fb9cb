"""Evaluation metrics of the study.

:mod:`hmc.metrics.multilabel`
    Multi-label metrics over the nodes of a hierarchy (C-HMCNN and the rare-node study): AU(PRC),
    per-node and macro precision / recall / F1, frequency buckets and recall gains.
:mod:`hmc.metrics.levels`
    Per-level metrics of single-label-per-level hierarchies (HCAL): per-level and full-path
    accuracy, the Hierarchical Violation Rate and a hierarchy-consistent decoding.
"""

from hmc.metrics.multilabel import (
    FREQUENCY_EDGES,
    MacroPRF,
    PerNodePRF,
    au_prc,
    breakdown,
    frequency_buckets,
    macro_prf,
    per_node_prf,
    recall_gain,
)
