"""Picking where trainings run, and getting a run: from the store, or trained by the engine picked.

Above both executors (``lab.runs.in_process``, ``lab.runs.ray_executor``): this
module imports them, they never import it (nor each other).
"""

from __future__ import annotations

from lab.architecture import CheckedSpec, check_network
from lab.nn.observer import SILENT, TrainingObserver
from lab.nn.result import RunResult
from lab.runs.engine import Executor
from lab.runs.in_process import InProcessExecutor
from lab.runs.store import RunStore
from lab.runs.training import stored_run
from lab.spec import ExperimentSpec


def make_executor(setting: str = "", *, num_cpus: int | None = None) -> Executor:
    """The executor a setting names; an unreachable cluster falls back to in-process with a notice.

    Parameters
    ----------
    setting : str
        ``""`` = in-process (nothing of Ray is imported); ``"local"`` = start an
        embedded Ray on this machine, one worker per core; ``"auto"`` or an
        address (``HOST:6379``, ``ray://HOST:10001``) = join a running cluster.
    num_cpus : int, optional
        Workers of an embedded Ray (default: this machine's cores).

    Returns
    -------
    Executor
        A ``RayExecutor``, or an ``InProcessExecutor`` whose ``notice`` says
        why Ray could not be used.
    """
    setting = setting.strip()
    if not setting:
        return InProcessExecutor()
    try:
        # Imported here: Ray (about 1 s to import, more to start) is only for servers configured to use it.
        from lab.runs.ray_executor import RayExecutor

        return RayExecutor.start(setting, num_cpus=num_cpus)
    except Exception as exc:  # noqa: BLE001 - any failure to start or reach Ray: train here, and say so
        where = "on this machine" if setting == "local" else f"at {setting}"
        return InProcessExecutor(
            notice=f"Could not start or reach the Ray cluster {where} ({type(exc).__name__}: {exc}). "
            "Trainings run on this server instead, one at a time."
        )


def get_or_train(
    spec: ExperimentSpec | CheckedSpec,
    store: RunStore | None = None,
    *,
    executor: Executor | None = None,
    observer: TrainingObserver = SILENT,
    retrain_stopped: bool = True,
    time_limit: float | None = None,
) -> RunResult:
    """The stored run for ``spec``, or train it now and store it.

    Parameters
    ----------
    spec : ExperimentSpec or CheckedSpec
        What to train. A plain spec is checked (``check_network``, the default budget)
        only when it must be trained: a stored run needs no check.
    store : RunStore, optional
        Where runs live (default: ``RunStore()``).
    executor : Executor, optional
        Where to train; default: here, now, in this process (``InProcessExecutor``).
    observer : TrainingObserver
        Hears the training, if there is one (``lab.nn.trainer.train``).
    retrain_stopped : bool
        Train again when the stored run was stopped by the user part-way.
    time_limit : float, optional
        Seconds of training after which it stops as on a Stop press (the server's limit).

    Returns
    -------
    RunResult
        ``from_store`` says which of the two it was.

    Raises
    ------
    ValueError
        For an invalid spec that must be trained, or data that cannot be loaded.
    """
    store = store if store is not None else RunStore()
    stored = stored_run(spec.spec if isinstance(spec, CheckedSpec) else spec, store, retrain_stopped=retrain_stopped)
    if stored is not None:
        return stored
    checked = spec if isinstance(spec, CheckedSpec) else check_network(spec)
    executor = executor if executor is not None else InProcessExecutor()
    return executor.train_and_save(checked, store, observer, time_limit=time_limit)
