"""Statistics: Wilcoxon + Holm against scipy/statsmodels and hand values; Friedman against the rank formula
and Demšar's (2006) worked example; Nemenyi critical values against Demšar's table; the CD diagram."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402

from hmc.stats import (  # noqa: E402
    critical_difference_figure,
    friedman_nemenyi,
    holm,
    nemenyi_q_alpha,
    paired_wilcoxon,
)

# --- Holm and paired Wilcoxon --------------------------------------------------------------------


def test_holm_hand_computed():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03; 2 x 0.03 = 0.06; max(0.06, 1 x 0.04) = 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(multipletests([0.01, 0.04, 0.03], method="holm")[1], [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.01]), [0.5, 0.02])
    np.testing.assert_allclose(holm([0.4, np.nan, 0.3]), [0.6, np.nan, 0.6])  # NaN left out of m
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])  # 2 x 0.8 capped at 1; then max(1, 0.9)
    np.testing.assert_allclose(holm([0.012, 0.01, 0.3]), [0.03, 0.03, 0.3])  # max(3 x 0.01, 2 x 0.012)
    assert holm([]).shape == (0,)


def tidy(values: dict[str, list[float]], block: str = "seed") -> pd.DataFrame:
    rows = [{block: b, "method": m, "value": v} for m, vs in values.items() for b, v in enumerate(vs)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # row order must not matter


def test_paired_wilcoxon_matches_scipy_and_holm():
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.05, 10)
    values = {
        "base": base,
        "better": base + rng.normal(0.03, 0.01, 10),
        "same": base + rng.normal(0.0, 0.01, 10),
        "worse": base - rng.normal(0.01, 0.02, 10),
    }
    table = tidy(values)
    first_seen = [m for m in pd.unique(table.method) if m != "base"]
    assert list(paired_wilcoxon(table, "base").index) == first_seen  # default order: first appearance
    got = paired_wilcoxon(table, "base", methods=["better", "same", "worse"])
    assert list(got.index) == ["better", "same", "worse"] and got.index.name == "method"
    raw = []
    for m in got.index:
        d = np.asarray(values[m]) - base
        res = stats.wilcoxon(d)
        raw.append(res.pvalue)
        assert got.loc[m, "statistic"] == pytest.approx(res.statistic)
        assert got.loc[m, "p"] == pytest.approx(res.pvalue)
        assert got.loc[m, "median_diff"] == pytest.approx(np.median(d))
        assert got.loc[m, "mean_diff"] == pytest.approx(np.mean(d))
        assert got.loc[m, "n"] == 10 and got.loc[m, "baseline"] == "base"
    np.testing.assert_allclose(got["p_holm"], multipletests(raw, method="holm")[1])
    assert got.loc["better", "p"] == pytest.approx(2 / 2**10)  # all 10 differences positive: exact p

    one_sided = paired_wilcoxon(tidy(values), "base", methods=["better"], alternative="greater")
    res = stats.wilcoxon(np.asarray(values["better"]) - base, alternative="greater")
    assert one_sided.loc["better", "statistic"] == pytest.approx(res.statistic)  # W+ = 55
    assert one_sided.loc["better", "p"] == pytest.approx(1 / 2**10)
    assert one_sided.loc["better", "p_holm"] == one_sided.loc["better", "p"]  # a family of one


def test_paired_wilcoxon_pairs_by_block_across_datasets():
    # per-dataset means over seeds, paired by dataset; a dataset missing for a method is dropped
    rows = []
    for d, (b, m) in enumerate([(0.2, 0.25), (0.4, 0.41), (0.3, 0.36), (0.5, 0.52), (0.1, 0.18), (0.6, 0.59)]):
        for seed in range(3):
            rows += [
                {"dataset": f"ds{d}", "method": "base", "seed": seed, "value": b + 0.001 * seed},
                {"dataset": f"ds{d}", "method": "new", "seed": seed, "value": m + 0.001 * seed},
            ]
    table = pd.DataFrame(rows)
    table = table[~((table.dataset == "ds5") & (table.method == "new"))]
    with pytest.raises(ValueError, match="several rows"):
        paired_wilcoxon(table, "base", block_col="dataset")
    means = table.groupby(["dataset", "method"], as_index=False)["value"].mean()
    got = paired_wilcoxon(means, "base", block_col="dataset")
    d = np.array([0.05, 0.01, 0.06, 0.02, 0.08])
    assert got.loc["new", "n"] == 5
    assert got.loc["new", "p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert got.loc["new", "median_diff"] == pytest.approx(0.05)


def test_paired_wilcoxon_edge_cases_and_errors():
    values = {"base": [1.0, 2.0, 3.0], "copy": [1.0, 2.0, 3.0], "up": [2.0, 3.0, 4.5]}
    got = paired_wilcoxon(tidy(values), "base")
    assert got.loc["copy", "statistic"] == 0.0 and got.loc["copy", "p"] == 1.0  # all differences zero
    assert got.loc["up", "p"] == pytest.approx(stats.wilcoxon([1.0, 1.0, 1.5]).pvalue)
    table = tidy(values)
    with pytest.raises(ValueError, match="baseline"):
        paired_wilcoxon(table, "nope")
    with pytest.raises(ValueError, match="unknown"):
        paired_wilcoxon(table, "base", methods=["nope"])
    with pytest.raises(ValueError, match="column"):
        paired_wilcoxon(table.rename(columns={"value": "score"}), "base")


# --- Friedman, Nemenyi -----------------------------------------------------------------------------


def hand_friedman(ranks: np.ndarray) -> float:
    """chi2_F = 12N / (k(k+1)) * (sum_j R_j^2 - k(k+1)^2 / 4), R_j the average ranks (no ties)."""
    n, k = ranks.shape
    r = ranks.mean(axis=0)
    return 12 * n / (k * (k + 1)) * (np.sum(r**2) - k * (k + 1) ** 2 / 4)


def test_friedman_matches_hand_formula_without_ties():
    # ranks per block, 1 = best; scores are chosen so that higher is better
    ranks = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3], [1, 3, 2], [2, 1, 3]], dtype=float)
    scores = pd.DataFrame(10 - ranks + 0.1 * np.arange(6)[:, None], columns=["a", "b", "c"])
    got = friedman_nemenyi(scores)
    # R = (8/6, 12/6, 16/6): chi2 = 12*6/12 * ((64 + 144 + 256)/36 - 12) = 6 * (464/36 - 12) = 16/3
    assert hand_friedman(ranks) == pytest.approx(16 / 3)
    assert got.statistic == pytest.approx(16 / 3)
    assert got.pvalue == pytest.approx(stats.chi2.sf(16 / 3, 2))
    assert got.pvalue == pytest.approx(stats.friedmanchisquare(*scores.to_numpy().T).pvalue)
    pd.testing.assert_series_equal(got.avg_ranks, pd.Series([8 / 6, 2.0, 16 / 6], index=["a", "b", "c"],
                                                            name="avg_rank"))
    f = 5 * (16 / 3) / (6 * 2 - 16 / 3)
    assert got.f_statistic == pytest.approx(f) and got.f_pvalue == pytest.approx(stats.f.sf(f, 2, 10))
    assert got.f_pvalue_text == f"{stats.f.sf(f, 2, 10):.3g}"
    assert (got.n_blocks, got.n_methods) == (6, 3)


def test_iman_davenport_p_is_undefined_when_every_block_ranks_alike():
    scores = pd.DataFrame([[3.0, 2.0, 1.0], [30.0, 20.0, 10.0]], columns=["a", "b", "c"])
    got = friedman_nemenyi(scores)
    # chi2 at its maximum N (k - 1) = 4: F = (N - 1) chi2 / (N (k - 1) - chi2) = 4 / 0
    assert got.statistic == pytest.approx(4.0) and got.pvalue == pytest.approx(stats.chi2.sf(4.0, 2))
    assert math.isinf(got.f_statistic) and math.isnan(got.f_pvalue)
    assert got.f_pvalue_text.startswith("undefined")


@pytest.mark.parametrize("seed", range(4))
def test_friedman_matches_scipy_on_random_scores(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((int(rng.integers(3, 15)), int(rng.integers(3, 7))))
    x[0, :2] = 0.5  # a tie: scipy's tie correction must carry through
    got = friedman_nemenyi(x, methods=[f"m{j}" for j in range(x.shape[1])])
    want = stats.friedmanchisquare(*x.T)
    assert (got.statistic, got.pvalue) == pytest.approx((want.statistic, want.pvalue))
    np.testing.assert_allclose(got.avg_ranks.to_numpy(), stats.rankdata(-x, axis=1).mean(0))
    assert list(got.avg_ranks.index) == [f"m{j}" for j in range(x.shape[1])]


def test_demsar_worked_example():
    """Demšar (2006), section 3.2.4: 4 methods on 14 data sets, average ranks 3.143, 2.000, 2.893, 1.964,
    chi2_F = 9.28, F_F = 3.69, CD(0.05) = 1.25 with q_0.05 = 2.569. The rank matrix below is constructed to
    have those rank sums (44, 28, 40.5, 27.5): Demšar's AUC table itself is not reproduced here."""
    ranks = np.array(
        [[1, 2, 3, 4], [2, 3, 4, 1], [3, 1, 4, 2], [3, 1, 4, 2], [3, 4, 2, 1], [3, 4, 2, 1], [4, 1, 2, 3],
         [4, 1, 2, 3], [4, 1, 3, 2], [4, 1, 3, 2], [4, 2, 3, 1], [4, 2, 3, 1], [4, 3, 2, 1], [1, 2, 3.5, 3.5]]
    )
    names = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
    got = friedman_nemenyi(pd.DataFrame(-ranks, columns=names))
    np.testing.assert_allclose(got.avg_ranks.to_numpy(), [3.143, 2.000, 2.893, 1.964], atol=5e-4)
    untied = hand_friedman(ranks)
    assert untied == pytest.approx(9.28, abs=5e-3)
    assert 13 * untied / (14 * 3 - untied) == pytest.approx(3.69, abs=5e-3)
    # scipy divides by the tie correction 1 - sum(t^3 - t) / (N k (k^2 - 1)) = 1 - 6 / 840
    assert got.statistic == pytest.approx(untied / (1 - 6 / 840))
    assert got.cd == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=1e-3)
    assert got.cd == pytest.approx(1.25, abs=5e-3)
    # C4.5 vs C4.5+m+cf: 3.143 - 1.964 = 1.179 < CD(0.05) but > CD(0.10) = 2.291 * sqrt(20/84) = 1.12
    p = got.pairwise_p.loc["C4.5", "C4.5+m+cf"]
    assert 0.05 < p < 0.10
    assert friedman_nemenyi(pd.DataFrame(-ranks, columns=names), alpha=0.10).cd == pytest.approx(1.12, abs=5e-3)


def test_nemenyi_q_alpha_matches_demsar_table():
    # Demšar (2006) Table 5(a), alpha = 0.05, k = 2..10
    table = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    np.testing.assert_allclose([nemenyi_q_alpha(k) for k in range(2, 11)], table, atol=1e-3)
    assert nemenyi_q_alpha(4, 0.10) == pytest.approx(2.291, abs=1e-3)  # Table 5(b)
    with pytest.raises(ValueError):
        nemenyi_q_alpha(1)


@pytest.mark.parametrize("seed", range(3))
def test_pairwise_p_consistent_with_cd(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((12, 5)) + np.linspace(0, 0.6, 5)  # later methods tend to score higher
    got = friedman_nemenyi(x)
    diff = np.abs(got.avg_ranks.to_numpy()[:, None] - got.avg_ranks.to_numpy()[None, :])
    p = got.pairwise_p.to_numpy()
    np.testing.assert_array_equal(p < 0.05, diff > got.cd)
    np.testing.assert_allclose(np.diag(p), 1.0)
    np.testing.assert_allclose(p, p.T)
    # the formula: sf of the studentized range at sqrt(2) |R_i - R_j| / sqrt(k(k+1)/(6N))
    want = stats.studentized_range.sf(math.sqrt(2) * diff[0, 4] / math.sqrt(5 * 6 / (6 * 12)), 5, np.inf)
    assert p[0, 4] == pytest.approx(want)


def test_friedman_errors():
    with pytest.raises(ValueError, match=">= 3 methods"):
        friedman_nemenyi(np.random.default_rng(0).random((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        friedman_nemenyi(np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match="names"):
        friedman_nemenyi(np.ones((3, 3)), methods=["a", "b"])


# --- critical-difference diagram -------------------------------------------------------------------


def method_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "method"]


def test_critical_difference_figure_labels_and_groups():
    ranks = pd.Series({"baseline": 3.143, "imbalance": 2.0, "focal_bma": 2.893, "focal_gmu": 1.964})
    fig = critical_difference_figure(ranks, cd=1.25)
    try:
        assert isinstance(fig, Figure)
        labels = method_texts(fig)
        assert len(labels) == 4
        for name in ranks.index:
            assert sum(label.startswith(name + " (") for label in labels) == 1
        assert "focal_gmu (1.96)" in labels
        # clique bars: lw=3 lines; ranks 1.964..3.143 span 1.179 <= 1.25: one group of all four
        bars = [line for line in fig.axes[0].lines if line.get_linewidth() == 3.0]
        assert len(bars) == 1
        assert any("CD" in t.get_text() for t in fig.axes[0].texts)
        fig.canvas.draw()  # renders without error
    finally:
        plt.close(fig)


def test_critical_difference_figure_on_given_axis_and_groups():
    fig, ax = plt.subplots()
    try:
        ranks = [1.0, 1.5, 3.0, 3.2, 5.0]
        out = critical_difference_figure(ranks, cd=1.0, ax=ax, names=list("abcde"))
        assert out is fig
        assert sorted(method_texts(fig)) == ["a (1.00)", "b (1.50)", "c (3.00)", "d (3.20)", "e (5.00)"]
        bars = [line for line in ax.lines if line.get_linewidth() == 3.0]
        assert len(bars) == 2  # {a, b} and {c, d}; e alone draws no bar
    finally:
        plt.close(fig)
    with pytest.raises(ValueError):
        critical_difference_figure([1.0], cd=1.0)
