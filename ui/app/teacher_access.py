"""Whether this browser session is the teacher's: the server's passphrase, the unlock in session state, and a
signed, expiring token in a cookie of the teacher's browser that keeps it across reloads.

Every page may ask (a lesson link maker shows only for the teacher); the panel itself,
which unlocks and uses it, is ``ui.teacher``. Unlocking never lives in a URL. The cookie
holds a token (``lab.runs.teacher_token``: an expiry and its HMAC under a key derived from
the passphrase), never the passphrase; a tiny component writes it (Streamlit reads cookies,
``st.context.cookies``, but writes none), and Lock erases it. One ``PassphraseGuard`` serves
every session of the server, so wrong tries are limited server-wide. Streamlit copies the
secrets into ``os.environ`` when it reads them; ``keep_secrets_out_of_environ`` takes them
out again, so that no process the server starts (an embedded Ray's workers) inherits the
passphrase.
"""

from __future__ import annotations

import os

import streamlit as st

from lab.runs.classroom import PassphraseGuard
from lab.runs.private_env import PASSPHRASE_KEY, forget_private_env
from lab.runs.teacher_token import TOKEN_SECONDS, make_token, token_valid

UNLOCKED_KEY = "teacher_unlocked"  # session state only: a link can never unlock the panel
COOKIE_NAME = "mlp_lab_teacher"
_COOKIE_WRITE_KEY = "_teacher_cookie_write"  # session state: (value, seconds) the next page run writes
_LOCKED_HERE_KEY = "_teacher_locked_here"  # session state: Lock was pressed; the cookie this session began with is void
# Writes one cookie of this site, as it is told: no network, nothing read back. SameSite=Strict: never sent by
# another site's link; Secure where the page is served over HTTPS.
_COOKIE_JS = """
export default function ({ data }) {
  if (!data || !data.name) return;
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${data.name}=${data.value}; Max-Age=${data.seconds}; Path=/; SameSite=Strict${secure}`;
}
"""
_cookie_writer = st.components.v2.component("mlp_lab_teacher_cookie", js=_COOKIE_JS)
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


def browser_token() -> str | None:
    """The token cookie this browser sent when the session began, if any."""
    try:
        value = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser behind this run (a bare script): no cookie
        return None
    return value if isinstance(value, str) else None  # AppTest's context holds no real cookies


def unlocked() -> bool:
    """Whether this browser session unlocked the panel, now or with a token still valid from before a reload."""
    if st.session_state.get(UNLOCKED_KEY):
        return True
    if st.session_state.get(_LOCKED_HERE_KEY) or not token_valid(browser_token(), server_passphrase()):
        return False
    st.session_state[UNLOCKED_KEY] = True
    return True


def unlock() -> None:
    """Unlock the panel for this session, and keep a token in this browser for ``TOKEN_SECONDS``."""
    st.session_state[UNLOCKED_KEY] = True
    st.session_state.pop(_LOCKED_HERE_KEY, None)
    st.session_state[_COOKIE_WRITE_KEY] = (make_token(server_passphrase()), TOKEN_SECONDS)


def lock() -> None:
    """Lock the panel in this session and erase the browser's token."""
    st.session_state.pop(UNLOCKED_KEY, None)
    st.session_state[_LOCKED_HERE_KEY] = True
    st.session_state[_COOKIE_WRITE_KEY] = ("", 0)


def write_cookie() -> None:
    """Write (or erase) the token cookie that ``unlock`` or ``lock`` asked for; the page calls it on every run."""
    pending = st.session_state.pop(_COOKIE_WRITE_KEY, None)
    if pending is not None:
        value, seconds = pending
        _cookie_writer(data={"name": COOKIE_NAME, "value": value, "seconds": seconds}, key="teacher_cookie")
