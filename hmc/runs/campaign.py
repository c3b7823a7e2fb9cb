"""The evidence campaign: the ``full`` design of every chapter as one priority-ordered queue of units.

The papers' protocol costs far more than a session of this 2-core CPU, so it is earned a slice at a
time: ``python -m hmc campaign --budget 150m`` runs the queue's unfinished work items in order
until the budget would be exceeded, then stops cleanly; the next call continues where it stopped.
Results go to the chapters' results stores (:mod:`hmc.runs.store`) exactly as the chapters' own
``full`` runs would write them (same settings, so each chapter's ``full`` page reads them back),
and after every item the affected ``book/full/`` pages and the verdicts page are re-executed from
the stores (seconds: nothing is trained there).

A *work item* is one (chapter, dataset, method) and a batch of seeds, trained as one batched model
(:func:`hmc.runs.sweep.run_sweep`); its units are its (dataset, method, seed) triples. Chapter 07's
dataset keys are stress conditions (``omniglot@a0.25-f1``, :mod:`hmc.runs.stress_sweep`), trained one
seed at a time with the kind that its notebook builds from the same ``full`` parameter values; its
pretrained encoder is made once, by the first of its items, into ``results/full/encoders/`` (committed
with the results, so every machine looks its units up under the same SHA-256). Within an item
training checkpoints every epoch (``<checkpoints>/...``), so a kill loses at most one epoch, and the
run pauses at an epoch boundary when the budget ends (overrun at most one epoch). Several local
campaign processes may share the queue (two one-thread processes fill this project's 2-core CPU):
each holds a lock on the item it trains (:meth:`Campaign.claim_path`) and skips the items that
another holds.

The order maximises claims decided per CPU hour (:func:`build_queue`):

1. rare-node claims 1 and 2 (chapter 03, H = 2, weights on the negatives as the reference code) on
   the four cheapest FunCat datasets: baseline, focal-bma and focal-gmu (the measures the paper
   favours), 10 seeds (the paired Wilcoxon over seeds needs at least 6 to reach p < 0.05);
2. HCAL's claims 1 and 2 (chapter 06 under ``full``: all of Omniglot at 28 px on the Conv-4 backbone):
   HCAL, the flat, C-HMCNN and MMoE baselines, seed by seed (:mod:`hmc.runs.hcal_campaign`);
3. claim 6 and the vision half of claim 5 (chapter 07, the ``full`` profile's settings: 20 heads,
   20 epochs, batch 128 on Omniglot's 20 evaluation alphabets at 28 px): both stress tests for the
   four methods, seeds 0-4 of every condition first, then 5-9 (nothing else tests these claims);
4. HCAL's claims 3-5: the ablations (aggregation, perturbation, the balancers);
5. the rest of claims 1 and 2: imbalance weighting alone and the other four measures, then
   imbalance-pos, on the same four datasets; then the other four FunCat datasets (the test across
   datasets needs the datasets);
6. claim 4 (chapter 04): baseline and focal ensembles against focal MC-dropout at H = 2, 5, 10;
7. claims 3 and 5 (chapter 05): schedulers, mixed losses, LPROS, LPROS with weights;
8. C-HMCNN (chapter 02) on the GO datasets and the other benchmarks;
9. the rare-node design (chapter 03) on the GO datasets.

Each item's cost is estimated before it starts from the measured cost of its kind (seconds per
network-step of finished units on the same dataset and loss family, else on any dataset scaled by
network size, else a prior of 2.2 ms per network-step at cellcycle_FUN's size at one thread,
measured on this project's CPU; for chapter 07, seconds per training step of its finished units,
else a prior of 260 ms per step of batch 128, plus the encoder's pretraining while it is not made;
for chapter 06, seconds per training step of its finished units, :mod:`hmc.runs.hcal_campaign`)
and printed.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hmc.fileio import locked, try_locked
from hmc.runs.hcal_campaign import CHAPTER as HCAL_CHAPTER
from hmc.runs.hcal_campaign import HcalUnits, hcal_items
from hmc.runs.store import DamagedResult, ResultStore, store_for

FUNCAT_FIRST = ("derisi_FUN", "eisen_FUN", "spo_FUN", "cellcycle_FUN")
"""The four cheapest FunCat datasets (measured C-HMCNN times, chapter 02), decided first."""
FUNCAT_REST = ("expr_FUN", "gasch1_FUN", "seq_FUN", "gasch2_FUN")
GO_DATASETS = ("derisi_GO", "eisen_GO", "spo_GO", "cellcycle_GO", "expr_GO", "gasch1_GO", "seq_GO", "gasch2_GO")
OTHER_DATASETS = ("diatoms", "imclef07a", "imclef07d")
SEEDS = tuple(range(10))
SEED_BATCH = 5
"""Seeds trained together per item: 5 keeps an item under about half an hour at one thread while
batching still buys most of its speed (10 seeds batched cost 1.8x less than 10 single runs)."""
PRIOR_MS_PER_NETWORK_STEP = 2.2
"""One C-HMCNN network at cellcycle_FUN's size, batch 4, batched with 9 others, one thread (ms)."""
_CELLCYCLE_SIZE = 77 * 500 + 500 * 500 + 500 * 500 + 500 * 500  # rough weights of its network

STACKED_CHAPTERS = ("03_rare_node_loss", "05_schedules_and_resampling")
"""Chapters whose items of one dataset and seed batch train as one sweep with stacked methods
(:func:`_item_groups`, :mod:`hmc.stacked_methods`). Not chapter 04: its claim 4 compares the wall
times of deep ensembles and MC-dropout, and a stacked unit's wall time is its share of the stack's."""

STRESS_CHAPTER = "07_rare_nodes_images"
PRIOR_S_PER_IMAGE_STEP = 0.26
"""Chapter 07 under ``full``: one training step (batch 128, the Conv-4 of width 64 at 28 px, 20 heads,
forward, backward and Adam) at one thread, measured on this project's CPU with another job on the
other core; the encoder's pretraining is costed at the same rate per 128 images."""

CHAPTER_PAGES = {
    "02_chmcnn_reproduction": "notebooks/02_chmcnn_reproduction.py",
    "03_rare_node_loss": "notebooks/03_rare_node_loss.py",
    HCAL_CHAPTER: "notebooks/06_hcal.py",
    STRESS_CHAPTER: "notebooks/07_rare_nodes_images.py",
}
"""Chapters whose ``book/full/`` page reads the campaign's results back (``-p train False``).
Chapters 04 and 05 join when their pages can show a partial design (their tiers come later)."""
VERDICTS_PAGE = "notebooks/80_verdicts.py"


@dataclass(frozen=True)
class WorkItem:
    """One batch of seeds of one (chapter, dataset, method), with the claims it serves."""

    tier: int
    claims: str
    chapter: str
    dataset: str
    method: str
    seeds: tuple[int, ...]

    def label(self) -> str:
        seeds = f"seed {self.seeds[0]}" if len(self.seeds) == 1 else f"seeds {self.seeds[0]}-{self.seeds[-1]}"
        return f"{self.chapter} {self.dataset} {self.method} {seeds}"


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _batches(seeds: Iterable[int] = SEEDS, size: int = SEED_BATCH) -> list[tuple[int, ...]]:
    seeds = tuple(seeds)
    return [seeds[i : i + size] for i in range(0, len(seeds), size)]


def build_queue() -> list[WorkItem]:
    """Every work item of the ``full`` design, in priority order (module docstring)."""
    from hmc.rare_evidence import chapter_methods
    from hmc.rare_nodes import RareNodeConfig, method_name

    q: list[WorkItem] = []
    roles = chapter_methods(2)
    c12 = "rare-node claims 1, 2"
    first = [roles["baseline"], roles["focal-bma"], roles["focal-gmu"]]
    second = [roles["imbalance-neg"]] + [roles[f"focal-{m}"] for m in ("bbma", "aleatoric", "js", "kl")]
    third = [roles["imbalance-pos"]]
    for dataset in FUNCAT_FIRST:
        for seeds in _batches():
            q += [WorkItem(1, c12, "03_rare_node_loss", dataset, m, seeds) for m in first]
    hcal = hcal_items((2, 4))
    q += [i for i in hcal if i.tier == 2]
    q += stress_items(3)
    q += [i for i in hcal if i.tier == 4]
    for methods in (second, third):
        for dataset in FUNCAT_FIRST:
            for seeds in _batches():
                q += [WorkItem(5, c12, "03_rare_node_loss", dataset, m, seeds) for m in methods]
    for dataset in FUNCAT_REST:
        for seeds in _batches():
            q += [WorkItem(5, c12, "03_rare_node_loss", dataset, m, seeds) for m in first + second + third]
    variants = (dict(loss="plain"), dict(loss="focal", measure="gmu"),
                dict(loss="focal", measure="gmu", members="mc_dropout"))
    for dataset in FUNCAT_FIRST + FUNCAT_REST:
        for h in (2, 5, 10):
            for seeds in _batches():
                q += [WorkItem(6, "rare-node claim 4", "04_ensembles_and_dropout", dataset,
                               method_name(RareNodeConfig(n_members=h, **kw)), seeds) for kw in variants]
    from hmc.rare_evidence import CHAPTER05_METHODS

    for dataset in FUNCAT_FIRST + FUNCAT_REST:
        for seeds in _batches():
            q += [WorkItem(7, "rare-node claims 3, 5", "05_schedules_and_resampling", dataset, m, seeds)
                  for m in CHAPTER05_METHODS]
    for dataset in GO_DATASETS + OTHER_DATASETS:
        for seeds in _batches():
            q.append(WorkItem(8, "C-HMCNN reproduction", "02_chmcnn_reproduction", dataset, "chmcnn", seeds))
    for dataset in GO_DATASETS:
        for seeds in _batches():
            q += [WorkItem(9, c12 + " (GO)", "03_rare_node_loss", dataset, m, seeds) for m in roles.values()]
    return q


@functools.cache
def stress_values() -> dict:
    """Chapter 07's parameter values under ``full`` (its notebook's defaults with the profile's values)."""
    from hmc import runner

    source = Path(__file__).resolve().parents[2] / CHAPTER_PAGES[STRESS_CHAPTER]
    return runner.all_values(source, runner.resolve_parameters(source, "full", []))


def stress_items(tier: int) -> list[WorkItem]:
    """Chapter 07's ``full`` design as work items: every condition and method for seeds 0-4, then 5-9."""
    from hmc.rare_images import image_methods
    from hmc.runs.stress_sweep import condition_key, stress_design

    v = stress_values()
    methods = list(image_methods(v["n_heads"]).values())
    items = []
    for seeds in _batches():
        cells = dict.fromkeys((u.dataset, u.degradation, u.fraction, u.method) for u in stress_design(
            v["datasets"], methods, seeds[:1], v["degradations"], v["fractions"]))
        items += [WorkItem(tier, "rare-node claims 6, 5 (vision)", STRESS_CHAPTER, condition_key(d, a, f), m, seeds)
                  for d, a, f, m in cells]
    return items


# ------------------------------------------------------------------------------------- state
class Campaign:
    """The queue against the stores under ``results`` (``results/full/...``)."""

    def __init__(self, results: str | Path = "results", checkpoints: str | Path = "_build/campaign/checkpoints",
                 load: Callable | None = None, book: str | Path = "book"):
        from hmc.data import load_benchmark

        self.results, self.book = Path(results), Path(book)
        self.checkpoints = Path(checkpoints)
        self._load = load or load_benchmark
        self._loaded: dict = {}
        self._kinds: dict = {}
        self._stress_available: dict[str, bool] = {}
        self._hcal: HcalUnits | None = None
        self.queue = build_queue()

    def hcal(self) -> HcalUnits:
        """Chapter 06's units (:class:`hmc.runs.hcal_campaign.HcalUnits`) under ``results``."""
        if self._hcal is None:
            self._hcal = HcalUnits(self.results, self.checkpoints)
        return self._hcal

    def csv(self, chapter: str) -> Path:
        return self.results / "full" / f"{chapter}.csv"

    def store(self, chapter: str) -> ResultStore:
        return ResultStore(store_for(self.csv(chapter)))

    def benchmark(self, name: str):
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        return self._loaded[name]

    def stress_kind(self, dataset: str):
        """Chapter 07's sweep kind for a dataset, from the ``full`` values; its encoder in ``results/full``."""
        from hmc.runs.stress_sweep import StressKind

        if dataset not in self._kinds:
            self._kinds[dataset] = StressKind.from_parameters(dataset, stress_values(), self.results / "full",
                                                              progress=sys.stderr.isatty())
        return self._kinds[dataset]

    def kind(self, item: WorkItem):
        """The sweep kind of an item: chapter 07's stress kind, else the tabular one on :meth:`benchmark`."""
        from hmc.runs.stress_sweep import parse_condition
        from hmc.runs.sweep import TabularKind

        if item.chapter == STRESS_CHAPTER:
            return self.stress_kind(parse_condition(item.dataset)[0])
        return TabularKind(self.benchmark)

    def available(self, dataset: str) -> bool:
        """Whether the dataset's files are on disk (a stress condition: its dataset's)."""
        from hmc.data import paths
        from hmc.data.benchmarks import BENCHMARKS
        from hmc.errors import DatasetMissingError
        from hmc.data.images import IMAGE_HIERARCHIES
        from hmc.runs.stress_sweep import parse_condition

        if dataset in IMAGE_HIERARCHIES:  # chapter 06's image hierarchies
            return self.hcal().available(dataset)
        if "@" in dataset:  # a stress condition: its data on disk and an encoder that can be made for them
            name = parse_condition(dataset)[0]
            if name not in self._stress_available:
                try:
                    self._encoder_spec(name)
                    self.stress_kind(name).data(name)
                    self._stress_available[name] = True
                except (DatasetMissingError, ValueError):
                    self._stress_available[name] = False
            return self._stress_available[name]
        spec = BENCHMARKS[dataset]
        return all(paths.find(rel) is not None for rel in spec.files.values())

    def epochs(self, dataset: str) -> int:
        """The ``full`` protocol's epochs: the benchmark spec's, or chapter 06's or 07's ``full`` value."""
        from hmc.data.benchmarks import BENCHMARKS
        from hmc.data.images import IMAGE_HIERARCHIES

        if dataset in IMAGE_HIERARCHIES:
            return self.hcal().epochs
        if "@" in dataset:
            return int(stress_values()["epochs"])
        return BENCHMARKS[dataset].epochs

    def done_seeds(self, item: WorkItem) -> list[int]:
        """Seeds of the item whose unit is stored at the ``full`` protocol's epochs (:meth:`epochs`)."""
        if item.chapter == HCAL_CHAPTER:
            return self.hcal().done_seeds(item)
        store, epochs = self.store(item.chapter), self.epochs(item.dataset)
        done = []
        for seed in item.seeds:
            path = store.unit_path(item.dataset, item.method, seed)
            if path.exists() and store.read(path).config.get("epochs") == epochs:
                done.append(seed)
        return done

    def checkpoint_path(self, item: WorkItem, seeds: list[int]) -> Path:
        """Where :func:`hmc.runs.sweep.run_sweep` keeps the per-epoch checkpoint of these seeds of the item
        trained alone (:func:`hmc.runs.sweep.task_checkpoint`)."""
        from hmc.runs.sweep import task_checkpoint

        return task_checkpoint(self.checkpoints / item.chapter, item.dataset, (item.method,), seeds)

    def stacked_checkpoints(self, item: WorkItem, seeds: list[int]) -> list[Path]:
        """Checkpoints of these seeds of the item trained stacked with other methods (a tabular sweep
        stacks the methods of an item group, :func:`_item_groups`)."""
        from hmc.runs.sweep import STACK_PREFIX

        own = self.checkpoint_path(item, seeds)
        return [p for p in own.parent.parent.glob(f"{STACK_PREFIX}*/{own.name}")
                if item.method in p.parent.name.removeprefix(STACK_PREFIX).split("+")]

    def claim_path(self, item: WorkItem) -> Path:
        """The lock file that a local run holds while it trains ``item`` (:func:`hmc.fileio.try_locked`):
        campaign processes sharing the checkpoints folder (on one machine, or on machines sharing a
        file system with working ``flock``) skip an item another one is training."""
        name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", item.label())
        return self.checkpoints / "claims" / f"{name}.lock"

    def checkpoint_share(self, item: WorkItem, seeds: list[int]) -> float:
        """The share of the item's epochs already in its checkpoints (0 when there is none or it is
        unreadable; of a tabular item trained alone or stacked, the larger); chapter 07 trains one seed
        per task, so its seeds' checkpoints are averaged."""
        if item.chapter == HCAL_CHAPTER:
            return sum(self._share(self.hcal().checkpoint_path(item, s), item) for s in seeds) / len(seeds)
        if item.chapter == STRESS_CHAPTER:
            return sum(self._share(self.checkpoint_path(item, [s]), item) for s in seeds) / len(seeds)
        paths = [self.checkpoint_path(item, seeds), *self.stacked_checkpoints(item, seeds)]
        return max(self._share(path, item) for path in paths)

    def _share(self, path: Path, item: WorkItem) -> float:
        import torch

        if not path.exists():
            return 0.0
        try:
            epoch = int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
        except Exception:  # noqa: BLE001 - training will set a damaged checkpoint aside and say so
            return 0.0
        return min(1.0, epoch / self.epochs(item.dataset))

    # ---------------------------------------------------------------- costs
    def network_steps(self, item: WorkItem, n_seeds: int) -> int:
        """Network-steps of ``n_seeds`` seeds of the item: seeds x H x epochs x steps per epoch (chapter 07:
        seeds x epochs x steps of its fraction of the training images, the H heads counted in the step)."""
        from hmc.rare_nodes import rare_config
        from hmc.runs.stress_sweep import parse_condition

        lpros = item.method != "chmcnn" and rare_config(item.method).lpros
        if item.chapter == STRESS_CHAPTER:
            name, _, fraction = parse_condition(item.dataset)
            rows = len(self.stress_kind(name).data(name).x_train) * fraction * (1.1 if lpros else 1)
            return n_seeds * self.epochs(item.dataset) * math.ceil(rows / int(stress_values()["batch_size"]))
        b = self.benchmark(item.dataset)
        h = 1 if item.method == "chmcnn" else rare_config(item.method).n_members
        rows = len(b.x_train) + len(b.x_valid)
        if lpros:
            rows = int(rows * 1.1)
        return n_seeds * h * self.epochs(item.dataset) * math.ceil(rows / 4)

    def pretraining_s(self, item: WorkItem) -> float:
        """Chapter 07: the estimated seconds of pretraining the item's encoder while it is not made, else 0."""
        from hmc.data.image_subsets import omniglot_split
        from hmc.encoders import cache_path
        from hmc.runs.stress_sweep import parse_condition

        if item.chapter != STRESS_CHAPTER:
            return 0.0
        spec = self._encoder_spec(parse_condition(item.dataset)[0])
        if spec.source == "imagenet" or cache_path(spec, self.results / "full").exists():
            return 0.0
        images = len(omniglot_split("background", size=spec.image_size,
                                    max_alphabets=spec.pretrain_alphabets or None).x_train)
        return spec.pretrain_epochs * math.ceil(images / 128) * PRIOR_S_PER_IMAGE_STEP

    def _encoder_spec(self, dataset: str):
        """Chapter 07's encoder spec of a dataset under ``full``; ValueError where none can be made here."""
        from hmc.runs.stress_sweep import StressKind

        return StressKind.encoder_spec(dataset, stress_values())

    def network_size(self, dataset: str) -> float:
        """Weights of one C-HMCNN network of the dataset (its spec's hidden width), the scale of its step's cost."""
        b = self.benchmark(dataset)
        h, f, c = b.spec.hidden_dim, b.x_train.shape[1], b.y_train.shape[1]  # .spec: the dataset's settings
        return f * h + 2 * h * h + h * c

    def _family(self, item: WorkItem) -> str:
        if item.chapter == STRESS_CHAPTER:
            from hmc.runs.stress_sweep import parse_condition

            return f"images-{parse_condition(item.dataset)[0]}"
        if item.method == "chmcnn":
            return "plain"
        from hmc.rare_nodes import rare_config

        c = rare_config(item.method)
        return f"{c.loss}-{c.members}"

    def measured(self) -> list[tuple[str, str, float]]:
        """(dataset, cost family, seconds per network-step) of every stored ``full`` unit of the queue."""
        out = []
        for chapter in {i.chapter for i in self.queue}:
            if chapter == HCAL_CHAPTER:
                out += self.hcal().measured()
                continue
            for u in self.store(chapter).units():
                if u.method == "chmcnn" or u.dataset not in self._loaded and not self.available(u.dataset):
                    continue
                item = WorkItem(0, "", chapter, u.dataset, u.method, (u.seed,))
                out.append((u.dataset, self._family(item), u.wall_time_s / self.network_steps(item, 1)))
        return out

    def estimate_s(self, item: WorkItem, n_seeds: int, measured: list[tuple[str, str, float]]) -> tuple[float, str]:
        """Estimated seconds for ``n_seeds`` seeds of the item, and where the rate comes from."""
        import statistics

        if item.chapter == HCAL_CHAPTER:
            return self.hcal().estimate_s(item, n_seeds, measured)
        family = self._family(item)
        same = [r for d, f, r in measured if d == item.dataset and f == family]
        if item.chapter == STRESS_CHAPTER:
            same = [r for d, f, r in measured if f == family]  # a step costs the same under every condition
        if same:
            where = family if item.chapter == STRESS_CHAPTER else f"{family} units on {item.dataset}"
            rate, how = statistics.median(same), f"{len(same)} {where} units"
        elif item.chapter == STRESS_CHAPTER:
            rate, how = PRIOR_S_PER_IMAGE_STEP, f"the prior of {PRIOR_S_PER_IMAGE_STEP * 1000:.0f} ms per step"
        else:
            scaled = [r * self.network_size(item.dataset) / self.network_size(d) for d, f, r in measured if f == family]
            if scaled:
                rate, how = statistics.median(scaled), f"{len(scaled)} {family} units elsewhere, scaled by size"
            else:
                rate = PRIOR_MS_PER_NETWORK_STEP / 1000 * self.network_size(item.dataset) / _CELLCYCLE_SIZE
                how = "the prior of 2.2 ms per network-step, scaled by size"
        pretrain = self.pretraining_s(item)
        if pretrain:
            how += f"; with {pretrain / 60:.0f} min of pretraining its encoder"
        return rate * self.network_steps(item, n_seeds) + pretrain, how

    # ---------------------------------------------------------------- status
    def status_rows(self) -> list[dict]:
        """Per (tier, claims, chapter): units done / total, CPU hours spent, estimated hours left."""
        measured = self.measured()
        groups: dict[tuple, dict] = {}
        for item in self.queue:
            key = (item.tier, item.claims, item.chapter)
            g = groups.setdefault(key, {"done": 0, "total": 0, "spent_h": 0.0, "left_h": 0.0, "missing_data": 0})
            g["total"] += len(item.seeds)
            if not self.available(item.dataset):
                g["missing_data"] += len(item.seeds)
                continue
            done = self.done_seeds(item)
            g["done"] += len(done)
            if item.chapter == HCAL_CHAPTER:
                g["spent_h"] += self.hcal().spent_s(item, done) / 3600
            else:
                store = self.store(item.chapter)
                g["spent_h"] += sum(store.read(store.unit_path(item.dataset, item.method, s)).wall_time_s
                                    for s in done) / 3600
            left = len(item.seeds) - len(done)
            if left:
                g["left_h"] += self.estimate_s(item, left, measured)[0] / 3600
        return [{"tier": k[0], "claims": k[1], "chapter": k[2], **v} for k, v in sorted(groups.items())]


def parse_budget(text: str) -> float:
    """``"150m"``, ``"2h"``, ``"90s"``, ``"1h30m"`` -> seconds."""
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", text)
    if not m or not any(m.groups()):
        raise ValueError(f"budget {text!r}: give a duration such as 150m, 2h, 1h30m or 600s")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def format_hours(hours: float) -> str:
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def print_status(campaign: Campaign, out=sys.stdout) -> None:
    rows = campaign.status_rows()
    print(f"{'tier':<5}{'claims':<32}{'chapter':<30}{'units done':>14}{'CPU h spent':>13}{'est. h left':>13}",
          file=out)
    for r in rows:
        note = f"  ({r['missing_data']} units: data not on disk)" if r["missing_data"] else ""
        print(f"{r['tier']:<5}{r['claims']:<32}{r['chapter']:<30}{r['done']:>6} / {r['total']:<6}"
              f"{r['spent_h']:>13.2f}{r['left_h']:>13.1f}{note}", file=out)
    done, total = sum(r["done"] for r in rows), sum(r["total"] for r in rows)
    print(f"all: {done} / {total} units, {sum(r['spent_h'] for r in rows):.2f} CPU h spent, about "
          f"{sum(r['left_h'] for r in rows):.0f} h left at one thread on this machine", file=out)


# ------------------------------------------------------------------------------------- running
def _pending_items(campaign: Campaign, out, refresh: bool) -> Iterator[tuple[WorkItem, list[int], float, str]]:
    """The unfinished items in queue order, each with its pending seeds and estimated seconds (and whence).

    The measured costs are read for the first item, and again for every later one with ``refresh``
    (a local run, whose estimates then follow the units it has just finished)."""
    measured = None
    for item in campaign.queue:
        if not campaign.available(item.dataset):
            continue
        try:
            pending = [s for s in item.seeds if s not in campaign.done_seeds(item)]
        except DamagedResult as err:
            print(f"skipping {item.label()}: {err}", file=out, flush=True)
            continue
        if not pending:
            continue
        if measured is None or refresh:
            measured = campaign.measured()
        estimate, how = campaign.estimate_s(item, len(pending), measured)
        done_share = campaign.checkpoint_share(item, pending)
        if done_share:
            estimate *= 1 - done_share
            how += f"; {done_share:.0%} done in its checkpoint"
        yield item, pending, estimate, how


def _item_groups(pending: Iterator[tuple[WorkItem, list[int], float, str]], deadline: float) -> Iterator[list]:
    """The pending items (:func:`_pending_items`) in groups that one tabular sweep trains: consecutive
    items of one chapter of :data:`STACKED_CHAPTERS` and dataset with the same pending seeds (their
    methods then stack where they can, :func:`hmc.runs.sweep.run_sweep`), while the group's summed
    estimate fits before ``deadline`` (summed, so a stacked group's estimate errs long); other items
    alone."""
    group: list = []
    for entry in pending:
        item, seeds, estimate = entry[0], entry[1], entry[2]
        if group:
            first = group[0]
            joins = (item.chapter in STACKED_CHAPTERS and item.chapter == first[0].chapter
                     and item.dataset == first[0].dataset and seeds == first[1]
                     and sum(e[2] for e in group) + estimate <= deadline - time.time())
            if joins:
                group.append(entry)
                continue
            yield group
        group = [entry]
    if group:
        yield group


def run_campaign(campaign: Campaign, budget_s: float, threads: int = 1, pages: bool = True,
                 out=sys.stdout, executor=None) -> dict:
    """Run unfinished items in queue order until the budget would be exceeded; return a summary.

    Here (``executor`` None or local), one item after another: an item starts only if its estimate
    fits in what is left of the budget; the first that does not ends the run (the queue's order is
    kept). Consecutive tabular items of one dataset and seeds train as one group (:func:`_item_groups`),
    so that their methods stack. On a cluster (:class:`hmc.runs.executors.RayExecutor`), the items in queue order whose
    estimates fit in the budget times the cluster's parallel slots run at once, each chapter's
    through one :func:`~hmc.runs.sweep.run_sweep`. Training also pauses at an epoch boundary if the
    budget would end during the next epoch (the checkpoint keeps it for the next call).
    """
    from hmc.checkpoint import TrainingPaused
    from hmc.runs.executors import LocalExecutor
    from hmc.runs.sweep import Unit, run_sweep

    executor = executor or LocalExecutor()
    started = time.time()
    deadline = started + budget_s
    summary = {"items": 0, "units": 0, "stopped": "queue finished", "seconds": 0.0}

    def sweep(units, item):
        # no epochs, lr or width given: each dataset trains with its spec's (the full protocol,
        # hmc.train.chmcnn_settings), chapter 07 with its full values (its kind); progress: a bar over
        # each item's steps in a terminal, none in a log; chapter 06 through its own image sweep
        if item.chapter == HCAL_CHAPTER:
            campaign.hcal().run(units, deadline, threads)
            return
        kwargs = {} if item.chapter == STRESS_CHAPTER else {"device": "cpu"}
        run_sweep(units, campaign.csv(item.chapter), kind=campaign.kind(item), num_threads=threads,
                  progress=sys.stderr.isatty(), checkpoint_dir=campaign.checkpoints / item.chapter,
                  stop_at=deadline, seeds_per_batch=SEED_BATCH, executor=executor,
                  stack_methods=item.chapter in STACKED_CHAPTERS, **kwargs)

    if executor.name != "local":
        slots, chosen, total = executor.slots(), [], 0.0
        for item, pending, estimate, how in _pending_items(campaign, out, refresh=False):
            if (total + estimate) / slots > budget_s:
                summary["stopped"] = f"next item {item.label()} does not fit in the budget on {slots} slots"
                break
            total += estimate
            chosen.append((item, pending))
            print(f"  {item.label()} ({_seeds(len(pending))}): about {estimate / 60:.1f} min (from {how})", file=out)
        print(f"[{time.strftime('%H:%M:%S')}] {len(chosen)} items on {slots} slots of {executor.name}: about "
              f"{total / slots / 60:.0f} min", file=out, flush=True)
        by_kind: dict[tuple[str, str], tuple[WorkItem, list]] = {}  # one sweep per chapter and kind
        for item, pending in chosen:
            key = (item.chapter, item.dataset.split("@")[0] if item.chapter == STRESS_CHAPTER else "")
            by_kind.setdefault(key, (item, []))[1].extend(Unit(item.dataset, item.method, s) for s in pending)
        try:
            for first, units in by_kind.values():
                sweep(units, first)
                summary["units"] += len(units)
        except TrainingPaused as paused:
            summary["stopped"] = f"budget reached ({paused})"
        summary["items"] = len(chosen)
        if pages and by_kind:
            refresh_pages([chapter for chapter, _ in by_kind], campaign.results, campaign.book, out=out)
    else:
        for group in _item_groups(_pending_items(campaign, out, refresh=True), deadline):
            item, pending, estimate, how = group[0]
            left = deadline - time.time()
            if estimate > left:
                summary["stopped"] = (f"next item {item.label()} needs about {estimate / 60:.0f} min, "
                                      f"{left / 60:.0f} min of the budget left")
                break
            with contextlib.ExitStack() as claims:
                mine = []
                for entry in group:
                    if claims.enter_context(try_locked(campaign.claim_path(entry[0]))):
                        mine.append(entry)
                    else:
                        print(f"[{time.strftime('%H:%M:%S')}] {entry[0].label()}: another campaign process is "
                              f"running it; next item", file=out, flush=True)
                if not mine:
                    continue
                for entry_item, entry_pending, entry_estimate, entry_how in mine:
                    print(f"[{time.strftime('%H:%M:%S')}] {entry_item.label()} ({_seeds(len(entry_pending))}; "
                          f"{entry_item.claims}): about {entry_estimate / 60:.1f} min (from {entry_how}); "
                          f"{(deadline - time.time()) / 60:.0f} min of the budget left", file=out, flush=True)
                if len(mine) > 1:
                    print(f"      these {len(mine)} items train together (one sweep: its methods stack where they "
                          f"can, hmc.stacked_methods)", file=out, flush=True)
                t0 = time.time()
                try:
                    sweep([Unit(i.dataset, i.method, s) for i, p, _, _ in mine for s in p], mine[0][0])
                except TrainingPaused as paused:
                    summary["stopped"] = f"budget reached during {mine[0][0].label()} ({paused})"
                    print(summary["stopped"], file=out, flush=True)
                    break
            summary["items"] += len(mine)
            summary["units"] += sum(len(p) for _, p, _, _ in mine)
            total = sum(e for _, _, e, _ in mine)
            print(f"      done in {(time.time() - t0) / 60:.1f} min (estimate {total / 60:.1f} min)", file=out,
                  flush=True)
            if pages:
                refresh_pages([item.chapter], campaign.results, campaign.book, out=out)
    summary["seconds"] = time.time() - started
    print(f"campaign: {summary['items']} items, {summary['units']} units in {summary['seconds'] / 60:.1f} min; "
          f"stopped: {summary['stopped']}", file=out, flush=True)
    return summary


def refresh_pages(chapters: Iterable[str], results: str | Path = "results", book: str | Path = "book",
                  out=sys.stdout) -> None:
    """Re-execute the chapters' ``<book>/full/`` pages (reading the stores back, training nothing) and
    the verdicts page. A page that fails keeps its committed version (the runner replaces a page only
    on success) and the failure is printed. Campaign processes sharing ``book`` re-execute pages one
    at a time (the lock ``<book>/.lock``)."""
    from hmc import runner

    book = Path(book)
    jobs = [(CHAPTER_PAGES[c], "full", [("train", "False")], book / "full") for c in dict.fromkeys(chapters)
            if c in CHAPTER_PAGES]
    jobs.append((VERDICTS_PAGE, "quick", [], book))
    with locked(book / ".lock"):
        for source, profile, overrides, out_dir in jobs:
            t0 = time.time()
            try:
                runner.run_notebook(source, profile, overrides, out_dir, results, progress=False)
                print(f"      page {source} ({profile}) re-executed in {time.time() - t0:.0f} s", file=out, flush=True)
            except (runner.NotebookFailed, runner.ParameterError) as err:
                print(f"      page {source} not updated: {err}", file=out, flush=True)


def plan_lines(campaign: Campaign, limit: int | None = None, out=sys.stdout) -> list[str]:
    """The queue's unfinished items with their estimates (as a run would print them), in order."""
    lines, total = [], 0.0
    for item, pending, estimate, _ in _pending_items(campaign, out, refresh=False):
        total += estimate
        if limit is None or len(lines) < limit:
            lines.append(f"  tier {item.tier}  {item.label():<70} {_seeds(len(pending)):>8}  ~{estimate / 60:6.1f} min  "
                         f"(cumulative {format_hours(total / 3600)})")
    return lines
