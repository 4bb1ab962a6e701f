"""Warm up a server in the background: import TensorFlow and prepare the default data before the first Train.

Importing TensorFlow takes 3-4 s and reading and preparing the offline sample a
few hundred milliseconds more. A server that does both in a daemon thread as
soon as it starts (``streamlit_app.py`` calls :func:`start_warm_up`) trains the
first press of Train at once; pages that never train (Home) never wait for it.
Set ``MLP_LAB_WARM_UP=0`` to switch it off (a server that only shows stored runs).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from lab.spec import ExperimentSpec

WARM_UP_ENV = "MLP_LAB_WARM_UP"
THREAD_NAME = "mlp-lab-warm-up"


@dataclass(frozen=True)
class WarmUp:
    """What a warm-up did and how long it took.

    Attributes
    ----------
    import_seconds : float
        Importing the trainer, TensorFlow and Keras included (0 when already imported).
    data_seconds : float
        Reading and preparing the default spec's data.
    error : str
        Why the data could not be prepared (the first training will say so too), else empty.
    """

    import_seconds: float
    data_seconds: float
    error: str = ""


_lock = threading.Lock()
_thread: threading.Thread | None = None
_done: WarmUp | None = None


def warm_up(spec: ExperimentSpec | None = None) -> WarmUp:
    """Import the trainer (TensorFlow, Keras) and prepare ``spec``'s data (default: the default spec), now.

    Both are kept by the process: the trainer's modules in ``sys.modules``, the
    arrays in ``lab.data.prepare``'s cache, so the next ``train`` skips them.
    """
    start = time.perf_counter()
    # Imported here, not at the top: importing TensorFlow is the work this function exists to do.
    import lab.nn.trainer  # noqa: F401
    from lab.data.prepare import prepare

    imported = time.perf_counter()
    error = ""
    try:
        prepare(spec or ExperimentSpec())
    except ValueError as exc:  # data that cannot be read: the page that trains it shows the message
        error = str(exc)
    return WarmUp(imported - start, time.perf_counter() - imported, error)


def warm_up_enabled() -> bool:
    """Whether the server warms up at start (``MLP_LAB_WARM_UP`` unset, or anything but ``0``)."""
    return os.environ.get(WARM_UP_ENV, "1").strip() != "0"


def start_warm_up() -> threading.Thread | None:
    """Run :func:`warm_up` in a daemon thread, once per process; None when switched off.

    Calling it again (every script run of the app does) returns the same thread.
    """
    global _thread
    if not warm_up_enabled():
        return None
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm_up_in_background, name=THREAD_NAME, daemon=True)
            _thread.start()
        return _thread


def warm_up_result() -> WarmUp | None:
    """The finished background warm-up of this process, or None while it runs (or never ran)."""
    return _done


def _warm_up_in_background() -> None:
    global _done
    _done = warm_up()
