"""The max constraint module (MCM) and MCLoss of C-HMCNN.

Reference: E. Giunchiglia, T. Lukasiewicz, "Coherent Hierarchical Multi-Label Classification
Networks", NeurIPS 2020 (arXiv 2010.10151). Implemented from the project spec
(``specs/chmcnn.md``); no code is taken from the reference implementation.

With ``D(a)`` the descendants of node ``a`` (``a`` included), the MCM maps per-node scores
``h in [0, 1]^C`` to hierarchy-consistent scores

.. math::

    \\mathrm{MCM}(h)_a = \\max_{d \\in D(a)} h_d ,

so that a parent never scores below any of its children. The naive form materialises a
``B x C x C`` tensor (17M entries per sample on GO); :class:`MaxConstraint` never does.

Algorithm (see ``benchmarks/bench_mcm.py`` for the measurements behind the choice)
-----------------------------------------------------------------------------------
*Forward*, level by level along the edges: nodes are grouped by depth (longest path from a root),
and from the deepest parents up, each level does one gather of the children's current values and
one ``scatter_reduce(amax)`` into the parents. A child is always deeper than each of its parents,
so when a parent is processed every child already holds the max over its own descendants, and the
result is exact for DAGs too. Work is ``O(N x E)`` for E edges (N = number of score vectors) in
``depth`` steps; the scores are kept node-major, ``(C, N)``, so each gathered node is one contiguous
row.

*Backward*, exact with the same tie rule as the dense ``amax``: the gradient of ``MCM(h)_a`` is
split evenly among all ``d in D(a)`` with ``h_d == MCM(h)_a``. A second level-by-level pass finds,
per node, its unique argmax in ``D(a)`` or flags a tie; if no flagged node receives a non-zero
gradient, the input gradient is one ``scatter_add`` of the output gradient into the argmaxes
(``O(N x C)``). Otherwise (exact ties that matter, e.g. saturated sigmoids) it falls back to the
descendant-pair formula, ``O(N x P)`` for P ancestor/descendant pairs, which splits ties evenly.

*Training loops* call :func:`mc_loss_and_grad`: MCLoss and its gradient by hand, no autograd
graph, bit for bit autograd's (tested); its MCM runs over the descendant pairs (forward: one
gather and one ``scatter_reduce``; backward: :func:`_pairs_backward`) where that is cheaper, on
small hierarchies and few score vectors (:data:`PAIRS_MAX_ELEMENTS`), else level by level as above.

``method="pairs"`` is the other exact form, kept for cross-checks: gather ``h[..., desc]`` over
all P proper (ancestor, descendant) pairs and ``scatter_reduce(amax)`` them into the ancestors'
own scores, differentiated by autograd.
:func:`max_constraint_dense` is the dense reference, for tests and the benchmark only.

Numerics of MCLoss: as in the reference training, the MCM and the loss run in float64 by default
(``dtype=``), and the BCE is :func:`torch.nn.functional.binary_cross_entropy`, whose log terms are
clamped at -100 (the behaviour of ``nn.BCELoss``, which the reference uses): a prediction of exactly
0 or 1 on the wrong side costs 100, not ``inf``, and no ``eps`` clamping of the probabilities is done.

Input checks of MCLoss: :func:`mc_loss` checks the *values* of its inputs by default (``validate=True``):
``h`` in [0, 1] without NaN (logits are refused), ``y`` 0/1 and hierarchy-consistent, ``weight`` finite
and >= 0, ``eval_nodes`` in range, a non-empty batch; a failure raises ValueError naming the argument.
These checks read the data (on a GPU each one waits for the device), so a training loop whose inputs
are checked once up front passes ``validate=False``, as torchmetrics' ``validate_args``. Types and
shapes are checked always (that costs nothing).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmc.hierarchy import Hierarchy

__all__ = [
    "MaxConstraint",
    "max_constraint",
    "max_constraint_dense",
    "ancestor_mask",
    "mc_loss",
    "mc_loss_and_grad",
    "MCLoss",
]

_METHODS = ("levels", "pairs")
_REDUCTIONS = ("none", "mean", "sum")


class MaxConstraint(nn.Module):
    """The max constraint module of a hierarchy: ``MCM(h)_a = max_{d in D(a)} h_d``.

    Holds the index tensors (edges grouped by level, ancestor/descendant pairs) as non-persistent
    buffers, built once per hierarchy, so ``.to(device)`` moves them and ``state_dict`` stays empty.

    Args:
        hierarchy: the :class:`~hmc.hierarchy.Hierarchy` (tree or DAG); column ``i`` of the scores
            is ``hierarchy.nodes[i]``.

    Shape:
        - Input: ``(..., C)``, any leading dims (``(B, C)``, ``(H, B, C)`` for H ensemble members).
        - Output: same shape and dtype as the input.

    Example:
        >>> from hmc.hierarchy import Hierarchy
        >>> hier = Hierarchy.from_edges([("r", "a"), ("a", "b"), ("r", "c")])
        >>> hier.nodes  # column order (topological)
        ['r', 'a', 'c', 'b']
        >>> MaxConstraint(hier)(torch.tensor([[0.1, 0.2, 0.9, 0.3]]))
        tensor([[0.9000, 0.3000, 0.9000, 0.3000]])
    """

    edge_parent: Tensor
    edge_child: Tensor
    level_nodes: Tensor
    edge_slot: Tensor
    pair_anc: Tensor
    pair_desc: Tensor
    closure_anc: Tensor
    closure_desc: Tensor

    def __init__(self, hierarchy: Hierarchy):
        super().__init__()
        n = len(hierarchy)
        parent, child = hierarchy.edges
        pdepth = hierarchy.depth[parent]
        order = np.lexsort((child, parent, -pdepth))  # deepest parents first, then by parent
        parent, child, pdepth = parent[order], child[order], pdepth[order]
        edge_bounds = [0]
        node_bounds = [0]
        level_nodes: list[np.ndarray] = []
        edge_slot: list[np.ndarray] = []
        for level in np.unique(pdepth)[::-1]:
            lo, hi = np.searchsorted(-pdepth, [-level, -level + 1])  # -pdepth is non-decreasing
            nodes, slot = np.unique(parent[lo:hi], return_inverse=True)
            level_nodes.append(nodes)
            edge_slot.append(slot.reshape(-1))
            edge_bounds.append(int(hi))
            node_bounds.append(node_bounds[-1] + len(nodes))
        anc, desc = hierarchy.descendant_pairs(include_self=False)  # proper pairs, sorted by ancestor
        close_anc, close_desc = hierarchy.descendant_pairs(include_self=True)
        close_order = np.lexsort((close_desc, close_anc))  # by ancestor, then descendant

        def buf(a):
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64))

        self.num_nodes = n
        self.node_names = tuple(hierarchy.nodes)  # for error messages
        self.depth = int(hierarchy.depth.max(initial=0))
        self._edge_bounds = tuple(edge_bounds)
        self._node_bounds = tuple(node_bounds)
        self.register_buffer("edge_parent", buf(parent), persistent=False)
        self.register_buffer("edge_child", buf(child), persistent=False)
        self.register_buffer("level_nodes", buf(np.concatenate(level_nodes or [[]])), persistent=False)
        self.register_buffer("edge_slot", buf(np.concatenate(edge_slot or [[]])), persistent=False)
        self.register_buffer("pair_anc", buf(anc), persistent=False)
        self.register_buffer("pair_desc", buf(desc), persistent=False)
        self.register_buffer("closure_anc", buf(close_anc[close_order]), persistent=False)
        self.register_buffer("closure_desc", buf(close_desc[close_order]), persistent=False)

    @property
    def num_levels(self) -> int:
        """Number of level steps of the forward pass (the hierarchy's depth when it has edges)."""
        return len(self._edge_bounds) - 1

    def levels(self):
        """Yield ``(parent, child, nodes, slot)`` per level, deepest first (views of the buffers).

        ``parent``/``child`` (E_l,) are the level's edges, ``nodes`` (U_l,) its distinct parents and
        ``slot`` (E_l,) the position of each edge's parent in ``nodes``.
        """
        eb, nb = self._edge_bounds, self._node_bounds
        for k in range(len(eb) - 1):
            yield (
                self.edge_parent[eb[k] : eb[k + 1]],
                self.edge_child[eb[k] : eb[k + 1]],
                self.level_nodes[nb[k] : nb[k + 1]],
                self.edge_slot[eb[k] : eb[k + 1]],
            )

    def forward(self, h: Tensor, method: str = "levels") -> Tensor:
        """``MCM(h)``; see :func:`max_constraint`."""
        return max_constraint(h, self, method=method)

    def extra_repr(self) -> str:
        return (
            f"num_nodes={self.num_nodes}, edges={len(self.edge_parent)}, levels={self.num_levels}, "
            f"pairs={len(self.pair_anc)}"
        )


_INDEX_CACHE: weakref.WeakKeyDictionary[Hierarchy, dict[torch.device, MaxConstraint]] = weakref.WeakKeyDictionary()


def _as_index(hierarchy_or_index: Hierarchy | MaxConstraint, device: torch.device) -> MaxConstraint:
    """The :class:`MaxConstraint` to use on ``device``; one is built and cached per Hierarchy and device."""
    if isinstance(hierarchy_or_index, MaxConstraint):
        index = hierarchy_or_index
        if index.edge_parent.device != device:
            raise ValueError(
                f"MaxConstraint buffers are on {index.edge_parent.device} but the scores are on {device}: "
                f"call .to({str(device)!r}) on the module"
            )
        return index
    if isinstance(hierarchy_or_index, Hierarchy):
        per_device = _INDEX_CACHE.setdefault(hierarchy_or_index, {})
        if device not in per_device:
            per_device[device] = MaxConstraint(hierarchy_or_index).to(device)
        return per_device[device]
    raise TypeError(f"expected a Hierarchy or a MaxConstraint, got {type(hierarchy_or_index).__name__}")


def max_constraint(h: Tensor, hierarchy_or_index: Hierarchy | MaxConstraint, *, method: str = "levels") -> Tensor:
    """The max constraint module: hierarchy-consistent scores from per-node scores.

    .. math::

        \\mathrm{MCM}(h)_a = \\max_{d \\in D(a)} h_d ,\\qquad D(a) = \\{a\\} \\cup \\mathrm{descendants}(a).

    Exact in values and gradients w.r.t. :func:`max_constraint_dense` (ties split the gradient evenly,
    as ``torch.amax`` does), without ever forming the ``(..., C, C)`` tensor.

    Args:
        h: scores, shape ``(..., C)`` (any leading dims), floating point for gradients.
        hierarchy_or_index: a :class:`MaxConstraint` on ``h``'s device (fast: built once), or a
            :class:`~hmc.hierarchy.Hierarchy` (its index is built on first use and cached).
        method: ``"levels"`` (default: level-by-level forward, argmax backward; see the module
            docstring) or ``"pairs"`` (gather over all descendant pairs + ``scatter_reduce``).

    Returns:
        Tensor of the same shape and dtype as ``h``.
    """
    _check_tensor(h, "h")
    index = _as_index(hierarchy_or_index, h.device)
    n = index.num_nodes
    if h.dim() == 0 or h.shape[-1] != n:
        raise ValueError(f"scores must have shape (..., {n}), got {tuple(h.shape)}")
    if method == "levels":
        return _LevelsMax.apply(h, index)
    if method == "pairs":
        return _pairs_max(h, index)
    raise ValueError(f"method must be one of {_METHODS}, got {method!r}")


def _node_major(h2: Tensor) -> Tensor:
    """Batch-major ``(N, C)`` (any strides) -> a new contiguous node-major ``(C, N)`` copy."""
    return torch.empty((h2.shape[1], h2.shape[0]), dtype=h2.dtype, device=h2.device).copy_(h2.t())


def _levels_forward(h2: Tensor, index: MaxConstraint) -> Tensor:
    """MCM of scores ``h2`` (N, C), level by level, returned node-major (C, N)."""
    out = _node_major(h2)
    n_cols = out.shape[1]
    for parent, child, _, _ in index.levels():
        out.scatter_reduce_(0, parent.unsqueeze(1).expand(-1, n_cols), out.index_select(0, child), "amax")
    return out


def _levels_backward(h2: Tensor, out: Tensor, g2: Tensor, index: MaxConstraint) -> Tensor:
    """Input gradient (N, C) with dense-``amax`` tie semantics.

    ``h2``, ``g2``: scores and output gradient, batch-major (N, C); ``out``: MCM(h), node-major (C, N).

    ``arg[a]`` is the unique ``d in D(a)`` with ``h[d] == out[a]``, or -1 when there are several
    (a tie). A parent's candidates are itself (when ``h[p] == out[p]``) and the args of the children
    whose ``out`` equals ``out[p]``; two different candidates, or a tied winning child, make a tie.
    The same argmax reached through two paths of a DAG is one candidate, not a tie.
    """
    n_nodes, n_cols = out.shape
    arg = torch.arange(n_nodes, device=out.device).unsqueeze(1).expand(n_nodes, n_cols).contiguous()
    exact_needed = torch.zeros((), dtype=torch.bool, device=out.device)
    for parent, child, nodes, slot in index.levels():
        slots = slot.unsqueeze(1).expand(-1, n_cols)
        lose = out.index_select(0, child) != out.index_select(0, parent)  # child below the parent's max
        cand = arg.index_select(0, child)
        self_lose = h2.index_select(1, nodes).t() != out.index_select(0, nodes)
        own = nodes.unsqueeze(1)
        # smallest and largest candidate (the node itself when it attains its max, the winning
        # children's args); sentinels n_nodes / -2 stand for "no candidate"
        lo = torch.where(self_lose, n_nodes, own).scatter_reduce_(0, slots, torch.where(lose, n_nodes, cand), "amin")
        hi = torch.where(self_lose, -2, own).scatter_reduce_(0, slots, cand.masked_fill_(lose, -2), "amax")
        tie = (lo != hi).logical_or_(lo < 0)  # two distinct candidates, or a tied winning child
        arg.index_copy_(0, nodes, lo.masked_fill_(tie, -1))
        exact_needed |= tie.logical_and_(g2.index_select(1, nodes).t() != 0).any()
    if bool(exact_needed):
        return _pairs_backward(_node_major(h2), out, _node_major(g2), index).t()
    # tied nodes carry zero gradient here: send it anywhere (to node 0)
    return torch.zeros(g2.shape, dtype=g2.dtype, device=g2.device).scatter_add_(1, arg.clamp_min_(0).t(), g2)


def _pairs_backward(x: Tensor, out: Tensor, g: Tensor, index: MaxConstraint) -> Tensor:
    """Exact tie-splitting gradient over every pair ``(a, d)``, ``d in D(a)`` (self included): ``O(N x (C + P))``.

    All node-major (C, N); returns (C, N). With ``hit[a, d] = (x[d] == out[a])`` and
    ``count[a] = sum_d hit[a, d]`` (>= 1: the max is attained),

    .. math::

        \\mathrm{grad}_d = \\sum_{a:\\, d \\in D(a)} \\mathrm{hit}_{a,d} \\, g_a / \\mathrm{count}_a ,

    summed from 0 over the ancestors ``a`` in increasing index order (the pairs are sorted by
    ancestor), the order of the argmax path's ``scatter_add`` in :func:`_levels_backward`: without
    ties (``count = 1``) the two give the same bits.
    """
    anc, desc = index.closure_anc, index.closure_desc
    hit = x.index_select(0, desc) == out.index_select(0, anc)  # (C + P, N)
    count = torch.zeros_like(x).index_add_(0, anc, hit.to(x.dtype))
    share = g / count  # gradient per attained maximum
    return torch.zeros_like(x).index_add_(0, desc, share.index_select(0, anc).mul_(hit))


class _LevelsMax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, index: MaxConstraint) -> Tensor:
        out = _levels_forward(h.reshape(-1, h.shape[-1]), index)
        ctx.index = index
        if h.requires_grad:
            ctx.save_for_backward(h, out)
        return out.t().contiguous().view(h.shape)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        h, out = ctx.saved_tensors
        n = h.shape[-1]
        grad = _levels_backward(h.reshape(-1, n), out, grad_out.to(h.dtype).reshape(-1, n), ctx.index)
        return grad.contiguous().view(h.shape), None


def _pairs_max(h: Tensor, index: MaxConstraint) -> Tensor:
    """MCM over all descendant pairs: gather + ``scatter_reduce(amax)``, differentiated by autograd.

    Each node's own score is the ``self`` operand of the reduction (``include_self=True``) and its
    proper descendants the gathered sources, so ``D(a)`` is covered once and autograd's even split
    of ties among the operands equals the dense ``amax`` rule.
    """
    x = h.reshape(-1, h.shape[-1]).t()  # (C, N) view
    vals = x.index_select(0, index.pair_desc)  # (P, N)
    dest = index.pair_anc.unsqueeze(1).expand(-1, x.shape[1])
    return x.scatter_reduce(0, dest, vals, "amax", include_self=True).t().contiguous().view(h.shape)


def ancestor_mask(hierarchy: Hierarchy, device: torch.device | str | None = None) -> Tensor:
    """Dense bool matrix ``R``, shape (C, C), with ``R[a, d]`` True iff ``d in D(a)`` (``a`` included)."""
    return torch.as_tensor(hierarchy.ancestor_matrix.toarray(), dtype=torch.bool, device=device)


def max_constraint_dense(h: Tensor, R: Tensor) -> Tensor:
    """Dense reference MCM, for tests and benchmarks: materialises ``(..., C, C)``.

    .. math::

        \\mathrm{MCM}(h)_a = \\max_d \\; \\big(h_d \\text{ if } R_{ad} \\text{ else } -\\infty\\big)

    computed as ``h.unsqueeze(-2).expand(..., C, C).masked_fill(~R, -inf).amax(-1)``; ``amax``
    splits the gradient evenly among tied maxima.

    Args:
        h: scores, shape ``(..., C)``, floating point.
        R: bool, shape ``(C, C)``, ``R[a, d]`` True iff ``d in D(a)`` (see :func:`ancestor_mask`).
    """
    n = h.shape[-1]
    if R.shape != (n, n) or R.dtype != torch.bool:
        raise ValueError(f"R must be a bool tensor of shape ({n}, {n}), got {R.dtype} {tuple(R.shape)}")
    return h.unsqueeze(-2).expand(*h.shape[:-1], n, n).masked_fill(~R, float("-inf")).amax(-1)


# ------------------------------------------------------------------------------------------ MCLoss
def _check_tensor(x, name: str) -> None:
    """TypeError unless ``x`` is a torch.Tensor (a numpy array has no autograd and no device)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}: convert it with torch.as_tensor({name})")


def _check_index_range(idx: Tensor, n: int) -> None:
    """ValueError unless every index of ``idx`` lies in [0, n)."""
    if idx.numel():
        lo, hi = torch.stack(torch.aminmax(idx)).tolist()
        if lo < 0 or hi >= n:
            raise ValueError(f"eval_nodes must hold node indices in [0, {n}), got indices from {lo} to {hi}")


def _node_selector(eval_nodes, n: int, device: torch.device, check: bool = True) -> Tensor | None:
    """``eval_nodes`` (None, int indices or a bool mask of length C) as an int64 index tensor.

    An int64 1-d tensor is taken as is, with no host round trip (for hot loops); its range is checked
    when ``check``. Any other form is always checked.
    """
    if eval_nodes is None:
        return None
    if isinstance(eval_nodes, Tensor) and eval_nodes.dtype == torch.int64 and eval_nodes.dim() == 1:
        idx = eval_nodes.to(device)
        if check:
            _check_index_range(idx, n)
        return idx
    idx = torch.as_tensor(np.asarray(eval_nodes.cpu() if isinstance(eval_nodes, Tensor) else eval_nodes))
    if idx.dtype == torch.bool:
        if idx.shape != (n,):
            raise ValueError(f"a boolean eval_nodes mask must have shape ({n},), got {tuple(idx.shape)}")
        idx = idx.nonzero().reshape(-1)
    if idx.dim() != 1 or idx.is_floating_point() or idx.is_complex():
        raise ValueError(
            f"eval_nodes must be a 1-d array of integer node indices in [0, {n}) or a bool mask of shape ({n},), "
            f"got {idx.dtype} of shape {tuple(idx.shape)}"
        )
    _check_index_range(idx, n)
    return idx.to(device=device, dtype=torch.int64)


def _check_probabilities(h: Tensor) -> None:
    """ValueError unless every value of ``h`` lies in [0, 1] (NaN does not)."""
    lo, hi = torch.stack(torch.aminmax(h.detach())).tolist()
    if lo >= 0 and hi <= 1:
        return
    n_nan = int(torch.isnan(h).sum())
    if n_nan:
        raise ValueError(
            f"h contains NaN ({n_nan} of {h.numel()} values): expected probabilities in [0, 1]; "
            "look for NaN in the model's inputs or parameters (a diverged training step?)"
        )
    raise ValueError(
        f"h must hold probabilities in [0, 1] (sigmoid outputs), got values from {lo:.4g} to {hi:.4g}: "
        "pass torch.sigmoid(logits), not the logits"
    )


def _check_labels(y: Tensor, index: MaxConstraint) -> None:
    """ValueError unless ``y`` (..., C) holds 0/1 labels (NaN fails) with every positive node's parents positive."""
    not_binary = (y != 0) & (y != 1)
    if bool(not_binary.any()):
        value = y[not_binary][0].item()
        raise ValueError(
            f"y must hold 0/1 labels, got {value!r} ({int(not_binary.sum())} value(s) neither 0 nor 1): pass hard "
            "labels with every ancestor set (Hierarchy.label_matrix), not probabilities or smoothed targets"
        )
    broken = y.index_select(-1, index.edge_child) > y.index_select(-1, index.edge_parent)
    if bool(broken.any()):
        *row, edge = broken.nonzero()[0].tolist()
        child = index.node_names[int(index.edge_child[edge])]
        parent = index.node_names[int(index.edge_parent[edge])]
        where = f"y[{', '.join(map(str, row))}]" if row else "y"
        raise ValueError(
            f"y is not hierarchy-consistent: {where} has node {child!r} = 1 but its parent {parent!r} = 0 "
            f"({int(broken.sum())} such label(s)); expected every ancestor of a positive node to be positive: "
            "build y with Hierarchy.label_matrix or Hierarchy.propagate"
        )


def _check_weight(weight: Tensor) -> None:
    """ValueError unless every value of ``weight`` is finite and >= 0 (NaN fails)."""
    if weight.numel() == 0:
        return
    lo, hi = torch.stack(torch.aminmax(weight.detach())).tolist()
    if lo >= 0 and hi < math.inf:
        return
    found = "NaN" if math.isnan(lo) or math.isnan(hi) else f"values from {lo:.4g} to {hi:.4g}"
    raise ValueError(f"weight must be finite and >= 0 (it multiplies each loss term), got {found}")


def _term_weight(weight, idx: Tensor | None, n: int, n_eval: int, device, dt, validate: bool) -> Tensor:
    """``weight`` of :func:`mc_loss` as a tensor of dtype ``dt`` whose last dim is 1 or ``n_eval``."""
    weight = torch.as_tensor(weight, device=device).to(dt)
    if validate:
        _check_weight(weight)
    if weight.dim() and idx is not None and weight.shape[-1] == n:
        weight = weight.index_select(-1, idx)  # per-node weights in hierarchy order
    if weight.dim() and weight.shape[-1] not in (1, n_eval):
        raise ValueError(
            f"weight of shape {tuple(weight.shape)} must end in C={n}" + (f" or C_eval={n_eval}" if idx is not None else "")
        )
    return weight


def mc_loss(
    h: Tensor,
    y: Tensor,
    mcm: MaxConstraint | Hierarchy,
    eval_nodes: Sequence[int] | np.ndarray | Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    dtype: torch.dtype | None = torch.float64,
    validate: bool = True,
) -> Tensor:
    """MCLoss of C-HMCNN: binary cross-entropy on the constrained outputs.

    .. math::

        o = (1 - y) \\odot \\mathrm{MCM}(h) + y \\odot \\mathrm{MCM}(y \\odot h), \\qquad
        \\ell_{a} = -w_{a} \\big( y_a \\log o_a + (1 - y_a) \\log(1 - o_a) \\big),

    for the evaluated nodes ``a`` (the roots are normally excluded), with the log terms clamped at
    -100 as in ``torch.nn.BCELoss`` (the reference's criterion). For a negative node the loss sees its
    constrained score ``MCM(h)_a``; for a positive node, the max over its *positive* descendants only,
    so a positive node is not rewarded for a high score of a negative descendant.

    Args:
        h: sigmoid outputs in [0, 1], shape ``(..., C)`` (e.g. ``(B, C)``, or ``(H, B, C)`` for H
            ensemble members).
        y: 0/1 labels (hierarchy-consistent), broadcastable to ``h`` (e.g. ``(B, C)``).
        mcm: the :class:`MaxConstraint` (or a Hierarchy; its index is then cached).
        eval_nodes: indices (or a bool mask of length C) of the evaluated nodes; None: all C nodes.
        weight: per-node weights multiplying each term, broadcastable to ``(..., C)``, e.g. ``(C,)``,
            ``(B, C)``, ``(H, B, C)`` (a last dim of C is always in hierarchy order and is restricted
            to ``eval_nodes``); with ``eval_nodes`` of length ``C_eval != C``, a last dim of
            ``C_eval`` is taken as already restricted.
        reduction: ``'none'`` -> ``(..., C_eval)``; ``'mean'`` -> mean over all those entries (batch x
            evaluated nodes x leading member dims; weights are not renormalised, as in
            ``F.binary_cross_entropy``); ``'sum'``.
        dtype: computation dtype of the MCM and the loss; float64 (default) as in the reference;
            None keeps ``h``'s dtype. The result has this dtype.
        validate: check the values of the inputs (default): ``h`` in [0, 1] without NaN, ``y`` 0/1 and
            hierarchy-consistent, ``weight`` finite and >= 0, an int64 ``eval_nodes`` tensor in range,
            a non-empty batch; each failure raises ValueError naming the argument. The checks read
            the data (on a GPU they wait for the device): pass ``validate=False`` in a training loop
            whose inputs were checked once. Types and shapes are checked either way.

    Returns:
        The loss: a scalar, or ``(..., C_eval)`` for ``reduction='none'``.

    Raises:
        TypeError: ``h`` is not a tensor.
        ValueError: a bad ``reduction``, shape or (with ``validate``) value; the message names the argument.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    _check_tensor(h, "h")
    index = _as_index(mcm, h.device)
    n = index.num_nodes
    if h.dim() == 0 or h.shape[-1] != n:
        raise ValueError(f"h must have shape (..., {n}), got {tuple(h.shape)}")
    dt = h.dtype if dtype is None else dtype
    y = torch.as_tensor(y, device=h.device).to(dt)
    if validate:
        if h.numel() == 0:
            raise ValueError(
                f"h is an empty batch (shape {tuple(h.shape)}): the loss over no samples is undefined "
                "(its mean is NaN); skip empty batches"
            )
        _check_probabilities(h)
        _check_labels(y, index)
    try:
        h, y = torch.broadcast_tensors(h.to(dt), y)
    except RuntimeError as err:
        raise ValueError(f"y of shape {tuple(y.shape)} does not broadcast to h of shape {tuple(h.shape)}") from err
    both = max_constraint(torch.stack((h, y * h)), index)  # one pass for MCM(h) and MCM(y * h)
    out = (1 - y) * both[0] + y * both[1]
    idx = _node_selector(eval_nodes, n, h.device, check=validate)
    if idx is not None:
        out, y = out.index_select(-1, idx), y.index_select(-1, idx)
    loss = F.binary_cross_entropy(out, y, reduction="none")
    if weight is not None:
        loss = loss * _term_weight(weight, idx, n, loss.shape[-1], h.device, dt, validate)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


PAIRS_MAX_ELEMENTS = 1 << 17
""":func:`mc_loss_and_grad` runs the MCM over the descendant pairs when ``(C + P) x N`` (pairs with
self x score vectors) is at most this many elements, else level by level. Measured on the
project's CPU at 1 thread (``benchmarks/bench_limits.py`` prints both): the pairs form (4 ops in
all) wins where the level form's 20-odd small ops per level cost more than the pairs' extra
elements (cellcycle_FUN, 1-3 seeds of batch 4, or 2 seeds x 3 members: 2-3x faster); the level form wins on the GO
DAGs (14 levels, 43,000 pairs) and for 10 stacked seeds."""


def mc_loss_and_grad(
    h: Tensor,
    y: Tensor,
    mcm: MaxConstraint,
    eval_nodes: Tensor | None,
    weight: Tensor | None = None,
    grad_scale: float | Tensor = 1.0,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """MCLoss terms and their gradient with respect to ``h``, by hand, for training loops.

    Bit for bit (tested) what autograd gives for

    .. code-block:: python

        terms = mc_loss(h, y, mcm, eval_nodes, weight, reduction="none", dtype=dtype, validate=False)
        terms.backward(torch.full_like(terms, grad_scale))  # -> h.grad

    without an autograd graph: ``o = (1 - y) MCM(h) + y MCM(y h)`` is computed once for both MCMs
    (one ``(2 N, C)`` pass, N = the score vectors of ``h``), then the BCE gradient
    (``aten.binary_cross_entropy_backward``), its scatter back to all C nodes, the split
    ``(1 - y) g`` / ``y g`` between the two MCMs, their backward (exact, ties split evenly) and
    ``grad_h = g_0 + y g_1``. The MCM runs over the descendant pairs or level by level, whichever is
    cheaper for the size (:data:`PAIRS_MAX_ELEMENTS`); both give the same bits.

    Args:
        h: probabilities ``(..., C)``, e.g. ``(S, b, C)`` or ``(S, H, b, C)``; no value checks.
        y: 0/1 labels broadcastable to ``h`` (not the other way round), e.g. ``(S, 1, b, C)``.
        mcm: the hierarchy's :class:`MaxConstraint` on ``h``'s device.
        eval_nodes: int64 index tensor of the evaluated nodes, or None (all C).
        weight: per-term weights as for :func:`mc_loss`, or None.
        grad_scale: the gradient of the objective with respect to every term (e.g. ``1 / numel``
            for a mean), or a tensor of them broadcastable to the terms (e.g. ``(S, 1, 1, 1)``: one per
            stacked run, :mod:`hmc.stacked_methods`).
        dtype: computation dtype (float64, as :func:`mc_loss`).

    Returns:
        ``terms`` ``(..., C_eval)`` of ``dtype`` (weighted), and ``grad_h`` of ``h``'s shape and dtype.
    """
    index = _as_index(mcm, h.device)
    n = index.num_nodes
    if h.dim() == 0 or h.shape[-1] != n:
        raise ValueError(f"h must have shape (..., {n}), got {tuple(h.shape)}")
    hd = h.detach().to(dtype)
    yd = torch.as_tensor(y, device=h.device).to(dtype)
    if torch.broadcast_shapes(hd.shape, yd.shape) != hd.shape:
        raise ValueError(f"y of shape {tuple(yd.shape)} must broadcast to h of shape {tuple(h.shape)}")
    yd = yd.expand(hd.shape)
    idx = _node_selector(eval_nodes, n, h.device, check=False)
    # both MCMs in one pass over (2N, C) score vectors, node-major (C, 2N)
    x2 = torch.stack((hd, yd * hd)).view(-1, n)  # (2N, C)
    pairs = len(index.closure_anc) * x2.shape[0] <= PAIRS_MAX_ELEMENTS
    if pairs:
        x = _node_major(x2)  # (C, 2N)
        dest = index.pair_anc.unsqueeze(1).expand(-1, x.shape[1])
        out = x.scatter_reduce(0, dest, x.index_select(0, index.pair_desc), "amax", include_self=True)
    else:
        out = _levels_forward(x2, index)  # (C, 2N)
    both = out.t().reshape(2, *hd.shape)
    o = (1 - yd) * both[0] + yd * both[1]
    ye = yd
    if idx is not None:
        o, ye = o.index_select(-1, idx), yd.index_select(-1, idx)
    terms = F.binary_cross_entropy(o, ye, reduction="none")
    w = None if weight is None else _term_weight(weight, idx, n, terms.shape[-1], h.device, dtype, validate=False)
    if w is not None:
        terms = terms * w
    if isinstance(grad_scale, Tensor):
        g = grad_scale.to(terms.dtype).expand(terms.shape)
    else:
        g = torch.full_like(terms, grad_scale)
    if w is not None:
        g = (g * w).sum_to_size(o.shape)
    g = torch.ops.aten.binary_cross_entropy_backward(g, o, ye, None, 0)  # 0: no reduction
    if idx is not None:
        g = torch.zeros_like(hd).index_add_(-1, idx, g)
    g_both = torch.stack(((1 - yd) * g, yd * g)).view(-1, n)
    if pairs:
        gx = _pairs_backward(x, out, _node_major(g_both), index).t()
    else:
        gx = _levels_backward(x2, out, g_both, index)
    gx = gx.reshape(2, *hd.shape)
    return terms, (gx[0] + gx[1] * yd).to(h.dtype)


class MCLoss(nn.Module):
    """Module form of :func:`mc_loss`, holding the :class:`MaxConstraint` and the evaluated nodes.

    Args:
        hierarchy: a :class:`~hmc.hierarchy.Hierarchy` or an existing :class:`MaxConstraint`.
        eval_nodes: indices or bool mask of the evaluated nodes (None: all nodes).
        reduction: ``'none' | 'mean' | 'sum'``.
        dtype: computation dtype (float64 default, None keeps the input's).
        validate: check the input values at every call (see :func:`mc_loss`); False for training loops.

    Shape:
        - h: ``(..., C)``; y: broadcastable to h; weight (forward argument): see :func:`mc_loss`.
        - Output: scalar, or ``(..., C_eval)`` with ``reduction='none'``.
    """

    eval_nodes: Tensor | None

    def __init__(
        self,
        hierarchy: Hierarchy | MaxConstraint,
        eval_nodes: Sequence[int] | np.ndarray | Tensor | None = None,
        reduction: str = "mean",
        dtype: torch.dtype | None = torch.float64,
        validate: bool = True,
    ):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.mcm = hierarchy if isinstance(hierarchy, MaxConstraint) else MaxConstraint(hierarchy)
        self.register_buffer(
            "eval_nodes", _node_selector(eval_nodes, self.mcm.num_nodes, torch.device("cpu")), persistent=False
        )
        self.reduction = reduction
        self.dtype = dtype
        self.validate = validate

    def forward(self, h: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        return mc_loss(h, y, self.mcm, self.eval_nodes, weight, self.reduction, self.dtype, self.validate)
