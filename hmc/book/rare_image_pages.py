"""Figures, tables and steps of chapter 07 (the rare-node loss on images), from the stress sweep's tidy rows.

The tables and figures take the rows of a stress table (:data:`hmc.runs.stress_sweep.STRESS_COLUMNS`)
or the data of a dataset and return a DataFrame or a Figure (:data:`hmc.book.rare_plots.WIDTH` wide, at
most two panels per row, legends below the panels). An empty table (nothing of the design has run yet)
gives None in place of a table or figure, never an error, so that a page reading a campaign's partial results
shows what exists. The page's steps are one call each: checking the parameters, choosing the device,
running the sweep of every dataset, and the ``show_*`` functions, which display each dataset's figure (or
print why there is none) and return nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns

from hmc.book.pages import levels_text, mean_std_cell, resolve_device
from hmc.book.rare_plots import grid, legend_below
from hmc.data.image_subsets import node_targets
from hmc.encoders import describe as describe_encoder
from hmc.errors import DatasetMissingError
from hmc.metrics import frequency_buckets
from hmc.rare_images_evidence import ROLES, bucket_recall
from hmc.rare_nodes import rare_config
from hmc.runs.stress_sweep import STRESS_COLUMNS, EncoderNotMade, run_stress_sweep

DATASETS = ("omniglot", "cifar100", "aircraft")
"""The datasets chapter 07 can stress: Omniglot (required), CIFAR-100 and FGVC-Aircraft."""


def check_parameters(datasets, n_seeds: int, epochs: int, n_heads: int) -> None:
    """Returns nothing; ValueError unless ``datasets`` is a non-empty list of :data:`DATASETS` and
    ``n_seeds``, ``epochs`` and ``n_heads`` are at least 1."""
    if not datasets or set(datasets) - set(DATASETS):
        raise ValueError(f"datasets must be a non-empty list of {DATASETS}, got {datasets}")
    if n_seeds < 1 or epochs < 1 or n_heads < 1:
        raise ValueError(f"n_seeds, epochs and n_heads must be at least 1, got {n_seeds}, {epochs}, {n_heads}")


def use_device(device: str, num_threads: int) -> str:
    """The device to train on (:func:`hmc.book.pages.resolve_device` of ``device``); on the CPU, torch's
    threads are set to ``num_threads`` first when it is above 0 (0: torch's default)."""
    import torch

    device = resolve_device(device)
    if device == "cpu" and num_threads > 0:
        torch.set_num_threads(num_threads)
    return device


def palette() -> dict[str, tuple]:
    """One colour per method role (:data:`hmc.rare_images_evidence.ROLES`), the same on every figure."""
    return dict(zip(ROLES, sns.color_palette("tab10", len(ROLES)), strict=True))


def method_table(roles: Mapping[str, str]) -> pd.DataFrame:
    """Per role: the method's name, heads, loss, imbalance weights, focal factor and LPROS budget."""
    rows = []
    for role, method in roles.items():
        c = rare_config(method)
        rows.append({"role": role, "method": method, "heads H": c.n_members, "loss": c.loss,
                     "imbalance weights": "y = 0 terms" if c.has_weights else "-",
                     "focal m + u^k": f"{c.focal_floor:g} + {c.measure}^{c.exponent:g}" if c.loss == "focal" else "-",
                     "LPROS": f"budget {c.lpros_budget:g}" if c.lpros else "-"})
    return pd.DataFrame(rows).set_index("role")


def load_datasets(kinds: Mapping, required: str) -> dict:
    """The data of each kind's dataset (:meth:`hmc.runs.stress_sweep.StressKind.data`); a dataset whose
    files are not on disk is left out with a printed line, except ``required``, which raises."""
    loaded = {}
    for name, kind in kinds.items():
        try:
            loaded[name] = kind.data(name)
        except DatasetMissingError as err:
            if name == required:
                raise
            print(f"not on disk, left out: {name} ({str(err).splitlines()[0]})")
    return loaded


def encoder_table(kinds: Mapping, loaded: Mapping, required: str):
    """The pretrained encoder of each loaded dataset, a table describing them, and the datasets left out.

    Prints each encoder's name, SHA-256, file (relative to the working folder) and the command that made
    it. A dataset with no encoder that can be made here (CIFAR-100 or Aircraft without the ImageNet
    weights) is left out with a printed line, except ``required``, which raises; one whose encoder is
    not made yet by a kind that must not pretrain (a page reading the campaign's results) is named."""
    encoders, rows, left_out = {}, [], []
    for name in loaded:
        try:
            encoders[name] = kinds[name].encoder(name)
        except EncoderNotMade as err:
            print(f"{name}: {err}")
            continue
        except ValueError as err:
            if name == required:
                raise
            print(f"left out: {name} ({err})")
            left_out.append(name)
            continue
        enc = encoders[name]
        rows.append({"dataset": name, **describe_encoder(enc)})
        print(f"{name}: {enc.name}, sha256 {enc.sha256}\n  file: {os.path.relpath(enc.path)}\n"
              f"  made by: {enc.info.get('command', '-')}")
    if not rows:
        return encoders, None, left_out
    table = pd.DataFrame(rows).set_index("dataset").drop(columns=["command", "file"], errors="ignore")
    styled = table.style.format({"held-out accuracy": "{:.3f}", "chance": "{:.4f}", "seconds": "{:.0f}"})
    return encoders, styled, left_out


def data_table(loaded: Mapping[str, object]) -> pd.DataFrame:
    """Per dataset: its levels (finest first), split sizes, image shape and training images per finest class."""
    rows = []
    for name, data in loaded.items():
        counts = np.bincount(data.y_train[:, 0].numpy(), minlength=len(data.class_names[0]))
        rows.append({"dataset": name, "levels (finest first)": levels_text(data), "train": len(data.x_train), "test": len(data.x_test), "image": "x".join(map(str, data.image_shape)),
            f"train images per {data.level_names[0]}": f"{counts.min()}-{counts.max()} (median {np.median(counts):g})"})
    return pd.DataFrame(rows).set_index("dataset")


def long_tail_figure(name: str, data):
    """Training images per finest class (most frequent first) and nodes per training-frequency bucket."""
    fig, (left, right) = grid(2, 3.0)
    counts = np.sort(np.bincount(data.y_train[:, 0].numpy(), minlength=len(data.class_names[0])))[::-1]
    left.bar(np.arange(len(counts)), counts, width=1.0, color="tab:blue")
    left.set_xlabel(f"{data.level_names[0]} classes, most frequent first")
    left.set_ylabel("training images")
    left.set_title(f"{name}: {len(counts)} classes")
    buckets = pd.Series(frequency_buckets(node_targets(data, data.y_train).sum(axis=0))).value_counts(sort=False)
    right.bar(buckets.index.astype(str), buckets.values, color="tab:orange")
    right.set_xlabel("training positives of a node")
    right.set_ylabel("nodes")
    right.set_title("nodes per frequency bucket")
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def run_sweeps(design, kinds: Mapping, datasets, results_path, **sweep_kwargs) -> pd.DataFrame:
    """The stress table of the ``design``'s units (:func:`hmc.runs.stress_sweep.stress_design`) of each
    of ``datasets``, in that order: :func:`hmc.runs.stress_sweep.run_stress_sweep` of the dataset's units
    with its kind of ``kinds`` and ``sweep_kwargs`` (``train``, ``checkpoint_dir``, ...); an empty table
    with :data:`~hmc.runs.stress_sweep.STRESS_COLUMNS` when ``datasets`` is empty."""
    tables = [run_stress_sweep([u for u in design if u.dataset == name], results_path, kind=kinds[name], **sweep_kwargs)
              for name in datasets]
    return pd.concat(tables or [pd.DataFrame(columns=STRESS_COLUMNS)], ignore_index=True)


def units_line(units: pd.DataFrame, n_design: int, seconds: float) -> str:
    """One line: how many of the design's ``n_design`` units the table holds (``units``: one row per
    unit), this run's ``seconds`` and, when there is a unit, their summed training time in minutes and
    their devices."""
    line = f"{len(units)} of the design's {n_design} units in the table; this run: {seconds:.0f} s"
    if len(units):
        line += (f"; training time of all units {units.wall_time_s.sum() / 60:.1f} min "
                 f"({', '.join(sorted(set(units.device)))})")
    return line


def reference_summary(table: pd.DataFrame, found: Mapping[str, str]) -> tuple[pd.DataFrame | None, str]:
    """At a = 0, f = 1: per method, each level's top-1 accuracy, macro F1 and AU(PRC) (mean ± std over
    seeds, :func:`hmc.book.pages.mean_std_cell`), a row of chance accuracies; and one line on the baseline's finest-level accuracy vs chance."""
    ref = table[(table.degradation == 0) & (table.fraction == 1)]
    if ref.empty:
        return None, "no finished unit at a = 0, f = 1 yet"
    levels = [m.removeprefix("acc_") for m in pd.unique(ref.metric) if m.startswith("acc_")]
    rows = []
    for role, method in found.items():
        r = ref[ref.method == method]
        cells = {}
        for metric in [f"acc_{lv}" for lv in levels] + ["macro_f1", "au_prc"]:
            v = r[r.metric == metric].value
            cells[metric] = mean_std_cell(v.mean(), v.std(ddof=1), 3)  # one seed: the mean alone
        rows.append({"role": role, "seeds": r.seed.nunique(), **cells})
    rows.append({"role": "chance (largest test class)", "seeds": "",
                 **{f"acc_{lv}": f"{ref[ref.metric == f'chance_{lv}'].value.mean():.3f}" for lv in levels}})
    summary = pd.DataFrame(rows).set_index("role").fillna("")
    base = ref[ref.method == found.get("baseline")]
    if base.empty:
        return summary, "no baseline unit at a = 0, f = 1 yet"
    finest = levels[0]

    def mean(metric):
        return float(base[base.metric == metric].value.mean())

    line = (f"baseline heads at a = 0, f = 1: {finest} accuracy {mean(f'acc_{finest}'):.3f} (chance "
            f"{mean(f'chance_{finest}'):.4f}, {mean(f'acc_{finest}') / mean(f'chance_{finest}'):.1f}x)")
    if len(levels) > 1:
        line += f", {levels[1]} accuracy {mean(f'acc_{levels[1]}'):.3f} (chance {mean(f'chance_{levels[1]}'):.3f})"
    return summary, line


def stress_figure(curves: Mapping[str, pd.DataFrame], data_name: str, found: Mapping[str, str]):
    """Each metric of ``curves`` (:func:`hmc.rare_images_evidence.stress_curves`) against the
    degradation a (all the data) and against the training fraction f (intact encoder), one line per
    method, mean over seeds with a bar of ± one standard deviation; one row per metric, the dataset's
    name as the figure's title; None when nothing has run."""
    if all(c[c.data == data_name].empty for c in curves.values()):
        return None
    order, colors = [r for r in ROLES if r in found], palette()
    fig, axes = grid(2 * len(curves), 2.9)
    for i, (metric, cur) in enumerate(curves.items()):
        for j, test in enumerate(("degradation", "fraction")):
            ax = axes[2 * i + j]
            c = cur[(cur.data == data_name) & (cur.test == test)]
            if c.empty:
                ax.text(0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes)
                continue
            sns.lineplot(data=c, x="level", y="value", hue="role", hue_order=order, palette=colors,
                         errorbar="sd", err_style="bars", marker="o", ax=ax, legend=False)
            levels = sorted(c.level.unique())
            if test == "fraction":
                ax.set_xscale("log")
                ax.set_xticks(levels, [f"{v:.0%}" for v in levels])
                ax.minorticks_off()
            else:
                ax.set_xticks(levels)
            ax.set_xlabel("encoder degradation a" if test == "degradation" else "training fraction f")
            ax.set_ylabel(metric.replace("_", " "))
    handles = [ax.plot([], [], color=colors[r], marker="o")[0] for r in order]
    legend_below(fig, handles, order, ncol=len(order))
    fig.suptitle(data_name)
    fig.tight_layout()
    return fig


def show_stress_figures(curves: Mapping[str, pd.DataFrame], names, found: Mapping[str, str]) -> None:
    """Returns nothing; displays :func:`stress_figure` of each dataset of ``names`` (then closes it), or
    prints ``<name>: no finished unit yet`` for a dataset with nothing to draw."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    for name in names:
        if (fig := stress_figure(curves, name, found)) is None:
            print(f"{name}: no finished unit yet")
        else:
            display(fig)
            plt.close(fig)


def stress_table(curve: pd.DataFrame, found: Mapping[str, str]):
    """Mean over seeds per (dataset, test, level) and method, with each method's difference to the baseline,
    styled (differences signed, 4 decimals); None when nothing has run."""
    if curve.empty:
        return None
    wide = curve.groupby(["data", "test", "level", "role"]).value.mean().unstack("role")
    wide = wide.reindex(columns=[r for r in ROLES if r in found])
    if "baseline" in wide:
        for r in wide.columns.drop("baseline"):
            wide[f"{r} − baseline"] = wide[r] - wide["baseline"]
    differences = [c for c in wide.columns if "−" in c]
    return wide.style.format("{:+.4f}", subset=differences).format(
        "{:.4f}", subset=[c for c in wide.columns if c not in differences])


def bucket_figure(table: pd.DataFrame, data_name: str, found: Mapping[str, str], conditions):
    """Recall per training-frequency bucket (mean over seeds), one panel per ``(a, f)`` of
    ``conditions`` that has results, bars per method, the dataset's name as the figure's title; None
    when none has. Also returns the buckets where no method finds any positive, per condition."""
    order, colors = [r for r in ROLES if r in found], palette()
    parts = [(a, f, bucket_recall(table[table.data == data_name], a, f)) for a, f in conditions]
    parts = [(a, f, b) for a, f, b in parts if not b.empty]
    if not parts:
        return None, {}
    fig, axes = grid(len(parts), 3.2, sharey=True)
    silent = {}
    for ax, (a, f, b) in zip(axes, parts, strict=True):
        sns.barplot(data=b, x="bucket", y="mean", hue="role", hue_order=order, palette=colors, ax=ax, legend=False)
        ax.set_ylabel("recall (mean over seeds)")
        ax.set_xlabel("training positives of the node")
        ax.set_title(f"a = {a:g}, f = {f:.0%}")
        ax.tick_params(axis="x", rotation=30)
        best = b.groupby("bucket", sort=False)["mean"].max()
        silent[(a, f)] = [str(k) for k, v in best.items() if v == 0]
        if best.max() == 0:  # no bar to see: say so in the panel
            ax.text(0.5, 0.5, "recall 0 in every bucket:\nno method finds a positive", ha="center", va="center",
                    transform=ax.transAxes)
    handles = [ax.bar([0], [0], color=colors[r])[0] for r in order]
    for h in handles:
        h.remove()
    legend_below(fig, handles, order, ncol=len(order))
    fig.suptitle(data_name)
    fig.tight_layout()
    return fig, silent


def silent_lines(data_name: str, silent: Mapping) -> list[str]:
    """One sentence per condition ``(a, f)`` of ``silent`` (:func:`bucket_figure`'s second value) that
    has buckets where no method finds any positive, naming them; none for a condition without."""
    return [f"{data_name}, a = {a:g}, f = {f:.0%}: no method finds any positive of the nodes in bucket(s) "
            f"{', '.join(buckets)} (no such node scores above 0.5 for any test image)"
            for (a, f), buckets in silent.items() if buckets]


def show_bucket_figures(table: pd.DataFrame, names, found: Mapping[str, str], conditions) -> None:
    """Returns nothing; per dataset of ``names``, prints :func:`silent_lines` and displays
    :func:`bucket_figure` at ``conditions`` (then closes it; nothing when it has no results)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    for name in names:
        fig, silent = bucket_figure(table, name, found, conditions)
        for line in silent_lines(name, silent):
            print(line)
        if fig is not None:
            display(fig)
            plt.close(fig)


def verdict_cards(evidence: pd.DataFrame) -> list:
    """Per claim (row) of ``evidence`` (:func:`hmc.rare_images_evidence.claims_evidence_07`), its card as
    an IPython Markdown: the statement, the verdict beside the rule's alone (gates ignored), the evidence,
    why it is not decided (only when there is a reason) and the rule."""
    from IPython.display import Markdown

    return [Markdown(f"**Claim {row.claim}**: {row.statement}\n\n*Verdict:* **{row.verdict}** (the rule alone, "
                     f"gates ignored: {row.rule_verdict}).\n\n*Evidence:* {row.evidence}\n\n"
                     + (f"*Why not decided:* {row.reason}\n\n" if row.reason else "") + f"*Rule:* {row.rule}")
            for row in evidence.itertuples()]


def verdict_glues(evidence: pd.DataFrame) -> dict[str, str]:
    """The verdicts the page glues, by name: ``ch07_verdict_claim<N>`` (N: the claim's number, the
    first word of ``evidence.claim``) -> the claim's verdict."""
    return {f"ch07_verdict_claim{claim.split()[0]}": verdict for claim, verdict in zip(evidence.claim, evidence.verdict)}


def settings_used(units: pd.DataFrame) -> pd.DataFrame | None:
    """Per dataset: the encoder (and the first 16 hex digits of its SHA-256), image size, heads, epochs,
    batch, seeds, imbalance and device of the finished units (one row per unit in ``units``)."""
    if units.empty:
        return None
    return units.groupby("data").agg(
        encoder=("encoder", "first"), sha256=("encoder_sha256", lambda s: s.iloc[0][:16]),
        image_size=("image_size", "first"), heads=("n_heads", "first"), epochs=("epochs", "first"),
        batch=("batch_size", "first"), seeds=("seed", "nunique"), imbalance=("imbalance", "first"),
        device=("device", "first"))
