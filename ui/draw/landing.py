"""Where a drawing lands on the chosen model's hidden-layer map (the Draw page): "your 7 lands among the 1s"."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lab.analysis.predictor import Predictor
from lab.data.sources import class_names
from lab.nn.snapshots import Film, place_digit
from lab.runs.store import RunInfo, RunStore
from ui.app.state import get_store
from ui.charts import inside


@st.cache_resource(max_entries=16, show_spinner=False)
def stored_film(home: str, run_id: str, created: float) -> Film | None:
    """A stored run's film, read once per server (``created`` tells a retrained run apart)."""
    return RunStore(home).film(run_id)


def show_landing(chosen: RunInfo, predictor: Predictor, image: np.ndarray) -> None:
    """The chosen model's last hidden-layer map at the end of its training, the drawing placed on it."""
    st.subheader("Where your drawing lands")
    film = stored_film(str(get_store().home), chosen.run_id, float(chosen.metrics.get("created") or 0.0))
    if film is None or film.setup.map_layer is None:
        why = "has no hidden layer" if film is not None else "was trained before the lab kept snapshots"
        st.caption(f"This model {why}, so there is no hidden-layer map to place your drawing on.")
        return
    placed = place_digit(predictor.model, film, predictor.inputs(image))
    names = class_names(chosen.spec.data)
    neighbours = ", ".join(f"{count} {names[digit]}" for digit, count in placed.votes.items())
    st.markdown(
        f"On the map of the last hidden layer, your drawing lands among the **{names[placed.among]}**s "
        f"(its {sum(placed.votes.values())} nearest dots: {neighbours}). The dots are validation digits where "
        "the network puts them: hover one to see its digit."
    )
    chart = inside.map_chart(film.snapshots[-1], domain=film.map_domain(), class_names=names, placed=placed)
    st.altair_chart(chart, width="stretch")
