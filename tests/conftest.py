"""Shared test set-up: an isolated run store, an empty Keras cache, and quiet TensorFlow."""

import os
import tempfile

import pytest

# Before anything imports lab or TensorFlow: no test writes into the repo's ./runs.
os.environ.setdefault("MLP_LAB_HOME", tempfile.mkdtemp(prefix="mlp-lab-tests-"))
# Whether this machine has MNIST in ~/.keras must not change what a test checks: every test
# sees an empty Keras cache, and a test of the cached case writes its own (tests/test_data.py).
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="mlp-lab-keras-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def store_home(tmp_path, monkeypatch):
    """A fresh, empty run store for one test (``MLP_LAB_HOME`` points at it)."""
    home = tmp_path / "runs"
    monkeypatch.setenv("MLP_LAB_HOME", str(home))
    return home
