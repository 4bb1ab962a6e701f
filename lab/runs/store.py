"""The run store: every finished run on disk, named by its spec's hash.

Layout: ``HOME/RUN_ID/`` holding ``spec.json``, ``result.json`` (history and
metrics), ``arrays.npz`` (confusion matrix, test probabilities, training mean),
``model.keras`` and, for runs trained since snapshots were recorded,
``snapshots.npz`` (the film of the network's inside: ``lab.nn.snapshots``).
A run is written into a temporary folder and renamed into
place, so a reader never sees half a run. Several writers may finish the same
run at once (two app servers, Ray workers on a shared filesystem): the swap into
place is done under a lock folder per run (``mkdir`` is atomic on every local and
network filesystem), so one complete run is left, never a mix. A reader reads
every file of a run through one handle on its folder, so a run replaced while it
is read is still read whole. Every file of a run is flushed to disk (``fsync``)
before the rename that publishes it, so a power cut cannot publish empty files;
what a writer that died left behind (``.tmp-*``, ``.trash-*`` older than an
hour) is erased when the store opens and after each save. A folder that cannot
be read is skipped with a warning. The store only persists: training and saving in one step is
``lab.runs.training``.

Every question about many runs (the best digit models, the runs of a preset, a page of
the class's table) is answered by the store's index (``lab.runs.index``: SQLite beside
the folders), which ``save``, ``delete`` and ``credit`` update in the same locked step
and which catches up by itself with runs written by anyone else.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lab.nn.result import RunResult, json_number
from lab.nn.snapshots import Film, load_film, save_film
from lab.runs.index import (
    INDEX_FOLDER,
    NON_DIGIT_SOURCES,
    SORT_COLUMNS,
    IndexRow,
    RunIndex,
    RunInfo,
    RunPage,
    best_val,
    folder_stats,
    reason,
    spec_key,
)
from lab.spec import ExperimentSpec

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# A lock folder older than this was left by a writer that died mid-swap (a swap takes milliseconds).
STALE_LOCK_SECONDS = 30.0
# A temporary folder older than this belongs to a writer that died mid-write (writing takes seconds).
STALE_TMP_SECONDS = 3600.0
# How long a count of the store's size on disk is reused (``RunStore.usage``).
USAGE_SECONDS = 5.0
CREDIT_FILE = "credit.json"  # who trained a run: {"trained_by": nickname}, written once
MAX_NICKNAME = 40
FILTER_COLUMNS = ("data", "preset", "kind", "trained_by")  # what ``RunStore.table`` filters by
__all__ = ["FILTER_COLUMNS", "NON_DIGIT_SOURCES", "SORT_COLUMNS", "RunInfo", "RunPage", "RunStore", "StoreUsage"]


def default_home() -> Path:
    """``$MLP_LAB_HOME`` if set, else ``./runs``."""
    return Path(os.environ.get("MLP_LAB_HOME", "runs"))


@dataclass(frozen=True)
class StoreUsage:
    """What the store holds: its run folders and the bytes every file under it takes."""

    runs: int
    bytes: int

    @property
    def megabytes(self) -> float:
        """``bytes`` in MB (10**6 bytes, as disks are sold and ``MLP_LAB_STORE_MB`` counts)."""
        return self.bytes / 1e6


class RunStore:
    """Runs on disk under ``home`` (``$MLP_LAB_HOME`` or ``./runs``).

    Parameters
    ----------
    home : str or Path, optional
        The store's folder; created on first write.
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self._usage: StoreUsage | None = None
        self._usage_time = 0.0
        self._usage_lock = threading.Lock()
        self._index = RunIndex(self.home, _index_row)
        # Opening sweeps too (a server that crashed mid-save and restarted may never save again), unless
        # nothing appeared in the folder since the index last looked: then there is nothing new to sweep.
        if self.home.is_dir() and not self._index.fresh():
            self._sweep()

    # ------------------------------------------------------------- reading
    def path(self, run_id: str) -> Path:
        """Folder of one run."""
        return self.home / run_id

    def __contains__(self, spec: ExperimentSpec) -> bool:
        return (self.path(spec.run_id) / "result.json").is_file()

    def get(self, spec_or_id: ExperimentSpec | str) -> RunResult | None:
        """The stored run for a spec (or run id), or None; the model loads lazily."""
        run_id = spec_or_id if isinstance(spec_or_id, str) else spec_or_id.run_id
        folder = self.path(run_id)
        for _ in range(5):
            try:
                return _read_run(folder)
            except RunReplacedError:
                continue  # another writer replaced it while it was read: read the new one
            except FileNotFoundError as exc:
                if folder.is_dir():  # a file is missing: half a run, never completed
                    log.warning("Skipping unreadable run %s: %s", folder, exc)
                    self._index.mark_broken(run_id, reason(exc))
                return None
            except Exception as exc:  # noqa: BLE001 - any unreadable run is skipped, never a crash
                log.warning("Skipping unreadable run %s: %s", folder, exc)
                self._index.mark_broken(run_id, reason(exc))
                return None
        log.warning("Skipping run %s: it kept being replaced while it was read", folder)
        return None

    def film(self, spec_or_id: ExperimentSpec | str) -> Film | None:
        """The stored film of a run (``lab.nn.snapshots``), or None: no such run, or one stored before snapshots."""
        run_id = spec_or_id if isinstance(spec_or_id, str) else spec_or_id.run_id
        return load_film(self.path(run_id))

    def list(self) -> list[RunInfo]:
        """Every readable run, newest first; unreadable ones are skipped with a warning (see ``broken``).

        A full check of the index against the folders first (a ``stat`` per run, no file read
        unless it changed): for the command line and callers that need every run. Pages ask
        the narrower queries below.
        """
        if not self._refreshed(full=True):
            return []
        return self._index.select()

    def broken(self, full: bool = True) -> list[tuple[str, str]]:
        """(folder name, why) for every run folder ``list`` skips, so that the teacher can see and delete them.

        The same checks as ``list`` (the spec, its hash against the folder's name, every
        metric's type and range, the history), so a run is either listed or here. A
        folder that is not a run at all (a stray folder in the store) is here too.

        Parameters
        ----------
        full : bool
            Check every run's files for edits in place (a ``stat`` each, as ``list``); with
            False, only the folders that appeared or changed since the index last looked.
        """
        if not self._refreshed(full=full):
            return []
        return sorted(self._index.broken())

    # ------------------------------------------------------------- queries (the index)
    def _refreshed(self, full: bool = False) -> bool:
        """Bring the index up to date with the folders (cheap when nothing changed); False for no store yet."""
        if not self.home.is_dir():
            return False
        if full:
            self._index.sync(full=True)
        else:
            self._index.ensure()
        return True

    def refresh(self, full: bool = False) -> int:
        """Catch the index up with the folders now; returns how many run folders were read.

        Parameters
        ----------
        full : bool
            Also look for runs edited in place (a ``stat`` of each run's ``result.json``).
        """
        return self._index.sync(full=full) if self.home.is_dir() else 0

    def rebuild_index(self) -> int:
        """Delete the index and build it again from every run folder; returns the runs indexed."""
        return self._index.rebuild() if self.home.is_dir() else 0

    def info(self, run_id: str) -> RunInfo | None:
        """One run's summary from the index, None if it is not stored (or cannot be read)."""
        if not self._refreshed():
            return None
        found = self._index.select("run_id = ?", (run_id,))
        return found[0] if found else None

    def infos(self, run_ids: Sequence[str]) -> list[RunInfo]:
        """The summaries of the stored runs among ``run_ids`` (a session's runs), newest first; others left out."""
        wanted = list(dict.fromkeys(run_ids))
        if not wanted or not self._refreshed():
            return []
        found: list[RunInfo] = []
        for start in range(0, len(wanted), 500):  # SQLite takes at most a few hundred parameters at once
            chunk = wanted[start : start + 500]
            found += self._index.select(f"run_id IN ({', '.join('?' * len(chunk))})", chunk)
        return sorted(found, key=lambda info: (-(info.metrics.get("created") or 0.0), info.run_id))

    def best_digit_runs(self, n: int | None = 30) -> list[RunInfo]:
        """The ``n`` stored runs that read digits best (all with ``None``), best test accuracy first.

        Left out: diverged runs (their outputs are NaN), runs on non-digit data
        (``NON_DIGIT_SOURCES``) and runs whose model file is missing. Ties: newest first.
        """
        if not self._refreshed():
            return []
        where, params = _DIGIT_WHERE, ()
        order = "test_accuracy DESC, created DESC, run_id"
        if n is None:
            return [i for i in self._index.select(where, params, order) if self._has_model(i)]
        found: list[RunInfo] = []
        offset = 0
        while len(found) < n:
            batch = self._index.select(where, params, order, limit=n, offset=offset)
            found += [info for info in batch if self._has_model(info)]
            if len(batch) < n:
                break
            offset += n
        return found[:n]

    def count_digit_runs(self) -> int:
        """How many stored runs ``best_digit_runs`` chooses from."""
        return self._index.count(_DIGIT_WHERE) if self._refreshed() else 0

    def _has_model(self, info: RunInfo) -> bool:
        return (self.path(info.run_id) / "model.keras").is_file()

    def runs_like(self, spec: ExperimentSpec) -> list[RunInfo]:
        """The stored runs of ``spec`` at any number of epochs (a preset and its capped runs), newest first."""
        return self._index.select("spec_key = ?", (spec_key(spec),)) if self._refreshed() else []

    def runs_with_health(self, limit: int | None = None, including: Sequence[str] = ()) -> list[RunInfo]:
        """Stored runs that have a gradient-health record (``health.json``), newest first.

        Parameters
        ----------
        limit : int, optional
            At most this many of the newest (all with ``None``).
        including : sequence of str
            Run ids added after those (if stored with a health record) even when older: a page's
            default pair, or the runs a session chose.
        """
        if not self._refreshed():
            return []
        runs = self._index.select("has_health = 1", limit=limit)
        listed = {info.run_id for info in runs}
        extra = [run_id for run_id in dict.fromkeys(including) if run_id and run_id not in listed]
        if extra:
            runs += self._index.select(f"has_health = 1 AND run_id IN ({', '.join('?' * len(extra))})", extra)
        return [info for info in runs if (self.path(info.run_id) / "health.json").is_file()]

    def recent(self, limit: int = 200) -> list[RunInfo]:
        """The ``limit`` newest runs."""
        return self._index.select(limit=limit) if self._refreshed() else []

    def table(
        self,
        *,
        data: str | Sequence[str] | None = None,
        preset: str | Sequence[str] | None = None,
        kind: str | Sequence[str] | None = None,
        trained_by: str | Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        sort: str = "created",
        descending: bool = True,
        limit: int | None = 50,
        offset: int = 0,
    ) -> RunPage:
        """One page of the runs table: filtered, sorted, with the number of matching runs.

        Parameters
        ----------
        data, preset, kind, trained_by : str or sequence of str, optional
            Keep runs whose value is (one of) these; ``kind`` is ``"mlp"`` or ``"cnn"``,
            ``preset`` a course preset's name (``""``: runs of no preset), ``trained_by`` a
            nickname (``""``: runs nobody claimed).
        since, until : float, optional
            Keep runs created at or after ``since`` and before ``until`` (seconds since the epoch).
        sort : str
            A column of ``SORT_COLUMNS``; ties are broken newest first.
        descending : bool
            Largest first (runs without a value, e.g. a diverged run's accuracy, always last).
        limit, offset : int
            The page: at most ``limit`` runs (all with ``None``) after skipping ``offset``.

        Raises
        ------
        ValueError
            For a sort column not in ``SORT_COLUMNS``.
        """
        if sort not in SORT_COLUMNS:
            raise ValueError(f"Cannot sort runs by {sort!r}: choose one of {', '.join(SORT_COLUMNS)}.")
        if not self._refreshed():
            return RunPage([], 0)
        clauses: list[str] = []
        params: list[Any] = []
        for column, wanted in zip(FILTER_COLUMNS, (data, preset, kind, trained_by), strict=True):
            if wanted is None:
                continue
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
            params += values
        if since is not None:
            clauses.append("created >= ?")
            params.append(float(since))
        if until is not None:
            clauses.append("created < ?")
            params.append(float(until))
        where = " AND ".join(clauses)
        # Descending, SQLite puts NULL (no value) last by itself, and an index on the column serves the order.
        order = f"{sort} DESC, created DESC, run_id" if descending else f"{sort} IS NULL, {sort}, created DESC, run_id"
        return self._index.page(where, params, order, limit=limit, offset=offset)

    def choices(self, column: str) -> list[str]:
        """The values a filter of ``table`` can take, from every stored run, sorted.

        Parameters
        ----------
        column : str
            ``"data"``, ``"preset"``, ``"kind"`` or ``"trained_by"`` (``""`` among them: runs of
            no preset, or nobody's).

        Raises
        ------
        ValueError
            For another column.
        """
        if column not in FILTER_COLUMNS:
            raise ValueError(f"Runs are filtered by {', '.join(FILTER_COLUMNS)}, not {column!r}.")
        return self._index.distinct(column) if self._refreshed() else []

    def credit(self, run_id: str, nickname: str) -> str:
        """Record who trained a run (first nickname wins); returns the nickname the run is credited to.

        The run's folder holds it (``credit.json``, the truth), the index a copy for the table.

        Raises
        ------
        ValueError
            For an empty or overlong nickname, or a run that is not stored.
        """
        name = " ".join(str(nickname).split())
        if not name or len(name) > MAX_NICKNAME:
            raise ValueError(f"A nickname is 1 to {MAX_NICKNAME} characters; got {len(name)}.")
        folder = self.path(run_id)
        if not (folder / "result.json").is_file():
            raise ValueError(f"No run '{run_id}' in {self.home}: it cannot be credited.")
        with self._locked(run_id):
            earlier = _read_credit(folder)
            if earlier:
                return earlier
            tmp = folder / f".{CREDIT_FILE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps({"trained_by": name}))
            os.replace(tmp, folder / CREDIT_FILE)
            self._index.set_trained_by(run_id, name, os.stat(folder).st_mtime_ns)
        return name

    def usage(self) -> StoreUsage:
        """The runs stored and the bytes the store takes on disk, counted at most every ``USAGE_SECONDS``.

        Every file of the runs counts, half-written and trashed runs too (they take the
        disk as well); the index (``.index/``, a copy of a few KB a run that can be rebuilt
        at any time) does not, so that deleting every run frees the whole budget. A count is a few thousand ``stat`` calls; the job manager asks before
        every new training and the teacher's panel on every rerun, so it is kept for a few
        seconds, and forgotten at once when this store saves or deletes a run.
        """
        with self._usage_lock:
            now = time.monotonic()
            if self._usage is None or now - self._usage_time > USAGE_SECONDS:
                self._usage = StoreUsage(len(self._run_folders()), _folder_bytes(self.home, skip=self.home / INDEX_FOLDER))
                self._usage_time = now
            return self._usage

    def _run_folders(self) -> list[Path]:
        """The store's run folders (not its temporary, trash and lock folders)."""
        if not self.home.is_dir():
            return []
        return [f for f in self.home.iterdir() if f.is_dir() and not f.name.startswith(".")]

    # ------------------------------------------------------------- writing
    def save(self, result: RunResult) -> Path:
        """Write a run atomically (temporary folder, then rename); returns its folder."""
        self.home.mkdir(parents=True, exist_ok=True)
        target = self.path(result.run_id)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{result.run_id}-", dir=self.home))
        try:
            (tmp / "spec.json").write_text(result.spec.to_json())
            np.savez(
                tmp / "arrays.npz",
                confusion=result.confusion,
                test_probs=result.test_probs.astype(np.float32),
                **({"mean": result.mean} if result.mean is not None else {}),
            )
            if result.model is not None:
                result.model.save(tmp / "model.keras")
            if result.film is not None:
                save_film(result.film, tmp)
            if result.health is not None:
                (tmp / "health.json").write_text(json.dumps(result.health, default=json_number))
            payload = {
                "format": FORMAT_VERSION,
                "metrics": result.metrics(),
                "history": {k: [json_number(v) for v in vals] for k, vals in result.history.items()},
                # The curve from the untrained network on (runs stored before it have none, and still open).
                "points": {k: [json_number(v) for v in vals] for k, vals in result.points.items()},
            }
            # result.json last: its presence marks a complete run.
            (tmp / "result.json").write_text(json.dumps(payload))
            # On disk before the rename: else a power cut can leave a published run of empty files.
            _fsync_tree(tmp)
            with self._locked(result.run_id):
                trash = self._move_to_trash(result.run_id)
                os.replace(tmp, target)
                self._index.put(_saved_row(result, target))  # same step: no reader sees the folder unindexed long
            _fsync_folder(self.home)  # the rename itself survives a power cut
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._sweep()
        self._usage = None  # the panel and the budget see the new run at once
        result.path = target
        return target

    def delete(self, run_id: str) -> bool:
        """Remove a run (at once for readers: it is moved aside, then erased); returns whether it existed."""
        if not self.path(run_id).is_dir():
            return False
        with self._locked(run_id):
            trash = self._move_to_trash(run_id)
            self._index.remove(run_id)
        if trash is None:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        self._usage = None
        return True

    def _move_to_trash(self, run_id: str) -> Path | None:
        """Rename the run's folder aside (call under its lock); returns where, or None if there was none."""
        trash = self.home / f".trash-{run_id}-{time.time_ns()}"
        try:
            os.replace(self.path(run_id), trash)
        except FileNotFoundError:
            return None
        return trash

    @contextmanager
    def _locked(self, run_id: str) -> Iterator[None]:
        """Hold the run's lock folder for the ``with`` body (a few milliseconds: one or two renames)."""
        lock = self.home / f".lock-{run_id}"
        while True:
            try:
                lock.mkdir()
                break
            except FileExistsError:
                try:
                    stale = time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS
                except FileNotFoundError:
                    continue  # released just now
                if stale:  # its writer died between mkdir and rmdir
                    shutil.rmtree(lock, ignore_errors=True)
                else:
                    time.sleep(0.005)
        try:
            yield
        finally:
            lock.rmdir()

    def _sweep(self) -> None:
        """Erase what writers that died left behind: old temporary folders and trash."""
        if not self.home.is_dir():
            return
        now = time.time()
        for folder in self.home.glob(".t*-*"):
            try:
                old = now - folder.stat().st_mtime > STALE_TMP_SECONDS
            except FileNotFoundError:
                continue
            if old and folder.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(folder, ignore_errors=True)

    def best(self) -> RunInfo | None:
        """The stored run with the highest test accuracy, if any."""
        if not self._refreshed():
            return None
        found = self._index.select("diverged = 0", order="test_accuracy IS NULL, test_accuracy DESC, created", limit=1)
        return found[0] if found else None


_DIGIT_WHERE = "digit = 1"  # not diverged, a model file, digits (``IndexRow.digit``)


def _read_credit(folder: Path) -> str:
    """The nickname a run is credited to, ``""`` if none (or its file cannot be read)."""
    try:
        value = json.loads((folder / CREDIT_FILE).read_text()).get("trained_by")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _saved_row(result: RunResult, folder: Path) -> IndexRow:
    """The index's row of a run this store has just written to ``folder``."""
    inode, mtime_ns, files_mtime_ns, files_size, size = folder_stats(folder)
    return IndexRow(
        run_id=result.run_id, spec=result.spec, metrics=json.loads(json.dumps(result.metrics())),
        best_val=best_val(result.history), has_model=result.model is not None, has_health=result.health is not None,
        trained_by="", inode=inode, mtime_ns=mtime_ns, files_mtime_ns=files_mtime_ns, files_size=files_size,
        size=size,
    )  # fmt: skip


def _index_row(folder: Path) -> IndexRow:
    """The index's row of a run folder, read and checked as every reader checks it; raises for a broken run."""
    spec_json = (folder / "spec.json").read_text()
    info, history = _checked_info(folder, spec_json, (folder / "result.json").read_text())
    inode, mtime_ns, files_mtime_ns, files_size, size = folder_stats(folder)
    return IndexRow(
        run_id=info.run_id, spec=info.spec, metrics=info.metrics, best_val=best_val(history),
        has_model=(folder / "model.keras").is_file(), has_health=(folder / "health.json").is_file(),
        trained_by=info.trained_by, inode=inode, mtime_ns=mtime_ns, files_mtime_ns=files_mtime_ns,
        files_size=files_size, size=size, spec_json=spec_json,
    )  # fmt: skip


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` (Keras' model file is a zip it wrote itself), then the folder."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as file:
                os.fsync(file.fileno())
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (names, renames); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network filesystems refuse fsync on a folder; the files themselves are flushed
    finally:
        os.close(fd)


def _read_run(folder: Path) -> RunResult:
    with _folder_reader(folder) as read:
        spec = read_spec(read("spec.json").decode(), folder.name)
        payload = json.loads(read("result.json"))
        metrics = checked_metrics(payload["metrics"])
        history = checked_history(payload["history"])
        points = checked_history(payload.get("points") or {})
        with np.load(io.BytesIO(read("arrays.npz"))) as arrays:
            confusion = arrays["confusion"]
            probs = arrays["test_probs"]
            mean = arrays["mean"] if "mean" in arrays.files else None
        try:
            health = json.loads(read("health.json"))
        except FileNotFoundError:
            health = None
    model_file = folder / "model.keras"
    return RunResult(
        spec=spec,
        history=history,
        test_loss=_float(metrics["test_loss"]),
        test_accuracy=_float(metrics["test_accuracy"]),
        confusion=confusion,
        test_probs=probs,
        epochs_run=metrics["epochs_run"],
        best_epoch=metrics["best_epoch"],
        train_seconds=metrics["train_seconds"],
        diverged=metrics["diverged"],
        stopped=metrics["stopped"],
        params=metrics["params"],
        mean=mean,
        health=health,
        from_store=True,
        created=metrics.get("created") or 0.0,
        stop_reason=metrics.get("stop_reason") or "",
        path=folder,
        points=points,
        model_loader=(lambda: load_model(model_file)) if model_file.is_file() else None,
        film_loader=lambda: load_film(folder),  # read when asked for: listing and opening a run need it not
    )


def _read_info(folder: Path) -> RunInfo:
    """A run's summary from its folder, checked as every reader checks it; raises for a broken run."""
    return _checked_info(folder, (folder / "spec.json").read_text(), (folder / "result.json").read_text())[0]


def _checked_info(folder: Path, spec_json: str, result_json: str) -> tuple[RunInfo, dict[str, list[float]]]:
    """A run's summary and history from its two files' text, checked; raises for a broken run."""
    spec = read_spec(spec_json, folder.name)
    payload = json.loads(result_json)
    if not isinstance(payload, dict):
        raise ValueError(f"result.json holds {type(payload).__name__}, not an object")
    metrics = checked_metrics(payload.get("metrics"))
    history = checked_history(payload.get("history"))  # a run listed is a run a page can open
    return RunInfo(folder.name, spec, metrics, _read_credit(folder)), history


def _folder_bytes(folder: Path, skip: Path | None = None) -> int:
    """The bytes every file under ``folder`` takes (0 when there is no folder; ``skip`` left out), links not followed."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue  # removed while counted (a run deleted, a temporary folder renamed)
        for entry in entries:
            try:
                if skip is not None and entry.path == str(skip):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class RunReplacedError(Exception):
    """A run's folder was replaced by another writer while it was being read."""


@contextmanager
def _folder_reader(folder: Path) -> Iterator[Callable[[str], bytes]]:
    """``read(name) -> bytes`` for the files of one folder, all from the folder opened once.

    A writer replacing the run renames the old folder away before it erases it.
    Reading through one handle on the folder, and checking at the end that the
    path still names that folder, a reader either read one whole run or raises
    :class:`RunReplacedError` (read again). Where the OS cannot open files
    relative to a folder, plain paths.
    """
    if os.open not in os.supports_dir_fd:
        yield lambda name: (folder / name).read_bytes()
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))

    def read(name: str) -> bytes:
        with open(name, "rb", opener=lambda path, flags: os.open(path, flags, dir_fd=fd)) as file:
            return file.read()

    def replaced() -> bool:
        try:
            return os.stat(folder).st_ino != os.fstat(fd).st_ino
        except FileNotFoundError:
            return True

    try:
        yield read
    except FileNotFoundError:
        if replaced():
            raise RunReplacedError(folder) from None
        raise
    else:
        if replaced():
            raise RunReplacedError(folder)
    finally:
        os.close(fd)


# What a stored run's metrics hold: (types allowed, None allowed). Anything else is a broken run.
_METRIC_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "test_accuracy": ((int, float), True),
    "test_loss": ((int, float), True),
    "epochs_run": ((int,), False),
    "best_epoch": ((int,), True),
    "train_seconds": ((int, float), False),
    "diverged": ((bool,), False),
    "stopped": ((bool,), False),
    "params": ((int,), False),
    "created": ((int, float), True),
    "stop_reason": ((str,), True),
}


def read_spec(text: str, run_id: str) -> ExperimentSpec:
    """A stored ``spec.json``, checked as every door checks a spec, and named by ``run_id``.

    Raises
    ------
    ValueError
        For a spec the lab would refuse, or one whose hash is not the folder's name.
    """
    spec = ExperimentSpec.from_json(text).validate()
    if spec.run_id != run_id:
        raise ValueError(f"spec hash {spec.run_id} does not match the folder name")
    return spec


def checked_metrics(metrics: Any) -> dict[str, Any]:
    """A stored run's metrics, each of its type and range, or ValueError naming the first that is not.

    One run written by hand or by a broken writer (``"metrics": null``, ``"test_accuracy": "high"``)
    must be skipped with a warning, never break a listing or a page.
    """
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics is {type(metrics).__name__}, not an object")
    for key, (types, nullable) in _METRIC_TYPES.items():
        value = metrics.get(key)
        if value is None and nullable:
            continue
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise ValueError(f"metric {key} is {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {key} is {value!r}")
    accuracy = metrics.get("test_accuracy")
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise ValueError(f"test_accuracy {accuracy!r} is not a share between 0 and 1")
    if metrics["epochs_run"] < 0 or metrics["params"] < 0 or metrics["train_seconds"] < 0:
        raise ValueError("epochs_run, params and train_seconds cannot be negative")
    return metrics


def checked_history(history: Any) -> dict[str, list[float]]:
    """A stored run's history (metric -> one number per epoch, null for NaN), or ValueError."""
    if not isinstance(history, dict):
        raise ValueError(f"history is {type(history).__name__}, not an object")
    out: dict[str, list[float]] = {}
    for key, values in history.items():
        if not isinstance(values, list) or not all(
            v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(f"history {key!r} is not a list of numbers")
        out[str(key)] = [float("nan") if v is None else float(v) for v in values]
    return out


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def load_model(path: Path) -> Any:
    """Load a stored ``.keras`` model (imports Keras on first use)."""
    # Imported here: Keras and the model builder load TensorFlow, which listing or reading runs never needs.
    import keras

    import lab.nn.model  # noqa: F401 - registers the lab's own layers (augmentation) for loading

    return keras.models.load_model(path, compile=False)
