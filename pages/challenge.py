"""Challenge: the teacher's class contest; enter a run, watch the public leaderboard, see the private one at the end."""

import streamlit as st

from ui.app.display import projector_toggle
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_board
from ui.challenge import board_view

ensure_app_navigation()
projector_toggle()

st.title(":material/emoji_events: Class challenge")
challenge = get_board().latest()
if challenge is None:
    st.info("No challenge yet: the teacher opens one from the teacher's panel.")
    st.stop()

board_view.header(challenge)
board_view.entry_form(challenge)
board_view.leaderboard(challenge.challenge_id)
