"""The batch journal: one SQLite file that remembers, per job key, how far the job got (its
states and why they keep a rerun from paying twice: the design note "How a batch resumes")."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

import anyio.to_thread

from . import _clock
from . import _constants as C
from ._errors import (
    AIMusicError,
    JournalError,
    JournalInUseError,
    UnknownJobError,
)
from ._transport import redact

__all__ = ["Journal", "JournalEntry", "JournalState", "fingerprint"]

JournalState = Literal["planned", "starting", "started", "finished", "failed", "lost", "unknown"]

# Version 2 added the "lost" state. An older SDK would read a lost job as never started and
# send it again, so the version goes up and older SDKs refuse the file instead.
# Version 3 added each start's correlation reference and send time (columns "reference",
# "sent_at"): a rerun matches a start whose answer never came to the task its callback named.
# Opening a version 1 or 2 file adds the two columns.
_SCHEMA_VERSION = 3
# Journals written before the header mark below existed: the same table, version 1.
_LEGACY_VERSION = 1
# "AIMJ" in SQLite's header field for the owning application: a file without it is not ours.
_APPLICATION_ID = 0x41494D4A
# How often a run waiting for a Journal object another run holds looks again.
_CLAIM_POLL = 0.02
# Upper bound on writes folded into one transaction: keeps any one commit short.
_GROUP_MAX = 512
# Results, prompts and file paths are the user's business alone.
_FILE_MODE = 0o600

T = TypeVar("T")


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
    # The correlation reference the last start request carried in its webhook URL (None when
    # it asked for no webhook), and when it was sent (wall clock): what a rerun recovers by.
    reference: str | None = None
    sent_at: float | None = None


_COLUMNS = (
    "key, operation, fingerprint, state, family, task_id, result, error, files, attempts, "
    "updated_at, reference, sent_at"
)
# Every column of the table: a "jobs" table with other columns is someone else's.
_TABLE_COLUMNS = frozenset(_COLUMNS.replace(" ", "").split(",")) | {"params"}
# Added by version 3; a file of an earlier version gets them when opened.
_V3_COLUMNS = (("reference", "TEXT"), ("sent_at", "REAL"))
_EARLIER_COLUMNS = _TABLE_COLUMNS - {name for name, _ in _V3_COLUMNS}

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
    updated_at  REAL NOT NULL,
    reference   TEXT,
    sent_at     REAL
)
"""


def _params_json(params: Mapping[str, Any]) -> str:
    return json.dumps(redact(params), default=str)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    key, operation, fp, state, family, task_id, result, error, files, attempts, updated = row[:11]
    reference, sent_at = row[11:]
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
        reference=reference,
        sent_at=sent_at,
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


class _Unusable(Exception):
    """Raised in the worker: the file cannot serve as a journal; the message says why."""


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
                error = _wrap(exc, self.path)
                for op in batch:
                    with contextlib.suppress(RuntimeError):  # the loop is gone
                        op.loop.call_soon_threadsafe(_resolve, op.future, None, error)
                continue
            self._run_batch(conn, batch)
        if conn is not None:
            conn.close()

    def _create(self) -> None:
        """Create the file owner-only (never readable by others, not even for a moment), or
        say why the path cannot hold a journal. An existing journal keeps the mode its owner
        gave it."""
        path = self.path
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))
        except FileExistsError:
            if os.path.isdir(path):
                raise _Unusable("it is a directory") from None
            if not os.access(path, os.R_OK | os.W_OK):
                raise _Unusable(
                    "permission denied (the file must be readable and writable)"
                ) from None
        except FileNotFoundError:
            raise _Unusable(f"no such folder: {folder}") from None
        except NotADirectoryError:
            raise _Unusable(f"not a folder: {folder}") from None
        except PermissionError:
            raise _Unusable(f"permission denied (cannot create the file in {folder})") from None
        # SQLite keeps its write-ahead log beside the journal.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _Unusable(f"permission denied (the folder {folder} must be writable)")

    def _connect(self) -> sqlite3.Connection:
        self._create()
        deadline = time.monotonic() + max(0.0, C.JOURNAL_BUSY_TIMEOUT)
        while True:
            try:
                return self._lock_and_open()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            # Every attempt that meets the lock lets go of the file before trying again.
            # (SQLite's own busy wait would keep the shared lock it already holds: two handles
            # opening at once would then wait on each other, and both be refused.) The jitter
            # lets one of two colliding openers win the next round.
            time.sleep(max(0.0, min(random.uniform(0.005, 0.03), deadline - time.monotonic())))

    def _lock_and_open(self) -> sqlite3.Connection:
        # No busy wait inside SQLite: _connect retries with the file released in between.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        try:
            conn.execute("PRAGMA busy_timeout=0")
            # Exclusive, and held while the journal is open: a second run on the same file
            # (another handle, another process) is refused instead of double-starting jobs.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # Lock first, then look: nothing is written to a file that turns out not to be
            # ours (not even the switch to WAL).
            conn.execute("BEGIN EXCLUSIVE")
            try:
                _check_format(conn)
            finally:
                conn.execute("ROLLBACK")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise _Unusable(f"cannot switch it to WAL mode (journal_mode={mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_SCHEMA)
            _add_columns(conn)
            conn.execute(f"PRAGMA application_id={_APPLICATION_ID}")
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
                    outcomes.append((op, None, _wrap(exc, self.path)))
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


def _check_format(conn: sqlite3.Connection) -> None:
    """Raise ``_Unusable`` unless the open file is empty, a journal, or a journal of the
    earlier format. Reads only."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!' "
            "ORDER BY name"
        ).fetchall()
    ]
    if app_id == _APPLICATION_ID:
        if version > _SCHEMA_VERSION:
            raise _Unusable(
                f"it was written by a newer aimusic_async (journal format {version}; this "
                f"version reads formats up to {_SCHEMA_VERSION}): upgrade to use it"
            )
    elif app_id != 0:
        raise _Unusable(f"not an aimusic journal (it belongs to application id {app_id})")
    elif not names and version == 0:
        return  # empty: a new journal
    elif names != ["jobs"] or version != _LEGACY_VERSION:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise _Unusable(
            "not an aimusic journal (it is another SQLite database"
            + (f", holding {shown})" if names else ")")
        )
    if "jobs" in names:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)").fetchall()}
        earlier = version < _SCHEMA_VERSION and columns == _EARLIER_COLUMNS
        if columns != _TABLE_COLUMNS and not earlier:
            raise _Unusable("not an aimusic journal (its jobs table has other columns)")


def _add_columns(conn: sqlite3.Connection) -> None:
    """Bring a journal of an earlier version up to this one (inside the open's transaction)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)").fetchall()}
    for name, kind in _V3_COLUMNS:
        if name not in columns:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")


def _is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" (another connection holds the file)."""
    low = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in low or "busy" in low)


def _wrap(exc: BaseException, path: str) -> BaseException:
    """A typed error naming the file and what is wrong with it."""
    if isinstance(exc, AIMusicError):
        return exc
    if isinstance(exc, KeyError):
        return UnknownJobError(str(exc.args[0]) if exc.args else str(exc), path=path)
    if isinstance(exc, _Unusable):
        reason = str(exc)
    elif _is_busy(exc):
        return JournalInUseError(path)
    elif isinstance(exc, sqlite3.Error):
        text = str(exc)
        low = text.lower()
        if "not a database" in low:
            reason = "not a SQLite database"
        elif "readonly" in low or "read-only" in low:
            reason = "the file is read-only"
        elif "unable to open" in low:
            reason = "SQLite cannot open it (check the path and its permissions)"
        else:
            reason = text
    elif isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    else:
        return exc
    error = JournalError(f"journal {path} cannot be used: {reason}", path=path)
    error.__cause__ = exc
    return error


class JournalStore(Protocol):
    """What a batch run needs of its journal: the seam where a journal kept elsewhere than a
    local SQLite file (a shared database, for batches spread over machines) plugs in.

    Every method returns once its write is durable. ``claim`` holds the journal for one run;
    ``plan`` records jobs unless known and returns the entries that were; the ``mark_*`` methods
    move one job through ``starting`` -> ``started`` -> ``finished`` / ``failed`` / ``lost`` /
    ``unknown`` (the states the manual's "Resuming with the journal" table explains)."""

    async def open(self) -> None: ...
    async def aclose(self) -> None: ...
    def claim(self) -> contextlib.AbstractAsyncContextManager[None]: ...
    async def plan(
        self, jobs: Iterable[tuple[str, str, str, Mapping[str, Any]]]
    ) -> dict[str, JournalEntry]: ...
    async def replan(
        self, key: str, operation: str, fingerprint: str, params: Mapping[str, Any]
    ) -> None: ...
    async def mark_starting(self, key: str, reference: str | None = None) -> None: ...
    async def mark_started(self, key: str, task_id: str, family: str) -> None: ...
    async def mark_finished(self, key: str, result: Mapping[str, Any]) -> None: ...
    async def mark_failed(self, key: str, error: str) -> None: ...
    async def mark_lost(self, key: str, error: str) -> None: ...
    async def mark_unknown(self, key: str, error: str) -> None: ...
    async def set_files(self, key: str, files: Iterable[str]) -> None: ...


class Journal:
    """Durable per-job state for ``run_batch``. Use ``async with Journal(path) as journal``.

    Every method is a coroutine that returns once the write is committed to disk.

    One journal serves one batch run at a time, whatever the handle. While it is open, this
    object holds the file exclusively: another ``Journal`` on the same file, in this process or
    another, cannot open it. Two runs given this same object take turns through ``claim()``.
    Either way the second run waits up to ``JOURNAL_BUSY_TIMEOUT`` (2 s), then is refused with
    ``JournalInUseError`` before it plans or sends anything.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._worker: _Worker | None = None
        self._closed = False
        # A lock, not just a flag: one Journal may be shared by runs on different threads.
        self._claim_lock = threading.Lock()
        self._claimed = False

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
        """Start the worker thread and create or check the file (idempotent).

        Raises ``JournalError`` naming the file and the problem (not a journal, not SQLite, no
        permission ...), or ``JournalInUseError`` when another handle or process holds it.
        """
        if self._worker is not None:
            return
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed", path=os.fspath(self.path))
        worker = self._worker = _Worker(os.fspath(self.path))
        worker.start()
        try:
            await self._submit(lambda conn: None)
        except BaseException:
            # Not opened: stop the thread now rather than leave it to a close that may never
            # come. A later open() tries afresh.
            if self._worker is worker:
                self._worker = None
            worker.queue.put(None)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.join)
            raise

    async def aclose(self) -> None:
        """Stop the worker after the writes queued so far; safe to call twice."""
        worker, self._worker = self._worker, None
        self._closed = True
        if worker is None:
            return
        worker.queue.put(None)
        # The thread finishes the queued writes, then exits; join it off the loop.
        await anyio.to_thread.run_sync(worker.join)

    @contextlib.asynccontextmanager
    async def claim(self) -> AsyncIterator[None]:
        """Hold this journal for one batch run (``run_batch`` does this).

        Waits up to ``JOURNAL_BUSY_TIMEOUT`` while another run holds it, then raises
        ``JournalInUseError``. Reading (``get``, ``entries``) needs no claim.
        """
        deadline = _clock.monotonic() + C.JOURNAL_BUSY_TIMEOUT
        while not self._try_claim():
            left = deadline - _clock.monotonic()
            if left <= 0:
                raise JournalInUseError(os.fspath(self.path))
            await _clock.sleep(min(_CLAIM_POLL, left))
        try:
            yield
        finally:
            with self._claim_lock:
                self._claimed = False

    def _try_claim(self) -> bool:
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._worker is None:
            raise JournalError(
                f"the journal {self.path} is not open (use `async with Journal(path)`)",
                path=os.fspath(self.path),
            )
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
                "task_id = NULL, family = NULL, result = NULL, error = NULL, reference = NULL, "
                "sent_at = NULL, updated_at = ? "
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
                raise UnknownJobError(
                    f"job {key!r} is not in the journal {self.path}", path=os.fspath(self.path)
                )

        return write

    async def mark_starting(self, key: str, reference: str | None = None) -> None:
        """Committed before the start request is sent (the line between "never sent" and
        "maybe sent"), with the correlation reference the request carries (None when it asks
        for no webhook) and the time. A task id from an earlier attempt (a lost task) is
        dropped: the new request's answer names the task from now on."""
        await self._submit(
            self._update(
                key,
                "state = 'starting', error = NULL, task_id = NULL, family = NULL, "
                "attempts = attempts + 1, reference = ?, sent_at = ?",
                (reference, _clock.time()),
            )
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
        """A definite failure that paid for nothing usable: a later run sends the job again.
        Only for a start refused before any task id existed, or a task whose every clip
        failed (the service refunds those)."""
        await self._submit(self._update(key, "state = 'failed', error = ?", (error,)))

    async def mark_lost(self, key: str, error: str) -> None:
        """The server no longer finds the started task. Its id is kept: a later run looks it
        up again, and sends the job anew only when the user asks for that."""
        await self._submit(self._update(key, "state = 'lost', error = ?", (error,)))

    async def mark_unknown(self, key: str, error: str) -> None:
        await self._submit(self._update(key, "state = 'unknown', error = ?", (error,)))

    async def set_files(self, key: str, files: Iterable[str]) -> None:
        """The downloaded files of a finished job."""
        await self._submit(self._update(key, "files = ?", (json.dumps(list(files)),)))
