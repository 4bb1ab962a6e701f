"""A missing browser or dataset package skips a test on a laptop and fails it in CI."""

import pytest

from tests.ci_support import in_ci, missing, needs


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "Yes"])
def test_ci_is_on_for_true_1_and_yes(value):
    assert in_ci({"CI": value})


@pytest.mark.parametrize("env", [{}, {"CI": ""}, {"CI": "false"}, {"CI": "0"}, {"CI": "no"}])
def test_ci_is_off_otherwise(env):
    assert not in_ci(env)


def test_missing_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium not found.*failure, not a skip"):
        missing("Chromium not found")


def test_missing_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        missing("Chromium not found")


def test_needs_skips_only_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert needs(False, "no package").args == (True,)
    assert needs(True, "no package").args == (False,)
    monkeypatch.setenv("CI", "yes")
    assert needs(False, "no package").args == (False,)  # runs, and fails on the missing package
