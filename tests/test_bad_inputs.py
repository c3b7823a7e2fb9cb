"""Every bad input gets an error that names what to fix: the argument or the file (and line), what was
expected, and what to do.

One parametrised test per kind of input: ARFF values, data roots and files that cannot be read, damaged
Omniglot npz files, MCLoss / focal MCLoss / HCAL arguments, Hierarchy node indices and paths.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hmc.constraint import MaxConstraint, MCLoss, mc_loss
from hmc.data import paths
from hmc.data.arff import read_arff
from hmc.data.cli import main as data_main
from hmc.data.download import status
from hmc.data.images import load_omniglot
from hmc.data.sources import SOURCES, RemoteFile
from hmc.errors import HierarchyError, HMCDataError
from hmc.hierarchy import Hierarchy
from hmc.losses import FocalMCLoss, aggregated_prototype_ce, focal_mc_loss, hcal_level_losses, prototype_ce

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """HMC_DATA_DIR = tmp/data (created), HMC_CACHE_DIR = tmp/cache (created): (data, cache)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache.mkdir()
    monkeypatch.setenv("HMC_DATA_DIR", str(data))
    monkeypatch.setenv("HMC_CACHE_DIR", str(cache))
    return data, cache


# ------------------------------------------------------------------------------------- ARFF values
ARFF = """\
@RELATION tiny
@ATTRIBUTE a numeric
@ATTRIBUTE b numeric
@ATTRIBUTE class hierarchical 01,01/01,02
@DATA
1.5,2,01
0.5,{value},01/01
"""  # the bad value is on line 7, attribute 'b' (value 2)


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e400", "-1e400"])
def test_arff_non_finite_value_names_file_line_attribute_and_value(tmp_path, value):
    path = tmp_path / "tiny.arff"
    path.write_text(ARFF.format(value=value))
    with pytest.raises(HMCDataError) as info:
        read_arff(path)
    message = str(info.value)
    assert info.value.path == str(path) and info.value.line == 7
    assert message.startswith(f"{path}, line 7: ")
    for fragment in ("attribute 'b'", repr(value), "finite number", "'?'"):
        assert fragment in message


# ------------------------------------------------------------------------------------- unreadable data
def _run_with_permissions(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python ARGS`` in a subprocess in which file permissions apply.

    As an ordinary user that is any subprocess. As root (permissions do not bind root), the
    capabilities that bypass them are dropped with ``setpriv``; the test is skipped without it.
    """
    command = [sys.executable, *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        drop = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
        if setpriv is None or subprocess.run([setpriv, *drop, "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE: permissions cannot be tested")
        command = [setpriv, *drop, *command]
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=300, cwd=REPO)


NPZ_BACKGROUND, NPZ_EVALUATION = (remote.relpath for remote in SOURCES["omniglot"])


@pytest.mark.parametrize("what", ["data root", "one file"])
def test_status_names_what_cannot_be_read_and_falls_back_to_the_cache(roots, what):
    data, cache = roots
    in_cache = cache / NPZ_EVALUATION  # found in the cache whatever happens to HMC_DATA_DIR
    in_cache.parent.mkdir(parents=True)
    in_cache.write_bytes(b"not checked here")
    locked = data if what == "data root" else data / NPZ_BACKGROUND
    if what == "one file":
        locked.parent.mkdir(parents=True)
        locked.write_bytes(b"x")
    locked.chmod(0)
    try:
        env = {"HMC_DATA_DIR": str(data), "HMC_CACHE_DIR": str(cache)}
        run = _run_with_permissions(["-m", "hmc", "data", "status"], env)
        found = _run_with_permissions(
            ["-c", f"from hmc.data import paths; print(paths.find({NPZ_EVALUATION!r}))"], env)
    finally:
        locked.chmod(0o700)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    if what == "data root":
        root_line = next(line for line in run.stdout.splitlines() if line.strip().startswith("1."))
        assert str(data) in root_line and "cannot be read" in root_line and "skipped" in root_line
        assert found.stdout.strip() == str(in_cache)
        assert str(data) in found.stderr and "cannot be searched" in found.stderr  # the warning says so
    else:
        assert f"{locked}: cannot be read" in run.stdout
        assert "images_background.npz (unusable)" in run.stdout
        assert found.returncode == 0, found.stderr


def test_find_skips_a_root_that_cannot_be_searched(roots, monkeypatch):
    """In process, without permissions: a root whose stat fails with PermissionError is skipped."""
    data, cache = roots
    (cache / "f.txt").write_text("x")
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(data)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.warns(UserWarning, match=f"data root {data} cannot be searched"):
        assert paths.find("f.txt") == cache / "f.txt"


# ------------------------------------------------------------------------------------- damaged npz
def _write_omniglot_npz(root: Path) -> list[Path]:
    """Two small valid Omniglot npz files (3 + 2 characters, 20 random 16x16 drawings each)."""
    rng = np.random.default_rng(0)
    files = []
    for relpath, n in ((NPZ_BACKGROUND, 3), (NPZ_EVALUATION, 2)):
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        labels = np.repeat(np.arange(n)[:, None], 20, axis=1)
        with open(path, "wb") as f:
            np.savez_compressed(f, images=rng.random((n, 20, 16, 16)) < 0.5, labels=labels)
        files.append(path)
    return files


def _damage(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        raw = raw[: len(raw) // 2]
    else:  # 8 bytes overwritten inside the compressed images
        raw[len(raw) // 3 : len(raw) // 3 + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_damaged_omniglot_npz_names_the_file_and_how_to_replace_it(roots, monkeypatch, how):
    data, _ = roots
    files = _write_omniglot_npz(data)
    monkeypatch.setitem(SOURCES, "omniglot", tuple(
        RemoteFile(remote.relpath, remote.url, path.stat().st_size, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest())
        for remote, path in zip(SOURCES["omniglot"], files)))
    assert load_omniglot(size=None, source="npz").n_classes == (5, 2)
    assert all(row.problem is None for row in status() if row.dataset == "omniglot")

    _damage(files[0], how)
    with pytest.raises(HMCDataError) as info:
        load_omniglot(size=None, source="npz")
    assert info.value.path == str(files[0])
    assert "truncated or damaged" in str(info.value) and "python -m hmc data fetch omniglot" in str(info.value)

    row = next(row for row in status() if row.file == NPZ_BACKGROUND)
    assert row.present and row.problem is not None and "python -m hmc data fetch omniglot" in row.problem
    assert data_main(["status"]) == 0


def test_status_prints_a_damaged_file_with_its_path(roots, monkeypatch, capsys):
    data, _ = roots
    files = _write_omniglot_npz(data)
    monkeypatch.setitem(SOURCES, "omniglot", tuple(
        RemoteFile(remote.relpath, remote.url, path.stat().st_size, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest())
        for remote, path in zip(SOURCES["omniglot"], files)))
    _damage(files[1], "overwritten")  # same size: only the checksum tells
    assert data_main(["status"]) == 0
    out = capsys.readouterr().out
    omniglot_line = next(line for line in out.splitlines() if line.startswith("omniglot "))
    assert omniglot_line.split()[:2] == ["omniglot", "1/2"]
    assert "images_evaluation.npz (unusable)" in omniglot_line
    assert f"{files[1]}: truncated or damaged" in out and "expected checksum" in out


# ------------------------------------------------------------------------------------- MCLoss
def _hierarchy() -> Hierarchy:
    """r -> a -> b, r -> c; columns r, a, c, b."""
    return Hierarchy.from_edges([("r", "a"), ("a", "b"), ("r", "c")])


H = torch.full((2, 4), 0.4, dtype=torch.float64)
Y = torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])


MC_LOSS_CASES = {
    # name: (arguments changed from (h=H, y=Y), exception, the message starts with, a fragment)
    "logits": (dict(h=H * 10 - 5), ValueError, "h must hold probabilities", "torch.sigmoid(logits)"),
    "NaN h": (dict(h=torch.full_like(H, math.nan)), ValueError, "h contains NaN", "[0, 1]"),
    "numpy h": (dict(h=H.numpy()), TypeError, "h must be a torch.Tensor", "torch.as_tensor"),
    "labels of 2": (dict(y=Y * 2), ValueError, "y must hold 0/1 labels", "2.0"),
    "labels of 0.5": (dict(y=Y * 0.5), ValueError, "y must hold 0/1 labels", "0.5"),
    "NaN labels": (dict(y=torch.full_like(Y, math.nan)), ValueError, "y must hold 0/1 labels", "nan"),
    "label without its parent": (dict(y=torch.tensor([[1.0, 0.0, 0.0, 1.0]])), ValueError,
                                 "y is not hierarchy-consistent", "node 'b' = 1 but its parent 'a' = 0"),
    "empty batch": (dict(h=H[:0], y=Y[:0]), ValueError, "h is an empty batch", "skip empty batches"),
    "NaN weight": (dict(weight=torch.full((4,), math.nan)), ValueError, "weight must be finite and >= 0", "NaN"),
    "negative weight": (dict(weight=-torch.ones(4)), ValueError, "weight must be finite and >= 0", "-1"),
    "infinite weight": (dict(weight=torch.tensor([1.0, math.inf, 1.0, 1.0])), ValueError,
                        "weight must be finite and >= 0", "inf"),
    "int64 eval_nodes out of range": (dict(eval_nodes=torch.tensor([1, 7])), ValueError,
                                      "eval_nodes must hold node indices in [0, 4)", "7"),
    "negative int64 eval_nodes": (dict(eval_nodes=torch.tensor([-1, 2])), ValueError,
                                  "eval_nodes must hold node indices in [0, 4)", "-1"),
    "eval_nodes list out of range": (dict(eval_nodes=[1, 4]), ValueError,
                                     "eval_nodes must hold node indices in [0, 4)", "4"),
}


@pytest.mark.parametrize("case", MC_LOSS_CASES)
@pytest.mark.parametrize("mcm", ["hierarchy", "index"])
def test_mc_loss_names_the_bad_argument(case, mcm):
    changes, exc, start, fragment = MC_LOSS_CASES[case]
    hier = _hierarchy()
    args = dict(h=H, y=Y, mcm=hier if mcm == "hierarchy" else MaxConstraint(hier)) | changes
    with pytest.raises(exc) as info:
        mc_loss(**args)
    assert str(info.value).startswith(start)
    assert fragment in str(info.value)


@pytest.mark.parametrize("case", ["labels of 0.5", "label without its parent", "negative weight"])
def test_validate_false_skips_the_value_checks(case):
    """The documented switch for training loops: no checks, the plain computation."""
    changes = MC_LOSS_CASES[case][0]
    args = dict(h=H, y=Y, mcm=_hierarchy()) | changes
    assert torch.isfinite(mc_loss(**args, validate=False))
    module = MCLoss(_hierarchy(), validate=False)
    assert torch.isfinite(module(args["h"], args["y"], args.get("weight")))
    with pytest.raises(ValueError):
        MCLoss(_hierarchy())(args["h"], args["y"], args.get("weight"))


def test_valid_inputs_give_the_same_loss_with_and_without_checks():
    hier = _hierarchy()
    w = torch.tensor([0.0, 1.0, 2.0, 0.5])
    ev = torch.tensor([1, 2, 3])
    for reduction in ("mean", "sum", "none"):
        checked = mc_loss(H, Y, hier, ev, weight=w, reduction=reduction)
        torch.testing.assert_close(checked, mc_loss(H, Y, hier, ev, weight=w, reduction=reduction, validate=False))


# ------------------------------------------------------------------------------------- focal MCLoss
@pytest.mark.parametrize("name", ["exponent", "floor"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "2"])
def test_focal_exponent_and_floor_must_be_finite_and_non_negative(name, value):
    hier = _hierarchy()
    h = torch.full((2, 2, 4), 0.4, dtype=torch.float64)
    with pytest.raises(ValueError) as info:
        focal_mc_loss(h, Y, hier, **{name: value})
    assert str(info.value).startswith(f"{name} must be a finite number >= 0, got {value!r}")
    with pytest.raises(ValueError, match=f"^{name} must be a finite number"):
        FocalMCLoss(hier, **{name: value})


def test_focal_checks_h_through_mc_loss():
    h = torch.full((2, 2, 4), 0.4, dtype=torch.float64)
    h[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="^h contains NaN"):
        focal_mc_loss(h, Y, _hierarchy())


# ------------------------------------------------------------------------------------- HCAL losses
def _hcal_batch():
    g = torch.Generator().manual_seed(0)
    f = torch.nn.functional.normalize(torch.randn(6, 3, generator=g, dtype=torch.float64), dim=1)
    banks = [torch.nn.functional.normalize(torch.randn(c, 3, generator=g, dtype=torch.float64), dim=1) for c in (4, 2)]
    y = torch.tensor([[0, 0], [1, 0], [2, 1], [3, 1], [0, 0], [2, 1]])
    return f, banks, y


def _poison(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x[1, 0] = value
    return x


HCAL_CASES = {
    # name: (call(f, banks, y), the message starts with)
    "prototype_ce NaN f": (lambda f, b, y: prototype_ce(_poison(f, math.nan), b[0], y[:, 0]), "f contains 1 NaN"),
    "prototype_ce inf f": (lambda f, b, y: prototype_ce(_poison(f, math.inf), b[0], y[:, 0]), "f contains 0 NaN and 1 inf"),
    "prototype_ce NaN bank": (lambda f, b, y: prototype_ce(f, _poison(b[0], math.nan), y[:, 0]), "bank contains 1 NaN"),
    "prototype_ce y out of range": (lambda f, b, y: prototype_ce(f, b[1], y[:, 0]), "y must hold class indices in [0, 2)"),
    "aggregated NaN f": (lambda f, b, y: aggregated_prototype_ce(_poison(f, math.nan), b[1], y[:, 1]), "f contains 1 NaN"),
    "aggregated y out of range": (lambda f, b, y: aggregated_prototype_ce(f, b[1], y[:, 0]),
                                  "y must hold class indices in [0, 2)"),
    "level losses NaN f": (lambda f, b, y: hcal_level_losses(_poison(f, math.nan), b, y), "f contains 1 NaN"),
    "level losses NaN bank": (lambda f, b, y: hcal_level_losses(f, [b[0], _poison(b[1], math.nan)], y),
                              "banks[1] contains 1 NaN"),
    "level losses y out of range": (lambda f, b, y: hcal_level_losses(f, b, y.flip(1)), "y[:, 1] must hold class indices"),
}


@pytest.mark.parametrize("case", HCAL_CASES)
def test_hcal_losses_name_the_bad_argument(case):
    call, start = HCAL_CASES[case]
    with pytest.raises(ValueError) as info:
        call(*_hcal_batch())
    assert str(info.value).startswith(start)


def test_hcal_validate_false_gives_the_same_losses():
    f, banks, y = _hcal_batch()
    torch.testing.assert_close(hcal_level_losses(f, banks, y), hcal_level_losses(f, banks, y, validate=False))
    assert torch.isnan(prototype_ce(_poison(f, math.nan), banks[0], y[:, 0], validate=False))


# ------------------------------------------------------------------------------------- Hierarchy
@pytest.mark.parametrize("method", ["ancestors", "descendants"])
@pytest.mark.parametrize("node", [-1, -4, 4, 100])
def test_hierarchy_node_index_out_of_range(method, node):
    hier = _hierarchy()
    with pytest.raises(HierarchyError, match=rf"^node index {node} is out of range: expected 0 <= index < 4"):
        getattr(hier, method)(node)


def test_hierarchy_node_of_the_wrong_type():
    with pytest.raises(TypeError, match="^node must be a node name"):
        _hierarchy().ancestors(1.0)
    assert _hierarchy().ancestors(np.int64(3)) == ["r", "a"]


@pytest.mark.parametrize("paths_, bad", [(["", "a"], ""), (["a", "a/"], "a/"), (["a", "a//b"], "a//b")])
def test_hierarchy_path_with_an_empty_part(paths_, bad):
    with pytest.raises(HierarchyError) as info:
        Hierarchy.from_paths(paths_)
    assert f"({bad!r}) has an empty part" in str(info.value)


def test_hierarchy_node_with_an_empty_name():
    with pytest.raises(HierarchyError, match="^node 1 has an empty name"):
        Hierarchy.from_edges([("r", "")])
