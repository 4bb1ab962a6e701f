"""How the pages look on a projector: the sidebar's "Projector" toggle, also set by ``?projector=1``.

Every page calls ``projector_toggle()`` first: it draws the toggle, enlarges the
page's text with a style sheet when it is on, and tells ``ui.charts`` which sizes
to draw with (``charts.use_look``), so that every chart the page draws after it
follows. A fragment that reruns on its own calls ``apply_look()`` to do the same
without drawing the toggle again.
"""

from __future__ import annotations

import streamlit as st

from lab.codec import LESSON_PARAM
from ui import charts

PROJECTOR_KEY = "projector"
PROJECTOR_PARAM = "projector"  # ?projector=1 in any page's URL
# Query parameters that are no spec setting (ui.app.url leaves them alone): the look, and a lesson link's controls.
URL_SETTINGS = (PROJECTOR_PARAM, LESSON_PARAM)
_CHOICE_KEY = "_projector_choice"  # the session's choice, kept across pages (plain session state)
_SEEN_PARAM = "_projector_param"  # the URL value already applied, so a later toggle wins over the link
PROJECTOR_CSS = """
<style>
/* Projector: the page's own text a quarter larger (paragraphs, lists, captions, notes, tables, headings).
   Controls keep their size, so that their labels and choices still fit beside the sidebar at 1280x720. */
[data-testid="stMain"] [data-testid="stMarkdown"] :is(p, li) { font-size: 1.25rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.15rem; }
[data-testid="stMain"] [data-testid="stAlert"] :is(p, li) { font-size: 1.2rem; }
[data-testid="stMain"] [data-testid="stTable"] { font-size: 1.1rem; }
[data-testid="stMain"] h1 { font-size: 3.2rem; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2.1rem; }
/* The rest of what a class reads: the sidebar (its navigation, labels and values), tabs, metrics, expanders. */
[data-testid="stSidebar"] :is(p, li, label, [data-testid="stSidebarNavLink"] span) { font-size: 1.12rem; }
[data-testid="stMain"] [data-testid="stTab"] p { font-size: 1.3rem; }
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.15rem; }
[data-testid="stMain"] [data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stMain"] [data-testid="stExpander"] summary p { font-size: 1.2rem; }
[data-testid="stMain"] [data-testid="stTable"] :is(th, td) { font-size: 1.1rem; }
[data-testid="stMain"] [data-testid="stImageCaption"] { font-size: 1.05rem; }
</style>
"""
# Both looks: captions (and image captions) dark and at least 15 px, readable from the back of a room.
READABLE_CSS = """
<style>
:is([data-testid="stCaptionContainer"], [data-testid="stImageCaption"]) { font-size: 0.95rem; }
:is([data-testid="stCaptionContainer"], [data-testid="stImageCaption"]),
:is([data-testid="stCaptionContainer"], [data-testid="stImageCaption"]) :is(p, li, span) { color: #3d4150 !important; }
</style>
"""


def projector_on() -> bool:
    """Whether this session shows the page for a projector."""
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def projector_toggle() -> bool:
    """The sidebar's Projector toggle (seeded from ``?projector=1``); applies the look; returns whether it is on.

    The choice is kept in plain session state (``_CHOICE_KEY``) and put back into the toggle on every page: a
    widget's own state is its page's, and Streamlit drops it when the class moves to another page.
    """
    wanted = st.query_params.get(PROJECTOR_PARAM)
    if wanted is not None and st.session_state.get(_SEEN_PARAM) != wanted:
        # A link followed (or typed) with ?projector=...: it sets the toggle once; clicking the toggle then wins.
        st.session_state[_SEEN_PARAM] = wanted
        st.session_state[_CHOICE_KEY] = wanted.strip().lower() in ("1", "true", "yes", "on")
    st.session_state[PROJECTOR_KEY] = bool(st.session_state.get(_CHOICE_KEY, False))
    on = st.sidebar.toggle(
        "Projector",
        key=PROJECTOR_KEY,
        on_change=_remember_choice,
        help="Larger charts and text, for a class watching a projector. A link with ?projector=1 opens any page so.",
    )
    # Keep the URL in step, so that a copied link opens the page the same way.
    if on and st.query_params.get(PROJECTOR_PARAM) != "1":
        st.query_params[PROJECTOR_PARAM] = "1"
        st.session_state[_SEEN_PARAM] = "1"
    elif not on and PROJECTOR_PARAM in st.query_params:
        del st.query_params[PROJECTOR_PARAM]
        st.session_state.pop(_SEEN_PARAM, None)
    apply_look()
    return bool(on)


def _remember_choice() -> None:
    st.session_state[_CHOICE_KEY] = bool(st.session_state.get(PROJECTOR_KEY, False))


def apply_look() -> None:
    """Draw this run's charts (and text) at the session's sizes: larger when the projector is on."""
    on = projector_on()
    charts.use_look(charts.PROJECTOR if on else charts.NORMAL)
    st.html(READABLE_CSS + (PROJECTOR_CSS if on else ""))
