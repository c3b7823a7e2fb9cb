"""The 20 HMC benchmarks of C-HMCNN (8 yeast FunCat, 8 yeast GO, 4 "others"), loaded and preprocessed.

:data:`BENCHMARKS` holds each dataset's files and the spec's training settings; :func:`load_benchmark`
returns a :class:`Benchmark`: preprocessed float32 features, hierarchy-consistent uint8 labels, the
:class:`~hmc.hierarchy.Hierarchy` and the indices of the evaluated nodes.

Conventions
-----------
* Hierarchy: FUN and "others" are built from the listed tree paths with an implicit node ``root``
  (so ``len(hierarchy)`` = listed distinct paths + 1); GO from the listed ``parent/child`` edges,
  whose ``root`` and the three ontology roots are listed nodes (``len(hierarchy)`` = the data
  README's node count). The three split files of every dataset declare the same hierarchy; a
  dataset whose files disagree raises :class:`~hmc.errors.HMCDataError`.
* Evaluated nodes: all but ``root`` (FUN, others) or ``root, GO0003674, GO0005575, GO0008150`` (GO).
* Preprocessing: nominal attributes one-hot encoded over their declared values (``?`` gives all
  zeros), in attribute order; then mean imputation and standardisation (over every column, the
  one-hot ones included) fit on train+valid (train only for "others") and applied to all splits.
  ``imputation="per_split"`` first fills each split's missing values with that split's own column
  means, as the reference code does, and only then fits and applies the train+valid imputer/scaler.
* "others" have no valid file: ``x_valid``/``y_valid`` have 0 rows.
* Cache: ``cache_dir()/parsed/<name>.<imputation>.<key>.npz``, where the key hashes the cache format
  version, the name, the imputation and each source file's resolved path, size and mtime. Written
  atomically (temp file + ``os.replace``); an unreadable or stale file is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from hmc.data import paths
from hmc.data.arff import NUMERIC, ArffData, read_arff
from hmc.errors import HMCDataError
from hmc.fileio import atomic_write
from hmc.hierarchy import Hierarchy

CACHE_VERSION = 1
"""Bump when the cached content or its preprocessing changes: older cache files are then ignored."""

IMPUTATIONS = ("trainvalid", "per_split")
SPLITS = ("train", "valid", "test")
SKIPPED_NODES = {
    "FUN": ("root",),
    "GO": ("root", "GO0003674", "GO0005575", "GO0008150"),
    "others": ("root",),
}
"""Per family, the root nodes that are not evaluated (nor counted in the spec's label dims)."""

_DATA_PREFIX = "hmc_datasets/HMC_data"


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark's files and the spec's settings (chmcnn.md).

    ``files`` maps each split to its path relative to a data root; "others" have no ``valid``.
    ``input_dim`` / ``n_labels`` are the spec's input width after one-hot and number of evaluated
    nodes; ``hidden_dim``, ``epochs`` and ``lr`` the final-training settings.
    """

    name: str
    family: str
    files: dict[str, str]
    input_dim: int
    n_labels: int
    hidden_dim: int
    epochs: int
    lr: float


@dataclass(frozen=True)
class Benchmark:
    """A loaded, preprocessed benchmark (C nodes, F input features after one-hot).

    Attributes
    ----------
    name, family, imputation : str
    hierarchy : Hierarchy
        C nodes; the columns of the label matrices follow ``hierarchy.nodes``.
    attributes : tuple of (name, kind)
        The raw ARFF feature attributes (F_raw of them): kind ``"numeric"`` or the nominal values.
    feature_names : tuple of str, length F
        One per input column: the attribute name, or ``"<attribute>=<value>"`` for one-hot columns.
    x_train, x_valid, x_test : np.ndarray, float32, shape (N_split, F)
    y_train, y_valid, y_test : np.ndarray, uint8, shape (N_split, C)
        0/1 labels with every ancestor of a label set.
    eval_nodes : np.ndarray, int64, shape (C_eval,)
        Indices of the evaluated nodes (all but the family's roots, see :data:`SKIPPED_NODES`).
    """

    name: str
    family: str
    imputation: str
    hierarchy: Hierarchy
    attributes: tuple[tuple[str, str | tuple[str, ...]], ...]
    feature_names: tuple[str, ...]
    x_train: np.ndarray
    x_valid: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_valid: np.ndarray
    y_test: np.ndarray
    eval_nodes: np.ndarray

    @property
    def spec(self) -> BenchmarkSpec:
        """The dataset's files and training settings."""
        return BENCHMARKS[self.name]


# ------------------------------------------------------------------------------------- registry
# input dim, then (evaluated labels, hidden dim, epochs) for FUN and for GO (chmcnn.md's table)
_YEAST = {
    "cellcycle": (77, (499, 500, 106), (4122, 1000, 62)),
    "derisi": (63, (499, 500, 67), (4116, 500, 91)),
    "eisen": (79, (461, 500, 110), (3570, 500, 123)),
    "expr": (561, (499, 1250, 20), (4128, 4000, 70)),
    "gasch1": (173, (499, 1000, 42), (4122, 500, 122)),
    "gasch2": (52, (499, 500, 123), (4128, 500, 177)),
    "seq": (529, (499, 2000, 13), (4130, 9000, 45)),
    "spo": (86, (499, 250, 115), (4116, 500, 103)),
}
# (train file, test file) under others/, input dim, evaluated labels, hidden dim, epochs
_OTHERS = {
    "diatoms": (("Diatoms_train", "Diatoms_test"), 371, 398, 2000, 474),
    "enron": (("Enron_corr_trainvalid", "Enron_corr_test"), 1001, 56, 1000, 133),
    "imclef07a": (("ImCLEF07A_Train", "ImCLEF07A_Test"), 80, 96, 1000, 592),
    "imclef07d": (("ImCLEF07D_Train", "ImCLEF07D_Test"), 80, 46, 1000, 588),
}


def _yeast_spec(data: str, family: str) -> BenchmarkSpec:
    input_dim, fun, go = _YEAST[data]
    n_labels, hidden_dim, epochs = fun if family == "FUN" else go
    name = f"{data}_{family}"
    files = {split: f"{_DATA_PREFIX}/datasets_{family}/{name}/{name}.{split}.arff" for split in SPLITS}
    return BenchmarkSpec(name, family, files, input_dim, n_labels, hidden_dim, epochs, lr=1e-4)


def _others_spec(name: str) -> BenchmarkSpec:
    (train, test), input_dim, n_labels, hidden_dim, epochs = _OTHERS[name]
    files = {"train": f"{_DATA_PREFIX}/others/{train}.arff", "test": f"{_DATA_PREFIX}/others/{test}.arff"}
    return BenchmarkSpec(name, "others", files, input_dim, n_labels, hidden_dim, epochs, lr=1e-5)


BENCHMARKS: dict[str, BenchmarkSpec] = {
    **{f"{d}_FUN": _yeast_spec(d, "FUN") for d in _YEAST},
    **{f"{d}_GO": _yeast_spec(d, "GO") for d in _YEAST},
    **{name: _others_spec(name) for name in _OTHERS},
}
"""The 20 benchmarks in the spec's order: 8 FUN, 8 GO, then diatoms, enron, imclef07a, imclef07d."""


def benchmark_names(available_only: bool = False) -> list[str]:
    """Benchmark names in :data:`BENCHMARKS` order; with ``available_only``, those whose files are all found."""
    return [
        name
        for name, spec in BENCHMARKS.items()
        if not available_only or all(paths.find(rel) is not None for rel in spec.files.values())
    ]


# ------------------------------------------------------------------------------------- loading
def load_benchmark(name: str, imputation: str = "trainvalid", cache: bool = True) -> Benchmark:
    """Load a benchmark by name (see :data:`BENCHMARKS`), from the cache when it is up to date.

    ``imputation``: ``"trainvalid"`` (clean protocol) or ``"per_split"`` (the reference's per-split
    mean fill first, see the module docstring). ``cache=False`` neither reads nor writes the cache.
    A missing file raises :class:`~hmc.errors.DatasetMissingError` naming it, where it was looked
    for and how to get it; a malformed one :class:`~hmc.errors.HMCDataError`.
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}")
    if imputation not in IMPUTATIONS:
        raise ValueError(f"unknown imputation {imputation!r}; expected one of {', '.join(IMPUTATIONS)}")
    spec = BENCHMARKS[name]
    files = _locate(spec)
    if not cache:
        return _build(spec, files, imputation)
    key = _cache_key(spec, files, imputation)
    target = paths.cache_dir() / "parsed" / f"{name}.{imputation}.{key[:20]}.npz"
    bench = _read_cache(target, key)
    if bench is None:
        bench = _build(spec, files, imputation)
        _write_cache(target, key, bench)
    return bench


def _locate(spec: BenchmarkSpec) -> dict[str, Path]:
    """Each split's file on disk; the first missing one raises DatasetMissingError."""
    how_to_get = (
        f"run `python -m hmc data fetch {spec.name}` (downloads it from its public source) or set "
        f"HMC_DATA_DIR to a folder holding {_DATA_PREFIX}/..."
    )
    return {split: paths.locate(rel, how_to_get=how_to_get) for split, rel in spec.files.items()}


def _build(spec: BenchmarkSpec, files: dict[str, Path], imputation: str) -> Benchmark:
    """Parse the split files, check they agree, preprocess the features and build the label matrices."""
    parsed = {split: read_arff(path) for split, path in files.items()}
    train = parsed["train"]
    for data in parsed.values():
        _check_same_declarations(train, data)
    hierarchy = train.hierarchy
    width = len(train.attributes)
    raw = {split: parsed[split].x if split in parsed else np.empty((0, width)) for split in SPLITS}
    encoded = {}
    for split, x in raw.items():
        encoded[split], feature_names = one_hot(x, train.attributes)
    x_train, x_valid, x_test = preprocess(encoded["train"], encoded["valid"], encoded["test"], imputation)
    labels = {split: parsed[split].labels if split in parsed else [] for split in SPLITS}
    y = {split: hierarchy.label_matrix(labels[split]) for split in SPLITS}
    return Benchmark(
        name=spec.name,
        family=spec.family,
        imputation=imputation,
        hierarchy=hierarchy,
        attributes=train.attributes,
        feature_names=tuple(feature_names),
        x_train=x_train,
        x_valid=x_valid,
        x_test=x_test,
        y_train=y["train"],
        y_valid=y["valid"],
        y_test=y["test"],
        eval_nodes=eval_nodes(hierarchy, spec.family),
    )


def _check_same_declarations(reference: ArffData, other: ArffData) -> None:
    """The split files of a dataset must declare the same attributes and the same hierarchy."""
    if other.attributes != reference.attributes:
        raise HMCDataError(f"declares different feature attributes than {reference.path}", other.path)
    if other.hierarchy_entries != reference.hierarchy_entries:
        raise HMCDataError(
            f"declares a different hierarchy than {reference.path} (line {reference.hierarchy_line}); "
            "expected the same list in every split file",
            other.path,
            other.hierarchy_line,
        )


def eval_nodes(hierarchy: Hierarchy, family: str) -> np.ndarray:
    """Indices (int64, shape (C_eval,)) of the nodes evaluated for a family: all but its roots."""
    skipped = set(SKIPPED_NODES[family])
    return np.array([i for i, node in enumerate(hierarchy.nodes) if node not in skipped], dtype=np.int64)


# ------------------------------------------------------------------------------------- preprocessing
def one_hot(x: np.ndarray, attributes) -> tuple[np.ndarray, list[str]]:
    """Expand nominal codes into one-hot columns, in attribute order.

    x : float64 (N, F_raw), nominal attributes as codes into their declared values (NaN = missing).
    Returns the float64 (N, F) matrix (numeric columns unchanged, NaN kept; a missing nominal value
    gives all-zero columns) and the F column names (``"<attribute>=<value>"`` for one-hot columns).
    """
    blocks, names = [], []
    for j, (name, kind) in enumerate(attributes):
        if kind == NUMERIC:
            blocks.append(x[:, j : j + 1])
            names.append(name)
        else:
            blocks.append((x[:, j : j + 1] == np.arange(len(kind))).astype(np.float64))
            names.extend(f"{name}={value}" for value in kind)
    return np.hstack(blocks) if blocks else np.empty((len(x), 0)), names


def preprocess(
    x_train: np.ndarray, x_valid: np.ndarray, x_test: np.ndarray, imputation: str = "trainvalid"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean-impute and standardise, fit on train+valid, applied to each split.

    Inputs float64 (N_split, F) with NaN for missing values (``x_valid`` may have 0 rows: then the
    fit uses train only). With ``imputation="per_split"`` each split's NaNs are first replaced by
    that split's own column means (columns with no value in the split stay NaN for the imputer).
    The scaler is fit on the imputed train+valid matrix. Returns three float32 arrays (N_split, F).
    """
    if imputation == "per_split":
        x_train, x_valid, x_test = (_fill_with_own_means(x) for x in (x_train, x_valid, x_test))
    elif imputation != "trainvalid":
        raise ValueError(f"unknown imputation {imputation!r}; expected one of {', '.join(IMPUTATIONS)}")
    fit = np.concatenate([x_train, x_valid])
    imputer = SimpleImputer(strategy="mean", keep_empty_features=True).fit(fit)
    scaler = StandardScaler().fit(imputer.transform(fit))

    def apply(x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.empty(x.shape, dtype=np.float32)
        return scaler.transform(imputer.transform(x)).astype(np.float32)

    return apply(x_train), apply(x_valid), apply(x_test)


def _fill_with_own_means(x: np.ndarray) -> np.ndarray:
    """NaNs replaced by the column means of ``x`` itself, shape (N, F); all-NaN columns stay NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice" for all-NaN columns
        means = np.nanmean(x, axis=0)
    return np.where(np.isnan(x), means, x)


# ------------------------------------------------------------------------------------- cache
def _cache_key(spec: BenchmarkSpec, files: dict[str, Path], imputation: str) -> str:
    """sha256 over the format version, name, imputation and each file's resolved path, size, mtime."""
    stamps = {}
    for split, path in files.items():
        stat = path.stat()
        stamps[split] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    payload = {"version": CACHE_VERSION, "name": spec.name, "imputation": imputation, "files": stamps}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _write_cache(target: Path, key: str, bench: Benchmark) -> None:
    """Write ``bench`` to ``target`` atomically and drop older cache files of the same dataset/option.

    A failure to write (read-only or full disk) only warns: the loaded benchmark is still returned.
    """
    parent, child = bench.hierarchy.edges
    meta = {
        "version": CACHE_VERSION,
        "key": key,
        "name": bench.name,
        "family": bench.family,
        "imputation": bench.imputation,
        "nodes": bench.hierarchy.nodes,
        "attributes": [[name, kind] for name, kind in bench.attributes],
        "feature_names": list(bench.feature_names),
        "n_rows": {split: len(getattr(bench, f"y_{split}")) for split in SPLITS},
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "edge_parent": parent.astype(np.int32),
        "edge_child": child.astype(np.int32),
        "eval_nodes": bench.eval_nodes,
    }
    for split in SPLITS:
        arrays[f"x_{split}"] = getattr(bench, f"x_{split}")
        arrays[f"y_{split}"] = np.packbits(getattr(bench, f"y_{split}"), axis=1)
    try:
        with atomic_write(target, "wb") as fh:
            np.savez(fh, **arrays)
        for old in target.parent.glob(f"{bench.name}.{bench.imputation}.*.npz"):
            if old != target:
                old.unlink(missing_ok=True)
    except OSError as err:
        warnings.warn(f"could not write the benchmark cache {target}: {err}", stacklevel=3)


def _read_cache(target: Path, key: str) -> Benchmark | None:
    """The cached benchmark, or None when the file is absent, stale or unreadable."""
    if not target.exists():
        return None
    try:
        with np.load(target, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            if meta["version"] != CACHE_VERSION or meta["key"] != key:
                return None
            arrays = {name: npz[name] for name in npz.files if name != "meta"}
        nodes = meta["nodes"]
        edges = zip(
            (nodes[p] for p in arrays["edge_parent"].tolist()),
            (nodes[c] for c in arrays["edge_child"].tolist()),
            strict=True,
        )
        hierarchy = Hierarchy(nodes, edges)
        if hierarchy.nodes != nodes:
            return None
        y = {
            split: np.unpackbits(arrays[f"y_{split}"], axis=1, count=len(nodes))
            .reshape(meta["n_rows"][split], len(nodes))
            for split in SPLITS
        }
        return Benchmark(
            name=meta["name"],
            family=meta["family"],
            imputation=meta["imputation"],
            hierarchy=hierarchy,
            attributes=tuple((name, kind if kind == NUMERIC else tuple(kind)) for name, kind in meta["attributes"]),
            feature_names=tuple(meta["feature_names"]),
            x_train=arrays["x_train"],
            x_valid=arrays["x_valid"],
            x_test=arrays["x_test"],
            y_train=y["train"],
            y_valid=y["valid"],
            y_test=y["test"],
            eval_nodes=arrays["eval_nodes"].astype(np.int64),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile):
        return None
