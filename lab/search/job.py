"""A search in a background thread, so that a page can show its table while it runs and stop it.

Pure Python. A ``SearchJob`` is followed and stopped as a training's job is
(``lab.runs.jobs.BackgroundJob``: ``state``, ``finished``, ``latest``, ``request_stop``,
``stop_requested``, ``wait``, ``error``): the Tune page keeps one per session and
follows it with the pages' one follow loop (``ui.app.jobs.follow``). ``request_stop()``
ends every trial within a second (each is stored as stopped) and the search then ends as usual.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lab.search.runner import SearchResult, TrialRow, run_search


@dataclass
class SearchJob:
    """One search running (or run) in a thread of this process; a ``lab.runs.jobs.BackgroundJob``.

    Parameters
    ----------
    options : dict
        Keyword arguments of :func:`lab.search.runner.run_search` (``base``, ``space``,
        ``trials``, ``epochs`` ...), except ``on_update`` and ``should_stop``.

    Attributes
    ----------
    latest : list of TrialRow
        The trials as last reported: a new list at each report, never changed after (the page may keep it).
    result : SearchResult | None
        Set when the search ended well.
    error : str
        The message when it failed.
    """

    options: dict[str, Any]
    latest: list[TrialRow] = field(default_factory=list)
    result: SearchResult | None = None
    error: str = ""
    started: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> SearchJob:
        """Start the search in a daemon thread; returns the job."""
        self._thread = threading.Thread(target=self._work, name="mlp-lab-search", daemon=True)
        self._thread.start()
        return self

    def _work(self) -> None:
        try:
            result = run_search(**self.options, on_update=self._update, should_stop=self._stop.is_set)
            with self._lock:
                self.result, self.latest = result, copy.deepcopy(result.trials)
        except Exception as exc:  # noqa: BLE001 - shown on the page in words, never raised in a thread
            self.error = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"

    def _update(self, rows: list[TrialRow]) -> None:
        snapshot = copy.deepcopy(rows)  # the search keeps changing its rows while the page draws these
        with self._lock:
            self.latest = snapshot

    @property
    def state(self) -> str:
        """``running`` until the search ends, then ``done`` or ``failed`` (a search is never queued)."""
        if self.error:
            return "failed"
        return "done" if self.result is not None else "running"

    @property
    def finished(self) -> bool:
        """Whether the search ended (with a result or an error)."""
        return self.result is not None or bool(self.error)

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop.is_set()

    def request_stop(self, by: str | None = None) -> None:
        """End every trial (each is stored as stopped); the search then ends.

        ``by`` is ignored: a search belongs to the one session that started it (the Tune page
        follows only its own), and the teacher's Cancel stops it too.
        """
        self._stop.set()

    def wanted_by(self, session: str) -> bool:
        """A search is followed only by the session that started it: always its own."""
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the search to end; returns whether it did."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished
