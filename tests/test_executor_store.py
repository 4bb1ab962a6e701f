"""The run store under several writers: two servers (or Ray workers) finishing the same run at once.

No TensorFlow here: the runs are written from plain arrays (no model file), as
many times as it takes to make the writers collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from lab.nn.result import RunResult
from lab.runs.index import INDEX_FOLDER
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

SPEC = ExperimentSpec(hidden=(8,), epochs=3, seed=5)
SAVES = 25


def _run(marker: float) -> RunResult:
    """A complete run whose every file carries ``marker``, so a mix of two writers shows."""
    return RunResult(
        spec=SPEC,
        history={"loss": [marker] * 3, "val_loss": [marker] * 3},
        test_loss=marker,
        test_accuracy=0.5,
        confusion=np.full((10, 10), int(marker)),
        test_probs=np.full((50, 10), marker, dtype=np.float32),
        epochs_run=3,
        best_epoch=None,
        train_seconds=marker,
        diverged=False,
        stopped=False,
        params=1,
        health={"marker": marker},
        created=time.time(),
    )


def _consistent(result: RunResult) -> float:
    """The run's marker, after checking that every file carries the same one."""
    marker = result.test_loss
    assert result.history["loss"] == [marker] * 3
    assert result.train_seconds == marker
    assert result.health == {"marker": marker}
    assert (result.confusion == int(marker)).all()
    assert (result.test_probs == np.float32(marker)).all()
    return marker


# One writer process: a fresh interpreter (as a second app server) that waits for the
# start file, then saves the same run SAVES times. A subprocess rather than
# multiprocessing's spawn, which re-runs whatever script is __main__ (AppTest's, in a
# full test session).
WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_executor_store import SAVES, _run
from lab.runs.store import RunStore
home, writer, start = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
store = RunStore(home)
deadline = time.monotonic() + 60
while not start.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
for i in range(SAVES):
    store.save(_run(writer * 1000 + i))
"""


def start_writer(home: Path, writer: int, start: Path) -> subprocess.Popen:
    code = WRITER.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", code, str(home), str(writer), str(start)], env=env)


def _leftovers(home: Path) -> list[str]:
    """Hidden folders a writer left behind (the store's index folder is not one)."""
    return sorted(p.name for p in home.iterdir() if p.name.startswith(".") and p.name != INDEX_FOLDER)


def test_two_processes_finishing_the_same_run_leave_one_intact_run(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    start = tmp_path / "start"
    writers = [start_writer(home, w, start) for w in (1, 2)]  # two fresh interpreters
    store = RunStore(home)
    seen: set[float] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:  # a third server reading while both write: only ever a whole run, or none
        while not done.is_set():
            try:
                result = store.get(SPEC)
                if result is not None:
                    seen.add(_consistent(result))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    start.touch()
    codes = [proc.wait(120) for proc in writers]
    done.set()
    reader.join(10)
    assert codes == [0, 0]
    assert not errors, errors
    final = _consistent(store.get(SPEC))
    assert final in {1000 + SAVES - 1, 2000 + SAVES - 1}  # the last save of one of the two writers
    assert {m // 1000 for m in seen} <= {1, 2} and seen
    assert [info.run_id for info in store.list()] == [SPEC.run_id]
    assert _leftovers(home) == []  # no temporary folder, trash or lock left behind


def test_threads_saving_and_deleting_at_once_never_break_the_store(tmp_path):
    store = RunStore(tmp_path)
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        try:
            for i in range(SAVES):
                store.save(_run(writer * 1000 + i))
                if writer == 3 and i % 5 == 0:
                    store.delete(SPEC.run_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    result = store.get(SPEC)
    assert result is None or _consistent(result) % 1000 <= SAVES - 1
    assert _leftovers(tmp_path) == []


def test_a_lock_left_by_a_writer_that_died_is_broken_after_a_while(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    store.save(_run(1))
    lock = tmp_path / f".lock-{SPEC.run_id}"
    lock.mkdir()  # as a writer killed between taking the lock and releasing it leaves it
    monkeypatch.setattr("lab.runs.store.STALE_LOCK_SECONDS", 0.2)
    started = time.monotonic()
    store.save(_run(2))
    assert time.monotonic() - started < 5
    assert _consistent(store.get(SPEC)) == 2
    assert _leftovers(tmp_path) == []


def test_a_temporary_folder_left_by_a_killed_worker_is_invisible_and_swept_later(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    half = tmp_path / f".tmp-{SPEC.run_id}-killed"
    half.mkdir(parents=True)
    (half / "spec.json").write_text(SPEC.to_json())  # a worker died while writing this run
    assert store.list() == [] and store.get(SPEC) is None
    monkeypatch.setattr("lab.runs.store.STALE_TMP_SECONDS", 0.0)
    store.save(_run(3))
    assert not half.exists()
    assert _consistent(store.get(SPEC)) == 3


def _age(folder: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(folder, (stamp, stamp))


def test_folders_left_by_a_crash_over_an_hour_ago_are_gone_once_the_store_opens(tmp_path):
    RunStore(tmp_path).save(_run(1))
    old_tmp = tmp_path / f".tmp-{SPEC.run_id}-crashed"
    old_trash = tmp_path / f".trash-{SPEC.run_id}-1"
    fresh_tmp = tmp_path / f".tmp-{SPEC.run_id}-writing-now"  # another writer, still at work
    for folder in (old_tmp, old_trash, fresh_tmp):
        folder.mkdir()
        (folder / "spec.json").write_text(SPEC.to_json())
    _age(old_tmp, 3700)
    _age(old_trash, 3700)
    _age(fresh_tmp, 60)
    store = RunStore(tmp_path)  # opening it, no save
    assert not old_tmp.exists() and not old_trash.exists()
    assert fresh_tmp.exists()
    assert _consistent(store.get(SPEC)) == 1


def test_every_file_of_a_run_is_flushed_to_disk_before_the_rename_that_publishes_it(tmp_path, monkeypatch):
    synced: set[int] = set()
    real_fsync, real_replace = os.fsync, os.replace
    unsynced_at_publish: list[str] = []

    def fsync(fd: int) -> None:
        synced.add(os.fstat(fd).st_ino)
        real_fsync(fd)

    def replace(src, dst) -> None:
        src = Path(src)
        if src.name.startswith(".tmp-"):
            unsynced_at_publish.extend(p.name for p in src.iterdir() if p.stat().st_ino not in synced)
            assert src.stat().st_ino in synced, "the folder's entries were not flushed"
        real_replace(src, dst)

    monkeypatch.setattr("lab.runs.store.os.fsync", fsync)
    monkeypatch.setattr("lab.runs.store.os.replace", replace)
    RunStore(tmp_path).save(_run(2))
    assert unsynced_at_publish == []
    assert _consistent(RunStore(tmp_path).get(SPEC)) == 2
