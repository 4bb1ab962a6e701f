"""Lesson links: a link that fixes the setup and leaves only the lesson's controls editable.

``?lesson=activation,optimizer`` (``lab.codec.LESSON_PARAM``) in any page's URL:
every spec control outside the lesson is drawn disabled (read-only, showing the
link's value), as TensorFlow Playground's teachers hide controls. The student
sees a "Today's lesson" line and a button back to the full page, which drops the
parameter and keeps the setup. The teacher (panel unlocked in this session) gets
a "Make a lesson link" box under a page's controls.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from lab.codec import KEYS, LESSON_PARAM, format_lesson, parse_lesson, spec_to_query
from lab.spec import SETTINGS, ExperimentSpec
from ui.app.teacher_access import unlocked
from ui.app.text import plain

_SEEN_KEY = "lesson_problem_seen"


def lesson() -> tuple[str, ...] | None:
    """The settings the URL's lesson leaves editable, or None when there is no lesson (the full page).

    A lesson that names no setting at all is reported once and ignored.
    """
    text = st.query_params.get(LESSON_PARAM)
    if text is None:
        return None
    try:
        return parse_lesson(text)
    except ValueError as exc:
        if st.session_state.get(_SEEN_KEY) != text:
            st.session_state[_SEEN_KEY] = text
            st.warning(f"{plain(exc)} The full page is shown.")  # quotes the link
        return None


def locked(field: str) -> bool:
    """Whether the control of spec setting ``field`` is read-only under the URL's lesson."""
    editable = lesson()
    return editable is not None and field not in editable


def label(field: str) -> str:
    """A setting's name in words (its ``lab.spec.SETTINGS`` label)."""
    setting = SETTINGS.get(field)
    return setting.label if setting is not None else field.replace("_", " ")


def lesson_banner() -> None:
    """Under a lesson: "Today's lesson: ..." and a button back to the full page (the setup stays)."""
    editable = lesson()
    if editable is None:
        return
    names = " and ".join(", ".join(label(f) for f in editable).rsplit(", ", 1)) if editable else "nothing"
    st.info(
        f"**Today's lesson: {names}.** Your teacher's link fixed the rest of the setup: those controls are "
        "shown greyed out.",
        icon=":material/school:",
    )
    st.button("Show the full page", key="lesson_full_page", on_click=_drop_lesson, icon=":material/unfold_more:",
              help="Every control editable again; the setup stays as it is.")  # fmt: skip


def _drop_lesson() -> None:
    if LESSON_PARAM in st.query_params:
        del st.query_params[LESSON_PARAM]


def lesson_link(page: str, spec: ExperimentSpec, fields: list[str], base_url: str = "") -> str:
    """The link to ``page`` with ``spec`` set up and only ``fields`` editable (``base_url``: scheme and host)."""
    query = {**spec_to_query(spec), LESSON_PARAM: format_lesson(fields)}
    return f"{base_url}/{page}?{urlencode(query, safe=',:/')}"


def lesson_link_maker(page: str, spec: ExperimentSpec, fields: tuple[str, ...] = KEYS) -> None:
    """For the teacher (panel unlocked in this session): pick the lesson's controls, get the link to hand out."""
    if not unlocked():
        return
    with st.expander("Make a lesson link", icon=":material/school:"):
        chosen = st.multiselect(
            "Controls the lesson is about", list(fields), format_func=label, key=f"{page}_lesson_fields",
            help="Students who open the link can change only these; the rest stays as set now.",
        )  # fmt: skip
        if chosen:
            parts = urlsplit(st.context.url or "")
            base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
            st.code(lesson_link(page, spec, chosen, base), language=None, wrap_lines=True)
            st.caption("Copy it into the class chat; it opens this setup with only those controls editable.")
