"""A student's nickname: picked once per browser session, credited with the runs that session trains.

No accounts and no personal data: a nickname lives in session state only, and is checked by
``lab.runs.credits.check_nickname`` (short, letters and digits, no markup). The sidebar of every
page offers it (``nickname_sidebar``, from ``streamlit_app.py``); a page that needs one (the class
challenge) asks with ``nickname_form``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from lab.runs.credits import NICKNAME_MAX, check_nickname
from ui.app.text import plain

NICKNAME_KEY = "nickname"  # session state: this session's checked nickname, once picked
_ERROR_KEY = "_nickname_error"  # session state: why the last nickname typed was refused
NICKNAME_HELP = (
    "Shown beside the runs you train (Runs page) and your entries in a class challenge. No real names: "
    f"up to {NICKNAME_MAX} letters, digits, spaces, '_', '.' or '-'. Picked once for this browser session."
)


def nickname() -> str:
    """This session's nickname, or "" before one is picked."""
    return str(st.session_state.get(NICKNAME_KEY, ""))


def _pick(input_key: str) -> None:
    try:
        st.session_state[NICKNAME_KEY] = check_nickname(st.session_state.get(input_key, ""))
        st.session_state.pop(_ERROR_KEY, None)
    except ValueError as exc:
        st.session_state[_ERROR_KEY] = str(exc)


def nickname_form(where: Any = None, key: str = "nickname_input") -> str:
    """This session's nickname, or a field to pick one (Enter picks it); returns the nickname or ""."""
    where = where if where is not None else st.container()
    name = nickname()
    if name:
        where.caption(f"Your nickname: **{plain(name)}** (your runs are credited to it).")
        return name
    where.text_input(
        "Your nickname",
        key=key,
        on_change=_pick,
        args=(key,),
        max_chars=NICKNAME_MAX,
        help=NICKNAME_HELP,
        placeholder="e.g. owl-7",
    )
    if error := st.session_state.get(_ERROR_KEY):
        where.error(error)
    return ""


def nickname_sidebar() -> str:
    """The sidebar's nickname field (every page, from ``streamlit_app.py``); returns the nickname or ""."""
    return nickname_form(st.sidebar, key="nickname_sidebar")
