"""Hubs on their own: MemoryHub, and RedisHub against a real redis-server (two hubs stand for
two processes): no lost wake-up in any order, one subscription however many waiters, dedupe
and references cluster-wide, configuration errors."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import pytest

from aimusic_async import AIMusicClient, ConfigurationError, TaskSnapshot
from aimusic_async.hubs import Hub, MemoryHub, RedisHub

TIMEOUT = 2.0  # generous for a loaded CI machine; faults are tested in tests/reliability


def final(task_id: str, status: str = "succeeded") -> TaskSnapshot:
    return TaskSnapshot(
        task_id=task_id,
        status=status,  # type: ignore[arg-type]
        clips=[{"clip_id": f"{task_id}-c", "state": status, "duration": "1.5"}],  # type: ignore[list-item]
        raw={"code": 200},
    )


async def both_up(*hubs: RedisHub) -> None:
    for hub in hubs:
        hub.wait("warm-up")  # starts the subscription
    for _ in range(400):
        if all(h.healthy for h in hubs):
            for hub in hubs:
                hub.release("warm-up")
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the hubs did not connect")


@pytest.fixture
async def pair(redis_url: str, redis_namespace: str) -> Any:
    """Two RedisHubs on one namespace: a waiter's process and a receiver's."""
    waiter = RedisHub(redis_url, namespace=redis_namespace, timeout=TIMEOUT)
    writer = RedisHub(redis_url, namespace=redis_namespace, timeout=TIMEOUT)
    await both_up(waiter, writer)
    yield waiter, writer
    await waiter.aclose()
    await writer.aclose()


# -- MemoryHub -----------------------------------------------------------------------------------
async def test_memory_hub_resolves_a_wait_before_or_after_the_publish() -> None:
    hub = MemoryHub()
    assert isinstance(hub, Hub)
    early = hub.wait("a")
    assert await hub.publish(final("a"))  # a waiter was resolved
    assert early.result().task_id == "a"
    assert not await hub.publish(final("b"))  # nobody waits: stored
    late = hub.wait("b")
    assert late.done()
    assert late.result().task_id == "b"
    assert (await hub.lookup("b")) is not None
    assert await hub.lookup("nope") is None


async def test_memory_hub_counts_its_waiters() -> None:
    hub = MemoryHub()
    first, second = hub.wait("a"), hub.wait("a")
    assert first is second
    hub.release("a")
    assert not first.cancelled()  # the second holder still waits
    hub.release("a")
    assert first.cancelled()
    assert hub.future("a") is None


async def test_memory_hub_store_is_bounded_and_expires(fake_clock: Any) -> None:
    hub = MemoryHub(ttl=10.0, limit=3)
    for n in range(5):
        await hub.publish(final(f"t{n}"))
    assert list(hub._stored) == ["t2", "t3", "t4"]
    fake_clock.advance(11.0)
    assert await hub.lookup("t4") is None


async def test_memory_hub_links_references() -> None:
    hub = MemoryHub()
    waiting = asyncio.ensure_future(hub.resolve("ref-1", 5.0))
    await asyncio.sleep(0)
    await hub.link("ref-1", "task-1")
    assert await waiting == "task-1"
    await hub.link("ref-1", "task-2")  # the first link wins
    assert await hub.resolve("ref-1", 0) == "task-1"
    assert await hub.resolve("ref-2", 0.01) is None


# -- RedisHub ------------------------------------------------------------------------------------
async def test_redis_hub_wakes_a_waiter_in_another_process(pair: Any) -> None:
    waiter, writer = pair
    fut = waiter.wait("t-1")
    assert not await writer.publish(final("t-1"))  # no waiter in the writer's process
    snapshot = await asyncio.wait_for(fut, 5)
    assert snapshot == final("t-1")  # the stored JSON reads back the same snapshot
    assert snapshot.clips[0].duration == 1.5


async def test_redis_hub_loses_no_wake_up_in_any_order(pair: Any) -> None:
    """Publish before the wait (found in the stored value), after it (the hint), and both at
    once in a random interleaving: every waiter resolves."""
    waiter, writer = pair
    ids = [f"t-{n}" for n in range(300)]
    rng = random.Random(11)
    before = set(rng.sample(ids, 100))
    for tid in before:
        await writer.publish(final(tid))

    async def publish_soon(tid: str) -> None:
        for _ in range(rng.randrange(3)):
            await asyncio.sleep(0)
        await writer.publish(final(tid))

    futures = {tid: waiter.wait(tid) for tid in ids}
    await asyncio.gather(*(publish_soon(tid) for tid in ids if tid not in before))
    done = await asyncio.wait_for(asyncio.gather(*futures.values()), 10)
    assert [s.task_id for s in done] == ids


async def test_a_hint_is_only_a_hint(pair: Any, redis_url: str) -> None:
    """A hint whose stored value is missing (or not final) resolves nothing."""
    waiter, _ = pair
    import redis.asyncio as redis

    fut = waiter.wait("t-x")
    raw = redis.from_url(redis_url)
    try:
        await raw.publish(f"{waiter.namespace}:events", "task:t-x")
        await raw.set(f"{waiter.namespace}:task:t-y", "not json")
        await raw.publish(f"{waiter.namespace}:events", "task:t-y")
        other = waiter.wait("t-y")
        await asyncio.sleep(0.2)
        assert not fut.done()
        assert not other.done()
    finally:
        await raw.aclose()


async def test_ten_thousand_waiters_cost_no_more_connections_than_one(
    pair: Any, redis_url: str
) -> None:
    waiter, writer = pair
    import redis.asyncio as redis

    raw = redis.from_url(redis_url)

    async def connections() -> int:
        clients = await raw.client_list()
        return len(clients)

    try:
        one = waiter.wait("only")
        await writer.publish(final("only"))
        await asyncio.wait_for(one, 5)
        with_one = await connections()
        futures = [waiter.wait(f"many-{n}") for n in range(10_000)]
        await asyncio.sleep(0.3)  # every new waiter's stored value is read meanwhile
        for n in range(0, 10_000, 1000):
            await writer.publish(final(f"many-{n}"))
        await asyncio.wait_for(asyncio.gather(*futures[::1000]), 10)
        assert await connections() == with_one
        assert sum(f.done() for f in futures) == 10
    finally:
        await raw.aclose()


async def test_redis_hub_claims_a_delivery_once_cluster_wide(pair: Any) -> None:
    waiter, writer = pair
    keys = ("id:evt-1", "body:abc", "final:sonic:t:succeeded")
    assert await writer.claim(keys)
    assert not await waiter.claim(keys)  # another process took it
    assert not await waiter.claim(("id:evt-2", "body:abc"))  # one seen key is enough
    assert await waiter.claim(("id:evt-2",))  # nothing was recorded by the refused claim
    await writer.unclaim(keys)
    assert await waiter.claim(keys)


async def test_redis_hub_links_references_across_processes(pair: Any) -> None:
    waiter, writer = pair
    pending = asyncio.ensure_future(waiter.resolve("ref-1", 5.0))
    await asyncio.sleep(0.05)
    await writer.link("ref-1", "task-1")
    assert await pending == "task-1"
    await writer.link("ref-1", "task-2")  # the first link wins
    assert await waiter.resolve("ref-1", 0) == "task-1"
    assert await waiter.resolve("ref-none", 0.05) is None


async def test_redis_hub_lookup_reads_the_store(pair: Any) -> None:
    waiter, writer = pair
    assert await waiter.lookup("t-l") is None
    await writer.publish(final("t-l", "failed"))
    found = await waiter.lookup("t-l")
    assert found is not None
    assert found.status == "failed"


async def test_redis_hub_keeps_values_for_its_ttl(redis_url: str, redis_namespace: str) -> None:
    hub = RedisHub(redis_url, namespace=redis_namespace, ttl=0.2)
    try:
        await hub.publish(final("t-ttl"))
        await hub.link("ref-ttl", "t-ttl")
        assert await hub.lookup("t-ttl") is not None
        await asyncio.sleep(0.4)
        assert await hub.lookup("t-ttl") is None
        assert await hub.resolve("ref-ttl", 0) is None
    finally:
        await hub.aclose()


def test_redis_hub_checks_its_settings() -> None:
    with pytest.raises(ConfigurationError, match="redis://"):
        RedisHub("http://localhost:6379")
    with pytest.raises(ConfigurationError, match="namespace"):
        RedisHub("redis://localhost", namespace="a b")
    with pytest.raises(ConfigurationError, match="ttl"):
        RedisHub("redis://localhost", ttl=0)
    hub = RedisHub("redis://user:s3cret-pw@localhost:6379/0")
    assert "s3cret-pw" not in repr(hub)
    assert "***" in repr(hub)


def test_redis_hub_without_the_extra_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # as if redis were not installed
    with pytest.raises(ConfigurationError, match=r"aimusic-async\[redis\]"):
        RedisHub("redis://localhost")


def test_the_client_takes_a_hub_or_a_url() -> None:
    assert isinstance(AIMusicClient(api_key="k").hub, MemoryHub)
    assert isinstance(AIMusicClient(api_key="k", hub="redis://localhost:1/0").hub, RedisHub)
    hub = MemoryHub()
    assert AIMusicClient(api_key="k", hub=hub).hub is hub
    with pytest.raises(ConfigurationError, match="hub must be"):
        AIMusicClient(api_key="k", hub=object())  # type: ignore[arg-type]


async def test_a_closed_client_closes_its_hub(redis_url: str, redis_namespace: str) -> None:
    hub = RedisHub(redis_url, namespace=redis_namespace)
    async with AIMusicClient(api_key="k", base_url="http://127.0.0.1:9", hub=hub):
        fut = hub.wait("t-closed")
        await both_up(hub)
    assert fut.cancelled()
    assert not hub.healthy
    assert all(job.done() for job in hub._jobs) or hub._jobs == []
