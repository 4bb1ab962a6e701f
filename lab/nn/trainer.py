"""Train a spec: the fast, deterministic, observable trainer.

Pages observe training through ``on_progress`` (a plain function that receives an
``EpochReport`` every few dozen batches, for curves that grow while the class
watches) or ``on_epoch`` (one report per epoch), and stop it through
``should_stop``, asked between epochs. A loss that becomes NaN or infinite
ends the run as *diverged*, keeping the history so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lab.architecture import DEFAULT_PARAM_BUDGET, NUM_CLASSES, count_params, validate_network
from lab.data.prepare import Prepared, prepare
from lab.health.recorder import make_recorder
from lab.nn.forward import predict_probs
from lab.nn.loop import LOOPS, ArrayLoop
from lab.nn.model import build_model, compile_model
from lab.nn.queue import TRAINING_QUEUE
from lab.nn.result import STOP_PRESSED, TIME_LIMIT, EpochReport, RunResult
from lab.spec import ExperimentSpec

# Several batches per call into TensorFlow: the course's small MLPs are
# dominated by per-batch Python overhead (see `python -m lab bench`).
STEPS_PER_EXECUTION = 32
# A data loss this far above chance (cross-entropy 2.3, MSE 0.09) means the
# model is confidently wrong everywhere: only weights that blew up do that.
# Keras computes cross-entropy from the softmax's logits, so such a loss need
# never reach NaN. Regularization is added to the loss, so its starting size
# raises the limit, and so does a starting loss already near it (unscaled 0-255
# pixels give huge first logits that training brings down): see
# _Observer.on_train_begin.
EXPLODED_LOSS = {"softmax_ce": 20.0, "sigmoid_mse": 2.0}
PROBE_IMAGES = 256  # training images whose starting loss sets the divergence limit
# Batches between two reports within an epoch. Keras calls back only once per
# STEPS_PER_EXECUTION batches, so a report comes at the first call after this many.
# On the default setup (113 batches an epoch) that is 4 points an epoch, several a second.
REPORT_EVERY = 32

tf.config.experimental.enable_op_determinism()


class _Observer(keras.callbacks.Callback):
    """Collects the history, reports within and after each epoch, stops on request or on NaN."""

    def __init__(
        self,
        limit: float,
        epochs: int,
        on_epoch: Callable[[EpochReport], None] | None,
        should_stop: Callable[[], bool] | None,
        probe: tuple[np.ndarray, np.ndarray] | None = None,
        on_progress: Callable[[EpochReport], None] | None = None,
        report_every: int = REPORT_EVERY,
        time_limit: float | None = None,
    ):
        super().__init__()
        self.time_limit = time_limit
        self.limit = limit
        self.probe = probe
        self.epochs = epochs
        self.on_epoch = on_epoch
        self.on_progress = on_progress
        self.report_every = report_every
        self.should_stop = should_stop
        self.history: dict[str, list[float]] = {}
        self.points: dict[str, list[float]] = {"epoch": [], "loss": [], "accuracy": []}
        self.diverged = False
        self.stopped = False
        self.stop_reason = ""
        self.start = 0.0
        self.epoch_index = 0  # 0-based epoch being trained
        self.reported_batches = 0  # batches of this epoch done at the last report

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()
        penalty = float(sum(float(loss) for loss in self.model.losses))
        loss, accuracy = self._starting_point()
        self.limit = max(self.limit, 2 * (loss - penalty if math.isfinite(loss) else 0.0)) + 10 * penalty
        if self.on_progress is not None and self.report_every and math.isfinite(loss):
            # The curve starts before the first batch (which waits for TensorFlow to trace the training step).
            self._add_point(0.0, {"loss": loss, "accuracy": accuracy})
            self._report(0, 0.0, {"loss": loss, "accuracy": accuracy}, self.on_progress)

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

    def _report(
        self, epoch: int, progress: float, logs: dict[str, float], observer: Callable[[EpochReport], None]
    ) -> None:
        """Hand ``observer`` a snapshot: the lists keep growing in this thread while a page reads them in its own."""
        elapsed = time.perf_counter() - self.start
        eta = elapsed / progress * (self.epochs - progress) if progress > 0 else math.nan
        observer(
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
        self.epoch_index, self.reported_batches = epoch, 0

    def exploded(self, loss: float) -> bool:
        return exploded(loss, self.limit)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # Called every STEPS_PER_EXECUTION batches (``batch`` is the last one done): cheap,
        # stops a blow-up mid-epoch, and feeds the live curves.
        if logs and self.exploded(float(logs.get("loss", 0.0))):
            self.diverged = True
            self.model.stop_training = True
        steps = (self.params or {}).get("steps")
        if self.on_progress is None or not self.report_every or not steps or not logs:
            return
        done = min(batch + 1, steps)
        if done - self.reported_batches < self.report_every and done < steps:
            return
        self.reported_batches = done
        logs = {k: float(v) for k, v in logs.items()}
        progress = self.epoch_index + done / steps
        self._add_point(progress, logs)
        self._report(self.epoch_index, progress, logs, self.on_progress)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.exploded(logs.get("loss", 0.0)):
            self.diverged = True
        done = epoch + 1
        if not self.points["epoch"] or self.points["epoch"][-1] != done:
            self._add_point(float(done), logs)  # no within-epoch report reached the epoch's end
        for observer in (self.on_epoch, self.on_progress):
            if observer is not None:
                self._report(done, float(done), logs, observer)
        if self.diverged:
            self.model.stop_training = True
        elif self.should_stop is not None and done < self.epochs and self.should_stop():
            self.stopped, self.stop_reason = True, STOP_PRESSED
            self.model.stop_training = True
        elif self.out_of_time() and done < self.epochs:
            # As a Stop press: the epoch that crossed the limit is kept, and the run says why it ended.
            self.stopped, self.stop_reason = True, TIME_LIMIT
            self.model.stop_training = True

    def out_of_time(self) -> bool:
        """Whether the training has run for its time limit (the server's longest training) or more."""
        return self.time_limit is not None and time.perf_counter() - self.start >= self.time_limit


def exploded(loss: float, limit: float) -> bool:
    """Whether a loss value means training diverged (NaN, infinite or above ``limit``)."""
    return not math.isfinite(loss) or loss > limit


def train(
    spec: ExperimentSpec,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_progress: Callable[[EpochReport], None] | None = None,
    report_every: int = REPORT_EVERY,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[int, str], None] | None = None,
    start: Callable[[], None] | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    steps_per_execution: int = STEPS_PER_EXECUTION,
    record_health: bool = True,
    time_limit: float | None = None,
    param_budget: int = DEFAULT_PARAM_BUDGET,
    then: Callable[[RunResult], object] | None = None,
) -> RunResult:
    """Train ``spec`` from scratch and return its result (nothing is stored).

    Parameters
    ----------
    spec : ExperimentSpec
        What to train; validated first.
    on_epoch : callable, optional
        Receives an ``EpochReport`` after every epoch (progress lines).
    on_progress : callable, optional
        Receives an ``EpochReport`` for the untrained network (progress 0), every
        ``report_every`` batches within an epoch, and after every epoch: live curves.
    report_every : int
        Batches between two reports within an epoch, rounded up to whole calls of
        ``steps_per_execution`` batches; 0 reports only at epochs' ends (and not at 0).
    should_stop : callable, optional
        Asked between epochs; returning True ends training, keeping what was learned.
    on_wait : callable, optional
        ``on_wait(place, running)`` while another training holds the slot.
    start : callable, optional
        Called once this training holds the slot and begins.
    extra_callbacks : sequence of keras.callbacks.Callback
        More observers (gradient health ...).
    steps_per_execution : int
        Batches per TensorFlow call; 1 reproduces plain ``model.fit``.
    record_health : bool
        Record gradient and activation health (``lab.health.recorder``) into ``result.health``;
        off only to measure what recording costs.
    time_limit : float, optional
        Seconds of training (queue time excluded) after which it stops at the end of
        the epoch, as on a Stop press, marked ``stop_reason=TIME_LIMIT``; None: no limit.
    param_budget : int
        The most weights the network may have (``lab.architecture.validate_network``).
    then : callable, optional
        Called with the result while this training still holds the slot (the run store's
        save): writing a Keras model while the next training clears Keras' process-wide
        session and builds its own fails now and then.

    Raises
    ------
    ValueError
        For an invalid spec or data that cannot be loaded.
    """
    validate_network(spec, param_budget)
    data = prepare(spec)
    with TRAINING_QUEUE.slot(spec.summary(), on_wait):
        if start is not None:
            start()
        result = fit_prepared(
            spec,
            data,
            on_epoch=on_epoch,
            on_progress=on_progress,
            report_every=report_every,
            should_stop=should_stop,
            extra_callbacks=extra_callbacks,
            steps_per_execution=steps_per_execution,
            record_health=record_health,
            time_limit=time_limit,
        )
        if then is not None:
            then(result)
        return result


def fit_prepared(
    spec: ExperimentSpec,
    data: Prepared,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_progress: Callable[[EpochReport], None] | None = None,
    report_every: int = REPORT_EVERY,
    should_stop: Callable[[], bool] | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    steps_per_execution: int = STEPS_PER_EXECUTION,
    record_health: bool = True,
    time_limit: float | None = None,
) -> RunResult:
    """Train ``spec`` on arrays already prepared, here and now: no validation, no queue.

    ``train`` calls it inside the training slot; benchmarks call it on arrays of
    their own (``lab.bench.workloads``). Keras' seed is process-wide, so whoever
    calls this directly must make sure no other training runs at the same time.

    Parameters
    ----------
    spec : ExperimentSpec
        What to train (a valid spec: see ``lab.architecture.validate_network``).
    data : Prepared
        The arrays to train, validate and test on.
    on_epoch, on_progress, report_every, should_stop, extra_callbacks, steps_per_execution, record_health, time_limit
        As in :func:`train`.
    """
    keras.utils.set_random_seed(spec.seed)  # process-wide: hence the queue
    # No keras.backend.clear_session(): in Keras 3 it replaces the state of every thread, so a
    # prediction or a model being loaded on a page while this training starts would lose its
    # scopes mid-call. Every layer is named by layer_infos, and old models are freed by Python.
    model = compile_model(build_model(spec), spec, steps_per_execution)
    probe = (data.x_train[:PROBE_IMAGES], data.y_train[:PROBE_IMAGES])
    observer = _Observer(
        EXPLODED_LOSS[spec.output], spec.epochs, on_epoch, should_stop, probe, on_progress, report_every, time_limit
    )
    callbacks: list[keras.callbacks.Callback] = [observer, *extra_callbacks]
    early = _early_stopping(spec)
    if early is not None:
        callbacks.append(early)
    recorder = make_recorder(spec, data) if record_health else None
    if recorder is not None:
        callbacks.append(recorder.callback())

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
        )
        seconds = time.perf_counter() - start
        test_loss, test_acc, probs = evaluate(loop.model, data, loop)
        model = trained()  # the result's own: never trained again
    history = observer.history
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
        diverged=observer.diverged,
        stopped=observer.stopped,
        stop_reason=observer.stop_reason,
        params=count_params(spec),
        mean=data.mean,
        health=recorder.summary() if recorder is not None else None,
        created=time.time(),
        model_loader=lambda: model,  # the model is in memory already
    )


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
