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
# Tests never read the developer's own .streamlit/secrets.toml (a teacher's passphrase, a class's limits): Streamlit
# reads an empty secrets file of the tests' own; a test that needs a secret sets it (AppTest.secrets, or a file
# handed to the server with --secrets.files, as tests/browser/conftest.py's servers all get one).
EMPTY_SECRETS = os.path.join(tempfile.mkdtemp(prefix="mlp-lab-secrets-"), "secrets.toml")
open(EMPTY_SECRETS, "w").close()


@pytest.fixture(autouse=True)
def _no_real_secrets():
    """Every test starts with Streamlit reading the tests' empty secrets file, whatever a test before it set."""
    import streamlit as st
    from streamlit import config

    config.set_option("secrets.files", [EMPTY_SECRETS])
    st.secrets._reset()
    yield


@pytest.fixture
def store_home(tmp_path, monkeypatch):
    """A fresh, empty run store for one test (``MLP_LAB_HOME`` points at it)."""
    home = tmp_path / "runs"
    monkeypatch.setenv("MLP_LAB_HOME", str(home))
    return home
