"""Evaluation metrics of the study.

:mod:`hmc.metrics.multilabel`
    Multi-label metrics over the nodes of a hierarchy (C-HMCNN and the rare-node study): AU(PRC),
    per-node and macro precision / recall / F1, frequency buckets and recall gains.
:mod:`hmc.metrics.levels`
    Per-level metrics of single-label-per-level hierarchies (HCAL): per-level and full-path
    accuracy, the Hierarchical Violation Rate and a hierarchy-consistent decoding.
:mod:`hmc.metrics.robustness`
    Per-level and full-path accuracy under seeded additive Gaussian pixel noise, the same noise
    for every method.
"""

from hmc.metrics.levels import (
    SELECTION_PROTOCOLS,
    consistent_decode,
    full_path_accuracy,
    hierarchy_violation_rate,
    level_accuracy,
    predict_levels,
    select_epoch,
)
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
from hmc.metrics.robustness import ROBUSTNESS_SEED, RobustAccuracy, noise_for, robust_accuracy, sigma_label
