"""client.riffusion (deprecated): validation, two-clip status mapping, warnings, the emulator."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from aimusic_async._errors import ResponseValidationError
from aimusic_async.models.riffusion import (
    RIFFUSION_TASK_TYPES,
    RiffusionCreateRequest,
    RiffusionUploadRequest,
)
from aimusic_async.resources.riffusion import RiffusionFamily

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
