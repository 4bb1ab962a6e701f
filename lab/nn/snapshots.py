"""Snapshots of a network's inside while it trains: a *film* a page redraws live and replays after.

API
---
``Snapshot`` (one moment of a training; every array is numpy):

- ``epoch`` (float: epochs done, 0.0 = untrained, 0.0078 = one step into epoch 1 ...),
  ``step`` (int: batches trained since the start);
- ``filters``: (units, 784) float16, the first layer's weights into each of ``setup.filter_units``
  (all units, or ``MAX_FILTERS`` evenly spaced ones of a wider layer); for a network with no
  hidden layer, the ten output units (class templates); None for a CNN;
- ``kernels``: (filters, k, k) float16, a CNN's first convolution's kernels; None for an MLP;
- ``feature_maps``: one (height, width, channels) float16 array per convolution, the outputs
  for the one fixed digit ``setup.feature_digit``; () for an MLP;
- ``output_weights``: (last hidden units, 10) float16, the output layer's kernel;
- ``confusion``: (10, 10) int, rows true digit, columns predicted, on the validation set's
  first ``snapshot_digits(spec)`` (1,000, fewer for a heavy network) digits or all of a smaller
  one (``setup.val_digits``);
- ``dead`` / ``saturated``: (hidden layers,) float32 shares, one per ``setup.layers``, NaN where
  the activation has no such state (see :func:`lab.health.recorder.dead_share` and
  :func:`lab.health.recorder.saturated_share`): *dead* is the share of ReLU units (a convolution's
  filters) that output exactly 0 for every map digit, *saturated* the share of a sigmoid's or
  tanh's outputs (unit x map digit) within 0.05 of an asymptote (sigmoid < 0.05 or > 0.95, tanh
  beyond +-0.95);
- ``map_xy``: (n, 2) float16, the last hidden layer's activations of the ``setup.map_labels``
  digits projected to 2-D (None with no hidden layer); ``map_center`` (units,) and ``map_axes``
  (units, 2) float32 are the projection itself: ``xy = (activations - center) @ axes``;
- ``setup``: the :class:`FilmSetup` shared by every snapshot of one training.

``FilmSetup``: ``kind`` ("dense" or "conv"), ``filter_layer``, ``filter_units``, ``layers`` and
``activations`` (the hidden layers measured for dead and saturated shares), ``map_layer``,
``map_labels`` / ``map_index`` (the map's digits and their rows in the validation set),
``feature_layers``, ``feature_digit`` (784 pixels in [0, 1]) and ``feature_label``,
``steps_per_epoch``, ``val_digits``.

``Snapshot`` also says ``label`` ("untrained", "step 4", "epoch 3") and ``val_accuracy`` (its
confusion matrix's diagonal share).

``Film``: ``setup``, ``snapshots`` (in time order), ``record_seconds``; ``len(film)``, ``epochs``
(each snapshot's time), ``nearest(epoch)`` (the last snapshot at or before a time: a replay
slider's frame), ``map_domain()`` (one symmetric axis range holding 99% of every frame's map: pass it to
``ui.charts.inside.map_chart`` so points move and the axes stay), ``place(activations)`` (a new
image's ``Placement`` on the final map: ``xy``, ``votes`` of its ``NEIGHBOURS`` nearest map digits,
``among``: "your 7 lands among the 1s"). :func:`place_digit` (model, film, model input) does the
forward pass too; :func:`map_hidden` gives the map layer's activations.

Recording: the trainer records by default (``lab.nn.trainer.train`` / ``fit_prepared``,
``record_snapshots=True``; off only to measure its cost) through a :class:`SnapshotRecorder`
whose Keras callback takes a snapshot at the untrained start, after steps 1, 2, 4, 8, 16 within
the first half of epoch 1 (:func:`early_steps`; the loop ends its calls there,
``first_epoch_stops``) and after every epoch (a stopped epoch's end too). Each snapshot goes to
``observer.on_snapshot(snapshot)`` (``lab.nn.observer.TrainingObserver``) as it is taken, in the
training's thread; on Ray the worker sends each one to the coordinator and the server's executor
hands it to the caller's observer (``lab.runs.ray_executor``). A ``lab.runs.jobs.Job`` keeps them
in ``job.snapshots`` (oldest first; a page redraws from ``job.snapshots[-1]`` while it trains).
The result keeps the film (``RunResult.film``) and the run store saves it beside the run as
``snapshots.npz`` (:func:`save_film`; compressed: filters as 8-bit pictures, the rest float16),
in-process and on a worker alike.

Loading: ``load_film(folder) -> Film | None`` (None for a run stored before snapshots, or an
unreadable file), ``RunStore.film(spec_or_id)``, and ``RunResult.film`` of a stored run (read on
first access).

Drawing (``ui.charts.inside``, pure functions of a snapshot): ``filters_picture`` (an MLP's
first-layer filters or a CNN's kernels, RGB array), ``filter_units_caption``,
``feature_map_pictures`` (a CNN's feature maps of the fixed digit, per convolution),
``output_weights_chart(snapshot, digit, y_domain=film_weight_domain(film))``,
``confusion_chart``, ``unit_health_chart`` (dead and saturated shares per layer) and
``map_chart(snapshot, domain=film.map_domain(), placed=None)`` (Altair; each point's digit in its
tooltip).

Choices
-------
- **Map digits**: ``MAP_DIGITS`` validation digits, stratified (the same number of each digit
  where the set has them), drawn with a fixed seed (``MAP_SEED``, not the run's): two runs on the
  same data place the same digits, so films of two settings compare.
- **Projection**: each snapshot's activations go through PCA (2 axes), scaled so that the map's
  RMS radius is 1, then rotated (or reflected) onto the previous snapshot's map by orthogonal
  Procrustes. PCA shows each moment's own best 2-D view (a fixed projection chosen at the start
  would show the untrained network's random directions forever, one chosen at the end is not
  known while training runs); Procrustes removes what PCA leaves arbitrary (the axes' signs and
  rotation) without bending the map, so a point moves between two frames only as much as the
  network's representation changed. The scale keeps every frame in about the same range, so
  one axis domain serves the whole film.
- **Cost**: one forward pass of at most ``VAL_DIGITS`` validation digits per snapshot (every
  hidden layer and the answers: confusion, map, dead and saturated shares), compiled once per
  model shape and process (kept with the model the trainer keeps, ``lab.nn.loop.LOOPS``), plus a
  2-D PCA on one BLAS thread. Nothing here draws from Keras' random generators (inference mode
  only) or changes the weights: a training's numbers are the same with and without recording
  (``tests/test_snapshots.py``). ``python -m lab bench --snapshots`` measures it (README, Speed).
- **Heavy networks**: a snapshot may cost at most ``SNAPSHOT_BUDGET`` multiply-adds, so a network
  whose image costs more looks at fewer digits (at least ``MIN_VAL_DIGITS``), takes no early
  steps (each would cost more than the steps between them) and no snapshot of a training stopped
  mid-epoch (Stop and the time limit must not wait for one): its film is the untrained network
  and every whole epoch.
- **Stop**: the loop ends calls at the early steps too, but the trainer asks ``should_stop`` only
  where calls end without snapshots, so a stopped training ends where it would unrecorded; a
  snapshot within an epoch is skipped once the training was asked to stop.
- **Size**: filters as 8-bit pictures (a scale per unit), other weights float16, compressed.

TensorFlow is imported only when a recorder starts recording: loading a film never needs it.
"""

from __future__ import annotations

import functools
import io
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.architecture import NUM_CLASSES, NUM_PIXELS, layer_infos, multiply_adds
from lab.data.prepare import Prepared
from lab.health.recorder import dead_share, probed_layers, saturated_share
from lab.spec import ExperimentSpec

FILE_NAME = "snapshots.npz"
FORMAT_VERSION = 1
MAX_FILTERS = 64  # first-layer units kept per snapshot: a wider layer keeps this many, evenly spaced
MAP_DIGITS = 300  # validation digits on the hidden-layer map
MAP_SEED = 20_231  # which digits: the same for every run on the same data
EARLY_STEPS = 5  # snapshots within epoch 1, after steps 1, 2, 4 ... 2**(EARLY_STEPS - 1)
NEIGHBOURS = 15  # map digits that vote where a new image lands
# A snapshot looks at this many validation digits at most (its confusion matrix; the map's digits are among
# them): its forward pass costs what validating them does (a B7 image about half a millisecond), and a
# snapshot must stay cheap beside an epoch of training.
VAL_DIGITS = 1000
# What one snapshot may cost, in multiply-adds (about 0.3 s on two cores): the default MLP's 1,000 digits
# take 0.1 billion, B7's 4.7; the class server's heavy test network (50 million an image) would take
# seconds per snapshot, beside a Stop that must end it within one.
SNAPSHOT_BUDGET = 2_000_000_000
MIN_VAL_DIGITS = 100


def snapshot_digits(spec: ExperimentSpec) -> int:
    """How many validation digits a snapshot of ``spec`` looks at: ``VAL_DIGITS``, fewer for a heavy network.

    Within ``SNAPSHOT_BUDGET`` multiply-adds, never below ``MIN_VAL_DIGITS``.
    """
    return int(np.clip(SNAPSHOT_BUDGET // max(multiply_adds(spec), 1), MIN_VAL_DIGITS, VAL_DIGITS))


def is_light(spec: ExperimentSpec) -> bool:
    """Whether a full snapshot of ``spec`` fits ``SNAPSHOT_BUDGET``: then it takes early steps and a stopped epoch's."""
    return multiply_adds(spec) * VAL_DIGITS <= SNAPSHOT_BUDGET


# ---------------------------------------------------------------- what a film holds
@dataclass(frozen=True)
class FilmSetup:
    """What every snapshot of one training shares: which units, layers and digits it shows.

    Attributes
    ----------
    kind : str
        ``dense`` (first layer sees pixels through a Dense layer) or ``conv`` (a convolution).
    filter_layer : str
        The layer whose weights ``Snapshot.filters`` or ``kernels`` hold (``hidden_1``, ``output``, ``conv_1``).
    filter_units : np.ndarray
        (k,) int: the units of that layer that ``Snapshot.filters`` holds, in order.
    layers : tuple of str
        The hidden layers (dense and conv) whose dead and saturated shares are measured.
    activations : tuple of str
        Their nonlinearity (``relu``, ``sigmoid`` ...), one per layer.
    map_layer : str or None
        The layer whose activations the map shows (the last hidden one); None with no hidden layer.
    map_labels : np.ndarray
        (n,) int: the digit of each map point.
    map_index : np.ndarray
        (n,) int: the map digits' rows in the validation set.
    feature_layers : tuple of str
        The convolutions whose feature maps ``Snapshot.feature_maps`` holds, in order.
    feature_digit : np.ndarray or None
        (784,) float32 pixels in [0, 1] of the digit whose feature maps are kept (CNNs), else None.
    feature_label : int or None
        Its digit.
    steps_per_epoch : int
        Batches in an epoch (``Snapshot.step`` / this = epochs done).
    val_digits : int
        The validation digits the confusion matrices count: the first ``VAL_DIGITS`` (the
        validation set is shuffled when split), or all of a smaller set. The map's digits are among them.
    """

    kind: str
    filter_layer: str
    filter_units: np.ndarray
    layers: tuple[str, ...]
    activations: tuple[str, ...]
    map_layer: str | None
    map_labels: np.ndarray
    map_index: np.ndarray
    feature_layers: tuple[str, ...] = ()
    feature_digit: np.ndarray | None = None
    feature_label: int | None = None
    steps_per_epoch: int = 0
    val_digits: int = 0


@dataclass(frozen=True)
class Snapshot:
    """One moment of a training, as the module docstring describes each field."""

    epoch: float
    step: int
    setup: FilmSetup = field(repr=False)
    output_weights: np.ndarray = field(repr=False)
    confusion: np.ndarray = field(repr=False)
    dead: np.ndarray = field(repr=False)
    saturated: np.ndarray = field(repr=False)
    filters: np.ndarray | None = field(default=None, repr=False)
    kernels: np.ndarray | None = field(default=None, repr=False)
    feature_maps: tuple[np.ndarray, ...] = field(default=(), repr=False)
    map_xy: np.ndarray | None = field(default=None, repr=False)
    map_center: np.ndarray | None = field(default=None, repr=False)
    map_axes: np.ndarray | None = field(default=None, repr=False)

    @property
    def val_accuracy(self) -> float:
        """Share of validation digits on the confusion matrix's diagonal (NaN for none)."""
        total = int(np.sum(self.confusion))
        return float(np.trace(self.confusion)) / total if total else math.nan

    @property
    def label(self) -> str:
        """When it was taken, in words: ``untrained``, ``step 4``, ``epoch 3``."""
        if self.step == 0:
            return "untrained"
        if self.setup.steps_per_epoch and self.step < self.setup.steps_per_epoch:
            return f"step {self.step}"
        whole = round(self.epoch)
        return f"epoch {whole}" if abs(self.epoch - whole) < 1e-6 else f"epoch {self.epoch:.2f}"


@dataclass(frozen=True)
class Placement:
    """Where a new image lands on a film's final map.

    Attributes
    ----------
    xy : np.ndarray
        (2,) its point on the map.
    votes : dict[int, int]
        Digit -> how many of its ``NEIGHBOURS`` nearest map digits are that digit, most first.
    """

    xy: np.ndarray
    votes: dict[int, int]

    @property
    def among(self) -> int:
        """The digit most of its neighbours are ("your 7 lands among the 1s")."""
        return next(iter(self.votes))


@dataclass(frozen=True)
class Film:
    """Every snapshot of one training, in time order, and what they share.

    Attributes
    ----------
    setup : FilmSetup
        The units, layers and digits every snapshot shows.
    snapshots : tuple of Snapshot
        In time order: untrained, early steps, then one per epoch.
    record_seconds : float
        Seconds the recording took inside the training.
    """

    setup: FilmSetup
    snapshots: tuple[Snapshot, ...]
    record_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.snapshots)

    @property
    def epochs(self) -> list[float]:
        """Each snapshot's time in epochs (fractions within epoch 1)."""
        return [s.epoch for s in self.snapshots]

    def nearest(self, epoch: float) -> Snapshot:
        """The last snapshot taken at or before ``epoch`` (the first one for earlier times)."""
        times = np.asarray(self.epochs)
        i = int(np.searchsorted(times, epoch + 1e-9, side="right")) - 1
        return self.snapshots[max(i, 0)]

    def map_domain(self) -> tuple[float, float]:
        """One symmetric axis range holding every frame's map (both axes): points move, the axes stay."""
        return map_domain(self.snapshots)

    def place(self, activations: np.ndarray) -> Placement:
        """Where one image lands on the final map, from its last-hidden-layer activations (units,).

        Raises
        ------
        ValueError
            For a film without a map (no hidden layer) or activations of another width.
        """
        final = self.snapshots[-1]
        if final.map_xy is None or final.map_center is None or final.map_axes is None:
            raise ValueError("This network has no hidden layer, so its film has no map to place a digit on.")
        values = np.asarray(activations, dtype=np.float32).ravel()
        if values.shape != final.map_center.shape:
            raise ValueError(f"{values.size} activations, but the map's layer has {final.map_center.size} units.")
        xy = (values - final.map_center) @ final.map_axes
        points = np.asarray(final.map_xy, dtype=np.float32)
        order = np.argsort(np.sum((points - xy) ** 2, axis=1), kind="stable")[:NEIGHBOURS]
        counts = np.bincount(self.setup.map_labels[order], minlength=NUM_CLASSES)
        votes = {int(d): int(counts[d]) for d in np.argsort(-counts, kind="stable") if counts[d]}
        return Placement(xy.astype(np.float32), votes)


MAP_COVERS = 99.0  # percent of every frame's coordinates inside the map's axis range: a few outliers sit at its edge


def map_domain(snapshots: Sequence[Snapshot]) -> tuple[float, float]:
    """A symmetric range, rounded up to a quarter, holding ``MAP_COVERS`` % of the coordinates of every frame.

    The few points beyond it (a digit the network finds odd) are drawn at the edge: a range
    holding them all would squeeze the clusters into the middle. (-1, 1) for no map.
    """
    peak = 0.0
    for s in snapshots:
        if s.map_xy is not None:
            finite = np.asarray(s.map_xy, dtype=np.float32)
            finite = np.abs(finite[np.isfinite(finite)])
            if finite.size:
                peak = max(peak, float(np.percentile(finite, MAP_COVERS)))
    half = max(math.ceil(peak * 4) / 4, 1.0)
    return -half, half


# ---------------------------------------------------------------- what is recorded when
def early_steps(steps_per_epoch: int, count: int = EARLY_STEPS) -> list[int]:
    """Steps within epoch 1 after which a snapshot is taken: 1, 2, 4 ... (at most ``count``, in its first half).

    An epoch of few steps passes in a blink: the snapshots at its end follow soon enough.
    """
    return [2**i for i in range(count) if 2**i <= steps_per_epoch / 2]


def map_digits(labels: np.ndarray, size: int = MAP_DIGITS, seed: int = MAP_SEED) -> np.ndarray:
    """Rows of ``labels`` for the map: ``size`` of them, as many of each digit as there are, sorted.

    A private generator seeded with ``seed``: Keras' global seed is not touched, and every run
    on the same data gets the same digits.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    per_class = max(size // NUM_CLASSES, 1)
    chosen = []
    for digit in range(NUM_CLASSES):
        rows = np.flatnonzero(labels == digit)
        if rows.size:
            chosen.append(rng.choice(rows, size=min(per_class, rows.size), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def filter_units(units: int, most: int = MAX_FILTERS) -> np.ndarray:
    """Which first-layer units a snapshot keeps: all of them, or ``most`` evenly spaced from the first to the last."""
    if units <= most:
        return np.arange(units)
    return np.unique(np.linspace(0, units - 1, most).round().astype(np.int64))


def make_setup(spec: ExperimentSpec, data: Prepared) -> FilmSetup:
    """What a training of ``spec`` on ``data`` will record (no TensorFlow)."""
    infos = layer_infos(spec)
    hidden = [layer for layer in probed_layers(spec) if layer.activation_layer is not None]
    convs = [info.name for info in infos if info.kind == "conv"]
    x_val, labels_val = _map_source(data, snapshot_digits(spec))
    index = map_digits(labels_val)
    first = next(info for info in infos if info.kind in ("conv", "dense", "output"))
    units = first.output_shape[-1]
    feature_digit, feature_label = None, None
    if convs and index.size:
        feature_digit = _pixels(x_val[index[0]], data.mean, spec.raw_pixels)
        feature_label = int(labels_val[index[0]])
    steps = -(-len(data.x_train) // spec.batch_size)
    return FilmSetup(
        kind="conv" if convs else "dense",
        filter_layer=first.name,
        filter_units=filter_units(units) if not convs else np.arange(units),
        layers=tuple(layer.activation_layer or layer.name for layer in hidden),
        activations=tuple(layer.activation for layer in hidden),
        map_layer=hidden[-1].activation_layer if hidden else None,
        map_labels=np.asarray(labels_val[index], dtype=np.int64),
        map_index=index.astype(np.int64),
        feature_layers=tuple(convs),
        feature_digit=feature_digit,
        feature_label=feature_label,
        steps_per_epoch=steps,
        val_digits=len(labels_val),
    )


def _map_source(data: Prepared, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The validation images and digits (the test set's when nothing validates), the first ``most`` of them."""
    x, labels = (data.x_val, data.labels_val) if len(data.x_val) else (data.x_test, data.labels_test)
    return x[:most], labels[:most]


def _pixels(x: np.ndarray, mean: np.ndarray | None, raw: bool) -> np.ndarray:
    """A model input back to pixels in [0, 1] (the mean added back, raw 0-255 scaled)."""
    pixels = np.asarray(x, dtype=np.float32).reshape(NUM_PIXELS)
    if mean is not None:
        pixels = pixels + np.asarray(mean, dtype=np.float32).reshape(NUM_PIXELS)
    if raw:
        pixels = pixels / 255.0
    return np.clip(pixels, 0.0, 1.0)


# ---------------------------------------------------------------- the projection
def project(activations: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The map of one snapshot: PCA to 2-D, RMS radius 1, Procrustes-aligned to ``previous``.

    Parameters
    ----------
    activations : np.ndarray
        (n, units) the map digits' activations (flattened per digit).
    previous : np.ndarray, optional
        (n, 2) the previous snapshot's map, which this one is rotated (or reflected) onto.

    Returns
    -------
    (xy, center, axes) or None
        ``xy = (activations - center) @ axes``, (n, 2), (units,), (units, 2) float32; None when
        the activations are not all finite (a diverged run).
    """
    x = np.asarray(activations, dtype=np.float64).reshape(len(activations), -1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return None
    center = x.mean(axis=0)
    centered = x - center
    axes = _principal_axes(centered)
    xy = centered @ axes
    radius = math.sqrt(float(np.mean(np.sum(xy**2, axis=1))))
    if radius > 0:
        axes, xy = axes / radius, xy / radius
    if previous is not None and np.all(np.isfinite(previous)):
        u, _, v = np.linalg.svd(xy.T @ np.asarray(previous, dtype=np.float64))
        rotation = u @ v
        axes, xy = axes @ rotation, xy @ rotation
    return xy.astype(np.float32), center.astype(np.float32), axes.astype(np.float32)


@functools.cache
def _blas_libraries() -> list[Any]:
    """numpy's BLAS libraries (threadpoolctl controllers), found once (about 13 ms)."""
    from threadpoolctl import ThreadpoolController  # lazy; scikit-learn's own dependency

    return list(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread for the ``with`` body.

    Beside TensorFlow's threads, BLAS' own spin for the same cores: an eigendecomposition that
    takes 1-3 ms alone took about 90 ms inside a training. (threadpoolctl's own ``limit`` looks
    the libraries up again on every call, 4 ms.)
    """
    libraries = _blas_libraries()
    before = [library.get_num_threads() for library in libraries]
    for library in libraries:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(libraries, before, strict=True):
            library.set_num_threads(threads)


def _principal_axes(centered: np.ndarray) -> np.ndarray:
    """(units, 2) the two leading principal directions of centered rows (zeros beyond the data's rank).

    From the smaller of the covariance (units x units) and the Gram matrix (digits x digits):
    an eigendecomposition of 128 x 128 takes about a millisecond, an SVD of the 300 x 128 data four times that.
    """
    with _one_blas_thread():
        return _leading_axes(centered)


def _leading_axes(centered: np.ndarray) -> np.ndarray:
    n, units = centered.shape
    axes = np.zeros((units, 2))
    if units <= n:
        _, vectors = np.linalg.eigh(centered.T @ centered)
        top = vectors[:, ::-1][:, :2]
    else:
        values, vectors = np.linalg.eigh(centered @ centered.T)
        top = centered.T @ vectors[:, ::-1][:, :2]
        top /= np.maximum(np.linalg.norm(top, axis=0), 1e-12)
    axes[:, : top.shape[1]] = top
    return axes


# ---------------------------------------------------------------- recording
class SnapshotRecorder:
    """Takes the snapshots of one training and hands each to ``observer.on_snapshot``.

    Construct it before training, hand ``callback()`` to the trainer's loop (with
    :func:`early_steps` as extra call boundaries in epoch 1), read ``film()`` after.

    Parameters
    ----------
    spec : ExperimentSpec
        What trains.
    data : Prepared
        Its arrays: the validation set (confusion, map digits) and the training set's size.
    observer : TrainingObserver, optional
        Hears each snapshot as it is taken (``on_snapshot``).
    """

    def __init__(self, spec: ExperimentSpec, data: Prepared, observer: Any = None) -> None:
        self.spec = spec
        self.light = is_light(spec)
        self.setup = make_setup(spec, data)
        x_val, labels_val = _map_source(data, self.setup.val_digits)
        self.x_val = np.asarray(x_val, dtype=np.float32)
        self.labels_val = np.asarray(labels_val, dtype=np.int64)
        self.observer = observer
        self.snapshots: list[Snapshot] = []
        self.seconds = 0.0
        self._probe: Any = None
        self._previous_map: np.ndarray | None = None

    @property
    def early(self) -> list[int]:
        """Steps within epoch 1 after which a snapshot is taken."""
        return early_steps(self.setup.steps_per_epoch) if self.light else []

    def callback(self) -> Any:
        """A ``keras.callbacks.Callback`` that records during the trainer's loop."""
        return _callback_class()(self)

    def film(self) -> Film:
        """Every snapshot taken so far."""
        return Film(self.setup, tuple(self.snapshots), self.seconds)

    def record(self, model: Any, epoch: float, step: int) -> Snapshot:
        """Take one snapshot of ``model`` as it is now, keep it, tell the observer; returns it."""
        start = time.perf_counter()
        if self._probe is None:
            self._probe = _sub_model(model, self.setup)
        snapshot = self._take(model, epoch, step)
        self.snapshots.append(snapshot)
        self.seconds += time.perf_counter() - start
        if self.observer is not None:
            self.observer.on_snapshot(snapshot)
        return snapshot

    def _take(self, model: Any, epoch: float, step: int) -> Snapshot:
        from lab.nn.forward import predict_probs

        setup = self.setup
        if self._probe is None:
            probs, hidden = predict_probs(model, self.x_val), []
        else:  # one pass over the validation digits gives every hidden layer and the answers
            *hidden, probs = (np.asarray(a, dtype=np.float32) for a in _as_list(self._probe(self.x_val)))
            hidden = [a[setup.map_index] for a in hidden]
        predicted = np.argmax(np.nan_to_num(probs), axis=1)
        confusion = np.bincount(self.labels_val * NUM_CLASSES + predicted, minlength=NUM_CLASSES * NUM_CLASSES).reshape(
            NUM_CLASSES, NUM_CLASSES
        )
        dead = np.array([_nan(dead_share(a, f)) for a, f in zip(hidden, setup.activations, strict=True)], np.float32)
        saturated = np.array(
            [_nan(saturated_share(a, f)) for a, f in zip(hidden, setup.activations, strict=True)], np.float32
        )
        maps: tuple[np.ndarray, ...] = ()
        if setup.feature_layers and hidden:  # the feature digit is the first map digit
            maps = tuple(_half(hidden[setup.layers.index(name)][0]) for name in setup.feature_layers)
        map_xy = center = axes = None
        if setup.map_layer is not None and hidden:
            projected = project(hidden[-1].reshape(len(hidden[-1]), -1), self._previous_map)
            if projected is not None:
                map_xy, center, axes = projected
                self._previous_map = map_xy
            else:
                n = len(setup.map_index)
                map_xy = np.full((n, 2), np.nan, np.float32)
        first = np.asarray(model.get_layer(setup.filter_layer).kernel)
        filters = kernels = None
        if setup.kind == "conv":
            kernels = _half(np.transpose(first[:, :, 0, :], (2, 0, 1)))
        else:
            filters = _half(first[:, setup.filter_units].T)
        return Snapshot(
            epoch=float(epoch),
            step=int(step),
            setup=setup,
            output_weights=_half(np.asarray(model.get_layer("output").kernel)),
            confusion=confusion.astype(np.int32),
            dead=dead,
            saturated=saturated,
            filters=filters,
            kernels=kernels,
            feature_maps=maps,
            map_xy=None if map_xy is None else _half(map_xy),
            map_center=center,
            map_axes=axes,
        )


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _as_list(values: Any) -> list[Any]:
    return list(values) if isinstance(values, (list, tuple)) else [values]


# The compiled probes of the last few models recorded, by model: the trainer keeps the model of each
# shape it trained (``lab.nn.loop.LOOPS``) and trains the next training of that shape on it, so that
# training's recorder finds its probe compiled already. Each entry holds its model, as LOOPS does.
PROBES_KEPT = 4
_PROBES: OrderedDict[tuple[int, tuple[str, ...]], tuple[Any, Any]] = OrderedDict()
_PROBES_LOCK = threading.Lock()


def _sub_model(model: Any, setup: FilmSetup) -> Any:
    """A compiled call from the model's input to every hidden layer's activation (convolutions included), then
    the output, in inference mode; None when the network has no hidden layer.

    Built on the very model that trains: it reads the weights as they are at each call. Compiled
    (a tenth of a second once) because an eager Keras call costs about a millisecond a layer:
    a 5-layer A1 spent a third of its one-second training in 15 eager snapshots.
    """
    names = tuple(setup.layers)
    if not names:
        return None
    key = (id(model), names)
    with _PROBES_LOCK:
        kept = _PROBES.get(key)
        if kept is not None and kept[0] is model:
            _PROBES.move_to_end(key)
            return kept[1]
    import keras  # lazy: reading films never imports TensorFlow
    import tensorflow as tf

    outputs = [*(model.get_layer(name).output for name in names), model.outputs[0]]
    probe = keras.Model(model.inputs[0], outputs)
    width = int(model.inputs[0].shape[-1])
    call = tf.function(
        lambda x: probe(x, training=False),
        input_signature=[tf.TensorSpec((None, width), tf.float32)],
        autograph=False,
    )
    with _PROBES_LOCK:
        _PROBES[key] = (model, call)
        while len(_PROBES) > PROBES_KEPT:
            _PROBES.popitem(last=False)
    return call


@functools.cache
def _callback_class() -> type:
    """The Keras callback class, defined on first use so that loading a film never imports Keras."""
    import keras  # lazy: see _sub_model

    class SnapshotCallback(keras.callbacks.Callback):
        """Records at the start, after the early steps of epoch 1 and after every epoch."""

        def __init__(self, recorder: SnapshotRecorder) -> None:
            super().__init__()
            self.recorder = recorder
            self.early = set(recorder.early)
            self.epoch = 0
            self.done = 0  # batches of this epoch trained

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.recorder.record(self.model, 0.0, 0)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.done = epoch, 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.done = batch + 1
            # Never once the training was asked to stop: Stop must not wait for a snapshot.
            if self.epoch == 0 and self.done in self.early and not self.model.stop_training:
                self.recorder.record(self.model, self.done / self.recorder.setup.steps_per_epoch, self.done)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            steps = self.recorder.setup.steps_per_epoch
            if self.done < steps and not self.recorder.light:
                return  # stopped mid-epoch: a heavy network's Stop does not wait for a snapshot
            self.recorder.record(self.model, epoch + self.done / steps, epoch * steps + self.done)

    return SnapshotCallback


# ---------------------------------------------------------------- a new digit on the map
def map_hidden(model: Any, film: Film, x: np.ndarray) -> np.ndarray:
    """The activations (n, units) of ``film``'s map layer in ``model`` for inputs ``x`` as the model takes them.

    Raises
    ------
    ValueError
        For a film without a map (no hidden layer).
    """
    if film.setup.map_layer is None:
        raise ValueError("This network has no hidden layer, so its film has no map to place a digit on.")
    import keras  # lazy: see _sub_model

    from lab.nn.forward import outputs

    layer = keras.Model(model.inputs[0], model.get_layer(film.setup.map_layer).output)
    x = np.asarray(x, dtype=np.float32).reshape(-1, NUM_PIXELS)
    return outputs(layer, x).reshape(len(x), -1)


def place_digit(model: Any, film: Film, image: np.ndarray, mean: np.ndarray | None = None) -> Placement:
    """Where one image lands on the film's final map, and the digits around it ("your 7 lands among the 1s").

    Parameters
    ----------
    model : keras.Model
        The run's trained model (``RunResult.model``).
    film : Film
        The run's film (``RunResult.film``).
    image : np.ndarray
        784 pixels or 28x28: in [0, 1] when ``mean`` is given (a drawing), else as the model takes them.
    mean : np.ndarray, optional
        The run's training mean (``RunResult.mean``), for a run trained on centered data.
    """
    from lab.data.prepare import center_images

    x = center_images(np.asarray(image, dtype=np.float32).reshape(1, NUM_PIXELS), mean)
    return film.place(map_hidden(model, film, x)[0])


# ---------------------------------------------------------------- storing and loading
def save_film(film: Film, folder: str | Path) -> Path:
    """Write ``film`` as ``folder/snapshots.npz`` (compressed; weights float16); returns the file."""
    path = Path(folder) / FILE_NAME
    with open(path, "wb") as file:
        file.write(film_bytes(film))
    return path


def film_bytes(film: Film) -> bytes:
    """The ``snapshots.npz`` file's bytes for ``film``."""
    setup, shots = film.setup, film.snapshots
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT_VERSION),
        "kind": np.array(setup.kind),
        "filter_layer": np.array(setup.filter_layer),
        "filter_units": setup.filter_units.astype(np.int32),
        "layers": np.array(setup.layers, dtype=str),
        "activations": np.array(setup.activations, dtype=str),
        "map_layer": np.array(setup.map_layer or ""),
        "map_labels": setup.map_labels.astype(np.uint8),
        "map_index": setup.map_index.astype(np.int32),
        "feature_layers": np.array(setup.feature_layers, dtype=str),
        "steps_per_epoch": np.array(setup.steps_per_epoch),
        "val_digits": np.array(setup.val_digits),
        "record_seconds": np.array(film.record_seconds),
        "epoch": np.array([s.epoch for s in shots], dtype=np.float64),
        "step": np.array([s.step for s in shots], dtype=np.int64),
        "output_weights": np.stack([s.output_weights for s in shots]).astype(np.float16),
        "confusion": np.stack([s.confusion for s in shots]).astype(np.int32),
        "dead": np.stack([s.dead for s in shots]).astype(np.float32),
        "saturated": np.stack([s.saturated for s in shots]).astype(np.float32),
    }
    if setup.feature_digit is not None:
        arrays["feature_digit"] = setup.feature_digit.astype(np.float16)
        arrays["feature_label"] = np.array(setup.feature_label)
    if shots and shots[0].filters is not None:
        arrays["filters"], arrays["filters_scale"] = quantize(np.stack([s.filters for s in shots]))
    if shots and shots[0].kernels is not None:
        arrays["kernels"] = np.stack([s.kernels for s in shots]).astype(np.float16)
    for i in range(len(setup.feature_layers)):
        arrays[f"feature_maps_{i}"] = np.stack([s.feature_maps[i] for s in shots]).astype(np.float16)
    if setup.map_layer and shots:
        n, units = len(setup.map_index), _map_units(shots)
        arrays["map_xy"] = np.stack([_or_nan(s.map_xy, (n, 2)) for s in shots]).astype(np.float16)
        arrays["map_center"] = np.stack([_or_nan(s.map_center, (units,)) for s in shots]).astype(np.float32)
        arrays["map_axes"] = np.stack([_or_nan(s.map_axes, (units, 2)) for s in shots]).astype(np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def quantize(filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filters (..., units, 784) as int8 and a float32 scale per unit: ``value = int8 / 127 * scale``.

    A filter is a picture: 255 levels of its own range are more than a screen shows, and half
    of float16's bytes (a long run keeps a film per epoch: A1's 100 epochs).
    """
    values = np.nan_to_num(np.asarray(filters, dtype=np.float32))
    scale = np.max(np.abs(values), axis=-1, keepdims=True)
    q = np.round(values / np.where(scale > 0, scale, 1.0) * 127).astype(np.int8)
    return q, scale[..., 0].astype(np.float32)


def dequantize(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Filters back from :func:`quantize`, float16."""
    return (q.astype(np.float32) / 127 * np.asarray(scale, np.float32)[..., None]).astype(np.float16)


def _map_units(shots: Sequence[Snapshot]) -> int:
    return next((len(s.map_center) for s in shots if s.map_center is not None), 0)


def _or_nan(value: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(value) if value is not None else np.full(shape, np.nan, np.float32)


def load_film(folder: str | Path) -> Film | None:
    """The film stored in a run's folder, or None (a run stored before snapshots, or an unreadable file).

    Parameters
    ----------
    folder : str or Path
        A run's folder in the store (``RunResult.path``), or the ``snapshots.npz`` file itself.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / FILE_NAME
    try:
        with open(path, "rb") as file:
            return film_from_bytes(file.read())
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a broken film costs the replay, never the run
        import logging

        logging.getLogger(__name__).warning("Unreadable snapshots in %s", path, exc_info=True)
        return None


def film_from_bytes(data: bytes) -> Film:
    """A film from the bytes of a ``snapshots.npz`` file (:func:`film_bytes`)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        a = {name: z[name] for name in z.files}
    if int(a["format"]) != FORMAT_VERSION:
        raise ValueError(f"snapshots format {int(a['format'])}, this lab reads {FORMAT_VERSION}")
    feature_layers = tuple(str(s) for s in a["feature_layers"])
    setup = FilmSetup(
        kind=str(a["kind"]),
        filter_layer=str(a["filter_layer"]),
        filter_units=a["filter_units"].astype(np.int64),
        layers=tuple(str(s) for s in a["layers"]),
        activations=tuple(str(s) for s in a["activations"]),
        map_layer=str(a["map_layer"]) or None,
        map_labels=a["map_labels"].astype(np.int64),
        map_index=a["map_index"].astype(np.int64),
        feature_layers=feature_layers,
        feature_digit=a["feature_digit"].astype(np.float32) if "feature_digit" in a else None,
        feature_label=int(a["feature_label"]) if "feature_label" in a else None,
        steps_per_epoch=int(a["steps_per_epoch"]),
        val_digits=int(a["val_digits"]),
    )
    shots = []
    for i in range(len(a["epoch"])):
        shots.append(
            Snapshot(
                epoch=float(a["epoch"][i]),
                step=int(a["step"][i]),
                setup=setup,
                output_weights=a["output_weights"][i],
                confusion=a["confusion"][i].astype(np.int64),
                dead=a["dead"][i],
                saturated=a["saturated"][i],
                filters=dequantize(a["filters"][i], a["filters_scale"][i]) if "filters" in a else None,
                kernels=a["kernels"][i] if "kernels" in a else None,
                feature_maps=tuple(a[f"feature_maps_{j}"][i] for j in range(len(feature_layers))),
                map_xy=a["map_xy"][i] if "map_xy" in a else None,
                map_center=_finite_or_none(a, "map_center", i),
                map_axes=_finite_or_none(a, "map_axes", i),
            )
        )
    return Film(setup, tuple(shots), float(a["record_seconds"]))


def _finite_or_none(arrays: dict[str, np.ndarray], name: str, i: int) -> np.ndarray | None:
    if name not in arrays:
        return None
    value = arrays[name][i]
    return value if np.all(np.isfinite(value)) else None


def _half(values: np.ndarray) -> np.ndarray:
    """``values`` as float16, clipped to its range: a diverging network's weights pass 65,504.

    NaN stays NaN; a finite weight too large for float16 becomes the largest one, not infinity.
    """
    big = float(np.finfo(np.float16).max)
    return np.clip(np.asarray(values, np.float32), -big, big).astype(np.float16)
