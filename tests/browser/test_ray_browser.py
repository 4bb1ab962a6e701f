"""Ray on (``MLP_LAB_RAY=local``): two browser sessions train at once and both watch their curves grow.

A server of this module's own, started and stopped like the load test does it
(``scripts/loadtest.py``: the server first, so that it shuts its embedded Ray
down, then anything it left, by process group and id).
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 720}
TIMEOUT_S = 600.0  # Ray starting and two workers importing TensorFlow, on a busy 2-core machine
# Small epochs, many of them: several progress lines while both train, and long enough
# (about 15 s each here) to overlap when the second worker is still importing TensorFlow.
LINK = "train?data=sample&hidden=32&batch_size=16&epochs=30&seed={seed}"
EPOCH = re.compile(r"Epoch (\d+)/30 ·")
CHARTS = "[data-testid=stVegaLiteChart]"


def _loadtest() -> Any:
    spec = importlib.util.spec_from_file_location("loadtest", ROOT / "scripts" / "loadtest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served app's run store, empty at the start."""
    return tmp_path_factory.mktemp("ray-runs")


@pytest.fixture(scope="module")
def ray_server(ray_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with ``MLP_LAB_RAY=local`` on an empty run store; everything it started is stopped after."""
    loadtest = _loadtest()
    with loadtest.serve(ray_home, "local", tmp_path_factory.mktemp("ray-log") / "server.log") as (url, server):
        yield url
        workers = loadtest.ray_workers(server.pid)
    assert workers, "the server started no Ray worker"
    assert not [pid for pid in workers if loadtest.alive(pid)], "Ray workers left after the server stopped"


def _status(page: Any) -> str:
    # all_inner_texts reads the alerts present now: an alert that goes between a count()
    # and an nth(i).inner_text() would make that wait out the page's whole default timeout.
    return " ".join(page.locator("[data-testid=stAlert]").all_inner_texts())


def _training_spans(home: Path) -> list[tuple[float, float]]:
    """(start, end) of every stored run's training, in seconds since the epoch."""
    runs = [info.metrics for info in RunStore(home).list()]
    return [(run["created"] - run["train_seconds"], run["created"]) for run in runs]


def test_two_sessions_train_at_once_on_ray_and_both_see_their_curves_grow(ray_server, ray_home, _browser, artifacts):
    contexts = [_browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        home = pages[0]
        home.goto(ray_server)
        engine = home.get_by_text(re.compile(r"Trainings run on Ray workers on this machine: \d+ workers"))
        engine.wait_for(timeout=TIMEOUT_S * 1000)  # the first page starts Ray
        for i, page in enumerate(pages):
            page.set_default_timeout(TIMEOUT_S * 1000)
            page.goto(f"{ray_server}/{LINK.format(seed=31 + i)}")
            page.get_by_role("button", name="Train", exact=True).wait_for()
        for page in pages:
            page.get_by_role("button", name="Train", exact=True).click()
        epochs: list[set[int]] = [set(), set()]  # the epochs each session's progress line showed
        charts = [False, False]  # a live curve drawn while training
        together = False  # both sessions' progress lines showed an epoch at the same poll
        finished = [False, False]
        deadline = time.monotonic() + TIMEOUT_S
        while not all(finished) and time.monotonic() < deadline:
            training = []
            for i, page in enumerate(pages):
                if page.locator("[data-testid=stMetric]", has_text="Test accuracy").count():
                    finished[i] = True
                    training.append(False)
                    continue
                match = EPOCH.search(_status(page))
                if match:
                    epochs[i].add(int(match.group(1)))
                    charts[i] = charts[i] or page.locator(CHARTS).count() > 0
                training.append(bool(match))
            together = together or all(training)
            time.sleep(0.1)
        assert all(finished), [_status(page) for page in pages]
        for i, page in enumerate(pages):
            page.screenshot(path=str(artifacts / f"ray-session-{i}.png"))
            assert page.locator("[data-testid=stException]").count() == 0
            assert page.get_by_text("Training failed").count() == 0
        # Each session saw its own training move on, epoch after epoch, while it ran.
        assert all(len(seen) >= 2 for seen in epochs), epochs
        assert all(charts), charts
        # The two trainings overlapped on the workers: read from the stored runs, since polling two
        # pages one after the other on a busy machine can miss a short overlap that did happen.
        spans = _training_spans(ray_home)
        assert len(spans) == 2, spans
        (start_a, end_a), (start_b, end_b) = spans
        overlap = min(end_a, end_b) - max(start_a, start_b)
        assert together or overlap > 0, f"the two trainings never ran at the same time: {spans}"
    finally:
        for context in contexts:
            context.close()
