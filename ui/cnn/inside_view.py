"""The CNN page's look inside a trained convnet: the digit to look at, kernels, feature maps, shifted digits.

The stage (``ui.app.stage``) shows the first convolution's kernels beside the curves
(``stage_kernels``); the tabs under it show every layer's feature maps for one digit
(``inside_section``) and how the model copes with digits moved a few pixels (``shift_section``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from lab.analysis.convnet import conv_kernels, feature_maps, symmetric_limit
from lab.analysis.shift import SHIFT_MAX, SHIFT_MIN, shift_images
from lab.architecture import IMAGE_SIDE
from lab.data.prepare import center_images, test_images
from lab.nn.forward import predict_probs
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec
from ui.app.state import get_store
from ui.app.text import fmt_percent, plain
from ui.charts import images
from ui.cnn.mlp_vs_cnn import shift_scores

P = "cnn_"  # the CNN page's widget keys


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


def stage_kernels(result: RunResult, slot: Any) -> None:
    """The trained network's first-convolution kernels in ``slot``, beside the curves on the stage.

    For a run stored before snapshots (which replays its film instead).
    """
    model = _model(result.run_id, result.created, result)
    with slot.container():
        if model is None:
            st.caption("This run's model file is missing from the store, so its kernels cannot be shown.")
        elif not result.spec.conv:
            st.caption("This network has no convolution blocks: add one on the left to see its kernels.")
        else:
            kernels = conv_kernels(model, "conv_1")
            side = kernels.shape[1]
            st.markdown(f"**First convolution**: its {len(kernels)} kernels of {side}x{side}")
            st.image(
                images.kernel_grid(kernels),
                caption=f"Red: weight above 0 (up to {symmetric_limit(kernels):.2f}), blue: below 0.",
            )


def shift_section(result: RunResult) -> None:
    """How the trained model copes with the test digits moved a few pixels."""
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
