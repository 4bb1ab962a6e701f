"""The one train-and-save path: train a spec, then keep it in the run store.

Jobs (the pages' background trainings), ``pretrain``, the command line and
the tests all come through here, so a run is stored the same way whoever
asked for it. The store itself only reads and writes runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.nn.result import RunResult
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

if TYPE_CHECKING:  # the executors call train_and_save: only their type is needed here
    from lab.runs.executor import Executor


def train_and_save(spec: ExperimentSpec, store: RunStore, **observers: Any) -> RunResult:
    """Train ``spec`` now and save the run in ``store``, whatever the store already holds.

    Parameters
    ----------
    spec : ExperimentSpec
        What to train.
    store : RunStore
        Where the finished run is written (a stored run of the same spec is replaced).
    **observers
        Passed to ``lab.nn.trainer.train``: ``on_epoch``, ``should_stop``, ``on_wait``, ``start``.

    Returns
    -------
    RunResult
        The fresh run, with its ``path`` in the store set.
    """
    # Imported here, not at the top: the trainer imports TensorFlow (3-4 s), which
    # pages that only read the store (and ``python -m lab runs``) never need.
    from lab.nn.trainer import train

    # Saved inside the training slot: the next training in this process waits until the model is written.
    return train(spec, then=store.save, **observers)


def stored_run(spec: ExperimentSpec, store: RunStore, *, retrain_stopped: bool = True) -> RunResult | None:
    """The one answer to "stored, or train?": the stored run that stands for ``spec``, or None to train it.

    A run stopped part-way (by a Stop press, the teacher, the time limit) does not stand
    for the spec when ``retrain_stopped``: pages, jobs and ``pretrain`` train it again.
    """
    stored = store.get(spec)
    return None if stored is None or (retrain_stopped and stored.stopped) else stored


def get_or_train(
    spec: ExperimentSpec,
    store: RunStore | None = None,
    *,
    retrain_stopped: bool = True,
    executor: Executor | None = None,
    **observers: Any,
) -> RunResult:
    """The stored run for ``spec``, or train it now and store it.

    Parameters
    ----------
    spec : ExperimentSpec
        What to train.
    store : RunStore, optional
        Where runs live (default: ``RunStore()``).
    retrain_stopped : bool
        Train again when the stored run was stopped by the user part-way.
    executor : Executor, optional
        Where to train (``lab.runs.executor``); default: here, now, in this process.
    **observers
        Passed to ``lab.nn.trainer.train`` (``on_epoch``, ``should_stop``, ``on_wait`` ...),
        or to the executor.

    Returns
    -------
    RunResult
        ``from_store`` says which of the two it was.
    """
    store = store if store is not None else RunStore()
    stored = stored_run(spec, store, retrain_stopped=retrain_stopped)
    if stored is not None:
        return stored
    if executor is not None:
        return executor.train_and_save(spec, store, **observers)
    return train_and_save(spec, store, **observers)
