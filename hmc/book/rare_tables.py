"""Tables of the rare-node chapters 03 to 05, computed from their tidy result rows.

Each function takes the rows of a results table (columns ``dataset``, ``method``, ``seed``,
``metric``, ``value`` and, for costs, ``wall_time_s``, ``epochs``, ``device``) and returns a
DataFrame that a notebook shows as it is (or styles). The tests and the evidence are elsewhere
(:mod:`hmc.rare_evidence`, :mod:`hmc.scorecard`); these only arrange and summarise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hmc.book.pages import mean_std_cell
from hmc.metrics import frequency_buckets

HEADLINE = {"au_prc": "AU(PRC)", "macro_precision": "P (all)", "macro_recall": "R (all)", "macro_f1": "F1 (all)",
            "macro_precision_pos": "P (pos)", "macro_recall_pos": "R (pos)", "macro_f1_pos": "F1 (pos)"}
"""Chapter 03's headline metrics and their column labels (``all``: every evaluated node; ``pos``:
the nodes with test positives)."""

BUCKETS = list(frequency_buckets(np.zeros(0, dtype=np.int64)).categories)
"""The training-frequency buckets in increasing order: 0, 1-5, 6-20, 21-100, >100."""


# ------------------------------------------------------------------------------- chapter 03
def method_settings(methods: Sequence[str]) -> pd.DataFrame:
    """One row per rare-node method name: loss, H, reduction, where the weights sit, measure, focal factor."""
    from hmc.rare_nodes import rare_config

    rows = []
    for method in methods:
        c = rare_config(method)
        focal = c.loss == "focal"
        rows.append({"method": method, "loss": c.loss, "H": c.n_members, "reduction": c.reduction,
                     "weights on": {"negatives": "y = 0 terms", "positives": "y = 1 terms"}[c.weight_target]
                     if c.has_weights else "-",
                     "measure": c.measure if focal else "-",
                     "focal m + u^k": f"{c.focal_floor:g} + u^{c.exponent:g}" if focal else "-"})
    return pd.DataFrame(rows).set_index("method")


def _seed_means(rows: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    t = rows[rows.metric.isin(list(metrics))]
    out = t.groupby(["dataset", "method", "metric"], sort=False)["value"].agg(["mean", "std"])
    return out.reset_index()


def overall_scores(rows: pd.DataFrame, methods: Sequence[str], metrics: Mapping[str, str] = HEADLINE,
                   labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per method (rows, in ``methods`` order) and metric (columns, relabelled by ``metrics``): the
    mean over the datasets of each dataset's seed mean."""
    means = _seed_means(rows, list(metrics))
    out = (means.groupby(["method", "metric"])["mean"].mean().unstack("metric")
           .reindex(index=list(methods), columns=list(metrics)).rename(columns=dict(metrics)))
    out.index = [(labels or {}).get(m, m) for m in out.index]
    return out


def per_dataset_scores(rows: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                       metrics: Mapping[str, str] = HEADLINE, labels: Mapping[str, str] | None = None,
                       digits: int = 4) -> pd.DataFrame:
    """Per (dataset, method) and metric, the cell ``"mean ± std"`` over the seeds (std with ddof 1;
    the mean alone for one seed)."""
    means = _seed_means(rows, list(metrics))
    means["cell"] = [mean_std_cell(m, s, digits) for m, s in zip(means["mean"], means["std"], strict=True)]
    out = means.pivot_table(index=["dataset", "method"], columns="metric", values="cell", aggfunc="first")
    out = out.reindex(columns=list(metrics)).rename(columns=dict(metrics))
    out = out.reindex(pd.MultiIndex.from_product([list(datasets), list(methods)], names=["dataset", "method"]))
    out.index = pd.MultiIndex.from_tuples([(d, (labels or {}).get(m, m)) for d, m in out.index],
                                          names=["dataset", "method"])
    return out


def bucket_census(benchmarks: Mapping[str, object]) -> pd.DataFrame:
    """Per dataset (rows) and training-frequency bucket: the evaluated nodes in the bucket, and how many
    of them have at least one test positive. Counts use train + valid, labels propagated to ancestors."""
    census = []
    for name, b in benchmarks.items():
        y_fit = b.hierarchy.propagate(np.concatenate([b.y_train, b.y_valid]))
        buckets = np.asarray(frequency_buckets(y_fit.sum(axis=0)))[b.eval_nodes]
        has_test = np.asarray(b.hierarchy.propagate(b.y_test)).sum(axis=0)[b.eval_nodes] > 0
        for bucket in BUCKETS:
            inside = buckets == bucket
            census.append({"dataset": name, "bucket": bucket, "nodes": int(inside.sum()),
                           "with test positives": int((inside & has_test).sum())})
    census = pd.DataFrame(census)
    return (census.pivot(index="dataset", columns="bucket", values=["nodes", "with test positives"])
            .reindex(list(benchmarks)).reindex(columns=BUCKETS, level=1))


def group_means(rows: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Rows of metrics ``<prefix><group>`` (e.g. ``recall@freq=``): per method (index) and group
    (columns), the mean over the datasets of each dataset's seed mean; a group counts on the
    datasets that have it."""
    t = rows[rows.metric.str.startswith(prefix)]
    t = t.assign(group=t.metric.str.slice(len(prefix)))
    means = t.groupby(["dataset", "method", "group"])["value"].mean()
    return means.groupby(["method", "group"]).mean().unstack("group")


def bucket_means(rows: pd.DataFrame, gains: pd.DataFrame, methods: Sequence[str],
                 labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per method: mean recall and F1 per bucket (:func:`group_means`) and the largest finite recall
    gain per bucket over the datasets (``gains``: :func:`hmc.rare_evidence.recall_gains`)."""
    recall, f1 = group_means(rows, "recall@freq="), group_means(rows, "f1@freq=")
    present = [b for b in BUCKETS if b in recall.columns]
    finite = gains[np.isfinite(gains.gain.astype(float))].assign(gain=lambda g: g.gain.astype(float))
    top = finite.loc[finite.groupby(["method", "group"])["gain"].idxmax()] if len(finite) else finite
    top_gain = top.pivot(index="method", columns="group", values="gain") if len(top) else pd.DataFrame()
    out = pd.concat({"recall": recall.reindex(columns=present), "F1": f1.reindex(columns=present),
                     "max recall gain": top_gain.reindex(columns=present)}, axis=1).reindex(list(methods))
    out.columns.names = [None, "bucket"]
    out.index = [(labels or {}).get(m, m) for m in out.index]
    return out


def gain_counts(gains: pd.DataFrame) -> str:
    """One line: how many gains are finite, infinite (baseline 0, method > 0) and undefined (0 / 0)."""
    g = gains.gain.astype(float)
    return (f"(dataset, method, bucket) gains: {int(np.isfinite(g).sum())} finite, {int(np.isinf(g).sum())} "
            f"infinite (baseline recall 0, method > 0), {int(g.isna().sum())} undefined (0 / 0)")


def depth_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Long table (method, kind, depth, value) of the ``<kind>@depth=<d>`` metrics: the mean over
    datasets of each dataset's seed mean."""
    t = rows[rows.metric.str.contains("@depth=")]
    t = t.assign(kind=t.metric.str.split("@").str[0], depth=t.metric.str.split("=").str[1].astype(int))
    return (t.groupby(["dataset", "method", "kind", "depth"])["value"].mean()
            .groupby(["method", "kind", "depth"]).mean().reset_index())


def depth_table(depth: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`depth_means` wide: a row per method, columns (kind, depth)."""
    out = depth.pivot_table(index="method", columns=["kind", "depth"], values="value").reindex(list(methods))
    out.index = [(labels or {}).get(m, m) for m in out.index]
    return out


def per_dataset_test_cells(tests: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                           labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`hmc.rare_evidence.wilcoxon_per_dataset` as a dataset x method table of
    ``"+diff (p_holm p)"`` cells."""
    cells = tests.assign(cell=[f"{d:+.4f} (p_holm {p:.2g})" for d, p in zip(tests.mean_diff, tests.p_holm,
                                                                             strict=True)])
    out = cells.pivot(index="dataset", columns="method", values="cell").reindex(index=list(datasets),
                                                                                columns=list(methods))
    out.columns = [(labels or {}).get(m, m) for m in out.columns]
    return out


def across_tables(across: pd.DataFrame, methods: Sequence[str], metrics: Sequence[str],
                  labels: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`hmc.rare_evidence.wilcoxon_across_datasets` rows (index: method, one ``metric`` each) as
    two method x metric tables: Holm-adjusted p, and the mean difference to the baseline."""
    t = across.reset_index().rename(columns={"index": "method"})
    t["method"] = t.method.map(lambda m: (labels or {}).get(m, m))
    index = [(labels or {}).get(m, m) for m in methods]
    return tuple(t.pivot(index="method", columns="metric", values=v).reindex(index=index, columns=list(metrics))
                 for v in ("p_holm", "mean_diff"))


def wall_times(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method), from the ``au_prc`` rows: epochs, seeds, summed wall time (seconds),
    device, and the seconds per (unit, epoch)."""
    au = rows[rows.metric == "au_prc"]
    cost = au.groupby(["dataset", "method"], sort=False).agg(
        epochs=("epochs", "first"), seeds=("seed", "size"), seconds=("wall_time_s", "sum"),
        device=("device", "first")).reset_index()
    cost["seconds per unit-epoch"] = cost.seconds / cost.seeds / cost.epochs
    return cost


def full_estimate(cost: pd.DataFrame, spec_epochs: Mapping[str, int], seeds: int = 10) -> pd.DataFrame:
    """Per dataset: the summed seconds per (unit, epoch) of all methods (:func:`wall_times`), the
    spec's epochs, and the hours ``seeds`` seeds of every method would take at the spec's epochs."""
    out = cost.groupby("dataset", sort=False)["seconds per unit-epoch"].sum().to_frame("s per epoch, all methods")
    out["reference epochs"] = [spec_epochs[d] for d in out.index]
    out[f"full: hours for {seeds} seeds"] = out["s per epoch, all methods"] * out["reference epochs"] * seeds / 3600
    return out


# ------------------------------------------------------------------------------- chapter 04
ENSEMBLE_METRICS = {"macro_f1": "macro F1, all nodes", "macro_f1_pos": "macro F1, nodes with positives",
                    "au_prc": "AU(PRC)"}
"""Chapter 04's metrics and their panel titles."""

COST_RATIOS = {"time_ratio": "train_wall_s", "step_time_ratio": "ms_per_step", "memory_ratio": "peak_alloc_mib",
               "state_ratio": "state_mib", "rss_ratio": "peak_rss_mib"}
"""Chapter 04's cost ratios (MC-dropout over the deep ensemble) and the column each divides."""

COST_COLUMNS = ["dataset", "H", "variant", "method", "n_seeds", "epochs", "steps", "device", "threads",
                "train_wall_s", "trained_this_run", "ms_per_step", "peak_alloc_mib", "state_mib", "n_parameters",
                "peak_rss_mib", *COST_RATIOS, "alloc_method", "load_avg"]
"""The columns of ``04_ensembles_and_dropout_cost.csv`` in order (read by :func:`hmc.scorecard.claim4_table`)."""

COST_FORMATS = {"train_wall_s": "{:.1f}", "ms_per_step": "{:.1f}", "peak_alloc_mib": "{:.1f}", "state_mib": "{:.1f}",
                "peak_rss_mib": "{:.1f}", **{c: "{:.3f}" for c in COST_RATIOS}, "load_avg": "{:.2f}"}
"""How chapter 04 shows the cost table's numbers."""


def ensemble_variants(sizes: Sequence[int], measure: str) -> dict[tuple[str, int], str]:
    """Chapter 04's method names by (variant, H): the plain ensemble, the focal ensemble with
    ``measure`` and focal MC-dropout, for each H in ``sizes``."""
    from hmc.rare_nodes import RareNodeConfig, method_name

    variants = {"baseline ensemble": dict(loss="plain"), "focal ensemble": dict(loss="focal", measure=measure),
                "focal MC-dropout": dict(loss="focal", measure=measure, members="mc_dropout")}
    return {(v, h): method_name(RareNodeConfig(n_members=h, **kw)) for v, kw in variants.items() for h in sizes}


def focal_gains(scores: pd.DataFrame) -> pd.DataFrame:
    """Seed-paired gains over the plain ensemble: per (dataset, metric, seed, H), the focal ensemble's
    and focal MC-dropout's value minus the plain ensemble's (``scores`` has ``variant`` and ``H``)."""
    wide = scores.pivot_table(index=["dataset", "metric", "seed", "H"], columns="variant", values="value")
    return pd.DataFrame({v: wide[v] - wide["baseline ensemble"]
                         for v in ("focal ensemble", "focal MC-dropout")}).reset_index()


def paired_by_h(scores: pd.DataFrame, methods: Mapping[tuple[str, int], str], reference: str, variant: str,
                metric: str, sizes: Sequence[int]) -> pd.DataFrame:
    """Per H: the paired Wilcoxon test (:func:`hmc.stats.paired_wilcoxon`, blocks = (dataset, seed)) of
    ``variant`` against ``reference`` on ``metric``, the mean of each, and Holm over the H values.

    Returns one row per H: ``n``, ``mean diff``, ``p``, ``p (Holm over H)``, and the means
    ``reference`` and ``variant`` over the datasets' seed means, and the relative change (NaN where
    the reference's mean is not positive).
    """
    from hmc.stats import holm, paired_wilcoxon

    rows = []
    for h in sizes:
        sub = scores[(scores.metric == metric) & (scores.H == h) & scores.variant.isin([reference, variant])].copy()
        sub["block"] = sub.dataset + ":" + sub.seed.astype(str)
        res = paired_wilcoxon(sub, methods[reference, h], [methods[variant, h]], block_col="block")
        per_ds = sub.groupby(["dataset", "variant"])["value"].mean().unstack("variant")
        e, m = per_ds[reference].mean(), per_ds[variant].mean()
        rows.append({"H": h, "n": int(res.n.iloc[0]), "mean diff": res.mean_diff.iloc[0], reference: e,
                     variant: m, "relative change": (m - e) / e if e > 0 else np.nan, "p": res.p.iloc[0]})
    out = pd.DataFrame(rows).set_index("H")
    out["p (Holm over H)"] = holm(out.p.to_numpy())
    return out


def claim4_cost_table(measured: pd.DataFrame, rows: pd.DataFrame, trained_here: set, steps: Mapping[str, int],
                      threads: str) -> pd.DataFrame:
    """Chapter 04's cost table (columns :data:`COST_COLUMNS`) from the cost measurements.

    ``measured``: :func:`hmc.memory.rare_node_costs` rows with ``dataset``, ``H``, ``variant``
    (``ensemble`` or ``mc_dropout``) and ``load_avg`` added; ``rows``: the sweep's result rows, whose
    ``au_prc`` rows give each (dataset, method)'s summed wall time, seeds, epochs and device;
    ``trained_here``: the (dataset, method) pairs all of whose units this run trained; ``steps``:
    training steps of one run per dataset. Bytes become MiB, and each ratio of :data:`COST_RATIOS` is
    the row's value over the ensemble's at the same dataset and H.
    """
    wall = (rows[rows.metric == "au_prc"].groupby(["dataset", "method"])
            .agg(train_wall_s=("wall_time_s", "sum"), n_seeds=("seed", "size"), epochs=("epochs", "first"),
                 device=("device", "first")).reset_index())
    cost = measured.merge(wall, on=["dataset", "method"], how="left")
    cost["trained_this_run"] = [(d, m) in trained_here for d, m in zip(cost.dataset, cost.method, strict=True)]
    cost["steps"] = [steps[d] for d in cost.dataset]
    cost["threads"] = threads
    for col, src in (("peak_alloc_mib", "peak_alloc_bytes"), ("state_mib", "state_bytes"),
                     ("peak_rss_mib", "peak_rss_bytes")):
        cost[col] = cost[src].astype(float) / 2**20
    ens = cost[cost.variant == "ensemble"].set_index(["dataset", "H"])
    for col, src in COST_RATIOS.items():
        cost[col] = cost[src].to_numpy(dtype=float) / ens.loc[list(zip(cost.dataset, cost.H, strict=True)),
                                                              src].to_numpy(dtype=float)
    return cost[COST_COLUMNS]


def network_parameters(spec) -> int:
    """Weights of one C-HMCNN network of a benchmark spec, as the cost model counts them:
    ``F h + h^2 + h (C + 1)`` for F inputs, hidden width h and C evaluated nodes."""
    h = spec.hidden_dim
    return spec.input_dim * h + h * h + h * (spec.n_labels + 1)


def arff_rows(path) -> int:
    """Data rows of an ARFF file: non-blank lines after ``@data`` that are not ``%`` comments."""
    total, in_data = 0, False
    with open(path, errors="replace") as fh:
        for line in fh:
            text = line.strip()
            if not in_data:
                in_data = text.lower().startswith("@data")
            elif text and not text.startswith("%"):
                total += 1
    return total


def fit_rows(name: str) -> int | None:
    """Rows of a benchmark's train + valid files on disk (:func:`arff_rows`); None when one is missing."""
    from hmc.data import BENCHMARKS, paths

    total = 0
    for split in ("train", "valid"):
        rel = BENCHMARKS[name].files.get(split)
        if rel is None:
            continue
        path = paths.find(rel)
        if path is None:
            return None
        total += arff_rows(path)
    return total


def ensemble_full_estimate(seconds_per_step_param: Mapping[str, float], names: Sequence[str],
                           seeds: int = 10, batch_size: int = 4) -> pd.DataFrame:
    """Hours per (dataset, method) of the ``full`` design: per method its measured seconds per
    (seed, step, network parameter), times the spec's steps (batches over train + valid times the
    spec's epochs), the network's parameters (:func:`network_parameters`) and ``seeds``. Datasets
    whose files are not on disk are left out."""
    from hmc.data import BENCHMARKS

    rows = []
    for name in names:
        n_fit = fit_rows(name)
        if n_fit is None:
            continue
        spec = BENCHMARKS[name]
        steps = -(-n_fit // batch_size) * spec.epochs
        for method, c in seconds_per_step_param.items():
            rows.append({"dataset": name, "method": method, "steps": steps,
                         "hours": seeds * steps * network_parameters(spec) * c / 3600})
    return pd.DataFrame(rows, columns=["dataset", "method", "steps", "hours"])


def step_cost_per_parameter(rows: pd.DataFrame, benchmarks: Mapping[str, object],
                            steps: Mapping[str, int]) -> pd.Series:
    """Per method, the median over its (dataset, seed) units of ``wall_time_s / steps / parameters``:
    the seconds one seed's training step costs per network parameter (:func:`network_parameters` of
    the benchmark's spec; for a benchmark outside the registry, e.g. synthetic, ``(F + h + C) h``)."""
    from hmc.data import BENCHMARKS

    def params(b):
        if b.name in BENCHMARKS:
            return network_parameters(BENCHMARKS[b.name])
        return (b.x_train.shape[1] + b.spec.hidden_dim + len(b.hierarchy)) * b.spec.hidden_dim

    per_unit = rows[rows.metric == "au_prc"]
    per_step = per_unit.wall_time_s / per_unit.dataset.map(steps) / per_unit.dataset.map(
        {d: params(b) for d, b in benchmarks.items()})
    return per_step.groupby(per_unit.method).median()


def read_back_costs(path, expected: set) -> pd.DataFrame | None:
    """The committed cost table at ``path`` cut to the ``expected`` (dataset, H, variant) rows, or None
    when the file is missing, empty or lacks one of them (then the costs must be measured)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    previous = pd.read_csv(path)
    have = list(zip(previous.dataset, previous.H, previous.variant, strict=True))
    if not set(expected) <= set(have):
        return None
    return previous[[k in expected for k in have]].reset_index(drop=True)


def measure_claim4_costs(benchmarks: Mapping[str, object], methods: Mapping[tuple[str, int], str],
                         sizes: Sequence[int], n_seeds: int, epochs: Mapping[str, int], device: str,
                         num_threads: int | None, steps: int, memory_steps: int) -> pd.DataFrame:
    """Step time and peak memory of the focal ensemble and focal MC-dropout at each H, per dataset
    (:func:`hmc.memory.rare_node_costs`, both variants in one process), with ``dataset``, ``H``,
    ``variant`` (``ensemble`` / ``mc_dropout``) and ``load_avg`` (before the measurement) added."""
    import os

    from hmc.memory import rare_node_costs

    measured = []
    for name, benchmark in benchmarks.items():
        for h in sizes:
            pair = {"ensemble": methods["focal ensemble", h], "mc_dropout": methods["focal MC-dropout", h]}
            load_avg = os.getloadavg()[0]
            costs = rare_node_costs(benchmark, list(pair.values()), range(n_seeds), epochs=epochs[name],
                                    device=device, num_threads=num_threads, steps=steps, block=10,
                                    memory_steps=memory_steps)
            costs["load_avg"] = load_avg
            costs["dataset"], costs["H"] = name, h
            costs["variant"] = costs.method.map({m: v for v, m in pair.items()})
            measured.append(costs)
    return pd.concat(measured, ignore_index=True)


# ------------------------------------------------------------------------------- chapter 05
SCHEDULE_FAMILIES = {"baseline": "black", "imbalance": "tab:red", "per-epoch schedule": "tab:blue",
                     "global schedule": "tab:cyan", "mixed": "tab:purple", "LPROS": "tab:green", "other": "0.5"}
"""Chapter 05's method families and their colours."""


def schedule_family(method: str, baseline: str = "baseline", weighted: str = "imbalance-neg") -> str:
    """The family of a chapter-05 method name (a key of :data:`SCHEDULE_FAMILIES`)."""
    if method == baseline:
        return "baseline"
    if method == weighted:
        return "imbalance"
    for prefix, family in (("lpros", "LPROS"), ("sched-global", "global schedule"), ("sched", "per-epoch schedule"),
                           ("mixed", "mixed")):
        if method.startswith(prefix):
            return family
    return "other"


def wilcoxon_against(rows: pd.DataFrame, methods: Sequence[str], references: Sequence[str],
                     metric: str = "macro_f1") -> pd.DataFrame:
    """Per dataset and reference method: every other method of ``methods`` against it, paired by seed on
    ``metric`` (:func:`hmc.stats.paired_wilcoxon`, Holm over the methods). Returns a method x
    (``mean_diff`` / ``p_holm``, dataset, reference) table, datasets in order of appearance."""
    from hmc.stats import paired_wilcoxon

    t = rows[(rows.metric == metric) & rows.method.isin(list(methods))]
    datasets = list(dict.fromkeys(t.dataset))
    tests = []
    for name in datasets:
        d = t[t.dataset == name]
        for ref in references:
            res = paired_wilcoxon(d, ref, [m for m in methods if m != ref], block_col="seed")
            res.insert(0, "dataset", name)
            tests.append(res.reset_index())
    tests = pd.concat(tests, ignore_index=True)
    wide = tests.pivot_table(index="method", columns=["dataset", "baseline"], values=["mean_diff", "p_holm"])
    cols = [(s, d, b) for d in datasets for b in references for s in ("mean_diff", "p_holm")]
    return wide.reindex(columns=cols).reindex(list(methods))


def schedule_costs(rows: pd.DataFrame, fit_rows: Mapping[str, int], clone_rows: Mapping[str, int],
                   batch_size: int = 4) -> pd.DataFrame:
    """Per (dataset, method), from the ``au_prc`` rows: seeds, epochs, summed wall time (seconds), the
    rows one epoch sees (``fit_rows``, plus ``clone_rows`` for the LPROS methods), the steps of one
    run (batches times epochs) and the seconds per (seed, step)."""
    au = rows[rows.metric == "au_prc"]
    cost = au.groupby(["dataset", "method"], sort=False).agg(seeds=("seed", "size"), epochs=("epochs", "first"),
                                                             seconds=("wall_time_s", "sum")).reset_index()
    cost["rows"] = [fit_rows[d] + (clone_rows[d] if m.startswith("lpros") else 0)
                    for d, m in zip(cost.dataset, cost.method, strict=True)]
    cost["steps"] = [-(-r // batch_size) * e for r, e in zip(cost.rows, cost.epochs, strict=True)]
    cost["s per seed-step"] = cost.seconds / (cost.steps * cost.seeds)
    return cost


def schedule_full_estimate(cost: pd.DataFrame, spec_epochs: Mapping[str, int], seeds: int = 10,
                           batch_size: int = 4) -> pd.DataFrame:
    """Per dataset of :func:`schedule_costs`: minutes of this run, mean ms per (seed, step), the spec's
    epochs, and the hours of the ``full`` design (every method, ``seeds`` seeds, the spec's epochs) at
    the measured seconds per (seed, step)."""
    out = cost.groupby("dataset", sort=False).agg(minutes=("seconds", lambda s: s.sum() / 60),
                                                  ms_per_seed_step=("s per seed-step", lambda s: 1000 * s.mean()))
    full = cost["s per seed-step"] * seeds * (-(-cost.rows // batch_size)) * cost.dataset.map(spec_epochs)
    out["reference epochs"] = pd.Series(dict(spec_epochs))
    out["full estimate (hours, this device)"] = full.groupby(cost.dataset).sum() / 3600
    return out

VERDICT_COLOURS = {"reproduced": "#c7e9c0", "partly": "#fdd0a2", "not reproduced": "#fcbba1",
                   "inconclusive": "#d9d9d9", "not tested here": "#f0f0f0"}
"""Background colour of each verdict in the scorecard tables."""
