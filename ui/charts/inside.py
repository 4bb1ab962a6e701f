"""The network's inside at one moment of its training, drawn from a snapshot (``lab.nn.snapshots``).

Pure functions: each takes a ``Snapshot`` (and, for a replay, what keeps frames comparable)
and returns an RGB picture (``np.ndarray`` for ``st.image``) or an Altair chart (for
``st.altair_chart``). No Streamlit here, so every view is tested without a running app, and
the same functions draw a live training's newest snapshot and any frame of a replay.

- :func:`filters_picture`: the first layer's filters as 28x28 tiles (an MLP), or the first
  convolution's kernels (a CNN);
- :func:`feature_map_pictures`: one fixed digit's feature maps, per convolution (a CNN);
- :func:`output_weights_chart`: the output weights into one digit (the Train page's bar chart);
- :func:`confusion_chart`: the validation confusion matrix;
- :func:`unit_health_chart`: each hidden layer's share of dead (ReLU) and saturated (sigmoid,
  tanh) units;
- :func:`map_chart`: the last hidden layer's 2-D map of the map digits, coloured by digit, each
  point's digit in its tooltip, on one axis range for a whole film (``Film.map_domain()``), and
  optionally a new drawing placed on it (``Film.place``);
- :class:`LiveSpecs`: the map, confusion matrix and output weights of a live training as Vega-Lite
  specs built once, each redraw only the newest snapshot's rows put in (for ``st.vega_lite_chart``).

For a replay, pass the film-wide scales (:func:`film_weight_domain`, ``film.map_domain()``) so
that frames differ only where the network changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from lab.nn.snapshots import Film, Placement, Snapshot
from ui.charts import figures, images
from ui.charts.look import TABLEAU_GREY, current_look, plot_height, styled

DIGIT_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#000000",
)  # fmt: skip - Tableau's ten, but 7 in teal and 9 in black: grey would read as "muted"
DEAD_COLOR = "#495057"
SATURATED_COLOR = "#F08C00"
PLACED_COLOR = "#e03131"
MAP_SUBTITLE = "Validation digits where the last hidden layer puts them"


def _side() -> int:
    """A square view's side in pixels at the current look (the confusion matrix's)."""
    return current_look().matrix_size


# ---------------------------------------------------------------- pictures
def filters_picture(snapshot: Snapshot, *, columns: int = 8, shared_scale: bool = False) -> np.ndarray:
    """The first layer's filters at this moment: 28x28 tiles on the red-blue scale, or a CNN's kernels.

    Parameters
    ----------
    snapshot : Snapshot
        One moment of a training.
    columns : int
        Tiles per row (an MLP's filters; kernels use ``images.grid_columns``).
    shared_scale : bool
        One colour scale for all tiles (compare strengths) instead of each tile's own (see each pattern).
        Kernels always share one.

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8.
    """
    if snapshot.kernels is not None:
        return images.kernel_grid(np.asarray(snapshot.kernels, dtype=np.float32))
    if snapshot.filters is None:
        raise ValueError("This snapshot holds neither filters nor kernels.")
    tiles = np.asarray(snapshot.filters, dtype=np.float32).reshape(-1, 28, 28)
    return images.image_grid(tiles, columns=columns, mode="diverging", shared_scale=shared_scale, scale=2, pad=1)


def filter_units_caption(snapshot: Snapshot) -> str:
    """Which units the filter picture shows, in words."""
    setup = snapshot.setup
    if setup.kind == "conv":
        return f"The {len(setup.filter_units)} kernels of {setup.filter_layer}: red raises the output, blue lowers it."
    units = setup.filter_units
    total = int(units[-1]) + 1 if len(units) else 0
    if setup.filter_layer == "output":
        return "No hidden layer: each output unit's 784 weights, one template per digit."
    if len(units) == total:
        return f"All {total} units of {setup.filter_layer}, row by row."
    return f"{len(units)} of the {total} units of {setup.filter_layer}, evenly spaced, row by row."


def feature_map_pictures(snapshot: Snapshot, shared_scale: bool = False) -> list[tuple[str, np.ndarray]]:
    """(layer name, picture) for each convolution: its feature maps for the film's one fixed digit.

    Empty for an MLP. The digit itself is ``snapshot.setup.feature_digit`` (``images.digit_picture``).
    """
    return [
        (name, images.feature_map_grid(np.asarray(maps, dtype=np.float32), shared_scale))
        for name, maps in zip(snapshot.setup.feature_layers, snapshot.feature_maps, strict=True)
    ]


# ---------------------------------------------------------------- charts
def film_weight_domain(film: Film | Sequence[Snapshot]) -> tuple[float, float]:
    """A symmetric output-weight range holding every frame's weights: the bars grow, the axis stays."""
    shots = film.snapshots if isinstance(film, Film) else film
    peak = max((float(np.nanmax(np.abs(np.asarray(s.output_weights, np.float32)))) for s in shots), default=1.0)
    peak = peak if np.isfinite(peak) and peak > 0 else 1.0
    return -peak, peak


def output_weights_chart(
    snapshot: Snapshot,
    digit: int = 5,
    threshold: float | None = None,
    y_domain: tuple[float, float] | None = None,
    height: int | None = None,
) -> alt.LayerChart:
    """The weights from each last-hidden unit into ``digit``'s output at this moment (the Train page's chart).

    ``threshold`` frames units for (green) and against (red) the digit; default: 60% of the
    largest weight's size. ``y_domain``: one axis for a whole film (:func:`film_weight_domain`).
    """
    weights = np.nan_to_num(np.asarray(snapshot.output_weights, dtype=np.float32)[:, digit])
    if threshold is None:
        threshold = round(0.6 * float(np.max(np.abs(weights))) if weights.size else 0.0, 3)
    return figures.output_weight_chart(weights, threshold, digit, height=height, y_domain=y_domain)


def confusion_chart(snapshot: Snapshot, class_names: Sequence[str] | None = None, size: int | None = None):
    """The validation confusion matrix at this moment (the diagonal blue, mistakes orange)."""
    title = f"Validation, {snapshot.label}"
    return figures.confusion_chart(snapshot.confusion, class_names, size=size, title=title)


def unit_health_rows(snapshot: Snapshot) -> pd.DataFrame:
    """One row per hidden layer and measure that applies: ``layer``, ``measure``, ``share`` (NaNs left out)."""
    rows = []
    setup = snapshot.setup
    for i, (layer, activation) in enumerate(zip(setup.layers, setup.activations, strict=True)):
        for measure, values in (("dead", snapshot.dead), ("saturated", snapshot.saturated)):
            value = float(values[i])
            if np.isfinite(value):
                rows.append({"layer": layer, "activation": activation, "measure": measure, "share": value})
    return pd.DataFrame(rows, columns=["layer", "activation", "measure", "share"])


def unit_health_chart(snapshot: Snapshot, height: int | None = None) -> alt.Chart:
    """Each hidden layer's share of dead units (ReLU) and saturated outputs (sigmoid, tanh), 0-100% always.

    A layer whose activation has neither (ELU, softplus ...) gets no bar; the subtitle says so.
    """
    data = unit_health_rows(snapshot)
    layers = list(snapshot.setup.layers)
    missing = [layer for layer in layers if layer not in set(data["layer"])]
    subtitle = ["Dead: ReLU units that never fire on the map's digits", "Saturated: outputs near an asymptote"]
    if missing:
        subtitle.append(f"(none measured for {', '.join(missing)}: neither applies to its activation)")
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("layer:N", sort=layers, title=None, scale=alt.Scale(domain=layers), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("measure:N", scale=alt.Scale(domain=["dead", "saturated"])),
            y=alt.Y("share:Q", title="Share", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(domain=["dead", "saturated"], range=[DEAD_COLOR, SATURATED_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("layer:N", title="Layer"),
                alt.Tooltip("activation:N", title="Activation"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .properties(
            title=alt.Title(f"Dead and saturated units, {snapshot.label}", subtitle=subtitle),
            height=plot_height(height),
        )
    )
    return styled(chart)


def map_rows(snapshot: Snapshot, class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The map's points: ``x``, ``y``, ``digit`` (its name) and ``index`` (its row in the validation set)."""
    if snapshot.map_xy is None:
        raise ValueError("This network has no hidden layer, so it has no hidden-layer map.")
    names = list(class_names) if class_names is not None else [str(d) for d in range(10)]
    xy = np.asarray(snapshot.map_xy, dtype=np.float32)
    labels = snapshot.setup.map_labels
    return pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "digit": [names[int(d)] for d in labels],
            "index": snapshot.setup.map_index,
        }
    ).dropna(subset=["x", "y"])


def map_chart(
    snapshot: Snapshot,
    domain: tuple[float, float] | None = None,
    class_names: Sequence[str] | None = None,
    placed: Placement | None = None,
    size: int | None = None,
    explained: bool = True,
) -> alt.LayerChart:
    """The last hidden layer's map: each map digit a dot coloured by its digit, its digit in the tooltip.

    Parameters
    ----------
    snapshot : Snapshot
        One moment of a training (with a hidden layer).
    domain : (float, float), optional
        Both axes' range: pass ``film.map_domain()`` for a replay, so points move and the axes stay.
        Default: this frame's own (``lab.nn.snapshots.map_domain``).
    class_names : sequence of str, optional
        The ten digits' names (Fashion-MNIST's clothes).
    placed : Placement, optional
        A new image placed on the map (``Film.place``): drawn as a large red cross, the digit
        most of its neighbours are in the subtitle.
    size : int, optional
        Side in pixels (default: the current look's matrix size).
    explained : bool
        Say what a dot is in the subtitle (off where the chart is narrower than that line: the stage's views,
        which say it in a caption).
    """
    from lab.nn.snapshots import map_domain

    data = map_rows(snapshot, class_names)
    names = list(class_names) if class_names is not None else [str(d) for d in range(10)]
    low, high = domain or map_domain([snapshot])
    axis = alt.Axis(labels=False, ticks=False, grid=False, title=None)
    scale = alt.Scale(domain=[low, high], clamp=True, nice=False)
    side = size or _side()
    dots = (
        alt.Chart(data)
        .mark_circle(size=max(36, side // 10), opacity=0.8)
        .encode(
            x=alt.X("x:Q", scale=scale, axis=axis),
            y=alt.Y("y:Q", scale=scale, axis=axis),
            color=alt.Color(
                "digit:N",
                title="Digit",
                scale=alt.Scale(domain=names, range=list(DIGIT_COLORS)),
                sort=names,
            ),
            tooltip=[alt.Tooltip("digit:N", title="Digit"), alt.Tooltip("index:Q", title="Validation image")],
        )
    )
    layers: list[alt.Chart] = [dots]
    subtitle = MAP_SUBTITLE if explained else None
    if placed is not None:
        point = pd.DataFrame({"x": [float(placed.xy[0])], "y": [float(placed.xy[1])], "what": ["your drawing"]})
        layers.append(
            alt.Chart(point)
            .mark_point(shape="cross", size=side * 2, filled=True, color=PLACED_COLOR, stroke=TABLEAU_GREY)
            .encode(x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale), tooltip=["what:N"])
        )
        subtitle = f"Your drawing (red cross) lands among the {names[placed.among]}s"
    chart = alt.layer(*layers).properties(
        width=side,
        height=side,
        title=alt.Title(f"Hidden-layer map, {snapshot.label}", subtitle=subtitle)
        if subtitle
        else f"Hidden-layer map, {snapshot.label}",
    )
    return styled(chart)


# ------------------------------------------------------------------ live
class LiveSpecs:
    """A live training's map, confusion matrix and output weights as Vega-Lite specs, cheap to redraw.

    Each view's spec is built with Altair once (:func:`map_chart`, :func:`confusion_chart`'s
    builder, :func:`output_weights_chart`: the encodings, scales, tooltips, colours and the current
    look), from the first snapshot it is asked for; every later snapshot only puts its own rows, title
    and (the map's) axis range into a copy of that template. What a redraw shows is what the Altair
    builder would draw from the same snapshot (``tests/test_inside_charts.py`` compares the two);
    building and serialising the Altair charts anew took most of a redraw's time, and its Python
    work held the GIL the training needs.

    Parameters
    ----------
    class_names : sequence of str
        The ten digits' names (the map's and the confusion matrix's).
    side : int
        The map's and the confusion matrix's side in pixels.
    digit : int
        The output weights' digit.
    """

    def __init__(self, class_names: Sequence[str], side: int, digit: int = 5) -> None:
        self.names = list(class_names)
        self.side = side
        self.digit = digit
        self._templates: dict[tuple[str, object], tuple[dict, dict[str, str]]] = {}

    def map(self, snapshot: Snapshot, domain: tuple[float, float] | None = None) -> dict:
        """The hidden-layer map (its subtitle left to a caption, as on the stage): ``map_chart``'s spec."""
        from lab.nn.snapshots import map_domain

        spec, names = self._template(
            "map", snapshot, lambda: map_chart(snapshot, domain, self.names, size=self.side, explained=False)
        )
        low, high = domain or map_domain([snapshot])
        layer = dict(spec["layer"][0])
        encoding = dict(layer["encoding"])
        for axis in ("x", "y"):
            encoding[axis] = {**encoding[axis], "scale": {**encoding[axis]["scale"], "domain": [low, high]}}
        layer["encoding"] = encoding
        return {
            **spec,
            "layer": [layer],
            "title": f"Hidden-layer map, {snapshot.label}",
            "datasets": {names["x"]: map_values(snapshot, self.names)},
        }

    def confusion(self, snapshot: Snapshot) -> dict:
        """The validation confusion matrix, counted: ``figures.confusion_chart``'s spec."""
        spec, names = self._template(
            "confusion",
            snapshot,
            lambda: figures.confusion_chart(
                snapshot.confusion, self.names, size=self.side, title=f"Validation, {snapshot.label}"
            ),
        )
        title = {**spec["title"], "text": f"Validation, {snapshot.label}: counts"}
        return {**spec, "title": title, "datasets": {names["true"]: confusion_values(snapshot.confusion, self.names)}}

    def output_weights(self, snapshot: Snapshot) -> dict:
        """The output weights into ``digit``, framed at 60% of the largest: ``output_weights_chart``'s spec."""
        spec, names = self._template("weights", snapshot, lambda: output_weights_chart(snapshot, self.digit))
        bars, threshold = output_weight_values(snapshot, self.digit)
        rules = [{"y": threshold}, {"y": -threshold}]
        return {**spec, "datasets": {names["unit"]: bars, names["y"]: rules}}

    def _template(self, view: str, snapshot: Snapshot, build) -> tuple[dict, dict[str, str]]:
        """(spec, {a column: the name of the data set holding it}) of ``view``, built once per look and network."""
        key = (view, current_look(), len(snapshot.output_weights))
        if key not in self._templates:
            spec = build().to_dict(validate=False)
            columns = {column: name for name, rows in spec["datasets"].items() if rows for column in rows[0]}
            self._templates[key] = (spec, columns)
        return self._templates[key]


def map_values(snapshot: Snapshot, class_names: Sequence[str]) -> list[dict]:
    """:func:`map_rows` as the plain rows a Vega-Lite spec holds (no pandas): ``x``, ``y``, ``digit``, ``index``."""
    if snapshot.map_xy is None:
        raise ValueError("This network has no hidden layer, so it has no hidden-layer map.")
    xy = np.asarray(snapshot.map_xy, dtype=np.float32).astype(np.float64)
    keep = ~np.isnan(xy).any(axis=1)
    labels = snapshot.setup.map_labels[keep].tolist()
    index = np.asarray(snapshot.setup.map_index)[keep].tolist()
    return [
        {"x": x, "y": y, "digit": class_names[int(d)], "index": i}
        for (x, y), d, i in zip(xy[keep].tolist(), labels, index, strict=True)
    ]


def confusion_values(confusion: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    """``figures.confusion_chart``'s rows (counted) as plain dicts: true, predicted, count, share, correct, text."""
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0).tolist()
    return [
        {
            "true": class_names[i],
            "predicted": class_names[j],
            "count": c,
            "share": share[i][j],
            "correct": i == j,
            "text": "" if c == 0 else f"{c:,}",
        }
        for i, row in enumerate(counts.tolist())
        for j, c in enumerate(row)
    ]


def output_weight_values(snapshot: Snapshot, digit: int) -> tuple[list[dict], float]:
    """The output weights' bars as plain rows (``unit``, ``weight``, ``side``) and the threshold framing them."""
    weights = np.nan_to_num(np.asarray(snapshot.output_weights, dtype=np.float32)[:, digit])
    threshold = round(0.6 * float(np.max(np.abs(weights))) if weights.size else 0.0, 3)
    w = weights.astype(np.float64).tolist()
    side = ["for" if v > threshold else "against" if v < -threshold else "neither" for v in w]
    return [{"unit": u, "weight": v, "side": s} for u, (v, s) in enumerate(zip(w, side, strict=True))], threshold
