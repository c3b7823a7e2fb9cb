"""LPROS (hmc.resampling): hand-counted small trees and a DAG, a loop-based reference, invariants.

The hand cases give every quantity of the spec's steps 1-4 as worked out on paper (in the comments);
the loop-based :func:`reference_plan` recounts the paths row by row with Python sets and replays
step 4 with exact fractions, for the random DAGs and the real benchmark.
"""

import math
import time
import types
from fractions import Fraction

import numpy as np
import pytest

from hmc import Hierarchy
from hmc.resampling import label_path_counts, lpros, lpros_benchmark
from hmc.synthetic import make_tabular
from sample_data import SAMPLE_ROOT


# ------------------------------------------------------------------------------------- helpers
def named(h, idx):
    return {h.nodes[int(i)] for i in idx}


def per_node(h, values):
    return {h.nodes[i]: int(v) for i, v in enumerate(values) if v}


def features(n, f=3):
    return np.arange(n * f, dtype=np.float32).reshape(n, f) + 0.5


def reference_plan(y, h, budget, cap=True):
    """The spec's steps 1-4 by loops: (initial counts, minority set, {node: clones}, final counts)."""
    n_nodes = len(h)
    lineage = [{c, *h.indices(h.ancestors(c)).tolist()} for c in range(n_nodes)]
    counts = [0] * n_nodes
    for row in np.asarray(y):
        labelled = set(np.flatnonzero(row).tolist())
        for c in labelled:
            if not any(int(k) in labelled for k in h.children[c]):  # a most specific label = a path
                for a in lineage[c]:
                    counts[a] += 1
    initial = list(counts)
    paths = [c for c in range(n_nodes) if counts[c] > 0 and len(h.parents[c]) > 0]
    if not paths:
        return initial, set(), {}, counts
    max_count = max(counts[c] for c in paths)
    hmean = sum(Fraction(max_count, counts[c]) for c in paths) / len(paths)
    minority = {c for c in paths if Fraction(max_count, counts[c]) > hmean}
    to_create = int(budget * len(y))
    mean_size = math.ceil(Fraction(len(y), len(paths)))
    max_inc = math.ceil(Fraction(to_create, len(minority))) if minority else 0
    clones, left = {}, to_create
    for c in sorted(paths, key=lambda c: (-h.depth[c], c)):
        if Fraction(max_count, counts[c]) > hmean:
            k = min(max_inc, mean_size - counts[c])
            if cap:
                k = min(k, left)
            if k > 0:
                clones[c] = k
                left -= k
                for a in lineage[c]:
                    counts[a] += k
    return initial, minority, clones, counts


def check_output(res, x, y, h):
    """Row-level invariants of any LPROS output."""
    n = len(y)
    assert res.n_original == n and res.n_clones == len(res.path) == len(res.source)
    assert res.x.shape == (n + res.n_clones, x.shape[1]) and res.y.shape == (n + res.n_clones, len(h))
    assert res.x.dtype == x.dtype and res.y.dtype == y.dtype
    np.testing.assert_array_equal(res.x[:n], x)  # originals first, unchanged
    np.testing.assert_array_equal(res.y[:n], y)
    np.testing.assert_array_equal(res.x[n:], x[res.source])  # each clone copies its source's features
    assert (res.source >= 0).all() and (res.source < n).all()  # sources are original rows
    assert (y[res.source, res.path] == 1).all()  # every source row carries the cloned path
    assert set(res.path.tolist()) <= set(res.minority.tolist())  # only minority paths are cloned
    one_path = np.zeros((res.n_clones, len(h)), dtype=y.dtype)
    one_path[np.arange(res.n_clones), res.path] = 1
    np.testing.assert_array_equal(res.y[n:], h.propagate(one_path))  # the single path, with ancestors
    assert h.is_consistent(res.y).all()
    np.testing.assert_array_equal(np.bincount(res.path, minlength=len(h)), res.clones_per_node)


def check_against_reference(res, y, h, budget, cap=True):
    initial, minority, clones, final = reference_plan(y, h, budget, cap)
    np.testing.assert_array_equal(res.counts, initial)
    assert set(res.minority.tolist()) == minority
    assert per_node(h, res.clones_per_node) == {h.nodes[c]: k for c, k in clones.items()}
    np.testing.assert_array_equal(res.final_counts, final)
    # the final counts are the counts of the augmented label matrix, recounted from scratch
    np.testing.assert_array_equal(reference_plan(res.y, h, 0.0)[0], final)


# ------------------------------------------------------------------------------------- hand cases
def tree41():
    #          root
    #        /      \
    #       A        B
    #     /   \       \
    #   A/a1  A/a2    B/b1
    #    |
    #  A/a1/x
    h = Hierarchy.from_paths(["A", "A/a1", "A/a1/x", "A/a2", "B", "B/b1"])
    rows = (
        [["A/a2"]] * 20  # rows 0-19
        + [["B"]] * 12  # rows 20-31: an inner node as the most specific label
        + [["A/a1/x"]] * 5  # rows 32-36
        + [["B/b1"]] * 2  # rows 37-38
        + [["A/a1/x", "B/b1"]]  # row 39: two paths
        + [["A/a1"]]  # row 40
    )
    y = h.label_matrix(rows)
    return h, features(len(y)), y


def test_hand_tree_counts_statistics_and_clones():
    h, x, y = tree41()
    res = lpros(x, y, h, budget=0.1, seed=0)
    # step 1: paths a2 x20, B x12, x x6 (5 + row 39), b1 x3 (2 + row 39), a1 x1; propagated:
    # A = 20 + 6 + 1 = 27, a1 = 6 + 1 = 7, B = 12 + 3 = 15, root = 27 + 15 = 42
    counts = {"root": 42, "A": 27, "A/a1": 7, "A/a1/x": 6, "A/a2": 20, "B": 15, "B/b1": 3}
    assert per_node(h, res.counts) == counts
    assert named(h, res.path_nodes) == set(counts) - {"root"}
    # step 2: maxCount 27; IRLbP = 27 / count; HMeanIR = 27 * (1/27+1/7+1/6+1/20+1/15+1/3) / 6 = 3011/840
    irlbp = dict(zip(h.nodes, res.irlbp, strict=True))
    assert np.isnan(irlbp["root"])
    for node, c in counts.items():
        if node != "root":
            assert irlbp[node] == pytest.approx(27 / c)
    assert res.hmean_ir == pytest.approx(3011 / 840)  # 3.5845
    # IRLbP: a1 3.86, x 4.5, b1 9 exceed it; A 1, a2 1.35, B 1.8 do not
    assert named(h, res.minority) == {"A/a1", "A/a1/x", "B/b1"}
    # step 3: int(0.1 * 41) = 4; ceil(41 / 6) = 7; ceil(4 / 3) = 2
    assert (res.samples_to_create, res.mean_size, res.max_increase) == (4, 7, 2)
    # step 4, deepest first: x: min(2, 7 - 6) = 1 -> x 7, a1 8, A 28. Then a1 (27/8 = 3.375 < 3.58):
    # no longer minority; a2 not minority; b1: min(2, 7 - 3) = 2 -> b1 5, B 17. A, B: not minority.
    assert per_node(h, res.clones_per_node) == {"A/a1/x": 1, "B/b1": 2}
    assert [h.nodes[i] for i in res.visit_order] == ["A/a1/x", "A/a1", "A/a2", "B/b1", "A", "B"]
    assert per_node(h, res.final_counts) == {**counts, "root": 45, "A": 28, "A/a1": 8, "A/a1/x": 7, "B": 17,
                                             "B/b1": 5}
    assert res.n_clones == 3 <= res.samples_to_create
    assert [h.nodes[p] for p in res.path] == ["A/a1/x", "B/b1", "B/b1"]
    assert set(res.source[:1]) <= {32, 33, 34, 35, 36, 39}  # the rows labelled A/a1/x
    assert set(res.source[1:]) <= {37, 38, 39}  # the rows labelled B/b1
    assert named(h, np.flatnonzero(res.y[41])) == {"root", "A", "A/a1", "A/a1/x"}
    assert named(h, np.flatnonzero(res.y[42])) == {"root", "B", "B/b1"}
    assert named(h, np.flatnonzero(res.y[43])) == {"root", "B", "B/b1"}
    check_output(res, x, y, h)
    check_against_reference(res, y, h, 0.1)


def test_label_path_counts_by_hand():
    h, _, y = tree41()
    path_count, counts = label_path_counts(y, h)
    assert per_node(h, path_count) == {"A/a2": 20, "B": 12, "A/a1/x": 6, "B/b1": 3, "A/a1": 1}
    assert per_node(h, counts)["root"] == 42


def flat5():
    # root -> A, B, C, D, E; 30 A, 30 B, 2 C, 2 D, 2 E (N = 66)
    h = Hierarchy.from_paths(["A", "B", "C", "D", "E"])
    y = h.label_matrix([["A"]] * 30 + [["B"]] * 30 + [["C"]] * 2 + [["D"]] * 2 + [["E"]] * 2)
    return h, features(len(y)), y


def test_literal_spec_overshoots_the_budget_and_the_cap_prevents_it():
    h, x, y = flat5()
    # IRLbP 1, 1, 15, 15, 15; HMeanIR 47/5 = 9.4; minority C, D, E; int(0.11 * 66) = int(7.26) = 7;
    # meanSize ceil(66/5) = 14; maxIncrease ceil(7/3) = 3; each minority node: min(3, 14 - 2) = 3
    literal = lpros(x, y, h, budget=0.11, seed=0, cap_budget=False)
    assert literal.hmean_ir == pytest.approx(9.4)
    assert named(h, literal.minority) == {"C", "D", "E"}
    assert (literal.samples_to_create, literal.mean_size, literal.max_increase) == (7, 14, 3)
    assert per_node(h, literal.clones_per_node) == {"C": 3, "D": 3, "E": 3}
    # the overshoot the docstring states: 9 > 7, and at most samplesToCreate + #minority - 1 = 9
    assert literal.n_clones == 9 > literal.samples_to_create
    assert literal.n_clones <= literal.samples_to_create + len(literal.minority) - 1
    check_output(literal, x, y, h)
    check_against_reference(literal, y, h, 0.11, cap=False)

    capped = lpros(x, y, h, budget=0.11, seed=0)  # default: cap; equal depth -> hierarchy order
    assert per_node(h, capped.clones_per_node) == {"C": 3, "D": 3, "E": 1}
    assert capped.n_clones == 7 == capped.samples_to_create
    check_output(capped, x, y, h)
    check_against_reference(capped, y, h, 0.11)


def test_hand_dag_counts_a_shared_child_once_and_clones_carry_both_parents():
    # root -> A, root -> B, A -> X, B -> X; 10 A, 10 B, 1 X (N = 21)
    h = Hierarchy.from_edges([("root", "A"), ("root", "B"), ("A", "X"), ("B", "X")])
    y = h.label_matrix([["A"]] * 10 + [["B"]] * 10 + [["X"]])
    x = features(len(y))
    res = lpros(x, y, h, budget=0.5, seed=3)
    # X's path adds 1 to X, A, B and to root once: A 11, B 11, X 1, root 21
    assert per_node(h, res.counts) == {"root": 21, "A": 11, "B": 11, "X": 1}
    # maxCount 11; IRLbP 1, 1, 11; HMeanIR 13/3; minority X; T = int(10.5) = 10; meanSize 7; maxInc 10
    assert res.hmean_ir == pytest.approx(13 / 3)
    assert named(h, res.minority) == {"X"}
    assert (res.samples_to_create, res.mean_size, res.max_increase) == (10, 7, 10)
    assert per_node(h, res.clones_per_node) == {"X": 6}  # min(10, 7 - 1)
    assert per_node(h, res.final_counts) == {"root": 27, "A": 17, "B": 17, "X": 7}
    assert (res.source == 20).all()  # the only row labelled X
    for row in res.y[21:]:
        assert named(h, np.flatnonzero(row)) == {"root", "A", "B", "X"}
    check_output(res, x, y, h)


def test_no_minority_no_paths_empty_input_and_zero_budget_make_no_clones():
    h = Hierarchy.from_paths(["A", "B"])
    balanced = h.label_matrix([["A"]] * 5 + [["B"]] * 5)  # IRLbP 1, 1 = HMeanIR: strict > fails
    res = lpros(features(10), balanced, h, budget=1.0)
    assert res.hmean_ir == 1.0 and len(res.minority) == 0 and res.max_increase == 0 and res.n_clones == 0

    root_only = h.label_matrix([["root"]] * 4)  # the only path is the root, which is not counted
    res = lpros(features(4), root_only, h, budget=1.0)
    assert len(res.path_nodes) == 0 and np.isnan(res.hmean_ir) and res.n_clones == 0 and res.mean_size == 0
    check_output(res, features(4), root_only, h)

    empty = np.zeros((0, len(h)), dtype=np.uint8)
    res = lpros(np.zeros((0, 3), np.float32), empty, h, budget=0.5)
    assert res.x.shape == (0, 3) and res.y.shape == (0, len(h)) and res.n_clones == 0
    assert res.samples_to_create == 0 and np.isnan(res.hmean_ir)

    hx, x, y = flat5()
    res = lpros(x, y, hx, budget=0.0)
    assert res.samples_to_create == 0 and res.max_increase == 0 and res.n_clones == 0
    assert named(hx, res.minority) == {"C", "D", "E"}


# ------------------------------------------------------------------------------------- random data
@pytest.mark.parametrize("dag_fraction", [0.0, 0.5])
@pytest.mark.parametrize("budget", [0.05, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("cap", [True, False])
def test_random_trees_and_dags_match_the_reference(dag_fraction, budget, cap):
    data = make_tabular(n_samples=300, depth=4, branching=3, dag_fraction=dag_fraction, seed=7)
    h = data.hierarchy
    if dag_fraction:
        assert not h.is_tree
    res = lpros(data.x, data.y, h, budget=budget, seed=1, cap_budget=cap)
    assert res.n_clones > 0
    check_output(res, data.x, data.y, h)
    check_against_reference(res, data.y, h, budget, cap)
    budget_rows = int(budget * len(data.y))
    if cap:
        assert res.n_clones <= budget_rows
    else:
        assert res.n_clones <= budget_rows + len(res.minority) - 1
    depths = h.depth[res.visit_order]
    assert (np.diff(depths) <= 0).all()  # deepest first


def test_seed_determinism():
    data = make_tabular(n_samples=400, dag_fraction=0.3, seed=2)
    a = lpros(data.x, data.y, data.hierarchy, budget=0.2, seed=5)
    b = lpros(data.x, data.y, data.hierarchy, budget=0.2, seed=5)
    c = lpros(data.x, data.y, data.hierarchy, budget=0.2, seed=6)
    assert a.n_clones > 10
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.source, b.source)
    # another seed: the same plan (paths, clone counts, labels), other source rows
    np.testing.assert_array_equal(a.path, c.path)
    np.testing.assert_array_equal(a.y, c.y)
    assert not np.array_equal(a.source, c.source)


@pytest.mark.parametrize(
    "budget, x_shape, y_change, match",
    [
        (-0.1, None, None, "budget"),
        (1.5, None, None, "budget"),
        (float("nan"), None, None, "budget"),
        ("a lot", None, None, "budget"),
        (0.1, (5, 3), None, "shape"),  # 5 rows of x, 6 of y
        (0.1, (6,), None, "x must"),
        (0.1, None, "drop_column", "shape"),
        (0.1, None, "two", "0/1"),
        (0.1, None, "orphan", "hierarchy-consistent"),
    ],
)
def test_bad_input_raises(budget, x_shape, y_change, match):
    h = Hierarchy.from_paths(["A", "A/1", "B"])
    y = h.label_matrix([["A/1"], ["B"], ["A"], ["B"], ["A/1"], ["B"]])
    x = features(6) if x_shape is None else np.zeros(x_shape, np.float32)
    if y_change == "drop_column":
        y = y[:, :-1]
    elif y_change == "two":
        y = y.copy()
        y[0, 0] = 2
    elif y_change == "orphan":
        y = y.copy()
        y[0, h.index["A"]] = 0  # A/1 without A
    with pytest.raises(ValueError, match=match):
        lpros(x, y, h, budget=budget)


# ------------------------------------------------------------------------------------- benchmarks
def small_benchmark():
    from hmc.data.benchmarks import Benchmark

    data = make_tabular(n_samples=260, dag_fraction=0.2, seed=4)
    h, x, y = data.hierarchy, data.x, data.y
    return Benchmark(
        name="synthetic", family="FUN", imputation="trainvalid", hierarchy=h, attributes=(),
        feature_names=tuple(f"f{i}" for i in range(x.shape[1])),
        x_train=x[:150], x_valid=x[150:200], x_test=x[200:],
        y_train=y[:150], y_valid=y[150:200], y_test=y[200:],
        eval_nodes=np.arange(1, len(h)),
    )


def test_lpros_benchmark_augments_train_plus_valid():
    bench = small_benchmark()
    aug, res = lpros_benchmark(bench, budget=0.2, seed=3)
    x_fit = np.concatenate([bench.x_train, bench.x_valid])
    y_fit = np.concatenate([bench.y_train, bench.y_valid])
    direct = lpros(x_fit, y_fit, bench.hierarchy, budget=0.2, seed=3)
    assert res.n_original == 200 and 0 < res.n_clones <= int(0.2 * 200)
    np.testing.assert_array_equal(res.x, direct.x)
    np.testing.assert_array_equal(res.y_original, y_fit)
    # what the trainer's _fit concatenates is exactly the augmented data
    np.testing.assert_array_equal(np.concatenate([aug.x_train, aug.x_valid]), res.x)
    np.testing.assert_array_equal(np.concatenate([aug.y_train, aug.y_valid]), res.y)
    assert aug.x_valid.shape == (0, x_fit.shape[1]) and aug.y_valid.shape == (0, y_fit.shape[1])
    assert aug.x_test is bench.x_test and aug.y_test is bench.y_test and aug.hierarchy is bench.hierarchy
    assert bench.x_train.shape[0] == 150 and bench.x_valid.shape[0] == 50  # the original is untouched
    check_output(res, x_fit, y_fit, bench.hierarchy)

    plain = types.SimpleNamespace(**{k: getattr(bench, k) for k in
                                     ("x_train", "y_train", "x_valid", "y_valid", "x_test", "hierarchy")})
    aug2, res2 = lpros_benchmark(plain, budget=0.2, seed=3)
    np.testing.assert_array_equal(aug2.x_train, res.x)
    assert plain.x_train is bench.x_train


@pytest.fixture(params=["sample", "complete"])
def real_data(request):
    """The committed sample of cellcycle_FUN (every run), then the complete file (where it is on disk)."""
    return request.getfixturevalue(f"{request.param}_data")


def test_real_benchmark_cellcycle_fun(real_data):
    from hmc.data import load_benchmark

    bench = load_benchmark("cellcycle_FUN")
    started = time.perf_counter()
    aug, res = lpros_benchmark(bench, budget=0.1, seed=0)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"LPROS on cellcycle_FUN took {elapsed:.2f} s"
    y_fit = np.concatenate([bench.y_train, bench.y_valid])
    x_fit = np.concatenate([bench.x_train, bench.x_valid])
    n = len(y_fit)
    assert res.n_original == n and 0 <= res.n_clones <= int(0.1 * n)
    if real_data != SAMPLE_ROOT:  # the sample's 300 rows spread over ~150 paths: no path is short of the mean
        assert res.n_clones > 0
    assert aug.x_train.shape[0] == n + res.n_clones
    check_output(res, x_fit, y_fit, bench.hierarchy)
    check_against_reference(res, y_fit, bench.hierarchy, 0.1)
