"""Webhook deliveries: body, signatures recomputed here, loss, duplicates, retries, callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aimusic_async.testing import EmulatorConfig

from .conftest import FAST, MakeApi

DESC = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"}


class Receiver:
    """A loopback webhook endpoint that records raw deliveries and answers scripted statuses."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # consumed first; then 200
        self.url = ""
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def wait_for(self, count: int, timeout: float = 3.0) -> None:
        async def until() -> None:
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), timeout)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()


def verify(headers: dict[str, str], raw: bytes, secret: str) -> None:
    ts = headers["X-Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"
    legacy = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Signature"] == legacy


async def test_completed_webhook_signed_with_the_given_secret(
    make_api: MakeApi, receiver: Receiver
) -> None:
    api = await make_api(FAST)
    task_id = await api.create({**DESC, "webhook_url": receiver.url, "webhook_secret": "s3cret"})
    await receiver.wait_for(1)
    headers, raw = receiver.deliveries[0]
    verify(headers, raw, "s3cret")
    assert headers["X-Webhook-Id"] == headers["Idempotency-Key"]
    assert headers["X-Webhook-Event"] == "song.completed"
    assert headers["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(raw)
    assert body["task_id"] == task_id
    assert body["platform"] == "sonic"
    assert body["event"] == "song.completed"
    assert body["code"] == 200
    assert [c["state"] for c in body["data"]] == ["succeeded", "succeeded"]
    # the same clips a poll returns
    final = await api.wait(task_id)
    assert [c["clip_id"] for c in body["data"]] == [c["clip_id"] for c in final.body["data"]]
    assert api.emu.stats.webhooks_sent == 1


async def test_failed_webhook_and_default_secret(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST.replace(clip_failure_rate=1.0, default_webhook_secret="dflt"))
    await api.create({**DESC, "webhook_url": receiver.url})
    await receiver.wait_for(1)
    headers, raw = receiver.deliveries[0]
    verify(headers, raw, "dflt")
    assert headers["X-Webhook-Event"] == "song.failed"
    body = json.loads(raw)
    assert body["event"] == "song.failed"
    assert all(c["state"] == "failed" and c["error_message"] for c in body["data"])


async def test_duplicates_are_the_same_event(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST.replace(webhook_duplicate_rate=1.0))
    await api.create({**DESC, "webhook_url": receiver.url, "webhook_secret": "k"})
    await receiver.wait_for(2)
    (h1, b1), (h2, b2) = receiver.deliveries
    assert b1 == b2
    assert h1["X-Webhook-Id"] == h2["X-Webhook-Id"]
    assert h1["X-Webhook-Signature"] == h2["X-Webhook-Signature"]
    assert api.emu.stats.webhooks_duplicated == 1
    assert api.emu.stats.webhooks_sent == 2


async def test_lost_webhooks(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST.replace(webhook_loss_rate=1.0))
    task_id = await api.create({**DESC, "webhook_url": receiver.url})
    await api.wait(task_id)
    await asyncio.sleep(0.05)
    assert receiver.deliveries == []
    assert api.emu.stats.webhooks_lost == 1
    assert api.emu.webhooks_pending == 0


async def test_retried_on_5xx_never_on_4xx(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST.replace(webhook_retry_delay=0.01))
    receiver.statuses = [503, 500]
    await api.create({**DESC, "webhook_url": receiver.url})
    await receiver.wait_for(3)
    assert len({h["X-Webhook-Id"] for h, _ in receiver.deliveries}) == 1
    receiver.statuses = [404]
    await api.create({**DESC, "webhook_url": receiver.url})
    await receiver.wait_for(4)
    await asyncio.sleep(0.1)
    assert len(receiver.deliveries) == 4
    assert api.emu.stats.webhooks_failed == 1


async def test_unreachable_receiver_gives_up(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(webhook_retry_delay=0.01, webhook_attempts=2))
    await api.create({**DESC, "webhook_url": "http://127.0.0.1:9/hook"})
    for _ in range(100):
        if api.emu.stats.webhooks_failed:
            break
        await asyncio.sleep(0.02)
    assert api.emu.stats.webhooks_failed == 1
    assert api.emu.stats.webhooks_sent == 0


@pytest.mark.parametrize(
    "url",
    ["http://example.com/hook", "ftp://127.0.0.1/x", "not a url", "https://" + "a" * 1100],
)
async def test_webhook_url_rules(make_api: MakeApi, url: str) -> None:
    api = await make_api(FAST)
    reply = await api.post("/api/v1/sonic/create", {**DESC, "webhook_url": url})
    assert reply.status == 400
    assert reply.body["message"] == "The 'webhook_url' field should be a valid https URL."
    for ok_url in ("https://example.com/hook", "http://localhost:1/x", "http://[::1]:1/x"):
        assert (
            await api.post("/api/v1/sonic/create", {**DESC, "webhook_url": ok_url})
        ).status == 200


async def test_async_upload_callback(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST)
    reply = await api.post(
        "/api/v1/sonic/upload", {"url": "https://e.com/x.mp3", "callback_url": receiver.url}
    )
    await receiver.wait_for(1)
    headers, raw = receiver.deliveries[0]
    verify(headers, raw, api.emu.config.default_webhook_secret)
    body = json.loads(raw)
    assert body["event"] == headers["X-Webhook-Event"] == "upload.completed"
    assert body["task_id"] == reply.body["task_id"]
    assert body["data"][0]["clip_id"]


async def test_producer_webhook(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST)
    reply = await api.post(
        "/api/v1/producer/create",
        {"task_type": "create_music", "sound": "lofi", "webhook_url": receiver.url},
    )
    await receiver.wait_for(1)
    body = json.loads(receiver.deliveries[0][1])
    assert body["platform"] == "producer"
    assert body["status"] == "SUCCESS"
    assert body["task_id"] == reply.body["task_id"]
    assert len(body["data"]) == 1


async def test_close_drops_pending_deliveries(receiver: Receiver) -> None:
    from aimusic_async.testing import Emulator

    async with Emulator(EmulatorConfig(generation_time=(5.0, 5.0))) as emu:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            async with session.post(
                emu.base_url + "/api/v1/sonic/create",
                json={**DESC, "webhook_url": receiver.url},
                headers=headers,
            ) as resp:
                assert resp.status == 200
        assert emu.webhooks_pending == 1
    assert emu.webhooks_pending == 0
    assert receiver.deliveries == []


async def test_streaming_event_before_completion(make_api: MakeApi, receiver: Receiver) -> None:
    api = await make_api(FAST.replace(webhook_streaming=True, generation_time=(0.3, 0.3)))
    task_id = await api.create({**DESC, "webhook_url": receiver.url, "webhook_secret": "k"})
    await receiver.wait_for(2)
    (h1, b1), (h2, b2) = receiver.deliveries
    for headers, raw in receiver.deliveries:
        verify(headers, raw, "k")
    assert h1["X-Webhook-Event"] == "song.streaming"
    assert h2["X-Webhook-Event"] == "song.completed"
    assert h1["X-Webhook-Id"] != h2["X-Webhook-Id"]
    first, last = json.loads(b1), json.loads(b2)
    assert first["task_id"] == last["task_id"] == task_id
    assert "streaming" in {c["state"] for c in first["data"]}
    assert not {c["state"] for c in first["data"]} <= {"succeeded", "failed"}
    assert all(c["state"] == "succeeded" for c in last["data"])
