"""Batches that recover unknown starts: a start whose answer was lost waits a bounded time for its
task's callback (``client.recover``) and continues as started; the journal commits each start's
correlation reference before the request leaves, so a rerun finds through a shared hub the tasks
whose callbacks arrived while no process was waiting."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from aimusic_async import AIMusicClient, Journal, PollPolicy, SubmissionUnknownError
from aimusic_async._journal import fingerprint
from aimusic_async.batch import Job, JobOutcome
from aimusic_async.hubs import RedisHub
from aimusic_async.webhooks import new_reference, reference_of, reference_sink

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
Serve = Callable[[web.Application], Awaitable[str]]

SECRET = "batch-recover-secret"
GEN_TIME = (0.05, 0.3)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, timeout=20.0)


def job(i: int) -> Job:
    # The key rides in the title: the test maps the emulator's tasks back to jobs.
    key = f"r{i:03d}"
    return Job(
        key=key,
        operation="sonic.create",
        params={"mv": "sonic-v5", "custom_mode": True, "prompt": "[Verse]\nla", "title": key},
    )


def created_by_key(emu: Any) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = collections.defaultdict(list)
    for task_id, record in emu.tasks.items():
        tasks[str(record.body.get("title"))].append(task_id)
    return tasks


async def test_a_batch_recovers_every_start_whose_answer_was_lost(
    emulator_factory: EmuFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    """30 % of start answers lost, webhooks on, a journal: every unknown start is matched to the
    task it created, continues as started, and no job is created twice."""
    emu = await emulator_factory(seed=5, generation_time=GEN_TIME, lost_response_rate=0.3)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.webhooks.serve()
    jobs = [job(i) for i in range(40)]
    journal_path = tmp_path / "recover.db"

    async with client.batch(jobs, concurrency=16, journal=journal_path) as run:
        outcomes = {o.job.key: o async for o in run}

    lost = emu.stats.lost_responses
    assert 6 <= lost <= 20  # about 12 of 40, seeded
    status = collections.Counter(o.status for o in outcomes.values())
    origins = collections.Counter(o.origin for o in outcomes.values())
    print(
        f"\nbatch, 30 % lost start answers: unknown starts {lost} of 40 before recovery, "
        f"{status['unknown']} after; creates {emu.stats.creates}; polls {emu.stats.polls}"
    )
    assert status == {"finished": 40}
    assert origins == {"run": 40 - lost, "recovered": lost}
    assert run.progress.recovered == lost
    assert run.progress.started == 40  # every start the server accepted, recovered ones too
    # Each job holds the one task the emulator created for it.
    created = created_by_key(emu)
    assert emu.stats.creates == len(emu.tasks) == 40
    assert {k: [o.task_id] for k, o in outcomes.items()} == created

    async with Journal(journal_path) as journal:
        entries = await journal.entries()
    for key, outcome in outcomes.items():
        entry = entries[key]
        assert (entry.state, entry.task_id) == ("finished", outcome.task_id)
        # The reference committed before the start went out is the one its task called back.
        assert outcome.task_id is not None
        assert entry.reference == reference_of(emu.tasks[outcome.task_id].webhook_url)

    # A rerun takes everything from the journal: not one request.
    requests = emu.stats.requests
    async with client.batch(jobs, journal=journal_path) as rerun:
        again = [o async for o in rerun]
    assert {o.origin for o in again} == {"journal"}
    assert emu.stats.requests == requests


async def test_the_reference_is_committed_before_the_start_leaves(
    serve_app: Serve, client_factory: ClientFactory, tmp_path: Path
) -> None:
    """The server reads the journal while it holds the start request: the job is already
    ``starting`` with the very reference the request carries. The answer is lost and no
    callback comes: the job is reported unknown, its reference kept for a rerun."""
    seen: list[tuple[str, str | None, str | None]] = []
    journal = Journal(tmp_path / "j.db")

    async def create(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        entry = await journal.get("r000")
        assert entry is not None
        seen.append((entry.state, entry.reference, reference_of(body["webhook_url"])))
        assert request.transport is not None
        request.transport.abort()  # the answer is lost
        return web.Response(status=499)

    app = web.Application()
    app.router.add_post("/api/v1/sonic/create", create)
    base = await serve_app(app)
    # A short wait: the callback of a start that created nothing never comes.
    quick = PollPolicy(initial_interval=0.05, max_interval=0.2, timeout=1.0)
    client = await client_factory(base, "key", poll=quick, webhook_secret=SECRET)
    client.webhooks.use("http://127.0.0.1:9/hooks", grace=0.05)

    async with journal, client.batch([job(0)], journal=journal) as run:
        (outcome,) = [o async for o in run]
        entry = await journal.get("r000")

    assert len(seen) == 1
    state, committed, sent = seen[0]
    assert state == "starting"
    assert committed is not None
    assert committed == sent
    assert outcome.status == "unknown"
    assert isinstance(outcome.error, SubmissionUnknownError)
    assert outcome.error.reference == committed
    assert entry is not None
    assert (entry.state, entry.reference) == ("unknown", committed)


async def test_a_rerun_recovers_starts_in_doubt_through_a_shared_hub(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    redis_url: str,
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    """What a kill -9 leaves: two jobs ``starting`` in the journal. One start reached the server
    (its callback came to a receiver sharing the Redis hub meanwhile), one never left. The
    rerun, on another client with only the hub, re-attaches to the first by its reference and
    reports only the second unknown; nothing is sent again."""
    emu = await emulator_factory(generation_time=GEN_TIME)
    # The service's receiver: it outlives the crashed batch and records reference -> task id.
    receiver = await client_factory(
        emu.base_url,
        emu.api_key,
        webhook_secret=SECRET,
        hub=RedisHub(redis_url, namespace=redis_namespace),
    )
    url = await receiver.webhooks.serve()
    # The batch process before its crash: its start went out with a reference in webhook_url.
    crashed = await client_factory(
        emu.base_url,
        emu.api_key,
        webhook_secret=SECRET,
        hub=RedisHub(redis_url, namespace=redis_namespace),
    )
    crashed.webhooks.use(url)
    sent_job, unsent_job = job(0), job(1)
    references: list[str] = []
    token = reference_sink.set(references)
    try:
        started = await crashed.sonic.create(**sent_job.params)  # type: ignore[arg-type]
    finally:
        reference_sink.reset(token)
    (sent_ref,) = references
    unsent_ref = new_reference()
    journal_path = tmp_path / "crash.db"
    async with Journal(journal_path) as journal:
        await journal.plan(
            (j.key, j.operation, fingerprint(j.operation, j.params), j.params)
            for j in (sent_job, unsent_job)
        )
        await journal.mark_starting(sent_job.key, sent_ref)
        await journal.mark_starting(unsent_job.key, unsent_ref)
    await crashed.aclose()  # the crash: nobody waits for the task any more
    for _ in range(200):  # the callback reaches the receiver, which links the reference
        if receiver.webhooks.stats.linked:
            break
        await asyncio.sleep(0.02)
    assert receiver.webhooks.stats.linked == 1

    # The rerun: no receiver of its own, the shared hub only. A short wait bounds how long the
    # start that never left is waited for.
    quick = PollPolicy(initial_interval=0.05, max_interval=0.2, timeout=2.0)
    rerun = await client_factory(
        emu.base_url,
        emu.api_key,
        poll=quick,
        hub=RedisHub(redis_url, namespace=redis_namespace),
    )
    creates = emu.stats.creates
    async with rerun.batch([sent_job, unsent_job], journal=journal_path) as run:
        outcomes: dict[str, JobOutcome] = {o.job.key: o async for o in run}

    recovered, unknown = outcomes[sent_job.key], outcomes[unsent_job.key]
    assert (recovered.status, recovered.origin) == ("finished", "recovered")
    assert recovered.task_id == started.id
    assert recovered.result is not None
    assert [c.clip_id for c in recovered.result.clips] == [
        c.clip_id for c in emu.tasks[started.id].clips
    ]
    assert unknown.status == "unknown"
    assert isinstance(unknown.error, SubmissionUnknownError)
    assert unknown.error.reference == unsent_ref
    assert run.progress.recovered == 1
    assert run.progress.started == 0  # this run sent no start
    assert emu.stats.creates == creates == 1
    assert emu.stats.polls == 0  # the result came from the hub
    async with Journal(journal_path) as journal:
        entries = await journal.entries()
    assert (entries[sent_job.key].state, entries[sent_job.key].task_id) == ("finished", started.id)
    # Still in doubt, reference kept: a later rerun looks again (the hub keeps links a day).
    assert (entries[unsent_job.key].state, entries[unsent_job.key].reference) == (
        "starting",
        unsent_ref,
    )


def _version_2_journal(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            """CREATE TABLE jobs (
            key TEXT PRIMARY KEY, operation TEXT NOT NULL, fingerprint TEXT NOT NULL,
            params TEXT NOT NULL, state TEXT NOT NULL, family TEXT, task_id TEXT, result TEXT,
            error TEXT, files TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL)"""
        )
        conn.execute(
            "INSERT INTO jobs (key, operation, fingerprint, params, state, attempts, updated_at) "
            "VALUES ('a', 'sonic.create', 'fp', '{}', 'starting', 1, 0)"
        )
        conn.execute("PRAGMA application_id = 1095322954")
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
    finally:
        conn.close()


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()


async def test_a_journal_of_the_previous_format_gains_the_reference_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    await asyncio.to_thread(_version_2_journal, path)
    async with Journal(path) as journal:
        before = await journal.get("a")
        await journal.mark_starting("a", "r" * 22)
        after = await journal.get("a")
    # A start of the earlier format carries no reference: it stays in doubt as before.
    assert before is not None
    assert (before.state, before.reference, before.sent_at) == ("starting", None, None)
    assert after is not None
    assert after.reference == "r" * 22
    assert after.sent_at is not None
    assert await asyncio.to_thread(_user_version, path) == 3
