"""In CI a missing test dependency is a failure; on a developer's machine, a skip.

CI (``.ci/run``) sets ``CI=true`` and installs everything the suite needs, so a
test that would skip there hides a broken install. Outside CI a missing
Chromium or dataset package skips with the command that installs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

CI_TRUE = frozenset({"true", "1", "yes"})


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CI`` is set to true, 1 or yes (any case), as CI services and ``.ci/run`` do."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() in CI_TRUE


def missing(reason: str) -> None:
    """Stop the current test because something it needs is missing: fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """A ``skipif`` mark that skips only outside CI: in CI the test runs, and fails without ``reason``'s package."""
    return pytest.mark.skipif(not available and not in_ci(), reason=reason)
