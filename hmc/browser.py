"""Look at the built book as a reader would: headless Chromium, driven over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands from file
descriptor 3 and writes replies and events to file descriptor 4, each message JSON followed by a NUL
byte. That needs no network port, no extra Python package and no browser download: only a
``chromium`` binary (Debian: ``apt-get install --no-install-recommends chromium``).

    with Chromium() as browser:
        page = browser.visit(Path("_build/html/book/intro.html"))
        page.problems()                       # what a reader would see broken on that page
        browser.screenshot(Path("intro.png"))

:func:`check_site` visits every page of a built HTML site and reports the pages that do not load,
images with no rendered size, internal links to missing files or ids, error outputs, formulas left
as raw TeX or cut off at the column edge, figures without a numbered caption, and tables wider than
the text column.
"""

from __future__ import annotations

import base64
import html.parser
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrowserError", "Chromium", "PageReport", "SiteReport", "check_site", "find_chromium"]

#: Binary names tried in order (``HMC_CHROMIUM`` names one explicitly).
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

#: Output areas that mean a cell failed: myst-nb renders an ``error`` output as
#: ``<div class="output traceback ...">``; papermill marks the failing cell with
#: ``#papermill-error-cell``; docutils shows unresolved markup as ``.system-message`` / ``.problematic``.
#: Stderr streams (``.output.stderr``) are warnings, not errors, and are not matched.
ERROR_SELECTOR = ", ".join([
    ".output.traceback",
    ".cell_output [class*='traceback']",
    ".cell_output [class*='error']",
    "#papermill-error-cell",
    ".system-message",
    ".problematic",
])

# Runs in the page once it has loaded: waits (up to 10 s) for the images, then describes the page.
_INSPECT_JS = r"""
(async (errorSelector) => {
  const deadline = Date.now() + 10000;
  const images = Array.from(document.images);
  while (Date.now() < deadline && images.some(img => !img.complete)) {
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  // MathJax typesets after the load event: wait for it where the page loads it (its promise).
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, deadline - Date.now()))]);
  }
  const describe = el => (el.outerHTML || "").slice(0, 160);
  const visible = el => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
  const clean = text => (text || "").replace(/\s+/g, " ").trim();
  // The page's own content (the theme's article), without its navigation bars and sidebars.
  const content = document.querySelector("article.bd-article, article[role='main'], main") || document.body;
  // Where an element sits: the heading of its section, for a reader looking for it.
  const where = el => {
    const heading = el.closest("section")?.querySelector("h1, h2, h3, h4, h5, h6");
    return heading ? ` (under "${clean(heading.textContent).replace(/#$/, "").trim().slice(0, 60)}")` : "";
  };
  // The width a table may take: the narrowest box it sits in, up to the page's content column
  // (a scrolling container counts: a reader has to scroll it sideways to read the table).
  const columnWidth = el => {
    let width = Infinity;
    for (let box = el.parentElement; box; box = box.parentElement) {
      if (box.clientWidth > 0) width = Math.min(width, box.clientWidth);
      if (box === content) break;
    }
    return width;
  };
  // Whether a box between the element and the content column scrolls sideways.
  const scrolls = el => {
    for (let box = el.parentElement; box && box !== content; box = box.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(box).overflowX)) return true;
    }
    return false;
  };
  const keyFirst = el => {
    const rows = Array.from(el.tBodies).flatMap(body => Array.from(body.rows));
    return rows.length > 0 && rows.every(row => row.cells.length && row.cells[0].tagName === "TH");
  };
  return {
    url: location.href,
    title: document.title,
    readyState: document.readyState,
    textLength: (document.body ? document.body.innerText : "").trim().length,
    images: images.map(img => {
      const box = img.getBoundingClientRect();
      return {
        src: img.currentSrc || img.src, alt: img.alt,
        complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
        width: box.width, height: box.height,
        visible: img.checkVisibility ? img.checkVisibility() : img.offsetParent !== null,
      };
    }),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => ({
      href: a.href, raw: a.getAttribute("href"), text: (a.textContent || "").trim().slice(0, 60),
    })),
    ids: Array.from(document.querySelectorAll("[id]")).map(el => el.id)
      .concat(Array.from(document.querySelectorAll("a[name]")).map(a => a.name)),
    errors: Array.from(document.querySelectorAll(errorSelector)).map(el => ({
      classes: el.className, text: (el.innerText || "").trim().slice(0, 300), html: describe(el),
    })),
    // Sphinx writes formulas as .math elements holding TeX; typeset, each holds an mjx-container.
    rawMath: Array.from(document.querySelectorAll(".math"))
      .filter(el => !el.querySelector("mjx-container"))
      .map(el => (el.textContent || "").trim().slice(0, 80)),
    // A displayed formula wider than the text column is cut off at its right edge.
    wideMath: Array.from(document.querySelectorAll("mjx-container[display='true']"))
      .filter(el => visible(el) && el.scrollWidth > el.parentElement.clientWidth + 2)
      .map(el => `${el.scrollWidth} px in a ${el.parentElement.clientWidth} px column: ` +
                 (el.closest(".math")?.getAttribute("id") || (el.textContent || "").slice(0, 60))),
    // Every image of the content is a figure: it needs a <figure> with a numbered <figcaption>
    // (Sphinx with numfig writes "<span class=caption-number>Fig. N </span>" before the text).
    uncaptioned: Array.from(content.querySelectorAll("img")).map(img => {
      const name = (img.getAttribute("src") || "").split("/").pop().slice(0, 60) + where(img);
      const caption = img.closest("figure")?.querySelector("figcaption");
      const text = caption ? clean((caption.querySelector(".caption-text") || caption).textContent) : "";
      if (!text) return `${name}: no caption`;
      if (!caption.querySelector(".caption-number")) return `${name}: caption not numbered: ${text.slice(0, 60)}`;
      return null;
    }).filter(Boolean),
    // A table wider than the text column runs past its edge, unless it scrolls sideways in its box
    // with its key column first (each body row starts with a header cell, as a pandas index does),
    // so that a reader scrolling it still sees which row is which.
    wideTables: Array.from(content.querySelectorAll("table"))
      .filter(el => visible(el) && !el.parentElement.closest("table"))
      .map(el => [el, Math.ceil(Math.max(el.scrollWidth, el.getBoundingClientRect().width)), columnWidth(el)])
      .filter(([el, width, column]) => width > column + 2 && !(scrolls(el) && keyFirst(el)))
      .map(([el, width, column]) => `${width} px in a ${column} px column` +
           (scrolls(el) ? ", scrolled without its key column first" : "") + `${where(el)}: ` +
           clean(el.caption?.textContent || el.tHead?.textContent || el.textContent).slice(0, 60)),
    height: Math.ceil(Math.max(document.documentElement.scrollHeight,
                               document.body ? document.body.scrollHeight : 0)),
  };
})
"""


class BrowserError(RuntimeError):
    """Chromium could not be started, stopped answering, or a protocol command failed."""


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome binary: ``$HMC_CHROMIUM`` if set, else the first on ``PATH``."""
    explicit = os.environ.get("HMC_CHROMIUM")
    if explicit:
        return shutil.which(explicit)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    """What the browser saw on one page (see :meth:`Chromium.visit`)."""

    path: Path
    load_error: str = ""
    title: str = ""
    text_length: int = 0
    images: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    errors: list[dict] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    wide_math: list[str] = field(default_factory=list)
    uncaptioned: list[str] = field(default_factory=list)
    wide_tables: list[str] = field(default_factory=list)
    height: int = 0

    def broken_images(self) -> list[str]:
        """Images that did not load, or that are displayed with a zero width or height.

        Images hidden on purpose (in a closed dropdown, a collapsed cell, a hidden menu) have no
        rendered box; they count only if they failed to load.
        """
        broken = []
        for img in self.images:
            if not img["complete"] or img["naturalWidth"] == 0:
                broken.append(f"{img['src']} did not load")
            elif img["visible"] and (img["width"] <= 0 or img["height"] <= 0):
                broken.append(f"{img['src']} is shown at {img['width']}x{img['height']} px")
        return broken


class Chromium:
    """A headless Chromium with one tab, driven over ``--remote-debugging-pipe``.

    Use as a context manager; :meth:`visit` loads a file and inspects it, :meth:`screenshot` saves
    the page last visited. ``timeout`` bounds each protocol command and each page load (seconds).
    """

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900,
                 timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError("no chromium binary found (set HMC_CHROMIUM or install chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self._proc: subprocess.Popen | None = None
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._session = None
        self._profile = None
        self._log = None

    # -- process and protocol ------------------------------------------------------------------

    def __enter__(self) -> "Chromium":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the browser and open one tab (about 1 s)."""
        self._profile = tempfile.mkdtemp(prefix="hmc-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # runs in the child: fd 3 = commands in, fd 4 = replies out
            a = os.dup(to_browser_r)    # lowest free fd, so b > a and dup2(a, 3) cannot clobber b
            b = os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--mute-audio", "--allow-file-access-from-files",
                f"--window-size={self.width},{self.height}", "about:blank"]
        # Chromium logs freely on stderr: a file, so that a full pipe never blocks it.
        self._log = open(Path(self._profile) / "chromium.log", "w+b")
        # close_fds=False: fds 3 and 4 must survive; Python's own descriptors are close-on-exec.
        try:
            self._proc = subprocess.Popen(args, preexec_fn=wire_fds, close_fds=False,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=self._log)
        except OSError:
            for fd in (to_browser_r, from_browser_w, self._to_browser, self._from_browser):
                os.close(fd)
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
            attached = self.send("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True}, session=False)
            self._session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                self.send(f"{domain}.enable")
            self._set_viewport(self.height)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        """Stop the browser (politely, then by signal) and remove its profile."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                self._write({"id": self._new_id(), "method": "Browser.close"})
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if self._log:
                self._log.close()
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium exited: {self._stderr_tail()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self) -> str:
        if not self._log or self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def send(self, method: str, params: dict | None = None, session: bool = True,
             timeout: float | None = None) -> dict:
        """Send one protocol command to the tab (or the browser, ``session=False``); its result."""
        if self._proc is None:
            raise BrowserError("chromium is not running")
        message = {"id": self._new_id(), "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._write(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read(deadline)
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, event: str, timeout: float | None = None) -> dict:
        """Wait for (and consume) the next event named ``event`` from the tab."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, message in enumerate(self._events):
                if message["method"] == event:
                    return self._events.pop(i)
            message = self._read(deadline)
            if "method" in message:
                self._events.append(message)

    def evaluate(self, expression: str, timeout: float | None = None):
        """Evaluate JavaScript in the page (promises are awaited); its value as JSON."""
        result = self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"JavaScript failed: {details.get('exception', {}).get('description') or details}")
        return result["result"].get("value")

    # -- pages ---------------------------------------------------------------------------------

    def visit(self, path: Path) -> PageReport:
        """Load a local file, wait for its load event and images, and report what is on it."""
        path = Path(path).resolve()
        report = PageReport(path=path)
        self._events.clear()
        result = self.send("Page.navigate", {"url": path.as_uri()})
        if result.get("errorText"):
            report.load_error = result["errorText"]
            return report
        try:
            self.wait_for("Page.loadEventFired")
        except BrowserError as err:
            report.load_error = f"no load event: {err}"
            return report
        seen = self.evaluate(f"({_INSPECT_JS})({json.dumps(ERROR_SELECTOR)})")
        report.title = seen["title"]
        report.text_length = seen["textLength"]
        report.images, report.links, report.errors = seen["images"], seen["links"], seen["errors"]
        report.ids = set(seen["ids"])
        report.raw_math, report.wide_math = seen["rawMath"], seen["wideMath"]
        report.uncaptioned, report.wide_tables = seen["uncaptioned"], seen["wideTables"]
        report.height = seen["height"]
        urls = {}
        for event in self._events:
            params = event.get("params", {})
            if event["method"] == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            elif event["method"] == "Network.loadingFailed" and not params.get("canceled"):
                url = urls.get(params["requestId"], "?")
                if url.startswith("file:"):  # offline, remote resources (CDNs) are expected to fail
                    report.failed_requests.append(f"{url}: {params.get('errorText')}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                report.exceptions.append(details.get("exception", {}).get("description")
                                         or details.get("text", "?"))
        self._events.clear()
        return report

    def _set_viewport(self, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        # let the page lay itself out again (two animation frames) before anything is measured
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def page_height(self) -> int:
        """The current page's full height in CSS pixels."""
        return int(self.evaluate("Math.ceil(Math.max(document.documentElement.scrollHeight, "
                                 "document.body ? document.body.scrollHeight : 0))"))

    def screenshot(self, out: Path, full_page: bool = True, max_height: int = 16000) -> Path:
        """Save the current page as PNG: the first screen (``full_page=False``) or the whole page.

        The whole page is taken in a window as tall as the page (up to ``max_height`` px), not by
        capturing beyond the viewport: the theme's sticky sidebars are sized to the window, and a
        capture beyond it shows them cut off where a reader would see them whole.
        """
        if full_page:
            self._set_viewport(min(max_height, self.page_height()))
            self._set_viewport(min(max_height, self.page_height()))  # vh-sized parts may have grown
        try:
            data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        finally:
            if full_page:
                self._set_viewport(self.height)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out


# -- a whole site -----------------------------------------------------------------------------

class _Redirect(html.parser.HTMLParser):
    """Finds ``<meta http-equiv="refresh" content="0; url=...">``."""

    def __init__(self):
        super().__init__()
        self.target = None

    def handle_starttag(self, tag, attrs):
        attrs = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            match = re.search(r"url\s*=\s*['\"]?([^'\"]+)", attrs.get("content", ""), re.I)
            if match:
                self.target = match.group(1).strip()


def redirect_target(page: Path) -> str | None:
    """The URL a meta-refresh page (such as Jupyter Book's ``index.html``) sends readers to."""
    parser = _Redirect()
    parser.feed(page.read_text(errors="replace")[:5000])
    return parser.target


@dataclass
class SiteReport:
    """Everything :func:`check_site` found; each list holds ``"page: problem"`` lines."""

    pages: dict[str, PageReport] = field(default_factory=dict)
    load_failures: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    error_outputs: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    failed_resources: list[str] = field(default_factory=list)
    math_problems: list[str] = field(default_factory=list)
    figure_problems: list[str] = field(default_factory=list)
    wide_tables: list[str] = field(default_factory=list)
    n_images: int = 0
    n_links: int = 0

    def summary(self) -> str:
        lines = [f"{len(self.pages)} pages, {self.n_images} images, {self.n_links} internal links"]
        for name in ("load_failures", "broken_images", "broken_links", "error_outputs", "script_errors",
                     "failed_resources", "math_problems", "figure_problems", "wide_tables"):
            problems = getattr(self, name)
            lines.append(f"{name.replace('_', ' ')}: {len(problems)}")
            lines += [f"  {p}" for p in problems]
        return "\n".join(lines)


def site_pages(root: Path) -> list[Path]:
    """Every HTML page of a built site, theme assets (``_static``, ``_sources``...) left out."""
    return sorted(p for p in root.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]))


def check_site(root: Path, browser: Chromium, pages: list[Path] | None = None) -> SiteReport:
    """Visit every page under ``root`` (a built ``_build/html``) and check it as a reader would.

    A page must load and show text; every image must load and, unless hidden on purpose, have a
    non-zero rendered size; every link to a local file must point to an existing file inside
    ``root`` and, with a ``#fragment``, to an element with that id; no page may show an error
    output (:data:`ERROR_SELECTOR`); every formula must be typeset by MathJax (served from the
    site itself, so that it works offline) and fit the text column; every image of a page's content
    (the theme's ``article``, else ``main``, else the body) must be a figure with a numbered
    caption (``<figure>`` with a ``<figcaption>`` holding a ``.caption-number``, as Sphinx writes
    with ``numfig``); no table may be wider than the box it sits in, up to the text column, unless
    it scrolls sideways there with its key column first (every body row starting with a header
    cell, as a pandas index does). Uncaught JavaScript exceptions
    (script errors) and local files the page asked for and did not get (failed resources: scripts,
    styles, images) are reported too. Redirect pages are checked for their target only.
    """
    root = Path(root).resolve()
    report = SiteReport()
    for page in pages or site_pages(root):
        name = page.relative_to(root).as_posix()
        target = redirect_target(page)
        if target is not None:
            report.n_links += 1
            resolved = (page.parent / urllib.parse.unquote(target.split("#")[0])).resolve()
            if not resolved.is_file():
                report.broken_links.append(f"{name}: redirects to missing {target}")
            continue
        seen = browser.visit(page)
        report.pages[name] = seen
        if seen.load_error:
            report.load_failures.append(f"{name}: {seen.load_error}")
            continue
        if not seen.title or seen.text_length == 0:
            report.load_failures.append(f"{name}: blank page (title {seen.title!r}, {seen.text_length} chars)")
        report.n_images += len(seen.images)
        report.broken_images += [f"{name}: {p}" for p in seen.broken_images()]
        report.error_outputs += [f"{name}: {e['classes']}: {e['text'][:200]!r}" for e in seen.errors]
        report.script_errors += [f"{name}: {e.splitlines()[0] if e else e}" for e in seen.exceptions]
        report.failed_resources += [f"{name}: {r}" for r in seen.failed_requests]
        report.math_problems += [f"{name}: formula left as TeX: {m!r}" for m in seen.raw_math]
        report.math_problems += [f"{name}: formula wider than the text column (cut off), {m}"
                                 for m in seen.wide_math]
        report.figure_problems += [f"{name}: figure {f}" for f in seen.uncaptioned]
        report.wide_tables += [f"{name}: table wider than its column, {t}" for t in seen.wide_tables]

    for name, seen in list(report.pages.items()):  # _link_problem may add pages
        for link in seen.links:
            url = urllib.parse.urlsplit(link["href"])
            if url.scheme != "file":
                continue
            report.n_links += 1
            problem = _link_problem(root, url, report.pages, browser)
            if problem:
                report.broken_links.append(f"{name}: link {link['raw']!r} ({link['text']!r}) {problem}")
    return report


def _link_problem(root: Path, url: urllib.parse.SplitResult, pages: dict[str, PageReport],
                  browser: Chromium) -> str | None:
    target = Path(urllib.parse.unquote(url.path))
    if target.is_dir():
        target = target / "index.html"
    try:
        name = target.resolve().relative_to(root).as_posix()
    except ValueError:
        return f"leaves the site ({target})"
    if not target.is_file():
        return "points to a missing file"
    fragment = urllib.parse.unquote(url.fragment)
    if not fragment or target.suffix != ".html":
        return None
    if name not in pages:  # a page not visited yet (a link into an asset folder): load it too
        pages[name] = browser.visit(target)
    if fragment not in pages[name].ids:
        return f"has no element with id {fragment!r} in {name}"
    return None
