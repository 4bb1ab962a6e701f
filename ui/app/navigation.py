"""The app's pages, and the one workaround a ``pages/`` folder needs.

Streamlit runs an app whose main script sits next to a folder called ``pages/``
in its old multipage mode until the first ``st.navigation`` call of the
process: a fresh server's first visitor who follows a deep link such as
``/draw`` gets ``pages/draw.py`` run on its own, without ``streamlit_app.py``
(no wide layout, no shared navigation). Streamlit's advice is to rename the
folder (it logs "st.navigation was called in an app with a pages/ directory");
this project keeps ``pages/``, so the first such run goes back through the
app's own navigation. Upstream: https://github.com/streamlit/streamlit/issues/9624
(deep links before the entry point has run) and the ``PagesManager``
comment on ``uses_pages_directory`` in Streamlit's source.
"""

from __future__ import annotations

import streamlit as st

APP_SCRIPT = "streamlit_app.py"


def ensure_app_navigation() -> None:
    """Rerun through ``streamlit_app.py`` when Streamlit ran this page on its own.

    In the old mode Streamlit lists the main script itself among the pages; the
    app's own navigation never does. Ending the old mode (as ``st.navigation``
    does) and rerunning runs the same URL through ``streamlit_app.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    scripts = [str(info.get("script_path", "")) for info in ctx.pages_manager.get_pages().values()]
    if any(path.endswith(APP_SCRIPT) for path in scripts):
        # The old mode's flag is process-wide and only st.navigation clears it: clear it
        # the same way, once, so that this and every later run goes through the app.
        PagesManager.uses_pages_directory = False
        st.rerun()
