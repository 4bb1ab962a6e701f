"""What a trained dense network learned, as the course reads it (CS4487, slides B1-B2).

First-layer filters as 28x28 images, the output weights into one digit with a
±threshold that frames the units speaking for or against it, class templates
for logistic regression, and, for deep networks, the training images each
highlighted last-layer unit responds to. The numbers come from
``lab.analysis.inspection``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from lab.analysis.inspection import (
    class_templates,
    dense_kernels,
    favourite_images,
    first_layer_filters,
    highlighted_units,
    output_weights,
)
from lab.architecture import NUM_CLASSES
from lab.data.prepare import prepare
from lab.data.sources import class_names
from lab.nn.result import RunResult
from ui import charts
from ui.app.data import data_on_machine
from ui.charts import images

FILTERS_PER_PAGE = 100  # tiles per filter picture: wide layers are paged
STAGE_FILTERS = 50  # the first units' filters on the stage: ten rows of five fit beside the curves
STAGE_COLUMNS = 5


@st.cache_resource(max_entries=16, show_spinner="Reading the trained weights ...")
def _kernels(run_id: str, created: float, _result: RunResult) -> dict[str, np.ndarray] | None:
    """Dense kernels of a run, read once per run (a stored model loads from disk)."""
    model = _result.model
    return dense_kernels(model) if model is not None else None


@st.cache_resource(max_entries=8, show_spinner="Finding the images each unit responds to ...")
def _unit_means(run_id: str, created: float, _result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """For each last-hidden unit, the mean of the training images that activate it most."""
    data = prepare(_result.spec)
    return favourite_images(_result.model, _result.spec, data.x_train, data.mean)


def learned_weights_view(result: RunResult) -> None:
    """Filters of the first layer, output weights into a digit, and what the last layer's units respond to."""
    kernels = _kernels(result.run_id, result.created, result)
    if kernels is None:
        st.warning("This run's model file is missing from the store, so its weights cannot be shown.")
        return
    spec = result.spec
    if not spec.hidden:
        class_templates_view(result, kernels)
        return
    names = class_names(spec.data)
    digit = st.segmented_control(
        "Output unit", options=list(range(NUM_CLASSES)), format_func=lambda d: names[d], default=5, key="digit",
        help="Whose output weights to show: the course's slide uses the digit 5.",
    )  # fmt: skip
    digit = 5 if digit is None else int(digit)
    weights = output_weights(kernels, digit)
    threshold = threshold_slider(weights)
    positive, negative = highlighted_units(weights, threshold)
    st.altair_chart(charts.output_weight_chart(weights, threshold, digit), width="stretch")
    st.caption(
        f"Each bar is the weight from one unit of the last hidden layer into the output for {names[digit]}. "
        f"{len(positive)} units above {threshold:g} (green) speak for {names[digit]}: their pattern should be there; "
        f"{len(negative)} below -{threshold:g} (red) speak against it: their pattern should not."
    )
    if spec.conv:
        st.info("This network starts with convolutions, so its Dense units have no 28x28 filter: see the CNN page.")
    else:
        frames = {int(i): images.POSITIVE_COLOR for i in positive} if len(spec.hidden) == 1 else {}
        if len(spec.hidden) == 1:
            frames.update({int(i): images.NEGATIVE_COLOR for i in negative})
        filter_grid(first_layer_filters(kernels, spec), frames, len(spec.hidden) == 1)
    if len(spec.hidden) > 1 or spec.conv:
        unit_means_view(result, positive, negative, weights)


def stage_filters(result: RunResult, slot: Any) -> None:
    """The trained network's first-layer filters (or class templates) in ``slot``, beside the curves on the stage.

    For a run stored before snapshots (which replays its film instead).
    """
    kernels = _kernels(result.run_id, result.created, result)
    with slot.container():
        if kernels is None:
            st.caption("This run's model file is missing from the store, so its weights cannot be shown.")
        elif not result.spec.hidden:
            templates = class_templates(kernels)
            st.markdown("**Class templates**: each output unit's 784 weights")
            st.image(images.image_grid(templates, columns=5, mode="diverging", labels=class_names(result.spec.data)))
        elif result.spec.conv:
            st.caption("This network starts with convolutions: its kernels are on the CNN page.")
        else:
            filters = first_layer_filters(kernels, result.spec)
            shown = min(len(filters), STAGE_FILTERS)
            st.markdown(f"**First layer**: what {'each' if shown == len(filters) else f'the first {shown}'} of its "
                        f"{len(filters)} units look{'s' if len(filters) == 1 else ''} for")  # fmt: skip
            picture = images.image_grid(filters[:shown], columns=min(STAGE_COLUMNS, shown), mode="diverging")
            st.image(picture, caption="Red: ink there raises the unit's input; blue: lowers it.")


def threshold_slider(weights: np.ndarray) -> float:
    """The ±threshold that frames units; its range follows this run's weights."""
    top = float(np.nanmax(np.abs(np.nan_to_num(weights)))) if len(weights) else 1.0
    top = max(round(top + 0.005, 2), 0.01)
    current = st.session_state.get("threshold")
    if current is None or current > top:
        st.session_state["threshold"] = round(min(0.75, top * 0.6), 2)  # the course's 0.75, when the weights reach it
    return float(
        st.slider(
            "Threshold",
            min_value=0.0,
            max_value=top,
            step=0.01,
            key="threshold",
            help="Units whose weight is above it are framed green, below minus it red.",
        )
    )


def filter_grid(filters: np.ndarray, frames: dict[int, tuple[int, int, int]], framed: bool) -> None:
    """First-layer filters as 28x28 images on a red-blue scale (paged for wide layers)."""
    n = len(filters)
    st.markdown(f"**What each first-layer unit looks for** ({n} units: its 784 input weights as a 28x28 image)")
    c1, c2 = st.columns([3, 2])
    start = 0
    if n > FILTERS_PER_PAGE:
        pages = list(range(0, n, FILTERS_PER_PAGE))
        start = c1.select_slider(
            "Units shown",
            options=pages,
            format_func=lambda s: f"{s}-{min(s + FILTERS_PER_PAGE, n) - 1}",
            key="filter_page",
        )
    shared = c2.toggle(
        "One color scale for all",
        key="shared_scale",
        help="Off: each filter uses its own scale, to see its pattern best.",
    )
    page = filters[start : start + FILTERS_PER_PAGE]
    page_frames = {i - start: color for i, color in frames.items() if start <= i < start + FILTERS_PER_PAGE}
    picture = images.image_grid(page, columns=10, mode="diverging", shared_scale=shared, frames=page_frames)
    st.image(picture, caption=_filter_caption(start, framed))


def _filter_caption(start: int, framed: bool) -> str:
    text = (
        f"Units numbered from {start}, left to right, row by row. Red: a bright pixel there raises the unit's input, "
        "blue: it lowers it, white: ignored."
    )
    if framed:
        text += (
            " Green frame: the unit's weight into the chosen output is above the threshold; red frame: below minus it."
        )
    return text


def class_templates_view(result: RunResult, kernels: dict[str, np.ndarray]) -> None:
    """For logistic regression, the ten output units' weights: one template per class (course B1)."""
    names = class_names(result.spec.data)
    templates = class_templates(kernels)
    shared = st.toggle("One color scale for all", key="shared_scale", help="Off: each template uses its own scale.")
    picture = images.image_grid(templates, columns=5, mode="diverging", shared_scale=shared, labels=names, scale=4)
    st.markdown("**Class templates**: with no hidden layer, each output unit weighs the 784 pixels directly.")
    st.image(picture, caption="Red pixels raise the class's score, blue ones lower it: an image that matches the red "
                              "and avoids the blue gets that class.")  # fmt: skip


def unit_means_view(result: RunResult, positive: np.ndarray, negative: np.ndarray, weights: np.ndarray) -> None:
    """For a deep network, the mean of the training images that most activate each highlighted last-layer unit."""
    st.markdown("**What the highlighted last-layer units respond to**")
    if not data_on_machine(result.spec):
        st.info("The training images are not on this machine, so the units' favourite images cannot be shown.")
        return
    units = np.concatenate([positive, negative]).astype(int)
    if len(units) == 0:
        st.caption("No unit passes the threshold: lower it to highlight some.")
        return
    means, peaks = _unit_means(result.run_id, result.created, result)
    frames = {i: images.POSITIVE_COLOR for i in range(len(positive))}
    frames.update({len(positive) + i: images.NEGATIVE_COLOR for i in range(len(negative))})
    labels = [f"#{u} {weights[u]:+.2f}" + ("" if peaks[u] > 0 else " dead") for u in units]
    picture = images.image_grid(means[units], columns=10, mode="gray", frames=frames, labels=labels)
    st.image(
        picture,
        caption="A deep unit has no 28x28 filter: each tile is the mean of the 20 training images that activate it "
        "most (unit number and its weight into the output). 'dead' marks a unit that never fires.",
    )
