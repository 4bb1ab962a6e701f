"""The one curve-chart builder: every curve over epochs, live and final, for one run or a dozen.

``curve_chart`` takes plain rows (run, split, epoch, value) and draws them with the
same axes whoever calls it (the Train and CNN pages' live and final curves, a
series' runs, Tune's trials, the Gradients page's layers): epochs from 0, a loss
from 0 so that a stall draws flat, accuracy on 0-100%.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import altair as alt
import pandas as pd

from lab.architecture import CHANCE_ACCURACY, CHANCE_LOSS
from ui.charts.look import (
    LINE_COLORS,
    METRIC_TITLES,
    RUN_DASHES,
    SPLIT_NAMES,
    TABLEAU_GREY,
    TRAIN_COLOR,
    VAL_COLOR,
    Look,
    current_look,
    natural_order,
    plot_height,
    styled,
)

# ------------------------------------------------------------------ curves
# The one builder of every curve over epochs (``curve_chart``): the Train and CNN pages' curves, live while a run
# trains and final after it, a series' runs on the Techniques page, Tune's trials, the Gradients page's layers.
# Its rows are plain dicts (``curve_row``), so the live chart can swap new rows into a spec built once.
CURVE_COLUMNS = ("run", "split", "epoch", "value", "broke")
YScale = Literal["linear", "log", "percent"]
MUTED_COLOR = "#9a9a9a"  # a run drawn as not counting (a trial stopped early): dark enough for a projector
MUTED_DASH = [4, 3]
LEGEND_MAX = len(LINE_COLORS)  # more runs than colours: no legend (the tooltip names each line)
LEGEND_WIDTH = 400  # pixels a legend under a chart may fill: half a 1280-pixel page, the narrowest a curve is drawn
BEST_EPOCH_COLOR = "#2B8A3E"
CHANCE_COLOR = "#495057"
MOMENT_COLOR = "#7048E8"  # the moment a replay shows: a colour no curve, rule or chance line has
BROKE_COLOR = "#C92A2A"  # where a value became NaN or infinite: the run blew up there
# Axis numbers as people write them: 400, 2.5, 1,000 (never "4e+2"). Vega sets a linear axis' precision from its
# tick step, which for "g" means significant digits (300 became "3e+2"); for "f" it means decimals. A log axis keeps
# "g": its ticks span orders of magnitude (1e-7 ... 1), which decimals would round to 0.
VALUE_FORMAT = ",~f"
LOG_FORMAT = "~g"


def curve_row(run: str, split: str, epoch: float, value: float | None) -> dict[str, Any]:
    """One point of a curve: a missing, NaN or infinite value (a diverged run) is None, a gap in the line.

    ``broke`` names a NaN or infinite value ("NaN", "∞"), so the chart can mark where the run blew up.
    """
    number = math.nan if value is None else float(value)
    finite = math.isfinite(number)
    broke = "" if finite or value is None else "NaN" if math.isnan(number) else "∞"
    return {"run": run, "split": split, "epoch": float(epoch), "value": number if finite else None, "broke": broke}


def history_rows(
    run: str, history: Mapping[str, Sequence[float]], metric: str, points: Mapping[str, Sequence[float]] | None = None
) -> list[dict[str, Any]]:
    """``run``'s training then validation rows of ``metric`` from a Keras history (epochs from 1).

    ``points`` (``EpochReport.points`` or ``RunResult.points``: ``epoch`` from 0, fractions included, and
    ``loss`` / ``accuracy``) replaces the per-epoch training values: the curve from the untrained network on,
    live and stored. A run stored before its points were kept has none, and is drawn from its history.
    """
    if points is not None and (points.get("epoch") or not history.get(metric)):
        pairs = zip(points.get("epoch", []), points.get(metric, []), strict=False)
        train = [curve_row(run, "train", epoch, value) for epoch, value in pairs]
    else:
        train = [curve_row(run, "train", i, v) for i, v in enumerate(history.get(metric, []) or [], start=1)]
    val = [curve_row(run, "validation", i, v) for i, v in enumerate(history.get("val_" + metric, []) or [], start=1)]
    return train + val


def curve_chart(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    y_title: str,
    y_scale: YScale = "linear",
    subtitle: str | None = None,
    y_domain: Sequence[float] | None = None,
    epochs: int | None = None,
    runs: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    run_title: str | None = None,
    muted: Collection[str] = (),
    best_epochs: Mapping[str, int | None] | None = None,
    height: int | None = None,
    chance: tuple[float, str] | None = None,
    stage: bool = False,
    moment: float | None = None,
) -> alt.LayerChart:
    """Curves over epochs, one line per run and split: the one builder of every such chart.

    Parameters
    ----------
    rows : sequence of mapping
        ``curve_row`` dicts: ``run`` (the line's label), ``split`` (``train``, ``validation``, or any one
        name), ``epoch`` (0 = the untrained network; fractions allowed) and ``value`` (None: a gap).
    title, subtitle : str
        Above the chart: a short title that fits half a 1280-pixel page, what the lines are under it.
    y_title : str
        The y axis' title.
    y_scale : {"linear", "log", "percent"}
        ``linear`` starts at 0, so that a stalled loss looks flat rather than a zoomed-in wiggle; ``log``
        spans orders of magnitude (points at or below 0 are left out); ``percent`` spans 0 to 1, as percents.
    y_domain : (low, high), optional
        Fixes the y axis (charts drawn side by side share one).
    epochs : int, optional
        The x axis runs from 0 to this many epochs (a live curve grows into its final frame); by default to
        the last epoch in ``rows``.
    runs, splits : sequence of str, optional
        The runs and the splits in legend order (default: in the order of ``rows``). Name them where the
        rows may not hold them all yet: a live chart's spec is built before its first row.
    run_title : str, optional
        The legend's title for the runs.
    muted : collection of str
        Runs drawn grey and dashed (trials stopped early); only where the runs are told apart by colour.
    best_epochs : mapping, optional
        Run -> the epoch whose weights early stopping kept: a vertical rule.
    height : int, optional
        Plot height in pixels; never below the current look's (``plot_height``).
    chance : (value, name), optional
        The value of guessing and its name (``chance_line``: a loss of ln 10, 10% accuracy): a grey dashed
        line named on the chart, so that a curve stuck there reads as stuck, whatever the axis.
    stage : bool
        Drawn on the stage (``ui.app.stage``): the plot at the look's ``stage_plot_height``.
    moment : float, optional
        An epoch marked by a vertical rule: the moment a replay shows.

    Returns
    -------
    alt.LayerChart
        Lines, their dots, the best-epoch rules, the chance line and a red rule where a value became NaN or
        infinite (a diverged run), as wide as its container. With several splits (train
        and validation) colour tells the splits apart and the line style (solid, dashed ...) the runs; with
        one split each run has its own colour and line style, in one legend (up to ``LEGEND_MAX`` runs).
    """
    look = current_look()
    frame = pd.DataFrame(list(rows), columns=list(CURVE_COLUMNS))
    if y_scale == "log":
        frame = frame[frame["value"].isna() | (frame["value"] > 0)]
    runs = list(runs) if runs is not None else list(dict.fromkeys(frame["run"]))
    splits = list(splits) if splits is not None else list(dict.fromkeys(frame["split"]))
    style = _split_style(runs, splits, look, stage) if len(splits) > 1 else _run_style(runs, run_title, muted, look)
    # On the stage (a third of the page wide) the chart's title names the axis, and the plot keeps the width.
    y = _value_y(y_title, y_scale, y_domain, titled=not stage)
    base = alt.Chart(frame).encode(
        x=_epoch_x(frame, epochs),
        y=y,
        tooltip=_curve_tooltip(run_title or "Run", y_title, y_scale, several_splits=len(splits) > 1),
        **style,
    )
    lines = base.mark_line(strokeWidth=2.5)
    # The dots in a layer of their own: a line's own point overlay would turn every legend symbol into a dot,
    # and the legend could no longer show which run is solid and which dashed.
    dots = base.mark_point(size=30, filled=True).encode(strokeDash=alt.StrokeDash("run:N", legend=None))
    layers = [lines, dots, *_best_epoch_layers(best_epochs, look), *_broke_layers(frame, look)]
    if chance is not None:
        layers += _chance_layers(*chance, look)
    if moment is not None:
        last = epochs if epochs else (frame["epoch"].max() if not frame.empty else 1)
        middle = plot_height(height, stage=stage) * 0.45  # clear of the chance line's label at the top
        layers += _moment_layers(moment, look, left=moment > 0.6 * float(last), y=middle)
    chart = alt.layer(*layers).properties(
        title=alt.Title(title, subtitle=subtitle) if subtitle else title,
        width="container",
        height=plot_height(height, stage=stage),
    )
    return styled(chart, look)


def _epoch_x(frame: pd.DataFrame, epochs: int | None) -> alt.X:
    """Epochs from 0, where the untrained network's point is, to ``epochs`` (default: the data's last)."""
    last = epochs if epochs else (frame["epoch"].max() if not frame.empty else 1)
    scale = alt.Scale(domain=[0, max(float(last), 1.0)], nice=False)
    return alt.X("epoch:Q", title="Epoch", scale=scale, axis=alt.Axis(tickMinStep=1, format="d"))


def _value_y(y_title: str, y_scale: YScale, y_domain: Sequence[float] | None, titled: bool = True) -> alt.Y:
    """The value axis by ``curve_chart``'s rules: linear from 0, log, or 0 to 100%; untitled unless ``titled``."""
    if y_scale == "log":
        scale = alt.Scale(type="log", domain=list(y_domain)) if y_domain else alt.Scale(type="log")
    elif y_scale == "percent":
        scale = alt.Scale(domain=list(y_domain) if y_domain else [0, 1])
    else:
        scale = alt.Scale(domain=list(y_domain)) if y_domain else alt.Scale(zero=True)
    axis = alt.Axis(format={"percent": ".0%", "log": LOG_FORMAT}.get(y_scale, VALUE_FORMAT))
    title = y_title + (" (log scale)" if y_scale == "log" else "") if titled else None
    return alt.Y("value:Q", title=title, scale=scale, axis=axis)


def chance_line(metric: str, output: str = "softmax_ce") -> tuple[float, str]:
    """The value of guessing "1 in 10" for ``metric`` (``loss`` or ``accuracy``) and its name on a chart."""
    if metric.removeprefix("val_") == "accuracy":
        return CHANCE_ACCURACY, f"chance: {CHANCE_ACCURACY:.0%}"
    value = CHANCE_LOSS[output]
    return value, f"chance: ln 10 = {value:.3f}" if output == "softmax_ce" else f"chance: {value:.2f}"


def _chance_layers(chance: float, label: str, look: Look) -> list[alt.Chart]:
    """A grey dashed line at the value of guessing, named on the chart: a stall on it reads as a stall.

    Drawn from a one-row generator rather than a table of its own, so that the chart keeps one data set (the
    live chart swaps new rows into it).
    """
    line = alt.Chart(alt.sequence(0, 1, as_="one"))
    rule = line.mark_rule(color=CHANCE_COLOR, strokeDash=[6, 4], strokeWidth=2).encode(y=alt.datum(chance))
    # At the right end: where a curve that learns has left the chance level (a loss far below, accuracy far above).
    text = line.mark_text(align="right", baseline="bottom", dx=-4, dy=-3, color=CHANCE_COLOR, fontSize=look.font)
    return [rule, text.encode(y=alt.datum(chance), x=alt.value("width"), text=alt.value(label))]


def _moment_layers(moment: float, look: Look, left: bool = False, y: float = 0.0) -> list[alt.Chart]:
    """A dark vertical rule at the epoch a replay shows, with its epoch written beside it ``y`` pixels down
    (``left`` of it near the right end, so that it stays inside the plot).

    From a one-row generator, so that the chart keeps one data set (as the chance line).
    """
    one = alt.Chart(alt.sequence(0, 1, as_="one"))
    rule = one.mark_rule(color=MOMENT_COLOR, strokeWidth=2).encode(x=alt.datum(moment))
    text = one.mark_text(
        align="right" if left else "left", baseline="top", dx=-4 if left else 4, dy=2, color=MOMENT_COLOR,
        fontSize=look.font,
    )  # fmt: skip
    return [rule, text.encode(x=alt.datum(moment), y=alt.value(y), text=alt.value(moment_label(moment)))]


def moment_label(moment: float) -> str:
    """What the replay's rule says: ``epoch 3``, ``epoch 0.25`` (a step within epoch 1), or ``untrained``."""
    return f"epoch {moment:g}" if moment else "untrained"


def moved_moment(spec: dict[str, Any], moment: float) -> dict[str, Any]:
    """A ``curves_chart`` spec drawn with a ``moment``, that moment moved to ``moment``: what ``curves_chart``
    draws there from the same curves, without building the chart again.

    A replay moves the moment on every frame, and building a curves chart with Altair takes about 0.15 s
    (``tests/test_curves_chart.py`` compares the two for every moment of a run). The rule and its label are
    the two layers drawn in ``MOMENT_COLOR``; the label turns to the rule's left past 60% of the epochs.
    """
    last = spec["layer"][0]["encoding"]["x"]["scale"]["domain"][1]  # the epochs (curves_chart's x domain)
    left = moment > 0.6 * float(last)
    layers = []
    for layer in spec["layer"]:
        mark = layer.get("mark")
        if isinstance(mark, dict) and mark.get("color") == MOMENT_COLOR:
            encoding = {**layer["encoding"], "x": {"datum": moment}}
            if mark["type"] == "text":
                mark = {**mark, "align": "right" if left else "left", "dx": -4 if left else 4}
                encoding["text"] = {"value": moment_label(moment)}
            layer = {**layer, "mark": mark, "encoding": encoding}
        layers.append(layer)
    return {**spec, "layer": layers}


def _broke_layers(frame: pd.DataFrame, look: Look) -> list[alt.Chart]:
    """A red rule where a curve's value became NaN or infinite, labelled: the point where the run blew up.

    The same table as the lines (one data set), filtered to the points that broke.
    """
    broke = alt.Chart(frame).transform_filter("datum.broke != ''")
    rule = broke.mark_rule(color=BROKE_COLOR, strokeWidth=2).encode(x="epoch:Q")
    text = broke.mark_text(
        align="right", baseline="top", dx=-4, dy=4, color=BROKE_COLOR, fontSize=look.font, fontWeight="bold"
    ).encode(x="epoch:Q", y=alt.value(0), text="label:N")
    return [rule, text.transform_calculate(label="'became ' + datum.broke")]


def _curve_tooltip(run_title: str, y_title: str, y_scale: YScale, several_splits: bool) -> list[alt.Tooltip]:
    """What hovering a point says: its run, split, epoch and value, the value as its axis writes it."""
    value_format = {"percent": ".1%", "log": ".3~g"}.get(y_scale, ".4~g")
    return [
        alt.Tooltip("run:N", title=run_title),
        *([alt.Tooltip("split:N", title="Split")] if several_splits else []),
        alt.Tooltip("epoch:Q", title="Epoch", format=".2~f"),  # live points fall within epochs
        alt.Tooltip("value:Q", title=y_title, format=value_format),
    ]


def _stroke_legend(look: Look, **options: Any) -> alt.Legend:
    """A legend whose symbols are line samples, long enough to show a dash pattern."""
    options.setdefault("symbolSize", look.font * 40)
    return alt.Legend(symbolType="stroke", symbolStrokeWidth=3, **options)


def _split_style(runs: list[str], splits: list[str], look: Look, stage: bool = False) -> dict[str, Any]:
    """Colour for the splits (train blue, validation orange), line style for the runs (solid, dashed ...).

    On the stage (a third of the page wide) the legends' line samples are shorter, so that they fit.
    """
    palette = [TRAIN_COLOR, VAL_COLOR, *LINE_COLORS]
    colors = [palette[i % len(palette)] for i in range(len(splits))]
    dashes = [RUN_DASHES[i % len(RUN_DASHES)] for i in range(len(runs))]
    short = {"symbolSize": look.font * 12} if stage else {}
    run_legend = None
    if len(runs) > 1:
        run_legend = _stroke_legend(look, orient="top", direction="vertical", symbolStrokeColor="#1F2430", **short)
    split_scale = alt.Scale(domain=splits, range=colors)
    return {
        "color": alt.Color(
            "split:N", title=None, scale=split_scale, legend=_stroke_legend(look, orient="top", **short)
        ),
        "strokeDash": alt.StrokeDash(
            "run:N", title=None, sort=runs, scale=alt.Scale(domain=runs, range=dashes), legend=run_legend
        ),
    }


def _run_style(runs: list[str], run_title: str | None, muted: Collection[str], look: Look) -> dict[str, Any]:
    """A colour and a line style for each run, in one legend: a dozen runs stay apart, in colour or not."""
    # Where some runs are muted, no other run may look it: Tableau's grey is left out.
    palette = [c for c in LINE_COLORS if c != TABLEAU_GREY] if muted else list(LINE_COLORS)
    colors = [MUTED_COLOR if run in muted else palette[i % len(palette)] for i, run in enumerate(runs)]
    # Four dashes against a dozen colours: neighbours differ in both, and no two runs share the pair.
    dashes = [MUTED_DASH if run in muted else RUN_DASHES[i % len(RUN_DASHES)] for i, run in enumerate(runs)]
    legend = None
    if 1 < len(runs) <= LEGEND_MAX:
        legend = _stroke_legend(look, orient="bottom", columns=_legend_columns(runs, look), title=run_title)
    # The same field, title and legend on both channels: Vega-Lite draws one legend, each symbol in both.
    color_scale, dash_scale = alt.Scale(domain=runs, range=colors), alt.Scale(domain=runs, range=dashes)
    return {
        "color": alt.Color("run:N", title=run_title, sort=runs, scale=color_scale, legend=legend),
        "strokeDash": alt.StrokeDash("run:N", title=run_title, sort=runs, scale=dash_scale, legend=legend),
    }


def _legend_columns(runs: list[str], look: Look) -> int:
    """As many legend columns (1 to 4) as fit ``LEGEND_WIDTH``: a fixed count that is too many cuts labels off."""
    longest = max((len(run) for run in runs), default=1)
    entry = look.font * (0.6 * longest + 3.5)  # a label's characters, the line sample and the gap after it
    return int(min(4, max(1, LEGEND_WIDTH // entry)))


def _best_epoch_layers(best_epochs: Mapping[str, int | None] | None, look: Look) -> list[alt.Chart]:
    """A dashed green rule at each run's best epoch (the weights early stopping kept), labelled once."""
    best = [(run, epoch) for run, epoch in (best_epochs or {}).items() if epoch]
    if not best:
        return []
    rules = pd.DataFrame({"run": [r for r, _ in best], "epoch": [e for _, e in best]})
    tooltip = [alt.Tooltip("run:N", title="Run"), alt.Tooltip("epoch:Q", title="Best epoch (weights kept)")]
    rule = (
        alt.Chart(rules)
        .mark_rule(color=BEST_EPOCH_COLOR, strokeDash=[4, 3], strokeWidth=2)
        .encode(x="epoch:Q", tooltip=tooltip)
    )
    label = (
        alt.Chart(rules)
        .mark_text(align="left", dx=4, dy=-4, color=BEST_EPOCH_COLOR, baseline="top", fontSize=look.font)
        .encode(x="epoch:Q", y=alt.value(2), text=alt.value("best epoch"))
    )
    return [rule, label]


def curves_chart(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str,
    *,
    log_scale: bool = False,
    best_epochs: Mapping[str, int | None] | None = None,
    epochs: int | None = None,
    height: int | None = None,
    points: Mapping[str, Sequence[float]] | None = None,
    run_points: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    output: str | None = None,
    live: bool = False,
    stage: bool = False,
    moment: float | None = None,
) -> alt.LayerChart:
    """Train and validation curves of one metric, one line style per run (``curve_chart`` on Keras histories).

    The live chart (while a run trains) and the final one (the stored run) are this one chart on the same
    rows: the training curve from the untrained network at epoch 0, in the frame of every epoch planned.

    Parameters
    ----------
    histories : mapping
        Run label -> Keras history. The first run is drawn solid, the others dashed, dotted ...;
        the legend shows each label with its line style.
    metric : str
        ``loss`` or ``accuracy``.
    log_scale : bool
        Log scale on the y axis (loss only: it spans orders of magnitude).
    best_epochs : mapping, optional
        Run label -> the epoch whose weights early stopping restored; drawn as a vertical rule.
    epochs : int, optional
        Fix the x axis to this many epochs (the epochs planned: the live curve grows into the final frame).
    height : int, optional
        Plot height in pixels; never below the current look's (``plot_height``).
    points : mapping, optional
        The first run's training curve at a finer grain than epochs, drawn instead of its
        per-epoch training values: ``epoch`` (epochs done, fractions included, from 0) and
        ``loss`` / ``accuracy`` (``EpochReport.points`` while training, ``RunResult.points`` after).
    run_points : mapping, optional
        The same for any run, by its label (overlaid stored runs); a run with none is drawn from its history.
    output : str, optional
        The spec's output (``softmax_ce``, ``sigmoid_mse``): draws the chance line (``chance_line``).
    live : bool
        The chart of a run still training: its subtitle says so (its axes are the final chart's).
    stage : bool
        Drawn on the stage (``ui.app.stage``), a third of a 1280-pixel page wide: lower, its title short.
    moment : float, optional
        The epoch a replay shows, marked by a vertical rule.
    """
    if metric not in METRIC_TITLES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_TITLES)}.")
    fine = dict(run_points or {})
    if points is not None and histories:
        fine[next(iter(histories))] = points
    rows = [row for run, history in histories.items() for row in history_rows(run, history, metric, fine.get(run))]
    title = METRIC_TITLES[metric]
    # A short title that fits half a 1280-pixel page, and what the lines are in a subtitle under it.
    subtitle = "training vs validation images" + (", every run" if len(histories) > 1 else "")
    subtitle += ", as it trains" if live else ""
    if stage:  # a third of the page: the legend says train and validation, the subtitle what else is to know
        notes = {"log scale": metric == "loss" and log_scale, "as it trains": live, "every run": len(histories) > 1}
        subtitle = ", ".join(note for note, applies in notes.items() if applies) or None
    y_scale: YScale = "percent" if metric == "accuracy" else "log" if log_scale else "linear"
    return curve_chart(
        rows,
        title=f"{title} per epoch",
        subtitle=subtitle,
        y_title=title,
        y_scale=y_scale,
        epochs=epochs,
        runs=list(histories),
        splits=list(SPLIT_NAMES.values()),
        best_epochs=best_epochs,
        height=height,
        chance=chance_line(metric, output) if output is not None else None,
        stage=stage,
        moment=moment,
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


def overlay_chart(frame: pd.DataFrame, title: str, percent: bool, order: Sequence[str] | None = None) -> alt.LayerChart:
    """Every run's curve of one metric on one chart, one colour and line style each (``curve_chart``).

    ``overlay_frame`` makes the frame. The legend names every run in ``order`` (default: natural order,
    ``B1, B2 ... B10, B11``), each drawn as the line it stands for.
    """
    labels = list(order) if order is not None else natural_order(list(frame["preset"]))
    rows = [curve_row(run, title, epoch, value) for run, epoch, value in frame.itertuples(index=False)]
    return curve_chart(
        rows,
        title=f"{title}, every run of the series",
        y_title=title,
        y_scale="percent" if percent else "linear",
        runs=labels,
        run_title="Preset",
        height=max(plot_height(None), 360),
    )
