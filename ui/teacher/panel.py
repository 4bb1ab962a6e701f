"""The teacher's panel: locked by the server's passphrase; the trainings of every session, a series to
pretrain, runs to delete and the limits as they stand.

Widgets only: the passphrase check, the job rows and the pretraining live in
``lab.runs.classroom``. Unlocking is kept in this session's state and, across reloads, as a signed,
expiring token in a cookie of the teacher's browser (``ui.app.teacher_access``), never in the URL;
the passphrase field is cleared on submit and never logged. The trainings list refreshes by itself.
"""

from __future__ import annotations

import time

import streamlit as st

from lab.catalog.presets import SERIES, list_presets
from lab.runs.classroom import job_rows, passphrase_matches, passphrase_problem, pretrain_in_background
from ui.app.state import get_jobs, get_limits, get_store
from ui.app.teacher_access import lock, server_passphrase, unlock

WRONG_PASSPHRASE_PAUSE = 1.0  # seconds a wrong passphrase costs, so that guessing is slow
REFRESH_SECONDS = 2.0  # the trainings list redraws itself this often: a teacher never presses Refresh


def unlock_form() -> None:
    """The passphrase field; a right one unlocks the panel for this session."""
    problem = passphrase_problem(server_passphrase())
    if problem:
        st.warning(f"The teacher's panel is locked on this server. {problem} Then restart the app.")
        return
    with st.form("teacher_unlock", clear_on_submit=True):
        given = st.text_input("Passphrase", type="password", key="teacher_passphrase",
                              help="The one in the server's .streamlit/secrets.toml.")  # fmt: skip
        submitted = st.form_submit_button("Unlock", type="primary")
    if submitted:
        if passphrase_matches(given, server_passphrase()):
            unlock()
            st.rerun()
        time.sleep(WRONG_PASSPHRASE_PAUSE)
        st.error("That is not the passphrase: check the server's .streamlit/secrets.toml and try again.")


@st.fragment(run_every=REFRESH_SECONDS)
def trainings_section() -> None:
    """Every session's queued and running trainings, each with a Cancel button; redrawn every few seconds."""
    st.subheader("Trainings on this server")
    jobs = get_jobs()
    rows = job_rows(jobs.active())
    if not rows:
        st.caption("Nothing is training or waiting.")
    for row in rows:
        c1, c2, c3, c4 = st.columns([5, 2, 2, 1.4])
        c1.markdown(f"{'▶' if row.state == 'running' else '⏳'} **{row.setup}**  \n`{row.run_id}`")
        c2.markdown(f"{row.state}: {row.progress}")
        c3.caption(f"asked for {row.waited} ago")
        if row.cancelled:
            c4.caption("cancelling ...")
        elif c4.button("Cancel", key=f"cancel-{row.run_id}", help="A queued training never starts; a running "
                       "one stops after this epoch and keeps what it learned."):  # fmt: skip
            jobs.cancel(row.run_id)
            st.rerun()
    st.caption(f"This list updates itself every {REFRESH_SECONDS:g} s.")


def pretrain_section() -> None:
    """Pretrain a series for the class, one run after another."""
    st.subheader("Pretrain a series")
    c1, c2, c3 = st.columns([1, 2, 1])
    key = c1.selectbox("Series", list(SERIES), format_func=lambda k: f"Series {k}", key="teacher_series")
    quick = c2.toggle("Quick mode (the lesson in minutes)", value=True, key="teacher_quick")
    presets = [p.quick() if quick else p for p in list_presets(key)]
    specs = [spec for preset in presets for spec in preset.member_specs()]
    todo = [spec for spec in specs if spec not in get_store()]
    if c3.button("Pretrain", key="teacher_pretrain", disabled=not todo, type="primary"):
        pretrain_in_background(get_jobs(), todo)
        st.rerun()
    st.caption(
        f"{SERIES[key].title}: {len(specs)} runs, {len(todo)} not stored yet. They train one after another, "
        "listed above."
    )


def delete_section() -> None:
    """Delete runs from the store, after a confirmation."""
    st.subheader("Delete runs")
    store = get_store()
    infos = {info.run_id: info for info in store.list()}
    chosen = st.multiselect("Runs", list(infos), format_func=lambda r: infos[r].label(), key="teacher_delete_runs")
    sure = st.checkbox(f"Yes, delete {len(chosen)} run(s) for everyone on this server", key="teacher_delete_sure",
                       disabled=not chosen)  # fmt: skip
    if st.button("Delete", key="teacher_delete", disabled=not (chosen and sure)):
        deleted = sum(store.delete(run_id) for run_id in chosen)
        st.session_state.pop("teacher_delete_runs", None)
        st.session_state.pop("teacher_delete_sure", None)
        st.toast(f"Deleted {deleted} run(s).")
        st.rerun()


def limits_section() -> None:
    """The server's limits as they stand, with the setting that changes each."""
    st.subheader("This server's limits")
    rows = [{"Limit": name, "Value": value, "Setting": setting} for name, value, setting in get_limits().rows()]
    st.table(rows)
    st.caption("Set in the environment or .streamlit/secrets.toml (0 lifts a limit); read when the server starts.")


def lock_button() -> None:
    """Lock the panel again in this browser."""
    if st.button("Lock the panel", key="teacher_lock", icon=":material/lock:"):
        lock()
        st.rerun()
