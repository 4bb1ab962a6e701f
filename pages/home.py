"""Home: what the lab is, and where each lesson lives."""

import streamlit as st

from ui.navigation import ensure_app_navigation

ensure_app_navigation()

st.title(":material/neurology: MLP Lab")
st.markdown(
    "Train real Keras networks on handwritten digits (MNIST) and **see** what each technique does: "
    "weight initialization, activation functions, optimizers, batch normalization, dropout, L2, "
    "early stopping, ensembles, augmentation, and MLP versus CNN."
)
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
