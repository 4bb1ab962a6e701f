"""The index of the run store: every run's summary in one SQLite file, so that pages ask for what they show.

The run folders stay the truth (``lab.runs.store``); this file only remembers what
they hold, to answer "the best 30 digit models", "the runs of this preset" or
"page 3 of the class's runs, sorted by accuracy" without reading every
``result.json``. It lives in ``HOME/.index/index.sqlite`` (a hidden folder, so that
its journal files never look like a run) in WAL mode: readers never wait for a
writer, and writers of several processes (two app servers, Ray workers on a shared
folder) take turns within ``BUSY_SECONDS``.

Keeping up with the folders:

- the store's own ``save``, ``delete`` and ``credit`` update the index in the same
  locked step as the folder;
- runs written by anyone else (another process, a worker, another machine, a hand
  copy) change the store folder's modification time: a query first compares that
  one ``stat`` with the time seen at the last scan, and only when it changed scans
  the folder's names and inode numbers (no file is read) and reads the runs that
  are new or replaced;
- a full check (``sync(full=True)``, what ``RunStore.list`` and ``broken`` do) also
  compares each run's ``spec.json`` and ``result.json`` times and sizes, for a run
  edited in place;
- an index file that cannot be read (damaged, an older layout) is deleted and
  built again from the folders; a store without one is indexed on first use.

A folder that cannot be read is kept in a ``broken`` table with its reason (logged
once, when found), so that listings skip it without reading it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lab.spec import ExperimentSpec

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # PRAGMA user_version: an index of another version is rebuilt
BUSY_SECONDS = 30.0  # how long a writer waits for another process's transaction
MEMO_ENTRIES = 64  # answers kept per index until it changes (a page's rerun asks the same questions)
BATCH = 2000  # runs read from their folders per write transaction while (re)building
INDEX_FOLDER = ".index"
INDEX_FILE = "index.sqlite"
# Runs trained on these sources do not read digits; the Draw page and the CLI leave them out.
NON_DIGIT_SOURCES = ("fashion",)
# Columns a table may be sorted by (what a user sees), each a column of ``runs``.
SORT_COLUMNS = (
    "created", "test_accuracy", "test_loss", "best_val", "params", "epochs", "epochs_run", "train_seconds",
    "data", "preset", "kind", "trained_by", "run_id",
)  # fmt: skip
KINDS = ("mlp", "cnn")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    preset TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    params INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    epochs_run INTEGER NOT NULL,
    test_accuracy REAL,
    test_loss REAL,
    best_val REAL,
    stopped INTEGER NOT NULL,
    diverged INTEGER NOT NULL,
    created REAL NOT NULL,
    train_seconds REAL NOT NULL,
    has_model INTEGER NOT NULL,
    has_health INTEGER NOT NULL,
    digit INTEGER NOT NULL,
    trained_by TEXT NOT NULL DEFAULT '',
    spec_key TEXT NOT NULL,
    inode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    files_mtime_ns INTEGER NOT NULL,
    files_size INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created DESC, run_id);
CREATE INDEX IF NOT EXISTS runs_accuracy ON runs (test_accuracy DESC, created DESC, run_id);
CREATE INDEX IF NOT EXISTS runs_digit ON runs (test_accuracy DESC, created DESC, run_id) WHERE digit = 1;
CREATE INDEX IF NOT EXISTS runs_data ON runs (data);
CREATE INDEX IF NOT EXISTS runs_preset ON runs (preset);
CREATE INDEX IF NOT EXISTS runs_trained_by ON runs (trained_by);
-- The long texts apart: scans and counts of ``runs`` then read a few MB, not the specs.
CREATE TABLE IF NOT EXISTS details (id TEXT PRIMARY KEY, spec_json TEXT NOT NULL, metrics_json TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS runs_gone AFTER DELETE ON runs BEGIN DELETE FROM details WHERE id = old.run_id; END;
CREATE INDEX IF NOT EXISTS runs_spec_key ON runs (spec_key);
CREATE INDEX IF NOT EXISTS runs_health ON runs (created DESC, run_id) WHERE has_health = 1;
CREATE TABLE IF NOT EXISTS broken (
    name TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    inode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = (
    "run_id", "data", "preset", "kind", "params", "epochs", "epochs_run", "test_accuracy", "test_loss", "best_val",
    "stopped", "diverged", "created", "train_seconds", "has_model", "has_health", "digit", "trained_by", "spec_key",
    "inode", "mtime_ns", "files_mtime_ns", "files_size", "size",
)  # fmt: skip
_SELECT = (
    "SELECT runs.run_id, details.spec_json, details.metrics_json, runs.trained_by, runs.preset, runs.best_val "
    "FROM runs JOIN details ON details.id = runs.run_id"
)
_INSERT = f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_INSERT_DETAILS = "INSERT OR REPLACE INTO details (id, spec_json, metrics_json) VALUES (?, ?, ?)"


@dataclass(frozen=True)
class RunInfo:
    """A stored run's summary, read without loading arrays or the model.

    Attributes
    ----------
    run_id : str
        The run's folder name (its spec's hash).
    spec : ExperimentSpec
        What was trained.
    metrics : dict
        ``RunResult.metrics()`` as stored.
    trained_by : str
        The nickname of the session that trained it (``RunStore.credit``), empty if none.
    preset : str
        The course preset it trains (any epochs, full or quick plan), empty if none (from the index).
    best_val : float or None
        Its best validation accuracy over the epochs (from the index).
    """

    run_id: str
    spec: ExperimentSpec
    metrics: dict[str, Any]
    trained_by: str = ""
    preset: str = ""
    best_val: float | None = None

    @property
    def test_accuracy(self) -> float:
        """Test accuracy, NaN for a diverged run."""
        value = self.metrics.get("test_accuracy")
        return float("nan") if value is None else float(value)

    def label(self) -> str:
        """``run_id  summary  (acc)`` for a selectbox."""
        acc = self.test_accuracy
        acc_text = "diverged" if self.metrics.get("diverged") else f"{acc:.2%}"
        return f"{self.spec.summary()} · {acc_text} · {self.run_id}"


@dataclass(frozen=True)
class RunPage:
    """One page of a filtered, sorted table of runs.

    Attributes
    ----------
    rows : list of RunInfo
        The runs of this page, in the order asked.
    total : int
        How many runs match the filters, on every page.
    """

    rows: list[RunInfo]
    total: int


@dataclass(frozen=True)
class IndexRow:
    """What the index holds of one run folder (built by the store from the folder or from a run it saves)."""

    run_id: str
    spec: ExperimentSpec
    metrics: dict[str, Any]
    best_val: float | None
    has_model: bool
    has_health: bool
    trained_by: str
    inode: int
    mtime_ns: int
    files_mtime_ns: int
    files_size: int
    size: int
    spec_json: str = ""  # the spec's JSON as stored (default: ``spec.to_json()``)

    @property
    def digit(self) -> bool:
        """Whether the Draw page may offer it: a model file, finite outputs, digits."""
        return self.has_model and not self.metrics["diverged"] and self.spec.data not in NON_DIGIT_SOURCES

    def details(self) -> tuple[str, str, str]:
        """The run's long texts: (run id, spec JSON, metrics JSON)."""
        return self.run_id, self.spec_json or self.spec.to_json(), json.dumps(self.metrics)

    def values(self) -> tuple[Any, ...]:
        """The row's values in ``_COLUMNS`` order."""
        m, spec, key = self.metrics, self.spec, spec_key(self.spec)
        return (
            self.run_id, spec.data, preset_name(spec, key), "cnn" if spec.conv else "mlp", int(m["params"]),
            spec.epochs, int(m["epochs_run"]), _real(m.get("test_accuracy")), _real(m.get("test_loss")),
            _real(self.best_val), int(bool(m["stopped"])), int(bool(m["diverged"])), float(m.get("created") or 0.0),
            float(m["train_seconds"]), int(self.has_model), int(self.has_health), int(self.digit), self.trained_by,
            key, self.inode, self.mtime_ns, self.files_mtime_ns,
            self.files_size, self.size,
        )  # fmt: skip


def spec_key(spec: ExperimentSpec) -> str:
    """What a spec is apart from its epochs, hashed as run ids are: a preset and its capped runs share it."""
    values = spec.to_dict(omit_defaults=True)
    values.pop("epochs", None)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


_PRESET_NAMES: dict[str, dict[str, str]] = {}  # data -> spec_key -> preset name
_PRESET_LOCK = threading.Lock()


def preset_name(spec: ExperimentSpec, key: str | None = None) -> str:
    """The course preset a spec trains (its full or quick plan, any epochs), or ``""`` (``key``: its ``spec_key``)."""
    with _PRESET_LOCK:
        names = _PRESET_NAMES.get(spec.data)
        if names is None:
            # Imported here: the catalog loads every series' description, which saving a run never needs.
            from lab.catalog.presets import list_presets

            names = {}
            try:
                presets = list_presets(data=spec.data)
            except Exception:  # noqa: BLE001 - a source the catalog cannot plan for has no presets
                presets = []
            for preset in presets:
                for planned in (preset, preset.quick()):
                    names.setdefault(spec_key(planned.spec), preset.name)
            _PRESET_NAMES[spec.data] = names
    return names.get(key if key is not None else spec_key(spec), "")


def best_val(history: dict[str, Sequence[float]]) -> float | None:
    """The best validation accuracy of a history, None without one."""
    values = [v for v in history.get("val_accuracy", ()) if v is not None and math.isfinite(v)]
    return max(values) if values else None


def _real(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class RunIndex:
    """The SQLite index of one store's folder.

    Parameters
    ----------
    home : Path
        The store's folder (the index lives in ``home/.index/``).
    read_folder : callable
        ``read_folder(folder) -> IndexRow``, raising for a folder that is not a readable run
        (the store's own checks).
    """

    def __init__(self, home: Path, read_folder: Callable[[Path], IndexRow]) -> None:
        self.home = home
        self.path = home / INDEX_FOLDER / INDEX_FILE
        self._read_folder = read_folder
        self._lock = threading.RLock()  # one connection per index, shared by the server's threads
        self._sync_lock = threading.Lock()  # one scan of the folders at a time in this process
        self._conn: sqlite3.Connection | None = None
        self._memo: dict[tuple[Any, ...], tuple[tuple[int, int], RunPage]] = {}  # query -> (index state, answer)

    # ------------------------------------------------------------ connection
    def _connect(self, in_memory: bool = False) -> sqlite3.Connection:
        """The index file's connection, set up (WAL, busy timeout, schema); ``in_memory``: a private one."""
        if not in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        where = ":memory:" if in_memory else self.path
        conn = sqlite3.connect(where, timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            if not in_memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"index version {version}, this lab writes {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The connection, opened on first use; an unreadable index file is deleted and started afresh."""
        with self._lock:
            if self._conn is None:
                self._memo.clear()  # a new connection counts its versions afresh
                self._conn = self._open()
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise  # another process held it past the busy timeout: not a damaged file
                self._discard(exc)
                raise IndexRebuilt(str(exc)) from exc

    def _open(self) -> sqlite3.Connection:
        """Open the index file; a damaged one is deleted and made afresh; where no file can be written
        (a read-only store), an index in this process's memory, built from the folders like any other."""
        try:
            return self._connect()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise  # another process held it past the busy timeout: not a damaged file
            first: Exception = exc
        except sqlite3.DatabaseError as exc:
            first = exc
        except OSError as exc:  # its folder cannot be made
            first = exc
        if not isinstance(first, OSError):
            self._discard(first)
            try:
                return self._connect()
            except (sqlite3.Error, OSError) as exc:
                first = exc
        log.warning("The run index %s cannot be written (%s): this process keeps one in memory", self.path, first)
        return self._connect(in_memory=True)

    def _discard(self, exc: Exception) -> None:
        """Delete a damaged index (it is only a copy of what the folders say); the next use builds it again."""
        log.warning("The run index %s cannot be read (%s): building it again from the run folders", self.path, exc)
        self._discard_quietly()

    def close(self) -> None:
        """Close the connection (the next call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _retrying(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """``work(conn)``; if the index turned out damaged, once more on the index built again."""
        try:
            with self._db() as conn:
                return work(conn)
        except IndexRebuilt:
            self.sync()
            with self._db() as conn:
                return work(conn)

    # ------------------------------------------------------------ writing
    def put(self, row: IndexRow) -> None:
        """Record a run the store just wrote (call under the run's lock, after its folder is in place)."""
        self._guarded(lambda conn: self._put(conn, [row]))

    def remove(self, run_id: str) -> None:
        """Forget a run the store just deleted (call under the run's lock)."""

        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM broken WHERE name = ?", (run_id,))

        self._guarded(work)

    def set_trained_by(self, run_id: str, nickname: str, mtime_ns: int) -> None:
        """Record who trained a run (the store wrote it to the run's folder first)."""

        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    "UPDATE runs SET trained_by = ?, mtime_ns = ? WHERE run_id = ?", (nickname, mtime_ns, run_id)
                )

        self._guarded(work)

    def mark_broken(self, name: str, reason: str) -> None:
        """A listed run turned out unreadable (damaged in place): list it as broken until it changes."""

        def work(conn: sqlite3.Connection) -> None:
            try:
                st = os.stat(self.home / name)
            except FileNotFoundError:
                st = None
            with _transaction(conn):
                conn.execute("DELETE FROM runs WHERE run_id = ?", (name,))
                if st is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO broken VALUES (?, ?, ?, ?)", (name, reason, st.st_ino, st.st_mtime_ns)
                    )

        self._guarded(work)

    def _guarded(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """A write that must never fail the store's own step: on an error the index is left to catch up."""
        try:
            with self._db() as conn:
                work(conn)
        except (sqlite3.Error, IndexRebuilt, OSError) as exc:
            log.warning("The run index %s was not updated (%s): it catches up on its next scan", self.path, exc)
            self._forget_scan()

    def _forget_scan(self) -> None:
        try:
            with self._db() as conn:
                conn.execute("DELETE FROM meta WHERE key = 'home'")
        except (sqlite3.Error, IndexRebuilt, OSError):
            pass

    @staticmethod
    def _put(conn: sqlite3.Connection, rows: Iterable[IndexRow]) -> None:
        with _transaction(conn):
            for row in rows:
                _insert(conn, row)

    # ------------------------------------------------------------ keeping up with the folders
    def home_signature(self) -> str:
        """The store folder's inode and modification time: it changes whenever a run folder appears or goes."""
        try:
            st = os.stat(self.home)
        except FileNotFoundError:
            return "none"
        return f"{st.st_ino}:{st.st_mtime_ns}"

    def fresh(self) -> bool:
        """Whether nothing changed in the store folder since the last scan (one ``stat``, one small query)."""
        signature = self.home_signature()

        def work(conn: sqlite3.Connection) -> bool:
            seen = conn.execute("SELECT value FROM meta WHERE key = 'home'").fetchone()
            if seen is None or seen[0] != signature:
                return False
            # A broken folder being written into (by hand, by a foreign writer) changes only its own time.
            for name, mtime_ns in conn.execute("SELECT name, mtime_ns FROM broken"):
                try:
                    if os.stat(self.home / name).st_mtime_ns != mtime_ns:
                        return False
                except FileNotFoundError:
                    return False
            return True

        return self._retrying(work)

    def ensure(self) -> None:
        """Bring the index up to date if the store folder changed (what every query does first).

        One thread of the process scans; the others asking meanwhile wait for it, then find
        the index fresh (a store of the old layout is read once, not once per session).
        """
        if self.fresh():
            return
        with self._sync_lock:
            if not self.fresh():
                self.sync()

    def sync(self, full: bool = False) -> int:
        """Bring the index up to date with the folders; returns how many folders were read.

        Parameters
        ----------
        full : bool
            Also compare each run's ``result.json`` time and size (a ``stat`` per run), for
            runs edited in place; otherwise only new, replaced and vanished folders are seen.
        """
        while True:
            try:
                return self._sync(full)
            except IndexRebuilt:
                continue  # the index was damaged and deleted: build it from scratch

    def _sync(self, full: bool) -> int:
        signature = self.home_signature()
        on_disk = _scan(self.home)
        with self._db() as conn:
            known = {r[0]: r[1:] for r in conn.execute("SELECT run_id, inode, files_mtime_ns, files_size FROM runs")}
            broken = {r[0]: r[1:] for r in conn.execute("SELECT name, inode, mtime_ns FROM broken")}
            seen = conn.execute("SELECT value FROM meta WHERE key = 'home'").fetchone()
        moved = seen is not None and seen[0].split(":")[0] != signature.split(":")[0]
        full = full or moved  # a copied store: same names, but files may have changed since its index was written
        to_read = []
        for name, inode in on_disk.items():
            if name in known:
                if known[name][0] != inode or full and _files_signature(self.home / name) != tuple(known[name][1:]):
                    to_read.append(name)
            elif name in broken:
                try:
                    mtime_ns = os.stat(self.home / name).st_mtime_ns
                except FileNotFoundError:
                    continue
                if full or broken[name][0] != inode or broken[name][1] != mtime_ns:
                    to_read.append(name)
            else:
                to_read.append(name)
        gone = [name for name in (*known, *broken) if name not in on_disk]
        if gone:
            with self._db() as conn, _transaction(conn):
                for name in gone:
                    if not (self.home / name).is_dir():  # not saved again since the scan
                        conn.execute("DELETE FROM runs WHERE run_id = ?", (name,))
                        conn.execute("DELETE FROM broken WHERE name = ?", (name,))
        for start in range(0, len(to_read), BATCH):
            self._index_folders(to_read[start : start + BATCH])
        with self._db() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('home', ?)", (signature,))
        return len(to_read)

    def _index_folders(self, names: Sequence[str]) -> None:
        """Read folders and record them, each only if it is still the folder that was read."""
        read: list[tuple[str, IndexRow | None, str, int, int]] = []
        for name in names:
            folder = self.home / name
            try:
                st = os.stat(folder)
            except FileNotFoundError:
                continue
            try:
                row = self._read_folder(folder)
            except Exception as exc:  # noqa: BLE001 - any unreadable folder is skipped, its reason kept
                why = reason(exc)
                log.warning("Skipping unreadable run %s: %s", folder, why)
                read.append((name, None, why, st.st_ino, st.st_mtime_ns))
            else:
                read.append((name, row, "", st.st_ino, st.st_mtime_ns))
        with self._db() as conn, _transaction(conn):
            for name, row, why, inode, mtime_ns in read:
                try:
                    if os.stat(self.home / name).st_ino != inode:
                        continue  # replaced while it was read: its writer records the new one
                except FileNotFoundError:
                    continue
                if row is None:
                    conn.execute("DELETE FROM runs WHERE run_id = ?", (name,))
                    conn.execute("INSERT OR REPLACE INTO broken VALUES (?, ?, ?, ?)", (name, why, inode, mtime_ns))
                else:
                    _insert(conn, row)

    def rebuild(self) -> int:
        """Delete the index and build it again from every folder; returns the runs indexed."""
        with self._lock:
            self._discard_quietly()
        self.sync()
        return self.count()

    def _discard_quietly(self) -> None:
        """Close the connection (a damaged file's may fail to) and delete the index with its WAL files."""
        if self._conn is not None:
            with suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass

    # ------------------------------------------------------------ reading
    def select(self, where: str = "", params: Sequence[Any] = (), order: str = "created DESC, run_id",
               limit: int | None = None, offset: int = 0) -> list[RunInfo]:  # fmt: skip
        """Runs matching an SQL condition on ``runs``' columns, in ``order`` (the store's queries build these)."""
        return self.page(where, params, order, limit, offset, count=False).rows

    def page(self, where: str = "", params: Sequence[Any] = (), order: str = "created DESC, run_id",
             limit: int | None = None, offset: int = 0, count: bool = True) -> RunPage:  # fmt: skip
        """``select`` and the number of matching runs, read from one snapshot (writers may be adding runs).

        The answer is kept until the index changes (this process's writes or another's
        commits): a page's rerun that asks again costs one ``PRAGMA``.
        """
        condition = f"WHERE {where}" if where else ""
        sql = f"{_SELECT} {condition} ORDER BY {order}"
        args = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        memo_key = (sql, tuple(args), count)

        def work(conn: sqlite3.Connection) -> RunPage:
            conn.execute("BEGIN")  # one read snapshot for the rows and their count
            try:
                stamp = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
                kept = self._memo.get(memo_key)
                if kept is not None and kept[0] == stamp:
                    return kept[1]
                rows = conn.execute(sql, args).fetchall()
                total = conn.execute(f"SELECT COUNT(*) FROM runs {condition}", list(params)).fetchone()[0] if count else 0
            finally:
                conn.execute("COMMIT")
            infos = [
                RunInfo(run_id, _spec(spec_json), json.loads(metrics_json), trained_by, preset, best_val)
                for run_id, spec_json, metrics_json, trained_by, preset, best_val in rows
            ]
            answer = RunPage(infos, int(total) if count else len(infos))
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.pop(next(iter(self._memo)))
            self._memo[memo_key] = (stamp, answer)
            return answer

        answer = self._retrying(work)
        return RunPage(list(answer.rows), answer.total)  # a caller may change its list, never the kept one

    def count(self, where: str = "", params: Sequence[Any] = ()) -> int:
        """How many runs match an SQL condition."""
        return self.page(where, params, limit=0).total

    def distinct(self, column: str) -> list[str]:
        """The values one column takes over every run, sorted (a table's filter choices)."""
        if column not in _COLUMNS:
            raise ValueError(f"no column {column!r} in the run index")
        sql = f"SELECT DISTINCT {column} FROM runs ORDER BY {column}"
        return [row[0] for row in self._retrying(lambda conn: conn.execute(sql).fetchall())]

    def broken(self) -> list[tuple[str, str]]:
        """(folder name, why) of every folder the index could not read."""
        return [
            tuple(r) for r in self._retrying(lambda conn: conn.execute("SELECT name, reason FROM broken").fetchall())
        ]

    def column(self, run_id: str, name: str) -> Any:
        """One column of one run, None for a run not indexed."""
        if name not in _COLUMNS:
            raise ValueError(f"no column {name!r} in the run index")
        row = self._retrying(
            lambda conn: conn.execute(f"SELECT {name} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        )
        return None if row is None else row[0]


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``: writers queue, never deadlock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, row: IndexRow) -> None:
    """Record a readable run (no longer broken, if it was)."""
    conn.execute("DELETE FROM broken WHERE name = ?", (row.run_id,))
    conn.execute(_INSERT, row.values())
    conn.execute(_INSERT_DETAILS, row.details())


@lru_cache(maxsize=8192)
def _spec(spec_json: str) -> ExperimentSpec:
    """A spec from the index's JSON, parsed once per process (specs are frozen: one object serves every page)."""
    return ExperimentSpec.from_json(spec_json)


class IndexRebuilt(Exception):
    """The index file was damaged and deleted during a call; the call is made again on a rebuilt index."""


def _scan(home: Path) -> dict[str, int]:
    """Every run folder's name and inode number (from the folder listing itself: no ``stat`` per run)."""
    try:
        entries = list(os.scandir(home))
    except FileNotFoundError:
        return {}
    folders = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                folders[entry.name] = entry.inode()
        except OSError:
            continue
    return folders


def _files_signature(folder: Path) -> tuple[int, int]:
    """The newest modification time and the total size of a run's ``spec.json`` and ``result.json``.

    What a full check compares: a run edited in place (by hand, by a broken writer) changes one of them.
    A missing file counts as size -1, so that its vanishing shows.
    """
    newest, size = 0, 0
    for name in ("spec.json", "result.json"):
        try:
            st = os.stat(folder / name)
        except OSError:
            size -= 1
            continue
        newest, size = max(newest, st.st_mtime_ns), size + st.st_size
    return (newest, size)


def folder_stats(folder: Path) -> tuple[int, int, int, int, int]:
    """(inode, mtime_ns, ``_files_signature``'s two numbers, bytes of its files) of a run folder."""
    st = os.stat(folder)
    size = 0
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False):
                size += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    result_mtime, files_size = _files_signature(folder)
    return st.st_ino, st.st_mtime_ns, result_mtime, files_size, size


def reason(exc: BaseException) -> str:
    """Why a run cannot be read, in one line for the teacher."""
    if isinstance(exc, FileNotFoundError):
        return f"{Path(exc.filename or '?').name} is missing (a save that never finished)"
    if isinstance(exc, json.JSONDecodeError):
        return f"a file is not valid JSON ({exc.msg}, line {exc.lineno})"
    if isinstance(exc, UnicodeDecodeError):
        return "a file is not text"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
