"""Classify drawn or photographed digits with trained runs: the Draw page's and the CLI's pipeline.

One path for every input: pixels -> :mod:`lab.analysis.canvas` (MNIST's crop, scale and
centering) -> the run's own input preparation (its training mean, when it was
trained on centered data) -> the Keras model, called directly. ``model.predict``
builds a dataset and a prediction loop on every call, which costs far more
than a small MLP's forward pass on one image; ``lab.bench.predict`` measures
the difference.

A stored run's predictor comes from ``lab.runs.queries.load_predictor``;
``python -m lab predict --run RUN_ID FILE...`` (``lab.cli.predict``) runs image
files through the same steps, in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.analysis.canvas import apply_training_preprocessing, image_to_mnist, load_image_file, to_mnist
from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.data.prepare import center_images
from lab.nn.forward import predict_probs
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec

# A good small model that trains in seconds on the offline sample (about 95% test
# accuracy): what the Draw page offers to train when the store is empty.
STARTER_SPEC = ExperimentSpec(data="sample", hidden=(128,), activation="relu", optimizer="adam", epochs=8)
TOP_UNITS = 8  # first-layer units shown for one drawing


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one image.

    Attributes
    ----------
    probs : np.ndarray
        (10,) class probabilities, summing to 1.
    """

    probs: np.ndarray

    @property
    def digit(self) -> int:
        """The most probable digit."""
        return int(np.argmax(self.probs))

    @property
    def probability(self) -> float:
        """The probability of :attr:`digit`."""
        return float(self.probs[self.digit])


@dataclass(frozen=True)
class UnitView:
    """The first-layer units that respond most to one input.

    Attributes
    ----------
    layer : str
        Keras layer name: ``hidden_1`` (MLP), ``conv_1`` (CNN) or ``output`` (no hidden layer).
    kind : str
        ``dense`` (one number per unit) or ``conv`` (one feature map per filter).
    units : np.ndarray
        Indices of the shown units, strongest first.
    activations : np.ndarray
        Their activation for this input (mean of the feature map for a filter).
    filters : np.ndarray
        Their input weights as images: (k, 28, 28) for dense units, (k, s, s) for s x s kernels.
    maps : np.ndarray or None
        (k, H, W) feature maps of conv filters, else None.
    total : int
        Units (or filters) in the layer.
    active : int
        How many of them respond at all (activation above 0).
    """

    layer: str
    kind: str
    units: np.ndarray
    activations: np.ndarray
    filters: np.ndarray
    maps: np.ndarray | None
    total: int
    active: int


class Predictor:
    """A trained model ready to classify 28x28 images the way it was trained.

    Parameters
    ----------
    model : keras.Model
        A model built by :func:`lab.nn.model.build_model` (flat 784-pixel input).
    spec : ExperimentSpec
        What it was trained with (layer names, output type).
    mean : np.ndarray or None
        The training mean it subtracts (runs trained with ``center=True``).
    run_id : str, optional
        The run's name, for messages.
    """

    def __init__(self, model: Any, spec: ExperimentSpec, mean: np.ndarray | None = None, run_id: str = "") -> None:
        self.model = model
        self.spec = spec
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(1, NUM_PIXELS)
        self.run_id = run_id or spec.run_id
        self._forward: Any = None  # compiled model call, built on first use
        self._probe: Any = None  # compiled call returning (first-layer output, model output)
        self._probe_layer: str | None = None

    @classmethod
    def from_result(cls, result: RunResult) -> Predictor:
        """The predictor of a trained or stored run.

        Raises
        ------
        ValueError
            When the run has no saved model.
        """
        model = result.model
        if model is None:
            raise ValueError(f"Run {result.run_id} has no saved model: train it again.")
        return cls(model, result.spec, result.mean, result.run_id)

    # ------------------------------------------------------------ predicting
    def inputs(self, images28: np.ndarray) -> np.ndarray:
        """(n, 784) float32 model inputs for (n, 28, 28), (28, 28) or (n, 784) images in [0, 1]."""
        x = np.asarray(images28, dtype=np.float32)
        if x.ndim == 2 and x.shape == (IMAGE_SIDE, IMAGE_SIDE):
            return apply_training_preprocessing(x, self.mean)
        return center_images(x, self.mean)

    def probabilities(self, images28: np.ndarray) -> np.ndarray:
        """(n, 10) class probabilities, in batches of ``EVAL_BATCH``, calling the compiled model directly."""
        if self._forward is None:
            self._forward = _compile(self.model)
        return self._normalise(predict_probs(self._forward, self.inputs(images28)))

    def predict(self, image28: np.ndarray) -> Prediction:
        """The answer for one (28, 28) image."""
        return Prediction(self.probabilities(image28)[0])

    def predict_with_units(self, image28: np.ndarray, top: int = TOP_UNITS) -> tuple[Prediction, UnitView | None]:
        """The answer and the first-layer units that respond most, from one model call.

        The units are None for a model whose first layer cannot be found by name
        (a model not built by :mod:`lab.nn.model`).
        """
        probe = self._get_probe()
        if probe is None:
            return self.predict(image28), None
        features, probs = probe(self.inputs(image28))
        prediction = Prediction(self._normalise(probs)[0])
        return prediction, self._unit_view(np.asarray(features)[0], top)

    def warm_up(self) -> Predictor:
        """Compile both model calls now (a few hundred ms), so the first drawing is answered at full speed."""
        blank = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
        self.predict(blank)
        self.predict_with_units(blank)
        return self

    def _normalise(self, outputs: Any) -> np.ndarray:
        probs = np.asarray(outputs, dtype=np.float32)
        if self.spec.output == "sigmoid_mse":
            # Ten independent sigmoids: shares of their sum, so a chart reads as probabilities.
            probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        return probs

    # ----------------------------------------------------------- first layer
    def first_layer_name(self) -> str:
        """The layer whose units see the pixels first: ``conv_1``, ``hidden_1`` or ``output``."""
        if self.spec.conv:
            return "conv_1"
        return "hidden_1" if self.spec.hidden else "output"

    def _activation_layer(self) -> str:
        """Where the first layer's post-activation output is (after BN when BN comes before it)."""
        name = self.first_layer_name()
        if name == "hidden_1" and self.spec.batchnorm == "before":
            return "act_1"
        return name

    def _get_probe(self) -> Any:
        if self._probe is None and self._probe_layer is None:
            import keras  # lazy: a predictor is built from a model, but this module imports no Keras itself

            self._probe_layer = self._activation_layer()
            try:
                layer = self.model.get_layer(self._probe_layer)
                probe = keras.Model(self.model.input, [layer.output, self.model.output])
            except (ValueError, AttributeError):
                return None
            self._probe = _compile(probe)
        return self._probe

    def _unit_view(self, features: np.ndarray, top: int) -> UnitView:
        name = self.first_layer_name()
        kernel = np.asarray(self.model.get_layer(name).get_weights()[0], dtype=np.float32)
        if name == "conv_1":
            # features (H, W, F); kernel (s, s, 1, F)
            strength = features.mean(axis=(0, 1))
            units = _strongest(strength, top)
            filters = np.transpose(kernel[:, :, 0, units], (2, 0, 1))
            maps = np.transpose(features[:, :, units], (2, 0, 1))
            active = int((strength > 0).sum())
            return UnitView(name, "conv", units, strength[units], filters, maps, len(strength), active)
        if name == "output":
            features = np.asarray(features, dtype=np.float32)  # the ten class scores
        units = _strongest(features, top)
        filters = kernel[:, units].T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        return UnitView(name, "dense", units, features[units], filters, None, len(features), int((features > 0).sum()))


def _compile(model: Any) -> Any:
    """``model(x, training=False)`` as one TensorFlow graph for any batch of flat images, returning numpy.

    Calling a Keras model eagerly runs its layers one by one from Python (about
    4 ms for a small MLP on one image); the traced graph runs in a fraction of
    a millisecond. One input signature, so it is traced once, whatever the batch size.
    """
    import tensorflow as tf  # lazy: see _get_probe

    @tf.function(input_signature=[tf.TensorSpec([None, NUM_PIXELS], tf.float32)], autograph=False)
    def forward(x: Any) -> Any:
        return model(x, training=False)

    def call(x: np.ndarray, training: bool = False) -> Any:  # always inference: the signature of a model call
        out = forward(tf.convert_to_tensor(x, dtype=tf.float32))
        return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)

    return call


def _strongest(values: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` largest values, largest first (stable for ties)."""
    return np.argsort(-np.asarray(values), kind="stable")[: max(0, top)]


# ------------------------------------------------------------- preprocessing
def preprocess_canvas(rgba: np.ndarray, center: bool = True) -> np.ndarray | None:
    """A canvas drawing as the 28x28 image a model receives (None for an empty canvas).

    See :func:`lab.analysis.canvas.to_mnist`; ``center=False`` skips cropping and centering.
    """
    return to_mnist(rgba, center=center)


def preprocess_file(data: bytes, center: bool = True) -> np.ndarray | None:
    """An image file's bytes (a photo of a digit on paper, a saved drawing) as a 28x28 image.

    Returns None when no digit stands out from the background.

    Raises
    ------
    ValueError
        For a file that is not a readable image, or is too large (the message says so).
    """
    return image_to_mnist(load_image_file(data), center=center)


def has_ink(rgba: np.ndarray | None) -> bool:
    """Whether a canvas image holds any stroke at all (a dot counts, the empty canvas does not)."""
    if rgba is None:
        return False
    pixels = np.asarray(rgba)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return bool((pixels[..., :3].max(axis=2).astype(np.uint16) * pixels[..., 3] > 255 * 50).any())
    return bool((pixels > 50).any())


def model_kind(spec: ExperimentSpec) -> str:
    """``CNN`` or ``MLP``, with the techniques that tell runs apart (dropout, BN, L2, augmentation)."""
    extras = []
    if spec.dropout or any(block.dropout for block in spec.conv):
        extras.append("dropout")
    if spec.batchnorm != "none":
        extras.append("batch norm")
    if spec.l2 or any(block.l2 for block in spec.conv):
        extras.append("L2")
    if spec.augmentation.active:
        extras.append("augmentation")
    kind = "CNN" if spec.conv else "MLP"
    return f"{kind} + {', '.join(extras)}" if extras else kind
