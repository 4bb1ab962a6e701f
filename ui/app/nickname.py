"""A student's nickname: picked once per browser session, credited with the runs that session trains.

No accounts and no personal data: a nickname lives in session state only, and is checked by
``lab.runs.credits.check_nickname`` (short, letters and digits, no markup). The sidebar of every
page offers it (``nickname_sidebar``, from ``streamlit_app.py``); a page that needs one (the class
challenge) sends the student there.
"""

from __future__ import annotations

import streamlit as st

from lab.runs.credits import NICKNAME_MAX, check_nickname
from ui.app.text import plain

NICKNAME_KEY = "nickname"  # session state: this session's checked nickname, once picked
_INPUT_KEY = "nickname_sidebar"  # the field's own state (what was typed)
_ERROR_KEY = "_nickname_error"  # session state: why the last nickname typed was refused
NICKNAME_HELP = (
    "Shown beside the runs you train (Runs page) and your entries in a class challenge. No real names: "
    f"up to {NICKNAME_MAX} letters, digits, spaces, '_', '.' or '-'. Picked once for this browser session."
)


def nickname() -> str:
    """This session's nickname, or "" before one is picked."""
    return str(st.session_state.get(NICKNAME_KEY, ""))


def _pick() -> None:
    try:
        st.session_state[NICKNAME_KEY] = check_nickname(st.session_state.get(_INPUT_KEY, ""))
        st.session_state.pop(_ERROR_KEY, None)
    except ValueError as exc:
        st.session_state[_ERROR_KEY] = str(exc)


def nickname_sidebar() -> str:
    """The sidebar's nickname field (every page, from ``streamlit_app.py``; Enter picks it); the nickname or ""."""
    name = nickname()
    if name:
        st.sidebar.caption(f"Your nickname: **{plain(name)}** (your runs are credited to it).")
        return name
    st.sidebar.text_input(
        "Your nickname",
        key=_INPUT_KEY,
        on_change=_pick,
        max_chars=NICKNAME_MAX,
        help=NICKNAME_HELP,
        placeholder="e.g. owl-7",
    )
    if error := st.session_state.get(_ERROR_KEY):
        st.sidebar.error(error)
    return ""
