"""Which datasets a notebook needs under its parameters, which of them are on disk, and fetching the rest.

The notebooks fall back to synthetic stand-ins when a benchmark is not on disk, so that they still
run end to end. A rerun must never write such a page over a committed page built from real data,
nor add stand-in rows to a results table: :func:`hmc.runner.run_notebook` checks a notebook's
:class:`Needs` before executing it and refuses (:class:`hmc.runner.DataMissing`, nothing executed)
when they are not met, unless stand-ins were asked for explicitly and the page and its results go
elsewhere (``python -m hmc run --stand-ins``).

A notebook's needs follow from its resolved parameters (:data:`NEEDS`, keyed by the notebook's file
stem; a notebook that is not listed needs nothing):

- ``required``: every one must be on disk (a benchmark or image set the parameters name);
- ``any_of``: a selection such as ``["all"]`` or ``["fun_go"]`` means "those on disk"; at least one
  must be there, or the notebook would run on a stand-in;
- ``optional``: described when on disk and listed as "not on disk" otherwise, never replaced by a
  stand-in (chapter 01's image sets, the ResNet-18 weights under ``pretrained="auto"``).

Dataset names are those of :data:`hmc.data.sources.SOURCES` (``python -m hmc data status``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hmc.data import paths
from hmc.data.sources import SOURCES

# Where the image loaders look (hmc.data.images): a dataset counts as on disk when the loader would
# find it, e.g. Omniglot as the npz copy or as the official zips, CIFAR-100 as its archive or folder.
_ON_DISK_ALTERNATIVES: dict[str, tuple[tuple[str, ...], ...]] = {
    "omniglot": (tuple(f.relpath for f in SOURCES["omniglot"]), tuple(f.relpath for f in SOURCES["omniglot_zips"])),
    "cifar100": (("cifar100/cifar-100-python.tar.gz",), ("cifar100/cifar-100-python",)),
    "aircraft": (("aircraft/fgvc-aircraft-2013b/data/variants.txt",),),
}

STAND_IN_NAMES = ("synthetic",)
"""Dataset names in the notebooks' parameters that the library generates: never missing."""


@dataclass(frozen=True)
class Needs:
    """The datasets a notebook run needs (names of :data:`~hmc.data.sources.SOURCES`)."""

    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def blocking(self) -> list[str]:
        """The datasets whose absence stops the run: required ones not on disk, and the whole
        ``any_of`` selection when none of it is on disk. Empty when the run may go ahead."""
        missing = [name for name in self.required if not on_disk(name)]
        if self.any_of and not any(on_disk(name) for name in self.any_of):
            missing += [name for name in self.any_of if name not in missing]
        return missing

    def absent(self) -> list[str]:
        """Every dataset of the needs that is not on disk (optional ones and the rest of a selection too)."""
        names = dict.fromkeys(self.required + self.any_of + self.optional)
        return [name for name in names if not on_disk(name)]

    def to_fetch(self) -> list[str]:
        """What a rerun downloads when it is missing: the required datasets and the selection."""
        return list(dict.fromkeys(self.required + self.any_of))


def on_disk(name: str) -> bool:
    """Whether every file of dataset ``name`` is found in a data root (:func:`hmc.data.paths.find`)."""
    for files in _ON_DISK_ALTERNATIVES.get(name, (tuple(f.relpath for f in SOURCES[name]),)):
        if all(paths.find(relpath) is not None for relpath in files):
            return True
    return False


def missing_files(name: str) -> list[str]:
    """The relative paths of dataset ``name``'s files that are not found (its ``SOURCES`` files)."""
    return [f.relpath for f in SOURCES[name] if paths.find(f.relpath) is None]


# ------------------------------------------------------------------------------------ per notebook
def _benchmarks() -> dict[str, str]:
    from hmc.data.benchmarks import BENCHMARKS

    return {name: spec.family for name, spec in BENCHMARKS.items()}


_SELECTIONS = {"all": ("FUN", "GO", "others"), "fun_go": ("FUN", "GO")}
"""Benchmark selections of the notebooks' ``datasets`` parameters: the families they take from disk."""


def _benchmark_needs(selection: list, selections: tuple[str, ...] = tuple(_SELECTIONS)) -> Needs:
    """A ``datasets``-style parameter: a one-word selection (any of its family on disk) or names."""
    if len(selection) == 1 and selection[0] in selections:
        families = _SELECTIONS[selection[0]]
        return Needs(any_of=tuple(n for n, family in _benchmarks().items() if family in families))
    return Needs(required=tuple(n for n in selection if n not in STAND_IN_NAMES))


def _datasets_01(values: dict) -> Needs:
    bench = _benchmark_needs(values.get("benchmarks", ["all"]), selections=("all",))
    images = tuple(n for n in values.get("images", []) if n not in STAND_IN_NAMES)
    return Needs(bench.required, bench.any_of, optional=images)


def _datasets_06(values: dict) -> Needs:
    required = tuple(n for n in values.get("datasets", []) if n not in STAND_IN_NAMES)
    weights = ("resnet18_weights",)
    pretrained = values.get("pretrained", "auto")
    return Needs(required=required + (weights if pretrained == "yes" else ()),
                 optional=weights if pretrained == "auto" else ())


def _datasets_07(values: dict) -> Needs:
    """Chapter 07: Omniglot is required when named; CIFAR-100 and Aircraft only where on disk (never stood in
    for); the ResNet-18 weights with ``encoder="resnet18"`` (required) or ``"auto"`` (optional)."""
    names = values.get("datasets", [])
    weights = ("resnet18_weights",)
    encoder = values.get("encoder", "auto")
    optional = tuple(n for n in names if n in ("cifar100", "aircraft"))
    return Needs(required=tuple(n for n in names if n == "omniglot") + (weights if encoder == "resnet18" else ()),
                 optional=optional + (weights if encoder == "auto" else ()))


def _datasets_param(values: dict) -> Needs:
    return _benchmark_needs(values.get("datasets", []))


NEEDS: dict[str, Callable[[dict], Needs]] = {
    "01_datasets": _datasets_01,
    "02_chmcnn_reproduction": _datasets_param,
    "03_rare_node_loss": _datasets_param,
    "04_ensembles_and_dropout": _datasets_param,
    "05_schedules_and_resampling": _datasets_param,
    "06_hcal": _datasets_06,
    "07_rare_nodes_images": _datasets_07,
}
"""Per notebook stem, its needs as a function of the resolved parameter values (with every default).
00 (a synthetic hierarchy by design), 80 and 90 (they read the other pages) need no data."""


def notebook_needs(stem: str, values: dict) -> Needs:
    """The needs of notebook ``stem`` run with parameter ``values`` (defaults merged in by the caller)."""
    function = NEEDS.get(stem)
    return function(values) if function is not None else Needs()


# ------------------------------------------------------------------------------------ fetching
@dataclass
class FetchReport:
    """What :func:`fetch_missing` did: datasets fetched, those that failed (with why), and whether it
    stopped because there is no network (then the remaining ones were not tried)."""

    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    offline: str | None = None
    not_tried: list[str] = field(default_factory=list)


def fetch_missing(names: list[str], progress: bool = True, timeout: float = 20,
                  fetch: Callable | None = None) -> FetchReport:
    """Download the datasets of ``names`` that are not on disk, each file checked against its checksum.

    The first network failure ends the attempt (no network: the rest are listed in ``not_tried``); a
    dataset without a published checksum is never downloaded here (its size may be gigabytes and it
    cannot be verified: ``python -m hmc data fetch NAME`` does it on request). ``fetch`` defaults to
    :func:`hmc.data.download.fetch`.
    """
    from hmc.data import download
    from hmc.errors import DatasetMissingError, HMCDataError

    fetch = fetch or download.fetch
    report = FetchReport()
    for name in dict.fromkeys(names):
        if on_disk(name):
            continue
        if report.offline is not None:
            report.not_tried.append(name)
            continue
        if any(f.checksum is None for f in SOURCES[name]):
            report.failed[name] = ("no published checksum, so it is not downloaded automatically; "
                                   f"`python -m hmc data fetch {name}` gets it unverified")
            continue
        try:
            fetch(name, progress=progress, timeout=timeout)
        except DatasetMissingError as err:  # a network failure: assume there is no network at all
            report.offline = str(err)
            report.not_tried.append(name)
        except (HMCDataError, OSError) as err:
            report.failed[name] = str(err)
        else:
            report.fetched.append(name)
    return report


def describe_missing(names: list[str]) -> str:
    """For each dataset: its files that are not found; then the data roots searched and how to get them."""
    lines = []
    for name in names:
        files = missing_files(name) or [f.relpath for f in SOURCES[name]]
        lines.append(f"  {name}: " + ", ".join(f.rsplit("/", 1)[-1] for f in files))
    roots = ", ".join(str(root) for root in paths.data_dirs())
    lines.append(f"  (looked in: {roots})")
    fetchable = [n for n in names if all(f.checksum is not None for f in SOURCES[n])]
    if fetchable:
        lines.append(f"To get them: python -m hmc data fetch {' '.join(fetchable)}   (downloads into "
                     f"{paths.cache_dir()} and checks each file's checksum)")
    for name in names:
        if name not in fetchable:
            lines.append(f"  {name} has no published checksum: python -m hmc data fetch {name} gets it unverified")
    lines.append("or point HMC_DATA_DIR at a folder that holds them (python -m hmc data status lists every dataset).")
    return "\n".join(lines)
