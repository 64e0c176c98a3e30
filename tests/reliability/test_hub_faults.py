"""Faults of the webhook path, for real: a Redis hub killed mid-run, killed and restarted on the
same port, paused (SIGSTOP); 40 % of callbacks lost under a 20 s deadline. Results cost polls,
never go missing; every wait returns within its deadline (the wait itself raises otherwise)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aimusic_async import AIMusicClient, PollPolicy, Task
from aimusic_async.hubs import RedisHub

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
# The wait's own deadline is what these tests assert: wait(timeout=DEADLINE) returns or raises.
DEADLINE = 20.0
POLL = PollPolicy(initial_interval=0.05, max_interval=0.25, timeout=DEADLINE)
SECRET = "fault-secret-0123456789"
REDIS_TIMEOUT = 0.2  # a stalled Redis is given up on quickly


async def workers(
    emu: Any, client_factory: ClientFactory, url: str, namespace: str
) -> tuple[AIMusicClient, AIMusicClient]:
    """Two clients sharing one Redis hub, as two processes would: the first starts and awaits
    tasks, the second's receiver gets their callbacks."""
    made = [
        await client_factory(
            emu.base_url,
            emu.api_key,
            poll=POLL,
            webhook_secret=SECRET,
            hub=RedisHub(url, namespace=namespace, timeout=REDIS_TIMEOUT),
        )
        for _ in range(2)
    ]
    waiter, receiver = made
    waiter.webhooks.use(await receiver.webhooks.serve())
    for _ in range(300):
        if waiter.hub.healthy:
            break
        waiter.task("warm-up")  # registers with the hub, which connects
        await asyncio.sleep(0.01)
    assert waiter.hub.healthy
    return waiter, receiver


async def start(client: AIMusicClient, n: int) -> list[Task]:
    return list(
        await asyncio.gather(
            *(
                client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt=f"{i}")
                for i in range(n)
            )
        )
    )


async def resolve(tasks: list[Task]) -> tuple[float, float]:
    """Await every task with the deadline; (polls per task, seconds until the last result)."""
    begun = time.monotonic()
    await asyncio.gather(*(t.wait(timeout=DEADLINE) for t in tasks))
    return sum(t.polls for t in tasks) / len(tasks), time.monotonic() - begun


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(1 for r in caplog.records if r.levelno == logging.WARNING and text in r.message)


async def test_redis_killed_mid_run_costs_polls_not_results(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    redis_process: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = await redis_process()
    emu = await emulator_factory(generation_time=(0.3, 0.8))
    waiter, receiver = await workers(emu, client_factory, redis.url, "killed")
    first = await start(waiter, 5)
    assert (await resolve(first))[0] == 0  # through the hub: no polls
    tasks = await start(waiter, 20)
    await asyncio.to_thread(redis.kill)
    polls_per_task, seconds = await resolve(tasks)  # raises TaskTimeoutError past the deadline
    print(f"\nRedis killed: {polls_per_task:.2f} polls per task, all resolved in {seconds:.2f} s")
    assert polls_per_task >= 1
    assert not waiter.hub.healthy
    assert receiver.webhooks.stats.unstored >= 1  # answered 503, so the sender retried
    assert receiver.webhooks.stats.accepted == 5
    # One warning per hub and outage, not one per task.
    assert 1 <= warnings_about(caplog, "Redis hub is unreachable") <= 2


async def test_redis_restarted_is_used_again(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    redis_process: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = await redis_process()
    emu = await emulator_factory(generation_time=(0.3, 0.8))
    waiter, _ = await workers(emu, client_factory, redis.url, "restarted")
    tasks = await start(waiter, 10)
    await asyncio.to_thread(redis.kill)
    polls_per_task, seconds = await resolve(tasks)
    print(f"\nRedis down: {polls_per_task:.2f} polls per task, resolved in {seconds:.2f} s")
    assert polls_per_task >= 1
    await asyncio.to_thread(redis.start)  # the same port, empty
    for _ in range(1000):
        if waiter.hub.healthy:
            break
        await asyncio.sleep(0.01)
    assert waiter.hub.healthy
    again = await start(waiter, 10)
    polls_per_task, seconds = await resolve(again)
    print(f"Redis back: {polls_per_task:.2f} polls per task, resolved in {seconds:.2f} s")
    assert polls_per_task == 0
    assert warnings_about(caplog, "reachable again") >= 1


async def test_a_paused_redis_hangs_nothing(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    redis_process: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SIGSTOP: the sockets stay open and nothing answers. Every Redis call gives up after its
    timeout, the receiver answers 503, the waits poll; after SIGCONT the hub is used again."""
    redis = await redis_process()
    emu = await emulator_factory(generation_time=(0.3, 0.8))
    waiter, receiver = await workers(emu, client_factory, redis.url, "paused")
    tasks = await start(waiter, 10)
    redis.pause()
    try:
        polls_per_task, seconds = await resolve(tasks)
        print(f"\nRedis paused: {polls_per_task:.2f} polls per task, resolved in {seconds:.2f} s")
        assert polls_per_task >= 1
        # The receiver's Redis calls time out one after another; the waits may have polled
        # their results home before its first 503.
        for _ in range(500):
            if receiver.webhooks.stats.unstored >= 1:
                break
            await asyncio.sleep(0.01)
        assert receiver.webhooks.stats.unstored >= 1
        peeked = await waiter.task("never-seen").peek()  # answers at once, never polls
        assert peeked is None
    finally:
        redis.resume()
    for _ in range(1000):
        if waiter.hub.healthy:
            break
        await asyncio.sleep(0.01)
    assert waiter.hub.healthy
    again = await start(waiter, 10)
    assert (await resolve(again))[0] == 0


async def test_forty_percent_of_callbacks_lost_under_a_twenty_second_deadline(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """The default grace (150 s) with a 20 s wait: the grace is cut to 5 s, the lost ones are
    found by a poll, and no wait times out (it used to: 0 polls, TaskTimeoutError)."""
    emu = await emulator_factory(seed=4, generation_time=(0.1, 0.5), webhook_loss_rate=0.4)
    client = await client_factory(emu.base_url, emu.api_key, poll=PollPolicy(timeout=DEADLINE))
    await client.webhooks.serve()
    tasks = await start(client, 40)
    polls_per_task, seconds = await resolve(tasks)
    lost = emu.stats.webhooks_lost
    print(f"\n{lost} of 40 callbacks lost: {polls_per_task:.2f} polls per task, {seconds:.2f} s")
    assert 8 <= lost <= 24
    assert sum(1 for t in tasks if t.polls) == lost  # exactly the lost ones polled
