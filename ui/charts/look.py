"""How every chart looks: sizes readable at 1280x720 (larger for a projector), colours, natural order.

No Streamlit here: a page picks the look (``use_look``) and every chart builder reads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import altair as alt

TRAIN_COLOR = "#4C6EF5"
VAL_COLOR = "#F08C00"
NEUTRAL_BAR = "#ADB5BD"
SPLIT_NAMES = {"": "train", "val_": "validation"}
METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}
# One colour per line of a series (A has 12 with its ensembles' members): Tableau's ten, then two more
# that none of them resembles. Neighbours in the course's order get far-apart hues.
LINE_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#000000", "#b8860b", "#00008b", "#66c2a5",
)  # fmt: skip
TABLEAU_GREY = LINE_COLORS[7]  # beside a muted run's grey it would look muted too
RUN_DASHES = ([1, 0], [8, 4], [2, 3], [12, 3, 2, 3])  # solid for the first run, then dashed, dotted, dash-dot
RUN_STYLE_WORDS = ("━━━ solid", "╍╍╍ dashed", "┈┈┈ dotted", "━ ┈ dash-dot")  # the same, for a key written in text


# ------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Look:
    """The sizes charts are drawn at: readable at 1280x720, larger still for a projector.

    Attributes
    ----------
    font : int
        Axis and legend labels, numbers inside charts (pixels).
    title_font : int
        Axis and legend titles.
    chart_title_font : int
        The title above a chart.
    plot_height : int
        Height of a line or bar chart's plot (pixels); charts are never drawn lower.
    matrix_size : int
        Side of the confusion matrix.
    stage_plot_height : int
        Height of a curve's plot on the stage (``ui.app.stage``): lower than ``plot_height``, so that the
        curves, the filters, Stop and the progress bar share one 1280x720 screen.
    """

    font: int = 14
    title_font: int = 15
    chart_title_font: int = 17
    plot_height: int = 320
    matrix_size: int = 440
    stage_plot_height: int = 220


NORMAL = Look()
PROJECTOR = Look(font=18, title_font=19, chart_title_font=22, plot_height=420, matrix_size=560, stage_plot_height=220)
_LOOK: ContextVar[Look] = ContextVar("chart_look", default=NORMAL)


def use_look(look: Look) -> None:
    """Draw the charts of this script run (this thread) at ``look``'s sizes (``ui.app.display`` calls it)."""
    _LOOK.set(look)


def current_look() -> Look:
    """The sizes charts are drawn at now: ``NORMAL`` unless a page switched the projector on."""
    return _LOOK.get()


ChartT = TypeVar("ChartT", alt.Chart, alt.LayerChart, alt.FacetChart)


def styled(chart: ChartT, look: Look | None = None) -> ChartT:
    """The chart with every text at ``look``'s sizes (default: ``current_look()``), legends never cut short."""
    look = look or current_look()
    # "fit-x": the chart fills its column's width, and its height is the plot's own (Streamlit's default "fit"
    # would squeeze title, legends and axes into the height too, leaving a third of it for the plot).
    chart = chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    return (
        chart.configure_axis(labelFontSize=look.font, titleFontSize=look.title_font, labelLimit=0)
        .configure_legend(
            labelFontSize=look.font, titleFontSize=look.title_font, labelLimit=0, symbolSize=look.font * 12
        )
        .configure_title(fontSize=look.chart_title_font, subtitleFontSize=look.font, anchor="start")
        .configure_header(labelFontSize=look.font, titleFontSize=look.title_font)
    )


def plot_height(height: int | None, stage: bool = False) -> int:
    """The height to draw a plot at: as asked, but never below the current look's (its stage's, on the stage)."""
    look = current_look()
    return max(height or 0, look.stage_plot_height if stage else look.plot_height)


def natural_key(label: str) -> list[Any]:
    """Sort key that puts ``B2`` before ``B10`` (numbers compared as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]


def natural_order(labels: Sequence[str]) -> list[str]:
    """The distinct labels in natural order: ``B1, B2 ... B10, B11``."""
    return sorted(dict.fromkeys(labels), key=natural_key)
