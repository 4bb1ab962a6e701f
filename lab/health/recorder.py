"""Gradient health: vanishing and exploding gradients, recorded as a network trains.

A ``HealthRecorder`` looks at the network once before training (epoch 0: the
initializer alone) and once at the end of every epoch, always on the same
*probe batch* of training images (``PROBE_SIZE``, or ``CONV_PROBE_SIZE`` for a
convolutional network). Per layer it records:

grad_norm
    L2 norm of the gradient of the data loss (cross-entropy or MSE, averaged
    over the probe batch; the L2 penalty's own pull is left out) with respect
    to the layer's kernel. Gradients are taken in **training mode**, as the
    optimizer sees them: batch normalization normalizes with the probe batch's
    own statistics and dropout drops units. They are computed with Keras'
    ``stateless_call``, so neither the moving averages of batch normalization
    nor the dropout random generators move: training goes on exactly as if
    nothing had looked.
update_ratio
    ``||W_epoch - W_previous|| / ||W_previous||``: how much the epoch really
    changed the kernel, measured, not estimated (so it is right for Adam
    too). None at epoch 0. Healthy training is often quoted near 1e-3 per
    step; per epoch it is larger.
act_mean, act_std, saturated, dead, hist
    Statistics of the layer's activation output in **inference mode**
    (``training=False``: batch normalization uses its moving averages, dropout
    is off), through a Keras sub-model built once at the start of training.
    ``saturated`` is the share of outputs stuck near an asymptote (sigmoid
    below 0.05 or above 0.95, tanh beyond +-0.95), ``dead`` the share of ReLU
    units (a convolution's filters) that output 0 for every probe image, and
    ``hist`` the share of outputs in each of ``HIST_BINS`` fixed bins.

A network without batch norm, dropout or augmentation computes the same in
both modes, so one pass gives gradients and activations. Statistics are then
taken with numpy. Cost: a few tenths of a second
once, then 5-30 ms an epoch; measured by ``lab.bench.health`` (on 2 cores of an
Intel Xeon: 9% of a 5-epoch A1 run, 1.4% of C2; the README's Speed section).

Numbers that are NaN or infinite (a diverged run) are stored as None, so the
summary is plain JSON, which ``lab.health.readings`` reads without TensorFlow.
TensorFlow and Keras are imported only when a recorder starts recording.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.architecture import layer_infos
from lab.data.prepare import Prepared
from lab.spec import ExperimentSpec

PROBE_SIZE = 256
# A convolutional network's probe costs a few training steps of compute per epoch (a deep CNN's
# 256-image probe was a tenth of its quick run); 64 images still give every filter
# 64 x 49-196 positions for its activation statistics and dead share.
CONV_PROBE_SIZE = 64
HIST_BINS = 20
SIGMOID_SATURATION = (0.05, 0.95)
TANH_SATURATION = 0.95
FORMAT_VERSION = 1
# From this many planned epochs on, the probe is compiled by TensorFlow (0.1-0.2 s
# once, then 1-5 ms a call); shorter runs call it eagerly (about 10 ms a call on A1).
COMPILE_FROM_EPOCHS = 20
# Fixed histogram ranges for bounded activations; unbounded ones get theirs at epoch 0.
BOUNDED_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
NONNEGATIVE = ("relu",)


@dataclass(frozen=True)
class ProbedLayer:
    """One layer the recorder watches.

    Attributes
    ----------
    name : str
        The layer holding the kernel (``hidden_1``, ``conv_2``, ``output``).
    kind : str
        ``dense``, ``conv`` or ``output``.
    activation : str
        Its nonlinearity (``softmax`` or ``sigmoid`` for the output layer).
    activation_layer : str | None
        The layer whose output is the activation (``act_1`` when batch
        normalization comes before it), None for the output layer.
    """

    name: str
    kind: str
    activation: str
    activation_layer: str | None


def probed_layers(spec: ExperimentSpec) -> list[ProbedLayer]:
    """The layers with a kernel, in order, and where their activations come out."""
    out = []
    for info in layer_infos(spec):
        if info.kind == "conv":
            out.append(ProbedLayer(info.name, "conv", spec.activation, info.name))
        elif info.kind == "dense":
            act_layer = "act_" + info.name.split("_")[1] if spec.batchnorm == "before" else info.name
            out.append(ProbedLayer(info.name, "dense", spec.activation, act_layer))
        elif info.kind == "output":
            out.append(ProbedLayer(info.name, "output", spec.output_activation, None))
    return out


def probe_indices(n_train: int, seed: int, size: int = PROBE_SIZE) -> np.ndarray:
    """Which training images form the probe batch: ``size`` of them, drawn with ``seed``.

    A private generator: Keras' global seed, which shuffles the batches, is not touched.
    """
    rng = np.random.default_rng([seed, 7_919])
    return np.sort(rng.choice(n_train, size=min(size, n_train), replace=False))


# ---------------------------------------------------------------- recording
def histogram_edges(activation: str, first_values: np.ndarray | None) -> np.ndarray:
    """``HIST_BINS + 1`` edges, fixed for the whole run so that epochs compare.

    Bounded activations use their range; unbounded ones a round range that
    holds twice the 99th percentile of the first (epoch 0) outputs. Later
    outputs beyond the range are counted in the end bins.
    """
    if activation in BOUNDED_RANGES:
        low, high = BOUNDED_RANGES[activation]
        return np.linspace(low, high, HIST_BINS + 1)
    values = np.abs(np.asarray(first_values if first_values is not None else [1.0], dtype=np.float64)).ravel()
    values = values[np.isfinite(values)]
    spread = float(np.percentile(values, 99)) * 2 if values.size else 1.0
    high = _nice_ceiling(max(spread, 1e-3))
    low = 0.0 if activation in NONNEGATIVE else -high
    return np.linspace(low, high, HIST_BINS + 1)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _clean(value: Any, digits: int = 5) -> Any:
    """JSON-ready: NaN and infinities become None, floats keep ``digits`` significant digits."""
    if isinstance(value, dict):
        return {k: _clean(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return float(f"{value:.{digits}g}") if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class HealthRecorder:
    """Records gradient and activation health on a fixed probe batch.

    Construct it with the probe batch, hand ``callback()`` to ``model.fit``,
    and read ``summary()`` afterwards. It records at the start of training
    (epoch 0) and after every epoch, the last one included when the loss
    became NaN.

    Parameters
    ----------
    spec : ExperimentSpec
        The run's spec: names the layers and their activation.
    x_probe, y_probe : np.ndarray
        Probe images (n, 784) as the model takes them, and one-hot labels (n, 10).
    """

    def __init__(self, spec: ExperimentSpec, x_probe: np.ndarray, y_probe: np.ndarray) -> None:
        self.spec = spec
        self.x_probe = np.asarray(x_probe, dtype=np.float32)
        self.y_probe = np.asarray(y_probe, dtype=np.float32)
        self.layers = probed_layers(spec)
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.rows: dict[str, dict[str, list[Any]]] = {layer.name: {} for layer in self.layers}
        self.seconds = 0.0  # all time spent recording
        self.setup_seconds = 0.0  # building the probe and recording epoch 0
        self._probe: _Probe | None = None

    def callback(self) -> Any:
        """A ``keras.callbacks.Callback`` that drives this recorder during ``fit``."""
        return _callback_class()(self)

    def begin(self, model: Any, epochs: int = 0) -> None:
        """Build the probe for ``model`` (a compiled Keras model) and record epoch 0.

        ``epochs`` planned decides whether compiling the probe pays for itself.
        """
        start = time.perf_counter()
        compiled = epochs >= COMPILE_FROM_EPOCHS
        self._probe = _Probe(model, self.layers, self.x_probe, self.y_probe, compiled)
        self.seconds += time.perf_counter() - start
        self.record(0)
        self.setup_seconds = self.seconds

    def record(self, epoch: int) -> None:
        """Measure the model as it is now and file it under ``epoch``."""
        if self._probe is None:
            raise RuntimeError("HealthRecorder.begin(model) must run before record().")
        start = time.perf_counter()
        loss, per_layer = self._probe()
        self.epochs.append(epoch)
        self.loss.append(loss)
        for layer in self.layers:
            for key, value in per_layer[layer.name].items():
                self.rows[layer.name].setdefault(key, []).append(value)
        self.seconds += time.perf_counter() - start

    def summary(self) -> dict[str, Any]:
        """Everything recorded, as a JSON-ready dict (see the module docstring for the fields)."""
        layers = []
        for layer in self.layers:
            entry: dict[str, Any] = {
                "name": layer.name,
                "kind": layer.kind,
                "activation": layer.activation,
                "activation_layer": layer.activation_layer,
                **self.rows[layer.name],
            }
            if self._probe is not None and layer.name in self._probe.edges:
                entry["hist_edges"] = self._probe.edges[layer.name].tolist()
            layers.append(entry)
        return _clean(
            {
                "format": FORMAT_VERSION,
                "probe_size": int(len(self.x_probe)),
                "gradient_mode": "training",
                "activation_mode": "inference",
                "update_ratio": "epoch",
                "epochs": list(self.epochs),
                "loss": list(self.loss),
                "record_seconds": self.seconds,
                "setup_seconds": self.setup_seconds,
                "layers": layers,
            }
        )


def probe_size(spec: ExperimentSpec) -> int:
    """Images in ``spec``'s probe batch: ``CONV_PROBE_SIZE`` for a convolutional network, else ``PROBE_SIZE``."""
    return CONV_PROBE_SIZE if spec.conv else PROBE_SIZE


def make_recorder(spec: ExperimentSpec, data: Prepared) -> HealthRecorder:
    """A recorder on ``probe_size(spec)`` training images of ``data`` chosen with the spec's seed."""
    idx = probe_indices(len(data.x_train), spec.seed, probe_size(spec))
    return HealthRecorder(spec, data.x_train[idx], data.y_train[idx])


class _Probe:
    """The TensorFlow side: one function returns the probe loss, kernel gradients and activations.

    Statistics are then computed with numpy on these small arrays: cheaper than
    TensorFlow ops run one by one, and nothing more to compile.
    """

    def __init__(
        self, model: Any, layers: Sequence[ProbedLayer], x: np.ndarray, y: np.ndarray, compiled: bool = True
    ) -> None:
        import keras  # lazy, as in every recorder function that needs it: importing this module costs no TensorFlow
        import tensorflow as tf

        self.model = model
        self.layers = list(layers)
        self.acts = [layer for layer in self.layers if layer.activation_layer is not None]
        act_outputs = [model.get_layer(layer.activation_layer).output for layer in self.acts]
        # Without batch norm, dropout or augmentation the network computes the same in
        # training and inference mode: one pass gives gradients and activations.
        one_pass = not any(_mode_dependent(layer) for layer in model.layers)
        outputs = [model.output, *act_outputs] if one_pass else [model.output]
        graph = keras.Model(model.inputs, outputs)
        inference = keras.Model(model.inputs, act_outputs) if act_outputs and not one_pass else None
        kernel_ids = [id(model.get_layer(layer.name).kernel) for layer in self.layers]
        positions = {id(v): i for i, v in enumerate(graph.trainable_variables)}
        kernel_pos = [positions[i] for i in kernel_ids]
        loss_fn = keras.losses.get(model.loss)
        x_t, y_t = tf.constant(x), tf.constant(y)

        def measure() -> tuple[Any, list[Any], list[Any]]:
            values = [tf.convert_to_tensor(v) for v in graph.trainable_variables]
            fixed = [tf.convert_to_tensor(v) for v in graph.non_trainable_variables]
            with tf.GradientTape() as tape:
                tape.watch(values)
                # stateless: batch-norm averages and dropout generators stay where they are
                outs, _ = graph.stateless_call(values, fixed, x_t, training=True)
                outs = _as_list(outs)
                loss = tf.reduce_mean(loss_fn(y_t, outs[0]))
            grads = tape.gradient(loss, [values[i] for i in kernel_pos])
            acts = outs[1:] if inference is None else _as_list(inference(x_t, training=False))
            return loss, grads, acts

        # Compiling costs about 0.1-0.2 s once, then saves about 8 ms a call: worth it for
        # long runs only. autograph=False: there is no Python control flow to convert.
        self._measure = tf.function(measure, autograph=False) if compiled else measure
        self._previous: dict[str, np.ndarray] = {}
        self.edges: dict[str, np.ndarray] = {}

    def __call__(self) -> tuple[float, dict[str, dict[str, Any]]]:
        loss, grads, acts = self._measure()
        out: dict[str, dict[str, Any]] = {}
        for layer, grad in zip(self.layers, grads, strict=True):
            kernel = np.asarray(self.model.get_layer(layer.name).kernel)
            previous = self._previous.get(layer.name)
            ratio = _norm(kernel - previous) / _norm(previous) if previous is not None else math.nan
            self._previous[layer.name] = kernel
            out[layer.name] = {
                "grad_norm": _norm(np.asarray(grad)),
                "weight_norm": _norm(kernel),
                "update_ratio": ratio,
            }
        for layer, values in zip(self.acts, acts, strict=True):
            values = np.asarray(values)
            if layer.name not in self.edges:
                self.edges[layer.name] = histogram_edges(layer.activation, values)
            out[layer.name].update(activation_stats(values, layer.activation, self.edges[layer.name]))
        return float(loss), out


def _mode_dependent(layer: Any) -> bool:
    """Whether a Keras layer computes differently in training (batch norm, dropout, noise, augmentation)."""
    import keras  # lazy: see _Probe

    if isinstance(layer, keras.Sequential):  # the augmentation block
        return bool(layer.layers)
    return isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout, keras.layers.GaussianNoise))


def _as_list(outputs: Any) -> list[Any]:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _norm(array: np.ndarray) -> float:
    """L2 norm in float64, without BLAS (whose threads would fight TensorFlow's for the cores)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.sqrt(float(np.sum(np.square(array, dtype=np.float64))))


def activation_stats(values: np.ndarray, activation: str, edges: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, saturated and dead shares and histogram of one layer's outputs.

    Parameters
    ----------
    values : np.ndarray
        The layer's outputs on the probe batch, (n, units) or (n, height, width, channels).
    activation : str
        The layer's nonlinearity: saturation is measured for sigmoid and tanh,
        dead units for ReLU; the others get None.
    edges : np.ndarray
        ``HIST_BINS + 1`` evenly spaced edges; values outside fall into the end bins.

    Returns
    -------
    dict
        ``act_mean``, ``act_std``, ``saturated``, ``dead`` (shares in [0, 1] or None)
        and ``hist`` (shares per bin, or None when no value is finite).
    """
    values = np.asarray(values, dtype=np.float32)
    flat = values.ravel()
    finite = np.isfinite(flat)
    if not finite.all():  # a diverged layer: describe what is left
        flat = flat[finite]
    stats: dict[str, Any] = {"act_mean": None, "act_std": None, "saturated": None, "dead": None, "hist": None}
    if flat.size == 0:
        return stats
    stats["act_mean"] = float(flat.mean(dtype=np.float64))
    stats["act_std"] = float(flat.std(dtype=np.float64))
    stats["saturated"] = saturated_share(flat, activation)
    stats["dead"] = dead_share(values, activation)
    low, high = float(edges[0]), float(edges[-1])
    counts, _ = np.histogram(np.clip(flat, low, high), bins=len(edges) - 1, range=(low, high))
    stats["hist"] = (counts / flat.size).tolist()
    return stats


def saturated_share(values: np.ndarray, activation: str) -> float | None:
    """Share of outputs stuck near an asymptote: sigmoid below 0.05 or above 0.95, tanh beyond +-0.95.

    Counted over every output (unit x image, and position for a convolution), the finite ones;
    None for another activation (ReLU has no upper asymptote) or no finite output.
    """
    if activation not in ("sigmoid", "tanh"):
        return None
    flat = np.asarray(values, dtype=np.float32).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return None
    if activation == "sigmoid":
        low, high = SIGMOID_SATURATION
        return float(np.count_nonzero((flat < low) | (flat > high)) / flat.size)
    return float(np.count_nonzero(np.abs(flat) > TANH_SATURATION) / flat.size)


def dead_share(values: np.ndarray, activation: str) -> float | None:
    """Share of ReLU units that output 0 for every image: a neuron, or a convolution's filter at every position.

    ``values`` are (images, units) or (images, height, width, filters); None for another activation.
    """
    if activation != "relu":
        return None
    values = np.asarray(values)
    units = values.reshape(-1, values.shape[-1])
    return float(np.mean(~np.any(units != 0, axis=0)))


@functools.cache
def _callback_class() -> type:
    """The Keras callback class, defined on first use so that reading health never imports Keras."""
    import keras  # lazy: see _Probe

    class HealthCallback(keras.callbacks.Callback):
        """Calls the recorder before training and after each epoch."""

        def __init__(self, recorder: HealthRecorder) -> None:
            super().__init__()
            self.recorder = recorder

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.recorder.begin(self.model, int(self.params.get("epochs") or 0))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.recorder.record(epoch + 1)

    return HealthCallback
