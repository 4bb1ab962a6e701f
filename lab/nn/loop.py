"""The trainer's loop: Keras' own training step, on the batches ``model.fit`` would draw, with less around it.

``model.fit`` on arrays builds a ``tf.data`` pipeline, traces its step inside a
while loop over an iterator (a ``tf.cond`` and optional values around every
batch), and validates through ``evaluate``, which traces a second such loop and
opens a new iterator every epoch. For the course's small MLPs those costs are
most of a short run (``python -m lab bench``). This loop keeps everything that
decides the numbers and drops the rest:

- the batches: each epoch's order is drawn by Keras' own array adapter, the
  shuffle ``fit`` draws with the same seed, and gathered from the arrays held
  as tensors;
- the step: ``model.train_step`` (forward pass, loss, gradients, optimizer,
  metrics), ``steps_per_execution`` batches per call in one traced
  ``tf.while_loop``;
- validation: ``model.test_step`` on batches of ``EVAL_BATCH`` images, as
  ``fit(validation_batch_size=EVAL_BATCH)`` runs it;
- callbacks: a ``keras.callbacks.CallbackList`` called as ``fit`` calls it
  (train begin and end, epoch begin and end with the same logs, batch begin and
  end around every call, ``model.stop_training`` checked after each).

Same spec and seed give the same history as ``model.fit`` (``tests/test_training.py``
checks it against a plain ``fit``). A loop holds its traced functions, and
``LOOPS`` keeps the loops of the last few model shapes trained: the next training of
such a shape (another seed, learning rate or number of epochs) traces nothing.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Keras' array adapter is what ``fit`` draws its batches with; nothing public exposes
# the order, and drawing it any other way would give other curves for the same seed.
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

from lab.nn.forward import EVAL_BATCH


def epoch_orders(n: int, batch_size: int) -> Iterator[tf.Tensor]:
    """The order in which ``model.fit`` visits ``n`` training images, epoch after epoch.

    Keras shuffles the indices once per epoch and cuts them into batches of
    ``batch_size`` (the last one shorter); each item here is one epoch's indices,
    batches one after another, as an int64 tensor of length ``n``. It depends on
    Keras' global seed exactly as ``fit`` does: call ``keras.utils.set_random_seed`` first.
    """
    del batch_size  # the shuffle is of all indices; batches are consecutive slices of it
    # The adapter shuffles the indices, then slices them into batches: asked for one batch of
    # all n, it hands over the whole shuffle in one piece (hundreds of small batches cost
    # about 0.1 s an epoch on A1).
    adapter = ArrayDataAdapter(np.arange(n, dtype=np.int64), batch_size=n, shuffle=True)
    dataset = adapter.get_tf_dataset()
    while True:
        yield next(iter(dataset))  # a new iterator per epoch, as fit opens one


class ArrayLoop:
    """Trains and evaluates one compiled Keras model on arrays, tracing its step once.

    Parameters
    ----------
    model : keras.Model
        A compiled model.
    batch_size : int
        Training batch size (part of the traced step).
    eval_batch : int
        Images per evaluation call.
    """

    def __init__(self, model: keras.Model, batch_size: int, eval_batch: int = EVAL_BATCH) -> None:
        self.model = model
        self.batch_size = int(batch_size)
        self.eval_batch = int(eval_batch)
        self._train: dict[int | None, Any] = {}  # traced training calls by static batch size
        self._test: dict[int | None, Any] = {}

    # ------------------------------------------------------------ traced steps
    def _train_function(self, x: tf.Tensor, y: tf.Tensor) -> Any:
        static = batch_dim(int(x.shape[0]), self.batch_size)
        if static not in self._train:
            model, batch_size = self.model, self.batch_size

            def train_steps(order: tf.Tensor, x: tf.Tensor, y: tf.Tensor, start: tf.Tensor, stop: tf.Tensor) -> Any:
                n = tf.shape(order, out_type=tf.int64)[0]

                def body(step: tf.Tensor) -> tuple[tf.Tensor]:
                    low = tf.cast(step, tf.int64) * batch_size
                    batch = order[low : tf.minimum(low + batch_size, n)]
                    x_batch, y_batch = tf.gather(x, batch), tf.gather(y, batch)
                    x_batch.set_shape((static, *x.shape[1:]))
                    y_batch.set_shape((static, *y.shape[1:]))
                    model.train_step((x_batch, y_batch))
                    return (step + 1,)

                tf.while_loop(lambda step: step < stop, body, (start,))
                return _metric_results(model)

            scalar = tf.TensorSpec((), tf.int32)
            # Any number of images (another data set, the same trace); autograph off: the loop
            # is written as a tf.while_loop, there is nothing to convert.
            signature = [tf.TensorSpec((None,), tf.int64), *_specs(x, y, None), scalar, scalar]
            self._train[static] = tf.function(train_steps, input_signature=signature, autograph=False)
        return self._train[static]

    def _test_function(self, x: tf.Tensor, y: tf.Tensor) -> Any:
        static = batch_dim(int(x.shape[0]), self.eval_batch)
        if static not in self._test:
            model = self.model
            self._test[static] = tf.function(
                lambda x, y: model.test_step((x, y)), input_signature=_specs(x, y, static), autograph=False
            )
        return self._test[static]

    # ------------------------------------------------------------ fit and evaluate
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        steps_per_execution: int = 32,
        first_epoch_stops: Collection[int] = (),
    ) -> None:
        """``model.fit(x, y, batch_size, epochs, validation_data=validation, callbacks=...)``, the same numbers.

        Parameters
        ----------
        x, y : np.ndarray
            Training inputs and one-hot targets.
        epochs : int
            Epochs to train (fewer when a callback sets ``model.stop_training``).
        validation : (np.ndarray, np.ndarray), optional
            Validation inputs and targets, evaluated after every epoch into ``val_*`` logs.
        callbacks : sequence of keras.callbacks.Callback
            Called as ``fit`` calls them; ``params`` holds ``epochs`` and ``steps`` (batches an epoch).
        steps_per_execution : int
            Batches per call into TensorFlow; callbacks see a batch end after each call.
        first_epoch_stops : collection of int
            In the first epoch, calls also end after these many batches, so that callbacks see
            those batch ends (snapshots after steps 1, 2, 4 ...). The same steps run in the same
            order either way: the numbers do not change.
        """
        model = self.model
        x_t, y_t = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
        n = int(x_t.shape[0])
        steps = -(-n // self.batch_size)
        train = self._train_function(x_t, y_t)
        val = None if validation is None else tuple(tf.convert_to_tensor(a) for a in validation)
        callback_list = keras.callbacks.CallbackList(
            list(callbacks), add_history=False, add_progbar=False, model=model, verbose=0, epochs=epochs, steps=steps
        )
        model.stop_training = False
        callback_list.on_train_begin()
        orders = epoch_orders(n, self.batch_size)
        epoch_logs: dict[str, float] = {}
        for epoch in range(epochs):
            model.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            order = next(orders)
            for begin, end in call_bounds(steps, steps_per_execution, first_epoch_stops if epoch == 0 else ()):
                callback_list.on_train_batch_begin(begin)
                logs = train(order, x_t, y_t, tf.constant(begin, tf.int32), tf.constant(end, tf.int32))
                callback_list.on_train_batch_end(end - 1, logs)
                if model.stop_training:
                    break
            epoch_logs = dict(model.get_metrics_result())
            if val is not None:
                epoch_logs.update({f"val_{k}": v for k, v in self._evaluate(*val).items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
        if epochs > 0:
            model.optimizer.finalize_variable_values(model.trainable_weights)  # as fit ends (EMA weights)
        callback_list.on_train_end(logs=epoch_logs)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """``model.evaluate(x, y, batch_size=eval_batch)`` as a dict: loss (regularization included), accuracy."""
        return self._evaluate(tf.convert_to_tensor(x), tf.convert_to_tensor(y))

    def _evaluate(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, float]:
        test = self._test_function(x, y)
        self.model.reset_metrics()
        for i in range(0, int(x.shape[0]), self.eval_batch):
            test(x[i : i + self.eval_batch], y[i : i + self.eval_batch])
        return dict(self.model.get_metrics_result())


def call_bounds(steps: int, steps_per_execution: int, stops: Collection[int] = ()) -> list[tuple[int, int]]:
    """(first batch, end) of each call into TensorFlow in an epoch of ``steps`` batches.

    Calls of ``steps_per_execution`` batches, cut also after each of ``stops`` batches.
    """
    ends = set(range(steps_per_execution, steps, steps_per_execution)) | {s for s in stops if 0 < s < steps}
    bounds = sorted(ends | {steps})
    return list(zip([0, *bounds[:-1]], bounds, strict=True))


def batch_dim(n: int, batch_size: int) -> int | None:
    """The batch size ``fit``'s data set declares for ``n`` images: fixed when they split into whole batches.

    Keras' batches then have a static size, else an unknown one (a shorter last batch).
    Batch normalization computes its statistics a little differently in the two cases
    (the last digits), so the traced step declares what ``fit``'s would.
    """
    return batch_size if n % batch_size == 0 else None


def _specs(x: tf.Tensor, y: tf.Tensor, batch: int | None) -> list[tf.TensorSpec]:
    return [tf.TensorSpec((batch, *x.shape[1:]), x.dtype), tf.TensorSpec((batch, *y.shape[1:]), y.dtype)]


def _metric_results(model: keras.Model) -> dict[str, tf.Tensor]:
    """The running loss and metrics, as the train step returns them (compiled metrics flattened)."""
    out: dict[str, tf.Tensor] = {}
    for metric in model.metrics:
        result = metric.result()
        out.update(result if isinstance(result, dict) else {metric.name: result})
    return out


# ---------------------------------------------------------------- loops kept by model shape
SHAPES_KEPT = 4  # model shapes whose traced loops a process keeps (a few MB each for the course's models)
# Config keys that only decide starting values, which a training copies in anyway: not part of a shape.
_STARTING_VALUES = ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer")
# Layers whose seed lives in a seed generator's state (copied in too): their seeds are not part of a shape.
_SEEDED_BY_STATE = ("Dropout", "GaussianNoise")


def shape_key(model: keras.Model, batch_size: int) -> str:
    """What decides a compiled model's traced steps: its layers, loss, optimizer and batch size.

    Left out are what a training sets before it starts: the starting weights (and so the
    initializers), dropout's seed (a seed generator's state), the learning rate (an
    optimizer variable) and the model's name.
    """

    def strip(value: Any, class_name: str = "") -> Any:
        if isinstance(value, dict):
            inner = value.get("class_name", class_name)
            return {
                k: strip(v, inner)
                for k, v in value.items()
                if k not in _STARTING_VALUES and not (k == "seed" and class_name in _SEEDED_BY_STATE)
            }
        if isinstance(value, (list, tuple)):
            return [strip(v, class_name) for v in value]
        return value

    config = dict(model.get_config())
    config.pop("name", None)
    optimizer = {k: v for k, v in model.optimizer.get_config().items() if k not in ("name", "learning_rate")}
    shape = {
        "model": strip(config),
        "optimizer": [type(model.optimizer).__name__, optimizer],
        "loss": str(model.loss),
        "metrics": [m.name for m in model.metrics],
        "batch_size": int(batch_size),
    }
    return json.dumps(shape, sort_keys=True, default=str)


class LoopCache:
    """The traced loops of the last ``size`` model shapes trained, lent to the next training of each shape.

    A traced graph holds the variables of the model it was traced on, so a kept
    loop keeps its model for itself, and nothing handed out is ever trained
    again: a training of a kept shape copies its freshly built model's starting
    state (weights drawn from the seed, batch-norm averages, dropout's seed
    state, the optimizer's fresh slots and learning rate) into the kept model,
    trains that one, and copies the trained weights back into the fresh model,
    which is the one its result keeps. A shape seen for the first time trains
    on its fresh model, which the cache then keeps; the result gets a copy.
    """

    def __init__(self, size: int = SHAPES_KEPT) -> None:
        self.size = size
        self._loops: OrderedDict[str, ArrayLoop] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every kept loop (the next training of any shape traces again)."""
        with self._lock:
            self._loops.clear()

    def __len__(self) -> int:
        return len(self._loops)

    @contextmanager
    def lend(
        self, fresh: keras.Model, batch_size: int, build_copy: Callable[[], keras.Model]
    ) -> Iterator[tuple[ArrayLoop, Callable[[], keras.Model]]]:
        """A loop to train ``fresh``'s training on, and what gives the trained model to keep.

        Parameters
        ----------
        fresh : keras.Model
            The compiled model the spec describes, just built (its weights drawn from the seed).
        batch_size : int
            Training batch size.
        build_copy : callable
            Builds and compiles another model of the same spec: the result's model when
            ``fresh`` itself stays in the cache.

        Yields
        ------
        (ArrayLoop, callable)
            The loop to call ``fit`` and ``evaluate`` on (its ``model`` is what trains), and,
            after training, a function that returns the trained model the caller may keep:
            nobody trains it again.
        """
        fresh.optimizer.build(fresh.trainable_variables)  # its fresh slots, to copy into a kept model
        key = shape_key(fresh, batch_size)
        with self._lock:
            loop = self._loops.pop(key, None)
        kept = loop is not None and _same_variables(loop.model, fresh)
        if kept:
            self.hits += 1
            _copy_state(fresh, loop.model)
        else:
            self.misses += 1
            loop = ArrayLoop(fresh, batch_size)

        def trained() -> keras.Model:
            if loop.model is fresh:  # fresh stays in the cache: hand out a copy of it
                copy = build_copy()
                _copy_variables(fresh.variables, copy.variables)
                return copy
            _copy_variables(loop.model.variables, fresh.variables)
            return fresh

        yield loop, trained
        with self._lock:
            self._loops[key] = loop
            while len(self._loops) > self.size:
                self._loops.popitem(last=False)


def _same_variables(a: keras.Model, b: keras.Model) -> bool:
    """Whether two models' variables and optimizer slots line up one for one."""
    pairs = [(a.variables, b.variables), (a.optimizer.variables, b.optimizer.variables)]
    return all(
        len(x) == len(y) and all(u.shape == v.shape and u.dtype == v.dtype for u, v in zip(x, y, strict=True))
        for x, y in pairs
    )


def _copy_state(source: keras.Model, target: keras.Model) -> None:
    """Everything a training starts from: weights, averages, seed states, optimizer slots and learning rate."""
    _copy_variables(source.variables, target.variables)
    _copy_variables(source.optimizer.variables, target.optimizer.variables)


def _copy_variables(source: Sequence[Any], target: Sequence[Any]) -> None:
    for s, t in zip(source, target, strict=True):
        t.assign(s)


LOOPS = LoopCache()
"""The process's loops by model shape (trainings are one at a time: ``lab.nn.queue``)."""
