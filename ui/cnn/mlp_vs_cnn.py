"""MLP vs CNN (course series B): our stored runs beside the course's figures, on plain and shifted digits.

The CNN page's bottom section: a table of the B presets from the run store, a
chart of each trained model's accuracy on the test digits as they are and moved
a few pixels, and a way to train the presets not stored yet.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lab.analysis.shift import SHIFT_MAX, SHIFT_MIN, shifted_accuracy
from lab.architecture import count_params
from lab.catalog.presets import Preset, list_presets
from lab.data.sources import SOURCES as SOURCE_NAMES
from lab.reports.course_table import NOT_TRAINED, CourseRow, best_stored_rows
from ui import charts
from ui.app.jobs import run_spec
from ui.app.state import get_store
from ui.app.text import fmt_percent, fmt_seconds, plain

P = "cnn_"  # the CNN page's widget keys
CAP_OPTIONS = (0, 1, 5, 10, 20, 50)  # epochs caps for training a missing preset; 0 = the course's length
SHIFTED = f"Shifted {SHIFT_MIN}-{SHIFT_MAX} px"
NOT_TRAINED_YET = "not trained yet"


@st.cache_data(max_entries=64, show_spinner="Testing on shifted digits ...")
def shift_scores(home: str, run_id: str, created: float) -> tuple[float, float] | None:
    """(plain, shifted) test accuracy of a stored run; None when its model is missing."""
    result = get_store().get(run_id)
    if result is None or result.model is None:
        return None
    scores = shifted_accuracy(result.model, result.spec, result.mean)
    return scores.plain, scores.shifted


def comparison_table(rows: list[CourseRow], with_shift: bool) -> list[dict[str, Any]]:
    """One line per B preset: our stored result (and its shifted accuracy) beside the course's figures (numbers)."""
    home = str(get_store().home)
    lines = []
    for row in rows:
        preset, shifted = row.preset, None
        if with_shift and row.results:
            scores = shift_scores(home, row.results[0].run_id, row.results[0].created)
            shifted = scores[1] if scores is not None else None
        lines.append(
            {
                "Preset": preset.name,
                "Model": preset.title,
                "Kind": "CNN" if preset.spec.conv else "MLP",
                "Parameters": count_params(preset.spec),
                "Course parameters": preset.course_params,
                "Course accuracy": row.course_figure,
                "Our accuracy": row.accuracy,
                SHIFTED: shifted,
                "Epochs": row.epochs_run,
                "Seconds": row.seconds if row.results else None,
                "Status": row.status,
            }
        )
    return lines


def table_text(lines: list[dict[str, Any]], with_shift: bool) -> pd.DataFrame:
    """The comparison as the page shows it: every cell in words, an empty one saying what is missing."""

    def missing(line: dict[str, Any]) -> str:
        return NOT_TRAINED_YET if line["Status"] == NOT_TRAINED else "not stored"

    shown = []
    for line in lines:
        trained = line["Status"] != NOT_TRAINED
        if line[SHIFTED] is not None:
            shifted = fmt_percent(line[SHIFTED])
        elif not trained:
            shifted = NOT_TRAINED_YET
        else:
            shifted = "switched off above" if not with_shift else "model file missing"
        shown.append(
            {
                "Preset": line["Preset"],
                "Model": line["Model"].replace("+ ", "\\+ ", 1),  # a table cell is Markdown: "+ noise" is no list
                "Kind": line["Kind"],
                "Parameters": f"{line['Parameters']:,}",
                "Course parameters": f"{line['Course parameters']:,}" if line["Course parameters"] else "—",
                "Course accuracy": line["Course accuracy"],
                "Our accuracy": missing(line) if line["Our accuracy"] is None else fmt_percent(line["Our accuracy"]),
                SHIFTED: shifted,
                "Epochs": str(line["Epochs"]) if line["Epochs"] is not None else NOT_TRAINED_YET,
                "Training time": fmt_seconds(line["Seconds"]) if line["Seconds"] is not None else NOT_TRAINED_YET,
                "Status": NOT_TRAINED_YET if not trained else line["Status"],
            }
        )
    return pd.DataFrame(shown)


def mlp_vs_cnn_section() -> None:
    """MLP vs CNN: the B series from the store, beside the course's figures, on plain and shifted digits."""
    st.header("MLP vs CNN: course series B")
    presets = list_presets("B")
    store = get_store()
    with_shift = st.toggle(
        "Test every trained model on shifted digits",
        value=True,
        key=P + "with_shift",
        help="Loads each stored model once (a few seconds the first time).",
    )
    rows = best_stored_rows(presets, store)
    try:
        table = comparison_table(rows, with_shift)
    except ValueError as exc:
        st.error(plain(exc))
        return
    st.table(table_text(table, with_shift), hide_index=True)  # all eleven presets, every column, text wrapped
    data_name = SOURCE_NAMES.get(presets[0].spec.data, presets[0].spec.data) if presets else ""
    st.caption(
        f"Our runs: {data_name}, the course's settings otherwise (each preset's notes are on the Techniques page). "
        f"The shifted column moves every test digit {SHIFT_MIN}-{SHIFT_MAX} pixels: MLPs lose most of their accuracy, "
        "CNNs without augmentation a little less, and the CNNs trained on shifted copies (B10, B11) hardly any. "
        "Presets not trained yet can be trained below, capped to a few epochs for a quick look."
    )
    scores = [
        (line["Preset"], line["Kind"], line["Our accuracy"], line[SHIFTED])
        for line in table
        if line["Our accuracy"] is not None and line[SHIFTED] is not None
    ]
    if scores:
        st.altair_chart(charts.shift_comparison_chart(scores), width="stretch")
    missing = [row.preset for row in rows if row.status == NOT_TRAINED]
    train_missing(missing)


def train_missing(missing: list[Preset]) -> None:
    """Train a preset of the table that is not in the store yet, followed live until it is."""
    job_key = P + "compare_spec"
    following = st.session_state.get(job_key)
    if following is not None:
        # A rerun while it trains (any click) comes back here and keeps following the same job.
        result = run_spec(following, "cnn-compare", start=False)
        st.session_state.pop(job_key, None)
        if result is not None:
            st.rerun()
        return
    if not missing:
        return
    by_name = {p.name: p for p in missing}
    c1, c2, c3 = st.columns([2, 2, 1])
    name = c1.selectbox(
        "Train a missing preset", list(by_name), format_func=lambda n: by_name[n].label, key=P + "missing"
    )
    cap = c2.selectbox(
        "Epochs",
        CAP_OPTIONS,
        format_func=lambda c: (
            f"the course's ({by_name[name].spec.epochs}, early stopping)" if c == 0 else f"at most {c}"
        ),
        key=P + "cap",
        help="A cap trains faster; the table says when a run was capped.",
    )
    with c3:
        st.write("")
        clicked = st.button("Train it", key=P + "train_missing")
    if clicked:
        spec = by_name[name].capped(int(cap)).spec
        st.session_state[job_key] = spec
        result = run_spec(spec, "cnn-compare", start=True)
        st.session_state.pop(job_key, None)
        if result is not None:
            st.rerun()
