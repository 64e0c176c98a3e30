"""Leak and loop hygiene: after exhausted retries and cancellation mid-poll, mid-request,
mid-download and mid-batch, no connection stays checked out of the pool, no asyncio task of the
SDK is left running, no temporary file is left behind; all under a blocking-call detector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    APIConnectionError,
    Journal,
    PollPolicy,
    ServerError,
    SubmissionUnknownError,
)
from aimusic_async._client import runtime_of
from aimusic_async.batch import Job

from .conftest import busy_connections, settle

pytestmark = pytest.mark.usefixtures("no_blocking", "quick_backoff")

ServeApp = Callable[[web.Application], Awaitable[str]]
EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
POLL = PollPolicy(initial_interval=0.05, max_interval=0.1, multiplier=1.5, timeout=30.0)
CREATE = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "leak check"}


async def assert_clean(client: AIMusicClient, before: set[asyncio.Task[Any]]) -> None:
    alive = await settle(before)
    assert alive == set(), f"SDK tasks left running: {alive}"
    assert busy_connections(client) == 0


async def test_exhausted_retries_leave_nothing_behind(
    serve_app: ServeApp, client_factory: ClientFactory
) -> None:
    hits = {"poll": 0, "create": 0}

    async def poll(request: web.Request) -> web.Response:
        hits["poll"] += 1
        return web.json_response({"code": 500, "message": "boom"}, status=503)

    async def create(request: web.Request) -> web.Response:
        hits["create"] += 1
        await request.read()
        return web.json_response({"code": 500, "message": "boom"}, status=500)

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", poll)
    app.router.add_post("/api/v1/sonic/create", create)
    base = await serve_app(app)
    client = await client_factory(base, "sk-leak", max_retries=3, poll=POLL)
    before = asyncio.all_tasks()

    with pytest.raises(ServerError):
        await client.sonic.get("t-1")
    assert hits["poll"] == 4  # the first try and three retries
    with pytest.raises(SubmissionUnknownError):
        await client.sonic.create(**CREATE)
    assert hits["create"] == 1  # a start is never re-sent after a 5xx
    await assert_clean(client, before)

    # Nothing listens here: connection errors are retried, then raised; nothing stays open.
    dead = await client_factory("http://127.0.0.1:9", "sk-leak", max_retries=2)
    with pytest.raises(APIConnectionError):
        await dead.sonic.get("t-1")
    await assert_clean(dead, before)


async def test_cancel_mid_poll_stops_polling_and_frees_everything(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=(20.0, 20.0))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    task = await client.sonic.create(**CREATE)
    before = asyncio.all_tasks()
    waiter = asyncio.ensure_future(task.wait())
    while task.polls < 3:  # noqa: ASYNC110 (the SDK offers no event for "polled")
        await asyncio.sleep(0.02)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await assert_clean(client, before)
    polls = emu.stats.polls
    await asyncio.sleep(0.4)  # several poll intervals
    assert emu.stats.polls == polls, "polling went on after the waiter was cancelled"


async def test_cancelling_one_waiter_leaves_the_other_waiting(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=(0.6, 0.6))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    task = await client.sonic.create(**CREATE)
    before = asyncio.all_tasks()
    first = asyncio.ensure_future(task.wait())  # drives the polling
    await asyncio.sleep(0.15)
    second = asyncio.ensure_future(task.wait())  # rides on the first one's polls
    await asyncio.sleep(0.1)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    result = await asyncio.wait_for(second, 10)
    assert [c.clip_id for c in result.clips] == [c.clip_id for c in emu.tasks[task.id].clips]
    await assert_clean(client, before)


async def test_cancel_during_an_in_flight_request(
    serve_app: ServeApp, client_factory: ClientFactory
) -> None:
    entered = asyncio.Event()

    async def slow_poll(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(5)
        return web.json_response({"code": 200, "data": []})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", slow_poll)
    base = await serve_app(app)
    client = await client_factory(base, "sk-leak", poll=POLL)
    before = asyncio.all_tasks()
    call = asyncio.ensure_future(client.sonic.get("t-1"))
    await asyncio.wait_for(entered.wait(), 5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await assert_clean(client, before)


async def test_cancel_mid_download_removes_the_partial_file(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    streaming = asyncio.Event()

    async def slow_file(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(64 * 1024 * 40)})
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"\0" * 64 * 1024)
            streaming.set()
            await asyncio.sleep(0.05)
        return resp

    app = web.Application()
    app.router.add_get("/files/{name}", slow_file)
    base = await serve_app(app)
    client = await client_factory(base, "sk-leak")
    dest = tmp_path / "out"
    before = asyncio.all_tasks()
    job = asyncio.ensure_future(client.download(f"{base}/files/song.mp3", str(dest) + "/"))
    await asyncio.wait_for(streaming.wait(), 5)
    await asyncio.sleep(0.2)  # well into the body, past the first in-memory batch
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    await assert_clean(client, before)
    left = await asyncio.to_thread(lambda: [p.name for p in dest.iterdir()])
    assert left == [], "a partial file was left behind"


async def test_cancel_mid_batch_with_journal_and_downloads(
    emulator_factory: EmuFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(generation_time=(0.2, 0.8))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    jobs = [
        Job(
            key=f"b{i}",
            operation="sonic.create",
            params={**CREATE, "gpt_description_prompt": f"b{i}"},
        )
        for i in range(40)
    ]
    out = tmp_path / "out"
    before = asyncio.all_tasks()
    seen: list[str] = []

    async def consume() -> None:
        async for outcome in client.batch(
            jobs, concurrency=8, journal=tmp_path / "j.db", download_dir=out
        ):
            seen.append(outcome.job.key)

    consumer = asyncio.ensure_future(consume())
    while not seen:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await assert_clean(client, before)
    creates = emu.stats.creates
    await asyncio.sleep(0.3)
    assert emu.stats.creates == creates, "jobs kept starting after the batch was cancelled"
    assert creates < len(jobs)
    names = await asyncio.to_thread(lambda: [p.name for p in out.iterdir()])
    assert not [n for n in names if n.endswith(".part")]
    async with Journal(tmp_path / "j.db") as journal:  # released: it opens again at once
        assert len(await journal.entries()) == len(jobs)


async def test_closing_the_client_closes_the_pool(
    emulator: Any, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key, poll=POLL)
    await (await client.sonic.create(**CREATE))
    session = runtime_of(client).transport.session
    assert session.connector is not None
    await client.aclose()
    assert session.closed
    assert session.connector is None or session.connector.closed


async def test_breaking_out_of_a_batch_without_aclose_stops_it(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """The plain ``async for ... break`` (no ``async with``, no ``aclose``) must not leave the
    batch starting paid jobs in the background."""
    emu = await emulator_factory(generation_time=(0.2, 0.4))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    jobs = [
        Job(key=k, operation="sonic.create", params={**CREATE, "gpt_description_prompt": k})
        for k in (f"k{i}" for i in range(40))
    ]  # fmt: skip
    before = asyncio.all_tasks()

    async def first_only() -> str:
        async for outcome in client.batch(jobs, concurrency=4):
            return outcome.job.key
        raise AssertionError("no outcome")

    await first_only()
    await assert_clean(client, before)
    creates = emu.stats.creates
    assert creates <= 4 + 4  # the first wave, plus starts already in flight at the break
    await asyncio.sleep(0.6)
    assert emu.stats.creates == creates, "the dropped batch kept starting jobs"
