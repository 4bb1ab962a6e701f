"""The stage at 1280x720: what a class watches while a network trains is in view, live, and replays after.

On the Train and CNN pages, once Train is pressed: the curves, the filter (kernel) picture, the Stop
button and the progress bar lie inside the viewport without scrolling; the filter picture changes
from one second to the next while it trains; after the end, the replay slider's first and last
positions show different filters and confusion matrices. A stored run opened from its link replays,
and Play moves the slider. The CNN page reads in at most three screens, its sliders 200 px wide or more.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import TINY_SPEC_FIELDS, chart_problems

WIDTH, HEIGHT = 1280, 720
# Slow enough to watch: about ten seconds on the offline sample (forty short epochs, a snapshot after each).
TRAIN_LINK = "train?data=sample&hidden=24&epochs=40&batch_size=64&seed=23"
CNN_LINK = "cnn?data=sample&epochs=15&seed=23"  # the course's B6, fifteen epochs
TINY_LINK = "train?" + "&".join(
    f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}"
    for key, value in TINY_SPEC_FIELDS.items()
)
STAGE = ".st-key-stage"
FILTERS = f"{STAGE} [data-testid=stImage] img"  # the first picture on the stage: the filters or kernels
CURVES = f"{STAGE} [data-testid=stVegaLiteChart]"
MAIN_SCROLL = "document.querySelector('[data-testid=stMain]').scrollTop"


@pytest.fixture
def small_screen(_browser: Any) -> Iterator[Any]:
    """A Chromium page at a projector's 1280x720, closed after the test."""
    context = _browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not drawn"
    return found


def assert_in_view(name: str, locator: Any) -> dict[str, float]:
    """``locator``'s element lies wholly inside the 1280x720 viewport (no scrolling needed)."""
    b = box(locator)
    assert b["y"] >= 0 and b["y"] + b["height"] <= HEIGHT, f"{name} spans y {b['y']:.0f}-{b['y'] + b['height']:.0f}"
    assert b["x"] >= 0 and b["x"] + b["width"] <= WIDTH, f"{name} spans x {b['x']:.0f}-{b['x'] + b['width']:.0f}"
    return b


def press_train(page: Any, url: str) -> None:
    page.goto(url)
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for(timeout=90_000)
    page.wait_for_timeout(1000)  # the page's first run settles
    train.click()
    page.mouse.move(WIDTH - 20, HEIGHT - 20)  # no tooltip over the stage


def watch_training(page: Any, artifacts: Any, name: str) -> None:
    """While it trains: the stage in view, the filter picture redrawn, then it ends."""
    stop = page.get_by_role("button", name="Stop training")
    stop.wait_for(timeout=90_000)
    page.locator(FILTERS).first.wait_for(timeout=60_000)  # the first snapshot: the untrained network
    page.locator(CURVES).first.wait_for()
    page.wait_for_timeout(500)
    assert page.evaluate(MAIN_SCROLL) == 0, "the page was not scrolled"
    boxes = {
        "curve": assert_in_view("the loss curve", page.locator(CURVES).first),
        "accuracy": assert_in_view("the accuracy curve", page.locator(CURVES).nth(1)),
        "filters": assert_in_view("the filter picture", page.locator(FILTERS).first),
        "stop": assert_in_view("the Stop button", stop),
        "progress": assert_in_view("the progress bar", page.locator("[data-testid=stProgress]")),
    }
    page.screenshot(path=str(artifacts / f"stage_{name}_training.png"))
    print(
        name, {key: (round(b["x"]), round(b["y"]), round(b["width"]), round(b["height"])) for key, b in boxes.items()}
    )
    # Two captures of the filter picture a second apart differ: the network changes as the class watches.
    # The screen's area where the picture lies, not the element: it is replaced twice a second (a handle to it
    # can be gone before its screenshot is taken), in the same place.
    area = box(page.locator(FILTERS).first)
    first = page.screenshot(clip=area)
    page.wait_for_timeout(1000)
    assert stop.is_visible(), "still training: the second capture is of the same training"
    second = page.screenshot(clip=area)
    assert first != second, "the filters were not redrawn within a second"
    # How often the picture is redrawn: its source (Streamlit names media by content) sampled for 3 s.
    sources, started = [], time.monotonic()
    while time.monotonic() - started < 3 and stop.is_visible():
        sources.append(page.locator(FILTERS).first.get_attribute("src"))
        page.wait_for_timeout(100)
    changes = sum(a != b for a, b in zip(sources, sources[1:], strict=False))
    seconds = time.monotonic() - started
    print(f"{name}: the filter picture was redrawn {changes} times in {seconds:.1f} s while training")
    stop.wait_for(state="detached", timeout=180_000)


def replay_frame(page: Any, key: str) -> tuple[bytes, bytes, str]:
    """Move the replay slider to its first (Home) or last (End) position; the filters, the confusion matrix and
    the moment shown."""
    thumb = page.locator(f"{STAGE} [data-testid=stSlider] input[type=range]").first
    thumb.focus()
    thumb.press(key)
    want = "untrained" if key == "Home" else "epoch"
    label = page.locator(f"{STAGE} [data-testid=stSliderThumbValue]").first
    page.wait_for_function(
        "([sel, want]) => (document.querySelector(sel)?.innerText || '').startsWith(want)",
        arg=[f"{STAGE} [data-testid=stSliderThumbValue]", want],
    )
    page.get_by_text(re.compile(rf"its (filters|kernels), {label.inner_text()}$")).wait_for()
    page.wait_for_timeout(1500)  # the fragment's charts redrawn
    confusion = page.locator(CURVES, has_text="Validation, ").first
    return page.locator(FILTERS).first.screenshot(), confusion.screenshot(), label.inner_text()


def assert_replays(page: Any) -> None:
    """The replay slider's first and last positions show different filters and confusion matrices."""
    filters_first, confusion_first, first = replay_frame(page, "Home")
    filters_last, confusion_last, last = replay_frame(page, "End")
    assert first == "untrained" and last.startswith("epoch"), (first, last)
    assert filters_first != filters_last, "the untrained filters look like the trained ones"
    assert confusion_first != confusion_last, "the untrained confusion matrix looks like the trained one"
    # The loss curve is marked at the moment shown: a rule labelled with it.
    texts = page.locator(CURVES).first.evaluate("c => [...c.querySelectorAll('svg text')].map(t => t.textContent)")
    assert last in texts, texts


@pytest.mark.browser
def test_train_page_stage_live_and_replay(app_url, small_screen, artifacts):
    page = small_screen
    press_train(page, f"{app_url}/{TRAIN_LINK}")
    watch_training(page, artifacts, "train")
    page.get_by_text("Test accuracy").first.wait_for(timeout=60_000)
    assert_replays(page)
    assert not chart_problems(page), chart_problems(page)
    page.screenshot(path=str(artifacts / "stage_train_replay.png"))


@pytest.mark.browser
def test_cnn_page_stage_live_replay_height_and_sliders(app_url, small_screen, artifacts):
    page = small_screen
    page.goto(f"{app_url}/{CNN_LINK}")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=90_000)
    # Every slider of the page's controls is usable: 200 px wide or more (they were about 65 px).
    sliders = page.locator("[data-testid=stSidebar] [data-testid=stSlider]")
    widths = [box(sliders.nth(i))["width"] for i in range(sliders.count())]
    assert len(widths) >= 10 and min(widths) >= 200, widths
    press_train(page, f"{app_url}/{CNN_LINK}")
    watch_training(page, artifacts, "cnn")
    page.get_by_text("Test accuracy").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    # The page reads in at most three screens once trained.
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    print(f"CNN page at 1280x720 after training: {height} px ({height / HEIGHT:.2f} screens); sliders {min(widths)} px")
    assert height <= 3 * HEIGHT, height
    assert_replays(page)
    assert not chart_problems(page), chart_problems(page)
    page.screenshot(path=str(artifacts / "stage_cnn_replay.png"))


@pytest.mark.browser
def test_a_stored_run_opened_from_its_link_replays(seeded_store, app_url, small_screen):
    assert seeded_store.film is not None, "the seeded run was stored with its snapshots"
    page = small_screen
    page.goto(f"{app_url}/{TINY_LINK}")
    page.get_by_text("Read from the run store").first.wait_for(timeout=90_000)
    assert_replays(page)
    # Play steps the slider on by itself, from the first snapshot.
    replay_frame(page, "Home")
    page.get_by_role("button", name=re.compile(r"Play$")).click()
    started = time.monotonic()
    label = page.locator(f"{STAGE} [data-testid=stSliderThumbValue]").first
    # Play reruns the whole page once (seconds on a loaded machine), then moves on every second by itself.
    page.wait_for_function(
        "sel => !(document.querySelector(sel)?.innerText || 'untrained').startsWith('untrained')",
        arg=f"{STAGE} [data-testid=stSliderThumbValue]",
        timeout=45_000,
    )
    moved = label.inner_text()
    print(f"Play: the slider left 'untrained' for '{moved}' {time.monotonic() - started:.1f} s after the click")
    assert moved != "untrained"
