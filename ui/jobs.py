"""Following a training job on a page: its place in the queue, progress, live curves, Stop.

Thin on purpose: widgets and layout only; the jobs themselves live in ``lab.runs.jobs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lab.architecture import validate_network
from lab.nn.result import EpochReport, RunResult
from lab.runs.jobs import Job
from lab.spec import ExperimentSpec
from ui import charts
from ui.state import get_jobs, get_store
from ui.text import DIVERGED_TEXT, fmt_seconds

POLL_SECONDS = 0.25


def follow(job: Job, key: str, render: Callable[[EpochReport], None] | None = None) -> RunResult | None:
    """Show a job's queue place, progress and live curves until it finishes.

    A Stop button ends training after the current epoch. Clicking it reruns the
    page, which calls ``follow`` again on the same job (kept in the job
    manager), so nothing is lost. Returns the result, or None when it failed
    (the error is shown).
    """
    if st.button(
        "Stop after this epoch",
        key=f"stop-{key}",
        help="Ends training after the current epoch and keeps what was learned.",
    ):
        job.request_stop()
    status = st.empty()
    bar = st.progress(0.0)
    live = st.empty()
    shown_epoch = -1
    try:
        while not job.finished:
            report = job.report
            if job.state == "queued" and job.place > 0:
                status.info(
                    f"Waiting in line: place {job.place}. Training now: {job.running_label or 'another run'}. "
                    "Trainings run one at a time on this server so that results are reproducible."
                )
            elif report is None:
                status.info("Preparing data and building the model ...")
            elif report.epoch != shown_epoch:
                shown_epoch = report.epoch
                status.info(_progress_text(report, job.stop_requested))
                bar.progress(report.epoch / report.epochs)
                if render is not None:
                    with live.container():
                        render(report)
            time.sleep(POLL_SECONDS)
    finally:
        bar.empty()
        status.empty()
    if job.state == "failed":
        st.error(f"Training failed: {job.error}")
        return None
    return job.result


def _progress_text(report: EpochReport, stopping: bool) -> str:
    logs = report.logs
    acc = logs.get("val_accuracy", logs.get("accuracy", float("nan")))
    text = (
        f"Epoch {report.epoch}/{report.epochs} · loss {logs.get('loss', float('nan')):.4f} · "
        f"validation accuracy {acc:.2%} · elapsed {fmt_seconds(report.elapsed)} · "
        f"about {fmt_seconds(report.eta)} left"
    )
    return text + (" · stopping after this epoch" if stopping else "")


def run_spec(
    spec: ExperimentSpec, key: str, *, start: bool, render: Callable[[EpochReport], None] | None = None
) -> RunResult | None:
    """The result for ``spec``: from the store at once, from a running job, or trained now if ``start``.

    Invalid specs show ``st.error`` and return None.
    """
    try:
        validate_network(spec)
    except ValueError as exc:
        st.error(str(exc))
        return None
    stored = get_store().get(spec)
    job = get_jobs().get(spec.run_id)
    if job is not None and not job.finished:
        return follow(job, key, render)
    if stored is not None and not (start and stored.stopped):
        return stored
    if not start:
        return None
    try:
        job = get_jobs().submit(spec)
    except ValueError as exc:
        st.error(str(exc))
        return None
    return follow(job, key, render)


def show_run_warnings(result: RunResult) -> None:
    """Diverged and stopped runs say so in plain words."""
    if result.diverged:
        st.error(DIVERGED_TEXT)
    elif result.stopped:
        st.warning(
            f"Stopped by you after {result.epochs_run} of {result.spec.epochs} epochs: "
            "these are the results so far. Press Train again to train it fully."
        )


def queue_sidebar() -> None:
    """Trainings running or waiting on this server, in the sidebar."""
    active = get_jobs().active()
    if active:
        lines = [f"{'▶' if j.state == 'running' else '⏳'} {j.spec.summary()}" for j in active]
        st.sidebar.caption("Training on this server:\n\n" + "\n\n".join(lines))


def job_running(spec: ExperimentSpec) -> bool:
    """Whether this server is training (or about to train) ``spec`` right now."""
    job = get_jobs().get(spec.run_id)
    return job is not None and not job.finished


def live_curves(slot: Any, height: int = 260) -> Callable[[EpochReport], None]:
    """A ``render`` for ``follow``: loss and accuracy that grow epoch by epoch in ``slot``, in a frame of all epochs."""

    def render(report: EpochReport) -> None:
        with slot.container():
            c1, c2 = st.columns(2)
            for column, metric in ((c1, "loss"), (c2, "accuracy")):
                chart = charts.curves_chart({"this run": report.history}, metric, epochs=report.epochs, height=height)
                column.altair_chart(chart, width="stretch")

    return render


def train_in_turn(
    specs: Sequence[ExperimentSpec], names: Sequence[str], state_key: str, progress: Any, key_prefix: str
) -> None:
    """Train the specs that are not stored yet, one after another, with a progress line for each.

    Runs are submitted one at a time (the next only when the previous is stored), so
    the queue order is the given order. A rerun (a click anywhere) picks the
    current training up again from the job manager. ``state_key`` (the session
    state entry that asked for these runs) is cleared at the end; ``key_prefix``
    starts each run's widget keys.
    """
    store = get_store()
    pending = [(s, n) for s, n in zip(specs, names, strict=True) if store.get(s) is None]
    with progress.container():
        for i, (spec, name) in enumerate(pending, start=1):
            st.markdown(f"**Training {name}** ({i} of {len(pending)} still to train)")
            result = run_spec(spec, key=f"{key_prefix}{spec.run_id}", start=True)
            if result is None:  # failed: the error is shown; go on with the next
                continue
            show_run_warnings(result)
    st.session_state.pop(state_key, None)
