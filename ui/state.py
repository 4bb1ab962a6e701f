"""The server-wide objects every page shares: the run store and the training jobs.

Cached with ``st.cache_resource``, so that every session of one server sees the
same store and the same queue of trainings.
"""

from __future__ import annotations

import streamlit as st

from lab.runs.jobs import JobManager
from lab.runs.store import RunStore


@st.cache_resource
def get_store() -> RunStore:
    """The process-wide run store (``$MLP_LAB_HOME`` or ``./runs``)."""
    return RunStore()


@st.cache_resource
def get_jobs() -> JobManager:
    """The process-wide training jobs: one training at a time per server."""
    return JobManager(get_store())
