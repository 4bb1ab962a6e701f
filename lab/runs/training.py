"""The one train-and-save path: train a checked spec, then keep it in the run store.

Every executor (``lab.runs.in_process``, ``lab.runs.ray_executor`` on its workers),
and through them jobs, ``pretrain``, the command line and the tests, come through
here, so a run is stored the same way whoever asked for it. The store itself only
reads and writes runs. This module knows no executor: they call it.
"""

from __future__ import annotations

from lab.architecture import CheckedSpec
from lab.nn.observer import SILENT, TrainingObserver
from lab.nn.result import RunResult
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec


def train_and_save(
    checked: CheckedSpec,
    store: RunStore,
    observer: TrainingObserver = SILENT,
    *,
    time_limit: float | None = None,
) -> RunResult:
    """Train ``checked`` now and save the run in ``store``, whatever the store already holds.

    Parameters
    ----------
    checked : CheckedSpec
        What to train (``lab.architecture.check_network``).
    store : RunStore
        Where the finished run is written (a stored run of the same spec is replaced).
    observer : TrainingObserver
        Hears the training (``lab.nn.trainer.train``).
    time_limit : float, optional
        Seconds of training after which it stops as on a Stop press (``lab.nn.trainer.train``).

    Returns
    -------
    RunResult
        The fresh run, with its ``path`` in the store set.
    """
    # Imported here, not at the top: the trainer imports TensorFlow (3-4 s), which
    # pages that only read the store (and ``python -m lab runs``) never need.
    from lab.nn.trainer import train

    # Saved inside the training slot: the next training in this process waits until the model is written.
    return train(checked, observer, time_limit=time_limit, then=store.save)


def stored_run(spec: ExperimentSpec, store: RunStore, *, retrain_stopped: bool = True) -> RunResult | None:
    """The one answer to "stored, or train?": the stored run that stands for ``spec``, or None to train it.

    A run stopped part-way (by a Stop press, the teacher, the time limit) does not stand
    for the spec when ``retrain_stopped``: pages, jobs and ``pretrain`` train it again.
    """
    stored = store.get(spec)
    return None if stored is None or (retrain_stopped and stored.stopped) else stored
