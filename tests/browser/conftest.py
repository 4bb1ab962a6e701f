"""Shared fixtures for real-browser tests: the running app, a Chromium page, a seeded store.

``app_url``
    Starts ``streamlit run streamlit_app.py`` once per test session on a free
    loopback port, in its own process group, with ``MLP_LAB_HOME`` pointing at
    a temporary run store (``lab_home``); yields ``http://127.0.0.1:PORT``.
``browser_page``
    A fresh Playwright page (1280x1000) in Debian's Chromium (``/usr/bin/chromium``;
    never ``playwright install``, which downloads a browser).
``seeded_store``
    A tiny trained run in ``lab_home``. The store is read from disk on every
    page run, so a run seeded after the server started is seen on the next page
    load too; request ``seeded_store`` before ``app_url`` all the same.
``artifacts``
    ``test-artifacts/`` in the repository, for screenshots CI keeps.

Outside CI, tests skip with a clear reason when Playwright or Chromium is
missing. With ``CI=true`` (``.ci/run`` sets it; CI installs both) a missing one
fails the suite instead (``tests.ci_support.missing``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.ci_support import missing
from tests.conftest import EMPTY_SECRETS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MLP_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 90.0  # seconds until /_stcore/health answers (slow, shared CI machines)
ARTIFACTS = ROOT / "test-artifacts"

# A tiny run: 2 epochs of a 32-unit MLP on the offline sample, a few seconds.
TINY_SPEC_FIELDS = {"data": "sample", "hidden": (32,), "epochs": 2, "batch_size": 64}

# Visible text cut short: an ellipsis overflow (labels, metrics, buttons, legends drawn as HTML) or an input
# whose value is wider than its box (a selectbox shows its choice in one). Main area and sidebar.
# Every Vega chart of the page, whatever its size (the visibility helpers skip what is 0 px wide: this must not):
# its box and its drawing's, and any text that Vega cut short or that lies outside the chart's own drawing.
CHART_PROBLEMS_JS = """(drawnOnly) => {
  const out = [];
  const charts = document.querySelectorAll('[data-testid=stVegaLiteChart], .vega-embed');
  for (const chart of charts) {
    if (chart.offsetParent === null) continue;  // not on screen at all (an inactive tab): nothing is drawn there
    const box = chart.getBoundingClientRect();
    // Vega's own drawing (class "marks"), not an icon of the chart's toolbar.
    const drawing = chart.querySelector('svg.marks, canvas.marks') || chart.querySelector('svg, canvas');
    if (drawnOnly && !drawing) continue;  // just put on the page, Vega draws it a moment later
    const area = drawing ? drawing.getBoundingClientRect() : box;
    if (box.width < 2 || box.height < 2 || area.width < 2 || area.height < 2) {
      const w = Math.min(box.width, area.width), h = Math.min(box.height, area.height);
      out.push(`chart of ${Math.round(w)}x${Math.round(h)} px`);
      continue;
    }
    for (const t of (drawing || chart).querySelectorAll('text')) {
      const text = t.textContent.trim();
      if (!text) continue;
      if (text.endsWith('\\u2026')) { out.push('cut short: ' + text); continue; }
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      // Within the chart's element, give or take Vega's few pixels of padding (it draws titles 2-3 px past it).
      const slack = 4;
      if (r.left < box.left - slack || r.right > box.right + slack || r.top < box.top - slack
          || r.bottom > box.bottom + slack)
        out.push('outside its chart: ' + text);
    }
  }
  return [...new Set(out)];
}"""
CUT_OFF_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('[data-testid=stMain] *, [data-testid=stSidebar] *')) {
    if (el.offsetParent === null) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const cs = getComputedStyle(el);
    const wider = el.scrollWidth > el.clientWidth + 1;
    if (el.tagName === 'INPUT' && wider && el.value && el.type !== 'range') out.push('input: ' + el.value);
    else if (cs.textOverflow === 'ellipsis' && wider && el.innerText.trim()) out.push(el.innerText.trim());
  }
  for (const t of document.querySelectorAll('[data-testid=stVegaLiteChart] svg text')) {
    if (t.textContent.endsWith('…')) out.push('chart: ' + t.textContent);
  }
  return out;
}"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test."""
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started, by its process group id."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run store the browser tests' server reads (``MLP_LAB_HOME``)."""
    return tmp_path_factory.mktemp("browser-runs")


@pytest.fixture(scope="session")
def seeded_store(lab_home: Path) -> Any:
    """A tiny trained run (``RunResult``) in ``lab_home``, trained once per session."""
    from lab.runs.engines import get_or_train
    from lab.runs.store import RunStore
    from lab.spec import ExperimentSpec

    return get_or_train(ExperimentSpec(**TINY_SPEC_FIELDS), RunStore(lab_home))


@contextlib.contextmanager
def serve_app(lab_home: Path, log_dir: Path, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Start ``streamlit run streamlit_app.py`` on a free loopback port; yield its base URL; stop it.

    ``extra_args`` go to ``streamlit run`` (``--secrets.files PATH`` for a server with a passphrase); without
    one the server reads the tests' empty secrets file, never the developer's ``.streamlit/secrets.toml``.
    """
    if "--secrets.files" not in extra_args:
        extra_args = [*extra_args, "--secrets.files", EMPTY_SECRETS]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / "server.log"
    env = {**os.environ, "MLP_LAB_HOME": str(lab_home), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none", *extra_args,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        # start_new_session: the server gets its own process group, stopped as a whole.
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.3)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def app_url(lab_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the whole app (``streamlit_app.py``) for the session and yield its base URL."""
    with serve_app(lab_home, tmp_path_factory.mktemp("streamlit-log")) as url:
        yield url


@pytest.fixture(scope="session")
def _browser() -> Iterator[Any]:
    try:  # imported here: without Playwright only the browser tests stop, not the whole suite
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -r requirements-test.txt)")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(_browser: Any) -> Iterator[Any]:
    """A new Chromium page (own context, 1280x1000), closed after the test."""
    context = _browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/`` (git-ignored), where screenshots are kept for CI to upload."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def chart_problems(page: Any, *, drawn_only: bool = False) -> list[str]:
    """Every chart drawn without a size, and every chart text cut short or outside its chart (``CHART_PROBLEMS_JS``).

    ``drawn_only``: leave out the charts Vega has not drawn yet. A page that is still running (a live training,
    or the rerun that ends it) puts charts on the page that Vega draws a moment later, 0 px high until then; a
    page that has settled has none, so the check after a page's action counts them.
    """
    return page.evaluate(CHART_PROBLEMS_JS, drawn_only)
