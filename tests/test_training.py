"""The trainer: determinism, progress reports, stopping, divergence, early stopping."""

import math
import threading

import numpy as np
import pytest

from lab.architecture import CheckedSpec, check_network
from lab.data.prepare import Prepared, prepare
from lab.nn.observer import QueuePlace, TrainingObserver
from lab.nn.queue import TrainingQueue
from lab.nn.result import RunResult, json_number
from lab.nn.trainer import fit_prepared, train
from lab.spec import ExperimentSpec
from tests.observers import Recording

TINY = ExperimentSpec(hidden=(32,), epochs=2, batch_size=32, train_subset=1000)


@pytest.mark.slow
def test_same_spec_and_seed_give_the_same_history():
    a, b = train(check_network(TINY)), train(check_network(TINY))
    assert a.history == b.history
    assert a.test_accuracy == b.test_accuracy
    c = train(check_network(TINY.replace(seed=1)))
    assert c.history != a.history


def test_result_holds_what_pages_need():
    result = train(check_network(TINY))
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.epochs_run == 2 and len(result.history["loss"]) == 2
    # The sample's 500 shown test digits (the other 500 of its 1,000 are held out for the class challenge).
    assert result.confusion.shape == (10, 10) and result.confusion.sum() == 500
    assert np.trace(result.confusion) / 500 == pytest.approx(result.test_accuracy, abs=1e-6)
    assert result.test_probs.shape == (500, 10)
    assert result.params == 32 * 784 + 32 + 330
    assert result.train_seconds > 0 and not result.diverged and not result.stopped
    assert result.model is not None
    assert result.test_accuracy > 0.5  # a 32-unit ReLU net learns something in 2 epochs


@pytest.mark.slow
def test_fit_prepared_is_train_on_arrays_built_by_name():
    data = prepare(TINY)
    again = Prepared.from_arrays(
        x_train=data.x_train, labels_train=data.labels_train, x_val=data.x_val, labels_val=data.labels_val,
        x_test=data.x_test, labels_test=data.labels_test,
    )  # fmt: skip
    result, reference = fit_prepared(check_network(TINY), again, record_health=False), train(check_network(TINY))
    assert result.history == reference.history and result.test_accuracy == reference.test_accuracy
    assert result.health is None and reference.health is not None
    assert result.model is not None


def test_a_result_loads_its_model_once_through_its_loader():
    calls = []
    result = RunResult(
        spec=TINY, history={}, test_loss=math.nan, test_accuracy=0.5, confusion=np.zeros((10, 10)),
        test_probs=np.zeros((0, 10)), epochs_run=0, best_epoch=None, train_seconds=0.0, diverged=True,
        stopped=False, params=0, model_loader=lambda: calls.append(1) or "the model",
    )  # fmt: skip
    assert result.model == "the model" and result.model == "the model" and calls == [1]
    assert result.metrics()["test_loss"] is None and json_number(0.25) == 0.25 and json_number(math.inf) is None


@pytest.mark.slow
def test_progress_reports_every_epoch_with_time_left():
    observer = Recording()
    train(check_network(TINY.replace(epochs=3)), observer)
    reports = observer.epochs
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert all(r.epochs == 3 for r in reports)
    assert reports[-1].eta == 0 and reports[0].eta > 0
    assert reports[-1].elapsed >= reports[0].elapsed
    assert len(reports[-1].history["val_accuracy"]) == 3


@pytest.mark.slow
def test_stop_between_epochs_keeps_what_was_learned():
    result = train(check_network(TINY.replace(epochs=10)), Recording(stop=lambda: True))
    assert result.stopped and result.epochs_run == 1
    assert result.test_accuracy > 0.3


def test_a_learning_rate_of_100_diverges_and_keeps_the_history():
    result = train(check_network(TINY.replace(optimizer="sgd", learning_rate=100.0, epochs=5, activation="sigmoid")))
    assert result.diverged
    assert 1 <= result.epochs_run < 5
    assert len(result.history["loss"]) == result.epochs_run
    loss = result.history["loss"][-1]
    assert not math.isfinite(loss) or loss > 20  # cross-entropy at chance is 2.3
    # The curve the class watched is kept: from the untrained network at chance to where it blew up.
    points = result.points
    assert points["epoch"][0] == 0 and abs(points["loss"][0] - math.log(10)) < 1.0
    last = points["loss"][-1]
    assert not math.isfinite(last) or last > 20
    assert points["epoch"] == sorted(points["epoch"]) and points["epoch"][-1] <= result.epochs_run


def test_a_run_keeps_its_curve_from_the_untrained_network_on():
    result = train(check_network(TINY))
    assert result.initial is not None and result.initial == (result.points["loss"][0], result.points["accuracy"][0])
    assert result.points["epoch"][0] == 0 and result.points["epoch"][-1] == result.epochs_run
    # At each whole epoch the curve's point is that epoch's history value.
    at_end = [loss for epoch, loss in zip(result.points["epoch"], result.points["loss"], strict=True) if epoch == 2]
    assert at_end == [result.history["loss"][-1]]


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch():
    spec = TINY.replace(epochs=30, early_stopping=1, es_monitor="val_loss", learning_rate=0.05)
    result = train(check_network(spec))
    assert result.epochs_run < 30
    val = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(val)) + 1
    assert result.best_epoch < result.epochs_run


@pytest.mark.slow
def test_a_healthy_run_is_not_called_diverged():
    result = train(check_network(TINY.replace(optimizer="sgd", learning_rate=0.1, activation="sigmoid")))
    assert not result.diverged


def test_invalid_spec_is_rejected_before_training():
    with pytest.raises(ValueError, match="dropout"):
        check_network(TINY.replace(dropout=1.5))
    with pytest.raises(TypeError, match="check_network"):
        train(TINY)  # the trainer takes only a checked spec, and checks nothing again
    with pytest.raises(TypeError, match="check_network"):
        CheckedSpec(TINY, 0)  # made by check_network alone
    checked = check_network(TINY)
    assert checked.spec is TINY and checked.params == 32 * 784 + 32 + 330


def test_queue_runs_one_at_a_time_and_tells_waiters_their_place():
    queue = TrainingQueue()
    waiting, order = Recording(), []
    first_in = threading.Event()
    release = threading.Event()

    def first():
        with queue.slot("first"):
            first_in.set()
            release.wait(5)
            order.append("first")

    def second():
        with queue.slot("second", waiting, poll_seconds=0.01):
            order.append("second")

    t1 = threading.Thread(target=first)
    t1.start()
    first_in.wait(5)
    t2 = threading.Thread(target=second)
    t2.start()
    while not waiting.places:
        threading.Event().wait(0.01)
    assert queue.snapshot() == ["first", "second"]
    release.set()
    t1.join(5)
    t2.join(5)
    assert order == ["first", "second"]
    assert waiting.places[0] == QueuePlace(1, running=1, waiting=1, workers=1, running_label="first")


def test_a_waiter_that_gives_up_leaves_the_line():
    """A training that stops waiting (its on_queue raises) must not block the ones behind it."""
    queue = TrainingQueue()
    release, first_in = threading.Event(), threading.Event()

    def first():
        with queue.slot("first"):
            first_in.set()
            release.wait(5)

    class GiveUp(TrainingObserver):
        def on_queue(self, place):
            raise RuntimeError("cancelled while waiting")

    t1 = threading.Thread(target=first)
    t1.start()
    first_in.wait(5)
    with pytest.raises(RuntimeError), queue.slot("second", GiveUp()):
        pass
    assert queue.snapshot() == ["first"]
    release.set()
    t1.join(5)
    with queue.slot("third"):  # the line is free again
        assert queue.snapshot() == ["third"]


@pytest.mark.slow
def test_raw_pixels_start_far_above_chance_without_being_called_diverged():
    """0-255 inputs give a first loss in the hundreds; training brings it down, so it is no blow-up."""
    spec = TINY.replace(raw_pixels=True, activation="elu", dropout=0.2, epochs=3)
    result = train(check_network(spec))
    assert result.history["loss"][0] > 5 and not result.diverged
    assert result.history["loss"][-1] < result.history["loss"][0]
    # A real blow-up on raw pixels is still caught.
    assert train(check_network(spec.replace(optimizer="sgd", learning_rate=10.0, activation="relu"))).diverged


def _plain_fit(spec: ExperimentSpec, data: Prepared) -> tuple[dict[str, list[float]], tuple[float, float]]:
    """The course's way: a fresh model of the spec, plain ``model.fit`` on the arrays; history and test figures."""
    import keras  # here: the module's other tests need no Keras of their own

    from lab.nn.model import build_model, compile_model

    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec), spec)
    fit = model.fit(
        data.x_train, data.y_train, batch_size=spec.batch_size, epochs=spec.epochs,
        validation_data=(data.x_val, data.y_val), verbose=0,
    )  # fmt: skip
    loss, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    return fit.history, (loss, accuracy)


@pytest.mark.parametrize(
    "spec",
    [
        TINY,  # 900 training images: the last batch of 32 is shorter
        # 900 / 50: whole batches (Keras then fixes the batch size), batch norm and dropout
        pytest.param(
            TINY.replace(
                hidden=(32, 16), batchnorm="before", dropout=0.3, batch_size=50, optimizer="adam", learning_rate=0.01
            ),
            marks=pytest.mark.slow,  # 8 s: the quick loop keeps the other case
        ),
    ],
    ids=["last-batch-shorter", "batchnorm-dropout"],
)
def test_the_trainer_draws_the_curves_plain_model_fit_draws(spec):
    """Same spec, same seed: the trainer's faster loop and the course's ``model.fit`` give the same numbers."""
    data = prepare(spec)
    plain, (test_loss, test_accuracy) = _plain_fit(spec, data)
    fast = fit_prepared(check_network(spec), data, record_health=False)
    assert set(fast.history) == set(plain) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in plain.items():
        assert fast.history[key] == pytest.approx(values, rel=1e-5, abs=1e-6), key
    assert fast.test_loss == pytest.approx(test_loss, rel=1e-5)
    assert fast.test_accuracy == pytest.approx(test_accuracy, abs=1e-6)


@pytest.mark.slow
def test_a_shape_trained_before_lends_its_trace_and_gives_the_same_numbers():
    """Another seed and learning rate on a shape trained before: nothing traced, the numbers of a cold start."""
    from lab.nn.forward import predict_probs
    from lab.nn.loop import LOOPS

    spec = TINY.replace(hidden=(24,), dropout=0.2, batchnorm="after", optimizer="sgd", momentum=0.9)
    other = spec.replace(seed=3, learning_rate=0.05)
    data = prepare(spec)
    LOOPS.clear()
    cold = fit_prepared(check_network(other), data, record_health=False)
    LOOPS.clear()
    first = fit_prepared(check_network(spec), data, record_health=False)
    probs = predict_probs(first.model, data.x_test)
    hits = LOOPS.hits
    warm = fit_prepared(check_network(other), data, record_health=False)
    assert LOOPS.hits == hits + 1
    assert warm.history == cold.history
    assert warm.test_loss == cold.test_loss and np.array_equal(warm.test_probs, cold.test_probs)
    # The first run's model is its own: training the same shape again left it as it was.
    assert warm.model is not first.model
    assert np.array_equal(predict_probs(first.model, data.x_test), probs)


def test_a_training_leaves_keras_scopes_of_other_threads_alone():
    """A page predicting while a training starts keeps its Keras state (the trainer clears no session)."""
    import keras

    variable = keras.Variable(1.0)
    seen: list[float] = []
    with keras.StatelessScope(state_mapping=[(variable, keras.ops.convert_to_tensor(5.0))]):
        worker = threading.Thread(target=lambda: train(check_network(TINY.replace(epochs=1))))
        worker.start()
        worker.join()
        seen.append(float(keras.ops.convert_to_numpy(variable.value)))
    assert seen == [5.0]  # 1.0: the scope was wiped while the training built its model
