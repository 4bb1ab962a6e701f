"""The teacher's panel: locked by the server's passphrase; the trainings of every session, a series to
pretrain, runs to delete (those that cannot be read too), the store's use of the disk and the limits as they stand.

Widgets only: the passphrase check, the job rows and the pretraining live in
``lab.runs.classroom``. Unlocking is kept in this session's state and, across reloads, as a signed,
expiring token in a cookie of the teacher's browser (``ui.app.teacher_access``), never in the URL;
the passphrase field is cleared on submit and never logged. The trainings list refreshes by itself.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from lab.catalog.presets import SERIES, list_presets
from lab.runs.classroom import (
    job_rows,
    listed_rows,
    passphrase_problem,
    pretrain_in_background,
)
from lab.runs.limits import STORE_MB_ENV
from ui.app.state import get_jobs, get_limits, get_store
from ui.app.teacher_access import lock, passphrase_guard, server_passphrase, unlock
from ui.app.text import plain

WRONG_PASSPHRASE_PAUSE = 1.0  # seconds a wrong passphrase costs, so that guessing is slow
MAX_DELETE_CHOICES = 500  # the newest runs offered for deletion (the Runs page filters the whole store)
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
        # Server-wide: every session's wrong tries count against one limit a minute (lab.runs.classroom).
        attempt = passphrase_guard().try_unlock(given, server_passphrase())
        if attempt.unlocked:
            unlock()
            st.rerun()
        if not attempt.wait_seconds:
            time.sleep(WRONG_PASSPHRASE_PAUSE)
        st.error(attempt.message())


@st.fragment(run_every=REFRESH_SECONDS)
def trainings_section() -> None:
    """Every session's queued and running trainings and searches, each with a Cancel button; redrawn every few
    seconds."""
    st.subheader("Trainings on this server")
    jobs = get_jobs()
    rows = job_rows(jobs.active())
    searches = listed_rows(jobs.listed())
    if not rows and not searches:
        st.caption("Nothing is training or waiting.")
    for row in searches:
        cancel = _listed_line(f"🔎 **{row.setup}**", row, f"started {row.waited} ago", f"cancel-search-{row.run_id}",
                              "Ends every trial now; each keeps what it learned.")  # fmt: skip
        if cancel:
            jobs.stop_listed(row.run_id)
            st.rerun()
    for row in rows:
        icon = "▶" if row.state == "running" else "⏳"
        cancel = _listed_line(f"{icon} **{row.setup}**  \n`{row.run_id}`", row, f"asked for {row.waited} ago",
                              f"cancel-{row.run_id}",
                              "A queued training never starts; a running one stops within a second and keeps what "
                              "it learned.")  # fmt: skip
        if cancel:
            jobs.cancel(row.run_id)
            st.rerun()
    st.caption(f"This list updates itself every {REFRESH_SECONDS:g} s.")


def _listed_line(what: str, row: Any, when: str, key: str, help_text: str) -> bool:
    """One training's or search's line: what, its state and progress, since when, and its Cancel button.

    Returns whether Cancel was pressed (a line already cancelling shows "cancelling ..." instead).
    """
    c1, c2, c3, c4 = st.columns([5, 2, 2, 1.4])
    c1.markdown(what)
    c2.markdown(f"{row.state}: {row.progress}")
    c3.caption(when)
    if row.cancelled:
        c4.caption("cancelling ...")
        return False
    return c4.button("Cancel", key=key, help=help_text)


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
    """Delete runs from the store, after a confirmation; runs that cannot be read are listed and deleted alike."""
    st.subheader("Delete runs")
    store = get_store()
    infos = {info.run_id: info.label() for info in store.recent(MAX_DELETE_CHOICES)}
    broken = dict(store.broken())
    # A broken run is offered under its folder's name with why it cannot be read: no page can open it, and
    # only the panel can remove it. Its name and reason come from the disk: shown as plain text only.
    labels = {**infos, **{name: f"{name} · cannot be read: {why}" for name, why in broken.items()}}
    if broken:
        st.warning(
            f"{len(broken)} run folder(s) cannot be read (every page skips them): "
            + "; ".join(plain(f"{name} ({why})") for name, why in sorted(broken.items())[:5])
            + (" ..." if len(broken) > 5 else "")
            + ". Delete them below."
        )
    chosen = st.multiselect("Runs", list(labels), format_func=labels.get, key="teacher_delete_runs")
    sure = st.checkbox(f"Yes, delete {len(chosen)} run(s) for everyone on this server", key="teacher_delete_sure",
                       disabled=not chosen)  # fmt: skip
    if st.button("Delete", key="teacher_delete", disabled=not (chosen and sure)):
        deleted = sum(store.delete(run_id) for run_id in chosen if run_id in labels)
        st.session_state.pop("teacher_delete_runs", None)
        st.session_state.pop("teacher_delete_sure", None)
        st.toast(f"Deleted {deleted} run(s).")
        st.rerun()


def store_section() -> None:
    """How much of the disk the run store takes, against its budget (``MLP_LAB_STORE_MB``)."""
    st.subheader("The run store")
    usage = get_store().usage()
    budget = get_limits().store_mb
    used = f"{usage.runs:,} runs, {usage.megabytes:,.1f} MB"
    if budget is None:
        st.caption(f"{used}; no disk budget ({STORE_MB_ENV}=0).")
        return
    share = min(usage.megabytes / budget, 1.0)
    st.progress(share, text=f"{used} of the {budget:,} MB budget ({share:.0%})")
    if share >= 1.0:
        st.error("The store is full: no new training is accepted until runs are deleted (above).")
    else:
        st.caption(f"New trainings are refused once the store reaches {budget:,} MB ({STORE_MB_ENV}).")


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
