"""Evidence for the rare-node study's claims 1 and 2, computed from a results table of chapter 03.

Chapter 03 (``notebooks/03_rare_node_loss.py``) trains, for one ensemble size H, the plain C-HMCNN
ensemble (``baseline-H<H>``), imbalance weighting with each weight target (``imbalance-neg-H<H>``,
``imbalance-pos-H<H>``) and focal weighting with each uncertainty measure (``focal-<measure>-H<H>``),
and writes the tidy rows of :func:`hmc.runs.sweep.run_sweep` (``dataset, method, seed, metric, value``, ...).
The functions here turn such rows into the chapter's tables and into one evidence table for claims 1
and 2 of Xu et al. 2026 (bib key ``xu2026rarenodes``; ``specs/rare_nodes.md``), so that the claims
scorecard (chapter 05) derives exactly the same numbers from the same CSV:

- :func:`chapter_methods`: the canonical method names of the chapter for H (:mod:`hmc.rare_nodes`).
- :func:`dataset_means`: mean, std and seed count per (dataset, method, metric).
- :func:`wilcoxon_per_dataset`, :func:`wilcoxon_across_datasets`: paired Wilcoxon signed-rank tests
  against a baseline (over seeds within a dataset; over per-dataset means across datasets), Holm-adjusted
  over the methods of one call (:func:`hmc.stats.paired_wilcoxon`).
- :func:`recall_gains`: per dataset and group (training-frequency bucket or depth) the ratio of a
  method's mean recall to the baseline's (:func:`hmc.metrics.recall_gain`: a ratio of seed means).
- :func:`friedman_over_datasets`: Friedman + Nemenyi over per-dataset means, or None when the design is
  too small (fewer than 2 datasets or 3 methods).
- :func:`claims_evidence`: the evidence table (claim, statement, value, detail, test, n, p, p_holm,
  min_p).

``min_p`` is the smallest p-value the test can give with its n paired blocks (two-sided exact Wilcoxon
without ties: ``2 / 2**n``): when it exceeds 0.05, no outcome of the design could be significant, and
the row says nothing about the claim either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hmc.metrics import recall_gain
from hmc.rare_nodes import MEASURE_SHORT, RareNodeConfig, method_name
from hmc.stats import friedman_nemenyi, paired_wilcoxon

__all__ = [
    "CLAIMS",
    "MEASURES",
    "RARE_BUCKETS",
    "REFERENCE_MEASURE",
    "chapter_methods",
    "short_label",
    "dataset_means",
    "wilcoxon_per_dataset",
    "wilcoxon_across_datasets",
    "recall_gains",
    "friedman_over_datasets",
    "min_wilcoxon_p",
    "claims_evidence",
]

MEASURES: tuple[str, ...] = tuple(MEASURE_SHORT.values())
"""The six uncertainty measures as method names spell them: bbma, bma, aleatoric, js, kl, gmu."""
REFERENCE_MEASURE = "js"
"""The reference code's default measure for tabular data (``epistemic_js``)."""
RARE_BUCKETS: tuple[str, ...] = ("1-5", "6-20")
"""Training-frequency buckets read as "rare" (the paper does not define rare; nodes with 0 training
positives are left out: no loss weight can teach a node it never saw)."""
CLAIMS: dict[int, str] = {
    1: "Node-wise imbalance weighting + focal weighting raises recall of rare nodes up to a factor of five and "
       "gives statistically significant F1 gains over the unweighted baseline.",
    2: "Focal weighting with BMA or GMU uncertainty beats the other uncertainty measures and plain imbalance "
       "weighting; gains grow with the ensemble size.",
}
"""Claims 1 and 2 of the paper as the spec states them (``specs/rare_nodes.md``)."""
F1 = "macro_f1"
"""The F1 of the claims: macro F1 at 0.5 over all evaluated nodes (the paper's average)."""

_LONG = {short: long for long, short in MEASURE_SHORT.items()}

CHAPTER05_METHODS = (
    "baseline", "imbalance-neg",
    "sched-lin", "sched-exp", "sched-alt", "sched-global-lin", "sched-global-exp", "sched-global-alt",
    "mixed-0.25", "mixed-0.5", "mixed-0.75",
    "lpros", "lpros+imbalance-neg",
)
"""Chapter 05's 13 single-network methods (claims 3 and 5): the baseline and imbalance weighting
they are compared with, the six schedules, three mixed losses, LPROS alone and with weights."""


def chapter_methods(n_members: int, measures: Sequence[str] = MEASURES) -> dict[str, str]:
    """Role -> canonical method name for ensemble size H = ``n_members``, in the chapter's order.

    Roles: ``"baseline"``, ``"imbalance-neg"``, ``"imbalance-pos"``, then ``"focal-<measure>"`` for each
    measure (short spelling, :data:`MEASURES`). H must be at least 2 (js, kl and gmu need a pair).
    """
    if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 2:
        raise ValueError(f"n_members must be an integer of at least 2, got {n_members!r}")
    unknown = [m for m in measures if m not in _LONG]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; known: {', '.join(MEASURES)}")
    out = {"baseline": method_name(RareNodeConfig(loss="plain", n_members=n_members))}
    for target, short in (("negatives", "neg"), ("positives", "pos")):
        out[f"imbalance-{short}"] = method_name(
            RareNodeConfig(loss="imbalance", weight_target=target, n_members=n_members))
    for m in measures:
        out[f"focal-{m}"] = method_name(RareNodeConfig(loss="focal", measure=_LONG[m], n_members=n_members))
    return out


def short_label(method: str) -> str:
    """A method name without its ``-H<n>`` suffix (for figure labels; the H is stated in the titles)."""
    head, _, tail = method.rpartition("-")
    return head if head and tail.startswith("H") and tail[1:].isdigit() else method


def dataset_means(rows: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, std (ddof 1) and number of seeds per (dataset, method, metric) of tidy result rows."""
    t = rows if metrics is None else rows[rows.metric.isin(list(metrics))]
    out = t.groupby(["dataset", "method", "metric"], sort=False)["value"].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "seeds"}).reset_index()


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p of the exact Wilcoxon signed-rank test with n non-zero differences, no ties."""
    return float("nan") if n < 1 else min(1.0, 2.0 / 2.0**n)


def _present(rows: pd.DataFrame, methods: Sequence[str]) -> list[str]:
    have = set(rows.method.unique())
    return [m for m in methods if m in have]


def wilcoxon_per_dataset(rows: pd.DataFrame, metric: str, baseline: str, methods: Sequence[str]) -> pd.DataFrame:
    """Per dataset, each method against ``baseline`` paired by seed on ``metric``, Holm over the methods.

    Returns one row per (dataset, method) with the columns of :func:`hmc.stats.paired_wilcoxon` plus
    ``dataset``, ``metric``, ``min_p``. Methods or datasets without rows are left out.
    """
    parts = []
    t = rows[rows.metric == metric]
    for dataset, d in t.groupby("dataset", sort=False):
        present = [m for m in _present(d, methods) if m != baseline]
        if baseline not in set(d.method) or not present:
            continue
        res = paired_wilcoxon(d[d.method.isin([baseline, *present])], baseline, present, block_col="seed")
        res.insert(0, "dataset", dataset)
        parts.append(res.reset_index())
    if not parts:
        return pd.DataFrame(columns=["dataset", "method", "baseline", "n", "median_diff", "mean_diff",
                                     "statistic", "p", "p_holm", "metric", "min_p"])
    out = pd.concat(parts, ignore_index=True)
    out["metric"] = metric
    out["min_p"] = [min_wilcoxon_p(int(n)) for n in out.n]
    return out


def wilcoxon_across_datasets(rows: pd.DataFrame, metric: str, baseline: str,
                             methods: Sequence[str]) -> pd.DataFrame:
    """Each method against ``baseline`` paired by dataset over the per-dataset seed means, Holm over the methods.

    Only datasets where a method and the baseline both have rows pair up. Returns the columns of
    :func:`hmc.stats.paired_wilcoxon` (index: method) plus ``metric`` and ``min_p``.
    """
    t = rows[rows.metric == metric]
    means = t.groupby(["dataset", "method"], as_index=False, sort=False)["value"].mean()
    present = [m for m in _present(means, methods) if m != baseline]
    if baseline not in set(means.method) or not present:
        return pd.DataFrame(columns=["baseline", "n", "median_diff", "mean_diff", "statistic", "p", "p_holm",
                                     "metric", "min_p"])
    out = paired_wilcoxon(means[means.method.isin([baseline, *present])], baseline, present, block_col="dataset")
    out["metric"] = metric
    out["min_p"] = [min_wilcoxon_p(int(n)) for n in out.n]
    return out


def recall_gains(rows: pd.DataFrame, baseline: str, methods: Sequence[str], key: str = "freq",
                 metric: str = "recall") -> pd.DataFrame:
    """Per dataset, method and group: seed-mean ``metric`` of the method and the baseline, and their ratio.

    ``key`` is ``"freq"`` (training-frequency buckets) or ``"depth"``; the rows' metrics
    ``f"{metric}@{key}=<group>"`` are used. ``gain`` follows :func:`hmc.metrics.recall_gain`: inf where
    the baseline's mean is 0 and the method's is not, NaN for 0 / 0.
    """
    prefix = f"{metric}@{key}="
    t = rows[rows.metric.str.startswith(prefix)]
    t = t.assign(group=t.metric.str.slice(len(prefix)))
    means = t.groupby(["dataset", "method", "group"], sort=False)["value"].mean().rename(metric).reset_index()
    parts = []
    for dataset, d in means.groupby("dataset", sort=False):
        base = d[d.method == baseline].set_index("group")
        if base.empty:
            continue
        for m in _present(d, methods):
            if m == baseline:
                continue
            mine = d[d.method == m].set_index("group")
            gain = recall_gain(mine, base, column=metric)
            parts.append(pd.DataFrame({"dataset": dataset, "method": m, "group": gain.index,
                                       "value": mine[metric].reindex(gain.index).to_numpy(),
                                       "baseline_value": base[metric].reindex(gain.index).to_numpy(),
                                       "gain": gain.to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["dataset", "method", "group", "value", "baseline_value", "gain"])
    return pd.concat(parts, ignore_index=True)


def friedman_over_datasets(rows: pd.DataFrame, metric: str, methods: Sequence[str], alpha: float = 0.05):
    """Friedman + Nemenyi (:func:`hmc.stats.friedman_nemenyi`) on the per-dataset seed means of ``metric``.

    Blocks are the datasets where every method in ``methods`` (those present) has rows. Returns
    ``(result, matrix)``, or ``(None, matrix)`` when there are fewer than 2 datasets or 3 methods: the
    test is then undefined, not merely weak.
    """
    t = rows[(rows.metric == metric) & rows.method.isin(list(methods))]
    matrix = t.groupby(["dataset", "method"], sort=False)["value"].mean().unstack("method")
    matrix = matrix[[m for m in methods if m in matrix.columns]].dropna()
    if matrix.shape[0] < 2 or matrix.shape[1] < 3:
        return None, matrix
    return friedman_nemenyi(matrix, alpha=alpha), matrix


def _row(claim, statement, value, detail, test, n=np.nan, p=np.nan, p_holm=np.nan, min_p=np.nan):
    return {"claim": claim, "statement": statement, "value": value, "detail": detail, "test": test,
            "n": n, "p": p, "p_holm": p_holm, "min_p": min_p}


def claims_evidence(rows: pd.DataFrame, n_members: int, measures: Sequence[str] = MEASURES,
                    alpha: float = 0.05) -> pd.DataFrame:
    """The evidence table for claims 1 and 2, from chapter 03's tidy rows at ensemble size ``n_members``.

    F1 is ``macro_f1`` (all evaluated nodes), recall per training-frequency bucket the seed means of
    ``recall@freq=<bucket>``; tests are two-sided, Holm-adjusted within each row's family (named in
    ``test``). Rows (``value`` is a float; NaN when the methods were not run or the design is too small):

    1. claim 1, largest recall gain over the baseline in a rare bucket (:data:`RARE_BUCKETS`), over the
       focal methods and datasets (finite gains only); test: Wilcoxon over seeds on that dataset and
       bucket, Holm over the focal methods. Picking the largest of many gains is what "up to" means;
       the p-value of a picked maximum is optimistic.
    2. claim 1, median over datasets of the recall gain of the reference configuration (focal-js,
       weights on the negatives) in bucket 1-5; test: Wilcoxon across datasets on the bucket's recall,
       Holm over the focal methods.
    3. claim 1, macro F1 gain of the reference configuration over the baseline (mean over datasets of
       the per-dataset differences); test: Wilcoxon across datasets, Holm over the focal methods;
       ``detail`` counts the datasets with a significant per-dataset gain (Wilcoxon over seeds, Holm).
    4. claim 1, the same for the focal method with the smallest across-datasets p-value.
    5. claim 2, Friedman ranks of the focal measures on macro F1 across datasets: ``value`` is the
       better average rank of bma and gmu (1 = best); ``p`` the Friedman p, ``p_holm`` the Nemenyi p of
       that method against the best-ranked other measure (1 when it is itself the best).
    6-7. claim 2, focal-bma and focal-gmu against imbalance weighting (negatives, the reference's):
       macro F1 difference across datasets, Wilcoxon, Holm over the two.
    8. claim 2, "gains grow with the ensemble size": not tested here (one H; chapter 04).
    """
    names = chapter_methods(n_members, measures)
    base = names["baseline"]
    focal = [names[f"focal-{m}"] for m in measures]
    reference = names.get(f"focal-{REFERENCE_MEASURE}")
    datasets = list(pd.unique(rows.dataset))
    out = []
    wpd = "paired Wilcoxon over seeds (per dataset)"
    wad = "paired Wilcoxon across datasets (per-dataset means)"

    # 1. largest rare-bucket recall gain
    gains = recall_gains(rows, base, focal, key="freq")
    rare = gains[gains.group.isin(RARE_BUCKETS) & np.isfinite(gains.gain.astype(float))]
    n_inf = int((gains.group.isin(RARE_BUCKETS) & np.isinf(gains.gain.astype(float))).sum())
    if len(rare):
        top = rare.loc[rare.gain.astype(float).idxmax()]
        bucket = top.group
        test = wilcoxon_per_dataset(rows[rows.dataset == top.dataset], f"recall@freq={bucket}", base, focal)
        hit = test[test.method == top.method].iloc[0]
        out.append(_row(1, "rare-node recall up to 5x the baseline's", float(top.gain),
                        f"{top.dataset}, {top.method}, bucket {bucket}: recall {top.value:.4f} vs "
                        f"{top.baseline_value:.4f}; {n_inf} infinite gains (baseline recall 0) not counted",
                        f"{wpd}, recall@freq={bucket}, Holm over the focal methods", int(hit.n), hit.p,
                        hit.p_holm, min_wilcoxon_p(int(hit.n))))
    else:
        out.append(_row(1, "rare-node recall up to 5x the baseline's", np.nan,
                        f"no finite gain in buckets {', '.join(RARE_BUCKETS)} ({n_inf} infinite)", wpd))

    # 2. median gain of the reference configuration, bucket 1-5
    statement = "rare-node recall gain (bucket 1-5), reference configuration"
    ref_gain = gains[(gains.method == reference) & (gains.group == RARE_BUCKETS[0])] if reference else gains[:0]
    finite = ref_gain.gain.astype(float)
    finite = finite[np.isfinite(finite)]
    if reference and len(ref_gain):
        test = wilcoxon_across_datasets(rows, f"recall@freq={RARE_BUCKETS[0]}", base, focal)
        hit = test.loc[reference] if reference in test.index else None
        out.append(_row(1, statement, float(finite.median()) if len(finite) else np.nan,
                        f"{reference}: median over {len(finite)} datasets with a finite gain "
                        f"(of {len(ref_gain)}); weights on the negatives",
                        f"{wad}, recall@freq={RARE_BUCKETS[0]}, Holm over the focal methods",
                        *((int(hit.n), hit.p, hit.p_holm, min_wilcoxon_p(int(hit.n))) if hit is not None else ())))
    else:
        out.append(_row(1, statement, np.nan, "reference configuration not run", wad))

    # 3-4. macro F1 gains
    across = wilcoxon_across_datasets(rows, F1, base, focal)
    per = wilcoxon_per_dataset(rows, F1, base, focal)
    best = across.p.astype(float).idxmin() if len(across) and across.p.notna().any() else None
    for label, method in (("reference configuration", reference), ("best focal measure", best)):
        statement = f"significant macro F1 gain over the baseline, {label}"
        if method is None or method not in across.index:
            out.append(_row(1, statement, np.nan, "not run", wad))
            continue
        hit = across.loc[method]
        mine = per[per.method == method]
        k_sig = int(((mine.p_holm < alpha) & (mine.mean_diff > 0)).sum())
        k_up = int((mine.mean_diff > 0).sum())
        out.append(_row(1, statement, float(hit.mean_diff),
                        f"{method}: mean over {int(hit.n)} datasets of the macro F1 difference; higher on "
                        f"{k_up} of {len(mine)} datasets, significantly (Holm p < {alpha}) on {k_sig}",
                        f"{wad}, {F1}, Holm over the focal methods", int(hit.n), hit.p, hit.p_holm,
                        min_wilcoxon_p(int(hit.n))))

    # 5. ranks of the measures
    statement = "bma or gmu ranks first among the uncertainty measures (macro F1)"
    result, matrix = friedman_over_datasets(rows, F1, focal, alpha)
    pair = [names[f"focal-{m}"] for m in ("bma", "gmu") if f"focal-{m}" in names]
    if result is None or not any(m in result.avg_ranks.index for m in pair):
        out.append(_row(2, statement, np.nan,
                        f"design too small for the Friedman test ({matrix.shape[0]} datasets x "
                        f"{matrix.shape[1]} measures; it needs at least 2 x 3) or bma/gmu not run",
                        "Friedman + Nemenyi across datasets"))
    else:
        ranks = result.avg_ranks
        mine = min((m for m in pair if m in ranks.index), key=lambda m: ranks[m])
        others = ranks.drop([m for m in pair if m in ranks.index])
        rival = others.idxmin() if len(others) else None
        nemenyi = 1.0 if rival is None or ranks[mine] <= others.min() else float(result.pairwise_p.loc[mine, rival])
        listing = ", ".join(f"{short_label(m)} {r:.2f}" for m, r in ranks.sort_values().items())
        out.append(_row(2, statement, float(ranks[mine]),
                        f"average ranks over {result.n_blocks} datasets (1 = best): {listing}; CD = {result.cd:.2f}"
                        + ("; fewer than 10 datasets: the chi-square approximation is unreliable"
                           if result.n_blocks < 10 else ""),
                        "Friedman across datasets; Nemenyi of the better of bma/gmu against the best other",
                        result.n_blocks, result.pvalue, nemenyi, np.nan))

    # 6-7. bma and gmu against imbalance weighting
    imb = names["imbalance-neg"]
    test = wilcoxon_across_datasets(rows, F1, imb, pair)
    for m in ("bma", "gmu"):
        method = names.get(f"focal-{m}")
        statement = f"focal-{m} beats imbalance weighting (macro F1)"
        if method is None or method not in test.index:
            out.append(_row(2, statement, np.nan, "not run", wad))
            continue
        hit = test.loc[method]
        out.append(_row(2, statement, float(hit.mean_diff),
                        f"{method} minus {imb}: mean over {int(hit.n)} datasets",
                        f"{wad}, {F1}, Holm over bma and gmu", int(hit.n), hit.p, hit.p_holm,
                        min_wilcoxon_p(int(hit.n))))

    out.append(_row(2, "gains grow with the ensemble size", np.nan,
                    f"not tested here: one ensemble size (H = {n_members}) for all methods; see chapter 04",
                    "-"))
    table = pd.DataFrame(out)
    table.attrs["datasets"] = datasets
    table.attrs["n_members"] = n_members
    return table
