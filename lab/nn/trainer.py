"""Train a spec: the fast, deterministic, observable trainer.

Whoever asked for a training observes it through one ``TrainingObserver``
(``lab.nn.observer``): ``on_progress`` receives an ``EpochReport`` every few dozen
batches (curves that grow while the class watches), ``on_epoch`` one per epoch,
and ``should_stop``, asked after every call into TensorFlow (a fraction of a
second apart, mid-epoch too), ends it; so does the time limit. A loss that becomes
NaN or infinite ends the run as *diverged*, keeping the history so far. The trainer
takes a ``CheckedSpec`` (``lab.architecture.check_network``): it checks nothing again.

A training stopped mid-epoch keeps the weights it reached, and its history records
that last epoch as an epoch run: its training figures are over the batches it
trained, its validation figures those of the weights kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lab.architecture import NUM_CLASSES, CheckedSpec, multiply_adds
from lab.data.prepare import Prepared, prepare
from lab.health.recorder import make_recorder
from lab.nn.forward import predict_probs
from lab.nn.loop import LOOPS, ArrayLoop
from lab.nn.model import build_model, compile_model
from lab.nn.observer import SILENT, TrainingObserver
from lab.nn.queue import TRAINING_QUEUE
from lab.nn.result import STOP_PRESSED, TIME_LIMIT, EpochReport, RunResult
from lab.nn.snapshots import SnapshotRecorder
from lab.spec import ExperimentSpec

# Several batches per call into TensorFlow: the course's small MLPs are
# dominated by per-batch Python overhead (see `python -m lab bench`).
STEPS_PER_EXECUTION = 32
# But Stop and the time limit are heard only between two calls: a call must stay well under a
# second. Training an image costs about 3 x its forward multiply-adds; this machine trains some
# 10-40 billion a second (a one-thread Ray worker the least), so a call gets at most this many.
MULTIPLY_ADDS_PER_CALL = 3_000_000_000
# A data loss this far above chance (cross-entropy 2.3, MSE 0.09) means the
# model is confidently wrong everywhere: only weights that blew up do that.
# Keras computes cross-entropy from the softmax's logits, so such a loss need
# never reach NaN. Regularization is added to the loss, so its starting size
# raises the limit, and so does a starting loss already near it (unscaled 0-255
# pixels give huge first logits that training brings down): see
# _Relay.on_train_begin.
EXPLODED_LOSS = {"softmax_ce": 20.0, "sigmoid_mse": 2.0}
PROBE_IMAGES = 256  # training images whose starting loss sets the divergence limit
# Batches between two reports within an epoch. Keras calls back only once per
# STEPS_PER_EXECUTION batches, so a report comes at the first call after this many.
# On the default setup (113 batches an epoch) that is 4 points an epoch, several a second.
REPORT_EVERY = 32
# ... or sooner, once this many seconds passed: a heavy network's 32 batches take seconds.
REPORT_SECONDS = 0.5

tf.config.experimental.enable_op_determinism()


class _Relay(keras.callbacks.Callback):
    """Collects the history, relays reports within and after each epoch to the observer, stops on request or on NaN."""

    def __init__(
        self,
        limit: float,
        epochs: int,
        observer: TrainingObserver,
        probe: tuple[np.ndarray, np.ndarray] | None = None,
        report_every: int = REPORT_EVERY,
        time_limit: float | None = None,
        steps_per_execution: int = 1,
    ):
        super().__init__()
        self.time_limit = time_limit
        self.steps_per_execution = steps_per_execution
        self.limit = limit
        self.probe = probe
        self.epochs = epochs
        self.observer = observer
        self.report_every = report_every
        self.history: dict[str, list[float]] = {}
        self.points: dict[str, list[float]] = {"epoch": [], "loss": [], "accuracy": []}
        self.diverged = False
        self.stopped = False
        self.stop_reason = ""
        self.start = 0.0
        self.epoch_index = 0  # 0-based epoch being trained
        self.reported_batches = 0  # batches of this epoch done at the last report
        self.reported_at = 0.0  # when the last report within an epoch was made (perf_counter)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()
        penalty = float(sum(float(loss) for loss in self.model.losses))
        loss, accuracy = self._starting_point()
        self.limit = max(self.limit, 2 * (loss - penalty if math.isfinite(loss) else 0.0)) + 10 * penalty
        if self.report_every and math.isfinite(loss):
            # The curve starts before the first batch (which waits for TensorFlow to trace the training step).
            self._add_point(0.0, {"loss": loss, "accuracy": accuracy})
            self._report(0, 0.0, {"loss": loss, "accuracy": accuracy}, self.observer.on_progress)

    def _starting_point(self) -> tuple[float, float]:
        """Loss (regularization included, as fit reports it) and accuracy of the untrained model on the probe.

        NaN without a probe.
        """
        if self.probe is None:
            return math.nan, math.nan
        x, y = self.probe
        y_pred = self.model(x, training=False)
        # The compiled loss, as fit reports it: from the softmax's logits, not clipped probabilities.
        loss = float(self.model.compute_loss(x=x, y=y, y_pred=y_pred))
        accuracy = float(np.mean(np.argmax(np.asarray(y_pred), axis=1) == np.argmax(y, axis=1)))
        return loss, accuracy

    def _add_point(self, progress: float, logs: dict[str, float]) -> None:
        self.points["epoch"].append(progress)
        for key in ("loss", "accuracy"):
            self.points[key].append(float(logs.get(key, math.nan)))

    def _report(self, epoch: int, progress: float, logs: dict[str, float], hook: Callable[[EpochReport], None]) -> None:
        """Hand ``hook`` a snapshot: the lists keep growing in this thread while a page reads them in its own."""
        elapsed = time.perf_counter() - self.start
        eta = elapsed / progress * (self.epochs - progress) if progress > 0 else math.nan
        hook(
            EpochReport(
                epoch,
                self.epochs,
                dict(logs),
                {k: list(v) for k, v in self.history.items()},
                elapsed,
                eta,
                progress,
                {k: list(v) for k, v in self.points.items()},
            )
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_index, self.reported_batches, self.reported_at = epoch, 0, time.perf_counter()

    def exploded(self, loss: float) -> bool:
        return exploded(loss, self.limit)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # Called after every call into TensorFlow (``batch`` is the last one done): cheap,
        # stops a blow-up, a Stop press or the time limit mid-epoch, and feeds the live curves.
        steps = (self.params or {}).get("steps")
        # Only where a call ends without snapshots too: the running loss of the first few steps
        # of a raw-pixel network can spike past the limit and come back, and a training must
        # not be called diverged (or stopped) where it would not be without its snapshots.
        regular = self._call_end(batch, steps)
        blew_up = regular and bool(logs) and self.exploded(float(logs.get("loss", 0.0)))
        if blew_up:
            self.diverged = True
            self.model.stop_training = True
        if not self.diverged and not self.stopped and not self._last_batches(batch, steps) and regular:
            self._stop_if_asked()
        if not self.report_every or not steps or not logs:
            return
        done = min(batch + 1, steps)
        due = (
            done - self.reported_batches >= self.report_every
            or time.perf_counter() - self.reported_at >= REPORT_SECONDS
        )
        # The point where the loss blew up is always kept: the curve shows the climb, and where it ended.
        if not due and done < steps and not blew_up:
            return
        self.reported_batches, self.reported_at = done, time.perf_counter()
        logs = {k: float(v) for k, v in logs.items()}
        progress = self.epoch_index + done / steps
        self._add_point(progress, logs)
        self._report(self.epoch_index, progress, logs, self.observer.on_progress)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.exploded(logs.get("loss", 0.0)):
            self.diverged = True
        done = epoch + 1
        # A run that blew up within this epoch did not finish it: its curve ends where it blew up.
        ended_early = self.diverged and self.points["epoch"] and self.points["epoch"][-1] > epoch
        if not ended_early and (not self.points["epoch"] or self.points["epoch"][-1] != done):
            self._add_point(float(done), logs)  # no within-epoch report reached the epoch's end
        for hook in (self.observer.on_epoch, self.observer.on_progress):
            self._report(done, float(done), logs, hook)
        if self.diverged or self.stopped:
            self.model.stop_training = True
        elif done < self.epochs:
            self._stop_if_asked()

    def _call_end(self, batch: int, steps: int | None) -> bool:
        """Whether ``batch`` ends one of the epoch's regular calls (``steps_per_execution`` batches each).

        The loop also ends calls where a snapshot is taken (steps 1, 2, 4 ... of epoch 1): Stop is
        not asked there, so that a training stops where it would without snapshots.
        """
        done = batch + 1
        return done % self.steps_per_execution == 0 or (steps is not None and done >= steps)

    def _last_batches(self, batch: int, steps: int | None) -> bool:
        """Whether ``batch`` ends the training's last epoch: it ends anyway, not stopped."""
        return self.epoch_index + 1 >= self.epochs and steps is not None and batch + 1 >= steps

    def _stop_if_asked(self) -> None:
        """End training now when Stop was pressed or the time limit reached; the run says why it ended."""
        if self.observer.should_stop():
            self.stopped, self.stop_reason = True, STOP_PRESSED
        elif self.out_of_time():
            # As a Stop press: what the training learned until now is kept.
            self.stopped, self.stop_reason = True, TIME_LIMIT
        if self.stopped:
            self.model.stop_training = True

    def out_of_time(self) -> bool:
        """Whether the training has run for its time limit (the server's longest training) or more."""
        return self.time_limit is not None and time.perf_counter() - self.start >= self.time_limit


def exploded(loss: float, limit: float) -> bool:
    """Whether a loss value means training diverged (NaN, infinite or above ``limit``)."""
    return not math.isfinite(loss) or loss > limit


def train(
    checked: CheckedSpec,
    observer: TrainingObserver = SILENT,
    *,
    time_limit: float | None = None,
    then: Callable[[RunResult], object] | None = None,
    report_every: int = REPORT_EVERY,
    steps_per_execution: int | None = None,
    record_health: bool = True,
    record_snapshots: bool = True,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RunResult:
    """Train a checked spec from scratch, in this process's training slot, and return its result (nothing is stored).

    Parameters
    ----------
    checked : CheckedSpec
        What to train, checked once by ``lab.architecture.check_network`` (not checked again here).
    observer : TrainingObserver
        Hears the training: ``on_queue`` while another training holds the slot, ``on_start``
        once this one holds it, ``on_progress`` for the untrained network (progress 0), every
        ``report_every`` batches within an epoch and after every epoch (live curves),
        ``on_epoch`` after every epoch; ``should_stop`` is asked after every call into
        TensorFlow (``steps_per_execution`` batches, mid-epoch too) and True ends training,
        keeping what was learned. Default: ``SILENT``.
    time_limit : float, optional
        Seconds of training (queue time and preparing the data excluded) after which it stops
        at the next call's end, as on a Stop press, marked ``stop_reason=TIME_LIMIT``; None: no limit.
    then : callable, optional
        Called with the result while this training still holds the slot (the run store's
        save): writing a Keras model while the next training builds its own fails now and then.
    report_every : int
        Batches between two reports within an epoch, rounded up to whole calls of
        ``steps_per_execution`` batches; 0 reports only at epochs' ends (and not at 0).
    steps_per_execution : int, optional
        Batches per TensorFlow call; 1 reproduces plain ``model.fit``. Default:
        :func:`steps_per_call` of the spec (32 for the course's MLPs, fewer for heavy CNNs).
    record_health : bool
        Record gradient and activation health (``lab.health.recorder``) into ``result.health``;
        off only to measure what recording costs.
    record_snapshots : bool
        Record the film of the network's inside (``lab.nn.snapshots``) into ``result.film``,
        each snapshot handed to ``observer.on_snapshot`` as it is taken; the numbers are the
        same either way. Off only to measure what recording costs.
    extra_callbacks : sequence of keras.callbacks.Callback
        More Keras callbacks (timing a benchmark ...).

    Raises
    ------
    ValueError
        For data that cannot be loaded.
    """
    if not isinstance(checked, CheckedSpec):  # a plain spec would fail later, and less clearly
        raise TypeError("train takes a CheckedSpec: lab.architecture.check_network(spec, param_budget).")
    with TRAINING_QUEUE.slot(checked.spec.summary(), observer):
        observer.on_start()
        # Prepared only now that its turn came: a training waiting in line holds no arrays.
        data = prepare(checked.spec)
        result = fit_prepared(
            checked,
            data,
            observer,
            time_limit=time_limit,
            report_every=report_every,
            steps_per_execution=steps_per_execution,
            record_health=record_health,
            record_snapshots=record_snapshots,
            extra_callbacks=extra_callbacks,
        )
        if then is not None:
            then(result)
        return result


def fit_prepared(
    checked: CheckedSpec,
    data: Prepared,
    observer: TrainingObserver = SILENT,
    *,
    time_limit: float | None = None,
    report_every: int = REPORT_EVERY,
    steps_per_execution: int | None = None,
    record_health: bool = True,
    record_snapshots: bool = True,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RunResult:
    """Train a checked spec on arrays already prepared, here and now: no queue.

    ``train`` calls it inside the training slot; benchmarks call it on arrays of
    their own (``lab.bench.workloads``). Keras' seed is process-wide, so whoever
    calls this directly must make sure no other training runs at the same time.

    Parameters
    ----------
    checked : CheckedSpec
        What to train (``lab.architecture.check_network``).
    data : Prepared
        The arrays to train, validate and test on.
    observer, time_limit, report_every, steps_per_execution, record_health, record_snapshots, extra_callbacks
        As in :func:`train` (``on_queue`` and ``on_start`` are not called: there is no queue here).
    """
    spec = checked.spec
    if steps_per_execution is None:
        steps_per_execution = steps_per_call(spec)
    keras.utils.set_random_seed(spec.seed)  # process-wide: hence the queue
    # No keras.backend.clear_session(): in Keras 3 it replaces the state of every thread, so a
    # prediction or a model being loaded on a page while this training starts would lose its
    # scopes mid-call. Every layer is named by layer_infos, and old models are freed by Python.
    model = compile_model(build_model(spec), spec, steps_per_execution)
    probe = (data.x_train[:PROBE_IMAGES], data.y_train[:PROBE_IMAGES])
    relay = _Relay(
        EXPLODED_LOSS[spec.output], spec.epochs, observer, probe, report_every, time_limit, steps_per_execution
    )
    callbacks: list[keras.callbacks.Callback] = [relay, *extra_callbacks]
    early = _early_stopping(spec)
    if early is not None:
        callbacks.append(early)
    recorder = make_recorder(spec, data) if record_health else None
    if recorder is not None:
        callbacks.append(recorder.callback())
    # After the relay: a snapshot within an epoch is skipped once the relay heard Stop.
    snapshots = SnapshotRecorder(spec, data, observer) if record_snapshots else None
    if snapshots is not None:
        callbacks.append(snapshots.callback())

    def build_copy() -> keras.Model:
        return compile_model(build_model(spec), spec, steps_per_execution)

    start = time.perf_counter()
    # A shape trained before in this process lends its traced loop: nothing to trace (lab.nn.loop).
    with LOOPS.lend(model, spec.batch_size, build_copy) as (loop, trained):
        loop.fit(
            data.x_train,
            data.y_train,
            epochs=spec.epochs,
            validation=(data.x_val, data.y_val),
            callbacks=callbacks,
            steps_per_execution=steps_per_execution,
            first_epoch_stops=snapshots.early if snapshots is not None else (),
        )
        seconds = time.perf_counter() - start
        test_loss, test_acc, probs = evaluate(loop.model, data, loop)
        model = trained()  # the result's own: never trained again
    history = relay.history
    epochs_run = len(history.get("loss", []))
    best_epoch = _best_epoch(spec, history) if early is not None and spec.es_restore_best else None
    if best_epoch is not None and epochs_run == spec.epochs and early is not None and early.stopped_epoch == 0:
        # Keras restores best weights only when it stopped early; keep what it kept.
        best_epoch = None
    return RunResult(
        spec=spec,
        history=history,
        test_loss=test_loss,
        test_accuracy=test_acc,
        confusion=confusion_matrix(data.labels_test, probs),
        test_probs=probs,
        epochs_run=epochs_run,
        best_epoch=best_epoch,
        train_seconds=seconds,
        diverged=relay.diverged,
        stopped=relay.stopped,
        stop_reason=relay.stop_reason,
        params=checked.params,
        mean=data.mean,
        health=recorder.summary() if recorder is not None else None,
        created=time.time(),
        points=relay.points,
        model_loader=lambda: model,  # the model is in memory already
        film_loader=(lambda film=snapshots.film(): film) if snapshots is not None else None,
    )


def steps_per_call(spec: ExperimentSpec) -> int:
    """Batches per call into TensorFlow for ``spec``: ``STEPS_PER_EXECUTION``, fewer where a call would be long.

    Stop and the time limit take effect between two calls, so a call gets at most
    ``MULTIPLY_ADDS_PER_CALL`` of training work (3 x forward multiply-adds x batch x steps):
    the default network and most presets keep 32 batches a call (their speed), C2 14, series
    B's deep CNNs 4, a network whose one batch is over it 1. The numbers are the same for any value.
    """
    per_batch = 3 * multiply_adds(spec) * spec.batch_size
    return max(1, min(STEPS_PER_EXECUTION, MULTIPLY_ADDS_PER_CALL // max(per_batch, 1)))


def _early_stopping(spec: ExperimentSpec) -> keras.callbacks.EarlyStopping | None:
    if not spec.early_stopping:
        return None
    return keras.callbacks.EarlyStopping(
        monitor=spec.es_monitor,
        patience=spec.early_stopping,
        min_delta=spec.es_min_delta,
        restore_best_weights=spec.es_restore_best,
        mode="max" if "accuracy" in spec.es_monitor else "min",
    )


def _best_epoch(spec: ExperimentSpec, history: dict[str, list[float]]) -> int | None:
    values = history.get(spec.es_monitor)
    if not values:
        return None
    arr = np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf if "accuracy" in spec.es_monitor else np.inf)
    return int(np.argmax(arr) if "accuracy" in spec.es_monitor else np.argmin(arr)) + 1


def evaluate(model: Any, data: Prepared, loop: ArrayLoop | None = None) -> tuple[float, float, np.ndarray]:
    """Test loss (with regularization, as Keras reports it), accuracy and probabilities.

    ``loop``, the one that trained ``model``, evaluates with the step it already traced for validation.
    """
    logs = (loop or ArrayLoop(model, 1)).evaluate(data.x_test, data.y_test)
    probs = predict_probs(model, data.x_test)
    return float(logs["loss"]), float(logs["accuracy"]), probs


def confusion_matrix(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(10, 10) counts: rows are true digits, columns predicted digits."""
    predicted = np.argmax(np.nan_to_num(probs), axis=1)
    counts = np.bincount(np.asarray(labels) * NUM_CLASSES + predicted, minlength=NUM_CLASSES * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES, NUM_CLASSES)
