"""Recoverable starts: the correlation reference in webhook_url, the receiver's link from a
verified callback, ``client.recover`` in one process and through a shared hub, and the
emulator keeping the query of webhook_url."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    ConfigurationError,
    PollPolicy,
    SubmissionUnknownError,
    Task,
    WebhookVerificationError,
)
from aimusic_async.hubs import RedisHub
from aimusic_async.testing import sign_webhook
from aimusic_async.webhooks import reference_of, with_reference

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
Serve = Callable[[web.Application], Awaitable[str]]
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, timeout=20.0)
GEN_TIME = (0.05, 0.3)


async def start(client: AIMusicClient, n: int) -> Task:
    return await client.sonic.create(
        mv="sonic-v5", custom_mode=False, gpt_description_prompt=f"song {n}"
    )


async def start_all(client: AIMusicClient, n: int) -> tuple[list[Task], list[Any]]:
    outcomes = await asyncio.gather(*(start(client, i) for i in range(n)), return_exceptions=True)
    tasks = [o for o in outcomes if isinstance(o, Task)]
    unknown = [o for o in outcomes if isinstance(o, SubmissionUnknownError)]
    assert len(tasks) + len(unknown) == n, [o for o in outcomes if not isinstance(o, Task)]
    return tasks, unknown


async def test_every_start_whose_answer_was_lost_is_recovered(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """30 % of start answers lost with webhooks on: each unknown start is matched to the task it
    created by its callback; no task is created twice, none is missed."""
    emu = await emulator_factory(seed=5, generation_time=GEN_TIME, lost_response_rate=0.3)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.webhooks.serve()
    tasks, unknown = await start_all(client, 40)
    assert 6 <= len(unknown) <= 20  # about 12 of 40, seeded
    assert all(err.reference is not None for err in unknown)

    recovered = await asyncio.gather(*(client.recover(err, timeout=10) for err in unknown))
    left = sum(1 for t in recovered if t is None)
    print(f"\nunknown starts: {len(unknown)} of 40 before recovery, {left} after")
    assert None not in recovered
    for err, task in zip(unknown, recovered, strict=True):
        assert task is not None
        # The task the emulator created for exactly that request.
        assert reference_of(emu.tasks[task.id].webhook_url) == err.reference
    held = [t.id for t in tasks] + [t.id for t in recovered if t is not None]
    assert len(held) == len(set(held)) == emu.stats.creates == 40
    assert set(held) == set(emu.tasks)
    results = await asyncio.wait_for(asyncio.gather(*tasks, *recovered), 15)  # type: ignore[arg-type]
    assert len(results) == 40
    assert emu.stats.polls == 0  # every result came by callback
    assert client.webhooks.stats.linked == 40
    print(f"creates {emu.stats.creates}, tasks held {len(held)}, polls {emu.stats.polls}")


async def test_a_start_that_never_happened_recovers_to_none(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME, disconnect_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.webhooks.serve()
    with pytest.raises(SubmissionUnknownError) as info:
        await start(client, 0)
    assert info.value.reference is not None
    assert await client.recover(info.value, timeout=0.3) is None
    assert emu.stats.creates == 0


async def test_recover_needs_a_start_that_asked_for_a_webhook(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME, lost_response_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    with pytest.raises(SubmissionUnknownError) as info:
        await start(client, 0)
    assert info.value.reference is None
    with pytest.raises(ConfigurationError, match="no webhook"):
        await client.recover(info.value)
    with pytest.raises(ConfigurationError, match="timeout"):
        await client.recover(info.value, timeout=-1)


async def test_recover_through_a_shared_hub(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    redis_url: str,
    redis_namespace: str,
) -> None:
    """The start's answer is lost in one worker; the callback lands on another worker's
    receiver; the first recovers the task through Redis and gets its result with 0 polls."""
    emu = await emulator_factory(generation_time=GEN_TIME, lost_response_rate=1.0)
    workers = [
        await client_factory(
            emu.base_url,
            emu.api_key,
            poll=POLL,
            webhook_secret="shared-secret-0123456789",
            hub=RedisHub(redis_url, namespace=redis_namespace),
        )
        for _ in range(2)
    ]
    starter, receiver = workers
    url = await receiver.webhooks.serve()
    starter.webhooks.use(url)
    with pytest.raises(SubmissionUnknownError) as info:
        await start(starter, 0)
    task = await starter.recover(info.value, timeout=10)
    assert task is not None
    assert task.id in emu.tasks
    result = await asyncio.wait_for(task.wait(), 10)
    assert result.task_id == task.id
    assert task.polls == 0
    assert receiver.webhooks.stats.linked == 1


# -- the receiver records only verified references of the SDK's format -----------------------
async def test_only_a_verified_callback_links_its_reference(client_factory: ClientFactory) -> None:
    client = await client_factory(
        "http://127.0.0.1:9", "k", webhook_secret="link-secret-0123456789"
    )
    reference = "A" * 22
    body = b'{"code":200,"task_id":"t-1","platform":"sonic","data":[]}'
    url = with_reference("/webhook", reference)
    stamp = "1800000000"
    forged = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": "sha256=" + "0" * 64}
    client.webhooks.tolerance = 10**10
    with pytest.raises(WebhookVerificationError, match="does not match"):
        await client.webhooks.handle(body, forged, url=url)
    assert await client.hub.resolve(reference, 0) is None
    # Verified, but the reference is not one the SDK makes: ignored.
    signature, _ = sign_webhook("link-secret-0123456789", stamp, body)
    headers = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature}
    await client.webhooks.handle(body, headers, url="/webhook?aimusic_ref=short")
    assert client.webhooks.stats.linked == 0
    again = body.replace(b'"data"', b'"message":"retry","data"')  # not a duplicate
    signature, _ = sign_webhook("link-secret-0123456789", stamp, again)
    headers = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature}
    await client.webhooks.handle(again, headers, url=url + "&x=1")
    assert client.webhooks.stats.linked == 1
    assert await client.hub.resolve(reference, 0) == "t-1"


def test_the_reference_goes_into_the_query_beside_what_is_there() -> None:
    url = with_reference("https://svc.example/hooks?tenant=7&x=a%20b", "B" * 22)
    assert url == "https://svc.example/hooks?tenant=7&x=a%20b&aimusic_ref=" + "B" * 22
    assert reference_of(url) == "B" * 22
    assert reference_of(with_reference(url, "C" * 22)) == "C" * 22  # replaced, not doubled
    assert reference_of("https://svc.example/hooks") is None
    assert reference_of("/h?aimusic_ref=" + "B" * 22 + "&aimusic_ref=" + "C" * 22) is None


async def test_a_public_url_must_leave_room_for_the_reference() -> None:
    client = AIMusicClient(api_key="k")
    with pytest.raises(ValueError, match="too long"):
        client.webhooks.use("https://h.example/" + "p" * 1000)


# -- the emulator posts to webhook_url as given, query included ------------------------------
async def test_the_emulator_keeps_the_query_of_webhook_url(
    emulator_factory: EmuFactory, client_factory: ClientFactory, serve_app: Serve
) -> None:
    seen: list[str] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        seen.append(request.query_string)
        arrived.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    base = await serve_app(app)
    emu = await emulator_factory(generation_time=(0.01, 0.05))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.sonic.create(
        mv="sonic-v5", custom_mode=False, gpt_description_prompt="q",
        webhook_url=f"{base}/hook?tenant=7&aimusic_ref={'D' * 22}",
    )  # fmt: skip
    await asyncio.wait_for(arrived.wait(), 5)
    assert seen == [f"tenant=7&aimusic_ref={'D' * 22}"]
