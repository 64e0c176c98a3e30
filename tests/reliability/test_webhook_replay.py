"""Replays of genuine callbacks. The legacy ``X-Signature`` has no timestamp, so a captured
callback verifies forever, and its ``X-Webhook-Id`` is not signed, so a replay can carry a new
one. Deduplication on what is signed (the body, the task's final state) makes a replay change
nothing; ``legacy_signatures=False`` refuses the legacy scheme outright. Real HTTP on
127.0.0.1 through the embedded receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aimusic_async import AIMusicClient, WebhookVerificationError
from aimusic_async.testing import sign_webhook
from aimusic_async.webhooks import dedupe_keys, parse_event, verify_signature

SECRET = "whsec-replay-71b0c4"


def body_for(task_id: str, *, state: str = "succeeded", indent: int | None = None) -> bytes:
    payload: dict[str, Any] = {
        "code": 200,
        "task_id": task_id,
        "platform": "suno",
        "event": {"succeeded": "song.completed", "failed": "song.failed"}.get(
            state, "song.streaming"
        ),
        "data": [{"clip_id": f"{task_id}-1", "state": state, "audio_url": "https://c.example/1"}],
    }
    return json.dumps(payload, indent=indent).encode()


def legacy_headers(body: bytes, event_id: str) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": mac, "X-Webhook-Id": event_id, "Content-Type": "application/json"}


def current_headers(body: bytes, event_id: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    current, _ = sign_webhook(SECRET, stamp, body)
    return {
        "X-Webhook-Signature": current,
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Id": event_id,
        "Content-Type": "application/json",
    }


@pytest.fixture
async def client() -> AsyncIterator[AIMusicClient]:
    async with AIMusicClient(
        api_key="sk-test", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as c:
        yield c


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_a_legacy_callback_replayed_with_a_new_id_changes_nothing(
    client: AIMusicClient,
) -> None:
    url = await client.webhooks.serve()
    hub = client.hub
    hub.expect("t-replay")
    captured = body_for("t-replay")
    assert await post(url, captured, legacy_headers(captured, "evt-1")) == (
        200,
        {"received": True, "duplicate": False},
    )
    fut = hub.future("t-replay")
    assert fut is not None
    assert fut.done()
    hub.release("t-replay")  # the waiting task has its result
    stats = client.webhooks.stats
    before = (stats.accepted, stats.delivered)

    # The same bytes, again and again, each time with an id never seen: all duplicates.
    for n in range(3):
        status, answer = await post(url, captured, legacy_headers(captured, f"forged-{n}"))
        assert (status, answer["duplicate"]) == (200, True)
    assert stats.duplicates == 3
    assert (stats.accepted, stats.delivered) == before
    assert list(hub._stored) == ["t-replay"]  # the genuine result, kept once, nothing more
    # The replays' fresh ids were not remembered (they cannot push real entries out).
    assert not any("forged" in key for key in client.webhooks._seen)


async def test_the_same_final_state_resent_in_other_bytes_is_a_duplicate(
    client: AIMusicClient,
) -> None:
    url = await client.webhooks.serve()
    client.hub.expect("t-final")
    first = body_for("t-final")
    assert (await post(url, first, current_headers(first, "evt-a")))[0] == 200
    # Signed again (fresh timestamp, new id) with different spacing: same task, same outcome.
    again = body_for("t-final", indent=2)
    assert again != first
    status, answer = await post(url, again, current_headers(again, "evt-b"))
    assert (status, answer["duplicate"]) == (200, True)
    assert client.webhooks.stats.accepted == 1
    assert client.webhooks.stats.duplicates == 1
    # A different outcome of another task is not caught by any of that.
    other = body_for("t-other", state="failed")
    status, answer = await post(url, other, current_headers(other, "evt-c"))
    assert (status, answer["duplicate"]) == (200, False)


async def test_streaming_updates_are_not_taken_for_duplicates(client: AIMusicClient) -> None:
    hooks = client.webhooks
    client.hub.expect("t-stream")
    one = body_for("t-stream", state="streaming")
    two = body_for("t-stream", state="streaming", indent=1)  # a later, different update
    assert await hooks.handle(one, current_headers(one, str(uuid.uuid4()))) is not None
    assert await hooks.handle(two, current_headers(two, str(uuid.uuid4()))) is not None
    final = body_for("t-stream")
    event = await hooks.handle(final, current_headers(final, str(uuid.uuid4())))
    assert event is not None
    assert event.final
    assert (hooks.stats.accepted, hooks.stats.duplicates, hooks.stats.delivered) == (3, 0, 1)


async def test_legacy_signatures_false_refuses_legacy_only_callbacks(
    client: AIMusicClient,
) -> None:
    hooks = client.webhooks
    assert hooks.legacy_signatures is True  # the documented default
    hooks.legacy_signatures = False
    url = await hooks.serve()
    client.hub.expect("t-strict")
    body = body_for("t-strict")
    status, _ = await post(url, body, legacy_headers(body, "evt-legacy"))
    assert status == 401
    fut = client.hub.future("t-strict")
    assert fut is not None
    assert not fut.done()
    assert hooks.stats.rejected == 1
    assert hooks.stats.accepted == 0
    # The current scheme still works (also with the legacy header alongside, as the API sends).
    both = {**current_headers(body, "evt-current"), **legacy_headers(body, "evt-current")}
    assert (await post(url, body, both))[0] == 200
    assert fut.done()
    assert hooks.stats.delivered == 1


def test_verify_signature_legacy_keyword() -> None:
    body = body_for("t-kw")
    legacy = legacy_headers(body, "e")
    verify_signature(body, legacy, SECRET)  # accepted by default
    with pytest.raises(WebhookVerificationError, match="legacy_signatures=False"):
        verify_signature(body, legacy, SECRET, legacy_signatures=False)
    verify_signature(body, current_headers(body, "e"), SECRET, legacy_signatures=False)
    # Refusing the legacy scheme never lets a forgery through the current one.
    forged = {**current_headers(body, "e"), "X-Webhook-Signature": "sha256=" + "0" * 64}
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_signature(body, {**forged, **legacy}, SECRET, legacy_signatures=False)


def test_dedupe_keys_cover_what_is_signed() -> None:
    body = body_for("t-keys")
    event = parse_event(body, {"X-Webhook-Id": "evt-9"})
    keys = dedupe_keys(event, body)
    assert "id:evt-9" in keys
    assert "body:" + hashlib.sha256(body).hexdigest() in keys
    assert "final:sonic:t-keys:succeeded" in keys
    # The unsigned id is the only key a replay can change.
    replayed = parse_event(body, {"X-Webhook-Id": "evt-other"})
    assert set(dedupe_keys(replayed, body)) - set(keys) == {"id:evt-other"}
    # A streaming event has no final key, and no id key without an id.
    streaming = body_for("t-keys", state="streaming")
    assert [k.split(":")[0] for k in dedupe_keys(parse_event(streaming), streaming)] == ["body"]
