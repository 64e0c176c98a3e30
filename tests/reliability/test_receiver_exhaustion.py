"""The webhook receiver against senders that never sign anything but try to exhaust it: many
slow bodies, bodies trickled to dodge a per-chunk timeout, request heads that never end, more
connections than it should hold. Real sockets on 127.0.0.1, small limits set for the test.
Each sender must be cut off (and its connection closed), the bytes the receiver holds must stay
within its bound, and a genuine signed callback sent meanwhile must still resolve its task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async.testing import sign_webhook
from aimusic_async.webhooks import DeliveryBudget, DeliveryRefused, WebhookStats

SECRET = "whsec-exhaustion-5d2e8c"
# A hang guard, not a timing assertion: every sender must be closed well before this.
GUARD = 10.0


def genuine_body(task_id: str) -> bytes:
    clips = [{"clip_id": f"{task_id}-1", "state": "succeeded", "audio_url": "https://c.example/1"}]
    payload = {"code": 200, "task_id": task_id, "event": "song.completed", "data": clips}
    return json.dumps(payload).encode()


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    current, _ = sign_webhook(SECRET, stamp, body)
    return {
        "X-Webhook-Signature": current,
        "X-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
async def client() -> AsyncIterator[AIMusicClient]:
    # Nothing here talks to the API: a closed port is a fine base URL.
    async with AIMusicClient(
        api_key="sk-test", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as c:
        yield c


def host_port(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    return host, int(port)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (with a hang guard) until ``condition()`` holds."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (counters have no event to wait on)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), GUARD)


class SlowSender:
    """A raw connection that sends a request head and part of a body, then trickles (``pace``
    seconds between ``step``-byte writes) or goes silent (``pace`` None) until the server
    closes it. ``outcome`` is the status it was answered with, or "closed" without one."""

    def __init__(self, host: str, port: int, *, declared: int, first: int) -> None:
        self.host, self.port, self.declared, self.first = host, port, declared, first
        self.outcome: str | None = None
        self.sent = 0

    async def run(self, *, pace: float | None = None, step: int = 512) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        answer = b""
        try:
            head = (
                f"POST /hook HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {self.declared}\r\n\r\n"
            ).encode()
            writer.write(head + b"x" * self.first)
            self.sent = self.first
            await writer.drain()
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(4096), pace)
                except asyncio.TimeoutError:  # still open: trickle one more step
                    writer.write(b"x" * step)
                    self.sent += step
                    await writer.drain()
                    continue
                if not data:
                    break
                answer += data
        except (ConnectionError, OSError):
            pass  # closed with data unread on its side: a reset is a cut-off too
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        self.outcome = answer.split(b" ", 2)[1].decode() if answer[:5] == b"HTTP/" else "closed"


async def post_genuine(url: str, task_id: str) -> int:
    body = genuine_body(task_id)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed(body)) as r,
    ):
        await r.read()
        return r.status


# -- slow bodies -----------------------------------------------------------------------------------
async def test_slow_senders_are_cut_off_within_bounds_and_a_genuine_callback_gets_through(
    client: AIMusicClient,
) -> None:
    hooks = client.webhooks
    hooks.max_deliveries = 8
    hooks.max_bytes_in_flight = 32 * 1024
    hooks.read_timeout = 1.0
    url = await hooks.serve()
    host, port = host_port(url)
    client.hub.expect("genuine-1")
    future = client.hub.future("genuine-1")
    assert future is not None

    # 150 senders each declare ~100 KB, send 6 KB at once and then trickle: together far more
    # than 8 deliveries and 32 KiB.
    senders = [SlowSender(host, port, declared=100_000, first=6 * 1024) for _ in range(150)]
    attack = [asyncio.create_task(s.run(pace=0.05)) for s in senders]
    await until(lambda: hooks.stats.shed > 0 and hooks.stats.deliveries_in_flight > 0)

    # While the attack holds the receiver, a genuine callback is accepted and resolves its task.
    assert await post_genuine(url, "genuine-1") == 200
    assert future.done()
    assert [c.clip_id for c in future.result().clips] == ["genuine-1-1"]

    await asyncio.wait_for(asyncio.gather(*attack), GUARD)
    # Every sender was cut off: answered 503 / 408 and closed, or (the few whose head met a
    # full connection table) closed at once.
    outcomes = {s.outcome for s in senders}
    assert outcomes <= {"503", "408", "closed"}, outcomes
    stats = hooks.stats
    # Cut off for being slow (the deadline) and to admit newer callbacks (the slots and bytes).
    assert stats.timed_out >= 1
    assert stats.shed >= 1
    assert stats.timed_out + stats.shed >= len(senders) // 2
    # The senders sent far more than the bound, and the receiver never held more than it.
    assert sum(s.sent for s in senders) > 10 * hooks.max_bytes_in_flight
    assert 0 < stats.peak_bytes_in_flight <= hooks.max_bytes_in_flight
    assert stats.received == 1  # nothing unsigned ever reached verification
    assert stats.delivered == 1
    # And everything held was given back.
    assert stats.bytes_in_flight == 0
    assert stats.deliveries_in_flight == 0
    assert hooks.budget.deliveries == 0


async def test_the_read_deadline_is_for_the_whole_body_not_per_chunk(
    client: AIMusicClient,
) -> None:
    hooks = client.webhooks
    hooks.read_timeout = 0.4
    url = await hooks.serve()
    host, port = host_port(url)
    # A byte every 50 ms: no pause comes near the deadline, yet the body never ends.
    sender = SlowSender(host, port, declared=50_000, first=10)
    await asyncio.wait_for(sender.run(pace=0.05, step=1), GUARD)
    assert sender.outcome == "408"
    assert hooks.stats.timed_out == 1
    assert hooks.stats.deliveries_in_flight == 0
    # The receiver still serves.
    client.hub.expect("after")
    assert await post_genuine(url, "after") == 200


async def test_a_mounted_handler_shares_the_managers_bounds(
    client: AIMusicClient, serve_app: Callable[[web.Application], Any]
) -> None:
    hooks = client.webhooks
    hooks.read_timeout = 0.3
    app = web.Application()
    app.router.add_post("/hook", hooks.aiohttp_handler)
    base = await serve_app(app)
    host, port = host_port(base + "/hook")
    silent = SlowSender(host, port, declared=50_000, first=100)
    await asyncio.wait_for(silent.run(), GUARD)  # goes silent after 100 bytes
    assert silent.outcome == "408"
    assert hooks.stats.timed_out == 1
    client.hub.expect("mounted")
    assert await post_genuine(base + "/hook", "mounted") == 200
    fut = client.hub.future("mounted")
    assert fut is not None
    assert fut.done()


# -- heads and connections -------------------------------------------------------------------------
async def test_a_request_head_that_never_ends_is_closed(
    client: AIMusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aimusic_async._webhook_receiver.WEBHOOK_HEAD_TIMEOUT", 0.3)
    url = await client.webhooks.serve()
    host, port = host_port(url)

    async def stalled_head() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            await writer.drain()
            return await reader.read()  # returns once the server closes
        finally:
            writer.close()
            await writer.wait_closed()

    async def idle() -> bytes:  # connects and never sends a byte
        reader, writer = await asyncio.open_connection(host, port)
        try:
            return await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.wait_for(asyncio.gather(stalled_head(), idle()), GUARD)
    client.hub.expect("h")
    assert await post_genuine(url, "h") == 200


async def test_connections_beyond_the_cap_close_the_longest_waiting(
    client: AIMusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aimusic_async._webhook_receiver.WEBHOOK_MAX_CONNECTIONS", 10)
    url = await client.webhooks.serve()
    host, port = host_port(url)
    streams = []
    for _ in range(40):  # each sends half a head and waits
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        streams.append((reader, writer))
    try:
        # The receiver keeps at most 10 open: the 30 that waited longest are closed ...
        closed = await asyncio.wait_for(asyncio.gather(*(r.read() for r, _ in streams[:30])), GUARD)
        assert closed == [b""] * 30
        assert not any(r.at_eof() for r, _ in streams[30:])
        # ... and a genuine callback still gets in (closing the next longest-waiting one).
        client.hub.expect("capped")
        assert await post_genuine(url, "capped") == 200
        fut = client.hub.future("capped")
        assert fut is not None
        assert fut.done()
    finally:
        for _, writer in streams:
            writer.close()
        for _, writer in streams:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


# -- the budget itself, without a web framework ----------------------------------------------------
async def test_budget_admits_the_newest_and_cuts_the_oldest_reading() -> None:
    stats = WebhookStats()
    budget = DeliveryBudget(stats, max_deliveries=2, max_bytes=100, read_timeout=60)
    first, second = budget.admit(), budget.admit()
    first.take(40)
    second.take(40)
    # Full: a newcomer cuts off the oldest delivery still reading, which gives its bytes back.
    third = budget.admit()
    assert first.cut.done()
    assert first.cut.result().status == 503
    assert (budget.deliveries, budget.bytes_in_flight) == (2, 40)
    with pytest.raises(DeliveryRefused):
        first.take(1)
    # Room for bytes is made the same way, never by cutting off a body already read.
    second.body_read()
    third.take(60)
    assert not second.cut.done()
    # The oldest reading delivery asking for more than there is room for is refused itself.
    with pytest.raises(DeliveryRefused) as refused:
        third.take(1)
    assert refused.value.status == 503
    assert (budget.deliveries, budget.bytes_in_flight) == (1, 40)
    # Every slot past its read: a newcomer is refused outright.
    fourth = budget.admit()
    fourth.body_read()
    with pytest.raises(DeliveryRefused):
        budget.admit()
    assert stats.peak_bytes_in_flight == 100
    for d in (first, second, third, fourth):
        d.close()
        d.close()  # idempotent
    assert (budget.deliveries, budget.bytes_in_flight) == (0, 0)
    assert stats.shed == 3


async def test_budget_read_is_cut_by_its_deadline() -> None:
    stats = WebhookStats()
    budget = DeliveryBudget(stats, max_deliveries=4, max_bytes=100, read_timeout=0.05)
    delivery = budget.admit()
    never: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    with pytest.raises(DeliveryRefused) as refused:
        await asyncio.wait_for(delivery.read(never), GUARD)
    assert refused.value.status == 408
    assert never.cancelled()  # the abandoned read does not linger
    assert stats.timed_out == 1
    assert budget.deliveries == 0
