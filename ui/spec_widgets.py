"""Widgets for every field of an ExperimentSpec, and the spec in the URL.

``spec_controls`` draws the data, model and training controls and returns the
spec they describe; any page can reuse it (with its own ``key_prefix``).
``spec_to_query`` / ``spec_from_query`` (from ``lab.codec``) write a spec into URL
query parameters and read it back, as TensorFlow Playground keeps its whole setup
in the link.

Widgets take their values from session state (seeded from a spec by
``seed_controls``), never from a ``value=`` argument, so that a link, a preset
or a stored run can set them without Streamlit's "default value and session
state" conflict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from lab.architecture import count_params, count_trainable, layer_infos, validate_network
from lab.codec import spec_from_query, spec_to_query  # noqa: F401 - the pages read their links through here
from lab.data.sources import SOURCES, DataUnavailable, is_cached, load_source
from lab.spec import (
    ACTIVATIONS,
    BATCHNORM,
    INITIALIZERS,
    MONITORS,
    OPTIMIZERS,
    OUTPUTS,
    SUBSET_MODES,
    VAL_MODES,
    ExperimentSpec,
)

MAX_HIDDEN_LAYERS = 6
SUBSET_OPTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.33, 0.5, 1.0)
VAL_OPTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
WIDTH_OPTIONS = (2, 5, 10, 20, 30, 50, 64, 100, 128, 200, 256, 500, 1000, 2000)
L2_OPTIONS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
LR_OPTIONS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0)
MOMENTUM_OPTIONS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
STDDEV_OPTIONS = (0.01, 0.05, 0.1, 0.5, 1.0)
BATCH_OPTIONS = (1, 5, 8, 16, 32, 50, 64, 100, 128, 256, 512, 1024)
MIN_DELTA_OPTIONS = (0.0, 1e-4, 1e-3, 1e-2)
SOURCE_SIZES = {"sample": 4_000, "mnist": 60_000, "fashion": 60_000}  # training images, for the subset labels

HELP = {
    "data_source": (
        "Which images to learn from: the offline MNIST sample, full MNIST, Fashion-MNIST, or your own IDX files."
    ),
    "idx_folder": "A folder holding train-images, train-labels, t10k-images and t10k-labels IDX files (.gz or not).",
    "train_subset": (
        "Train on only part of the training images: fewer images train faster but the network over-fits sooner."
    ),
    "subset_mode": (
        "How the part is picked: at random with the same share of each digit, every k-th image, or the first ones."
    ),
    "val_split": (
        "The share of training images kept aside to check, after each epoch, how well the network does on "
        "images it never trains on."
    ),
    "val_mode": (
        "Random keeps each digit's share; 'last' copies Keras' validation_split (the last images, "
        "unshuffled); 'test' validates on the test set."
    ),
    "center": (
        "Subtract the average training image from every image, so that pixels vary around zero, which often "
        "speeds up learning."
    ),
    "raw_pixels": (
        "Feed the pixels as stored, 0 to 255, instead of scaled to 0-1: what course notebooks 000, 001 and 004 "
        "did. Inputs 255 times larger make plain SGD take 255 times larger steps in the first layer, sigmoid "
        "units saturate, and batch normalization has real work to do."
    ),
    "test_subset": "Evaluate on only the first N test images (0 = all of them).",
    "data_seed": "Fixes which images are kept and which validate, so that runs with different seeds see the same data.",
    "n_hidden": "Layers of units between the pixels and the ten outputs; 0 hidden layers is logistic regression.",
    "width": "How many units each hidden layer has: more units can learn more patterns but have more weights to fit.",
    "per_layer": "Give each hidden layer its own number of units (for example 580, 325, 125).",
    "width_i": "Units in this hidden layer.",
    "activation": (
        "The function each unit applies to its weighted sum: ReLU keeps gradients alive, sigmoid and tanh "
        "squash them and can make deep networks stall."
    ),
    "initializer": (
        "How the weights are drawn before training: scaled schemes (Glorot, He) keep signals from vanishing "
        "or exploding through the layers."
    ),
    "init_stddev": "Spread of the normal distribution the initial weights are drawn from.",
    "batchnorm": (
        "Batch normalization rescales each layer's outputs to mean 0 and spread 1 on every batch, which "
        "speeds up and steadies training."
    ),
    "dropout": (
        "During training, switch off this share of the hidden units at random, so that no unit can rely on "
        "another: fights over-fitting."
    ),
    "l2": (
        "Add the sum of squared weights times this number to the loss, pulling weights toward zero: a simpler"
        " network over-fits less."
    ),
    "l2_output": "Also apply the L2 penalty to the output layer's weights.",
    "output": (
        "Softmax with cross-entropy (the modern choice) or sigmoid outputs with mean squared error (the older"
        " textbook network)."
    ),
    "optimizer": (
        "The rule that turns gradients into weight updates: SGD takes plain steps, Adam and RMSprop adapt the"
        " step size for each weight."
    ),
    "learning_rate": (
        "How big each update step is: too small and learning crawls, too big and the loss jumps around or explodes."
    ),
    "momentum": (
        "SGD only: keep a share of the previous step, so that updates build up speed in a consistent direction."
    ),
    "nesterov": "SGD only: look ahead along the momentum before computing the gradient, a slightly smarter momentum.",
    "batch_size": (
        "How many images are averaged for each update: small batches give many noisy steps, large batches few"
        " smooth ones."
    ),
    "epochs": "How many times training goes through all training images.",
    "early_stopping": (
        "Stop when the validation result has not improved for this many epochs (0 = off), before the network over-fits."
    ),
    "es_monitor": "Which number early stopping watches.",
    "es_min_delta": "The smallest change that counts as an improvement for early stopping.",
    "es_restore_best": "When early stopping ends training, go back to the weights of the best epoch.",
    "seed": "Fixes the random initial weights, dropout and batch order, so that the same settings give the same run.",
}

_SOURCE_NAMES = {
    "sample": "MNIST sample (offline, 5,000)",
    "mnist": "MNIST (70,000)",
    "fashion": "Fashion-MNIST (70,000)",
    "idx": "IDX files in a folder",
}
_BATCHNORM_NAMES = {"none": "off", "before": "before the activation", "after": "after the activation"}
_OUTPUT_NAMES = {"softmax_ce": "softmax + cross-entropy", "sigmoid_mse": "sigmoid + mean squared error"}
_VAL_MODE_NAMES = {"random": "random, stratified", "last": "last images (Keras)", "test": "the test set"}
_SUBSET_MODE_NAMES = {"random": "random, stratified", "every": "every k-th image", "first": "the first images"}


# ------------------------------------------------------- session state seeding
def control_values(spec: ExperimentSpec) -> dict[str, Any]:
    """The widget values (by widget name, without prefix) that show ``spec``."""
    source = spec.data.split(":", 1)[0] if spec.data.startswith("idx:") else spec.data
    widths = tuple(spec.hidden)
    values: dict[str, Any] = {
        "data_source": source,
        "idx_folder": spec.data[4:] if source == "idx" else "",
        "n_hidden": len(widths),
        "width": widths[0] if widths else 50,
        "per_layer": len(set(widths)) > 1,
    }
    for i, w in enumerate(widths, start=1):
        values[f"width_{i}"] = int(w)
    for name in (
        "train_subset", "subset_mode", "val_split", "val_mode", "center", "raw_pixels", "test_subset",
        "data_seed", "activation", "initializer", "init_stddev", "batchnorm", "dropout", "l2", "l2_output", "output",
        "optimizer", "learning_rate", "momentum", "nesterov", "batch_size", "epochs", "early_stopping",
        "es_monitor", "es_min_delta", "es_restore_best", "seed",
    ):  # fmt: skip
        values[name] = getattr(spec, name)
    return values


def seed_controls(spec: ExperimentSpec, key_prefix: str = "") -> None:
    """Set every control to show ``spec`` (call before the widgets are drawn, or from a callback)."""
    for name, value in control_values(spec).items():
        st.session_state[key_prefix + name] = value
    for i in range(len(spec.hidden) + 1, MAX_HIDDEN_LAYERS + 1):
        st.session_state.pop(f"{key_prefix}width_{i}", None)


# ------------------------------------------------------------------ widgets
def spec_controls(defaults: ExperimentSpec, key_prefix: str = "") -> ExperimentSpec:
    """Draw a control for every field of the spec and return the spec they describe.

    Parameters
    ----------
    defaults : ExperimentSpec
        Values for controls not set yet in this session. Its ``conv`` and
        ``augmentation`` (not drawn here: a page draws its own) go into the result.
    key_prefix : str
        Prefix of every widget key, so that two pages keep separate settings.

    Returns
    -------
    ExperimentSpec
        Not validated: call ``validate()`` (the parameter budget may be exceeded).
    """
    p = key_prefix
    for name, value in control_values(defaults).items():
        st.session_state.setdefault(p + name, value)
    with st.expander("Data", expanded=True):
        data = _data_controls(p)
    with st.expander("Model", expanded=True):
        model = _model_controls(p)
    with st.expander("Training", expanded=True):
        training = _training_controls(p)
    # Settings a choice makes irrelevant (momentum under Adam ...) keep their values, disabled, rather than
    # being reset: a preset's spec must come back with the same run id, or its stored run would not be found.
    return ExperimentSpec(**data, **model, **training, conv=defaults.conv, augmentation=defaults.augmentation)


def _w(p: str, name: str, options: Sequence[Any] | None = None) -> dict[str, Any]:
    """Common widget arguments: stable key, help text, kept when hidden or on another page."""
    kwargs: dict[str, Any] = {"key": p + name, "help": HELP.get(name), "persist_state": "session"}
    if options is not None:
        kwargs["options"] = _with_current(options, st.session_state.get(p + name))
    return kwargs


def _with_current(options: Sequence[Any], current: Any) -> list[Any]:
    """The options plus the current value (a link or preset may hold a value the list lacks), in order."""
    values = list(options)
    if current is not None and current not in values:
        values.append(current)
        with contextlib.suppress(TypeError):  # mixed types keep the list order
            values.sort()
    return values


def _data_controls(p: str) -> dict[str, Any]:
    source = st.selectbox("Data", format_func=_SOURCE_NAMES.get, **_w(p, "data_source", list(_SOURCE_NAMES)))
    data = source
    if source == "idx":
        folder = st.text_input("IDX folder", placeholder="/path/to/mnist", **_w(p, "idx_folder")).strip()
        data = f"idx:{folder}" if folder else "idx:"
    size = SOURCE_SIZES.get(source, 60_000)
    subset = st.select_slider(
        "Training images", format_func=lambda v: _subset_label(v, size), **_w(p, "train_subset", SUBSET_OPTIONS)
    )
    subset_mode = st.selectbox("Picked", format_func=_SUBSET_MODE_NAMES.get, **_w(p, "subset_mode", SUBSET_MODES))
    val_mode = st.selectbox("Validation images", format_func=_VAL_MODE_NAMES.get, **_w(p, "val_mode", VAL_MODES))
    val_split = st.select_slider(
        "Validation share",
        format_func=lambda v: f"{v:.0%}",
        disabled=val_mode == "test",
        **_w(p, "val_split", VAL_OPTIONS),
    )
    center = st.checkbox("Center the pixels (subtract the mean image)", **_w(p, "center"))
    raw_pixels = st.checkbox(
        "Raw 0-255 pixels (no scaling, as the course's notebooks 000, 001, 004)", **_w(p, "raw_pixels")
    )
    c1, c2 = st.columns(2)
    test_subset = c1.number_input("Test images (0 = all)", min_value=0, step=100, **_w(p, "test_subset"))
    data_seed = c2.number_input("Data seed", min_value=0, step=1, **_w(p, "data_seed"))
    return {
        "data": data,
        "train_subset": float(subset),
        "subset_mode": subset_mode,
        "val_split": float(val_split),
        "val_mode": val_mode,
        "center": bool(center),
        "raw_pixels": bool(raw_pixels),
        "test_subset": int(test_subset),
        "data_seed": int(data_seed),
    }


def _g(value: float) -> str:
    return f"{value:g}"


def _subset_label(value: float, size: int) -> str:
    if value > 1:
        return f"{int(value):,} images"
    return f"{value:.0%} · {round(value * size):,}"


def _model_controls(p: str) -> dict[str, Any]:
    top = max(MAX_HIDDEN_LAYERS, st.session_state.get(p + "n_hidden", 0))
    n_hidden = st.slider("Hidden layers", min_value=0, max_value=top, step=1, **_w(p, "n_hidden"))
    hidden: tuple[int, ...] = ()
    if n_hidden:
        width = st.select_slider("Units per hidden layer", **_w(p, "width", WIDTH_OPTIONS))
        per_layer = st.toggle("Set each layer's width", **_w(p, "per_layer"))
        hidden = (int(width),) * n_hidden
        if per_layer:
            columns = st.columns(min(n_hidden, 3))
            widths = []
            for i in range(1, n_hidden + 1):
                st.session_state.setdefault(f"{p}width_{i}", int(width))
                args = _w(p, f"width_{i}")
                args["help"] = HELP["width_i"]
                widths.append(columns[(i - 1) % len(columns)].number_input(f"Layer {i}", min_value=1, step=10, **args))
            hidden = tuple(int(w) for w in widths)
    activation = st.selectbox("Activation", **_w(p, "activation", ACTIVATIONS))
    initializer = st.selectbox("Weight initializer", **_w(p, "initializer", INITIALIZERS))
    init_stddev = st.session_state[p + "init_stddev"]
    if initializer == "random_normal":
        init_stddev = st.select_slider("Initial weights' standard deviation", **_w(p, "init_stddev", STDDEV_OPTIONS))
    batchnorm = st.selectbox("Batch normalization", format_func=_BATCHNORM_NAMES.get, **_w(p, "batchnorm", BATCHNORM))
    dropout = st.slider("Dropout rate", min_value=0.0, max_value=0.9, step=0.05, **_w(p, "dropout"))
    l2 = st.select_slider("L2 penalty", format_func=lambda v: "off" if v == 0 else f"{v:g}", **_w(p, "l2", L2_OPTIONS))
    l2_output = st.checkbox("L2 on the output layer too", disabled=not l2, **_w(p, "l2_output"))
    output = st.selectbox("Output and loss", format_func=_OUTPUT_NAMES.get, **_w(p, "output", OUTPUTS))
    return {
        "hidden": hidden,
        "activation": activation,
        "initializer": initializer,
        "init_stddev": float(init_stddev),
        "batchnorm": batchnorm,
        "dropout": float(dropout),
        "l2": float(l2),
        "l2_output": bool(l2_output),
        "output": output,
    }


def _training_controls(p: str) -> dict[str, Any]:
    optimizer = st.selectbox("Optimizer", format_func=str.upper, **_w(p, "optimizer", OPTIMIZERS))
    learning_rate = st.select_slider("Learning rate", format_func=_g, **_w(p, "learning_rate", LR_OPTIONS))
    sgd = optimizer == "sgd"
    c1, c2 = st.columns([3, 2])
    momentum = c1.select_slider("Momentum", disabled=not sgd, format_func=_g, **_w(p, "momentum", MOMENTUM_OPTIONS))
    with c2:
        st.write("")  # aligns the checkbox with the slider
        nesterov = st.checkbox("Nesterov", disabled=not sgd, **_w(p, "nesterov"))
    batch_size = st.select_slider("Batch size", **_w(p, "batch_size", BATCH_OPTIONS))
    top = max(100, st.session_state.get(p + "epochs", 1))
    epochs = st.slider("Epochs", min_value=1, max_value=top, step=1, **_w(p, "epochs"))
    top = max(20, st.session_state.get(p + "early_stopping", 0))
    patience = st.slider("Early stopping patience (0 = off)", min_value=0, max_value=top, **_w(p, "early_stopping"))
    monitor, min_delta, restore = (st.session_state[p + k] for k in ("es_monitor", "es_min_delta", "es_restore_best"))
    if patience:
        c1, c2 = st.columns(2)
        monitor = c1.selectbox("Watch", **_w(p, "es_monitor", MONITORS))
        min_delta = c2.select_slider("Min. change", format_func=_g, **_w(p, "es_min_delta", MIN_DELTA_OPTIONS))
        restore = st.checkbox("Keep the best epoch's weights", **_w(p, "es_restore_best"))
    seed = st.number_input("Seed", min_value=0, step=1, **_w(p, "seed"))
    return {
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "momentum": float(momentum),
        "nesterov": bool(nesterov),
        "batch_size": int(batch_size),
        "epochs": int(epochs),
        "early_stopping": int(patience),
        "es_monitor": monitor,
        "es_min_delta": float(min_delta),
        "es_restore_best": bool(restore),
        "seed": int(seed),
    }


# ------------------------------------------------------ what the spec builds
def layer_table(spec: ExperimentSpec) -> pd.DataFrame:
    """The network's layers as a table: name, kind, output shape, parameters, detail."""
    rows = [
        {
            "Layer": info.name,
            "Kind": info.kind,
            "Output": " x ".join(str(s) for s in info.output_shape),
            "Parameters": info.params,
            "What it does": info.detail,
        }
        for info in layer_infos(spec)
    ]
    return pd.DataFrame(rows)


def show_architecture(spec: ExperimentSpec) -> bool:
    """Parameter count and layer table for ``spec`` (no TensorFlow needed); returns whether the spec is valid.

    An invalid spec (a bad value, or more parameters than the budget) shows
    ``st.error`` with what to change.
    """
    try:
        params = count_params(spec)
        trainable = count_trainable(spec)
        table = layer_table(spec)
    except ValueError as exc:
        st.error(str(exc))
        return False
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{params:,}", help="Every weight and bias the network has.")
    c2.metric("Trained by gradient descent", f"{trainable:,}", help="Batch norm's running means and variances are not.")
    c3.metric("Hidden layers", len(spec.hidden), help="Layers of units between the pixels and the ten outputs.")
    shape = " → ".join(str(w) for w in (784, *spec.hidden, 10))
    convs = f"{len(spec.conv)} convolution block(s), then " if spec.conv else ""
    st.caption(f"Units per layer: {convs}{shape}")
    with st.expander("Layer table", expanded=False):
        st.dataframe(table, hide_index=True, width="stretch")
    try:
        validate_network(spec)
    except ValueError as exc:
        st.error(str(exc))
        return False
    return True


def data_available(spec: ExperimentSpec, key_prefix: str = "") -> bool:
    """Whether the spec's data can be loaded here; if not, say why and offer the download or the sample.

    MNIST and Fashion-MNIST download once, on a click (never by themselves); an
    offline machine gets a clear ``st.error`` and a button that switches to the sample.
    """
    source = spec.data
    if source == "sample":
        return True
    if source.startswith("idx:"):
        try:
            load_source(source)
            return True
        except (DataUnavailable, ValueError) as exc:
            st.error(f"{exc}")
            _use_sample_button(key_prefix)
            return False
    if is_cached(source):
        return True
    name = SOURCES.get(source, source)
    st.info(f"{name} is not downloaded yet (about 11-30 MB, once).")
    error = st.session_state.get(key_prefix + "_data_error")
    if error:
        st.error(error)
        _use_sample_button(key_prefix)
    st.button(
        f"Download {name}",
        key=key_prefix + "download_data",
        on_click=_download,
        args=(source, key_prefix),
        type="primary",
    )
    return False


def _download(source: str, key_prefix: str) -> None:
    try:
        with st.spinner("Downloading ..."):
            load_source(source)
        st.session_state.pop(key_prefix + "_data_error", None)
    except DataUnavailable as exc:
        st.session_state[key_prefix + "_data_error"] = str(exc)


def _use_sample_button(key_prefix: str) -> None:
    def use_sample() -> None:
        st.session_state[key_prefix + "data_source"] = "sample"
        st.session_state.pop(key_prefix + "_data_error", None)

    st.button("Use the offline MNIST sample instead", key=key_prefix + "use_sample", on_click=use_sample)
