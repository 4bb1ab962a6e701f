"""Every picture tells the truth, from the back of the room: checks that fail on the pictures that lied.

At 1280x720, on a store with a stalled sigmoid run, a diverged run and a healthy one: on every page,
after its main action, no chart is drawn 0 px wide or high (the check itself is shown to fail on such a
chart), and no chart text (titles, legends, axis labels) is cut short or runs past its chart; on Train
the live chart and the final one share their y axis; the stalled run's loss axis reaches 0 and names
the chance level; the diverged run's chart shows its climb above 10.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import CUT_OFF_JS, chart_problems, serve_app

pytestmark = pytest.mark.slow  # trains a few tiny runs and opens every page

WIDTH, HEIGHT = 1280, 720
PAGES = ["Home", "Train", "Draw", "Techniques", "CNN", "Gradients", "Tune"]
# The y axis labels of each chart whose title starts with ``prefix`` (the loss charts: "Loss per epoch").
Y_LABELS_JS = """(prefix) => Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]'))
  .filter(c => (c.querySelector('.role-title-text text')?.textContent || '').startsWith(prefix))
  .map(c => Array.from(c.querySelectorAll('.role-axis'))
    .filter(a => (a.getAttribute('aria-label') || '').startsWith('Y-axis'))
    .flatMap(a => Array.from(a.querySelectorAll('.role-axis-label text')).map(t => t.textContent)))"""
CHART_TEXTS_JS = """(prefix) => Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]'))
  .filter(c => (c.querySelector('.role-title-text text')?.textContent || '').startsWith(prefix))
  .map(c => Array.from(c.querySelectorAll('svg text')).map(t => t.textContent))"""


def number(label: str) -> float:
    """An axis label as a number ("2.5", "1,000", "400")."""
    return float(label.replace(",", "").replace("\u2212", "-"))


# ----------------------------------------------------------------- the store
STALL = {"hidden": (50, 50, 50, 50), "activation": "sigmoid", "optimizer": "sgd", "learning_rate": 0.001, "epochs": 2}
DIVERGE = {"hidden": (32,), "activation": "sigmoid", "optimizer": "sgd", "learning_rate": 100.0, "epochs": 3}
LIVE = {"hidden": (24,), "epochs": 4, "batch_size": 64, "seed": 5}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on a store with a stalled sigmoid run, a diverged run and a healthy tiny one (with health records)."""
    from lab.codec import spec_to_query
    from lab.runs.engines import get_or_train
    from lab.runs.store import RunStore
    from lab.spec import ExperimentSpec

    home = tmp_path_factory.mktemp("pictures") / "runs"
    store = RunStore(home)
    links = {}
    for name, fields in {"stall": STALL, "diverge": DIVERGE, "tiny": {"hidden": (32,), "epochs": 2}}.items():
        spec = ExperimentSpec(**fields)
        result = get_or_train(spec, store)
        assert result.diverged == (name == "diverge"), name
        links[name] = "train?" + "&".join(f"{k}={v}" for k, v in spec_to_query(spec).items())
    links["live"] = "train?" + "&".join(f"{k}={v}" for k, v in spec_to_query(ExperimentSpec(**LIVE)).items())
    with serve_app(home, tmp_path_factory.mktemp("pictures-log")) as url:
        yield {"url": url, "links": links}


@pytest.fixture
def screen(browser_page: Any) -> Any:
    browser_page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    browser_page.set_default_timeout(60_000)
    return browser_page


def settle(page: Any, timeout_ms: int = 120_000) -> None:
    page.wait_for_timeout(1500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
    page.wait_for_timeout(1500)


def open_link(page: Any, url: str, link: str) -> None:
    page.goto(f"{url}/{link}")
    page.get_by_role("heading", name="Train a network").wait_for(timeout=120_000)
    settle(page)


# ------------------------------------------------------------------ the check itself
def test_the_chart_check_fails_on_a_chart_drawn_0_px_wide_and_on_text_past_its_chart(screen):
    screen.set_content(
        """<div data-testid="stVegaLiteChart" style="width:0;overflow:hidden"><svg width="300" height="100">
             <text x="10" y="20">a title</text></svg></div>
           <div data-testid="stVegaLiteChart" style="width:300px"><svg width="300" height="100">
             <text x="250" y="20">a legend label that runs past</text>
             <text x="10" y="50">Loss so far, growing\u2026</text>
           </svg></div>"""
    )
    found = chart_problems(screen)
    assert any(p.startswith("chart of 0x") for p in found), found
    assert "outside its chart: a legend label that runs past" in found, found
    assert "cut short: Loss so far, growing\u2026" in found, found


# ------------------------------------------------------------------ every page
def test_no_page_draws_a_chart_without_a_size_or_cuts_chart_text_after_its_main_action(pictures, screen, artifacts):
    url, found = pictures["url"], {}
    open_link(screen, url, pictures["links"]["tiny"])  # Train: a stored run's results
    found["Train"] = chart_problems(screen) + screen.evaluate(CUT_OFF_JS)
    for title in ("Techniques", "CNN", "Gradients", "Tune", "Draw", "Home"):
        screen.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        settle(screen)
        if title == "Gradients":  # its main action: two runs side by side, histograms at an epoch included
            screen.get_by_text("Activations at one epoch").first.wait_for()
            settle(screen)
        screen.screenshot(path=str(artifacts / f"pictures-{title.lower()}.png"), full_page=True)
        assert screen.locator('[data-testid="stException"]').count() == 0, title
        found[title] = chart_problems(screen) + screen.evaluate(CUT_OFF_JS)
    assert found == {title: [] for title in found}


def test_the_live_and_the_final_chart_share_their_y_axis_on_train(pictures, screen):
    open_link(screen, pictures["url"], pictures["links"]["live"])
    screen.get_by_role("button", name="Train", exact=True).click()
    live: list[list[str]] = []
    stop = screen.get_by_role("button", name="Stop training")
    stop.wait_for(timeout=120_000)
    while stop.count():
        labels = screen.evaluate(Y_LABELS_JS, "Loss per epoch")
        if labels and labels[0]:
            live = labels
            assert chart_problems(screen, drawn_only=True) == []  # the live chart too: nothing cut off, never 0 px wide
        screen.wait_for_timeout(150)
    assert live, "the live loss chart was never seen"
    screen.get_by_text("Test accuracy").first.wait_for(timeout=120_000)
    settle(screen)
    final = screen.evaluate(Y_LABELS_JS, "Loss per epoch")
    assert final[0] == live[0], (live, final)
    assert number(final[0][0]) == 0  # from 0: a stall draws flat


def test_a_stalled_sigmoid_runs_loss_axis_reaches_0_and_names_the_chance_level(pictures, screen):
    open_link(screen, pictures["url"], pictures["links"]["stall"])
    screen.get_by_text("Test accuracy").first.wait_for()
    labels = screen.evaluate(Y_LABELS_JS, "Loss per epoch")[0]
    assert number(labels[0]) == 0 and number(labels[-1]) >= 2.3, labels
    texts = screen.evaluate(CHART_TEXTS_JS, "Loss per epoch")[0]
    assert "chance: ln 10 = 2.303" in texts, texts


def test_a_diverged_runs_chart_shows_its_climb_and_its_headline_says_diverged(pictures, screen, artifacts):
    open_link(screen, pictures["url"], pictures["links"]["diverge"])
    screen.get_by_text("Training diverged").first.wait_for()
    loss = screen.locator("[data-testid=stMetric]", has_text="Test loss").inner_text()
    assert "diverged" in loss, loss
    labels = screen.evaluate(Y_LABELS_JS, "Loss per epoch")[0]
    assert max(number(label) for label in labels) > 10, labels
    assert not any(re.search(r"e[+-]", label) for label in labels), labels  # 400, not 4e+2
    screen.screenshot(path=str(artifacts / "pictures-diverged.png"), full_page=True)
    assert chart_problems(screen) == []
