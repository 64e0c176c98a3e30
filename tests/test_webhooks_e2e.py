"""Webhooks end to end against the emulator: zero polls, lost and duplicated callbacks,
hybrid wait, failed tasks and forged callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from aimusic_async import AIMusicClient, PollPolicy, Task, TaskFailedError, _clock
from aimusic_async._client import runtime_of
from aimusic_async.webhooks import reference_of

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]

# Tasks finish in 0.05-0.25 s; polling (if it happens) is quick too, so a test never waits long.
GEN_TIME = (0.05, 0.25)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=20.0)


async def start_many(client: AIMusicClient, n: int) -> list[Task]:
    return list(
        await asyncio.gather(
            *(
                client.sonic.create(
                    mv="sonic-v5", custom_mode=False, gpt_description_prompt=f"song number {i}"
                )
                for i in range(n)
            )
        )
    )


def genuine(emu: Any, result: Any) -> bool:
    """The result holds exactly the clips the emulator made for the task, served by its CDN."""
    expected = sorted(c.clip_id for c in emu.tasks[result.task_id].clips)
    return sorted(c.clip_id for c in result.clips) == expected and all(
        str(c.audio_url).startswith(emu.cdn_url) for c in result.succeeded
    )


async def test_hundred_tasks_resolve_from_webhooks_with_zero_polls(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    url = await client.webhooks.serve()
    tasks = await start_many(client, 100)
    # Every start request carried our receiver, with a correlation reference of its own, and a
    # secret (generated, never the default).
    references = set()
    for task in tasks:
        record = emu.tasks[task.id]
        assert record.webhook_url.startswith(url + "?aimusic_ref=")
        references.add(reference_of(record.webhook_url))
        assert record.webhook_secret == runtime_of(client).webhooks.secret
        assert record.webhook_secret
    assert None not in references
    assert len(references) == 100
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)

    assert emu.stats.polls == 0
    assert sum(t.polls for t in tasks) == 0
    assert len({r.task_id for r in results}) == 100
    for task, result in zip(tasks, results, strict=True):
        assert result.task_id == task.id
        assert genuine(emu, result)
        assert result.succeeded
    stats = client.webhooks.stats
    assert stats.delivered == 100
    assert stats.rejected == stats.invalid == 0
    assert emu.stats.webhooks_sent == 100
    assert emu.stats.webhooks_failed == 0
    assert client.hub._futures == {}  # every wait released its hub entry


async def test_lost_webhooks_fall_back_to_polling(
    emulator_factory: EmuFactory, client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = await emulator_factory(seed=7, generation_time=GEN_TIME, webhook_loss_rate=0.3)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    called_back: set[str] = set()
    handle = client.webhooks.handle

    async def spy(body: bytes, headers: Any, **kwargs: Any) -> Any:
        event = await handle(body, headers, **kwargs)
        if event is not None:
            called_back.add(event.task_id)
        return event

    monkeypatch.setattr(client.webhooks, "handle", spy)
    # Generation takes at most 0.25 s, so a 0.5 s grace only expires for lost callbacks.
    await client.webhooks.serve(grace=0.5)
    tasks = await start_many(client, 100)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 15)

    assert len(results) == 100
    for result in results:
        assert genuine(emu, result)
    lost = emu.stats.webhooks_lost
    assert 15 <= lost <= 45  # about 30 of 100, seeded
    lost_ids = {t.id for t in tasks} - called_back
    assert len(lost_ids) == lost
    polled = {t.id for t in tasks if t.polls}
    # Exactly the tasks whose callback was lost polled, and one poll each was enough
    # (the grace outlasts the generation, so the first poll finds the task finished).
    assert polled == lost_ids
    assert client.webhooks.stats.delivered == 100 - lost
    assert emu.stats.polls == lost


async def test_duplicated_webhooks_resolve_each_task_once(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(seed=3, generation_time=GEN_TIME, webhook_duplicate_rate=0.5)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.webhooks.serve()
    tasks = await start_many(client, 100)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    # Let the second copies of the last callbacks arrive before counting.
    for _ in range(100):
        if emu.stats.webhooks_sent >= 100 + emu.stats.webhooks_duplicated:
            break
        await asyncio.sleep(0.02)

    assert emu.stats.webhooks_duplicated >= 25
    stats = client.webhooks.stats
    assert stats.duplicates == emu.stats.webhooks_duplicated
    assert stats.delivered == 100  # each task resolved exactly once
    assert stats.accepted == 100
    assert stats.rejected == stats.invalid == 0
    assert emu.stats.webhooks_failed == 0  # duplicates were acknowledged with 200
    assert emu.stats.polls == 0
    for task, result in zip(tasks, results, strict=True):
        assert await task is result  # re-await: the same result, nothing re-resolved
        assert genuine(emu, result)


async def test_callback_ends_a_poll_interval_at_once(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    # No grace: tasks poll at once, then sleep a long max_interval; the callback must end
    # that sleep instead of the next poll.
    emu = await emulator_factory(generation_time=(0.4, 0.5))
    slow = PollPolicy(initial_interval=0.05, max_interval=30.0, multiplier=2.0, timeout=20.0)
    client = await client_factory(emu.base_url, emu.api_key, poll=slow)
    await client.webhooks.serve(grace=0.0)
    tasks = await start_many(client, 10)
    begun = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert time.monotonic() - begun < 3.0
    assert all(t.polls >= 1 for t in tasks)  # they were polling when the callback came
    assert client.webhooks.stats.delivered == 10


async def test_failed_task_raises_from_its_webhook(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME, clip_failure_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    await client.webhooks.serve()
    (task,) = await start_many(client, 1)
    with pytest.raises(TaskFailedError) as info:
        await asyncio.wait_for(task.wait(), 10)
    assert info.value.task_id == task.id
    assert emu.stats.polls == 0
    assert client.webhooks.stats.delivered == 1


async def test_forged_callbacks_change_no_result(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=(0.3, 0.5))
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL)
    url = await client.webhooks.serve()
    tasks = await start_many(client, 20)
    secret = emu.config.default_webhook_secret  # the provider's secret is not ours

    def forged(task_id: str, n: int) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "code": 200,
                "task_id": task_id,
                "platform": "sonic",
                "event": "song.completed",
                "data": [
                    {"clip_id": f"evil-{n}", "state": "succeeded", "audio_url": "https://evil/x"}
                ],
            }
        ).encode()
        stamp = str(int(_clock.time()))
        mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "X-Webhook-Id": f"forged-{n}",
            "X-Webhook-Timestamp": stamp,
            "X-Webhook-Signature": f"sha256={mac}",
        }
        if n % 2:  # the other half try the legacy header alone
            headers = {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
        return body, headers

    async with aiohttp.ClientSession() as http:
        for n, task in enumerate(tasks):
            body, headers = forged(task.id, n)
            async with http.post(url, data=body, headers=headers) as r:
                assert r.status == 401
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert client.webhooks.stats.rejected == 20
    for task, result in zip(tasks, results, strict=True):
        assert all("evil" not in str(c.audio_url) for c in result.clips)
        assert result.task_id == task.id
        assert genuine(emu, result)
    assert client.webhooks.stats.delivered == 20
