"""client.riffusion (deprecated): validation, two-clip status mapping, warnings, the emulator."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pydantic
import pytest
from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async._errors import (
    BadRequestError,
    ResponseValidationError,
    SubmissionUnknownError,
    TaskFailedError,
)
from aimusic_async.batch import Job
from aimusic_async.families import RiffusionFamily
from aimusic_async.models.riffusion import (
    RIFFUSION_TASK_TYPES,
    RiffusionCreateRequest,
    RiffusionUploadRequest,
)

# -- request models ---------------------------------------------------------------------------


def test_documented_bodies() -> None:
    lyrics = RiffusionCreateRequest(
        mv="FUZZ-1.1 Pro", lyrics="[Verse]\nStars", custom_mode=True, title="Starts",
        sound="pop", make_instrumental=False,
    )  # fmt: skip
    assert lyrics.to_wire() == {
        "task_type": "create_music",
        "mv": "FUZZ-1.1 Pro",
        "lyrics": "[Verse]\nStars",
        "custom_mode": True,
        "title": "Starts",
        "sound": "pop",
        "make_instrumental": False,
    }
    prompt = RiffusionCreateRequest(mv="FUZZ-1.1 Pro", prompt="r&b pop song", custom_mode=False)
    assert prompt.to_wire() == {
        "task_type": "create_music",
        "mv": "FUZZ-1.1 Pro",
        "prompt": "r&b pop song",
        "custom_mode": False,
    }
    extend = RiffusionCreateRequest(
        custom_mode=True, lyrics="[Verse]", title="Starts", sound="pop", continue_at=10,
        continue_clip_id="f524dd12", task_type="extend_music", mv="FUZZ-1.1 Pro",
    )  # fmt: skip
    assert extend.to_wire()["continue_at"] == 10
    assert extend.to_wire()["continue_clip_id"] == "f524dd12"
    assert len(RIFFUSION_TASK_TYPES) == 11


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"prompt": "x"}, "custom_mode"),
        ({"custom_mode": "false", "prompt": "x"}, "custom_mode"),
        ({"custom_mode": False}, "prompt"),
        ({"custom_mode": True, "title": "t", "sound": "pop"}, "lyrics"),
        ({"custom_mode": True, "lyrics": "la", "title": "t" * 81}, "title"),
        ({"custom_mode": False, "prompt": "x", "continue_at": 3}, "continue_clip_id"),
        ({"custom_mode": True, "lyrics": "l", "task_type": "extend_music", "continue_at": 1},
         "continue_clip_id"),
        ({"custom_mode": True, "lyrics": "l", "task_type": "extend_upload_music",
          "continue_clip_id": "c"}, "continue_at"),
        ({"custom_mode": False, "prompt": "p", "task_type": "swap_music_vocals",
          "continue_clip_id": "c"}, "lyrics"),
        ({"custom_mode": True, "lyrics": "l", "task_type": "remix"}, "task_type"),
        ({"custom_mode": False, "prompt": "x", "mv": ""}, "mv"),
        ({"custom_mode": False, "prompt": "x", "make_instrumental": 1}, "make_instrumental"),
    ],
)  # fmt: skip
def test_invalid_create_fields(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RiffusionCreateRequest.model_validate(fields)
    assert named in str(info.value)


def test_upload_model() -> None:
    assert RiffusionUploadRequest(url="https://x/y.mp3").to_wire() == {"url": "https://x/y.mp3"}
    with pytest.raises(pydantic.ValidationError, match="url"):
        RiffusionUploadRequest(url="/local/file.mp3")


# -- status mapping ---------------------------------------------------------------------------

FAMILY = RiffusionFamily()


def clip(n: int, state: str, audio: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "clip_id": f"c{n}", "title": "Harbor", "lyrics": "[Verse 1]", "state": state,
        "audio_url": f"https://cdn.example/c{n}.mp3" if audio else "", "image_url": "",
        "video_url": None, "created_at": "2025-06-19T10:00:00Z", "mv": "FUZZ-1.1 Pro",
        "duration": 120.5, "timestamp": {}, **extra,
    }  # fmt: skip


def test_poll_path() -> None:
    assert FAMILY.poll_path("t") == "/api/v1/riffusion/task/t"


@pytest.mark.parametrize(
    ("status", "body"),
    [(202, {"type": "not_ready"}), (200, {"code": 200, "message": "success"}),
     (200, {"code": 200, "data": []}), (200, None)],
)  # fmt: skip
def test_not_ready(status: int, body: Any) -> None:
    assert FAMILY.parse_task("t", status, body).status == "not_ready"


def test_one_clip_present_keeps_polling() -> None:
    snap = FAMILY.parse_task("t", 200, {"code": 200, "data": [clip(1, "succeeded")]})
    assert snap.status == "running"


def test_both_clips_terminal() -> None:
    body = {"code": 200, "data": [clip(1, "succeeded"), clip(2, "failed")], "message": "success"}
    snap = FAMILY.parse_task("t", 200, body)
    assert snap.status == "succeeded"
    assert [c.state for c in snap.clips] == ["succeeded", "failed"]


def test_succeeded_clip_without_audio_is_not_done() -> None:
    body = {"code": 200, "data": [clip(1, "succeeded", audio=False), clip(2, "succeeded")]}
    assert FAMILY.parse_task("t", 200, body).status == "running"


def test_all_failed_carries_the_clip_reason() -> None:
    body = {"code": 200, "data": [clip(1, "failed", error_message="moderation"),
                                  clip(2, "failed", error_message="moderation")]}  # fmt: skip
    snap = FAMILY.parse_task("t", 200, body)
    assert snap.status == "failed"
    assert snap.message == "moderation"


def test_garbage() -> None:
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task("t", 200, "html error page")
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task("t", 200, {"data": [{"clip_id": "c", "duration": "forever"}]})


# -- against the emulator ---------------------------------------------------------------------


def warns_for(method: str) -> Any:
    return pytest.warns(DeprecationWarning, match=rf"client\.riffusion\.{method} is deprecated")


def _no_warning(fn: Any) -> Any:
    """Run ``fn`` (a coroutine factory) while recording warnings; return (value, warnings)."""

    async def run() -> tuple[Any, list[warnings.WarningMessage]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = await fn()
        return value, list(caught)

    return run()


async def test_create_warns_once_per_client_and_yields_two_clips(
    client: AIMusicClient, emulator: Any, client_factory: Any
) -> None:
    with pytest.warns(DeprecationWarning, match=r"riffusion\.create") as record:
        task = await client.riffusion.create(custom_mode=False, prompt="r&b pop song")
    assert len(record) == 1
    assert record[0].filename == __file__  # points at the caller's line
    result = await task
    assert result.family == "riffusion"
    assert len(result.clips) == 2
    assert all(c.succeeded and c.audio_url for c in result.clips)
    assert emulator.tasks[task.id].body["prompt"] == "r&b pop song"

    # Second use on the same client: silent.
    task2, caught = await _no_warning(
        lambda: client.riffusion.create(
            custom_mode=True, lyrics="[Verse]\nStars they shine", title="Starts", sound="pop"
        )
    )
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []
    await task2

    # get() is its own method: one warning the first time.
    with pytest.warns(DeprecationWarning, match=r"riffusion\.get"):
        snap = await client.riffusion.get(task.id)
    assert snap.status == "succeeded"
    assert len(snap.clips) == 2

    # A new client warns again (the flag is per client).
    other = await client_factory(emulator.base_url, emulator.api_key)
    with warns_for("get"):
        await other.riffusion.get(task.id)


async def test_upload_then_extend_uploaded_clip(client: AIMusicClient, emulator: Any) -> None:
    with pytest.warns(DeprecationWarning, match=r"riffusion\.upload"):
        uploaded = await client.riffusion.upload("https://example.com/free-song.mp3")
    assert uploaded.clip_id
    with warns_for("create"):
        task = await client.riffusion.create(
            custom_mode=True, task_type="extend_upload_music", lyrics="[Verse]\nmore",
            sound="pop", continue_clip_id=uploaded.clip_id, continue_at=5,
        )  # fmt: skip
    assert len((await task).clips) == 2
    assert emulator.tasks[task.id].body["continue_clip_id"] == uploaded.clip_id


async def test_validation_sends_nothing_and_server_checks_remain(
    client: AIMusicClient, emulator: Any
) -> None:
    requests = emulator.stats.requests
    # The warning comes first, then the refusal.
    with warns_for("create"), pytest.raises(pydantic.ValidationError, match="prompt"):
        await client.riffusion.create(custom_mode=False)
    with pytest.raises(pydantic.ValidationError, match="continue_at"):
        await client.riffusion.create(
            custom_mode=True, lyrics="x", task_type="extend_music", continue_clip_id="c"
        )
    with warns_for("upload"), pytest.raises(pydantic.ValidationError, match="url"):
        await client.riffusion.upload("ftp://nope")
    assert emulator.stats.requests == requests
    # An unknown mv passes locally (the model list changes); this host refuses it.
    with pytest.raises(BadRequestError, match="mv"):
        await client.riffusion.create(custom_mode=False, prompt="x", mv="FUZZ-9")
    # A continue_clip_id the server does not know.
    with pytest.raises(BadRequestError):
        await client.riffusion.create(
            custom_mode=True, lyrics="x", task_type="cover_music", continue_clip_id="nope"
        )


async def test_failed_task(emulator_factory: Any, client_factory: Any) -> None:
    emu = await emulator_factory(clip_failure_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key)
    with warns_for("create"):
        task = await client.riffusion.create(custom_mode=False, prompt="doomed")
    with pytest.raises(TaskFailedError) as info:
        await task
    assert info.value.task_id == task.id
    assert info.value.reason


async def test_batch_runs_riffusion_jobs(client: AIMusicClient, emulator: Any) -> None:
    jobs = [
        Job(key=f"r{n}", operation="riffusion.create",
            params={"custom_mode": False, "prompt": f"song {n}"})
        for n in range(3)
    ]  # fmt: skip
    with warns_for("create"):
        outcomes = [o async for o in client.batch(jobs, concurrency=3)]
    assert sorted(o.job.key for o in outcomes) == ["r0", "r1", "r2"]
    for out in outcomes:
        assert out.status == "finished", out.error
        assert out.result is not None
        assert len(out.result.clips) == 2
    assert emulator.stats.creates == 3


async def test_webhook_receiver_does_not_touch_riffusion_tasks(
    client: AIMusicClient, emulator: Any
) -> None:
    # The docs list no riffusion webhooks: with the receiver on, a riffusion task is sent
    # without a webhook_url and resolves by polling, not after a webhook grace period.
    await client.webhooks.serve()
    with pytest.warns(DeprecationWarning, match=r"riffusion\.create"):
        task = await client.riffusion.create(custom_mode=False, prompt="r&b pop song")
    assert "webhook_url" not in emulator.tasks[task.id].body
    sonic = await client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x")
    assert emulator.tasks[sonic.id].body["webhook_url"].startswith(client.webhooks.url)
    result = await asyncio.wait_for(task.wait(), 10)
    assert len(result.clips) == 2
    assert task.polls >= 1
    await sonic
    # Rebuilt from its id on a client that receives callbacks, it waits for none.
    rebuilt = client.task(task.id, family="riffusion")
    assert client.hub.future(task.id) is None  # not registered with the hub
    assert (await asyncio.wait_for(rebuilt.wait(), 10)).task_id == task.id


@pytest.mark.filterwarnings(r"ignore:client\.riffusion\.:DeprecationWarning")
async def test_upload_answer_without_a_clip_is_an_error(
    serve_app: Any, client_factory: Any
) -> None:
    answers = [
        {"code": 400, "message": "The 'url' field should be a valid http(s) URL."},
        {"code": 200, "message": "success"},
        {"code": 502, "message": "upstream_error"},
    ]

    async def upload(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    app = web.Application()
    app.router.add_post("/api/v1/riffusion/upload", upload)
    client = await client_factory(await serve_app(app), "k")
    # An error envelope behind HTTP 200 raises the mapped error ...
    with pytest.raises(BadRequestError, match="valid http"):
        await client.riffusion.upload("https://e.com/a.mp3")
    # ... but an answer naming no clip, or a 5xx envelope, came after the server took the paid
    # upload: its fate is unknown (never a result, never a definite failure to re-send).
    for _ in range(2):
        with pytest.raises(SubmissionUnknownError) as info:
            await client.riffusion.upload("https://e.com/a.mp3")
        assert info.value.operation == "riffusion.upload"
    assert answers == []
