"""How a waiting ``Task`` is held while it sleeps (what thousands of waiting tasks cost), and
that its sleep leaves nothing behind on the client's shared futures."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import AIMusicClient, PollPolicy, _clock
from aimusic_async._client import runtime_of
from aimusic_async.families import SonicFamily

from ._scripted import Script

Serve = Callable[[web.Application], Awaitable[str]]
TID = "51bc6dd0-508a-414d-9ef3-71f7bad81cf7"
HOUR = PollPolicy(initial_interval=3600, max_interval=3600, multiplier=1.0, timeout=7200)


@pytest.fixture
async def hour_client(serve_app: Serve) -> AsyncIterator[AIMusicClient]:
    script = Script([(202, None)])
    base = await serve_app(script.app())
    client = AIMusicClient(api_key="sk-test", base_url=base, poll=HOUR, max_retries=0)
    client.register_family(SonicFamily())
    async with client:
        yield client


def _await_chain(waiter: asyncio.Task[Any]) -> tuple[list[str], Any]:
    """The coroutines a task is suspended in, outermost first, and what the innermost awaits."""
    names: list[str] = []
    awaited: Any = waiter.get_coro()
    while isinstance(awaited, types.CoroutineType):
        names.append(awaited.cr_code.co_qualname)
        awaited = awaited.cr_await
    return names, awaited


async def test_a_sleeping_task_is_one_frame_on_one_future(hour_client: AIMusicClient) -> None:
    task = hour_client.task(TID)
    waiter = asyncio.ensure_future(task.wait())
    for _ in range(5):
        await asyncio.sleep(0)
    names, awaited = _await_chain(waiter)
    # One coroutine (the caller's ``wait``) suspended on one future: no chain of helper
    # coroutines each holding a frame for the hour the task sleeps.
    assert names == ["Task.wait"]
    assert not isinstance(awaited, types.CoroutineType)
    assert isinstance(waiter._fut_waiter, asyncio.Future)  # type: ignore[attr-defined]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_cancelled_sleep_leaves_no_callback_on_the_closing_signal(
    hour_client: AIMusicClient,
) -> None:
    closing = runtime_of(hour_client).transport.closing_signal()
    waiters = [
        asyncio.ensure_future(hour_client.task(f"{TID[:-2]}{i:02d}").wait()) for i in range(20)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(closing._callbacks or []) == 20  # type: ignore[attr-defined]
    for w in waiters:
        w.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert not closing._callbacks  # type: ignore[attr-defined]


async def test_clock_sleep_ends_on_wake_and_on_time() -> None:
    loop = asyncio.get_running_loop()
    wake: asyncio.Future[None] = loop.create_future()
    sleeping = asyncio.ensure_future(_clock.sleep(3600, wake=wake))
    await asyncio.sleep(0)
    assert not sleeping.done()
    wake.set_result(None)
    await asyncio.wait_for(sleeping, 5)
    assert not wake._callbacks  # type: ignore[attr-defined]
    other: asyncio.Future[None] = loop.create_future()
    await asyncio.wait_for(_clock.sleep(0.01, wake=other), 5)
    assert not other._callbacks  # type: ignore[attr-defined]
    # A wake already done returns at once, without a timer.
    await asyncio.wait_for(_clock.sleep(3600, wake=wake), 5)


async def test_a_slow_answer_does_not_teach_a_longer_duration(
    serve_app: Serve, fake_clock: Any
) -> None:
    """Tasks found done at their first poll finished before that poll was sent: the time the
    answer then takes to arrive and be handled (a slow network, a busy event loop) says nothing
    about the task, and must not stretch the schedule of the tasks after it."""

    async def handler(request: web.Request) -> web.Response:
        fake_clock.advance(5.0)  # the answer arrives (or is handled) 5 s after the poll left
        return web.json_response(
            {"code": 200, "data": [{"clip_id": "c1", "state": "succeeded", "audio_url": "u"}]}
        )

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", handler)
    base = await serve_app(app)
    policy = PollPolicy(initial_interval=2.0, max_interval=20.0, multiplier=1.6, timeout=600.0)
    async with AIMusicClient(api_key="k", base_url=base, poll=policy) as client:
        client.register_family(SonicFamily())
        for i in range(10):
            task = runtime_of(client).task(
                f"s{i}", SonicFamily(), operation="sonic.create", fresh=True
            )
            await task
            assert task.polls == 1
    learned = runtime_of(client).estimates.get("sonic.create")
    assert learned is not None
    # At most the midpoint of start .. first poll sent (2 s, jittered): not the 5 s answer time.
    assert learned <= 0.6 * policy.initial_interval
