"""Snapshots on a Ray worker: the server's observer hears every one, and the worker stores the film with the run.

The same training in-process gives the same snapshots: the same times and shapes, and the same
weights but for float32 rounding (a worker trains on one TensorFlow thread, this process on two).
"""

from __future__ import annotations

import numpy as np
import pytest

from lab.architecture import check_network
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from tests.test_executor_ray import ray_engine  # noqa: F401 - the fixture: a real local Ray, shut down after
from tests.test_snapshots import SPEC, Keeper

pytestmark = pytest.mark.slow


def test_a_ray_worker_records_and_relays_the_same_snapshots(ray_engine, tmp_path):  # noqa: F811
    observer = Keeper()
    store = RunStore(tmp_path / "ray")
    result = ray_engine.train_and_save(check_network(SPEC), store, observer)
    here = train_and_save(check_network(SPEC), RunStore(tmp_path / "here"))
    film, reference = result.film, here.film
    assert film is not None and store.film(SPEC) is not None  # stored by the worker, read back here
    steps = reference.setup.steps_per_epoch
    assert [s.step for s in film.snapshots] == [0, 1, 2, 4, 8, 16, steps, 2 * steps]
    assert [s.step for s in observer.snapshots] == [s.step for s in film.snapshots]  # relayed as they came
    assert film.epochs == reference.epochs
    np.testing.assert_array_equal(film.setup.map_index, reference.setup.map_index)
    for ray_shot, heard, local in zip(film.snapshots, observer.snapshots, reference.snapshots, strict=True):
        np.testing.assert_allclose(heard.filters, ray_shot.filters, atol=5e-3)  # stored as 8-bit pictures
        assert ray_shot.filters.shape == local.filters.shape == (64, 784)
        np.testing.assert_allclose(ray_shot.filters, local.filters, atol=1e-2)
        assert ray_shot.map_xy.shape == local.map_xy.shape
        assert abs(int(np.trace(ray_shot.confusion)) - int(np.trace(local.confusion))) <= 2
