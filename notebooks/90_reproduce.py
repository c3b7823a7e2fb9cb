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
# # Reproduce it: commands, profiles, measured times and the execution status
#
# **Overview.** Every page of this book that shows a number is a notebook executed by one command,
# and every run leaves a manifest behind (`results/<profile>/manifests/<notebook>.json`: the
# parameters, the git commit, the package versions, the device, the wall time and whether it
# finished). This page lists the commands, shows the profiles as `hmc/profiles.py` defines them, and
# reads the manifests and the executed notebooks to report, with no number typed by hand:
#
# 1. how long each notebook took under each profile, and on which device;
# 2. how much training time the results tables hold (a resumable sweep reads finished units back, so
#    the wall time of its last run can be far below what its results cost);
# 3. the execution status of every page: which profile, when, on which device, at which commit.
#
# The code that reads the files is folded under each "Show code cell source" button.
# **Prerequisites.**
#
# | Concepts | Importance | Notes |
# |---|---|---|
# | A shell, `make`, Python virtual environments | necessary | the commands below |
# | {doc}`intro` (profiles, what a chapter runs) | helpful | |
# | Git commits | helpful | the execution status names the commit each page ran at |
#
# *Time to run:* seconds on any CPU under every profile (it trains nothing: it reads JSON
# manifests, the results tables and the executed notebooks in `book/`). No GPU, no data files.
#
# ## The commands
#
# From a clone of the repository (Python >= 3.10, `make`, about 7 GB of disk for PyTorch's wheels):
#
# ```bash
# make book                 # create .venv, install the project, render the committed pages as HTML
#                           # (no data, no execution, offline)
# make test                 # create or update .venv and run the test suite (every notebook under smoke on
#                           # the data sample in tests/data/sample, and the strict book build)
# make rerun                # fetch the data the notebooks need, execute every notebook (quick), build the HTML;
#                           # with data missing it executes nothing and says what to fetch
# make rerun PROFILE=full   # the same with the papers' settings (a GPU's work)
# ```
#
# One notebook, a profile, and single-parameter overrides (`-p NAME VALUE`, repeatable). Unknown
# names and wrong types are refused before anything executes, with the list of valid parameters:
#
# ```bash
# .venv/bin/python -m hmc run notebooks/03_rare_node_loss.py                       # quick (the default)
# .venv/bin/python -m hmc run notebooks/03_rare_node_loss.py --profile smoke       # seconds
# .venv/bin/python -m hmc run notebooks/03_rare_node_loss.py -p n_seeds 5 -p measures '["gmu", "bbma"]'
# .venv/bin/python -m hmc run notebooks/06_hcal.py --profile smoke --out /tmp/try --results /tmp/try/results
# .venv/bin/python -m hmc run --all --profile quick                                # every notebook in order
# ```
#
# `--out` (default `book/`) is where the executed notebook goes, `--results` (default `results/`)
# where the results tables and the manifest go: point both elsewhere to try something without
# touching the book's record. Exit status: 0 when every notebook ran, 1 when a cell raised (the
# message names the notebook and the cell), 2 for bad arguments or parameters, 3 when a notebook
# stopped cleanly because a dataset is not on disk.
#
# The data: datasets are looked up in `$HMC_DATA_DIR`, then in a per-user cache directory.
#
# ```bash
# .venv/bin/python -m hmc data status                        # every dataset: present or missing, and where
# .venv/bin/python -m hmc data fetch cellcycle_FUN spo_FUN   # download from the public source, checksum checked
# ```
#
# The sweeps of chapters 02 to 06 are resumable: every finished (dataset, method, seed) unit is one
# file of the results store `results/<profile>/units/<notebook>/` (written atomically, with a
# checksum and its full configuration), from which the tidy table `results/<profile>/<notebook>.csv`
# is rebuilt; a rerun reads finished units back (only under the same configuration), so an
# interrupted run continues where it stopped. Training checkpoints every epoch where a sweep is
# given a checkpoint folder (the campaign, chapter 06).

# %% tags=["parameters", "hide-input"] mystnb={"code_prompt_show": "Show the parameters' defaults and what each one means", "code_prompt_hide": "Hide the defaults"}
profile = "quick"  # run profile (set by `python -m hmc run --profile`); this page reads every profile
root = ""  # the repository to report on; empty for the checkout that holds the `hmc` package
profiles_shown = ["smoke", "quick", "full"]  # profiles whose manifests are read, in this order

# %% tags=["hide-input"]
import os
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from myst_nb import glue

import hmc
from hmc import profiles as hmc_profiles
from hmc.book import reproduce_pages as rp
from hmc.book.rare_plots import set_style
from hmc.runner import notebook_sources
from hmc.runs.campaign import Campaign, plan_lines, print_status

# %% tags=["hide-input"]
set_style()
repo = Path(root) if root else Path(hmc.__file__).resolve().parents[1]
# the results tables and manifests: where `python -m hmc run --results` put them, else the repo's
results_root = (Path(os.environ["HMC_RESULTS_DIR"]) if "HMC_RESULTS_DIR" in os.environ and not root
                else repo / "results")
THIS_PAGE = "90_reproduce"
stems = [s.stem for s in notebook_sources(repo / "notebooks")]
print(f"{len(stems)} notebooks in notebooks/:")
print("\n".join(f"  {s}" for s in stems))

# %% [markdown]
# ## 1. The profiles
#
# A profile sets some of a notebook's parameters; the others keep the defaults of the notebook's
# `parameters` cell. `smoke` only checks that everything runs (the test suite uses it), `quick` (the
# default) is the book's setting on a laptop CPU, `full` is the papers' setting and meant for a GPU.
# The table is read from `hmc.profiles.NOTEBOOK_PROFILES`, the one place where profiles are defined.

# %% tags=["hide-input"]
print(f"default profile: {hmc_profiles.DEFAULT_PROFILE}")
profile_table = rp.profile_table(hmc_profiles.NOTEBOOK_PROFILES, hmc_profiles.PROFILE_NAMES)
profile_table.style.set_properties(**{"text-align": "left", "font-size": "0.9em"})

# %% [markdown]
# ## 2. Measured time per notebook and profile
#
# One row per manifest found under `results/<profile>/manifests/`: the wall time of the last run of
# that notebook under that profile (from the start of `python -m hmc run` to the notebook's last
# cell: kernel start-up, imports, data loading and training included), the device, and when it
# finished. A run whose sweeps read finished units back from their results tables instead of
# training them again says so, with what those units took when they ran: its own wall time is then
# far below the cost of its results. Manifests of the `smoke` profile are not committed (`results/smoke/` is git-ignored), so
# a `smoke` column appears only where this page was executed on a machine that ran them. A missing
# cell means no run of that notebook under that profile has been recorded.

# %% tags=["hide-input"]
manifests = rp.read_manifests(results_root, profiles_shown)
print(f"{len(manifests)} manifests read from results/*/manifests/")
rp.time_table(manifests, stems, profiles_shown)

# %% [markdown]
# The same wall times as bars, on a log scale (one notebook can take seconds under one profile and
# hours under another):

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The wall time of the last recorded run of each notebook, one bar per profile (log scale): from the start of `python -m hmc run` to the notebook's last cell."}}
fig = rp.wall_time_figure(manifests, stems, profiles_shown)
plt.show()

# For the introduction (glued): the chapters (this page excluded) with a recorded `quick` run, and
# what they take from scratch: each run's wall time plus the stored training time of the units it
# read back from the results tables.
chapters = [s for s in stems if s != THIS_PAGE]
quick = rp.quick_cost(manifests, chapters)
glue("quick_total_min", quick["total_s"] / 60, display=False)
glue("quick_count", quick["count"], display=False)
print(f"quick profile: {quick['count']} of {len(chapters)} chapters have a recorded run;")
print(f"their wall times add up to {rp.duration(quick['wall_s'])}, plus {rp.duration(quick['read_back_s'])} "
      f"of training stored in the results tables they read back: {rp.duration(quick['total_s'])} from scratch")

# %% [markdown]
# ## 3. Training time held in the results tables
#
# The sweeps of chapters 02 to 06 store one row per (dataset, method, seed) unit with that unit's
# share of the training wall time (`wall_time_s`: the wall time of a batch of seeds divided by its
# seeds). A rerun reads finished units back instead of training them again, so the last run of a
# long sweep can take seconds while its table holds hours of training. A sweep still in progress
# when this page ran counts the units finished by then. Summed per notebook, profile and dataset
# (`units`: the (method, seed) units the table holds for that dataset):

# %% tags=["hide-input"]
stored = rp.stored_training(results_root, profiles_shown, stems)
if len(stored):
    display(stored.drop(columns=["training_s", "device"]).set_index(["notebook", "profile", "dataset"]))
    display(Markdown("Per notebook and profile, all datasets together, and the device the units trained on:"))
    display(rp.stored_totals(stored))
else:
    print("no results tables found")

# %% [markdown]
# ## 4. Execution status of every page
#
# Each executed page in `book/` records the parameters it was run with (papermill's metadata) and
# ends with a provenance cell. The table joins each page with the manifest of its profile: when the
# page was executed, on which device, at which commit (`+dirty`: with uncommitted changes outside
# `results/` and the executed notebooks under `book/`), how long it took and whether it finished.
# "manifest" says whether the manifest describes this very execution of the page (its start time
# matches); a later run of the same notebook under the same profile that wrote elsewhere (`--out`)
# would replace the manifest, and the row then shows only what the page itself records. This page's
# own provenance is at its bottom.

# %% tags=["hide-input"]
status = rp.page_status(rp.page_list(repo, stems, THIS_PAGE), manifests)
# three columns, so that the table fits the page's text column without scrolling sideways
rp.status_columns(status).style.set_properties(**{"text-align": "left", "font-size": "0.9em"})

# %% [markdown]
# ## 5. The evidence campaign: the papers' protocol, a slice at a time
#
# The `full` design of chapters 02 to 07 costs far more than a working session of a 2-core CPU, so
# it is earned as a campaign: one queue of work items (a dataset, a method and its seeds), ordered
# so that each CPU hour decides as many claims as it can (the rare-node claims 1 and 2 on four
# FunCat datasets: baseline, focal-bma, focal-gmu at H = 2 with 10 seeds; HCAL against its flat and
# C-HMCNN baselines on all of Omniglot, one seed per item; chapter 07's stress tests; HCAL's
# ablations; the other rare-node methods and claims; C-HMCNN and the rare-node design on GO). Each
# run advances it by a time budget and stops cleanly; training checkpoints every epoch, so a kill
# loses at most one; every finished unit is stored (`results/full/units/`; chapter 06 in its results
# table), and after each item its chapter's `book/full/` page and the verdicts page are re-executed.
#
# ```bash
# make campaign BUDGET=150m          # or: .venv/bin/python -m hmc campaign --budget 150m --threads 1
# .venv/bin/python -m hmc campaign status   # units done / total, CPU hours spent and left, per claim
# .venv/bin/python -m hmc campaign plan     # the unfinished items in order, with their estimates
# .venv/bin/python -m hmc store check       # verify every unit file (checksums)
# ```
#
# The status of the campaign as this page was executed (hours at one thread on this project's
# CPU; the estimates come from the measured cost of finished units of the same kind):

# %% tags=["hide-input"]
campaign = Campaign(results_root, book=repo / "book")
print_status(campaign)
print("\nThe next items of the queue:")
print("\n".join(plan_lines(campaign, limit=8)))

# %% [markdown]
# ## Summary
#
# - `make book` and `make test` do all the set-up; `python -m hmc run NOTEBOOK --profile P -p NAME VALUE`
#   reruns one chapter with other parameters, and `--out` / `--results` keep a trial away from the
#   book's record.
# - The profiles come from one table in `hmc/profiles.py`; sections 2 and 3 show what each run cost,
#   read from the manifests and the results tables, and section 4 shows when, where and at which
#   commit every page was executed.
# - The wall time of a resumable sweep's last run is not its cost: the results tables hold the
#   training time of every unit.
#
# **What's next:** {doc}`classroom` turns single-parameter reruns into exercises; {doc}`cite` says
# how to cite the study.
