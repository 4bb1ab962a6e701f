"""Train page: a control for every technique, live training, curves, learned filters, output weights.

The settings live in the URL, so a copied link opens the same setup (and its
stored run, if there is one). Moving a control never trains by itself: the
Train button does; a setup trained before (by anyone on this server) shows its
results at once, so a teacher can sweep the sliders live in class.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import streamlit as st

from lab.analysis.diagnosis import diagnose_fit
from lab.architecture import NUM_CLASSES
from lab.data.sources import is_cached, load_source
from lab.nn.result import EpochReport, RunResult
from lab.reports.keras_script import keras_script
from lab.spec import Augmentation, ExperimentSpec
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
from ui.state import get_jobs, get_store
from ui.text import fmt_seconds

ensure_app_navigation()

PAGE_KEY = "train"
FILTERS_PER_PAGE = 100  # tiles per filter picture: wide layers are paged
MISTAKES_SHOWN = 30
GALLERY_PER_CLASS = 2
DIGIT_NAMES = [str(d) for d in range(NUM_CLASSES)]
FASHION_NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


# ---------------------------------------------------------------- the setup
def load_url_setup() -> ExperimentSpec:
    """The spec the URL asks for (``?preset=NAME`` and/or spec fields), applied to the controls when new.

    A fresh session always reads the URL; later, only a URL that changed (a
    link followed from another page) replaces the controls, so that coming back
    to the page through the menu keeps what was set.
    """
    params = st.query_params.to_dict()
    first = "train_base" not in st.session_state
    if not first and (not params or params == st.session_state.get("train_query")):
        return st.session_state["train_base"]
    base = ExperimentSpec()
    if "preset" in params:
        preset = _preset_spec(params["preset"])
        if preset is not None:
            base = preset
    try:
        spec = spec_from_query(params, defaults=base)
    except ValueError as exc:
        st.warning(f"{exc} The other settings are used; the rest are defaults.")
        spec = base
    st.session_state["train_base"] = spec
    seed_controls(spec)
    return spec


def _preset_spec(name: str) -> ExperimentSpec | None:
    try:
        from lab.catalog.presets import get_preset  # written in parallel by the Techniques page: optional
    except ImportError:
        st.warning("Presets are not available in this version of the lab: the link's other settings are used.")
        return None
    try:
        return get_preset(name).spec
    except Exception:  # noqa: BLE001 - any bad preset name is the user's link, never a crash
        st.warning(f"There is no preset called '{name}': the link's other settings are used.")
        return None


def write_url(spec: ExperimentSpec) -> None:
    """Put the current setup into the URL (only when it changed)."""
    query = spec_to_query(spec)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.session_state["train_query"] = query


def carried_settings_note(base: ExperimentSpec) -> None:
    """Convolutions and augmentation come from a link or preset; this page has no controls for them."""
    extras = []
    if base.conv:
        extras.append(f"{len(base.conv)} convolution block(s)")
    if base.augmentation.active:
        extras.append("data augmentation")
    if not extras:
        return

    def remove() -> None:
        st.session_state["train_base"] = base.replace(conv=(), augmentation=Augmentation())

    c1, c2 = st.columns([4, 1])
    c1.info(f"This setup also has {' and '.join(extras)} (from the link); the CNN page has their controls.")
    c2.button("Remove them", key="remove_extras", on_click=remove)


# ----------------------------------------------------------------- the data
def data_gallery(spec: ExperimentSpec) -> None:
    """A few training images with their labels, two of each class."""
    from lab.analysis.inspection import gallery_indices

    try:
        source = load_source(spec.data)
    except ValueError as exc:
        st.error(str(exc))
        return
    idx = gallery_indices(source.y_train, GALLERY_PER_CLASS)
    names = class_names(spec)
    pictures = [images.digit_picture(source.x_train[i]) for i in idx]
    n_train, n_test = source.sizes
    st.caption(f"{n_train:,} training and {n_test:,} test images in this source. Two of each class:")
    st.image(pictures, caption=[names[source.y_train[i]] for i in idx], width=56)


def class_names(spec: ExperimentSpec) -> list[str]:
    """Digit labels, or clothing names for Fashion-MNIST."""
    return FASHION_NAMES if spec.data == "fashion" else DIGIT_NAMES


def data_ready(spec: ExperimentSpec) -> bool:
    """Whether the data is on this machine already (nothing is downloaded to draw results)."""
    return spec.data == "sample" or spec.data.startswith("idx:") or is_cached(spec.data)


# ---------------------------------------------------------------- training
def draw_live(slot: Any, report: EpochReport) -> None:
    """Loss and accuracy curves that grow epoch by epoch, in a fixed frame of all epochs."""
    with slot.container():
        c1, c2 = st.columns(2)
        for column, metric in ((c1, "loss"), (c2, "accuracy")):
            chart = charts.curves_chart({"this run": report.history}, metric, epochs=report.epochs)
            column.altair_chart(chart, width="stretch")


def train_section(spec: ExperimentSpec, valid: bool, available: bool) -> RunResult | None:
    """The Train button, then the result: stored, followed live, or None."""
    stored = valid and spec in get_store()
    c1, c2 = st.columns([1, 4])
    clicked = c1.button(
        "Train",
        key="train_button",
        type="primary",
        disabled=not (valid and available),
        help="Train this setup now; the sliders alone never start a training.",
    )
    note = c2.empty()
    if stored:
        note.caption(
            "This exact setup is already trained: its results are below. "
            "Change any setting (the seed too) to train another run."
        )
    elif valid and available:
        note.caption("Not trained yet: press Train. Results of a setup trained before appear as soon as you select it.")
    if not valid:
        return None
    progress = st.empty()
    live = st.empty()
    trains = clicked or _job_running(spec)
    with progress.container():
        result = run_spec(spec, PAGE_KEY, start=clicked and available, render=lambda report: draw_live(live, report))
    live.empty()
    if trains and result is not None:
        progress.empty()  # the Stop button and status line are done; the results follow
        note.caption("Trained and stored: this setup's results now appear at once for anyone who selects it.")
    return result


def _job_running(spec: ExperimentSpec) -> bool:
    job = get_jobs().get(spec.run_id)
    return job is not None and not job.finished


# ----------------------------------------------------------------- results
def headline(result: RunResult) -> None:
    """Test accuracy and loss, with the change from the previous run shown in this session."""
    prev = remember_shown(result)
    acc, loss = result.test_accuracy, result.test_loss
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Test accuracy",
        _pct(acc),
        delta=_delta(acc, prev, "acc", pct=True),
        help="Share of the test images (never seen in training) classified correctly."
        + (f" Change from the previous run: {prev['summary']}." if prev else ""),
    )
    c2.metric(
        "Test loss",
        _num(loss),
        delta=_delta(loss, prev, "loss"),
        delta_color="inverse",
        help="Cross-entropy (or MSE) on the test images, penalties included: lower is better.",
    )
    epochs = f"{result.epochs_run} / {result.spec.epochs}"
    c3.metric("Epochs trained", epochs, help="Early stopping or the Stop button can end training early.")
    c4.metric("Training time", fmt_seconds(result.train_seconds), help="Wall time of the training itself.")
    if result.best_epoch:
        st.caption(f"Early stopping kept the weights of epoch {result.best_epoch} (marked on the curves).")
    if result.from_store:
        st.caption("Read from the run store: this setup was trained before, so nothing had to be trained now.")


def remember_shown(result: RunResult) -> dict[str, Any] | None:
    """Keep the last two distinct runs shown; returns the one before this one (for the deltas)."""
    info = {
        "run_id": result.run_id,
        "summary": result.spec.summary(),
        "acc": result.test_accuracy,
        "loss": result.test_loss,
    }
    last = st.session_state.get("train_last")
    if last is None or last["run_id"] != result.run_id:
        st.session_state["train_prev"] = last
        st.session_state["train_last"] = info
    runs = st.session_state.setdefault("train_runs", {})
    runs[result.run_id] = {
        "Run": result.run_id,
        "Setup": result.spec.summary(),
        "Parameters": result.params,
        "Test accuracy": result.test_accuracy,
        "Epochs": result.epochs_run,
        "Seconds": round(result.train_seconds, 1),
        "Diverged": result.diverged,
    }
    return st.session_state.get("train_prev")


def _delta(value: float, prev: dict[str, Any] | None, key: str, pct: bool = False) -> str | None:
    before = prev.get(key) if prev else None
    if before is None or not (math.isfinite(value) and math.isfinite(before)):
        return None
    change = value - before
    return f"{change * 100:+.2f} pts" if pct else f"{change:+.4f}"


def _pct(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "—"


def _num(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "NaN"


def curves(result: RunResult) -> None:
    """Loss and accuracy, train vs validation, with other runs of this session overlaid on request."""
    runs = st.session_state.get("train_runs", {})
    others = [rid for rid in runs if rid != result.run_id]
    c1, c2 = st.columns([3, 1])
    overlay = c1.multiselect(
        "Overlay runs from this session",
        options=others,
        format_func=lambda rid: f"{runs[rid]['Setup']} ({rid})",
        max_selections=2,
        key="overlay",
        help="Draw up to two earlier runs on the same curves (dashed) to compare them.",
    )
    log_scale = c2.toggle(
        "Log-scale loss", key="log_loss", help="Losses span orders of magnitude: a log scale shows late progress."
    )
    histories = {f"this run ({result.run_id})": result.history}
    best = {f"this run ({result.run_id})": result.best_epoch}
    store = get_store()
    for rid in overlay:
        other = store.get(rid)
        if other is not None:
            label = f"{other.spec.summary()} ({rid})"
            histories[label], best[label] = other.history, other.best_epoch
    c1, c2 = st.columns(2)
    c1.altair_chart(charts.curves_chart(histories, "loss", log_scale=log_scale, best_epochs=best), width="stretch")
    c2.altair_chart(charts.curves_chart(histories, "accuracy", best_epochs=best), width="stretch")
    diagnosis = diagnose_fit(result.history, result.diverged)
    if diagnosis is not None:
        st.caption(diagnosis.text)


@st.cache_resource(max_entries=16, show_spinner="Reading the trained weights ...")
def _kernels(run_id: str, created: float, _result: RunResult) -> dict[str, np.ndarray] | None:
    """Dense kernels of a run, read once per run (a stored model loads from disk)."""
    from lab.analysis.inspection import dense_kernels

    model = _result.model
    return dense_kernels(model) if model is not None else None


@st.cache_resource(max_entries=8, show_spinner="Finding the images each unit responds to ...")
def _unit_means(run_id: str, created: float, _result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """For each last-hidden unit, the mean of the training images that activate it most."""
    from lab.analysis.inspection import display_images, hidden_activations, top_activating_means
    from lab.data.prepare import prepare

    data = prepare(_result.spec)
    acts = hidden_activations(_result.model, _result.spec, data.x_train)
    return top_activating_means(acts, display_images(data.x_train, data.mean))


def learned_weights(result: RunResult) -> None:
    """Filters of the first layer, output weights into a digit, and what the last layer's units respond to."""
    kernels = _kernels(result.run_id, result.created, result)
    if kernels is None:
        st.warning("This run's model file is missing from the store, so its weights cannot be shown.")
        return
    spec = result.spec
    if not spec.hidden:
        class_templates_view(result, kernels)
        return
    from lab.analysis.inspection import first_layer_filters, highlighted_units, output_weights

    names = class_names(spec)
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
    from lab.analysis.inspection import class_templates

    names = class_names(result.spec)
    templates = class_templates(kernels)
    shared = st.toggle("One color scale for all", key="shared_scale", help="Off: each template uses its own scale.")
    picture = images.image_grid(templates, columns=5, mode="diverging", shared_scale=shared, labels=names, scale=4)
    st.markdown("**Class templates**: with no hidden layer, each output unit weighs the 784 pixels directly.")
    st.image(picture, caption="Red pixels raise the class's score, blue ones lower it: an image that matches the red "
                              "and avoids the blue gets that class.")  # fmt: skip


def unit_means_view(result: RunResult, positive: np.ndarray, negative: np.ndarray, weights: np.ndarray) -> None:
    """For a deep network, the mean of the training images that most activate each highlighted last-layer unit."""
    st.markdown("**What the highlighted last-layer units respond to**")
    if not data_ready(result.spec):
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


def mistakes(result: RunResult) -> None:
    """The confusion matrix and the test images the model got wrong, most confident first."""
    names = class_names(result.spec)
    c1, c2 = st.columns([1, 1])
    c1.altair_chart(charts.confusion_chart(result.confusion, names), width="content")
    with c2:
        st.markdown("**Misclassified test images**, the most confident mistakes first")
        if not data_ready(result.spec):
            st.info("The test images are not on this machine, so the mistakes cannot be shown.")
            return
        from lab.analysis.inspection import misclassified

        source = load_source(result.spec.data)
        x_test, y_test = source.x_test, source.y_test
        if result.spec.test_subset:
            x_test, y_test = x_test[: result.spec.test_subset], y_test[: result.spec.test_subset]
        wrong = misclassified(y_test, result.test_probs, limit=MISTAKES_SHOWN)
        total = int((result.test_predictions != y_test).sum())
        st.caption(f"{total:,} of {len(y_test):,} test images are wrong. Label: true → predicted (confidence).")
        if wrong:
            pictures = [images.digit_picture(x_test[m.index]) for m in wrong]
            captions = [f"{names[m.true]} → {names[m.predicted]} ({m.confidence:.0%})" for m in wrong]
            st.image(pictures, caption=captions, width=56)


def code_and_model(result: RunResult | None, spec: ExperimentSpec) -> None:
    """The Keras script for this setup, and the trained model as a download."""
    with st.expander("Show the Keras code", icon=":material/code:"):
        st.caption(
            "A standalone script in the course's style that prepares the same data and trains exactly this setup."
        )
        st.code(keras_script(spec), language="python")
    if result is not None and result.path is not None and (result.path / "model.keras").is_file():
        model_file = result.path / "model.keras"
        st.download_button(
            "Download the trained model (.keras)",
            data=model_file.read_bytes,
            file_name=f"mlp_lab_{result.run_id}.keras",
            mime="application/octet-stream",
            key="download_model",
            on_click="ignore",
            help="Load it with keras.models.load_model(path): it takes the 784 pixels of an image scaled to 0-1"
            + (", minus the training mean" if result.spec.center else "")
            + ".",
        )


def session_runs(current: RunResult | None) -> None:
    """This session's runs, and a way back to any of their settings."""
    runs = st.session_state.get("train_runs", {})
    if not runs:
        return
    st.subheader("This session's runs")
    rows = list(runs.values())[::-1]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "Test accuracy": st.column_config.NumberColumn(format="percent"),
            "Parameters": st.column_config.NumberColumn(format="localized"),
        },
    )
    store = get_store()

    def load(run_id: str) -> None:
        stored = store.get(run_id)
        if stored is not None:
            st.session_state["train_base"] = stored.spec
            seed_controls(stored.spec)

    choices = [r["Run"] for r in rows if current is None or r["Run"] != current.run_id]
    if choices:
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox(
            "Go back to the settings of", choices, format_func=lambda rid: runs[rid]["Setup"], key="load_run"
        )
        c2.button("Load settings", key="load_run_button", on_click=load, args=(pick,))


# -------------------------------------------------------------------- page
def main() -> None:
    st.title(":material/model_training: Train a network")
    st.markdown(
        "Set every technique on the left, press **Train**, and watch the network learn: loss and accuracy "
        "epoch by epoch, then what its units learned to look for and where it still goes wrong. "
        "The link in your address bar keeps the whole setup: share it to open the same run."
    )
    base = load_url_setup()
    with st.sidebar:
        spec = spec_controls(base)
    write_url(spec)
    queue_sidebar()
    carried_settings_note(base)
    available = data_available(spec)
    if available:
        with st.expander("Training images", icon=":material/image:"):
            data_gallery(spec)
    st.subheader("The network")
    valid = show_architecture(spec)
    result = train_section(spec, valid, available)
    if result is not None:
        show_run_warnings(result)
        headline(result)
        curves(result)
        tab_weights, tab_mistakes = st.tabs(["What it learned", "Where it goes wrong"])
        with tab_weights:
            learned_weights(result)
        with tab_mistakes:
            mistakes(result)
    code_and_model(result, spec)
    session_runs(result)


main()
