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
# **Overview.** Xu et al. {cite:p}`xu2026rarenodes` train C-HMCNN {cite:p}`giunchiglia2020chmcnn` as an
# ensemble of H networks and weight each loss term by a node-wise *imbalance weight* (large for nodes
# with few training examples) and a *focal factor* `m + u^k`, `u` the ensemble's uncertainty about that
# node for that sample ({ref}`methods §2 <methods-rare-weights>`, {ref}`§4 <methods-rare-focal>`). They
# report rare-node recall raised "up to a factor of five" with significant F1 gains (claim 1), and BMA
# and GMU as the best of the uncertainty measures (claim 2). This chapter trains nine methods at one
# ensemble size H, on the same data, seeds and budget: the plain ensemble, imbalance weighting on the y =
# 0 terms (`imbalance-neg`, what the reference code does) or on the y = 1 terms (`imbalance-pos`, the
# paper's stated intent), and focal weighting (weights on the y = 0 terms) with each of the
# {ref}`six uncertainty measures <methods-rare-measures>`. It scores them as in
# {ref}`methods §10 <methods-rare-evaluation>` and ends with the evidence for claims 1 and 2 that the
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
# *Time to run:* `smoke` about half a minute (two datasets, 200 fitting rows, one epoch); `quick` (three
# FunCat datasets, 3 seeds, one epoch, nine methods at H = 2) a few minutes on a laptop CPU; `full`
# (every FUN and GO benchmark on disk, 10 seeds, the reference epochs) is meant for a GPU (section 6
# estimates it). Finished (dataset, method, seed) units are read back from the results table on a rerun.

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`)
datasets = ["cellcycle_FUN", "spo_FUN", "derisi_FUN"]  # benchmark names, ["fun_go"] (all FUN and GO on disk) or ["all"]
n_seeds = 3  # seeds 0 .. n_seeds-1 per dataset and method (the full protocol: 10)
epoch_fraction = 0.01  # share of the reference epochs per dataset, at least one epoch (the full protocol: 1.0)
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
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from hmc.book import rare_plots, rare_tables
from hmc.book.pages import (cap_fit_rows, check_budget, load_benchmarks, resolve_device, results_csv, scaled_epochs,
                            key_first, select_benchmarks, units_report)
from hmc.data import BENCHMARKS
from hmc.display_paths import display_path
from hmc.rare_evidence import (CLAIMS, RARE_BUCKETS, chapter_methods, claims_evidence, friedman_over_datasets,
                               min_wilcoxon_p, recall_gains, short_label, wilcoxon_across_datasets,
                               wilcoxon_per_dataset)
from hmc.runs.store import coverage
from hmc.runs.sweep import Unit, read_results, run_sweep
from hmc.stats import critical_difference_figure

# %%
rare_plots.set_style()
check_budget(epoch_fraction, n_seeds)
device = resolve_device(device)
results_path = results_csv(profile, "03_rare_node_loss.csv", results_file)
names = select_benchmarks(datasets)
roles = chapter_methods(n_members, measures)  # role -> canonical method name (hmc.rare_nodes)
methods = list(roles.values())
baseline = roles["baseline"]
others = [m for m in methods if m != baseline]
labels = {m: short_label(m) for m in methods}
print(f"device: {device}; results table: {display_path(results_path)}; H = {n_members} members per seed for every method")
rare_tables.method_settings(methods)

# %% [markdown]
# The methods as the results file names them (`-H2`: H = 2). All, the baseline included, sum their
# weighted terms over members, batch and nodes (the reference's reduction), so they differ by their
# weights only; the floors omega and m are the reference's 0.25, the weights class-wise.

# %% [markdown]
# ## 1. Training: every method, seed and dataset
#
# Chapter 02's per-dataset settings and protocol ({ref}`methods §9 <methods-rare-training>`); the H
# members of a seed (member 0 of seed s is C-HMCNN seed s) and all seeds of a method are trained as one
# batched network.

# %%
design_names = list(names)  # the design's datasets (a page of the campaign's results loads those with units)
if not train:
    names = [n for n in names if n in set(read_results(results_path).dataset)]
loaded = load_benchmarks(names, imputation=imputation)
if max_fit_rows > 0:
    loaded = {name: cap_fit_rows(b, max_fit_rows) for name, b in loaded.items()}
    print(f"fitting on the first {max_fit_rows} rows of train + valid only (a smoke run; test is complete)")
before = read_results(results_path)
design_datasets = list(loaded) if train else design_names  # read back: the datasets without units count too
design = [Unit(name, m, seed) for name in design_datasets for m in methods for seed in range(n_seeds)]
for name, benchmark in loaded.items():
    run_sweep([u for u in design if u.dataset == name], results_path, load=loaded.__getitem__,
              epochs=scaled_epochs(benchmark, epoch_fraction), device=device, num_threads=num_threads or "auto",
              progress=False, train=train)

# %%
table = read_results(results_path)
table = table[table.dataset.isin(list(loaded)) & table.method.isin(methods) & (table.seed < n_seeds)]
print(units_report(table, before, len(design), train))
if not train:
    print("Coverage of the design (seeds finished per dataset and method; the campaign adds the rest):")
    display(coverage(table, design).pivot(index="dataset", columns="method", values="done")
            .reindex(index=design_datasets, columns=methods).rename(columns=labels).fillna(0).astype(int))
order = [d for d in loaded if d in set(table.dataset)]

# %% [markdown]
# ## 2. Overall scores
#
# Mean over the datasets of each method's seed mean, then per dataset mean +- std over the seeds. "All
# nodes" counts a node with no test positive with recall 0, as the paper does (hence the low macro F1 on
# large hierarchies); "nodes with test positives" leaves it out
# ({ref}`methods §10 <methods-rare-evaluation>`).

# %%
print(f"mean over {len(order)} dataset(s): {', '.join(order)}; H = {n_members}, "
      f"{n_seeds} seeds, epoch fraction {epoch_fraction}")
rare_tables.overall_scores(table, methods, labels=labels).style.format("{:.4f}").highlight_max(
    axis=0, props="font-weight: bold")

# %%
rare_tables.per_dataset_scores(table, order, methods, labels=labels)

# %% [markdown]
# A method above the dashed line gains over the plain ensemble on that dataset.

# %% mystnb={"figure": {"caption": "Macro F1 over all evaluated nodes per method, one panel per dataset: a grey dot per seed, the black bar the seed mean, the dashed line the baseline ensemble's mean."}}
fig = rare_plots.f1_strips(table, order, methods, baseline, labels,
                           title=f"Macro F1 per method (H = {n_members}, {n_seeds} seeds)")
plt.show()

# %% [markdown]
# ## 3. Rare nodes: recall and F1 per training-frequency bucket and per depth
#
# The study's buckets of training (train + valid) positives: 0, 1-5, 6-20, 21-100, more than 100 (the
# paper defines no "rare"). How many evaluated nodes fall in each, and how many have a test positive
# (without one, a node has recall 0 for every method):

# %%
rare_tables.bucket_census({name: loaded[name] for name in order})

# %% [markdown]
# Right: dashed lines at no gain (1) and at claim 1's factor of five; an unbounded gain (baseline recall
# 0, the method's not) is a triangle at the top (∞), left out of the median; 0 / 0 is not drawn (counts
# below). A bucket counts only on the datasets that have it.

# %% mystnb={"figure": {"caption": "Recall by training-frequency bucket: each method's mean recall over the datasets (left) and its recall gain factor over the baseline ensemble, per dataset and as the median over datasets (right)."}}
gains = recall_gains(table, baseline, others, key="freq")
fig = rare_plots.bucket_recall_and_gain(table, gains, methods, baseline, labels)
fig.suptitle(f"Rare nodes (H = {n_members}; weights on the negatives unless named -pos)", y=1.02)
plt.show()
print(rare_tables.gain_counts(gains))

# %% [markdown]
# Mean recall and F1 per bucket over the datasets, and the largest finite recall gain per bucket with the
# dataset where it occurred:

# %%
rare_tables.bucket_means(table, gains, methods, labels).style.format("{:.3f}", na_rep="-")

# %% [markdown]
# A level counts on the datasets that have it (FunCat trees reach 6 levels, GO graphs more).

# %% mystnb={"figure": {"caption": "Mean F1 (left) and recall (right) of each method per node depth, 1 being the top level under the root."}}
fig = rare_plots.depth_lines(table, methods, baseline, labels)
plt.show()

# %%
rare_tables.depth_table(rare_tables.depth_means(table), methods, labels).style.format("{:.3f}", na_rep="-")

# %% [markdown]
# ## 4. Significance against the baseline
#
# **Per dataset, over seeds.** Two-sided Wilcoxon signed-rank tests of the seed-paired macro F1
# differences, Holm over the methods of a dataset. Below 6 seeds nothing can be significant at 0.05 (the
# smallest p is 2 / 2^n): the table then only shows the direction of the differences.

# %%
per = wilcoxon_per_dataset(table, "macro_f1", baseline, others)
smallest = min_wilcoxon_p(n_seeds)
print(f"{n_seeds} seeds: smallest attainable two-sided p = {smallest:.3g}"
      + ("  (too few seeds for any significant result)" if smallest > alpha else ""))
if len(per):
    display(rare_tables.per_dataset_test_cells(per, order, others, labels))
    sig = per[(per.p_holm < alpha)]
    print(f"significant at {alpha} after Holm: {len(sig)} of {len(per)} (dataset, method) comparisons; "
          f"{int((per.mean_diff > 0).sum())} with a higher mean macro F1 than the baseline")

# %% [markdown]
# **Across datasets, over per-dataset means.** One Holm family per metric; a p below 0.05 needs at least
# 6 datasets (the `full` profile has 15).

# %%
across_metrics = ["au_prc", "macro_f1", "macro_f1_pos", "macro_recall", *[f"recall@freq={b}" for b in RARE_BUCKETS]]
across = pd.concat([wilcoxon_across_datasets(table, metric, baseline, others) for metric in across_metrics])
if len(across):
    p_holm, diff = rare_tables.across_tables(across, others, across_metrics, labels)
    print(f"{len(order)} dataset(s): smallest attainable two-sided p = {min_wilcoxon_p(len(order)):.3g}"
          + ("  (too few datasets for any significant result)" if min_wilcoxon_p(len(order)) > alpha else ""))
    display(p_holm.style.format("{:.3g}", na_rep="-").set_caption("Holm-adjusted p, across datasets"))
    display(diff.style.format("{:+.4f}", na_rep="-").set_caption("mean difference to the baseline, across datasets"))

# %% [markdown]
# **Ranks of all methods (Friedman + Nemenyi)** on macro F1; the test needs at least 2 datasets and 3
# methods, and about 10 datasets to be trustworthy.

# %% mystnb={"figure": {"caption": "Average rank of each method on macro F1 over the datasets (1 = best): methods joined by a thick bar are not significantly different at the Nemenyi critical difference (CD)."}}
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
    fig = critical_difference_figure(result.avg_ranks.rename(index=labels), result.cd)
    fig.axes[0].set_title(f"Average rank on macro F1 over {result.n_blocks} datasets (H = {n_members})")
    plt.show()

# %% [markdown]
# ## 5. Evidence for claims 1 and 2
#
# One row per statement, from `hmc.rare_evidence.claims_evidence` (the scorecard calls it on the same
# CSV): `value` is the number behind it (a gain factor, a difference in macro F1 or an average rank, as
# `detail` says), `p` and `p_holm` the raw and Holm-adjusted p of the test in `test`, `min_p` the
# smallest p that test could give with its n pairs: above 0.05, the row cannot decide significance.

# %%
evidence = claims_evidence(table, n_members, measures, alpha)
for number, text in CLAIMS.items():
    print(f"Claim {number}: {text}")
print(f"H = {n_members}; {len(order)} dataset(s); {n_seeds} seeds; epoch fraction {epoch_fraction}; "
      f"profile {profile!r}" + ("  (a pipeline check, not the paper's protocol)" if profile != "full" else ""))
with pd.option_context("display.max_colwidth", 200):
    display(evidence.set_index("claim").style.format({"value": "{:.4g}", "p": "{:.3g}", "p_holm": "{:.3g}",
                                                      "min_p": "{:.3g}", "n": "{:.0f}"}, na_rep="-"))

# %% [markdown]
# **The verdicts of claims 1 and 2 from this table**, by the scorecard's rules (`hmc.scorecard`, also
# called by chapter 05 and the verdicts page): **inconclusive**, with the reasons, unless the gates
# (budget, baseline, significance: {ref}`methods §12 <methods-rare-gates>`) pass. Claim 2's size part is
# chapter 04's.

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
# **Claim 1, bucket by bucket** ("rare" read as the buckets 1-5 and 6-20): the largest finite recall
# gain, the unbounded gains (baseline recall 0, the method's not) and the undefined ones (0 / 0):

# %%
bucket_table(table).set_index("bucket").style.format({"largest finite gain": "{:.2f}"}, na_rep="-")

# %% [markdown]
# **Sensitivity of claim 1 to the study's choices**: the verdict under each other reading of "rare", of
# the factor that counts as five, of unbounded gains and of which methods are the paper's. "Could be"
# lists the verdicts the undecided parts still allow, the next columns drop the budget gate, then every
# gate; `flips` marks a reading that changes any of them.

# %%
key_first(rare_sensitivity(tables03, 1), 2).style.set_properties(**{"text-align": "left"})

# %% [markdown]
# ## 6. What it cost, and the `full` profile
#
# On the device in the table; a row read back from an earlier run keeps the time it took then.

# %% mystnb={"figure": {"caption": "Wall time of each method on each dataset, all seeds together: training, prediction and scoring."}}
cost = rare_tables.wall_times(table)
fig = rare_plots.cost_bars(cost, methods, "seconds", f"seconds for {n_seeds} seeds ({', '.join(sorted(set(cost.device)))})",
                           f"Wall time per method (H = {n_members})", labels)
plt.show()
print(f"total: {cost.seconds.sum() / 60:.1f} minutes")

# %% [markdown]
# The `full` profile: every FUN and GO benchmark on disk (`datasets = ["fun_go"]`: 15, `expr_GO` lacks
# its training file), 10 seeds, the reference epochs, the nine methods at H = 2 (smallest p 0.002 per
# dataset, 6e-5 across datasets). Its cost on this device, scaled from the measured seconds per (unit,
# epoch) of the datasets run here (the per-unit time of the seeds trained together; 10 seeds in one batch
# cost less per seed on a GPU, more on a busy CPU):

# %%
spec_epochs = {d: BENCHMARKS[d].epochs if d in BENCHMARKS else loaded[d].spec.epochs for d in set(cost.dataset)}
estimate = rare_tables.full_estimate(cost, spec_epochs)
print(f"measured on {', '.join(sorted(set(cost.device)))}; load average now "
      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
estimate.style.format({"s per epoch, all methods": "{:.1f}", "full: hours for 10 seeds": "{:.1f}"})

# %% [markdown]
# ## 7. Deviations from the paper's protocol
#
# - **Budget.** `quick` and `smoke` train about 1% of the reference epochs (one epoch per dataset) with 3
#   (smoke: 2) seeds instead of 10, and `smoke` fits on the first 200 rows of train + valid only: a
#   pipeline check, whose tests cannot reach significance. After so short a training the plain ensemble
#   predicts almost no node above 0.5, so its recall (every gain factor's denominator) is 0 in most
#   buckets. `quick` uses three FunCat datasets (cellcycle, spo, derisi): a GO dataset (4,000+ outputs
#   per member) costs several times more per step than a laptop budget of a few minutes allows. Only
#   `full` tests the claims.
# - **Subsets of `full`.** A `full` run on a CPU may cover fewer datasets, seeds or measures than the
#   design of section 6 (15 datasets, 10 seeds, six measures), at the reference epochs: its p-values and
#   the scorecard's verdicts rest on the seeds and datasets that the line below prints.
# - **Ensemble size.** One H for all methods (`n_members`, here the reference default 2); the paper's
#   sweep over H in {2, 5, 10} and claim 2's "gains grow with the ensemble size" are chapter 04's.
# - **Baseline.** The plain ensemble of H members with the summed MCLoss (`baseline-H2`), not chapter
#   02's single C-HMCNN (`chmcnn`, the mean over terms), so that the methods differ by their weights
#   only. With Adam the scale of the loss mostly cancels, but the L2 weight decay then weighs relatively
#   less than in C-HMCNN.
# - **Weight target.** The reference code weights the y = 0 terms; the focal methods follow it
#   (`focal-*`), and `imbalance-pos` shows the stated intent.
# - **Measures.** `bma`/`bbma` are our reading of the paper's names; `js` is the reference default.
# - **Rare nodes and counts.** The frequency buckets are the study's (the paper defines no "rare");
#   counts use train + valid, the rows the final model is fitted on.
# - **Imputation.** `trainvalid` fits the imputer and scaler on train + valid only; the reference fills
#   each split with its own column means (`per_split`).

# %%
print(f"imputation: {imputation}; seeds: {n_seeds}; epoch fraction: {epoch_fraction}; H: {n_members}; "
      f"measures: {', '.join(measures)}; device: {device}; datasets: {', '.join(order)}")

# %% [markdown]
# ## Summary
#
# Nine methods at one ensemble size on the same seeds, data and budget, as tidy rows in
# `results/<profile>/03_rare_node_loss.csv`. Section 3 shows where the weighting acts, sections 4 and 5
# whether the differences are significant and whether the design could have shown it; the evidence is
# recomputed from the CSV by `hmc.rare_evidence`, so the scorecard and this chapter cannot disagree.
#
# **What's next:** chapter 04 varies the ensemble size and replaces the ensemble by MC-dropout (claims 2
# and 4); chapter 05 tests schedules, the mixed loss and LPROS (claims 3 and 5) and collects the
# verdicts.
