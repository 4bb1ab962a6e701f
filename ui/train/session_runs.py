"""The runs a session has seen on the Train page: the change from the previous one, overlays, a way back.

Kept in session state, so each visitor has their own list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lab.nn.result import RunResult
from lab.reports.labels import distinct_descriptions
from lab.spec import ExperimentSpec
from ui.app.state import get_store
from ui.app.text import fmt_percent, fmt_seconds

RUNS_KEY = "train_runs"  # run id -> its row in the session's table
LAST_KEY = "train_last"  # the run shown last
PREV_KEY = "train_prev"  # the distinct run shown before it: the deltas compare with it
SPECS_KEY = "train_run_specs"  # run id -> its spec, to name the runs apart (a seed may be all that differs)


def remember_shown(result: RunResult) -> dict[str, Any] | None:
    """Keep the last two distinct runs shown; returns the one before this one (for the deltas)."""
    info = {
        "run_id": result.run_id,
        "summary": result.spec.describe(),
        "acc": result.test_accuracy,
        "loss": result.test_loss,
    }
    last = st.session_state.get(LAST_KEY)
    if last is None or last["run_id"] != result.run_id:
        st.session_state[PREV_KEY] = last
        st.session_state[LAST_KEY] = info
    st.session_state.setdefault(SPECS_KEY, {})[result.run_id] = result.spec
    runs = st.session_state.setdefault(RUNS_KEY, {})
    runs[result.run_id] = {
        "Run": result.run_id,
        "Setup": result.spec.describe(),
        "Parameters": f"{result.params:,}",
        "Test accuracy": "diverged" if result.diverged else fmt_percent(result.test_accuracy),
        "Epochs": f"{result.epochs_run} of {result.spec.epochs}",
        "Training time": fmt_seconds(result.train_seconds),
    }
    return st.session_state.get(PREV_KEY)


def delta_text(value: float, prev: dict[str, Any] | None, key: str, pct: bool = False) -> str | None:
    """The change from the previous run's ``key`` (``+1.25 pts`` or ``-0.0312``), None when there is none."""
    before = prev.get(key) if prev else None
    if before is None or not (math.isfinite(value) and math.isfinite(before)):
        return None
    change = value - before
    return f"{change * 100:+.2f} pts" if pct else f"{change:+.4f}"


def session_setups() -> dict[str, str]:
    """Run id -> its setup in plain words, for the runs this session has seen; no two read the same."""
    runs = st.session_state.get(RUNS_KEY, {})
    specs = st.session_state.get(SPECS_KEY, {})
    if not all(run_id in specs for run_id in runs):  # rows kept from before the specs were: their own words
        return {run_id: row["Setup"] for run_id, row in runs.items()}
    texts = distinct_descriptions([specs[run_id] for run_id in runs])
    return dict(zip(runs, texts, strict=True))


def session_runs(current: RunResult | None, load: Callable[[ExperimentSpec], None]) -> None:
    """This session's runs, and a way back to any of their settings (``load`` sets the controls)."""
    runs = st.session_state.get(RUNS_KEY, {})
    if not runs:
        return
    st.subheader("This session's runs")
    setups = session_setups()
    rows = [{**row, "Setup": setups[run_id]} for run_id, row in reversed(runs.items())]
    st.table(pd.DataFrame(rows), hide_index=True)  # every run and its whole setup, newest first
    store = get_store()

    def load_run(run_id: str) -> None:
        stored = store.get(run_id)
        if stored is not None:
            load(stored.spec)

    choices = [r["Run"] for r in rows if current is None or r["Run"] != current.run_id]
    if choices:
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox(
            "Go back to the settings of",
            choices,
            format_func=setups.__getitem__,
            key="load_run",
            help="Sets every control on the left to that run's settings; its results show at once.",
        )
        c2.button("Load settings", key="load_run_button", on_click=load_run, args=(pick,))
