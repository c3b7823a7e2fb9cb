"""Paths as a page shows them: relative to the checkout or to a named folder, never the machine's.

An executed page is read on other machines, so the absolute paths of the one that ran it
(``/home/...``, ``/tmp/...``, the virtualenv, the per-user cache) mean nothing there and leak who ran
it where. :func:`display_path` turns a path into what a reader can follow:

- inside the checkout (the folder that holds the ``hmc`` package): relative to it, ``results/quick/x.csv``;
- inside a folder the study names by an environment variable: ``<HMC_DATA_DIR>/omniglot/...``,
  ``<HMC_CACHE_DIR>/encoders/...`` (the per-user cache, :func:`hmc.data.paths.cache_dir`),
  ``<HMC_RESULTS_DIR>/quick/...`` (a results root outside the checkout);
- installed packages and the standard library: ``<site-packages>/torch/...``, ``<python>/...``;
- elsewhere in the home folder or the temporary folder: ``~/...``, ``<tmp>/...``.

A path outside all of these is shown as given. :func:`display_paths_in` applies the same to every
such path inside a text (an error message that names where a file was looked for); the runner
passes every output of an executed page through it (:mod:`hmc.runner`).
"""

from __future__ import annotations

import os
import re
import sysconfig
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
"""The checkout that holds this package (paths inside it are shown relative to it)."""


def _variants(path: str | os.PathLike) -> list[str]:
    """The path as written (made absolute) and with its links resolved, without a trailing slash."""
    out = []
    for p in (os.path.abspath(os.path.expanduser(str(path))), os.path.realpath(os.path.expanduser(str(path)))):
        p = p.rstrip("/") or "/"
        if p != "/" and p not in out:
            out.append(p)
    return out


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def roots() -> list[tuple[str, str]]:
    """(absolute folder, how it is shown) pairs, the longest folder first; ``""`` means "relative to
    the checkout". A folder named by an environment variable that lies inside the checkout (its own
    ``results/``) is left out: paths there are shown relative to the checkout.

    Computed at each call: the environment variables may change between runs.
    """
    checkout = _variants(CHECKOUT)
    named: list[tuple[object, str]] = []
    for var in ("HMC_RESULTS_DIR", "HMC_DATA_DIR"):
        if os.environ.get(var):
            named.append((os.environ[var], f"<{var}>"))
    try:
        from hmc.data.paths import cache_dir

        named.append((cache_dir(), "<HMC_CACHE_DIR>"))
    except ImportError:  # platformdirs missing: no cache folder to name
        pass
    named = [(folder, shown) for folder, shown in named
             if not any(_inside(v, c) for v in _variants(folder) for c in checkout)]
    named = [(CHECKOUT, ""), *named]
    for key in ("purelib", "platlib"):
        named.append((sysconfig.get_paths().get(key), "<site-packages>"))
    for key in ("stdlib", "platstdlib"):
        named.append((sysconfig.get_paths().get(key), "<python>"))
    named += [(Path.home(), "~"), (tempfile.gettempdir(), "<tmp>")]
    pairs: dict[str, str] = {}
    for folder, shown in named:
        if folder:
            for variant in _variants(folder):
                pairs.setdefault(variant, shown)
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def _shown(shown: str, rest: str) -> str:
    """The part of a path after its folder (empty or starting with ``/``) below the shown folder."""
    if shown == "":
        return rest.lstrip("/") or "."
    return shown + rest


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a page shows it (see the module's docstring): relative to the checkout, or below a
    named folder such as ``<HMC_DATA_DIR>``; a relative path stays as it is, and so does an
    absolute one outside every known folder."""
    text = os.fspath(path)
    if not os.path.isabs(os.path.expanduser(text)):
        return text
    absolute = os.path.abspath(os.path.expanduser(text))
    for folder, shown in roots():
        if _inside(absolute, folder):
            return _shown(shown, absolute[len(folder):])
    return text


_PATH_CHAR = r"[\w.\-]"


def display_paths_in(text: str) -> str:
    """``text`` with every absolute path below a known folder shown as :func:`display_path` shows it.

    A folder matches only at the start of a path (not preceded by a path character or ``/``) and as
    a whole name (``/work/main`` does not match inside ``/work/mainline``)."""
    if "/" not in text:
        return text
    pairs = roots()
    shown = dict(pairs)
    pattern = re.compile(rf"(?<!{_PATH_CHAR})(?<!/)(" + "|".join(re.escape(folder) for folder, _ in pairs)
                         + r")(?![\w\-]|\.[\w\-])(/?)")  # a full stop may end a sentence

    def replace(match: re.Match) -> str:
        folder, slash = match.group(1), match.group(2)
        if shown[folder] == "":
            return "" if slash else "."
        return shown[folder] + slash

    return pattern.sub(replace, text)
