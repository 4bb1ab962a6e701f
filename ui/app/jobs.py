"""Following a background job on a page (a training, or Tune's search): its place in the queue, progress,
live view, Stop; and showing the runs of a series train.

Thin on purpose: widgets and layout only; the jobs live in ``lab.runs.jobs``, what trains
when in ``lab.runs.scheduler``, "stored, or train?" in ``lab.runs.training.stored_run``.
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

from lab.architecture import CheckedSpec
from lab.nn.result import TIME_LIMIT, EpochReport, RunResult
from lab.runs.jobs import BackgroundJob, Job
from lab.runs.scheduler import Scheduler
from lab.runs.training import stored_run
from lab.spec import ExperimentSpec
from ui import charts
from ui.app.engine import engine_notice, waiting_text
from ui.app.nickname import nickname
from ui.app.state import get_jobs, get_store, session_id, visitor_id
from ui.app.text import DIVERGED_TEXT, fmt_seconds, plain

POLL_SECONDS = 0.25  # the live curve is redrawn at most this often (4 times a second)
TRAINED_KEY = "jobs_trained"  # session state: run id -> Trained, the runs this session saw trained
SINCE_SUFFIX = ".since"  # session state key + this: when runs were asked for in turn
WITHDRAWN_SUFFIX = ".withdrawn"  # session state: runs asked for in turn were just cancelled by their asker
JUST_NOW_SECONDS = 120.0  # a training that ended this recently was "just now"
LEFT_KEY = "jobs_left"  # session state: run ids this session stopped while other sessions still want them


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
@dataclass(frozen=True)
class FollowPlaces:
    """Where ``follow`` draws, when not one under the other where it is called (the stage: ``ui.app.stage``).

    Attributes
    ----------
    stop : Any
        A container for the Stop button (beside the Train button).
    status : Any
        A container for the status line and the progress bar.
    """

    stop: Any
    status: Any


STOP_LABEL = "Stop training"
STOP_HELP = "Ends training within a second and keeps what was learned."
PREPARING_TEXT = "Preparing data and building the model ..."
OTHERS_TEXT = (
    "Someone else asked for this training (another student, or the teacher): it goes on for them whatever happens "
    "here. Press Train to ask for it too (then you can stop your request)."
)
LEFT_TEXT = (
    "You stopped your request for this training; another session still wants it, so it goes on for them. "
    "Press Train to ask for it again."
)


def follow(
    job: BackgroundJob,
    key: str,
    render: Callable[[Any], None] | None = None,
    *,
    describe: Callable[[Any], tuple[str, float | None]] | None = None,
    stop_label: str = STOP_LABEL,
    stop_help: str = STOP_HELP,
    places: FollowPlaces | None = None,
) -> NoReturn:
    """Show a job's status line, progress bar and live view until it ends, then rerun the page.

    The one way a page follows a background job, a training (``lab.runs.jobs.Job``) or a
    search (``lab.search.job.SearchJob``): a loop in the script run, which redraws at most
    ``POLL_SECONDS`` apart, rather than ``st.fragment(run_every=...)``, since the script run
    that pressed the button then ends only when the job has (``AppTest`` and the browser tests
    see the final state after one run, and no Stop button or progress line survives it).
    A Stop button withdraws this session's request: the job stops once nobody else wants it
    (a session that did not ask for it sees no Stop). Clicking it (or anything) reruns the page,
    which follows the same job again (kept by the job manager or the session), so nothing is lost.
    ``describe(job)`` gives the status line and the bar's fraction (None: unchanged); by
    default a training's. ``render`` receives ``job.latest`` each time it changes, several a
    second while training. It lays its places out once (on its first call, in the container it is
    called in) and then redraws each place in place: a container re-laid several times a second can
    reach the browser out of order and blank the page (see ``ui.app.stage.fill_body``). A
    ``render.prepare(epochs)`` is called while a model is being built, and a ``render.snapshot(snapshot)``
    with the newest snapshot of the network's inside (``job.snapshots``) each time a new one
    has come (``lab.nn.snapshots``: the live filters, map and confusion matrix).
    ``places``: where the Stop button and the status line go (default: here, one under the other).
    """
    with places.stop if places is not None else contextlib.nullcontext():
        stop_button(job, key, stop_label, stop_help)
    describe = describe if describe is not None else training_status
    with places.status if places is not None else contextlib.nullcontext():
        status = st.empty()
        bar = st.progress(0.0)
    live = st.container()  # a render lays its places out here once, then redraws each in place
    said, shown, snapshots_shown = "", None, 0
    prepare = getattr(render, "prepare", None)  # charts built while the model is, not after its first report
    on_snapshot = getattr(render, "snapshot", None)
    try:
        while not job.finished:
            text, fraction = describe(job)
            if text != said:
                said = text
                status.info(text)
            latest = job.latest
            if text == PREPARING_TEXT and prepare is not None:
                prepare(job.spec.epochs)
                prepare = None
            if latest is not None and latest is not shown:
                shown = latest
                if fraction is not None:
                    bar.progress(fraction)
                if render is not None:
                    with live:
                        render(latest)
            snapshots = getattr(job, "snapshots", None) or []  # a search has none
            if on_snapshot is not None and len(snapshots) > snapshots_shown:
                snapshots_shown = len(snapshots)
                on_snapshot(snapshots[-1])
            time.sleep(POLL_SECONDS)
    finally:
        bar.empty()
        status.empty()
    if isinstance(job, Job) and job.state == "done" and job.result is not None:
        st.session_state.setdefault(TRAINED_KEY, {})[job.run_id] = Trained(job.result.created, time.time())
    st.rerun()


def stop_button(job: BackgroundJob, key: str, label: str = STOP_LABEL, help: str = STOP_HELP) -> None:
    """Stop for a session that asked for ``job``: its request is withdrawn (the job stops once nobody wants it).

    When other sessions still want the job, this page stops following it (``LEFT_TEXT``).
    """
    session = session_id()
    if job.stop_requested:
        return  # stopping: the status line says so
    if not job.wanted_by(session):
        st.caption(OTHERS_TEXT)
        return
    if st.button(label, key=f"stop-{key}", help=help):
        job.request_stop(session)
        if isinstance(job, Job) and not job.stop_requested:
            st.session_state.setdefault(LEFT_KEY, set()).add(job.run_id)
            st.rerun()


def left(run_id: str) -> bool:
    """Whether this session stopped its request for ``run_id`` while others still want it."""
    return run_id in st.session_state.get(LEFT_KEY, set())


def training_status(job: Job) -> tuple[str, float | None]:
    """A training's status line (its place in line, preparing, or epoch and figures) and the bar's fraction."""
    report = job.latest
    if job.state == "queued" and job.place > 0:
        return waiting_text(job), None
    if report is None:
        return PREPARING_TEXT, None
    return progress_text(report, job.stop_requested), min(max(report.progress / report.epochs, 0.0), 1.0)


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
    return text + (" · stopping" if stopping else "")


def run_spec(
    spec: ExperimentSpec | CheckedSpec,
    key: str,
    *,
    start: bool,
    render: Callable[[EpochReport], None] | None = None,
    places: FollowPlaces | None = None,
) -> RunResult | None:
    """The result for ``spec`` from the store; a running job is followed, and trained now if ``start``.

    Following a job ends in a rerun of the page (see ``follow``), so this returns
    only what is stored (a stopped run is trained again if ``start``), or None.
    Invalid specs show ``st.error``; so does a failed training, with a Retry button.
    A ``CheckedSpec`` (``ui.charts.network.show_architecture``'s) is not counted again.
    ``places``: where ``follow`` puts the Stop button and the status line (the stage's).
    """
    jobs = get_jobs()
    try:
        checked = jobs.limits.check(spec)  # a link beyond the server's limits is refused before anything trains
    except ValueError as exc:
        st.error(plain(exc))  # may quote a link's words (an idx: folder)
        return None
    spec = checked.spec
    job = jobs.get(spec.run_id)
    if start:
        st.session_state.get(LEFT_KEY, set()).discard(spec.run_id)  # asked for again
    going = job is not None and not job.finished
    if going and not start and left(spec.run_id):
        st.info(LEFT_TEXT)
    elif going and not start:
        follow(job, key, render, places=places)
    stored = get_store().get(spec)
    if start and (going or stored_run(spec, get_store()) is None):
        try:
            # Checked above: not counted again. A job already going is joined: this session asks for it too.
            job = jobs.submit(checked, session_id(), visitor_id(), nickname())
        except ValueError as exc:
            st.error(plain(exc))
            return None
        follow(job, key, render, places=places)
    if stored is None and job is not None and job.state == "failed":
        show_failure(job, key, render, places)
    return stored


def show_failure(
    job: Job, key: str, render: Callable[[EpochReport], None] | None = None, places: FollowPlaces | None = None
) -> None:
    """A failed training's error, with a button that trains it again."""
    st.error(f"Training failed: {plain(job.error)}")
    if st.button("Retry", key=f"retry-{key}", help="Train this setup again."):
        follow(get_jobs().retry(job.run_id), key, render, places=places)


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
    """``0.05 s`` or ``4.1 s`` for a short training, ``3 min 05 s`` for a long one: never "0 s"."""
    if seconds < 1:
        return f"{seconds:.2g} s"
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


def live_curves(slot: Any, *, output: str = "softmax_ce", stage: bool = False) -> Callable[[EpochReport], None]:
    """A ``render`` for ``follow``: loss and accuracy side by side in ``slot``, growing within epochs.

    ``output`` (the spec's) names the loss's chance line, as the final chart does; ``stage``: drawn on the
    stage (``ui.app.stage``), lower. Training points come every few dozen batches (from the untrained
    network at 0), validation points at each epoch's end. The two charts' places are laid out once per
    training and each redrawn in place (a place re-laid four times a second could reach the browser
    out of order: see ``ui.app.stage``). The charts are built with Altair once; each later report only
    swaps their data (building and validating an Altair chart takes a tenth of a second or more, which
    would slow the curve down).
    """
    # The final chart (the page's, after the rerun) is the same builder with the same axes: epochs from 0,
    # loss from 0, accuracy from 0 to 100%.
    templates: dict[tuple[str, int], tuple[dict[str, Any], str]] = {}  # (metric, epochs) -> (spec, data set name)
    places: list[Any] = []  # the loss's and the accuracy's, once laid out

    def spec_for(report: EpochReport, metric: str) -> dict[str, Any]:
        key = (metric, report.epochs)
        if key in templates:
            spec, name = templates[key]
            return {**spec, "datasets": {name: live_rows(report, metric)}}
        spec = charts.curves_chart(
            {LIVE_RUN: report.history},
            metric,
            epochs=report.epochs,
            points=report.points,
            output=output,
            live=True,
            stage=stage,
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

    def render(report: EpochReport) -> None:
        if not places:
            with slot.container():
                places.extend(column.empty() for column in st.columns(2))
        for place, metric in zip(places, ("loss", "accuracy"), strict=True):
            place.vega_lite_chart(spec_for(report, metric), width="stretch")

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


def scheduler_for(specs: Sequence[ExperimentSpec], state_key: str) -> Scheduler:
    """The scheduler of the runs asked for under ``state_key`` (``lab.runs.scheduler``), from this session's state.

    Built again on every page run: it keeps nothing the job manager and the store do not.
    """
    since = float(st.session_state.get(state_key + SINCE_SUFFIX, 0.0))
    return Scheduler(specs, get_jobs(), session=session_id(), visitor=visitor_id(), nickname=nickname(), since=since)


def withdraw_in_turn(state_key: str, specs: Sequence[ExperimentSpec]) -> None:
    """Cancel this session's runs asked for under ``state_key``: the one training stops, the rest never start.

    Only this session's requests: a run another session (or the teacher) asked for goes on for them.

    Meant as a button's ``on_click``: it runs before the page, so the page that follows
    draws no Cancel button and no heading of a run that will not train.
    """
    scheduler_for(specs, state_key).withdraw()
    forget_in_turn(state_key)
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
        # A run another session still wants goes on for them: not followed here.
        if job is not None and not job.finished and job.state == "running" and job.stop_requested:
            follow(job, f"{key_prefix}{spec.run_id}")
    st.session_state.pop(state_key + WITHDRAWN_SUFFIX, None)


def in_turn_active(state_key: str, value: Any, specs: Sequence[ExperimentSpec]) -> bool:
    """Whether runs asked for under ``state_key`` with ``value`` still have a spec to train.

    When none is left, the request is forgotten: call this before drawing the
    buttons that depend on it, so that the last rerun shows the final state.
    """
    if st.session_state.get(state_key) != value:
        return False
    if scheduler_for(specs, state_key).todo():
        return True
    forget_in_turn(state_key)
    return False


def train_in_turn(
    specs: Sequence[ExperimentSpec], names: Sequence[str], state_key: str, progress: Any, key_prefix: str
) -> None:
    """Show the runs asked for under ``state_key`` training: a heading, the one followed, those beside it.

    What trains when is ``lab.runs.scheduler``'s: each page run asks it to fill the
    engine (one run per worker and one in line, the costliest first on several
    workers; in-process one at a time, in the given order) and follows the first run
    in flight. Following ends in a rerun of the page, which calls this again for the
    next; a rerun for any other reason picks the current training up again. A run
    that fails or is refused is reported and skipped. The request is forgotten when
    nothing is left; ``key_prefix`` starts each run's widget keys.
    """
    scheduler = scheduler_for(specs, state_key)
    step = scheduler.fill()
    with progress.container():
        for i in scheduler.failed():
            job = scheduler.job(i)
            st.error(f"{names[i]}: training failed ({plain(job.error) if job is not None else 'unknown error'}).")
        for i, message in step.refused.items():
            st.error(f"{names[i]}: {plain(message)}")
        if step.in_flight:
            first, *alongside = step.in_flight
            todo = scheduler.todo()
            done = len(scheduler.distinct()) - len(todo)
            st.markdown(f"**Training {names[first]}** (run {done + 1} of {len(specs)}; {len(todo) - 1} more after it)")
            if alongside:
                st.caption(alongside_text(scheduler, alongside, names))
            run_spec(specs[first], key=f"{key_prefix}{specs[first].run_id}", start=True)
            st.rerun()  # it ended between the scheduler's look and the follow: on to the next
    forget_in_turn(state_key)


def alongside_text(scheduler: Scheduler, alongside: Sequence[int], names: Sequence[str]) -> str:
    """The caption under a series' heading: the runs training beside the one followed, and those next in line."""
    waiting = [i for i in alongside if (job := scheduler.job(i)) is not None and job.state == "queued"]
    training = [i for i in alongside if i not in waiting]
    parts = []
    if training:
        parts.append("Also training on other workers: " + ", ".join(names[i] for i in training) + ".")
    if waiting:
        parts.append("Next in line: " + ", ".join(names[i] for i in waiting) + ".")
    return " ".join(parts)
