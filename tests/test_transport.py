"""The request pipeline against scripted servers: errors, retries, the credit rule, secrets."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from aimusic_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ContentRejectedError,
    EndpointRetiredError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SubmissionUnknownError,
    SubscriptionInactiveError,
    TaskNotFoundError,
)
from aimusic_async import _constants as C
from aimusic_async._ratelimit import AdaptiveRateLimiter
from aimusic_async._transport import Transport, parse_retry_after

from ._scripted import DROP, Hang, Script

CANARY = "sk-canary-7f3a9c1e5b2d4f60"
Serve = Callable[[web.Application], Awaitable[str]]


async def make(serve_app: Serve, script: Script, **kw: Any) -> Transport:
    base = await serve_app(script.app())
    kw.setdefault("max_retries", 2)
    return Transport(api_key=CANARY, base_url=base, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_success_sends_bearer_per_request_and_json(serve_app: Serve) -> None:
    script = Script([(200, {"task_id": "t1", "message": "success"})])
    t = await make(serve_app, script)
    try:
        r = await t.request("POST", "/api/v1/sonic/create", json={"mv": "sonic-v5"}, kind="start")
        assert r.status == 200
        assert r.data == {"task_id": "t1", "message": "success"}
        seen = script.seen[0]
        assert seen.headers["Authorization"] == f"Bearer {CANARY}"
        assert seen.headers["Content-Type"].startswith("application/json")
        assert seen.body == {"mv": "sonic-v5"}
        # The pool itself carries no auth header: CDN downloads use the same session.
        assert "Authorization" not in t.session.headers
    finally:
        await t.aclose()


async def test_202_and_empty_body(serve_app: Serve) -> None:
    script = Script([(202, None)])
    t = await make(serve_app, script)
    try:
        r = await t.request("GET", "/api/v1/sonic/task/x")
        assert (r.status, r.data) == (202, None)
    finally:
        await t.aclose()


ERROR_CASES: list[tuple[int, dict[str, Any], type[APIError]]] = [
    (400, {"code": 400, "message": "task not found."}, TaskNotFoundError),
    (
        400,
        {"code": 400, "message": "The title character length should be less than 80."},
        BadRequestError,
    ),
    (401, {"code": 401, "message": "Invalid authorization format."}, AuthenticationError),
    (
        403,
        {
            "message": "The remaining credits are not enough. You can buy more one-time credit "
            "packs or subscribe."
        },
        InsufficientCreditsError,
    ),
    (402, {"error": "insufficient credits"}, InsufficientCreditsError),
    (
        403,
        {
            "message": "You do not have an active subscription. Please check whether your renewal "
            "was successful."
        },
        SubscriptionInactiveError,
    ),
    (403, {"message": "The lyrics contain inappropriate content: 'x'."}, ContentRejectedError),
    (
        403,
        {"message": "The song description contains artist names: 'x' which is not allowed."},
        ContentRejectedError,
    ),
    # Nuro's documented 403s are limits, not moderation: no subclass claims to know why.
    (403, {"type": "forbidden", "message": "QPS limit exceeded"}, PermissionDeniedError),
    (403, {"type": "forbidden", "message": "queue is full"}, PermissionDeniedError),
    (403, {"error": "Forbidden"}, PermissionDeniedError),
    (404, {"message": "not found"}, NotFoundError),
    (410, {"message": "Nuro is retired", "type": "gone"}, EndpointRetiredError),
    (422, {"detail": "weird"}, APIError),
]


@pytest.mark.parametrize(("status", "body", "cls"), ERROR_CASES)
async def test_error_mapping(
    serve_app: Serve, status: int, body: dict[str, Any], cls: type[APIError]
) -> None:
    script = Script([(status, body)])
    t = await make(serve_app, script)
    try:
        with pytest.raises(cls) as info:
            await t.request("POST", "/api/v1/sonic/create", json={}, kind="start")
        err = info.value
        assert type(err) is cls
        assert err.status == status
        assert err.message == next(body[k] for k in ("detail", "error", "message") if k in body)
        assert err.body == body
        assert err.path == "/api/v1/sonic/create"
        assert script.count() == 1  # a refusal is final: nothing re-sent
    finally:
        await t.aclose()


async def test_404_on_task_route_is_task_not_found_and_type_kept(serve_app: Serve) -> None:
    script = Script([(404, {"detail": "no such task", "message": "ignored", "type": "not_found"})])
    t = await make(serve_app, script)
    try:
        with pytest.raises(TaskNotFoundError) as info:
            await t.request("GET", "/api/v1/sonic/task/abc")
        assert info.value.message == "no such task"  # detail wins over message
        assert info.value.error_type == "not_found"
        assert isinstance(info.value, NotFoundError)
    finally:
        await t.aclose()


async def test_non_json_error_body_keeps_status_class(serve_app: Serve) -> None:
    script = Script([(502, "<html>Bad gateway</html>")])
    t = await make(serve_app, script, max_retries=0)
    try:
        with pytest.raises(ServerError) as info:
            await t.request("GET", "/api/v1/get-credits")
        assert "Bad gateway" in info.value.message
    finally:
        await t.aclose()


async def test_non_json_success_is_response_validation_error(serve_app: Serve) -> None:
    script = Script([(200, "<<not json>>")])
    t = await make(serve_app, script)
    try:
        with pytest.raises(ResponseValidationError) as info:
            await t.request("GET", "/api/v1/get-credits")
        assert info.value.path == "/api/v1/get-credits"
        assert "not JSON" in str(info.value)
    finally:
        await t.aclose()


class Credits(BaseModel):
    credits: int
    extra_credits: int = 0


async def test_parse_names_path_and_field(serve_app: Serve) -> None:
    script = Script([(200, {"credits": "lots"})])
    t = await make(serve_app, script)
    try:
        r = await t.request("GET", "/api/v1/get-credits")
        with pytest.raises(ResponseValidationError) as info:
            t.parse(Credits, r)
        text = str(info.value)
        assert "/api/v1/get-credits" in text
        assert "credits" in text
        ok = t.parse(Credits, type(r)(200, {"credits": 5}, {}, "/x"))
        assert ok.credits == 5
    finally:
        await t.aclose()


# -- retries (patched clock) ---------------------------------------------------------------------
async def test_safe_request_retries_5xx_with_backoff(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(500, {"message": "Internal Server Error."}), (503, {}), (200, {"ok": True})])
    t = await make(serve_app, script)
    try:
        r = await t.request("GET", "/api/v1/sonic/task/x")
        assert r.data == {"ok": True}
        assert script.count() == 3
        assert len(fake_clock.sleeps) == 2
        # full jitter below the exponential ceiling of each attempt
        assert 0 <= fake_clock.sleeps[0] <= C.RETRY_INITIAL_DELAY
        assert 0 <= fake_clock.sleeps[1] <= 2 * C.RETRY_INITIAL_DELAY
    finally:
        await t.aclose()


async def test_safe_retries_are_bounded(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(500, {"message": "Internal Server Error."})])
    t = await make(serve_app, script, max_retries=3)
    try:
        with pytest.raises(ServerError):
            await t.request("GET", "/api/v1/get-credits")
        assert script.count() == 4
    finally:
        await t.aclose()


async def test_408_retried_for_safe(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(408, {"message": "timeout"}), (200, {"ok": 1})])
    t = await make(serve_app, script)
    try:
        assert (await t.request("GET", "/x")).data == {"ok": 1}
    finally:
        await t.aclose()


async def test_retry_after_decimal_is_honoured(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(429, {"message": "slow down"}, {"Retry-After": "1.5"}), (200, {"ok": 1})])
    t = await make(serve_app, script)
    try:
        await t.request("GET", "/x")
        assert fake_clock.sleeps == [1.5]
    finally:
        await t.aclose()


async def test_retry_after_is_capped(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(503, {}, {"Retry-After": "3600"}), (200, {"ok": 1})])
    t = await make(serve_app, script)
    try:
        await t.request("GET", "/x")
        assert fake_clock.sleeps == [C.RETRY_AFTER_CAP]
    finally:
        await t.aclose()


def test_parse_retry_after_forms() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)


async def test_429_exhausted_raises_rate_limit_error_with_retry_after(
    serve_app: Serve, fake_clock: Any
) -> None:
    script = Script([(429, {"message": "Too many requests"}, {"Retry-After": "0.5"})])
    t = await make(serve_app, script, max_retries=0)
    try:
        with pytest.raises(RateLimitError) as info:
            await t.request("GET", "/x")
        assert info.value.retry_after == 0.5
        # A 429 proves nothing was taken: it earns a few tries even with max_retries=0.
        assert script.count() == 6
    finally:
        await t.aclose()


async def test_safe_request_survives_a_dropped_connection(
    serve_app: Serve, fake_clock: Any
) -> None:
    script = Script([DROP, (200, {"ok": 1})])
    t = await make(serve_app, script)
    try:
        assert (await t.request("GET", "/x")).data == {"ok": 1}
        assert script.count() == 2
    finally:
        await t.aclose()


async def test_safe_timeout_retried_then_api_timeout_error(serve_app: Serve) -> None:
    script = Script([Hang(1.0)])
    t = await make(serve_app, script, max_retries=1, timeout=0.1)
    try:
        with pytest.raises(APITimeoutError):
            await t.request("GET", "/x")
        assert script.count() == 2
    finally:
        await t.aclose()


async def test_deadline_stops_retries_that_would_start_past_it(
    serve_app: Serve, fake_clock: Any
) -> None:
    slow = (429, {"message": "slow"}, {"Retry-After": "5"})
    script = Script([slow, slow, (200, {"ok": True})])
    t = await make(serve_app, script)
    try:
        with pytest.raises(RateLimitError):
            await t.request("GET", "/x", deadline=fake_clock.now + 2.0)
        assert script.count() == 1
        assert fake_clock.sleeps == []
        # With room for the server's pause, the same answer is waited out.
        r = await t.request("GET", "/x", deadline=fake_clock.now + 10.0)
        assert r.data == {"ok": True}
        assert fake_clock.sleeps == [5.0]
    finally:
        await t.aclose()


async def test_task_timeout_504_is_final_a_plain_504_is_retried(
    serve_app: Serve, fake_clock: Any
) -> None:
    refunded = (504, {"message": "Task failed due to timeout. Credits were previously refunded."})
    script = Script([refunded, (504, {"message": "Gateway Timeout"}), (200, {"ok": True})])
    t = await make(serve_app, script)
    try:
        with pytest.raises(ServerError, match="failed due to timeout"):
            await t.request("GET", "/api/v1/sonic/task/x")
        assert script.count() == 1  # an answer about the task: asking again repeats it
        r = await t.request("GET", "/api/v1/sonic/task/x")
        assert r.data == {"ok": True}
        assert script.count() == 3
    finally:
        await t.aclose()


# -- the credit rule ----
@pytest.mark.parametrize(
    "step",
    [DROP, (500, {"message": "Internal Server Error."}), (502, "bad gateway")],
    ids=["dropped", "500", "502"],
)
async def test_start_is_never_resent_after_it_may_have_arrived(
    serve_app: Serve, fake_clock: Any, step: Any
) -> None:
    script = Script([step, (200, {"task_id": "second"})])
    t = await make(serve_app, script, max_retries=5)
    body = {"mv": "sonic-v5", "webhook_secret": CANARY + "-secret"}
    try:
        with pytest.raises(SubmissionUnknownError) as info:
            await t.request(
                "POST", "/api/v1/sonic/create", json=body, kind="start", operation="sonic.create"
            )
        err = info.value
        assert script.count() == 1
        assert err.operation == "sonic.create"
        assert err.path == "/api/v1/sonic/create"
        assert err.payload["mv"] == "sonic-v5"
        assert err.payload["webhook_secret"] == "<redacted>"
        assert "secret" not in str(err).replace("webhook_secret", "")
        assert fake_clock.sleeps == []
    finally:
        await t.aclose()


async def test_start_answered_2xx_but_not_json_is_unknown(serve_app: Serve) -> None:
    script = Script([(200, "<html>accepted</html>")])
    t = await make(serve_app, script, max_retries=5)
    try:
        with pytest.raises(SubmissionUnknownError) as info:
            await t.request("POST", "/c", json={}, kind="start", operation="sonic.create")
        assert "not JSON" in info.value.reason
        assert script.count() == 1
        # The same answer to a safe request is a plain parse error.
        with pytest.raises(ResponseValidationError):
            await t.request("GET", "/x")
    finally:
        await t.aclose()


async def test_start_timeout_is_submission_unknown(serve_app: Serve) -> None:
    script = Script([Hang(1.0)])
    t = await make(serve_app, script, timeout=0.1)
    try:
        with pytest.raises(SubmissionUnknownError) as info:
            await t.request("POST", "/c", json={}, kind="start", operation="sonic.create")
        assert "timed out" in info.value.reason
        assert script.count() == 1
    finally:
        await t.aclose()


async def test_start_resent_after_429_and_limiter_slows(serve_app: Serve, fake_clock: Any) -> None:
    script = Script([(429, {"message": "rate"}, {"Retry-After": "2"}), (200, {"task_id": "t"})])
    limiter = AdaptiveRateLimiter()
    t = await make(serve_app, script, limiter=limiter)
    try:
        r = await t.request("POST", "/c", json={}, kind="start")
        assert r.data == {"task_id": "t"}
        assert script.count() == 2
        assert limiter.rate is not None
        assert fake_clock.sleeps[0] == 2.0
    finally:
        await t.aclose()


async def test_start_resent_after_connect_error(fake_clock: Any) -> None:
    t = Transport(api_key=CANARY, base_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
    try:
        with pytest.raises(APIConnectionError) as info:
            await t.request("POST", "/c", json={}, kind="start")
        assert not isinstance(info.value, SubmissionUnknownError)
        assert len(fake_clock.sleeps) == 2  # nothing was sent, so both retries were allowed
        assert CANARY not in str(info.value)
    finally:
        await t.aclose()


# -- the adaptive limiter ----
async def test_limiter_aimd(fake_clock: Any) -> None:
    lim = AdaptiveRateLimiter()
    await lim.acquire()
    assert fake_clock.sleeps == []  # unlimited before the first 429
    for _ in range(8):
        lim.on_success()
    lim.on_rate_limited(None)
    assert lim.rate == pytest.approx(4.0)  # half the accepted rate of the last second
    lim.on_rate_limited(None)  # same burst: ignored during the cooldown
    assert lim.rate == pytest.approx(4.0)
    fake_clock.advance(1.0)
    lim.on_rate_limited(None)
    assert lim.rate == pytest.approx(2.0)
    for _ in range(4):
        await lim.acquire()
    assert sum(fake_clock.sleeps) == pytest.approx(1.5, abs=0.01)  # paced at 2/s
    # Quick recovery to just below the refused rate (4/s), then a slow probe above it.
    assert lim.ceiling == pytest.approx(0.95 * 4.0)
    steps = 0
    while lim.rate < lim.ceiling:
        lim.on_success()
        steps += 1
    assert steps <= 12
    assert lim.rate == pytest.approx(lim.ceiling)
    lim.on_success()
    assert lim.ceiling < lim.rate < lim.ceiling + 0.2


async def test_limiter_seeds_from_retry_after(fake_clock: Any) -> None:
    lim = AdaptiveRateLimiter()
    lim.on_rate_limited(0.05)  # the server admits about 20 starts a second
    assert lim.rate == pytest.approx(10.0)
    await lim.acquire()
    assert fake_clock.sleeps == [pytest.approx(0.05)]  # nothing before the server's hint


# -- secrets and logging ----
async def test_key_never_in_repr_logs_or_errors(
    serve_app: Serve, caplog: pytest.LogCaptureFixture, fake_clock: Any
) -> None:
    script = Script(
        [(500, {"message": "boom"}), (401, {"message": "Invalid authorization format."})]
    )
    t = await make(serve_app, script)
    caplog.set_level(logging.DEBUG, logger="aimusic_async")
    try:
        with pytest.raises(AuthenticationError) as info:
            await t.request("GET", "/x")
        assert "GET /x -> 500" in caplog.text
        assert "retry 1" in caplog.text
        text = caplog.text + repr(t) + str(info.value) + repr(info.value)
        text += "".join(traceback.format_exception(info.value))
        assert CANARY not in text
    finally:
        await t.aclose()


# -- sessions ----
async def test_callers_session_is_used_and_left_open(serve_app: Serve) -> None:
    script = Script([(200, {"ok": 1})])
    base = await serve_app(script.app())
    async with aiohttp.ClientSession() as session:
        t = Transport(api_key=CANARY, base_url=base, session=session)
        await t.request("GET", "/x")
        assert t.session is session
        await t.aclose()
        assert not session.closed


async def test_owned_session_closed_even_when_aclose_is_cancelled(serve_app: Serve) -> None:
    script = Script([(200, {"ok": 1})])
    t = await make(serve_app, script)
    await t.request("GET", "/x")
    session = t.session
    closer = asyncio.ensure_future(t.aclose())
    await asyncio.sleep(0)
    closer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closer
    assert session.closed
    with pytest.raises(ClientClosedError):  # also a RuntimeError, for older handlers
        _ = t.session


async def test_cancelled_request_leaves_nothing_open(serve_app: Serve) -> None:
    script = Script([Hang(5.0)])
    t = await make(serve_app, script)
    job = asyncio.ensure_future(t.request("GET", "/x"))
    await asyncio.sleep(0.1)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    connector = t.session.connector
    assert connector is not None
    await t.aclose()
    assert connector.closed


async def test_4xx_not_retried_for_safe(serve_app: Serve) -> None:
    script = Script([(403, {"message": "The song description needs moderation review."})])
    t = await make(serve_app, script)
    try:
        with pytest.raises(PermissionDeniedError):
            await t.request("GET", "/x")
        assert script.count() == 1
    finally:
        await t.aclose()
