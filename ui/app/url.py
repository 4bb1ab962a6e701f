"""A page's setup in its URL: read a link into the controls, write the controls' setup back.

A link names a course preset (``?preset=B7``) and/or spec settings in
``lab.codec``'s notation (``?hidden=50,50&conv=10x5s2``); settings override the
preset's. A fresh session always reads the URL; later, only a URL that changed
(a link followed from another page) replaces the controls, so that coming back
to a page through the menu keeps what was set there. A link that cannot be read
is reported in plain words, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from lab.catalog.presets import get_preset
from lab.codec import spec_from_query, spec_to_query
from lab.spec import ExperimentSpec
from ui.app.display import URL_SETTINGS
from ui.app.text import plain

PRESET_PARAM = "preset"


def spec_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A URL's query parameters without those that set how the page looks (``ui.app.display.URL_SETTINGS``)."""
    return {key: value for key, value in params.items() if key not in URL_SETTINGS}


@dataclass(frozen=True)
class LinkSetup:
    """What a link asks for: the spec, and what could not be read (one sentence each)."""

    spec: ExperimentSpec
    problems: tuple[str, ...] = ()


def read_link(params: Mapping[str, Any], default: ExperimentSpec, default_name: str) -> LinkSetup:
    """The spec a link describes, starting from its preset (if any) or ``default``.

    Parameters
    ----------
    params : mapping
        The URL's query parameters (``st.query_params.to_dict()``).
    default : ExperimentSpec
        The page's starting setup, for a link without a (valid) preset.
    default_name : str
        ``default`` in words, for the messages: ``"the defaults"``, ``"preset B6"``.

    Returns
    -------
    LinkSetup
        An unknown preset keeps the link's settings on ``default``; a setting
        that cannot be read drops all the link's settings, keeping its preset.
    """
    base, start = default, default_name
    problems = []
    if PRESET_PARAM in params:
        try:
            preset = get_preset(str(params[PRESET_PARAM]))
            base, start = preset.spec, f"preset {preset.name}"
        except ValueError as exc:
            problems.append(f"{exc} The link's other settings are used, on {default_name}.")
    try:
        spec = spec_from_query(params, defaults=base)
    except ValueError as exc:
        problems.append(f"{exc} The page shows {start} instead.")
        spec = base
    return LinkSetup(spec, tuple(problems))


class PageUrl:
    """One page's setup in the URL, kept in session state under ``{page}_base`` and ``{page}_query``.

    Parameters
    ----------
    page : str
        Names the page's session-state keys (``train``, ``cnn``).
    default : ExperimentSpec
        The setup of a plain visit (no link).
    default_name : str
        ``default`` in words, for the warnings.
    seed_controls : callable
        Sets the page's controls to a spec (before they are drawn, or from a callback).
    """

    def __init__(
        self,
        page: str,
        default: ExperimentSpec,
        default_name: str,
        seed_controls: Callable[[ExperimentSpec], None],
    ) -> None:
        self.page = page
        self.default = default
        self.default_name = default_name
        self.seed_controls = seed_controls

    @property
    def base_key(self) -> str:
        return f"{self.page}_base"

    @property
    def query_key(self) -> str:
        return f"{self.page}_query"

    def load(self) -> ExperimentSpec:
        """The setup to draw the controls from: the URL's when it is new, else the one kept in this session."""
        params = spec_params(st.query_params.to_dict())
        kept = self.base_key in st.session_state
        if kept and (not params or params == st.session_state.get(self.query_key)):
            return st.session_state[self.base_key]
        link = read_link(params, self.default, self.default_name)
        for problem in link.problems:
            st.warning(plain(problem))  # quotes the link's own words
        self.show(link.spec)
        return link.spec

    def show(self, spec: ExperimentSpec) -> None:
        """Set the page's controls to ``spec`` and keep it as the page's setup (also as a button callback)."""
        self.seed_controls(spec)
        self.keep(spec)

    def keep(self, spec: ExperimentSpec) -> None:
        """Keep ``spec`` as the page's setup (its settings without controls), leaving the controls as they are."""
        st.session_state[self.base_key] = spec

    def write(self, spec: ExperimentSpec) -> None:
        """Put the controls' setup into the URL (only when it changed), so that a copied link opens it."""
        query = spec_to_query(spec)
        current = st.query_params.to_dict()
        wanted = {**query, **{k: v for k, v in current.items() if k in URL_SETTINGS}}  # ?projector=1 stays
        if current != wanted:
            st.query_params.from_dict(wanted)
        st.session_state[self.query_key] = query
