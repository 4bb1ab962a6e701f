"""Training in a real browser, page by page: the curve grows at once, and nothing stale is left when it ends.

One server of their own for these tests, on an empty run store, so that the
Draw page starts without a model (its test runs first: the others store digit
models). Each test trains something small, waits for the end, and checks the
page's final state: no Stop button, no "not trained yet" / "no model yet", and a
message that says what happened. Screenshots at 1280x720 go to test-artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CUT_OFF_JS, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1280, "height": 720}
TRAINING_TIMEOUT_MS = 300_000  # small trainings, but on a busy shared machine
FIRST_POINT_LIMIT_S = 5.0  # a guard; the goal (1.5 s) is measured by `python -m lab bench`
STOP = "Stop training"
STALE_TEXTS = ("Not trained yet: press Train", "There is no trained model yet", "Training now:")
CHARTS = "[data-testid=stVegaLiteChart]"
DURATION = r"(\d+(\.\d+)? s|\d+ min \d\d s)"  # ui.app.jobs.duration_text: "4.1 s", or "1 min 05 s" on a slow machine
TINY_CNN = "cnn?conv=4x3s2&hidden=16&epochs=1&batch_size=64&train_subset=1000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of this module's own, on an empty run store."""
    home = tmp_path_factory.mktemp("ends-runs")
    with serve_app(home, tmp_path_factory.mktemp("ends-log")) as url:
        yield url


@pytest.fixture
def page(browser_page: Any) -> Any:
    """The browser page at 1280x720, the size of a projector in class."""
    browser_page.set_viewport_size(VIEWPORT)
    browser_page.set_default_timeout(120_000)  # widgets can take long to appear on a busy machine
    return browser_page


def settle(page: Any, timeout_ms: int = TRAINING_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished running the page's script (trainings included)."""
    page.wait_for_timeout(1000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)


def open_page(page: Any, url: str, heading: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=re.compile(heading)).first.wait_for(timeout=120_000)
    settle(page)


def shows_within(locator: Any, timeout_ms: int) -> bool:
    """Whether ``locator``'s first match becomes visible within ``timeout_ms``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # lazy, as in conftest

    try:
        locator.first.wait_for(state="visible", timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


def wait_for_the_end(page: Any, done: Any, timeout_ms: int = TRAINING_TIMEOUT_MS) -> None:
    """Wait until ``done`` (a locator of the final state) shows and the page's script has finished.

    If it never shows, the failure says what the page shows instead (a training still
    running, in line, failed, or never asked for).
    """
    if not shows_within(done, timeout_ms):
        pytest.fail(f"the final state never showed in {timeout_ms / 1000:.0f} s; the page reads:\n"
                    + page.inner_text("body")[-4000:])  # fmt: skip
    settle(page)


def assert_final_state(page: Any, name: str, artifacts: Path) -> None:
    """Nothing of the time before or during the training is left; screenshots of the job area."""
    page.screenshot(path=str(artifacts / f"ended-{name}.png"))
    assert page.get_by_role("button", name=STOP).count() == 0, f"{name}: a Stop button is left"
    for text in STALE_TEXTS:
        assert page.get_by_text(text).count() == 0, f"{name}: '{text}' is left"
    assert page.locator("[data-testid=stException]").count() == 0, f"{name}: an exception"
    assert page.evaluate(CUT_OFF_JS) == [], f"{name}: text cut off"


def test_draw_trains_the_starter_model_and_opens_on_the_canvas(server, page, artifacts):
    open_page(page, f"{server}/draw", "Draw a digit")
    page.get_by_text("There is no trained model yet").wait_for()
    page.get_by_role("button", name="Train a starter model").click()
    wait_for_the_end(page, page.locator("[data-testid=stBidiComponentIsolated] canvas[data-part=canvas]"))
    assert_final_state(page, "draw", artifacts)
    assert page.get_by_role("button", name="Train a starter model").count() == 0
    assert page.get_by_text(re.compile("Starter model trained just now in")).count() == 1


def test_techniques_series_fills_its_table_and_leaves_no_progress(server, page, artifacts):
    open_page(page, f"{server}/techniques", "Techniques")
    page.get_by_label("Series").click()  # the selectbox
    page.get_by_role("option", name=re.compile(r"^D · ")).click()
    settle(page)
    cap = page.get_by_role("spinbutton", name="Epochs at most")
    cap.fill("1")
    cap.press("Enter")
    settle(page)
    page.get_by_role("button", name=re.compile(r"^Run series D")).click()
    cancel = page.get_by_role("button", name="Cancel the rest of the series")
    cancel.wait_for(state="visible", timeout=60_000)  # shown while the series runs
    cancel.wait_for(state="detached", timeout=3 * TRAINING_TIMEOUT_MS)  # gone when the last run has ended
    settle(page, 3 * TRAINING_TIMEOUT_MS)
    assert_final_state(page, "techniques", artifacts)
    assert page.get_by_role("button", name=re.compile(r"^Run series D")).is_enabled()
    assert page.get_by_text(re.compile(r"^Training D\d")).count() == 0
    alerts = page.locator("[data-testid=stAlert]").all_inner_texts()  # a failed run's error, if any
    assert page.get_by_text("Series D done: 6 runs trained just now and stored").count() == 1, alerts
    table = page.locator("[data-testid=stTable], [data-testid=stDataFrame]").first.inner_text()
    assert "not run yet" not in table and "not trained yet" not in table, table
    assert all(f"D{i}" in table for i in range(6)), table


def test_cnn_trains_and_shows_its_results_beside_the_button(server, page, artifacts):
    open_page(page, f"{server}/{TINY_CNN}", "Convolutions")
    page.get_by_text("Not trained yet: press Train").wait_for()
    page.get_by_role("button", name="Train", exact=True).click()
    wait_for_the_end(page, page.get_by_text(re.compile("Trained just now in")))
    page.get_by_text("Test accuracy").first.wait_for()
    page.get_by_text(re.compile("Trained just now in")).first.scroll_into_view_if_needed()
    assert_final_state(page, "cnn", artifacts)


def test_gradients_trains_the_pair_and_leaves_no_stop_button(server, page, artifacts):
    open_page(page, f"{server}/gradients", "Gradient health")
    button = page.get_by_role("button", name="Train this pair")
    if not button.is_visible():  # the expander is closed once stored runs have a health record
        page.get_by_text("Train a comparison pair on the sample data").click()
    button.click()
    # Started (its heading), or over already: else the click was lost in a rerun (CI once waited
    # ten minutes with nothing trained), and a student would press again.
    began = page.get_by_text(re.compile(r"Training run A|Training run B|Trained just now and stored"))
    # Disabled: the pair is training after all, and the wait below follows it.
    if not shows_within(began, 60_000) and button.is_enabled():
        button.click()
    wait_for_the_end(page, page.get_by_text(re.compile("Trained just now and stored")), 2 * TRAINING_TIMEOUT_MS)
    page.get_by_text(re.compile("Trained just now and stored")).scroll_into_view_if_needed()
    assert_final_state(page, "gradients", artifacts)
    assert page.get_by_role("button", name="Train this pair").is_enabled()


def test_train_curve_grows_at_once_and_the_result_says_it_was_trained_now(server, page, artifacts):
    stops, points = [], []
    for seed in (101, 102, 103):  # one press after another, as in class; the fastest counts (a busy machine)
        open_page(page, f"{server}/train?epochs=5&seed={seed}", "Train a network")
        page.get_by_text("Not trained yet: press Train").wait_for()
        charts_before = page.locator(CHARTS).count()
        page.get_by_role("button", name="Train", exact=True).click()
        started = time.monotonic()
        page.get_by_role("button", name=STOP).wait_for(timeout=60_000)
        stops.append(time.monotonic() - started)
        page.wait_for_function(
            f"document.querySelectorAll('{CHARTS}').length > {charts_before}", timeout=60_000, polling=50
        )
        points.append(time.monotonic() - started)
        page.screenshot(path=str(artifacts / f"train-live-{seed}.png"))
        wait_for_the_end(page, page.get_by_text(re.compile("Trained just now in")))
        assert_final_state(page, f"train-{seed}", artifacts)
        assert page.get_by_text(re.compile(f"Trained just now in {DURATION} and stored")).count() == 1
        assert page.get_by_text("Read from the run store").count() == 0
    print("Train -> Stop button: " + ", ".join(f"{s:.2f}" for s in stops) + " s; -> first curve point: "
          + ", ".join(f"{s:.2f}" for s in points) + " s")  # fmt: skip
    assert min(points) <= FIRST_POINT_LIMIT_S, points
