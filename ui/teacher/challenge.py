"""The teacher's controls of the class challenge: open one (title, data, limits, end time), then close it,
reveal its private scores, and hide an entry. The rules and the board are ``lab.challenge``'s."""

from __future__ import annotations

import datetime as dt
import time

import streamlit as st

from lab.challenge.rules import DEFAULT_MAX_EPOCHS, DEFAULT_MAX_PARAMS, Challenge
from lab.data.sources import SOURCES, is_cached
from ui.app.state import get_board
from ui.app.text import plain

CHALLENGE_DATA = ("sample", "mnist")  # the sources that hold digits out (lab.data.sources.HELD_OUT)
DEFAULT_MINUTES = 45


def challenge_section() -> None:
    """The latest challenge's state and controls, then the form that opens a new one."""
    st.subheader("Class challenge")
    board = get_board()
    challenge = board.latest()
    if challenge is not None:
        _current(challenge)
    with st.expander(
        "Open a new challenge" if challenge is not None else "Open a challenge", expanded=challenge is None
    ):
        _open_form()


def _current(challenge: Challenge) -> None:
    board = get_board()
    ends = dt.datetime.fromtimestamp(challenge.ends).strftime("%H:%M")
    state = "revealed" if challenge.revealed else "closed" if not challenge.accepting() else f"open until {ends}"
    st.markdown(f"**{plain(challenge.title)}** · {state} · {plain(challenge.limits_text())}")
    cols = st.columns(2)
    if cols[0].button("Close", key="challenge_close", disabled=not challenge.accepting(),
                      help="No more entries; the public leaderboard stays."):  # fmt: skip
        board.close(challenge.challenge_id)
        st.rerun()
    if cols[1].button("Reveal the private scores", key="challenge_reveal", disabled=challenge.revealed,
                      help="Everyone sees the private half's scores (and it takes no more entries)."):  # fmt: skip
        board.reveal(challenge.challenge_id)
        st.rerun()
    entries = board.entries(challenge.challenge_id, include_hidden=True)
    if not entries:
        st.caption("No entries yet.")
    for entry in entries:
        line, button = st.columns([5, 1])
        hidden = " · **hidden**" if entry.hidden else ""
        line.markdown(
            f"{plain(entry.nickname)} · public {entry.public:.1%} · private {entry.private:.1%} · "
            f"{plain(entry.spec.summary())}{hidden}"
        )
        label = "Show" if entry.hidden else "Hide"
        if button.button(
            label, key=f"challenge_hide_{entry.entry_id}", help="Hide it from the leaderboard (or show it)."
        ):
            board.hide(entry.entry_id, hidden=not entry.hidden)
            st.rerun()


def _open_form() -> None:
    options = [name for name in CHALLENGE_DATA if is_cached(name)]
    with st.form("challenge_open"):
        title = st.text_input("Title", key="challenge_title", max_chars=80, placeholder="e.g. Best net under 100k")
        data = st.selectbox("Data", options, format_func=lambda name: SOURCES[name], key="challenge_data")
        cols = st.columns(3)
        max_params = cols[0].number_input("At most parameters", 100, 10_000_000, DEFAULT_MAX_PARAMS, step=10_000,
                                          key="challenge_max_params")  # fmt: skip
        max_epochs = cols[1].number_input("At most epochs", 1, 200, DEFAULT_MAX_EPOCHS, key="challenge_max_epochs")
        minutes = cols[2].number_input("Ends in (minutes)", 1, 7 * 24 * 60, DEFAULT_MINUTES, key="challenge_minutes")
        opened = st.form_submit_button("Open the challenge", type="primary")
    if opened:
        try:
            get_board().open(title, data, int(max_params), int(max_epochs), ends=time.time() + 60 * int(minutes))
        except ValueError as exc:
            st.error(plain(exc))
            return
        st.toast("Challenge opened: students enter runs on the Challenge page.")
        st.rerun()
