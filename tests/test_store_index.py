"""The run store's index (lab/runs/index.py): the folders stay the truth, the index keeps up with them.

Runs here are written without training (a ``RunResult`` made by hand, a model file of a
few bytes): what is tested is what the index lists, not what a network learned.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lab.nn.result import RunResult
from lab.runs.index import INDEX_FILE, INDEX_FOLDER
from lab.runs.queries import NON_DIGIT_SOURCES, find_preset_run, preset_run
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec
from tests import apptest_support

ROOT = Path(__file__).resolve().parents[1]


class _ModelFile:
    """Stands in for a Keras model when a run is saved: a few bytes at ``model.keras``."""

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"not a real model")


def _result(seed: int, accuracy: float | None = 0.5, *, data: str = "sample", epochs: int = 2, model: bool = True,
            health: bool = False, diverged: bool = False, stopped: bool = False, created: float | None = None,
            hidden: tuple[int, ...] = (8,)) -> RunResult:  # fmt: skip
    """A complete run made by hand: what its files hold is what the index is asked about."""
    spec = ExperimentSpec(hidden=hidden, epochs=epochs, seed=seed, data=data)
    return RunResult(
        spec=spec,
        history={"loss": [1.0, 0.5], "val_accuracy": [0.2, 0.4]},
        test_loss=None if diverged else 0.5,
        test_accuracy=None if diverged else accuracy,
        confusion=np.zeros((10, 10), dtype=int),
        test_probs=np.zeros((4, 10), dtype=np.float32),
        epochs_run=epochs,
        best_epoch=None,
        train_seconds=1.0 + seed,
        diverged=diverged,
        stopped=stopped,
        params=100 + seed,
        health={"epochs": []} if health else None,
        created=created if created is not None else 1_700_000_000.0 + seed,
        model_loader=(lambda: _ModelFile()) if model else None,
    )


def _index_ids(home: Path) -> set[str]:
    """The run ids the index file itself holds (read with sqlite3, not through the store)."""
    with sqlite3.connect(home / INDEX_FOLDER / INDEX_FILE) as conn:
        return {row[0] for row in conn.execute("SELECT run_id FROM runs")}


def _old_digit_runs(store: RunStore) -> list[str]:
    """What ``queries.digit_runs`` returned before the index: every run listed, filtered and sorted in Python."""
    runs = [
        info
        for info in store.list()
        if not info.metrics.get("diverged")
        and info.spec.data not in NON_DIGIT_SOURCES
        and (store.path(info.run_id) / "model.keras").is_file()
    ]
    return [i.run_id for i in sorted(runs, key=lambda info: -np.nan_to_num(info.test_accuracy, nan=-1.0))]


@pytest.fixture
def mixed(tmp_path) -> RunStore:
    """A store of 40 runs of every sort the queries tell apart."""
    store = RunStore(tmp_path / "runs")
    rng = np.random.default_rng(0)
    for seed in range(40):
        store.save(
            _result(
                seed,
                accuracy=round(float(rng.uniform(0.1, 0.99)), 2),  # rounded: ties, broken newest first
                data="fashion" if seed % 7 == 0 else "sample",
                model=seed % 5 != 0,
                health=seed % 3 == 0,
                diverged=seed % 11 == 0,
                stopped=seed % 13 == 0,
                epochs=2 + seed % 4,
                hidden=(8,) if seed % 2 else (16,),
                created=1_700_000_000.0 + (seed * 7919) % 40,
            )
        )
    return store


# --------------------------------------------------------------------------- the queries agree with the old listing
def test_the_best_digit_runs_are_the_old_listings_first_30_in_the_same_order(mixed):
    old = _old_digit_runs(mixed)
    assert len(old) > 15
    assert [i.run_id for i in mixed.best_digit_runs(30)] == old[:30]
    assert [i.run_id for i in mixed.best_digit_runs(None)] == old
    assert mixed.count_digit_runs() == len(old)


def test_a_digit_run_whose_model_file_vanished_is_left_out_and_the_next_one_listed(mixed):
    best = mixed.best_digit_runs(5)
    (mixed.path(best[0].run_id) / "model.keras").unlink()
    assert [i.run_id for i in mixed.best_digit_runs(5)] == [i.run_id for i in mixed.best_digit_runs(6)[:5]]
    assert best[0].run_id not in {i.run_id for i in mixed.best_digit_runs(None)}
    assert [i.run_id for i in mixed.best_digit_runs(5)][:4] == [i.run_id for i in best[1:]]


def test_preset_runs_health_runs_and_the_table_match_a_filter_of_the_full_listing(mixed):
    everything = mixed.list()
    for spec in (_result(3).spec.replace(epochs=9), _result(4, hidden=(16,)).spec, _result(99).spec):
        assert preset_run(mixed, spec) == find_preset_run(everything, spec)
    assert [i.run_id for i in mixed.runs_with_health()] == [
        i.run_id for i in everything if (mixed.path(i.run_id) / "health.json").is_file()
    ]
    page = mixed.table(data="sample", sort="test_accuracy", limit=7, offset=3)
    sample = [i for i in everything if i.spec.data == "sample"]
    by_accuracy = sorted(sample, key=lambda i: (i.metrics["test_accuracy"] is None, -(i.metrics["test_accuracy"] or 0)))
    assert page.total == len(sample)
    assert [i.metrics["test_accuracy"] for i in page.rows] == [i.metrics["test_accuracy"] for i in by_accuracy[3:10]]
    assert mixed.table(kind="cnn").total == 0 and mixed.table(kind="mlp").total == len(everything)
    assert mixed.table(since=1_700_000_010, until=1_700_000_020).total == sum(
        1_700_000_010 <= i.metrics["created"] < 1_700_000_020 for i in everything
    )
    assert [i.run_id for i in mixed.recent(5)] == [i.run_id for i in everything[:5]]
    session = [everything[7].run_id, everything[2].run_id, "nothere"]
    assert [i.run_id for i in mixed.infos(session)] == [everything[2].run_id, everything[7].run_id]
    with pytest.raises(ValueError, match="Cannot sort runs by 'spec_json'"):
        mixed.table(sort="spec_json")
    assert mixed.choices("data") == ["fashion", "sample"] and mixed.choices("kind") == ["mlp"]
    assert mixed.choices("trained_by") == [""]


def test_a_course_preset_run_is_found_by_its_presets_name(tmp_path):
    from lab.catalog.presets import get_preset

    store = RunStore(tmp_path)
    preset = get_preset("A1", "sample")
    capped = preset.spec.replace(epochs=2)
    store.save(dataclasses.replace(_result(0), spec=capped))
    [row] = store.table(preset="A1").rows
    assert row.run_id == capped.run_id and row.preset == "A1"
    assert store.choices("preset") == ["A1"]
    assert store.table(preset="").total == 0


# --------------------------------------------------------------------------- who trained a run
def test_credit_is_written_to_the_run_folder_first_nickname_wins_and_survives_a_rebuild(mixed):
    run_id = mixed.recent(1)[0].run_id
    assert mixed.credit(run_id, "  Ada  L. ") == "Ada L."
    assert mixed.credit(run_id, "bob") == "Ada L."  # first nickname wins
    assert json.loads((mixed.path(run_id) / "credit.json").read_text()) == {"trained_by": "Ada L."}
    assert [i.run_id for i in mixed.table(trained_by="Ada L.").rows] == [run_id]
    assert mixed.rebuild_index() == 40
    assert mixed.info(run_id).trained_by == "Ada L."
    with pytest.raises(ValueError, match="nickname is 1 to 40 characters"):
        mixed.credit(run_id, "   ")
    with pytest.raises(ValueError, match="No run 'nothere'"):
        mixed.credit("nothere", "ada")


# --------------------------------------------------------------------------- keeping up with the folders
WRITE = """
import sys
sys.path.insert(0, {tests!r})
from test_store_index import _result
from lab.runs.store import RunStore
store = RunStore(sys.argv[1])
for seed in range(int(sys.argv[2]), int(sys.argv[3])):
    store.save(_result(seed))
"""


def _writer(home: Path, first: int, last: int) -> subprocess.Popen:
    code = WRITE.format(tests=str(ROOT / "tests"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, str(home), str(first), str(last)], env=env)


def test_a_run_saved_by_another_process_is_listed_without_a_restart(tmp_path):
    store = RunStore(tmp_path)
    store.save(_result(0))
    assert store.table().total == 1
    assert _writer(tmp_path, 1, 3).wait(60) == 0
    assert {i.run_id for i in store.best_digit_runs(30)} == {_result(s).run_id for s in range(3)}
    assert store.table().total == 3


def test_a_run_folder_copied_in_by_hand_is_listed_and_one_removed_by_hand_is_gone(tmp_path):
    source = RunStore(tmp_path / "elsewhere")
    source.save(_result(5))
    store = RunStore(tmp_path / "runs")
    store.save(_result(0))
    assert store.table().total == 1
    shutil.copytree(source.path(_result(5).run_id), store.path(_result(5).run_id))  # a Ray worker, rsync, a USB key
    assert [i.run_id for i in store.table().rows] == [_result(5).run_id, _result(0).run_id]
    shutil.rmtree(store.path(_result(0).run_id))
    assert [i.run_id for i in store.table().rows] == [_result(5).run_id]


def test_a_run_written_file_by_file_in_place_is_listed_once_its_result_is_there(tmp_path):
    store = RunStore(tmp_path / "runs")
    store.save(_result(0))
    run = _result(1)
    folder = store.path(run.run_id)
    folder.mkdir()
    (folder / "spec.json").write_text(run.spec.to_json())  # a foreign writer, half done
    assert store.table().total == 1 and store.broken(full=False) == [
        (run.run_id, "result.json is missing (a save that never finished)")
    ]
    time.sleep(0.01)
    payload = json.loads((RunStore(tmp_path / "elsewhere").save(run) / "result.json").read_text())
    (folder / "result.json").write_text(json.dumps(payload))
    assert {i.run_id for i in store.table().rows} == {run.run_id, _result(0).run_id}
    assert store.broken() == []


def test_a_corrupt_result_is_skipped_and_logged_and_never_breaks_a_listing(mixed, caplog):
    victim = mixed.best_digit_runs(1)[0].run_id
    (mixed.path(victim) / "result.json").write_text("{not json")  # damaged in place
    assert mixed.get(victim) is None  # a page opening it finds it unreadable ...
    assert victim not in {i.run_id for i in mixed.best_digit_runs(30)}  # ... and no listing offers it again
    assert "Skipping unreadable run" in caplog.text and victim in caplog.text
    assert (victim, "a file is not valid JSON (Expecting property name enclosed in double quotes, line 1)") in (
        mixed.broken()
    )
    stray = mixed.home / "deadbeef0000"
    stray.mkdir()
    (stray / "spec.json").write_text("{not json")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert mixed.table().total == 39  # 40 runs, one damaged, the stray folder not a run
    assert "deadbeef0000" in caplog.text


def test_a_run_edited_in_place_is_seen_by_the_full_listing(mixed):
    run_id = mixed.recent(1)[0].run_id
    path = mixed.path(run_id) / "result.json"
    payload = json.loads(path.read_text())
    payload["metrics"]["test_accuracy"] = 0.125
    path.write_text(json.dumps(payload))
    assert next(i for i in mixed.list() if i.run_id == run_id).test_accuracy == 0.125


def test_deleting_a_run_removes_it_from_the_folder_and_the_index(mixed):
    run_id = mixed.recent(1)[0].run_id
    assert run_id in _index_ids(mixed.home)
    assert mixed.delete(run_id)
    assert not mixed.path(run_id).exists() and run_id not in _index_ids(mixed.home)
    assert run_id not in {i.run_id for i in mixed.list()} and mixed.info(run_id) is None


def test_a_corrupt_index_file_is_rebuilt_from_the_folders(mixed, caplog):
    expected = [i.run_id for i in mixed.best_digit_runs(30)]
    mixed._index.close()
    index = mixed.home / INDEX_FOLDER / INDEX_FILE
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"this is not a database" * 100)
    reopened = RunStore(mixed.home)
    assert [i.run_id for i in reopened.best_digit_runs(30)] == expected
    assert "cannot be read" in caplog.text
    assert len(_index_ids(mixed.home)) == 40


def test_a_store_of_the_old_layout_is_indexed_on_first_open(mixed):
    expected = [i.run_id for i in mixed.list()]
    mixed._index.close()
    shutil.rmtree(mixed.home / INDEX_FOLDER)  # as a store written before the index existed
    old = RunStore(mixed.home)
    assert [i.run_id for i in old.table(limit=None).rows] == expected
    assert len(_index_ids(mixed.home)) == 40


def test_two_writer_processes_and_a_reader_leave_a_consistent_index(tmp_path):
    store = RunStore(tmp_path)
    writers = [_writer(tmp_path, 0, 30), _writer(tmp_path, 100, 130)]
    seen = 0
    while any(w.poll() is None for w in writers):
        page = store.table(limit=None)  # never an error, never a run without its folder
        assert page.total == len(page.rows)
        assert all(store.path(i.run_id).is_dir() for i in page.rows)
        seen = max(seen, page.total)
    assert [w.returncode for w in writers] == [0, 0]
    expected = {_result(s).run_id for s in (*range(30), *range(100, 130))}
    assert {i.run_id for i in store.table(limit=None).rows} == expected == _index_ids(tmp_path)
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == expected
    assert 0 < seen <= 60


# --------------------------------------------------------------------------- pages beside a corrupt run
@pytest.mark.parametrize("page", ["draw", "gradients", "techniques"])
def test_a_page_works_beside_a_run_damaged_after_it_was_indexed(mixed, monkeypatch, page):
    for record in mixed.home.glob("*/health.json"):
        record.unlink()  # these runs' health records are placeholders, not charts a page can draw
    victim = mixed.best_digit_runs(1)[0].run_id
    (mixed.path(victim) / "result.json").write_text('{"metrics": null}')
    at = apptest_support.open_page(page, mixed.home, monkeypatch)
    assert not at.exception


def test_a_store_whose_index_cannot_be_written_still_lists_its_runs(tmp_path, caplog):
    store = RunStore(tmp_path)
    for seed in range(3):
        store.save(_result(seed))
    store._index.close()
    shutil.rmtree(tmp_path / INDEX_FOLDER)
    (tmp_path / INDEX_FOLDER).write_text("a file where the index's folder should be")  # as a read-only share
    reopened = RunStore(tmp_path)
    assert {i.run_id for i in reopened.table().rows} == {_result(s).run_id for s in range(3)}
    assert "this process keeps one in memory" in caplog.text
