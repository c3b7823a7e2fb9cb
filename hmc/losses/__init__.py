"""Losses of the study.

:mod:`hmc.losses.rare_nodes`
    The rare-node losses of Xu et al. 2026: node imbalance weights, uncertainty measures of an
    ensemble, the focal-weighted MCLoss, schedules and the mixed loss.
:mod:`hmc.losses.hcal`
    HCAL's losses (Jiang et al. 2025): the prototype contrastive loss with child-to-parent
    aggregation, prototype perturbation and the loss balancers.
"""

from hmc.losses.hcal import (
    BALANCERS,
    PERTURBATION_NOISES,
    RATE_REFERENCES,
    Balancer,
    ConvergenceRateBalancer,
    DWABalancer,
    EqualBalancer,
    SoftmaxLossBalancer,
    UncertaintyBalancer,
    aggregated_prototype_ce,
    hcal_level_losses,
    make_balancer,
    perturb_prototypes,
    prototype_ce,
)
from hmc.losses.rare_nodes import (
    EPS,
    UNCERTAINTY_MEASURES,
    FocalMCLoss,
    aleatoric,
    balanced_weights,
    bbma,
    binary_entropy,
    bma,
    epistemic_js,
    epistemic_kl,
    focal_mc_loss,
    gmu,
    global_scheduled_weights,
    imbalance_weights,
    mixed_loss,
    node_frequencies,
    rescale_weights,
    scheduled_weights,
    term_weights,
)
