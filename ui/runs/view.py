"""The Runs page's parts: filters over the class's table, the table, the runs compared (curves and settings),
"Open in Train" links, and the teacher's delete.

Widgets and layout only: the rows, the filters and the settings side by side are ``lab.runs.table``'s.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from lab.codec import spec_to_query
from lab.runs.table import CUSTOM, NETWORKS, NOBODY, RunRow, accuracy_text, settings_side_by_side
from ui import charts
from ui.app.state import get_store
from ui.app.text import plain

COMPARE_KEY = "runs_compare"  # the runs chosen for the chart and the settings
COMPARE_MAX = 8  # curves a chart keeps apart on a projector (colour and dash each)
METRICS = {
    "Validation accuracy": ("accuracy", "validation"),
    "Validation loss": ("loss", "validation"),
    "Training accuracy": ("accuracy", "train"),
    "Training loss": ("loss", "train"),
}
PERIODS = {"Any time": None, "Last hour": 3600.0, "Today": 86_400.0, "This week": 7 * 86_400.0}
DIFFERS_COLOR = "#fff3bf"  # a setting the compared runs do not share: a pale yellow row


def run_label(row: RunRow) -> str:
    """A short, unique name for a run in the chart's legend and the settings' columns."""
    what = row.preset if row.preset != CUSTOM else row.network
    return f"{row.trained_by} · {what} · {row.run_id[:6]}"


@dataclass(frozen=True)
class Filters:
    """What the table's filters ask for (empty: all), as ``lab.runs.table.class_runs`` takes it."""

    data: list[str]
    networks: list[str]
    presets: list[str]
    who: list[str]
    since: float | None


def filters() -> Filters:
    """The table's filters, each offering what the store holds: data, kind of network, preset, who trained it
    (nicknames), when."""
    store = get_store()
    cols = st.columns(5)
    data = cols[0].multiselect("Data", store.choices("data"), key="runs_data", placeholder="all")
    networks = cols[1].multiselect("Network", list(NETWORKS), key="runs_network", placeholder="all")
    preset_names = [name or CUSTOM for name in store.choices("preset")]
    presets = cols[2].multiselect("Preset", preset_names, key="runs_preset", placeholder="all")
    nicknames = [name or NOBODY for name in store.choices("trained_by")]
    who = cols[3].multiselect("Trained by", nicknames, key="runs_who", placeholder="all")
    period = cols[4].selectbox("Stored", list(PERIODS), key="runs_period")
    seconds = PERIODS[period]
    return Filters(data, networks, presets, who, time.time() - seconds if seconds is not None else None)


def runs_table(rows: Sequence[RunRow]) -> None:
    """Every row in one table; a click on a column's header sorts it."""
    frame = pd.DataFrame(
        {
            "Trained by": [r.trained_by for r in rows],
            "Test accuracy": [None if r.diverged else r.test_accuracy * 100 for r in rows],
            "Network": [r.network for r in rows],
            "Preset": [r.preset for r in rows],
            "Data": [r.data for r in rows],
            "Parameters": [r.params for r in rows],
            "Epochs": [r.epochs_run for r in rows],
            "Stored": [dt.datetime.fromtimestamp(r.created) if r.created else None for r in rows],
            "Setup": [r.spec.summary() for r in rows],  # the widest, last: every other column fits at 1280 pixels
            "Run": [r.run_id for r in rows],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "Test accuracy": st.column_config.NumberColumn(format="%.1f%%", help="Empty: the run diverged."),
            "Parameters": st.column_config.NumberColumn(format="localized"),
            "Stored": st.column_config.DatetimeColumn(format="D MMM, HH:mm"),
        },
    )


def choose_runs(rows: Sequence[RunRow]) -> list[RunRow]:
    """The runs to compare, picked from the filtered rows (at most ``COMPARE_MAX``)."""
    by_id = {r.run_id: r for r in rows}
    chosen = st.multiselect(
        "Compare runs",
        list(by_id),
        format_func=lambda run_id: f"{run_label(by_id[run_id])} · {accuracy_text(by_id[run_id])}",
        key=COMPARE_KEY,
        max_selections=COMPARE_MAX,
        placeholder="Pick runs to overlay their curves and compare their settings",
    )
    return [by_id[run_id] for run_id in chosen if run_id in by_id]


def compare_curves(rows: Sequence[RunRow]) -> None:
    """The chosen runs' curves of one metric on one chart, each run its own colour and line style."""
    label = st.segmented_control("Curve", list(METRICS), default="Validation accuracy", key="runs_metric")
    metric, split = METRICS[label or "Validation accuracy"]
    store = get_store()
    lines = []
    curve_rows = []
    for row in rows:
        result = store.get(row.run_id)
        if result is None:
            continue  # deleted since the table was read
        name = run_label(row)
        lines.append(name)
        points = result.points if split == "train" else None
        curve_rows += [r for r in charts.history_rows(name, result.history, metric, points) if r["split"] == split]
    if not lines:
        return
    chart = charts.curve_chart(
        curve_rows,
        title=label or "",
        subtitle="every run compared",
        y_title=charts.METRIC_TITLES[metric],
        y_scale="percent" if metric == "accuracy" else "linear",
        runs=lines,
        run_title="Run",
    )
    st.altair_chart(chart, width="stretch")


def compare_settings(rows: Sequence[RunRow]) -> None:
    """The chosen runs' settings side by side; the settings they do not share are marked (≠) and shaded."""
    everything = st.toggle("Show every setting", key="runs_all_settings", help="Also those no run changed.")
    lines = settings_side_by_side([r.spec for r in rows], all_settings=everything)
    if not lines:
        st.caption("These runs all use the default settings.")
        return
    frame = pd.DataFrame(
        [[("≠ " if line.differs else "") + line.label, *line.values] for line in lines],
        columns=["Setting", *[run_label(r) for r in rows]],
    )
    shade = [line.differs for line in lines]
    styled = frame.style.apply(
        lambda column: [f"background-color: {DIFFERS_COLOR}" if d else "" for d in shade], axis=0
    )
    st.dataframe(styled, hide_index=True, width="stretch")
    st.caption(f"≠ and shaded: the {sum(shade)} setting(s) these runs do not share.")


def open_links(rows: Sequence[RunRow]) -> None:
    """"Open in Train" (or in CNN, for a convnet) for each chosen run: its setup in the link."""
    for row in rows:
        query = spec_to_query(row.spec) or {"epochs": str(row.spec.epochs)}
        page, title = ("pages/cnn.py", "CNN") if row.spec.conv else ("pages/train.py", "Train")
        label = f"Open in {title}: {run_label(row)}"
        try:
            st.page_link(page, label=label, icon=":material/open_in_new:", query_params=query)
        except StreamlitAPIException:  # this page run on its own (a test): no navigation to link through
            url = ("cnn" if row.spec.conv else "train") + "?" + urlencode(query)
            st.markdown(f"[{plain(label)}]({url})")


def delete_runs(rows: Sequence[RunRow]) -> None:
    """The teacher's delete of the chosen runs, after a confirmation."""
    st.subheader("Delete (teacher)")
    if not rows:
        st.caption("Pick runs above to delete them.")
        return
    sure = st.checkbox(f"Yes, delete the {len(rows)} run(s) compared above for everyone", key="runs_delete_sure")
    if st.button("Delete", key="runs_delete", disabled=not sure, type="primary"):
        store = get_store()
        deleted = sum(store.delete(row.run_id) for row in rows)
        st.session_state.pop(COMPARE_KEY, None)
        st.session_state.pop("runs_delete_sure", None)
        st.toast(f"Deleted {deleted} run(s).")
        st.rerun()
