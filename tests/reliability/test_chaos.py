"""Chaos: a few hundred jobs (sonic and producer) through ``client.batch`` with every emulator
fault on at once.

The promise under test: each job ends in exactly one correct terminal state, no result the
emulator produced for a started task is lost, nothing is paid twice, and nothing leaks.
"""

from __future__ import annotations

import asyncio
import collections
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aimusic_async import (
    AIMusicClient,
    APIConnectionError,
    DownloadError,
    PollPolicy,
    RateLimitError,
    SubmissionUnknownError,
    TaskFailedError,
)
from aimusic_async.batch import Job, JobOutcome

from .conftest import busy_connections, settle

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]

N_JOBS = 300
N_INVALID = 6
CHAOS = {
    "seed": 2026,
    "generation_time": (0.05, 0.3),
    "clip_failure_rate": 0.25,
    "create_rate_limit": 100.0,
    "create_rate_burst": 2.0,
    "latency": 0.002,
    "server_error_rate": 0.04,
    "disconnect_rate": 0.04,
    "lost_response_rate": 0.05,
    "webhook_loss_rate": 0.3,
    "webhook_duplicate_rate": 0.3,
    "cdn_error_rate": 0.05,
    "cdn_truncate_rate": 0.03,
}
POLL = PollPolicy(initial_interval=0.05, max_interval=0.25, multiplier=1.5, timeout=30.0)


def job(i: int) -> Job:
    """Every job carries its key as a marker the emulator records (title or description)."""
    key = f"chaos-{i:03d}"
    if i % 5 == 4:  # another family, with its own poll and callback shapes
        return Job(
            key=key, operation="producer.create", params={"sound": "warm lo-fi", "title": key}
        )
    if i % 3 == 0:
        params: dict[str, Any] = {
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": key,
        }
    else:
        params = {
            "mv": "sonic-v4-5",
            "custom_mode": True,
            "prompt": f"[Verse]\nline for {key}",
            "title": key,
            "tags": "synthwave",
        }
    return Job(key=key, operation="sonic.create", params=params)


def invalid_job(i: int) -> Job:
    # custom_mode=True without a prompt: refused by the request model, before any request.
    return Job(
        key=f"invalid-{i}",
        operation="sonic.create",
        params={"mv": "sonic-v5", "custom_mode": True, "title": f"invalid-{i}"},
    )


def marker(record: Any) -> str:
    return str(record.body.get("title") or record.body.get("gpt_description_prompt"))


@pytest.mark.slow
@pytest.mark.usefixtures("quick_backoff", "no_blocking")
async def test_chaos_batch_every_fault_at_once(
    emulator_factory: EmuFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(**CHAOS)
    client = await client_factory(emu.base_url, emu.api_key, max_retries=4, poll=POLL)
    await client.webhooks.serve(grace=0.3)
    jobs = [job(i) for i in range(N_JOBS)] + [invalid_job(i) for i in range(N_INVALID)]
    before = asyncio.all_tasks()

    outcomes: dict[str, JobOutcome] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = client.batch(
            jobs, concurrency=60, journal=tmp_path / "chaos.db", download_dir=tmp_path / "out"
        )
        async for outcome in run:
            assert outcome.job.key not in outcomes, "one outcome per job"
            outcomes[outcome.job.key] = outcome
    assert [str(w.message) for w in caught] == []
    assert set(outcomes) == {j.key for j in jobs}

    by_marker = collections.defaultdict(list)
    for record in emu.tasks.values():
        by_marker[marker(record)].append(record)
    # Never paid twice: no job's marker appears on two emulator tasks.
    assert all(len(v) == 1 for v in by_marker.values()), "a job was created twice"

    counts = collections.Counter(o.status for o in outcomes.values())
    created_unknown = 0
    finished_clips = 0
    downloads_failed = 0
    files: list[tuple[Path, bytes]] = []
    for key, o in outcomes.items():
        records = by_marker.get(key, [])
        if key.startswith("invalid-"):
            assert o.status == "failed"
            assert isinstance(o.error, ValidationError)
            assert records == [], "an invalid job reached the server"
            continue
        if o.status == "unknown":
            # The start's fate was unknown to the SDK: it may or may not exist; never re-sent.
            assert isinstance(o.error, SubmissionUnknownError)
            assert o.task_id is None
            created_unknown += len(records)
            continue
        if o.task_id is None:
            # Refused before the server took it (429s past the retries, connection refused).
            assert o.status == "failed"
            assert isinstance(o.error, (RateLimitError, APIConnectionError)), o.error
            assert records == []
            continue
        # A started task: the emulator holds exactly this one, under this job's marker.
        assert [r.task_id for r in records] == [o.task_id]
        record = emu.tasks[o.task_id]
        if record.failed():
            assert o.status == "failed"
            assert isinstance(o.error, TaskFailedError)
            assert o.error.task_id == o.task_id
            continue
        # The emulator produced a result: it reached the user, complete and genuine.
        assert o.result is not None, (key, o.error)
        assert [c.clip_id for c in o.result.clips] == [c.clip_id for c in record.clips]
        for clip, rec in zip(o.result.clips, record.clips, strict=True):
            assert clip.succeeded == (not rec.failed)
        if o.status == "failed":
            # Every attempt of one download hit a CDN fault (8 % each, so a few in ten thousand
            # downloads): the result is kept and the failure says so, typed.
            assert isinstance(o.error, DownloadError), (key, o.error)
            downloads_failed += 1
            continue
        assert o.status == "finished", (key, o.error)
        assert len(o.files) == len(o.result.succeeded)
        for clip, path in zip(o.result.succeeded, o.files, strict=True):
            files.append((path, emu.audio_bytes(clip.clip_id)))
            finished_clips += 1

    # Byte-exact downloads (read in a thread: blockbuster watches the loop).
    mismatched = await asyncio.to_thread(lambda: [p for p, b in files if p.read_bytes() != b])
    assert mismatched == []

    started = run.progress.started  # type: ignore[attr-defined]
    assert started == sum(1 for o in outcomes.values() if o.task_id is not None)
    # The emulator charged exactly the tasks the SDK reports as started, plus the unknown
    # starts that did create a task (lost responses).
    assert emu.stats.creates == started + created_unknown == len(emu.tasks)
    assert emu.stats.credits_charged == sum(r.price for r in emu.tasks.values())
    assert created_unknown <= emu.stats.lost_responses

    # Every fault really happened.
    s = emu.stats
    faults = {
        "server_errors": s.server_errors,
        "disconnects": s.disconnects,
        "lost_responses": s.lost_responses,
        "rate_limited": s.rate_limited,
        "webhooks_lost": s.webhooks_lost,
        "webhooks_duplicated": s.webhooks_duplicated,
        "cdn_errors": s.cdn_errors,
        "cdn_truncated": s.cdn_truncated,
        "failed_tasks": sum(1 for r in emu.tasks.values() if r.failed()),
    }
    assert all(faults.values()), faults
    assert counts["finished"] > N_JOBS // 2, counts
    assert downloads_failed <= 2, downloads_failed
    assert {o.family for o in outcomes.values() if o.status == "finished"} == {"sonic", "producer"}
    assert client.webhooks.stats.duplicates > 0
    assert client.webhooks.stats.delivered > 0
    assert client.webhooks.stats.rejected == 0
    assert emu.stats.cdn_requests_with_auth == 0
    print(
        f"\nchaos: {N_JOBS + N_INVALID} jobs {dict(counts)}; created unknown {created_unknown}; "
        f"clips delivered {finished_clips}; faults {faults}; requests {s.requests}, "
        f"polls {s.polls}, webhooks sent {s.webhooks_sent}"
    )

    # Nothing left behind: no SDK task alive, no connection checked out of the pool.
    assert await settle(before) == set()
    assert busy_connections(client) == 0
    assert client.hub._futures == {}
