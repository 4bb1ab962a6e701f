"""What augmentation shows the network: one digit and random draws of it (the CNN page)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lab.analysis.convnet import augmentation_preview
from lab.spec import Augmentation
from ui.charts import images

PREVIEW_DRAWS = 11


def augmentation_preview_section(aug: Augmentation, digit: np.ndarray, caption: str, key_prefix: str) -> None:
    """One digit and random draws of it under the current augmentation."""
    st.subheader("What augmentation shows the network")
    seed_key = key_prefix + "preview_seed"
    st.session_state.setdefault(seed_key, 0)
    if st.button("New random draws", key=key_prefix + "redraw", help="Draw the random changes again."):
        st.session_state[seed_key] += 1
    if not aug.active:
        st.caption("No augmentation is switched on: training sees every digit as it is. Move a slider on the left.")
    draws = augmentation_preview(digit, aug, PREVIEW_DRAWS, seed=int(st.session_state[seed_key]))
    tiles = np.concatenate([digit[None], draws])
    labels = ["original"] + [f"draw {i}" for i in range(1, PREVIEW_DRAWS + 1)]
    st.image(images.image_grid(tiles, columns=6, mode="gray", labels=labels, scale=3), caption=caption)
    if aug.active:
        st.caption(
            "Each epoch the network sees a new random version of every training digit, so it cannot memorize "
            "where the ink is: it has to learn the strokes."
        )
