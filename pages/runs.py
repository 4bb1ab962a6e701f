"""Runs: every run the class stored in one table, any of them compared, and each opened in Train."""

import streamlit as st

from lab.runs.table import class_runs
from ui.app.display import projector_toggle
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_store
from ui.app.teacher_access import unlocked as teacher_unlocked
from ui.runs import view

ensure_app_navigation()
projector_toggle()

st.title(":material/table_rows: Runs of the class")
st.markdown(
    "Every run stored on this server, whoever trained it: filter the table, click a column to sort it, "
    "then pick runs to **compare** their curves and settings, or to open one in Train and change it."
)

store = get_store()
if class_runs(store, limit=1).total == 0:
    st.info("No run is stored yet: train one on the Train page, and it appears here.")
    st.stop()

wanted = view.filters()
table = class_runs(store, data=wanted.data, networks=wanted.networks, presets=wanted.presets, who=wanted.who,
                   since=wanted.since)  # fmt: skip
shown = f"the newest {len(table.rows):,} of " if len(table.rows) < table.total else ""
st.caption(f"{shown}{table.total:,} runs match.")
view.runs_table(table.rows)
chosen = view.choose_runs(table.rows)
if chosen:
    view.compare_curves(chosen)
    view.compare_settings(chosen)
    view.open_links(chosen)
if teacher_unlocked():
    view.delete_runs(chosen)
