"""A server (or a proxy in front of it) built to misbehave: absurd ``Retry-After`` values,
gateway pages on polls, ``Retry-After: 0`` loops, oversized answers, a client closed under its
waiters. Each test names the promise it guards; every one runs against a real aiohttp server on
127.0.0.1 and is bounded by ``anyio.fail_after`` so a regression fails instead of hanging."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    PollPolicy,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SubmissionUnknownError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from aimusic_async import _constants as C
from aimusic_async._ratelimit import AdaptiveRateLimiter
from aimusic_async._transport import Transport, error_from_response, parse_retry_after
from aimusic_async.families import NuroFamily, ProducerFamily, RiffusionFamily, SonicFamily

from .._scripted import Hang, Script
from .conftest import settle

Serve = Callable[[web.Application], Awaitable[str]]
TID = "51bc6dd0-508a-414d-9ef3-71f7bad81cf7"
POLL_PATH = f"/api/v1/sonic/task/{TID}"
CREATE = "/api/v1/sonic/create"
QUICK = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=20.0)
# Generous real-time guard: only there so that a regression fails instead of hanging the suite.
GUARD = 10.0

# An hour ahead, as an HTTP date (the fake clock's wall time is 1_800_000_000).
_HOUR_AHEAD = email.utils.formatdate(1_800_000_000 + 3600, usegmt=True)
ABSURD_RETRY_AFTER = ["999999999", "inf", "Infinity", "1e400", "nan", "-5", "-inf", _HOUR_AHEAD]


def clip(n: int, state: str) -> dict[str, Any]:
    body: dict[str, Any] = {"clip_id": f"clip-{n}", "state": state, "title": "Song"}
    if state == "succeeded":
        body["audio_url"] = f"https://cdn.example/{n}.mp3"
    return body


def done() -> tuple[int, dict[str, Any]]:
    return (200, {"code": 200, "message": "success", "data": [clip(1, "succeeded")]})


@pytest.fixture
async def make_client(serve_app: Serve) -> AsyncIterator[Callable[..., Awaitable[AIMusicClient]]]:
    clients: list[AIMusicClient] = []

    async def make(script: Script, **kw: Any) -> AIMusicClient:
        base = await serve_app(script.app())
        kw.setdefault("poll", QUICK)
        c = AIMusicClient(api_key="sk-test", base_url=base, **kw)
        await c.__aenter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


Make = Callable[..., Awaitable[AIMusicClient]]


# -- 1. every server-supplied wait is sane ----------------------------------------------------
@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER)
def test_parse_retry_after_is_finite_non_negative_and_capped(value: str) -> None:
    seconds = parse_retry_after(value, now=1_800_000_000.0)
    assert seconds is None or (math.isfinite(seconds) and 0.0 <= seconds <= C.RETRY_AFTER_CAP)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0, 1e300, 999999999.0])
async def test_limiter_never_takes_an_absurd_hint(value: float, fake_clock: Any) -> None:
    lim = AdaptiveRateLimiter()
    lim.on_rate_limited(value)
    with anyio.fail_after(GUARD):
        await lim.acquire()
        await lim.acquire()
    assert all(math.isfinite(s) and 0.0 <= s <= C.RETRY_AFTER_CAP for s in fake_clock.sleeps)


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER)
async def test_absurd_retry_after_on_a_start_does_not_wedge_later_starts(
    value: str, make_client: Make, fake_clock: Any
) -> None:
    # The first start is refused once with the absurd pause, then every start is accepted.
    script = Script(
        [],
        routes={
            CREATE: [
                (429, {"message": "Too many requests"}, {"Retry-After": value}),
                (200, {"task_id": "t1"}),
                (200, {"task_id": "t2"}),
                (200, {"task_id": "t3"}),
            ]
        },
    )
    client = await make_client(script)
    began = fake_clock.now
    refused: list[RateLimitError] = []
    with anyio.fail_after(GUARD):
        for _ in range(3):
            try:
                await client.sonic.create(
                    mv="sonic-v5", custom_mode=False, gpt_description_prompt="calm lo-fi"
                )
            except RateLimitError as exc:
                refused.append(exc)
    # Allowed: a wait beyond the bound is refused at once (nothing sent), with a sane hint.
    assert all(e.retry_after is not None and math.isfinite(e.retry_after) for e in refused)
    # No wait the server asked for went beyond the documented caps: the client never wedged.
    assert all(math.isfinite(s) and s <= C.RETRY_AFTER_CAP for s in fake_clock.sleeps)
    assert fake_clock.now - began <= C.RETRY_AFTER_CAP + C.START_MAX_WAIT
    assert script.count(CREATE) >= 2  # the refused one was re-sent and later starts went out


async def test_start_whose_limiter_wait_exceeds_the_deadline_fails_at_once(
    serve_app: Serve, fake_clock: Any
) -> None:
    script = Script(
        [],
        routes={
            "/c": [
                (429, {"message": "slow"}, {"Retry-After": "999999999"}),
                (200, {"task_id": "a"}),
            ]
        },
    )
    t = Transport(api_key="sk-test", base_url=await serve_app(script.app()))
    try:
        with anyio.fail_after(GUARD):
            await t.request("POST", "/c", json={}, kind="start")
            assert t.limiter.rate is not None  # the 429 slowed the client down
            sent, slept = script.count("/c"), len(fake_clock.sleeps)
            with pytest.raises(RateLimitError) as info:
                await t.request("POST", "/c", json={}, kind="start", deadline=fake_clock.now + 0.5)
        err = info.value
        assert script.count("/c") == sent  # nothing was sent, so no credit is at risk
        assert len(fake_clock.sleeps) == slept  # and it did not wait first
        assert err.retry_after is not None
        assert 0.5 < err.retry_after <= C.START_MAX_WAIT
        assert "not sent" in err.message
        assert "deadline" in err.message
    finally:
        await t.aclose()


async def test_limiter_wait_is_bounded_even_without_a_deadline() -> None:
    lim = AdaptiveRateLimiter()
    lim.on_rate_limited(None)  # no hint, nothing accepted yet: the slowest pace
    assert lim.rate is not None
    queued = int(C.START_MAX_WAIT * lim.rate) + 5  # more starts than fit in the bound
    starts = [asyncio.ensure_future(lim.acquire()) for _ in range(queued)]
    for _ in range(3):
        await asyncio.sleep(0)  # each takes its slot (or is refused) at once
    refused = [s for s in starts if s.done() and s.exception() is not None]
    waiting = [s for s in starts if not s.done()]
    for s in waiting:
        s.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert refused, "a queue longer than the bound must be refused, not waited out"
    for s in refused:
        err = s.exception()
        assert isinstance(err, RateLimitError)
        assert err.retry_after is not None
        assert err.retry_after > C.START_MAX_WAIT
        assert "not sent" in err.message
    assert len(waiting) <= C.START_MAX_WAIT * lim.rate + 1


# -- 2. "not found" only in the API's own words -----------------------------------------------
GATEWAY_PAGES = [
    (404, "<html><body><h1>404 Not Found</h1>nginx</body></html>"),
    (404, ""),
    (404, {"detail": "Not Found"}),  # a framework's route miss, not the API saying the task is gone
    (502, "<html><body>502 Bad Gateway</body></html>"),
    (503, "<html><body>503 Service Temporarily Unavailable</body></html>"),
    (504, "<html><body>504 Gateway Time-out</body></html>"),
]


@pytest.mark.parametrize(("status", "page"), GATEWAY_PAGES)
async def test_gateway_page_on_the_first_poll_is_transient(
    status: int, page: Any, make_client: Make
) -> None:
    script = Script([(status, page), (status, page), done()])
    client = await make_client(script, max_retries=0)
    with anyio.fail_after(GUARD):
        result = await client.task(TID).wait(timeout=10)
    assert result.clips[0].succeeded
    assert script.count(POLL_PATH) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": 400, "message": "task not found."}),
        (404, {"type": "not_found", "message": "task not found"}),  # the nuro guide's shape
        (200, {"code": 404, "message": "task not found."}),  # a refusal inside the envelope
    ],
)
async def test_the_apis_own_task_not_found_stays_final(
    status: int, body: dict[str, Any], make_client: Make
) -> None:
    script = Script([(status, body)])
    client = await make_client(script)
    task = client.task(TID)
    with pytest.raises(TaskNotFoundError):
        with anyio.fail_after(GUARD):
            await task.wait(timeout=10)
    assert script.count(POLL_PATH) == 1  # final at once: no retry, no absorbing


def test_error_mapping_keeps_gateway_404s_apart_from_task_not_found() -> None:
    path = POLL_PATH
    html = "<html>404 Not Found</html>"
    assert type(error_from_response(404, html, path)) is NotFoundError
    assert type(error_from_response(404, None, path)) is NotFoundError
    assert type(error_from_response(404, {"detail": "Not Found"}, path)) is NotFoundError
    assert type(error_from_response(400, "task not found.", path)) is not TaskNotFoundError
    genuine = error_from_response(400, {"code": 400, "message": "task not found."}, path)
    assert isinstance(genuine, TaskNotFoundError)
    nuro = error_from_response(404, {"type": "not_found", "message": "task not found"}, path)
    assert isinstance(nuro, TaskNotFoundError)


async def test_transport_retries_a_gateway_404_on_a_safe_request(
    serve_app: Serve, fake_clock: Any
) -> None:
    script = Script([(404, "<html>404 Not Found</html>"), done()])
    t = Transport(api_key="sk-test", base_url=await serve_app(script.app()), max_retries=2)
    try:
        r = await t.request("GET", POLL_PATH)
        assert r.status == 200
        assert script.count() == 2
    finally:
        await t.aclose()


@pytest.mark.parametrize("family", [ProducerFamily(), NuroFamily(), RiffusionFamily()])
def test_every_family_reads_the_envelope_not_found_as_final(family: Any) -> None:
    # Before, producer and riffusion read it as "no data yet" and polled until the deadline.
    with pytest.raises(TaskNotFoundError):
        family.parse_task(TID, 200, {"code": 400, "message": "task not found."})
    with pytest.raises(TaskNotFoundError):
        family.parse_task(TID, 200, {"code": 404, "type": "not_found", "message": "gone"})
    # A 200 that only says "not ready" is still that, not "not found".
    assert not family.parse_task(TID, 200, {"type": "not_ready", "message": "wait"}).finished


async def test_sync_utility_survives_a_gateway_404(make_client: Make) -> None:
    script = Script(
        [],
        routes={
            "/api/v1/sonic/bpm": [
                (404, "<html>404 Not Found</html>"),
                (200, {"code": 200, "data": {"avg_bpm": 120, "max_bpm": 121, "min_bpm": 119}}),
            ]
        },
    )
    client = await make_client(script)
    with anyio.fail_after(GUARD):
        result = await client.sonic.bpm("clip-1")
    assert result.avg_bpm == 120


# -- 3. a floor under every poll interval ------------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-1", "0.0001"])
async def test_retry_after_zero_on_not_ready_polls_is_floored(
    value: str, make_client: Make, fake_clock: Any
) -> None:
    not_ready = (202, {"type": "not_ready"}, {"Retry-After": value})
    script = Script([not_ready] * 20 + [done()])
    client = await make_client(script, poll=QUICK)
    with anyio.fail_after(GUARD):
        await client.task(TID).wait(timeout=10)
    floor = QUICK.initial_interval * (1 - C.POLL_JITTER)
    assert len(fake_clock.sleeps) == 21
    assert min(fake_clock.sleeps) >= floor - 1e-9


async def test_retry_after_zero_on_poll_errors_is_floored(
    make_client: Make, fake_clock: Any
) -> None:
    # 429s saying "retry at once": the transport's few retries are spent (they are bounded by
    # count), then the wait loop's own pause between polls must not follow the zero.
    refused = (429, {"message": "slow"}, {"Retry-After": "0"})
    per_poll = C.RATE_LIMIT_MIN_RETRIES + 1
    script = Script([refused] * (2 * per_poll) + [done()])
    client = await make_client(script, max_retries=0, poll=QUICK)
    with anyio.fail_after(GUARD):
        await client.task(TID).wait(timeout=10)
    assert script.count(POLL_PATH) == 2 * per_poll + 1
    floor = QUICK.initial_interval * (1 - C.POLL_JITTER)
    paced = [s for s in fake_clock.sleeps if s >= floor - 1e-9]
    assert len(paced) == 3  # before the first poll, and after each of the two failed ones


async def test_retry_after_zero_poll_rate_in_real_time(make_client: Make) -> None:
    script = Script([(202, {"type": "not_ready"}, {"Retry-After": "0"})])
    client = await make_client(script, poll=QUICK)
    with pytest.raises(TaskTimeoutError):
        with anyio.fail_after(GUARD):
            await client.task(TID).wait(timeout=0.5)
    # 0.5 s at the policy's quickest cadence (0.05 s, -15 % jitter) is at most a dozen polls;
    # before the floor it was thousands.
    assert script.count(POLL_PATH) <= 0.5 / (QUICK.initial_interval * (1 - C.POLL_JITTER)) + 2


async def test_a_long_hint_cannot_push_the_next_poll_past_the_deadline(
    make_client: Make, fake_clock: Any
) -> None:
    script = Script([(202, {"type": "not_ready"}, {"Retry-After": "3600"})])
    client = await make_client(script, poll=QUICK)
    task = client.task(TID)
    with pytest.raises(TaskTimeoutError):
        with anyio.fail_after(GUARD):
            await task.wait(timeout=5.0)
    assert task.polls >= 2  # it polled again before giving up
    assert all(s <= 5.0 for s in fake_clock.sleeps)


# -- 5. answers have a size limit, big parsing stays off the loop ------------------------------
def _streaming_app(
    total: int, *, status: int = 200, declare: bool = False
) -> tuple[web.Application, dict[str, int]]:
    """An app whose every route streams ``total`` bytes of one JSON document in 64 KiB writes
    (Content-Length declared only if ``declare``); ``sent`` counts the bytes it got out."""
    sent = {"bytes": 0}
    head = b'{"code":200,"message":"success","data":[],"pad":"'
    tail = b'"}'

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        if declare:
            resp.content_length = total
        await resp.prepare(request)
        body_left = total - len(head) - len(tail)
        try:
            await resp.write(head)
            sent["bytes"] += len(head)
            chunk = b"x" * 65536
            while body_left > 0:
                piece = chunk[: min(len(chunk), body_left)]
                await resp.write(piece)
                sent["bytes"] += len(piece)
                body_left -= len(piece)
            await resp.write(tail)
            sent["bytes"] += len(tail)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: exactly what the limit is for
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app, sent


async def test_an_oversized_poll_answer_is_refused_without_reading_it_all(
    serve_app: Serve,
) -> None:
    total = 64 * 1024 * 1024  # far past the lowered limit and any socket buffer
    app, sent = _streaming_app(total)
    t = Transport(api_key="sk-test", base_url=await serve_app(app), max_retries=0)
    t.max_response_bytes = 256 * 1024
    try:
        with pytest.raises(ResponseValidationError) as info:
            with anyio.fail_after(GUARD):
                await t.request("GET", POLL_PATH)
        assert "256 KiB" in str(info.value)  # the limit is named
        await asyncio.sleep(0.05)
        assert sent["bytes"] < total  # it stopped reading at the limit
    finally:
        await t.aclose()


async def test_a_declared_oversized_answer_is_refused_before_reading(serve_app: Serve) -> None:
    app, _ = _streaming_app(2 * 1024 * 1024, declare=True)
    t = Transport(api_key="sk-test", base_url=await serve_app(app), max_retries=0)
    t.max_response_bytes = 64 * 1024
    try:
        with pytest.raises(ResponseValidationError, match="64 KiB"):
            with anyio.fail_after(GUARD):
                await t.request("GET", POLL_PATH)
    finally:
        await t.aclose()


async def test_an_oversized_answer_to_a_start_is_unknown_not_failed(serve_app: Serve) -> None:
    app, _ = _streaming_app(1024 * 1024)
    t = Transport(api_key="sk-test", base_url=await serve_app(app), max_retries=0)
    t.max_response_bytes = 64 * 1024
    try:
        with pytest.raises(SubmissionUnknownError, match="64 KiB"):
            with anyio.fail_after(GUARD):
                await t.request("POST", CREATE, json={"mv": "sonic-v5"}, kind="start")
    finally:
        await t.aclose()


async def test_an_oversized_error_page_keeps_its_status(serve_app: Serve) -> None:
    app, _ = _streaming_app(1024 * 1024, status=503)
    t = Transport(api_key="sk-test", base_url=await serve_app(app), max_retries=0)
    t.max_response_bytes = 64 * 1024
    try:
        with pytest.raises(ServerError):
            with anyio.fail_after(GUARD):
                await t.request("GET", POLL_PATH)
    finally:
        await t.aclose()


async def test_a_poll_answer_over_the_poll_limit_fails_typed(serve_app: Serve) -> None:
    # Far below the general limit, far above any real poll answer: refused after 1 MiB read.
    total = 8 * C.POLL_MAX_RESPONSE_BYTES
    app, sent = _streaming_app(total)
    client = AIMusicClient(
        api_key="sk-test", base_url=await serve_app(app), poll=PollPolicy(0.01, 0.02, 1.5, 20.0)
    )
    async with client:
        task = client.task(TID)
        with pytest.raises(ResponseValidationError, match="1 MiB"):
            with anyio.fail_after(GUARD):
                await task.wait(timeout=20.0)
    assert task.polls == C.POLL_MAX_CONSECUTIVE_ERRORS
    assert sent["bytes"] < task.polls * total


def test_a_snapshot_carries_a_bounded_number_of_clips() -> None:
    body = {"code": 200, "data": [clip(i, "running") for i in range(C.MAX_CLIPS_PER_TASK + 1)]}
    with pytest.raises(ResponseValidationError, match=str(C.MAX_CLIPS_PER_TASK)):
        SonicFamily().parse_task(TID, 200, body)
    producer = {"status": "RUNNING", "data": body["data"]}
    with pytest.raises(ResponseValidationError, match=str(C.MAX_CLIPS_PER_TASK)):
        ProducerFamily().parse_task(TID, 200, producer)


async def test_a_poll_with_very_many_clips_fails_typed_within_the_deadline(
    make_client: Make,
) -> None:
    count = 20 * C.MAX_CLIPS_PER_TASK
    many = {"code": 200, "data": [{"clip_id": str(i), "state": "running"} for i in range(count)]}
    script = Script([(200, many)])
    client = await make_client(script, poll=PollPolicy(0.01, 0.02, 1.5, timeout=20.0))
    task = client.task(TID)
    with pytest.raises(ResponseValidationError, match="clips"):
        with anyio.fail_after(GUARD):
            await task.wait(timeout=20.0)
    assert task.polls == C.POLL_MAX_CONSECUTIVE_ERRORS


async def test_a_big_answer_is_decoded_and_parsed_off_the_loop(
    make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    lyrics = "la " * (C.API_THREAD_THRESHOLD // 3 + 1)  # one legitimate but big answer
    body = {"code": 200, "data": [{**clip(1, "succeeded"), "lyrics": lyrics}]}
    assert len(json.dumps(body)) > C.API_THREAD_THRESHOLD
    client = await make_client(Script([(200, body)]))
    caplog.set_level(logging.DEBUG, logger="aimusic_async")
    with anyio.fail_after(GUARD):
        result = await client.task(TID).wait(timeout=10)
    assert result.clips[0].lyrics == lyrics
    off_loop = [r for r in caplog.records if "worker thread" in r.getMessage()]
    assert any("decoded" in r.getMessage() for r in off_loop)
    assert any("parsed" in r.getMessage() for r in off_loop)
    assert all(r.thread != threading.get_ident() for r in off_loop)


# -- 9. typed errors: closing under waiters, bad configuration --------------------------------
@pytest.mark.parametrize("where", ["between polls", "inside a poll"])
async def test_closing_the_client_under_50_waiting_tasks_raises_client_closed(
    where: str, make_client: Make
) -> None:
    before = asyncio.all_tasks()
    not_ready = (202, {"type": "not_ready"})
    script = Script([not_ready if where == "between polls" else Hang(5.0, then=not_ready)])
    client = await make_client(script, poll=PollPolicy(0.2, 1.0, 1.5, timeout=60.0))
    waiters = [asyncio.ensure_future(client.task(f"task-{i}").wait()) for i in range(50)]
    await asyncio.sleep(0.3)  # every task is between polls or inside one
    await client.aclose()
    with anyio.fail_after(2.0):
        results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ClientClosedError) for r in results), {type(r) for r in results}
    assert all(isinstance(r, RuntimeError) for r in results)  # old handlers keep working
    polls = script.count()
    # Calls after close say so too, before anything is sent.
    with pytest.raises(ClientClosedError):
        await client.task(TID).wait()
    with pytest.raises(ClientClosedError):
        await client.credits()
    with pytest.raises(ClientClosedError):
        await client.sonic.create(
            mv="sonic-v5", custom_mode=False, gpt_description_prompt="calm lo-fi"
        )
    assert script.count() == polls
    assert await settle(before) == set()


async def test_closing_wakes_a_start_waiting_for_the_rate_limiter(serve_app: Serve) -> None:
    script = Script([(200, {"task_id": "t"})])
    t = Transport(api_key="sk-test", base_url=await serve_app(script.app()))
    t.limiter.on_rate_limited(30.0)  # the next start may go out in 30 s
    start = asyncio.ensure_future(t.request("POST", "/c", json={}, kind="start"))
    await asyncio.sleep(0.1)
    await t.aclose()
    with pytest.raises(ClientClosedError):
        with anyio.fail_after(2.0):
            await start
    assert script.count() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": ""},
        {"base_url": "ftp://x"},
        {"base_url": "http://"},
        {"base_url": "https:// spaces in host"},
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"timeout": 0},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
    ],
)
def test_bad_client_configuration_is_a_configuration_error(
    kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(C.API_KEY_ENV, raising=False)
    kwargs = {"api_key": "k", **kwargs}
    with pytest.raises(ConfigurationError) as info:
        AIMusicClient(**kwargs)
    assert isinstance(info.value, ValueError)  # old ``except ValueError`` keeps working


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(C.API_KEY_ENV, raising=False)
    with pytest.raises(ConfigurationError, match=C.API_KEY_ENV):
        AIMusicClient()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_interval": float("nan")},
        {"initial_interval": float("inf"), "max_interval": float("inf")},
        {"timeout": float("nan")},
        {"multiplier": float("nan")},
        {"multiplier": 0.5},
        {"initial_interval": 0},
        {"initial_interval": 5, "max_interval": 1},
        {"timeout": True},
    ],
)
def test_bad_poll_policy_is_a_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        PollPolicy(**kwargs)


async def test_bad_task_arguments_are_configuration_errors(make_client: Make) -> None:
    client = await make_client(Script([done()]))
    with pytest.raises(ConfigurationError):
        client.task("  ")
    with pytest.raises(ConfigurationError):
        client.task(TID, family="nope")
    for timeout in (float("nan"), -1.0):
        with pytest.raises(ConfigurationError):
            await client.task(TID).wait(timeout=timeout)
