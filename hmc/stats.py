"""Statistical comparison of methods: paired Wilcoxon tests with Holm correction, Friedman + Nemenyi.

The rare-node spec (``specs/rare_nodes.md``, "Metrics") asks for 10 seeds per setting, paired Wilcoxon
signed-rank tests against the baseline (per dataset over seeds, and across datasets over per-dataset
means) with Holm's correction, and a Friedman test with the Nemenyi post-hoc test for the method ranks
across datasets, drawn as a critical-difference (CD) diagram. The procedures follow Demšar, "Statistical
Comparisons of Classifiers over Multiple Data Sets", JMLR 7 (2006) 1-30.

Functions
---------
:func:`paired_wilcoxon`
    Each method against one baseline on a tidy table, paired by a block column (seed or dataset);
    ``scipy.stats.wilcoxon`` per method, Holm-adjusted over the methods
    (``statsmodels.stats.multitest.multipletests(method="holm")``).
:func:`friedman_nemenyi`
    Friedman chi-square (``scipy.stats.friedmanchisquare``) and its Iman-Davenport F form, average
    ranks, the Nemenyi critical difference and pairwise Nemenyi p-values, for a (blocks x methods)
    score matrix where higher is better.
:func:`critical_difference_figure`
    The CD diagram: methods on an average-rank axis, bars joining methods whose ranks differ by at
    most CD.

Tested against scipy/statsmodels, hand-computed values and Demšar's table of critical values
(``tests/test_stats.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

__all__ = [
    "paired_wilcoxon",
    "holm",
    "FriedmanNemenyi",
    "friedman_nemenyi",
    "nemenyi_q_alpha",
    "critical_difference_figure",
]


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (``multipletests(method="holm")``), NaN entries left out.

    With the m finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``:

    .. math::

        \\tilde p_{(i)} = \\min\\Big(1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\Big) .

    NaN p-values (tests that could not be run) stay NaN and do not count in m.

    Example:
        >>> holm([0.01, 0.04, 0.03]).tolist()  # 3 x 0.01; max(0.06, 2 x 0.03); max(0.06, 1 x 0.04)
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = multipletests(p[finite], method="holm")[1]
    return out


def paired_wilcoxon(
    table: pd.DataFrame,
    baseline: str,
    methods: Sequence[str] | None = None,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
    *,
    block_col: str = "seed",
    method_col: str = "method",
    value_col: str = "value",
    zero_method: Literal["wilcox", "pratt", "zsplit"] = "wilcox",
) -> pd.DataFrame:
    """Wilcoxon signed-rank test of each method against ``baseline``, paired by block, Holm-adjusted.

    For method m the paired differences are ``d_b = value(m, b) - value(baseline, b)`` over the blocks b
    present for both; ``scipy.stats.wilcoxon(d, zero_method=zero_method, alternative=alternative)``
    gives the statistic and the raw p-value (scipy's ``method="auto"``: exact null distribution for
    n <= 50 without ties or zeros, the normal approximation otherwise). The p-values of all the methods
    tested in this call form one family, adjusted with Holm's step-down procedure (:func:`holm`).

    The pairing is the caller's choice of ``block_col``:

    - per dataset over seeds: ``table`` holds one dataset and one metric, ``block_col="seed"``
      (n = 10 seeds; the smallest possible two-sided p is 2 / 2**10 ~ 0.002);
    - across datasets over per-dataset means: average over seeds first, e.g.
      ``t.groupby(["dataset", "method"], as_index=False)["value"].mean()``, then ``block_col="dataset"``
      (n = number of datasets; with 8 datasets the smallest two-sided p is 2 / 2**8 ~ 0.008).

    Args:
        table: tidy rows with (at least) the block, method and value columns; exactly one row per
            (block, method): filter to one dataset and one metric, or aggregate, beforehand.
        baseline: the method every other is compared with.
        methods: the methods to test (default: every method in ``table`` but the baseline, in order of
            first appearance).
        alternative: ``"greater"`` tests whether the method's values are larger than the baseline's
            (d > 0); ``"less"`` the opposite. For a loss-like value, flip it.
        block_col, method_col, value_col: column names (``hmc.runs.sweep.result_rows`` uses ``"seed"``,
            ``"method"``, ``"value"``).
        zero_method: scipy's treatment of zero differences (``"wilcox"`` drops them, scipy's default).

    Returns:
        DataFrame indexed by method (index name = ``method_col``) with columns ``baseline``, ``n``
        (paired blocks), ``median_diff`` and ``mean_diff`` (of d), ``statistic`` (scipy's: min(W+, W-)
        for two-sided, W+ for one-sided), ``p``, ``p_holm``. A method with no paired block gets NaN
        statistics; one whose differences are all zero gets statistic 0 and p = 1 (no evidence of a
        difference; scipy would warn and give the same).

    Raises:
        ValueError: a missing column, a duplicated (block, method), or an unknown baseline or method.
    """
    missing = [c for c in (block_col, method_col, value_col) if c not in table.columns]
    if missing:
        raise ValueError(f"table has no column(s) {missing}")
    dup = table.duplicated([block_col, method_col])
    if dup.any():
        first = table.loc[dup, [block_col, method_col]].iloc[0].tolist()
        raise ValueError(
            f"table has several rows for ({block_col}, {method_col}) = {first}: filter to one dataset and metric, "
            "or aggregate (e.g. mean over seeds) first"
        )
    order = list(pd.unique(table[method_col]))
    if baseline not in order:
        raise ValueError(f"baseline {baseline!r} is not among the methods {order}")
    methods = [m for m in order if m != baseline] if methods is None else list(methods)
    unknown = [m for m in methods if m not in order]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; the table has {order}")
    wide = table.pivot(index=block_col, columns=method_col, values=value_col)
    rows = []
    for m in methods:
        pair = wide[[m, baseline]].astype(np.float64).dropna()
        d = (pair[m] - pair[baseline]).to_numpy()
        row = {"baseline": baseline, "n": len(d), "median_diff": np.nan, "mean_diff": np.nan,
               "statistic": np.nan, "p": np.nan}
        if len(d):
            row["median_diff"], row["mean_diff"] = float(np.median(d)), float(np.mean(d))
            if np.all(d == 0):
                row["statistic"], row["p"] = 0.0, 1.0
            else:
                res = stats.wilcoxon(d, zero_method=zero_method, alternative=alternative)
                row["statistic"], row["p"] = float(res.statistic), float(res.pvalue)
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(methods, name=method_col),
                       columns=["baseline", "n", "median_diff", "mean_diff", "statistic", "p"])
    out["p_holm"] = holm(out["p"].to_numpy())
    return out


def nemenyi_q_alpha(k: int, alpha: float = 0.05) -> float:
    """Nemenyi critical value ``q_alpha = q_{1-alpha}(k, inf) / sqrt(2)``.

    ``q_{1-alpha}(k, inf)`` is the (1 - alpha) quantile of the studentized range of k means with infinite
    degrees of freedom (``scipy.stats.studentized_range.ppf``); the division by sqrt(2) gives the values
    of Demšar (2006), Table 5 (k = 4, alpha = 0.05: 2.569).
    """
    if k < 2:
        raise ValueError(f"the Nemenyi test needs k >= 2 methods, got {k}")
    return float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


class FriedmanNemenyi(NamedTuple):
    """Result of :func:`friedman_nemenyi`."""

    statistic: float  # Friedman chi-square (scipy's, tie-corrected), k - 1 degrees of freedom
    pvalue: float  # its chi-square p-value
    f_statistic: float  # Iman-Davenport F = (N - 1) chi2 / (N (k - 1) - chi2)
    f_pvalue: float  # its F(k - 1, (k - 1)(N - 1)) p-value; NaN when f_statistic is infinite
    avg_ranks: pd.Series  # average rank per method (1 = best), in the matrix's column order
    cd: float  # Nemenyi critical difference at alpha
    q_alpha: float  # studentized-range critical value / sqrt(2)
    pairwise_p: pd.DataFrame  # (k, k) Nemenyi p-values, 1 on the diagonal
    n_blocks: int  # N
    n_methods: int  # k
    alpha: float

    @property
    def f_pvalue_text(self) -> str:
        """``f_pvalue`` for a sentence: ``"0.0123"``, or why there is none when F is infinite."""
        if math.isnan(self.f_pvalue):
            return "undefined: every block ranks the methods alike, F is infinite"
        return f"{self.f_pvalue:.3g}"


def friedman_nemenyi(
    matrix: pd.DataFrame | np.ndarray,
    alpha: float = 0.05,
    methods: Sequence[str] | None = None,
) -> FriedmanNemenyi:
    """Friedman test of k methods over N blocks (datasets), with the Nemenyi post-hoc test.

    Ranks: within each block (row) the methods are ranked by decreasing score (rank 1 = highest score =
    best), ties sharing their average rank (``scipy.stats.rankdata``); ``R_j`` is method j's average rank.

    Friedman (Demšar 2006, section 3.2.2), without ties:

    .. math::

        \\chi^2_F = \\frac{12 N}{k (k + 1)} \\Big( \\sum_j R_j^2 - \\frac{k (k + 1)^2}{4} \\Big) ,

    with k - 1 degrees of freedom, as computed by ``scipy.stats.friedmanchisquare`` (which also applies
    the tie correction). Iman-Davenport's less conservative form
    ``F_F = (N - 1) chi2_F / (N (k - 1) - chi2_F)`` follows F(k - 1, (k - 1)(N - 1)). When every block
    ranks the methods alike, chi2_F reaches its maximum N (k - 1), F_F is infinite and the F
    approximation says nothing: ``f_pvalue`` is then NaN, not 0 (with 2 blocks and 3 methods, for
    example, the exact probability of perfect agreement under the null is 1/6).

    Nemenyi: two methods differ significantly at level alpha when their average ranks differ by more than

    .. math::

        CD = q_\\alpha \\sqrt{\\frac{k (k + 1)}{6 N}}, \\qquad q_\\alpha = q_{1-\\alpha}(k, \\infty) / \\sqrt{2}

    (:func:`nemenyi_q_alpha`; Demšar's Table 5).

    Pairwise p-values, consistent with CD (``p_ij < alpha`` exactly when ``|R_i - R_j| > CD``):

    .. math::

        p_{ij} = 1 - F_{SR}\\Big( \\sqrt{2}\\, |R_i - R_j| \\Big/ \\sqrt{k (k + 1) / (6 N)} ;\\ k, \\infty \\Big) ,

    with ``F_SR`` the studentized range CDF (``scipy.stats.studentized_range.sf``).

    Args:
        matrix: scores, shape (N blocks, k methods), higher is better (negate a loss or a rank first);
            a DataFrame's columns name the methods. No NaN: drop incomplete blocks first.
        alpha: significance level of the critical difference.
        methods: method names for a numpy matrix (default ``"0"``, ``"1"``, ...); ignored for a DataFrame.

    Returns:
        :class:`FriedmanNemenyi`.

    Raises:
        ValueError: fewer than 3 methods (use :func:`paired_wilcoxon` for two) or 2 blocks, or NaN.
    """
    if isinstance(matrix, pd.DataFrame):
        names = [str(c) for c in matrix.columns]
        x = matrix.to_numpy(dtype=np.float64)
    else:
        x = np.asarray(matrix, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"matrix must be 2-d (blocks, methods), got shape {x.shape}")
        names = [str(i) for i in range(x.shape[1])] if methods is None else [str(m) for m in methods]
    if x.ndim != 2 or len(names) != x.shape[1]:
        raise ValueError(f"{len(names)} method names for a matrix of shape {x.shape}")
    n, k = x.shape
    if k < 3 or n < 2:
        raise ValueError(f"the Friedman test needs >= 3 methods and >= 2 blocks, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("matrix has NaN: drop incomplete blocks first")
    chi2, p = stats.friedmanchisquare(*x.T)
    chi2, p = float(chi2), float(p)
    denominator = n * (k - 1) - chi2
    f_stat = (n - 1) * chi2 / denominator if denominator > 0 else math.inf
    f_p = float(stats.f.sf(f_stat, k - 1, (k - 1) * (n - 1))) if math.isfinite(f_stat) else math.nan
    ranks = stats.rankdata(-x, axis=1).mean(axis=0)
    se = math.sqrt(k * (k + 1) / (6 * n))
    q_alpha = nemenyi_q_alpha(k, alpha)
    diff = np.abs(ranks[:, None] - ranks[None, :])
    pairwise = stats.studentized_range.sf(math.sqrt(2) * diff / se, k, np.inf)
    np.fill_diagonal(pairwise, 1.0)
    return FriedmanNemenyi(
        statistic=chi2,
        pvalue=p,
        f_statistic=float(f_stat),
        f_pvalue=f_p,
        avg_ranks=pd.Series(ranks, index=names, name="avg_rank"),
        cd=q_alpha * se,
        q_alpha=q_alpha,
        pairwise_p=pd.DataFrame(np.clip(pairwise, 0.0, 1.0), index=names, columns=names),
        n_blocks=n,
        n_methods=k,
        alpha=alpha,
    )


def _cliques(sorted_ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] (indices into ascending ranks, j > i) whose rank range is at most cd."""
    out, last_j = [], -1
    for i in range(len(sorted_ranks)):
        j = int(np.searchsorted(sorted_ranks, sorted_ranks[i] + cd, side="right")) - 1
        if j > i and j > last_j:
            out.append((i, j))
        last_j = max(last_j, j)
    return out


def critical_difference_figure(
    avg_ranks: pd.Series | Mapping[str, float] | Sequence[float] | np.ndarray,
    cd: float,
    ax=None,
    names: Sequence[str] | None = None,
):
    """Critical-difference diagram (Demšar 2006, Fig. 1): average ranks with non-significant groups.

    A horizontal axis of average ranks 1..k (1 = best, on the left) with the CD drawn as a bar above it.
    Each method hangs from its average rank by an elbow line to a label ``"name (rank)"``: the better
    half on the left, the others on the right. Thick bars under the axis join the maximal groups of
    methods whose average ranks differ by at most ``cd`` (not significantly different under Nemenyi).

    Args:
        avg_ranks: average rank per method: a Series/mapping (keys are the names) or an array with
            ``names`` (e.g. ``friedman_nemenyi(...).avg_ranks``).
        cd: the critical difference (``friedman_nemenyi(...).cd``).
        ax: a matplotlib axis to draw on (its limits are set and its frame turned off); None creates a
            figure sized for k methods.
        names: method names when ``avg_ranks`` is a plain sequence.

    Returns:
        The matplotlib Figure. Each method label is a Text with ``gid="method"``.
    """
    if isinstance(avg_ranks, Mapping | pd.Series):
        items = list(avg_ranks.items())
        labels, values = [str(n) for n, _ in items], [v for _, v in items]
    else:
        values = list(np.asarray(avg_ranks, dtype=np.float64))
        labels = [str(i) for i in range(len(values))] if names is None else [str(n) for n in names]
    r = np.asarray(values, dtype=np.float64)
    if r.ndim != 1 or len(labels) != len(r) or len(r) < 2 or np.isnan(r).any():
        raise ValueError("need one finite average rank per method, for at least 2 methods")
    k = len(r)
    order = np.argsort(r, kind="stable")
    r, labels = r[order], [labels[i] for i in order]
    groups = _cliques(r, cd)
    n_left = (k + 1) // 2
    step = 0.3  # vertical spacing (data units) of clique bars and label rows
    top = 0.9  # room above the axis for tick numbers and the CD bar
    y_clique = [-(0.25 + step * i) for i in range(len(groups))]
    y0 = min(y_clique, default=-0.1) - step
    y_label = [y0 - step * i if i < n_left else y0 - step * (k - 1 - i) for i in range(k)]
    bottom = min(y_label) - step
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.0, 0.45 + 0.5 * (top - bottom)))
    span = max(k - 1, 1)
    x_lo, x_hi = 1 - 0.08 * span, k + 0.08 * span
    ax.set_xlim(1 - 0.75 * span, k + 0.75 * span)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    line = dict(color="black", lw=1.0, solid_capstyle="butt")
    ax.plot([1, k], [0, 0], **line)
    for t in range(1, k + 1):
        ax.plot([t, t], [0, 0.1], **line)
        ax.text(t, 0.15, str(t), ha="center", va="bottom", fontsize=9)
    if cd > 0:
        ax.plot([1, 1 + cd], [0.65, 0.65], color="black", lw=1.5)
        for x in (1, 1 + cd):
            ax.plot([x, x], [0.58, 0.72], color="black", lw=1.0)
        ax.text(1 + cd / 2, 0.74, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, (rank, name) in enumerate(zip(r, labels)):
        left = i < n_left
        x_end = x_lo if left else x_hi
        ax.plot([rank, rank, x_end], [0, y_label[i], y_label[i]], color="0.35", lw=0.8)
        ax.text(x_end + (-0.03 if left else 0.03) * span, y_label[i], f"{name} ({rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=9, gid="method")
    pad = 0.015 * span
    for (i, j), y in zip(groups, y_clique):
        ax.plot([r[i] - pad, r[j] + pad], [y, y], color="black", lw=3.0, solid_capstyle="round")
    return ax.figure
