"""CNN page: build a small convnet, see augmentation at work, look inside it, and compare it with the MLPs.

An MLP learns "ink at pixel (12, 14)"; a convolution learns a stroke wherever it
is, and augmentation shows the network moved, turned and bent digits. The
comparison at the bottom (course series B) makes the point with numbers: how
each model copes with digits shifted by a few pixels.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from lab.analysis.convnet import (
    SHIFT_MAX,
    SHIFT_MIN,
    augmentation_preview,
    conv_kernels,
    feature_maps,
    find_preset_run,
    shift_images,
    shifted_accuracy,
    symmetric_limit,
)
from lab.architecture import IMAGE_SIDE
from lab.catalog.presets import Preset, get_preset, list_presets
from lab.data.prepare import center_images, test_images
from lab.data.sources import SOURCES as SOURCE_NAMES
from lab.nn.forward import predict_probs
from lab.nn.result import EpochReport, RunResult
from lab.spec import Augmentation, ConvBlock, ExperimentSpec
from ui import charts, images
from ui.jobs import queue_sidebar, run_spec, show_run_warnings
from ui.navigation import ensure_app_navigation
from ui.spec_widgets import (
    data_available,
    seed_controls,
    show_architecture,
    spec_controls,
    spec_from_query,
    spec_to_query,
)
from ui.state import get_store
from ui.text import fmt_seconds

ensure_app_navigation()

P = "cnn_"  # prefix of every widget key: this page keeps its own settings apart from the Train page's
MAX_BLOCKS = 3
CNN_PRESETS = ("B6", "B7", "B8", "B9", "B10", "B11")
FILTER_OPTIONS = (1, 2, 4, 6, 8, 10, 16, 20, 32, 40, 64, 80, 128)
KERNEL_OPTIONS = (1, 2, 3, 4, 5, 7, 9)
STRIDE_OPTIONS = (1, 2, 3, 4)
POOL_OPTIONS = (0, 2, 3, 4)
BLOCK_L2_OPTIONS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
PREVIEW_DRAWS = 11
CAP_OPTIONS = (0, 1, 5, 10, 20, 50)  # epochs caps for training a missing preset; 0 = the course's length
# name -> (label, largest value, step, help)
AUG_SLIDERS: dict[str, tuple[str, float, float, str]] = {
    "rotation": ("Rotation (degrees)", 45.0, 1.0, "Turn each training digit by a random angle up to this (B10: 10°)."),
    "shift": ("Shift (share of the side)", 0.3, 0.01, "Move it up to this share of 28 pixels in x and y (B10: 0.2)."),
    "shear": ("Shear", 0.5, 0.01, "Slant it sideways by up to this fraction (B10: 0.1)."),
    "zoom": ("Zoom", 0.3, 0.01, "Enlarge or shrink it by up to this fraction, each axis on its own (B10: 0.1)."),
    "noise": (
        "Pixel noise (σ)",
        0.5,
        0.01,
        "Add Gaussian noise of this standard deviation to every pixel (B11: 0.05).",
    ),
    "elastic": (
        "Elastic distortion (α)",
        60.0,
        1.0,
        "Bend it like a rubber sheet: a smooth random displacement field (σ 4 px) times α. Simard et al. (2003), "
        "the classic MNIST augmentation, used α 34.",
    ),
}
BLOCK_HELP = {
    "filters": "How many kernels this layer learns: each becomes one feature map.",
    "kernel": "Side of each square kernel in pixels: the patch it looks at.",
    "stride": "Step between two kernel positions: stride 2 halves the feature map's side.",
    "padding": "'same' pads the border with zeros so that the kernel sees edge pixels; 'valid' shrinks the map.",
    "pool": "Max pooling after the activation: keep the largest value of each window (0 = none).",
    "dropout": "Drop this share of the block's outputs at random while training (B8: 0.5 after the last conv).",
    "l2": "L2 penalty on this block's kernels (B9: 1e-4 on the last conv).",
}


# ------------------------------------------------------------ the controls
def block_values(spec: ExperimentSpec) -> dict[str, Any]:
    """Widget values (without prefix) showing the spec's conv blocks and augmentation."""
    values: dict[str, Any] = {"n_conv": len(spec.conv)}
    for i, block in enumerate(spec.conv, start=1):
        values.update(
            {
                f"conv{i}_filters": block.filters,
                f"conv{i}_kernel": block.kernel_size,
                f"conv{i}_stride": block.strides,
                f"conv{i}_padding": block.padding,
                f"conv{i}_pool": block.pool,
                f"conv{i}_dropout": block.dropout,
                f"conv{i}_l2": block.l2,
            }
        )
    for name in AUG_SLIDERS:
        values[f"aug_{name}"] = float(getattr(spec.augmentation, name))
    return values


def load_setup(spec: ExperimentSpec) -> None:
    """Set every control of the page to show ``spec`` (before the widgets are drawn, or from a callback)."""
    seed_controls(spec, P)
    for name, value in block_values(spec).items():
        st.session_state[P + name] = value
    st.session_state[P + "base"] = spec


def initial_setup() -> ExperimentSpec:
    """The spec the page starts from: a link's (``?preset=B7`` and/or spec fields), else preset B6."""
    params = st.query_params.to_dict()
    first = P + "base" not in st.session_state
    if not first and (not params or params == st.session_state.get(P + "query")):
        return st.session_state[P + "base"]
    base = get_preset("B6").spec
    if "preset" in params:
        try:
            base = get_preset(str(params["preset"])).spec
        except ValueError as exc:
            st.warning(f"{exc} Starting from B6.")
    try:
        spec = spec_from_query(params, defaults=base)
    except ValueError as exc:
        st.warning(f"{exc} The preset's settings are used instead.")
        spec = base
    load_setup(spec)
    return spec


def write_url(spec: ExperimentSpec) -> None:
    """Put the current setup into the URL, so that a copied link opens it."""
    query = spec_to_query(spec)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.session_state[P + "query"] = query


def _w(name: str, options: Any = None) -> dict[str, Any]:
    """Common widget arguments: the page's key, help, kept while hidden (a block switched off keeps its values)."""
    kwargs: dict[str, Any] = {"key": P + name, "persist_state": "session"}
    help_text = BLOCK_HELP.get(name.split("_", 1)[-1])
    if help_text:
        kwargs["help"] = help_text
    if options is not None:
        current = st.session_state.get(P + name)
        kwargs["options"] = sorted({*options, current}) if current is not None else list(options)
    return kwargs


def preset_picker() -> None:
    """Start from one of the course's CNNs (B6-B11)."""
    presets = {name: get_preset(name) for name in CNN_PRESETS}
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox(
        "Start from a course CNN",
        options=list(presets),
        format_func=lambda n: presets[n].label,
        key=P + "preset",
        help="Sets every control below to one of the course's models (series B, CS4487).",
    )
    with c2:
        st.write("")
        st.button("Load", key=P + "load_preset", on_click=load_setup, args=(presets[name].spec,))
    st.caption(presets[name].change)


def conv_controls() -> tuple[ConvBlock, ...]:
    """Number of conv blocks (0-3) and each block's settings."""
    for name, value in block_values(ExperimentSpec()).items():
        st.session_state.setdefault(P + name, value)
    n_blocks = st.slider(
        "Convolution blocks",
        0,
        MAX_BLOCKS,
        step=1,
        help="Conv layers before the dense layers; 0 makes this an MLP.",
        **_w("n_conv"),
    )
    blocks = []
    default = ConvBlock()
    for i in range(1, n_blocks + 1):
        defaults = {
            "filters": default.filters, "kernel": default.kernel_size, "stride": default.strides,
            "padding": default.padding, "pool": default.pool, "dropout": default.dropout, "l2": default.l2,
        }  # fmt: skip
        for name, value in defaults.items():
            st.session_state.setdefault(f"{P}conv{i}_{name}", value)
        st.markdown(f"**Block {i}**")
        c1, c2, c3 = st.columns(3)
        filters = c1.select_slider("Filters", **_w(f"conv{i}_filters", FILTER_OPTIONS))
        kernel = c2.select_slider("Kernel", format_func=lambda k: f"{k}x{k}", **_w(f"conv{i}_kernel", KERNEL_OPTIONS))
        stride = c3.select_slider("Stride", **_w(f"conv{i}_stride", STRIDE_OPTIONS))
        c1, c2 = st.columns(2)
        padding = c1.selectbox("Padding", **_w(f"conv{i}_padding", ("same", "valid")))
        pool = c2.selectbox(
            "Max pool", format_func=lambda v: "none" if v == 0 else f"{v}x{v}", **_w(f"conv{i}_pool", POOL_OPTIONS)
        )
        c1, c2 = st.columns(2)
        dropout = c1.slider("Dropout", 0.0, 0.8, step=0.05, **_w(f"conv{i}_dropout"))
        l2 = c2.selectbox(
            "L2", format_func=lambda v: "off" if v == 0 else f"{v:g}", **_w(f"conv{i}_l2", BLOCK_L2_OPTIONS)
        )
        blocks.append(ConvBlock(int(filters), int(kernel), int(stride), padding, int(pool), float(dropout), float(l2)))
    if n_blocks:
        st.caption("Each block: convolution, the activation chosen under Model, then optional pooling and dropout.")
    return tuple(blocks)


def augmentation_controls() -> Augmentation:
    """A slider for each augmentation; all at 0 is no augmentation."""
    values = {}
    c1, c2 = st.columns(2)
    for i, (name, (label, top, step, text)) in enumerate(AUG_SLIDERS.items()):
        column = c1 if i % 2 == 0 else c2
        top = max(top, float(st.session_state.get(f"{P}aug_{name}", 0.0)))
        values[name] = float(column.slider(label, 0.0, top, step=step, help=text, **_w(f"aug_{name}")))
    st.caption("Applied to training images only, inside the model (Keras preprocessing layers): never to evaluation.")
    return Augmentation(**values)


def setup_controls() -> ExperimentSpec:
    """Every control of the page; returns the spec they describe (not validated)."""
    base = initial_setup()
    preset_picker()
    with st.expander("Convolution blocks", expanded=True):
        conv = conv_controls()
    with st.expander("Data augmentation", expanded=True):
        aug = augmentation_controls()
    st.markdown("**Dense layers, data and training**")
    spec = spec_controls(base.replace(conv=conv, augmentation=aug), key_prefix=P)
    return spec.replace(conv=conv, augmentation=aug)


# ---------------------------------------------------------------- the digit
def digit_picker(spec: ExperimentSpec) -> tuple[np.ndarray, str] | None:
    """The digit to look at: a test digit, or the one drawn on the Draw page. Returns (28x28 in [0, 1], caption)."""
    drawn = st.session_state.get("drawn_digit")
    options = ["test", "drawn"] if drawn is not None else ["test"]
    choice = st.radio(
        "Digit to look at",
        options,
        format_func=lambda o: "a test digit" if o == "test" else "my drawing (Draw page)",
        horizontal=True,
        key=P + "digit_source",
        help="Draw a digit on the Draw page to see it here too.",
    )
    if choice == "drawn" and drawn is not None:
        return np.clip(np.asarray(drawn, dtype=np.float32).reshape(IMAGE_SIDE, IMAGE_SIDE), 0, 1), "your drawing"
    try:
        test_x, test_y = _test_set(spec.data, spec.test_subset)
    except ValueError as exc:
        st.error(str(exc))
        return None
    key = P + "digit_index"
    st.session_state[key] = min(int(st.session_state.get(key, 0)), len(test_x) - 1)  # the test set may have shrunk
    index = int(
        st.number_input("Test digit number", 0, len(test_x) - 1, step=1, key=key, help="Which test image to use.")
    )
    return test_x[index].reshape(IMAGE_SIDE, IMAGE_SIDE), f"test digit {index} (a {test_y[index]})"


@st.cache_resource(max_entries=4)
def _test_set(data: str, test_subset: int) -> tuple[np.ndarray, np.ndarray]:
    """Test images in [0, 1] and labels, read once per source."""
    return test_images(ExperimentSpec(data=data, test_subset=test_subset))


def augmentation_section(aug: Augmentation, digit: np.ndarray, caption: str) -> None:
    """One digit and random draws of it under the current augmentation."""
    st.subheader("What augmentation shows the network")
    seed_key = P + "preview_seed"
    st.session_state.setdefault(seed_key, 0)
    c1, c2 = st.columns([1, 3])
    if c1.button("New random draws", key=P + "redraw", help="Draw the random changes again."):
        st.session_state[seed_key] += 1
    if not aug.active:
        c2.caption("No augmentation is switched on: training sees every digit as it is. Move a slider on the left.")
    draws = augmentation_preview(digit, aug, PREVIEW_DRAWS, seed=int(st.session_state[seed_key]))
    tiles = np.concatenate([digit[None], draws])
    labels = ["original"] + [f"draw {i}" for i in range(1, PREVIEW_DRAWS + 1)]
    st.image(images.image_grid(tiles, columns=6, mode="gray", labels=labels, scale=3), caption=caption)
    if aug.active:
        st.caption(
            "Each epoch the network sees a new random version of every training digit, so it cannot memorize "
            "where the ink is: it has to learn the strokes."
        )


# ---------------------------------------------------------------- training
def train_section(spec: ExperimentSpec, ready: bool) -> RunResult | None:
    """The Train button, live curves, then the result (stored runs show at once)."""
    c1, c2 = st.columns([1, 4])
    clicked = c1.button(
        "Train",
        key=P + "train",
        type="primary",
        disabled=not ready,
        help="Train this setup now; moving the controls never trains by itself.",
    )
    if ready and spec not in get_store():
        c2.caption("Not trained yet: press Train. A setup trained before shows its results as soon as you select it.")
    if not ready:
        return None
    live = st.empty()
    result = run_spec(spec, "cnn", start=clicked, render=lambda report: _live(live, report))
    live.empty()
    return result


def _live(slot: Any, report: EpochReport) -> None:
    with slot.container():
        c1, c2 = st.columns(2)
        for column, metric in ((c1, "loss"), (c2, "accuracy")):
            column.altair_chart(
                charts.curves_chart({"this run": report.history}, metric, epochs=report.epochs, height=200),
                width="stretch",
            )


def result_section(result: RunResult) -> None:
    """Headline numbers and curves of the trained run."""
    show_run_warnings(result)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Test accuracy", _pct(result.test_accuracy))
    c2.metric("Parameters", f"{result.params:,}")
    c3.metric("Epochs trained", f"{result.epochs_run} / {result.spec.epochs}")
    c4.metric("Training time", fmt_seconds(result.train_seconds))
    c1, c2 = st.columns(2)
    histories = {"this run": result.history}
    best = {"this run": result.best_epoch}
    c1.altair_chart(charts.curves_chart(histories, "loss", best_epochs=best, height=220), width="stretch")
    c2.altair_chart(charts.curves_chart(histories, "accuracy", best_epochs=best, height=220), width="stretch")
    if result.spec.augmentation.active:
        st.caption(
            "Training accuracy is measured on augmented digits, validation accuracy on the digits as they are: "
            "an augmented network often does better on validation than on its own training batches."
        )


@st.cache_resource(max_entries=8, show_spinner="Reading the trained model ...")
def _model(run_id: str, created: float, _result: RunResult) -> Any:
    """A run's Keras model, read from the store once per run."""
    return _result.model


def inside_section(result: RunResult, digit: np.ndarray, caption: str) -> None:
    """First-layer kernels and each conv layer's feature maps for the chosen digit."""
    model = _model(result.run_id, result.created, result)
    if model is None:
        st.warning("This run's model file is missing from the store, so its layers cannot be shown.")
        return
    if not result.spec.conv:
        st.info("This network has no convolution blocks: add one (Convolution blocks) to see kernels and feature maps.")
        return
    st.subheader("Inside the network")
    kernels = conv_kernels(model, "conv_1")
    side = kernels.shape[1]
    st.markdown(f"**First conv layer: {len(kernels)} kernels of {side}x{side}**")
    picture = images.image_grid(
        kernels,
        columns=_grid_columns(len(kernels)),
        mode="diverging",
        shared_scale=True,
        scale=max(4, 84 // side),
        pad=1,
    )
    st.image(
        picture,
        caption=f"Red: weight above 0 (up to {symmetric_limit(kernels):.2f}), blue: below 0, white: 0, one scale for "
        "all. A kernel slides over the image and answers strongly where its pattern matches: edges, corners, stroke "
        "ends.",
    )
    x = center_images(digit, result.mean)
    probs = predict_probs(model, x)[0]
    c1, c2 = st.columns([1, 4])
    c1.image(images.image_grid(digit[None], columns=1, mode="gray", scale=4), caption=caption)
    c2.markdown(f"The network reads it as a **{int(np.argmax(probs))}** ({float(np.max(probs)):.0%} sure).")
    c2.caption(
        "Below, every feature map each conv layer computes for this digit, after its activation: one small image per "
        "filter. Red: the filter's pattern is there; white: it is not. Deeper layers see larger patches, at lower "
        "resolution."
    )
    shared = c2.toggle(
        "One color scale per layer",
        key=P + "shared_maps",
        help="On: compare how strongly the filters respond. Off: each map on its own scale, to see its pattern.",
    )
    for name, maps in feature_maps(model, x[0]).items():
        h, w, channels = maps.shape
        st.markdown(f"**{name}**: {channels} feature maps of {h}x{w}")
        columns = _grid_columns(channels)
        tiles = np.transpose(maps, (2, 0, 1))
        st.image(
            images.image_grid(
                tiles, columns=columns, mode="diverging", shared_scale=shared, scale=max(3, 84 // h), pad=1
            )
        )


# --------------------------------------------------------------- shifting
@st.cache_data(max_entries=64, show_spinner="Testing on shifted digits ...")
def shift_scores(home: str, run_id: str, created: float) -> tuple[float, float] | None:
    """(plain, shifted) test accuracy of a stored run; None when its model is missing."""
    result = get_store().get(run_id)
    if result is None or result.model is None:
        return None
    scores = shifted_accuracy(result.model, result.spec, result.mean)
    return scores.plain, scores.shifted


def shift_section(result: RunResult) -> None:
    """How the trained model copes with the test digits moved a few pixels."""
    st.subheader("Shifted digits")
    try:
        scores = shift_scores(str(get_store().home), result.run_id, result.created)
    except ValueError as exc:
        st.error(str(exc))
        return
    if scores is None:
        st.warning("This run's model file is missing from the store.")
        return
    plain, shifted = scores
    c1, c2 = st.columns(2)
    c1.metric("Test digits as they are", _pct(plain))
    c2.metric(f"Moved {SHIFT_MIN}-{SHIFT_MAX} pixels", _pct(shifted), delta=f"{(shifted - plain) * 100:+.1f} pts")
    shifted_examples(result.spec)


def shifted_examples(spec: ExperimentSpec) -> None:
    """Ten test digits and the same digits shifted, as the shifted test set has them."""
    try:
        test_x, _ = _test_set(spec.data, spec.test_subset)
    except ValueError:
        return
    tiles = np.concatenate([test_x[:10], shift_images(test_x)[:10]]).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    st.image(
        images.image_grid(tiles, columns=10, mode="gray", scale=2),
        caption=f"Top: test digits. Bottom: the same digits moved {SHIFT_MIN}-{SHIFT_MAX} pixels in a random direction "
        "(the same moves for every model, seeded). People read both rows equally well.",
    )
    st.caption(
        "A Dense layer's weights belong to pixel positions, so a moved digit hits the wrong weights. Convolutions "
        "find a stroke wherever it is, but the Dense layer after them still reads their maps by position (the "
        "course's CNNs have no pooling); augmentation with shifts is what trains a network to expect moved digits."
    )


# ------------------------------------------------------------- MLP vs CNN
def comparison_rows(presets: list[Preset], infos: list[Any], home: str, with_shift: bool) -> list[dict[str, Any]]:
    """One row per B preset: our stored result beside the course's figures."""
    from lab.architecture import count_params

    rows = []
    for preset in presets:
        info = find_preset_run(infos, preset.spec)
        row: dict[str, Any] = {
            "Preset": preset.name,
            "Model": preset.title,
            "Kind": "CNN" if preset.spec.conv else "MLP",
            "Parameters": count_params(preset.spec),
            "Course parameters": preset.course_params,
            "Course accuracy": preset.course_figure_text(),
            "Our accuracy": None,
            f"Shifted {SHIFT_MIN}-{SHIFT_MAX} px": None,
            "Epochs": None,
            "Seconds": None,
            "Status": "not trained",
        }
        if info is not None:
            metrics = info.metrics
            row.update(
                {
                    "Our accuracy": info.test_accuracy,
                    "Epochs": metrics.get("epochs_run"),
                    "Seconds": metrics.get("train_seconds"),
                    "Status": "trained"
                    if info.spec == preset.spec
                    else f"trained, capped at {info.spec.epochs} epochs",
                }
            )
            if with_shift:
                scores = shift_scores(home, info.run_id, metrics.get("created") or 0.0)
                if scores is not None:
                    row[f"Shifted {SHIFT_MIN}-{SHIFT_MAX} px"] = scores[1]
        rows.append(row)
    return rows


def comparison_chart(rows: list[dict[str, Any]]) -> alt.Chart | None:
    """Grouped bars: each trained model's accuracy on the test set as it is and shifted."""
    shift_col = f"Shifted {SHIFT_MIN}-{SHIFT_MAX} px"
    data = []
    for row in rows:
        if row["Our accuracy"] is None or row[shift_col] is None:
            continue
        data.append(
            {"Preset": row["Preset"], "Kind": row["Kind"], "Test set": "as it is", "Accuracy": row["Our accuracy"]}
        )
        data.append({"Preset": row["Preset"], "Kind": row["Kind"], "Test set": "shifted", "Accuracy": row[shift_col]})
    if not data:
        return None
    order = [row["Preset"] for row in rows]
    return (
        alt.Chart(pd.DataFrame(data))
        .mark_bar()
        .encode(
            x=alt.X("Preset:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("Test set:N", sort=["as it is", "shifted"]),
            y=alt.Y("Accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "Test set:N",
                scale=alt.Scale(domain=["as it is", "shifted"], range=[charts.TRAIN_COLOR, charts.VAL_COLOR]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["Preset", "Kind", "Test set", alt.Tooltip("Accuracy:Q", format=".2%")],
        )
        .properties(height=260, title="Test accuracy, digits as they are and shifted")
    )


def comparison_section() -> None:
    """MLP vs CNN: the B series from the store, beside the course's figures, on plain and shifted digits."""
    st.header("MLP vs CNN: course series B")
    presets = list_presets("B")
    store = get_store()
    with_shift = st.toggle(
        "Test every trained model on shifted digits",
        value=True,
        key=P + "with_shift",
        help="Loads each stored model once (a few seconds the first time).",
    )
    try:
        rows = comparison_rows(presets, store.list(), str(store.home), with_shift)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "Parameters": st.column_config.NumberColumn(format="localized"),
            "Course parameters": st.column_config.NumberColumn(format="localized"),
            "Our accuracy": st.column_config.NumberColumn(format="percent"),
            f"Shifted {SHIFT_MIN}-{SHIFT_MAX} px": st.column_config.NumberColumn(format="percent"),
            "Seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    data_name = SOURCE_NAMES.get(presets[0].spec.data, presets[0].spec.data) if presets else ""
    st.caption(
        f"Our runs: {data_name}, the course's settings otherwise (each preset's notes are on the Techniques page). "
        f"The shifted column moves every test digit {SHIFT_MIN}-{SHIFT_MAX} pixels: MLPs lose most of their accuracy, "
        "CNNs without augmentation a little less, and the CNNs trained on shifted copies (B10, B11) hardly any. "
        "Presets not trained yet can be trained below, capped to a few epochs for a quick look."
    )
    chart = comparison_chart(rows)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    missing = [p for p, row in zip(presets, rows, strict=True) if row["Status"] == "not trained"]
    train_missing(missing)


def train_missing(missing: list[Preset]) -> None:
    """Train a preset of the table that is not in the store yet, followed live until it is."""
    job_key = P + "compare_spec"
    following = st.session_state.get(job_key)
    if following is not None:
        # A rerun while it trains (any click) comes back here and keeps following the same job.
        result = run_spec(following, "cnn-compare", start=False)
        st.session_state.pop(job_key, None)
        if result is not None:
            st.rerun()
        return
    if not missing:
        return
    by_name = {p.name: p for p in missing}
    c1, c2, c3 = st.columns([2, 2, 1])
    name = c1.selectbox(
        "Train a missing preset", list(by_name), format_func=lambda n: by_name[n].label, key=P + "missing"
    )
    cap = c2.selectbox(
        "Epochs",
        CAP_OPTIONS,
        format_func=lambda c: (
            f"the course's ({by_name[name].spec.epochs}, early stopping)" if c == 0 else f"at most {c}"
        ),
        key=P + "cap",
        help="A cap trains faster; the table says when a run was capped.",
    )
    with c3:
        st.write("")
        clicked = st.button("Train it", key=P + "train_missing")
    if clicked:
        spec = by_name[name].capped(int(cap)).spec
        st.session_state[job_key] = spec
        result = run_spec(spec, "cnn-compare", start=True)
        st.session_state.pop(job_key, None)
        if result is not None:
            st.rerun()


def _grid_columns(tiles: int) -> int:
    """Tiles per row: 10 kernels as two rows of 5, 40 as five rows of 8, 80 as eight rows of 10."""
    return min(tiles, 5) if tiles <= 10 else 8 if tiles <= 40 else 10


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if value is not None and math.isfinite(value) else "—"


# -------------------------------------------------------------------- page
def main() -> None:
    st.title("Convolutions and data augmentation")
    st.write(
        "A convolution layer slides small kernels over the image, so the same stroke detector works anywhere; "
        "data augmentation trains on randomly moved, turned and bent copies of the digits. Build a small CNN, "
        "watch augmentation at work, train it, and look at what its layers compute."
    )
    queue_sidebar()
    left, right = st.columns([2, 3], gap="large")
    with left:
        spec = setup_controls()
    write_url(spec)
    with right:
        valid = show_architecture(spec)
        ready = valid and data_available(spec, P)
        picked = digit_picker(spec) if ready else None
        if picked is not None:
            augmentation_section(spec.augmentation, *picked)
        result = train_section(spec, ready)
        if result is not None:
            result_section(result)
            if picked is not None:
                inside_section(result, *picked)
            shift_section(result)
    st.divider()
    comparison_section()


main()
