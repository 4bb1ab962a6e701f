"""Train page: a control for every technique, live training, curves, learned filters, output weights.

The settings live in the URL, so a copied link opens the same setup (and its
stored run, if there is one). Moving a control never trains by itself: the
Train button does; a setup trained before (by anyone on this server) shows its
results at once, so a teacher can sweep the sliders live in class.
"""

from __future__ import annotations

import streamlit as st

from lab.analysis.diagnosis import diagnose_fit
from lab.analysis.inspection import misclassified
from lab.architecture import CheckedSpec
from lab.data.prepare import test_images
from lab.data.sources import class_names
from lab.nn.result import RunResult
from lab.reports.keras_script import keras_script
from lab.reports.labels import distinct_descriptions
from lab.spec import Augmentation, ExperimentSpec
from ui import charts
from ui.app.data import data_available, data_gallery, data_on_machine
from ui.app.display import projector_toggle
from ui.app.jobs import duration_text, origin_text, queue_sidebar, run_spec, show_run_warnings
from ui.app.navigation import ensure_app_navigation
from ui.app.stage import Stage, open_stage, replay, result_line, show_curves, stage_render, stage_slots
from ui.app.state import get_store
from ui.app.text import fmt_loss, fmt_percent
from ui.app.url import PageUrl
from ui.charts import images
from ui.charts.network import show_architecture
from ui.controls.lesson import lesson_banner, lesson_link_maker
from ui.controls.spec_widgets import seed_controls, spec_controls
from ui.train.session_runs import delta_text, remember_shown, session_runs, session_setups
from ui.train.weights_view import learned_weights_view, stage_filters

ensure_app_navigation()

PAGE_KEY = "train"
MISTAKES_SHOWN = 30
URL = PageUrl(PAGE_KEY, ExperimentSpec(), "the defaults", seed_controls)


# ---------------------------------------------------------------- the setup
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
        URL.keep(base.replace(conv=(), augmentation=Augmentation()))

    c1, c2 = st.columns([4, 1])
    c1.info(f"This setup also has {' and '.join(extras)} (from the link); the CNN page has their controls.")
    c2.button("Remove them", key="remove_extras", on_click=remove)


# ---------------------------------------------------------------- training
def train_section(spec: ExperimentSpec, checked: CheckedSpec | None, available: bool, stage: Stage) -> RunResult | None:
    """The Train button on the stage, then the result: stored, or followed live (the page reruns when it ends)."""
    clicked = stage.train.button(
        "Train",
        key="train_button",
        type="primary",
        disabled=not (checked and available),
        help="Train this setup now; the sliders alone never start a training.",
    )
    if checked is None:
        return None
    # The stage is laid out when a training is followed; a stored run's replay fills it otherwise.
    render = stage_render(stage, spec.output, class_names(spec.data))
    result = run_spec(checked, PAGE_KEY, start=clicked and available, render=render, places=stage.places)
    if result is None and available:
        stage.status.caption(
            "Not trained yet: press Train. Results of a setup trained before appear as soon as you select it."
        )
        slots = stage_slots(stage)
        slots.inside.caption("What the first layer's units look for appears here, live, once Train is pressed.")
    return result


# ----------------------------------------------------------------- results
def headline(result: RunResult) -> None:
    """Test accuracy and loss, with the change from the previous run shown in this session."""
    prev = remember_shown(result)
    acc, loss = result.test_accuracy, result.test_loss
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Test accuracy",
        fmt_percent(acc),
        delta=delta_text(acc, prev, "acc", pct=True),
        help="Share of the test images (never seen in training) classified correctly."
        + (f" Change from the previous run: {prev['summary']}." if prev else ""),
    )
    # A diverged run's weights may still give a normal-looking test loss: the headline says what happened.
    c2.metric(
        "Test loss",
        "diverged" if result.diverged else fmt_loss(loss),
        delta=None if result.diverged else delta_text(loss, prev, "loss"),
        delta_color="inverse",
        help="The loss blew up during training (see its curve): the weights left are not a trained network."
        if result.diverged
        else "Cross-entropy (or MSE) on the test images, penalties included: lower is better.",
    )
    epochs = f"{result.epochs_run} / {result.spec.epochs}"
    c3.metric("Epochs trained", epochs, help="Early stopping or the Stop button can end training early.")
    c4.metric("Training time", duration_text(result.train_seconds), help="Wall time of the training itself.")
    if result.best_epoch:
        st.caption(f"Early stopping kept the weights of epoch {result.best_epoch} (marked on the curves).")


def curves(result: RunResult, stage: Stage) -> None:
    """Loss and accuracy on the stage, with other runs of this session overlaid on request (controls here)."""
    setups = session_setups()
    others = [rid for rid in setups if rid != result.run_id]
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    overlay = c1.multiselect(
        "Overlay runs from this session",
        options=others,
        format_func=setups.__getitem__,
        max_selections=2,
        key="overlay",
        help="Draw up to two earlier runs on the curves above (dashed, dotted) to compare them; the key here "
        "names each line in full.",
    )
    log_scale = c2.toggle(
        "Log-scale loss", key="log_loss", help="Losses span orders of magnitude: a log scale shows late progress."
    )
    store = get_store()
    runs = [result] + [other for other in (store.get(rid) for rid in overlay) if other is not None]
    names = ["this run"] + [f"earlier run {i}" for i in range(1, len(runs))]
    histories = {name: run.history for name, run in zip(names, runs, strict=True)}
    # The chart the class watched grow, on the same rows and axes: from the untrained network, every epoch planned.
    frame = {
        "best_epochs": {name: run.best_epoch for name, run in zip(names, runs, strict=True)},
        "run_points": {name: run.points for name, run in zip(names, runs, strict=True)},
        "epochs": max(run.spec.epochs for run in runs),
        "output": result.spec.output,
        "log_scale": log_scale,
    }
    if result.film is not None:  # replayed: every view at one moment, beside an earlier run's when overlaid
        films = [(name, run.film) for name, run in zip(names, runs, strict=True)][1:]
        compare = next(((name, film) for name, film in films if film is not None), None)
        replay(stage, result.film, "train_replay", histories, class_names(result.spec.data), compare=compare, **frame)
    else:  # stored before snapshots: the curves and the final filters
        slots = stage_slots(stage)
        with slots.curves.container():
            show_curves(histories, **frame)
        stage_filters(result, slots.inside)
    if len(runs) > 1:
        # The legend names the lines; the key says in full which setup each one is (any length, wrapped).
        descriptions = distinct_descriptions([run.spec for run in runs])
        styles = charts.RUN_STYLE_WORDS[: len(runs)]
        lines = [f"{style} **{name}**: {text}" for style, name, text in zip(styles, names, descriptions, strict=True)]
        st.markdown("  \n".join(lines))
    diagnosis = diagnose_fit(result.history, result.diverged)
    if diagnosis is not None:
        st.caption(diagnosis.text)


def mistakes(result: RunResult) -> None:
    """The confusion matrix and the test images the model got wrong, most confident first."""
    names = class_names(result.spec.data)
    cells = st.segmented_control(
        "Cells show", ["counts", "percentages"], default="counts", key="confusion_cells",
        help="Counts: how many test images. Percentages: each true digit's share (rows add up to 100%).",
    )  # fmt: skip
    matrix = charts.confusion_chart(result.confusion, names, percent=cells == "percentages")
    st.altair_chart(matrix, width="content")  # large enough to read from the back: the mistakes follow below
    with st.container():
        st.markdown("**Misclassified test images**, the most confident mistakes first")
        if not data_on_machine(result.spec):
            st.info("The test images are not on this machine, so the mistakes cannot be shown.")
            return
        x_test, y_test = test_images(result.spec)
        if len(result.test_probs) != len(y_test):  # stored before the challenge's digits were held out
            st.info(f"This run was tested on {len(result.test_probs):,} images, the test set now holds "
                    f"{len(y_test):,}: train it again to see its mistakes.")  # fmt: skip
            return
        wrong = misclassified(y_test, result.test_probs, limit=MISTAKES_SHOWN)
        total = int((result.test_predictions != y_test).sum())
        st.caption(f"{total:,} of {len(y_test):,} test images are wrong. Label: true → predicted (confidence).")
        if wrong:
            pictures = [images.digit_picture(x_test[m.index]) for m in wrong]
            captions = [f"{names[m.true]} → {names[m.predicted]} ({m.confidence:.0%})" for m in wrong]
            st.image(pictures, caption=captions, width=84)  # 3x the digit: readable from the back


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


# -------------------------------------------------------------------- page
def main() -> None:
    projector_toggle()
    st.title(":material/model_training: Train a network")
    base = URL.load()
    with st.sidebar:
        maker = st.container()  # above the controls, filled once they give the setup
        spec = spec_controls(base)
    with maker:
        lesson_link_maker(PAGE_KEY, spec)
    URL.write(spec)
    queue_sidebar()
    stage = open_stage()  # Train, Stop, progress, curves and filters: one screen, right under the title
    results = st.container()  # the run's numbers and curve controls, under the stage
    lesson_banner()
    st.markdown(
        "Set every technique on the left, press **Train**, and watch the network learn: loss and accuracy "
        "epoch by epoch, then what its units learned to look for and where it still goes wrong. "
        "The link in your address bar keeps the whole setup: share it to open the same run."
    )
    carried_settings_note(base)
    available = data_available(spec)
    st.subheader("The network")
    checked = show_architecture(spec)
    if available:
        with st.expander("Training images", icon=":material/image:"):
            data_gallery(spec)
    result = train_section(spec, checked, available, stage)
    if result is not None:
        with results:
            st.caption(origin_text(result))
            show_run_warnings(result)
            headline(result)
            curves(result, stage)
        result_line(stage, result)
        tab_weights, tab_mistakes = st.tabs(["What it learned", "Where it goes wrong"])
        with tab_weights:
            learned_weights_view(result)
        with tab_mistakes:
            mistakes(result)
    code_and_model(result, spec)
    session_runs(result, URL.show)


main()
