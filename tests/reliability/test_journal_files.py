"""A file that cannot serve as a journal is a ``JournalError`` naming it and saying why, raised
before any job is planned or sent; the file itself is left exactly as it was. Every error the
batch and the journal raise on purpose is an ``AIMusicError``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aimusic_async import AIMusicClient, AIMusicError, ConfigurationError, Journal, JournalError
from aimusic_async.batch import Job, run_batch

ClientFactory = Callable[..., Awaitable[AIMusicClient]]

JOB = Job(
    key="a",
    operation="sonic.create",
    params={"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm"},
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _sqlite_file(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _unrelated_db(path: Path) -> None:
    _sqlite_file(
        path,
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)",
        "INSERT INTO invoices (total) VALUES (12.5)",
    )


def _foreign_jobs_table(path: Path) -> None:
    # Another program's "jobs" table: the name matches, the columns do not.
    _sqlite_file(path, "CREATE TABLE jobs (id INTEGER PRIMARY KEY, cron TEXT)")


def _other_app_id(path: Path) -> None:
    _sqlite_file(path, "PRAGMA application_id = 1234", "PRAGMA user_version = 1")


def _newer_journal(path: Path) -> None:
    # One of ours, from a later version whose format this one does not know.
    _sqlite_file(path, "PRAGMA application_id = 1095322954", "PRAGMA user_version = 99")


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"key,operation\nsong-1,sonic.create\n" * 200)


BAD_FILES: list[Any] = [
    pytest.param(_unrelated_db, "not an aimusic journal", id="unrelated-sqlite"),
    pytest.param(_foreign_jobs_table, "not an aimusic journal", id="foreign-jobs-table"),
    pytest.param(_other_app_id, "not an aimusic journal", id="other-application"),
    pytest.param(_newer_journal, "newer", id="newer-format"),
    pytest.param(_not_sqlite, "not a SQLite database", id="not-sqlite"),
]


@pytest.mark.parametrize(("make", "why"), BAD_FILES)
async def test_a_file_that_is_not_a_journal_is_refused_untouched(
    make: Callable[[Path], None], why: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.db"
    make(path)
    before = path.read_bytes()
    journal = Journal(path)
    with pytest.raises(JournalError) as caught:
        await journal.open()
    await journal.aclose()
    assert str(path) in str(caught.value)
    assert why in str(caught.value)
    assert caught.value.path == str(path)
    assert not isinstance(caught.value, sqlite3.Error)
    # Not one byte changed (no table added, no WAL switch), and no side files left behind.
    assert path.read_bytes() == before
    assert _names(tmp_path) == ["data.db"]


@pytest.mark.parametrize(("make", "why"), BAD_FILES)
async def test_a_batch_on_a_bad_journal_sends_nothing(
    make: Callable[[Path], None],
    why: str,
    emulator: Any,
    client_factory: ClientFactory,
    tmp_path: Path,
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    path = tmp_path / "data.db"
    make(path)
    run = run_batch(client, [JOB], journal=path)
    with pytest.raises(JournalError, match=why):
        await run.__anext__()
    await run.aclose()
    assert emulator.stats.requests == 0


@pytest.mark.parametrize(
    ("place", "why"),
    [
        pytest.param(lambda tmp: tmp, "is a directory", id="a-directory"),
        pytest.param(lambda tmp: tmp / "missing" / "j.db", "no such folder", id="missing-folder"),
        pytest.param(lambda tmp: tmp / "file.txt" / "j.db", "not a folder", id="under-a-file"),
    ],
)
async def test_a_path_that_cannot_hold_a_journal(
    place: Callable[[Path], Path], why: str, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("x")
    path = place(tmp_path)
    journal = Journal(path)
    with pytest.raises(JournalError, match=why) as caught:
        await journal.open()
    await journal.aclose()
    assert str(path) in str(caught.value)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions (not as root)"
)
@pytest.mark.parametrize("what", ["file", "folder"])
async def test_a_journal_without_permission(what: str, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "j.db"
    if what == "file":
        async with Journal(path) as journal:
            await journal.plan([("a", "op.x", "fp", {})])
        path.chmod(0o000)
    else:
        folder.chmod(0o500)  # can list, cannot create the journal (or its WAL) in it
    try:
        journal = Journal(path)
        with pytest.raises(JournalError, match="permission denied") as caught:
            await journal.open()
        await journal.aclose()
        assert str(path) in str(caught.value)
    finally:
        folder.chmod(0o700)
        if path.exists():
            path.chmod(0o600)


async def test_a_journal_of_the_earlier_format_is_still_read(tmp_path: Path) -> None:
    # Journals written before the format was marked as ours (version 1, no application id)
    # keep working: a rerun must find its started tasks there.
    path = tmp_path / "old.db"
    _sqlite_file(
        path,
        """CREATE TABLE jobs (
            key TEXT PRIMARY KEY, operation TEXT NOT NULL, fingerprint TEXT NOT NULL,
            params TEXT NOT NULL, state TEXT NOT NULL, family TEXT, task_id TEXT, result TEXT,
            error TEXT, files TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL)""",
        "INSERT INTO jobs (key, operation, fingerprint, params, state, family, task_id, "
        "attempts, updated_at) VALUES ('a', 'sonic.create', 'fp', '{}', 'started', 'sonic', "
        "'t-1', 1, 0)",
        "PRAGMA user_version = 1",
    )
    async with Journal(path) as journal:
        entry = await journal.get("a")
    assert entry is not None
    assert (entry.state, entry.task_id) == ("started", "t-1")


async def test_journal_misuse_raises_sdk_errors(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.db") as journal:
        with pytest.raises(JournalError) as caught:
            await journal.mark_failed("no-such-job", "x")
    assert isinstance(caught.value, KeyError)  # still what a dict lookup would raise
    assert "no-such-job" in str(caught.value)
    closed = Journal(tmp_path / "j.db")
    await closed.aclose()
    with pytest.raises(JournalError, match="closed"):
        await closed.open()


def test_bad_batch_arguments_are_configuration_errors() -> None:
    client: Any = object()
    with pytest.raises(ConfigurationError, match="concurrency"):
        run_batch(client, [JOB], concurrency=0)
    with pytest.raises(ConfigurationError, match="duplicate job key"):
        run_batch(client, [JOB, JOB])


async def test_bad_operations_are_configuration_errors(
    emulator: Any, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    jobs = [
        Job(key="family", operation="spotify.create", params={}),
        Job(key="method", operation="sonic.make_hit", params={}),
        Job(key="not-a-start", operation="sonic.bpm", params={"clip_id": "x"}),
    ]
    async with run_batch(client, jobs) as run:
        outcomes = {o.job.key: o async for o in run}
    for key, outcome in outcomes.items():
        assert outcome.status == "failed", key
        assert isinstance(outcome.error, ConfigurationError), key
        assert isinstance(outcome.error, AIMusicError)
    assert emulator.stats.requests == 0
