"""Train course presets into the run store before class, so that pages show them at once.

``python -m lab pretrain`` (``lab.cli.pretrain``) and the reproduction document
(``lab.reports.reproduce``) both train through here; each run goes through the
one train-and-save path, ``lab.runs.engines.get_or_train``. In-process the
runs train one after another; on an executor with several workers (Ray) they
train in parallel, as many as there are workers, the longest first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lab.architecture import multiply_adds
from lab.catalog.presets import Preset
from lab.nn.observer import QueuePlace, TrainingObserver
from lab.nn.result import EpochReport, RunResult
from lab.runs.engine import Executor
from lab.runs.engines import get_or_train
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

PretrainEvent = Callable[[str, Preset, ExperimentSpec, Any], None]
"""``on_event(kind, preset, spec, payload)``: see ``pretrain``."""

MAX_SUBMITTING = 64  # at most this many runs queued or training at once on a parallel executor
QUEUEING_SECONDS = 10.0  # the longest a parallel pretraining waits for one run to be queued before the next


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
        the stored result), ``start`` (None), ``epoch`` (an EpochReport) or
        ``done`` (the result). A run stopped part-way is trained again. With
        a parallel executor, events of several runs come from several threads.
    executor : Executor, optional
        Where to train (``lab.runs.engine``); default: here, one run after another.

    Returns
    -------
    dict
        Preset name -> list of RunResult (one per member).
    """
    store = store if store is not None else RunStore()
    notify = on_event or (lambda *args: None)
    members = [(preset, spec) for preset in presets for spec in preset.member_specs()]

    def one(preset: Preset, spec: ExperimentSpec, queued: threading.Event | None = None) -> RunResult:
        class Observer(TrainingObserver):
            def on_queue(self, place: QueuePlace) -> None:
                # Waiting in an executor's queue counts as queued (only a parallel executor's is watched).
                if queued is not None:
                    queued.set()

            def on_start(self) -> None:
                if queued is not None:
                    queued.set()
                notify("start", preset, spec, None)

            def on_epoch(self, report: EpochReport) -> None:
                notify("epoch", preset, spec, report)

        try:
            result = get_or_train(spec, store, executor=executor, observer=Observer())
        finally:
            if queued is not None:
                queued.set()  # stored already, or failed: the next may go
        notify("skip" if result.from_store else "done", preset, spec, result)
        return result

    results: dict[str, list[RunResult]] = {}
    if executor is None or executor.workers <= 1:
        for preset, spec in members:
            results.setdefault(preset.name, []).append(one(preset, spec))
        return results
    # Parallel, the longest runs first, so that none is left training alone at the end while the
    # other workers idle. One run more than there are workers at a time: a worker that finishes finds
    # the next one queued, and the rest of the series neither polls the cluster (the workers' CPU)
    # nor crowds other sessions' trainings out of its queue. A spec asked for twice (by two
    # presets) trains once, and the second asker gets it as stored.
    distinct: dict[str, tuple[Preset, ExperimentSpec]] = {}
    for i in costliest_first([spec for _, spec in members]):
        distinct.setdefault(members[i][1].run_id, members[i])
    order = list(distinct.values())
    queued = [threading.Event() for _ in order]

    def in_turn(i: int, preset: Preset, spec: ExperimentSpec) -> RunResult:
        if i:  # into the executor's queue in this order (threads let go at once reach it in any order)
            queued[i - 1].wait(QUEUEING_SECONDS)
        return one(preset, spec, queued[i])

    firsts: dict[str, Future[RunResult]] = {}
    with ThreadPoolExecutor(max_workers=min(len(order), executor.workers + 1, MAX_SUBMITTING)) as pool:
        for i, (preset, spec) in enumerate(order):
            firsts[spec.run_id] = pool.submit(in_turn, i, preset, spec)
    seen: set[str] = set()
    for preset, spec in members:
        result = firsts[spec.run_id].result()  # raises the training's error, as in-process
        if spec.run_id in seen:
            result = store.get(spec) or result
            notify("skip", preset, spec, result)
        seen.add(spec.run_id)
        results.setdefault(preset.name, []).append(result)
    return results


def training_cost(spec: ExperimentSpec) -> int:
    """A rough cost of training ``spec``, to order runs by: multiply-adds per image times epochs.

    Enough to put series B's deep CNNs (4.7 million multiply-adds a digit,
    ``lab.architecture.multiply_adds``) before its MLPs (8,000-800,000).
    """
    return multiply_adds(spec) * spec.epochs


def costliest_first(specs: Sequence[ExperimentSpec]) -> list[int]:
    """Indices of ``specs`` in the order to hand them to parallel workers: the costliest training first.

    Scheduling the longest jobs first keeps the workers busy until the end (no long run left
    training alone); equal costs keep the given order. ``pretrain`` and the Techniques page
    on several workers both order a series by it.
    """
    return sorted(range(len(specs)), key=lambda i: -training_cost(specs[i]))
