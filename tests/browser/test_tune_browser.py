"""The Tune page in Chromium: a 3-trial search on a served app, its live table filling while it runs.

A server of this module's own (``scripts/loadtest.py``'s ``serve``, as the Ray browser
test does), on an empty run store; the search starts the embedded Ray itself, and
everything the server started is stopped after.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.runs.store import RunStore
from tests.browser.conftest import chart_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 720}
TIMEOUT_S = 600.0  # Ray starting and workers importing TensorFlow, on a busy 2-core machine
ROWS = "[data-testid=stTable] tbody tr"


def _loadtest() -> Any:
    spec = importlib.util.spec_from_file_location("loadtest", ROOT / "scripts" / "loadtest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tune_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app (trainings in-process; the operator lets the search start Ray) on an empty store; all it started is
    stopped after."""
    loadtest = _loadtest()
    home = tmp_path_factory.mktemp("tune-runs")
    allowed = pytest.MonkeyPatch()
    allowed.setenv("MLP_LAB_TUNE_LOCAL_RAY", "1")  # off by default: a class server's operator allows it
    try:
        with loadtest.serve(home, "", tmp_path_factory.mktemp("tune-log") / "server.log") as (url, server):
            yield url, home
            workers = loadtest.ray_workers(server.pid)
    finally:
        allowed.undo()
    assert not [pid for pid in workers if loadtest.alive(pid)], "Ray workers left after the server stopped"


def _fill(page: Any, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def test_a_three_trial_search_fills_the_live_table_then_shows_what_it_found(tune_server, _browser, artifacts):
    url, home = tune_server
    context = _browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_S * 1000)
        page.goto(f"{url}/tune")
        page.get_by_role("button", name="Start the search").wait_for()
        _fill(page, "Trials", "3")
        _fill(page, "Epochs per trial (at most)", "2")
        _fill(page, "Units: from", "16")
        _fill(page, "Units: to", "32")
        page.wait_for_timeout(1500)  # the last value reaches the server
        page.get_by_role("button", name="Start the search").click()
        counts: list[int] = []  # rows of the live table, each time it was read
        running_seen = False
        done = page.get_by_role("heading", name="What the search found")
        deadline = time.monotonic() + TIMEOUT_S
        while not done.count():
            assert time.monotonic() < deadline, "the search never ended"
            assert page.locator("[data-testid=stException]").count() == 0
            rows = page.locator(ROWS)
            counts.append(rows.count())
            texts = " ".join(rows.all_inner_texts())
            running_seen = running_seen or "running" in texts
            if counts[-1] and len(counts) % 10 == 1:
                page.screenshot(path=str(artifacts / "tune-live.png"))
            time.sleep(0.5)
        # The heading comes first; the rest of that script run's elements arrive after it.
        best_link = page.get_by_role("link", name=re.compile(r"Open the best trial \(trial \d\) in Train"))
        best_link.first.wait_for(timeout=60_000)
        page.screenshot(path=str(artifacts / "tune-done.png"), full_page=True)
        page.wait_for_timeout(1500)  # the charts under the table are drawn last
        assert chart_problems(page) == []  # after the page's main action: no chart without a size, no text cut
        # The table filled while the search ran: first no trial, then trials, one running.
        assert counts and counts[0] == 0 or min(counts) < max(counts), counts
        assert max(counts) >= 1 and running_seen, counts
        # At the end: the best trial, its test accuracy, a link to it in Train, and three stored runs.
        assert page.get_by_text("Its test accuracy").count()
        assert best_link.count() == 1
        assert len(RunStore(home).list()) == 3
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        context.close()
