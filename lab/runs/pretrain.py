"""Train course presets into the run store before class, so that pages show them at once.

``python -m lab pretrain`` (``lab.cli.pretrain``), the reproduction document
(``lab.reports.reproduce``) and the series benchmark (``lab.bench.series``) train
through here, and this trains through the one scheduler for many runs
(``lab.runs.scheduler``): stored runs are skipped, in-process the runs train one
after another, on several workers (Ray) one per worker and one in line, the
longest first. Each run is a job of a job manager of its own, without the
server's limits (the command line checks its specs itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lab.catalog.presets import Preset
from lab.nn.result import RunResult
from lab.runs.engine import Executor
from lab.runs.jobs import JobManager
from lab.runs.limits import Limits
from lab.runs.scheduler import Scheduler, Step
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

PretrainEvent = Callable[[str, Preset, ExperimentSpec, Any], None]
"""``on_event(kind, preset, spec, payload)``: see ``pretrain``."""


class TrainingFailed(ValueError):
    """A run of ``pretrain`` failed (or was refused); the message names the run and says why."""


def pretrain(
    presets: Sequence[Preset],
    store: RunStore | None = None,
    *,
    on_event: PretrainEvent | None = None,
    executor: Executor | None = None,
) -> dict[str, list[RunResult]]:
    """Train every spec of ``presets`` into the store, skipping those already stored.

    Parameters
    ----------
    presets : sequence of Preset
        What to train (ensemble presets train all their members).
    store : RunStore, optional
        Default ``RunStore()`` (``$MLP_LAB_HOME`` or ``./runs``).
    on_event : callable, optional
        ``on_event(kind, preset, spec, payload)`` with kind ``skip`` (payload:
        the stored result), ``start`` (None), ``epoch`` (an EpochReport, the latest
        when several ended between two looks) or ``done`` (the result). A run stopped
        part-way is trained again. Events come from the calling thread.
    executor : Executor, optional
        Where to train (``lab.runs.engine``); default: here, one run after another.

    Returns
    -------
    dict
        Preset name -> list of RunResult (one per member).

    Raises
    ------
    TrainingFailed
        When a run fails or is refused: the rest are withdrawn (those training stop after their epoch).
    """
    store = store if store is not None else RunStore()
    notify = on_event or (lambda *args: None)
    members = [(preset, spec) for preset in presets for spec in preset.member_specs()]
    scheduler = Scheduler([spec for _, spec in members], JobManager(store, executor, Limits.unlimited()))
    to_train = set(scheduler.todo())
    stored = {i: store.get(members[i][1]) for i in scheduler.distinct() if i not in to_train}
    for i, result in stored.items():
        notify("skip", *members[i], result)
    relay = _Relay(scheduler, members, notify, sorted(to_train))
    scheduler.run(relay)
    results: dict[str, list[RunResult]] = {}
    for i, (preset, spec) in enumerate(members):
        result = relay.trained.get(i, stored.get(i))
        if result is None:  # the second asker of a spec: trained (or found) for the first one
            result = store.get(spec) or relay.trained.get(scheduler.specs.index(spec))
            notify("skip", preset, spec, result)
        results.setdefault(preset.name, []).append(result)
    return results


class _Relay:
    """``pretrain``'s events from the scheduler's jobs: each run's start, its epochs and its end, in that order."""

    def __init__(
        self, scheduler: Scheduler, members: list[tuple[Preset, ExperimentSpec]], notify: PretrainEvent, order: list[int]
    ) -> None:
        self.scheduler, self.members, self.notify, self.order = scheduler, members, notify, order
        self.started: set[int] = set()
        self.epochs: dict[int, int] = {}
        self.trained: dict[int, RunResult] = {}

    def __call__(self, step: Step) -> None:
        if step.refused:
            i, message = next(iter(step.refused.items()))
            raise TrainingFailed(f"{self.members[i][1].summary()}: {message}")
        for i in self.order:
            job = self.scheduler.job(i)
            if job is not None and i not in self.trained:
                self.look(i, job)

    def look(self, i: int, job: Any) -> None:
        preset, spec = self.members[i]
        if i not in self.started and (job.state != "queued" or job.finished):
            self.started.add(i)
            self.notify("start", preset, spec, None)
        report = job.latest
        if report is not None and report.at_epoch_end and report.epoch > self.epochs.get(i, 0):
            self.epochs[i] = report.epoch
            self.notify("epoch", preset, spec, report)
        if job.finished:
            if job.state == "failed":
                raise TrainingFailed(f"{spec.summary()}: {job.error}")
            self.trained[i] = job.result
            self.notify("done", preset, spec, job.result)
