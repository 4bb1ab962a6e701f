"""The server-wide objects every page shares: the run store, the training engine and the jobs.

Cached with ``st.cache_resource``, so that every session of one server sees the
same store and the same queue of trainings.
"""

from __future__ import annotations

import streamlit as st

from lab.runs.executor import RAY_ENV, Executor, make_executor, ray_setting
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore


@st.cache_resource
def get_store() -> RunStore:
    """The process-wide run store (``$MLP_LAB_HOME`` or ``./runs``)."""
    return RunStore()


@st.cache_resource(show_spinner="Starting the training engine ...")
def get_executor() -> Executor:
    """Where this server trains: ``MLP_LAB_RAY`` from the environment, else from ``.streamlit/secrets.toml``.

    Unset: in this process (nothing of Ray is imported). A Ray cluster that
    cannot be reached gives the in-process engine with a ``notice`` the pages show.
    """
    return make_executor(ray_setting(fallback=_secret(RAY_ENV)))


@st.cache_resource
def get_jobs() -> JobManager:
    """The process-wide training jobs, trained by ``get_executor()``."""
    return JobManager(get_store(), get_executor())


def _secret(name: str) -> str:
    """A top-level value of the app's secrets file, or "" when there is no such file or value."""
    if not st.secrets.load_if_toml_exists():
        return ""
    return str(st.secrets.get(name, "") or "")
