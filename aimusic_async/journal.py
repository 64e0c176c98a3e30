"""The batch journal: one SQLite file that remembers, per job key, how far the job got.

States::

    planned ──> starting ──> started(task_id) ──> finished(result)
                   │  │            └────────────> failed(error)      (the task failed)
                   │  └─────────────────────────> failed(error)      (start refused)
                   └────────────────────────────> unknown(error)     (no answer came)

``starting`` is committed (fsync'd) BEFORE the start request is sent, and ``started`` with the
task id right after the answer. A process killed between the two leaves ``starting``: the task
may or may not exist on the server, and the batch reports that job as unknown instead of paying
for it twice.

Every SQLite call runs on one dedicated worker thread (the event loop never touches the file).
Writes that arrive together are committed in one transaction ("group commit"), so durability
(``journal_mode=WAL``, ``synchronous=FULL``) does not cost one fsync per write under load.
The connection holds an exclusive lock: two batches cannot run on one journal at the same time.

A new journal file is created owner-only (0600; SQLite gives its ``-wal``/``-shm`` files the same
mode). A job's own ``webhook_secret`` is never written: the stored params (kept for people
inspecting the file) and the fingerprint have it replaced, since a rerun takes the secret from
the jobs it is given, as it does every other parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import anyio.to_thread

from . import _clock
from ._errors import AIMusicError
from ._transport import redact

__all__ = [
    "Journal",
    "JournalConflictError",
    "JournalEntry",
    "JournalError",
    "JournalState",
    "fingerprint",
]

JournalState = Literal["planned", "starting", "started", "finished", "failed", "unknown"]

_SCHEMA_VERSION = 1
# A second process on the same journal waits this long for the lock, then gets a clear error.
_BUSY_TIMEOUT_MS = 2000
# Upper bound on writes folded into one transaction: keeps any one commit short.
_GROUP_MAX = 512
# Results, prompts and file paths are the user's business alone.
_FILE_MODE = 0o600

T = TypeVar("T")


class JournalError(AIMusicError):
    """The journal file cannot be used (locked by another batch, not a journal, ...)."""


class JournalConflictError(JournalError, ValueError):
    """A job key is in the journal with a different operation or parameters.

    Re-using a key for different work would attach the old task's result to the new request
    (or start it twice); use a new key, or a new journal.
    """

    def __init__(self, key: str, state: str) -> None:
        super().__init__(
            f"job {key!r} is in the journal ({state}) with a different operation or params; "
            "use a new key or a new journal"
        )
        self.key = key
        self.state = state


def fingerprint(operation: str, params: Mapping[str, Any]) -> str:
    """A stable digest of what a job asks for, to notice a key reused for different work.

    Secrets (``webhook_secret``) are left out: the digest is stored, and must not let anyone
    holding the journal test guesses of a secret.
    """
    canonical = json.dumps(
        {"operation": operation, "params": redact(params)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JournalEntry:
    """One job's row. ``result`` is the finished task's result as JSON data."""

    key: str
    operation: str
    fingerprint: str
    state: JournalState
    family: str | None = None
    task_id: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    files: list[str] = field(default_factory=list)
    attempts: int = 0
    updated_at: float = 0.0


_COLUMNS = (
    "key, operation, fingerprint, state, family, task_id, result, error, files, attempts, "
    "updated_at"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key         TEXT PRIMARY KEY,
    operation   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    params      TEXT NOT NULL,
    state       TEXT NOT NULL,
    family      TEXT,
    task_id     TEXT,
    result      TEXT,
    error       TEXT,
    files       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL
)
"""


def _params_json(params: Mapping[str, Any]) -> str:
    return json.dumps(redact(params), default=str)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    key, operation, fp, state, family, task_id, result, error, files, attempts, updated = row
    return JournalEntry(
        key=key,
        operation=operation,
        fingerprint=fp,
        state=state,
        family=family,
        task_id=task_id,
        result=json.loads(result) if result else None,
        error=error,
        files=json.loads(files) if files else [],
        attempts=attempts,
        updated_at=updated,
    )


@dataclass
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting coroutine was cancelled; the write happened anyway
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _Worker(threading.Thread):
    """Owns the connection; runs queued operations in group-committed transactions."""

    def __init__(self, path: str) -> None:
        super().__init__(name=f"aimusic-journal:{os.path.basename(path)}", daemon=True)
        self.path = path
        self.queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        stop = False
        while not stop:
            first = self.queue.get()
            batch: list[_Op] = []
            if first is None:
                stop = True
            else:
                batch.append(first)
                while len(batch) < _GROUP_MAX:
                    try:
                        item = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
            if not batch:
                continue
            try:
                if conn is None:
                    conn = self._connect()
            except Exception as exc:
                for op in batch:
                    op.loop.call_soon_threadsafe(_resolve, op.future, None, _wrap(exc, self.path))
                continue
            self._run_batch(conn, batch)
        if conn is not None:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        # Created here so that it is never readable by others, not even for a moment; an
        # existing journal keeps the mode its owner gave it.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            # Exclusive: a second batch on the same file fails fast instead of double-starting.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot enable WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"journal schema version {version} is not supported")
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                # A savepoint per operation: one failing write does not undo its neighbours.
                conn.execute("SAVEPOINT op")
                try:
                    result = op.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((op, None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = _wrap(exc, self.path)
            outcomes = [(op, None, error) for op in batch]
        # Only now, after the commit, may callers act on their write (send the request...).
        for op, result, failure in outcomes:
            # RuntimeError: the loop is gone; nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                op.loop.call_soon_threadsafe(_resolve, op.future, result, failure)


def _wrap(exc: BaseException, path: str) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return JournalError(f"journal {path} is in use by another batch ({exc})")
    if isinstance(exc, (sqlite3.DatabaseError, OSError)):
        return JournalError(f"journal {path} cannot be used: {exc}")
    return exc


class Journal:
    """Durable per-job state for ``run_batch``. Use ``async with Journal(path) as journal``.

    Every method is a coroutine that returns once the write is committed to disk.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._worker: _Worker | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Start the worker thread and create or check the file (idempotent)."""
        if self._worker is not None:
            return
        if self._closed:
            raise JournalError("the journal is closed")
        self._worker = _Worker(os.fspath(self.path))
        self._worker.start()
        await self._submit(lambda conn: None)

    async def aclose(self) -> None:
        """Stop the worker after the writes queued so far; safe to call twice."""
        worker, self._worker = self._worker, None
        self._closed = True
        if worker is None:
            return
        worker.queue.put(None)
        # The thread finishes the queued writes, then exits; join it off the loop.
        await anyio.to_thread.run_sync(worker.join)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._worker is None:
            raise JournalError("the journal is not open (use `async with Journal(path)`)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._worker.queue.put(_Op(fn, loop, future))
        return await future

    # -- reads -------------------------------------------------------------------------------
    async def get(self, key: str) -> JournalEntry | None:
        """The entry for ``key``, or None."""

        def read(conn: sqlite3.Connection) -> JournalEntry | None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE key = ?", (key,)).fetchone()
            return _entry(row) if row else None

        return await self._submit(read)

    async def entries(self) -> dict[str, JournalEntry]:
        """Every entry, by key."""

        def read(conn: sqlite3.Connection) -> dict[str, JournalEntry]:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY rowid").fetchall()
            return {row[0]: _entry(row) for row in rows}

        return await self._submit(read)

    # -- writes ------------------------------------------------------------------------------
    async def plan(
        self, jobs: Iterable[tuple[str, str, str, Mapping[str, Any]]]
    ) -> dict[str, JournalEntry]:
        """Record ``(key, operation, fingerprint, params)`` as planned unless already known;
        return the entries as they were before this call (existing keys only)."""
        rows = list(jobs)

        def write(conn: sqlite3.Connection) -> dict[str, JournalEntry]:
            existing: dict[str, JournalEntry] = {}
            now = _clock.time()
            for key, operation, fp, params in rows:
                row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE key = ?", (key,)).fetchone()
                if row:
                    existing[key] = _entry(row)
                    continue
                conn.execute(
                    "INSERT INTO jobs (key, operation, fingerprint, params, state, updated_at) "
                    "VALUES (?, ?, ?, ?, 'planned', ?)",
                    (key, operation, fp, _params_json(params), now),
                )
            return existing

        return await self._submit(write)

    async def replan(
        self, key: str, operation: str, fingerprint: str, params: Mapping[str, Any]
    ) -> None:
        """Replace a never-started or failed job's request (its earlier attempt paid nothing)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE jobs SET operation = ?, fingerprint = ?, params = ?, state = 'planned', "
                "task_id = NULL, family = NULL, result = NULL, error = NULL, updated_at = ? "
                "WHERE key = ? AND state IN ('planned', 'failed')",
                (operation, fingerprint, _params_json(params), _clock.time(), key),
            )

        await self._submit(write)

    def _update(self, key: str, sql: str, args: tuple[Any, ...]) -> Callable[..., Any]:
        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                f"UPDATE jobs SET {sql}, updated_at = ? WHERE key = ?", (*args, _clock.time(), key)
            )
            if cur.rowcount != 1:
                raise KeyError(f"job {key!r} is not in the journal")

        return write

    async def mark_starting(self, key: str) -> None:
        """Committed before the start request is sent (the line between "never sent" and
        "maybe sent")."""
        await self._submit(
            self._update(key, "state = 'starting', error = NULL, attempts = attempts + 1", ())
        )

    async def mark_started(self, key: str, task_id: str, family: str) -> None:
        """The server answered with a task id: from now on a restart re-attaches by id."""
        await self._submit(
            self._update(key, "state = 'started', task_id = ?, family = ?", (task_id, family))
        )

    async def mark_finished(self, key: str, result: Mapping[str, Any]) -> None:
        """The task's result, kept so a rerun re-emits it without asking the server."""
        await self._submit(
            self._update(key, "state = 'finished', result = ?, error = NULL", (json.dumps(result),))
        )

    async def mark_failed(self, key: str, error: str) -> None:
        await self._submit(self._update(key, "state = 'failed', error = ?", (error,)))

    async def mark_unknown(self, key: str, error: str) -> None:
        await self._submit(self._update(key, "state = 'unknown', error = ?", (error,)))

    async def set_files(self, key: str, files: Iterable[str]) -> None:
        """The downloaded files of a finished job."""
        await self._submit(self._update(key, "files = ?", (json.dumps(list(files)),)))
