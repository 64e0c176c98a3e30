"""client.nuro: request validation, the flat status mapping, and the 410 the service answers."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async._errors import EndpointRetiredError, ResponseValidationError, TaskFailedError
from aimusic_async.families import NuroFamily
from aimusic_async.models.nuro import NuroBgmRequest, NuroVocalRequest

# -- request models ---------------------------------------------------------------------------


def test_vocal_body_as_documented() -> None:
    body = NuroVocalRequest(
        lyrics="[intro] We were both young",
        genre="Pop",
        mood="Dynamic/Energetic",
        gender="Female",
        timbre="Sweet_AUDIO_TIMBRE",
        duration=180,
    )
    assert body.to_wire() == {
        "type": "vocal",
        "lyrics": "[intro] We were both young",
        "genre": "Pop",
        "mood": "Dynamic/Energetic",
        "gender": "Female",
        "timbre": "Sweet_AUDIO_TIMBRE",
        "duration": 180,
    }


def test_bgm_bodies_as_documented() -> None:
    v1 = NuroBgmRequest(
        description="Intense game battle music",
        genre=["video game", "electronic", "epic", "cinematic"],
        mood=["powerful", "energetic", "intense", "aggressive"],
        instrument=["drums", "synth", "brass", "strings"],
        theme=["achievement", "fantasy", "drama"],
        duration=35,
    )
    assert v1.to_wire()["type"] == "bgm"
    assert v1.to_wire()["instrument"] == ["drums", "synth", "brass", "strings"]
    v2 = NuroBgmRequest.model_validate(
        {
            "description": "cinematic background score",
            "version": "v2.0",
            "duration": 90,
            "segments": [
                {"name": "intro", "duration": 20},
                {"name": "verse", "duration": 25},
                {"name": "chorus", "duration": 30},
                {"name": "outro", "duration": 15},
            ],
        }
    )
    assert v2.to_wire()["segments"][2] == {"name": "chorus", "duration": 30}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"lyrics": "x" * 2001}, "lyrics"),
        ({"lyrics": ""}, "lyrics"),
        ({"lyrics": "la", "duration": 29}, "duration"),
        ({"lyrics": "la", "duration": 241}, "duration"),
        ({"lyrics": "la", "genre": "pop"}, "genre"),  # vocal genres are capitalised
        ({"lyrics": "la", "gender": "female"}, "gender"),
        ({"lyrics": "la", "timbre": "Sweet"}, "timbre"),
        ({"lyrics": "la", "mood": "Sad"}, "mood"),
    ],
)
def test_vocal_validation(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        NuroVocalRequest.model_validate(fields)
    assert named in str(info.value)


SEGS = [{"name": "intro", "duration": 20}, {"name": "outro", "duration": 20}]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "description"),
        ({"description": "d", "genre": ["Pop"]}, "genre"),
        ({"description": "d", "mood": ["happy"] * 6}, "mood"),
        ({"description": "d", "instrument": ["kazoo"]}, "instrument"),
        ({"description": "d", "theme": ["love"] * 6}, "theme"),
        ({"description": "d", "version": "v3.0"}, "version"),
        ({"description": "d", "duration": 61}, "duration"),
        ({"description": "d", "duration": 0}, "duration"),
        ({"description": "d", "segments": SEGS}, "segments"),
        ({"description": "d", "version": "v2.0", "duration": 20}, "duration"),
        (
            {"description": "d", "version": "v2.0", "segments": [{"name": "intro", "duration": 4}]},
            "duration",
        ),
        (
            {"description": "d", "version": "v2.0", "segments": [{"name": "solo", "duration": 40}]},
            "name",
        ),
        (
            {
                "description": "d",
                "version": "v2.0",
                "segments": [{"name": "intro", "duration": 20}],
            },
            "segments",
        ),
        ({"description": "d", "version": "v2.0", "segments": SEGS, "duration": 60}, "duration"),
    ],
)
def test_bgm_validation(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        NuroBgmRequest.model_validate(fields)
    assert named in str(info.value)


# -- status mapping ---------------------------------------------------------------------------

FAMILY = NuroFamily()
DONE = {
    "task_id": "4c35433b",
    "status": "succeeded",
    "progress": 100,
    "audio_url": "https://cdn.example/song-4c35433b.wav",
    "lyrics": "[intro]\n[verse]\nWe were both young",
    "duration": 199.04325,
    "genre": "Pop",
    "mood": "Dynamic/Energetic",
    "gender": "Female",
    "timbre": "Sweet_AUDIO_TIMBRE",
}


def test_poll_path() -> None:
    assert FAMILY.poll_path("t") == "/api/v1/nuro/task/t"


def test_pending_is_not_ready() -> None:
    body = {"task_id": "4c35433b", "status": "pending", "progress": 0, "audio_url": "",
            "duration": "", "lyrics": ""}  # fmt: skip
    snap = FAMILY.parse_task("4c35433b", 200, body)
    assert snap.status == "not_ready"
    assert snap.clips == []


def test_running_has_one_running_clip_with_progress() -> None:
    body = {"task_id": "4c35433b", "status": "running", "progress": 40, "audio_url": "",
            "duration": ""}  # fmt: skip
    snap = FAMILY.parse_task("4c35433b", 200, body)
    assert snap.status == "running"
    (clip,) = snap.clips
    assert clip.state == "running"
    assert clip.model_extra is not None
    assert clip.model_extra["progress"] == 40


def test_succeeded_builds_one_clip_from_the_flat_fields() -> None:
    snap = FAMILY.parse_task("4c35433b", 200, DONE)
    assert snap.status == "succeeded"
    (clip,) = snap.clips
    assert clip.clip_id == "4c35433b"
    assert clip.succeeded
    assert clip.audio_url == DONE["audio_url"]
    assert clip.duration == pytest.approx(199.04325)
    assert clip.lyrics == DONE["lyrics"]
    assert clip.model_extra is not None
    assert clip.model_extra["timbre"] == "Sweet_AUDIO_TIMBRE"


def test_succeeded_without_audio_keeps_polling() -> None:
    snap = FAMILY.parse_task("4c35433b", 200, {**DONE, "audio_url": ""})
    assert snap.status == "running"


def test_failed_carries_the_message() -> None:
    body = {"task_id": "t", "status": "failed", "message": "algorithm error"}
    snap = FAMILY.parse_task("t", 200, body)
    assert snap.status == "failed"
    assert snap.clips[0].failed
    assert snap.clips[0].error_message == "algorithm error"


def test_wrapped_webhook_body() -> None:
    body = {"code": 200, "task_id": "t", "platform": "nuro", "data": [DONE]}
    assert FAMILY.parse_task("t", 200, body).status == "succeeded"


def test_202_and_garbage() -> None:
    assert FAMILY.parse_task("t", 202, {"type": "not_ready"}).status == "not_ready"
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task("t", 200, ["not", "an", "object"])
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task("t", 200, {"status": "succeeded", "duration": "long"})


# -- against the emulator (nuro retired: 410) ------------------------------------------------


async def test_vocal_create_is_retired_with_replacement(
    client: AIMusicClient, emulator: Any
) -> None:
    balance = emulator.balance(emulator.api_key).total
    with pytest.raises(EndpointRetiredError) as info:
        await client.nuro.create_vocal(lyrics="[verse] la la", genre="Pop", duration=60)
    assert info.value.status == 410
    assert info.value.replacement == "client.sonic.create"
    assert "client.sonic.create" in str(info.value)
    assert "retired" in info.value.message  # the server's text is kept
    assert emulator.stats.creates == 0
    assert emulator.balance(emulator.api_key).total == balance


async def test_instrumental_create_and_get_are_retired(client: AIMusicClient) -> None:
    with pytest.raises(EndpointRetiredError) as info:
        await client.nuro.create_instrumental(
            description="calm corporate", mood=["calm", "positive"], duration=45
        )
    assert info.value.replacement == "client.producer.create"
    with pytest.raises(EndpointRetiredError) as got:
        await client.nuro.get("4c35433b-1649-433d-b513-8422af70fbaa")
    assert got.value.replacement is not None
    assert "client.sonic.create" in got.value.replacement
    # A handle rebuilt from an id names the replacement too when it is awaited.
    with pytest.raises(EndpointRetiredError) as awaited:
        await client.task("4c35433b-1649-433d-b513-8422af70fbaa", family="nuro")
    assert awaited.value.replacement == got.value.replacement
    assert "client.producer.create" in str(awaited.value)


async def test_invalid_input_sends_nothing(client: AIMusicClient, emulator: Any) -> None:
    requests = emulator.stats.requests
    with pytest.raises(pydantic.ValidationError, match="lyrics"):
        await client.nuro.create_vocal(lyrics="x" * 2001)
    with pytest.raises(pydantic.ValidationError, match="mood"):
        await client.nuro.create_instrumental(description="d", mood=["calm"] * 6)  # type: ignore[list-item]
    with pytest.raises(pydantic.ValidationError, match="segments"):
        await client.nuro.create_instrumental(
            description="d", segments=[{"name": "intro", "duration": 20}]
        )
    assert emulator.stats.requests == requests


# -- a host that still serves nuro (scripted) ------------------------------------------------


def _nuro_host(fail: bool = False) -> tuple[web.Application, list[dict[str, Any]]]:
    """A tiny nuro server: pending, running (progress), then succeeded (or failed)."""
    bodies: list[dict[str, Any]] = []
    polls: dict[str, int] = {}

    async def create(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({"message": "success", "task_id": f"n{len(bodies)}"})

    async def task(request: web.Request) -> web.Response:
        tid = request.match_info["task_id"]
        n = polls[tid] = polls.get(tid, 0) + 1
        base = {"task_id": tid, "audio_url": "", "lyrics": "", "duration": "", "genre": "",
                "mood": "", "gender": "", "timbre": ""}  # fmt: skip
        if n == 1:
            return web.json_response({**base, "status": "pending", "progress": 0})
        if n == 2:
            return web.json_response({**base, "status": "running", "progress": 50})
        if fail:
            return web.json_response(
                {**base, "status": "failed", "progress": 100, "message": "algorithm error"}
            )
        return web.json_response({**DONE, "task_id": tid})

    app = web.Application()
    app.router.add_post("/api/v1/nuro/create", create)
    app.router.add_get("/api/v1/nuro/task/{task_id}", task)
    return app, bodies


async def test_served_nuro_lifecycle(serve_app: Any, client_factory: Any) -> None:
    app, bodies = _nuro_host()
    client = await client_factory(await serve_app(app), "key")
    task = await client.nuro.create_vocal(
        lyrics="[verse] We were both young", genre="Hip Hop/Rap", mood="Chill", gender="Male",
        timbre="Husky", duration=120,
    )  # fmt: skip
    assert task.family == "nuro"
    statuses = [snap.status async for snap in task.watch()]
    assert statuses == ["not_ready", "running", "succeeded"]
    assert bodies[0] == {"type": "vocal", "lyrics": "[verse] We were both young",
                         "genre": "Hip Hop/Rap", "mood": "Chill", "gender": "Male",
                         "timbre": "Husky", "duration": 120}  # fmt: skip
    result = await task
    (clip,) = result.clips
    assert clip.clip_id == task.id
    assert clip.audio_url == DONE["audio_url"]

    bgm = await client.nuro.create_instrumental(
        description="cinematic score", version="v2.0",
        segments=[{"name": "intro", "duration": 20}, {"name": "outro", "duration": 25}],
    )  # fmt: skip
    assert bodies[1]["type"] == "bgm"
    assert bodies[1]["segments"][1] == {"name": "outro", "duration": 25}
    assert (await bgm).clips[0].succeeded
    assert (await client.nuro.get(bgm.id)).status == "succeeded"


async def test_served_nuro_failure(serve_app: Any, client_factory: Any) -> None:
    app, _ = _nuro_host(fail=True)
    client = await client_factory(await serve_app(app), "key")
    task = await client.nuro.create_instrumental(description="d", genre=("ambient",))
    with pytest.raises(TaskFailedError, match="algorithm error"):
        await task
