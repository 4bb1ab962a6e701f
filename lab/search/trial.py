"""One trial of a search on a Ray Tune worker: a training like any other, one epoch per Tune step.

Imported by Ray Tune's trial actors (and by ``lab.search.runner``), never by pages: it imports Ray.

Why a class trainable with the training in a thread, rather than a function that
reports from Keras' callback: when ASHA stops a trial, Tune stops its actor, and a
function trainable is cut off inside its report, never to store anything. Here
the training waits after each epoch until Tune asks for the next one (``step``);
when Tune stops the trial instead (``cleanup``, or ``reset_config`` when the actor
is reused for the next trial), the trainer is told to stop, and it stores the run
as *stopped*, with the epochs it trained, exactly as a student's Stop would. A
trial therefore never trains an epoch past the one ASHA judged.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from pathlib import Path
from typing import Any

from ray import tune

from lab.architecture import check_network
from lab.nn.observer import TrainingObserver
from lab.nn.result import EpochReport, RunResult
from lab.runs.ray_executor import configure_worker
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.search.space import SearchSpace
from lab.spec import ExperimentSpec

METRIC = "val_accuracy"
STOP_LOOK_SECONDS = 0.25  # how often a training trial looks for its search's stop file
"""What the searcher and ASHA maximize: validation accuracy (the test set is never looked at)."""

_FINISHED = object()  # the training thread's last message: the run is stored


def trial_spec(base_json: str, space_text: str, config: dict[str, Any]) -> ExperimentSpec:
    """The spec one trial trains: the base with the searcher's values (``config``) set."""
    space = SearchSpace.parse(space_text)
    return space.apply(ExperimentSpec.from_json(base_json), {k: config[k] for k in space.names if k in config})


def score(value: float | None) -> float:
    """A validation accuracy as the searcher takes it: a diverged network's NaN counts as 0."""
    return float(value) if value is not None and math.isfinite(value) else 0.0


class _StepByStep(TrainingObserver):
    """A trial's training, observed: each new epoch goes to Tune, then it waits for the next step or the stop."""

    def __init__(
        self,
        messages: queue.Queue[Any],
        resume: threading.Semaphore,
        stop: threading.Event,
        skip: int,
        stop_file: str = "",
    ):
        self.messages, self.resume, self.stop, self.skip = messages, resume, stop, skip
        self.stop_file = Path(stop_file) if stop_file else None
        self.looked = 0.0  # when the stop file was last looked for

    def on_epoch(self, report: EpochReport) -> None:
        """Hand Tune the epoch, unless an earlier training of this spec did (``skip``); wait for the next step."""
        if report.epoch <= self.skip:
            return  # the same spec and seed give the same epochs again: already told
        self.messages.put(report)
        if report.epoch < report.epochs:
            self.resume.acquire()  # wait for Tune: the next step, or the stop

    def should_stop(self) -> bool:
        """Tune ended the trial (ASHA, the end of the search), or the search's Stop was pressed (its stop file).

        Asked after every call into TensorFlow, so the file is looked for at most every ``STOP_LOOK_SECONDS``.
        """
        if self.stop.is_set():
            return True
        now = time.monotonic()
        if self.stop_file is None or now - self.looked < STOP_LOOK_SECONDS:
            return False
        self.looked = now
        return self.stop_file.exists()


class SearchTrial(tune.Trainable):
    """A Tune trainable that trains (or replays from the store) one spec, one epoch per step."""

    def setup(
        self,
        config: dict[str, Any],
        base_json: str = "",
        space_text: str = "",
        home: str = "",
        time_limit: float | None = None,
        stop_file: str = "",
    ) -> None:
        """Remember what every trial of this search shares (the server's time limit of a training too, and the
        file the search's Stop writes), then start."""
        configure_worker()  # one TensorFlow thread: one trial per core, the same curves on any worker
        self.base_json, self.space_text, self.home = base_json, space_text, home
        self.time_limit, self.stop_file = time_limit, stop_file
        self._begin(config)

    def _begin(self, config: dict[str, Any]) -> None:
        self.spec = trial_spec(self.base_json, self.space_text, config)
        self.store = RunStore(self.home)
        self.reported = 0  # epochs handed to Tune so far
        self.thread: threading.Thread | None = None
        self.messages: queue.Queue[Any] = queue.Queue()
        self.resume = threading.Semaphore(0)
        self.stop_flag = threading.Event()
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        stored = self.store.get(self.spec)
        # A stored run is replayed epoch by epoch: a second search reuses what was trained, and the
        # searcher and ASHA see the same numbers as the first time. A stopped one is trained again
        # only if this search wants more epochs of it than it has.
        self.stored = stored
        self.replay = stored.history.get(METRIC, []) if stored is not None else []
        if stored is None:
            self._start_training(skip=0)

    def _start_training(self, skip: int) -> None:
        """Train in a thread; the first ``skip`` epochs were already reported (from a stopped stored run)."""

        observer = _StepByStep(self.messages, self.resume, self.stop_flag, skip, self.stop_file)

        def work() -> None:
            try:
                # Checked here, the trial's one seam: the runner checked only the ranges' ends.
                checked = check_network(self.spec)
                self.result = train_and_save(checked, self.store, observer, time_limit=self.time_limit)
            except BaseException as exc:  # noqa: BLE001 - raised again in step()
                self.error = exc
            self.messages.put(_FINISHED)

        self.stored = None
        self.thread = threading.Thread(target=work, name=f"trial-{self.spec.run_id}", daemon=True)
        self.thread.start()

    def step(self) -> dict[str, Any]:
        """Hand Tune the next epoch's validation accuracy (training it, or reading it from the store)."""
        if self.stored is not None and self.reported < len(self.replay):
            self.reported += 1
            last = self.reported == len(self.replay)
            done = last and (not self.stored.stopped or self.stored.diverged or self.reported >= self.spec.epochs)
            return self._row(self.replay[self.reported - 1], done, reused=True, diverged=last and self.stored.diverged)
        if self.thread is None:  # a stopped stored run that this search takes further: train it now
            self._start_training(skip=self.reported)
        elif self.reported:
            self.resume.release()  # Tune wants another epoch
        message = self.messages.get()
        if message is _FINISHED:  # ended between epochs: diverged, or an error
            if self.error is not None:
                raise self.error
            result = self.result
            values = result.history.get(METRIC, [math.nan]) if result is not None else [math.nan]
            return self._row(values[-1], True, diverged=bool(result and result.diverged), repeat=True)
        self.reported = message.epoch
        return self._row(message.logs.get(METRIC, math.nan), message.epoch >= self.spec.epochs)

    def _row(
        self, value: float, done: bool, *, reused: bool = False, diverged: bool = False, repeat: bool = False
    ) -> dict[str, Any]:
        return {
            METRIC: score(value),
            "raw_val_accuracy": value if math.isfinite(value) else None,
            "epoch": self.reported,
            "run_id": self.spec.run_id,
            "reused": reused,
            "diverged": diverged,
            "repeat": repeat,  # the last epoch again, to say the training ended (diverged)
            "done": done,
        }

    def _finish(self) -> None:
        """End this trial: a training still running stops (within a second) and is stored as stopped."""
        if self.thread is not None:
            self.stop_flag.set()
            self.resume.release()
            self.thread.join()
            self.thread = None

    def cleanup(self) -> None:
        """Tune stops the trial (finished, or stopped by ASHA or by the user): store what was trained."""
        self._finish()

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Reuse this worker for the next trial (TensorFlow stays imported): end this one, begin the next."""
        self._finish()
        self._begin(new_config)
        return True
