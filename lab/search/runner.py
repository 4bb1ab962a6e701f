"""Run a hyperparameter search on Ray Tune: Optuna's TPE (or random search) proposes, ASHA stops early.

Every trial is a training like any other (``lab.search.trial``): stored in the run
store under its spec's run id, reused by a later search, opened by the other
pages. The search decides on validation accuracy only; the test accuracy of the
best trial is read once, after the search has ended.

Reproducibility: the sampler is seeded, and with one trial at a time the
searcher and ASHA receive every result in the same order, so the same base,
space, budget and seed give the same trials. With several trials at once the
order in which results arrive depends on the workers' timing, which changes
what TPE proposes next and what ASHA compares at each rung (random search still
proposes the same settings, since it does not read results).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.nn.result import json_number
from lab.runs.limits import Limits
from lab.runs.store import RunStore
from lab.search.rows import TrialRow
from lab.search.space import SearchSpace
from lab.spec import ExperimentSpec

SEARCHERS = ("tpe", "random")
"""Optuna's Tree-structured Parzen Estimator, or plain random search (for comparison)."""

METRIC = "val_accuracy"

STORE_WAIT_SECONDS = 60.0  # a stopped trial's run is written as its worker ends: wait this long for it


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes
    ----------
    base : ExperimentSpec
        The spec it started from (with the budget's epochs).
    space : SearchSpace
        What it searched.
    trials : list of TrialRow
        Every trial, in the order they started.
    best : TrialRow or None
        The trial with the best validation accuracy among those that trained every
        epoch (any trial, if none did): see :func:`best_trial`; None when no trial reported.
    best_spec : ExperimentSpec or None
        The best trial's spec.
    test_accuracy : float
        The best trial's test accuracy, read once at the end (NaN without a best trial).
    importances : dict
        ``{knob: share}`` from Optuna's fANOVA importance over the trials, largest
        first; empty with fewer than two trials that reported.
    wall_seconds : float
        From the start of the search to its end.
    epochs_trained : int
        Epochs the trials ran (stored ones replayed included).
    epochs_budget : int
        Trials times epochs: what running every trial to its end would have cost.
    stopped_by_user : bool
        The search was stopped before its last trial ended.
    """

    base: ExperimentSpec
    space: SearchSpace
    trials: list[TrialRow]
    best: TrialRow | None
    best_spec: ExperimentSpec | None
    test_accuracy: float
    importances: dict[str, float]
    wall_seconds: float
    epochs_trained: int
    epochs_budget: int
    stopped_by_user: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``python -m lab tune --json`` prints."""
        return {
            "run_id": self.best.run_id if self.best else None,
            "spec": self.best_spec.to_dict() if self.best_spec else None,
            "val_accuracy": json_number(self.best.val_accuracy) if self.best else None,
            "test_accuracy": json_number(self.test_accuracy),
            "base_run_id": self.base.run_id,
            "search": self.space.text(),
            "importances": self.importances,
            "wall_seconds": round(self.wall_seconds, 2),
            "epochs_trained": self.epochs_trained,
            "epochs_budget": self.epochs_budget,
            "stopped_by_user": self.stopped_by_user,
            "trials": [t.as_dict() for t in self.trials],
        }


def best_trial(trials: list[TrialRow]) -> TrialRow | None:
    """The trial to keep: best validation accuracy among the finished ones (else among all), first on ties.

    The accuracy of the weights each run keeps (``TrialRow.val_accuracy``), whose test accuracy is then read.
    """
    reported = [t for t in trials if math.isfinite(t.val_accuracy) and t.state != "diverged"]
    finished = [t for t in reported if t.state == "finished"]
    pool = finished or reported
    return max(pool, key=lambda t: (t.val_accuracy, -t.number), default=None)


def importances(space: SearchSpace, trials: list[TrialRow], seed: int = 0) -> dict[str, float]:
    """How much each searched setting explains of the validation accuracy (Optuna's fANOVA), largest first.

    Built from an Optuna study of the trials that reported, each with its last
    validation accuracy, as the searcher saw it (an ASHA-stopped trial counts with
    what it reached before it was stopped). Empty with fewer than two such trials,
    or when every trial scored the same.
    """
    # Imported here: Optuna is only needed once a search has results.
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    done = [t for t in trials if math.isfinite(t.val_accuracy)]
    if len(done) < 2 or len({t.val_accuracy for t in done}) < 2:
        return {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = space.distributions()
    study = optuna.create_study(direction="maximize")
    for t in done:
        study.add_trial(
            optuna.trial.create_trial(
                params={k: t.params[k] for k in space.names},
                distributions=distributions,
                value=t.val_accuracy,
            )
        )
    try:
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    except (ValueError, RuntimeError):  # too little variety to fit the trees
        return {}
    return {name: float(share) for name, share in found.items()}


def ensure_ray(setting: str = "local", num_cpus: int | None = None) -> bool:
    """Start an embedded Ray (``local``) or join a cluster, unless Ray is running; returns whether it started one.

    The same Ray the executor uses (``lab.runs.ray_executor``): workers import this folder's lab.
    """
    # Imported here: Ray takes a second to import, and only a search needs it.
    import ray

    from lab.runs.ray_executor import start_ray

    if ray.is_initialized():
        return False
    start_ray(setting, num_cpus)
    return True


def workers_available() -> int:
    """Trials that can run at once on the Ray this process uses (one per CPU); 1 before Ray starts."""
    import ray

    if not ray.is_initialized():
        return 1
    return max(int(ray.cluster_resources().get("CPU", 1)), 1)


def run_search(
    base: ExperimentSpec,
    space: SearchSpace,
    *,
    trials: int,
    epochs: int,
    concurrency: int = 1,
    searcher: str = "tpe",
    seed: int = 0,
    store: RunStore | None = None,
    on_update: Callable[[list[TrialRow]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    grace_period: int = 1,
    reduction_factor: int = 3,
    param_budget: int | None = None,
    ray_setting: str = "local",
    num_cpus: int | None = None,
    limits: Limits | None = None,
) -> SearchResult:
    """Search ``space`` around ``base`` on Ray Tune and return what it found.

    Parameters
    ----------
    base : ExperimentSpec
        Every setting the search does not change; its ``epochs`` is replaced by ``epochs``.
    space : SearchSpace
        The knobs and their ranges (checked first: :meth:`SearchSpace.check`).
    trials : int
        Trainings to try.
    epochs : int
        The most epochs one trial trains (ASHA's ``max_t``).
    concurrency : int
        Trials at once (at most the workers: one per CPU).
    searcher : str
        ``tpe`` (Optuna's TPE, seeded) or ``random`` (Optuna's random sampler, seeded).
    seed : int
        The sampler's seed (each trial's training seed is the base's).
    store : RunStore, optional
        Where trials are stored (default ``RunStore()``); must be a folder every worker sees.
    on_update : callable, optional
        Receives the list of :class:`TrialRow` after every change (a trial started,
        reported an epoch, ended), in the caller's thread.
    should_stop : callable, optional
        Asked after every result; True stops every trial (each is stored as stopped).
    grace_period, reduction_factor : int
        ASHA's: epochs a trial always gets, and the fraction (1 / reduction_factor)
        of trials that go on at each rung.
    param_budget : int, optional
        The most weights a trial's network may have (default ``lab.architecture``'s).
    ray_setting : str
        ``local`` (an embedded Ray, unless one runs) or a cluster address.
    num_cpus : int, optional
        Workers of an embedded Ray (default: every core).
    limits : Limits, optional
        A server's limits (``lab.runs.limits``): the search's trial-epochs and epochs
        (``Limits.check_search``), every trial's network at the ranges' largest (``Limits.check``,
        instead of ``param_budget``), and each trial's time limit. None: the command line's own.

    Raises
    ------
    ValueError
        For a bad budget, searcher or space (see :meth:`SearchSpace.check`), or a search beyond
        ``limits`` (``lab.runs.limits.LimitExceeded``, naming the limit).
    """
    if searcher not in SEARCHERS:
        raise ValueError(f"searcher must be one of {', '.join(SEARCHERS)}, not {searcher!r}.")
    if trials < 1 or epochs < 1 or concurrency < 1:
        raise ValueError("Trials, epochs per trial and trials at once must each be at least 1.")
    base = base.replace(epochs=int(epochs))
    from lab.architecture import DEFAULT_PARAM_BUDGET

    if limits is not None:
        limits.check_search(trials, epochs)
        space.check(base, check_spec=limits.check)
    else:
        space.check(base, param_budget or DEFAULT_PARAM_BUDGET)
    time_limit = limits.max_train_seconds if limits is not None else None
    store = store if store is not None else RunStore()
    store.home.mkdir(parents=True, exist_ok=True)
    home = str(store.home.resolve())
    # No CSV/JSON/TensorBoard logs per trial: the run store keeps what matters.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    ensure_ray(ray_setting, num_cpus)

    # Imported here: Ray Tune and Optuna load in seconds, only for a search.
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from lab.search.hooks import TABLES, SearchTable, UserStop, Watch
    from lab.search.trial import SearchTrial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tune looks for the per-trial log files switched off above and warns that they are missing.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    sampler = optuna.samplers.TPESampler(seed=seed) if searcher == "tpe" else optuna.samplers.RandomSampler(seed=seed)
    search_alg = OptunaSearch(space.distributions(), metric=METRIC, mode="max", sampler=sampler)
    scheduler = ASHAScheduler(
        time_attr="epoch",
        metric=METRIC,
        mode="max",
        max_t=epochs,
        grace_period=min(grace_period, epochs),
        reduction_factor=reduction_factor,
    )
    key = uuid.uuid4().hex
    table = TABLES[key] = SearchTable(space, base, epochs, on_update, should_stop)
    # Tune hears a Stop only with a trial's next result (an epoch's end): the trials also watch this file,
    # which the driver writes the moment Stop is pressed, and stop within a second, mid-epoch.
    stop_file = store.home / f".stop-{key}"
    watcher = _StopWatcher(should_stop, stop_file).start()
    trainable = tune.with_resources(
        tune.with_parameters(
            SearchTrial,
            base_json=base.to_json(),
            space_text=space.text(),
            home=home,
            time_limit=time_limit,
            stop_file=str(stop_file),
        ),
        {"cpu": 1},
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlp-lab-tune-") as tune_dir:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=search_alg,
                scheduler=scheduler,
                num_samples=trials,
                max_concurrent_trials=max(1, min(concurrency, workers_available())),
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name="search",
                storage_path=tune_dir,
                verbose=0,
                callbacks=[Watch(key)],
                stop=UserStop(key),
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
            ),
        )
        try:
            tuner.fit()
        finally:
            TABLES.pop(key, None)
            watcher.close()
    wall = time.perf_counter() - start
    rows = table.ordered()
    for row in rows:
        if row.state == "running":  # ended by the user's Stop before Tune said it completed
            row.state = "stopped"
    _wait_for_store(store, rows)
    _states_from_store(store, rows)
    table.tell()
    best = best_trial(rows)
    best_spec = space.apply(base, best.params) if best else None
    stored = store.get(best_spec) if best_spec is not None else None
    # The one look at the test set: the best trial's, after the search.
    test_accuracy = stored.test_accuracy if stored is not None else math.nan
    return SearchResult(
        base=base,
        space=space,
        trials=rows,
        best=best,
        best_spec=best_spec,
        test_accuracy=test_accuracy,
        importances=importances(space, rows, seed),
        wall_seconds=wall,
        epochs_trained=sum(r.epoch for r in rows),
        epochs_budget=trials * epochs,
        stopped_by_user=table.stopped_by_user,
    )


class _StopWatcher:
    """Writes ``stop_file`` as soon as ``should_stop`` says so (polled 5 times a second); removed at the end."""

    POLL_SECONDS = 0.2

    def __init__(self, should_stop: Callable[[], bool] | None, stop_file: Path) -> None:
        self.should_stop, self.stop_file = should_stop, stop_file
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="mlp-lab-search-stop", daemon=True)

    def start(self) -> _StopWatcher:
        if self.should_stop is not None:
            self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.done.wait(self.POLL_SECONDS):
            if self.should_stop():
                self.stop_file.touch()
                return

    def close(self) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join()
        self.stop_file.unlink(missing_ok=True)


def _states_from_store(store: RunStore, rows: list[TrialRow]) -> None:
    """Each trained trial's final state as its stored run says it.

    Tune only tells that a trial ended before its last epoch; whether ASHA stopped it
    or it diverged (a blow-up the trainer ends by itself) is in the run, and so is the
    epoch a Stop let it finish.
    """
    for row in rows:
        stored = store.get(row.run_id) if row.curve and not row.reused else None
        if stored is not None:
            row.state = "diverged" if stored.diverged else "stopped" if stored.stopped else "finished"
            row.kept_epoch = stored.best_epoch
            # A trial stopped by the user finishes the epoch it was in, which Tune never heard of.
            row.epoch = stored.epochs_run
            row.curve = list(stored.history.get(METRIC, row.curve))


def _wait_for_store(store: RunStore, rows: list[TrialRow]) -> None:
    """Wait until every trial that reported is in the store (a stopped trial is written as its worker ends)."""
    deadline = time.monotonic() + STORE_WAIT_SECONDS
    for row in rows:
        if not row.curve:
            continue
        while not (Path(store.home) / row.run_id / "result.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
