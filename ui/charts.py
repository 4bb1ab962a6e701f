"""Charts and images every page can reuse: curves, weight images, output-weight bars, confusion matrix.

No Streamlit here: each function returns an Altair chart or an RGB array that
a page hands to ``st.altair_chart`` / ``st.image``, so the charts can be
tested (and used in a notebook) without a running app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

TRAIN_COLOR = "#4C6EF5"
VAL_COLOR = "#F08C00"
POSITIVE_COLOR = (44, 160, 44)  # green frame: a unit that speaks for the digit (course slide B2)
NEGATIVE_COLOR = (214, 39, 40)  # red frame: a unit that speaks against it
NEUTRAL_BAR = "#ADB5BD"
BACKGROUND = (236, 238, 242)
SPLIT_NAMES = {"": "train", "val_": "validation"}
METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}

# Red-blue diverging scale (ColorBrewer RdBu, reversed): blue < 0 < red, white at exactly 0.
_DIVERGING = np.array(
    [
        (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
        (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
    ],
    dtype=np.float32,
)  # fmt: skip


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


# ------------------------------------------------------------ weight images
def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """Map values to RGB uint8 on the red-blue scale: -limit blue, 0 white, +limit red."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    t = np.clip(v / limit, -1.0, 1.0) if limit > 0 else np.zeros_like(v)
    pos = (t + 1.0) / 2.0 * (len(_DIVERGING) - 1)
    lo = np.floor(pos).astype(np.int64).clip(0, len(_DIVERGING) - 2)
    frac = (pos - lo)[..., None]
    rgb = _DIVERGING[lo] * (1 - frac) + _DIVERGING[lo + 1] * frac
    return rgb.round().astype(np.uint8)


def gray_rgb(images: np.ndarray) -> np.ndarray:
    """Map images in [0, 1] to RGB uint8 with ink dark on white, as digits are drawn on paper."""
    v = np.clip(np.nan_to_num(np.asarray(images, dtype=np.float32)), 0.0, 1.0)
    gray = ((1.0 - v) * 255).round().astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def image_grid(
    images: np.ndarray,
    *,
    columns: int = 10,
    mode: str = "diverging",
    shared_scale: bool = False,
    frames: Mapping[int, tuple[int, int, int]] | None = None,
    labels: Sequence[str] | None = None,
    scale: int = 3,
    pad: int = 3,
) -> np.ndarray:
    """Compose many 28x28 images into one RGB picture, like the course's ``show_imgs``.

    Parameters
    ----------
    images : np.ndarray
        (n, h, w) images: weights (``mode="diverging"``) or pixels in [0, 1] (``mode="gray"``).
    columns : int
        Tiles per row.
    mode : str
        ``diverging``: red-blue scale centered at zero (weights); ``gray``: digits.
    shared_scale : bool
        Diverging mode: one color scale for all tiles (compare strengths) instead
        of each tile scaled to its own largest weight (see each pattern best).
    frames : mapping, optional
        Tile index -> RGB color of a frame drawn around it.
    labels : sequence of str, optional
        A caption under each tile.
    scale : int
        Nearest-neighbour upscaling factor, so pixels stay crisp.
    pad : int
        Pixels between tiles (before upscaling); frames are drawn in this margin.

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8.
    """
    tiles = np.asarray(images, dtype=np.float32)
    if tiles.ndim != 3 or len(tiles) == 0:
        raise ValueError("image_grid needs a non-empty (n, height, width) array.")
    n, h, w = tiles.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    if mode == "diverging":
        if shared_scale:
            rgb = diverging_rgb(tiles, float(np.nanmax(np.abs(np.nan_to_num(tiles)))) or 1.0)
        else:
            limits = np.abs(np.nan_to_num(tiles)).reshape(n, -1).max(axis=1)
            rgb = np.stack([diverging_rgb(t, float(lim) or 1.0) for t, lim in zip(tiles, limits, strict=True)])
    elif mode == "gray":
        rgb = gray_rgb(tiles)
    else:
        raise ValueError("mode must be 'diverging' or 'gray'.")
    cell_h, cell_w = h + 2 * pad, w + 2 * pad
    canvas = np.empty((rows * cell_h, columns * cell_w, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    for i in range(n):
        top, left = (i // columns) * cell_h, (i % columns) * cell_w
        if frames and i in frames:
            edge = pad - max(1, pad - 1)  # the frame fills the margin but one pixel
            canvas[top + edge : top + cell_h - edge, left + edge : left + cell_w - edge] = frames[i]
        canvas[top + pad : top + pad + h, left + pad : left + pad + w] = rgb[i]
    big = np.repeat(np.repeat(canvas, scale, axis=0), scale, axis=1)
    if labels is not None:
        big = _add_labels(big, list(labels), rows, columns, cell_h * scale, cell_w * scale)
    return big


def _add_labels(
    picture: np.ndarray, labels: list[str], rows: int, columns: int, cell_h: int, cell_w: int
) -> np.ndarray:
    """Insert a caption band under each row of tiles."""
    font = ImageFont.load_default(size=12)
    band = 16
    out = Image.new("RGB", (picture.shape[1], rows * (cell_h + band)), BACKGROUND)
    draw = ImageDraw.Draw(out)
    for r in range(rows):
        out.paste(Image.fromarray(picture[r * cell_h : (r + 1) * cell_h]), (0, r * (cell_h + band)))
        for c in range(columns):
            i = r * columns + c
            if i >= len(labels):
                break
            text = labels[i]
            width = draw.textlength(text, font=font)
            where = (c * cell_w + (cell_w - width) / 2, r * (cell_h + band) + cell_h)
            draw.text(where, text, fill=(31, 36, 48), font=font)
    return np.asarray(out)


def upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """Nearest-neighbour upscaling, so a 28x28 digit stays crisp when shown large."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
