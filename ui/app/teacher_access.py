"""Whether this browser session is the teacher's: the server's passphrase, and the unlock kept in session state.

Every page may ask (a lesson link maker shows only for the teacher); the panel itself,
which unlocks and uses it, is ``ui.teacher``. Unlocking lives in this session's state
only, never in a URL. One ``PassphraseGuard`` serves every session of the server, so
wrong tries are limited server-wide. Streamlit copies the secrets into ``os.environ``
when it reads them; ``keep_secrets_out_of_environ`` takes them out again, so that no
process the server starts (an embedded Ray's workers) inherits the passphrase.
"""

from __future__ import annotations

import os

import streamlit as st

from lab.runs.classroom import PassphraseGuard
from lab.runs.private_env import PASSPHRASE_KEY, forget_private_env

UNLOCKED_KEY = "teacher_unlocked"  # session state only: a link can never unlock the panel
# Secrets the lab reads from the environment itself (the run store's folder, the warm-up, the limits):
# left where Streamlit put them. Every other secret, and the passphrase always, is taken out.
_LAB_SETTING_PREFIX = "MLP_LAB_"


def server_passphrase() -> str:
    """The passphrase in the server's secrets (``MLP_LAB_TEACHER_PASSPHRASE``), or "" when none is set."""
    try:
        return str(st.secrets.get(PASSPHRASE_KEY, "") or "")
    except Exception:  # noqa: BLE001 - no secrets file, or one that cannot be read: no passphrase
        return ""
    finally:
        keep_secrets_out_of_environ()  # reading the secrets may just have copied them into os.environ


def keep_secrets_out_of_environ() -> list[str]:
    """Take out of ``os.environ`` what Streamlit copied there from the secrets; returns the names taken out.

    The passphrase always goes (``lab.runs.private_env``); so does every other top-level
    secret Streamlit copied (same name, same value), except the lab's own ``MLP_LAB_*``
    settings, which the lab reads from the environment.
    """
    copied: list[str] = []
    try:
        if st.secrets.load_if_toml_exists():
            copied = [
                key
                for key, value in st.secrets.to_dict().items()
                if type(value) in (str, int, float)
                and not key.startswith(_LAB_SETTING_PREFIX)
                and os.environ.get(key) == str(value)
            ]
    except Exception:  # noqa: BLE001 - a secrets file that cannot be read copied nothing; the passphrase still goes
        copied = []
    return forget_private_env(copied)


@st.cache_resource
def passphrase_guard() -> PassphraseGuard:
    """The server's one passphrase check, shared by every session (wrong tries counted server-wide)."""
    return PassphraseGuard()


def unlocked() -> bool:
    """Whether this browser session unlocked the panel."""
    return bool(st.session_state.get(UNLOCKED_KEY))
