"""Keep Keras' state across script runs: Streamlit's cleanup after every run wipes it in every thread.

After each script run Streamlit calls ``keras.backend.clear_session()`` whenever
Keras is imported (``_clean_problem_modules`` in
``streamlit.runtime.scriptrunner.script_runner``), a cleanup meant for Keras 2's
one global graph. In Keras 3 that call replaces the thread-local state of
*every* thread, so any rerun, by any student, could pull the state from under a
training in a background thread (the gradient probe lost its stateless scope
mid-call: a gradient came back None and the training failed, in about one of 16
runs of the test that caught it) or under a prediction in another session. Nothing in the lab
needs Keras' session cleared between script runs, so the server keeps
Streamlit's other cleanup (matplotlib's figures) and leaves Keras alone.
"""

from __future__ import annotations

import sys


def clean_all_but_keras() -> None:
    """Streamlit's after-run cleanup without the Keras part: close matplotlib's figures, if it is imported."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def keep_keras_session() -> None:
    """Stop Streamlit from clearing Keras' session after each script run (this process, from now on).

    Idempotent; does nothing on a Streamlit without that cleanup.
    """
    from streamlit.runtime.scriptrunner import script_runner

    # Looked up by name at the end of every run, so replacing it here takes effect at the next run's end.
    if getattr(script_runner, "_clean_problem_modules", None) is not None:
        script_runner._clean_problem_modules = clean_all_but_keras  # noqa: SLF001 - no public switch exists
