"""A lesson link in a real browser: only the lesson's controls editable, the link's setup in place."""

from __future__ import annotations

import re
import time

import pytest

LESSON_LINK = "train?hidden=50,50&activation=sigmoid&learning_rate=0.01&lesson=activation,optimizer"
# Each control of the sidebar's spec controls: its label, and whether the browser lets a student change it.
CONTROLS_JS = """() => {
  const kinds = '[data-testid=stSelectbox], [data-testid=stSlider], [data-testid=stCheckbox], '
    + '[data-testid=stNumberInput], [data-testid=stTextInput], [data-testid=stToggle]';
  return Array.from(document.querySelectorAll('[data-testid=stSidebar] [data-testid=stExpander]'))
    .flatMap(e => Array.from(e.querySelectorAll(kinds)))
    .map(w => {
      const label = (w.querySelector('[data-testid=stWidgetLabel]') || w).innerText.trim().split('\\n')[0];
      const inputs = Array.from(w.querySelectorAll('input, [role=slider], [role=combobox]'));
      const off = inputs.some(i => i.disabled || i.getAttribute('aria-disabled') === 'true');
      return {label, editable: inputs.length > 0 && !off};
    });
}"""


def settled_controls(page, expected: list[str], at_least: int, timeout_s: float = 60.0) -> list[dict]:
    """The sidebar's controls once the editable ones are ``expected`` among over ``at_least``, or at ``timeout_s``.

    The sidebar can be read while a rerun still draws it (every control briefly disabled,
    or only the first expanders there yet), so it is read again until it settles.
    """
    deadline = time.monotonic() + timeout_s

    def settled(controls: list[dict]) -> bool:
        return sorted(c["label"] for c in controls if c["editable"]) == expected and len(controls) > at_least

    controls = page.evaluate(CONTROLS_JS)
    while not settled(controls) and time.monotonic() < deadline:
        time.sleep(0.5)
        controls = page.evaluate(CONTROLS_JS)
    return controls


@pytest.mark.browser
def test_a_lesson_link_shows_only_the_lessons_controls_editable_and_its_setup(app_url, browser_page, artifacts):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{app_url}/{LESSON_LINK}")
    page.get_by_role("heading", name=re.compile("Train a network")).wait_for(timeout=90_000)
    page.get_by_text("Today's lesson: Activation and Optimizer").wait_for()
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    # The link's setup is in place: two hidden layers of 50 units, sigmoid, learning rate 0.01.
    page.get_by_text("784 → 50 → 50 → 10").first.wait_for(timeout=60_000)
    controls = settled_controls(page, ["Activation", "Optimizer"], at_least=15)
    editable = sorted(c["label"] for c in controls if c["editable"])
    assert editable == ["Activation", "Optimizer"], controls
    assert len(controls) > 15, controls  # the rest are there, read-only
    sidebar = page.locator("[data-testid=stSidebar]")
    activation = sidebar.locator("[data-testid=stSelectbox]", has_text="Activation").locator("input")
    assert activation.input_value() == "sigmoid"
    assert "0.01" in sidebar.locator("[data-testid=stSlider]", has_text="Learning rate").inner_text()
    page.screenshot(path=str(artifacts / "lesson-link.png"))

    page.get_by_role("button", name=re.compile("Show the full page")).click()
    page.get_by_text("Today's lesson").wait_for(state="detached")
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    assert "lesson=" not in page.url and re.search("hidden=50(%2C|,)50", page.url), page.url
    again = page.evaluate(CONTROLS_JS)
    assert {"Activation", "Optimizer", "Hidden layers", "Learning rate", "Epochs"} <= {
        c["label"] for c in again if c["editable"]
    }
