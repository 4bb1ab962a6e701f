"""Classify drawn or photographed digits with stored runs: the Draw page's and the CLI's pipeline.

One path for every input: pixels -> :mod:`lab.analysis.canvas` (MNIST's crop, scale and
centering) -> the run's own input preparation (its training mean, when it was
trained on centered data) -> the Keras model, called directly. ``model.predict``
builds a dataset and a prediction loop on every call, which costs far more
than a small MLP's forward pass on one image; :func:`bench_predict` measures
the difference.

``python -m lab predict --run RUN_ID FILE...`` runs image files through the same
steps, in one batch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lab.analysis.canvas import apply_training_preprocessing, image_to_mnist, load_image_file, to_mnist
from lab.architecture import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS
from lab.data.prepare import center_images
from lab.nn.forward import predict_probs
from lab.nn.result import RunResult
from lab.runs.store import RunInfo, RunStore
from lab.spec import ExperimentSpec

# A good small model that trains in seconds on the offline sample (about 95% test
# accuracy): what the Draw page offers to train when the store is empty.
STARTER_SPEC = ExperimentSpec(data="sample", hidden=(128,), activation="relu", optimizer="adam", epochs=8)
TOP_UNITS = 8  # first-layer units shown for one drawing
# Runs trained on these sources do not read digits; the Draw page and the CLI leave them out.
NON_DIGIT_SOURCES = ("fashion",)


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

    @classmethod
    def load(cls, run_id: str, store: RunStore | None = None) -> Predictor:
        """Load a stored run's model (a few hundred milliseconds; cache the predictor).

        Raises
        ------
        ValueError
            When the store has no such run, or it has no saved model.
        """
        store = store if store is not None else RunStore()
        result = store.get(run_id)
        if result is None:
            raise ValueError(f"No run '{run_id}' in {store.home}: see `python -m lab runs` for the stored runs.")
        return cls.from_result(result)

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
            import keras

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
    import tensorflow as tf

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


def enlarge(image28: np.ndarray, factor: int = 10) -> np.ndarray:
    """Each pixel as a ``factor`` x ``factor`` block (uint8): crisp pixels when shown large."""
    image = np.clip(np.asarray(image28, dtype=np.float32), 0.0, 1.0)
    return np.kron(np.round(image * 255).astype(np.uint8), np.ones((factor, factor), dtype=np.uint8))


def signed_to_rgb(weights: np.ndarray, factor: int = 1) -> np.ndarray:
    """Weights as an RGB image: positive red, negative blue, 0 white, scaled by the largest magnitude.

    Parameters
    ----------
    weights : np.ndarray
        (h, w) weights of one filter.
    factor : int, default 1
        Each weight drawn as ``factor`` x ``factor`` pixels.
    """
    w = np.asarray(weights, dtype=np.float32)
    scale = float(np.abs(w).max()) or 1.0
    v = np.clip(w / scale, -1.0, 1.0)
    pos, neg = np.clip(v, 0, 1), np.clip(-v, 0, 1)
    rgb = np.stack([1 - neg, 1 - pos - neg * 0.55, 1 - pos], axis=-1)  # white -> red (+), white -> blue (-)
    rgb = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if factor > 1:
        rgb = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    return rgb


# ------------------------------------------------------------------- the store
def digit_runs(store: RunStore) -> list[RunInfo]:
    """Stored runs that can classify a drawn digit, best test accuracy first.

    Left out: diverged runs (their outputs are NaN), runs on non-digit data
    (Fashion-MNIST), and runs whose model file is missing.
    """
    runs = [
        info
        for info in store.list()
        if not info.metrics.get("diverged")
        and info.spec.data not in NON_DIGIT_SOURCES
        and (store.path(info.run_id) / "model.keras").is_file()
    ]
    return sorted(runs, key=lambda info: -np.nan_to_num(info.test_accuracy, nan=-1.0))


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


def compare_runs(predictors: Sequence[tuple[RunInfo, Predictor]], image28: np.ndarray) -> list[dict[str, Any]]:
    """What every model predicts for one image: rows for a table, in the order given."""
    rows = []
    for info, predictor in predictors:
        prediction = predictor.predict(image28)
        rows.append(
            {
                "run": info.run_id,
                "model": info.spec.summary(),
                "kind": model_kind(info.spec),
                "test accuracy": info.test_accuracy,
                "predicts": prediction.digit,
                "probability": prediction.probability,
            }
        )
    return rows


# ------------------------------------------------------------------- benchmark
@dataclass(frozen=True)
class PredictBench:
    """Median milliseconds of the Draw page's step (canvas -> probabilities), three ways.

    Attributes
    ----------
    preprocess_ms : float
        The canvas preprocessing alone.
    direct_ms : float
        Preprocessing + the lab's compiled direct model call (what the page does).
    eager_ms : float
        Preprocessing + ``model(x, training=False)``, uncompiled.
    predict_ms : float
        Preprocessing + ``model.predict(x)``.
    repeats : int
        Timed calls per way.
    """

    preprocess_ms: float
    direct_ms: float
    eager_ms: float
    predict_ms: float
    repeats: int

    @property
    def ratio(self) -> float:
        """How many times slower ``model.predict`` makes the whole step."""
        return self.predict_ms / self.direct_ms

    def __str__(self) -> str:
        return (
            f"canvas preprocessing + prediction, median of {self.repeats}: {self.direct_ms:.1f} ms (lab, compiled "
            f"direct call) vs {self.predict_ms:.1f} ms with model.predict -> {self.ratio:.1f}x faster; "
            f"uncompiled model(x) {self.eager_ms:.1f} ms; preprocessing alone {self.preprocess_ms:.1f} ms"
        )


def bench_predict(run_id: str | None = None, store: RunStore | None = None, repeats: int = 50) -> PredictBench:
    """Time the Draw page's step, a 280x280 canvas to probabilities, side by side with ``model.predict``.

    Parameters
    ----------
    run_id : str, optional
        A stored run to time; default: an untrained model of ``STARTER_SPEC``'s
        shape (same layers, so same time, and nothing to train).
    store : RunStore, optional
        Where ``run_id`` lives.
    repeats : int, default 50
        Timed calls of each way (after warm-up calls); medians are reported.
    """
    from lab.analysis.canvas import digit_to_canvas
    from lab.data.sources import load_source

    if run_id is not None:
        predictor = Predictor.load(run_id, store)
    else:
        import keras

        from lab.nn.model import build_model

        keras.utils.set_random_seed(0)
        predictor = Predictor(build_model(STARTER_SPEC), STARTER_SPEC)
    predictor.warm_up()
    digit = load_source("sample").x_train[0]
    rgba = digit_to_canvas(digit, scale=10, offset=(30, -20), thickness=4)
    model = predictor.model
    ways = {
        "preprocess": lambda: preprocess_canvas(rgba),
        "direct": lambda: predictor.predict(preprocess_canvas(rgba)),
        "eager": lambda: np.asarray(model(predictor.inputs(preprocess_canvas(rgba)), training=False)),
        "predict": lambda: model.predict(predictor.inputs(preprocess_canvas(rgba)), verbose=0),
    }
    timings = {}
    for name, step in ways.items():
        for _ in range(3):  # warm-up: tracing, first allocations
            step()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        timings[name] = statistics.median(seconds) * 1000
    return PredictBench(timings["preprocess"], timings["direct"], timings["eager"], timings["predict"], repeats)


# ------------------------------------------------------------------------ CLI
def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``predict`` to ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "predict",
        help="classify image files (photos of digits, saved drawings) with a stored run",
        description="Each file goes through the Draw page's preprocessing and the run's model; all files in one batch.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG or JPEG images of one digit each")
    p.add_argument("--run", help="run id (see `python -m lab runs`); default: the best stored digit model")
    p.add_argument("--no-center", action="store_true", help="skip MNIST's crop-and-center step (to see why it matters)")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    return p


def run_predict(args: argparse.Namespace) -> int:
    """``predict``: print each file's digit and probabilities; exit 1 if any file could not be read."""
    store = RunStore(args.home)
    run_id = args.run
    if run_id is None:
        runs = digit_runs(store)
        if not runs:
            raise ValueError(f"No stored digit model in {store.home}: train one first (python -m lab train).")
        run_id = runs[0].run_id
    predictor = Predictor.load(run_id, store)
    images, errors = preprocess_files(args.files, center=not args.no_center)
    probs = predictor.probabilities(np.stack(list(images.values()))) if images else np.zeros((0, NUM_CLASSES))
    answers = dict(zip(images, probs, strict=True))
    for name in args.files:
        if name in answers:
            print(_format_answer(name, Prediction(answers[name]), args.json))
        else:
            print(_format_error(name, errors[name], args.json), file=sys.stdout if args.json else sys.stderr)
    return 1 if errors else 0


def preprocess_files(paths: Sequence[str], center: bool = True) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and preprocess image files; returns ({path: 28x28 image}, {path: error message})."""
    images: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    for name in paths:
        try:
            image = preprocess_file(Path(name).read_bytes(), center=center)
        except OSError as exc:
            errors[name] = f"cannot read the file ({exc.strerror or exc})"
            continue
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if image is None:
            errors[name] = "no digit found: the image looks blank (or holds only a dot)"
        else:
            images[name] = image
    return images, errors


def _format_answer(name: str, prediction: Prediction, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "file": name,
                "digit": prediction.digit,
                "probability": round(prediction.probability, 6),
                "probs": [round(float(p), 6) for p in prediction.probs],
            }
        )
    probs = " ".join(f"{d}:{p:.3f}" for d, p in enumerate(prediction.probs))
    return f"{name}: {prediction.digit} ({prediction.probability:.1%})  {probs}"


def _format_error(name: str, message: str, as_json: bool) -> str:
    return json.dumps({"file": name, "error": message}) if as_json else f"{name}: error: {message}"
