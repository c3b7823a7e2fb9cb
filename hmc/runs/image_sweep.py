"""The image sweep: HCAL, its baselines and ablations over (dataset, method label, seed) units, resumably.

:func:`run_image_sweep` trains each unfinished unit with :func:`hmc.image_train.train_image_model`
(checkpointed every epoch) and replaces the unit's rows in the results and history tables under
an exclusive lock, so two sweeps writing one table keep each other's units.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hmc import provenance
from hmc.data.images import ImageHierarchy
from hmc.fileio import locked
from hmc.image_train import (
    LABEL_SETTINGS,
    METHOD_LABELS,
    RESULT_COLUMNS,
    SWEEP_KEY,
    ImageRunConfig,
    backbone_label,
    checkpoint_path,
    embeddings_path,
    method_config,
    result_rows,
    save_embeddings,
    train_image_model,
)
from hmc.runs.sweep import Unit, read_results, unique_units, write_results_atomic


def _unit_mask(table: pd.DataFrame, unit: Unit) -> pd.Series:
    return ((table["dataset"].astype(str) == unit.dataset) & (table["method"].astype(str) == unit.method)
            & (table["seed"].astype(int) == unit.seed))


HISTORY_KEY = (*SWEEP_KEY, "epoch", "split")
"""The columns of a history row that identify it (filled in every row, whatever the dataset's levels)."""


def _replace_unit_rows(path: str | os.PathLike, rows: pd.DataFrame, unit: Unit, columns: tuple[str, ...]) -> None:
    """Rewrite the CSV at ``path`` atomically with the unit's old rows (if any) replaced by ``rows``.

    ``columns`` are those every row of the table must fill (:func:`hmc.runs.sweep.read_results`):
    not the per-level columns of a history, which a dataset with fewer levels leaves empty.

    The read, replace and write run under an exclusive lock on ``<path>.lock``
    (:func:`hmc.fileio.locked`), so two sweeps writing one table never drop each other's units.
    """
    with locked(Path(f"{path}.lock")):
        table = read_results(path, columns)
        kept = table[~_unit_mask(table, unit)] if len(table) else table
        write_results_atomic(pd.concat([kept, rows], ignore_index=True) if len(kept) else rows, path)


def _sweep_units(units: Iterable) -> list[Unit]:
    """Units as :class:`hmc.runs.sweep.Unit`, duplicates dropped, labels checked."""
    out = unique_units(units)
    for unit in out:
        if unit.method not in LABEL_SETTINGS:
            raise ValueError(f"unknown method label {unit.method!r} in {tuple(unit)}; known: {', '.join(METHOD_LABELS)}")
    return out


def _check_finished(rows: pd.DataFrame, config: ImageRunConfig, unit: Unit, results_csv) -> None:
    """ValueError when a finished unit's rows were produced with other recorded settings."""
    wanted: dict[str, Any] = {"epochs": config.epochs, "batch_size": config.batch_size, "schedule": config.schedule,
                              "backbone": backbone_label(config)}
    if config.pretrained is not None:
        wanted["pretrained_used"] = config.pretrained
    stored = {key: rows[key].unique().tolist() for key in wanted}
    differs = [key for key in wanted if stored[key] != [wanted[key]]]
    if differs:
        raise ValueError(
            f"{results_csv} already holds unit {tuple(unit)} with settings "
            f"{ {k: stored[k] for k in differs} }, not { {k: wanted[k] for k in differs} }: use another results "
            "file (one per profile), or delete that unit's rows and its checkpoint"
        )


def _in_unit_order(table: pd.DataFrame, units: list[Unit]) -> pd.DataFrame:
    """The rows of ``table`` that belong to ``units``, grouped in the order of ``units``."""
    if table.empty:
        return table.reset_index(drop=True)
    keys = pd.DataFrame(units, columns=list(SWEEP_KEY))
    t = table.assign(dataset=table["dataset"].astype(str), method=table["method"].astype(str),
                     seed=table["seed"].astype(int))
    return keys.merge(t, on=list(SWEEP_KEY), how="inner")[list(table.columns)]


def run_image_sweep(
    units: Iterable[Unit | tuple[str, str, int]],
    results_csv: str | os.PathLike,
    history_csv: str | os.PathLike,
    *,
    load: Callable[[str], ImageHierarchy],
    epochs: int,
    checkpoint_dir: str | os.PathLike,
    progress: bool = True,
    on_unit_done: Callable[[pd.DataFrame], None] | None = None,
    embeddings_dir: str | os.PathLike | None = None,
    stop_at: float | None = None,
    train: bool = True,
    keep_checkpoints: bool = False,
    **common,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train the unfinished units of a sweep, one at a time, resumably; return the units' results and histories.

    Parameters
    ----------
    units
        ``(dataset, label, seed)`` triples, ``label`` in :data:`METHOD_LABELS`; run in the order
        given (duplicates once).
    results_csv
        Tidy results (:data:`RESULT_COLUMNS`, ``method`` = the label). A unit with rows there is
        finished and read back, not trained, provided the settings those rows record match this
        call's: ``epochs``, ``batch_size``, ``schedule``, ``backbone``, and ``pretrained_used`` when
        ``pretrained`` is given (True / False); otherwise ValueError. The other settings (learning
        rates, device, ...) are not in the rows: keep one results file per profile.
    history_csv
        Every unit's :attr:`ImageRunResult.history` with ``dataset, method, seed`` in front
        (the ``acc_<k>``, ``loss_<k>``, ``weight_<k>`` columns of the largest number of levels
        present; NaN where a dataset has fewer).
    load
        ``load(dataset) -> ImageHierarchy``; called only for datasets with an unfinished unit, and
        one dataset is held at a time (units of a dataset are best given together).
    epochs
        Training epochs of every unit.
    checkpoint_dir
        A unit trains with the checkpoint :func:`checkpoint_path` (``<dir>/<dataset>/<label>/seed<k>.pt``),
        so a unit killed mid-way continues from its last epoch (and refuses another config there).
    progress
        The trainer's tqdm bar.
    on_unit_done
        Called with a unit's result rows after they are written (only for units trained by this call).
    embeddings_dir
        If given, each HCAL-family unit trained by this call (``config.method == "hcal"``) also
        writes :func:`save_embeddings` (500 test images) to :func:`embeddings_path`.
    stop_at
        A ``time.time()`` at which to pause at an epoch boundary (:func:`train_image_model`): the unit
        in training keeps its checkpoint, nothing of it is written, and
        :class:`hmc.checkpoint.TrainingPaused` propagates; the next call continues it.
    train
        False: train nothing, only read back the finished units (a page that shows whatever part of
        the design the evidence campaign has finished).
    keep_checkpoints
        Keep a unit's checkpoint once its rows are written (by default it is deleted then: the
        results table marks the unit finished, and a ResNet-18's checkpoint is about 90 MB).
    common
        Shared :class:`ImageRunConfig` settings (:func:`method_config`); ``seed`` comes from the units.

    Returns
    -------
    (results, histories)
        The rows of the requested units from the two CSVs, grouped in the order of ``units``.

    Each trained unit: :func:`train_image_model` with its checkpoint; the embeddings (if asked);
    then its history, and last its result rows, replace any rows of that unit in the two CSVs
    (whole file rewritten atomically by :func:`hmc.train.write_results_atomic`). The result rows
    mark a unit finished, so a kill between the writes re-runs the unit, which returns at once
    from its final checkpoint. The model is dropped after each unit (CUDA cache emptied).
    """
    if "seed" in common:
        raise ValueError(f"seed is set per unit, not a shared setting (got seed={common['seed']!r})")
    units = _sweep_units(units)
    configs = {u: method_config(u.method, epochs, seed=u.seed, **common) for u in units}
    results = read_results(results_csv, RESULT_COLUMNS)
    missing = set(RESULT_COLUMNS) - set(results.columns)
    if missing:
        raise ValueError(f"{results_csv} lacks the columns {sorted(missing)}; is it a results table of run_image_sweep?")
    pending, read_back_s = [], 0.0
    for unit in units:
        rows = results[_unit_mask(results, unit)] if len(results) else results
        if len(rows):
            _check_finished(rows, configs[unit], unit, results_csv)
            read_back_s += float(rows["wall_time_s"].iloc[0])
        else:
            pending.append(unit)
    provenance.note_read_back(results_csv, len(units) - len(pending), read_back_s)
    if not train:
        pending = []

    loaded_name, data = None, None
    for unit in pending:
        if unit.dataset != loaded_name:
            data = None  # release the previous dataset before loading the next
            data, loaded_name = load(unit.dataset), unit.dataset
        config = configs[unit]
        result = train_image_model(data, config, checkpoint=checkpoint_path(checkpoint_dir, *unit), progress=progress,
                                   stop_at=stop_at)
        if embeddings_dir is not None and config.method == "hcal":
            save_embeddings(result, embeddings_path(embeddings_dir, *unit))
        on_cuda = result.device == "cuda"
        result.model = result.data = None
        rows = result_rows(unit.dataset, unit.method, unit.seed, result)
        history = result.history.copy()
        for i, (key, value) in enumerate(zip(SWEEP_KEY, unit)):
            history.insert(i, key, value)
        del result
        if on_cuda:
            torch.cuda.empty_cache()
        _replace_unit_rows(history_csv, history, unit, HISTORY_KEY)
        _replace_unit_rows(results_csv, rows, unit, RESULT_COLUMNS)
        if not keep_checkpoints:
            checkpoint_path(checkpoint_dir, *unit).unlink(missing_ok=True)
        if on_unit_done is not None:
            on_unit_done(rows)
    history_table = read_results(history_csv, HISTORY_KEY)
    return (_in_unit_order(read_results(results_csv, RESULT_COLUMNS), units), _in_unit_order(history_table, units))


# ------------------------------------------------------------------------------------- chapter 06's parameters
PARAMETERS = ("image_size", "synthetic_branching", "synthetic_per_class", "omniglot_alphabets", "omniglot_characters",
              "aircraft_box_crop", "validation", "epochs", "schedule", "batch_size", "pretrained", "device",
              "backbone", "width", "eval_every", "robustness_sigmas")
"""The chapter 06 notebook parameters that :func:`image_loader` and :func:`sweep_settings` read."""


def image_loader(values: dict) -> Callable[[str], ImageHierarchy]:
    """``load(name) -> ImageHierarchy`` with chapter 06's data options from its parameter values.

    The synthetic hierarchy is drawn with ``synthetic_branching`` and ``synthetic_per_class`` training
    images per finest class (half as many test and validation images); Omniglot keeps the first
    ``omniglot_alphabets`` alphabets and ``omniglot_characters`` characters of each (0: all); Aircraft
    is cropped to its boxes per ``aircraft_box_crop``; every dataset holds out a validation split when
    ``validation``. Raises :class:`hmc.errors.DatasetMissingError` for files not on disk.
    """
    from hmc.data import load_image_hierarchy

    v = dict(values)

    def load(name: str) -> ImageHierarchy:
        if name == "synthetic":
            return load_image_hierarchy("synthetic", branching=tuple(v["synthetic_branching"]),
                                        n_per_class=v["synthetic_per_class"],
                                        n_test_per_class=max(1, v["synthetic_per_class"] // 2),
                                        size=v["image_size"], validation=v["validation"], seed=0)
        if name == "omniglot":
            return load_image_hierarchy("omniglot", size=v["image_size"], max_alphabets=v["omniglot_alphabets"] or None,
                                        max_characters_per_alphabet=v["omniglot_characters"] or None,
                                        validation=v["validation"])
        if name == "cifar100":
            return load_image_hierarchy("cifar100", validation=v["validation"])
        return load_image_hierarchy("aircraft", size=v["image_size"], crop_to_box=v["aircraft_box_crop"] != "none",
                                    crop_test_to_box=v["aircraft_box_crop"] == "train+test",
                                    validation=v["validation"])

    return load


def sweep_settings(values: dict) -> dict[str, Any]:
    """The :func:`run_image_sweep` settings (``epochs`` and the shared :class:`ImageRunConfig` fields) of
    chapter 06's parameter values, so that the notebook and the evidence campaign store and look up
    the same units: ``pretrained`` "auto" / "yes" / "no" -> None / True / False, ``device`` "auto" ->
    "cuda" when available, else "cpu"."""
    import torch

    device = values["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"epochs": int(values["epochs"]), "batch_size": int(values["batch_size"]), "schedule": values["schedule"],
            "pretrained": {"auto": None, "yes": True, "no": False}[values["pretrained"]], "device": device,
            "backbone": values["backbone"], "width": int(values["width"]), "eval_every": int(values["eval_every"]),
            "robustness_sigmas": tuple(float(s) for s in values["robustness_sigmas"])}
