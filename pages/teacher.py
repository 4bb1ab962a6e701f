"""Teacher: the class server's queue, pretraining, run deletion and limits, behind the server's passphrase."""

import streamlit as st

from ui.app.display import projector_toggle
from ui.app.navigation import ensure_app_navigation
from ui.app.teacher_access import unlocked as teacher_unlocked
from ui.app.teacher_access import write_cookie
from ui.teacher.challenge import challenge_section
from ui.teacher.panel import (
    delete_section,
    limits_section,
    lock_button,
    pretrain_section,
    store_section,
    trainings_section,
    unlock_form,
)

ensure_app_navigation()
projector_toggle()

st.title(":material/admin_panel_settings: Teacher's panel")
write_cookie()  # the token an unlock (or a lock) of the last run asked this browser to keep (or forget)
if not teacher_unlocked():
    st.markdown("For the teacher of this class server: the trainings of every student, pretraining and limits.")
    unlock_form()
else:
    trainings_section()
    challenge_section()
    pretrain_section()
    delete_section()
    store_section()
    limits_section()
    lock_button()
