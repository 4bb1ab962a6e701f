"""The teacher's side of a class server: the passphrase, the trainings of every session, a series pretrained.

Pure Python, for the teacher's panel (``pages/teacher.py``). The passphrase lives
in the server's ``.streamlit/secrets.toml`` under ``MLP_LAB_TEACHER_PASSPHRASE``
and is compared in constant time, by one ``PassphraseGuard`` for the whole server
that allows only so many wrong tries a minute; it never travels in a URL, is never
logged and never reaches a worker's environment (``lab.runs.private_env``).
Trainings are listed by what they train, never by who asked for them.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lab.runs.jobs import Job, JobManager, Listed
from lab.runs.private_env import PASSPHRASE_KEY
from lab.runs.scheduler import Scheduler
from lab.spec import ExperimentSpec

MIN_PASSPHRASE_LENGTH = 8  # a shorter one is refused: every student can try passphrases on the panel
# Wrong passphrases the whole server accepts in any WRONG_TRIES_WINDOW seconds, all sessions together:
# a session that opens new sessions (a script, many tabs) gains nothing by it.
MAX_WRONG_TRIES = 10
WRONG_TRIES_WINDOW = 60.0


def passphrase_problem(expected: str) -> str:
    """Why the server's passphrase cannot unlock the panel ("" when it can)."""
    if not expected:
        return f"No passphrase is set: add {PASSPHRASE_KEY} = \"...\" to the server's .streamlit/secrets.toml."
    if len(expected) < MIN_PASSPHRASE_LENGTH:
        return f"The passphrase in .streamlit/secrets.toml is too short: use {MIN_PASSPHRASE_LENGTH} characters or more."
    return ""


def passphrase_matches(given: str, expected: str) -> bool:
    """Whether ``given`` is the server's passphrase, compared in constant time; never with an unusable one."""
    if passphrase_problem(expected):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class UnlockAttempt:
    """What one try at the passphrase gave.

    Attributes
    ----------
    unlocked : bool
        The passphrase was right.
    wait_seconds : float
        Above 0: the try was refused unchecked (too many wrong tries on this server); try again after this long.
    """

    unlocked: bool
    wait_seconds: float = 0.0

    def message(self) -> str:
        """What the person at the passphrase field reads ("" when it unlocked)."""
        if self.unlocked:
            return ""
        if self.wait_seconds > 0:
            return (
                f"Too many wrong passphrases on this server in the last minute: wait {math.ceil(self.wait_seconds)} s "
                "and try again."
            )
        return "That is not the passphrase: check the server's .streamlit/secrets.toml and try again."


class PassphraseGuard:
    """The passphrase check for the whole server: at most ``max_wrong`` wrong tries in any ``window`` seconds.

    One object per server process (the app keeps it in ``st.cache_resource``), shared by
    every session, so that opening more sessions buys no more guesses. Past the limit,
    every try (the right passphrase too) is refused without being compared, until the
    oldest wrong try in the window is ``window`` seconds old. Thread-safe.

    Parameters
    ----------
    max_wrong : int
        Wrong tries allowed in any ``window`` seconds.
    window : float
        The window, in seconds.
    clock : callable
        Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        max_wrong: int = MAX_WRONG_TRIES,
        window: float = WRONG_TRIES_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_wrong = max_wrong
        self.window = window
        self._clock = clock
        self._wrong: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_seconds(self) -> float:
        """How long until the next try is checked (0: now)."""
        with self._lock:
            return self._wait(self._clock())

    def _wait(self, now: float) -> float:
        while self._wrong and now - self._wrong[0] >= self.window:
            self._wrong.popleft()
        return self._wrong[0] + self.window - now if len(self._wrong) >= self.max_wrong else 0.0

    def try_unlock(self, given: str, expected: str) -> UnlockAttempt:
        """Check ``given`` against ``expected`` (constant time), unless the server saw too many wrong tries."""
        with self._lock:  # the check and the count together: two sessions cannot both slip under the limit
            now = self._clock()
            wait = self._wait(now)
            if wait > 0:
                return UnlockAttempt(False, wait)
            if passphrase_matches(given, expected):
                return UnlockAttempt(True)
            self._wrong.append(now)
            return UnlockAttempt(False)


@dataclass(frozen=True)
class JobRow:
    """One training of any session, as the teacher's panel lists it (no personal data).

    Attributes
    ----------
    run_id : str
        The run it trains (what Cancel names).
    setup : str
        The spec's summary.
    state : str
        ``running`` or ``queued``.
    progress : str
        ``epoch 3/10`` while running, ``place 2 in line`` while queued.
    waited : str
        How long ago it was asked for.
    cancelled : bool
        Cancel was pressed (it ends within a second).
    """

    run_id: str
    setup: str
    state: str
    progress: str
    waited: str
    cancelled: bool


def job_rows(jobs: Sequence[Job], now: float | None = None) -> list[JobRow]:
    """The panel's rows for queued and running jobs, running ones first."""
    now = time.time() if now is None else now
    rows = []
    for job in sorted(jobs, key=lambda j: (j.state != "running", j.submitted)):
        if job.state == "running" and job.report is not None:
            progress = f"epoch {min(job.report.epoch + 1, job.report.epochs)}/{job.report.epochs}"
        elif job.state == "running":
            progress = "starting"
        else:
            progress = f"place {job.place} in line" if job.place else "waiting"
        minutes, seconds = divmod(int(now - job.submitted), 60)
        rows.append(
            JobRow(job.run_id, job.spec.summary(), job.state, progress, f"{minutes} min {seconds:02d} s", job.cancelled)
        )
    return rows


def listed_rows(items: Sequence[Listed], now: float | None = None) -> list[JobRow]:
    """The panel's rows for searches going on (``JobManager.listed``): what each does, never who started it.

    ``run_id`` holds the search's key, which the panel's Cancel hands to ``JobManager.stop_listed``.
    """
    now = time.time() if now is None else now
    rows = []
    for item in items:
        stopping = item.job.stop_requested
        progress = f"{item.kind}, stopping" if stopping else item.kind
        rows.append(JobRow(item.key, item.label, "running", progress, _wait_text(now, item.submitted), stopping))
    return rows


def _wait_text(now: float, submitted: float) -> str:
    minutes, seconds = divmod(int(now - submitted), 60)
    return f"{minutes} min {seconds:02d} s"


def pretrain_in_background(jobs: JobManager, specs: Sequence[ExperimentSpec]) -> threading.Thread:
    """Train ``specs`` one after another (those not stored yet), each a job the panel lists and can cancel.

    One at a time, so a series never fills the line ahead of the class at once;
    the teacher's jobs count against no session's limit. A spec refused by the
    limits or a failed (or cancelled) training is skipped; the rest go on
    (``lab.runs.scheduler``).
    """
    scheduler = Scheduler(specs, jobs, since=time.time(), at_once=1)
    thread = threading.Thread(target=scheduler.run, name="teacher-pretrain", daemon=True)
    thread.start()
    return thread
