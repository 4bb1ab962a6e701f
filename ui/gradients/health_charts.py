"""Charts of a gradient-health record (``RunResult.health``): layer x epoch heatmap, lines, histograms, a table.

No Streamlit here: each function returns an Altair chart or a table that the
Gradients page shows; the numbers come from ``lab.health.readings``.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from lab.health.readings import histogram_frame, layer_frame, layer_names
from lab.nn.result import RunResult
from ui.charts import current_look, curve_chart, curve_row, styled

HEAT_SCHEME = "viridis"
MISSING_COLOR = "#d62728"  # a NaN or infinite norm: the run blew up here
METRICS = {  # recorded number -> (its name, whether a log scale shows it)
    "grad_norm": ("Gradient norm", True),
    "update_ratio": ("Update / weight ratio (per epoch)", True),
    "weight_norm": ("Weight norm", True),
    "act_std": ("Activation standard deviation", False),
    "saturated": ("Saturated share (sigmoid, tanh)", False),
    "dead": ("Dead ReLU units share", False),
}
SHARES = {"saturated", "dead"}  # fractions of units: drawn in percent


def heatmap(result: RunResult, domain: tuple[float, float] | None, title: str) -> alt.LayerChart:
    """Layer x epoch gradient norms on a log color scale; NaN or infinite cells in red with a cross."""
    frame = layer_frame(result.health)
    order = layer_names(result.health)
    frame["epoch"] = frame["epoch"].astype(int)
    frame["missing"] = ~frame["grad_norm"].apply(lambda v: math.isfinite(v) and v > 0)
    frame["text"] = frame["grad_norm"].apply(lambda v: f"{v:.2g}" if math.isfinite(v) else "NaN")
    scale = alt.Scale(type="log", scheme=HEAT_SCHEME)
    if domain is not None:
        scale = alt.Scale(type="log", scheme=HEAT_SCHEME, domain=list(domain))
    look = current_look()
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:O", title="Epoch (0 = before training)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("layer:N", sort=order, title=None),
        tooltip=["layer", "epoch", alt.Tooltip("grad_norm:Q", format=".3g", title="gradient norm")],
    )
    cells = (
        base.transform_filter("datum.missing == false")
        .mark_rect()
        .encode(color=alt.Color("grad_norm:Q", scale=scale, title="Gradient norm", legend=alt.Legend(format=".0e")))
    )
    missing = base.transform_filter("datum.missing == true").mark_rect(color=MISSING_COLOR)
    marks = base.transform_filter("datum.missing == true").mark_text(
        text="✕ NaN", color="white", fontWeight="bold", fontSize=look.font
    )
    heading = alt.Title(title, subtitle="per layer (rows) and epoch (columns)")
    height = max(look.plot_height, 48 * len(order))
    chart = alt.layer(cells, missing, marks).properties(title=heading, width="container", height=height)
    return styled(chart, look)


def lines(result: RunResult, metric: str, domain: tuple[float, float] | None, title: str) -> alt.LayerChart:
    """One line per layer over epochs (``charts.curve_chart``): log scale for norms and ratios, shares in percent."""
    label, log = METRICS[metric]
    frame = layer_frame(result.health)
    rows = [
        curve_row(layer, label, epoch, value)
        for layer, epoch, value in zip(frame["layer"], frame["epoch"], frame[metric], strict=True)
    ]
    return curve_chart(
        rows,
        title=title,
        subtitle=f"{label}, one line per layer",
        y_title=label,
        y_scale="log" if log else "percent" if metric in SHARES else "linear",
        y_domain=domain,
        runs=layer_names(result.health),
        run_title="Layer",
    )


def histograms(result: RunResult, epoch: int, title: str) -> list[alt.Chart]:
    """Share of outputs per fixed bin: one chart per hidden layer (input side first), each as wide as its column.

    One plain chart each rather than a faceted one: a facet cannot fill its container, and Streamlit drew
    it 0 px wide. Empty when the network has no hidden layer.
    """
    frame = histogram_frame(result.health, epoch)
    if frame.empty:
        return []
    order = [name for name in layer_names(result.health) if name in set(frame["layer"])]
    look = current_look()
    charts = []
    for layer in order:
        chart = (
            alt.Chart(frame[frame["layer"] == layer])
            .mark_bar()
            .encode(
                x=alt.X("bin_start:Q", bin="binned", title="Activation (the layer's output)"),
                x2="bin_end:Q",
                y=alt.Y("share:Q", title="Share", axis=alt.Axis(format="%", tickCount=3)),
                tooltip=[
                    alt.Tooltip("bin_start:Q", format=".3g", title="from"),
                    alt.Tooltip("bin_end:Q", format=".3g", title="to"),
                    alt.Tooltip("share:Q", format=".1%", title="share of outputs"),
                ],
            )
            .properties(title=f"{title}: {layer}", width="container", height=max(160, look.plot_height // 2))
        )
        charts.append(styled(chart, look))
    return charts


def stats_table(result: RunResult, epoch: int) -> pd.DataFrame:
    """One row per layer at ``epoch``: gradient, weights, update ratio and activation statistics."""
    frame = layer_frame(result.health)
    index_epochs = sorted(set(frame["epoch"]))
    shown = max([e for e in index_epochs if e <= epoch], default=None)
    rows = frame[frame["epoch"] == shown]

    def fmt(value: float, pattern: str) -> str:
        return "–" if value is None or not math.isfinite(value) else format(value, pattern)

    return pd.DataFrame(
        {
            "Layer": rows["layer"],
            "Gradient norm": [fmt(v, ".3g") for v in rows["grad_norm"]],
            "Update / weight": [fmt(v, ".2g") for v in rows["update_ratio"]],
            "Activation mean": [fmt(v, ".3f") for v in rows["act_mean"]],
            "Activation std": [fmt(v, ".3f") for v in rows["act_std"]],
            "Saturated": [fmt(v, ".1%") for v in rows["saturated"]],
            "Dead units": [fmt(v, ".1%") for v in rows["dead"]],
        }
    ).reset_index(drop=True)


def linear_range(results: list[RunResult], metric: str) -> tuple[float, float] | None:
    """From 0 to the largest value of ``metric`` over the runs: one linear scale for all."""
    values = pd.concat([layer_frame(r.health)[metric] for r in results]).dropna()
    return (0.0, float(values.max()) or 1.0) if not values.empty else None
