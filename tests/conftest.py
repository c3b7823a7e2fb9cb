"""Fixtures shared by several test files.

Data: the suite needs no data folder. A test that needs real files uses ``sample_data``: a small
sample of the real data committed with the tests (``tests/data/sample``, see ``sample_data.py``).
Only the tests that check the complete files themselves (checksums, byte sizes, row counts) need
them: they use ``complete_data`` (or look the files up themselves) and skip, saying what they need,
where the complete data are not on disk.
"""

import os
from pathlib import Path

import pytest
import torch

from sample_data import SAMPLE_ROOT

CHECKOUT = Path(__file__).resolve().parents[1]


def complete_data_root() -> Path | None:
    """The complete data folder: ``$HMC_DATA_DIR`` as the session started (unless it is the sample),
    else ``../shared/data`` beside the checkout (this project's own environment), else None."""
    for candidate in (os.environ.get("HMC_DATA_DIR"), CHECKOUT.parent / "shared" / "data"):
        if candidate and Path(candidate).resolve() != SAMPLE_ROOT and (Path(candidate) / "hmc_datasets").is_dir():
            return Path(candidate)
    return None


COMPLETE_DATA = complete_data_root()
"""Computed once, before any test changes the environment."""


@pytest.fixture
def one_torch_thread():
    """One torch thread for a test (the machine is small), restored afterwards so that other tests
    run with the thread count they expect. Files use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def sample_data(monkeypatch, tmp_path):
    """HMC_DATA_DIR -> the committed sample of the real data; HMC_CACHE_DIR -> an empty folder of the
    test's own (so that the sample's parse cache never replaces the complete data's)."""
    monkeypatch.setenv("HMC_DATA_DIR", str(SAMPLE_ROOT))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "hmc-cache"))
    return SAMPLE_ROOT


@pytest.fixture
def complete_data(monkeypatch):
    """HMC_DATA_DIR -> the complete data folder; skips, saying how to run it, where there is none."""
    if COMPLETE_DATA is None:
        pytest.skip("checks the complete data files: set HMC_DATA_DIR to the folder holding hmc_datasets/ "
                    "(python -m hmc data fetch NAME downloads them)")
    monkeypatch.setenv("HMC_DATA_DIR", str(COMPLETE_DATA))
    return COMPLETE_DATA
