"""Fuzzing the response side: every family's task parser, the result models, and raw bytes
through the real transport. Only typed errors may come out; a parsed snapshot must be usable
(a result that can be stored in the journal)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimusic_async import (
    AIMusicClient,
    AIMusicError,
    APIError,
    RateLimitError,
    ResponseValidationError,
    TaskResult,
)
from aimusic_async._client import runtime_of
from aimusic_async._transport import Response, error_from_response, parse_retry_after
from aimusic_async.families import NuroFamily, ProducerFamily, RiffusionFamily, SonicFamily
from aimusic_async.models import account, lyrics, nuro, riffusion, sonic_results
from aimusic_async.models._base import ResponseModel
from aimusic_async.models.common import TaskSnapshot

FAMILIES = [SonicFamily(), ProducerFamily(), RiffusionFamily(), NuroFamily()]
TASK_ID = "fuzz-task-1"

# Keys the parsers look at, so random objects often take the paths real answers take.
KEYS = [
    "code", "data", "message", "type", "clip_id", "state", "status", "audio_url", "duration",
    "created_at", "persona_id", "full", "extended", "replaced", "clips", "task_id", "progress",
    "event", "title", "error_message", "image_url", "mv", "lyrics", "msg", "detail", "error",
    "result", "results", "avg_bpm", "credits", "extra_credits", "platform", "id", "text",
]  # fmt: skip
STATES = ["pending", "running", "streaming", "succeeded", "SUCCESS", "failed", "FAILED",
          "complete", "error", "timeout", "not_ready", "PENDING", "RUNNING", ""]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(STATES),
    st.sampled_from(["104.88", "", "nan", "1e400", "2026-11-27T07:00:00Z", "not-a-date"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=25,
)


@st.composite
def clip_like(draw: st.DrawFn) -> dict[str, Any]:
    """A clip object with some fields present, any of them wrongly typed."""
    clip: dict[str, Any] = {
        "clip_id": draw(st.one_of(st.text(min_size=1, max_size=12), json_values)),
        "state": draw(st.one_of(st.sampled_from(STATES), json_values)),
    }
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=5, unique=True)):
        clip[key] = draw(json_values)
    return clip


@st.composite
def answer_like(draw: st.DrawFn) -> Any:
    """An answer in (or near) one of the documented envelopes."""
    data = draw(
        st.one_of(
            st.lists(clip_like(), max_size=3),
            clip_like(),
            st.fixed_dictionaries({"full": st.one_of(st.none(), clip_like())}),
            st.fixed_dictionaries({"persona_id": json_values}),
            json_values,
        )
    )
    body: dict[str, Any] = {"data": data}
    for key in draw(st.lists(st.sampled_from(["code", "message", "type", "status", "event"]),
                             max_size=3, unique=True)):  # fmt: skip
        body[key] = draw(st.one_of(st.sampled_from([200, 400, 404, "not_ready", "SUCCESS",
                                                    "task not found."]), json_values))  # fmt: skip
    return draw(st.one_of(st.just(body), st.just(data), json_values))


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def check_snapshot(family: Any, snapshot: TaskSnapshot) -> None:
    assert isinstance(snapshot, TaskSnapshot)
    assert snapshot.task_id == TASK_ID
    assert snapshot.family == family.name
    if snapshot.status == "succeeded":
        result = TaskResult.from_snapshot(snapshot)
        # What the batch journal stores must serialise.
        json.dumps(result.model_dump(mode="json"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FAMILIES), st.sampled_from([200, 202]), answer_like())
def test_task_parsers_raise_only_typed_errors(family: Any, status: int, body: Any) -> None:
    try:
        snapshot = family.parse_task(TASK_ID, status, body)
    except AIMusicError:
        return
    check_snapshot(family, snapshot)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("depth", [50, 400, 900, 990, 3000])
def test_deeply_nested_bodies_are_typed_errors(family: Any, depth: int) -> None:
    for body in ({"code": 200, "data": nested(depth)}, {"code": 200, "data": [nested(depth)]}):
        try:
            snapshot = family.parse_task(TASK_ID, 200, body)
        except AIMusicError:
            continue
        check_snapshot(family, snapshot)


RESULT_MODELS: list[type[ResponseModel]] = [
    sonic_results.UploadResult,
    sonic_results.BpmResult,
    sonic_results.VoxResult,
    sonic_results.WavResult,
    sonic_results.MidiResult,
    sonic_results.AlignedLyricsResult,
    sonic_results.UpsampleTagsResult,
    sonic_results.PersonaResult,
    account.Credits,
    lyrics.LyricsResult,
    nuro.NuroTaskInfo,
    riffusion.RiffusionUploadResult,
    TaskResult,
]


def _transport_parse(model: type[ResponseModel], data: Any) -> Any:
    client = AIMusicClient(api_key="sk-fuzz", base_url="http://127.0.0.1:9")
    return runtime_of(client).transport.parse(model, Response(200, data, {}, "/fuzz"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RESULT_MODELS), st.one_of(answer_like(), json_values))
def test_result_models_raise_only_response_validation_error(
    model: type[ResponseModel], data: Any
) -> None:
    message = ""
    try:
        parsed = _transport_parse(model, data)
    except ResponseValidationError as exc:
        message = str(exc)
    else:
        assert isinstance(parsed, model)
    assert len(message) < 2000  # the body is quoted as an excerpt, not in full


# -- raw bytes through the real transport ------------------------------------------------------
VALID = json.dumps(
    {"code": 200, "data": [{"clip_id": "c1", "state": "succeeded", "audio_url": "http://x/a"}]}
).encode()
RAW_BODIES: list[tuple[int, bytes, str]] = [
    *((200, VALID[:cut], "application/json") for cut in range(0, len(VALID), 7)),  # truncated
    (200, b"\xff\xfe\x00garbage", "application/json"),
    (200, b"<html>502 Bad Gateway</html>", "text/html"),
    (200, b"[" * 100_000 + b"]" * 100_000, "application/json"),  # deeper than json can go
    (200, json.dumps(nested(950)).encode(), "application/json"),
    (200, b'{"data": "' + b"x" * 3_000_000 + b'"}', "application/json"),  # oversized
    (200, b"null", "application/json"),
    (200, b"NaN", "application/json"),
    (202, b"", "application/json"),
    (200, json.dumps({"code": 200, "data": [{"clip_id": 5, "state": []}]}).encode(), "a/b"),
    (200, VALID, "text/plain"),  # wrong content type, fine body: still parsed
]


async def test_hostile_raw_answers_through_the_transport(
    serve_app: Callable[[web.Application], Awaitable[str]],
) -> None:
    index = 0

    async def answer(request: web.Request) -> web.Response:
        status, body, ctype = RAW_BODIES[index]
        return web.Response(status=status, body=body, headers={"Content-Type": ctype})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", answer)
    base = await serve_app(app)
    outcomes: list[str] = []
    messages: list[str] = []
    async with AIMusicClient(api_key="sk-fuzz", base_url=base, max_retries=0) as client:
        for index in range(len(RAW_BODIES)):  # noqa: B007 (read by the handler)
            try:
                snapshot = await client.sonic.get(TASK_ID)
            except AIMusicError as exc:
                outcomes.append(type(exc).__name__)
                messages.append(str(exc))
                continue
            check_snapshot(SonicFamily(), snapshot)
            outcomes.append(snapshot.status)
    # The full, well-formed answer parsed; every truncated cut of it was refused.
    cuts = len(range(0, len(VALID), 7))
    assert outcomes[0] == "not_ready"  # an empty 200 is "not ready yet", as documented
    assert set(outcomes[1:cuts]) == {"ResponseValidationError"}
    assert outcomes[-1] == "succeeded"
    assert len(outcomes) == len(RAW_BODIES)
    assert max(map(len, messages)) < 2000  # bodies are quoted as excerpts, never in full


@settings(max_examples=300, deadline=None)
@given(
    st.integers(300, 599),
    st.one_of(answer_like(), json_values, st.text(max_size=50)),
    st.dictionaries(
        st.sampled_from(["Retry-After", "Content-Type", "X-Other"]),
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["1e400", "nan", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "9" * 400]),
        ),
        max_size=3,
    ),
    st.sampled_from(["/api/v1/sonic/create", "/api/v1/sonic/task/x", "/api/v1/get-credits"]),
)
def test_error_mapping_and_retry_after_never_raise(
    status: int, body: Any, headers: dict[str, str], path: str
) -> None:
    error = error_from_response(status, body, path, headers)
    assert isinstance(error, APIError)
    assert error.status == status
    assert len(str(error)) < 2000
    wait = parse_retry_after(headers.get("Retry-After"))
    assert wait is None or wait >= 0  # never negative, never NaN; callers cap it
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        assert error.retry_after >= 0
