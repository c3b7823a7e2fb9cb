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

from hmc.book import dataset_pages as pages
from hmc.book.pages import load_benchmarks
from hmc.book.rare_plots import set_style
from hmc.data import BENCHMARKS

set_style()
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
summary, nodes = pages.benchmark_tables(loaded, rare_threshold, seed=seed)
summary

# %% [markdown]
# ## 2. Node frequency against depth: the long tail
#
# The number of positive training samples per node, by depth, on a log scale (nodes with no
# positive at all sit at 0). The deeper a node, the fewer samples carry it: at the bottom of both
# hierarchies most nodes have a handful of positives. GO depths count from the artificial `root`
# above the three ontologies, so its evaluated nodes start at depth 2.

# %% mystnb={"figure": {"caption": "Positive training samples per node against the node's depth (log scale), one panel per dataset family with its datasets pooled: a box per depth."}}
fig = pages.depth_boxes_figure(nodes)
plt.show()

# %% [markdown]
# The share of nodes with fewer than `rare_threshold` positive training samples, per depth: these
# are the nodes a classifier sees almost never, and the ones the rare-node loss is about.

# %% mystnb={"figure": {"caption": "The share of rare nodes (fewer positive training samples than the rare threshold) at each depth, one line per dataset family."}}
fig = pages.rare_depth_figure(nodes, rare_threshold)
plt.show()

# %% [markdown]
# ## 3. FunCat against GO
#
# The same eight yeast feature sets are labelled twice. GO has about eight times as many nodes as
# FunCat, a DAG instead of a tree, deeper paths and more labels per sample; its share of rare nodes
# is far higher.

# %% mystnb={"figure": {"caption": "FunCat against GO on the same feature sets: evaluated nodes, labels per training sample and the share of rare nodes per dataset, one bar per family."}}
per_dataset = pages.fun_go_table(nodes, summary)
fig = pages.fun_go_figure(per_dataset, rare_threshold)
plt.show()

# %% [markdown]
# ## 4. The image hierarchies
#
# Image hierarchies are strict trees with a fixed number of levels, and every image has exactly
# one class per level (levels are listed finest first, as in HCAL). Images are kept as uint8
# tensors; the splits are fixed and documented in each row. CIFAR-100 and FGVC-Aircraft are large
# downloads: when their files are absent the table says so and how to get them.

# %%
image_sets = pages.load_image_sets(images, seed=seed)
pages.image_table(image_sets) if image_sets else print("no image hierarchy on disk")

# %% [markdown]
# A few training images of each hierarchy (one row per coarsest class, at most eight rows):

# %% mystnb={"figure": {"caption": "Training images of one image hierarchy (named in the title): a row of images per coarsest class (the first classes only), its name above the row."}}
for name, data in image_sets.items():
    fig = pages.image_montage(name, data, n_rows=8, per_row=8)
    plt.show()

# %% [markdown]
# The number of training images per finest class, largest first: the synthetic hierarchy can be
# made imbalanced on purpose; Omniglot is balanced (15 training drawings per character).

# %% mystnb={"figure": {"caption": "The training images per finest class of one image hierarchy (named in the title), the classes ordered from the largest to the smallest."}}
for name, data in image_sets.items():
    fig = pages.class_count_figure(name, data)
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
