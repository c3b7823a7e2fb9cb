"""Models of the study.

C-HMCNN (Giunchiglia & Lukasiewicz 2020, ``specs/chmcnn.md``)
------------------------------------------------------------
:class:`BatchedCHMCNN` is the C-HMCNN multilayer perceptron (``in -> hid -> hid -> C``, ReLU and
dropout after each hidden layer, sigmoid outputs) for M *members* at once: the members of an
ensemble, or the seeds of a sweep. Every weight is stacked over the members, ``(M, in, out)``, a
layer of all members is one batched matrix product (``torch.baddbmm``; on CPU see the note on
matrix products below), and one optimiser step updates all members.

Each member is bit-for-bit its own model:

* **Initialisation.** Member m is initialised exactly as ``torch.nn.Linear`` layers built one after
  the other would be after ``torch.manual_seed(seeds[m])``: kaiming-uniform weights (bound
  ``1/sqrt(fan_in)``) then a uniform bias (same bound), drawn layer by layer from a CPU
  ``torch.Generator`` seeded with ``seeds[m]``.
* **Dropout.** The masks of member m are drawn from its own generator (seeded with
  ``derive_seed(seeds[m], DROPOUT_STREAM)``, on the model's device), so they do not depend on which
  other members share the batch.
* **Alignment.** Every layer's output width is padded to a multiple of ``align`` (16 floats = one
  64-byte cache line). Each member's slice of every parameter is then a whole number of cache
  lines, and the fused CPU Adam (which works in cache-line units and vectorises inside them)
  handles every element with the same instruction sequence whatever M is: without the padding the
  few elements that fall in a scalar tail round differently (measured: 1 ulp), and member m of a
  batched model drifts away from the single model of seed m. The padded units start at zero and
  stay zero (zero input weights and bias give ReLU(0) = 0, whose gradient is 0; weight decay of 0
  is 0); the padded output columns are cut off before the sigmoid. The padding costs a few percent
  of arithmetic (500 -> 512 units).

Per-member kernels (CPU): an operation whose rounding can depend on where a member's elements sit
in the stacked tensor runs member by member, on views that have exactly the shapes of a
one-member model: the sigmoid (:func:`member_sigmoid`) and, except in the case below, the matrix
products. Correctly rounded elementwise operations (sums of two numbers, products, ReLU, masks),
max, and the bias-gradient sums (each output element summed over the batch rows in order) run
batched.

Note on the matrix products: with 2 threads, MKL's batched GEMM (``torch.baddbmm``/``bmm`` over
M members) rounds batches of 5 to 11 rows (except 8) differently from the single GEMM that a
one-member batch falls back to (measured on this project's CPU, MKL 2024.2; with 1 thread, and for
1-4, 8 or >= 12 rows, the results were identical), which would break "member m == the single model
of seed m". It is also up to 2.5x faster than one GEMM per member with 2 threads (it spreads the
members over the threads; a 4-row GEMM alone does not parallelise well). So by default
(``matmul="auto"``) a pass over batches of at most 4 rows (training at the spec's batch size 4 and
its remainder batches) uses the batched GEMM, and any other pass (prediction, larger batches) one
``torch.addmm``/``torch.mm`` per member on that member's views, exact for every shape. The tests
check the equality at batch size 4 with 2 threads.

The model returns probabilities (or logits with ``logits=True``); the max constraint module and
MCLoss (:mod:`hmc.constraint`) work on the probabilities. ``mc_dropout=True`` keeps dropout active
in eval mode (Monte-Carlo dropout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

DROPOUT_STREAM = 1
"""Stream number of the dropout generators in :func:`derive_seed`."""
DATA_STREAM = 2
"""Stream number of the data-order generators (used by :mod:`hmc.train`)."""
BATCHED_GEMM_MAX_ROWS = 4
"""With ``matmul="auto"`` on CPU, passes whose batches have at most this many rows use one batched
GEMM over the members; larger ones one GEMM per member (module docstring, "Note on the matrix
products")."""
MATMUL_MODES = ("auto", "loop", "bmm")


def derive_seed(seed: int, stream: int) -> int:
    """A 63-bit seed for one random stream of a run seed, independent of the other streams.

    ``numpy.random.SeedSequence([seed, stream])`` mixes the pair, so streams 1, 2, ... of seed s
    share nothing with each other nor with the plain ``seed`` used for initialisation.
    """
    state = np.random.SeedSequence([int(seed), int(stream)]).generate_state(1, dtype=np.uint64)[0]
    return int(state) & ((1 << 63) - 1)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class BatchedCHMCNN(nn.Module):
    """C-HMCNN MLP for ``n_members`` independent members with stacked weights.

    Parameters
    ----------
    n_members : int
        M, the number of members (ensemble members or seeds). Ignored when ``seeds`` is given
        (then M = ``len(seeds)``); otherwise the seeds are ``0, ..., M-1``.
    in_dim, hidden_dim, out_dim : int
        Input features, hidden width, and C (number of hierarchy nodes, roots included).
    n_layers : int
        Linear layers (3 in the spec: two hidden layers of width ``hidden_dim``).
    dropout : float
        Drop probability after each hidden layer (0.7 in the spec).
    seeds : sequence of int, optional
        One seed per member: member m is initialised from ``torch.Generator().manual_seed(seeds[m])``
        and draws its dropout masks from its own generator.
    align : int
        Layer widths are padded to a multiple of this (module docstring, "Alignment"). 1 disables it.
    matmul : {"auto", "loop", "bmm"}
        How the members' matrix products run on CPU: ``"loop"``, one GEMM per member (members
        exactly equal to single models for every shape); ``"bmm"``, one batched GEMM per layer
        (fastest with several threads); ``"auto"`` (default), batched for batches of at most
        :data:`BATCHED_GEMM_MAX_ROWS` rows (training at the spec's batch size 4), per member
        otherwise (prediction, larger batches). CUDA always uses the batched GEMM.

    Attributes
    ----------
    weights : nn.ParameterList
        Layer l's weight, shape ``(M, in_l, out_l)`` (padded widths; ``in_0 = in_dim``), so that
        ``x @ weights[l][m]`` is member m's layer (the transpose of ``nn.Linear.weight``).
    biases : nn.ParameterList
        Layer l's bias, shape ``(M, 1, out_l)``.
    mc_dropout : bool
        When True, dropout stays active in eval mode too.
    """

    def __init__(
        self,
        n_members: int | None,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        n_layers: int = 3,
        dropout: float = 0.7,
        seeds: Sequence[int] | None = None,
        align: int = 16,
        matmul: str = "auto",
    ):
        super().__init__()
        if seeds is None:
            if n_members is None or n_members < 1:
                raise ValueError(f"n_members must be >= 1 (or give seeds), got {n_members}")
            seeds = range(n_members)
        self.seeds: list[int] = [int(s) for s in seeds]
        if n_members is not None and n_members != len(self.seeds):
            raise ValueError(f"n_members={n_members} but {len(self.seeds)} seeds given")
        if not self.seeds:
            raise ValueError("at least one member is needed")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_members = len(self.seeds)
        self.in_dim, self.hidden_dim, self.out_dim = int(in_dim), int(hidden_dim), int(out_dim)
        self.n_layers = int(n_layers)
        self.dropout = float(dropout)
        self.align = int(align)
        self.mc_dropout = False
        if matmul not in MATMUL_MODES:
            raise ValueError(f"matmul must be one of {MATMUL_MODES}, got {matmul!r}")
        self.matmul = matmul

        true_dims = [self.in_dim] + [self.hidden_dim] * (self.n_layers - 1) + [self.out_dim]
        padded = [self.in_dim] + [_round_up(d, self.align) for d in true_dims[1:]]
        self.layer_dims: list[tuple[int, int]] = list(zip(true_dims[:-1], true_dims[1:], strict=True))
        self.padded_dims: list[tuple[int, int]] = list(zip(padded[:-1], padded[1:], strict=True))
        weights = [torch.zeros(self.n_members, i, o) for i, o in self.padded_dims]
        biases = [torch.zeros(self.n_members, 1, o) for _, o in self.padded_dims]
        for m, seed in enumerate(self.seeds):
            gen = torch.Generator().manual_seed(seed)
            for layer, (fan_in, fan_out) in enumerate(self.layer_dims):
                w = torch.empty(fan_out, fan_in)  # nn.Linear's layout, drawn in its order
                nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                b = torch.empty(fan_out).uniform_(-bound, bound, generator=gen)
                weights[layer][m, :fan_in, :fan_out] = w.T
                biases[layer][m, 0, :fan_out] = b
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        self._generators: list[torch.Generator] | None = None
        self._view_cache: dict = {}

    # ----------------------------------------------------------------------------- randomness
    def dropout_generators(self, device: torch.device | str | None = None) -> list[torch.Generator]:
        """The members' dropout generators (one per member) on ``device`` (default: the weights').

        Created on first use, seeded with ``derive_seed(seeds[m], DROPOUT_STREAM)``. Asking for
        another device than the current generators' starts fresh generators there (the mask
        stream restarts); :meth:`reset_dropout` does the same on the current device.
        """
        device = torch.device(device) if device is not None else self.weights[0].device
        gens = self._generators
        if gens is None or gens[0].device != device:
            gens = []
            for seed in self.seeds:
                gen = torch.Generator(device=device)
                gen.manual_seed(derive_seed(seed, DROPOUT_STREAM))
                gens.append(gen)
            self._generators = gens
        return gens

    def reset_dropout(self) -> None:
        """Restart every member's dropout stream from its seed."""
        self._generators = None

    def _dropout_mask(self, shape: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """Scaled keep mask ``(M, *shape)``: 1/(1-p) where kept, 0 where dropped, per-member draws."""
        keep = 1.0 - self.dropout
        draws = [
            torch.rand(shape, generator=gen, device=like.device, dtype=like.dtype)
            for gen in self.dropout_generators(like.device)
        ]
        u = torch.stack(draws)
        return (u < keep).to(like.dtype).mul_(1.0 / keep)

    # ----------------------------------------------------------------------------- forward
    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n_members, -1, -1)
        if x.dim() != 3 or x.shape[0] != self.n_members or x.shape[2] != self.in_dim:
            raise ValueError(
                f"expected input (M={self.n_members}, B, {self.in_dim}) or (B, {self.in_dim}), got {tuple(x.shape)}"
            )
        return x

    def _dropout_active(self) -> bool:
        return self.dropout > 0 and (self.training or self.mc_dropout)

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Per-member outputs ``(M, B, C)``: sigmoid probabilities, or logits when ``logits``.

        x : ``(M, B, in_dim)`` (member m gets its own batch ``x[m]``) or ``(B, in_dim)`` (the same
        batch for every member). Differentiable (autograd) in the inputs and the parameters.
        """
        x = self._check_input(x)
        z = _StackedMLP.apply(self, x, *self.weights, *self.biases)
        z = z[..., : self.out_dim]
        return z if logits else member_sigmoid(z)

    def forward_cached(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Padded logits ``(M, B, C_pad)`` without autograd, plus what :meth:`backward_cached` needs.

        The training fast path: the caller differentiates its loss with respect to the returned
        logits (``z.requires_grad_()``, loss of ``z[..., :out_dim]``) and hands that gradient to
        :meth:`backward_cached`. Same kernels and dropout draws as :meth:`forward`, so the values
        are bit-for-bit those of :meth:`forward`.
        """
        x = self._check_input(x)
        with torch.no_grad():
            return self._forward_impl(x)

    def backward_cached(self, grad_z: torch.Tensor, cache: dict) -> None:
        """Write the parameter gradients of :meth:`forward_cached`'s logits into each ``.grad``.

        grad_z : ``(M, B, C_pad)``, the loss gradient with respect to the padded logits. The
        ``.grad`` tensors are allocated once and then overwritten (not accumulated) in place: no
        per-step allocation of M x parameters floats and no zeroing pass, so leave them alone
        between steps (``optimizer.zero_grad`` is not needed; ``set_to_none=True`` is harmless).
        """
        grads = []
        for p in (*self.weights, *self.biases):
            if p.grad is None or p.grad.shape != p.shape or p.grad.device != p.device:
                p.grad = torch.empty_like(p)
            grads.append(p.grad)
        with torch.no_grad():
            self._backward_impl(
                grad_z, cache, grads[: self.n_layers], grads[self.n_layers :], need_input=False, cached_grads=True
            )

    def _members(self, t: torch.Tensor, transpose: bool = False) -> tuple[torch.Tensor, ...]:
        """Per-member views ``t[m]`` (or ``t[m].T``) of a parameter or gradient buffer, cached.

        Indexing M members from Python costs a few microseconds per view and per call; the
        parameters and the persistent gradient buffers keep their storage, so their views are
        made once (and remade when the storage changes, e.g. after ``.to(device)``).
        """
        key = (id(t), transpose)
        hit = self._view_cache.get(key)
        if hit is not None and hit[0] is t and hit[1] == t.data_ptr():
            return hit[2]
        views = (t.transpose(1, 2) if transpose else t).unbind(0)
        self._view_cache[key] = (t, t.data_ptr(), views)
        return views

    def _batched_gemm(self, rows: int, device: torch.device) -> bool:
        """Whether this pass uses one batched GEMM over the members (else one GEMM per member)."""
        if self.matmul == "bmm" or device.type != "cpu":
            return True
        if self.matmul == "loop":
            return False
        return rows <= BATCHED_GEMM_MAX_ROWS

    def _forward_impl(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        drop = self._dropout_active()
        acts, masks = [x], []
        h = x
        last = self.n_layers - 1
        batched = self._batched_gemm(x.shape[1], x.device)
        for layer in range(self.n_layers):
            w, b = self.weights[layer], self.biases[layer]
            z = h.new_empty((self.n_members, h.shape[1], w.shape[2]))
            if not batched:  # one GEMM per member (module docstring, "Note on the matrix products")
                for bm, hm, wm, zm in zip(self._members(b), h.unbind(0), self._members(w), z.unbind(0), strict=True):
                    torch.addmm(bm, hm, wm, out=zm)
            else:
                torch.baddbmm(b, h, w, out=z)
            if layer < last:
                h = torch.relu(z)
                if drop:
                    mask = self._dropout_mask(tuple(h.shape[1:]), h)
                    h.mul_(mask)
                    masks.append(mask)
                acts.append(h)
        return z, {"acts": acts, "masks": masks}

    def _backward_impl(self, grad_z, cache, grad_w, grad_b, need_input: bool, cached_grads: bool = False):
        acts, masks = cache["acts"], cache["masks"]
        g = grad_z
        batched = self._batched_gemm(g.shape[1], g.device)
        for layer in range(self.n_layers - 1, -1, -1):
            h = acts[layer]
            gs = None if batched else g.unbind(0)
            # weight gradient h^T g
            if not batched:
                gw = self._members(grad_w[layer]) if cached_grads else grad_w[layer].unbind(0)
                for hm, gm, out in zip(h.transpose(1, 2).unbind(0), gs, gw, strict=True):
                    torch.mm(hm, gm, out=out)
            else:
                torch.bmm(h.transpose(1, 2), g, out=grad_w[layer])
            # bias gradient: a sum over the batch rows, each output element summed in row order
            # whatever M is (the reduction runs along dim 1, outputs are split, not rows)
            torch.sum(g, dim=1, keepdim=True, out=grad_b[layer])
            if layer == 0 and not need_input:
                return None
            gh = h.new_empty(h.shape)
            if not batched:
                w_t = self._members(self.weights[layer], transpose=True)
                for gm, wt, out in zip(gs, w_t, gh.unbind(0), strict=True):
                    torch.mm(gm, wt, out=out)
            else:
                torch.bmm(g, self.weights[layer].transpose(1, 2), out=gh)
            if layer == 0:
                return gh
            if masks:
                gh.mul_(masks[layer - 1])
            g = gh.masked_fill_(h <= 0, 0.0)  # ReLU: h = relu(z) * mask > 0 exactly where both pass
        return None

    # ----------------------------------------------------------------------------- members
    def member_linears(self, m: int) -> nn.Sequential:
        """Member m as a plain ``nn.Sequential`` of ``nn.Linear``/ReLU/Dropout (a copy, unpadded)."""
        mods: list[nn.Module] = []
        for layer, (fan_in, fan_out) in enumerate(self.layer_dims):
            lin = torch.nn.utils.skip_init(nn.Linear, fan_in, fan_out, device=self.weights[layer].device)
            with torch.no_grad():
                lin.weight.copy_(self.weights[layer][m, :fan_in, :fan_out].T)
                lin.bias.copy_(self.biases[layer][m, 0, :fan_out])
            mods.append(lin)
            if layer < self.n_layers - 1:
                mods += [nn.ReLU(), nn.Dropout(self.dropout)]
        mods.append(nn.Sigmoid())
        return nn.Sequential(*mods)

    def extra_repr(self) -> str:
        return (
            f"members={self.n_members}, seeds={self.seeds}, dims={[d for d, _ in self.layer_dims] + [self.out_dim]}, "
            f"dropout={self.dropout}, align={self.align}"
        )


SIGMOID_CHUNK = 16384
"""Largest number of elements per CPU sigmoid call in :func:`member_sigmoid` (below ATen's
32768-element grain size, so that no call is split between threads)."""


def member_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """``torch.sigmoid`` of ``(M, N, C)`` logits: same bits whatever M and the thread count (CPU).

    The CPU sigmoid computes most elements with a vectorised ``exp`` and the rest (a loop's tail,
    the elements around the split point between threads) with the scalar one, which can differ in
    the last bit. Where those boundaries fall depends on the tensor's total size and on the number
    of threads, so one call over all M members could round member m's elements differently from
    a call over member m alone (measured: a few elements in a million, 1 ulp). Here each call
    covers rows of one member only, at most :data:`SIGMOID_CHUNK` elements (never split between
    threads), chunked by a rule that depends on (N, C) alone. Differentiable. Sums, products, max
    and the other correctly rounded operations do not depend on position and run batched.
    """
    if z.device.type != "cpu":
        return torch.sigmoid(z)
    n_rows, width = z.shape[1], max(int(np.prod(z.shape[2:])), 1)
    rows = max(1, SIGMOID_CHUNK // width)
    parts = [torch.sigmoid(zm[r : r + rows]) for zm in z.unbind(0) for r in range(0, n_rows, rows)]
    if len(parts) == 1:
        return parts[0].unsqueeze(0)
    return torch.cat(parts).view(z.shape)


class _StackedMLP(torch.autograd.Function):
    """Autograd wrapper of :meth:`BatchedCHMCNN._forward_impl` / ``_backward_impl``."""

    @staticmethod
    def forward(ctx, model: BatchedCHMCNN, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        z, cache = model._forward_impl(x)
        ctx.model = model
        ctx.cache = cache
        return z

    @staticmethod
    def backward(ctx, grad_z: torch.Tensor):
        model, cache = ctx.model, ctx.cache
        grad_w = [torch.empty_like(w) for w in model.weights]
        grad_b = [torch.empty_like(b) for b in model.biases]
        grad_x = model._backward_impl(grad_z.contiguous(), cache, grad_w, grad_b, need_input=ctx.needs_input_grad[1])
        return (None, grad_x, *grad_w, *grad_b)
