"""The views of a snapshot (``ui.charts.inside``): pictures and charts a page shows live and in a replay.

Snapshots are built here by hand (no training, no TensorFlow): what each view shows is
checked against the numbers it was given.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab.nn.snapshots import Film, FilmSetup, Placement, Snapshot, map_domain
from ui.charts import figures, inside

RNG = np.random.default_rng(0)


def _setup(kind: str = "dense", activations=("relu", "sigmoid"), units: int = 12) -> FilmSetup:
    convs = ("conv_1",) if kind == "conv" else ()
    return FilmSetup(
        kind=kind,
        filter_layer="conv_1" if kind == "conv" else "hidden_1",
        filter_units=np.arange(4) if kind == "conv" else np.arange(units),
        layers=(*convs, "hidden_1", "hidden_2")[: len(activations)],
        activations=tuple(activations),
        map_layer="hidden_2",
        map_labels=np.repeat(np.arange(10), 3),
        map_index=np.arange(30) * 2,
        feature_layers=convs,
        feature_digit=np.zeros(784, np.float32) if convs else None,
        feature_label=0 if convs else None,
        steps_per_epoch=100,
        val_digits=60,
    )


def _snapshot(setup: FilmSetup, step: int = 100, spread: float = 1.0, dead: float = 0.25) -> Snapshot:
    conv = setup.kind == "conv"
    confusion = np.diag(np.full(10, 5)) + (step == 0)
    return Snapshot(
        epoch=step / setup.steps_per_epoch,
        step=step,
        setup=setup,
        output_weights=(RNG.normal(size=(16, 10)) * spread).astype(np.float16),
        confusion=confusion,
        dead=np.array([dead, np.nan][: len(setup.layers)], np.float32),
        saturated=np.array([np.nan, 0.5][: len(setup.layers)], np.float32),
        filters=None if conv else RNG.normal(size=(len(setup.filter_units), 784)).astype(np.float16),
        kernels=RNG.normal(size=(4, 5, 5)).astype(np.float16) if conv else None,
        feature_maps=(RNG.random((14, 14, 4)).astype(np.float16),) if conv else (),
        map_xy=(RNG.normal(size=(30, 2)) * spread).astype(np.float16),
        map_center=np.zeros(16, np.float32),
        map_axes=np.zeros((16, 2), np.float32),
    )


def test_the_filter_picture_holds_every_kept_unit_and_a_cnn_its_kernels():
    setup = _setup(units=12)
    picture = inside.filters_picture(_snapshot(setup), columns=4)
    # 12 tiles of 28 + 2 pixels, 4 a row, 3 rows, drawn twice as large.
    assert picture.shape == (3 * 30 * 2, 4 * 30 * 2, 3) and picture.dtype == np.uint8
    assert "All 12 units of hidden_1" in inside.filter_units_caption(_snapshot(setup))
    wide = FilmSetup(**{**setup.__dict__, "filter_units": np.linspace(0, 127, 12).round().astype(int)})
    assert "12 of the 128 units of hidden_1, evenly spaced" in inside.filter_units_caption(_snapshot(wide))
    conv = _snapshot(_setup("conv", ("relu", "relu")))
    assert inside.filters_picture(conv).shape[2] == 3
    maps = inside.feature_map_pictures(conv)
    assert [name for name, _ in maps] == ["conv_1"] and maps[0][1].ndim == 3
    assert inside.feature_map_pictures(_snapshot(setup)) == []


def test_two_moments_draw_two_different_filter_pictures():
    setup = _setup()
    first, last = _snapshot(setup, 0), _snapshot(setup, 100)
    assert not np.array_equal(inside.filters_picture(first), inside.filters_picture(last))


def test_the_map_chart_keeps_one_axis_range_and_names_each_points_digit():
    setup = _setup()
    film = Film(setup, (_snapshot(setup, 0, spread=0.2), _snapshot(setup, 100, spread=2.0)))
    low, high = film.map_domain()
    assert (low, high) == map_domain(film.snapshots) and low == -high >= -10
    for snapshot in film.snapshots:
        spec = inside.map_chart(snapshot, domain=(low, high)).to_dict()
        encoding = spec["layer"][0]["encoding"]
        assert encoding["x"]["scale"]["domain"] == [low, high] == encoding["y"]["scale"]["domain"]
        assert encoding["color"]["field"] == "digit"
        assert {"field": "digit", "title": "Digit", "type": "nominal"} in encoding["tooltip"]
    rows = inside.map_rows(film.snapshots[1])
    assert rows["digit"].tolist() == [str(d) for d in setup.map_labels]
    np.testing.assert_allclose(rows["x"], film.snapshots[1].map_xy[:, 0].astype(np.float32))
    # Without a film-wide range, a frame gets its own.
    own = inside.map_chart(film.snapshots[0]).to_dict()["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert own == list(map_domain([film.snapshots[0]]))


def test_a_placed_drawing_is_marked_and_its_neighbours_named():
    setup = _setup()
    placed = Placement(np.array([0.5, -0.5], np.float32), {1: 10, 7: 5})
    spec = inside.map_chart(_snapshot(setup), placed=placed).to_dict()
    assert len(spec["layer"]) == 2
    assert spec["title"]["subtitle"] == "Your drawing (red cross) lands among the 1s"
    assert spec["datasets"] and any(
        rows == [{"x": 0.5, "y": -0.5, "what": "your drawing"}] for rows in spec["datasets"].values()
    )


def test_dead_and_saturated_shares_per_layer_on_a_fixed_scale():
    setup = _setup(activations=("relu", "sigmoid"))
    rows = inside.unit_health_rows(_snapshot(setup, dead=0.25))
    assert rows[["layer", "measure", "share"]].values.tolist() == [
        ["hidden_1", "dead", 0.25],
        ["hidden_2", "saturated", 0.5],
    ]
    spec = inside.unit_health_chart(_snapshot(setup)).to_dict()
    assert spec["encoding"]["y"]["scale"]["domain"] == [0, 1]
    none = _setup(activations=("elu",))
    spec = inside.unit_health_chart(_snapshot(none, dead=np.nan)).to_dict()  # ELU: neither is measured
    assert "none measured for hidden_1" in spec["title"]["subtitle"][-1]


def test_output_weights_and_confusion_come_from_the_snapshot():
    setup = _setup()
    snapshot = _snapshot(setup)
    spec = inside.output_weights_chart(snapshot, digit=3, y_domain=(-4, 4)).to_dict()
    bars = next(iter(spec["datasets"].values()))
    np.testing.assert_allclose([b["weight"] for b in bars], snapshot.output_weights[:, 3].astype(np.float32), rtol=1e-6)
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"] == [-4, 4]
    film = Film(setup, (_snapshot(setup, 0, spread=0.1), snapshot))
    low, high = inside.film_weight_domain(film)
    assert high == pytest.approx(float(np.max(np.abs(snapshot.output_weights.astype(np.float32)))))
    matrix = inside.confusion_chart(snapshot).to_dict()
    assert matrix["title"]["text"].startswith("Validation, epoch 1")
    cells = next(iter(matrix["datasets"].values()))
    assert sum(c["count"] for c in cells) == int(snapshot.confusion.sum())


def test_every_view_draws_every_frame_of_a_real_film():
    from lab.architecture import check_network
    from lab.data.prepare import prepare
    from lab.nn.trainer import fit_prepared
    from lab.spec import ExperimentSpec

    spec = ExperimentSpec(hidden=(16, 8), epochs=1, batch_size=256)
    film = fit_prepared(check_network(spec), prepare(spec)).film
    domain, weights = film.map_domain(), inside.film_weight_domain(film)
    pictures = []
    for snapshot in film.snapshots:
        pictures.append(inside.filters_picture(snapshot))
        inside.map_chart(snapshot, domain=domain).to_dict()
        inside.output_weights_chart(snapshot, y_domain=weights).to_dict()
        inside.confusion_chart(snapshot).to_dict()
        inside.unit_health_chart(snapshot).to_dict()
    assert not np.array_equal(pictures[0], pictures[-1])  # the filters changed as it trained


def _named_in_order(spec: dict) -> dict:
    """``spec`` with its data sets renamed ``data-0``, ``data-1`` ... in the order the spec refers to them.

    Altair names a data set after its contents, so two specs of the same chart differ in names only.
    """
    rest = json.dumps({k: v for k, v in spec.items() if k != "datasets"}, sort_keys=True)
    names = sorted(spec.get("datasets", {}), key=rest.index)
    for i, name in enumerate(names):
        rest = rest.replace(name, f"data-{i}")
    return {**json.loads(rest), "datasets": {f"data-{i}": spec["datasets"][name] for i, name in enumerate(names)}}


@pytest.mark.parametrize("projector", [False, True])
def test_live_specs_draw_what_the_altair_charts_draw_frame_after_frame(projector):
    from ui.charts.look import NORMAL, PROJECTOR, use_look

    setup = _setup(activations=("relu", "relu"))
    names = [f"class {d}" for d in range(10)]
    shots = [_snapshot(setup, step=0), _snapshot(setup, step=100, spread=3.0), _snapshot(setup, step=300)]
    shots[2].map_xy[4] = np.nan  # a diverged point is left out, as the Altair chart leaves it out
    shots[2].confusion[3, 5] = 1234
    use_look(PROJECTOR if projector else NORMAL)
    try:
        live = inside.LiveSpecs(names, side=340)
        domain = (-5.0, 5.0)
        for shot in shots:  # the first builds the templates, the later ones only fill them in
            title = f"Validation, {shot.label}"
            pairs = [
                (live.map(shot), inside.map_chart(shot, None, names, size=340, explained=False)),
                (live.map(shot, domain), inside.map_chart(shot, domain, names, size=340, explained=False)),
                (live.confusion(shot), figures.confusion_chart(shot.confusion, names, 340, title=title)),
                (live.output_weights(shot), inside.output_weights_chart(shot, 5)),
            ]
            for spec, chart in pairs:
                assert _named_in_order(spec) == _named_in_order(chart.to_dict(validate=False))
        last = _named_in_order(live.map(shots[2]))
    finally:
        use_look(NORMAL)
    points = last["datasets"]["data-0"]
    assert len(points) == 29  # 30 digits, one diverged
    assert {p["digit"] for p in points} == set(names)
    assert [t["field"] for t in last["layer"][0]["encoding"]["tooltip"]] == ["digit", "index"]
    assert last["title"] == f"Hidden-layer map, {shots[2].label}"
    assert last["config"]["axis"]["labelFontSize"] == (PROJECTOR if projector else NORMAL).font
    cells = _named_in_order(live.confusion(shots[2]))["datasets"]["data-0"]
    assert [c["count"] for c in cells if (c["true"], c["predicted"]) == ("class 3", "class 5")] == [1234]
