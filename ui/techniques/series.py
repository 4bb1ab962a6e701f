"""The Techniques page's parts: the series table, its notes and lesson checks, the overlaid curves, an ensemble's votes.

Widgets and layout only, from ``lab`` results: what trains when is ``lab.runs.scheduler``'s
(shown through ``ui.app.jobs.train_in_turn``); the page (``pages/techniques.py``) wires these together.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lab.analysis.ensemble import combine, format_interval
from lab.architecture import count_params
from lab.catalog.lessons import ClaimCheck, check_claims
from lab.catalog.presets import SERIES, Preset
from lab.data.sources import SOURCES
from lab.nn.result import RunResult
from lab.reports.course_table import CourseRow, lesson_numbers, shortfall_text, together_text
from lab.reports.labels import run_description
from lab.runs.store import RunInfo
from lab.spec import ExperimentSpec
from ui import charts
from ui.app.jobs import duration_text, request_in_turn, trained_just_now
from ui.app.state import get_store
from ui.app.text import fmt_seconds, plain

RUN_KEY = "techniques_run"  # the series run in progress: (series, data, length)
METRICS = {
    "val_accuracy": "Validation accuracy",
    "accuracy": "Training accuracy",
    "val_loss": "Validation loss",
    "loss": "Training loss",
}
SOFT_VOTE = "Soft voting (mean probabilities)"
NOT_TRAINED_YET = "not trained yet"
# How long each preset trains: the course's length, quick mode's plan (lab.catalog), or a cap (epochs, above 0).
COURSE_LENGTH, QUICK = 0, -1


def course_column(data: str) -> str:
    """The course column's header: its figures are from full MNIST, whatever ours are from."""
    return "Course (full MNIST)" if data == "mnist" else f"Course (full MNIST; ours: {data})"


def results_table(rows: list[CourseRow]) -> pd.DataFrame:
    """One line per preset: ours beside the course's."""
    accuracies = {row.preset.name: row.accuracy for row in rows}
    return pd.DataFrame(
        [
            {
                "Preset": row.preset.label,
                "What changed": row.preset.change,
                "Parameters": f"{row.params if row.params is not None else count_params(row.preset.spec):,}",
                "Epochs": row.epochs_text,
                "Our test accuracy (95% interval)": row.accuracy_text,
                course_column(row.preset.spec.data): row.course_figure,
                "Together vs single": together_text(row, accuracies) or "—",
                "Training time": fmt_seconds(row.seconds) if row.results else NOT_TRAINED_YET,
            }
            for row in rows
        ]
    )


def page_for(preset: Preset) -> str:
    """The page that can load this preset into its controls (``?preset=NAME``)."""
    return "cnn" if preset.spec.conv or preset.spec.augmentation.active else "train"


def planned(preset: Preset, length: int) -> Preset:
    """The preset as this length trains it: the course's, quick mode's plan, or capped at ``length`` epochs."""
    if length == QUICK:
        return preset.quick()
    return preset.capped(length) if length > 0 else preset


def length_words(length: int) -> str:
    """The Run button's words for a length."""
    if length == QUICK:
        return "quick: the lesson in minutes"
    return f"at most {length} epochs each" if length > 0 else "course length"


def series_done_note(series: str, specs: list[ExperimentSpec]) -> None:
    """Right after the last run of a series ended: what was trained now."""
    results = [r for r in (get_store().get(spec) for spec in specs) if r is not None]
    fresh = [r for r in results if trained_just_now(r)]
    missing = len(specs) - len(results)
    text = (
        f"Series {series} done: {len(fresh)} run{'s' if len(fresh) != 1 else ''} trained just now and stored "
        f"({duration_text(sum(r.train_seconds for r in fresh))} of training)"
        + (f", {len(results) - len(fresh)} read from the run store" if len(results) > len(fresh) else "")
        + (f"; {missing} could not be trained (press Run again to retry)" if missing else "")
        + ". The table and the curves show the whole series."
    )
    (st.warning if missing else st.success)(text)


def notes(data: str, cap: int, presets: list[Preset], course: dict[str, Preset], rows: list[CourseRow]) -> None:
    """What to keep in mind when comparing our numbers with the course's: the data, the length, far-off results."""
    lines = []
    if data != "mnist":
        lines.append(
            f"The course's figures are from **full MNIST** (60,000 training / 10,000 test images); ours are from "
            f"**{SOURCES.get(data, data)}**, so expect lower accuracies, and intervals of about ±2 points on "
            "1,000 test images."
        )
    shortened = [p.name for p in presets if p.spec.epochs < course[p.name].spec.epochs]
    if cap == QUICK and shortened:
        plans: dict[str, list[str]] = {}
        for name in shortened:
            plans.setdefault(course[name].quick_text, []).append(name)
        plan = "; ".join(f"{', '.join(names)}: {text}" for text, names in plans.items())
        lines.append(f"Quick mode: {plan} (see the Epochs column); untick it for the course's length.")
        series_note = SERIES[presets[0].series].quick_note if presets else ""
        if series_note:
            lines.append(series_note)
    elif cap > 0 and shortened:
        lines.append(
            f"Quick mode: {', '.join(shortened)} trained for at most {cap} epochs, fewer than the course "
            "(see the Epochs column); empty the box for the plan that shows the lesson, or untick it for the full "
            "length."
        )
    lines.extend(text for row in rows if (text := shortfall_text(row)))  # far below the course: why, in numbers
    lines.extend(p.note for p in presets[:1] if p.note)  # the series-wide difference, once
    if lines:
        st.caption("\n\n".join(lines))


def lesson_checks(series: str, data: str, cap: int, rows: list[CourseRow]) -> None:
    """Beside the results: which sentences of the series' lesson these numbers show, and which need the full run."""
    claims = SERIES[series].claims
    if not claims:
        return
    checks = check_claims(claims, lesson_numbers(rows))
    shortened = cap != COURSE_LENGTH
    lines = [claim_line(check, shortened) for check in checks]
    st.markdown("**What these numbers show of the lesson**\n\n" + "\n".join(lines))
    missing = [c for c in checks if c.holds is False or (shortened and not c.claim.quick and c.holds is not True)]
    if missing and shortened:
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.info(
            "Part of this lesson needs the full run: "
            + "; ".join(c.claim.text for c in missing)
            + ". Train the series at the course's length to see it (it takes much longer)."
        )
        c2.button(
            "Run the full series", key="tech_run_full", on_click=run_full_series, args=(series, data),
            help="Unticks quick mode and trains every preset of the series at the course's length.",
        )  # fmt: skip


def claim_line(check: ClaimCheck, shortened: bool) -> str:
    """One claim as a Markdown list item: shown, not shown, not trained yet, or needs the full run."""
    text = check.claim.text
    if check.holds:
        return f"- :green[:material/check_circle:] {text} ({check.detail})"
    if shortened and not check.claim.quick:
        so_far = f" ({check.detail} so far)" if check.detail else ""
        return f"- :blue[:material/skip_next:] {text}: needs the full run{so_far}"
    if check.holds is None:
        return f"- :gray[:material/hourglass_empty:] {text}: not trained yet"
    return f"- :red[:material/cancel:] {text}: not shown by these numbers ({check.detail})"


def run_full_series(series: str, data: str) -> None:
    """The "Run the full series" button: course length, and train it (the button's callback, before the page runs)."""
    st.session_state["tech_quick"] = False
    request_in_turn(RUN_KEY, (series, data, COURSE_LENGTH))


def curves_section(rows: list[CourseRow]) -> None:
    """All curves of the series on one chart, one colour per run, in the course's order."""
    metric = st.radio(
        "Curves", list(METRICS), format_func=METRICS.get, horizontal=True, key="tech_metric",
    )  # fmt: skip
    histories = {
        row.preset.label if len(row.results) == 1 else f"{row.preset.label}, seed {r.spec.seed}": r.history
        for row in rows
        for r in row.results
    }
    frame = charts.overlay_frame(histories, metric)
    if frame.empty:
        st.info("Run the series to see its curves here.")
        return
    order = [label for label in histories if label in set(frame["preset"])]
    st.altair_chart(charts.overlay_chart(frame, METRICS[metric], "accuracy" in metric, order), width="stretch")
    if metric.startswith("val_"):
        st.caption("Where a series validates on the test set (C, D, A7), the validation curve is the test curve.")


def ensemble_view(results: list[RunResult], names: list[str]) -> None:
    """Each member's accuracy beside the soft and hard votes."""
    try:
        ens = combine(results)
    except ValueError as exc:
        st.error(plain(exc))
        return
    n = ens.n_test
    average = "Average member"
    models = [*zip(names, ens.member_accuracies, strict=True), (average, ens.mean_member_accuracy),
              (SOFT_VOTE, ens.soft_accuracy), ("Hard voting (majority)", ens.hard_accuracy)]  # fmt: skip
    rows = [
        {"Model": model, "Test accuracy (95% interval)": f"{acc:.1%}" if model == average else format_interval(acc, n),
         "accuracy": acc}
        for model, acc in models
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    left, right = st.columns([3, 2])
    left.table(frame.drop(columns="accuracy"), hide_index=True)
    right.altair_chart(charts.ensemble_chart(frame, SOFT_VOTE), width="stretch")
    gain = (ens.soft_accuracy - ens.mean_member_accuracy) * 100
    st.caption(
        f"Soft voting: {gain:+.1f} points over the average member, "
        f"{(ens.soft_accuracy - ens.best_member_accuracy) * 100:+.1f} over the best one; hard voting "
        f"{(ens.hard_accuracy - ens.mean_member_accuracy) * 100:+.1f} over the average."
    )


def full_text(infos: dict[str, RunInfo], key: str) -> str | None:
    """The chosen run's whole description, for the hover text of a selectbox that may show it compact."""
    info = infos.get(st.session_state.get(key, ""))
    return run_description(info) if info is not None else None
