"""The Tune page's parts: the knobs to search, the live trials table and curves, and the charts of what was found.

Widgets return plain values (the search text); tables and charts are built from
``lab.search`` rows, so the page only wires them together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import urlencode

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from lab.catalog.preset import Preset, format_figure
from lab.catalog.presets import list_presets
from lab.codec import spec_to_query
from lab.runs.limits import TUNE_LOCAL_RAY_ENV, LimitExceeded
from lab.search.job import SearchJob
from lab.search.runner import TrialRow, workers_available
from lab.search.space import SearchSpace
from lab.setting import Setting
from lab.spec import SETTINGS, ExperimentSpec
from ui import charts
from ui.app.jobs import follow
from ui.app.state import get_jobs, get_limits, get_store, visitor_id
from ui.app.text import fmt_percent

K = "tune_"  # widget keys
STOPPED_GREY = "#9a9a9a"  # dark enough to see on a projector, plainly not a colour


def _range(label: str, key: str, low: float, high: float, *, step: float | None = None, fmt: str = "%g") -> str:
    """Two number boxes, low and high, as ``low:high`` (a log range adds ``:log``)."""
    c1, c2 = st.columns(2)
    lo = c1.number_input(f"{label}: from", value=low, step=step, format=fmt, key=f"{K}{key}_low")
    hi = c2.number_input(f"{label}: to", value=high, step=step, format=fmt, key=f"{K}{key}_high")
    return f"{lo:g}:{hi:g}"


def _choices(label: str, key: str, options: Sequence[Any], default: Sequence[Any], show: Any = str) -> str:
    picked = st.multiselect(label, list(options), default=list(default), key=f"{K}{key}_choices", format_func=show)
    return "|".join(str(p) for p in picked)


def _knob_name(setting: Setting) -> str:
    """The knob's name in the search text and its widgets' keys: the short flag where there is one (``lr``)."""
    return setting.flag.removeprefix("--") if setting.flag else setting.key


def setting_knob(setting: Setting) -> str | None:
    """A checkbox for one setting's knob (its ``Search`` description) and its range or choices; None if unticked."""
    search, name = setting.search, _knob_name(setting)
    label = search.label or setting.label
    if not st.checkbox(label, value=search.ticked, key=f"{K}{name}", help=setting.help):
        return None
    if search.is_range:
        whole = isinstance(setting.default, int)
        fmt = "%d" if whole else ("%.0e" if search.log else "%g")
        step = 1 if whole else (None if search.log else 0.05)
        span = _range(setting.label, name, search.low, search.high, step=step, fmt=fmt)
        return f"{name}={span}" + (":log" if search.log else "")
    options = search.choices or setting.widget.options
    return f"{name}=" + _choices(setting.label, name, options, search.picked or options, setting.widget.show)


def knob_controls(base: ExperimentSpec) -> str:
    """A checkbox per knob and its range; returns the search text (``lr=1e-4:1e-1:log,...``), empty if none ticked.

    The network's shape (layers, units, conv filters, augmentation strength) is searched through knobs that set
    several settings at once; every other knob is made from a setting's ``Search`` description in ``lab.spec``.
    """
    knobs: list[str | None] = []

    def ticked(label: str, key: str, default: bool = False, help: str | None = None) -> bool:
        return st.checkbox(label, value=default, key=f"{K}{key}", help=help)

    searchable = [s for s in SETTINGS.values() if s.search is not None]
    c1, c2 = st.columns(2)
    with c1:
        if ticked("Hidden layers", "layers", help="How many hidden layers, all of the same width."):
            knobs.append("layers=" + _range("Layers", "layers", 1, 3, step=1, fmt="%d"))
        if ticked("Units per layer", "units", True, help="Width of each hidden layer, sampled on a log scale."):
            knobs.append("units=" + _range("Units", "units", 32, 256, step=1, fmt="%d") + ":log")
        if base.conv and ticked("Conv filters", "filters", help="Every convolution block's number of filters."):
            knobs.append("filters=" + _range("Filters", "filters", 8, 32, step=1, fmt="%d"))
        if base.conv and ticked("Augmentation strength", "aug", help="1 = course B10: rotation 10°, shift 0.2 ..."):
            knobs.append("aug=" + _range("Augmentation", "aug", 0.0, 1.0, step=0.1))
        knobs += [setting_knob(s) for s in searchable if s.group != "training"]
    with c2:
        knobs += [setting_knob(s) for s in searchable if s.group == "training"]
    return ",".join(knob for knob in knobs if knob)


def on_in_process_server() -> bool:
    """Whether this server trains in its own process (no Ray): a search would have to start one."""
    return get_jobs().executor.engine == "in-process"


def engine_note() -> bool:
    """Say where the search's trials would run: on the server's Ray, on a Ray it starts, or nowhere (refused).

    Returns whether a search can start on this server (the Start button is greyed out otherwise).
    """
    if not on_in_process_server():
        st.caption(
            f"The trials run on this server's Ray workers ({workers_available()}), beside the class's trainings."
        )
        return True
    if get_limits().tune_local_ray:
        st.caption(
            "This server trains in its own process: a search starts a Ray on this machine (one worker per core), "
            "which trains beside the class's trainings until the server stops."
        )
        return True
    st.info(
        "This server trains in its own process, one training at a time, and the operator has not allowed the "
        f"Tune page to start Ray workers beside it ({TUNE_LOCAL_RAY_ENV}=1 allows it; MLP_LAB_RAY=local trains "
        "everything on Ray): a search cannot start here."
    )
    return False


def start_search(base: ExperimentSpec, search_text: str, budget: dict[str, Any]) -> SearchJob:
    """Check a search against the server's limits, start it and list it for the teacher; return the job.

    Every trial within the limits (its network at the ranges' largest, its epochs), trials x epochs
    within the search budget, one search per visitor at a time, room on the server, and Ray only where
    the server trains on Ray or the operator allowed it.

    Raises
    ------
    ValueError
        Naming what is wrong, or the limit (``LimitExceeded``) and what to change.
    """
    limits = get_limits()
    if on_in_process_server() and not limits.tune_local_ray:
        raise LimitExceeded(
            "This server does not start Ray for searches (it trains in its own process): ask the teacher, "
            f"or run a search with python -m lab tune on your own machine ({TUNE_LOCAL_RAY_ENV} allows it here)."
        )
    space = SearchSpace.parse(search_text)
    trials, epochs = int(budget["trials"]), int(budget["epochs"])
    limits.check_search(trials, epochs)
    space.check(base.replace(epochs=epochs), check_spec=limits.check)
    options: dict[str, Any] = {"base": base, "space": space, "store": get_store(), "ray_setting": "local"}
    options.update({k: int(v) if k != "searcher" else v for k, v in budget.items()})
    options["limits"] = limits
    label = f"Tune search: {trials} trials of up to {epochs} epochs on {base.summary()}, searching {space.text()}"
    return get_jobs().admit("search", label, visitor_id(), lambda: SearchJob(options).start()).job


def preset_for(spec: ExperimentSpec) -> Preset | None:
    """The course preset ``spec`` is (on any data source, any epochs), if any."""
    for preset in list_presets():
        if preset.spec.replace(data=spec.data, epochs=spec.epochs) == spec:
            return preset
    return None


def course_best(series: str) -> tuple[Preset, float] | None:
    """The series' preset with the best course test accuracy, and that figure (a range's top)."""
    scored = [(p, _top(p.course_accuracy)) for p in list_presets(series) if p.course_accuracy is not None]
    return max(scored, key=lambda item: item[1], default=None)


def _top(figure: Any) -> float:
    return max(figure) if isinstance(figure, tuple) else float(figure)


def train_query(space: SearchSpace, base: ExperimentSpec, row: TrialRow) -> dict[str, str]:
    """The Train page's URL query for a trial: its setup, so that Train opens its stored run."""
    return spec_to_query(space.apply(base, row.params))


def train_url(query: dict[str, str]) -> str:
    """The Train page's relative URL for a setup (a plain link: it opens in a new session, the setup in its URL)."""
    return "train?" + urlencode(query)


def train_page_link(label: str, query: dict[str, str], icon: str = ":material/model_training:") -> None:
    """A link to the Train page on ``query``'s setup, keeping this session.

    ``st.page_link`` only knows the pages of the app's navigation: when this page runs on
    its own (``streamlit run pages/tune.py``, or a test of this page alone) a plain link does.
    """
    try:
        st.page_link("pages/train.py", label=label, icon=icon, query_params=query)
    except StreamlitAPIException:
        st.markdown(f"[{label}]({train_url(query)})")


def _value_text(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def trials_frame(rows: list[TrialRow], space: SearchSpace, base: ExperimentSpec | None = None) -> pd.DataFrame:
    """The live table: trial, state, epoch, validation accuracy, settings (and, with ``base``, the Train link)."""
    records = []
    for row in rows:
        record = {
            "Trial": row.number,
            "State": row.state + (" (stored)" if row.reused else ""),
            "Epoch": f"{row.epoch}/{row.epochs}",
            "Val accuracy": row.val_accuracy * 100 if math.isfinite(row.val_accuracy) else None,
            **{name: _value_text(row.params.get(name, "")) for name in space.names},
            "Run id": row.run_id,
        }
        if base is not None:
            record["Open in Train"] = train_url(train_query(space, base, row))
        records.append(record)
    return pd.DataFrame.from_records(records)


def follow_search(job: SearchJob) -> NoReturn:
    """The search's figures, live table and curves until it ends, with its Stop; then the page reruns.

    Followed as a training is (``ui.app.jobs.follow``): the status line says how many trials ended,
    and the view is redrawn each time the search reports.
    """
    space, epochs, trials = job.options["space"], job.options["epochs"], job.options["trials"]
    start = time.monotonic()  # what the wait for the first trial has cost, said while it lasts

    def describe(job: SearchJob) -> tuple[str, float | None]:
        ended = trials_ended(job.latest)
        if job.stop_requested:
            text = "Stopping: every trial ends now and is stored as stopped."
        elif not job.latest:
            text = (
                f"Starting Ray's workers and the first trials: {time.monotonic() - start:.0f} s so far. The first "
                "search on this server waits for Ray to start; later ones start at once."
            )
        else:
            text = f"{ended} of {trials} trials ended; the table fills as they train."
        return text, min(ended / max(trials, 1), 1.0)

    places: list[Any] = []  # laid out once, then each redrawn in place (ui.app.jobs.follow)

    def render(rows: list[TrialRow]) -> None:
        if not places:
            places.extend(column.empty() for column in st.columns(2))
            places.extend((st.empty(), st.empty()))
        ended, best, table, chart = places
        top = max((r.val_accuracy for r in rows if math.isfinite(r.val_accuracy)), default=math.nan)
        ended.metric("Trials ended", f"{trials_ended(rows)} of {trials}")
        best.metric("Best validation accuracy so far", fmt_percent(top) if math.isfinite(top) else "–")
        table.table(live_table(rows, space), hide_index=True)
        chart.altair_chart(curves_chart(rows, epochs), width="stretch")

    follow(
        job,
        "tune",
        render,
        describe=describe,
        stop_label="Stop",
        stop_help="Ends every trial now; each keeps what it learned.",
    )


def trials_ended(rows: list[TrialRow]) -> int:
    """Trials no longer waiting or running (finished, stopped by ASHA or by Stop)."""
    return sum(r.state not in ("waiting", "running") for r in rows)


def live_table(rows: list[TrialRow], space: SearchSpace) -> pd.DataFrame:
    """The trials table while the search runs, for a plain table readable from the back of the room."""
    frame = trials_frame(rows, space)
    if not frame.empty:
        frame["Val accuracy"] = [
            f"{v:.2f}%" if v is not None and math.isfinite(v) else "–" for v in frame["Val accuracy"]
        ]
    return frame


def show_trials_table(rows: list[TrialRow], space: SearchSpace, base: ExperimentSpec | None = None) -> None:
    """The trials table at the end: sortable, accuracy as a percent, each row's Open in Train link."""
    config: dict[str, Any] = {"Val accuracy": st.column_config.NumberColumn(format="%.2f%%")}
    if base is not None:
        config["Open in Train"] = st.column_config.LinkColumn(display_text="Open in Train")
    st.dataframe(trials_frame(rows, space, base), hide_index=True, column_config=config)


def curves_chart(rows: list[TrialRow], epochs: int) -> alt.LayerChart:
    """Every trial's validation curve on one chart (``charts.curve_chart``); stopped trials greyed out."""
    labels = {r.number: f"trial {r.number}" + (" (stopped)" if r.state == "stopped" else "") for r in rows}
    curves = [
        charts.curve_row(labels[r.number], "validation", epoch, value)
        for r in rows
        for epoch, value in enumerate(r.curve, start=1)
    ]
    return charts.curve_chart(
        curves,
        title="Validation accuracy of every trial (stopped ones in grey)",
        y_title="Validation accuracy",
        y_scale="percent",
        epochs=epochs,
        runs=list(labels.values()),
        run_title="Trial",
        muted=[labels[r.number] for r in rows if r.state == "stopped"],
    )


def _position(space: SearchSpace, name: str, value: Any) -> float:
    """A knob's value on a 0-1 axis: its place in the range (log ranges by log), or among the choices."""
    knob = next(k for k in space.knobs if k.name == name)
    if knob.choices:
        place = knob.choices.index(str(value)) if str(value) in knob.choices else 0
        return place / max(len(knob.choices) - 1, 1)
    low, high, x = float(knob.low), float(knob.high), float(value)
    if high == low:
        return 0.5
    if knob.log:
        return (math.log(x) - math.log(low)) / (math.log(high) - math.log(low))
    return (x - low) / (high - low)


def parallel_chart(rows: list[TrialRow], space: SearchSpace) -> alt.Chart:
    """Parallel coordinates: one line per trial through its settings, then its validation accuracy, coloured by it."""
    done = [r for r in rows if math.isfinite(r.val_accuracy)]
    if not done:
        return alt.Chart(pd.DataFrame({"x": []})).mark_line()
    accs = [r.val_accuracy for r in done]
    low, high = min(accs), max(accs)
    axes = [*space.names, "val accuracy"]
    records = []
    for r in done:
        for name in space.names:
            value = r.params.get(name)
            records.append(
                {"axis": name, "position": _position(space, name, value), "value": _value_text(value),
                 "trial": r.number, "val_accuracy": r.val_accuracy, "state": r.state}
            )  # fmt: skip
        spread = (r.val_accuracy - low) / (high - low) if high > low else 0.5
        records.append(
            {"axis": "val accuracy", "position": spread, "value": f"{r.val_accuracy:.2%}", "trial": r.number,
             "val_accuracy": r.val_accuracy, "state": r.state}
        )  # fmt: skip
    data = pd.DataFrame.from_records(records)
    base = alt.Chart(data, title="Settings against validation accuracy (each line a trial; top = high end)")
    lines = base.mark_line(opacity=0.8).encode(
        x=alt.X("axis:N", sort=axes, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("position:Q", title=None, axis=None),
        detail="trial:N",
        color=alt.Color(
            "val_accuracy:Q", title="val accuracy", scale=alt.Scale(scheme="viridis"), legend=alt.Legend(format="%")
        ),  # fmt: skip
        tooltip=["trial:N", "state:N", "axis:N", "value:N", alt.Tooltip("val_accuracy:Q", format=".2%")],
    )
    rules = base.mark_rule(color="#888").encode(x=alt.X("axis:N", sort=axes))
    # Each axis' values where they lie (a range's ends, every choice, the accuracies' ends): a line reads as settings.
    ticks = pd.DataFrame.from_records(_axis_ticks(space, low, high))
    look = charts.current_look()
    labels = (
        alt.Chart(ticks)
        .mark_text(align="left", dx=5, fontSize=look.font, color="#1F2430")
        .encode(x=alt.X("axis:N", sort=axes), y="position:Q", text="label:N")
    )
    chart = alt.layer(rules, lines, labels).properties(width="container", height=charts.plot_height(None))
    return charts.styled(chart)


def _axis_ticks(space: SearchSpace, low: float, high: float) -> list[dict[str, Any]]:
    """The values written along each parallel axis: a range's two ends, every choice, the accuracies' ends."""
    ticks = []
    for knob in space.knobs:
        if knob.choices:
            places = [i / max(len(knob.choices) - 1, 1) for i in range(len(knob.choices))]
            ticks += [{"axis": knob.name, "position": p, "label": c} for p, c in zip(places, knob.choices, strict=True)]
        else:
            ticks += [{"axis": knob.name, "position": 0.0, "label": _value_text(float(knob.low))}]
            ticks += [{"axis": knob.name, "position": 1.0, "label": _value_text(float(knob.high))}]
    ends = [(0.0, low), (1.0, high)] if high > low else [(0.5, low)]
    return ticks + [{"axis": "val accuracy", "position": p, "label": f"{v:.1%}"} for p, v in ends]


def importance_chart(importances: dict[str, float]) -> alt.Chart:
    """Optuna's importance of each searched setting, as horizontal bars."""
    data = pd.DataFrame({"setting": list(importances), "importance": list(importances.values())})
    chart = (
        alt.Chart(data, title="Importance of each searched setting (Optuna, fANOVA)")
        .mark_bar()
        .encode(
            x=alt.X("importance:Q", axis=alt.Axis(format="%"), title="share of the accuracy's variation"),
            # Every setting's name, none dropped for lack of room: a row of its own, tall enough for its label.
            y=alt.Y("setting:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            tooltip=["setting:N", alt.Tooltip("importance:Q", format=".1%")],
        )
        .properties(width="container", height=max(120, 3 * charts.current_look().font * len(data)))
    )
    return charts.styled(chart)


def course_comparison_text(base_preset: Preset | None) -> str:
    """The course's figures to hold the search's result against, in one sentence ("" without a preset)."""
    if base_preset is None:
        return ""
    text = f"The course's {base_preset.name} ({base_preset.title}) reached {base_preset.course_figure_text()}"
    best = course_best(base_preset.series)
    if best is not None and best[0].name != base_preset.name:
        text += f"; the best of series {base_preset.series} is {best[0].name} ({best[0].title}) at "
        text += format_figure(best[0].course_accuracy)
    return text + " on the test set of full MNIST, after the course's full length of training."
