"""`python -m lab`: train with flags and --json, list and delete runs, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lab(*args, home, check=True):
    env = {**os.environ, "MLP_LAB_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


TRAIN = (
    "train --data sample --hidden 16 --activation relu --init he_normal --optimizer adam --lr 0.001 "
    "--batch-size 64 --epochs 2 --dropout 0.1 --l2 0.0001 --batchnorm before --early-stopping 3 "
    "--val-split 0.2 --seed 3"
).split()


@pytest.mark.slow
def test_train_json_then_from_store_then_delete(tmp_path):
    first = lab(*TRAIN, "--json", home=tmp_path)
    out = json.loads(first.stdout)
    assert {"run_id", "spec", "test_accuracy", "test_loss", "history", "epochs_run", "params", "train_seconds",
            "from_store", "diverged"} <= set(out)  # fmt: skip
    assert out["from_store"] is False and out["diverged"] is False
    assert out["epochs_run"] == 2 and len(out["history"]["loss"]) == 2
    assert out["params"] == 784 * 16 + 16 + 4 * 16 + 170
    assert out["spec"]["hidden"] == [16] and out["spec"]["batchnorm"] == "before"
    assert "epoch 2/2" in first.stderr  # progress on the terminal

    again = json.loads(lab(*TRAIN, "--json", home=tmp_path).stdout)
    assert again["from_store"] is True and again["run_id"] == out["run_id"]
    assert again["history"] == out["history"]

    listed = lab("runs", "--json", home=tmp_path)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [out["run_id"]]
    assert lab("runs", "delete", out["run_id"], home=tmp_path).returncode == 0
    assert json.loads(lab("runs", "--json", home=tmp_path).stdout) == []


def test_bad_flags_give_a_message_not_a_traceback(tmp_path):
    proc = lab("train", "--hidden", "50,0", "--epochs", "1", home=tmp_path, check=False)
    assert proc.returncode == 2
    assert "Hidden layer 2 has width 0" in proc.stderr and "Traceback" not in proc.stderr
    proc = lab("train", "--activation", "bogus", home=tmp_path, check=False)
    assert "Unknown activation 'bogus'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_empty_hidden_means_logistic_regression(tmp_path):
    proc = lab("train", "--hidden", "", "--epochs", "1", "--json", home=tmp_path)
    assert json.loads(proc.stdout)["params"] == 7850


def test_deleting_an_unknown_run_says_so(tmp_path):
    proc = lab("runs", "delete", "nope", home=tmp_path, check=False)
    assert proc.returncode == 1 and "No run nope" in proc.stderr
