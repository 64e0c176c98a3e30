"""Helpers of the reliability suite: leak checks, quick retry backoff, a blocking-call detector.

* ``quick_backoff``   retry backoff in milliseconds: faults stay real, only the waiting shrinks
* ``no_blocking``     blockbuster active for the test (see ``BLOCKING_ALLOWED`` for exceptions)
* ``sdk_tasks(before)``  asyncio tasks started since ``before`` that belong to the SDK (the
                      emulator's and aiohttp's server-side handlers are left out)
* ``busy_connections(client)`` connections the client's pool has handed out and not returned
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from aimusic_async import AIMusicClient
from aimusic_async import _constants as C
from aimusic_async._client import runtime_of

# Code whose asyncio tasks are servers, not the SDK: the emulator, its CDN and webhook sender,
# and aiohttp's request handlers (keep-alive connections of the emulator's own listener).
_SERVER_SIDE = ("aimusic_async/testing/", "aiohttp/web_", "aiohttp/test_utils")


def _origin(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return code.co_filename.replace("\\", "/") if code is not None else repr(coro)


def sdk_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Unfinished tasks created since ``before`` that are not server-side handlers."""
    current = asyncio.current_task()
    return {
        t
        for t in asyncio.all_tasks() - before
        if t is not current and not t.done() and not any(s in _origin(t) for s in _SERVER_SIDE)
    }


async def settle(before: set[asyncio.Task[Any]], *, within: float = 2.0) -> set[asyncio.Task[Any]]:
    """Give finishing tasks a moment (a few loop turns), then return the SDK tasks still alive."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    alive = sdk_tasks(before)
    while alive and loop.time() < end:
        await asyncio.sleep(0.01)
        alive = sdk_tasks(before)
    return alive


def busy_connections(client: AIMusicClient) -> int:
    """Connections checked out of the client's pool and not released (a leak if > 0 at rest)."""
    connector = runtime_of(client).transport.session.connector
    assert connector is not None
    acquired = getattr(connector, "_acquired", None)
    assert acquired is not None, "aiohttp's connector no longer exposes _acquired"
    return len(acquired)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "RETRY_INITIAL_DELAY", 0.01)
    monkeypatch.setattr(C, "RETRY_MAX_DELAY", 0.05)


# Blocking calls allowed on the loop (blockbuster function name -> why). Empty: the SDK, the
# emulator and these tests run clean under blockbuster's defaults (which already exempt
# logging and import machinery); file checks in the tests go through a thread. Add an entry
# here, with its reason, only for a call that must block.
BLOCKING_ALLOWED: dict[str, str] = {}


@pytest.fixture
def no_blocking() -> Iterator[BlockBuster]:
    """Fail the test when a blocking call (file, socket, sleep, sqlite ...) runs on the loop."""
    with blockbuster_ctx() as bb:
        for name in BLOCKING_ALLOWED:
            bb.functions[name].deactivate()
        yield bb
