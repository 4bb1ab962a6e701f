"""CNN page: build a small convnet, see augmentation at work, look inside it, and compare it with the MLPs.

An MLP learns "ink at pixel (12, 14)"; a convolution learns a stroke wherever it
is, and augmentation shows the network moved, turned and bent digits. The
comparison at the bottom (course series B) makes the point with numbers: how
each model copes with digits shifted by a few pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from lab.analysis.convnet import conv_kernels, feature_maps, symmetric_limit
from lab.analysis.shift import SHIFT_MAX, SHIFT_MIN, shift_images
from lab.architecture import IMAGE_SIDE, CheckedSpec
from lab.catalog.presets import get_preset
from lab.data.prepare import center_images, test_images
from lab.nn.forward import predict_probs
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec
from ui import charts
from ui.app.data import data_available
from ui.app.display import projector_toggle
from ui.app.jobs import duration_text, job_running, live_curves, origin_text, queue_sidebar, run_spec, show_run_warnings
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_store
from ui.app.text import fmt_percent, plain
from ui.app.url import PageUrl
from ui.charts import images
from ui.charts.network import show_architecture
from ui.cnn.augmentation_view import augmentation_preview_section
from ui.cnn.conv_widgets import augmentation_controls, conv_controls, seed_conv_controls
from ui.cnn.mlp_vs_cnn import mlp_vs_cnn_section, shift_scores
from ui.controls.lesson import lesson, lesson_banner, lesson_link_maker
from ui.controls.spec_widgets import seed_controls, spec_controls

ensure_app_navigation()

P = "cnn_"  # prefix of every widget key: this page keeps its own settings apart from the Train page's
CNN_PRESETS = ("B6", "B7", "B8", "B9", "B10", "B11")


def seed_page_controls(spec: ExperimentSpec) -> None:
    """Set every control of the page to show ``spec``."""
    seed_controls(spec, P)
    seed_conv_controls(spec, P)


URL = PageUrl("cnn", get_preset("B6").spec, "preset B6", seed_page_controls)


# ------------------------------------------------------------ the controls
def preset_picker() -> None:
    """Start from one of the course's CNNs (B6-B11)."""
    presets = {name: get_preset(name) for name in CNN_PRESETS}
    in_lesson = lesson() is not None  # a preset would replace the setup a lesson link fixed
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox(
        "Start from a course CNN",
        options=list(presets),
        format_func=lambda n: presets[n].label,
        key=P + "preset",
        help="Sets every control below to one of the course's models (series B, CS4487).",
        disabled=in_lesson,
    )
    with c2:
        st.write("")
        st.button("Load", key=P + "load_preset", on_click=URL.show, args=(presets[name].spec,), disabled=in_lesson)
    st.caption(presets[name].change)


def setup_controls() -> ExperimentSpec:
    """Every control of the page; returns the spec they describe (not validated)."""
    base = URL.load()
    preset_picker()
    with st.expander("Convolution blocks", expanded=True):
        conv = conv_controls(P)
    with st.expander("Data augmentation", expanded=True):
        aug = augmentation_controls(P)
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
        st.error(plain(exc))
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


# ---------------------------------------------------------------- training
def train_section(checked: CheckedSpec | None) -> RunResult | None:
    """The Train button, live curves, then the result (stored runs show at once; the page reruns after training).

    ``checked``: the setup, checked (``show_architecture``) and its data here; None greys the button out.
    """
    c1, c2 = st.columns([1, 4])
    clicked = c1.button(
        "Train",
        key=P + "train",
        type="primary",
        disabled=checked is None,
        help="Train this setup now; moving the controls never trains by itself.",
    )
    if checked is None:
        return None
    note = c2.empty()
    if clicked or job_running(checked.spec):
        note.caption("Training now: the curves grow below. Stop ends it within a second.")
    result = run_spec(checked, "cnn", start=clicked, render=live_curves(output=checked.spec.output, stacked=True))
    if result is not None:
        note.caption(origin_text(result))
    else:
        note.caption("Not trained yet: press Train. A setup trained before shows its results as soon as you select it.")
    return result


def result_section(result: RunResult) -> None:
    """Headline numbers and curves of the trained run."""
    show_run_warnings(result)
    # Two by two: the results share half the page with the controls, and four in a row cut the numbers off.
    c1, c2 = st.columns(2)
    c3, c4 = st.columns(2)
    c1.metric("Test accuracy", "diverged" if result.diverged else fmt_percent(result.test_accuracy))
    c2.metric("Parameters", f"{result.params:,}")
    c3.metric("Epochs trained", f"{result.epochs_run} / {result.spec.epochs}")
    c4.metric("Training time", duration_text(result.train_seconds))
    histories = {"this run": result.history}
    # The chart the class watched grow, on the same rows and axes: from the untrained network, every epoch planned.
    frame = {
        "best_epochs": {"this run": result.best_epoch},
        "points": result.points,
        "epochs": result.spec.epochs,
        "output": result.spec.output,
    }
    # One above the other: each curve gets the column's whole width, readable from the back of a room.
    st.altair_chart(charts.curves_chart(histories, "loss", **frame), width="stretch")
    st.altair_chart(charts.curves_chart(histories, "accuracy", **frame), width="stretch")
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
    st.image(
        images.kernel_grid(kernels),
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
        st.image(images.feature_map_grid(maps, shared))


# --------------------------------------------------------------- shifting
def shift_section(result: RunResult) -> None:
    """How the trained model copes with the test digits moved a few pixels."""
    st.subheader("Shifted digits")
    try:
        scores = shift_scores(str(get_store().home), result.run_id, result.created)
    except ValueError as exc:
        st.error(plain(exc))
        return
    if scores is None:
        st.warning("This run's model file is missing from the store.")
        return
    as_they_are, shifted = scores
    c1, c2 = st.columns(2)
    c1.metric("Test digits as they are", fmt_percent(as_they_are))
    c2.metric(
        f"Moved {SHIFT_MIN}-{SHIFT_MAX} pixels", fmt_percent(shifted), delta=f"{(shifted - as_they_are) * 100:+.1f} pts"
    )
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


# -------------------------------------------------------------------- page
def main() -> None:
    projector_toggle()
    st.title("Convolutions and data augmentation")
    st.write(
        "A convolution layer slides small kernels over the image, so the same stroke detector works anywhere; "
        "data augmentation trains on randomly moved, turned and bent copies of the digits. Build a small CNN, "
        "watch augmentation at work, train it, and look at what its layers compute."
    )
    lesson_banner()
    queue_sidebar()
    left, right = st.columns([2, 3], gap="large")
    with left:
        maker = st.container()  # above the controls, filled once they give the setup
        spec = setup_controls()
    with maker:
        lesson_link_maker("cnn", spec)
    URL.write(spec)
    with right:
        checked = show_architecture(spec)
        ready = checked is not None and data_available(spec, P)
        picked = digit_picker(spec) if ready else None
        if picked is not None:
            augmentation_preview_section(spec.augmentation, *picked, key_prefix=P)
        result = train_section(checked if ready else None)
        if result is not None:
            result_section(result)
            if picked is not None:
                inside_section(result, *picked)
            shift_section(result)
    st.divider()
    mlp_vs_cnn_section()


main()
