"""verify_signature and parse_event: fixed vectors, every failure mode, typed events."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from multidict import CIMultiDict

from aimusic_async import _clock
from aimusic_async._errors import ResponseValidationError, WebhookVerificationError
from aimusic_async.webhooks import parse_event, verify_signature

SECRET = "whsec_test_vector"
BODY = b'{"code":200,"task_id":"t-1","data":[]}'
TS = "1767225600"
# Computed independently with `openssl dgst -sha256 -hmac whsec_test_vector`.
CURRENT_SIG = "8ffc2afc4c3473c2d750dd2962f3b57cc63e5913431b28fc62190e09c0f8da6f"
LEGACY_SIG = "62da523a15bc32d218dbc2befd203a21c5d47d41c14a1b0c41df826f5b2430fb"
NOW = float(TS) + 5


def current_headers(sig: str = CURRENT_SIG, ts: str = TS) -> dict[str, str]:
    return {"X-Webhook-Signature": f"sha256={sig}", "X-Webhook-Timestamp": ts}


def sign(body: bytes, secret: str = SECRET, ts: str = TS) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Webhook-Signature": f"sha256={mac}",
        "X-Webhook-Timestamp": ts,
        "X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def reject(body: bytes, headers: object, secret: str = SECRET, **kw: float) -> str:
    """Assert verification fails; return the reason after checking it leaks nothing."""
    kw.setdefault("now", NOW)
    with pytest.raises(WebhookVerificationError) as info:
        verify_signature(body, headers, secret, **kw)  # type: ignore[arg-type]
    exc = info.value
    text = " ".join([str(exc), repr(exc), exc.reason, *map(str, exc.args)])
    assert not secret or secret not in text
    assert SECRET not in text
    expected_current = hmac.new(
        secret.encode(), f"{TS}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert expected_current not in text
    assert hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() not in text
    assert isinstance(exc, ValueError)
    return exc.reason


# -- fixed vectors -------------------------------------------------------------------------------
def test_vectors_match_an_independent_hmac() -> None:
    assert hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest() == (
        CURRENT_SIG
    )
    assert hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest() == LEGACY_SIG


def test_current_scheme_vector_verifies() -> None:
    verify_signature(BODY, current_headers(), SECRET, now=NOW)


def test_legacy_scheme_vector_verifies() -> None:
    verify_signature(BODY, {"X-Signature": LEGACY_SIG}, SECRET, now=NOW)
    # Legacy has no timestamp, so the clock does not matter.
    verify_signature(BODY, {"X-Signature": LEGACY_SIG.upper()}, SECRET, now=0)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-webhook-signature": f"sha256={CURRENT_SIG}", "x-webhook-timestamp": TS},
        {"X-WEBHOOK-SIGNATURE": f"SHA256={CURRENT_SIG.upper()}", "X-Webhook-TIMESTAMP": TS},
        CIMultiDict({"X-Webhook-Signature": f"sha256={CURRENT_SIG}", "X-Webhook-Timestamp": TS}),
    ],
)
def test_header_names_are_case_insensitive(headers: dict[str, str]) -> None:
    verify_signature(BODY, headers, SECRET, now=NOW)


def test_bytearray_and_memoryview_bodies_are_raw_bytes_too() -> None:
    verify_signature(bytearray(BODY), current_headers(), SECRET, now=NOW)
    verify_signature(memoryview(BODY), current_headers(), SECRET, now=NOW)


def test_now_defaults_to_the_clock_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_clock, "time", lambda: NOW)
    verify_signature(BODY, current_headers(), SECRET)
    monkeypatch.setattr(_clock, "time", lambda: NOW + 10_000)
    assert "too old" in reject(BODY, current_headers(), now=None)  # type: ignore[arg-type]


# -- one test per failure mode -------------------------------------------------------------------
def test_wrong_secret() -> None:
    assert "does not match" in reject(BODY, current_headers(), secret="another-secret")
    assert "does not match" in reject(BODY, {"X-Signature": LEGACY_SIG}, secret="another-secret")


def test_tampered_body() -> None:
    tampered = BODY.replace(b"t-1", b"t-2")
    assert "does not match" in reject(tampered, current_headers())
    assert "does not match" in reject(tampered, {"X-Signature": LEGACY_SIG})


def test_reserialised_json_fails_which_is_why_the_raw_body_matters() -> None:
    same_data = json.dumps(json.loads(BODY)).encode()  # ", " separators instead of ","
    assert same_data != BODY
    assert "raw request bytes" in reject(same_data, current_headers())


def test_tampered_timestamp() -> None:
    # A replayed body with a fresh timestamp: the timestamp is part of the signed message.
    fresh = str(int(TS) + 60)
    assert "does not match" in reject(BODY, current_headers(ts=fresh), now=float(fresh))


def test_stale_timestamp() -> None:
    assert "too old" in reject(BODY, current_headers(), now=float(TS) + 301)
    assert "too old" in reject(BODY, current_headers(), now=float(TS) + 31, tolerance=30)
    verify_signature(BODY, current_headers(), SECRET, now=float(TS) + 299)


def test_future_timestamp() -> None:
    assert "future" in reject(BODY, current_headers(), now=float(TS) - 301)
    verify_signature(BODY, current_headers(), SECRET, now=float(TS) - 299)


def test_missing_signature_headers() -> None:
    assert "missing signature" in reject(BODY, {})
    assert "missing signature" in reject(BODY, {"X-Webhook-Timestamp": TS})


def test_missing_timestamp_header() -> None:
    headers = {"X-Webhook-Signature": f"sha256={CURRENT_SIG}"}
    assert "missing X-Webhook-Timestamp" in reject(BODY, headers)


@pytest.mark.parametrize(
    "value",
    [
        CURRENT_SIG,  # no scheme
        f"md5={CURRENT_SIG}",  # wrong scheme
        f"sha256={CURRENT_SIG[:-2]}",  # too short
        f"sha256={CURRENT_SIG}00",  # too long
        "sha256=" + "z" * 64,  # not hex
        "sha256=",
        "",
    ],
)
def test_malformed_signature_header(value: str) -> None:
    headers = {"X-Webhook-Signature": value, "X-Webhook-Timestamp": TS}
    assert "malformed X-Webhook-Signature" in reject(BODY, headers)


@pytest.mark.parametrize("value", ["", "abc", "-1767225600", "1.7e9", "nan", "inf", "1" * 20])
def test_malformed_timestamp_header(value: str) -> None:
    assert "malformed X-Webhook-Timestamp" in reject(BODY, current_headers(ts=value))


@pytest.mark.parametrize("value", ["", "xyz", LEGACY_SIG[:40], "sha1=" + LEGACY_SIG])
def test_malformed_legacy_header(value: str) -> None:
    assert "malformed X-Signature" in reject(BODY, {"X-Signature": value})


def test_conflicting_duplicate_headers_are_refused() -> None:
    headers = CIMultiDict([("X-Webhook-Timestamp", TS)])
    headers.add("X-Webhook-Signature", f"sha256={'0' * 64}")
    headers.add("X-Webhook-Signature", f"sha256={CURRENT_SIG}")
    assert "conflicting" in reject(BODY, headers)


def test_current_scheme_is_not_downgraded_to_legacy() -> None:
    # A valid legacy signature must not rescue a failing current one (it has no replay guard).
    headers = {**current_headers(), "X-Signature": LEGACY_SIG}
    assert "too old" in reject(BODY, headers, now=float(TS) + 3600)


def test_missing_secret_and_non_bytes_body() -> None:
    assert "no webhook secret" in reject(BODY, current_headers(), secret="")
    with pytest.raises(TypeError, match="raw request bytes"):
        verify_signature(BODY.decode(), current_headers(), SECRET, now=NOW)  # type: ignore[arg-type]


# -- typed events --------------------------------------------------------------------------------
DOC_EXAMPLE = {
    "code": 200,
    "task_id": "4b5e7a2c-0000-4000-8000-000000000001",
    "platform": "suno",
    "data": [
        {
            "clip_id": "30264033-2b01-43a7-8779-2a834b067486",
            "state": "succeeded",
            "title": "Sunshine in My Pocket",
            "tags": "electric with claps and synths, happy, pop",
            "audio_url": "https://cdn1.suno.ai/30264033-2b01-43a7-8779-2a834b067486.mp3",
            "video_url": None,
            "created_at": "2025-10-12T13:13:02.488Z",
            "duration": "104.88",
            "negative_tags": None,
            "mv": "chirp-v5",
        },
        {"clip_id": "c2", "state": "failed", "error_message": "moderation"},
    ],
}


def test_completed_event_parses_into_clip_models() -> None:
    headers = {
        "X-Webhook-Event": "song.completed",
        "X-Webhook-Id": "evt-1",
        "X-Webhook-Timestamp": TS,
    }
    event = parse_event(json.dumps(DOC_EXAMPLE).encode(), headers)
    assert event.kind == "completed"
    assert event.final
    assert event.id == "evt-1"
    assert event.family == "sonic"  # "suno" is the old name of sonic
    assert event.platform == "suno"
    assert event.timestamp == float(TS)
    assert event.task_id == DOC_EXAMPLE["task_id"]
    assert [c.clip_id for c in event.clips] == ["30264033-2b01-43a7-8779-2a834b067486", "c2"]
    assert event.clips[0].duration == pytest.approx(104.88)
    assert event.clips[0].model_extra == {"negative_tags": None}
    assert event.snapshot.status == "succeeded"


def test_failed_event_without_clips_is_final_and_carries_the_reason() -> None:
    body = {"code": 500, "task_id": "t-9", "message": "generation failed", "data": None}
    event = parse_event(json.dumps(body).encode(), {"x-webhook-event": "song.failed"})
    assert event.kind == "failed"
    assert event.final
    assert event.snapshot.status == "failed"
    assert event.snapshot.message == "generation failed"


def test_streaming_event_is_not_final_and_kind_can_come_from_the_body() -> None:
    body = {
        "code": 200,
        "task_id": "t-s",
        "event": "song.streaming",
        "data": [{"clip_id": "a", "state": "streaming"}, {"clip_id": "b", "state": "running"}],
    }
    event = parse_event(json.dumps(body).encode())
    assert event.kind == "streaming"
    assert event.event == "song.streaming"
    assert not event.final
    assert event.id is None


def test_kind_inferred_without_an_event_name() -> None:
    failed = {"code": 200, "task_id": "t", "data": [{"clip_id": "a", "state": "failed"}]}
    assert parse_event(json.dumps(failed).encode()).kind == "failed"
    done = {"code": 200, "task_id": "t", "data": [{"clip_id": "a", "state": "succeeded"}]}
    assert parse_event(json.dumps(done).encode()).kind == "completed"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"code": 200, "data": []}', "no task_id"),
        (b'{"task_id": "t", "data": [{"state": "succeeded"}]}', "clip_id"),
        (b'{"task_id": "t", "data": "done"}', "not a list"),
        (b'{"task_id": "t", "code": 400, "message": "task not found."}', "not a task state"),
    ],
)
def test_malformed_bodies_raise_response_validation_error(body: bytes, match: str) -> None:
    with pytest.raises(ResponseValidationError, match=match):
        parse_event(body)
