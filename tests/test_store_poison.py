"""One bad run never breaks the class: a malformed result.json or a damaged model is skipped, every door stays up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lab.analysis.canvas import digit_to_canvas
from lab.architecture import check_network
from lab.data.sources import load_source
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.spec import ExperimentSpec
from tests import apptest_support
from tests.test_page_draw import draw  # a drawing sent as the canvas sends it

GOOD = ExperimentSpec(hidden=(8,), epochs=1, seed=1)
BROKEN = ExperimentSpec(hidden=(8,), epochs=1, seed=2)  # its files are damaged after training

# What a hand-edited or half-broken writer can leave: valid JSON, wrong types or ranges.
BAD_RESULTS = {
    "metrics null": lambda payload: payload | {"metrics": None},
    "created yesterday": lambda payload: payload | {"metrics": payload["metrics"] | {"created": "yesterday"}},
    "accuracy high": lambda payload: payload | {"metrics": payload["metrics"] | {"test_accuracy": "high"}},
    "accuracy 7": lambda payload: payload | {"metrics": payload["metrics"] | {"test_accuracy": 7}},
    "epochs a list": lambda payload: payload | {"metrics": payload["metrics"] | {"epochs_run": [1]}},
    "history text": lambda payload: payload | {"history": "loss went down"},
    "history of words": lambda payload: payload | {"history": {"loss": ["low"]}},
    "a list": lambda payload: [payload],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A store with two real runs, trained once for the module."""
    home = tmp_path_factory.mktemp("poison") / "runs"
    store = RunStore(home)
    for spec in (GOOD, BROKEN):
        train_and_save(check_network(spec), store)
    return home


def _copy(trained: Path, tmp_path: Path) -> Path:
    home = tmp_path / "runs"
    shutil.copytree(trained, home)
    return home


def _damage_result(home: Path, case: str) -> None:
    path = home / BROKEN.run_id / "result.json"
    path.write_text(json.dumps(BAD_RESULTS[case](json.loads(path.read_text()))))


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_a_malformed_result_is_skipped_by_the_store_and_the_command_line(trained, tmp_path, case, capsys, caplog):
    from lab.cli.main import main

    home = _copy(trained, tmp_path)
    _damage_result(home, case)
    store = RunStore(home)
    assert [info.run_id for info in store.list()] == [GOOD.run_id]
    assert store.get(BROKEN) is None and store.get(GOOD) is not None
    assert "Skipping unreadable run" in caplog.text
    assert main(["runs", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert GOOD.run_id in out and BROKEN.run_id not in out


@pytest.mark.slow
@pytest.mark.parametrize("page", ["draw", "gradients", "techniques", "teacher", "train", "cnn", "tune"])
def test_every_page_works_beside_a_malformed_result(trained, tmp_path, monkeypatch, page):
    home = _copy(trained, tmp_path)
    _damage_result(home, "accuracy high")
    at = apptest_support.open_page(page, home, monkeypatch)
    assert not at.exception


@pytest.mark.slow
def test_a_truncated_model_is_left_out_of_draw_with_a_plain_note(trained, tmp_path, monkeypatch):
    home = _copy(trained, tmp_path)
    model = home / BROKEN.run_id / "model.keras"
    model.write_bytes(model.read_bytes()[:100])
    # Make the broken run the most accurate, so that Draw chooses it first.
    path = home / BROKEN.run_id / "result.json"
    payload = json.loads(path.read_text())
    payload["metrics"]["test_accuracy"] = 0.99
    path.write_text(json.dumps(payload))
    at = apptest_support.open_page("draw", home, monkeypatch)
    source = load_source("sample")
    digit = source.x_test[int(np.flatnonzero(source.y_test == 0)[0])]
    at = draw(at, digit_to_canvas(digit, scale=8, offset=(25, -20), thickness=3, canvas_size=280))
    text = " ".join(e.value for e in at.error)
    assert f"The model of run {BROKEN.run_id} cannot be read" in text
    assert str(home) not in text  # no server path, no traceback
