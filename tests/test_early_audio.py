"""Early audio: ``wait(until="streaming")`` returns once the clips are playable from their
streaming URLs, by polling or from a ``song.streaming`` callback; a later wait gives the final
result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aimusic_async import (
    AIMusicClient,
    ConfigurationError,
    PollPolicy,
    SyncAIMusicClient,
    Task,
    TaskResult,
)
from aimusic_async.testing import Emulator, EmulatorConfig

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]

# Every clip streams for the last 28 % of a generation: 0.14-0.17 s here, many polls apart.
GEN_TIME = (0.5, 0.6)
QUICK = PollPolicy(
    initial_interval=0.01, max_interval=0.02, multiplier=1.5, timeout=20.0, lag_target=0.01
)
DESCRIBE: dict[str, Any] = {
    "mv": "sonic-v5",
    "custom_mode": False,
    "gpt_description_prompt": "warm synth pop",
}


def check_early(result: TaskResult, emu: Any, *, every: bool) -> None:
    """An early result: not final, its streaming clips carry the emulator's preview URL."""
    assert not result.final
    assert result.streaming
    for clip in result.streaming:
        assert str(clip.audio_url).startswith(emu.cdn_url)
        assert str(clip.audio_url).endswith("?stream=1")
    playable = [c for c in result.clips if c in result.streaming or c.succeeded]
    if every:
        assert len(playable) == len(result.clips)


async def test_polling_wait_until_streaming_then_final(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    task = await client.sonic.create(**DESCRIBE)
    early = await asyncio.wait_for(task.wait(until="streaming"), 10)
    check_early(early, emu, every=True)
    assert task.result is None  # the task is not finished: no result yet
    final = await asyncio.wait_for(task, 10)
    assert final.final
    assert not final.streaming
    assert all(not str(c.audio_url).endswith("?stream=1") for c in final.succeeded)
    # Asked again after the finish, the early wait gives the final result.
    assert (await task.wait(until="streaming")) is final


async def test_polling_wait_for_the_first_clip(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    task = await client.sonic.create(**DESCRIBE)
    early = await asyncio.wait_for(task.wait(until="streaming", first=True), 10)
    check_early(early, emu, every=False)
    assert (await asyncio.wait_for(task, 10)).final


async def test_streaming_callback_ends_the_wait_without_polling(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """The emulator sends song.streaming as the first clip streams: a first-audio wait ends
    on it with no poll; it is not a result (the hub neither stores nor shares it), and the
    final callback later gives the result, still without a poll."""
    emu = await emulator_factory(generation_time=GEN_TIME, webhook_streaming=True)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    await client.webhooks.serve()
    task = await client.sonic.create(**DESCRIBE)
    early = await asyncio.wait_for(task.wait(until="streaming", first=True), 10)
    check_early(early, emu, every=False)
    assert emu.stats.polls == 0
    assert not task.done
    assert await client.hub.lookup(task.id) is None
    final = await asyncio.wait_for(task, 10)
    assert final.final
    assert emu.stats.polls == 0
    assert client.webhooks.stats.delivered == 1  # only the final callback resolved the task
    assert client.webhooks.stats.accepted == 2


async def test_streaming_callback_of_some_clips_makes_an_every_clip_wait_poll(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """song.streaming comes as the first clip streams; a wait for every clip's audio then
    polls (no callback announces the rest) and ends before the final callback."""
    emu = await emulator_factory(generation_time=GEN_TIME, webhook_streaming=True)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    await client.webhooks.serve()
    task = await client.sonic.create(**DESCRIBE)
    early = await asyncio.wait_for(task.wait(until="streaming"), 10)
    check_early(early, emu, every=True)
    assert emu.stats.polls >= 1
    assert client.webhooks.stats.accepted == 1  # the streaming one; the final one is not due
    assert (await asyncio.wait_for(task, 10)).final


async def test_without_streaming_callbacks_a_webhook_wait_ends_at_the_final_one(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """A service that sends no streaming callbacks: the first-audio wait sleeps on the hub and
    the final callback ends it (a final result is playable too), without polling."""
    emu = await emulator_factory(generation_time=(0.05, 0.1))
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    await client.webhooks.serve()
    task = await client.sonic.create(**DESCRIBE)
    result = await asyncio.wait_for(task.wait(until="streaming"), 10)
    assert result.final
    assert result is task.result
    assert emu.stats.polls == 0


async def test_a_bad_until_fails_before_any_poll(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    task: Task = await client.sonic.create(**DESCRIBE)
    with pytest.raises(ConfigurationError, match="until"):
        await task.wait(until="soon")  # type: ignore[arg-type]
    assert emu.stats.polls == 0


async def test_a_streaming_callback_for_nobody_costs_nothing(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """Streaming callbacks for tasks no first-audio wait wants are acknowledged and dropped:
    the hub keeps no entry for them."""
    emu = await emulator_factory(generation_time=(0.05, 0.1), webhook_streaming=True)
    client = await client_factory(emu.base_url, emu.api_key, poll=QUICK)
    await client.webhooks.serve()
    tasks = [await client.sonic.create(**DESCRIBE) for _ in range(5)]
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert client.webhooks.stats.accepted == 10
    assert client.hub._progress == {}  # type: ignore[attr-defined]


def test_blocking_wait_until_streaming() -> None:
    config = EmulatorConfig(seed=1, generation_time=GEN_TIME, audio_seconds=0.5)
    with Emulator(config) as emu, SyncAIMusicClient(emu.api_key, emu.base_url, poll=QUICK) as c:
        task = c.sonic.create(**DESCRIBE)
        early = task.wait(until="streaming")
        check_early(early, emu, every=True)
        assert task.wait().final
