"""Fixtures for the emulator's own tests: a started emulator and a plain aiohttp client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from aimusic_async.testing import Emulator, EmulatorConfig

# Tiny generation times keep each lifecycle test well under a second.
FAST = EmulatorConfig(generation_time=(0.05, 0.1), seed=7)


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class Api:
    """Plain aiohttp calls against one emulator, with the Bearer key by default."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    def _headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.emu.api_key}"}

    async def post(self, path: str, body: Any = None, *, key: str | None = None) -> Reply:
        async with self.session.post(
            self.emu.base_url + path, json=body or {}, headers=self._headers(key)
        ) as resp:
            return Reply(resp.status, await resp.json(), resp.headers)

    async def get(self, path: str, *, key: str | None = None) -> Reply:
        async with self.session.get(self.emu.base_url + path, headers=self._headers(key)) as resp:
            return Reply(resp.status, await resp.json(), resp.headers)

    async def create(self, body: dict[str, Any] | None = None, **kw: Any) -> str:
        """Start a sonic create and return its task id."""
        payload = body or {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"}
        reply = await self.post("/api/v1/sonic/create", payload, **kw)
        assert reply.status == 200, reply.body
        task_id: str = reply.body["task_id"]
        return task_id

    async def wait(self, task_id: str, family: str = "sonic", timeout: float = 5.0) -> Reply:
        """Poll until every clip is terminal (or the family's terminal status)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await self.get(f"/api/v1/{family}/task/{task_id}")
            if _finished(reply):
                return reply
            assert asyncio.get_running_loop().time() < deadline, reply.body
            await asyncio.sleep(0.03)


def _finished(reply: Reply) -> bool:
    body = reply.body
    if reply.status != 200 or not isinstance(body, dict):
        return False
    if "status" in body:
        return body["status"] in ("SUCCESS", "FAILED")
    data = body.get("data")
    if isinstance(data, dict):
        return data.get("state") in ("succeeded", "failed")
    return bool(data) and all(c["state"] in ("succeeded", "failed") for c in data)


async def clip_of(api: Api, **overrides: Any) -> dict[str, Any]:
    """A finished generated clip (for routes that take a clip id)."""
    task_id = await api.create()
    reply = await api.wait(task_id)
    clip: dict[str, Any] = reply.body["data"][0]
    return clip


MakeApi = Callable[[EmulatorConfig], Awaitable[Api]]


@pytest.fixture
async def make_api() -> AsyncIterator[MakeApi]:
    """Start emulators with a given config; everything is closed after the test."""
    emus: list[Emulator] = []
    session = aiohttp.ClientSession()

    async def make(config: EmulatorConfig) -> Api:
        emu = Emulator(config)
        await emu.start()
        emus.append(emu)
        return Api(session, emu)

    try:
        yield make
    finally:
        await session.close()
        for emu in emus:
            await emu.close()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api(FAST)
