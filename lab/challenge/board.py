"""Challenges and their entries in SQLite beside the run folders (``challenges.sqlite``, WAL): they survive a restart.

One board per run store. The teacher opens a challenge (opening one closes the one before),
closes it, reveals its private scores and hides an entry; a student's entry is checked by
``lab.challenge.rules.check_entry`` and scored once, when it is entered (``lab.challenge.scoring``).
An entry keeps its run's spec, so that the leaderboard shows its settings even once the run is deleted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from lab.challenge.rules import Challenge, EntryRefused, check_entry

__all__ = ["BOARD_FILE", "ChallengeBoard", "Challenge", "Entry", "EntryRefused"]
from lab.challenge.scoring import score_run
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec

BOARD_FILE = "challenges.sqlite"
TITLE_MAX = 80
_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, data TEXT NOT NULL, max_params INTEGER NOT NULL,
    max_epochs INTEGER NOT NULL, ends REAL NOT NULL, opened REAL NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0, revealed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY, challenge_id INTEGER NOT NULL REFERENCES challenges(id), run_id TEXT NOT NULL,
    nickname TEXT NOT NULL, spec TEXT NOT NULL, params INTEGER NOT NULL, submitted REAL NOT NULL,
    public REAL NOT NULL, private REAL NOT NULL, hidden INTEGER NOT NULL DEFAULT 0,
    UNIQUE (challenge_id, run_id)
);
"""


@dataclass(frozen=True)
class Entry:
    """One run entered in a challenge, with both its scores (show ``private`` only once revealed)."""

    entry_id: int
    challenge_id: int
    run_id: str
    nickname: str
    spec: ExperimentSpec
    params: int
    submitted: float
    public: float
    private: float
    hidden: bool


class ChallengeBoard:
    """The challenges of one run store, in ``HOME/challenges.sqlite``.

    Parameters
    ----------
    home : str or Path
        The run store's folder (created on first use).
    """

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / BOARD_FILE
        self._lock = threading.Lock()  # one writer of this process at a time; SQLite orders the processes

    # ------------------------------------------------------------- the teacher
    def open(
        self, title: str, data: str, max_params: int, max_epochs: int, ends: float, now: float | None = None
    ) -> Challenge:
        """Open a new challenge (closing any still open) and return it.

        Raises
        ------
        ValueError
            For an empty or long title, limits below 1, or an end time already past.
        """
        now = time.time() if now is None else now
        title = " ".join(str(title).split())
        if not title or len(title) > TITLE_MAX:
            raise ValueError(f"Give the challenge a title of 1 to {TITLE_MAX} characters.")
        if max_params < 1 or max_epochs < 1:
            raise ValueError("The limits must be at least 1 parameter and 1 epoch.")
        if ends <= now:
            raise ValueError("The end time has already passed: pick a later one.")
        with self._write() as db:
            db.execute("UPDATE challenges SET closed = 1 WHERE closed = 0")
            cursor = db.execute(
                "INSERT INTO challenges (title, data, max_params, max_epochs, ends, opened) VALUES (?, ?, ?, ?, ?, ?)",
                (title, data, int(max_params), int(max_epochs), float(ends), now),
            )
            challenge_id = int(cursor.lastrowid or 0)
        found = self.get(challenge_id)
        assert found is not None  # just written
        return found

    def close(self, challenge_id: int) -> None:
        """Take no more entries."""
        with self._write() as db:
            db.execute("UPDATE challenges SET closed = 1 WHERE id = ?", (challenge_id,))

    def reveal(self, challenge_id: int) -> None:
        """Show everyone the private scores (and close it: a revealed challenge takes no more entries)."""
        with self._write() as db:
            db.execute("UPDATE challenges SET closed = 1, revealed = 1 WHERE id = ?", (challenge_id,))

    def hide(self, entry_id: int, hidden: bool = True) -> None:
        """Hide an entry from the leaderboard (or show it again)."""
        with self._write() as db:
            db.execute("UPDATE entries SET hidden = ? WHERE id = ?", (int(hidden), entry_id))

    # ------------------------------------------------------------- a student
    def submit(
        self,
        challenge: Challenge,
        result: RunResult,
        nickname: str,
        trained_by: str,
        now: float | None = None,
    ) -> Entry:
        """Enter ``result`` (a stored run) in ``challenge`` for ``nickname``: checked, scored, kept.

        Raises
        ------
        EntryRefused
            When the run may not enter (``check_entry``: the message names the rule), or was entered already.
        """
        current = self.get(challenge.challenge_id) or challenge  # the teacher may have closed it since
        check_entry(
            current,
            result.spec,
            result.params,
            diverged=result.diverged,
            nickname=nickname,
            trained_by=trained_by,
            now=now,
        )
        scores = score_run(result)
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO entries (challenge_id, run_id, nickname, spec, params, submitted, public, private) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        current.challenge_id,
                        result.run_id,
                        nickname,
                        result.spec.to_json(),
                        int(result.params),
                        time.time() if now is None else now,
                        scores.public,
                        scores.private,
                    ),
                )
                entry_id = int(cursor.lastrowid or 0)
        except sqlite3.IntegrityError:
            raise EntryRefused("This run is already entered in the challenge.") from None
        return next(e for e in self.entries(current.challenge_id, include_hidden=True) if e.entry_id == entry_id)

    # ------------------------------------------------------------- reading
    def get(self, challenge_id: int) -> Challenge | None:
        """One challenge, or None."""
        rows = self._read("SELECT * FROM challenges WHERE id = ?", (challenge_id,))
        return _challenge(rows[0]) if rows else None

    def latest(self) -> Challenge | None:
        """The challenge opened last (open or not), or None before the first."""
        rows = self._read("SELECT * FROM challenges ORDER BY id DESC LIMIT 1")
        return _challenge(rows[0]) if rows else None

    def entries(self, challenge_id: int, *, include_hidden: bool = False) -> list[Entry]:
        """A challenge's entries, best public score first (earlier entry first on a tie)."""
        hidden = "" if include_hidden else " AND hidden = 0"
        rows = self._read(
            f"SELECT * FROM entries WHERE challenge_id = ?{hidden} ORDER BY public DESC, submitted, id", (challenge_id,)
        )
        return [_entry(row) for row in rows]

    # ------------------------------------------------------------- SQLite
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        if not self.path.is_file():
            return []
        with closing(self._connect()) as db:
            return db.execute(sql, args).fetchall()

    def _write(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """``with board._write() as db``: one transaction under the board's lock, committed at the end."""

    def __init__(self, board: ChallengeBoard) -> None:
        self.board = board

    def __enter__(self) -> sqlite3.Connection:
        self.board._lock.acquire()
        self.db = self.board._connect()
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            if kind is None:
                self.db.commit()
            else:
                self.db.rollback()
        finally:
            self.db.close()
            self.board._lock.release()


def _challenge(row: sqlite3.Row) -> Challenge:
    return Challenge(
        challenge_id=row["id"],
        title=row["title"],
        data=row["data"],
        max_params=row["max_params"],
        max_epochs=row["max_epochs"],
        ends=row["ends"],
        opened=row["opened"],
        closed=bool(row["closed"]),
        revealed=bool(row["revealed"]),
    )


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        entry_id=row["id"],
        challenge_id=row["challenge_id"],
        run_id=row["run_id"],
        nickname=row["nickname"],
        spec=ExperimentSpec.from_json(row["spec"]),
        params=row["params"],
        submitted=row["submitted"],
        public=row["public"],
        private=row["private"],
        hidden=bool(row["hidden"]),
    )
