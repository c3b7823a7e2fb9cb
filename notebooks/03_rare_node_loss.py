# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The rare-node loss: imbalance and uncertainty-focal weighting
#
# **Overview.** Xu et al. {cite:p}`xu2026rarenodes` train C-HMCNN {cite:p}`giunchiglia2020chmcnn`
# as an ensemble of H networks and weight each term of its loss twice: by a node-wise *imbalance
# weight* (large for nodes with few training examples) and by a *focal factor* `m + u^k`, where `u`
# is the ensemble's uncertainty about that node for that sample. They report that this raises the
# recall of rare nodes "up to a factor of five" with significant F1 gains (claim 1), and that two of
# the uncertainty measures, BMA and GMU, work best (claim 2). This chapter trains, with one ensemble
# size H for every method, on the same data, seeds and budget:
#
# | method (role) | loss | imbalance weight on | focal factor |
# |---|---|---|---|
# | `baseline` | plain MCLoss of the H members | - | - |
# | `imbalance-neg` | MCLoss x W | the y = 0 terms (what the reference code does) | - |
# | `imbalance-pos` | MCLoss x W | the y = 1 terms (the paper's stated intent) | - |
# | `focal-<measure>` | MCLoss x W (m + u^k) | the y = 0 terms | `u` = one of six measures |
#
# and reports AU(PRC), macro precision/recall/F1 (averaged over all evaluated nodes, and over the
# nodes with test positives), recall and F1 per training-frequency bucket and per depth, paired
# Wilcoxon tests against the baseline with Holm's correction, and Friedman + Nemenyi ranks
# {cite:p}`demsar2006comparisons`. It ends with the evidence table for claims 1 and 2 that the
# claims scorecard re-derives from this chapter's results file.
#
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | Chapter 02 (C-HMCNN, MCM, MCLoss) | necessary | the base model and its trainer |
# | Precision, recall, F1 per node; macro averages | necessary | a node never predicted has precision 0 |
# | Wilcoxon signed-rank, Friedman tests | helpful | {cite:t}`demsar2006comparisons` |
#
# *Time to run:* `smoke` about half a minute (two datasets, 200 fitting rows, one epoch); `quick`
# (three FunCat datasets, 3 seeds, one epoch, all nine methods at H = 2) a few minutes on a laptop CPU; `full`
# (every FUN and GO benchmark on disk, 10 seeds, the spec's epochs) is meant for a GPU: section 6
# estimates its cost from this run's measured times. Finished (dataset, method, seed) units are read
# back from the results table on a rerun.
#
# *The six uncertainty measures* (all per node, binary, from the members' sigmoid outputs before the
# MCM, no gradient through them): `bbma` = 1 - |2 p̄ - 1| (margin of the model average), `bma` =
# entropy of the model average, `aleatoric` = mean entropy of the members, `js` and `kl` = mean pairwise
# Jensen-Shannon and Kullback-Leibler divergences between members (`js` is the reference code's default
# for tabular data), `gmu` = gated margin uncertainty (`hmc.losses`). The names `bma`/`bbma` are this
# study's mapping: the paper's exact definitions were not available.

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`)
datasets = ["cellcycle_FUN", "spo_FUN", "derisi_FUN"]  # benchmark names, ["fun_go"] (all FUN and GO on disk) or ["all"]
n_seeds = 3  # seeds 0 .. n_seeds-1 per dataset and method (the spec: 10)
epoch_fraction = 0.01  # share of the spec's epochs per dataset, at least one epoch (the spec: 1.0)
n_members = 2  # H, ensemble members per seed, the same for every method (reference default 2)
measures = ["bbma", "bma", "aleatoric", "js", "kl", "gmu"]  # uncertainty measures of the focal methods
alpha = 0.05  # significance level of the tests
max_fit_rows = 0  # keep only the first rows of train + valid for fitting, 0 for all (smoke runs only)
imputation = "trainvalid"  # "trainvalid" (clean protocol) or "per_split" (the reference code)
device = "auto"  # "auto" (cuda when available, else cpu), "cpu" or "cuda"
num_threads = 1  # CPU threads per training run, 0 for the library's automatic choice
results_file = ""  # results CSV; empty for results/PROFILE/03_rare_node_loss.csv
train = True  # False: train nothing, show the design's finished units (the campaign's pages)

# %% tags=["hide-input"] mystnb={"code_prompt_show": "Show the set-up code", "code_prompt_hide": "Hide the set-up code"}
import dataclasses
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import display

from hmc.data import BENCHMARKS, load_benchmark
from hmc.data.benchmarks import benchmark_names
from hmc.errors import DatasetMissingError
from hmc.metrics import frequency_buckets
from hmc.rare_evidence import (
    CLAIMS,
    RARE_BUCKETS,
    chapter_methods,
    claims_evidence,
    dataset_means,
    friedman_over_datasets,
    min_wilcoxon_p,
    recall_gains,
    short_label,
    wilcoxon_across_datasets,
    wilcoxon_per_dataset,
)
from hmc.rare_nodes import rare_config
from hmc.stats import critical_difference_figure
from hmc.synthetic import make_benchmark
from hmc.runs.store import coverage
from hmc.runs.sweep import Unit, read_results, run_sweep

sns.set_theme(style="whitegrid", context="notebook")
if not 0 < epoch_fraction <= 1:
    raise ValueError(f"epoch_fraction must be in (0, 1], got {epoch_fraction}")
if n_seeds < 1:
    raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
results_path = Path(results_file or Path(os.environ.get("HMC_RESULTS_DIR", "results")) / profile
                    / "03_rare_node_loss.csv")
if datasets == ["all"]:
    names = benchmark_names(available_only=True)
elif datasets == ["fun_go"]:
    names = [n for n in benchmark_names(available_only=True) if BENCHMARKS[n].family in ("FUN", "GO")]
else:
    names = list(datasets)
unknown = [n for n in names if n not in BENCHMARKS]
if unknown:
    raise ValueError(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
roles = chapter_methods(n_members, measures)  # role -> canonical method name (hmc.rare_nodes)
methods = list(roles.values())
baseline = roles["baseline"]
others = [m for m in methods if m != baseline]
focal = [roles[f"focal-{m}"] for m in measures]
labels = {m: short_label(m) for m in methods}
palette = dict(zip(methods, sns.color_palette("tab10", len(methods))))


def describe(method):
    """The settings behind a method name, '-' where a setting does not apply."""
    c = rare_config(method)
    return {"method": method, "loss": c.loss, "H": c.n_members, "reduction": c.reduction,
            "weights on": {"negatives": "y = 0 terms", "positives": "y = 1 terms"}[c.weight_target]
            if c.has_weights else "-",
            "measure": c.measure if c.loss == "focal" else "-",
            "focal m + u^k": f"{c.focal_floor:g} + u^{c.exponent:g}" if c.loss == "focal" else "-"}


configs = pd.DataFrame([describe(m) for m in methods]).set_index("method")
print(f"device: {device}; results table: {os.path.relpath(results_path)}; H = {n_members} members per seed for every method")
configs

# %% [markdown]
# The table lists every method as the results file names it (`hmc.rare_nodes` grammar: `-H2` is
# H = 2), with the settings behind the name. All of them, the baseline included, sum the weighted
# terms over members, batch and nodes (the reference's reduction), so the methods differ by their
# weights only; the weight floor omega and the focal floor m are the spec's 0.25, and the weights are
# class-wise (K = number of nodes).

# %% [markdown]
# ## 1. Training: every method, seed and dataset
#
# C-HMCNN's per-dataset settings (hidden width, learning rate, epochs) from chapter 02's table, Adam
# with L2 weight decay 1e-5, batch 4, dropout 0.7, training on train + valid, evaluation on test. The
# H members of a seed are the members of one batched network (member 0 of seed s is C-HMCNN seed s),
# and all seeds of a method are trained together. The imbalance weights and the frequency buckets
# below count the positives of the train + valid rows (the rows the final model is fitted on).

# %%
design_names = list(names)  # the design's datasets (a page of the campaign's results loads those with units)
if not train:
    names = [n for n in names if n in set(read_results(results_path).dataset)]
loaded, missing = {}, {}
for name in names:
    try:
        loaded[name] = load_benchmark(name, imputation=imputation)
    except DatasetMissingError as err:
        missing[name] = str(err)
for name, message in missing.items():
    print(f"not on disk: {name}\n  {message}\n")
if not loaded:
    print("No benchmark is on disk: running on a synthetic hierarchy instead.")
    loaded["synthetic"] = make_benchmark(n_samples=2000, depth=4, branching=3, seed=0)


def capped(benchmark, n):
    """The benchmark with its fitting rows cut to the first n of train + valid (n = 0: unchanged)."""
    if n <= 0 or len(benchmark.x_train) + len(benchmark.x_valid) <= n:
        return benchmark
    k = min(len(benchmark.x_train), n)
    return dataclasses.replace(benchmark, x_train=benchmark.x_train[:k], y_train=benchmark.y_train[:k],
                               x_valid=benchmark.x_valid[: n - k], y_valid=benchmark.y_valid[: n - k])


if max_fit_rows > 0:
    loaded = {name: capped(b, max_fit_rows) for name, b in loaded.items()}
    print(f"fitting on the first {max_fit_rows} rows of train + valid only (a smoke run; test is complete)")


def epochs_for(benchmark):
    """The spec's epochs for the dataset, scaled by epoch_fraction (at least one)."""
    return max(1, round(benchmark.spec.epochs * epoch_fraction))


before = read_results(results_path)
design_datasets = list(loaded) if train else design_names  # read back: the datasets without units count too
design = [Unit(name, m, seed) for name in design_datasets for m in methods for seed in range(n_seeds)]
for name, benchmark in loaded.items():
    rows = run_sweep([u for u in design if u.dataset == name], results_path, load=loaded.__getitem__,
                     epochs=epochs_for(benchmark), device=device, num_threads=num_threads or "auto",
                     progress=False, train=train)
table = read_results(results_path)
table = table[table.dataset.isin(list(loaded)) & table.method.isin(methods) & (table.seed < n_seeds)]
key = ["dataset", "method", "seed"]
reused = table[key].drop_duplicates().merge(before[key].drop_duplicates(), how="inner").shape[0]
print(f"{table[key].drop_duplicates().shape[0]} of the design's {len(design)} (dataset, method, seed) units: "
      f"{reused} read back from the results store, {'the others trained in this run' if train else 'none trained'}")
design_coverage = coverage(table, design)
if not train:
    print("Coverage of the design (seeds finished per dataset and method; the campaign adds the rest):")
    display(design_coverage.pivot(index="dataset", columns="method", values="done")
            .reindex(index=design_datasets, columns=methods).rename(columns=labels).fillna(0).astype(int))
order = [d for d in loaded if d in set(table.dataset)]

# %% [markdown]
# ## 2. Overall scores
#
# Mean over the datasets of each method's seed mean (left), and per dataset mean +- std over the
# seeds (below). AU(PRC) is the micro average precision of chapter 02; the macro scores threshold
# the MCM output at 0.5. "All nodes" averages over every evaluated node, as the paper does: a node
# with no test positive counts with recall 0 and, unless it is never predicted, F1 0, which is why
# macro F1 is low on datasets with many nodes. "Nodes with test positives" leaves those nodes out.

# %%
headline = {"au_prc": "AU(PRC)", "macro_precision": "P (all)", "macro_recall": "R (all)", "macro_f1": "F1 (all)",
            "macro_precision_pos": "P (pos)", "macro_recall_pos": "R (pos)", "macro_f1_pos": "F1 (pos)"}
means = dataset_means(table, list(headline))
overall = (means.groupby(["method", "metric"])["mean"].mean().unstack("metric")
           .reindex(index=methods, columns=list(headline)).rename(columns=headline))
overall.index = [labels[m] for m in overall.index]
print(f"mean over {len(order)} dataset(s): {', '.join(order)}; H = {n_members}, "
      f"{n_seeds} seeds, epoch fraction {epoch_fraction}")
overall.style.format("{:.4f}").highlight_max(axis=0, props="font-weight: bold")

# %%
cells = means.assign(cell=[f"{m:.4f} ± {s:.4f}" if np.isfinite(s) else f"{m:.4f}"
                           for m, s in zip(means["mean"], means["std"])])
per_dataset = cells.pivot_table(index=["dataset", "method"], columns="metric", values="cell", aggfunc="first")
per_dataset = per_dataset.reindex(columns=list(headline)).rename(columns=headline)
per_dataset = per_dataset.reindex(pd.MultiIndex.from_product([order, methods], names=["dataset", "method"]))
per_dataset.index = pd.MultiIndex.from_tuples([(d, labels[m]) for d, m in per_dataset.index],
                                               names=["dataset", "method"])
per_dataset

# %% [markdown]
# Macro F1 (all evaluated nodes) per method: one panel per dataset, a grey dot per seed, the black
# bar the seed mean; the dashed line is the baseline's mean. Everything above it is a gain over the
# plain ensemble on that dataset.

# %%
f1 = table[table.metric == "macro_f1"].assign(label=lambda t: t.method.map(labels))
n_cols = min(len(order), 4)
n_rows = -(-len(order) // n_cols)
fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 0.33 * len(methods) * n_rows + 1.2),
                         squeeze=False, sharey=True)
label_order = [labels[m] for m in methods]
for ax, name in zip(axes.flat, order):
    d = f1[f1.dataset == name]
    sns.stripplot(data=d, y="label", x="value", order=label_order, color="0.55", size=4, jitter=0.12, ax=ax)
    mean = d.groupby("label")["value"].mean().reindex(label_order)
    ax.scatter(mean, np.arange(len(label_order)), marker="|", s=300, color="black", zorder=3)
    ax.axvline(mean[labels[baseline]], color="tab:red", ls="--", lw=1)
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("macro F1 (all nodes)")
    ax.set_ylabel("")
for ax in axes.flat[len(order):]:
    ax.axis("off")
fig.suptitle(f"Macro F1 per method (H = {n_members}, {n_seeds} seeds, epoch fraction {epoch_fraction})")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Rare nodes: recall and F1 per training-frequency bucket and per depth
#
# The paper does not define "rare". The spec's buckets count each node's positives among the
# training (train + valid) rows: 0, 1-5, 6-20, 21-100 and more than 100. First, how many evaluated
# nodes fall in each bucket, and how many of them have at least one test positive (a node without
# test positives has recall 0 for every method, so it lowers a bucket's mean recall equally for all).

# %%
bucket_names = list(frequency_buckets(np.zeros(0, dtype=np.int64)).categories)
census = []
for name in order:
    b = loaded[name]
    y_fit = b.hierarchy.propagate(np.concatenate([b.y_train, b.y_valid]))
    buckets = np.asarray(frequency_buckets(y_fit.sum(axis=0)))[b.eval_nodes]
    has_test = np.asarray(b.hierarchy.propagate(b.y_test)).sum(axis=0)[b.eval_nodes] > 0
    for bucket in bucket_names:
        inside = buckets == bucket
        census.append({"dataset": name, "bucket": bucket, "nodes": int(inside.sum()),
                       "with test positives": int((inside & has_test).sum())})
census = pd.DataFrame(census)
census.pivot(index="dataset", columns="bucket", values=["nodes", "with test positives"]).reindex(order) \
    .reindex(columns=bucket_names, level=1)

# %% [markdown]
# Left: mean recall per bucket (the mean over datasets of each dataset's seed mean; a bucket counts
# only on the datasets that have it). Right: the recall gain factor, a method's mean recall divided
# by the baseline's, per dataset (dots) and its median over datasets (line); the dashed lines mark
# no gain (1) and claim 1's factor of five. Where the baseline's recall is 0 and the method's is not,
# the gain is unbounded: drawn as a triangle at the top (marked ∞), not counted in the median; a gain
# of 0 sits at the bottom; 0 / 0 (no recall for either) is not drawn (the counts are printed below).

# %%
recall = table[table.metric.str.startswith("recall@freq=")]
recall = recall.assign(bucket=recall.metric.str.slice(len("recall@freq=")))
recall_means = recall.groupby(["dataset", "method", "bucket"])["value"].mean().reset_index()
recall_avg = recall_means.groupby(["method", "bucket"])["value"].mean().unstack("bucket")
present = [b for b in bucket_names if b in recall_avg.columns]
gains = recall_gains(table, baseline, others, key="freq")
gains = gains.assign(gain=gains.gain.astype(float))
finite = gains[np.isfinite(gains.gain)]
drawable = finite[finite.gain > 0]
hi = max(10.0, 2 * drawable.gain.max()) if len(drawable) else 10.0
lo = min(0.5, drawable.gain.min() / 2) if len(drawable) else 0.5
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
for m in methods:
    if m in recall_avg.index:
        ax1.plot(present, recall_avg.loc[m, present], marker="o", color=palette[m], label=labels[m],
                 lw=2.2 if m == baseline else 1.2, ls="-" if m in focal or m == baseline else "--")
ax1.set_xlabel("training positives of the node (bucket)")
ax1.set_ylabel("mean recall")
ax1.set_title("Recall per training-frequency bucket")
x_pos = {b: i for i, b in enumerate(present)}
for off, m in zip(np.linspace(-0.3, 0.3, len(others)), others):
    d = gains[(gains.method == m) & gains.group.isin(present)]
    x = d.group.map(x_pos).to_numpy(dtype=float) + off
    g = d.gain.to_numpy()
    ok = np.isfinite(g) & (g > 0)
    ax2.scatter(x[ok], g[ok], color=palette[m], s=14, alpha=0.7)
    ax2.scatter(x[np.isinf(g)], np.full(np.isinf(g).sum(), hi * 1.5), color=palette[m], marker="^", s=22)
    ax2.scatter(x[g == 0], np.full((g == 0).sum(), lo / 1.5), color=palette[m], marker="v", s=22)
    med = d[ok].groupby("group")["gain"].median().reindex(present)
    ax2.plot(np.arange(len(present)) + off, med, color=palette[m], marker="_", ms=10, lw=1)
ax2.axhline(1, color="0.3", ls="--", lw=1)
ax2.axhline(5, color="tab:red", ls="--", lw=1)
ax2.set_yscale("log")
ax2.set_ylim(lo / 2, hi * 2)
ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo <= t <= hi]
ax2.set_yticks([lo / 1.5, *ticks, hi * 1.5], ["0", *[f"{t:g}" for t in ticks], "∞"])
ax2.minorticks_off()
ax2.text(0.01, 0.99, "▲ baseline recall 0, method's > 0", transform=ax2.transAxes, va="top", fontsize=8)
ax2.text(0.01, 0.01, "▼ method's recall 0, baseline's > 0", transform=ax2.transAxes, va="bottom", fontsize=8)
ax2.set_xticks(range(len(present)), present)
ax2.set_xlabel("training positives of the node (bucket)")
ax2.set_ylabel("recall / baseline recall (log)")
ax2.set_title("Recall gain factor against the baseline")
fig.legend(*ax1.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
fig.suptitle(f"Rare nodes (H = {n_members}; weights on the negatives unless named -pos)")
fig.tight_layout()
plt.show()
n_inf = int(np.isinf(gains.gain).sum())
n_nan = int(gains.gain.isna().sum())
print(f"(dataset, method, bucket) gains: {len(finite)} finite, {n_inf} infinite (baseline recall 0, method > 0), "
      f"{n_nan} undefined (0 / 0)")

# %% [markdown]
# The same numbers as a table: mean recall and F1 per bucket, averaged over the datasets, and the
# largest finite recall gain per bucket over the datasets (with the dataset where it occurred).

# %%
f1_bucket = table[table.metric.str.startswith("f1@freq=")]
f1_bucket = f1_bucket.assign(bucket=f1_bucket.metric.str.slice(len("f1@freq=")))
f1_avg = (f1_bucket.groupby(["dataset", "method", "bucket"])["value"].mean().groupby(["method", "bucket"])
          .mean().unstack("bucket"))
top = finite.loc[finite.groupby(["method", "group"])["gain"].idxmax()] if len(finite) else finite
top_gain = top.pivot(index="method", columns="group", values="gain") if len(top) else pd.DataFrame()
bucket_table = pd.concat({"recall": recall_avg.reindex(columns=present), "F1": f1_avg.reindex(columns=present),
                          "max recall gain": top_gain.reindex(columns=present)}, axis=1).reindex(methods)
bucket_table.index = [labels[m] for m in bucket_table.index]
bucket_table.style.format("{:.3f}", na_rep="-")

# %% [markdown]
# Per depth (1 = the top level under the root): mean F1 and recall over the nodes of each level.
# Datasets differ in depth (FunCat trees up to 6 levels, GO graphs deeper); a level counts on the
# datasets that have it.

# %%
by_depth = table[table.metric.str.contains("@depth=")]
by_depth = by_depth.assign(kind=by_depth.metric.str.split("@").str[0],
                           depth=by_depth.metric.str.split("=").str[1].astype(int))
depth_means = (by_depth.groupby(["dataset", "method", "kind", "depth"])["value"].mean()
               .groupby(["method", "kind", "depth"]).mean().reset_index())
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharex=True)
for ax, kind in zip(axes, ("f1", "recall")):
    d = depth_means[depth_means.kind == kind]
    for m in methods:
        dm = d[d.method == m]
        ax.plot(dm.depth, dm.value, marker="o", color=palette[m], label=labels[m],
                lw=2.2 if m == baseline else 1.2, ls="-" if m in focal or m == baseline else "--")
    ax.set_xlabel("depth of the node")
    ax.set_ylabel(f"mean {kind}")
    ax.set_title(f"{'F1' if kind == 'f1' else 'Recall'} per depth")
axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
fig.tight_layout()
plt.show()
depth_table = depth_means.pivot_table(index="method", columns=["kind", "depth"], values="value").reindex(methods)
depth_table.index = [labels[m] for m in depth_table.index]
depth_table.style.format("{:.3f}", na_rep="-")

# %% [markdown]
# ## 4. Significance against the baseline
#
# **Per dataset, over seeds.** For each dataset, each method's seed-paired macro F1 differences to the
# baseline go into a two-sided Wilcoxon signed-rank test; the p-values of all other methods of a
# dataset are Holm-adjusted together. With n seeds the smallest p-value the exact test can give is
# 2 / 2^n: 0.25 for 3 seeds, 0.002 for 10. Below 6 seeds no result can be significant at 0.05, and
# the table then only shows the direction of the differences.

# %%
per = wilcoxon_per_dataset(table, "macro_f1", baseline, others)
smallest = min_wilcoxon_p(n_seeds)
print(f"{n_seeds} seeds: smallest attainable two-sided p = {smallest:.3g}"
      + ("  (too few seeds for any significant result)" if smallest > alpha else ""))
if len(per):
    shown = per.assign(cell=[f"{d:+.4f} (p_holm {p:.2g})" for d, p in zip(per.mean_diff, per.p_holm)])
    shown = shown.pivot(index="dataset", columns="method", values="cell").reindex(index=order, columns=others)
    shown.columns = [labels[m] for m in shown.columns]
    display(shown)
    sig = per[(per.p_holm < alpha)]
    print(f"significant at {alpha} after Holm: {len(sig)} of {len(per)} (dataset, method) comparisons; "
          f"{int((per.mean_diff > 0).sum())} with a higher mean macro F1 than the baseline")

# %% [markdown]
# **Across datasets, over per-dataset means.** The same test with datasets as the pairs (each
# dataset's seed mean), one Holm family per metric. With N datasets the smallest p is 2 / 2^N: at
# least 6 datasets are needed for a two-sided p below 0.05, and the `full` profile's FUN and GO
# benchmarks give 15.

# %%
across_metrics = ["au_prc", "macro_f1", "macro_f1_pos", "macro_recall", *[f"recall@freq={b}" for b in RARE_BUCKETS]]
across = pd.concat([wilcoxon_across_datasets(table, metric, baseline, others) for metric in across_metrics])
if len(across):
    across = across.reset_index().rename(columns={"index": "method"})
    across["method"] = across.method.map(labels)
    print(f"{len(order)} dataset(s): smallest attainable two-sided p = {min_wilcoxon_p(len(order)):.3g}"
          + ("  (too few datasets for any significant result)" if min_wilcoxon_p(len(order)) > alpha else ""))
    display(across.pivot(index="method", columns="metric", values="p_holm")
            .reindex(index=[labels[m] for m in others], columns=across_metrics)
            .style.format("{:.3g}", na_rep="-").set_caption("Holm-adjusted p, across datasets"))
    display(across.pivot(index="method", columns="metric", values="mean_diff")
            .reindex(index=[labels[m] for m in others], columns=across_metrics)
            .style.format("{:+.4f}", na_rep="-").set_caption("mean difference to the baseline, across datasets"))

# %% [markdown]
# **Ranks of all methods (Friedman + Nemenyi).** Per dataset, the methods are ranked by their seed
# mean macro F1 (1 = best); the Friedman test asks whether the average ranks differ more than chance
# allows, and the Nemenyi critical difference (CD) says which pairs of methods differ. In the
# critical-difference diagram, methods joined by a thick bar are not significantly different. The
# test needs at least 2 datasets and 3 methods to be defined at all, and its chi-square approximation
# is only trustworthy with about 10 or more datasets {cite:p}`demsar2006comparisons`.

# %%
result, matrix = friedman_over_datasets(table, "macro_f1", methods, alpha)
if result is None:
    print(f"The design is too small for the Friedman test: {matrix.shape[0]} dataset(s) x {matrix.shape[1]} "
          "methods (it needs at least 2 datasets and 3 methods). No ranks are computed.")
else:
    if result.n_blocks < 10:
        print(f"Only {result.n_blocks} datasets: the ranks describe this run, and the test has almost no power "
              "(Demsar 2006 asks for about 10 or more datasets); do not read the p-value as evidence.")
    print(f"Friedman chi2 = {result.statistic:.2f} (p = {result.pvalue:.3g}), Iman-Davenport F = "
          f"{result.f_statistic:.2f} (p = {result.f_pvalue_text}); Nemenyi CD = {result.cd:.2f} at alpha = {alpha}")
    ranks = result.avg_ranks.rename(index=labels)
    fig = critical_difference_figure(ranks, result.cd)
    fig.axes[0].set_title(f"Average rank on macro F1 over {result.n_blocks} datasets (H = {n_members})", fontsize=10)
    plt.show()

# %% [markdown]
# ## 5. Evidence for claims 1 and 2
#
# One row per statement, computed by `hmc.rare_evidence.claims_evidence` from this chapter's results
# table (the claims scorecard calls the same function on the same CSV). `value` is the number behind
# the statement (a gain factor, a difference in macro F1, or an average rank, as `detail` says); `p`
# and `p_holm` are the raw and Holm-adjusted p-values of the test named in `test`; `min_p` is the
# smallest p that test could give with its n pairs. A row whose `min_p` exceeds 0.05 cannot support
# or refute a claim of significance.

# %%
evidence = claims_evidence(table, n_members, measures, alpha)
for number, text in CLAIMS.items():
    print(f"Claim {number}: {text}")
print(f"H = {n_members}; {len(order)} dataset(s); {n_seeds} seeds; epoch fraction {epoch_fraction}; "
      f"profile {profile!r}" + ("  (a pipeline check, not the paper's protocol)" if profile != "full" else ""))
with pd.option_context("display.max_colwidth", 200):
    display(evidence.style.format({"value": "{:.4g}", "p": "{:.3g}", "p_holm": "{:.3g}",
                                   "min_p": "{:.3g}", "n": "{:.0f}"}, na_rep="-").hide(axis="index"))

# %% [markdown]
# **The verdicts of claims 1 and 2 from this table**, by the scorecard's rules (`hmc.scorecard`, the
# functions chapter 05 and the verdicts page call). A rule's outcome counts only when the evidence can
# decide it: trained for the paper's epochs on real data (budget), a baseline whose compared metric is
# not 0 in the buckets or datasets the rule uses (baseline), and for the significance part a design
# whose smallest Holm-adjusted p is below 0.05 (significance). Otherwise the claim is
# **inconclusive**, with the reasons; claim 2's size part is chapter 04's.

# %%
from hmc.scorecard import bucket_table, claim_outcome, rare_sensitivity  # noqa: E402  (the claims' rules)

tables03 = {"03": table}
for number in (1, 2):
    row = claim_outcome(tables03, number, where=str(results_path.parent))
    print(f"Claim {number}: {row['verdict']}  (the rule alone, gates ignored: {row['rule_verdict']})")
    print(f"  evidence: {row['evidence']}")
    if row["reasons"]:
        print(f"  why inconclusive: {row['reasons']}")
    print(f"  strength: {row['strength']}\n  paper:    {row['paper']}\n  ours:     {row['ours']}\n")

# %% [markdown]
# **Claim 1, bucket by bucket.** The paper does not define "rare"; the study reads it as the buckets
# 1-5 and 6-20. Every bucket, with its largest finite recall gain, the unbounded gains (baseline
# recall 0, the method's not) and the undefined ones (0 / 0):

# %%
bucket_table(table).style.format({"largest finite gain": "{:.2f}"}, na_rep="-").hide(axis="index")

# %% [markdown]
# **Sensitivity of claim 1 to the study's choices**: the verdict under each other reading of "rare",
# of the factor that counts as five, of unbounded gains and of which methods are the paper's. "Could
# be" lists the verdicts the undecided parts still allow, the next columns drop the budget gate, then
# every gate; `flips` marks a reading that changes any of them.

# %%
rare_sensitivity(tables03, 1).style.hide(axis="index").set_properties(**{"text-align": "left"})

# %% [markdown]
# ## 6. What it cost, and the `full` profile
#
# Wall time per method and dataset for all seeds together (training, prediction and scoring), on
# the device in the table. A row read back from an earlier run keeps the time it took then.

# %%
au = table[table.metric == "au_prc"]
cost = au.groupby(["dataset", "method"], sort=False).agg(epochs=("epochs", "first"), seeds=("seed", "size"),
                                                         seconds=("wall_time_s", "sum"),
                                                         device=("device", "first")).reset_index()
cost["seconds per unit-epoch"] = cost.seconds / cost.seeds / cost.epochs
fig, ax = plt.subplots(figsize=(8, 0.3 * len(methods) + 1.5))
sns.barplot(data=cost.assign(label=cost.method.map(labels)), y="label", x="seconds", hue="dataset",
            order=[labels[m] for m in methods], ax=ax)
ax.set_xlabel(f"seconds for {n_seeds} seeds ({', '.join(sorted(set(cost.device)))})")
ax.set_ylabel("")
ax.set_title(f"Wall time per method (H = {n_members})")
ax.legend(fontsize=8)
plt.show()
print(f"total: {cost.seconds.sum() / 60:.1f} minutes")

# %% [markdown]
# The `full` profile is the paper-scale design: every FUN and GO benchmark on disk (`datasets =
# ["fun_go"]`: 15, `expr_GO` lacks its training file), 10 seeds, the spec's epochs, the same nine
# methods at H = 2, and the statistics above with 10 seeds per dataset (smallest per-dataset p
# 0.002) and 15 datasets (smallest across-datasets p 6e-5). Its cost on this run's device, scaled
# from the measured seconds per (unit, epoch) of the datasets run here (the per-unit time of the
# seeds trained together; 10 seeds in one batch cost less per seed on a GPU, more on a busy CPU):

# %%
estimate = cost.groupby("dataset", sort=False)["seconds per unit-epoch"].sum().to_frame("s per epoch, all methods")
estimate["spec epochs"] = [BENCHMARKS[d].epochs if d in BENCHMARKS else loaded[d].spec.epochs for d in estimate.index]
estimate["full: hours for 10 seeds"] = estimate["s per epoch, all methods"] * estimate["spec epochs"] * 10 / 3600
print(f"measured on {', '.join(sorted(set(cost.device)))}; load average now "
      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
estimate.style.format({"s per epoch, all methods": "{:.1f}", "full: hours for 10 seeds": "{:.1f}"})

# %% [markdown]
# ## 7. Deviations from the paper's protocol
#
# Named here so that every number above can be read with them in mind:
#
# - **Budget.** `quick` and `smoke` train about 1% of the spec's epochs (one epoch per dataset) and
#   3 (smoke: 2) seeds instead of 10; `smoke` also fits on only the first 200 rows of train + valid.
#   Their numbers check the pipeline, not the paper, and none of their tests can reach significance.
#   After so short a training the plain ensemble predicts almost no node above 0.5, so its recall
#   (and with it every gain factor's denominator) is 0 in most buckets. `quick` uses three FunCat
#   datasets (cellcycle, spo, derisi): a GO dataset (4,000+ outputs per member) costs several times
#   more per step than a laptop budget of a few minutes allows. Only `full` tests the claims.
# - **Subsets of `full`.** A `full` run on a CPU may cover fewer datasets, seeds or measures than the
#   design of section 6 (15 datasets, 10 seeds, six measures): the spec's epochs per dataset, but
#   fewer units. The line at the end of this section prints what this run used; its p-values and
#   the scorecard's verdicts rest on that many seeds and datasets only.
# - **Ensemble size.** One H for all methods (the parameter `n_members`, here the reference default
#   2); the paper's sweep over H in {2, 5, 10} and claim 2's "gains grow with the ensemble size" are
#   chapter 04's.
# - **Baseline.** The plain ensemble of H members with the summed MCLoss (`baseline-H2`), not the
#   single C-HMCNN of chapter 02 (`chmcnn`, the mean over terms): every method here sums its terms,
#   so the methods differ by their weights only. With Adam the scale of the loss mostly cancels, but
#   the L2 weight decay then weighs relatively less than in C-HMCNN.
# - **Weight target.** The reference code puts the imbalance weights on the y = 0 terms; the focal
#   methods follow it (`focal-*`), and `imbalance-pos` shows the stated intent.
# - **Measures.** `bma`/`bbma` are our reading of the paper's names; `js` is the reference default.
# - **Rare nodes and counts.** The frequency buckets are the spec's (the paper defines no "rare");
#   counts use train + valid, the rows the final model is fitted on.
# - **Imputation.** `trainvalid` fits the imputer and scaler on train + valid only; the reference
#   fills each split with its own column means (`per_split`).

# %%
print(f"imputation: {imputation}; seeds: {n_seeds}; epoch fraction: {epoch_fraction}; H: {n_members}; "
      f"measures: {', '.join(measures)}; device: {device}; datasets: {', '.join(order)}")

# %% [markdown]
# ## Summary
#
# - Nine methods at one ensemble size: the plain ensemble, imbalance weighting on the negatives (the
#   reference code) and on the positives (the stated intent), and focal weighting with each of six
#   uncertainty measures, all on the same seeds, data and budget, written as tidy rows to
#   `results/<profile>/03_rare_node_loss.csv`.
# - Section 3 shows where the weighting acts (recall per training-frequency bucket and depth, and
#   the gain factor behind claim 1); sections 4 and 5 say whether the differences are significant,
#   and whether the design could have shown it at all.
# - The evidence table for claims 1 and 2 is recomputed from the CSV by `hmc.rare_evidence`, so
#   the scorecard and this chapter cannot disagree.
#
# **What's next:** chapter 04 varies the ensemble size and replaces the ensemble by MC-dropout
# (claims 2 and 4); chapter 05 tests schedules, the mixed loss and LPROS (claims 3 and 5) and
# collects the verdicts.
