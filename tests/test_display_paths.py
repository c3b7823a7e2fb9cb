"""Paths as a page shows them (hmc.display_paths): relative to the checkout or below a named folder."""

import os
import tempfile
from pathlib import Path

import pytest

from hmc import display_paths
from hmc.display_paths import CHECKOUT, display_path, display_paths_in


@pytest.fixture
def folders(tmp_path, monkeypatch):
    data, cache, results = tmp_path / "data", tmp_path / "cache", tmp_path / "res"
    monkeypatch.setenv("HMC_DATA_DIR", str(data))
    monkeypatch.setenv("HMC_CACHE_DIR", str(cache))
    monkeypatch.setenv("HMC_RESULTS_DIR", str(results))
    return data, cache, results


def test_paths_in_the_checkout_are_relative_and_named_folders_are_named(folders):
    data, cache, results = folders
    assert display_path(CHECKOUT / "results" / "quick" / "02_x.csv") == "results/quick/02_x.csv"
    assert display_path(CHECKOUT) == "."
    assert display_path(data / "omniglot" / "a.zip") == "<HMC_DATA_DIR>/omniglot/a.zip"
    assert display_path(str(cache / "encoders" / "c.pt")) == "<HMC_CACHE_DIR>/encoders/c.pt"
    assert display_path(results / "smoke" / "x.csv") == "<HMC_RESULTS_DIR>/smoke/x.csv"
    assert display_path("results/quick/x.csv") == "results/quick/x.csv"  # relative: as given


def test_results_inside_the_checkout_stay_relative_and_the_rest_is_named(monkeypatch):
    monkeypatch.setenv("HMC_RESULTS_DIR", str(CHECKOUT / "results"))
    assert display_path(CHECKOUT / "results" / "full" / "03.csv") == "results/full/03.csv"
    assert display_path(Path.home() / "notes" / "x.txt").startswith("~/") or CHECKOUT.is_relative_to(Path.home())
    tmp = Path(tempfile.gettempdir()).resolve() / "somewhere-else" / "x.csv"
    if not CHECKOUT.is_relative_to(tmp.parent):
        assert display_path(tmp) == "<tmp>/somewhere-else/x.csv"
    site = [f for f, shown in display_paths.roots() if shown == "<site-packages>"][0]
    assert display_path(os.path.join(site, "torch", "nn.py")) == "<site-packages>/torch/nn.py"


def test_paths_inside_a_text_are_replaced_only_as_whole_folders(folders):
    data, cache, _ = folders
    message = (f"missing data file 'x.arff'; looked for {data}/hmc/x.arff, {cache}/hmc/x.arff. "
               f"Wrote {CHECKOUT}/results/quick/a.csv and kept {CHECKOUT}line/b.csv and {CHECKOUT}.")
    shown = display_paths_in(message)
    assert shown.startswith(
        "missing data file 'x.arff'; looked for <HMC_DATA_DIR>/hmc/x.arff, <HMC_CACHE_DIR>/hmc/x.arff. "
        "Wrote results/quick/a.csv and kept ")
    assert shown.endswith(" and ..")
    # a sibling folder whose name starts with the checkout's is not inside it: never shown relative to it
    # (it may be shown under <tmp> or ~ when the checkout lies there)
    kept = shown.split(" and kept ")[1].split(" and ")[0]
    assert kept.endswith(f"{CHECKOUT.name}line/b.csv") and not kept.startswith("line/")
    assert display_paths_in("see https://example.org" + str(data) + "/x") == "see https://example.org" + str(data) + "/x"
    assert display_paths_in("no path here") == "no path here"
