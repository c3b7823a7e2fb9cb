"""`Hierarchy`: a tree or DAG of class nodes, in topological order.

A hierarchical multi-label problem has C nodes; a sample labelled with node c is labelled with every
ancestor of c (the hierarchy constraint). This module holds the structure and the operations the
rest of the library needs: ancestor/descendant pairs as index arrays (for the max constraint module),
label propagation to ancestors, and the consistency checks that define a hierarchy violation.

Node indices follow a topological order: every parent comes before each of its children. The depth
of a node is the length of the longest path from a root to it (roots have depth 0), so a child is
always deeper than each of its parents, in trees and DAGs alike.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from hmc.errors import HierarchyError


class Hierarchy:
    """A tree or DAG of named nodes.

    Build it with one of the constructors :meth:`from_edges` (parent/child pairs, e.g. GO),
    :meth:`from_paths` (tree paths such as ``"01/02/03"``, e.g. FunCat) or :meth:`from_level_parents`
    (per-level parent maps, e.g. fine -> coarse image classes).

    Attributes
    ----------
    nodes : list[str]
        Node names in topological order (parents first). ``index[name]`` gives the position.
    parents, children : list[np.ndarray]
        Per node, the int64 indices of its direct parents / children.
    depth : np.ndarray, shape (C,)
        Longest path length from a root; roots have depth 0.
    """

    def __init__(self, nodes: Sequence[str], edges: Iterable[tuple[str, str]]):
        """Build from node names and ``(parent, child)`` name pairs.

        Raises :class:`HierarchyError` on an empty node name, a duplicate node, an edge naming an
        unknown node, a self-loop or a cycle; the message names the offending node(s).
        """
        names = list(nodes)
        seen: dict[str, int] = {}
        for name in names:
            if name == "":
                raise HierarchyError(f"node {len(seen)} has an empty name: expected every node to have a non-empty name")
            if name in seen:
                raise HierarchyError(f"duplicate node {name!r}")
            seen[name] = len(seen)
        parent_sets: list[list[int]] = [[] for _ in names]
        for parent, child in edges:
            for end in (parent, child):
                if end not in seen:
                    raise HierarchyError(f"edge {parent!r} -> {child!r} names unknown node {end!r}")
            if parent == child:
                raise HierarchyError(f"cycle: node {child!r} is its own parent")
            p, c = seen[parent], seen[child]
            if p not in parent_sets[c]:
                parent_sets[c].append(p)
        order = _topological_order(names, parent_sets)
        position = np.empty(len(names), dtype=np.int64)
        position[order] = np.arange(len(names))
        self.nodes: list[str] = [names[i] for i in order]
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.nodes)}
        self.parents: list[np.ndarray] = [
            np.array(sorted(position[p] for p in parent_sets[i]), dtype=np.int64) for i in order
        ]
        kids: list[list[int]] = [[] for _ in names]
        for c, ps in enumerate(self.parents):
            for p in ps:
                kids[p].append(c)
        self.children: list[np.ndarray] = [np.array(k, dtype=np.int64) for k in kids]
        depth = np.zeros(len(names), dtype=np.int64)
        for c, ps in enumerate(self.parents):  # topological order: parents already final
            if len(ps):
                depth[c] = depth[ps].max() + 1
        self.depth: np.ndarray = depth

    # ----------------------------------------------------------------------------- constructors
    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]]) -> Hierarchy:
        """From ``(parent, child)`` pairs; nodes are every name that appears, in first-seen order.

        A repeated edge is an error (it names the edge): hierarchy listings hold each edge once.
        """
        edge_list = list(edges)
        seen_edges: set[tuple[str, str]] = set()
        nodes: dict[str, None] = {}
        for parent, child in edge_list:
            if (parent, child) in seen_edges:
                raise HierarchyError(f"duplicate edge {parent!r} -> {child!r}")
            seen_edges.add((parent, child))
            nodes.setdefault(parent)
            nodes.setdefault(child)
        return cls(list(nodes), edge_list)

    @classmethod
    def from_paths(cls, paths: Iterable[str], sep: str = "/", root: str | None = "root") -> Hierarchy:
        """From tree paths such as ``["01", "01/01", "01/01/03"]``; node names are the paths.

        The parent of ``"a/b/c"`` is ``"a/b"``; top-level paths hang under ``root`` (an implicit
        node added first), or are roots themselves when ``root`` is None. A repeated path is an
        error, and so are a path with an empty part (``""``, ``"a//b"``, ``"a/"``) and a path whose
        parent path is not listed.
        """
        names = list(paths)
        edges = []
        listed = set()
        for position, path in enumerate(names):
            if "" in path.split(sep):
                raise HierarchyError(
                    f"path {position} ({path!r}) has an empty part: expected non-empty names joined by {sep!r}, "
                    f"such as '01{sep}02'"
                )
            if path in listed:
                raise HierarchyError(f"duplicate node {path!r}")
            listed.add(path)
        for path in names:
            head, _, _ = path.rpartition(sep)
            if head:
                if head not in listed:
                    raise HierarchyError(f"path {path!r} has parent {head!r}, which is not listed")
                edges.append((head, path))
            elif root is not None:
                edges.append((root, path))
        if root is not None:
            if root in listed:
                raise HierarchyError(f"duplicate node {root!r} (the implicit root is listed as a path)")
            names = [root, *names]
        return cls(names, edges)

    @classmethod
    def from_level_parents(
        cls,
        level_parents: Sequence[Sequence[int]],
        level_names: Sequence[Sequence[str]] | None = None,
    ) -> Hierarchy:
        """From per-level parent maps of a strict class tree, finest level first.

        ``level_parents[k][c]`` is the index, at level k+1, of the parent of class c at level k
        (k = 0 is the finest level). With m maps there are m+1 levels; the coarsest classes are
        roots. Node names are ``level_names[k][c]`` when given, otherwise ``"L{k}:{c}"`` with
        k counted from the finest level (L0). Nodes appear coarsest level first.
        """
        sizes = [len(p) for p in level_parents]
        n_top = (int(np.max(level_parents[-1])) + 1) if len(level_parents) and sizes[-1] else 0
        sizes.append(n_top)
        for k, parents in enumerate(level_parents):
            arr = np.asarray(parents)
            if len(arr) and (arr.min() < 0 or arr.max() >= sizes[k + 1]):
                raise HierarchyError(f"level {k} parent map points outside level {k + 1} (size {sizes[k + 1]})")
        if level_names is None:
            level_names = [[f"L{k}:{c}" for c in range(size)] for k, size in enumerate(sizes)]
        if [len(n) for n in level_names] != sizes:
            raise HierarchyError(f"level_names sizes {[len(n) for n in level_names]} != level sizes {sizes}")
        nodes = [name for names in reversed(level_names) for name in names]
        edges = [
            (level_names[k + 1][int(p)], level_names[k][c])
            for k, parents in enumerate(level_parents)
            for c, p in enumerate(parents)
        ]
        return cls(nodes, edges)

    # ----------------------------------------------------------------------------- structure
    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        kind = "tree" if self.is_tree else "DAG"
        return f"Hierarchy({len(self)} nodes, {kind}, {len(self.roots)} roots, max depth {self.depth.max(initial=0)})"

    @cached_property
    def roots(self) -> np.ndarray:
        """Indices of the nodes with no parent, shape (R,)."""
        return np.array([i for i, p in enumerate(self.parents) if len(p) == 0], dtype=np.int64)

    @cached_property
    def is_tree(self) -> bool:
        """True when every node has at most one parent."""
        return all(len(p) <= 1 for p in self.parents)

    @cached_property
    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Direct edges as two int64 arrays ``(parent, child)``, each of shape (E,)."""
        child = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(self.parents)] or [[]])
        parent = np.concatenate(self.parents or [[]]).astype(np.int64)
        return parent, child.astype(np.int64)

    @cached_property
    def ancestor_matrix(self) -> sp.csr_matrix:
        """Sparse bool matrix A, shape (C, C), with ``A[a, d] = 1`` iff d is in D(a).

        D(a) is the set of descendants of a, a itself included (the reflexive closure).
        """
        n = len(self)
        rows: list[np.ndarray] = []
        closure: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * n
        for c in range(n - 1, -1, -1):  # reverse topological order: children first
            parts = [np.array([c], dtype=np.int64)] + [closure[k] for k in self.children[c]]
            closure[c] = np.unique(np.concatenate(parts))
        for a in range(n):
            rows.append(closure[a])
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
        data = np.ones(indptr[-1], dtype=bool)
        return sp.csr_matrix((data, np.concatenate(rows), indptr), shape=(n, n))

    def descendant_pairs(self, include_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """All ``(ancestor, descendant)`` index pairs as two int64 arrays of shape (P,).

        With ``include_self`` the pairs ``(a, a)`` are included (D(a) contains a), as the max
        constraint module needs.
        """
        coo = self.ancestor_matrix.tocoo()
        anc, desc = coo.row.astype(np.int64), coo.col.astype(np.int64)
        if not include_self:
            keep = anc != desc
            anc, desc = anc[keep], desc[keep]
        return anc, desc

    def ancestors(self, node: str | int) -> list[str]:
        """Names of the proper ancestors of a node, in topological order."""
        i = self._as_index(node)
        col = self.ancestor_matrix[:, i].nonzero()[0]
        return [self.nodes[a] for a in sorted(col) if a != i]

    def descendants(self, node: str | int) -> list[str]:
        """Names of the proper descendants of a node, in topological order."""
        i = self._as_index(node)
        row = self.ancestor_matrix[i].nonzero()[1]
        return [self.nodes[d] for d in sorted(row) if d != i]

    def _as_index(self, node: str | int) -> int:
        """The index of a node given by name or by index; an unknown name or an index outside
        ``[0, C)`` raises :class:`HierarchyError` (negative indices do not count from the end)."""
        if isinstance(node, str):
            if node not in self.index:
                raise HierarchyError(f"label {node!r} is not in the hierarchy")
            return self.index[node]
        try:
            i = operator.index(node)
        except TypeError:
            raise TypeError(f"node must be a node name (str) or an integer index, got {type(node).__name__}") from None
        if not 0 <= i < len(self):
            raise HierarchyError(f"node index {i} is out of range: expected 0 <= index < {len(self)} (or a node name)")
        return i

    # ----------------------------------------------------------------------------- labels
    def indices(self, names: Iterable[str]) -> np.ndarray:
        """Indices of node names; an unknown name raises :class:`HierarchyError` naming it."""
        return np.array([self._as_index(str(n)) for n in names], dtype=np.int64)

    def label_matrix(self, label_sets: Sequence[Iterable[str]]) -> np.ndarray:
        """0/1 matrix, shape (N, C) uint8, of the given labels with all their ancestors set."""
        y = np.zeros((len(label_sets), len(self)), dtype=np.uint8)
        for row, labels in enumerate(label_sets):
            y[row, self.indices(labels)] = 1
        return self.propagate(y)

    def propagate(self, y: np.ndarray) -> np.ndarray:
        """Set every ancestor of each positive node: ``out[n, a] = max_{d in D(a)} y[n, d]``.

        y : array of shape (N, C), 0/1 (bool or integer). Returns the same dtype and shape.
        """
        y = np.asarray(y)
        self._check_width(y)
        hits = sp.csr_matrix(y.astype(np.float32)) @ self.ancestor_matrix.T.astype(np.float32)
        return (hits.toarray() > 0).astype(y.dtype)

    def violations(self, y: np.ndarray) -> np.ndarray:
        """Per sample, the number of (parent, child) edges with the child positive and the parent not.

        y : array of shape (N, C), 0/1. Returns int64 array of shape (N,). A sample is
        hierarchy-consistent iff its count is 0.
        """
        y = np.asarray(y).astype(bool)
        self._check_width(y)
        parent, child = self.edges
        return (y[:, child] & ~y[:, parent]).sum(axis=1).astype(np.int64)

    def is_consistent(self, y: np.ndarray) -> np.ndarray:
        """Per sample, True iff every positive node's parents are positive. Shape (N,) bool."""
        return self.violations(y) == 0

    def is_valid_path(self, names: Sequence[str]) -> bool:
        """True iff ``names`` is a chain of direct parent -> child links starting at a root."""
        idx = self.indices(names)
        if len(idx) == 0 or len(self.parents[idx[0]]) != 0:
            return False
        return all(p in self.parents[c] for p, c in zip(idx[:-1], idx[1:], strict=False))

    def _check_width(self, y: np.ndarray) -> None:
        if y.ndim != 2 or y.shape[1] != len(self):
            raise ValueError(f"label matrix must have shape (N, {len(self)}), got {y.shape}")


def _topological_order(names: list[str], parent_sets: list[list[int]]) -> list[int]:
    """Kahn's algorithm, stable in the given order; a cycle raises naming its nodes."""
    n = len(names)
    n_parents = np.array([len(p) for p in parent_sets], dtype=np.int64)
    kids: list[list[int]] = [[] for _ in range(n)]
    for c, ps in enumerate(parent_sets):
        for p in ps:
            kids[p].append(c)
    ready = [i for i in range(n) if n_parents[i] == 0]
    order: list[int] = []
    head = 0
    while head < len(ready):
        node = ready[head]
        head += 1
        order.append(node)
        for k in kids[node]:
            n_parents[k] -= 1
            if n_parents[k] == 0:
                ready.append(k)
    if len(order) < n:
        raise HierarchyError("cycle: " + " -> ".join(names[i] for i in _find_cycle(parent_sets, n_parents)))
    return order


def _find_cycle(parent_sets: list[list[int]], n_parents: np.ndarray) -> list[int]:
    """One cycle among the nodes Kahn's algorithm could not place (each has an unplaced parent)."""
    node = int(np.flatnonzero(n_parents > 0)[0])
    path: list[int] = []
    on_path: dict[int, int] = {}
    while node not in on_path:
        on_path[node] = len(path)
        path.append(node)
        node = next(p for p in parent_sets[node] if n_parents[p] > 0)
    cycle = path[on_path[node]:] + [node]
    return cycle[::-1]  # parent -> child direction
