"""One screen, as a stage: what a class watches while a network trains, all in view at 1280x720.

Train and Stop, the status line and the progress bar in one row; under it the loss and
accuracy curves beside the network's inside (the first layer's filters, or a CNN's
kernels), and under those the hidden-layer map, the confusion matrix, the output weights
and the dead or saturated units. The Train and CNN pages open it right under their title;
their intro and the rest (the network's table, mistakes, the Keras code) come below it.

- While a run trains, ``follow`` draws the Stop button and the status line into the stage's
  places and calls ``stage_render``'s render: the live curves, and every view redrawn from the
  newest snapshot of the network's inside (``lab.nn.snapshots``) as it comes.
- After it, ``replay`` shows the stored run's film: an epoch slider and a Play button that move
  every view together, the curves marked at the chosen moment, optionally beside a second run
  (the same views, side by side). A run stored before snapshots shows its curves and the page's
  own final pictures (``stage_slots``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from lab.nn.result import EpochReport, RunResult
from lab.nn.snapshots import Film, Snapshot
from ui import charts
from ui.app.jobs import FollowPlaces, duration_text, live_curves
from ui.app.text import fmt_percent
from ui.charts import figures, inside, look

# The page's body starts higher than Streamlit's 6rem: the stage's lowest picture ends above 720 px.
# Streamlit's header (its menu, 3.75rem) stays clear.
STAGE_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; }
/* The title on one line, projector or not: the stage under it is what the class reads. */
[data-testid="stMain"] h1 { padding-top: 0.25rem; font-size: 2.4rem; }
</style>
"""
CHARTS_SECONDS = 0.9  # the inside's charts are redrawn at most this often while training (the filters each time)
PLAY_SECONDS = 1.0  # a replay's Play moves one snapshot on this often
VIEW_SIDE = 340  # the map's and the confusion matrix's side under the stage (two side by side)
FILTER_COLUMNS = 8  # the filter picture's tiles per row, beside the curves


@dataclass(frozen=True)
class Stage:
    """The places of the stage, filled by the page, by ``follow`` and by ``replay``.

    Attributes
    ----------
    train : Any
        The Train button's column.
    stop : Any
        The Stop button's column (empty unless a training runs).
    status : Any
        The status line and the progress bar while training.
    body : Any
        A placeholder (``st.empty``) for the rest: curves beside the inside, then the inside's views. Filled
        once per page run (``fill_body``).
    """

    train: Any
    stop: Any
    status: Any
    body: Any
    filled: list[str] = field(default_factory=list, compare=False, repr=False)  # who filled the body this run

    @property
    def places(self) -> FollowPlaces:
        """Where ``follow`` puts the Stop button and the status line."""
        return FollowPlaces(stop=self.stop, status=self.status)


@dataclass(frozen=True)
class StageSlots:
    """The stage's body laid out: placeholders for the curves, the inside beside them, and the views below."""

    curves: Any
    inside: Any
    views: Any


def open_stage() -> Stage:
    """Lay the stage out here (right under the page's title) and return its places, still empty."""
    st.html(STAGE_CSS)
    with st.container(key="stage"):
        train, stop, status = st.columns([1.1, 1.6, 5.3], vertical_alignment="center")
        body = st.empty()
    return Stage(train, stop, status, body)


def fill_body(stage: Stage, by: str) -> Any:
    """The stage's body as a container, for ``by`` (a name, for the error) to fill: once per page run.

    Filling the same place twice in one run can break the page in the browser: Streamlit merges queued
    updates that address the same element, so the second layout's first elements could reach the browser
    before the second container itself, which then refuses the rest ("Bad delta path index") and goes
    blank. Laying the stage out once is what keeps that from happening; this makes a second try fail
    loudly (in the tests) instead.
    """
    if stage.filled:
        raise RuntimeError(f"the stage's body was filled by {stage.filled[0]}; {by} cannot fill it again")
    stage.filled.append(by)
    return stage.body.container()


def stage_slots(stage: Stage) -> StageSlots:
    """Fill the stage's body with its layout: curves (two thirds) beside the inside, the views under both."""
    with fill_body(stage, "stage_slots"):
        curves, side = st.columns([2, 1], gap="medium")
        return StageSlots(curves.empty(), side.empty(), st.empty())


def result_line(stage: Stage, result: RunResult) -> None:
    """Beside Train once a run shows: its test accuracy, epochs and training time, in view with the curves.

    Where the progress line stood while it trained; the headline under the stage says more (the change from
    the run before, the loss).
    """
    figure = "Diverged" if result.diverged else f"Test accuracy {fmt_percent(result.test_accuracy)}"
    epochs = f"{result.epochs_run} of {result.spec.epochs} epochs"
    stage.status.markdown(f"**{figure}** · {epochs} in {duration_text(result.train_seconds)}")


# ------------------------------------------------------------------ live
def stage_render(stage: Stage, output: str, class_names: Sequence[str]) -> Callable[[EpochReport], None]:
    """A ``render`` for ``follow``: the live curves, and the inside redrawn from each new snapshot beside them.

    The stage's body is laid out (``stage_slots``) when a training is followed, not before: a page that shows
    a stored run fills it with the replay instead. ``output`` (the spec's) names the loss's chance line;
    ``class_names`` the ten digits (the confusion matrix, the map). The filters are redrawn from every new
    snapshot, the charts under them at most every ``CHARTS_SECONDS``, each from the newest.
    """
    live: dict[str, Any] = {}
    drawn = {"charts": 0.0}

    def laid_out() -> dict[str, Any]:
        if not live:
            slots = stage_slots(stage)
            live["curves"] = live_curves(slots.curves, output=output, stage=True)
            live["places"] = _LivePlaces(slots, class_names)
        return live

    def prepare(epochs: int) -> None:
        laid_out()["curves"].prepare(epochs)  # the charts built while the model is

    def render(report: EpochReport) -> None:
        laid_out()["curves"](report)

    def snapshot(shot: Snapshot) -> None:
        places = laid_out()["places"]
        places.filters(shot)
        now = time.monotonic()
        if now - drawn["charts"] >= CHARTS_SECONDS:
            drawn["charts"] = now
            places.views(shot)

    render.prepare = prepare  # follow builds the charts while the model is built
    render.snapshot = snapshot  # follow calls it with each new snapshot
    return render


class _LivePlaces:
    """The live inside's places, laid out once per training, then each redrawn in place.

    Every place holds one element. Re-laying a container of several elements from every snapshot
    broke the page of a short training: Streamlit merges queued updates to the same element path, so
    a second container's first element could be sent before the first container's others, and the
    browser refused the rest ("Bad delta path index") and went blank.
    """

    def __init__(self, slots: StageSlots, class_names: Sequence[str]) -> None:
        self.slots = slots
        self.live = inside.LiveSpecs(class_names, VIEW_SIDE)  # each chart built once, then only its rows change
        self.side: list[Any] | None = None
        self.charts: dict[str, Any] | None = None

    def filters(self, shot: Snapshot) -> None:
        """The filters (kernels) beside the curves, and the hidden layers' dead or saturated share."""
        if self.side is None:
            with self.slots.inside.container():
                self.side = [st.empty(), st.empty(), st.empty()]
        title, picture, health = self.side
        title.markdown(filters_title(shot))
        picture.image(inside.filters_picture(shot, columns=FILTER_COLUMNS), caption=inside.filter_units_caption(shot))
        text = health_text(shot)
        if text:
            health.caption(text)

    def views(self, shot: Snapshot) -> None:
        """Under the curves, in tabs: the map beside the confusion matrix, the output weights, the feature maps."""
        maps = inside.feature_map_pictures(shot)
        if self.charts is None:
            with self.slots.views.container():
                self.charts = _view_places(shot, len(maps))
        _draw_views(self.charts, shot, maps, self.live)


# ---------------------------------------------------------- one moment
def filters_view(shot: Snapshot, title: str | None = None) -> None:
    """The first layer's filters (a CNN's kernels) at this moment, and its hidden layers' dead or saturated share."""
    st.markdown(filters_title(shot, title))
    st.image(inside.filters_picture(shot, columns=FILTER_COLUMNS), caption=inside.filter_units_caption(shot))
    health = health_text(shot)
    if health:
        st.caption(health)


def filters_title(shot: Snapshot, title: str | None = None) -> str:
    """``**First layer**: its filters, epoch 3``, a CNN's ``**First convolution**: its kernels, ...``; ``title``
    in place of the layer's name (a side-by-side replay names the runs)."""
    conv = shot.kernels is not None
    title = title or ("First convolution" if conv else "First layer")
    return f"**{title}**: its {'kernels' if conv else 'filters'}, {shot.label}"


def health_text(shot: Snapshot) -> str:
    """``hidden_1: 12% dead`` for each hidden layer whose activation can die or saturate."""
    parts = []
    for i, layer in enumerate(shot.setup.layers):
        for word, values in (("dead", shot.dead), ("saturated", shot.saturated)):
            value = float(values[i])
            if value == value:  # NaN: this activation has no such state
                parts.append(f"{layer}: {value:.0%} {word}")
    return " · ".join(parts)


def views(
    shot: Snapshot,
    live: inside.LiveSpecs,
    *,
    map_domain: tuple[float, float] | None = None,
    weight_domain: tuple[float, float] | None = None,
) -> None:
    """Under the curves, in tabs: the hidden-layer map beside the confusion matrix, the output weights, and a
    CNN's feature maps. ``live``: the map's and the confusion matrix's specs, built once
    (``inside.LiveSpecs``), which only take this snapshot's rows. ``map_domain``, ``weight_domain``: a whole
    film's axes, so that a replay's frames compare.
    """
    maps = inside.feature_map_pictures(shot)
    _draw_views(_view_places(shot, len(maps)), shot, maps, live, map_domain=map_domain, weight_domain=weight_domain)


def _view_places(shot: Snapshot, feature_layers: int) -> dict[str, Any]:
    """The views' tabs laid out here, and a place (``st.empty``) for each chart and feature-map picture."""
    names = (
        ["Map and confusion matrix"]
        + ["Output weights"] * (shot.map_xy is not None)  # a hidden layer feeds the outputs
        + ["Feature maps"] * bool(feature_layers)
    )
    places: dict[str, Any] = {}
    tabs = dict(zip(names, st.tabs(names), strict=True))
    with tabs["Map and confusion matrix"]:
        c1, c2 = st.columns(2)
        if shot.map_xy is not None:
            places["map"] = c1.empty()
            c1.caption(inside.MAP_SUBTITLE)
        places["confusion"] = c2.empty()
    if "Output weights" in tabs:
        places["weights"] = tabs["Output weights"].empty()
    if feature_layers:
        places["features"] = [tabs["Feature maps"].empty() for _ in range(feature_layers)]
    return places


def _draw_views(
    places: dict[str, Any],
    shot: Snapshot,
    maps: Sequence[tuple[str, Any]],
    live: inside.LiveSpecs,
    *,
    map_domain: tuple[float, float] | None = None,
    weight_domain: tuple[float, float] | None = None,
) -> None:
    """Each view of ``shot`` into its place (``_view_places``); ``maps``: its feature-map pictures."""
    if "map" in places and shot.map_xy is not None:
        places["map"].vega_lite_chart(live.map(shot, map_domain), width="content")
    places["confusion"].vega_lite_chart(live.confusion(shot), width="content")
    if "weights" in places:
        if weight_domain is None:
            places["weights"].vega_lite_chart(live.output_weights(shot), width="stretch")
        else:  # a film's weight axis: LiveSpecs frames each snapshot on its own
            draw(places["weights"], inside.output_weights_chart(shot, y_domain=weight_domain), "stretch")
    for place, (name, picture) in zip(places.get("features", []), maps, strict=False):
        place.image(picture, caption=f"{name}: feature maps of the digit {shot.setup.feature_label}, {shot.label}")


# ---------------------------------------------------------------- replay
def replay(
    stage: Stage,
    film: Film,
    key: str,
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    class_names: Sequence[str],
    *,
    compare: tuple[str, Film] | None = None,
    **frame: Any,
) -> None:
    """The stored run's film on the stage: an epoch slider and Play, every view at the chosen moment.

    ``histories`` and ``frame`` (``best_epochs``, ``epochs``, ``output``, ``points`` or ``run_points``,
    ``log_scale``) are the curves' (``charts.curves_chart``), marked at the moment shown; ``compare``:
    (name, film) of a second run whose views are shown beside this one's at the same moment.
    ``key`` keeps the slider's place per page.
    """
    args = (film, key, histories, class_names, compare, frame)
    with fill_body(stage, "replay"):
        if st.session_state.get(key + ".playing"):
            _replay_playing(*args)
        else:
            _replay_still(*args)


@st.fragment
def _replay_still(*args: Any) -> None:
    """The replay, still: the slider and Play rerun only this part of the page."""
    _replay_body(*args)


@st.fragment(run_every=PLAY_SECONDS)
def _replay_playing(*args: Any) -> None:
    """The replay, playing: one snapshot on every ``PLAY_SECONDS``, until the last."""
    film, key = args[0], args[1]
    at = int(st.session_state.get(key, 0))
    if at >= len(film) - 1:
        st.session_state[key + ".playing"] = False
        st.rerun(scope="app")  # the still replay again, which does not rerun by itself
    st.session_state[key] = at + 1
    _replay_body(*args)


def _replay_body(
    film: Film,
    key: str,
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    class_names: Sequence[str],
    compare: tuple[str, Film] | None,
    frame: dict[str, Any],
) -> None:
    playing = bool(st.session_state.get(key + ".playing"))
    last = len(film) - 1
    st.session_state.setdefault(key, last)  # the trained network first: the replay starts where training ended
    st.session_state[key] = min(int(st.session_state[key]), last)
    c1, c2 = st.columns([1, 5], vertical_alignment="bottom")
    icon = ":material/pause:" if playing else ":material/play_arrow:"
    help_text = "Replay the training, one snapshot a second, every view together."
    if c1.button("Pause" if playing else "Play", key=key + ".play", icon=icon, help=help_text):
        st.session_state[key + ".playing"] = not playing
        if not playing and st.session_state[key] >= last:
            st.session_state[key] = 0  # from the start again
        st.rerun(scope="app")
    at = c2.select_slider(
        "Replay: the network at",
        options=list(range(len(film))),
        format_func=lambda i: film.snapshots[i].label,
        key=key,
        help="Every snapshot taken while it trained: untrained, its first steps, then each epoch.",
    )
    shot = film.snapshots[int(at)]
    left, right = st.columns([2, 1], gap="medium")
    with left:
        show_curves(histories, moment=shot.epoch, **frame)
    with right:
        filters_view(shot)
    if compare is None:
        domains = {"map_domain": film.map_domain(), "weight_domain": inside.film_weight_domain(film)}
        views(shot, _replay_specs(tuple(class_names)), **domains)
        return
    name, other = compare
    twin = other.nearest(shot.epoch)
    st.markdown(f"**Side by side at {shot.label}**: this run (left) and {name} (right)")
    a, b = st.columns(2)
    with a:
        filters_view(shot, "This run")
    with b:
        filters_view(twin, name)
    domain = _joint(film.map_domain(), other.map_domain())
    a, b = st.columns(2)
    if shot.map_xy is not None and twin.map_xy is not None:
        draw(a, map_view(shot, domain, class_names), "content")
        draw(b, map_view(twin, domain, class_names), "content")
    draw(a, confusion_view(shot, class_names), "content")
    draw(b, confusion_view(twin, class_names), "content")


@functools.cache
def _replay_specs(class_names: tuple[str, ...]) -> inside.LiveSpecs:
    """The replay's map and confusion matrix, each built with Altair once per look and network (for every
    session: a spec template holds no one's data), then only given each frame's rows."""
    return inside.LiveSpecs(class_names, VIEW_SIDE)


def draw(place: Any, chart: Any, width: str) -> None:
    """An Altair chart drawn without Altair's schema check: built by our own tested builders, redrawn several
    times a second while a run trains and on every replay frame (the check took half the drawing's time)."""
    place.vega_lite_chart(chart.to_dict(validate=False), width=width)


def map_view(shot: Snapshot, domain: tuple[float, float] | None, class_names: Sequence[str]) -> Any:
    """The hidden-layer map at half the page's width (what a dot is goes in a caption)."""
    return inside.map_chart(shot, domain, class_names, size=VIEW_SIDE, explained=False)


def confusion_view(shot: Snapshot, class_names: Sequence[str]) -> Any:
    """The validation confusion matrix at half the page's width, its title short enough for it."""
    return figures.confusion_chart(shot.confusion, class_names, size=VIEW_SIDE, title=f"Validation, {shot.label}")


def _joint(first: tuple[float, float], second: tuple[float, float]) -> tuple[float, float]:
    """One axis range holding both."""
    return min(first[0], second[0]), max(first[1], second[1])


# ---------------------------------------------------------------- curves
def show_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    log_scale: bool = False,
    moment: float | None = None,
    **frame: Any,
) -> None:
    """Loss and accuracy side by side, as the live ones grew (``charts.curves_chart`` on the stage).

    ``frame``: ``best_epochs``, ``epochs``, ``output``, ``points`` or ``run_points``, as ``curves_chart``
    takes them; ``moment``: the epoch a replay shows, marked on both.
    """
    c1, c2 = st.columns(2)
    if moment is None:
        loss = charts.curves_chart(histories, "loss", log_scale=log_scale, stage=True, **frame)
        c1.altair_chart(loss, width="stretch")
        c2.altair_chart(charts.curves_chart(histories, "accuracy", stage=True, **frame), width="stretch")
        return
    for place, metric in zip((c1, c2), ("loss", "accuracy"), strict=True):
        spec = replay_curve_spec(histories, metric, log_scale and metric == "loss", frame)
        place.vega_lite_chart(charts.moved_moment(spec, moment), width="stretch")


CURVE_SPECS_KEPT = 64  # a replay's curve charts kept built (two a run shown), for all sessions


def replay_curve_spec(
    histories: Mapping[str, Mapping[str, Sequence[float]]], metric: str, log_scale: bool, frame: dict[str, Any]
) -> dict[str, Any]:
    """A replay's curves chart of ``metric`` as a spec, built once per run and look: each frame only moves its
    moment (``charts.moved_moment``), where building it anew took about 0.15 s a chart."""
    # The key is the chart's whole input, in its order (the runs' order is their styles' and the legend's).
    key = json.dumps([histories, metric, log_scale, frame, repr(look.current_look())], default=_plain)
    return _curve_spec(key)


def _plain(value: Any) -> Any:
    """A numpy number or array (a run's history may hold them) as the plain number or list it stands for."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a curve's input")


@functools.lru_cache(maxsize=CURVE_SPECS_KEPT)
def _curve_spec(key: str) -> dict[str, Any]:
    histories, metric, log_scale, frame, _ = json.loads(key)
    chart = charts.curves_chart(histories, metric, log_scale=log_scale, stage=True, moment=0, **frame)
    return chart.to_dict(validate=False)
