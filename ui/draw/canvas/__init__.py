"""The Draw page's live canvas: a Streamlit custom component (v2) that answers in the browser while the pen moves.

The HTML, CSS and JavaScript sit beside this module and are read once: no iframe, no
network, no build step. The page hands it the listed models as
:func:`lab.analysis.export.export_predictor` describes them; the browser draws,
prepares the 28x28 input as :func:`lab.analysis.canvas.to_mnist` does, runs every
model, lights up the chosen one's layers and its saliency, and tells the server
about the drawing (a PNG data URL) when a stroke ends.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

HERE = Path(__file__).parent
COMPONENT_NAME = "mlp_lab_live_canvas"
SIDE = 280  # canvas pixels, as the old canvas: to_mnist's thresholds were tuned on it
log = logging.getLogger(__name__)


@functools.cache
def _component() -> Any:
    """Registered once per process: the files are read here, not on every rerun."""
    return st.components.v2.component(
        COMPONENT_NAME,
        html=(HERE / "canvas.html").read_text(encoding="utf-8"),
        css=(HERE / "canvas.css").read_text(encoding="utf-8"),
        js=(HERE / "canvas.js").read_text(encoding="utf-8"),
    )


def model_key(model: dict[str, Any]) -> str:
    """How the browser names a model it holds: run id and creation time (a retrained run is a new model)."""
    return f"{model['run']}@{model['created']}"


def live_canvas(key: str, models: list[dict[str, Any]], chosen: str, center: bool) -> dict[str, Any] | None:
    """Mount the live canvas; return the last drawing the browser sent (``{"data": PNG data URL, ...}``) or None.

    The weights of a model go to the page once: the browser reports the models it holds (state ``cached``), and
    later reruns send only their names.

    Parameters
    ----------
    key : str
        The component's key: its state lives under it in session state.
    models : list of dict
        Exported models (``export_predictor``) with ``created`` (tells a retrained run apart) and ``label``
        (the table's text).
    chosen : str
        The run whose answer, network and saliency are shown large.
    center : bool
        MNIST's cropping and centering (True) or the whole canvas shrunk (False), as ``to_mnist``'s ``center``.
    """
    state = st.session_state.get(key)
    cached = set(state.get("cached") or []) if hasattr(state, "get") else set()
    sent = [
        {name: value for name, value in model.items() if name != "ops"} if model_key(model) in cached else model
        for model in models
    ]
    result = _component()(
        key=key,
        data={"models": sent, "chosen": chosen, "center": center, "cached": sorted(cached)},
        default={"drawing": None, "cached": []},
        on_drawing_change=lambda: None,
        on_cached_change=lambda: None,
    )
    drawing = result.get("drawing") if hasattr(result, "get") else getattr(result, "drawing", None)
    return drawing if isinstance(drawing, dict) and drawing.get("data") else None


def decode_drawing(data_url: str) -> np.ndarray | None:
    """The PNG data URL the canvas sends at the end of a stroke, as (H, W, 4) uint8; None if it is not one."""
    try:
        encoded = data_url.split(",", 1)[1]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded)), formats=["PNG"]).convert("RGBA"))
    except (IndexError, ValueError, OSError):
        log.warning("The canvas sent a drawing that is not a PNG data URL")
        return None
