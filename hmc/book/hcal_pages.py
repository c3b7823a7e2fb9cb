"""Tables of the HCAL chapter (06) that read its tidy results (:data:`hmc.image_train.RESULT_COLUMNS`).

The chapter's figures are in :mod:`hmc.book.hcal_plots`. Every function here takes the results (or
history) table the sweep returned and returns a DataFrame, a Styler or a line of text; a table that
has nothing to show (the evidence campaign fills the ``full`` design a unit at a time, so a page may
hold one method and one seed, or nothing yet) is None, never an error.

:func:`coverage_table` says how much of the design a page shows; :func:`robustness_long` and
:func:`robustness_table` read the test accuracy under Gaussian input noise of strength sigma
(:mod:`hmc.metrics.robustness`), measured at the last epoch, so they read the ``last`` protocol;
sigma 0 is the clean test accuracy of the same epoch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hmc.book.pages import key_first, levels_text, mean_std_cell, results_csv
from hmc.claims.design import PAPER_EPOCHS
from hmc.data.images import IMAGE_HIERARCHIES
from hmc.display_paths import display_path
from hmc.errors import DatasetMissingError
from hmc.hcal_evidence import BASELINES, hcal_sensitivity, level_table, weight_balance
from hmc.image_train import METHOD_LABELS, method_config
from hmc.metrics.levels import SELECTION_PROTOCOLS

_ROBUST = re.compile(r"robust_(acc_.+|full_path)@(.+)")
KEY = ["dataset", "method", "seed"]
PROTOCOL_TITLES = {"authors": "authors' protocol: epoch selected on the TEST set (optimistic)",
                   "last": "last epoch (no selection)",
                   "validation": "epoch selected on the validation split"}
"""How a table or figure names each model-selection protocol."""
PAPER_NAMES = {"cifar100": "CIFAR-100", "aircraft": "Aircraft"}
REFERENCE_EPOCHS = {d: f"{e} ({PAPER_NAMES[d]})" for d, e in PAPER_EPOCHS.items()}
"""The paper's training epochs per dataset (:data:`hmc.claims.design.PAPER_EPOCHS`; none for the
datasets it did not use), as the settings table shows them."""


# ------------------------------------------------------------------------------- set-up
def check_parameters(datasets: Sequence[str], methods: Sequence[str], n_seeds: int, epochs: int,
                     aircraft_box_crop: str) -> None:
    """ValueError unless ``datasets`` is a non-empty list of :data:`IMAGE_HIERARCHIES`, ``methods`` a
    non-empty list of :data:`METHOD_LABELS`, ``n_seeds`` and ``epochs`` at least 1 and
    ``aircraft_box_crop`` one of "none", "train", "train+test"."""
    unknown = sorted(set(datasets) - set(IMAGE_HIERARCHIES))
    if unknown or not datasets:
        raise ValueError(f"datasets must be a non-empty list of {IMAGE_HIERARCHIES}, got {datasets}")
    bad = [m for m in methods if m not in METHOD_LABELS]
    if bad or not methods:
        raise ValueError(f"unknown method labels {bad}; known: {', '.join(METHOD_LABELS)}")
    if n_seeds < 1 or epochs < 1:
        raise ValueError(f"n_seeds and epochs must be at least 1, got {n_seeds} and {epochs}")
    if aircraft_box_crop not in ("none", "train", "train+test"):
        raise ValueError(f"aircraft_box_crop must be 'none', 'train' or 'train+test', got {aircraft_box_crop!r}")


def result_paths(profile: str, results_file: str = "", checkpoint_dir: str = "") -> tuple[Path, Path, Path, Path]:
    """The chapter's results CSV (:func:`hmc.book.pages.results_csv` of ``06_hcal.csv``), its history
    CSV ``<stem>_history.csv`` and its embeddings folder ``<stem>_embeddings`` beside it, and the
    checkpoints folder (``checkpoint_dir``, else ``_build/checkpoints/06_hcal/<profile>``)."""
    results = results_csv(profile, "06_hcal.csv", results_file)
    checkpoints = Path(checkpoint_dir or Path("_build") / "checkpoints" / "06_hcal" / profile)
    return (results, results.with_name(results.stem + "_history.csv"), results.with_name(results.stem + "_embeddings"),
            checkpoints)


def use_device(device: str, num_threads: int, paths: Sequence[Path]) -> str:
    """Set torch's CPU threads to ``num_threads`` when ``device`` is ``"cpu"`` and it is > 0, and say
    where the run reads and writes: ``"device: cpu (torch threads 1); results: <results>, <history
    name>, <embeddings name>/; checkpoints: <checkpoints>/"`` (paths as :func:`display_path` shows them)."""
    import torch

    if device == "cpu" and num_threads > 0:
        torch.set_num_threads(num_threads)
    results, history, embeddings, checkpoints = paths
    return (f"device: {device} (torch threads {torch.get_num_threads()}); results: {display_path(results)}, "
            f"{history.name}, {embeddings.name}/; checkpoints: {display_path(checkpoints)}/")


def describe(label: str, epochs: int) -> dict:
    """The settings behind a method label (:func:`hmc.image_train.method_config`): model, balancer,
    aggregation and perturbation, "-" where they do not apply (the baselines)."""
    c = method_config(label, epochs)
    hcal = c.method == "hcal"
    return {"method": label, "model": c.method, "balancer": c.balancer if hcal else "-",
            "aggregation": ("yes" if c.aggregate else "no") if hcal else "-",
            "perturbation": (f"{c.noise} eps={c.eps:g}" if c.eps > 0 else "off") if hcal else "-"}


def method_table(methods: Sequence[str], epochs: int) -> pd.DataFrame:
    """:func:`describe` of each method, indexed by the label."""
    return pd.DataFrame([describe(m, epochs) for m in methods]).set_index("method")


def load_hierarchies(load: Callable, datasets: Sequence[str]) -> dict:
    """``{name: load(name)}`` for every dataset. When some are not on disk, each is printed with its
    message and one :class:`~hmc.errors.DatasetMissingError` names them all and how to leave them out."""
    loaded, missing = {}, {}
    for name in datasets:
        try:
            loaded[name] = load(name)
        except DatasetMissingError as err:
            missing[name] = str(err)
    if missing:
        for name, message in missing.items():
            print(f"not on disk: {name}\n  {message}\n")
        present = [n for n in datasets if n not in missing]
        raise DatasetMissingError("; ".join(f"{name}: {message}" for name, message in missing.items())
                                  + (f". Or leave it out: -p datasets '{json.dumps(present)}'" if present else ""))
    return loaded


def data_table(loaded: Mapping) -> pd.DataFrame:
    """Per dataset: its levels (finest first, with their numbers of classes), split sizes, image shape
    and how the split was made."""
    rows = [{"dataset": name, "levels (finest first)": levels_text(d), "train": len(d.x_train), "validation": 0 if d.x_val is None else len(d.x_val), "test": len(d.x_test),
        "image": "x".join(map(str, d.image_shape)), "split": d.split} for name, d in loaded.items()]
    return pd.DataFrame(rows).set_index("dataset")


# ------------------------------------------------------------------------------- what the page shows
def shown_methods(results: pd.DataFrame, methods: Sequence[str]) -> list[str]:
    """The methods of ``methods`` (in that order) with at least one row in ``results``."""
    present = set(results["method"].astype(str))
    return [m for m in methods if m in present]


def method_groups(methods: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(main, ablations)``: ``hcal`` and the baselines of ``methods`` (hcal first, then flat, mmoe,
    chmcnn), and its ``hcal-...`` labels in the order given."""
    return ([m for m in ["hcal", *BASELINES] if m in methods], [m for m in methods if m.startswith("hcal-")])


def coverage_table(results: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                   n_seeds: int) -> pd.DataFrame:
    """Per dataset and method: the finished seeds of ``0 .. n_seeds-1`` as ``"k / n_seeds"``, and the
    epochs and backbone of those units ("-" where none is finished). Rows in the order given."""
    units = results.drop_duplicates(KEY)
    rows = []
    for d in datasets:
        for m in methods:
            u = units[(units.dataset == d) & (units.method == m) & units.seed.astype(int).isin(range(n_seeds))]
            rows.append({"dataset": d, "method": m, "seeds": f"{len(u)} / {n_seeds}",
                         "epochs": ", ".join(map(str, sorted(set(u.epochs.astype(int))))) or "-",
                         "backbone": ", ".join(sorted(set(u.backbone.astype(str)))) or "-"})
    return pd.DataFrame(rows).set_index(["dataset", "method"])


def backbone_text(results: pd.DataFrame, dataset: str | None = None) -> str:
    """The backbone(s) the units of ``dataset`` (every dataset when None) trained, e.g. ``"conv4-w64"``."""
    rows = results if dataset is None else results[results.dataset == dataset]
    return ", ".join(sorted(set(rows["backbone"].dropna().astype(str)))) or "-"


def main_metrics(results: pd.DataFrame, dataset: str) -> list[str]:
    """The metrics of ``dataset`` in the order of the table (``acc_<level>`` finest first, ``full_path``,
    ``hvr``, ``consistent_full_path``), without the robustness metrics (``robust_...@sigma``)."""
    metrics = results.loc[results.dataset == dataset, "metric"].astype(str)
    return [m for m in dict.fromkeys(metrics) if not m.startswith("robust_")]


def cell_table(results: pd.DataFrame, dataset: str, protocol: str, methods: Sequence[str]) -> pd.DataFrame | None:
    """Mean +- std over seeds (:func:`hmc.hcal_evidence.level_table`, 3 decimals) of dataset
    ``dataset`` under one protocol: rows the methods with results (in the order given), columns
    :func:`main_metrics`. None when none of ``methods`` has rows of that protocol."""
    sel = results[(results.dataset == dataset) & results.method.isin(methods) & (results.protocol == protocol)]
    if sel.empty:
        return None
    t = level_table(sel, protocol)
    t = t.assign(cell=[mean_std_cell(m, s, 3) for m, s in zip(t["mean"], t["std"])])
    t = t.pivot_table(index="method", columns="metric", values="cell", aggfunc="first")
    return t.reindex(index=[m for m in methods if m in t.index], columns=main_metrics(sel, dataset))


def cell_tables(results: pd.DataFrame, datasets: Sequence[str], protocols: Sequence[str], methods: Sequence[str],
                what: str) -> list:
    """:func:`cell_table` of every dataset and protocol that has one, as Stylers captioned
    ``"<dataset>: <what> on <backbone>; <protocol title>"``."""
    out = []
    for name in datasets:
        for protocol in protocols:
            t = cell_table(results, name, protocol, methods)
            if t is not None:
                out.append(t.style.set_properties(**{"white-space": "nowrap"})  # "mean ± std" on one line
                           .set_caption(f"{name}: {what} on {backbone_text(results, name)}; {PROTOCOL_TITLES[protocol]}"))
    return out


def design_tables(results: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str],
                  n_seeds: int) -> tuple[list, str]:
    """The training section's tables, as captioned Stylers: :func:`coverage_table`, then
    :func:`cost_table` when a unit has finished; with the cost table's line."""
    tables = [coverage_table(results, datasets, methods, n_seeds).style.set_caption(
        "how much of the design has finished: seeds per method, their epochs and backbone")]
    cost, line = cost_table(results)
    if cost is not None:
        tables.append(cost.style.format({"seconds": "{:.1f}", "s per epoch": "{:.2f}"})
                      .set_caption("what the finished units cost"))
    return tables, line


def protocols(results: pd.DataFrame) -> tuple[list[str], str]:
    """The model-selection protocols the results hold (in :data:`SELECTION_PROTOCOLS` order), and the
    one the ablations and verdicts read: ``validation`` where it exists, else ``last``."""
    present = [p for p in SELECTION_PROTOCOLS if p in set(results.protocol)]
    return present, "validation" if "validation" in present else "last"


def cost_table(results: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Per dataset and method: seeds, epochs, seconds of training and evaluation (all seeds), device,
    whether pretrained weights were used, and seconds per epoch (seconds / seeds / epochs); with a line
    on the number of units and the total minutes. ``(None, line)`` when no unit has finished."""
    units = results.drop_duplicates(KEY)
    if units.empty:
        return None, "no unit has finished yet: nothing was trained or read back"
    cost = (units.groupby(["dataset", "method"], sort=False)
            .agg(seeds=("seed", "size"), epochs=("epochs", "first"), backbone=("backbone", "first"),
                 seconds=("wall_time_s", "sum"), device=("device", "first"), pretrained=("pretrained_used", "first")))
    cost["s per epoch"] = cost.seconds / cost.seeds / cost.epochs.astype(float)
    line = (f"{len(units)} unit{'' if len(units) == 1 else 's'}, {cost.seconds.sum() / 60:.1f} min of training and evaluation in all "
            "(units read back from an earlier run keep the time they took then)")
    return cost, line


def weight_summary(history: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str]) -> pd.DataFrame | None:
    """Per dataset and method, the mean over seeds of :func:`hmc.hcal_evidence.weight_balance` at each
    run's last epoch: each level's share of the weights, the largest share and the balance. None when
    the history holds no run of these datasets and methods."""
    if history.empty or not any(str(c).startswith("weight_") for c in history.columns):
        return None
    hist = history[history.dataset.isin(list(datasets)) & history.method.isin(list(methods))]
    if hist.empty:
        return None
    balance = weight_balance(hist, last_epoch_only=True)
    shares = [c for c in balance.columns if c.startswith("share_") and balance[c].notna().any()]
    return balance.groupby(["dataset", "method"], sort=False)[[*shares, "max_share", "balance"]].mean()


# ------------------------------------------------------------------------------- robustness
def weight_tables(history: pd.DataFrame, datasets: Sequence[str], methods: Sequence[str], backbone: str) -> list:
    """:func:`weight_summary` as a one-element list of a Styler (three decimals, captioned with the
    backbone), or an empty list when there is no training history."""
    summary = weight_summary(history, datasets, methods)
    if summary is None:
        return []
    return [summary.style.format("{:.3f}", na_rep="-").set_caption(
        f"level weights at the last epoch on {backbone} (shares, mean over seeds)")]


def robustness_long(results: pd.DataFrame, dataset: str, methods: Sequence[str]) -> pd.DataFrame:
    """Per seed, the last epoch's test accuracy under noise: columns ``method, seed, sigma, metric, value``
    with ``metric`` ``acc_<level>`` or ``full_path`` and sigma 0 the clean accuracy (empty when no
    unit of ``dataset`` measured robustness)."""
    empty = pd.DataFrame(columns=["method", "seed", "sigma", "metric", "value"])
    last = results[(results.dataset == dataset) & (results.protocol == "last") & results.method.isin(methods)]
    if last.empty:
        return empty
    parsed = last.metric.astype(str).str.extract(_ROBUST)
    noisy = last[parsed[0].notna()].assign(metric=parsed[0].dropna(), sigma=parsed[1].dropna().astype(float))
    if noisy.empty:
        return empty
    measured = set(zip(noisy.method, noisy.seed))
    was_measured = np.array([(m, s) in measured for m, s in zip(last.method, last.seed)], dtype=bool)
    clean = last[last.metric.isin(set(noisy.metric)).to_numpy() & was_measured]
    both = pd.concat([clean.assign(sigma=0.0), noisy], ignore_index=True)
    both = both[~both.duplicated(["method", "seed", "sigma", "metric"], keep="last")]  # a measured sigma 0 wins
    return both[["method", "seed", "sigma", "metric", "value"]].sort_values(["method", "metric", "sigma", "seed"],
                                                                          ignore_index=True)


def robustness_table(results: pd.DataFrame, dataset: str, methods: Sequence[str], metric: str) -> pd.DataFrame | None:
    """Mean +- std over seeds of ``metric`` (``acc_<level>`` or ``full_path``) at each sigma: rows the
    methods in the order given, columns ``sigma = s``; None when nothing was measured."""
    long = robustness_long(results, dataset, methods)
    long = long[long.metric == metric]
    if long.empty:
        return None
    stats = long.groupby(["method", "sigma"]).value.agg(["mean", "std", "count"])
    cells = pd.Series([mean_std_cell(m, s, 3) for m, s in zip(stats["mean"], stats["std"])], index=stats.index)
    table = cells.unstack("sigma")
    table.columns = [f"sigma = {s:g}" for s in table.columns]
    return table.reindex([m for m in methods if m in table.index])


def robustness_tables(results: pd.DataFrame, levels: Mapping[str, Sequence[str]], methods: Sequence[str]) -> list:
    """Per dataset (``levels``: dataset -> its level names, finest first), :func:`robustness_table` of
    the finest level and of the full path, as Stylers captioned with the dataset, the metric and the
    backbone; the datasets where nothing was measured are left out."""
    out = []
    for name, level_names in levels.items():
        for metric, title in ((f"acc_{level_names[0]}", f"{level_names[0]} accuracy"), ("full_path", "full-path accuracy")):
            t = robustness_table(results, name, methods, metric)
            if t is not None:
                out.append(t.style.set_properties(**{"white-space": "nowrap"}).set_caption(
                    f"{name}: {title} under input noise sigma on "
                    f"{backbone_text(results, name)}; last epoch, mean ± std over seeds"))
    return out


# ------------------------------------------------------------------------------- verdicts and settings
def verdict_report(card: pd.DataFrame, protocols: Mapping[str, str], design: Mapping, conventions: Sequence[str],
                   n_seeds: int, epochs: int, profile: str) -> str:
    """The scorecard as text: the rules' shared conventions, the protocol and test design per dataset,
    then per claim its statement, verdict, rule, evidence, test, why it is inconclusive (when it is),
    the verdict of the rule alone, the evidence strength and the paper's figure beside ours."""
    lines = ["Conventions of every rule:", *(f"- {text}".replace("**", "") for text in conventions), "",
             "verdict protocol per dataset: " + (", ".join(f"{d}: {p}" for d, p in protocols.items()) or "-")
             + f"; {n_seeds} seed(s); {epochs} epoch(s); profile {profile!r}"
             + ("  (a pipeline check, not the paper's protocol)" if profile != "full" else ""),
             "test design per dataset: " + "; ".join(
                 f"{d}: {g.n_test} test images, classes " + ", ".join(f"{k} {v}" for k, v in g.classes.items())
                 for d, g in design.items())]
    for row in card.itertuples():
        lines += ["", f"Claim {row.claim}: {row.statement}", f"  verdict:  {row.verdict}", f"  rule:     {row.rule}",
                  f"  evidence: {row.evidence}", f"  test:     {row.test}"]
        if row.reasons:
            lines.append(f"  why inconclusive: {row.reasons}")
        lines += [f"  rule alone (gates ignored): {row.rule_verdict}", f"  strength: {row.strength}",
                  f"  paper:    {row.paper}", f"  ours:     {row.ours}"]
    return "\n".join(lines)


def scorecard_table(card: pd.DataFrame):
    """The scorecard's claims, statements, verdicts and reasons as a left-aligned Styler without index."""
    return (card[["claim", "statement", "verdict", "reasons"]].rename(columns={"reasons": "why inconclusive"})
            .style.hide(axis="index").set_caption("HCAL's claims: the verdicts").set_properties(**{"text-align": "left"}))


def sensitivity_table(results: pd.DataFrame, history: pd.DataFrame, claims: Sequence[int], design: Mapping):
    """:func:`hmc.hcal_evidence.hcal_sensitivity` of every claim, one table with a ``claim`` column
    ("claim 1", ...) and without ``detail``, its first three columns as the index
    (:func:`hmc.book.pages.key_first`), left-aligned."""
    frames = {f"claim {k}": hcal_sensitivity(results, k, history, design) for k in claims}
    table = pd.concat(frames, names=["claim", "row"]).reset_index(level="row", drop=True).reset_index()
    return key_first(table.drop(columns=["detail"]), 3).style.set_properties(**{"text-align": "left"})


def settings_used(results: pd.DataFrame, protocols: Mapping[str, str]) -> pd.DataFrame | None:
    """Per dataset, the settings its finished units ran with: image size, backbone, epochs, schedule,
    batch, seeds, methods, whether pretrained weights were used ("yes", "no", "some units"), device,
    the paper's epochs where it used the dataset, and the verdict protocol. None when no unit finished."""
    units = results.drop_duplicates(KEY)
    if units.empty:
        return None

    def used(s: pd.Series) -> str:
        flags = s.astype(str).str.lower().eq("true")
        return "yes" if flags.all() else ("no" if not flags.any() else "some units")

    joined = lambda s: ", ".join(sorted(set(s.astype(str))))  # noqa: E731
    table = units.groupby("dataset", sort=False).agg(
        image_size=("image_size", "first"), backbone=("backbone", joined), epochs=("epochs", joined),
        schedule=("schedule", joined), batch_size=("batch_size", "first"), seeds=("seed", "nunique"),
        methods=("method", "nunique"), pretrained_used=("pretrained_used", used), device=("device", joined))
    table["reference epochs"] = [REFERENCE_EPOCHS.get(d, "-") for d in table.index]
    table["verdict protocol"] = [protocols.get(d, "-") for d in table.index]
    return table
