"""Whether this browser session is the teacher's: the server's passphrase, and the unlock kept in session state.

Every page may ask (a lesson link maker shows only for the teacher); the panel itself,
which unlocks and uses it, is ``ui.teacher``. Unlocking lives in this session's state
only, never in a URL.
"""

from __future__ import annotations

import streamlit as st

from lab.runs.classroom import PASSPHRASE_KEY

UNLOCKED_KEY = "teacher_unlocked"  # session state only: a link can never unlock the panel


def server_passphrase() -> str:
    """The passphrase in the server's secrets (``MLP_LAB_TEACHER_PASSPHRASE``), or "" when none is set."""
    try:
        return str(st.secrets.get(PASSPHRASE_KEY, "") or "")
    except Exception:  # noqa: BLE001 - no secrets file, or one that cannot be read: no passphrase
        return ""


def unlocked() -> bool:
    """Whether this browser session unlocked the panel."""
    return bool(st.session_state.get(UNLOCKED_KEY))
