"""The batch runner against the emulator: throughput, downloads, journal resume, faults."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx
from pydantic import ValidationError

from aimusic_async import (
    AIMusicClient,
    ClientClosedError,
    DownloadError,
    Journal,
    JournalConflictError,
    SubmissionUnknownError,
    TaskFailedError,
)
from aimusic_async.batch import BatchProgress, Job, JobOutcome, run_batch

EmulatorFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
TINY = (0.02, 0.08)


def song(key: str, **extra: Any) -> Job:
    """A sonic create job whose title is its key, so emulator tasks map back to jobs."""
    params: dict[str, Any] = {
        "mv": "sonic-v5",
        "custom_mode": True,
        "prompt": f"[Verse]\nsong {key}",
        "title": key,
        "tags": "pop",
    }
    params.update(extra)
    return Job(key=key, operation="sonic.create", params=params)


def creates_by_key(emu: Any) -> collections.Counter[str]:
    return collections.Counter(str(t.body.get("title")) for t in emu.tasks.values())


def new_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since ``before``, minus the emulator's keep-alive request handlers."""
    return {
        t
        for t in asyncio.all_tasks() - before
        if "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")
    }


def _journal_bytes(path: Path) -> bytes:
    """The journal and its side files (WAL), as they are on disk."""
    return b"".join(f.read_bytes() for f in path.parent.glob(path.name + "*"))


async def collect(run: Any) -> dict[str, JobOutcome]:
    out: dict[str, JobOutcome] = {}
    async for outcome in run:
        assert outcome.job.key not in out, "one outcome per job"
        out[outcome.job.key] = outcome
    return out


async def test_500_jobs_finish_and_download_byte_exact(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=TINY)
    client = await client_factory(emu.base_url, emu.api_key)
    jobs = [song(f"s{i:03d}") for i in range(500)]
    peak = 0

    def hook(p: BatchProgress) -> None:
        nonlocal peak
        peak = max(peak, p.starting + p.running)
        assert p.done + p.starting + p.running + p.queued <= p.total

    out_dir = tmp_path / "out"
    run = run_batch(
        client,
        jobs,
        concurrency=50,
        journal=tmp_path / "j.db",
        download_dir=out_dir,
        progress=hook,
    )
    async with run:
        outcomes = await collect(run)

    assert len(outcomes) == 500
    assert {o.status for o in outcomes.values()} == {"finished"}
    assert 1 < peak <= 50
    assert run.progress.finished == 500
    assert run.progress.started == 500
    assert run.progress.eta == 0.0
    assert creates_by_key(emu) == collections.Counter(j.key for j in jobs)
    n_files = 0
    for o in outcomes.values():
        assert o.result is not None
        assert o.task_id == o.result.task_id
        assert len(o.files) == len(o.result.succeeded) > 0
        for clip, path in zip(o.result.succeeded, o.files, strict=False):
            assert path.parent == out_dir.resolve()
            assert clip.clip_id in path.name
            assert path.read_bytes() == emu.audio_bytes(clip.clip_id)
            n_files += 1
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        p.name for o in outcomes.values() for p in o.files
    )
    assert emu.stats.cdn_requests == n_files
    assert emu.stats.cdn_requests_with_auth == 0
    summary = outcomes["s007"].summary()
    assert summary["status"] == "finished"
    assert summary["files"]
    assert summary["error"] is None


async def test_bad_jobs_fail_without_a_request(
    emulator: Any, client: AIMusicClient, tmp_path: Path
) -> None:
    jobs = [
        Job(
            key="no-prompt",
            operation="sonic.create",
            params={"mv": "sonic-v5", "custom_mode": True},
        ),
        Job(key="typo", operation="sonic.create", params={"mvv": "sonic-v5"}),
        Job(
            key="weight",
            operation="sonic.create",
            params={
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "x",
                "style_weight": 7,
            },
        ),
        Job(key="no-such-op", operation="sonic.make_hit", params={}),
        Job(key="no-family", operation="spotify.create", params={}),
        Job(key="not-a-start", operation="sonic.bpm", params={"clip_id": "x"}),
        Job(key="private", operation="sonic._start", params={}),
    ]
    before = emulator.stats.requests
    async with run_batch(client, jobs, journal=tmp_path / "j.db") as run:
        outcomes = await collect(run)
    assert emulator.stats.requests == before  # not one request
    assert {o.status for o in outcomes.values()} == {"failed"}
    assert isinstance(outcomes["no-prompt"].error, ValidationError)
    assert isinstance(outcomes["weight"].error, ValidationError)
    assert "style_weight" in str(outcomes["weight"].error)
    assert isinstance(outcomes["typo"].error, (TypeError, ValidationError))
    for key in ("no-such-op", "no-family", "not-a-start", "private"):
        assert isinstance(outcomes[key].error, ValueError), key
    async with Journal(tmp_path / "j.db") as journal:
        entries = await journal.entries()
    assert {e.state for e in entries.values()} == {"failed"}


def test_duplicate_keys_and_job_shape() -> None:
    client: Any = object()
    with pytest.raises(ValueError, match="duplicate job key 'a'"):
        run_batch(client, [song("a"), song("b"), song("a")])
    with pytest.raises(ValidationError):
        Job(key="", operation="sonic.create")
    with pytest.raises(ValidationError):
        Job.model_validate({"key": "x", "operation": "sonic.create", "params": {}, "extra": 1})
    # Mappings (a parsed JSON line) are accepted as jobs.
    with pytest.raises(ValueError, match="concurrency"):
        run_batch(client, [{"key": "x", "operation": "sonic.create"}], concurrency=0)


def test_a_bad_job_error_does_not_quote_its_webhook_secret() -> None:
    secret = "whsec-job-canary-0b7d"
    with pytest.raises(ValidationError) as caught:  # no key: the error is about the whole job
        Job.model_validate({"operation": "sonic.create", "params": {"webhook_secret": secret}})
    assert "key" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    # errors() keeps no copy of the job either (a missing field's input is the whole job).
    assert secret not in repr(caught.value.errors())


def test_a_bad_job_error_reads_like_a_request_error() -> None:
    """The first line names the model, the field and the rule, as a request model's does."""
    with pytest.raises(ValidationError) as caught:
        Job(key="", operation="Sonic Create")
    first = str(caught.value).splitlines()[0]
    assert first == (
        "2 validation errors for Job: key: String should have at least 1 character (and 1 more)"
    )
    with pytest.raises(ValidationError) as caught:
        Job.model_validate({"key": "x", "operation": "sonic.create", "extra": 1})
    assert str(caught.value).splitlines()[0] == (
        "1 validation error for Job: extra: Extra inputs are not permitted"
    )


async def test_lost_responses_are_unknown_and_never_resent(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=TINY, lost_response_rate=0.3, seed=7)
    client = await client_factory(emu.base_url, emu.api_key, timeout=2.0)
    jobs = [song(f"l{i:02d}") for i in range(40)]
    journal = tmp_path / "j.db"
    async with run_batch(client, jobs, concurrency=10, journal=journal) as run:
        first = await collect(run)
    unknown = {k for k, o in first.items() if o.status == "unknown"}
    finished = {k for k, o in first.items() if o.status == "finished"}
    assert unknown, "the fault rate should have produced unknown outcomes"
    assert unknown | finished == set(first)
    for key in unknown:
        assert isinstance(first[key].error, SubmissionUnknownError)
    creates = creates_by_key(emu)
    assert max(creates.values()) == 1
    # lost_response: the emulator DID create these tasks; the client cannot know their ids.
    assert emu.stats.creates == len(finished) + sum(1 for k in unknown if creates[k])

    # Rerun: finished come from the journal, unknown are reported again, nothing is sent.
    creates_before, requests_before = emu.stats.creates, emu.stats.requests
    async with run_batch(client, jobs, concurrency=10, journal=journal) as run:
        second = await collect(run)
    assert emu.stats.creates == creates_before
    assert emu.stats.requests == requests_before
    assert {k for k, o in second.items() if o.status == "unknown"} == unknown
    for key in finished:
        assert second[key].origin == "journal"
        assert second[key].task_id == first[key].task_id
        assert second[key].result == first[key].result
    assert run.progress.resumed == len(finished)


async def test_resubmit_unknown_sends_them_again(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=TINY, lost_response_rate=0.5, seed=3)
    client = await client_factory(emu.base_url, emu.api_key, timeout=2.0)
    jobs = [song(f"r{i:02d}") for i in range(12)]
    journal = tmp_path / "j.db"
    async with run_batch(client, jobs, journal=journal) as run:
        first = await collect(run)
    unknown = {k for k, o in first.items() if o.status == "unknown"}
    assert unknown
    before = creates_by_key(emu)
    async with run_batch(client, jobs, journal=journal, resubmit_unknown=True) as run:
        second = await collect(run)
    after = creates_by_key(emu)
    # Only the unknown jobs were sent again (at most once more each); finished ones were not.
    for key, o in first.items():
        if o.status == "finished":
            assert after[key] == before[key] == 1
        else:
            assert after[key] - before[key] in (0, 1)
            assert after[key] - before[key] == (second[key].status != "failed")


async def test_resume_reattaches_started_tasks_and_reemits_finished(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=(0.3, 0.6))
    client = await client_factory(emu.base_url, emu.api_key)
    jobs = [song(f"k{i:02d}") for i in range(30)]
    journal = tmp_path / "j.db"
    async with run_batch(client, jobs, concurrency=30, journal=journal) as run:
        async for outcome in run:
            first = outcome
            break  # stop after the first result: the others are started, not finished
    assert first.status == "finished"
    assert emu.stats.creates == 30
    async with Journal(journal) as j:
        states = collections.Counter(e.state for e in (await j.entries()).values())
    # The first result, and any that landed while the batch was being stopped, are finished;
    # the rest were started and are still running on the server.
    assert states["finished"] >= 1
    assert states["started"] >= 1
    assert states["finished"] + states["started"] == 30

    async with run_batch(client, jobs, concurrency=30, journal=journal) as run:
        outcomes = await collect(run)
    assert emu.stats.creates == 30  # nothing started twice
    assert {o.status for o in outcomes.values()} == {"finished"}
    assert outcomes[first.job.key].origin == "journal"
    assert outcomes[first.job.key].task_id == first.task_id
    origins = collections.Counter(o.origin for o in outcomes.values())
    assert origins == {"journal": states["finished"], "reattached": states["started"]}
    ids = {t.body["title"]: tid for tid, t in emu.tasks.items()}
    assert all(o.task_id == ids[k] for k, o in outcomes.items())


async def test_changed_params_for_a_key_is_a_clear_error(
    emulator: Any, client: AIMusicClient, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    async with run_batch(client, [song("a"), song("b")], journal=journal) as run:
        await collect(run)
    changed = [song("a", tags="jazz"), song("b")]
    async with run_batch(client, changed, journal=journal) as run:
        outcomes = await collect(run)
    assert outcomes["a"].status == "failed"
    assert isinstance(outcomes["a"].error, JournalConflictError)
    assert "different operation or params" in str(outcomes["a"].error)
    assert outcomes["b"].status == "finished"
    assert emulator.stats.creates == 2


async def test_failed_tasks_fail_their_job_only_and_rerun(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=TINY, clip_failure_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key)
    journal = tmp_path / "j.db"
    async with run_batch(client, [song("x"), song("y")], journal=journal) as run:
        outcomes = await collect(run)
    assert all(isinstance(o.error, TaskFailedError) for o in outcomes.values())
    assert all(o.task_id for o in outcomes.values())
    async with run_batch(client, [song("x")], journal=journal) as run:
        again = await collect(run)
    # A definite failure paid for nothing usable: a rerun tries again.
    assert again["x"].origin == "run"
    assert emu.stats.creates == 3


async def test_failing_downloads_leave_no_partial_files(
    emulator_factory: EmulatorFactory,
    client_factory: ClientFactory,
    tmp_path: Path,
    fake_clock: Any,
) -> None:
    emu = await emulator_factory(generation_time=(0.0, 0.0), cdn_truncate_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key)
    out = tmp_path / "out"
    journal = tmp_path / "j.db"
    async with run_batch(
        client, [song("d1"), song("d2")], journal=journal, download_dir=out
    ) as run:
        outcomes = await collect(run)
    for o in outcomes.values():
        assert o.status == "failed"
        assert isinstance(o.error, DownloadError)
        assert o.result is not None  # the paid result is kept
        assert o.files == []
    assert list(out.iterdir()) == []
    assert emu.stats.cdn_requests_with_auth == 0
    async with Journal(journal) as j:
        entries = await j.entries()
    # The task result is safe in the journal; a rerun only retries the download.
    assert {e.state for e in entries.values()} == {"finished"}


async def test_breaking_out_cancels_everything(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=(0.5, 1.0))
    client = await client_factory(emu.base_url, emu.api_key)
    tasks_before = asyncio.all_tasks()
    run = run_batch(
        client, [song(f"c{i}") for i in range(20)], concurrency=5, journal=tmp_path / "j.db"
    )
    async with run:
        async for _ in run:
            break
    assert new_tasks(tasks_before) == set()
    # The journal was closed (its exclusive lock released): it opens again at once.
    async with Journal(tmp_path / "j.db") as j:
        entries = await j.entries()
    assert len(entries) == 20
    creates = emu.stats.creates
    await asyncio.sleep(0.2)
    assert emu.stats.creates == creates  # nothing keeps starting in the background
    with pytest.raises(StopAsyncIteration):
        await run.__anext__()


async def test_cancelling_the_consumer_stops_the_batch(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=(1.0, 2.0))
    client = await client_factory(emu.base_url, emu.api_key)
    tasks_before = asyncio.all_tasks()

    async def consume() -> None:
        async with run_batch(client, [song(f"z{i}") for i in range(10)]) as run:
            async for _ in run:
                pass

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.2)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert new_tasks(tasks_before) == set()
    assert emu.stats.creates <= 10


async def test_rerun_downloads_missing_files_again_without_a_request(
    emulator: Any, client: AIMusicClient, tmp_path: Path
) -> None:
    out, journal = tmp_path / "out", tmp_path / "j.db"
    # blockbuster: no SQLite or file system call may run on the event loop thread.
    with blockbuster_ctx():
        async with run_batch(
            client, [song("m1"), song("m2")], journal=journal, download_dir=out
        ) as run:
            first = await collect(run)
    gone = first["m1"].files[0]
    gone.unlink()
    requests, cdn = emulator.stats.requests, emulator.stats.cdn_requests
    async with run_batch(
        client, [song("m1"), song("m2")], journal=journal, download_dir=out
    ) as run:
        second = await collect(run)
    assert emulator.stats.requests == requests  # no API request: results come from the journal
    # m1's clips are fetched again (both: the job's files are re-made together); m2's are kept.
    assert emulator.stats.cdn_requests == cdn + len(first["m1"].files)
    assert second["m1"].origin == "journal"
    assert second["m1"].files == first["m1"].files
    assert gone.read_bytes() == emulator.audio_bytes(first["m1"].result.succeeded[0].clip_id)  # type: ignore[union-attr]


async def test_rate_limited_starts_all_go_through_once(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=TINY, create_rate_limit=80.0)
    client = await client_factory(emu.base_url, emu.api_key)
    jobs = [song(f"q{i:02d}") for i in range(60)]
    async with run_batch(client, jobs, concurrency=30) as run:
        outcomes = await collect(run)
    assert {o.status for o in outcomes.values()} == {"finished"}
    assert emu.stats.rate_limited > 0  # the server did push back...
    assert creates_by_key(emu) == collections.Counter(j.key for j in jobs)  # ...and no doubles


async def test_starts_are_journaled_right_before_sending_in_a_narrow_window(
    serve_app: Callable[..., Awaitable[str]], client_factory: ClientFactory, tmp_path: Path
) -> None:
    # What a crash can leave "unknown" is the set of start requests in flight: the journal must
    # say "starting" for each request the server sees, and only START_WINDOW may be in flight.
    from aiohttp import web

    from aimusic_async.batch import START_WINDOW

    journal = Journal(tmp_path / "window.db")
    seen_states: list[str | None] = []
    in_flight = peak = 0

    async def create(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        body = await request.json()
        entry = await journal.get(body["title"])
        seen_states.append(None if entry is None else entry.state)
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return web.json_response({"message": "success", "task_id": f"t-{body['title']}"})

    async def poll(request: web.Request) -> web.Response:
        clip = {"clip_id": f"{request.match_info['tid']}-a", "state": "succeeded"}
        return web.json_response({"code": 200, "message": "success", "data": [clip]})

    app = web.Application()
    app.router.add_post("/api/v1/sonic/create", create)
    app.router.add_get("/api/v1/sonic/task/{tid}", poll)
    client = await client_factory(await serve_app(app), "key")
    jobs = [song(f"w{i}") for i in range(24)]
    out = await collect(run_batch(client, jobs, concurrency=24, journal=journal))
    assert {o.status for o in out.values()} == {"finished"}
    assert seen_states == ["starting"] * len(jobs)
    assert 2 <= peak <= START_WINDOW


async def test_resubmitting_sends_the_webhook_secret_the_journal_does_not_keep(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    # Every answer lost: the tasks exist on the server, the batch only knows "unknown".
    emu = await emulator_factory(generation_time=(30.0, 30.0), lost_response_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key, timeout=2.0)
    secret = "whsec-batch-canary-3f9e"
    hook = {"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": secret}
    jobs = [song("w1", **hook)]
    journal = tmp_path / "j.db"
    for resubmit in (False, True):
        async with run_batch(client, jobs, journal=journal, resubmit_unknown=resubmit) as run:
            (outcome,) = (await collect(run)).values()
        assert outcome.status == "unknown"
    # The resubmitted request carried the secret, taken from the job, not from the journal.
    assert [t.body["webhook_secret"] for t in emu.tasks.values()] == [secret, secret]
    on_disk = _journal_bytes(journal)
    assert b"w1" in on_disk
    assert secret.encode() not in on_disk


async def test_a_closed_client_sends_nothing_and_leaves_no_job_in_doubt(
    emulator: Any, client_factory: ClientFactory, tmp_path: Path
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    await client.aclose()
    journal = tmp_path / "j.db"
    async with run_batch(client, [song("c1"), song("c2")], journal=journal) as run:
        outcomes = await collect(run)
    assert emulator.stats.requests == 0
    for outcome in outcomes.values():
        assert outcome.status == "failed"
        assert isinstance(outcome.error, ClientClosedError)
    async with Journal(journal) as j:
        entries = await j.entries()
    # Never sent, so not "unknown": a rerun on an open client sends them.
    assert {e.state for e in entries.values()} == {"failed"}
