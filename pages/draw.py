"""Draw: draw a digit (or upload a photo), see the 28x28 image the model receives, and every model's answer."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from lab.analysis.canvas import image_to_mnist, load_image_file
from lab.analysis.export import export_predictor
from lab.analysis.images import enlarge
from lab.analysis.predictor import STARTER_SPEC, Prediction, Predictor, has_ink, model_kind, preprocess_canvas
from lab.reports.labels import run_help, run_labels
from lab.runs import queries
from lab.runs.queries import compare_runs, digit_runs
from lab.runs.store import RunInfo, RunStore
from ui import charts
from ui.app.display import apply_look, projector_toggle
from ui.app.jobs import duration_text, run_spec, trained_just_now
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_store
from ui.app.text import fmt_percent, plain
from ui.draw.canvas import decode_drawing, live_canvas
from ui.draw.landing import show_landing
from ui.draw.units import show_units

ensure_app_navigation()

CANVAS_KEY = "draw_canvas"
CANVAS_SIDE = 280
MAX_TABLE_MODELS = 30  # the most accurate ones: loading each model costs a few hundred ms the first time
MAX_MODEL_CHOICES = 50  # the models offered to choose from, best first (a class's store holds thousands)
PROMPT = "✏️ **Draw a digit** in the black square: every model answers while you draw, right in your browser."
UPLOAD_PROMPT = ":material/photo_camera: Upload a photo of one digit on paper (PNG or JPEG), or a saved drawing."
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]
ACCENT = "#4C6EF5"
log = logging.getLogger(__name__)


@st.cache_resource(max_entries=64, show_spinner="Loading the model ...")
def load_predictor(home: str, run_id: str, created: float) -> Predictor:
    """A stored run's model, loaded once per server (``created`` tells a retrained run apart)."""
    return queries.load_predictor(run_id, RunStore(home)).warm_up()


def predictor_for(info: RunInfo) -> Predictor | None:
    """The cached predictor of a listed run; None (logged) when its model file cannot be loaded."""
    try:
        return load_predictor(str(get_store().home), info.run_id, float(info.metrics.get("created") or 0.0))
    except Exception:  # noqa: BLE001 - a broken model file (truncated, foreign) must not break the page
        log.warning("Run %s: its model cannot be loaded", info.run_id, exc_info=True)
        return None


# ---------------------------------------------------------------- empty store
def offer_starter_model() -> None:
    """With no model stored, one button trains a good small one on the offline sample."""
    st.info(
        "There is no trained model yet. Train a small one now: one hidden layer of 128 ReLU units, Adam, "
        f"{STARTER_SPEC.epochs} epochs on the 4,000-digit offline sample (about 93% test accuracy, "
        "a few seconds of training). Or train any network on the **Train** page and come back."
    )
    clicked = st.button("Train a starter model", type="primary", key="draw_train_starter")
    # Following it ends in a rerun: the page then opens on the canvas, with the new model chosen.
    run_spec(STARTER_SPEC, key="draw-starter", start=clicked)


def starter_note(chosen: RunInfo) -> None:
    """Right after the starter model was trained here, say so above the canvas."""
    if chosen.run_id != STARTER_SPEC.run_id:
        return
    result = get_store().get(STARTER_SPEC)
    if result is not None and trained_just_now(result):
        st.success(
            f"Starter model trained just now in {duration_text(result.train_seconds)} and stored "
            f"({result.test_accuracy:.1%} test accuracy). Draw a digit: every model answers while you draw."
        )


# ---------------------------------------------------------------------- input
@st.cache_resource(max_entries=64, show_spinner=False)
def model_description(home: str, run_id: str, created: float) -> dict:
    """A stored run's model as the browser runs it (weights included), exported once per server."""
    return export_predictor(load_predictor(home, run_id, created))


def browser_models(runs: list[RunInfo]) -> list[dict]:
    """The listed runs' models for the live canvas; those whose file cannot be read are left out (logged)."""
    models = []
    for info in runs[:MAX_TABLE_MODELS]:
        created = float(info.metrics.get("created") or 0.0)
        try:
            description = model_description(str(get_store().home), info.run_id, created)
        except Exception:  # noqa: BLE001 - a broken or foreign model file must not break the page
            log.warning("Run %s: its model cannot be exported to the browser", info.run_id, exc_info=True)
            continue
        label = f"{model_kind(info.spec)} · {fmt_percent(info.test_accuracy)} · {info.run_id}"
        models.append({**description, "created": created, "label": label})
    return models


def drawn_canvas(chosen: RunInfo, runs: list[RunInfo], center: bool) -> np.ndarray | None:
    """The live canvas (answers in the browser); the drawing's RGBA pixels once a stroke ended, else None."""
    with st.spinner("Loading the models into the page ..."):
        models = browser_models(runs)
    drawing = live_canvas(CANVAS_KEY, models, chosen.run_id, center)
    if drawing is None:
        return None
    rgba = decode_drawing(drawing["data"])
    return rgba if has_ink(rgba) else None


def uploaded_picture() -> Image.Image | None:
    """An uploaded photo, decoded; None (with st.error for a bad file) when there is none."""
    upload = st.file_uploader(UPLOAD_PROMPT, type=UPLOAD_TYPES, key="draw_upload")
    if upload is None:
        return None
    try:
        picture = load_image_file(upload.getvalue())
    except ValueError as exc:
        st.error(f"{plain(exc)} Try another file: a PNG or JPEG photo of one digit.")
        return None
    st.image(picture, caption=plain(upload.name), width=CANVAS_SIDE)  # a caption reads Markdown
    return picture


# --------------------------------------------------------------------- answer
def show_answer(prediction: Prediction, elapsed_ms: float) -> None:
    """The predicted digit, large, its probability, and the ten probabilities as bars."""
    st.markdown(
        f"<div style='font-size:6.5rem;font-weight:700;line-height:1;color:{ACCENT}'>{prediction.digit}</div>",
        unsafe_allow_html=True,
    )
    st.markdown(f"**{prediction.probability:.1%}** sure it is a **{prediction.digit}**")
    st.altair_chart(charts.probability_chart(prediction.probs, prediction.digit, ACCENT), width="stretch")
    st.caption(f"Preprocessing + prediction: {elapsed_ms:.1f} ms on the server.")


def show_model_table(runs: list[RunInfo], chosen: RunInfo, image: np.ndarray) -> None:
    """What every stored model predicts for this drawing."""
    st.subheader("What every stored model says")
    shown = runs[:MAX_TABLE_MODELS]
    with st.spinner("Loading the stored models ..."):
        loaded = [(info, predictor_for(info)) for info in shown]
    broken = [info for info, predictor in loaded if predictor is None]
    rows = compare_runs([(info, predictor) for info, predictor in loaded if predictor is not None], image)
    if broken:
        st.caption(
            f"Left out: {len(broken)} stored run(s) whose model file cannot be read "
            f"({', '.join(info.run_id for info in broken)}). The teacher's panel can delete them."
        )
    if not rows:
        return
    table = pd.DataFrame(rows)
    votes = table["predicts"].value_counts()
    top_digit, top_count = int(votes.index[0]), int(votes.iloc[0])
    st.markdown(
        f"**{top_count} of {len(table)}** models say **{top_digit}**."
        + ("" if top_count == len(table) else " Where they disagree, the drawing is ambiguous to some of them.")
    )
    shown_table = pd.DataFrame(
        {
            "chosen": ["✓" if run == chosen.run_id else "" for run in table["run"]],
            "predicts": table["predicts"],
            "probability": [f"{p:.1%}" for p in table["probability"]],
            "kind": table["kind"],
            "model": [info.spec.describe() for info in shown],
            "test accuracy": [fmt_percent(a) for a in table["test accuracy"]],
            "run": table["run"],
        }
    )
    st.table(shown_table, hide_index=True)  # every model, its whole description
    if len(runs) > len(shown):
        st.caption(f"The {len(shown)} most accurate of {get_store().count_digit_runs()} stored digit models.")


# ------------------------------------------------------------------ the page
@st.fragment
def play(chosen: RunInfo, runs: list[RunInfo]) -> None:
    """Canvas and answer; a fragment, so drawing reruns only this part of the page."""
    apply_look()  # a fragment's rerun skips the page's top: draw its chart at the session's sizes too
    source_column, center_column = st.columns(2)  # one row: the canvas must fit a 1280x720 screen on arrival
    source = source_column.radio(
        "Input", ["Draw", "Upload a photo"], horizontal=True, key="draw_source", label_visibility="collapsed"
    )
    center = center_column.toggle(
        "Center like MNIST",
        value=True,
        key="draw_center",
        help="MNIST's digits were cropped, scaled to fit 20x20 pixels and centered by their center of mass. "
        "Turn this off to feed the model the whole canvas, only shrunk: see how its answers change.",
    )
    drawing = source == "Draw"
    if drawing:
        raw = drawn_canvas(chosen, runs, center)
        if raw is None:
            st.info(PROMPT)
            return
        # The browser has answered all along; the server's own answer (Keras) for the finished drawing, with the
        # first layer's weights and every model's description, sits below it, folded.
        with st.expander("The server's answer (Keras), from when you lifted the pen", expanded=False):
            answer(chosen, runs, raw, center, drawing)
        return
    left, middle, right = st.columns([1.15, 0.8, 1.05], gap="medium")
    with left:
        raw = uploaded_picture()
    if raw is not None:
        answer(chosen, runs, raw, center, drawing, (middle, right))


def answer(
    chosen: RunInfo,
    runs: list[RunInfo],
    raw: np.ndarray | Image.Image,
    center: bool,
    drawing: bool,
    columns: tuple | None = None,
) -> None:
    """The server's path: preprocessing, the chosen model's answer, every model's, the first layer's units."""
    middle, right = columns if columns else st.columns([0.8, 1.05], gap="medium")
    predictor = predictor_for(chosen)
    if predictor is None:
        with middle:
            st.error(
                f"The model of run {chosen.run_id} cannot be read (its file is damaged): choose another model above, "
                "or train this setup again on the Train page."
            )
        return
    start = time.perf_counter()
    image = preprocess_canvas(raw, center=center) if drawing else image_to_mnist(raw, center=center)
    if image is None:
        with middle:
            st.warning(
                "That is too small to be a digit: draw it bigger."
                if drawing
                else "No digit stands out in this picture: photograph one dark digit on light paper, filling the frame."
            )
        return
    st.session_state["drawn_digit"] = image  # 28x28 in [0, 1]: the CNN page shows its feature maps too
    prediction, units = predictor.predict_with_units(image)
    elapsed_ms = (time.perf_counter() - start) * 1000
    with middle:
        st.image(enlarge(image), caption="What the model receives: 28 x 28 pixels", width="stretch")
        if not center:
            st.caption("Not centered: the digit stays where and as large as you drew it.")
        if predictor.mean is not None:
            st.caption("This model was trained on centered data: its training images' mean is subtracted too.")
    with right:
        show_answer(prediction, elapsed_ms)
    show_model_table(runs, chosen, image)
    show_units(units)
    show_landing(chosen, predictor, image)


def main() -> None:
    projector_toggle()
    st.title("✏️ Draw a digit")
    st.markdown(
        "Draw a digit: every trained network answers **while you draw**, in your browser. Beside it, the **28 x 28 "
        "image the network receives**; below, the chosen network lights up, and **Why?** shows which pixels count."
    )
    store = get_store()
    runs = digit_runs(store, MAX_MODEL_CHOICES)
    if not runs:
        offer_starter_model()
        runs = digit_runs(store, MAX_MODEL_CHOICES)
        if not runs:
            return
    labels = run_labels(runs)
    by_id = {info.run_id: info for info in runs}
    current = by_id.get(st.session_state.get("draw_model", ""), runs[0])
    run_id = st.selectbox(
        "Model (best test accuracy first)",
        list(labels),
        format_func=labels.__getitem__,
        key="draw_model",
        help=f"Compact: {run_help(current)}",
    )
    chosen = next(info for info in runs if info.run_id == run_id)
    starter_note(chosen)
    play(chosen, runs)


main()
