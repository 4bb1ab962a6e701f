"""Who trained a run: a nickname a student picks once per browser session (no accounts, no personal data).

``check_nickname`` is the one rule for a nickname (short, plain, no markup); ``credit`` records
the nickname that trained a run in the run store (``RunStore.credit``: the run's folder and its
index), and ``RunInfo.trained_by`` reads it back. The first nickname to train a run keeps it: a
stored run is never trained again, so nobody can take another's credit by asking for the same setup.
"""

from __future__ import annotations

import re

from lab.runs.store import RunStore

NICKNAME_MAX = 20
# Letters (any script), digits, spaces, ``_ . -``: printable, short, and nothing a browser reads as markup.
_NICKNAME = re.compile(r"[\w .\-]+")


def check_nickname(text: str) -> str:
    """``text`` as a nickname (outer spaces dropped, inner runs of spaces made one), or ValueError saying why not.

    Raises
    ------
    ValueError
        For an empty nickname, one over ``NICKNAME_MAX`` characters, or one with characters other
        than letters, digits, spaces, ``_``, ``.`` and ``-`` (no markup, no control characters).
    """
    name = " ".join(str(text).split())
    if not name:
        raise ValueError("Pick a nickname: a few letters or digits.")
    if len(name) > NICKNAME_MAX:
        raise ValueError(f"A nickname has at most {NICKNAME_MAX} characters; '{name[:NICKNAME_MAX]}…' is longer.")
    if not _NICKNAME.fullmatch(name):
        raise ValueError("A nickname may hold letters, digits, spaces, '_', '.' and '-' only.")
    return name


def credit(store: RunStore, run_id: str, nickname: str) -> bool:
    """Record that ``nickname`` trained ``run_id``; a run already credited keeps its nickname. Returns whether
    the run is now ``nickname``'s.

    Raises
    ------
    ValueError
        For a nickname ``check_nickname`` refuses, or a run that is not stored.
    """
    name = check_nickname(nickname)
    return store.credit(run_id, name) == name
