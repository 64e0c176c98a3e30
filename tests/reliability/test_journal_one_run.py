"""One journal serves one batch run at a time, whatever the handle.

Two runs that reach the same journal file (one ``Journal`` object shared by both, two objects
on one path, a path given twice, or two processes) must never both plan and start its jobs: the
second waits at most ``JOURNAL_BUSY_TIMEOUT`` and is refused with ``JournalInUseError`` before it
sends anything. The emulator's ``creates`` count is the judge: one paid start per job.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aimusic_async import AIMusicClient, Journal, JournalError, JournalInUseError
from aimusic_async import _constants as C
from aimusic_async.batch import BatchRun, Job, JobOutcome, run_batch

from ._journal_holder import jobs as holder_jobs

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]

N_JOBS = 20
HOLDER = Path(__file__).with_name("_journal_holder.py")
# Tasks that cannot finish while the test looks: the first run is still on the journal when the
# second one arrives, however slow the machine.
FOREVER = (60.0, 60.0)


@pytest.fixture(autouse=True)
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rule is the same with the default; a short wait keeps the refusals quick.
    monkeypatch.setattr(C, "JOURNAL_BUSY_TIMEOUT", 0.2)


def song(key: str) -> Job:
    params: dict[str, Any] = {
        "mv": "sonic-v5",
        "custom_mode": True,
        "prompt": f"[Verse]\nsong {key}",
        "title": key,
        "tags": "pop",
    }
    return Job(key=key, operation="sonic.create", params=params)


JOBS = [song(f"one-{i:02d}") for i in range(N_JOBS)]


def creates_by_key(emu: Any) -> collections.Counter[str]:
    return collections.Counter(str(t.body.get("title")) for t in emu.tasks.values())


async def until(predicate: Callable[[], bool], *, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.01)


async def collect(run: BatchRun) -> dict[str, JobOutcome]:
    out: dict[str, JobOutcome] = {}
    async with run:
        async for outcome in run:
            out[outcome.job.key] = outcome
    return out


async def race(emu: Any, first: BatchRun, second: BatchRun) -> JournalInUseError:
    """Start both runs in the same loop turn; one must be refused, the other starts every job
    exactly once. Returns the refusal."""
    tasks = [asyncio.ensure_future(run.__anext__()) for run in (first, second)]
    done, pending = await asyncio.wait(tasks, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1, "one run must be refused at once, the other keeps running"
    refused = done.pop().exception()
    assert isinstance(refused, JournalInUseError), repr(refused)
    await until(lambda: emu.stats.creates >= N_JOBS)
    await asyncio.sleep(0.1)  # a double start would land now
    for task in pending:
        task.cancel()
    for run in (first, second):
        await run.aclose()
    await asyncio.gather(*pending, return_exceptions=True)
    assert emu.stats.creates == N_JOBS
    assert creates_by_key(emu) == collections.Counter(j.key for j in JOBS)
    return refused


@pytest.mark.parametrize("handles", ["same-object", "two-objects", "object-and-path", "two-paths"])
async def test_two_runs_on_one_journal_start_each_job_once(
    handles: str,
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    tmp_path: Path,
    no_blocking: Any,  # the claim and the refusal touch no file on the event loop
) -> None:
    emu = await emulator_factory(generation_time=FOREVER)
    client = await client_factory(emu.base_url, emu.api_key)
    path = tmp_path / "j.db"
    shared = Journal(path)
    a: Journal | Path
    b: Journal | Path
    a, b = {
        "same-object": (shared, shared),
        "two-objects": (shared, Journal(path)),
        "object-and-path": (shared, path),
        "two-paths": (path, path),
    }[handles]
    first = run_batch(client, JOBS, concurrency=N_JOBS, journal=a)
    second = run_batch(client, JOBS, concurrency=N_JOBS, journal=b)
    refused = await race(emu, first, second)
    assert isinstance(refused, JournalError)
    assert str(path) in str(refused)
    assert "in use" in str(refused)
    for journal in (a, b):
        if isinstance(journal, Journal):
            await journal.aclose()
    # The winner's record is intact: every job started once, each with its own task id.
    async with Journal(path) as journal:
        entries = await journal.entries()
    assert {e.state for e in entries.values()} == {"started"}
    assert len({e.task_id for e in entries.values()}) == N_JOBS


async def test_a_journal_object_serves_runs_one_after_another(
    emulator_factory: EmuFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=(0.1, 0.4))
    client = await client_factory(emu.base_url, emu.api_key)
    async with Journal(tmp_path / "j.db") as journal:
        # Stopped after its first result: the claim is given back on the way out...
        async with run_batch(client, JOBS, concurrency=N_JOBS, journal=journal) as run:
            async for _ in run:
                break
        # ...so the next run on the same object proceeds, and re-attaches instead of paying.
        again = await collect(run_batch(client, JOBS, concurrency=N_JOBS, journal=journal))
        third = await collect(run_batch(client, JOBS, journal=journal))
    assert {o.status for o in again.values()} == {"finished"}
    assert "reattached" in {o.origin for o in again.values()}
    assert {o.origin for o in third.values()} == {"journal"}
    assert emu.stats.creates == N_JOBS


@pytest.mark.skipif(sys.platform == "win32", reason="the child is driven through its stdin")
async def test_a_journal_in_use_by_another_process_is_refused(
    emulator_factory: EmuFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=(0.2, 0.6))
    client = await client_factory(emu.base_url, emu.api_key)
    path = tmp_path / "j.db"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HOLDER),
        emu.base_url,
        str(path),
        str(N_JOBS),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, AIMUSIC_API_KEY=emu.api_key),
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    lines: list[str] = []
    try:
        while "holding" not in lines:
            line = await asyncio.wait_for(holder.stdout.readline(), 30)
            assert line, "the holder exited early"
            lines.append(line.decode().strip())
        # The same jobs, the same file, while the other process runs on it.
        creates = emu.stats.creates
        with pytest.raises(JournalInUseError, match="in use"):
            await collect(run_batch(client, holder_jobs(N_JOBS), journal=path))
        assert emu.stats.creates == creates
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        rest, err = await asyncio.wait_for(holder.communicate(), 30)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    assert holder.returncode == 0, err.decode()[-2000:]
    lines += rest.decode().splitlines()
    outcomes = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(outcomes) == N_JOBS
    assert {o["status"] for o in outcomes} == {"finished"}
    assert emu.stats.creates == N_JOBS
    # Free again once the other process is done: everything comes from the journal.
    requests = emu.stats.requests
    again = await collect(run_batch(client, holder_jobs(N_JOBS), journal=path))
    assert {o.origin for o in again.values()} == {"journal"}
    assert emu.stats.requests == requests
