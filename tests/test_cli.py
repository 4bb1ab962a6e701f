"""`python -m lab`: train with flags and --json, list and delete runs, clear errors."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import codec
from lab.cli import train
from lab.cli.main import build_parser
from lab.cli.train import spec_from_args
from lab.codec import spec_from_query
from lab.spec import Augmentation, ConvBlock
from tests import apptest_support

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


# A small CNN with augmentation on raw pixels, from flags alone, and the Train page link of the same setup.
CNN_FLAGS = (
    "train --data sample --set conv=4x3s2 --set aug_rotation=10 --raw-pixels --hidden 16 --epochs 1 "
    "--set train_subset=200 --batch-size 64"
).split()
CNN_LINK = {
    "conv": "4x3s2",
    "aug_rotation": "10",
    "raw_pixels": "1",
    "hidden": "16",
    "epochs": "1",
    "train_subset": "200",
    "batch_size": "64",
}


def test_flags_and_the_train_page_link_describe_the_same_spec():
    spec = spec_from_args(build_parser().parse_args(CNN_FLAGS))
    assert spec.conv == (ConvBlock(4, 3, 2),) and spec.augmentation == Augmentation(rotation=10)
    assert spec.raw_pixels and spec.train_subset == 200
    assert spec == spec_from_query(CNN_LINK)  # the Train page reads its spec from the URL through lab.codec


def test_every_setting_has_a_flag_and_set_reaches_them_all():
    help_text = train.add_parser(argparse.ArgumentParser().add_subparsers()).format_help()
    assert all(codec.flag_name(key) in help_text for key in codec.KEYS)
    assert "--lr" in help_text and "--init" in help_text and "--set KEY=VALUE" in help_text
    args = ["train", "--set", "data_seed=3", "--early-stopping", "3", "--set", "es_min_delta=0.01"]
    spec = spec_from_args(build_parser().parse_args(args))
    assert spec.data_seed == 3 and spec.early_stopping == 3 and spec.es_min_delta == 0.01


def test_bad_settings_give_a_message_not_a_traceback(tmp_path):
    proc = lab("train", "--set", "conv=big", home=tmp_path, check=False)
    assert proc.returncode == 2 and "'big' is not a conv block" in proc.stderr and "Traceback" not in proc.stderr
    proc = lab("train", "--set", "colour=red", home=tmp_path, check=False)
    assert proc.returncode == 2 and "Unknown setting 'colour'" in proc.stderr


@pytest.mark.slow
def test_cli_trains_a_cnn_with_augmentation_from_flags_and_the_train_page_finds_it(tmp_path, monkeypatch):
    out = json.loads(lab(*CNN_FLAGS, "--json", home=tmp_path).stdout)
    assert out["spec"]["conv"] == [dict(filters=4, kernel_size=3, strides=2, padding="same", pool=0, dropout=0.0,
                                        l2=0.0)]  # fmt: skip
    assert out["spec"]["augmentation"]["rotation"] == 10 and out["spec"]["raw_pixels"] is True
    assert out["epochs_run"] == 1 and out["from_store"] is False
    assert out["run_id"] == spec_from_query(CNN_LINK).run_id
    # The Train page, opened on the same link, shows that run from the store: it names the same spec.
    at = apptest_support.open_page("train", tmp_path, monkeypatch, **CNN_LINK)
    captions = [str(c.value) for c in at.caption]
    assert any("Read from the run store" in c for c in captions)
    assert spec_from_query(dict(at.query_params)).run_id == out["run_id"]


def test_train_applies_the_servers_limits_unless_no_limits_lifts_them(tmp_path, monkeypatch, capsys):
    from lab.cli.main import main

    monkeypatch.setenv("MLP_LAB_HOME", str(tmp_path))
    monkeypatch.setenv("MLP_LAB_MAX_EPOCHS", "3")
    monkeypatch.setattr("lab.cli.train.get_or_train", lambda *a, **k: pytest.fail("refused specs never train"))
    assert main(["train", "--data", "sample", "--epochs", "4"]) != 0
    assert "MLP_LAB_MAX_EPOCHS" in capsys.readouterr().err
    lifted = train.cli_limits(lifted=True)
    assert lifted.check(spec_from_query({"epochs": "1000", "hidden": "3000,1500"})).spec.epochs == 1000
    assert train.cli_limits(lifted=False).data_roots is None  # the operator's own folders stay readable


def test_every_setting_through_the_train_command_line_names_the_same_spec():
    # Every setting of the spec, read from the spec itself, as `python -m lab train` flags.
    from lab.cli.main import build_parser
    from lab.cli.train import spec_from_args
    from lab.codec import spec_to_flags
    from tests.spec_examples import every_setting_changed

    spec = every_setting_changed()
    args = build_parser().parse_args(["train", *spec_to_flags(spec)])
    assert spec_from_args(args) == spec
    assert "--clipnorm=10" in spec_to_flags(spec)  # a setting added to the spec has its flag by itself
