"""The run store: hits without retraining, survives restarts, skips corrupt runs."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from lab.architecture import check_network
from lab.runs.engines import get_or_train
from lab.runs.index import INDEX_FOLDER
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.spec import ExperimentSpec

TINY = ExperimentSpec(hidden=(8,), epochs=1, batch_size=64, train_subset=500)


def _no_training(*args, **kwargs):
    raise AssertionError("the store should have answered without training")


def test_second_request_comes_from_the_store_fast(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    first = get_or_train(TINY, store)
    assert not first.from_store
    monkeypatch.setattr("lab.runs.training.train_and_save", _no_training)
    start = time.perf_counter()
    again = get_or_train(TINY, store)
    seconds = time.perf_counter() - start
    assert again.from_store and seconds < 0.5
    assert again.history == first.history
    assert again.test_accuracy == first.test_accuracy
    np.testing.assert_array_equal(again.confusion, first.confusion)
    np.testing.assert_allclose(again.test_probs, first.test_probs)


@pytest.mark.slow
def test_stored_model_predicts_like_the_trained_one(tmp_path):
    from lab.data.prepare import prepare
    from lab.nn.forward import predict_probs

    store = RunStore(tmp_path)
    first = get_or_train(TINY.replace(center=True), store)
    again = store.get(TINY.replace(center=True))
    np.testing.assert_array_equal(again.mean, first.mean)
    x = prepare(TINY.replace(center=True)).x_test[:50]
    np.testing.assert_allclose(predict_probs(again.model, x), predict_probs(first.model, x), atol=1e-6)


@pytest.mark.slow
def test_store_survives_a_restart(tmp_path):
    get_or_train(TINY, RunStore(tmp_path))
    code = (
        "import time; from lab.spec import ExperimentSpec; from lab.runs.store import RunStore;"
        f"s = RunStore({str(tmp_path)!r}); t = time.perf_counter();"
        f"r = s.get(ExperimentSpec.from_json({TINY.to_json()!r}));"
        "print(r is not None and r.from_store, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True" and float(out[1]) < 0.5


@pytest.mark.slow
def test_corrupt_and_half_written_runs_are_skipped_with_a_warning(tmp_path, caplog):
    store = RunStore(tmp_path)
    good = get_or_train(TINY, store)
    (tmp_path / "deadbeef0000").mkdir()
    (tmp_path / "deadbeef0000" / "spec.json").write_text("{not json")
    half = tmp_path / TINY.replace(seed=9).run_id
    half.mkdir()
    (half / "spec.json").write_text(TINY.replace(seed=9).to_json())  # no result.json: never finished
    broken = tmp_path / good.run_id / "result.json"
    with caplog.at_level("WARNING"):
        infos = store.list()
    assert [i.run_id for i in infos] == [good.run_id]
    assert "deadbeef0000" in caplog.text
    assert store.get(TINY.replace(seed=9)) is None
    broken.write_text(json.dumps({"format": 1}))  # damaged after the fact
    with caplog.at_level("WARNING"):
        assert store.get(TINY) is None
        assert store.list() == []


@pytest.mark.slow
def test_runs_can_be_listed_and_deleted(tmp_path):
    store = RunStore(tmp_path)
    a = get_or_train(TINY, store)
    b = get_or_train(TINY.replace(seed=1), store)
    listed = store.list()
    assert {i.run_id for i in listed} == {a.run_id, b.run_id}
    assert listed[0].run_id == b.run_id  # newest first
    assert store.best().run_id in {a.run_id, b.run_id}
    assert store.delete(a.run_id) and not store.delete(a.run_id)
    assert [i.run_id for i in store.list()] == [b.run_id]


@pytest.mark.slow
def test_writes_are_atomic_no_temporary_folder_left(tmp_path):
    store = RunStore(tmp_path)
    result = get_or_train(TINY, store)
    store.save(result)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == [INDEX_FOLDER, result.run_id]  # the run and the index
    assert {p.name for p in (tmp_path / result.run_id).iterdir()} >= {
        "spec.json",
        "result.json",
        "arrays.npz",
        "model.keras",
    }


@pytest.mark.slow
def test_diverged_runs_are_stored_with_null_losses(tmp_path):
    store = RunStore(tmp_path)
    spec = TINY.replace(optimizer="sgd", learning_rate=100.0, epochs=3)
    result = get_or_train(spec, store)
    assert result.diverged
    again = store.get(spec)
    assert again.diverged and again.epochs_run == result.epochs_run
    # The climb is stored, NaN or infinite values as null (read back as NaN), not dropped.
    assert len(again.points["loss"]) == len(result.points["loss"]) > 1
    assert again.points["epoch"][0] == 0


def test_a_run_stored_before_its_curve_was_kept_still_opens(tmp_path):
    store = RunStore(tmp_path)
    result = get_or_train(TINY, store)
    path = store.path(result.run_id) / "result.json"
    payload = json.loads(path.read_text())
    assert payload["points"]["epoch"][0] == 0  # kept from the untrained network on
    del payload["points"]
    path.write_text(json.dumps(payload))
    old = store.get(TINY)
    assert old is not None and old.points == {} and old.initial is None
    assert [info.run_id for info in store.list()] == [result.run_id]


def test_mlp_lab_home_sets_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_LAB_HOME", str(tmp_path / "elsewhere"))
    assert RunStore().home == tmp_path / "elsewhere"


def test_the_store_only_persists_it_never_loads_the_trainer():
    code = (
        "import sys, lab.runs.store, lab.runs.training;"
        "print('lab.nn.trainer' in sys.modules, 'tensorflow' in sys.modules, hasattr(lab.runs.store, 'get_or_train'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_train_and_save_trains_again_and_replaces_the_stored_run(tmp_path):
    store = RunStore(tmp_path)
    first = get_or_train(TINY, store)
    again = train_and_save(check_network(TINY), store)
    assert not again.from_store and again.path == store.path(TINY.run_id)
    assert store.get(TINY).created == again.created != first.created
