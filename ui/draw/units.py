"""Which first-layer units fire for a drawing, with their input weights (the Draw page)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lab.analysis.images import enlarge, signed_to_rgb
from lab.analysis.predictor import UnitView
from ui.charts import images


def show_units(view: UnitView | None) -> None:
    """The first-layer units that fire most for this drawing, with their input weights."""
    st.subheader("Which first-layer units fire")
    if view is None:
        st.caption("This model's first layer cannot be shown.")
        return
    captions = [f"#{u} · {a:.2f}" for u, a in zip(view.units, view.activations, strict=True)]
    if view.kind == "conv":
        st.markdown(
            f"{view.active} of {view.total} first-layer filters (`{view.layer}`) respond. The strongest, by mean "
            "activation: each filter's 3x3 weights (red +, blue −), then where in the image it fires (its feature map)."
        )
        side = view.filters.shape[1]
        image_row([signed_to_rgb(f, max(1, 84 // side)) for f in view.filters], captions)
        image_row([enlarge(images.scaled_to_peak(m), 3) for m in view.maps], [f"map of #{u}" for u in view.units])
        return
    if view.layer == "output":
        st.markdown(
            "This model has no hidden layer: its only units are the ten output units, one template per digit. "
            "Red pixels speak for that digit, blue ones against it."
        )
    else:
        st.markdown(
            f"{view.active} of {view.total} units of `{view.layer}` fire for this drawing. These fire most; "
            "each picture is the unit's 784 input weights: red where ink makes it fire, blue where ink holds it back. "
            "The number is its activation."
        )
    image_row([signed_to_rgb(f, 4) for f in view.filters], captions)


def image_row(pictures: list[np.ndarray], captions: list[str]) -> None:
    """Small images side by side in one row, each scaled to its column."""
    for column, image, caption in zip(st.columns(len(pictures)), pictures, captions, strict=True):
        column.image(image, caption=caption, width="stretch")
