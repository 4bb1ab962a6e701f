"""Following a training job on a page: its place in the queue, progress, live curves, Stop.

Thin on purpose: widgets and layout only; the jobs themselves live in ``lab.runs.jobs``.
When a job ends, the page that follows it reruns (``st.rerun``), so that it shows
its final state: no Stop button, progress line or "not trained yet" of the time
before survives a training. What this session saw trained is remembered, so the
results can say how they came to be (``origin_text``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import streamlit as st

from lab.nn.result import TIME_LIMIT, EpochReport, RunResult
from lab.runs.jobs import Job
from lab.runs.pretrain import costliest_first
from lab.spec import ExperimentSpec
from ui import charts
from ui.engine import engine_notice, waiting_text
from ui.state import get_jobs, get_store, session_id
from ui.text import DIVERGED_TEXT, fmt_seconds

POLL_SECONDS = 0.25  # the live curve is redrawn at most this often (4 times a second)
TRAINED_KEY = "jobs_trained"  # session state: run id -> Trained, the runs this session saw trained
SINCE_SUFFIX = ".since"  # session state key + this: when runs were asked for in turn
WITHDRAWN_SUFFIX = ".withdrawn"  # session state: runs asked for in turn were just cancelled by their asker
JUST_NOW_SECONDS = 120.0  # a training that ended this recently was "just now"


@dataclass(frozen=True)
class Trained:
    """A training this session followed to its end.

    Attributes
    ----------
    created : float
        The run's ``created`` time: a later retraining (by anyone) is another run.
    ended : float
        When the page saw it end (``time.time()``).
    """

    created: float
    ended: float


# ------------------------------------------------------------- following
def follow(job: Job, key: str, render: Callable[[EpochReport], None] | None = None) -> NoReturn:
    """Show a job's queue place, progress and live curves until it ends, then rerun the page.

    A Stop button ends training after the current epoch. Clicking it reruns the
    page, which follows the same job again (kept in the job manager), so nothing
    is lost. The rerun at the end draws the page in its final state, from the
    store (or with the error, when training failed); ``render`` receives each new
    report, several a second while training.
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
    shown: EpochReport | None = None
    prepare = getattr(render, "prepare", None)  # charts built while the model is, not after its first report
    try:
        while not job.finished:
            report = job.report
            if job.state == "queued" and job.place > 0:
                status.info(waiting_text(job))
            elif report is None:
                status.info("Preparing data and building the model ...")
                if prepare is not None:
                    prepare(job.spec.epochs)
                    prepare = None
            elif report is not shown:
                shown = report
                status.info(progress_text(report, job.stop_requested))
                bar.progress(min(max(report.progress / report.epochs, 0.0), 1.0))
                if render is not None:
                    with live.container():
                        render(report)
            time.sleep(POLL_SECONDS)
    finally:
        bar.empty()
        status.empty()
    if job.state == "done" and job.result is not None:
        st.session_state.setdefault(TRAINED_KEY, {})[job.run_id] = Trained(job.result.created, time.time())
    st.rerun()


def progress_text(report: EpochReport, stopping: bool) -> str:
    """The status line under the Stop button: epoch, loss and accuracy so far, time left."""
    logs = report.logs
    epoch = min(report.epoch if report.at_epoch_end else report.epoch + 1, report.epochs)
    if report.at_epoch_end:
        acc = logs.get("val_accuracy", logs.get("accuracy", math.nan))
        figures = f"loss {logs.get('loss', math.nan):.4f} · validation accuracy {acc:.2%}"
    else:
        loss, acc = logs.get("loss", math.nan), logs.get("accuracy", math.nan)
        figures = f"training loss so far {loss:.4f} · accuracy {acc:.2%}"
    if report.progress == 0:
        # Before the first batch: TensorFlow traces the training step once per network.
        text = f"Epoch 1/{report.epochs} · untrained network: {figures} · preparing the training step ..."
    else:
        left = f" · about {fmt_seconds(report.eta)} left" if math.isfinite(report.eta) else ""
        text = f"Epoch {epoch}/{report.epochs} · {figures} · elapsed {fmt_seconds(report.elapsed)}{left}"
    return text + (" · stopping after this epoch" if stopping else "")


def run_spec(
    spec: ExperimentSpec, key: str, *, start: bool, render: Callable[[EpochReport], None] | None = None
) -> RunResult | None:
    """The result for ``spec`` from the store; a running job is followed, and trained now if ``start``.

    Following a job ends in a rerun of the page (see ``follow``), so this returns
    only what is stored (a stopped run is trained again if ``start``), or None.
    Invalid specs show ``st.error``; so does a failed training, with a Retry button.
    """
    jobs = get_jobs()
    try:
        checked = jobs.limits.check(spec)  # a link beyond the server's limits is refused before anything trains
    except ValueError as exc:
        st.error(str(exc))
        return None
    job = jobs.get(spec.run_id)
    if job is not None and not job.finished:
        follow(job, key, render)
    stored = get_store().get(spec)
    if start and (stored is None or stored.stopped):
        try:
            job = jobs.submit(checked, session_id())  # checked above: not counted again
        except ValueError as exc:
            st.error(str(exc))
            return None
        follow(job, key, render)
    if stored is None and job is not None and job.state == "failed":
        show_failure(job, key, render)
    return stored


def show_failure(job: Job, key: str, render: Callable[[EpochReport], None] | None = None) -> None:
    """A failed training's error, with a button that trains it again."""
    st.error(f"Training failed: {job.error}")
    if st.button("Retry", key=f"retry-{key}", help="Train this setup again."):
        follow(get_jobs().retry(job.run_id), key, render)


def show_run_warnings(result: RunResult) -> None:
    """Diverged and stopped runs say so in plain words."""
    if result.diverged:
        st.error(DIVERGED_TEXT)
    elif result.stopped and result.stop_reason == TIME_LIMIT:
        st.warning(
            f"Stopped by the server's time limit after {result.epochs_run} of {result.spec.epochs} epochs "
            f"({duration_text(result.train_seconds)}): these are the results so far. Train fewer epochs, "
            "on fewer images or a smaller network to finish within it."
        )
    elif result.stopped and cancelled_by_teacher(result):
        st.warning(
            f"Stopped by the teacher after {result.epochs_run} of {result.spec.epochs} epochs: "
            "these are the results so far. Press Train again to train it fully."
        )
    elif result.stopped:
        st.warning(
            f"Stopped by you after {result.epochs_run} of {result.spec.epochs} epochs: "
            "these are the results so far. Press Train again to train it fully."
        )


def cancelled_by_teacher(result: RunResult) -> bool:
    """Whether the teacher's panel cancelled the training that stored ``result`` (on this server)."""
    job = get_jobs().get(result.run_id)
    return job is not None and job.cancelled and job.result is not None and job.result.created == result.created


def queue_sidebar() -> None:
    """Trainings running or waiting on this server, in the sidebar (and why not on Ray, if it fell back)."""
    engine_notice()
    active = get_jobs().active()
    if active:
        lines = [f"{'▶' if j.state == 'running' else '⏳'} {j.spec.summary()}" for j in active]
        st.sidebar.caption("Training on this server:\n\n" + "\n\n".join(lines))


def job_running(spec: ExperimentSpec) -> bool:
    """Whether this server is training (or about to train) ``spec`` right now."""
    job = get_jobs().get(spec.run_id)
    return job is not None and not job.finished


# ------------------------------------------------------------- what happened
def trained_here(result: RunResult) -> Trained | None:
    """How this session saw ``result`` trained to its end, or None when it did not."""
    seen = st.session_state.get(TRAINED_KEY, {}).get(result.run_id)
    return seen if seen is not None and abs(seen.created - result.created) < 1e-3 else None


def trained_just_now(result: RunResult) -> bool:
    """Whether this session saw ``result`` trained, or asked for it, and it ended moments ago.

    A series on several workers follows one run while others end beside it: those
    were trained just now too, by this session's jobs, though the page never followed them.
    """
    seen = trained_here(result)
    if seen is not None:
        return time.time() - seen.ended < JUST_NOW_SECONDS
    job = get_jobs().get(result.run_id)
    return (
        job is not None
        and job.session == session_id()
        and job.result is not None
        and abs(job.result.created - result.created) < 1e-3
        and time.time() - result.created < JUST_NOW_SECONDS
    )


def duration_text(seconds: float) -> str:
    """``4.1 s`` for a short training, ``3 min 05 s`` for a long one."""
    return f"{seconds:.1f} s" if seconds < 60 else fmt_seconds(seconds)


def when_text(created: float) -> str:
    """``today at 14:03``, ``yesterday at 09:12`` or ``on 3 May 2026``."""
    if created <= 0:
        return "before"
    then, now = time.localtime(created), time.localtime()
    days = (time.mktime((*now[:3], 0, 0, 0, 0, 0, -1)) - time.mktime((*then[:3], 0, 0, 0, 0, 0, -1))) / 86400
    if round(days) == 0:
        return f"today at {time.strftime('%H:%M', then)}"
    if round(days) == 1:
        return f"yesterday at {time.strftime('%H:%M', then)}"
    return f"on {then.tm_mday} {time.strftime('%B %Y', then)}"


def origin_text(result: RunResult) -> str:
    """Where the results shown come from, in words: trained here and now, or read from the run store."""
    seconds = duration_text(result.train_seconds)
    if trained_here(result) is not None:
        when = "just now" if trained_just_now(result) else "earlier in this session"
        return (
            f"Trained {when} in {seconds} and stored: anyone who selects this setup on this server "
            "sees these results at once."
        )
    if result.from_store:
        return (
            f"Read from the run store: this setup was trained {when_text(result.created)} (in {seconds}), "
            "so nothing had to be trained now. Change any setting (the seed too) to train another run."
        )
    return f"Trained in {seconds}."


# ------------------------------------------------------------- live curves
LIVE_RUN = "this run"  # the live curve's run label, as the Train page's final curve names it


def live_curves(slot: Any | None = None, height: int | None = None) -> Callable[[EpochReport], None]:
    """A ``render`` for ``follow``: loss and accuracy that grow within epochs, in a frame of all epochs.

    Drawn in ``slot`` when given, else under the Stop button and the progress bar.
    Training points come every few dozen batches (from the untrained network at 0),
    validation points at each epoch's end. The charts are built with Altair once;
    each later report only swaps their data (building and validating an Altair
    chart takes a tenth of a second or more, which would slow the curve down).
    """
    # The final chart (the page's, after the rerun) is the same builder with the same axes: epochs from 0,
    # loss from 0, accuracy from 0 to 100%.
    templates: dict[tuple[str, int], tuple[dict[str, Any], str]] = {}  # (metric, epochs) -> (spec, data set name)

    def spec_for(report: EpochReport, metric: str) -> dict[str, Any]:
        key = (metric, report.epochs)
        if key in templates:
            spec, name = templates[key]
            return {**spec, "datasets": {name: live_rows(report, metric)}}
        spec = charts.curves_chart(
            {LIVE_RUN: report.history}, metric, epochs=report.epochs, height=height, points=report.points
        ).to_dict()
        names = list(spec.get("datasets", {}))
        if len(names) == 1:  # one table of points: the spec can be reused with new rows
            templates[key] = (spec, names[0])
        return spec

    def prepare(epochs: int) -> None:
        """Build the charts before the first report comes (while the model is built)."""
        empty = EpochReport(0, epochs, {}, {}, 0.0, math.nan, 0.0, {"epoch": [], "loss": [], "accuracy": []})
        for metric in ("loss", "accuracy"):
            spec_for(empty, metric)

    def draw(report: EpochReport) -> None:
        for column, metric in zip(st.columns(2), ("loss", "accuracy"), strict=True):
            column.vega_lite_chart(spec_for(report, metric), width="stretch")

    def render(report: EpochReport) -> None:
        if slot is None:
            draw(report)
        else:
            with slot.container():
                draw(report)

    render.prepare = prepare  # follow calls it while it waits for the first report
    return render


def live_rows(report: EpochReport, metric: str) -> list[dict[str, Any]]:
    """The rows ``charts.curves_chart`` draws for ``report``'s live curve of ``metric``, without pandas.

    Training values from ``report.points`` (fractional epochs, from the untrained network at 0), validation
    values per epoch; a missing or non-finite value (a diverged run) is None, a gap in the line.
    """
    return charts.history_rows(LIVE_RUN, report.history, metric, report.points)


# ------------------------------------------------------------- several runs
def request_in_turn(state_key: str, value: Any) -> None:
    """Ask for runs to be trained one after another (``train_in_turn``) under ``state_key``."""
    st.session_state[state_key] = value
    st.session_state[state_key + SINCE_SUFFIX] = time.time()


def forget_in_turn(state_key: str) -> None:
    """Drop a request of ``request_in_turn`` (done or cancelled)."""
    st.session_state.pop(state_key, None)
    st.session_state.pop(state_key + SINCE_SUFFIX, None)


def withdraw_in_turn(state_key: str, specs: Sequence[ExperimentSpec]) -> None:
    """Cancel the runs asked for under ``state_key``: the one training stops after its epoch, the rest never start.

    Meant as a button's ``on_click``: it runs before the page, so the page that follows
    draws no Cancel button and no heading of a run that will not train.
    """
    forget_in_turn(state_key)
    jobs = get_jobs()
    for spec in specs:
        job = jobs.get(spec.run_id)
        if job is not None and not job.finished:
            job.withdraw()
    st.session_state[state_key + WITHDRAWN_SUFFIX] = True


def just_withdrawn(state_key: str) -> bool:
    """Whether ``withdraw_in_turn`` ran for ``state_key`` and ``finish_withdrawn`` has not yet seen it end."""
    return bool(st.session_state.get(state_key + WITHDRAWN_SUFFIX, False))


def finish_withdrawn(state_key: str, specs: Sequence[ExperimentSpec], key_prefix: str) -> None:
    """After ``withdraw_in_turn``: follow the run still finishing its epoch, so the page then shows it stored.

    Following ends in a rerun; on the page run after the last one ended, the
    withdrawal is forgotten (``just_withdrawn`` says False from then on).
    """
    jobs = get_jobs()
    for spec in specs:
        job = jobs.get(spec.run_id)
        if job is not None and not job.finished and job.state == "running":
            follow(job, f"{key_prefix}{spec.run_id}")
    st.session_state.pop(state_key + WITHDRAWN_SUFFIX, None)


def still_to_train(specs: Sequence[ExperimentSpec], state_key: str) -> list[int]:
    """Indices of the specs not stored yet whose training did not fail since the request."""
    since = float(st.session_state.get(state_key + SINCE_SUFFIX, 0.0))
    store, jobs = get_store(), get_jobs()
    todo = []
    for i, spec in enumerate(specs):
        if spec in store:
            continue
        job = jobs.get(spec.run_id)
        if job is not None and job.state == "failed" and job.submitted >= since:
            continue  # tried in this round and failed: the others go on
        todo.append(i)
    return todo


def in_turn_active(state_key: str, value: Any, specs: Sequence[ExperimentSpec]) -> bool:
    """Whether runs asked for under ``state_key`` with ``value`` still have a spec to train.

    When none is left, the request is forgotten: call this before drawing the
    buttons that depend on it, so that the last rerun shows the final state.
    """
    if st.session_state.get(state_key) != value:
        return False
    if still_to_train(specs, state_key):
        return True
    forget_in_turn(state_key)
    return False


def train_in_turn(
    specs: Sequence[ExperimentSpec], names: Sequence[str], state_key: str, progress: Any, key_prefix: str
) -> None:
    """Train the next spec that is not stored yet, with a heading; the rest follow, one per rerun.

    In-process the runs train one after another, in the given order. On several
    workers (Ray) the longest go first and the next ones are submitted beside the one
    followed (``start_alongside``), keeping every worker busy with one more in line,
    so that no worker idles while the page reruns between two runs. Following a run ends in a rerun of the
    page, which calls this again for the next one; a rerun for any other reason
    (a click anywhere) picks the current training up again from the job manager.
    A run that fails is reported and skipped. ``state_key`` (the session state
    entry that asked for these runs, see ``request_in_turn``) is cleared when
    nothing is left; ``key_prefix`` starts each run's widget keys.
    """
    todo = still_to_train(specs, state_key)
    failed = [i for i in range(len(specs)) if i not in todo and specs[i] not in get_store()]
    if get_jobs().executor.workers > 1:
        # Several workers: the longest runs first, so that none is left training alone at the end.
        todo = [todo[j] for j in costliest_first([specs[i] for i in todo])]
    with progress.container():
        for i in failed:
            job = get_jobs().get(specs[i].run_id)
            st.error(f"{names[i]}: training failed ({job.error if job is not None else 'unknown error'}).")
        for n, i in enumerate(todo):
            submit_first(specs[i])  # first in line, before the runs that go beside it
            alongside = start_alongside([specs[j] for j in todo[n + 1 :]])
            done = len(specs) - len(todo) + n
            st.markdown(f"**Training {names[i]}** (run {done + 1} of {len(specs)}; {len(todo) - n - 1} more after it)")
            if alongside:
                st.caption(alongside_text(alongside, dict(zip((s.run_id for s in specs), names, strict=True))))
            run_spec(specs[i], key=f"{key_prefix}{specs[i].run_id}", start=True)
            # Only a spec that could not even start returns here (its error is shown): go on.
    forget_in_turn(state_key)


def in_flight(workers: int, max_queued: int | None) -> int:
    """How many runs of a series are asked for at once, within the session's queue limit.

    On several workers (Ray) one per worker and one in line: the one in line starts
    the moment a worker is free, not after the page's next rerun (35.7 s to 31-32 s for
    series B on two workers). In-process one at a time: a run in line there saved 2 s
    of 51, not worth it.
    """
    wanted = workers + 1 if workers > 1 else 1
    return max(1, min(wanted, max_queued if max_queued is not None else wanted))


def alongside_text(alongside: Sequence[ExperimentSpec], names: dict[str, str]) -> str:
    """The caption under a series' heading: the runs training beside the one followed, and those next in line."""
    jobs = get_jobs()
    waiting = [s for s in alongside if (job := jobs.get(s.run_id)) is not None and job.state == "queued"]
    training = [s for s in alongside if s not in waiting]
    parts = []
    if training:
        parts.append("Also training on other workers: " + ", ".join(names[s.run_id] for s in training) + ".")
    if waiting:
        parts.append("Next in line: " + ", ".join(names[s.run_id] for s in waiting) + ".")
    return " ".join(parts)


def ensure_job(spec: ExperimentSpec) -> Job | None:
    """The job training ``spec``, submitted now if none is; None when a finished run is stored.

    A stopped run counts as not stored (it trains again, as ``run_spec`` does).

    Raises
    ------
    ValueError
        When the job manager refuses it (the server's limits, the session's queue).
    """
    jobs = get_jobs()
    job = jobs.get(spec.run_id)
    if job is not None and not job.finished:
        return job
    stored = get_store().get(spec)
    if stored is not None and not stored.stopped:
        return None
    return jobs.submit(spec, session_id())


def submit_first(spec: ExperimentSpec) -> None:
    """Submit ``spec`` unless it trains or is stored; a refusal is left for ``run_spec`` to show."""
    with contextlib.suppress(ValueError):
        ensure_job(spec)


def start_alongside(following: Sequence[ExperimentSpec]) -> list[ExperimentSpec]:
    """Submit the next runs of a series beside the one followed; the runs now training or waiting beside it.

    In-process (one worker) nothing starts alongside: the series trains one run after
    another. On Ray a series keeps every worker busy, and one more waits in line.
    """
    jobs = get_jobs()
    extra = in_flight(jobs.executor.workers, jobs.limits.max_queued) - 1
    alongside: list[ExperimentSpec] = []
    for spec in following:
        if len(alongside) >= extra:
            break
        try:
            job = ensure_job(spec)
        except ValueError:
            break  # the session's queue limit: the rest start later, in turn
        if job is not None:
            alongside.append(spec)
    return alongside
