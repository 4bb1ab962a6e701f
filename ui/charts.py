"""Altair charts every page can reuse: training curves, output-weight bars, confusion matrix.

No Streamlit here: each function returns an Altair chart that a page hands to
``st.altair_chart``, so the charts can be tested (and used in a notebook)
without a running app. Pictures made of pixels are in ``ui.images``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from ui.images import NEGATIVE_COLOR, POSITIVE_COLOR

TRAIN_COLOR = "#4C6EF5"
VAL_COLOR = "#F08C00"
NEUTRAL_BAR = "#ADB5BD"
SPLIT_NAMES = {"": "train", "val_": "validation"}
METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}


# ------------------------------------------------------------------ curves
def history_frame(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> pd.DataFrame:
    """Long-form table of training curves: run, epoch, metric, split, value.

    Parameters
    ----------
    histories : mapping
        Run label -> Keras history (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
        Values that are NaN or infinite (a diverged run) become missing points.
    """
    rows = []
    for run, history in histories.items():
        for metric in METRIC_TITLES:
            for prefix, split in SPLIT_NAMES.items():
                for i, value in enumerate(history.get(prefix + metric, []) or []):
                    value = float(value) if value is not None else math.nan
                    rows.append((run, i + 1, metric, split, value if math.isfinite(value) else None))
    return pd.DataFrame(rows, columns=["run", "epoch", "metric", "split", "value"])


def curves_chart(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str,
    *,
    log_scale: bool = False,
    best_epochs: Mapping[str, int | None] | None = None,
    epochs: int | None = None,
    height: int = 260,
) -> alt.LayerChart:
    """Train and validation curves of one metric, one line style per run.

    Parameters
    ----------
    histories : mapping
        Run label -> Keras history. The first run is drawn solid, others dashed.
    metric : str
        ``loss`` or ``accuracy``.
    log_scale : bool
        Log scale on the y axis (loss only: it spans orders of magnitude).
    best_epochs : mapping, optional
        Run label -> the epoch whose weights early stopping restored; drawn as a
        vertical rule.
    epochs : int, optional
        Fix the x axis to this many epochs (live curves grow into a fixed frame).
    height : int
        Chart height in pixels.
    """
    if metric not in METRIC_TITLES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_TITLES)}.")
    data = history_frame(histories)
    data = data[data["metric"] == metric]
    if log_scale:
        data = data[data["value"].isna() | (data["value"] > 0)]
    runs = list(histories)
    title = METRIC_TITLES[metric]
    x_scale = alt.Scale(domain=[1, max(epochs, 2)]) if epochs else alt.Scale(zero=False)
    y_scale = alt.Scale(type="log") if log_scale else alt.Scale(zero=False)
    if metric == "accuracy":
        y_scale = alt.Scale(zero=False, domainMax=1)
    y_format = ".1%" if metric == "accuracy" else ".4f"
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title="Epoch", scale=x_scale, axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=title + (" (log scale)" if log_scale else ""), scale=y_scale,
                axis=alt.Axis(format=".0%" if metric == "accuracy" else "")),
        color=alt.Color(
            "split:N",
            title=None,
            scale=alt.Scale(domain=["train", "validation"], range=[TRAIN_COLOR, VAL_COLOR]),
            legend=alt.Legend(orient="top"),
        ),
        strokeDash=alt.StrokeDash(
            "run:N", title=None, sort=runs, legend=alt.Legend(orient="top") if len(runs) > 1 else None
        ),
        tooltip=[
            alt.Tooltip("run:N", title="Run"),
            alt.Tooltip("split:N", title="Split"),
            alt.Tooltip("epoch:Q", title="Epoch"),
            alt.Tooltip("value:Q", title=title, format=y_format),
        ],
    )  # fmt: skip
    lines = base.mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=2)
    layers: list[alt.Chart] = [lines]
    best = [(run, e) for run, e in (best_epochs or {}).items() if e]
    if best:
        rules = pd.DataFrame({"run": [r for r, _ in best], "epoch": [e for _, e in best]})
        layers.append(
            alt.Chart(rules)
            .mark_rule(color="#2B8A3E", strokeDash=[4, 3], strokeWidth=2)
            .encode(
                x="epoch:Q",
                tooltip=[alt.Tooltip("run:N", title="Run"), alt.Tooltip("epoch:Q", title="Best epoch (weights kept)")],
            )
        )
        layers.append(
            alt.Chart(rules)
            .mark_text(align="left", dx=4, dy=-4, color="#2B8A3E", baseline="top", fontSize=11)
            .encode(x="epoch:Q", y=alt.value(2), text=alt.value("best epoch"))
        )
    return alt.layer(*layers).properties(title=title, height=height)


# ---------------------------------------------------------- output weights
def output_weight_chart(weights: np.ndarray, threshold: float, digit: int, height: int = 240) -> alt.LayerChart:
    """Bars of the weights from each last-hidden unit into ``digit``'s output unit (course slide B2).

    Bars above ``threshold`` are green (the unit's pattern speaks for the
    digit), below ``-threshold`` red (it speaks against it), the rest grey;
    dashed rules mark the two thresholds.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    side = np.where(w > threshold, "for", np.where(w < -threshold, "against", "neither"))
    data = pd.DataFrame({"unit": np.arange(len(w)), "weight": w, "side": side})
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("unit:O", title="Hidden unit (last hidden layer)", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y("weight:Q", title=f"Weight into output {digit}"),
            color=alt.Color(
                "side:N",
                title=None,
                scale=alt.Scale(
                    domain=["for", "against", "neither"],
                    range=[_hex(POSITIVE_COLOR), _hex(NEGATIVE_COLOR), NEUTRAL_BAR],
                ),
                legend=alt.Legend(
                    orient="top", labelExpr=f"datum.label == 'neither' ? 'within ±threshold' : datum.label + ' {digit}'"
                ),
            ),
            tooltip=[alt.Tooltip("unit:O", title="Unit"), alt.Tooltip("weight:Q", format=".3f", title="Weight")],
        )
    )
    rules = (
        alt.Chart(pd.DataFrame({"y": [threshold, -threshold]}))
        .mark_rule(strokeDash=[5, 4], color="#495057")
        .encode(y="y:Q")
    )
    return alt.layer(bars, rules).properties(title=f"Output weights for digit {digit}", height=height)


# ---------------------------------------------------------- confusion matrix
def confusion_chart(confusion: np.ndarray, class_names: Sequence[str] | None = None, size: int = 360) -> alt.LayerChart:
    """The confusion matrix as a heatmap with counts; rows true, columns predicted.

    The diagonal (correct answers) is drawn in its own blue scale, the mistakes
    in orange, so that a few confusions stand out next to hundreds of correct ones.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    names = list(class_names) if class_names is not None else [str(d) for d in range(len(counts))]
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    true_idx, pred_idx = np.indices(counts.shape)
    data = pd.DataFrame(
        {
            "true": [names[i] for i in true_idx.ravel()],
            "predicted": [names[j] for j in pred_idx.ravel()],
            "count": counts.ravel(),
            "share": share.ravel(),
            "correct": (true_idx == pred_idx).ravel(),
        }
    )
    axis_x = alt.X("predicted:N", sort=names, title="Predicted", axis=alt.Axis(orient="top", labelAngle=0))
    axis_y = alt.Y("true:N", sort=names, title="True")
    tooltip = [
        alt.Tooltip("true:N", title="True"),
        alt.Tooltip("predicted:N", title="Predicted"),
        alt.Tooltip("count:Q", title="Images"),
        alt.Tooltip("share:Q", title="Share of the true class", format=".1%"),
    ]
    base = alt.Chart(data).encode(x=axis_x, y=axis_y, tooltip=tooltip)
    right = (
        base.transform_filter("datum.correct")
        .mark_rect()
        .encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), legend=None))
    )
    wrong = (
        base.transform_filter("!datum.correct")
        .mark_rect()
        .encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="oranges", domainMin=0), legend=None))
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.condition("datum.count > 0", alt.Text("count:Q"), alt.value("")),
        color=alt.condition("datum.correct && datum.share > 0.6", alt.value("white"), alt.value("#1F2430")),
    )
    return (
        alt.layer(right, wrong, text)
        .resolve_scale(color="independent")  # two color scales: right answers in blue, mistakes in orange
        .properties(width=size, height=size, title="Confusion matrix (test set)")
    )


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# ------------------------------------------------------- plain vs shifted
def shift_comparison_chart(scores: Sequence[tuple[str, str, float, float]], height: int = 260) -> alt.Chart:
    """Grouped bars: each model's test accuracy on the digits as they are and shifted.

    Parameters
    ----------
    scores : sequence of (preset, kind, plain accuracy, shifted accuracy)
        One per trained model, in the order to draw them; ``kind`` is ``MLP`` or ``CNN``.
    """
    data = []
    for preset, kind, plain, shifted in scores:
        data.append({"Preset": preset, "Kind": kind, "Test set": "as it is", "Accuracy": plain})
        data.append({"Preset": preset, "Kind": kind, "Test set": "shifted", "Accuracy": shifted})
    order = [preset for preset, *_ in scores]
    return (
        alt.Chart(pd.DataFrame(data))
        .mark_bar()
        .encode(
            x=alt.X("Preset:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("Test set:N", sort=["as it is", "shifted"]),
            y=alt.Y("Accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "Test set:N",
                scale=alt.Scale(domain=["as it is", "shifted"], range=[TRAIN_COLOR, VAL_COLOR]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["Preset", "Kind", "Test set", alt.Tooltip("Accuracy:Q", format=".2%")],
        )
        .properties(height=height, title="Test accuracy, digits as they are and shifted")
    )


# ------------------------------------------------------------ a series' runs
def overlay_frame(histories: Mapping[str, Mapping[str, Sequence[float]]], metric: str) -> pd.DataFrame:
    """Long table (preset, epoch, value) of one metric for every run; NaN or infinite points left out."""
    rows = []
    for label, history in histories.items():
        for epoch, value in enumerate(history.get(metric, []), start=1):
            if value is not None and math.isfinite(value):
                rows.append((label, epoch, float(value)))
    return pd.DataFrame(rows, columns=["preset", "epoch", "value"])


def overlay_chart(frame: pd.DataFrame, title: str, percent: bool) -> alt.Chart:
    """Every run's curve of one metric on one chart, one colour each (``overlay_frame`` makes the frame)."""
    axis = alt.Axis(format=".0%" if percent else "")
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False), axis=axis),
            color=alt.Color("preset:N", title="Preset", legend=alt.Legend(orient="right")),
            tooltip=["preset:N", "epoch:Q", alt.Tooltip("value:Q", title=title, format=".2%" if percent else ".4f")],
        )
        .properties(height=340, title=f"{title}, every run of the series")
    )


def ensemble_chart(frame: pd.DataFrame, highlight: str) -> alt.Chart:
    """Horizontal bars of each ``Model``'s ``accuracy``; the ``highlight`` model in green."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("accuracy:Q", title="Test accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%")),
            y=alt.Y("Model:N", sort=None, title=None),
            color=alt.condition(alt.datum.Model == highlight, alt.value("#2B8A3E"), alt.value(NEUTRAL_BAR)),
            tooltip=["Model:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=32 * len(frame))
    )


# ------------------------------------------------------------ one answer
def probability_chart(probs: np.ndarray, answer: int, accent: str, height: int = 200) -> alt.Chart:
    """Bars of the ten class probabilities; the ``answer`` in the ``accent`` colour."""
    data = pd.DataFrame(
        {
            "digit": [str(d) for d in range(len(probs))],
            "probability": np.asarray(probs).astype(float),
            "answer": [d == answer for d in range(len(probs))],
        }
    )
    return (
        alt.Chart(data, title="Probability of each digit")
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0, title=None)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
            color=alt.condition(alt.datum.answer, alt.value(accent), alt.value("#C5CCE0")),
            tooltip=["digit", alt.Tooltip("probability:Q", format=".2%")],
        )
        .properties(height=height)
    )
