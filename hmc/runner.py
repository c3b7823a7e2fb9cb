"""Run a notebook: jupytext source -> checked parameters -> papermill -> executed notebook + manifest.

A notebook source is a jupytext ``py:percent`` file under ``notebooks/`` with one cell tagged
``parameters`` holding simple assignments (``name = literal  # help``), and optionally, before it,
cells tagged ``parameters-group`` of the same form, so that a long list of parameters reads as
short groups (papermill injects the values after the ``parameters`` cell, so they override every
group's defaults; a group after it would override the injected values and is refused). The runner

1. reads the parameters and their defaults from that cell (the default's type is the parameter's type),
2. merges the profile's values (:mod:`hmc.profiles`) and the user's ``-p NAME VALUE`` overrides,
   refusing unknown names and wrong-typed values before anything executes,
3. inserts a profile banner after the title cell (:mod:`hmc.runs.banner`: profile, budget, date)
   and appends a provenance cell, executes the notebook with papermill, shows every path in its
   outputs relative to the checkout or a named folder (:func:`hmc.display_paths.display_paths_in`:
   no absolute path of the machine that ran it), writes it to ``book/<stem>.ipynb`` (or another
   folder), and
4. writes a JSON manifest (parameters, profile, commit, versions, device, wall time, status) to
   ``<results>/<profile>/manifests/<stem>.json``; the status is ``"ok"``, ``"failed"`` (a cell
   raised) or ``"missing data"`` (a cell raised :class:`hmc.errors.DatasetMissingError`: the notebook
   stopped cleanly because a dataset is not on disk, see :class:`DataMissing`).

Before anything executes, the datasets the notebook needs under its parameters
(:mod:`hmc.data_needs`) must be on disk: otherwise the run is refused with :class:`DataMissing`
and nothing is written, so a page built from real data is never replaced by one built from the
notebooks' synthetic stand-ins. Stand-ins are used only when asked for (``stand_ins=True``), and
then the page and its results must go outside the repository's ``book/`` and ``results/``.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hmc import data_needs, profiles, provenance
from hmc.display_paths import display_paths_in
from hmc.runs import banner
from hmc.errors import DatasetMissingError
from hmc.fileio import atomic_write, check_writable


class ParameterError(ValueError):
    """An unknown parameter name or a wrong-typed value; the message lists the valid parameters."""


class NotebookFailed(RuntimeError):
    """A notebook cell raised; the message names the notebook and the cell."""


class DataMissing(NotebookFailed):
    """A notebook was not executed, or stopped, because a dataset it needs is not on disk.

    Raised before anything executes when the notebook's needs (:mod:`hmc.data_needs`) are not on
    disk (``datasets`` then names them), and instead of :class:`NotebookFailed` when a cell raised
    :class:`hmc.errors.DatasetMissingError`. The message says which files, where they were looked
    for and how to get them. A clean stop: nothing is wrong with the code, and the page, its
    manifest and the results tables are unchanged.
    """

    def __init__(self, message: str, datasets: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.datasets = list(datasets)


@dataclass(frozen=True)
class Parameter:
    """One entry of a notebook's ``parameters`` cell."""

    name: str
    default: object
    help: str

    @property
    def type_name(self) -> str:
        return type(self.default).__name__


def notebook_parameters(source: str | Path) -> dict[str, Parameter]:
    """The parameters declared in the cells tagged ``parameters-group`` and ``parameters`` of a jupytext
    notebook, in the order of the notebook.

    Every statement of those cells must be ``name = <Python literal>``, optionally followed by a
    ``# help`` comment; anything else is refused, so that types are known before execution. Exactly
    one cell is tagged ``parameters``; a ``parameters-group`` cell after it, or a name declared twice,
    is refused.
    """
    import jupytext

    nb = jupytext.read(source)
    tagged = [(i, c) for i, c in enumerate(nb.cells)
              if {"parameters", "parameters-group"} & set(c.metadata.get("tags", []))]
    main = [i for i, c in tagged if "parameters" in c.metadata.get("tags", [])]
    if len(main) != 1:
        raise ParameterError(f"{source}: expected exactly one cell tagged 'parameters', found {len(main)}")
    if tagged[-1][0] != main[0]:
        raise ParameterError(f"{source}: a cell tagged 'parameters-group' must come before the 'parameters' cell "
                             "(papermill injects the values right after it)")
    params: dict[str, Parameter] = {}
    for _, cell in tagged:
        lines = cell.source.splitlines()
        for stmt in ast.parse(cell.source).body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
                raise ParameterError(f"{source}: the parameters cells may hold only `name = literal` lines")
            name = stmt.targets[0].id
            if name in params:
                raise ParameterError(f"{source}: parameter {name} is declared twice")
            try:
                default = ast.literal_eval(stmt.value)
            except ValueError as err:
                raise ParameterError(f"{source}: parameter {name} is not a literal") from err
            line = lines[stmt.lineno - 1]
            help_text = line.split("#", 1)[1].strip() if "#" in line else ""
            params[name] = Parameter(name, default, help_text)
    return params


def describe_parameters(params: dict[str, Parameter]) -> str:
    """One line per parameter: name, type, default and help."""
    return "\n".join(f"  {p.name} ({p.type_name}, default {p.default!r}){'  ' + p.help if p.help else ''}"
                     for p in params.values())


def convert_value(param: Parameter, text: str) -> object:
    """Convert a command-line string to the type of the parameter's default, or raise ParameterError."""
    kind = type(param.default)
    try:
        if kind is bool:
            if text not in ("True", "False", "true", "false"):
                raise ValueError
            return text in ("True", "true")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        value = ast.literal_eval(text)
        if param.default is not None and not isinstance(value, kind):
            raise ValueError
        return value
    except (ValueError, SyntaxError) as err:
        raise ParameterError(f"parameter {param.name} expects a value of type {param.type_name}, got {text!r}") from err


def _value_problems(values: dict[str, object], params: dict[str, Parameter]) -> list[str]:
    """Values of the right type that no notebook can use: a string outside its
    :data:`hmc.profiles.PARAMETER_CHOICES`, an empty list where the default list is not empty."""
    problems = []
    for name, value in values.items():
        choices = profiles.PARAMETER_CHOICES.get(name)
        if choices and isinstance(value, str) and value not in choices:
            problems.append(f"parameter {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        default = params[name].default if name in params else None
        if isinstance(value, list) and not value and isinstance(default, list) and default:
            problems.append(f"parameter {name} must not be empty (default {default!r})")
    return problems


def resolve_parameters(source: str | Path, profile: str, overrides: list[tuple[str, str]]) -> dict[str, object]:
    """The values to inject: ``profile`` and the profile's settings, then the overrides, all checked.

    Raises ParameterError, listing the notebook's valid parameters, on an unknown name or a value
    of the wrong type (from the command line or from the profile table).
    """
    source = Path(source)
    params = notebook_parameters(source)
    problems = []
    values: dict[str, object] = {}
    if "profile" not in params:
        problems.append("the parameters cell must declare `profile`")
    else:
        values["profile"] = profile
    try:
        from_profile = profiles.profile_parameters(source.stem, profile)
    except KeyError as err:
        raise ParameterError(str(err.args[0])) from err
    for name, value in from_profile.items():
        if name not in params:
            problems.append(f"profile {profile!r} sets unknown parameter {name!r} (fix hmc/profiles.py)")
        elif type(value) is not type(params[name].default) and params[name].default is not None:
            problems.append(f"profile {profile!r} sets {name} to a {type(value).__name__}, "
                            f"expected {params[name].type_name} (fix hmc/profiles.py)")
        else:
            values[name] = value
    for name, text in overrides:
        if name not in params:
            problems.append(f"unknown parameter {name!r}")
            continue
        try:
            values[name] = convert_value(params[name], text)
        except ParameterError as err:
            problems.append(str(err))
    problems += _value_problems(values, params)
    if problems:
        raise ParameterError(
            f"{source}: " + "; ".join(problems) + f"\nValid parameters of {source.name}:\n" + describe_parameters(params)
        )
    return values


PROVENANCE_CELL = """\
# Provenance of this page (added by `python -m hmc run`)
import hmc.provenance
hmc.provenance.show(started_at={started_at!r}, profile={profile!r});
"""


BANNER_CELL = """\
# Profile banner of this page (added by `python -m hmc run`)
import hmc.runs.banner
hmc.runs.banner.show({profile!r}, {values!r}, executed={executed!r}, full_page={full_page!r})
"""


def banner_cell(source: str | Path, profile: str, values: dict[str, object], started_at: float,
                out_dir: str | Path):
    """The code cell (tags ``banner``, ``remove-input``) that shows the page's profile banner.

    ``values``: the resolved values (:func:`resolve_parameters`); the banner shows the budget
    parameters (:data:`hmc.runs.banner.BUDGET_PARAMETERS`) of all of the run's values. On a page
    that is not ``full``, the banner links the chapter's ``full`` page when ``<out_dir>/full/<stem>.ipynb``
    exists (the book's layout: ``book/full/``)."""
    import nbformat

    source = Path(source)
    budget = {k: v for k, v in all_values(source, values).items() if k in banner.BUDGET_PARAMETERS}
    full_page = None
    if profile != "full" and (Path(out_dir) / "full" / f"{source.stem}.ipynb").is_file():
        full_page = f"full/{source.stem}.html"
    cell = nbformat.v4.new_code_cell(BANNER_CELL.format(profile=profile, values=budget, full_page=full_page,
                                                        executed=banner.executed_date(started_at)))
    cell.metadata["tags"] = ["banner", "remove-input"]
    return cell


def insert_after_title(nb, cell) -> int:
    """Insert ``cell`` right after the first markdown cell (the page's title) of ``nb``, or first
    when there is none; return its index."""
    index = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
    nb.cells.insert(index, cell)
    return index


def clean_output_paths(path: str | Path) -> None:
    """Rewrite the executed notebook at ``path`` with every text output's absolute paths shown as
    :func:`hmc.display_paths.display_paths_in` shows them (stream text, ``text/*`` data, tracebacks)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False

    def clean(value):
        nonlocal changed
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            new = display_paths_in(value)
            changed |= new != value
            return new
        return value

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = clean(out["text"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):
                    out["data"][mime] = clean(value)
            if "traceback" in out:
                out["traceback"] = clean(out["traceback"])
            if "evalue" in out:
                out["evalue"] = clean(out["evalue"])
    if changed:
        nbformat.write(nb, path)


def all_values(source: str | Path, values: dict[str, object]) -> dict[str, object]:
    """Every parameter's value for a run: the notebook's defaults updated with ``values``."""
    return {**{name: p.default for name, p in notebook_parameters(source).items()}, **values}


def data_needs_of(source: str | Path, values: dict[str, object]) -> data_needs.Needs:
    """The datasets notebook ``source`` needs when run with the resolved ``values``."""
    return data_needs.notebook_needs(Path(source).stem, all_values(source, values))


def committed_folders() -> list[Path]:
    """The folders that hold the committed record: ``book/`` and ``results/`` of the checkout that
    holds this package, and of the current directory. Stand-in runs never write into them."""
    roots = dict.fromkeys([Path(__file__).resolve().parents[1], Path.cwd().resolve()])
    return [root / name for root in roots for name in ("book", "results")]


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_data(source: str | Path, values: dict[str, object], out_dir: Path, results_dir: Path,
               stand_ins: bool) -> list[str]:
    """Refuse a run whose data are missing; return the datasets that stand-ins will replace.

    Raises :class:`DataMissing` (listing the missing files and how to get them) when the notebook's
    needs are not on disk and ``stand_ins`` is False, and :class:`ParameterError` when stand-ins
    would be written into the committed ``book/`` or ``results/`` (:func:`committed_folders`).
    """
    source = Path(source)
    missing = data_needs_of(source, values).blocking()
    if not missing:
        return []
    if not stand_ins:
        raise DataMissing(
            f"{source} was not executed: the data it needs are not on disk.\n"
            f"{data_needs.describe_missing(missing)}\n"
            f"The page {out_dir / (source.stem + '.ipynb')}, its manifest and the results tables are unchanged. "
            "(To run it on the synthetic stand-ins instead, into another folder: --stand-ins.)",
            missing)
    problem = stand_in_destination_problem(out_dir, results_dir)
    if problem:
        raise ParameterError(f"{source}: {', '.join(missing)} not on disk, and {problem}")
    return missing


def stand_in_destination_problem(out_dir: str | Path, results_dir: str | Path) -> str | None:
    """Why a run on stand-ins may not write its page into ``out_dir`` and its results into
    ``results_dir`` (one of them is inside the committed ``book/`` or ``results/``), or None."""
    for folder, what in ((out_dir, "the output folder"), (results_dir, "the results folder")):
        for committed in committed_folders():
            if _inside(folder, committed):
                return (f"a run on stand-ins never writes into the committed record: {what} {folder} is inside "
                        f"{committed}. Give --out and --results outside book/ and results/ "
                        "(python -m hmc run --stand-ins uses _build/stand-ins/)")
    return None


FAILED_DIR = Path("_build/failed")
"""Where a run that did not succeed leaves its partly executed notebook and manifest."""


def run_notebook(
    source: str | Path,
    profile: str = profiles.DEFAULT_PROFILE,
    overrides: list[tuple[str, str]] = (),
    out_dir: str | Path = "book",
    results_dir: str | Path = "results",
    progress: bool = True,
    failed_dir: str | Path = FAILED_DIR,
    stand_ins: bool = False,
) -> Path:
    """Execute one notebook source and return the path of the executed ``.ipynb``.

    The parameters are checked first (:func:`resolve_parameters`), then the data the notebook needs
    (:func:`check_data`: missing data raise :class:`DataMissing` unless ``stand_ins``, and stand-ins
    never go into the committed ``book/`` or ``results/``), and every output folder (the page's, the
    manifests', the results') must be writable; nothing executes otherwise. The
    notebook executes into a temporary file beside its page and replaces the page, then its
    manifest, only when every cell succeeded: a run that fails leaves the committed page and
    manifest byte for byte as they were, and its partly executed notebook and manifest go to
    ``failed_dir`` (default ``_build/failed/``) as ``<stem>.ipynb`` and ``<stem>.json``. A failing cell raises :class:`NotebookFailed` naming the
    notebook, the cell and where the partial notebook is; a cell that raised
    :class:`hmc.errors.DatasetMissingError` (a dataset not on disk) raises :class:`DataMissing` instead
    (status ``"missing data"``).
    """
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(source)
    values = resolve_parameters(source, profile, list(overrides))
    out_dir, results_dir = Path(out_dir), Path(results_dir)
    stood_in = check_data(source, values, out_dir, results_dir, stand_ins)
    for folder, what in ((out_dir, "the output folder"), (results_dir / profile / "manifests", "the manifests folder"),
                         (results_dir / profile, "the results folder")):
        check_writable(folder, what, "nothing was executed")
    started_at = time.time()
    nb = jupytext.read(source)
    insert_after_title(nb, banner_cell(source, profile, values, started_at, out_dir))
    cell = nbformat.v4.new_code_cell(PROVENANCE_CELL.format(started_at=started_at, profile=profile))
    cell.metadata["tags"] = ["provenance", "remove-input"]
    nb.cells.append(cell)
    output = out_dir / f"{source.stem}.ipynb"
    fd, running = tempfile.mkstemp(dir=out_dir, prefix=f".{source.stem}.", suffix=".running.ipynb")
    os.close(fd)
    os.environ["HMC_RESULTS_DIR"] = str(results_dir.resolve())
    fd, read_back_log = tempfile.mkstemp(prefix=f"{source.stem}-read-back-", suffix=".jsonl")
    os.close(fd)
    os.environ[provenance.READ_BACK_LOG] = read_back_log  # the kernel inherits it
    failure, status = None, "ok"
    papermill_log = logging.getLogger("papermill")
    papermill_log.addFilter(_checked_parameters)
    try:
        papermill.execute_notebook(nb, running, parameters=values, progress_bar=progress, kernel_name="python3")
    except PapermillExecutionError as err:
        if err.ename == DatasetMissingError.__name__:
            status = "missing data"
            failure = f"{source} stopped: a dataset it needs is not on disk. {err.evalue}"
        else:
            status = "failed"
            first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
            failure = (f"{source}: cell {err.cell_index} of the executed notebook (execution count "
                       f"{err.exec_count}, starting `{first_line}`) raised {err.ename}: {err.evalue}")
    except BaseException:
        Path(running).unlink(missing_ok=True)
        raise
    finally:
        papermill_log.removeFilter(_checked_parameters)
        del os.environ[provenance.READ_BACK_LOG]
        with open(read_back_log) as fh:
            read_back = provenance.summarise_read_back([json.loads(line) for line in fh if line.strip()])
        os.unlink(read_back_log)
    if failure is None:
        clean_output_paths(running)
        os.replace(running, output)
        _write_manifest(source, profile, values, started_at, status, failure, output,
                        results_dir / profile / "manifests", read_back, stood_in)
        return output
    failed_dir = Path(failed_dir)
    failed_dir.mkdir(parents=True, exist_ok=True)
    kept = failed_dir / f"{source.stem}.ipynb"
    if Path(running).exists():  # kept as it ran, absolute paths included: it is for debugging
        os.replace(running, kept)
    _write_manifest(source, profile, values, started_at, status, failure, kept, failed_dir, read_back, stood_in)
    failure += f" (the page {output} and its manifest are unchanged; the partial run is in {kept})"
    if status == "missing data":
        raise DataMissing(failure)
    raise NotebookFailed(failure)


def _checked_parameters(record: logging.LogRecord) -> bool:
    """A filter for papermill's log: drop its "Passed unknown parameter" warnings. papermill looks for
    the defaults in the cell tagged ``parameters`` alone, so it warns about every value whose default
    sits in a ``parameters-group`` cell; :func:`resolve_parameters` has already matched every name
    against all the parameter cells and refused unknown names."""
    return not record.getMessage().startswith("Passed unknown parameter")


def _write_manifest(source, profile, values, started_at, status, failure, output, folder, read_back,
                    stand_ins_for=()) -> Path:
    """Write ``<folder>/<stem>.json`` atomically (the manifests folder, or ``_build/failed``).

    ``read_back``: :func:`hmc.provenance.summarise_read_back` of the units the run's sweeps read
    back from their results tables instead of running (None when they ran everything).
    ``stand_ins_for``: the datasets that were not on disk in a run on stand-ins (recorded as
    ``"stand_ins_for"`` only then)."""
    record = {
        "notebook": str(source),
        "executed": str(output),
        "profile": profile,
        "parameters": values,
        "status": status,
        "error": failure,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started_at)),
        **provenance.collect(started_at),
        "read_back": read_back,
    }
    if stand_ins_for:
        record["stand_ins_for"] = list(stand_ins_for)
    path = Path(folder) / f"{source.stem}.json"
    with atomic_write(path) as fh:
        fh.write(json.dumps(record, indent=2, default=str) + "\n")
    return path


def notebook_sources(folder: str | Path = "notebooks") -> list[Path]:
    """Every notebook source (``NN_*.py``) in ``folder``, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))
