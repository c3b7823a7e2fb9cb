"""The results store: one file per finished unit, written atomically; the tidy CSV is built from them.

Why this design. A sweep is a set of independent units ``(dataset, method, seed)``. Each finished
unit is one small JSON file, ``<store>/<dataset>/<method>/seed<k>.json``, written atomically
(temporary file, fsync, rename; :func:`hmc.fileio.atomic_write`), so

* two writers (processes, or machines on a shared filesystem) never lose each other's units: they
  write different files, and nobody reads, adds and replaces a shared table;
* a kill at any instant leaves either no file or a complete one (a stale ``*.tmp`` at worst, which
  readers ignore);
* damage is detected, not trusted: every file carries the SHA-256 of its content, and a file that
  does not parse, lacks a field or fails its checksum raises :class:`DamagedResult` naming its path
  (and the line, where the JSON parser gives one); nothing damaged is ever rewritten or deleted;
* a unit counts as finished only under the same full configuration: the file records every
  setting that changes the unit's results (the training settings, the optimiser, a signature of the
  data it was trained on) and :meth:`ResultStore.lookup` refuses a unit stored under another.

SQLite in WAL mode was the alternative; it was not taken because its locking does not work on the
network filesystems of clusters, and a binary database cannot be reviewed or merged in git, while
a folder of small text files can (each campaign run adds files; two branches' results merge).

The tidy table that notebooks and the book read, ``results/<profile>/<experiment>.csv``, is a view:
:meth:`ResultStore.export_csv` rebuilds it from the unit files under an exclusive lock and writes
it atomically. The store of ``results/full/03_rare_node_loss.csv`` is the folder
``results/full/units/03_rare_node_loss/`` (:func:`store_for`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hmc.errors import HMCDataError
from hmc.fileio import atomic_write, check_writable, locked

FORMAT = "hmc-unit/1"
_SEED_FILE = re.compile(r"seed(-?[0-9]+)\.json")


class DamagedResult(HMCDataError):
    """A results file (a unit file or a tidy table) that cannot be trusted; names its path and line."""


class ConfigMismatch(ValueError):
    """A unit is stored under another configuration than the one asked for."""


class StoredUnit(NamedTuple):
    """A unit file's content: the key, the configuration, the metrics in order, where and how long it ran."""

    dataset: str
    method: str
    seed: int
    config: dict
    metrics: dict
    device: str
    wall_time_s: float
    path: Path


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the text that hashes and checksums are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_hash(config: Mapping) -> str:
    """SHA-256 (hex) of a configuration's canonical JSON."""
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()


def data_signature(benchmark) -> dict:
    """What identifies the data a tabular unit was trained on, in a form stable across machines.

    ``{"imputation", "n_fit", "n_test", "n_features", "n_nodes", "labels"}`` where ``labels`` is the
    SHA-256 (first 16 hex digits) of the 0/1 label bytes of train, valid and test, in order. The
    features are not hashed: their float values can differ in the last bit between BLAS builds,
    which must not make a stored unit look foreign; the imputation, the row counts and the labels
    catch another file, a subset (``max_fit_rows``) or another preprocessing protocol.
    """
    h = hashlib.sha256()
    for name in ("y_train", "y_valid", "y_test"):
        y = np.ascontiguousarray(np.asarray(getattr(benchmark, name), dtype=np.uint8))
        h.update(str(y.shape).encode())
        h.update(y.tobytes())
    return {
        "imputation": str(getattr(benchmark, "imputation", "none")),
        "n_fit": int(len(benchmark.x_train) + len(benchmark.x_valid)),
        "n_test": int(len(benchmark.x_test)),
        "n_features": int(np.asarray(benchmark.x_train).shape[1]),
        "n_nodes": int(np.asarray(benchmark.y_train).shape[1]),
        "labels": h.hexdigest()[:16],
    }


def store_for(results_csv: str | os.PathLike) -> Path:
    """The store folder of a tidy table: ``results/full/03_x.csv`` -> ``results/full/units/03_x``."""
    results_csv = Path(results_csv)
    return results_csv.parent / "units" / results_csv.stem


def _safe(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot be a dataset or method name in the results store")
    return name


class ResultStore:
    """A folder of unit files (module docstring). Cheap to create; every method reads the disk afresh."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # ------------------------------------------------------------------ paths
    def unit_path(self, dataset: str, method: str, seed: int) -> Path:
        return self.root / _safe(dataset) / _safe(method) / f"seed{int(seed)}.json"

    def check_writable(self) -> None:
        """Create the store folder and write and remove a probe file; raise PermissionError naming it."""
        check_writable(self.root, "the results store", "give a writable results folder before training anything")

    # ------------------------------------------------------------------ writing
    def write(self, dataset: str, method: str, seed: int, config: Mapping, metrics: Mapping[str, float],
              device: str, wall_time_s: float) -> Path:
        """Write one finished unit atomically and return its path.

        ``config``: every setting that changes the unit's results (JSON-serialisable);
        ``metrics``: name -> value, in the order the tidy rows should have.
        """
        body = {
            "format": FORMAT,
            "dataset": str(dataset),
            "method": str(method),
            "seed": int(seed),
            "config": dict(config),
            "config_hash": config_hash(config),
            "metrics": [[str(k), float(v)] for k, v in metrics.items()],
            "device": str(device),
            "wall_time_s": round(float(wall_time_s), 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if not body["metrics"]:
            raise ValueError(f"unit {(dataset, method, seed)} has no metrics to store")
        body["checksum"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
        path = self.unit_path(dataset, method, seed)
        with atomic_write(path) as fh:
            fh.write(json.dumps(body, indent=1, allow_nan=True) + "\n")
        return path

    # ------------------------------------------------------------------ reading
    def read(self, path: str | os.PathLike) -> StoredUnit:
        """Parse and verify one unit file; :class:`DamagedResult` (path, line) when it cannot be trusted."""
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            line = path.read_bytes()[: err.start].count(b"\n") + 1
            raise DamagedResult(f"not UTF-8 text (byte {err.start}); the unit file is damaged: move it aside "
                                "to rerun the unit", path, line) from None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as err:
            raise DamagedResult(f"not valid JSON ({err.msg}, column {err.colno}); the unit file is damaged "
                                "(cut or overwritten): move it aside to rerun the unit", path, err.lineno) from None
        required = ("format", "dataset", "method", "seed", "config", "config_hash", "metrics", "device",
                    "wall_time_s", "checksum")
        if not isinstance(body, dict) or any(k not in body for k in required):
            missing = [k for k in required if not isinstance(body, dict) or k not in body]
            raise DamagedResult(f"unit file lacks the fields {missing}", path)
        if body["format"] != FORMAT:
            raise DamagedResult(f"unknown format {body['format']!r} (expected {FORMAT!r})", path)
        stated = body.pop("checksum")
        if hashlib.sha256(canonical_json(body).encode()).hexdigest() != stated:
            raise DamagedResult("checksum mismatch: the content was changed after it was written (a row lost, "
                                "a value edited or bytes overwritten); move it aside to rerun the unit", path)
        if body["config_hash"] != config_hash(body["config"]):
            raise DamagedResult("config_hash does not match the stored config", path)
        expected = self.unit_path(body["dataset"], body["method"], body["seed"])
        if expected.resolve() != path.resolve():
            raise DamagedResult(f"holds unit {(body['dataset'], body['method'], body['seed'])}, which belongs in "
                                f"{expected}", path)
        metrics = {}
        for entry in body["metrics"]:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                    and isinstance(entry[1], int | float) and not isinstance(entry[1], bool)):
                raise DamagedResult(f"metric entry {entry!r} is not [name, number]", path)
            metrics[entry[0]] = float(entry[1])
        if not metrics:
            raise DamagedResult("the unit has no metrics", path)
        return StoredUnit(body["dataset"], body["method"], int(body["seed"]), body["config"], metrics,
                          body["device"], float(body["wall_time_s"]), path)

    def lookup(self, dataset: str, method: str, seed: int, config: Mapping) -> StoredUnit | None:
        """The stored unit under ``config``, or None when it is not finished.

        Raises :class:`ConfigMismatch` when it is stored under another configuration (naming the
        settings that differ), :class:`DamagedResult` when its file is damaged.
        """
        path = self.unit_path(dataset, method, seed)
        if not path.exists():
            return None
        unit = self.read(path)
        if unit.config != dict(config):
            wanted = json.loads(canonical_json(dict(config)))
            if unit.config == wanted:  # the same after a JSON round trip (tuples as lists, ...)
                return unit
            keys = sorted(k for k in unit.config.keys() | wanted.keys() if unit.config.get(k) != wanted.get(k))
            diff = ", ".join(f"{k}: stored {unit.config.get(k)!r}, asked {wanted.get(k)!r}" for k in keys)
            raise ConfigMismatch(f"{path} holds unit {(dataset, method, seed)} under another configuration "
                                 f"({diff}): use another results folder, or force to replace it")
        return unit

    def paths(self) -> list[Path]:
        """Every unit file, in (dataset, method, seed) order; temporary and set-aside files are skipped."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob("*/*/seed*.json"):
            m = _SEED_FILE.fullmatch(path.name)
            if m:
                found.append((path.parent.parent.name, path.parent.name, int(m.group(1)), path))
        return [p for *_, p in sorted(found)]

    def units(self) -> Iterator[StoredUnit]:
        for path in self.paths():
            yield self.read(path)

    def table(self, param_columns: tuple[str, ...], columns: tuple[str, ...]) -> pd.DataFrame:
        """All units as tidy rows: ``dataset, method, seed, metric, value``, the ``param_columns``
        from each unit's config, ``device`` and ``wall_time_s``; in :meth:`paths` order."""
        rows = []
        for u in self.units():
            params = {k: u.config.get(k) for k in param_columns}
            for metric, value in u.metrics.items():
                rows.append({"dataset": u.dataset, "method": u.method, "seed": u.seed, "metric": metric,
                             "value": value, **params, "device": u.device, "wall_time_s": u.wall_time_s})
        return pd.DataFrame(rows, columns=list(columns))

    def lock(self):
        """An exclusive lock on the store (``<store>/.lock``, :func:`hmc.fileio.locked`) for rebuilding its table."""
        return locked(self.root / ".lock")

    def export_csv(self, path: str | os.PathLike, param_columns: tuple[str, ...],
                   columns: tuple[str, ...]) -> pd.DataFrame:
        """Rebuild the tidy table at ``path`` from the unit files (under :meth:`lock`, atomically)."""
        with self.lock():
            table = self.table(param_columns, columns)
            with atomic_write(path) as fh:
                table.to_csv(fh, index=False)
        return table


def validate_table(frame: pd.DataFrame, path: str | os.PathLike, int_columns: tuple[str, ...],
                   float_columns: tuple[str, ...]) -> pd.DataFrame:
    """Check a tidy table read from ``path``: its integer and numeric columns really are; name the first bad line.

    Empty cells are allowed in ``float_columns``, not in ``int_columns``. A repeated header row (a
    table concatenated twice) or a shifted row shows up here as text in a numeric column. Returns
    the frame with those columns converted; other columns are left as read.
    """
    out = frame.copy()
    for col in (*int_columns, *float_columns):
        if col not in out.columns:
            continue
        numeric = pd.to_numeric(out[col], errors="coerce")
        bad = numeric.isna() & out[col].notna() & (out[col].astype(str).str.strip() != "")
        if col in int_columns:
            bad |= numeric.isna() | (numeric != numeric.round())
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DamagedResult(f"column {col!r} holds {out[col].iloc[i]!r}, not a number (a repeated header, a "
                                "shifted or cut row?); the table is built from its store: rebuild it, or repair "
                                "the line", path, i + 2)
        out[col] = numeric.astype("int64") if col in int_columns else numeric
    return out


def import_table(results_csv: str | os.PathLike, load=None) -> int:
    """Import the units of a tidy table written before the store existed into its store; return how many.

    Each (dataset, method, seed) of the table becomes a unit file with the table's settings, the
    default optimiser and the data signature of ``load(dataset)`` (default
    :func:`hmc.data.load_benchmark`, the clean ``"trainvalid"`` protocol that every committed table
    used). A unit already in the store under the same configuration is left as it is; under another,
    :class:`ConfigMismatch`. The table is then rebuilt from the store.
    """
    from hmc.runs.sweep import RESULT_COLUMNS, read_results, unit_config
    from hmc.train import PARAM_COLUMNS

    if load is None:
        from hmc.data import load_benchmark as load
    results_csv = Path(results_csv)
    table = read_results(results_csv)
    store = ResultStore(store_for(results_csv))
    store.check_writable()
    loaded, added = {}, 0
    for (dataset, method, seed), rows in table.groupby(["dataset", "method", "seed"], sort=False):
        if dataset not in loaded:
            loaded[dataset] = load(dataset)
        first = rows.iloc[0]
        settings = {k: first[k] for k in PARAM_COLUMNS}
        for k in PARAM_COLUMNS:
            if rows[k].nunique() != 1:
                raise DamagedResult(f"unit {(dataset, method, seed)} has several values of {k}", results_csv)
        settings = {k: (float(v) if k in ("lr", "weight_decay", "dropout") else int(v)) for k, v in settings.items()}
        config = unit_config(settings, loaded[dataset], {})
        if store.lookup(dataset, method, int(seed), config) is not None:
            continue
        if rows.metric.duplicated().any():
            raise DamagedResult(f"unit {(dataset, method, seed)} has a metric twice", results_csv)
        store.write(dataset, method, int(seed), config, dict(zip(rows.metric, rows.value.astype(float))),
                    str(first["device"]), float(first["wall_time_s"]))
        added += 1
    store.export_csv(results_csv, PARAM_COLUMNS, RESULT_COLUMNS)
    return added


def coverage(table: pd.DataFrame, units) -> pd.DataFrame:
    """How much of a design the table holds: per (dataset, method), seeds finished / seeds designed.

    ``units``: the design's ``(dataset, method, seed)`` triples; ``table``: tidy rows. Columns
    ``dataset, method, done, designed, seeds`` (the finished seeds, as text), in design order.
    """
    have = set(zip(table["dataset"], table["method"], table["seed"].astype(int))) if len(table) else set()
    rows: dict[tuple[str, str], dict] = {}
    for dataset, method, seed in units:
        r = rows.setdefault((dataset, method), {"dataset": dataset, "method": method, "done": [], "designed": 0})
        r["designed"] += 1
        if (dataset, method, int(seed)) in have:
            r["done"].append(int(seed))
    out = []
    for r in rows.values():
        done = sorted(r["done"])
        out.append({**r, "done": len(done), "seeds": ", ".join(map(str, done)) or "-"})
    return pd.DataFrame(out, columns=["dataset", "method", "done", "designed", "seeds"])
