"""Shared test set-up: an isolated run store, and quiet TensorFlow."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Before anything imports lab or TensorFlow: no test writes into the repo's ./runs.
os.environ.setdefault("MLP_LAB_HOME", tempfile.mkdtemp(prefix="mlp-lab-tests-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def store_home(tmp_path, monkeypatch):
    """A fresh, empty run store for one test (``MLP_LAB_HOME`` points at it)."""
    home = tmp_path / "runs"
    monkeypatch.setenv("MLP_LAB_HOME", str(home))
    return home
