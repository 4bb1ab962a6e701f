"""A class challenge in real browsers: the teacher opens one; two students with nicknames enter their runs
(one trained in the browser, credited to its nickname); the public leaderboard updates for both; a run over a
limit is refused naming the limit; the teacher reveals the private scores and both see them. And no digit
picture any page of the lesson shows is a held-out digit."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from lab.architecture import count_params
from lab.data.held_out import load_held_out
from lab.data.sources import load_source
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec
from tests.browser.conftest import serve_app

PASSPHRASE = "challenge the room 7"
OWL_LINK = "train?hidden=32&epochs=2&batch_size=64"  # trained in the browser, a few seconds
FOX_FITS = ExperimentSpec(hidden=(24,), epochs=2, batch_size=64, seed=3)
FOX_TOO_BIG = ExperimentSpec(hidden=(256,), epochs=2, batch_size=64)  # 203,530 parameters: over 100,000
DIGIT_SIDE = 56  # ui.charts.images.digit_picture draws a digit twice its size


def _settle(page, timeout_ms: int = 90_000) -> None:
    page.wait_for_timeout(1200)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)


def _pick_nickname(page, name: str) -> None:
    field = page.locator('[data-testid="stSidebar"]').get_by_label("Your nickname", exact=True)
    field.fill(name)
    field.press("Enter")
    page.locator('[data-testid="stSidebar"]').get_by_text(f"Your nickname: {name}").wait_for()


def _go(page, title: str) -> None:
    """Move to another page through the app's navigation, keeping the session (and its nickname)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    _settle(page)


def _submit(page, option: re.Pattern) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Your run").click()
    page.get_by_role("option", name=option).click()
    _settle(page)
    page.get_by_role("button", name="Submit").click()
    _settle(page)


def _leaderboard(page) -> str:
    return page.locator('[data-testid="stTable"]').first.inner_text()


def _digit_pictures(page, base_url: str) -> list[np.ndarray]:
    """Every digit-sized picture the page shows, as 28x28 gray pixels (0 = white paper, as in MNIST: ink high)."""
    from PIL import Image

    sources = page.evaluate("() => [...document.querySelectorAll('img')].map(i => i.getAttribute('src'))")
    digits = []
    for src in {s for s in sources if s and "/media/" in s}:
        address = src if src.startswith("http") else base_url + src
        image = Image.open(io.BytesIO(page.request.get(address).body())).convert("L")
        if image.size != (DIGIT_SIDE, DIGIT_SIDE):
            continue
        pixels = np.asarray(image, dtype=np.float32).reshape(28, 2, 28, 2).mean(axis=(1, 3))
        digits.append(255 - pixels)  # drawn dark on white: back to MNIST's ink on black
    return digits


def _nearest(picture: np.ndarray, images: np.ndarray) -> float:
    """The mean absolute pixel difference from ``picture`` to the closest of ``images`` (n, 784)."""
    return float(np.abs(images.astype(np.float32) - picture.reshape(1, -1)).mean(axis=1).min())


@pytest.mark.browser
@pytest.mark.slow
def test_two_students_enter_a_challenge_and_the_teacher_reveals_the_private_scores(_browser, tmp_path, artifacts):
    home = tmp_path / "runs"
    # Fox trained two runs earlier (this server's jobs credit the session's nickname, as the Train page does).
    jobs = JobManager(RunStore(home))
    for spec in (FOX_FITS, FOX_TOO_BIG):
        job = jobs.submit(spec, session="fox-earlier", nickname="fox")
        assert job.wait(300) and job.state == "done", job.error
    big_params = count_params(FOX_TOO_BIG)
    assert big_params > 100_000

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'MLP_LAB_TEACHER_PASSPHRASE = "{PASSPHRASE}"\n')
    with serve_app(home, tmp_path, ["--secrets.files", str(secrets)]) as url:
        pages = [_browser.new_context(viewport={"width": 1280, "height": 720}).new_page() for _ in range(3)]
        teacher, owl, fox = pages
        for page in pages:
            page.set_default_timeout(60_000)
        try:
            # The teacher opens the challenge: the default limits, 100,000 parameters and 20 epochs.
            teacher.goto(f"{url}/teacher")
            teacher.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
            teacher.get_by_role("button", name="Unlock").click()
            teacher.get_by_text("Class challenge").first.wait_for()
            teacher.get_by_label("Title").fill("Best net under 100k")
            teacher.get_by_role("button", name="Open the challenge").click()
            teacher.get_by_text(re.compile("Best net under 100k.*open until")).wait_for()

            # Owl picks a nickname, trains on the Train page, and looks at every picture it shows.
            owl.goto(f"{url}/{OWL_LINK}")
            owl.get_by_role("heading", name=re.compile("Train a network")).wait_for(timeout=90_000)
            _settle(owl)
            _pick_nickname(owl, "owl")
            owl.get_by_role("button", name="Train", exact=True).click()
            owl.get_by_text("Misclassified test images").wait_for(state="attached", timeout=180_000)  # in a tab
            _settle(owl)
            pictures = _digit_pictures(owl, url)
            _go(owl, "Challenge")
            owl.get_by_role("heading", name="Best net under 100k").wait_for()
            _submit(owl, re.compile("784-32-10"))
            owl.get_by_text(re.compile(r"Entered: public score \d")).wait_for()

            # Fox: a run over the parameter limit is refused, naming the limit; the other enters.
            fox.goto(f"{url}/challenge")
            fox.get_by_role("heading", name="Best net under 100k").wait_for(timeout=90_000)
            _settle(fox)
            _pick_nickname(fox, "fox")
            _settle(fox)
            _submit(fox, re.compile(f"{big_params:,} parameters"))
            fox.get_by_text(
                f"This network has {big_params:,} parameters, more than the challenge's limit of 100,000 parameters"
            ).wait_for()
            _submit(fox, re.compile("784-24-10"))
            fox.get_by_text(re.compile(r"Entered: public score \d")).wait_for()

            # The public leaderboard updates for both, by itself.
            for page in (owl, fox):
                page.wait_for_function(
                    "() => { const t = document.querySelector('[data-testid=stTable]');"
                    " return t && t.innerText.includes('owl') && t.innerText.includes('fox'); }",
                    timeout=30_000,
                )
                assert "Private score" not in _leaderboard(page)
            fox.screenshot(path=str(artifacts / "challenge-public.png"), full_page=True)

            # The teacher reveals the private half: both students see the private scores.
            teacher.reload()
            teacher.get_by_role("button", name="Reveal the private scores").click()
            _settle(teacher)
            for page in (owl, fox):
                page.wait_for_function(
                    "() => { const t = document.querySelector('[data-testid=stTable]');"
                    " return t && t.innerText.includes('Private score'); }",
                    timeout=30_000,
                )
                board = _leaderboard(page)
                assert "owl" in board and "fox" in board and re.search(r"\d+\.\d%", board)
            owl.screenshot(path=str(artifacts / "challenge-private.png"), full_page=True)
        finally:
            for page in pages:
                page.context.close()

    # No digit picture the Train page showed (the training gallery, the mistakes) is a held-out digit: each is
    # one of the shown digits (JPEG's noise leaves well under a level on average), and none is within 2 levels
    # on average of a held-out one (two different digits differ by 5 or more).
    held = load_held_out("sample").x
    shown = load_source("sample")
    shown_digits = np.concatenate([shown.x_train, shown.x_test])
    assert len(pictures) >= 10, "the Train page showed no digit pictures to check"
    for picture in pictures:
        assert _nearest(picture, shown_digits) < 1.0
        assert _nearest(picture, held) > 2.0


def test_the_challenge_pages_exist_in_the_apps_navigation():
    app = (Path(__file__).resolve().parents[2] / "streamlit_app.py").read_text()
    assert 'url_path="runs"' in app and 'url_path="challenge"' in app
