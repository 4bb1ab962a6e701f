"""CNN page: build a small convnet, see augmentation at work, look inside it, and compare it with the MLPs.

An MLP learns "ink at pixel (12, 14)"; a convolution learns a stroke wherever it
is, and augmentation shows the network moved, turned and bent digits. The
comparison at the bottom (course series B) makes the point with numbers: how
each model copes with digits shifted by a few pixels.
"""

from __future__ import annotations

import streamlit as st

from lab.architecture import CheckedSpec
from lab.catalog.presets import get_preset
from lab.data.sources import class_names
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec
from ui.app.data import data_available
from ui.app.display import projector_toggle
from ui.app.jobs import duration_text, origin_text, queue_sidebar, run_spec, show_run_warnings
from ui.app.navigation import ensure_app_navigation
from ui.app.stage import Stage, open_stage, replay, result_line, show_curves, stage_render, stage_slots
from ui.app.text import fmt_percent
from ui.app.url import PageUrl
from ui.charts.network import show_architecture
from ui.cnn.augmentation_view import augmentation_preview_section
from ui.cnn.conv_widgets import augmentation_controls, conv_controls, seed_conv_controls
from ui.cnn.inside_view import digit_picker, inside_section, shift_section, stage_kernels
from ui.cnn.mlp_vs_cnn import mlp_vs_cnn_section
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
    name = st.selectbox(
        "Start from a course CNN",
        options=list(presets),
        format_func=lambda n: presets[n].label,
        key=P + "preset",
        help="Sets every control below to one of the course's models (series B, CS4487).",
        disabled=in_lesson,
    )
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


# ---------------------------------------------------------------- training
def train_section(checked: CheckedSpec | None, stage: Stage) -> RunResult | None:
    """The Train button on the stage, live curves and kernels, then the result (stored runs show at once).

    ``checked``: the setup, checked (``show_architecture``) and its data here; None greys the button out.
    """
    clicked = stage.train.button(
        "Train",
        key=P + "train",
        type="primary",
        disabled=checked is None,
        help="Train this setup now; moving the controls never trains by itself.",
    )
    if checked is None:
        return None
    # The stage is laid out when a training is followed; a stored run's replay fills it otherwise.
    render = stage_render(stage, checked.spec.output, class_names(checked.spec.data))
    result = run_spec(checked, "cnn", start=clicked, render=render, places=stage.places)
    if result is None:
        stage.status.caption(
            "Not trained yet: press Train. A setup trained before shows its results as soon as you select it."
        )
        slots = stage_slots(stage)
        slots.inside.caption("The first convolution's kernels appear here, live, once Train is pressed.")
    return result


def result_section(result: RunResult, stage: Stage) -> None:
    """Headline numbers under the stage; the curves and the inside on it, replayed when the run has a film."""
    st.caption(origin_text(result))
    show_run_warnings(result)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Test accuracy", "diverged" if result.diverged else fmt_percent(result.test_accuracy))
    c2.metric("Parameters", f"{result.params:,}")
    c3.metric("Epochs trained", f"{result.epochs_run} / {result.spec.epochs}")
    c4.metric("Training time", duration_text(result.train_seconds))
    # The chart the class watched grow, on the same rows and axes: from the untrained network, every epoch planned.
    histories = {"this run": result.history}
    frame = {
        "best_epochs": {"this run": result.best_epoch},
        "points": result.points,
        "epochs": result.spec.epochs,
        "output": result.spec.output,
    }
    result_line(stage, result)
    if result.film is not None:
        replay(stage, result.film, P + "replay", histories, class_names(result.spec.data), **frame)
    else:  # stored before snapshots: the curves and the final kernels
        slots = stage_slots(stage)
        with slots.curves.container():
            show_curves(histories, **frame)
        stage_kernels(result, slots.inside)
    if result.spec.augmentation.active:
        st.caption(
            "Training accuracy is measured on augmented digits, validation accuracy on the digits as they are: "
            "an augmented network often does better on validation than on its own training batches."
        )


# -------------------------------------------------------------------- page
def main() -> None:
    projector_toggle()
    st.title("Convolutions and data augmentation")
    queue_sidebar()
    with st.sidebar:
        maker = st.container()  # above the controls, filled once they give the setup
        spec = setup_controls()
    with maker:
        lesson_link_maker("cnn", spec)
    URL.write(spec)
    stage = open_stage()  # Train, Stop, progress, curves and kernels: one screen, right under the title
    results = st.container()  # the run's numbers, under the stage
    lesson_banner()
    st.write(
        "A convolution layer slides small kernels over the image, so the same stroke detector works anywhere; "
        "data augmentation trains on randomly moved, turned and bent copies of the digits. Build a small CNN "
        "on the left, watch augmentation at work, train it, and look at what its layers compute."
    )
    tabs = st.tabs(["The network", "Augmentation", "Inside the network", "Shifted digits", "MLP vs CNN"])
    with tabs[0]:
        checked = show_architecture(spec)
    ready = checked is not None and data_available(spec, P)
    with tabs[1]:
        picked = digit_picker(spec) if ready else None
        if picked is not None:
            augmentation_preview_section(spec.augmentation, *picked, key_prefix=P)
    result = train_section(checked if ready else None, stage)
    if result is None:
        for tab in (tabs[2], tabs[3]):
            tab.caption("Train the network (or pick a setup trained before) to look inside it.")
    if result is not None:
        with results:
            result_section(result, stage)
        with tabs[2]:
            if picked is not None:
                inside_section(result, *picked)
        with tabs[3]:
            shift_section(result)
    with tabs[4]:
        mlp_vs_cnn_section()


main()
