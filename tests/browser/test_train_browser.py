"""The Train page in a real browser: open a link, press Train, see curves, filters and the confusion matrix."""

from __future__ import annotations

import re
import time

import pytest

LINK = "train?hidden=24&epochs=3&batch_size=64&seed=11"  # a few seconds on the offline sample


@pytest.mark.browser
def test_train_a_small_model_end_to_end(app_url, browser_page, artifacts):
    page = browser_page
    page.goto(app_url)  # the home page first, as a class would arrive
    page.get_by_role("heading", name=re.compile("MLP Lab")).wait_for(timeout=90_000)
    page.goto(f"{app_url}/{LINK}")
    page.get_by_role("heading", name=re.compile("Train a network")).wait_for(timeout=90_000)
    # The link set the controls: the parameter count is 784*24+24 + 24*10+10 = 19,090.
    page.get_by_text("19,090").first.wait_for()
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for()
    started = time.monotonic()
    train.click()
    page.get_by_text("Test accuracy").first.wait_for(timeout=180_000)
    seconds = time.monotonic() - started
    # Curves and the other charts are drawn by Vega in the page.
    page.wait_for_function("document.querySelectorAll('.vega-embed').length >= 3", timeout=60_000)
    accuracy = page.locator("[data-testid=stMetric]", has_text="Test accuracy").inner_text()
    assert re.search(r"\d+\.\d\d%", accuracy), accuracy
    # The filter grid and the misclassified digits are images.
    assert page.locator("[data-testid=stImage] img").count() >= 2
    # The URL still holds the setup, so the link can be shared.
    assert "hidden=24" in page.url and "seed=11" in page.url
    # Streamlit scrolls inside its main block, so a "full page" screenshot needs a viewport that tall.
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 50, 8000)})
    page.wait_for_timeout(1500)  # let Vega redraw at the new size before the screenshot
    page.screenshot(path=str(artifacts / "train_page.png"), full_page=True)
    print(f"Train pressed -> results shown in the browser: {seconds:.1f} s")
