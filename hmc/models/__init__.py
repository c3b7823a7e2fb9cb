"""Models of the study.

:mod:`hmc.models.chmcnn`
    C-HMCNN's multilayer perceptron for M members at once (ensemble members or the seeds of a
    sweep): :class:`BatchedCHMCNN`.
:mod:`hmc.models.images`
    Image models on a ResNet-18 backbone: HCAL's prototype network and its baselines.
"""

from hmc.models.chmcnn import (
    BATCHED_GEMM_MAX_ROWS,
    DATA_STREAM,
    DROPOUT_STREAM,
    MATMUL_MODES,
    SIGMOID_CHUNK,
    BatchedCHMCNN,
    derive_seed,
    member_sigmoid,
)
from hmc.models.images import (
    CHMCNNHeads,
    FlatMultiTask,
    HCALNet,
    MMoE,
    find_resnet18_weights,
    resnet18_backbone,
)
