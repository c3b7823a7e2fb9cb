"""The profile banner at the top of every executed page: which profile, what budget, when.

:func:`hmc.runner.run_notebook` inserts, right after a page's title cell, a cell tagged ``banner``
that calls :func:`show`. The banner is computed from the run's parameter values (never typed per
page): the profile and what it means, the budget of the run (datasets, seeds, share of the papers'
epochs, epochs, heads, ensemble members: whichever parameters the notebook has), the date of
execution and, on a ``quick`` page whose chapter has a ``full`` page, where the full results are.
:func:`banner_lines` gives the text, :func:`banner_html` the rendered admonition.
"""

from __future__ import annotations

import html
import time

PROFILE_MEANING = {
    "smoke": "a check that the page runs: seconds, tiny data; its numbers mean nothing",
    "quick": "a few minutes on a laptop CPU; not the papers' budget, so its numbers decide no claim",
    "full": "the papers' protocol, with the deviations this page names",
}
"""What each profile means, in one phrase."""

BUDGET_PARAMETERS = ("datasets", "benchmarks", "images", "n_samples", "n_seeds", "epoch_fraction", "epochs",
                     "n_members", "ensemble_sizes", "n_heads", "image_size", "backbone", "width", "train")
"""The parameters that :func:`budget_items` reads (the runner passes only these to the banner cell)."""

DATASET_SELECTIONS = {"all": "every benchmark on disk", "fun_go": "every FUN and GO benchmark on disk"}
"""How a ``datasets``/``benchmarks`` parameter that names a selection (``["all"]``) is shown."""


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _names(values: list, noun: str = "dataset") -> str:
    if len(values) == 1 and values[0] in DATASET_SELECTIONS:
        return DATASET_SELECTIONS[values[0]]
    return f"{_count(len(values), noun)} ({', '.join(map(str, values))})"


def _share(fraction: float) -> str:
    if fraction >= 1:
        return "all of the papers' epochs"
    return f"{100 * fraction:.3g}% of the papers' epochs"


def budget_items(values: dict) -> list[str]:
    """The run's budget as short phrases, from whichever of these parameters ``values`` holds:
    ``datasets``, ``benchmarks``, ``images``, ``n_samples``, ``n_seeds``, ``epoch_fraction``,
    ``epochs``, ``n_members``, ``ensemble_sizes``, ``n_heads``, ``image_size``, ``backbone`` (with
    ``width``: named when it is not the paper's ResNet-18); and ``train=False`` (a page that trains
    nothing and shows the finished units)."""
    items = []
    if isinstance(values.get("datasets"), list):
        items.append(_names(values["datasets"]))
    if isinstance(values.get("benchmarks"), list):
        items.append(_names(values["benchmarks"], "benchmark"))
    if isinstance(values.get("images"), list):
        items.append(f"image hierarchies: {', '.join(map(str, values['images']))}")
    if isinstance(values.get("n_samples"), int):
        items.append(f"a synthetic dataset of {_count(values['n_samples'], 'sample')}")
    if isinstance(values.get("n_seeds"), int):
        items.append(_count(values["n_seeds"], "seed"))
    if isinstance(values.get("epoch_fraction"), (int, float)) and not isinstance(values["epoch_fraction"], bool):
        items.append(_share(float(values["epoch_fraction"])))
    if isinstance(values.get("epochs"), int):
        items.append(_count(values["epochs"], "epoch") + " per run")
    if isinstance(values.get("n_members"), int):
        items.append(_count(values["n_members"], "ensemble member") + " per seed")
    if isinstance(values.get("ensemble_sizes"), list):
        items.append(f"ensembles of {', '.join(map(str, values['ensemble_sizes']))} members")
    if isinstance(values.get("n_heads"), int):
        items.append(_count(values["n_heads"], "head"))
    if isinstance(values.get("image_size"), int):
        items.append(f"{values['image_size']} px images")
    if values.get("backbone") == "conv4":
        items.append(f"a Conv-4 backbone of width {values.get('width', 64)}, not the paper's ResNet-18")
    if values.get("train") is False:
        items.append("nothing trained by this page: it shows the finished units of the design")
    return items


def banner_lines(profile: str, values: dict, executed: str, full_page: str | None = None) -> list[str]:
    """The banner as plain sentences (markdown code spans only): title, meaning and budget, date,
    and on a ``quick`` page the pointer to ``full_page`` (a link target) when the chapter has one."""
    meaning = PROFILE_MEANING.get(profile, "a profile of its own")
    items = budget_items(values)
    lines = [f"Profile `{profile}`: {meaning}."]
    lines.append(f"Budget of this run: {'; '.join(items)}." if items
                 else "Budget of this run: none (this page has no training parameters).")
    lines.append(f"Executed on {executed}.")
    if profile != "full" and full_page:
        lines.append(f"The full results of this chapter are on its `full` page: {full_page}.")
    return lines


def banner_html(profile: str, values: dict, executed: str, full_page: str | None = None) -> str:
    """The banner as an HTML admonition (Sphinx's ``admonition`` classes, so the book's theme
    styles it like a MyST note; ``warning`` for ``smoke``), the full page as a link."""
    lines = banner_lines(profile, values, executed, None)
    kind = {"full": "tip", "quick": "note"}.get(profile, "warning")

    def fmt(line: str) -> str:  # `code` spans to <code>, the rest escaped
        parts = html.escape(line).split("`")
        return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

    body = [f"<p>{fmt(line)}</p>" for line in lines[1:]]
    if profile != "full" and full_page:
        body.append(f'<p>The full results of this chapter are on its <a href="{html.escape(full_page)}">'
                    "<code>full</code> page</a>.</p>")
    return (f'<div class="admonition {kind} hmc-banner">\n<p class="admonition-title">{fmt(lines[0])}</p>\n'
            + "\n".join(body) + "\n</div>")


def executed_date(started_at: float) -> str:
    """The date of a run that started at ``started_at`` (seconds since the epoch), in UTC."""
    return time.strftime("%Y-%m-%d", time.gmtime(started_at))


def show(profile: str, values: dict, executed: str, full_page: str | None = None):
    """Display the banner (HTML with a plain-text fallback) in a notebook; print it elsewhere."""
    text = "\n".join(banner_lines(profile, values, executed, full_page))
    try:
        from IPython.display import display
    except ImportError:
        print(text)
        return None
    display({"text/html": banner_html(profile, values, executed, full_page), "text/plain": text}, raw=True)
    return None
