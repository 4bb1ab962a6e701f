"""MLP Lab: see what each training technique does to a neural network on handwritten digits.

Run with ``streamlit run streamlit_app.py``.
"""

import streamlit as st

from lab.runs.warm import start_warm_up
from ui.app.keras_session import keep_keras_session
from ui.app.nickname import nickname_sidebar

st.set_page_config(page_title="MLP Lab", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/techniques.py", title="Techniques", icon=":material/science:", url_path="techniques"),
    st.Page("pages/cnn.py", title="CNN", icon=":material/grid_on:", url_path="cnn"),
    st.Page("pages/gradients.py", title="Gradients", icon=":material/monitoring:", url_path="gradients"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:", url_path="tune"),
    st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs"),
    st.Page("pages/challenge.py", title="Challenge", icon=":material/emoji_events:", url_path="challenge"),
    # Locked by the server's passphrase: a student who opens it sees only the passphrase field.
    st.Page("pages/teacher.py", title="Teacher", icon=":material/admin_panel_settings:", url_path="teacher"),
]

# Trainings and predictions run beside other sessions' reruns: Streamlit must not clear Keras' state.
keep_keras_session()
# Import TensorFlow and prepare the default data in a background thread, once per server
# process, so that the first press of Train trains at once; Home never waits for it.
start_warm_up()
page = st.navigation(PAGES)
nickname_sidebar()  # every page: the runs this session trains are credited to it
page.run()
