"""The Draw page in a real browser: draw a digit with the mouse, get an answer.

Debian's Chromium, driven by Playwright, against the whole app started by
``app_url``; a screenshot of the answer is kept in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

CANVAS = "[data-testid=stBidiComponentIsolated] canvas.upper-canvas"
ANSWER_TIMEOUT_MS = 90_000  # the first answer loads TensorFlow and the model on a cold server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def stroke(page, box, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through ``points`` given as fractions of the canvas."""
    x0, y0 = box["x"], box["y"]
    w, h = box["width"], box["height"]
    page.mouse.move(x0 + points[0][0] * w, y0 + points[0][1] * h)
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=12)
    page.mouse.up()


def test_drawing_a_digit_with_the_mouse_gets_a_prediction(seeded_store, app_url, browser_page, artifacts):
    page = browser_page
    page.goto(app_url)
    page.locator("[data-testid=stSidebarNav] a", has_text="Draw").click()  # as a visitor gets there
    page.get_by_text("Draw a digit", exact=False).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    canvas = page.locator(CANVAS)
    canvas.wait_for(state="visible", timeout=ANSWER_TIMEOUT_MS)
    box = canvas.bounding_box()
    assert box and box["width"] >= 200 and box["height"] >= 200

    # A "7": a bar across the top, then a long diagonal down to the left.
    stroke(page, box, [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])

    answer = page.get_by_text(re.compile(r"sure it is a \d"))
    answer.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert re.search(r"[\d.]+% sure it is a \d", answer.inner_text())
    page.get_by_text("What the model receives: 28 x 28 pixels", exact=True).wait_for()
    page.get_by_text("What every stored model says", exact=True).wait_for()
    page.get_by_text(re.compile(r"Preprocessing \+ prediction: [\d.]+ ms")).wait_for()
    page.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg").first.wait_for()
    page.set_viewport_size({"width": 1280, "height": 2000})  # the whole page in the screenshot
    page.wait_for_timeout(1500)  # let the chart, the table and the images finish painting
    page.screenshot(path=str(artifacts / "draw-prediction.png"))
    assert not page.get_by_text("Traceback").count()
