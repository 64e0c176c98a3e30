"""The ASGI receiver (``client.webhooks.asgi_app()``) under a real uvicorn server on 127.0.0.1:
the emulator's signed callbacks resolve tasks with no poll, plain and mounted in FastAPI and
Starlette; hostile senders are cut off by the same bounds as the aiohttp receiver's (one budget
for both); only POST is served, lifespan events are acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from aimusic_async import AIMusicClient, ConfigurationError, PollPolicy, Task
from aimusic_async.testing import Emulator
from aimusic_async.webhooks import WebhookManager
from tests.reliability.test_receiver_exhaustion import (
    SECRET,
    SlowSender,
    genuine_body,
    host_port,
    signed,
    until,
)

EmuFactory = Callable[..., Awaitable[Emulator]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
ServeASGI = Callable[[Any], Awaitable[str]]

GEN_TIME = (0.05, 0.2)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=20.0)
AUDIO = "https://example.com/audio/my-song.mp3"
# A hang guard, not a timing assertion.
GUARD = 10.0


@pytest.fixture
async def serve_asgi() -> AsyncIterator[ServeASGI]:
    """``await serve_asgi(app)`` -> the base URL of ``app`` served by uvicorn on 127.0.0.1 (in
    this event loop, as a worker would run it, lifespan on), stopped at teardown."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        running.append((server, task))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in reversed(running):
        server.should_exit = True
        await asyncio.wait_for(task, GUARD)


@pytest.fixture
async def client() -> AsyncIterator[AIMusicClient]:
    # For the hostile cases nothing talks to the API: a closed port is a fine base URL.
    async with AIMusicClient(
        api_key="sk-test", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as c:
        yield c


async def start_songs(client: AIMusicClient, n: int) -> list[Task]:
    return list(
        await asyncio.gather(
            *(
                client.sonic.create(
                    mv="sonic-v5", custom_mode=False, gpt_description_prompt=f"song {i}"
                )
                for i in range(n)
            )
        )
    )


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, json.loads(await r.read() or b"{}")


# -- the emulator's callbacks through uvicorn ------------------------------------------------------
def plain(client: AIMusicClient) -> tuple[Any, str]:
    return client.webhooks.asgi_app(), "/hooks/aimusic"


def fastapi_mount(client: AIMusicClient) -> tuple[Any, str]:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    app.mount("/hooks/aimusic", client.webhooks.asgi_app())
    return app, "/hooks/aimusic"


def starlette_mount(client: AIMusicClient) -> tuple[Any, str]:
    return Starlette(routes=[Mount("/hooks/aimusic", client.webhooks.asgi_app())]), "/hooks/aimusic"


def starlette_route(client: AIMusicClient) -> tuple[Any, str]:
    route = Route("/hooks/aimusic", client.webhooks.asgi_app(), methods=["POST"])
    return Starlette(routes=[route]), "/hooks/aimusic"


@pytest.mark.parametrize(
    "make_app",
    [plain, fastapi_mount, starlette_mount, starlette_route],
    ids=lambda f: f.__name__,
)
async def test_emulator_callbacks_resolve_tasks_with_no_poll(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    serve_asgi: ServeASGI,
    make_app: Callable[[AIMusicClient], tuple[Any, str]],
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME, webhook_duplicate_rate=0.5)
    client = await client_factory(
        emu.base_url,
        emu.api_key,
        poll=POLL,
        webhook_secret="per-client-secret",
        account_webhook_secret=emu.config.default_webhook_secret,
    )
    app, path = make_app(client)
    client.webhooks.use(await serve_asgi(app) + path)

    songs = await start_songs(client, 12)
    upload = await client.sonic.upload_async(AUDIO)  # signed with the account's default secret
    results = await asyncio.wait_for(asyncio.gather(*songs, upload), GUARD)

    assert emu.stats.polls == 0
    for task, result in zip([*songs, upload], results, strict=True):
        assert result.task_id == task.id
        assert sorted(c.clip_id for c in result.clips) == sorted(
            c.clip_id for c in emu.tasks[task.id].clips
        )
    (clip,) = results[-1].clips
    assert clip.title == "my-song"
    assert clip.succeeded
    await until(lambda: emu.webhooks_pending == 0)  # the duplicates sent after each original
    stats = client.webhooks.stats
    assert stats.delivered == 13
    assert stats.rejected == stats.invalid == 0
    assert stats.duplicates == emu.stats.webhooks_duplicated > 0
    assert stats.deliveries_in_flight == stats.bytes_in_flight == 0


async def test_only_post_is_served_and_the_url_reaches_handle(
    client: AIMusicClient, serve_asgi: ServeASGI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = fastapi_mount(client)
    base = await serve_asgi(app)
    async with aiohttp.ClientSession() as http:
        for method in ("GET", "PUT", "DELETE"):
            async with http.request(method, f"{base}/hooks/aimusic/x") as r:
                assert r.status == 405
                assert r.headers["Allow"] == "POST"
        async with http.get(f"{base}/health") as r:  # the app's own routes are untouched
            assert await r.json() == {"ok": True}

    seen: list[str | None] = []
    handle = WebhookManager.handle

    async def recording(
        self: WebhookManager, body: bytes, headers: Any, *, url: str | None = None
    ) -> Any:
        seen.append(url)
        return await handle(self, body, headers, url=url)

    monkeypatch.setattr(WebhookManager, "handle", recording)
    body = genuine_body("t-url")
    status, answer = await post(f"{base}/hooks/aimusic/x?ref=abc&n=1", body, signed(body))
    assert (status, answer) == (200, {"received": True, "duplicate": False})
    assert seen == [f"{base}/hooks/aimusic/x?ref=abc&n=1"]


# -- hostile senders -------------------------------------------------------------------------------
async def test_bad_signature_and_duplicates(client: AIMusicClient, serve_asgi: ServeASGI) -> None:
    url = await serve_asgi(client.webhooks.asgi_app())
    client.hub.expect("t-1")
    body = genuine_body("t-1")
    forged = signed(body)
    forged["X-Webhook-Signature"] = "sha256=" + "0" * 64
    assert (await post(url, body, forged))[0] == 401
    future = client.hub.future("t-1")
    assert future is not None
    assert not future.done()
    # A signature header sent twice with different values: neither copy is trusted.
    twice = [*signed(body).items(), ("X-Webhook-Signature", forged["X-Webhook-Signature"])]
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=twice) as r:
        assert r.status == 401
    headers = signed(body)
    assert await post(url, body, headers) == (200, {"received": True, "duplicate": False})
    assert await post(url, body, headers) == (200, {"received": True, "duplicate": True})
    assert future.done()
    stats = client.webhooks.stats
    assert (stats.rejected, stats.accepted, stats.duplicates, stats.delivered) == (2, 1, 1, 1)
    assert (await post(url, b"{not json", signed(b"{not json")))[0] == 400


async def test_oversized_bodies_get_413_unread(
    client: AIMusicClient, serve_asgi: ServeASGI
) -> None:
    client.webhooks.max_body = 2048
    url = await serve_asgi(client.webhooks.asgi_app())
    big = b"x" * 5000
    # Declared too large: refused before a byte of the body is read.
    assert (await post(url, big, signed(big)))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 1000

    # Chunked, no length: refused as soon as it passes the limit.
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=chunks(), headers=signed(b"")) as r,
    ):
        assert r.status == 413
        assert r.headers.get("Connection", "").lower() == "close"
    stats = client.webhooks.stats
    assert stats.too_large == 2
    assert stats.received == 0  # handle() never saw them
    assert stats.peak_bytes_in_flight <= 2048


async def test_a_stalled_body_is_cut_off_at_the_read_deadline(
    client: AIMusicClient, serve_asgi: ServeASGI
) -> None:
    hooks = client.webhooks
    hooks.read_timeout = 0.3
    host, port = host_port(await serve_asgi(hooks.asgi_app()))
    stalled = SlowSender(host, port, declared=10_000, first=100)
    trickled = SlowSender(host, port, declared=10_000, first=100)
    await asyncio.wait_for(asyncio.gather(stalled.run(), trickled.run(pace=0.05, step=16)), GUARD)
    # Both answered 408 and their connections closed (run() returns only then).
    assert (stalled.outcome, trickled.outcome) == ("408", "408")
    assert hooks.stats.timed_out == 2
    assert hooks.stats.deliveries_in_flight == hooks.stats.bytes_in_flight == 0


async def test_an_attack_of_slow_senders_stays_within_bounds_and_a_genuine_callback_gets_through(
    client: AIMusicClient, serve_asgi: ServeASGI
) -> None:
    hooks = client.webhooks
    hooks.max_deliveries = 8
    hooks.max_bytes_in_flight = 32 * 1024
    hooks.read_timeout = 1.0
    url = await serve_asgi(hooks.asgi_app())
    host, port = host_port(url)
    client.hub.expect("genuine-1")
    # 100 senders each declare ~100 KB, send 6 KB at once, then trickle.
    senders = [SlowSender(host, port, declared=100_000, first=6 * 1024) for _ in range(100)]
    attack = [asyncio.create_task(s.run(pace=0.05)) for s in senders]
    await until(lambda: hooks.stats.shed > 0 and hooks.stats.deliveries_in_flight > 0)

    body = genuine_body("genuine-1")
    assert (await post(url, body, signed(body)))[0] == 200
    future = client.hub.future("genuine-1")
    assert future is not None
    assert future.done()

    await asyncio.wait_for(asyncio.gather(*attack), GUARD)
    # Answered 503 / 408 and closed (or reset, with the answer unread, when closed mid-send).
    assert {s.outcome for s in senders} <= {"503", "408", "closed"}
    stats = hooks.stats
    assert stats.timed_out + stats.shed == len(senders)  # every one cut off by the budget
    assert sum(s.sent for s in senders) > 10 * hooks.max_bytes_in_flight
    assert 0 < stats.peak_bytes_in_flight <= hooks.max_bytes_in_flight
    assert (stats.received, stats.delivered) == (1, 1)
    assert stats.bytes_in_flight == stats.deliveries_in_flight == 0


async def test_a_sender_that_hangs_up_mid_body_frees_its_slot(
    client: AIMusicClient, serve_asgi: ServeASGI
) -> None:
    hooks = client.webhooks
    host, port = host_port(await serve_asgi(hooks.asgi_app()))
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"z" * 100)
    await writer.drain()
    await until(lambda: hooks.stats.deliveries_in_flight == 1)
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
    await until(lambda: hooks.stats.deliveries_in_flight == 0)
    assert hooks.stats.bytes_in_flight == 0
    assert hooks.stats.received == 0


async def test_the_aiohttp_and_asgi_receivers_share_one_budget(
    client: AIMusicClient, serve_asgi: ServeASGI
) -> None:
    """One slot in all: a sender stalling on the embedded aiohttp receiver is cut off (503) to
    admit a genuine callback arriving at the ASGI app."""
    hooks = client.webhooks
    hooks.max_deliveries = 1
    host, port = host_port(await hooks.serve())
    stalled = SlowSender(host, port, declared=10_000, first=100)
    attack = asyncio.create_task(stalled.run())
    await until(lambda: hooks.stats.deliveries_in_flight == 1)

    url = await serve_asgi(hooks.asgi_app())
    client.hub.expect("t-shared")
    body = genuine_body("t-shared")
    assert (await post(url, body, signed(body)))[0] == 200
    await asyncio.wait_for(attack, GUARD)
    assert stalled.outcome == "503"
    assert hooks.stats.shed == 1
    future = client.hub.future("t-shared")
    assert future is not None
    assert future.done()


# -- the ASGI protocol's other messages ------------------------------------------------------------
async def test_lifespan_is_acknowledged_and_websockets_refused(client: AIMusicClient) -> None:
    app = client.webhooks.asgi_app()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app({"type": "lifespan"}, receive, send), GUARD)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    incoming.append({"type": "websocket.connect"})
    await app({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert not client.is_closed  # the client's life is its owner's, not the server's


async def test_async_upload_to_the_receiver_needs_the_account_secret(
    emulator_factory: EmuFactory, client_factory: ClientFactory, serve_asgi: ServeASGI
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL, webhook_secret="mine")
    client.webhooks.use(await serve_asgi(client.webhooks.asgi_app()))
    before = emu.stats.requests
    with pytest.raises(ConfigurationError, match="account_webhook_secret"):
        await client.sonic.upload_async(AUDIO)
    assert emu.stats.requests == before  # refused before anything was sent
