"""Widgets for every field of an ExperimentSpec.

``spec_controls`` draws the data, model and training controls and returns the
spec they describe; any page can reuse it (with its own ``key_prefix``). The
spec in the URL is ``ui.url``'s.

Widgets take their values from session state (seeded from a spec by
``seed_controls``), never from a ``value=`` argument, so that a link, a preset
or a stored run can set them without Streamlit's "default value and session
state" conflict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import streamlit as st

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
from ui.lesson import lesson as current_lesson
from ui.lesson import locked as lesson_locked
from ui.spec_texts import (
    BATCHNORM_NAMES,
    HELP,
    MONITOR_NAMES,
    OUTPUT_NAMES,
    SOURCE_NAMES,
    SUBSET_MODE_NAMES,
    VAL_MODE_NAMES,
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
    with st.expander("Data", expanded=_lesson_opens(_DATA_FIELDS)):
        data = _data_controls(p)
    with st.expander("Model", expanded=_lesson_opens(_MODEL_FIELDS)):
        model = _model_controls(p)
    with st.expander("Training", expanded=_lesson_opens(_TRAINING_FIELDS)):
        training = _training_controls(p)
    # Settings a choice makes irrelevant (momentum under Adam ...) keep their values, disabled, rather than
    # being reset: a preset's spec must come back with the same run id, or its stored run would not be found.
    return ExperimentSpec(**data, **model, **training, conv=defaults.conv, augmentation=defaults.augmentation)


_DATA_FIELDS = ("data", "train_subset", "subset_mode", "test_subset", "val_split", "val_mode", "center", "raw_pixels",
                "data_seed")  # fmt: skip
_MODEL_FIELDS = ("hidden", "activation", "initializer", "init_stddev", "batchnorm", "dropout", "l2", "l2_output",
                 "output")  # fmt: skip
_TRAINING_FIELDS = ("optimizer", "learning_rate", "momentum", "nesterov", "batch_size", "epochs", "early_stopping",
                    "es_monitor", "es_min_delta", "es_restore_best", "seed")  # fmt: skip


def _lesson_opens(fields: Sequence[str]) -> bool:
    """Whether a group of controls starts open: always, but under a lesson only when it holds one of its controls."""
    editable = current_lesson()
    return editable is None or any(field in editable for field in fields)


def widget_args(
    key: str,
    help_text: str | None,
    options: Sequence[Any] | None = None,
    *,
    field: str | None = None,
    disabled: bool = False,
) -> dict[str, Any]:
    """Common widget arguments: a stable key, help text, kept when hidden or on another page.

    ``options`` gain the widget's current value when they lack it (a link or a
    preset may hold a value the list does not offer). The widget is disabled when
    ``disabled`` or when it sets spec setting ``field`` and the URL's lesson
    leaves that setting fixed (``ui.lesson``).
    """
    locked = field is not None and lesson_locked(field)
    kwargs: dict[str, Any] = {"key": key, "help": help_text, "persist_state": "session", "disabled": disabled or locked}
    if options is not None:
        kwargs["options"] = with_current(options, st.session_state.get(key))
    return kwargs


def with_current(options: Sequence[Any], current: Any) -> list[Any]:
    """The options plus the current value, in order."""
    values = list(options)
    if current is not None and current not in values:
        values.append(current)
        with contextlib.suppress(TypeError):  # mixed types keep the list order
            values.sort()
    return values


# Widgets that set a spec setting of another name (the lesson locks them with it); width_N sets hidden too.
_FIELDS = {"data_source": "data", "idx_folder": "data", "n_hidden": "hidden", "width": "hidden", "per_layer": "hidden"}


def _w(p: str, name: str, options: Sequence[Any] | None = None, disabled: bool = False) -> dict[str, Any]:
    field = "hidden" if name.startswith("width_") else _FIELDS.get(name, name)
    return widget_args(p + name, HELP.get(name), options, field=field, disabled=disabled)


def _data_controls(p: str) -> dict[str, Any]:
    source = st.selectbox("Data", format_func=SOURCE_NAMES.get, **_w(p, "data_source", list(SOURCE_NAMES)))
    data = source
    if source == "idx":
        folder = st.text_input("IDX folder", placeholder="/path/to/mnist", **_w(p, "idx_folder")).strip()
        data = f"idx:{folder}" if folder else "idx:"
    size = SOURCE_SIZES.get(source, 60_000)
    subset = st.select_slider(
        "Training images", format_func=lambda v: _subset_label(v, size), **_w(p, "train_subset", SUBSET_OPTIONS)
    )
    subset_mode = st.selectbox("Picked", format_func=SUBSET_MODE_NAMES.get, **_w(p, "subset_mode", SUBSET_MODES))
    val_mode = st.selectbox("Validation images", format_func=VAL_MODE_NAMES.get, **_w(p, "val_mode", VAL_MODES))
    val_split = st.select_slider(
        "Validation share",
        format_func=lambda v: f"{v:.0%}",
        **_w(p, "val_split", VAL_OPTIONS, disabled=val_mode == "test"),
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
    batchnorm = st.selectbox("Batch normalization", format_func=BATCHNORM_NAMES.get, **_w(p, "batchnorm", BATCHNORM))
    dropout = st.slider("Dropout rate", min_value=0.0, max_value=0.9, step=0.05, **_w(p, "dropout"))
    l2 = st.select_slider("L2 penalty", format_func=lambda v: "off" if v == 0 else f"{v:g}", **_w(p, "l2", L2_OPTIONS))
    l2_output = st.checkbox("L2 on the output layer too", **_w(p, "l2_output", disabled=not l2))
    output = st.selectbox("Output and loss", format_func=OUTPUT_NAMES.get, **_w(p, "output", OUTPUTS))
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
    momentum = st.select_slider("Momentum", format_func=_g, **_w(p, "momentum", MOMENTUM_OPTIONS, disabled=not sgd))
    nesterov = st.checkbox("Nesterov momentum", **_w(p, "nesterov", disabled=not sgd))
    batch_size = st.select_slider("Batch size", **_w(p, "batch_size", BATCH_OPTIONS))
    top = max(100, st.session_state.get(p + "epochs", 1))
    epochs = st.slider("Epochs", min_value=1, max_value=top, step=1, **_w(p, "epochs"))
    top = max(20, st.session_state.get(p + "early_stopping", 0))
    patience = st.slider("Early stopping patience (0 = off)", min_value=0, max_value=top, **_w(p, "early_stopping"))
    monitor, min_delta, restore = (st.session_state[p + k] for k in ("es_monitor", "es_min_delta", "es_restore_best"))
    if patience:
        monitor = st.selectbox("Watch", format_func=MONITOR_NAMES.get, **_w(p, "es_monitor", MONITORS))
        min_delta = st.select_slider(
            "Smallest change that counts", format_func=_g, **_w(p, "es_min_delta", MIN_DELTA_OPTIONS)
        )
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
