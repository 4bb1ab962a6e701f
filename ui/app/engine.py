"""The training engine on a page: where trainings run (Home), a fallback notice, a waiting job's place."""

from __future__ import annotations

import streamlit as st

from lab.runs.jobs import Job
from ui.app.state import get_jobs


def engine_status() -> None:
    """The Home page's block: which engine trains, how many workers, how many busy and waiting."""
    jobs = get_jobs()
    status = jobs.status()
    if status.notice:
        st.warning(status.notice)
    if status.engine == "in-process":
        st.caption(
            f":material/memory: Trainings run {status.description}"
            f"{' (one training now' if status.busy else ' (none now'}"
            f"{f', {status.waiting} waiting)' if status.waiting else ')'}. "
            "For a class, start the app with `MLP_LAB_RAY=local` to train on every core (README: Deploy for a class)."
        )
    else:
        st.caption(
            f":material/hub: Trainings run {status.description}: {status.workers} workers, "
            f"{status.busy} busy, {status.waiting} waiting (every app server using this cluster counted)."
        )


def engine_notice() -> None:
    """A warning in the sidebar when the configured Ray cluster could not be used and trainings run here."""
    notice = get_jobs().executor.notice
    if notice:
        st.sidebar.warning(notice, icon=":material/warning:")


def waiting_text(job: Job) -> str:
    """What a job waiting for its turn says: its place, and what runs meanwhile."""
    if get_jobs().executor.engine == "in-process":
        return (
            f"Waiting in line: place {job.place}. Training now: {job.running_label or 'another run'}. "
            "Trainings run one at a time on this server so that results are reproducible."
        )
    runs = "training" if job.running == 1 else "trainings"
    return (
        f"Waiting in line: place {job.place} of {job.waiting}. {job.running} {runs} running on "
        f"{job.workers} workers; yours starts as soon as one finishes."
    )
