"""Tune page: a hyperparameter search the class can watch, on Ray Tune with Optuna's TPE and ASHA.

Start from the Train setup or a course preset, tick the settings to search and
their ranges, give a budget, and watch the trials fill the table; stopped ones
grey out. Every trial is a stored run that the Train page opens.
"""

from __future__ import annotations

import math
import os
import sys

import streamlit as st

from lab.catalog.presets import get_preset, list_presets
from lab.codec import spec_from_query
from lab.search.job import SearchJob
from lab.search.runner import SEARCHERS, SearchResult, workers_available
from lab.spec import ExperimentSpec
from ui.app.navigation import ensure_app_navigation
from ui.app.text import fmt_percent, plain
from ui.tune import search as tune

ensure_app_navigation()

JOB_KEY = "tune_job"
TRAIN_SETUP = "The current Train setup"

st.title("Tune: automated hyperparameter search")
st.write(
    "The course tuned its settings by hand. Here a search tries many settings for you: Optuna's TPE proposes "
    "the next trial from the results so far, and ASHA stops the trials that fall behind after a few epochs, "
    "so the budget goes to the promising ones. The search only ever looks at **validation** accuracy."
)


def pick_base() -> ExperimentSpec:
    """The spec to start from: the Train page's setup in this session, or a course preset."""
    presets = {p.name: p for p in list_presets()}
    options = [TRAIN_SETUP, *presets]
    c1, c2 = st.columns([2, 1])
    choice = c1.selectbox(
        "Start from",
        options,
        index=options.index("B5"),
        format_func=lambda name: name if name == TRAIN_SETUP else presets[name].label,
        key="tune_base",
    )
    data = c2.selectbox("Data", ["sample", "mnist", "fashion"], key="tune_data", help="sample: 5,000 digits, offline")
    if choice == TRAIN_SETUP:
        query = st.session_state.get("train_query")
        base = spec_from_query(query) if query else ExperimentSpec()
        if not query:
            st.caption("Nothing set on the Train page in this session yet: starting from the lab's defaults.")
    else:
        base = get_preset(choice).spec
        st.caption(presets[choice].change)
    return base.replace(data=data)


def budget_controls() -> dict:
    """Trials, epochs per trial, trials at once, searcher and seed."""
    workers = tune_workers()
    c1, c2, c3, c4, c5 = st.columns(5)
    return {
        "trials": c1.number_input("Trials", 1, 200, 8, key="tune_trials"),
        "epochs": c2.number_input("Epochs per trial (at most)", 1, 200, 5, key="tune_epochs"),
        "concurrency": c3.number_input(
            "Trials at once", 1, workers, min(2, workers), key="tune_concurrency", help=f"Up to {workers} workers."
        ),
        "searcher": c4.selectbox(
            "Searcher", SEARCHERS, key="tune_searcher", format_func=lambda s: {"tpe": "TPE (Optuna)"}.get(s, s)
        ),
        "seed": c5.number_input("Seed", 0, 10_000, 0, key="tune_seed", help="Same seed, same trials (one at a time)."),
    }


def tune_workers() -> int:
    """Trials that can run at once: the Ray cluster's CPUs, or this machine's cores before Ray starts."""
    ray = sys.modules.get("ray")  # never imported here just to ask: Ray takes a second to import
    if ray is not None and ray.is_initialized():
        return workers_available()
    return os.cpu_count() or 1


def show_result(result: SearchResult) -> None:
    """What the search found: the table with links, the charts, the best trial and the course's figure."""
    best = result.best
    if best is None:
        st.warning("No trial reported a result: try a wider range or more epochs.")
        return
    saved = result.epochs_budget - result.epochs_trained
    st.subheader("What the search found")
    c1, c2, c3 = st.columns(3)
    c1.metric("Best validation accuracy", fmt_percent(best.val_accuracy), help=f"Trial {best.number}")
    c2.metric("Its test accuracy", fmt_percent(result.test_accuracy) if math.isfinite(result.test_accuracy) else "–")
    c3.metric("Epochs trained", f"{result.epochs_trained} of {result.epochs_budget}", help="ASHA stopped the rest.")
    st.caption(
        "The test accuracy is read once, for the best trial, after the search: the search chose on validation "
        "accuracy only, so the test set still measures how well the chosen setup does on digits it never saw. "
        f"The search took {result.wall_seconds:.0f} s; early stopping saved {saved} epochs."
        + (" It was stopped before its end." if result.stopped_by_user else "")
    )
    comparison = tune.course_comparison_text(tune.preset_for(result.base))
    if comparison:
        st.info(comparison)
    st.write(f"**Best trial {best.number}:** {result.best_spec.summary()} (run `{best.run_id}`)")
    tune.train_page_link(
        f"Open the best trial (trial {best.number}) in Train", tune.train_query(result.space, result.base, best)
    )
    tune.show_trials_table(result.trials, result.space, result.base)
    st.altair_chart(tune.curves_chart(result.trials, result.base.epochs), width="stretch")
    st.altair_chart(tune.parallel_chart(result.trials, result.space), width="stretch")
    if result.importances:
        st.altair_chart(tune.importance_chart(result.importances), width="stretch")
        st.caption(
            "Importance: how much of the differences in validation accuracy each setting explains "
            "(Optuna's fANOVA over these trials; with few trials, a rough guide)."
        )
    else:
        st.caption("Too few trials that differ for the settings' importances.")
    numbers = [r.number for r in result.trials]
    pick = st.selectbox("Open another trial in Train", numbers, key="tune_open_trial")
    row = next(r for r in result.trials if r.number == pick)
    tune.train_page_link(
        f"Open trial {row.number} in Train ({row.state})",
        tune.train_query(result.space, result.base, row),
        icon=":material/open_in_new:",
    )


base = pick_base()
st.subheader("Settings to search")
search_text = tune.knob_controls(base)
st.subheader("Budget")
budget = budget_controls()
job: SearchJob | None = st.session_state.get(JOB_KEY)
running = job is not None and not job.finished
can_start = tune.engine_note()
if st.button("Start the search", type="primary", key="tune_start", disabled=running or not can_start):
    try:
        job = st.session_state[JOB_KEY] = tune.start_search(base, search_text, budget)
        running = True
    except ValueError as exc:
        st.error(plain(exc))

if job is not None:
    if job.error:
        st.error(f"The search failed: {plain(job.error)}")
    elif job.result is not None:
        show_result(job.result)
    else:
        tune.follow_search(job)  # ends in a rerun, which shows the result
