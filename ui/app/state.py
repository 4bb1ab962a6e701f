"""The server-wide objects every page shares: the run store, the training engine, the jobs and the challenges.

Cached with ``st.cache_resource``, so that every session of one server sees the
same store and the same queue of trainings.
"""

from __future__ import annotations

import uuid

import streamlit as st

from lab.challenge.board import ChallengeBoard
from lab.runs.engine import RAY_ENV, Executor, ray_setting
from lab.runs.engines import make_executor
from lab.runs.jobs import JobManager
from lab.runs.limits import Limits
from lab.runs.store import RunStore
from ui.app.keras_session import keep_keras_session
from ui.app.teacher_access import keep_secrets_out_of_environ

SESSION_ID_KEY = "session_id"  # session state: an opaque random id, what a job's askers are
LOCAL_ADDRESSES = ("127.0.0.1", "::1", "localhost")  # this machine: a teacher's laptop, or a proxy in front


@st.cache_resource
def get_store() -> RunStore:
    """The process-wide run store (``$MLP_LAB_HOME`` or ``./runs``)."""
    return RunStore()


@st.cache_resource
def get_board() -> ChallengeBoard:
    """The class challenges of this server's run store (``challenges.sqlite`` beside its runs)."""
    return ChallengeBoard(get_store().home)


@st.cache_resource(show_spinner="Starting the training engine ...")
def get_executor() -> Executor:
    """Where this server trains: ``MLP_LAB_RAY`` from the environment, else from ``.streamlit/secrets.toml``.

    Unset: in this process (nothing of Ray is imported). A Ray cluster that
    cannot be reached gives the in-process engine with a ``notice`` the pages show.
    """
    setting = ray_setting(fallback=_secret(RAY_ENV))
    keep_secrets_out_of_environ()  # an embedded Ray's workers inherit this process's environment
    return make_executor(setting)


@st.cache_resource
def get_jobs() -> JobManager:
    """The process-wide training jobs, trained by ``get_executor()`` within ``server_limits()``."""
    keep_keras_session()  # its trainings run in background threads, through other sessions' reruns
    return JobManager(get_store(), get_executor(), server_limits())


def get_limits() -> Limits:
    """The limits this server enforces (read once, when its first page ran: see ``get_jobs``)."""
    return get_jobs().limits


def server_limits() -> Limits:
    """The operator's limits: the environment, else ``.streamlit/secrets.toml``, else the defaults.

    A setting that is not a number is reported on the page, and the defaults hold.
    """
    secrets = dict(st.secrets) if st.secrets.load_if_toml_exists() else {}
    try:
        return Limits.from_env(secrets=secrets)
    except ValueError as exc:
        st.error(f"{exc} The default limits apply until it is fixed and the server restarted.")
        return Limits()


def session_id() -> str:
    """This browser session's opaque id (random, no personal data), made on first use."""
    return st.session_state.setdefault(SESSION_ID_KEY, uuid.uuid4().hex)


def visitor_id() -> str:
    """Whom the per-visitor queue limit counts: this browser's client address, else its session.

    A new tab is a new session but the same address, so it does not reset the limit. Where
    there is no address to go by (a server reached from this machine, or through a proxy on
    it, or ``MLP_LAB_QUEUE_BY_ADDRESS=0`` for a class behind one address) each session counts.
    """
    address = client_address() if get_limits().queue_by_address else None
    return f"address:{address}" if address else f"session:{session_id()}"


def client_address() -> str | None:
    """The client address of this browser session (``st.context.ip_address``); None for this machine or none."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no context outside a running app (bare mode): count by session
        return None
    return address if address and address not in LOCAL_ADDRESSES else None


def _secret(name: str) -> str:
    """A top-level value of the app's secrets file, or "" when there is no such file or value."""
    if not st.secrets.load_if_toml_exists():
        return ""
    return str(st.secrets.get(name, "") or "")
