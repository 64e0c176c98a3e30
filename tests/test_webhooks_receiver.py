"""The webhook manager and receiver: handle(), the embedded server, a mounted handler, ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aimusic_async import _clock
from aimusic_async._client import AIMusicClient, runtime_of
from aimusic_async._constants import WEBHOOK_THREAD_THRESHOLD
from aimusic_async._errors import ResponseValidationError, WebhookVerificationError
from aimusic_async.models.common import TaskSnapshot

SECRET = "receiver-test-secret-0123456789"


def final_body(task_id: str, *, state: str = "succeeded", extra: str = "") -> bytes:
    clips = [
        {
            "clip_id": f"{task_id}-{n}",
            "state": state,
            "title": "Song" + extra,
            "audio_url": f"https://cdn.example/{task_id}-{n}.mp3",
            "duration": "12.5",
        }
        for n in (1, 2)
    ]
    payload = {"code": 200, "message": "success", "task_id": task_id, "platform": "sonic"}
    payload["event"] = "song.completed" if state == "succeeded" else "song.failed"
    payload["data"] = clips  # type: ignore[assignment]
    return json.dumps(payload, separators=(",", ":")).encode()


def signed(
    body: bytes,
    secret: str = SECRET,
    *,
    event_id: str | None = None,
    ts: float | None = None,
    event: str = "song.completed",
) -> dict[str, str]:
    stamp = str(int(time.time() if ts is None else ts))
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    legacy = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ident = event_id or str(uuid.uuid4())
    return {
        "Content-Type": "application/json",
        "X-Webhook-Id": ident,
        "Idempotency-Key": ident,
        "X-Webhook-Event": event,
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": f"sha256={mac}",
        "X-Signature": legacy,
    }


@pytest.fixture
async def client() -> AsyncIterator[AIMusicClient]:
    # Overrides the emulator-bound fixture: nothing here talks to the API, so a closed port
    # is a fine base URL.
    async with AIMusicClient(
        api_key="test-key", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as c:
        yield c


# -- handle() ------------------------------------------------------------------------------------
async def test_handle_resolves_a_waiting_task_once(client: AIMusicClient) -> None:
    hub = client.hub
    hub.expect("t-1")
    fut = hub.future("t-1")
    assert fut is not None
    assert not fut.done()
    body = final_body("t-1")
    headers = signed(body, event_id="evt-1")

    event = await client.webhooks.handle(body, headers)
    assert event is not None
    assert event.kind == "completed"
    assert event.final
    assert event.id == "evt-1"
    assert fut.done()
    snap = fut.result()
    assert isinstance(snap, TaskSnapshot)
    assert snap.status == "succeeded"
    assert [c.clip_id for c in snap.clips] == ["t-1-1", "t-1-2"]
    assert snap.clips[0].duration == 12.5

    # Same event id again: ignored, nothing changes.
    assert await client.webhooks.handle(body, headers) is None
    assert fut.result() is snap
    stats = client.webhooks.stats
    assert (stats.received, stats.accepted, stats.duplicates, stats.delivered) == (2, 1, 1, 1)


async def test_handle_rejects_forgeries_without_effect(
    client: AIMusicClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.hub.expect("t-2")
    fut = client.hub.future("t-2")
    assert fut is not None
    genuine = final_body("t-2")
    forged_body = final_body("t-2", extra=" (forged)")
    caplog.set_level(logging.DEBUG, logger="aimusic_async")

    forgeries = [
        (forged_body, signed(forged_body, "attacker-secret")),  # wrong secret
        (forged_body, signed(genuine)),  # body swapped under a genuine signature
        (genuine, signed(genuine, ts=time.time() - 3600)),  # stale replay
        (genuine, {"Content-Type": "application/json"}),  # unsigned
    ]
    for body, headers in forgeries:
        with pytest.raises(WebhookVerificationError):
            await client.webhooks.handle(body, headers)
    assert not fut.done()
    assert client.webhooks.stats.rejected == len(forgeries)
    assert client.webhooks.stats.accepted == 0

    # The forged attempts used the genuine event id too; it must not have been burnt.
    headers = signed(genuine, event_id="evt-shared")
    forged_same_id = signed(forged_body, "attacker-secret", event_id="evt-shared")
    with pytest.raises(WebhookVerificationError):
        await client.webhooks.handle(forged_body, forged_same_id)
    assert await client.webhooks.handle(genuine, headers) is not None
    assert fut.result().clips[0].title == "Song"
    assert SECRET not in caplog.text


async def test_handle_unknown_task_is_accepted_and_early_callbacks_are_kept(
    client: AIMusicClient,
) -> None:
    # A callback can beat the create response home: it is parked until the task registers.
    body = final_body("early")
    event = await client.webhooks.handle(body, signed(body))
    assert event is not None
    assert event.task_id == "early"
    assert client.webhooks.stats.delivered == 0
    client.hub.expect("early")
    fut = client.hub.future("early")
    assert fut is not None
    assert fut.done()
    assert fut.result().task_id == "early"


async def test_late_duplicate_after_release_is_not_stored_again(client: AIMusicClient) -> None:
    hub = client.hub
    hub.expect("t-3")
    body = final_body("t-3")
    await client.webhooks.handle(body, signed(body))
    hub.release("t-3")
    assert await client.webhooks.handle(body, signed(body)) is None  # a new id, same content
    assert list(hub._stored) == ["t-3"]


async def test_streaming_event_does_not_end_the_wait(client: AIMusicClient) -> None:
    client.hub.expect("t-4")
    payload = {
        "code": 200,
        "task_id": "t-4",
        "data": [{"clip_id": "a", "state": "streaming"}, {"clip_id": "b", "state": "running"}],
    }
    body = json.dumps(payload).encode()
    event = await client.webhooks.handle(body, signed(body, event="song.streaming"))
    assert event is not None
    assert event.kind == "streaming"
    assert not event.final
    fut = client.hub.future("t-4")
    assert fut is not None
    assert not fut.done()


async def test_failed_event_resolves_with_a_failed_snapshot(client: AIMusicClient) -> None:
    client.hub.expect("t-5")
    body = final_body("t-5", state="failed")
    event = await client.webhooks.handle(body, signed(body, event="song.failed"))
    assert event is not None
    assert event.kind == "failed"
    fut = client.hub.future("t-5")
    assert fut is not None
    assert fut.result().status == "failed"


async def test_handle_invalid_json_after_valid_signature(client: AIMusicClient) -> None:
    body = b'{"task_id": "t-6", '
    with pytest.raises(ResponseValidationError):
        await client.webhooks.handle(body, signed(body))
    assert client.webhooks.stats.invalid == 1


async def test_handle_without_any_secret_rejects() -> None:
    async with AIMusicClient(api_key="k", base_url="http://127.0.0.1:9") as c:
        body = final_body("t")
        with pytest.raises(WebhookVerificationError, match="no webhook secret"):
            await c.webhooks.handle(body, signed(body))


async def test_large_bodies_are_verified_off_the_loop(
    client: AIMusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[Any] = []
    real = asyncio.to_thread

    async def spy(func: Any, /, *args: Any) -> Any:
        threads.append(func)
        return await real(func, *args)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    client.hub.expect("big")
    payload = json.loads(final_body("big"))
    payload["data"][0]["lyrics"] = "la " * (WEBHOOK_THREAD_THRESHOLD // 3 + 10)
    body = json.dumps(payload).encode()
    event = await client.webhooks.handle(body, signed(body))
    assert event is not None
    assert event.final
    assert len(threads) == 1
    small = final_body("small")
    await client.webhooks.handle(small, signed(small))
    assert len(threads) == 1


async def test_clock_seam_decides_freshness(
    client: AIMusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = final_body("t-7")
    headers = signed(body, ts=1_000_000)
    monkeypatch.setattr(_clock, "time", lambda: 1_000_000 + 10.0)
    assert await client.webhooks.handle(body, headers) is not None
    monkeypatch.setattr(_clock, "time", lambda: 1_000_000 + 400.0)
    with pytest.raises(WebhookVerificationError, match="too old"):
        await client.webhooks.handle(body, signed(body, ts=1_000_000))


# -- the embedded receiver -------------------------------------------------------------------------
async def test_serve_sets_up_tasks_and_answers_by_the_rules(client: AIMusicClient) -> None:
    url = await client.webhooks.serve()
    assert url.startswith("http://127.0.0.1:")
    assert client.webhooks.url == url == client.webhooks.local_url
    assert client.webhooks.enabled
    client.hub.expect("t-8")
    body = final_body("t-8")
    async with aiohttp.ClientSession() as http:

        async def post(data: bytes, headers: dict[str, str], path: str = "") -> int:
            async with http.post(url + path, data=data, headers=headers) as r:
                await r.read()
                return r.status

        assert await post(body, signed(body, "wrong-secret")) == 401
        fut = client.hub.future("t-8")
        assert fut is not None
        assert not fut.done()
        headers = signed(body)
        assert await post(body, headers) == 200
        assert fut.done()
        async with http.post(url, data=body, headers=headers) as r:  # duplicate
            assert r.status == 200
            assert (await r.json())["duplicate"] is True
        other = final_body("not-ours")
        assert await post(other, signed(other), path="/any/path") == 200
        garbage = b"not json at all"
        assert await post(garbage, signed(garbage)) == 400
        async with http.get(url) as r:
            assert r.status == 405
    assert client.webhooks.stats.delivered == 1
    with pytest.raises(RuntimeError, match="already serving"):
        await client.webhooks.serve()

    await client.webhooks.aclose()
    assert client.webhooks.url is None
    assert not client.webhooks.enabled
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.post(url, data=body, headers=signed(body))


async def test_body_size_is_bounded(client: AIMusicClient) -> None:
    client.webhooks.max_body = 2048
    url = await client.webhooks.serve()
    big = b"x" * 4096
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=big, headers=signed(big)) as r:
            assert r.status == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read is bounded
            for _ in range(100):
                yield b"y" * 1024

        async with http.post(url, data=chunks(), headers={"X-Signature": "0" * 64}) as r:
            assert r.status == 413
    assert client.webhooks.stats.received == 0


async def test_serve_with_public_url_and_random_secret() -> None:
    async with AIMusicClient(api_key="k", base_url="http://127.0.0.1:9") as c:
        assert runtime_of(c).webhooks.secret is None
        local = await c.webhooks.serve(public_url="https://hooks.example.com/music", grace=1.5)
        assert c.webhooks.url == "https://hooks.example.com/music"
        assert c.webhooks.local_url == local
        assert c.webhooks.grace == 1.5
        secret = runtime_of(c).webhooks.secret
        assert secret
        assert len(secret) >= 32
        assert secret not in repr(c)
        assert secret not in repr(c.webhooks)
        body = final_body("t")
        async with (
            aiohttp.ClientSession() as http,
            http.post(local, data=body, headers=signed(body, secret)) as r,
        ):
            assert r.status == 200
    # client.aclose() stopped the receiver.
    assert c.webhooks.local_url is None


async def test_use_rejects_bad_urls(client: AIMusicClient) -> None:
    with pytest.raises(ValueError, match="public_url"):
        client.webhooks.use("hooks.example.com/x")
    with pytest.raises(ValueError, match="1024"):
        client.webhooks.use("https://hooks.example.com/" + "x" * 1024)
    with pytest.raises(ValueError, match="grace"):
        client.webhooks.use("https://hooks.example.com/x", grace=float("nan"))
    assert not client.webhooks.enabled
    with pytest.raises(ValueError, match="public_url"):
        await client.webhooks.serve(public_url="ftp://hooks.example.com/x")
    assert client.webhooks.local_url is None
    assert not client.webhooks.enabled
    # The failed attempt left nothing running: serving again works.
    assert (await client.webhooks.serve()).startswith("http://127.0.0.1:")


async def test_raw_asgi_byte_headers_are_accepted(client: AIMusicClient) -> None:
    client.hub.expect("t-11")
    body = final_body("t-11")
    raw = {k.lower().encode(): v.encode() for k, v in signed(body).items()}
    event = await client.webhooks.handle(body, raw)  # type: ignore[arg-type]
    assert event is not None
    assert event.final


# -- mounted in the user's own app -----------------------------------------------------------------
async def test_aiohttp_handler_mounted_in_a_user_app(client: AIMusicClient) -> None:
    app = web.Application()
    app.router.add_post("/hooks/aimusic", client.webhooks.aiohttp_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}/hooks/aimusic"
        client.webhooks.use(url)
        assert client.webhooks.enabled
        assert client.webhooks.url == url
        client.hub.expect("t-9")
        body = final_body("t-9")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers=signed(body, "nope")) as r:
                assert r.status == 401
            async with http.post(url, data=body, headers=signed(body)) as r:
                assert r.status == 200
        fut = client.hub.future("t-9")
        assert fut is not None
        assert fut.done()
    finally:
        await runner.cleanup()


async def test_handle_from_a_hand_written_asgi_app(client: AIMusicClient) -> None:
    """What any other framework does with ``handle()`` (the ready ASGI app is tested under
    uvicorn in test_webhooks_asgi.py), driven by hand with a body split across two messages."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        from aimusic_async import ResponseValidationError, WebhookVerificationError

        assert scope["type"] == "http"
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > 1024 * 1024:
                status = 413
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        else:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                await client.webhooks.handle(b"".join(chunks), headers)
                status = 200
            except WebhookVerificationError:
                status = 401
            except ResponseValidationError:
                status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call(body: bytes, headers: dict[str, str]) -> int:
        parts = [body[:10], body[10:]]
        messages = [
            {"type": "http.request", "body": p, "more_body": i == 0} for i, p in enumerate(parts)
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        await app(scope, receive, send)
        return int(sent[0]["status"])

    client.hub.expect("t-10")
    body = final_body("t-10")
    assert await call(body, signed(body, "bad")) == 401
    assert await call(body, signed(body)) == 200
    fut = client.hub.future("t-10")
    assert fut is not None
    assert fut.done()


async def test_receiver_never_blocks_the_loop(client: AIMusicClient) -> None:
    from blockbuster import blockbuster_ctx

    # blockbuster raises if file, socket or sleep calls block the event loop thread.
    client.webhooks.max_body = 4 * WEBHOOK_THREAD_THRESHOLD  # the client side warns beyond 1 MB
    with blockbuster_ctx():
        url = await client.webhooks.serve()
        client.hub.expect("nb-1")
        payload = json.loads(final_body("nb-1"))
        payload["data"][0]["lyrics"] = "la " * (WEBHOOK_THREAD_THRESHOLD // 3 + 10)
        big = json.dumps(payload).encode()
        small = final_body("nb-2")
        async with aiohttp.ClientSession() as http:
            for body in (big, small, b"x" * (client.webhooks.max_body + 1)):
                async with http.post(url, data=body, headers=signed(body)) as r:
                    assert r.status in (200, 413)
        await client.webhooks.aclose()
    fut = client.hub.future("nb-1")
    assert fut is not None
    assert fut.done()


async def test_dedupe_memory_is_bounded(
    client: AIMusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three keys per final event (id, body digest, final state): room for the last two events.
    monkeypatch.setattr("aimusic_async._constants.WEBHOOK_DEDUPE_LIMIT", 6)
    bodies = [final_body(f"d-{n}") for n in range(10)]
    for n, body in enumerate(bodies):
        assert await client.webhooks.handle(body, signed(body, event_id=f"id-{n}")) is not None
    seen = list(client.webhooks._seen)
    assert len(seen) == 6
    assert [k for k in seen if k.startswith("id:")] == ["id:id-8", "id:id-9"]
    assert [k for k in seen if k.startswith("final:")] == [
        "final:sonic:d-8:succeeded",
        "final:sonic:d-9:succeeded",
    ]
    # A recent event is still recognised, even under a new id; a forgotten one is not.
    assert await client.webhooks.handle(bodies[9], signed(bodies[9], event_id="new")) is None
    assert await client.webhooks.handle(bodies[0], signed(bodies[0], event_id="id-0")) is not None
