"""Benchmarks: registry, preprocessing on a hand-computed example, the cache, and every real dataset.

The sample of the real data committed with the tests (tests/data/sample: cellcycle_FUN, spo_FUN,
cellcycle_GO, their first rows) is loaded in every run. The complete-data tests (every benchmark,
with the data README's row counts) need HMC_DATA_DIR (e.g. /work/shared/data); without the files they
are skipped with the places looked in. The parse cache lives in a per-module temporary directory,
never in the user's cache.
"""

import csv
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from hmc.data import paths
from hmc.data.benchmarks import BENCHMARKS, SKIPPED_NODES, benchmark_names, load_benchmark, one_hot, preprocess
from hmc.data.sources import SOURCES
from hmc.errors import DatasetMissingError, HMCDataError

import sample_data as sample

COUNTS = {
    "hmc_datasets/" + row["file"]: row
    for row in csv.DictReader((Path(__file__).parent / "data" / "benchmark_counts.csv").open())
}

# chmcnn.md: input dim after one-hot, evaluated labels, hidden dim, epochs
SPEC_TABLE = {
    "cellcycle_FUN": (77, 499, 500, 106), "derisi_FUN": (63, 499, 500, 67), "eisen_FUN": (79, 461, 500, 110),
    "expr_FUN": (561, 499, 1250, 20), "gasch1_FUN": (173, 499, 1000, 42), "gasch2_FUN": (52, 499, 500, 123),
    "seq_FUN": (529, 499, 2000, 13), "spo_FUN": (86, 499, 250, 115),
    "cellcycle_GO": (77, 4122, 1000, 62), "derisi_GO": (63, 4116, 500, 91), "eisen_GO": (79, 3570, 500, 123),
    "expr_GO": (561, 4128, 4000, 70), "gasch1_GO": (173, 4122, 500, 122), "gasch2_GO": (52, 4128, 500, 177),
    "seq_GO": (529, 4130, 9000, 45), "spo_GO": (86, 4116, 500, 103),
    "diatoms": (371, 398, 2000, 474), "enron": (1001, 56, 1000, 133),
    "imclef07a": (80, 96, 1000, 592), "imclef07d": (80, 46, 1000, 588),
}
MISSING = "expr_GO"  # expr_GO.train.arff is not in the data folder


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """HMC_CACHE_DIR -> a temporary directory shared by this module's tests (the first parse is cached)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMC_CACHE_DIR", str(tmp_path_factory.mktemp("hmc-cache")))
        yield


def require_files(name):
    """Skip (saying where it looked) unless every file of the benchmark is found."""
    for relpath in BENCHMARKS[name].files.values():
        if paths.find(relpath) is None:
            where = ", ".join(str(root) for root in paths.data_dirs())
            env = os.environ.get("HMC_DATA_DIR", "unset")
            pytest.skip(f"{name}: {relpath} not found; looked in {where} (HMC_DATA_DIR is {env}; "
                        "point it at the folder holding hmc_datasets/)")


# ------------------------------------------------------------------------------------- registry
def test_registry_order_families_and_settings():
    assert list(BENCHMARKS) == list(SPEC_TABLE)
    assert benchmark_names() == list(SPEC_TABLE)
    for name, (input_dim, n_labels, hidden, epochs) in SPEC_TABLE.items():
        spec = BENCHMARKS[name]
        family = "others" if "_" not in name else name.split("_")[1]
        assert (spec.name, spec.family) == (name, family)
        assert (spec.input_dim, spec.n_labels, spec.hidden_dim, spec.epochs) == (input_dim, n_labels, hidden, epochs)
        assert spec.lr == (1e-5 if family == "others" else 1e-4)
        assert list(spec.files) == (["train", "test"] if family == "others" else ["train", "valid", "test"])
        assert set(spec.files.values()) == {f.relpath for f in SOURCES[name]}
    assert BENCHMARKS["enron"].files == {
        "train": "hmc_datasets/HMC_data/others/Enron_corr_trainvalid.arff",
        "test": "hmc_datasets/HMC_data/others/Enron_corr_test.arff",
    }


def test_unknown_name_or_imputation():
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        load_benchmark("nope")
    with pytest.raises(ValueError, match="unknown imputation 'median'"):
        load_benchmark("spo_FUN", imputation="median")


# ------------------------------------------------------------------------------------- hand-made data
HEADER = """\
@RELATION tiny
@ATTRIBUTE a numeric
@ATTRIBUTE b {x,y,z}
@ATTRIBUTE c numeric
@ATTRIBUTE class hierarchical 01,01/01,02
@DATA
"""
TINY = {
    "train": "1,x,?,01/01\n3,y,2,02\n",
    "valid": "?,?,4,01\n",
    "test": "5,z,?,02\n?,x,10,01@02\n",
}


def write_benchmark(root, name, rows, header=HEADER):
    """Write ``rows[split]`` under ``header`` at the benchmark's relpaths below ``root``."""
    for split, relpath in BENCHMARKS[name].files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + rows[split])


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    """A data root holding the tiny example as spo_FUN, with its own empty cache."""
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    write_benchmark(tmp_path / "data", "spo_FUN", TINY)
    return tmp_path


def test_preprocessing_matches_hand_computation(tiny_root):
    bench = load_benchmark("spo_FUN", cache=False)
    assert bench.feature_names == ("a", "b=x", "b=y", "b=z", "c")
    assert bench.attributes == (("a", "numeric"), ("b", ("x", "y", "z")), ("c", "numeric"))
    # train+valid after mean imputation: a = 1, 3, 2 (mean 2); c = 3, 2, 4 (mean 3); b one-hot
    # x: 1,0,0 and y: 0,1,0 (mean 1/3, std sqrt(2)/3); z: 0,0,0 (std 0 -> scale 1). Population stds.
    s_ac = math.sqrt(2 / 3)
    s_b = math.sqrt(2) / 3
    want_train = [
        [(1 - 2) / s_ac, (1 - 1 / 3) / s_b, (0 - 1 / 3) / s_b, 0, 0],
        [(3 - 2) / s_ac, (0 - 1 / 3) / s_b, (1 - 1 / 3) / s_b, 0, (2 - 3) / s_ac],
    ]
    want_valid = [[0, (0 - 1 / 3) / s_b, (0 - 1 / 3) / s_b, 0, (4 - 3) / s_ac]]
    want_test = [
        [(5 - 2) / s_ac, (0 - 1 / 3) / s_b, (0 - 1 / 3) / s_b, 1, 0],
        [0, (1 - 1 / 3) / s_b, (0 - 1 / 3) / s_b, 0, (10 - 3) / s_ac],
    ]
    for got, want in ((bench.x_train, want_train), (bench.x_valid, want_valid), (bench.x_test, want_test)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    nodes = bench.hierarchy.nodes
    assert nodes[0] == "root" and bench.y_test.dtype == np.uint8
    positives = [{nodes[j] for j in np.flatnonzero(row)} for row in bench.y_test]
    assert positives == [{"root", "02"}, {"root", "01", "02"}]
    assert {nodes[j] for j in np.flatnonzero(bench.y_train[0])} == {"root", "01", "01/01"}
    assert sorted(nodes[j] for j in bench.eval_nodes) == ["01", "01/01", "02"]


def test_per_split_imputation_uses_each_splits_own_means_first(tiny_root):
    clean = load_benchmark("spo_FUN", cache=False)
    quirk = load_benchmark("spo_FUN", imputation="per_split", cache=False)
    # per split: train c -> 2 (train's mean); valid a has no value -> train+valid imputer mean 2;
    # test a -> 5 and test c -> 10 (test's own means). Then fit on a = 1,3,2 and c = 2,2,4.
    s_a = math.sqrt(2 / 3)
    mean_c, s_c = 8 / 3, 2 * math.sqrt(2) / 3
    np.testing.assert_allclose(quirk.x_test[:, 0], [(5 - 2) / s_a] * 2, rtol=1e-6)
    np.testing.assert_allclose(quirk.x_test[:, 4], [(10 - mean_c) / s_c] * 2, rtol=1e-6)
    np.testing.assert_allclose(quirk.x_train[:, 4], [(2 - mean_c) / s_c] * 2, rtol=1e-6)
    np.testing.assert_allclose(quirk.x_valid[:, 0], [0], atol=1e-6)
    np.testing.assert_array_equal(quirk.x_test[:, 1:4], clean.x_test[:, 1:4])  # no missing one-hot values
    assert not np.allclose(quirk.x_test, clean.x_test)
    np.testing.assert_array_equal(quirk.y_test, clean.y_test)


def test_others_have_no_valid_split_and_fit_on_train_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    header = "@RELATION r\n@ATTRIBUTE a numeric\n@ATTRIBUTE class hierarchical 1,1/1,1,1/2\n@DATA\n"
    write_benchmark(tmp_path / "data", "imclef07d", {"train": "1,1@1/1\n3,1/2\n", "test": "5,1\n"}, header)
    bench = load_benchmark("imclef07d", cache=False)
    assert bench.x_valid.shape == (0, 1) and bench.y_valid.shape == (0, len(bench.hierarchy))
    np.testing.assert_allclose(bench.x_train[:, 0], [-1, 1])
    np.testing.assert_allclose(bench.x_test[:, 0], [3])  # (5 - mean 2) / std 1, train only
    assert bench.hierarchy.nodes == ["root", "1", "1/1", "1/2"]


def test_one_hot_and_preprocess_directly():
    x = np.array([[0.5, 2.0], [np.nan, np.nan], [1.5, 0.0]])
    encoded, names = one_hot(x, (("u", "numeric"), ("v", ("p", "q", "r"))))
    assert names == ["u", "v=p", "v=q", "v=r"]
    np.testing.assert_array_equal(encoded[:, 1:], [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    train, valid, test = preprocess(encoded[:2], encoded[:0], encoded[2:])
    assert valid.shape == (0, 4)
    np.testing.assert_allclose(train[:, 0], [0, 0])  # u: only 0.5 observed -> std 0 -> scale 1
    np.testing.assert_allclose(test[0, 0], 1.0)
    with pytest.raises(ValueError, match="unknown imputation"):
        preprocess(encoded, encoded, encoded, imputation="zero")


def test_split_files_with_different_hierarchies_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    write_benchmark(tmp_path / "data", "spo_FUN", TINY)
    valid = tmp_path / "data" / BENCHMARKS["spo_FUN"].files["valid"]
    valid.write_text(HEADER.replace("01,01/01,02", "01,01/01,02,03") + TINY["valid"])
    with pytest.raises(HMCDataError) as info:
        load_benchmark("spo_FUN", cache=False)
    assert "spo_FUN.valid.arff, line 5: declares a different hierarchy than" in str(info.value)


def test_missing_file_names_it_where_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    write_benchmark(tmp_path / "data", "spo_FUN", TINY)
    (tmp_path / "data" / BENCHMARKS["spo_FUN"].files["test"]).unlink()
    with pytest.raises(DatasetMissingError) as info:
        load_benchmark("spo_FUN")
    message = str(info.value)
    assert "spo_FUN.test.arff" in message and str(tmp_path / "data") in message
    assert "python -m hmc data fetch spo_FUN" in message


# ------------------------------------------------------------------------------------- cache
def cache_files(root):
    return sorted((root / "cache" / "parsed").glob("*.npz"))


def assert_same(a, b):
    assert a.hierarchy.nodes == b.hierarchy.nodes
    assert [list(p) for p in a.hierarchy.parents] == [list(p) for p in b.hierarchy.parents]
    assert (a.name, a.family, a.imputation, a.attributes, a.feature_names) == (
        b.name, b.family, b.imputation, b.attributes, b.feature_names)
    for field in ("x_train", "x_valid", "x_test", "y_train", "y_valid", "y_test", "eval_nodes"):
        got, want = getattr(a, field), getattr(b, field)
        assert got.dtype == want.dtype and got.shape == want.shape, field
        np.testing.assert_array_equal(got, want, err_msg=field)


def test_cache_is_reused_identical_and_fast(tiny_root):
    first = load_benchmark("spo_FUN")
    (cached_file,) = cache_files(tiny_root)
    assert cached_file.name.startswith("spo_FUN.trainvalid.")
    start = time.perf_counter()
    second = load_benchmark("spo_FUN")
    assert time.perf_counter() - start < 0.5
    assert_same(first, second)
    assert_same(first, load_benchmark("spo_FUN", cache=False))
    load_benchmark("spo_FUN", imputation="per_split")
    assert len(cache_files(tiny_root)) == 2  # one file per imputation option


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_cache_file_is_rebuilt(tiny_root, damage):
    first = load_benchmark("spo_FUN")
    (cached_file,) = cache_files(tiny_root)
    content = cached_file.read_bytes()
    cached_file.write_bytes({"garbage": b"not a zip file" * 10, "truncated": content[: len(content) // 2],
                             "empty": b""}[damage])
    assert_same(first, load_benchmark("spo_FUN"))
    assert cached_file.read_bytes() == content  # rewritten whole


def test_changed_source_file_invalidates_the_cache(tiny_root):
    load_benchmark("spo_FUN")
    (old,) = cache_files(tiny_root)
    test_file = tiny_root / "data" / BENCHMARKS["spo_FUN"].files["test"]
    test_file.write_text(HEADER + "7,z,1,02\n")
    bench = load_benchmark("spo_FUN")
    assert bench.x_test.shape == (1, 5)
    (new,) = cache_files(tiny_root)
    assert new != old  # the stale file was replaced, not kept beside the new one


# ------------------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name", [n for n in SPEC_TABLE if n != MISSING])
def test_real_benchmark(name):
    """Rows, raw features and nodes as the data README lists them; the spec's dims; consistent labels.

    README 'nodes(incl. roots)' = len(hierarchy) for GO (root and ontology roots are listed nodes)
    and len(hierarchy) - 1 for FUN / others (the implicit root is not listed).
    """
    require_files(name)
    check_benchmark(name, {split: int(COUNTS[relpath]["instances"]) for split, relpath in BENCHMARKS[name].files.items()})


@pytest.mark.parametrize("name", sample.BENCHMARKS)
def test_sample_benchmark(name, sample_data):
    """The committed sample loads like the complete benchmark: the spec's dims, the full hierarchy, its rows."""
    check_benchmark(name, sample.ROWS)


def check_benchmark(name, rows):
    """Load ``name`` (then again from the cache) and check it: ``rows[split]`` rows per split, the
    data README's raw features and nodes, the spec's dims, consistent labels, standardised features."""
    spec = BENCHMARKS[name]
    bench = load_benchmark(name)  # the first load parses and fills the cache
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        cached = load_benchmark(name)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.5, f"cached load of {name} took {min(timings):.3f} s"
    assert_same(bench, cached)

    counts = {split: COUNTS[relpath] for split, relpath in spec.files.items()}
    for split, row in counts.items():
        assert len(getattr(bench, f"x_{split}")) == rows[split], split
        assert len(getattr(bench, f"y_{split}")) == rows[split], split
        assert len(bench.attributes) == int(row["features"])
        assert sum(kind == "numeric" for _, kind in bench.attributes) == int(row["numeric"])
        implicit_root = 0 if spec.family == "GO" else 1
        assert len(bench.hierarchy) - implicit_root == int(row["nodes"])
    if spec.family == "others":
        assert bench.x_valid.shape[0] == 0 and bench.y_valid.shape[0] == 0

    input_dim, n_labels, _, _ = SPEC_TABLE[name]
    assert len(bench.feature_names) == input_dim
    assert len(bench.eval_nodes) == n_labels
    skipped = {bench.hierarchy.nodes[i] for i in set(range(len(bench.hierarchy))) - set(bench.eval_nodes)}
    assert skipped == set(SKIPPED_NODES[spec.family])
    for split in ("train", "valid", "test"):
        x, y = getattr(bench, f"x_{split}"), getattr(bench, f"y_{split}")
        assert x.dtype == np.float32 and x.shape[1] == input_dim and np.isfinite(x).all()
        assert y.dtype == np.uint8 and y.shape[1] == len(bench.hierarchy) and set(np.unique(y)) <= {0, 1}
        assert bench.hierarchy.is_consistent(y).all(), split
    fit = np.concatenate([bench.x_train, bench.x_valid]).astype(np.float64)
    np.testing.assert_allclose(fit.mean(axis=0), 0, atol=1e-4)
    assert set(np.round(fit.std(axis=0), 3)) <= {0.0, 1.0}


def test_expr_go_train_file_is_reported_missing():
    relpath = BENCHMARKS[MISSING].files["train"]
    if paths.find(relpath) is not None:
        pytest.skip(f"{relpath} is present in {paths.find(relpath).parent}; nothing to report missing")
    with pytest.raises(DatasetMissingError) as info:
        load_benchmark(MISSING)
    message = str(info.value)
    assert "expr_GO.train.arff" in message
    for root in paths.data_dirs():
        assert str(root / relpath) in message
    assert "python -m hmc data fetch expr_GO" in message
    assert MISSING not in benchmark_names(available_only=True)


# ------------------------------------------------------------------------------------- speed benchmarks
def _benchmark_script(name):
    """The module benchmarks/<name>.py, imported from the checkout."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_limits_prints_each_paths_fraction_of_its_floor(capsys):
    """A tiny run of benchmarks/bench_limits.py: bandwidth, peak, and one line per path with its fraction."""
    require_files("cellcycle_FUN")
    bench_limits = _benchmark_script("bench_limits")
    assert bench_limits.main(["--steps", "2", "--reps", "1", "--copy-mb", "8", "--matmul-n", "128",
                              "--seeds", "2", "--members", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "copy bandwidth" in out and "matmul peak" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("chmcnn S=", "rare-node ensemble"))]
    table = [r for r in rows if "step" not in r[2]]
    assert [r[1] for r in table] == ["S=1", "S=2", "ensemble"] and all(float(r[-1]) > 0 for r in table)
    # 40 bytes per parameter (module docstring), the 1-seed model has 0.57 M parameters
    assert table[0][3] == "22.6"
    assert "reference step (autograd loss)" in out


def test_bench_seeds_compares_the_thread_policy_with_fixed_counts(capsys):
    require_files("cellcycle_FUN")
    bench_seeds = _benchmark_script("bench_seeds")
    assert bench_seeds.main(["--threads-compare", "--fixed", "1", "--rounds", "1", "--seeds", "1",
                             "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "auto / best fixed (1 thread(s)):" in out and "ms/step" in out


def test_bench_gpu_runs_on_the_cpu_and_prints_both_paths_against_the_floor(capsys):
    """benchmarks/bench_gpu.py with --device cpu on a few steps: the plain and stacked lines, the ratio,
    and the floor of 40 bytes per parameter (2 methods x 1 seed x H = 2: 4 networks of 0.57 M)."""
    require_files("cellcycle_FUN")
    bench_gpu = _benchmark_script("bench_gpu")
    assert bench_gpu.main(["--device", "cpu", "--seeds", "1", "--steps", "2", "--methods",
                           "baseline-H2,focal-bma-H2", "--copy-mb", "8", "--no-projection"]) == 0
    out = capsys.readouterr().out
    assert "plain (one model per method" in out and "ratio plain / stacked" in out
    assert "of 4 networks" in out and "(90 MB per step" in out


def test_bench_seeds_times_groups_of_seeds(capsys):
    require_files("cellcycle_FUN")
    bench_seeds = _benchmark_script("bench_seeds")
    assert bench_seeds.main(["--group-sizes", "1,2", "--seeds", "4", "--epochs", "1", "--threads", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("group of")]
    assert [r[2] for r in rows] == ["1:", "2:"]
    for r in rows:  # per network-step = per step / G; the 4 networks in groups of G = per step x 4 / G
        g, step, per_network, all_four = int(r[2][:-1]), float(r[3]), float(r[7]), float(r[-6])
        assert per_network == pytest.approx(step / g, abs=0.006) and all_four == pytest.approx(step * 4 / g, abs=0.06)


def test_bench_stacked_methods_prints_both_sides_and_their_equality(capsys):
    require_files("cellcycle_FUN")
    bench = _benchmark_script("bench_stacked_methods")
    assert bench.main(["--seeds", "1", "--rounds", "1", "--methods", "baseline-H2,imbalance-neg-H2"]) == 0
    out = capsys.readouterr().out
    assert "of all 4 networks" in out and "ratio separate / stacked" in out
    assert out.count("predictions bitwise equal True") == 2
