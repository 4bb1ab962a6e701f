"""Home: what the lab is, a first lesson in five links, and where each lesson lives."""

import streamlit as st

from lab.catalog.first_lesson import START_HERE
from lab.codec import spec_to_query
from ui.app.display import projector_toggle
from ui.app.engine import engine_status
from ui.app.navigation import ensure_app_navigation

ensure_app_navigation()
projector_toggle()

st.title(":material/neurology: MLP Lab")
st.markdown(
    "Train real Keras networks on handwritten digits (MNIST) and **see** what each technique does: "
    "weight initialization, activation functions, optimizers, batch normalization, dropout, L2, "
    "early stopping, ensembles, augmentation, and MLP versus CNN."
)

st.subheader(":material/flag: Start here: a first lesson in five steps")
st.caption("Each link opens its page with the setup ready: press the page's Train button and watch.")
for number, step in enumerate(START_HERE, start=1):
    query = None
    if step.spec is not None:
        # The defaults write no setting: a link still names one, or the page would keep this session's setup.
        query = spec_to_query(step.spec) or {"epochs": str(step.spec.epochs)}
    st.page_link(f"pages/{step.page}.py", label=f"{number}. {step.title}", icon=step.icon, query_params=query)
    st.caption(step.what_to_see)

st.subheader("Every page")
st.page_link(
    "pages/train.py",
    label="Train a network: sliders for every technique, live curves, learned filters",
    icon=":material/model_training:",
)
st.page_link("pages/draw.py", label="Draw a digit and see what every model predicts", icon=":material/draw:")
st.page_link(
    "pages/techniques.py", label="Every experiment of the course as a one-click preset", icon=":material/science:"
)
st.page_link("pages/cnn.py", label="Convolutional networks and data augmentation", icon=":material/grid_on:")
st.page_link(
    "pages/gradients.py", label="Vanishing and exploding gradients, as they happen", icon=":material/monitoring:"
)
st.page_link(
    "pages/tune.py", label="Search hyperparameters automatically, and watch the search", icon=":material/tune:"
)
st.caption(
    "In front of a class, switch on **Projector** in the sidebar (or add `?projector=1` to any link): "
    "larger charts and text."
)
engine_status()
