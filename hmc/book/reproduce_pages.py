"""Tables and figures of the reproduce page (90): the profiles, the run manifests (wall time, device,
read-back units), the training time the results tables hold, and the execution status of every page.

Each function reads files under a results root (``results/<profile>/manifests/*.json``,
``results/<profile>/<notebook>.csv``) or the executed pages in ``book/`` and returns a DataFrame, text
or a Figure (:data:`hmc.book.rare_plots.WIDTH` wide, legend outside the data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timezone
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from hmc.book.rare_plots import WIDTH
from hmc.provenance import parse_time

MANIFEST_COLUMNS = ["notebook", "profile", "status", "wall_time_s", "device", "finished", "commit", "started",
                    "executed", "read_back"]
"""The columns of :func:`read_manifests`."""
STORED_COLUMNS = ["notebook", "profile", "dataset", "units", "training time", "training_s", "device"]
"""The columns of :func:`stored_training`."""


def short_value(value, limit: int = 60) -> str:
    """A parameter's value as text (JSON unless a string), cut to ``limit`` characters with ``...``."""
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit - 3] + "..."


def profile_table(profiles: Mapping[str, Mapping[str, Mapping]], names: Sequence[str]) -> pd.DataFrame:
    """Per notebook and profile (index), the profile's settings as ``name = value; ...`` (values by
    :func:`short_value`), or ``(the notebook's defaults)`` when it sets none."""
    return pd.DataFrame(
        [{"notebook": nb, "profile": p,
          "settings": "; ".join(f"{k} = {short_value(v)}" for k, v in settings[p].items()) or "(the notebook's defaults)"}
         for nb, settings in profiles.items() for p in names]
    ).set_index(["notebook", "profile"])


def read_manifests(results_root: str | Path, profiles: Sequence[str]) -> pd.DataFrame:
    """One row per manifest ``<results_root>/<profile>/manifests/<notebook>.json`` of the given profiles
    (in that order, notebooks sorted): :data:`MANIFEST_COLUMNS`, ``?`` or None where a field is absent."""
    records = []
    for prof in profiles:
        for path in sorted((Path(results_root) / prof / "manifests").glob("*.json")):
            m = json.loads(path.read_text())
            records.append({
                "notebook": path.stem, "profile": m.get("profile", prof), "status": m.get("status", "?"),
                "wall_time_s": m.get("wall_time_s"), "device": m.get("device", "?"),
                "finished": m.get("finished", "?"), "commit": m.get("commit", "?"),
                "started": m.get("started"), "executed": m.get("executed", ""), "read_back": m.get("read_back"),
            })
    return pd.DataFrame(records, columns=MANIFEST_COLUMNS)


def duration(seconds) -> str:
    """``"42 s"`` under 90 s, ``"3.5 min"`` under 90 min, else ``"2.1 h"``; ``""`` for None or NaN."""
    if seconds is None or pd.isna(seconds):
        return ""
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def device_label(text: str) -> str:
    """'cpu: AMD EPYC (2 logical cores, torch threads 2)' -> 'CPU, 2 cores'; 'cuda: NAME' -> 'NAME';
    anything else unchanged."""
    if text.startswith("cuda:"):
        return text.split(":", 1)[1].strip()
    if "logical cores" in text:
        return f"CPU, {text.split('(', 1)[1].split(' logical', 1)[0]} cores"
    return text


def read_back_text(read_back) -> str:
    """``', plus 90 units read back (3.4 h when they ran)'`` for a run whose sweeps read stored units
    back (a manifest's ``read_back``: ``units``, ``wall_time_s``); ``''`` otherwise."""
    if not isinstance(read_back, dict):
        return ""
    return f", plus {read_back['units']} units read back ({duration(read_back['wall_time_s'])} when they ran)"


def time_table(manifests: pd.DataFrame, stems: Sequence[str], profiles: Sequence[str]) -> pd.DataFrame:
    """Notebooks (rows, in ``stems`` order) by profile (columns, those with a manifest): the run's wall
    time and device, what it read back, and its status when not ``ok``; empty where there is no run."""
    cells = [f"{duration(t)} ({device_label(d)})" + read_back_text(r) + ("" if s == "ok" else f", {s}")
             for t, d, s, r in zip(manifests.wall_time_s, manifests.device, manifests.status, manifests.read_back,
                                   strict=True)]
    return (manifests.assign(cell=cells).pivot(index="notebook", columns="profile", values="cell")
            .reindex(index=stems, columns=[p for p in profiles if p in set(manifests.profile)])
            .fillna(""))


def wall_time_figure(manifests: pd.DataFrame, stems: Sequence[str], profiles: Sequence[str]):
    """Bars of each notebook's last wall time per profile on a log scale (legend to the right), or a
    note when no manifest has a wall time."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.45 * max(len(stems), 4) + 1))
    plotted = manifests.dropna(subset=["wall_time_s"])
    if len(plotted):
        sns.barplot(data=plotted, y="notebook", x="wall_time_s", hue="profile", order=stems,
                    hue_order=[p for p in profiles if p in set(plotted.profile)], ax=ax, orient="h")
        ax.set_xscale("log")
        ax.legend(title="profile", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    else:
        ax.text(0.5, 0.5, "no run manifests found", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("wall time of the last run (s, log scale)")
    ax.set_ylabel("")
    ax.set_title("Wall time of `python -m hmc run`\nper notebook and profile")
    fig.tight_layout()
    return fig


def quick_cost(manifests: pd.DataFrame, chapters: Sequence[str]) -> dict:
    """What the chapters' recorded ``quick`` runs take from scratch: ``count`` (runs), ``wall_s`` (their
    wall times), ``read_back_s`` (the stored training time of the units they read back) and ``total_s``
    (the two together)."""
    runs = manifests[(manifests.profile == "quick") & manifests.notebook.isin(list(chapters))]
    read_back_s = float(sum(r["wall_time_s"] if isinstance(r, dict) else 0.0 for r in runs.read_back))
    wall_s = float(runs.wall_time_s.sum())
    return {"count": len(runs), "wall_s": wall_s, "read_back_s": read_back_s, "total_s": wall_s + read_back_s}


def stored_training(results_root: str | Path, profiles: Sequence[str], stems: Sequence[str]) -> pd.DataFrame:
    """Per notebook, profile and dataset of every results table ``<results_root>/<profile>/<stem>.csv``
    with a ``wall_time_s`` column: the (method, seed) units it holds, their training time (each unit's
    first row counts once) as text and in seconds, and the devices they trained on (:data:`STORED_COLUMNS`)."""
    stored = []
    for prof in profiles:
        for stem in stems:
            path = Path(results_root) / prof / f"{stem}.csv"
            if not path.is_file():
                continue
            table = pd.read_csv(path)
            if "wall_time_s" not in table:
                continue
            key = [c for c in ("dataset", "method", "seed") if c in table]
            units = table.groupby(key, sort=False).agg(wall_time_s=("wall_time_s", "first"),
                                                       device=("device", "first")).reset_index()
            for dataset, group in units.groupby("dataset", sort=False):
                stored.append({"notebook": stem, "profile": prof, "dataset": dataset, "units": len(group),
                               "training time": duration(group.wall_time_s.sum()),
                               "training_s": group.wall_time_s.sum(),
                               "device": ", ".join(sorted(set(group.device.astype(str))))})
    return pd.DataFrame(stored, columns=STORED_COLUMNS)


def stored_totals(stored: pd.DataFrame) -> pd.DataFrame:
    """:func:`stored_training` summed per profile and notebook: the training time as text and the
    devices."""
    totals = stored.groupby(["profile", "notebook"], sort=False).agg(
        training_s=("training_s", "sum"), device=("device", lambda d: ", ".join(sorted(set(d)))))
    return totals.assign(**{"training time": totals.training_s.map(duration)})[["training time", "device"]]


def page_list(repo: str | Path, stems: Sequence[str], this_page: str) -> list[tuple[str, Path, str]]:
    """The executed pages as ``(page name, path, source stem)``: ``book/<stem>.ipynb`` of every notebook
    but ``this_page``, then the pages in subfolders of ``book/`` (``full/02_...``) of a known notebook."""
    book = Path(repo) / "book"
    pages = [(stem, book / f"{stem}.ipynb", stem) for stem in stems if stem != this_page]
    return pages + [(str(path.relative_to(book).with_suffix("")), path, path.stem)
                    for path in sorted(book.glob("*/*.ipynb")) if path.stem in stems]


def page_status(pages: Sequence[tuple[str, Path, str]], manifests: pd.DataFrame) -> pd.DataFrame:
    """Per page (index): its profile, when it was executed (UTC), and, where the manifest of its notebook
    and profile describes this very execution (start times within 2 minutes), that run's device, commit,
    wall time and status; otherwise the page's own duration and whether a cell failed. ``manifest``:
    ``this run``, ``another run`` or ``none``; a page not on disk is ``not executed``."""
    import nbformat

    rows = []
    for name, path, stem in pages:
        if not path.is_file():
            rows.append({"page": name, "profile": "", "executed": "", "device": "", "commit": "",
                         "wall time": "", "status": "not executed", "manifest": ""})
            continue
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("papermill", {})
        page_profile = meta.get("parameters", {}).get("profile", "?")
        page_start, page_end = parse_time(meta.get("start_time")), parse_time(meta.get("end_time"))
        failed = bool(meta.get("exception")) or any(
            o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        match = manifests[(manifests.notebook == stem) & (manifests.profile == page_profile)]
        m = match.iloc[0] if len(match) else None
        m_start = parse_time(m.started) if m is not None else None
        same_run = (m is not None and m_start is not None and page_start is not None
                    and abs((page_start - m_start).total_seconds()) < 120)
        rows.append({
            "page": name, "profile": page_profile,
            "executed": page_end.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if page_end else "?",
            "device": device_label(m.device) if same_run else "",
            "commit": m.commit if same_run else "",
            "wall time": (duration(m.wall_time_s) + read_back_text(m.read_back)) if same_run
                         else duration(meta.get("duration")),
            "status": (m.status if same_run else ("failed" if failed else "ok")),
            "manifest": "this run" if same_run else ("another run" if m is not None else "none"),
        })
    return pd.DataFrame(rows).set_index("page")


def status_columns(status: pd.DataFrame) -> pd.DataFrame:
    """:func:`page_status` in three columns that fit the page's text column: the run (profile, time,
    device, commit), the wall time, the status with the manifest, lines joined by ``<br>``."""
    return pd.DataFrame({
        "run": [f"{r.profile}, {r.executed} UTC" + "".join(f"<br>{x}" for x in (r.device, r.commit and f"commit {r.commit}") if x)
                for r in status.itertuples()],
        "wall time": [t.replace(", plus ", "<br>plus ") for t in status["wall time"]],
        "status": [f"{r.status}<br>manifest: {r.manifest}" if r.manifest else r.status for r in status.itertuples()],
    }, index=status.index)
