"""The app as a browser sees it: every page renders without an exception, deep links work."""

from __future__ import annotations

import pytest

from tests.browser.conftest import serve_app

PAGES = ["Home", "Train", "Draw", "Techniques", "CNN", "Gradients", "Tune", "Runs", "Challenge", "Teacher"]


def _settle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_timeout(1500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)


def test_deep_link_on_a_fresh_server_uses_the_apps_navigation(browser_page, tmp_path, artifacts):
    # A fresh server: the first script run is where Streamlit's old pages/ mode would take over.
    with serve_app(tmp_path / "runs", tmp_path) as url:
        browser_page.goto(f"{url}/draw")
        browser_page.get_by_role("heading", name="Draw a digit").wait_for(timeout=60_000)
        _settle(browser_page)
        nav = browser_page.locator('[data-testid="stSidebarNav"]').inner_text()
        browser_page.screenshot(path=str(artifacts / "deep-link-draw.png"))
    for title in PAGES:
        assert title in nav
    for helper in ("common", "charts", "controls"):
        assert helper not in nav


@pytest.mark.slow
def test_every_page_renders_without_an_exception(app_url, browser_page, artifacts):
    errors: list[str] = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_page.goto(app_url)
    _settle(browser_page)
    for title in PAGES:
        browser_page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        _settle(browser_page)
        slug = title.lower()
        browser_page.screenshot(path=str(artifacts / f"page-{slug}.png"), full_page=True)
        exceptions = browser_page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, f"{title}: {exceptions.first.inner_text()[:500]}"
        assert browser_page.locator("h1").count() >= 1, f"{title} shows no title"
    assert errors == []


def test_projector_mode_stays_on_from_page_to_page(app_url, browser_page):
    # A teacher switches it on once, then moves through the lesson's pages from the sidebar.
    browser_page.goto(f"{app_url}/train?projector=1")
    browser_page.get_by_role("heading", name="Train a network").wait_for(timeout=60_000)
    _settle(browser_page)
    for title in ("Draw", "Gradients", "Train"):
        browser_page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        _settle(browser_page)
        toggle = browser_page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]', has_text="Projector")
        assert toggle.locator("input").is_checked(), f"projector mode lost on {title}"
        # ... and the page is drawn for the projector: body text at 19 px or more (16 without).
        paragraph = "document.querySelector('[data-testid=stMain] [data-testid=stMarkdown] p')"
        assert browser_page.evaluate(f"() => parseFloat(getComputedStyle({paragraph}).fontSize)") >= 19, title
