"""The Challenge page's parts: the challenge in one line, a student's entry, the leaderboard (public, then
private once the teacher reveals it) with each entry's settings, and a parallel-coordinates view.

Widgets and charts only: the rules, the scores and the ranks are ``lab.challenge``'s. No held-out digit
reaches this module: only two scores per entry do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from lab.challenge.board import EntryRefused
from lab.challenge.leaderboard import FEATURES, Standing, features, standings
from lab.challenge.rules import Challenge
from lab.runs.table import accuracy_text, runs_of
from ui.app.nickname import nickname
from ui.app.state import get_board, get_store
from ui.app.text import plain
from ui.charts.look import current_look, plot_height, styled

REFRESH_SECONDS = 3.0  # the leaderboard redraws itself this often: a class sees entries arrive
ENTRY_KEY = "challenge_entry"


def header(challenge: Challenge) -> None:
    """The challenge's title, its limits and when it ends (or that it ended)."""
    ends = dt.datetime.fromtimestamp(challenge.ends).strftime("%H:%M")
    st.subheader(plain(challenge.title))
    if challenge.revealed:
        state = "Ended: the private scores are revealed."
    elif challenge.accepting():
        state = f"Open until {ends}."
    else:
        state = "Closed: the teacher reveals the private scores at the end."
    st.markdown(f"Enter any run you trained with **{plain(challenge.limits_text())}**. {state}")
    st.caption(
        "Each entry is scored on digits no page of this lab ever shows: half of them score the public "
        "leaderboard below, live; the other half stay private until the teacher reveals them, so a run "
        "tuned to the public half alone shows up then."
    )


def entry_form(challenge: Challenge) -> None:
    """A student's nickname, their runs, and Submit; a run that breaks a rule is refused with the rule."""
    if not challenge.accepting():
        return
    name = nickname()
    if not name:
        st.info("Pick a nickname in the sidebar to enter: then train runs on the Train page, and enter the best here.")
        return
    mine = runs_of(get_store(), name)
    if not mine:
        st.info("You have no run yet: train one on the Train or CNN page (it is credited to your nickname).")
        return
    by_id = {row.run_id: row for row in mine}
    cols = st.columns([4, 1], vertical_alignment="bottom")
    run_id = cols[0].selectbox(
        "Your run",
        list(by_id),
        format_func=lambda i: f"{by_id[i].spec.summary()} · {by_id[i].params:,} parameters · {accuracy_text(by_id[i])}",
        key=ENTRY_KEY,
    )
    if cols[1].button("Submit", key="challenge_submit", type="primary") and run_id is not None:
        result = get_store().get(run_id)
        if result is None:
            st.error("That run was just deleted: pick another.")
            return
        try:
            with st.spinner("Scoring it on the held-out digits ..."):
                entry = get_board().submit(challenge, result, name, by_id[run_id].trained_by)
        except EntryRefused as exc:
            st.error(plain(exc))
            return
        except ValueError as exc:
            st.error(f"This run cannot be scored: {plain(exc)}")
            return
        st.success(f"Entered: public score {entry.public:.1%}.")


@st.fragment(run_every=REFRESH_SECONDS)
def leaderboard(challenge_id: int) -> None:
    """The leaderboard and the parallel-coordinates view, redrawn every few seconds."""
    board = get_board()
    challenge = board.get(challenge_id)
    if challenge is None:
        return
    entries = board.entries(challenge_id)
    st.markdown("#### Leaderboard" + (" (private scores)" if challenge.revealed else " (public scores)"))
    if not entries:
        st.caption("No entries yet.")
        return
    ranked = standings(entries, challenge.revealed)
    st.table(_frame(ranked, challenge.revealed), hide_index=True)  # plain HTML: readable on a projector
    st.altair_chart(parallel_chart(ranked, challenge.revealed), width="stretch")


def _frame(ranked: Sequence[Standing], revealed: bool) -> pd.DataFrame:
    rows = []
    for place in ranked:
        entry = place.entry
        row = {"Rank": place.rank, "Nickname": entry.nickname, "Public score": entry.public * 100}
        if revealed:
            row["Private score"] = entry.private * 100
            row["Public rank"] = place.public_rank
        row |= {"Setup": entry.spec.summary(), "Parameters": f"{entry.params:,}", "Epochs": entry.spec.epochs}
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("Public score", "Private score"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: f"{v:.1f}%")
    return frame


def parallel_chart(ranked: Sequence[Standing], revealed: bool) -> alt.Chart:
    """Every entry as one line across its settings (each axis scaled to its range), coloured by its score."""
    score_title = "Private score" if revealed else "Public score"
    records = []
    for place in ranked:
        entry = place.entry
        score = entry.private if revealed else entry.public
        for axis, value in features(entry).items():
            records.append({"entry": entry.entry_id, "nickname": entry.nickname, "axis": axis, "value": value,
                            "score": score})  # fmt: skip
    frame = pd.DataFrame(records)
    look = current_look()
    chart = (
        alt.Chart(frame)
        .transform_joinaggregate(low="min(value)", high="max(value)", groupby=["axis"])
        .transform_calculate(
            scaled="datum.high > datum.low ? (datum.value - datum.low) / (datum.high - datum.low) : 0.5"
        )
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            # One word a line: eight axis names fit side by side at 1280 pixels, projector or not.
            x=alt.X(
                "axis:N",
                sort=list(FEATURES),
                title=None,
                axis=alt.Axis(labelAngle=0, labelOverlap=False, labelExpr="split(datum.label, ' ')"),
            ),
            y=alt.Y("scaled:Q", title="low → high (each setting's own range)", axis=alt.Axis(labels=False)),
            color=alt.Color(
                "score:Q",
                title=score_title,
                scale=alt.Scale(scheme="viridis"),
                legend=alt.Legend(format=".1%", type="gradient"),
            ),
            detail="entry:N",
            tooltip=[
                "nickname:N",
                "axis:N",
                alt.Tooltip("value:Q", format=".3g"),
                alt.Tooltip("score:Q", format=".1%"),
            ],
        )
        .properties(
            title=alt.Title("Which settings the entries chose", subtitle="one line per entry; the best in yellow"),
            width="container",
            height=plot_height(None),
        )
    )
    return styled(chart, look)
