"""Techniques: every experiment of the course as a preset, run side by side with the course's own figures.

The page wires widgets to ``ui.techniques.series`` (the table, notes, lesson checks, curves, votes);
what trains when is ``lab.runs.scheduler``'s, shown through ``ui.app.jobs``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lab.analysis.ensemble import evaluation_key, mcnemar_test, seed_specs
from lab.catalog.presets import SERIES, Preset, list_presets
from lab.data.sources import SOURCES, default_source, is_cached
from lab.reports.course_table import stored_rows
from lab.reports.labels import run_labels
from lab.spec import ExperimentSpec
from ui.app.data import data_available
from ui.app.display import projector_toggle
from ui.app.jobs import (
    finish_withdrawn,
    in_turn_active,
    just_withdrawn,
    queue_sidebar,
    request_in_turn,
    train_in_turn,
    withdraw_in_turn,
)
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_store
from ui.app.text import plain
from ui.techniques.series import (
    COURSE_LENGTH,
    QUICK,
    RUN_KEY,
    curves_section,
    ensemble_view,
    full_text,
    length_words,
    lesson_checks,
    notes,
    page_for,
    planned,
    results_table,
    series_done_note,
)

ensure_app_navigation()

ENSEMBLE_KEY = "techniques_ensemble"  # the seed ensemble being trained: (preset, data, cap, members)
DATA_CHOICES = ["sample", "mnist", "fashion"]
MAX_RUN_CHOICES = 50  # the newest runs offered to combine or compare (a class's store holds thousands)


# ---------------------------------------------------------------- sections
def series_controls() -> tuple[str, str, int]:
    """Series, data source and length (``COURSE_LENGTH``, ``QUICK`` or an epochs cap) chosen by the user."""
    series = st.selectbox("Series", list(SERIES), format_func=lambda k: f"{k} · {SERIES[k].title}", key="tech_series")
    middle, right, cap_column = st.columns([3, 2, 2])
    default = default_source()
    data = middle.selectbox(
        "Data",
        DATA_CHOICES,
        index=DATA_CHOICES.index(default),
        format_func=lambda s: SOURCES.get(s, s) + ("" if is_cached(s) else " (download needed)"),
        key="tech_data_source",
        help="The course used full MNIST. The offline sample has 4,000 training and 1,000 test digits.",
    )
    # Quick by default, unless a teacher pretrained this series at the course's length (python -m lab pretrain).
    pretrained = any(s in get_store() for p in list_presets(series, data) for s in p.member_specs())
    with right:
        st.write("")  # aligns the toggle with the selectboxes
        quick = st.toggle(
            "Quick mode", value=not pretrained, key="tech_quick",
            help="Short runs chosen so that each series still shows its lesson (at most 10 epochs, or what a "
            "series needs: series D's 500 images take 50 quick epochs). The table says what each preset ran.",
        )  # fmt: skip
    if not quick:
        return series, data, COURSE_LENGTH
    cap = cap_column.number_input(
        "Epochs at most", min_value=1, max_value=1000, value=None, step=1, key="tech_cap",
        placeholder="as the lesson needs",
        help="Empty: quick mode's plan, which still shows the lesson. A number caps every run at it, for a look in "
        "seconds (the lesson may then not show).",
    )  # fmt: skip
    return series, data, QUICK if cap is None else int(cap)


def data_ready(data: str) -> bool:
    """MNIST or Fashion-MNIST download once, on a click; offline, a button switches to the sample."""
    return data_available(ExperimentSpec(data=data), key_prefix="tech_")


def series_section(series: str, data: str, cap: int) -> None:
    """Run button, progress, results table, overlaid curves and the lessons of one series."""
    info = SERIES[series]
    st.markdown(f"**Course file {info.source}.** {info.setup}")
    course = {p.name: p for p in list_presets(series, data)}
    presets = [planned(p, cap) for p in course.values()]
    settings = (series, data, cap)
    specs = [s for p in presets for s in p.member_specs()]
    # Before any button: when the last run of the series just ended, the page shows its final state.
    asked = st.session_state.get(RUN_KEY) == settings
    running = in_turn_active(RUN_KEY, settings, specs)
    finished = asked and not running  # this run is the first after the series' last training
    if st.button(
        f"Run series {series} ({length_words(cap)})",
        type="primary", disabled=running, key="tech_run_series",
    ):  # fmt: skip
        request_in_turn(RUN_KEY, settings)
        running = True
    if running:
        st.button("Cancel the rest of the series", key="tech_cancel", on_click=withdraw_in_turn, args=(RUN_KEY, specs))
    if just_withdrawn(RUN_KEY):
        st.info(
            f"Series {series} cancelled: the run that was training stops and keeps what it learned; the rest did "
            "not start. Press Run to train what is missing."
        )
        finish_withdrawn(RUN_KEY, specs, key_prefix="tech-")
    if finished:
        series_done_note(series, specs)
    rows = stored_rows(presets, get_store(), list(course.values()))
    st.table(results_table(rows), hide_index=True)  # every row, every word: nothing scrolls or is cut off
    if running:
        # One run per page run: following it ends in a rerun, which redraws the table and trains the next.
        names = [p.label + (f" (seed {s.seed})" if p.ensemble else "") for p in presets for s in p.member_specs()]
        train_in_turn(specs, names, RUN_KEY, st.empty(), key_prefix="tech-")
    notes(data, cap, presets, course, rows)
    lesson_checks(series, data, cap, rows)
    curves_section(rows)
    with st.expander("The lessons, experiment by experiment", expanded=True):
        st.markdown(info.lesson)
        st.markdown("\n".join(f"- **{p.label}** ([open]({page_for(p)}?preset={p.name})): {p.lesson}" for p in presets))
        st.caption("Open a preset on the Train page (CNNs on the CNN page) to change its settings and train it there.")


def ensemble_section(series_presets: list[Preset], data: str, cap: int) -> None:
    """Soft and hard voting: N seeds of one preset, or any runs the user picks."""
    st.subheader("Ensembles: let several networks vote")
    st.markdown(
        "Train the same network several times with different random seeds and average their predicted "
        "probabilities (**soft voting**, course A7) or count their votes (**hard voting**). The ensemble is "
        "usually better than its average member."
    )
    seeds_tab, pick_tab = st.tabs(["Seeds of one preset", "Any stored runs"])
    with seeds_tab:
        left, right = st.columns([3, 1])
        choices = [p for p in series_presets if not p.ensemble]
        preset = left.selectbox("Preset", choices, format_func=lambda p: p.label, key="tech_ens_preset")
        members = int(right.number_input("Members", 2, 10, 3, key="tech_ens_members"))
        spec = planned(preset, cap).spec
        specs = seed_specs(spec, members)
        settings = (preset.name, data, cap, members)
        running = in_turn_active(ENSEMBLE_KEY, settings, specs)
        if st.button(f"Train and combine {members} seeds of {preset.name}", key="tech_ens_run", disabled=running):
            request_in_turn(ENSEMBLE_KEY, settings)
            running = True
        if running:
            names = [f"{preset.name} seed {s.seed}" for s in specs]
            train_in_turn(specs, names, ENSEMBLE_KEY, st.empty(), key_prefix="tech-")
        results = [r for r in (get_store().get(s) for s in specs) if r is not None]
        if len(results) < members:
            st.caption(f"{len(results)} of {members} members stored: press the button to train the rest.")
        if len(results) >= 2:
            ensemble_view(results, [f"{preset.name} seed {r.spec.seed}" for r in results])
    with pick_tab:
        labels = run_labels(get_store().recent(MAX_RUN_CHOICES))
        picked = st.multiselect(
            "Runs to combine (they must be tested on the same images)", list(labels), format_func=labels.get,
            key="tech_ens_pick",
        )  # fmt: skip
        if len(picked) >= 2:
            found = [(get_store().get(run_id), labels[run_id]) for run_id in picked]
            found = [(r, name) for r, name in found if r is not None]
            ensemble_view([r for r, _ in found], [name for _, name in found])
        else:
            st.caption("Pick two runs or more.")


SELECT_CHARS = 90  # what a selectbox the page's width shows at 1280x720 with the sidebar open


def mcnemar_section() -> None:
    """Is the difference between two runs real?"""
    st.subheader("Is the difference real?")
    st.markdown(
        "Two runs rarely differ on every test image. **McNemar's test** looks only at the images exactly one of "
        "them gets right, and asks how likely so lopsided a split would be if both were equally good."
    )
    infos = {info.run_id: info for info in get_store().recent(MAX_RUN_CHOICES)}
    if len(infos) < 2:
        st.info("Train at least two runs (for example by running a series above) to compare them.")
        return
    # One above the other, each the page's width; a description too long even for that shows compact.
    labels = run_labels(list(infos.values()), max_chars=SELECT_CHARS)
    a = st.selectbox("Run A", list(infos), format_func=labels.get, key="tech_mc_a", help=full_text(infos, "tech_mc_a"))
    # Only runs tested on the same images can be compared: offer those.
    tested_on = evaluation_key(infos[a].spec)
    same_test = [r for r, info in infos.items() if r != a and evaluation_key(info.spec) == tested_on]
    if not same_test:
        st.info("No other stored run was tested on the same images as run A: train one on the same data.")
        return
    b = st.selectbox(
        "Run B (tested on the same images)",
        same_test,
        format_func=labels.get,
        key="tech_mc_b",
        help=full_text(infos, "tech_mc_b"),
    )
    run_a, run_b = get_store().get(a), get_store().get(b)
    if run_a is None or run_b is None:
        st.error("One of these runs can no longer be read from the store: choose another.")
        return
    try:
        result = mcnemar_test(run_a, run_b, names=("A", "B"))
    except ValueError as exc:
        st.error(plain(exc))
        return
    table = pd.DataFrame(result.table, index=["A right", "A wrong"], columns=["B right", "B wrong"])
    left, right = st.columns([1, 2])
    left.table(table)
    left.caption(f"A: {result.accuracy_a:.2%} · B: {result.accuracy_b:.2%} on {int(result.table.sum()):,} test images")
    (right.success if result.significant else right.info)(result.verdict)
    right.caption(
        ("Exact binomial test (fewer than 25 images where they disagree)." if result.exact
         else f"Chi-squared {result.statistic:.2f} with continuity correction.") + " p below 0.05 counts as real."
    )  # fmt: skip


# -------------------------------------------------------------------- page
projector_toggle()
st.title(":material/science: Techniques, side by side")
st.markdown(
    "Every experiment of the course is a preset. Choose a series and run it: stored runs appear at once, the "
    "others train one after another. Then compare our test accuracy with the course's, overlay the curves, "
    "combine runs into ensembles, and test whether a difference is real."
)
queue_sidebar()
chosen_series, chosen_data, epochs_cap = series_controls()
if data_ready(chosen_data):
    series_section(chosen_series, chosen_data, epochs_cap)
    st.divider()
    ensemble_section(list_presets(chosen_series, chosen_data), chosen_data, epochs_cap)
st.divider()
mcnemar_section()
