"""Configured faults: rate limit, latency, 500s, disconnects, lost responses; all seeded."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .conftest import FAST, MakeApi

DESC = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"}


async def test_create_rate_limit_429_with_decimal_retry_after(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(create_rate_limit=4.0))
    first = await api.post("/api/v1/sonic/create", DESC)
    assert first.status == 200
    second = await api.post("/api/v1/sonic/create", DESC)
    assert second.status == 429
    assert second.body["code"] == 429
    retry_after = float(second.headers["Retry-After"])
    assert 0 < retry_after <= 0.25
    assert api.emu.stats.rate_limited == 1
    assert len(api.emu.tasks) == 1  # the refused start created nothing
    # polls and credits are not start requests
    for _ in range(5):
        assert (await api.get("/api/v1/get-credits")).status == 200
    await asyncio.sleep(retry_after + 0.01)
    assert (await api.post("/api/v1/sonic/create", DESC)).status == 200


async def test_rate_limit_burst(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(create_rate_limit=1.0, create_rate_burst=3))
    statuses = [(await api.post("/api/v1/sonic/create", DESC)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_latency_is_added(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(latency=0.2))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await api.get("/api/v1/get-credits")
    assert loop.time() - t0 >= 0.19


async def test_server_errors(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(server_error_rate=1.0))
    reply = await api.post("/api/v1/sonic/create", DESC)
    assert (reply.status, reply.body) == (500, {"code": 500, "message": "Internal Server Error."})
    reply = await api.get("/api/v1/sonic/task/x")
    assert reply.status == 500
    assert api.emu.stats.server_errors == 2
    assert not api.emu.tasks
    assert api.emu.stats.credits_charged == 0


async def test_disconnect_before_anything(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(disconnect_rate=1.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post("/api/v1/sonic/create", DESC)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.get("/api/v1/get-credits")
    # (aiohttp itself may retry an idempotent GET once on a dropped keep-alive connection)
    assert api.emu.stats.disconnects >= 2
    assert api.emu.stats.requests == api.emu.stats.disconnects
    assert not api.emu.tasks


async def test_lost_response_creates_and_charges(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(lost_response_rate=1.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post("/api/v1/sonic/create", DESC)
    assert api.emu.stats.lost_responses == 1
    assert api.emu.stats.creates == 1
    (task,) = api.emu.tasks.values()
    assert api.emu.stats.credits_charged == 15
    # the task exists and can be polled by id, just like a real lost answer
    final = await api.wait(task.task_id)
    assert len(final.body["data"]) == 2
    # only start requests lose answers
    assert (await api.get("/api/v1/get-credits")).status == 200


async def test_fault_rates_are_reproducible(make_api: MakeApi) -> None:
    config = FAST.replace(server_error_rate=0.4, seed=11)

    async def pattern() -> list[int]:
        api = await make_api(config)
        return [(await api.get("/api/v1/get-credits")).status for _ in range(30)]

    first, second = await pattern(), await pattern()
    assert first == second
    assert 500 in first
    assert 200 in first
