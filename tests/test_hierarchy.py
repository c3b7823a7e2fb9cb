"""Hierarchy: construction, order, pairs, propagation and errors, on hand-made trees and DAGs."""

import numpy as np
import pytest

from hmc import Hierarchy, HierarchyError


def small_tree():
    #        root
    #       /    \
    #      01     02
    #     /  \      \
    #  01/01 01/02  02/01
    return Hierarchy.from_paths(["01", "01/01", "01/02", "02", "02/01"])


def test_paths_give_topological_order_and_depth():
    h = small_tree()
    assert h.nodes[0] == "root"
    for c, ps in enumerate(h.parents):
        assert all(p < c for p in ps)
    depth = dict(zip(h.nodes, h.depth, strict=True))
    assert depth == {"root": 0, "01": 1, "01/01": 2, "01/02": 2, "02": 1, "02/01": 2}
    assert list(h.roots) == [h.index["root"]]
    assert h.is_tree


def test_descendant_pairs_match_hand_list():
    h = small_tree()
    anc, desc = h.descendant_pairs(include_self=False)
    got = {(h.nodes[a], h.nodes[d]) for a, d in zip(anc, desc, strict=True)}
    want = {("root", n) for n in ["01", "01/01", "01/02", "02", "02/01"]}
    want |= {("01", "01/01"), ("01", "01/02"), ("02", "02/01")}
    assert got == want
    anc, desc = h.descendant_pairs(include_self=True)
    assert len(anc) == len(want) + len(h)


def test_dag_depth_is_longest_path_and_propagation_uses_all_parents():
    h = Hierarchy.from_edges([("r", "a"), ("r", "b"), ("a", "c"), ("b", "c"), ("c", "d"), ("r", "d")])
    assert not h.is_tree
    assert h.depth[h.index["d"]] == 3
    y = h.label_matrix([["d"], ["b"], []])
    names = h.nodes
    assert {names[i] for i in np.flatnonzero(y[0])} == {"r", "a", "b", "c", "d"}
    assert {names[i] for i in np.flatnonzero(y[1])} == {"r", "b"}
    assert y[2].sum() == 0
    assert h.is_consistent(y).all()


def test_violations_count_broken_edges():
    h = small_tree()
    y = np.zeros((2, len(h)), dtype=np.uint8)
    y[0, h.indices(["01/01", "root"])] = 1            # 01 missing: edge 01 -> 01/01 broken
    y[1, h.indices(["root", "01", "01/02"])] = 1     # consistent
    assert list(h.violations(y)) == [1, 0]
    y[0, h.indices(["02/01"])] = 1                    # and 02 -> 02/01 broken too
    assert list(h.violations(y)) == [2, 0]
    assert h.is_valid_path(["root", "01", "01/02"])
    assert not h.is_valid_path(["root", "02", "01/02"])
    assert not h.is_valid_path(["01", "01/02"])


def test_level_parents():
    # fine classes 0..3 -> coarse 0,0,1,1
    h = Hierarchy.from_level_parents([[0, 0, 1, 1]], [["f0", "f1", "f2", "f3"], ["c0", "c1"]])
    assert sorted(h.nodes[r] for r in h.roots) == ["c0", "c1"]
    assert h.ancestors("f2") == ["c1"]
    assert h.descendants("c0") == ["f0", "f1"]


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: Hierarchy.from_edges([("a", "b"), ("b", "c"), ("c", "a")]), "a"),
        (lambda: Hierarchy.from_edges([("a", "b"), ("a", "b")]), "duplicate edge"),
        (lambda: Hierarchy.from_paths(["01", "01/01", "01"]), "duplicate node '01'"),
        (lambda: Hierarchy.from_paths(["01", "02/01"]), "'02'"),
        (lambda: Hierarchy(["a", "a"], []), "duplicate node 'a'"),
        (lambda: small_tree().label_matrix([["09"]]), "'09'"),
    ],
)
def test_errors_name_the_problem(build, name):
    with pytest.raises(HierarchyError, match=name):
        build()


def test_cycle_message_names_the_cycle():
    with pytest.raises(HierarchyError) as err:
        Hierarchy.from_edges([("r", "x"), ("x", "y"), ("y", "z"), ("z", "x")])
    assert "cycle" in str(err.value)
    for node in ("x", "y", "z"):
        assert node in str(err.value)
