"""`python -m lab tune`: a search from the command line, in a process of its own, on a real local Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

ROOT = Path(__file__).resolve().parents[1]


def lab(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLP_LAB_HOME": str(home), "PYTHONPATH": str(ROOT), "MLP_LAB_RAY": ""}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_tune_json_names_the_best_stored_run_and_every_trial(tmp_path):
    proc = lab(
        "tune", "--base", "A3", "--data", "sample", "--search", "lr=1e-3:1e-1:log,dropout=0:0.5,hidden=16|32",
        "--trials", "4", "--epochs", "2", "--workers", "2", "--json", home=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert {"run_id", "spec", "val_accuracy", "test_accuracy", "trials"} <= set(payload)
    store = RunStore(tmp_path)
    best = store.get(payload["run_id"])
    assert best is not None and not best.stopped
    assert ExperimentSpec.from_dict(payload["spec"]).run_id == payload["run_id"]
    assert payload["test_accuracy"] == pytest.approx(best.test_accuracy)
    assert payload["val_accuracy"] == pytest.approx(best.history["val_accuracy"][-1])  # the kept (last) epoch's
    assert len(payload["trials"]) == 4
    for trial in payload["trials"]:
        assert {"run_id", "settings", "state", "epochs_run", "val_accuracy"} <= set(trial)
        stored = store.get(trial["run_id"])
        assert stored is not None and stored.epochs_run == trial["epochs_run"]
        assert stored.spec.data == "sample" and stored.spec.hidden in ((16,), (32,))
        assert stored.stopped == (trial["state"] == "stopped")
    assert payload["val_accuracy"] == max(t["val_accuracy"] for t in payload["trials"] if t["state"] == "finished")
    # A3's setup is kept where the search does not change it (SGD, raw pixels, seed 7).
    spec = ExperimentSpec.from_dict(payload["spec"])
    assert spec.optimizer == "sgd" and spec.raw_pixels and spec.seed == 7 and spec.epochs == 2
    # One progress line per trial at least, on stderr.
    assert sum("trial " in line and "/4 " in line for line in proc.stderr.splitlines()) >= 4


@pytest.mark.parametrize(
    ("search", "words"),
    [
        ("lr=0.1:0.001", "low end 0.1 is above the high end 0.001"),
        ("lr=0:0.1:log", "log range cannot reach zero"),
        ("", "at least one setting"),
        ("layers=1:6,units=64:4096", "over the limit"),
    ],
)
def test_tune_bad_input_is_a_message_not_a_traceback(tmp_path, search, words):
    proc = lab("tune", "--base", "A3", "--data", "sample", "--search", search, home=tmp_path)
    assert proc.returncode == 2
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing trained
