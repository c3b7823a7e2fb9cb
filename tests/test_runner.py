"""The notebook runner: parameter checks before execution, failing cells, provenance, manifests."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hmc import profiles, runner

ROOT = Path(__file__).resolve().parents[1]
NB00 = ROOT / "notebooks" / "00_what_is_hmc.py"

TINY = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
profile = "quick"  # run profile
n = 3  # an int
scale = 0.5  # a float
flag = False  # a bool
name = "abc"  # a string

# %%
total = n * scale

# %%
if flag:
    raise RuntimeError("flag was set")
print("total", total, name)
'''


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    source = tmp_path / "99_tiny.py"
    source.write_text(TINY)
    table = {"smoke": {"n": 1}, "quick": {}, "full": {"n": 10}}
    monkeypatch.setitem(profiles.NOTEBOOK_PROFILES, "99_tiny", table)
    return source


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hmc", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_parameters_are_read_with_types_and_help(tiny):
    params = runner.notebook_parameters(tiny)
    assert list(params) == ["profile", "n", "scale", "flag", "name"]
    assert params["n"].default == 3 and params["n"].type_name == "int"
    assert params["scale"].help == "a float"


GROUPED = TINY.replace('# %% tags=["parameters"]\nprofile = "quick"  # run profile\nn = 3  # an int\n',
                       '# %% tags=["parameters-group"]\nn = 3  # an int\n\n# %% tags=["parameters"]\n'
                       'profile = "quick"  # run profile\n')


def test_a_group_of_parameters_before_the_parameters_cell_is_read_and_overridden(tiny, tmp_path, caplog):
    tiny.write_text(GROUPED)
    assert GROUPED != TINY and 'tags=["parameters-group"]' in GROUPED
    params = runner.notebook_parameters(tiny)
    assert list(params) == ["n", "profile", "scale", "flag", "name"] and params["n"].help == "an int"
    out = runner.run_notebook(tiny, "full", [("scale", "2.0")], tmp_path / "out", tmp_path / "res", progress=False)
    text = json.dumps([c.get("outputs", []) for c in nbformat.read(out, as_version=4).cells])
    assert "total 20.0 abc" in text  # n = 10 (the full profile's) overrides the group's default 3
    # papermill, which reads defaults from the parameters cell alone, would call n unknown: not logged
    assert "Passed unknown parameter" not in caplog.text
    assert not logging.getLogger("papermill").filters  # the filter went with the run


@pytest.mark.parametrize("text, message", [
    (GROUPED.replace("# %%\ntotal", '# %% tags=["parameters-group"]\nlate = 1\n\n# %%\ntotal'),
     "must come before the 'parameters' cell"),
    (GROUPED.replace('name = "abc"  # a string', 'name = "abc"  # a string\nn = 4'), "parameter n is declared twice"),
])
def test_a_misplaced_or_repeated_parameter_is_refused(tiny, text, message):
    tiny.write_text(text)
    with pytest.raises(runner.ParameterError, match=message):
        runner.notebook_parameters(tiny)


def test_values_merge_profile_then_overrides_with_conversion(tiny):
    values = runner.resolve_parameters(tiny, "full", [("scale", "2"), ("flag", "true"), ("name", "x y")])
    assert values == {"profile": "full", "n": 10, "scale": 2.0, "flag": True, "name": "x y"}


@pytest.mark.parametrize(
    "override, expected",
    [
        (("n", "2.5"), "parameter n expects a value of type int, got '2.5'"),
        (("scale", "big"), "parameter scale expects a value of type float"),
        (("flag", "yes"), "parameter flag expects a value of type bool"),
        (("nope", "1"), "unknown parameter 'nope'"),
    ],
)
def test_bad_overrides_are_refused_listing_valid_parameters(tiny, override, expected):
    with pytest.raises(runner.ParameterError) as err:
        runner.resolve_parameters(tiny, "quick", [override])
    message = str(err.value)
    assert expected in message
    for name in ("profile (str", "n (int, default 3)", "scale (float", "flag (bool", "name (str"):
        assert name in message


def test_cli_refuses_unknown_parameter_before_executing(tmp_path):
    run = cli("run", str(NB00), "-p", "no_such_param", "1", "--out", str(tmp_path / "out"),
              "--results", str(tmp_path / "res"))
    assert run.returncode == 2
    assert "unknown parameter 'no_such_param'" in run.stderr
    assert "n_samples (int" in run.stderr and "depth (int" in run.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "res").exists()


def test_cli_refuses_wrong_type_before_executing(tmp_path):
    run = cli("run", str(NB00), "-p", "depth", "deep", "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert "parameter depth expects a value of type int, got 'deep'" in run.stderr
    assert "valid parameters" in run.stderr.lower()
    assert not (tmp_path / "out").exists()


def test_failing_cell_exits_nonzero_naming_notebook_and_cell(tiny, tmp_path):
    with pytest.raises(runner.NotebookFailed) as err:
        runner.run_notebook(tiny, "quick", [("flag", "True")], tmp_path / "out", tmp_path / "res", progress=False,
                            failed_dir=tmp_path / "failed")
    message = str(err.value)
    assert "99_tiny.py" in message and "cell" in message
    assert "RuntimeError: flag was set" in message
    manifest = json.loads((tmp_path / "failed" / "99_tiny.json").read_text())
    assert manifest["status"] == "failed" and "flag was set" in manifest["error"]
    assert (tmp_path / "failed" / "99_tiny.ipynb").is_file()  # the partial run, for a look


def test_a_failed_run_leaves_the_committed_page_and_manifest_byte_identical(tiny, tmp_path):
    page = runner.run_notebook(tiny, "quick", [], tmp_path / "out", tmp_path / "res", progress=False)
    manifest = tmp_path / "res" / "quick" / "manifests" / "99_tiny.json"
    before = (page.read_bytes(), manifest.read_bytes())
    with pytest.raises(runner.NotebookFailed, match="are unchanged"):
        runner.run_notebook(tiny, "quick", [("flag", "True")], tmp_path / "out", tmp_path / "res", progress=False,
                            failed_dir=tmp_path / "failed")
    assert (page.read_bytes(), manifest.read_bytes()) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["99_tiny.ipynb"]  # no temporary left


def test_an_unwritable_output_is_refused_before_anything_executes(tiny, tmp_path):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "quick").write_text("a file where the results folder should be")
    with pytest.raises(PermissionError, match="not writable"):
        runner.run_notebook(tiny, "quick", [("flag", "True")], tmp_path / "out", tmp_path / "res", progress=False,
                            failed_dir=tmp_path / "failed")
    assert not (tmp_path / "failed").exists()  # nothing executed


def test_cli_exit_code_on_failing_cell(tmp_path):
    source = tmp_path / "00_what_is_hmc.py"  # a registered name, so the profile table applies
    source.write_text(NB00.read_text().replace("import matplotlib.pyplot as plt", "raise ValueError('boom')"))
    run = cli("run", str(source), "--profile", "smoke", "--out", str(tmp_path / "out"),
              "--results", str(tmp_path / "res"), "--no-progress")
    assert run.returncode == 1
    assert "00_what_is_hmc.py" in run.stderr and "ValueError: boom" in run.stderr and "cell" in run.stderr


MISSING = ("from hmc.errors import DatasetMissingError\n"
           "raise DatasetMissingError(\"missing data file 'x.npz'; looked for /nowhere/x.npz. To get it: fetch x\")")


def test_missing_dataset_is_a_clean_stop_not_a_failure(tiny, tmp_path):
    tiny.write_text(TINY.replace("total = n * scale", MISSING))
    with pytest.raises(runner.DataMissing) as err:
        runner.run_notebook(tiny, "quick", [], tmp_path / "out", tmp_path / "res", progress=False,
                            failed_dir=tmp_path / "failed")
    message = str(err.value)
    assert message.startswith(f"{tiny} stopped: a dataset it needs is not on disk.")
    assert "missing data file 'x.npz'; looked for /nowhere/x.npz. To get it: fetch x" in message
    assert isinstance(err.value, runner.NotebookFailed)  # callers that catch failures still catch it
    manifest = json.loads((tmp_path / "failed" / "99_tiny.json").read_text())
    assert manifest["status"] == "missing data" and "To get it: fetch x" in manifest["error"]
    assert (tmp_path / "failed" / "99_tiny.ipynb").is_file()  # the partly executed notebook is kept
    assert not (tmp_path / "out" / "99_tiny.ipynb").exists()  # never in place of the page


def test_cli_missing_dataset_exits_3_with_the_message_and_no_traceback(tmp_path):
    source = tmp_path / "00_what_is_hmc.py"  # a registered name, so the profile table applies
    source.write_text(NB00.read_text().replace("import matplotlib.pyplot as plt", MISSING))
    run = cli("run", str(source), "--profile", "smoke", "--out", str(tmp_path / "out"),
              "--results", str(tmp_path / "res"), "--no-progress")
    assert run.returncode == 3, run.stderr
    assert "STOPPED:" in run.stderr and "FAILED" not in run.stderr
    assert "To get it: fetch x" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_run_ends_with_provenance_and_writes_manifest(tiny, tmp_path):
    out = runner.run_notebook(tiny, "smoke", [], tmp_path / "out", tmp_path / "res", progress=False)
    nb = nbformat.read(out, as_version=4)
    last = nb.cells[-1]
    assert "provenance" in last.metadata.tags
    text = json.dumps(last.outputs)
    for field in ("git commit", "device", "wall time", "torch"):
        assert field in text
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    manifest = json.loads((tmp_path / "res" / "smoke" / "manifests" / "99_tiny.json").read_text())
    assert manifest["status"] == "ok" and manifest["parameters"] == {"profile": "smoke", "n": 1}
    assert manifest["wall_time_s"] > 0 and manifest["packages"]["torch"]
    assert manifest["read_back"] is None and "read back" not in text


def test_units_read_back_are_shown_and_kept_in_the_manifest(tiny, tmp_path):
    tiny.write_text(TINY.replace("total = n * scale", "import hmc.provenance\n"
                                 "hmc.provenance.note_read_back('a.csv', 3, 150.0)\n"
                                 "hmc.provenance.note_read_back('a.csv', 0, 99.0)\n"
                                 "hmc.provenance.note_read_back('b.csv', 2, 30.0)\n"
                                 "total = n * scale"))
    out = runner.run_notebook(tiny, "smoke", [], tmp_path / "out", tmp_path / "res", progress=False)
    text = json.dumps(nbformat.read(out, as_version=4).cells[-1].outputs)
    assert "5 finished units from a.csv, b.csv" in text and "they took 3.0 min when they ran" in text
    manifest = json.loads((tmp_path / "res" / "smoke" / "manifests" / "99_tiny.json").read_text())
    assert manifest["read_back"] == {"units": 5, "wall_time_s": 180.0, "tables": ["a.csv", "b.csv"]}


def test_every_notebook_has_every_profile_with_known_parameters():
    sources = runner.notebook_sources(ROOT / "notebooks")
    assert sources, "no notebooks found"
    for source in sources:
        assert set(profiles.NOTEBOOK_PROFILES[source.stem]) == set(profiles.PROFILE_NAMES)
        for profile in profiles.PROFILE_NAMES:
            runner.resolve_parameters(source, profile, [])  # raises on an unknown or mistyped entry


def test_git_commit_is_dirty_for_code_changes_but_not_for_run_outputs(tmp_path):
    from hmc.provenance import git_commit

    git = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    for rel in ["hmc/code.py", "results/full/table.csv", "book/ch.ipynb", "book/full/ch.ipynb", "book/page.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("v1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "results/full/table.csv").write_text("v2\n")
    (tmp_path / "book/ch.ipynb").write_text("v2\n")
    (tmp_path / "book/full/ch.ipynb").write_text("v2\n")
    assert not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "book/page.md").write_text("v2\n")
    assert git_commit(tmp_path).endswith("+dirty")


def test_parse_time_reads_papermill_and_manifest_times_as_utc():
    from datetime import datetime, timezone

    from hmc.provenance import parse_time

    utc = datetime(2026, 11, 21, 8, 49, 31, tzinfo=timezone.utc)
    assert parse_time("2026-11-21T10:49:31.000000+02:00") == utc  # papermill, another offset
    assert parse_time("2026-11-21T08:49:31+00:00") == utc
    assert parse_time("2026-11-21 08:49:31 UTC") == utc  # a manifest's "started"
    assert parse_time("") is None and parse_time(None) is None and parse_time("yesterday") is None


@pytest.mark.parametrize("notebook, name, value, message", [
    ("06_hcal", "pretrained", "maybe", "parameter pretrained must be one of 'auto', 'yes', 'no', got 'maybe'"),
    ("02_chmcnn_reproduction", "datasets", "[]", "parameter datasets must not be empty"),
    ("03_rare_node_loss", "device", "gpu", "parameter device must be one of 'auto', 'cpu', 'cuda', got 'gpu'"),
])
def test_values_no_notebook_can_use_are_refused_before_anything_runs(notebook, name, value, message):
    with pytest.raises(runner.ParameterError, match=re.escape(message)):
        runner.resolve_parameters(ROOT / "notebooks" / f"{notebook}.py", "quick", [(name, value)])


def test_every_profile_sets_values_the_notebooks_accept():
    for source in runner.notebook_sources(ROOT / "notebooks"):
        for profile in profiles.PROFILE_NAMES:
            runner.resolve_parameters(source, profile, [])  # raises on a choice or an empty list


def test_banner_follows_the_title_and_outputs_show_no_absolute_path(tiny, tmp_path):
    tiny.write_text(TINY.replace('# %% tags=["parameters"]', '# %% [markdown]\n# # Tiny\n\n# %% tags=["parameters"]')
                    .replace('name = "abc"  # a string', 'name = "abc"  # a string\nn_seeds = 2  # seeds')
                    .replace("total = n * scale", "import os\ntotal = n * scale\n"
                             "print('table:', os.path.join(os.environ['HMC_RESULTS_DIR'], 'smoke', 't.csv'))"))
    (tmp_path / "out" / "full").mkdir(parents=True)
    (tmp_path / "out" / "full" / "99_tiny.ipynb").write_text("{}")
    out = runner.run_notebook(tiny, "smoke", [("n_seeds", "3")], tmp_path / "out", tmp_path / "res", progress=False)
    nb = nbformat.read(out, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "banner" in nb.cells[1].metadata.tags
    shown = nb.cells[1].outputs[0]["data"]
    today = runner.banner.executed_date(runner.time.time())
    assert shown["text/plain"].splitlines()[1:] == [
        "Budget of this run: 3 seeds.", f"Executed on {today}.",
        "The full results of this chapter are on its `full` page: full/99_tiny.html."]
    assert 'class="admonition warning hmc-banner"' in shown["text/html"]
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "table: <HMC_RESULTS_DIR>/smoke/t.csv" in text and str(tmp_path) not in text
