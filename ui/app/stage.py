"""One screen, as a stage: what a class watches while a network trains, all in view at 1280x720.

Train and Stop, the status line and the progress bar in one row; under it the loss and
accuracy curves beside the network's inside (the first layer's filters, or a CNN's
kernels). The Train and CNN pages open it right under their title; their intro and the
rest (the network's table, mistakes, the Keras code) come below it. ``follow`` draws the
Stop button and the status line into the stage's places while a training runs, and the
live curves into its curve slot; after the rerun the page draws the stored run's curves
and pictures into the same slots, so nothing on the screen moves when a training ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from lab.nn.result import EpochReport
from ui import charts
from ui.app.jobs import FollowPlaces, live_curves

# The page's body starts higher than Streamlit's 6rem: the stage's lowest picture ends above 720 px.
# Streamlit's header (its menu, 3.75rem) stays clear.
STAGE_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; }
/* The title on one line, projector or not: the stage under it is what the class reads. */
[data-testid="stMain"] h1 { padding-top: 0.25rem; font-size: 2.4rem; }
</style>
"""


@dataclass(frozen=True)
class Stage:
    """The places of the stage, filled by the page and by ``follow``.

    Attributes
    ----------
    train : Any
        The Train button's column.
    stop : Any
        The Stop button's column (empty unless a training runs).
    status : Any
        The status line and the progress bar while training; the run's origin after.
    curves : Any
        A placeholder (``st.empty``) for loss and accuracy, side by side: live, then stored.
    inside : Any
        A placeholder for the network's inside: the first layer's filters or a CNN's kernels.
    """

    train: Any
    stop: Any
    status: Any
    curves: Any
    inside: Any

    @property
    def places(self) -> FollowPlaces:
        """Where ``follow`` puts the Stop button and the status line."""
        return FollowPlaces(stop=self.stop, status=self.status)


def open_stage() -> Stage:
    """Lay the stage out here (right under the page's title) and return its places, still empty."""
    st.html(STAGE_CSS)
    with st.container(key="stage"):
        train, stop, status = st.columns([1.1, 1.6, 5.3], vertical_alignment="center")
        curves, inside = st.columns([2, 1], gap="medium")
    return Stage(train, stop, status, curves.empty(), inside.empty())


def stage_render(
    stage: Stage, output: str, inside: Callable[[EpochReport], None] | None = None
) -> Callable[[EpochReport], None]:
    """A ``render`` for ``follow``: the live curves in the stage's curve slot, and ``inside(report)`` beside them.

    ``output`` (the spec's) names the loss's chance line. ``inside`` draws the network's inside as it
    trains (the newest snapshot), into ``stage.inside``; without one that place is left as it is.
    """
    curves = live_curves(stage.curves, output=output, stage=True)

    def render(report: EpochReport) -> None:
        curves(report)
        if inside is not None:
            with stage.inside.container():
                inside(report)

    render.prepare = curves.prepare  # follow builds the charts while the model is built
    return render


def show_curves(
    stage: Stage,
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    log_scale: bool = False,
    moment: float | None = None,
    **frame: Any,
) -> None:
    """The stored run's loss and accuracy on the stage, where the live ones grew (``charts.curves_chart``).

    ``frame``: ``best_epochs``, ``epochs``, ``output``, ``points`` or ``run_points``, as ``curves_chart``
    takes them; ``moment``: the epoch a replay shows, marked on both.
    """
    with stage.curves.container():
        c1, c2 = st.columns(2)
        loss = charts.curves_chart(histories, "loss", log_scale=log_scale, stage=True, moment=moment, **frame)
        c1.altair_chart(loss, width="stretch")
        c2.altair_chart(charts.curves_chart(histories, "accuracy", stage=True, moment=moment, **frame), width="stretch")
