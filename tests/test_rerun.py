"""Reruns never write stand-ins over the record: each notebook's data needs, the check before executing,
fetching first, and `python -m hmc run`'s refusal, --skip-missing, --stand-ins and --check."""

import json
import shutil
from pathlib import Path

import pytest

from hmc import data_needs, profiles, runner
from hmc.__main__ import main
from hmc.data.benchmarks import BENCHMARKS
from hmc.data.sources import SOURCES
from hmc.errors import DatasetMissingError
from sample_data import SAMPLE_ROOT

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {s.stem: s for s in runner.notebook_sources(ROOT / "notebooks")}
FUN_GO = tuple(n for n, spec in BENCHMARKS.items() if spec.family in ("FUN", "GO"))

NEEDY = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
profile = "quick"  # run profile
datasets = ["cellcycle_FUN"]  # benchmark names

# %%
from hmc.data import load_benchmark
from hmc.errors import DatasetMissingError

try:
    shapes = {name: load_benchmark(name).x_train.shape for name in datasets}
except DatasetMissingError:
    shapes = {"synthetic": (10, 3)}  # the chapters' stand-in
print(shapes)
'''

FREE = NEEDY.replace('datasets = ["cellcycle_FUN"]', 'datasets = []')


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """Empty data and cache roots (the cache is where a fetch writes); HMC_RESULTS_DIR restored after."""
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HMC_RESULTS_DIR", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    """A notebooks folder: 97_free (needs nothing) and 98_needy (needs cellcycle_FUN, by its parameter)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "97_free.py").write_text(FREE)
    (folder / "98_needy.py").write_text(NEEDY)
    for stem in ("97_free", "98_needy"):
        monkeypatch.setitem(profiles.NOTEBOOK_PROFILES, stem, {"smoke": {}, "quick": {}, "full": {}})
    monkeypatch.setitem(data_needs.NEEDS, "98_needy", data_needs._datasets_param)
    return folder


def needs(stem, profile, overrides=()):
    source = NOTEBOOKS[stem]
    return runner.data_needs_of(source, runner.resolve_parameters(source, profile, list(overrides)))


def copy_sample(name, root):
    """Put the sample's files of benchmark ``name`` under the data root ``root`` (a fake download)."""
    for f in SOURCES[name]:
        (root / f.relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_ROOT / f.relpath, root / f.relpath)


# ------------------------------------------------------------------------------------ needs
def test_needs_of_the_committed_notebooks():
    for stem in ("00_what_is_hmc", "80_verdicts", "90_reproduce"):
        for profile in profiles.PROFILE_NAMES:
            assert needs(stem, profile) == data_needs.Needs(), (stem, profile)
    assert needs("02_chmcnn_reproduction", "quick").required == ("cellcycle_FUN", "spo_FUN", "cellcycle_GO", "enron")
    assert needs("02_chmcnn_reproduction", "full") == data_needs.Needs(any_of=tuple(BENCHMARKS))
    assert needs("03_rare_node_loss", "full") == data_needs.Needs(any_of=FUN_GO)
    assert needs("04_ensembles_and_dropout", "quick").required == ("cellcycle_FUN",)
    assert needs("05_schedules_and_resampling", "smoke") == data_needs.Needs()  # a synthetic hierarchy by design
    assert needs("06_hcal", "quick") == data_needs.Needs(required=("omniglot",), optional=("resnet18_weights",))
    assert needs("06_hcal", "smoke") == data_needs.Needs(optional=("resnet18_weights",))
    assert needs("06_hcal", "quick", [("pretrained", "yes")]).required == ("omniglot", "resnet18_weights")
    assert needs("01_datasets", "quick") == data_needs.Needs(any_of=tuple(BENCHMARKS),
                                                             optional=("omniglot", "cifar100", "aircraft"))
    assert needs("01_datasets", "smoke").required == ("cellcycle_FUN", "cellcycle_GO")
    assert set(data_needs.NEEDS) <= set(NOTEBOOKS)
    for stem, source in NOTEBOOKS.items():  # a notebook that takes datasets must say what it needs
        if {"datasets", "benchmarks", "images"} & set(runner.notebook_parameters(source)):
            assert stem in data_needs.NEEDS, f"{stem} takes datasets: add its needs to hmc.data_needs.NEEDS"
    for stem in NOTEBOOKS:
        for profile in profiles.PROFILE_NAMES:
            need = needs(stem, profile)
            assert set(need.required + need.any_of + need.optional) <= set(SOURCES), (stem, profile)


def test_blocking_absent_and_on_disk(sample_data, tmp_path, monkeypatch):
    Needs = data_needs.Needs
    assert Needs(required=("cellcycle_FUN", "cellcycle_GO")).blocking() == []
    assert Needs(required=("cellcycle_FUN", "enron")).blocking() == ["enron"]
    assert Needs(any_of=("enron", "spo_FUN")).blocking() == []  # a selection: those on disk
    assert Needs(any_of=("enron", "spo_FUN")).absent() == ["enron"]
    assert Needs(any_of=("enron", "diatoms")).blocking() == ["enron", "diatoms"]
    assert Needs(optional=("cifar100", "aircraft")).blocking() == []
    assert Needs(required=("omniglot",)).to_fetch() == ["omniglot"]
    assert data_needs.on_disk("omniglot") and not data_needs.on_disk("cifar100")
    assert data_needs.missing_files("enron") == [f.relpath for f in SOURCES["enron"]]
    # Omniglot as the official zips counts too (the loader reads either)
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path))
    assert not data_needs.on_disk("omniglot")
    for f in SOURCES["omniglot_zips"]:
        (tmp_path / f.relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.relpath).write_bytes(b"")
    assert data_needs.on_disk("omniglot")


def test_fetch_missing_stops_at_the_first_network_failure(no_data, monkeypatch):
    calls = []

    def offline(name, **_):
        calls.append(name)
        raise DatasetMissingError(f"could not download {name}. (URLError: no network)")

    report = data_needs.fetch_missing(["cellcycle_FUN", "spo_FUN", "aircraft"], fetch=offline)
    assert calls == ["cellcycle_FUN"] and report.offline
    assert report.not_tried == ["cellcycle_FUN", "spo_FUN", "aircraft"]
    report = data_needs.fetch_missing(["aircraft", "cellcycle_FUN"], fetch=lambda name, **_: copy_sample(name, no_data))
    assert report.fetched == ["cellcycle_FUN"] and "no published checksum" in report.failed["aircraft"]
    assert data_needs.on_disk("cellcycle_FUN")


# ------------------------------------------------------------------------------------ the runner's check
def test_missing_data_refuse_the_run_and_leave_page_manifest_and_results_byte_identical(
        notebooks, no_data, tmp_path, monkeypatch):
    out, results = tmp_path / "book", tmp_path / "results"
    monkeypatch.setenv("HMC_DATA_DIR", str(SAMPLE_ROOT))  # the committed page: built from real data
    page = runner.run_notebook(notebooks / "98_needy.py", "quick", [], out, results, progress=False)
    manifest = results / "quick" / "manifests" / "98_needy.json"
    (results / "quick" / "98_needy.csv").write_text("dataset,value\ncellcycle_FUN,1\n")
    before = {p: p.read_bytes() for p in (*out.rglob("*"), *results.rglob("*")) if p.is_file()}
    assert page in before and manifest in before

    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path / "no-data"))
    with pytest.raises(runner.DataMissing) as err:
        runner.run_notebook(notebooks / "98_needy.py", "quick", [], out, results, progress=False,
                            failed_dir=tmp_path / "failed")
    message = str(err.value)
    assert err.value.datasets == ["cellcycle_FUN"]
    assert "was not executed" in message and "cellcycle_FUN.train.arff" in message
    assert "python -m hmc data fetch cellcycle_FUN" in message and str(no_data) in message
    after = {p: p.read_bytes() for p in (*out.rglob("*"), *results.rglob("*")) if p.is_file()}
    assert after == before
    assert not (tmp_path / "failed").exists()


def test_stand_ins_go_elsewhere_only(notebooks, no_data, tmp_path, monkeypatch):
    assert ROOT / "book" in runner.committed_folders() and ROOT / "results" in runner.committed_folders()
    committed = tmp_path / "repo"
    monkeypatch.setattr(runner, "committed_folders", lambda: [committed / "book", committed / "results"])
    for out, results in ((committed / "book", tmp_path / "r"), (tmp_path / "o", committed / "results" / "x")):
        with pytest.raises(runner.ParameterError, match="never writes into the committed record"):
            runner.run_notebook(notebooks / "98_needy.py", "quick", [], out, results, progress=False, stand_ins=True)
    assert not committed.exists() and not (tmp_path / "r").exists() and not (tmp_path / "o").exists()
    page = runner.run_notebook(notebooks / "98_needy.py", "quick", [], tmp_path / "o", tmp_path / "r",
                               progress=False, stand_ins=True)
    assert "synthetic" in page.read_text()
    manifest = json.loads((tmp_path / "r" / "quick" / "manifests" / "98_needy.json").read_text())
    assert manifest["stand_ins_for"] == ["cellcycle_FUN"]


# ------------------------------------------------------------------------------------ the command line
def cli(notebooks, tmp_path, *options, only=None):
    which = [str(notebooks / only)] if only else ["--all", "--notebooks-dir", str(notebooks)]
    return main(["run", *which, "--no-progress", "--out", str(tmp_path / "out"), "--results", str(tmp_path / "res"),
                 *options])


def test_cli_executes_nothing_when_data_are_missing(notebooks, no_data, tmp_path, capsys, monkeypatch):
    assert cli(notebooks, tmp_path, "--offline") == 3
    err = capsys.readouterr().err
    assert "nothing was executed" in err and "Missing:" in err
    assert "cellcycle_FUN: cellcycle_FUN.train.arff, cellcycle_FUN.valid.arff, cellcycle_FUN.test.arff" in err
    assert "python -m hmc data fetch cellcycle_FUN" in err and "--skip-missing" in err and "--stand-ins" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "res").exists()
    assert cli(notebooks, tmp_path, "--offline", "--check") == 3
    assert not (tmp_path / "out").exists()
    assert cli(notebooks, tmp_path, "--skip-missing", "--stand-ins") == 2
    monkeypatch.setattr(runner, "committed_folders", lambda: [tmp_path / "out", tmp_path / "res"])
    assert cli(notebooks, tmp_path, "--offline", "--stand-ins") == 2  # stand-ins into the record: refused
    assert "never writes into the committed record" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "res").exists()  # not even 97_free ran


def test_cli_skip_missing_runs_the_others(notebooks, no_data, tmp_path, capsys):
    assert cli(notebooks, tmp_path, "--offline", "--skip-missing") == 0
    out = capsys.readouterr().out
    assert "SKIPPED: cellcycle_FUN not on disk" in out
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ipynb")) == ["97_free.ipynb"]


def test_cli_fetches_first_and_says_when_there_is_no_network(notebooks, no_data, tmp_path, capsys, monkeypatch):
    from hmc.data import download

    def offline(name, **_):
        raise DatasetMissingError(f"could not download {name}.train.arff (URLError: Name or service not known)")

    monkeypatch.setattr(download, "fetch", offline)
    assert cli(notebooks, tmp_path) == 3
    captured = capsys.readouterr()
    assert "data: fetching what is not on disk: cellcycle_FUN" in captured.out
    assert "no network" in captured.out and "nothing was executed" in captured.err
    monkeypatch.setattr(download, "fetch", lambda name, **_: copy_sample(name, no_data))
    assert cli(notebooks, tmp_path, only="98_needy.py") == 0
    assert "data: cellcycle_FUN fetched" in capsys.readouterr().out
    assert "(200, 77)" in (tmp_path / "out" / "98_needy.ipynb").read_text()  # the (sample's) real data
