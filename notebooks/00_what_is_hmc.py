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
# # What is hierarchical multi-label classification?
#
# **Overview.** In hierarchical multi-label classification (HMC) every sample can carry several
# labels at once, and the labels are nodes of a hierarchy (a tree or a directed acyclic graph).
# This short chapter shows, on a synthetic hierarchy that the library generates in milliseconds,
# the three ideas the rest of the study builds on:
#
# 1. the **hierarchy constraint**: a sample labelled with a node is labelled with all its ancestors;
# 2. why **deep nodes are rare**: node frequencies decay with depth, the long tail that the
#    rare-node paper is about;
# 3. what a **hierarchy violation** is: a prediction that says "child" but not "parent".
#
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | Multi-label classification (one 0/1 output per class) | necessary | |
# | Trees and directed acyclic graphs | helpful | parents, children, depth |
# | Logistic regression | helpful | used as the simple per-node classifier below |
#
# *Time to run:* a few seconds on a laptop CPU (no GPU, no data files).

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`)
n_samples = 3000  # samples of the synthetic dataset
depth = 5  # levels below the root
branching = 3  # mean number of children per node
dag_fraction = 0.0  # share of nodes at depth 2 or more that get a second parent (a DAG)
n_features = 20  # feature dimension
seed = 0  # random seed of the generator and the split

# %% tags=["hide-input"] mystnb={"code_prompt_show": "Show the set-up code", "code_prompt_hide": "Hide the set-up code"}
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from hmc.book import hierarchy_pages as pages
from hmc.book.rare_plots import set_style
from hmc.synthetic import make_tabular

set_style()

# %% [markdown]
# ## 1. A hierarchy and the hierarchy constraint
#
# We draw a small hierarchy first (three levels, about two children per node) and one sample's
# labels on it. The library's generator labels each sample by random walks from the root and then
# sets every **ancestor** of the nodes it reached: the labelled nodes (blue) always form a set that is
# closed upwards. That is the hierarchy constraint.

# %% mystnb={"figure": {"caption": "A small synthetic hierarchy, drawn level by level from the root, with the labels of one sample in blue: every labelled node's parent is labelled too."}}
small = make_tabular(n_samples=20, depth=3, branching=2, dag_fraction=dag_fraction, seed=seed)
fig, sample = pages.sample_figure(small.hierarchy, small.y)
plt.show()
print("labels of that sample:", pages.positive_nodes(small.hierarchy, small.y[sample]))

# %% [markdown]
# ## 2. The dataset as a label matrix
#
# A dataset is a feature matrix `x` (samples x features) and a 0/1 label matrix `y`
# (samples x nodes). Columns are ordered topologically (parents before children), here grouped by
# depth. Every row is dense at the top and sparse at the bottom.

# %% mystnb={"figure": {"caption": "The label matrix y of the first samples of the synthetic dataset over its first nodes in order of depth: a dark cell is a node the sample is labelled with."}}
data = make_tabular(n_samples=n_samples, depth=depth, branching=branching, dag_fraction=dag_fraction,
                    n_features=n_features, seed=seed)
h = data.hierarchy
print(h)
print(f"x: {data.x.shape}, y: {data.y.shape}, mean labels per sample: {data.y.sum(1).mean():.1f}")
print("every sample satisfies the constraint:", bool(h.is_consistent(data.y).all()))
fig = pages.label_matrix_figure(h, data.y, n_samples=40, n_nodes=120)
plt.show()

# %% [markdown]
# ## 3. Why deep nodes are rare
#
# A node at depth *d* is reached only by the samples of its parent, shared among siblings. So the
# number of positives per node falls roughly geometrically with depth. On a log scale that is a
# straight decline, and at the deepest levels most nodes have only a handful of positive samples:
# that is the long tail the rare-node loss targets.

# %% mystnb={"figure": {"caption": "Node frequency against depth on the synthetic dataset: the positive samples of each node (left, log scale) and the share of nodes per depth with fewer positives than the threshold in the panel's title (right)."}}
freq = pages.node_frequencies(h, data.y)
fig = pages.frequency_figure(freq, rare_below=5)
plt.show()

# %% [markdown]
# The same per depth: the number of nodes and their positive samples.

# %%
pages.depth_summary(freq)

# %% [markdown]
# ## 4. Hierarchy violations
#
# The simplest HMC model treats every node as its own binary problem: one classifier per node,
# each thresholded at 0.5. Nothing ties a child's prediction to its parent's, so such a model can
# predict a child *without* its parent. Such a prediction is a **hierarchy violation**: it cannot be
# a true label set. We train one logistic regression per node (nodes with at least 5 training
# positives) and count the test samples whose predictions break at least one parent -> child edge.

# %%
x_train, x_test, y_train, y_test = train_test_split(data.x, data.y, test_size=0.3, random_state=seed)
pred, trainable = pages.per_node_predictions(h, x_train, y_train, x_test, min_positives=5)  # the root always 1
broken = h.violations(pred)
print(f"per-node classifiers: {len(trainable)} of {len(h) - 1} nodes")
print(f"test samples with at least one violation: {np.mean(broken > 0):.1%}")

# %% [markdown]
# One example, drawn on the branch of the hierarchy where it breaks: red nodes are predicted
# positive although a parent is predicted negative.

# %% mystnb={"figure": {"caption": "One test sample's predictions by the independent per-node classifiers, on the branch where they first break the constraint (depths counted from the branch's top node): blue nodes are predicted, red ones predicted although their parent is not."}}
example = int(np.argmax(broken))
print(f"sample {example}: {broken[example]} broken edges; predicted nodes:", pages.positive_nodes(h, pred[example]))
fig = pages.violation_figure(h, pred, example)
plt.show()

# %% [markdown]
# Two ways to repair this are used in the study. A post-hoc fix sets the ancestors of every
# predicted node (here: `hierarchy.propagate`), which makes predictions consistent but may add wrong
# parents. C-HMCNN instead builds the constraint into the model: its max constraint module makes a
# parent's score the maximum over its descendants, so a parent never scores below a child
# (chapter 02). HCAL measures violations with the Hierarchical Violation Rate, the share of samples
# whose predicted labels are not a valid path (chapter 06).

# %% mystnb={"figure": {"caption": "The share of test samples with at least one hierarchy violation, for the independent per-node predictions and after setting every predicted node's ancestors."}}
rates = pages.violation_rates(h, pred)
fig = pages.violation_rate_figure(rates)
plt.show()

# %%
rates.style.format({"samples with a violation": "{:.1%}"}).hide(axis="index")

# %% [markdown]
# ## Summary
#
# - HMC labels are node sets of a hierarchy, closed under "ancestor of".
# - Deep nodes are rare: positives per node fall roughly geometrically with depth, and at the
#   bottom most nodes have fewer than five positive samples.
# - Independent per-node predictions break the constraint on a sizeable share of samples; models
#   that respect the hierarchy by construction, or a repair step, avoid it.
#
# **What's next:** chapter 01 shows the same statistics on the real benchmarks (FunCat and GO yeast
# datasets, and image hierarchies).
