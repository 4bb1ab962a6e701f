"""The teacher's panel in a real browser: locked for a link, and with the passphrase it lists and cancels
a training another browser (a student) is running."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import serve_app

PASSPHRASE = "teach the room 42"
# Long enough to be caught running (150 epochs, under the 200 limit); the Cancel ends it after an epoch.
STUDENT_LINK = "train?hidden=32&epochs=150&batch_size=64&seed=21"


@pytest.mark.browser
@pytest.mark.slow
def test_the_panel_is_locked_without_the_passphrase_and_with_it_cancels_a_students_training(
    _browser, tmp_path, artifacts
):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'MLP_LAB_TEACHER_PASSPHRASE = "{PASSPHRASE}"\n')
    with serve_app(tmp_path / "runs", tmp_path, ["--secrets.files", str(secrets)]) as url:
        student = _browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        teacher = _browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        for page in (student, teacher):
            page.set_default_timeout(30_000)
        try:
            # A student starts a long training.
            student.goto(f"{url}/{STUDENT_LINK}")
            student.get_by_role("heading", name=re.compile("Train a network")).wait_for(timeout=90_000)
            student.get_by_role("button", name="Train", exact=True).click()
            student.get_by_text(re.compile(r"Epoch \d+/150")).first.wait_for(timeout=120_000)

            # A link cannot open the panel: only the passphrase field shows.
            teacher.goto(f"{url}/teacher?teacher_unlocked=true&unlocked=1")
            teacher.get_by_role("heading", name=re.compile("Teacher's panel")).wait_for(timeout=90_000)
            teacher.get_by_label("Passphrase", exact=True).wait_for()
            assert teacher.get_by_text("Trainings on this server").count() == 0
            assert teacher.get_by_role("button", name="Cancel").count() == 0

            teacher.get_by_label("Passphrase", exact=True).fill("not it at all")
            teacher.get_by_role("button", name="Unlock").click()
            teacher.get_by_text("That is not the passphrase").wait_for()
            assert teacher.get_by_text("Trainings on this server").count() == 0

            teacher.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
            teacher.get_by_role("button", name="Unlock").click()
            teacher.get_by_text("Trainings on this server").wait_for()
            row = teacher.get_by_text(re.compile(r"running: epoch \d+/150"))
            row.first.wait_for()
            assert PASSPHRASE not in teacher.url
            teacher.screenshot(path=str(artifacts / "teacher-panel.png"), full_page=True)
            teacher.get_by_role("button", name="Cancel").first.click()

            # The student's page ends on what was learned, stopped by the teacher.
            stopped = student.get_by_text(re.compile("Stopped by the teacher after \\d+ of 150 epochs"))
            try:
                stopped.wait_for(timeout=60_000)
            except PlaywrightTimeoutError:
                student.screenshot(path=str(artifacts / "teacher-student-not-stopped.png"), full_page=True)
                body = student.inner_text("body")[-3000:]
                pytest.fail(f"the student's page never said it was stopped; it reads:\n{body}")
            student.get_by_text("Test accuracy").first.wait_for()
            # The list follows by itself: no Refresh to press.
            assert teacher.get_by_role("button", name="Refresh").count() == 0
            teacher.get_by_text("Nothing is training or waiting.").wait_for(timeout=30_000)

            # A reload keeps the unlock: a signed, expiring token in a cookie, not the passphrase, not in the URL.
            cookies = {c["name"]: c["value"] for c in teacher.context.cookies()}
            token = cookies.get("mlp_lab_teacher", "")
            assert re.fullmatch(r"\d+\.[0-9a-f]{64}", token), cookies
            assert PASSPHRASE not in str(cookies) and token not in teacher.url
            teacher.reload()
            teacher.get_by_text("Trainings on this server").wait_for(timeout=90_000)
            assert teacher.get_by_label("Passphrase", exact=True).count() == 0
            # Lock forgets it: the next reload asks for the passphrase again.
            teacher.get_by_role("button", name="Lock the panel").click()
            teacher.get_by_label("Passphrase", exact=True).wait_for()
            teacher.wait_for_timeout(1500)  # the cookie is erased by the page run after Lock
            teacher.reload()
            teacher.get_by_label("Passphrase", exact=True).wait_for(timeout=90_000)
            assert teacher.get_by_text("Trainings on this server").count() == 0
            # A forged token (a later expiry, the signature kept) unlocks nothing.
            expiry, signature = token.split(".")
            forged = {"name": "mlp_lab_teacher", "value": f"{int(expiry) + 86400}.{signature}", "url": url}
            teacher.context.add_cookies([forged])
            teacher.reload()
            teacher.get_by_label("Passphrase", exact=True).wait_for(timeout=90_000)
        finally:
            student.context.close()
            teacher.context.close()
