"""Train course presets into the run store before class, so that pages show them at once.

``python -m lab pretrain`` (``lab.cli.pretrain``) and the reproduction document
(``lab.reports.reproduce``) both train through here; each run goes through the
one train-and-save path, ``lab.runs.training.get_or_train``. In-process the
runs train one after another; on an executor with several workers (Ray) they
are all submitted at once and train in parallel, as many as there are workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lab.catalog.presets import Preset
from lab.nn.result import RunResult
from lab.runs.executor import Executor
from lab.runs.store import RunStore
from lab.runs.training import get_or_train
from lab.spec import ExperimentSpec

PretrainEvent = Callable[[str, Preset, ExperimentSpec, Any], None]
"""``on_event(kind, preset, spec, payload)``: see ``pretrain``."""

MAX_SUBMITTING = 64  # threads that each follow one run on a parallel executor (the rest wait their turn)


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
        Where to train (``lab.runs.executor``); default: here, one run after another.

    Returns
    -------
    dict
        Preset name -> list of RunResult (one per member).
    """
    store = store if store is not None else RunStore()
    notify = on_event or (lambda *args: None)
    members = [(preset, spec) for preset in presets for spec in preset.member_specs()]

    def one(preset: Preset, spec: ExperimentSpec) -> RunResult:
        result = get_or_train(
            spec,
            store,
            executor=executor,
            start=lambda: notify("start", preset, spec, None),
            on_epoch=lambda report: notify("epoch", preset, spec, report),
        )
        notify("skip" if result.from_store else "done", preset, spec, result)
        return result

    results: dict[str, list[RunResult]] = {}
    if executor is None or executor.workers <= 1:
        for preset, spec in members:
            results.setdefault(preset.name, []).append(one(preset, spec))
        return results
    # Parallel: every distinct run at once (the executor's queue orders them); one spec asked
    # for twice (by two presets) trains once, and the second asker gets it as stored.
    firsts: dict[str, Future[RunResult]] = {}
    with ThreadPoolExecutor(max_workers=min(len(members), MAX_SUBMITTING)) as pool:
        for preset, spec in members:
            if spec.run_id not in firsts:
                firsts[spec.run_id] = pool.submit(one, preset, spec)
    seen: set[str] = set()
    for preset, spec in members:
        result = firsts[spec.run_id].result()  # raises the training's error, as in-process
        if spec.run_id in seen:
            result = store.get(spec) or result
            notify("skip", preset, spec, result)
        seen.add(spec.run_id)
        results.setdefault(preset.name, []).append(result)
    return results
