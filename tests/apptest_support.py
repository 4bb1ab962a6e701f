"""Helpers shared by the pages' AppTest tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def open_page(name: str, home: Path, monkeypatch: pytest.MonkeyPatch, timeout: float = 240, **query: str) -> AppTest:
    """Run ``pages/NAME.py`` once against the run store in ``home`` (with URL ``query``); fail on an exception."""
    monkeypatch.setenv("MLP_LAB_HOME", str(home))
    st.cache_resource.clear()  # the store and loaded models of another test's home
    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> list[str]:
    """The titles of the page's Altair charts."""
    titles = []
    for chart in at.get("vega_lite_chart"):
        title = json.loads(chart.proto.spec).get("title")
        titles.append(title if isinstance(title, str) else (title or {}).get("text", ""))
    return titles
