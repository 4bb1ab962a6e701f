"""Snapshots of the network's inside while it trains (``lab.nn.snapshots``): what they hold, when, and where kept.

A 2-epoch training of the default network records at the start, after steps 1, 2, 4, 8, 16
and after both epochs; the numbers are those of the same training without recording; the
map's digits move less between neighbouring snapshots than over the whole training; the film
is stored with the run (under 2 MB for the default setup's 10 epochs), and a run stored
before snapshots still opens, without one.
"""

from __future__ import annotations

import numpy as np
import pytest

from lab.architecture import check_network
from lab.catalog.presets import get_preset
from lab.data.prepare import prepare
from lab.nn.observer import TrainingObserver
from lab.nn.snapshots import (
    FILE_NAME,
    MAP_DIGITS,
    Film,
    early_steps,
    film_bytes,
    film_from_bytes,
    filter_units,
    load_film,
    map_digits,
    map_hidden,
    place_digit,
    project,
)
from lab.nn.trainer import fit_prepared
from lab.runs.store import RunStore
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

SPEC = ExperimentSpec(epochs=2)  # the default network: 784-128-10 ReLU, Adam, batch 32, on the sample


class Keeper(TrainingObserver):
    def __init__(self, stop: bool = False) -> None:
        self.snapshots = []
        self.stop = stop

    @classmethod
    def stopping(cls) -> Keeper:
        """One that asks the training to stop from the start."""
        return cls(stop=True)

    def on_snapshot(self, snapshot) -> None:
        self.snapshots.append(snapshot)

    def should_stop(self) -> bool:
        return self.stop


@pytest.fixture(scope="module")
def data():
    return prepare(SPEC)


@pytest.fixture(scope="module")
def recorded(data):
    observer = Keeper()
    result = fit_prepared(check_network(SPEC), data, observer)
    return result, observer


def test_a_two_epoch_training_records_the_documented_snapshots(recorded, data):
    result, observer = recorded
    film = result.film
    steps = -(-len(data.x_train) // SPEC.batch_size)
    assert early_steps(steps) == [1, 2, 4, 8, 16]
    assert [s.step for s in film.snapshots] == [0, 1, 2, 4, 8, 16, steps, 2 * steps]
    assert film.epochs == pytest.approx([0, 1 / steps, 2 / steps, 4 / steps, 8 / steps, 16 / steps, 1, 2])
    assert [s.label for s in film.snapshots][:3] == ["untrained", "step 1", "step 2"]
    assert film.snapshots[-1].label == "epoch 2"
    # The observer heard every snapshot, as it was taken.
    assert [s.step for s in observer.snapshots] == [s.step for s in film.snapshots]
    setup = film.setup
    assert setup.kind == "dense" and setup.filter_layer == "hidden_1" and setup.map_layer == "hidden_1"
    assert list(setup.filter_units) == list(filter_units(128)) and len(setup.filter_units) == 64
    assert setup.layers == ("hidden_1",) and setup.activations == ("relu",)
    assert len(setup.map_labels) == MAP_DIGITS and np.bincount(setup.map_labels).tolist() == [30] * 10
    assert np.array_equal(setup.map_labels, data.labels_val[setup.map_index])
    for s in film.snapshots:
        assert s.filters.shape == (64, 784) and s.filters.dtype == np.float16
        assert s.kernels is None and s.feature_maps == ()
        assert s.output_weights.shape == (128, 10)
        assert s.confusion.shape == (10, 10) and s.confusion.sum() == len(data.x_val)
        assert s.dead.shape == (1,) and 0 <= s.dead[0] <= 1
        assert np.isnan(s.saturated[0])  # a ReLU has no upper asymptote
        assert s.map_xy.shape == (MAP_DIGITS, 2) and np.all(np.isfinite(s.map_xy))
    # The filters are the first layer's weights, as trained.
    kernel = np.asarray(result.model.get_layer("hidden_1").kernel)
    np.testing.assert_allclose(film.snapshots[-1].filters, kernel[:, setup.filter_units].T, atol=2e-3, rtol=2e-3)
    # The untrained network guesses; trained, its confusion matrix is mostly diagonal.
    assert film.snapshots[0].val_accuracy < 0.3 < 0.8 < film.snapshots[-1].val_accuracy
    assert film.snapshots[-1].val_accuracy == pytest.approx(result.history["val_accuracy"][-1], abs=1e-6)


def test_recording_changes_nothing_in_the_training(recorded, data):
    result, _ = recorded
    plain = fit_prepared(check_network(SPEC), data, record_snapshots=False)
    assert plain.film is None
    assert plain.history == result.history
    # Live-curve points come every 32 batches or half a second (wall time): where both have one, it is the same.
    both = set(plain.points["epoch"]) & set(result.points["epoch"])
    assert {0.0, 1.0, 2.0} <= both
    at = [
        {e: (loss, acc) for e, loss, acc in zip(p["epoch"], p["loss"], p["accuracy"], strict=True)}
        for p in (plain.points, result.points)
    ]
    assert all(at[0][e] == at[1][e] for e in both)
    np.testing.assert_array_equal(plain.test_probs, result.test_probs)


def test_recording_draws_nothing_from_keras_random_generators():
    """Dropout and augmentation draw from Keras' seed generators while training; snapshots run in inference mode."""
    spec = ExperimentSpec(
        hidden=(32,), dropout=0.3, epochs=1, batch_size=128, augmentation=Augmentation(rotation=10.0, noise=0.1)
    )
    data, checked = prepare(spec), check_network(spec)
    recorded = fit_prepared(checked, data)
    plain = fit_prepared(checked, data, record_snapshots=False)
    assert len(recorded.film) == 6 and plain.history == recorded.history  # 29 steps: 0, 1, 2, 4, 8, the end
    np.testing.assert_array_equal(plain.test_probs, recorded.test_probs)


def test_a_raw_pixel_spike_in_the_first_steps_is_not_called_a_divergence_because_of_snapshots():
    """Raw 0-255 pixels under SGD: the running loss spikes past the divergence limit within
    the first steps and comes back by step 32. Snapshots end calls at steps 1-16; the blow-up
    check must not look there, or the recorded run is called diverged and the plain one is not."""
    spec = get_preset("A3", "sample").spec.replace(hidden=(32,), learning_rate=0.007, epochs=2)
    data, checked = prepare(spec), check_network(spec)
    recorded = fit_prepared(checked, data)
    plain = fit_prepared(checked, data, record_snapshots=False)
    assert recorded.diverged == plain.diverged
    assert recorded.history == plain.history and recorded.epochs_run == plain.epochs_run


def test_a_stop_within_epoch_one_takes_no_more_early_snapshots(data):
    class StopAfterStepOne(Keeper):
        def should_stop(self) -> bool:
            return len(self.snapshots) >= 2  # the untrained one and step 1's

    # One batch a call: Stop is asked after every batch.
    result = fit_prepared(check_network(SPEC), data, StopAfterStepOne(), steps_per_execution=1)
    assert result.stopped and result.epochs_run == 1
    # Stop heard after step 2's call: no snapshot then, only the stopped epoch's end (2 steps into it).
    assert [s.step for s in result.film.snapshots] == [0, 1, 2]
    assert result.film.snapshots[-1].epoch == pytest.approx(2 / result.film.setup.steps_per_epoch)


def test_a_stop_ends_a_recorded_training_where_it_ends_an_unrecorded_one(data):
    """Snapshots end calls early in epoch 1 (steps 1-16), but Stop is asked only where calls end without them."""
    runs = [
        fit_prepared(check_network(SPEC), data, Keeper.stopping(), record_snapshots=record) for record in (True, False)
    ]
    assert all(r.stopped for r in runs) and runs[0].history == runs[1].history
    np.testing.assert_array_equal(runs[0].test_probs, runs[1].test_probs)
    assert runs[0].film.snapshots[-1].step == 32  # the first call of 32 batches: where Stop was heard


def test_early_steps_fall_in_the_first_half_of_epoch_one():
    assert early_steps(113) == [1, 2, 4, 8, 16]
    assert early_steps(11) == [1, 2, 4] and early_steps(2) == [1] and early_steps(1) == []


def test_the_map_moves_less_between_neighbouring_snapshots_than_over_the_training(recorded):
    film = recorded[0].film
    maps = [s.map_xy.astype(np.float64) for s in film.snapshots]
    steps = [float(np.mean(np.linalg.norm(b - a, axis=1))) for a, b in zip(maps, maps[1:], strict=False)]
    whole = float(np.mean(np.linalg.norm(maps[-1] - maps[0], axis=1)))
    assert max(steps) < whole, (steps, whole)
    # Every frame is scaled to an RMS radius of 1: one axis range holds the whole film.
    for m in maps:
        assert np.sqrt(np.mean(np.sum(m**2, axis=1))) == pytest.approx(1.0, abs=1e-2)
    low, high = film.map_domain()
    assert low == -high and all(np.mean(np.abs(m) <= high) >= 0.99 for m in maps)


def test_procrustes_undoes_a_rotation_and_a_flip():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(200, 12)) * np.linspace(3, 0.1, 12)
    first, _, _ = project(acts, None)
    turn = np.array([[0.0, -1.0], [1.0, 0.0]]) @ np.diag([1.0, -1.0])
    again, center, axes = project(acts, first @ turn)
    np.testing.assert_allclose(again, first @ turn, atol=1e-5)
    np.testing.assert_allclose((acts - center) @ axes, again, atol=1e-4)
    assert project(np.full((5, 3), np.nan), None) is None  # a diverged network has no map


def test_the_map_digits_are_stratified_and_fixed():
    labels = np.repeat(np.arange(10), 50)[::-1]
    rows = map_digits(labels)
    assert np.bincount(labels[rows]).tolist() == [30] * 10
    assert np.array_equal(rows, map_digits(labels)) and np.all(np.diff(rows) > 0)
    few = map_digits(np.array([0, 0, 1]))
    assert sorted(few.tolist()) == [0, 1, 2]


def test_a_new_digit_lands_among_its_own_kind(recorded, data):
    result, _ = recorded
    film = result.film
    final = film.snapshots[-1]
    # A map digit placed again lands on its own point ...
    row = int(film.setup.map_index[0])
    placed = place_digit(result.model, film, data.x_val[row])
    np.testing.assert_allclose(placed.xy, final.map_xy[0].astype(np.float32), atol=2e-2)
    # ... and validation digits that are not on the map land among their own digit far more often than by
    # chance (10%): a 2-D view of 128 units overlaps some digits, so not always (about half, after 2 epochs).
    others = np.setdiff1d(np.arange(len(data.x_val)), film.setup.map_index)[:60]
    hidden = map_hidden(result.model, film, data.x_val[others])
    hits = [film.place(h).among == int(d) for h, d in zip(hidden, data.labels_val[others], strict=True)]
    assert np.mean(hits) > 0.3
    assert sum(placed.votes.values()) == 15


def test_the_film_is_stored_with_the_run_and_old_runs_open_without_one(recorded, tmp_path):
    result, _ = recorded
    store = RunStore(tmp_path)
    folder = store.save(result)
    assert (folder / FILE_NAME).is_file()
    loaded = store.get(SPEC).film
    assert isinstance(loaded, Film) and len(loaded) == len(result.film)
    for a, b in zip(loaded.snapshots, result.film.snapshots, strict=True):
        assert (a.epoch, a.step) == (b.epoch, b.step)
        # Filters are stored as 8-bit pictures: within 1/254 of each unit's largest weight (and float16's rounding).
        peak = np.max(np.abs(b.filters.astype(np.float32)), axis=1, keepdims=True)
        assert np.all(np.abs(a.filters.astype(np.float32) - b.filters) <= peak / 254 + 1e-3)
        np.testing.assert_array_equal(a.confusion, b.confusion)
        np.testing.assert_array_equal(a.map_xy, b.map_xy)
        np.testing.assert_array_equal(a.dead, b.dead)
    assert store.film(SPEC.run_id) is not None and load_film(folder) is not None
    # A run stored before snapshots: no file. It opens, without a film.
    (folder / FILE_NAME).unlink()
    old = store.get(SPEC)
    assert old is not None and old.history == result.history
    assert old.film is None and store.film(SPEC) is None
    # A broken file costs the replay, never the run.
    (folder / FILE_NAME).write_bytes(b"not a film")
    assert store.get(SPEC).film is None


@pytest.mark.slow
def test_the_default_setups_film_stays_under_two_megabytes(tmp_path):
    spec = ExperimentSpec()  # 10 epochs
    result = fit_prepared(check_network(spec), prepare(spec))
    assert len(result.film) == 1 + 5 + 10
    folder = RunStore(tmp_path).save(result)
    size = (folder / FILE_NAME).stat().st_size
    assert size < 2_000_000, size
    assert load_film(folder).epochs == result.film.epochs


def test_a_convnet_keeps_its_kernels_and_one_digits_feature_maps():
    spec = ExperimentSpec(
        conv=(ConvBlock(filters=4, kernel_size=3, pool=2), ConvBlock(filters=6, kernel_size=3, pool=2)),
        hidden=(16,),
        epochs=1,
        batch_size=256,
    )
    data = prepare(spec)
    film = fit_prepared(check_network(spec), data).film
    setup = film.setup
    assert setup.kind == "conv" and setup.filter_layer == "conv_1" and setup.feature_layers == ("conv_1", "conv_2")
    assert setup.layers == ("conv_1", "conv_2", "hidden_1") and setup.map_layer == "hidden_1"
    assert setup.feature_digit.shape == (784,) and setup.feature_label == data.labels_val[setup.map_index[0]]
    assert [s.step for s in film.snapshots] == [0, 1, 2, 4, setup.steps_per_epoch]  # 15 steps: early in the first half
    for s in film.snapshots:
        assert s.filters is None and s.kernels.shape == (4, 3, 3)
        assert [m.shape for m in s.feature_maps] == [(28, 28, 4), (14, 14, 6)]
        assert s.output_weights.shape == (16, 10) and s.dead.shape == (3,)
    again = film_from_bytes(film_bytes(film))
    np.testing.assert_array_equal(again.snapshots[-1].feature_maps[1], film.snapshots[-1].feature_maps[1])
    np.testing.assert_array_equal(again.setup.feature_digit, setup.feature_digit.astype(np.float16))


def test_sigmoid_units_report_their_saturated_share_and_no_hidden_layer_has_no_map():
    spec = ExperimentSpec(hidden=(8, 8), activation="sigmoid", epochs=1, batch_size=512)
    film = fit_prepared(check_network(spec), prepare(spec)).film
    assert film.setup.layers == ("hidden_1", "hidden_2")
    assert all(np.all(np.isnan(s.dead)) and np.all((s.saturated >= 0) & (s.saturated <= 1)) for s in film.snapshots)
    flat = ExperimentSpec(hidden=(), epochs=1, batch_size=512)
    film = fit_prepared(check_network(flat), prepare(flat)).film
    assert film.setup.filter_layer == "output" and film.snapshots[-1].filters.shape == (10, 784)
    assert film.setup.map_layer is None and film.snapshots[-1].map_xy is None
    assert film_from_bytes(film_bytes(film)).snapshots[-1].map_xy is None
    with pytest.raises(ValueError, match="no hidden layer"):
        film.place(np.zeros(10))


def test_a_job_keeps_its_snapshots_as_they_come_and_the_stored_run_its_film(tmp_path):
    from lab.runs.in_process import InProcessExecutor
    from lab.runs.jobs import JobManager

    spec = ExperimentSpec(hidden=(16,), epochs=2, batch_size=256)
    store = RunStore(tmp_path)
    job = JobManager(store, InProcessExecutor()).submit(spec)
    assert job.wait(300) and job.state == "done", job.error
    steps = [s.step for s in job.snapshots]
    assert steps == [s.step for s in job.result.film.snapshots] == [s.step for s in store.film(spec).snapshots]
    assert steps[0] == 0 and len(steps) == 1 + len(early_steps(job.result.film.setup.steps_per_epoch)) + 2


def test_a_heavy_networks_snapshots_look_at_fewer_digits_and_skip_the_early_steps():
    """A snapshot stays within its budget: the default MLP keeps 1,000 digits and early steps, B7 fewer
    digits, and the class server's heavy network (50 million multiply-adds an image) the fewest."""
    from lab.architecture import multiply_adds
    from lab.codec import spec_from_query
    from lab.nn.snapshots import MIN_VAL_DIGITS, SNAPSHOT_BUDGET, VAL_DIGITS, is_light, snapshot_digits

    default, b7 = ExperimentSpec(), get_preset("B7", "sample").spec
    heavy = spec_from_query({"conv": "64x3s1,128x3s1p24", "hidden": "none"})
    assert snapshot_digits(default) == VAL_DIGITS and is_light(default)
    assert MIN_VAL_DIGITS < snapshot_digits(b7) < VAL_DIGITS and not is_light(b7)
    assert snapshot_digits(b7) * multiply_adds(b7) <= SNAPSHOT_BUDGET
    assert snapshot_digits(heavy) == MIN_VAL_DIGITS and not is_light(heavy)
