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
# # The datasets: gene-function benchmarks and image hierarchies
#
# **Overview.** The rare-node study runs on the standard HMC benchmarks of Vens et al.
# {cite:p}`vens2008clushmc`, as prepared for C-HMCNN {cite:p}`giunchiglia2020chmcnn`: eight yeast
# feature sets, each labelled with the FunCat tree (`_FUN`) and with the Gene Ontology DAG (`_GO`),
# plus four "other" datasets. The HCAL study runs on image hierarchies: Omniglot
# {cite:p}`lake2015omniglot`, CIFAR-100 {cite:p}`krizhevsky2009cifar`, FGVC-Aircraft
# {cite:p}`maji2013aircraft`, and a synthetic image hierarchy that the library draws offline.
# This chapter loads every dataset that is on disk and shows what the methods are up against:
# how big the hierarchies are, how few labels a sample has, and how quickly node frequencies fall
# with depth.
#
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | Chapter 00 (hierarchy constraint, depth) | necessary | |
# | Trees vs DAGs | helpful | FunCat is a tree, GO a DAG |
#
# *Time to run:* under a minute on a laptop CPU the first time (parsing the ARFF files),
# seconds afterwards (parsed data are cached). Datasets that are not on disk are listed with the
# command that fetches them; with none at all the chapter falls back to a synthetic hierarchy.

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`)
benchmarks = ["all"]  # benchmark names, or ["all"] for every benchmark of the study
images = ["synthetic", "omniglot", "cifar100", "aircraft"]  # image hierarchies to describe
rare_threshold = 5  # a node is rare when it has fewer training positives than this
seed = 0  # seed of the synthetic image hierarchy

# %% tags=["hide-input"] mystnb={"code_prompt_show": "Show the set-up code", "code_prompt_hide": "Hide the set-up code"}
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hmc.book.pages import load_benchmarks
from hmc.data import BENCHMARKS, load_image_hierarchy
from hmc.display_paths import display_paths_in
from hmc.errors import DatasetMissingError
from hmc.synthetic import make_tabular

sns.set_theme(style="whitegrid", context="notebook")
names = list(BENCHMARKS) if benchmarks == ["all"] else benchmarks

# %% [markdown]
# ## 1. The gene-function benchmarks
#
# Each benchmark has fixed train / valid / test splits (the "others" have no validation file; the
# final models of the study train on train + valid). Features are preprocessed as in C-HMCNN:
# nominal attributes one-hot encoded, missing values imputed with the train + valid mean, then
# standardised. Label matrices have every ancestor of a labelled node set. The roots (`root`, and
# for GO also the three ontology roots) are not evaluated and are left out of the counts below.

# %%
loaded = load_benchmarks(names, fallback=False)
if not loaded:
    print("No benchmark file is on disk: this chapter falls back to a synthetic hierarchy "
          "(hmc.synthetic.make_tabular), labelled 'synthetic' below.")


def describe(name, family, hierarchy, splits, eval_nodes, n_features):
    """One summary row: samples per split, features, nodes, depth and labels per sample."""
    y_train = splits["train"]
    return {
        "dataset": name, "family": family,
        **{f"{split} samples": len(y) for split, y in splits.items()},
        "features": n_features, "evaluated nodes": len(eval_nodes), "DAG": not hierarchy.is_tree,
        "max depth": int(hierarchy.depth[eval_nodes].max()),
        "labels per sample": round(float(y_train[:, eval_nodes].sum(1).mean()), 1),
    }


def node_rows(name, family, hierarchy, y_train, eval_nodes):
    """Per evaluated node: depth and number of positive training samples."""
    return pd.DataFrame({"dataset": name, "family": family, "depth": hierarchy.depth[eval_nodes],
                         "positives": y_train[:, eval_nodes].sum(0)})


summary, nodes = [], []
for name, b in loaded.items():
    splits = {"train": b.y_train, "valid": b.y_valid, "test": b.y_test}
    summary.append(describe(name, b.family, b.hierarchy, splits, b.eval_nodes, b.x_train.shape[1]))
    nodes.append(node_rows(name, b.family, b.hierarchy, b.y_train, b.eval_nodes))
if not loaded:
    syn = make_tabular(n_samples=3000, depth=5, branching=3, seed=seed)
    cut = 2000
    ev = np.flatnonzero(syn.hierarchy.depth > 0)
    splits = {"train": syn.y[:cut], "valid": syn.y[:0], "test": syn.y[cut:]}
    summary.append(describe("synthetic", "synthetic", syn.hierarchy, splits, ev, syn.x.shape[1]))
    nodes.append(node_rows("synthetic", "synthetic", syn.hierarchy, syn.y[:cut], ev))
summary = pd.DataFrame(summary).set_index("dataset")
nodes = pd.concat(nodes, ignore_index=True)
nodes["rare"] = nodes.positives < rare_threshold
summary["rare nodes"] = nodes.groupby("dataset", sort=False)["rare"].mean().map("{:.0%}".format)
summary

# %% [markdown]
# ## 2. Node frequency against depth: the long tail
#
# The number of positive training samples per node, by depth, on a log scale (nodes with no
# positive at all sit at 0). The deeper a node, the fewer samples carry it: at the bottom of both
# hierarchies most nodes have a handful of positives. GO depths count from the artificial `root`
# above the three ontologies, so its evaluated nodes start at depth 2.

# %%
families = list(dict.fromkeys(nodes.family))
grid = sns.catplot(data=nodes, x="depth", y="positives", col="family", col_order=families, kind="box",
                   sharex=False, height=3.6, aspect=1.3, color="tab:blue", fliersize=1.5, linewidth=0.8)
for ax in grid.axes.flat:
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
grid.set_axis_labels("depth", "positive training samples per node")
grid.figure.suptitle("Node frequency against depth (all datasets of each family pooled)", y=1.03)
plt.show()

# %% [markdown]
# The share of nodes with fewer than `rare_threshold` positive training samples, per depth: these
# are the nodes a classifier sees almost never, and the ones the rare-node loss is about.

# %%
rare_by_depth = nodes.groupby(["family", "depth"], as_index=False)["rare"].mean()
fig, ax = plt.subplots(figsize=(8, 3.6))
sns.lineplot(data=rare_by_depth, x="depth", y="rare", hue="family", hue_order=families, marker="o", ax=ax)
ax.set_ylim(0, 1)
ax.set_ylabel(f"share of nodes with < {rare_threshold} positives")
ax.set_title("Rare nodes per depth")
plt.show()

# %% [markdown]
# ## 3. FunCat against GO
#
# The same eight yeast feature sets are labelled twice. GO has about eight times as many nodes as
# FunCat, a DAG instead of a tree, deeper paths and more labels per sample; its share of rare nodes
# is far higher.

# %%
fun_go = nodes[nodes.family.isin(["FUN", "GO"])] if nodes.family.isin(["FUN", "GO"]).any() else nodes
per_dataset = (fun_go.assign(features=fun_go.dataset.str.rsplit("_", n=1).str[0])
               .groupby(["dataset", "features", "family"], as_index=False)
               .agg(nodes=("rare", "size"), rare=("rare", "mean")))
per_dataset["labels per sample"] = per_dataset.dataset.map(summary["labels per sample"])
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
for ax, column, title in zip(axes, ["nodes", "labels per sample", "rare"],
                             ["evaluated nodes", "labels per training sample",
                              f"share of nodes with < {rare_threshold} positives"], strict=True):
    sns.barplot(data=per_dataset, y="features", x=column, hue="family", ax=ax)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel("")
    if ax is not axes[-1] and ax.get_legend() is not None:  # one family (no data on disk): no legend
        ax.get_legend().remove()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. The image hierarchies
#
# Image hierarchies are strict trees with a fixed number of levels, and every image has exactly
# one class per level (levels are listed finest first, as in HCAL). Images are kept as uint8
# tensors; the splits are fixed and documented in each row. CIFAR-100 and FGVC-Aircraft are large
# downloads: when their files are absent the table says so and how to get them.

# %%
image_options = {"synthetic": {"seed": seed, "imbalance": 10.0}, "omniglot": {}, "cifar100": {}, "aircraft": {}}
image_sets, image_rows = {}, []
for name in images:
    try:
        data = load_image_hierarchy(name, **image_options.get(name, {}))
    except DatasetMissingError as err:
        print(f"not on disk: {name}\n  {display_paths_in(str(err))}\n")
        continue
    image_sets[name] = data
    levels = " -> ".join(f"{len(c)} {n}" for n, c in zip(data.level_names, data.class_names, strict=True))
    image_rows.append({"dataset": name, "levels (finest first)": levels, "train images": len(data.y_train),
                       "test images": len(data.y_test), "image size": "x".join(map(str, data.x_train.shape[1:])),
                       "split": data.split})
pd.DataFrame(image_rows).set_index("dataset") if image_rows else print("no image hierarchy on disk")

# %% [markdown]
# A few training images per coarsest class (one row per coarsest class, at most eight rows), and
# the number of training images per finest class, largest first: the synthetic hierarchy can be
# made imbalanced on purpose; Omniglot is balanced (15 training drawings per character).

# %%
for name, data in image_sets.items():
    coarse = data.y_train[:, -1].numpy()
    shown = np.unique(coarse)[:8]
    fig, axes = plt.subplots(len(shown), 8, figsize=(8, 1.05 * len(shown)), squeeze=False)
    for row, c in zip(axes, shown, strict=True):
        picks = np.flatnonzero(coarse == c)[:8]
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, picks, strict=False):
            img = data.x_train[i].permute(1, 2, 0).numpy()
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
        row[0].set_title(data.class_names[-1][c][:18], fontsize=7, loc="left")
    fig.suptitle(f"{name}: training images by {data.level_names[-1]}", y=1.0)
    plt.show()
    counts = np.sort(np.bincount(data.y_train[:, 0].numpy(), minlength=len(data.class_names[0])))[::-1]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.bar(np.arange(len(counts)), counts, width=1.0, color="tab:blue")
    ax.set_xlabel(f"{data.level_names[0]} classes, largest first")
    ax.set_ylabel("training images")
    ax.set_title(f"{name}: images per {data.level_names[0]} class")
    plt.show()

# %% [markdown]
# ## Summary
#
# - The FunCat and GO benchmarks have hundreds to thousands of nodes, and a sample has only a few
#   dozen positive labels; GO is larger, deeper and a DAG.
# - In both, node frequency falls steeply with depth; at the deepest levels most nodes have fewer
#   than five positive training samples. That long tail is what the rare-node loss targets.
# - The image hierarchies are shallow trees (two or three levels) with one label per level:
#   HCAL's setting, where accuracy per level and hierarchy violations are measured.
#
# **What's next:** chapter 02 reproduces C-HMCNN on these benchmarks.
