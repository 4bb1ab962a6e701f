"""Altair charts of one trained network: output-weight bars, confusion matrix, shifted digits, votes, an answer.

No Streamlit here: each function returns an Altair chart that a page hands to
``st.altair_chart``, so the charts can be tested (and used in a notebook)
without a running app. Pictures made of pixels are in ``ui.charts.images``.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from ui.charts.images import NEGATIVE_COLOR, POSITIVE_COLOR
from ui.charts.look import NEUTRAL_BAR, TRAIN_COLOR, VAL_COLOR, current_look, plot_height, styled


# ---------------------------------------------------------- output weights
def output_weight_chart(
    weights: np.ndarray,
    threshold: float,
    digit: int,
    height: int | None = None,
    y_domain: tuple[float, float] | None = None,
) -> alt.LayerChart:
    """Bars of the weights from each last-hidden unit into ``digit``'s output unit (course slide B2).

    Bars above ``threshold`` are green (the unit's pattern speaks for the
    digit), below ``-threshold`` red (it speaks against it), the rest grey;
    dashed rules mark the two thresholds. ``y_domain`` fixes the weight axis (a replay's
    frames keep one scale); default: the weights' own range.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    side = np.where(w > threshold, "for", np.where(w < -threshold, "against", "neither"))
    data = pd.DataFrame({"unit": np.arange(len(w)), "weight": w, "side": side})
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("unit:O", title="Hidden unit (last hidden layer)", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y(
                "weight:Q",
                title=f"Weight into output {digit}",
                scale=alt.Scale(domain=list(y_domain), clamp=True) if y_domain else alt.Undefined,
            ),
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
    chart = alt.layer(bars, rules).properties(title=f"Output weights for digit {digit}", height=plot_height(height))
    return styled(chart)


# ---------------------------------------------------------- confusion matrix
CONFUSION_TITLE = "Confusion matrix, test set"


def confusion_chart(
    confusion: np.ndarray,
    class_names: Sequence[str] | None = None,
    size: int | None = None,
    percent: bool = False,
    title: str = CONFUSION_TITLE,
) -> alt.LayerChart:
    """The confusion matrix as a heatmap; rows true, columns predicted; its numbers say what they count.

    Parameters
    ----------
    confusion : array (classes, classes)
        Test images per (true, predicted) pair.
    class_names : sequence of str, optional
        Row and column labels (default ``0`` ... ``9``).
    size : int, optional
        Side in pixels (default: the current look's).
    percent : bool
        Write each cell as the share of its true class (rows add up to 100%) instead of the count.
    title : str
        The chart's title (default: ``CONFUSION_TITLE``, the test set's).

    The diagonal (correct answers) is drawn in its own blue scale, the mistakes
    in orange, so that a few confusions stand out next to hundreds of correct ones.
    """
    look = current_look()
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
    data["text"] = [
        ("" if c == 0 else f"{s:.0%}" if s >= 0.005 else "<1%") if percent else ("" if c == 0 else f"{c:,}")
        for c, s in zip(data["count"], data["share"], strict=True)
    ]
    axis_x = alt.X("predicted:N", sort=names, title="Predicted", axis=alt.Axis(orient="top", labelAngle=0))
    axis_y = alt.Y("true:N", sort=names, title="True")
    tooltip = [
        alt.Tooltip("true:N", title="True"),
        alt.Tooltip("predicted:N", title="Predicted"),
        alt.Tooltip("count:Q", title="Images", format=","),
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
    text = base.mark_text(fontSize=look.font - (2 if percent else 0)).encode(
        text="text:N",
        color=alt.condition("datum.correct && datum.share > 0.6", alt.value("white"), alt.value("#1F2430")),
    )
    images = "test images" if title == CONFUSION_TITLE else "images"
    what = "Share of each true digit's images (rows add up to 100%)" if percent else f"Number of {images} per cell"
    side = size or look.matrix_size
    chart = (
        alt.layer(right, wrong, text)
        .resolve_scale(color="independent")  # two color scales: right answers in blue, mistakes in orange
        .properties(
            width=side,
            height=side,
            title=alt.Title(title + (": percentages" if percent else ": counts"), subtitle=what),
        )
    )
    return styled(chart, look)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# ------------------------------------------------------- plain vs shifted
def shift_comparison_chart(scores: Sequence[tuple[str, str, float, float]], height: int | None = None) -> alt.Chart:
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
    chart = (
        alt.Chart(pd.DataFrame(data))
        .mark_bar()
        .encode(
            x=alt.X("Preset:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("Test set:N", sort=["as it is", "shifted"]),
            y=alt.Y("Accuracy:Q", title="Test accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "Test set:N",
                scale=alt.Scale(domain=["as it is", "shifted"], range=[TRAIN_COLOR, VAL_COLOR]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["Preset", "Kind", "Test set", alt.Tooltip("Accuracy:Q", format=".2%")],
        )
        .properties(height=plot_height(height), title="Test accuracy, digits as they are and shifted")
    )
    return styled(chart)


def ensemble_chart(frame: pd.DataFrame, highlight: str) -> alt.Chart:
    """Horizontal bars of each ``Model``'s ``accuracy``; the ``highlight`` model in green."""
    look = current_look()
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("accuracy:Q", title="Test accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%")),
            y=alt.Y("Model:N", sort=None, title=None),
            color=alt.condition(alt.datum.Model == highlight, alt.value("#2B8A3E"), alt.value(NEUTRAL_BAR)),
            tooltip=["Model:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=max(look.font * 2 + 8, 36) * len(frame), title="Test accuracy of each model and vote")
    )
    return styled(chart, look)


# ------------------------------------------------------------ one answer
def probability_chart(probs: np.ndarray, answer: int, accent: str, height: int | None = None) -> alt.Chart:
    """Bars of the ten class probabilities; the ``answer`` in the ``accent`` colour."""
    data = pd.DataFrame(
        {
            "digit": [str(d) for d in range(len(probs))],
            "probability": np.asarray(probs).astype(float),
            "answer": [d == answer for d in range(len(probs))],
        }
    )
    chart = (
        alt.Chart(data, title="Probability of each digit")
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0, title=None)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
            color=alt.condition(alt.datum.answer, alt.value(accent), alt.value("#C5CCE0")),
            tooltip=["digit", alt.Tooltip("probability:Q", format=".2%")],
        )
        .properties(height=plot_height(height) if height is None else height)
    )
    return styled(chart)
