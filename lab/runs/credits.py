"""Who trained a run: a nickname a student picks once per browser session (no accounts, no personal data).

``check_nickname`` is the one rule for a nickname; ``credit`` records the nickname that
trained a run and ``trained_by`` reads them back. The run store's index will hold this
(``RunStore.credit``, ``RunInfo.trained_by``); until it does, credits live in a small
SQLite file beside the run folders (``credits.sqlite``, WAL), and these two functions are
the only callers to change. The first nickname to train a run keeps it: a stored run is
never trained again, so nobody can take another's credit by asking for the same setup.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

from lab.runs.store import RunStore

NICKNAME_MAX = 20
# Letters (any script), digits, spaces, ``_ . -``: printable, short, and nothing a browser reads as markup.
_NICKNAME = re.compile(r"[\w .\-]+")
CREDITS_FILE = "credits.sqlite"


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
    """Record that ``nickname`` trained ``run_id``; a run already credited keeps its nickname. Returns whether recorded."""
    name = check_nickname(nickname)
    with closing(_connect(store)) as db, db:
        cursor = db.execute("INSERT OR IGNORE INTO credits (run_id, nickname) VALUES (?, ?)", (run_id, name))
        return cursor.rowcount == 1


def trained_by(store: RunStore) -> dict[str, str]:
    """Run id -> the nickname that trained it, for every credited run (none: an empty dict)."""
    if not (store.home / CREDITS_FILE).is_file():
        return {}
    with closing(_connect(store)) as db:
        return dict(db.execute("SELECT run_id, nickname FROM credits").fetchall())


def _connect(store: RunStore) -> sqlite3.Connection:
    store.home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(store.home / CREDITS_FILE, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS credits (run_id TEXT PRIMARY KEY, nickname TEXT NOT NULL)")
    return db
