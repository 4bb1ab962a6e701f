"""Settings that stay in the server's own process: never in a worker's environment, a log or a URL.

Streamlit copies every top-level value of ``.streamlit/secrets.toml`` into
``os.environ`` when it reads the file, and every process the server starts
afterwards inherits ``os.environ``: an embedded Ray's workers, which run any
student's training. The teacher's passphrase must not be readable there, so it
is taken out of the environment before Ray starts (``lab.runs.ray_executor``)
and whenever the app reads its secrets (``ui.app.teacher_access``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, MutableMapping

PASSPHRASE_KEY = "MLP_LAB_TEACHER_PASSPHRASE"
# Never in a worker's environment, whoever put them in this process's.
PRIVATE_ENV_KEYS = (PASSPHRASE_KEY,)


def forget_private_env(also: Iterable[str] = (), environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove ``PRIVATE_ENV_KEYS`` and ``also`` from ``environ`` (default ``os.environ``).

    Parameters
    ----------
    also : iterable of str
        More names to remove (the app passes the other secrets Streamlit copied there).
    environ : mutable mapping, optional
        The environment to clean; ``os.environ`` by default.

    Returns
    -------
    list of str
        The names that were there and are gone (never their values).
    """
    environ = os.environ if environ is None else environ
    removed = []
    for key in (*PRIVATE_ENV_KEYS, *also):
        if environ.pop(key, None) is not None:
            removed.append(key)
    return removed
