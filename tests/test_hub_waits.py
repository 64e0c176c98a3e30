"""How waits use the hub (virtual time, a scripted API on a real socket): no wait times out
blind, the grace is a PollPolicy field cut for short waits, a delivered result shows without
awaiting, rebuilt handles consult the hub, ``peek`` never polls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import AIMusicClient, ConfigurationError, PollPolicy, TaskTimeoutError, _clock
from aimusic_async.hubs import MemoryHub

from ._scripted import Script

SECRET = "hub-waits-secret-0123456789"
HOOK = "https://hooks.example/cb"  # nothing listens: a callback only comes when a test hands it in
TID = "7c1f4d2a-0000-4000-8000-000000000001"
Serve = Callable[[web.Application], Awaitable[str]]


@dataclass
class FakeAPI:
    """Starts answer with ``TID``; a poll says "not ready" until ``done_after`` virtual seconds
    after the start (None: never), then "succeeded". Records the virtual time of each poll."""

    clock: Any
    done_after: float | None = 2.0
    started_at: float | None = None
    polls: list[float] = field(default_factory=list)
    starts: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/sonic/create", self.create)
        app.router.add_get("/api/v1/sonic/task/{tid}", self.poll)
        return app

    async def create(self, request: web.Request) -> web.Response:
        self.starts.append(await request.json())
        self.started_at = self.clock.now
        return web.json_response({"code": 200, "message": "success", "task_id": TID})

    async def poll(self, request: web.Request) -> web.Response:
        self.polls.append(self.clock.now)
        begun = self.started_at if self.started_at is not None else 0.0
        if self.done_after is None or self.clock.now < begun + self.done_after:
            return web.json_response({"type": "not_ready"}, status=202)
        return web.json_response({"code": 200, "data": [clip("succeeded")]})


def clip(state: str) -> dict[str, Any]:
    return {"clip_id": "c-1", "state": state, "audio_url": "https://cdn.example/c-1.mp3"}


def callback(task_id: str = TID) -> tuple[bytes, dict[str, str]]:
    """A callback signed the way the API signs it (at the virtual wall time)."""
    body = json.dumps(
        {"code": 200, "task_id": task_id, "platform": "sonic", "event": "song.completed",
         "data": [clip("succeeded")]}, separators=(",", ":"),
    ).encode()  # fmt: skip
    stamp = str(int(_clock.time()))
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {
        "X-Webhook-Id": str(uuid.uuid4()),
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": f"sha256={mac}",
    }


@pytest.fixture
async def setup(
    serve_app: Serve, fake_clock: Any
) -> AsyncIterator[Callable[..., Awaitable[tuple[AIMusicClient, FakeAPI]]]]:
    clients: list[AIMusicClient] = []

    async def make(
        *, done_after: float | None = 2.0, webhooks: bool = True, **kwargs: Any
    ) -> tuple[AIMusicClient, FakeAPI]:
        api = FakeAPI(fake_clock, done_after)
        base = await serve_app(api.app())
        kwargs.setdefault("poll", PollPolicy(timeout=30.0))
        client = AIMusicClient("sk-test", base, webhook_secret=SECRET, max_retries=0, **kwargs)
        await client.__aenter__()
        clients.append(client)
        if webhooks:
            client.webhooks.use(HOOK)
        return client, api

    yield make
    for client in clients:
        await client.aclose()


async def create(client: AIMusicClient) -> Any:
    return await client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x")


# -- never blind -----------------------------------------------------------------------------------
async def test_a_lost_callback_is_found_by_a_poll_before_a_short_deadline(
    setup: Any, fake_clock: Any
) -> None:
    """The task finished on the server after 2 s, its callback was lost, the wait has 30 s: the
    150 s grace is cut to a quarter of the wait, so a poll finds it (it used to raise
    TaskTimeoutError with 0 polls, the grace outlasting the deadline)."""
    client, api = await setup()
    task = await create(client)
    begun = fake_clock.now
    result = await task
    assert result.clips[0].clip_id == "c-1"
    assert len(api.polls) == 1
    assert api.polls[0] - begun == pytest.approx(30.0 * 0.25)


async def test_a_wait_raises_timeout_only_after_a_last_look(setup: Any, fake_clock: Any) -> None:
    client, api = await setup(done_after=None, poll=PollPolicy(timeout=30.0, webhook_grace=600.0))
    task = await create(client)
    for _ in range(2):  # awaiting again repeats the rule
        begun = fake_clock.now
        with pytest.raises(TaskTimeoutError):
            await task.wait()
        assert api.polls, "it raised without a poll"
        assert begun + 30.0 - 1.0 <= api.polls[-1] <= begun + 30.0
        api.polls.clear()


async def test_a_polling_wait_looks_once_more_before_its_deadline(
    setup: Any, fake_clock: Any
) -> None:
    """Without webhooks the backoff (3, 4.8, 7.7, 12.3, 19.7 s ...) would leave the last poll
    10 s before a 30 s deadline; the last look comes in its final second."""
    client, api = await setup(done_after=None, webhooks=False)
    task = client.task(TID)
    begun = fake_clock.now
    with pytest.raises(TaskTimeoutError):
        await task.wait(timeout=30.0)
    assert begun + 29.0 <= api.polls[-1] <= begun + 30.0


async def test_the_last_look_can_find_the_result(setup: Any, fake_clock: Any) -> None:
    client, api = await setup(done_after=28.0, poll=PollPolicy(timeout=30.0, webhook_grace=600.0))
    task = await create(client)
    result = await task  # the grace (7.5 s) poll said "not yet", the last look (29 s) "done"
    assert result.clips[0].state == "succeeded"
    assert len(api.polls) >= 2


async def test_wait_with_no_time_left_still_looks_once(setup: Any) -> None:
    client, api = await setup(done_after=0.0, webhooks=False)
    result = await client.task(TID).wait(timeout=0)
    assert result.task_id == TID
    assert len(api.polls) == 1


def test_the_grace_is_a_poll_policy_field() -> None:
    assert PollPolicy().webhook_grace == 150.0
    assert PollPolicy(webhook_grace=0).webhook_grace == 0
    with pytest.raises(ConfigurationError, match="webhook_grace"):
        PollPolicy(webhook_grace=-1)
    client = AIMusicClient(api_key="k", poll=PollPolicy(webhook_grace=42.0))
    assert client.webhooks.grace == 42.0
    client.webhooks.use(HOOK, grace=7.0)
    assert client.webhooks.grace == 7.0


# -- status without awaiting, rebuilt handles, peek ----------------------------------------------
async def test_a_delivered_result_shows_on_the_handle_without_awaiting(setup: Any) -> None:
    client, api = await setup(done_after=None)
    task = await create(client)
    assert not task.done
    assert task.last is None
    await client.webhooks.handle(*callback())
    assert task.done
    assert task.result is not None
    assert task.result.clips[0].clip_id == "c-1"
    assert task.last is not None
    assert task.last.status == "succeeded"
    assert "succeeded" in repr(task)
    assert (await task).task_id == TID
    assert api.polls == []


async def test_a_rebuilt_handle_uses_the_callback_that_already_came(setup: Any) -> None:
    client, api = await setup(done_after=None)
    await create(client)
    await client.webhooks.handle(*callback())  # the handle from the start was dropped
    rebuilt = client.task(TID)
    assert (await rebuilt).task_id == TID
    assert api.polls == []


async def test_a_rebuilt_handle_waits_for_the_callback(serve_app: Serve) -> None:
    """In real time: the handle is rebuilt and awaited before the callback comes."""
    script = Script([(202, {"type": "not_ready"})])
    base = await serve_app(script.app())
    async with AIMusicClient(
        "sk-test", base, webhook_secret=SECRET, poll=PollPolicy(timeout=30.0)
    ) as client:
        client.webhooks.use(HOOK)
        waiter = asyncio.ensure_future(client.task(TID).wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await client.webhooks.handle(*callback())
        assert (await asyncio.wait_for(waiter, 5)).task_id == TID
    assert script.count() == 0


async def test_peek_reads_the_hub_and_never_polls(setup: Any) -> None:
    client, api = await setup(done_after=0.0)  # finished on the server: a poll would say so
    task = client.task(TID)
    assert await task.peek() is None
    assert not task.done
    await client.webhooks.handle(*callback())
    snapshot = await client.task(TID).peek()
    assert snapshot is not None
    assert snapshot.status == "succeeded"
    assert task.done  # the first handle saw it too
    assert api.polls == []


async def test_a_client_without_webhooks_polls_as_before(setup: Any) -> None:
    client, api = await setup(done_after=0.0, webhooks=False)
    assert isinstance(client.hub, MemoryHub)
    assert (await client.task(TID)).task_id == TID
    assert len(api.polls) == 1


async def test_a_start_with_its_own_webhook_url_polls(setup: Any, fake_clock: Any) -> None:
    client, api = await setup(done_after=1.0)
    task = await client.sonic.create(
        mv="sonic-v5", custom_mode=False, gpt_description_prompt="x",
        webhook_url="https://elsewhere.example/hook",
    )  # fmt: skip
    assert api.starts[0]["webhook_url"] == "https://elsewhere.example/hook"
    await task
    assert fake_clock.now - (api.started_at or 0) < 10.0  # polled on its schedule, no grace
