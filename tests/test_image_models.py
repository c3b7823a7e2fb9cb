"""Tests of hmc.models.images: ResNet-18 backbone stems and weights, HCAL's prototype network, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from hmc.models import CHMCNNHeads, FlatMultiTask, HCALNet, MMoE, find_resnet18_weights, resnet18_backbone
from hmc.models.images import RESNET18_WEIGHTS_FILE


pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_CLASSES = (5, 3)
PARENTS = [np.array([0, 0, 1, 2, 2])]


@pytest.fixture(autouse=True)
def no_weights(tmp_path, monkeypatch):
    """Every test sees empty weight locations (torch hub cache and the project's data roots)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "torch" / "hub" / "checkpoints" / RESNET18_WEIGHTS_FILE


def _models():
    return {
        "hcal": HCALNet(N_CLASSES, embed_dim=8),
        "flat": FlatMultiTask(N_CLASSES),
        "mmoe": MMoE(N_CLASSES),
        "chmcnn": CHMCNNHeads(PARENTS, N_CLASSES),
    }


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp:  # build without any weights file
        mp.setenv("TORCH_HOME", "/nonexistent-torch-home")
        mp.setenv("HMC_DATA_DIR", "/nonexistent-data")
        mp.setenv("HMC_CACHE_DIR", "/nonexistent-cache")
        built = _models()
    for m in built.values():
        m.eval()
    return built


# ----------------------------------------------------------------------------- output shapes
@pytest.mark.parametrize("channels", [3, 1])
def test_output_shapes(models, channels):
    x = torch.randn(2, channels, 16, 16)
    with torch.no_grad():
        f = models["hcal"](x)
        assert f.shape == (2, 8)
        for name in ("flat", "mmoe"):
            out = models[name](x)
            assert [tuple(t.shape) for t in out] == [(2, 5), (2, 3)]
        logits = models["chmcnn"](x)
        assert logits.shape == (2, 8)
        for name, out in (("hcal", f), ("chmcnn", logits)):
            assert [tuple(s.shape) for s in models[name].level_scores(out)] == [(2, 5), (2, 3)]
    assert all(m.pretrained_used is False for m in models.values())


def test_one_channel_is_repeated(models):
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(models["hcal"](x), models["hcal"](x.repeat(1, 3, 1, 1)), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        models["hcal"](torch.randn(2, 2, 16, 16))


# ----------------------------------------------------------------------------- HCAL
def test_hcal_features_banks_scores(models):
    model = models["hcal"]
    with torch.no_grad():
        f = model(torch.randn(2, 3, 16, 16))
        banks = model.banks()
        scores = model.level_scores(f)
    assert torch.allclose(f.norm(dim=1), torch.ones(2), atol=1e-6)
    for k, (bank, raw) in enumerate(zip(banks, model.prototypes)):
        assert bank.shape == (N_CLASSES[k], 8)
        assert torch.allclose(bank.norm(dim=1), torch.ones(N_CLASSES[k]), atol=1e-6)
        cosine = F.cosine_similarity(f[:, None, :], raw.detach()[None, :, :], dim=-1)
        assert torch.allclose(scores[k], cosine, atol=1e-6)


def test_hcal_prototype_init_std():
    torch.manual_seed(1)
    model = HCALNet((40, 20), pretrained=False, embed_dim=64)  # 3840 draws
    values = torch.cat([p.detach().reshape(-1) for p in model.prototypes])
    assert abs(values.std().item() - 0.01) < 0.0005
    assert abs(values.mean().item()) < 0.0005


# ----------------------------------------------------------------------------- stems and weights
def test_small_stem():
    trunk, used = resnet18_backbone(32, pretrained=False)
    assert not used
    assert trunk.conv1.kernel_size == (3, 3) and trunk.conv1.stride == (1, 1) and trunk.conv1.padding == (1, 1)
    assert isinstance(trunk.maxpool, nn.Identity) and isinstance(trunk.fc, nn.Identity)
    with torch.no_grad():
        assert trunk.conv1(torch.randn(1, 3, 32, 32)).shape == (1, 64, 32, 32)
        assert trunk(torch.randn(2, 3, 16, 16)).shape == (2, 512)


def test_large_stem():
    trunk, _ = resnet18_backbone(224, pretrained=False)
    assert trunk.conv1.kernel_size == (7, 7) and trunk.conv1.stride == (2, 2) and trunk.conv1.padding == (3, 3)
    assert isinstance(trunk.maxpool, nn.Identity) and isinstance(trunk.fc, nn.Identity)
    with torch.no_grad():
        assert trunk.conv1(torch.randn(1, 3, 32, 32)).shape == (1, 64, 16, 16)
        assert trunk(torch.randn(2, 3, 16, 16)).shape == (2, 512)


def test_pretrained_missing(no_weights):
    assert find_resnet18_weights() is None
    with pytest.raises(FileNotFoundError, match=RESNET18_WEIGHTS_FILE) as err:
        resnet18_backbone(32, pretrained=True)
    assert str(no_weights) in str(err.value)
    _, used = resnet18_backbone(32, pretrained=None)
    assert used is False


def test_pretrained_loaded_from_file(no_weights):
    torch.manual_seed(2)
    state = resnet18(weights=None).state_dict()
    no_weights.parent.mkdir(parents=True)
    torch.save(state, no_weights)
    assert find_resnet18_weights() == no_weights
    large, used = resnet18_backbone(224, pretrained=True)
    assert used is True
    assert torch.equal(large.conv1.weight, state["conv1.weight"])
    assert torch.equal(large.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert torch.equal(large.bn1.running_var, state["bn1.running_var"])
    small, used = resnet18_backbone(32, pretrained=None)
    assert used is True
    assert torch.equal(small.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])
    assert small.conv1.weight.shape == (64, 3, 3, 3)  # re-initialised: the 7x7 weights do not fit
    model = FlatMultiTask(N_CLASSES, pretrained=None)
    assert model.pretrained_used is True
    assert torch.equal(model.backbone.layer4[0].downsample[0].weight, state["layer4.0.downsample.0.weight"])
    _, used = resnet18_backbone(32, pretrained=False)
    assert used is False


def test_weights_found_in_data_root(tmp_path):
    hub = tmp_path / "torch" / "hub" / "checkpoints" / RESNET18_WEIGHTS_FILE
    data = tmp_path / "data" / "weights" / RESNET18_WEIGHTS_FILE
    data.parent.mkdir(parents=True)
    data.write_bytes(b"")
    assert find_resnet18_weights() == data
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"")
    assert find_resnet18_weights() == hub  # the torch hub cache comes first


def test_pretrained_bad_file(no_weights):
    no_weights.parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, no_weights)
    with pytest.raises(RuntimeError, match="not a torchvision ResNet-18"):
        resnet18_backbone(224, pretrained=None)


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        resnet18_backbone(0)
    with pytest.raises(ValueError, match="pretrained"):
        resnet18_backbone(32, pretrained="yes")
    with pytest.raises(ValueError, match="n_classes"):
        FlatMultiTask([5, 0], pretrained=False)
    with pytest.raises(ValueError, match="parent maps"):
        CHMCNNHeads([], N_CLASSES, pretrained=False)
    with pytest.raises(ValueError, match=r"level_parents\[0\] must lie"):
        CHMCNNHeads([np.array([0, 0, 1, 2, 3])], N_CLASSES, pretrained=False)


# ----------------------------------------------------------------------------- parameter groups
@pytest.mark.parametrize(
    "name, expected",
    [
        ("hcal", {"backbone": ["backbone.", "embed."], 0.05: ["prototypes.0"], 0.1: ["prototypes.1"]}),
        ("flat", {"backbone": ["backbone."], 0.05: ["heads.0."], 0.1: ["heads.1."]}),
        ("mmoe", {"backbone": ["backbone.", "experts."], 0.05: ["gates.0.", "towers.0."],
                  0.1: ["gates.1.", "towers.1."]}),
    ],
)
def test_parameter_groups(models, name, expected):
    model = models[name]
    groups = model.parameter_groups(0.01, [0.05, 0.1])
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == len(list(model.parameters()))
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    for pname, p in model.named_parameters():
        want = [lr for lr, prefixes in expected.items() if any(pname.startswith(s) for s in prefixes)]
        assert len(want) == 1, pname
        assert lr_of[id(p)] == (0.01 if want[0] == "backbone" else want[0]), pname
    torch.optim.SGD(groups, lr=1.0, momentum=0.9)
    assert {g["lr"] for g in model.parameter_groups(0.01, 0.3)} == {0.01, 0.3}
    with pytest.raises(ValueError, match="lr_heads"):
        model.parameter_groups(0.01, [0.1, 0.2, 0.3])


def test_chmcnn_parameter_groups(models):
    model = models["chmcnn"]
    groups = model.parameter_groups(0.01, [0.2, 0.2])
    assert [g["lr"] for g in groups] == [0.01, 0.2]
    assert [id(p) for g in groups for p in g["params"]] == [id(p) for p in model.parameters()]
    assert groups[1]["params"] == [model.head.weight, model.head.bias]
    with pytest.raises(ValueError, match="one value"):
        model.parameter_groups(0.01, [0.1, 0.2])


# ----------------------------------------------------------------------------- C-HMCNN heads
def test_chmcnn_targets(models):
    model = models["chmcnn"]
    assert model.node_offsets == (0, 5, 8)
    y = torch.tensor([[0, 0], [3, 2], [2, 1]])
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0, 0, 0, 1],
        [0, 0, 1, 0, 0, 0, 1, 0],
    ], dtype=torch.float32)
    assert torch.equal(model.targets(y), expected)
    with pytest.raises(ValueError, match="not a path"):
        model.targets(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="out of range"):
        model.targets(torch.tensor([[5, 2]]))


def _fixed_logits_model(parents, n_classes, bias):
    """A CHMCNNHeads whose logits are ``bias`` whatever the input (zero head weights)."""
    model = CHMCNNHeads(parents, n_classes, pretrained=False).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return model


def test_chmcnn_level_scores_hand_example():
    # level 0: 3 classes with parents (0, 0, 1); level 1: 2 classes
    bias = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0])
    model = _fixed_logits_model([np.array([0, 0, 1])], (3, 2), bias)
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 8, 8))
        fine, coarse = model.level_scores(logits)
    p = torch.sigmoid(bias)
    assert torch.allclose(fine, p[:3].expand(2, 3))
    expected = torch.stack([torch.max(p[3], torch.max(p[0], p[1])), torch.max(p[4], p[2])])
    assert torch.allclose(coarse, expected.expand(2, 2))


def test_chmcnn_three_levels_parent_dominates():
    torch.manual_seed(3)
    parents = [np.array([0, 0, 1, 2, 2, 1]), np.array([1, 0, 1])]
    model = CHMCNNHeads(parents, (6, 3, 2), pretrained=False).eval()
    logits = 3 * torch.randn(4, 11)
    scores = model.level_scores(logits)
    h = torch.sigmoid(logits)
    for k, p in enumerate(parents):
        assert (scores[k + 1][:, torch.as_tensor(p)] >= scores[k]).all()
    # brute force: a top node scores the max sigmoid over itself and all its descendants
    for top in range(2):
        mids = [m for m in range(3) if parents[1][m] == top]
        fines = [f for f in range(6) if parents[0][f] in mids]
        members = [9 + top] + [6 + m for m in mids] + fines
        assert torch.allclose(scores[2][:, top], h[:, members].max(dim=1).values)


def test_chmcnn_loss_by_hand():
    bias = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0])
    model = _fixed_logits_model([np.array([0, 0, 1])], (3, 2), bias)
    y = torch.tensor([[1, 0]])  # nodes: fine 1 and coarse 0 positive
    p = torch.sigmoid(bias).double()
    # o = (1 - y) MCM(h) + y MCM(y h): negatives see the max over all their descendants,
    # positives the max over their positive descendants only
    o = torch.stack([p[0], p[1], p[2], torch.max(p[3], p[1]), torch.max(p[4], p[2])])
    t = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    expected = -(t * o.log() + (1 - t) * (1 - o).log()).mean()
    with torch.no_grad():
        loss = model.loss(model(torch.randn(1, 3, 8, 8)), y)
    assert loss.dtype == torch.float64
    assert torch.allclose(loss, expected)


# ----------------------------------------------------------------------------- MMoE
def test_mmoe_gates_and_mixture(models):
    model = models["mmoe"]
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        z = model.features(x)
        gates = model.gate_weights(z)
        out = model(x)
    assert len(model.experts) == 3
    for k, g in enumerate(gates):
        assert g.shape == (2, 3)
        assert torch.allclose(g, F.softmax(z @ model.gates[k].weight.T + model.gates[k].bias, dim=1))
        assert torch.allclose(g.sum(dim=1), torch.ones(2)) and (g > 0).all()
        mix = sum(g[:, j:j + 1] * torch.relu(model.experts[j][0](z)) for j in range(3))
        assert torch.allclose(out[k], model.towers[k](mix), atol=1e-6)


# ------------------------------------------------------------------------------------- conv4 backbone
def _conv4_models(width=16):
    common = {"backbone": "conv4", "width": width}
    return {
        "hcal": HCALNet(N_CLASSES, embed_dim=8, **common),
        "flat": FlatMultiTask(N_CLASSES, **common),
        "mmoe": MMoE(N_CLASSES, **common),
        "chmcnn": CHMCNNHeads(PARENTS, N_CLASSES, **common),
    }


@pytest.mark.parametrize("size", [28, 32])
def test_conv4_backbone_shapes_and_groups(size):
    from hmc.models.images import Conv4Trunk
    for name, model in _conv4_models().items():
        assert isinstance(model.backbone, Conv4Trunk) and model.feature_dim == 16 and not model.pretrained_used
        assert model.features(torch.randn(3, 1, size, size)).shape == (3, 16)
        scores = model.level_scores(model(torch.randn(3, 3, size, size)))
        assert [tuple(s.shape) for s in scores] == [(3, c) for c in N_CLASSES]
        groups = model.parameter_groups(0.01, 0.1)
        grouped = [id(p) for g in groups for p in g["params"]]
        assert sorted(grouped) == sorted(id(p) for p in model.parameters()), name  # each parameter once
        assert {id(p) for p in model.backbone.parameters()} <= {id(p) for p in groups[0]["params"]}


def test_conv4_trunk_architecture():
    """4 x (conv3x3 -> BN -> ReLU -> pool 2; no pool at 1 px) then global average pooling."""
    from hmc.models.images import Conv4Trunk, make_backbone
    trunk, used, dim = make_backbone("conv4", width=8)
    assert isinstance(trunk, Conv4Trunk) and not used and dim == 8
    assert sum(p.numel() for p in trunk.parameters()) == (3 * 9 * 8 + 8 + 2 * 8) + 3 * (8 * 9 * 8 + 8 + 2 * 8)
    trunk.eval()
    x = torch.randn(2, 3, 28, 28)
    h = x
    for i, block in enumerate(trunk.blocks):
        h = block(h)
        if min(h.shape[-2:]) > 1:
            h = F.max_pool2d(h, 2)
    assert h.shape[-2:] == (1, 1)
    torch.testing.assert_close(trunk(x), h.mean(dim=(2, 3)))
    with pytest.raises(ValueError):
        make_backbone("conv4", pretrained=True)
    with pytest.raises(ValueError):
        make_backbone("conv4", width=0)
    with pytest.raises(ValueError):
        make_backbone("vgg")
