"""Fuzzing the webhook receiver: malformed, truncated, oversized and wrongly typed bodies and
headers, forged and tampered signatures. Only typed errors (or 4xx over HTTP), no crash, no
hang, and no waiting task resolved by anything but a genuine, well-formed final callback."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from aimusic_async import AIMusicClient, ResponseValidationError, WebhookVerificationError
from aimusic_async.testing import sign_webhook

SECRET = "whsec-fuzz-3c1f9a0b7d"
EXPECTED = "task-waiting-1"
HEADER_NAMES = [
    "X-Webhook-Signature", "X-Webhook-Timestamp", "X-Signature", "X-Webhook-Id",
    "Idempotency-Key", "X-Webhook-Event", "Content-Type", "x-webhook-signature",
]  # fmt: skip
EVENTS = ["song.completed", "song.failed", "song.streaming", "failed", "", "x.y.z"]


def clip(state: str, n: int = 1) -> dict[str, Any]:
    return {"clip_id": f"clip-{n}", "state": state, "audio_url": f"https://cdn.example/{n}.mp3"}


def final_body(task_id: str = EXPECTED, state: str = "succeeded", **extra: Any) -> bytes:
    payload = {
        "code": 200,
        "message": "success",
        "task_id": task_id,
        "platform": "suno",
        "event": "song.completed" if state == "succeeded" else f"song.{state}",
        "data": [clip(state, 1), clip(state, 2)],
        **extra,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(raw: bytes, secret: str = SECRET, *, ts: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if ts is None else ts))
    current, legacy = sign_webhook(secret, stamp, raw)
    return {
        "X-Webhook-Signature": current,
        "X-Webhook-Timestamp": stamp,
        "X-Signature": legacy,
        "X-Webhook-Id": f"evt-{abs(hash(raw))}",
        "Content-Type": "application/json",
    }


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["code", "data", "task_id", "event", "platform", "message", "state"]),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=15,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "truncated", "mutated", "targeted"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    genuine = final_body()
    if kind == "truncated":
        return genuine[: draw(st.integers(0, len(genuine) - 1))]
    if kind == "mutated":
        pos = draw(st.integers(0, len(genuine) - 1))
        return genuine[:pos] + draw(st.binary(min_size=1, max_size=4)) + genuine[pos + 1 :]
    # Aimed at the waiting task, with a broken or unfinished state.
    payload: dict[str, Any] = {"task_id": EXPECTED, "code": draw(st.sampled_from([200, "200"]))}
    payload["data"] = draw(
        st.one_of(
            json_values,
            st.just([clip("running")]),
            st.just([{"state": "succeeded"}]),  # no clip_id
            st.just([clip("succeeded"), {"clip_id": 7, "state": []}]),
        )
    )
    if draw(st.booleans()):
        payload["event"] = draw(st.sampled_from(EVENTS))
    return json.dumps(payload).encode()


@st.composite
def headers_for(draw: st.DrawFn, raw: bytes) -> tuple[str, dict[str, str]]:
    mode = draw(st.sampled_from(["none", "random", "forged", "stale", "genuine"]))
    if mode == "none":
        return mode, {}
    if mode == "random":
        names = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=5, unique=True))
        values = st.one_of(
            st.text(max_size=80),
            st.from_regex(r"sha256=[0-9a-f]{64}", fullmatch=True),
            st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,12})?", fullmatch=True),
        )
        return mode, {n: draw(values) for n in names}
    if mode == "forged":
        return mode, signed_headers(raw, secret=draw(st.text(min_size=1, max_size=20)))
    if mode == "stale":
        return mode, signed_headers(raw, ts=time.time() - draw(st.integers(301, 10**9)))
    headers = signed_headers(raw)
    if draw(st.booleans()):
        headers["X-Webhook-Event"] = draw(st.sampled_from(EVENTS))
    return mode, headers


async def _handle_once(raw: bytes, headers: dict[str, str]) -> tuple[Any, BaseException | None]:
    client = AIMusicClient(api_key="sk-fuzz", base_url="http://127.0.0.1:9", webhook_secret=SECRET)
    async with client:
        client.webhooks.use("https://hooks.example/cb")
        client.hub.expect(EXPECTED)
        future = client.hub.future(EXPECTED)
        assert future is not None
        try:
            event = await client.webhooks.handle(raw, headers)
        except (WebhookVerificationError, ResponseValidationError) as exc:
            assert not future.done(), "a refused callback resolved a task"
            return None, exc
        if future.done():
            # Only a genuine, well-formed, final callback for this very task may do that.
            assert event is not None
            assert event.final
            assert event.task_id == EXPECTED
            assert future.result() == event.snapshot
            assert event.snapshot.finished
        return event, None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_handle_gives_typed_errors_and_resolves_only_genuine_callbacks(data: st.DataObject) -> None:
    raw = data.draw(bodies())
    mode, headers = data.draw(headers_for(raw))
    _, error = asyncio.run(_handle_once(raw, headers))
    if mode != "genuine":
        # Without our secret's current signature, nothing is ever accepted.
        assert isinstance(error, WebhookVerificationError), (mode, headers, error)
        assert SECRET not in str(error)


def test_a_genuine_final_callback_does_resolve() -> None:
    # The positive control for the property above: the same path accepts the real thing.
    raw = final_body()
    event, error = asyncio.run(_handle_once(raw, signed_headers(raw)))
    assert error is None
    assert event is not None
    assert event.final


async def test_unsigned_event_header_cannot_override_the_signed_body() -> None:
    """A captured, genuinely signed streaming callback replayed with X-Webhook-Event changed
    to song.failed (the header is not covered by the signature) must not fail the task."""
    async with AIMusicClient(
        api_key="sk-fuzz", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as client:
        client.webhooks.use("https://hooks.example/cb")
        client.hub.expect(EXPECTED)
        future = client.hub.future(EXPECTED)
        assert future is not None
        payload = json.loads(final_body(state="running"))
        payload["event"] = "song.streaming"
        raw = json.dumps(payload).encode()
        headers = signed_headers(raw)
        headers["X-Webhook-Event"] = "song.failed"
        event = await client.webhooks.handle(raw, headers)
        assert event is not None
        assert event.kind == "streaming"
        assert not future.done()


async def test_unsigned_event_header_alone_cannot_fail_a_running_task() -> None:
    """Same replay, on a body that names no event and says code 200 with running clips: the
    header is all that claims a failure, and it is not signed."""
    async with AIMusicClient(
        api_key="sk-fuzz", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as client:
        client.webhooks.use("https://hooks.example/cb")
        client.hub.expect(EXPECTED)
        future = client.hub.future(EXPECTED)
        assert future is not None
        payload = json.loads(final_body(state="running"))
        del payload["event"]
        raw = json.dumps(payload).encode()
        headers = {**signed_headers(raw), "X-Webhook-Event": "song.failed"}
        event = await client.webhooks.handle(raw, headers)
        assert event is not None
        assert not event.final
        assert not future.done()
        # The signed body saying so (code != 200) does end it, with the server's reason.
        payload.update(code=500, message="Generation failed upstream.")
        raw = json.dumps(payload).encode()
        event = await client.webhooks.handle(raw, signed_headers(raw))
        assert event is not None
        assert event.final
        assert future.done()
        assert future.result().status == "failed"


# -- over HTTP: the embedded receiver --------------------------------------------------------
async def _post(session: aiohttp.ClientSession, url: str, data: Any, headers: Any) -> int:
    if isinstance(data, bytes) and len(data) > 65536:
        data = io.BytesIO(data)  # aiohttp warns about large raw bytes bodies

    async def go() -> int:
        async with session.post(url, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status

    return await asyncio.wait_for(go(), 5)  # a hang fails the test


async def test_embedded_receiver_refuses_hostile_requests_and_keeps_serving() -> None:
    async with AIMusicClient(
        api_key="sk-fuzz", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as client:
        url = await client.webhooks.serve()
        client.hub.expect(EXPECTED)
        future = client.hub.future(EXPECTED)
        assert future is not None
        limit = client.webhooks.max_body
        genuine = final_body()

        async def chunks(total: int) -> Any:
            sent = 0
            while sent < total:
                yield b"x" * 65536
                sent += 65536

        cases: list[tuple[str, Any, Any, set[int]]] = [
            ("no signature", genuine, {"Content-Type": "application/json"}, {401}),
            ("forged", genuine, signed_headers(genuine, secret="not-ours"), {401}),
            ("stale", genuine, signed_headers(genuine, ts=time.time() - 3600), {401}),
            ("future", genuine, signed_headers(genuine, ts=time.time() + 3600), {401}),
            ("oversized", b"x" * (limit + 1), signed_headers(b"x"), {413}),
            ("oversized, chunked", chunks(limit + 65536), {}, {413}),
            ("signed garbage", b"\x00\xff{", signed_headers(b"\x00\xff{"), {400}),
            ("signed non-object", b"[1,2]", signed_headers(b"[1,2]"), {400}),
            (
                "signed, too deep",
                b"[" * 50_000 + b"]" * 50_000,
                signed_headers(b"[" * 50_000 + b"]" * 50_000),
                {400},
            ),
            (
                "conflicting signatures",
                genuine,
                CIMultiDict(
                    [
                        *signed_headers(genuine).items(),
                        ("X-Webhook-Signature", "sha256=" + "0" * 64),
                    ]
                ),
                {401},
            ),
        ]
        statuses: dict[str, int] = {}
        async with aiohttp.ClientSession() as session:
            for name, body, headers, allowed in cases:
                status = await _post(session, url, body, headers)
                statuses[name] = status
                assert status in allowed, (name, status)
                assert not future.done(), name

            # A request cut off mid-body: the receiver drops it and keeps serving.
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 5000\r\n\r\n" + genuine[:40]
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            assert not future.done()

            # Still serving: the genuine callback resolves the waiting task.
            assert await _post(session, url, genuine, signed_headers(genuine)) == 200
        assert future.done()
        assert [c.clip_id for c in future.result().clips] == ["clip-1", "clip-2"]
        stats = client.webhooks.stats
        assert stats.rejected >= 5
        assert stats.invalid >= 3
        assert stats.delivered == 1
