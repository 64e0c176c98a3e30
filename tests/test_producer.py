"""client.producer: request validation, status mapping, and every method against the emulator."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from aimusic_async._errors import ResponseValidationError
from aimusic_async.models.producer import (
    PRODUCER_REPLACEMENTS,
    PRODUCER_RETIRED_TASK_TYPES,
    PRODUCER_TASK_TYPES,
    ProducerDownloadRequest,
    ProducerUploadRequest,
    build_producer_create,
)
from aimusic_async.resources.producer import ProducerFamily

# -- request models -------------------------------------------------------------------------------


def test_create_music_serialises_to_the_documented_body() -> None:
    body = build_producer_create(
        {
            "mv": "FUZZ-2.0",
            "lyrics": "[Verse 1]\nStars they shine above me",
            "sound": "pop",
            "title": "Starry Night",
            "make_instrumental": False,
        }
    )
    assert body.to_wire() == {
        "task_type": "create_music",
        "mv": "FUZZ-2.0",
        "lyrics": "[Verse 1]\nStars they shine above me",
        "sound": "pop",
        "title": "Starry Night",
        "make_instrumental": False,
    }


def test_lyria_era_bodies_serialise_as_documented() -> None:
    extend = build_producer_create(
        {
            "task_type": "extend_music",
            "clip_id": "abc123xyz789",
            "starts_at": 45,
            "instruction": "Add soaring violin strings",
            "length": 30,
        }
    )
    assert extend.to_wire() == {
        "task_type": "extend_music",
        "clip_id": "abc123xyz789",
        "starts_at": 45,
        "instruction": "Add soaring violin strings",
        "length": 30,
    }
    replace = build_producer_create(
        {
            "task_type": "replace_music",
            "clip_id": "abc123xyz789",
            "starts_at": 30,
            "ends_at": 45,
            "instruction": "heavy guitar riff",
        }
    )
    assert replace.to_wire()["ends_at"] == 45
    cover = build_producer_create(
        {"task_type": "cover_upload_music", "clip_id": "u1", "instruction": "jazz", "strength": 0.7}
    )
    assert cover.to_wire() == {
        "task_type": "cover_upload_music",
        "clip_id": "u1",
        "instruction": "jazz",
        "strength": 0.7,
    }


def test_every_documented_task_type_has_a_model() -> None:
    needs: dict[str, dict[str, Any]] = {
        "create_music": {"sound": "pop"},
        "extend_music": {"clip_id": "c", "starts_at": 1},
        "replace_music": {"clip_id": "c", "starts_at": 1},
        "cover_music": {"clip_id": "c", "instruction": "x"},
        "cover_upload_music": {"clip_id": "c", "instruction": "x"},
        "music_variation": {"clip_id": "c"},
        "swap_music_vocals": {"clip_id": "c", "lyrics": "la"},
        "swap_music_sound": {"clip_id": "c", "sound": "rock"},
    }
    assert set(needs) == set(PRODUCER_TASK_TYPES)
    for task_type, fields in needs.items():
        assert build_producer_create({"task_type": task_type, **fields}).task_type == task_type
    # Every type the service retired (or may retire) names a replacement.
    assert set(PRODUCER_REPLACEMENTS) >= PRODUCER_RETIRED_TASK_TYPES


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"sound": "pop", "title": "x" * 81}, "title"),
        ({}, "sound or lyrics"),
        ({"sound": "pop", "lyrics_strength": 1.5}, "lyrics_strength"),
        ({"sound": "pop", "weirdness": -0.1}, "weirdness"),
        ({"sound": "pop", "sound_strength": 0.1}, "sound_strength"),
        ({"sound": "pop", "seed": "12a"}, "seed"),
        ({"sound": "pop", "make_instrumental": "false"}, "make_instrumental"),
        ({"sound": "pop", "starts_at": 3}, "starts_at"),  # not a create_music field
        ({"sound": "pop", "webhook_url": "ftp://x"}, "webhook_url"),
        ({"sound": "pop", "webhook_url": "https://" + "a" * 1020}, "webhook_url"),
        ({"task_type": "extend_music", "starts_at": 1}, "clip_id"),
        ({"task_type": "extend_music", "clip_id": "c"}, "starts_at"),
        ({"task_type": "extend_music", "clip_id": "c", "starts_at": 1, "length": 241}, "length"),
        ({"task_type": "extend_music", "clip_id": "c", "starts_at": -1}, "starts_at"),
        (
            {"task_type": "replace_music", "clip_id": "c", "starts_at": 5, "ends_at": 5},
            "ends_at",
        ),
        ({"task_type": "cover_music", "clip_id": "c"}, "instruction"),
        (
            {"task_type": "cover_music", "clip_id": "c", "instruction": "x", "strength": 2},
            "strength",
        ),
        (
            {
                "task_type": "cover_music",
                "clip_id": "c",
                "instruction": "x",
                "strength": 0.5,
                "cover_strength": 0.5,
            },
            "cover_strength",
        ),
        ({"task_type": "make_coffee", "sound": "pop"}, "task_type"),
    ],
)
def test_invalid_create_fields_are_refused_naming_the_field(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        build_producer_create(fields)
    assert named in str(info.value)


def test_upload_and_download_models() -> None:
    assert ProducerUploadRequest(audio_url="https://x/a.mp3").to_wire() == {
        "audio_url": "https://x/a.mp3"
    }
    assert ProducerDownloadRequest(clip_id="c").to_wire() == {"clip_id": "c", "format": "mp3"}
    with pytest.raises(pydantic.ValidationError, match="format"):
        ProducerDownloadRequest(clip_id="c", format="flac")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="audio_url"):
        ProducerUploadRequest(audio_url="file:///etc/passwd")


def test_webhook_secret_never_in_repr() -> None:
    body = build_producer_create({"sound": "pop", "webhook_secret": "canary-SECRET-123"})
    assert "canary-SECRET-123" not in repr(body)
    assert "canary-SECRET-123" not in str(body)
    assert body.to_wire()["webhook_secret"] == "canary-SECRET-123"


# -- status mapping ---------------------------------------------------------------------------

FAMILY = ProducerFamily()
CLIP = {
    "clip_id": "ac78601b",
    "title": "Back to You",
    "sound": None,
    "lyrics": "[Verse 1]\nLate night drives",
    "audio_url": "https://cdn.example/producer/ac78601b.m4a",
    "wav_url": "https://cdn.example/producer/ac78601b-wav.wav",
    "image_url": "https://cdn.example/i.png",
    "duration": 185.0165986394558,
}


def test_poll_path() -> None:
    assert FAMILY.poll_path("t1") == "/api/v1/producer/task/t1"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (202, {"code": 202, "type": "not_ready", "error": "Task is still processing."}),
        (200, {"code": 200, "status": "PENDING", "message": "success", "data": []}),
        (200, {"code": 200, "status": "RUNNING", "message": "success"}),
        (200, {"code": 200, "status": "SUCCESS", "message": "success", "data": []}),
        (200, None),
    ],
)
def test_not_ready_shapes(status: int, body: Any) -> None:
    snap = FAMILY.parse_task("t1", status, body)
    assert snap.status == "not_ready"
    assert not snap.finished
    assert snap.family == "producer"


def test_running_keeps_polling_even_if_a_clip_claims_success() -> None:
    body = {"code": 200, "status": "RUNNING", "data": [{**CLIP, "state": "succeeded"}]}
    snap = FAMILY.parse_task("t1", 200, body)
    assert snap.status == "running"
    assert not snap.clips[0].is_terminal


def test_success_maps_to_succeeded_clip() -> None:
    snap = FAMILY.parse_task("t1", 200, {"code": 200, "status": "SUCCESS", "data": [CLIP]})
    assert snap.status == "succeeded"
    (clip,) = snap.clips
    assert clip.succeeded
    assert clip.clip_id == "ac78601b"
    assert clip.duration == pytest.approx(185.0166, rel=1e-4)
    assert clip.model_extra is not None
    assert clip.model_extra["wav_url"].endswith(".wav")


def test_success_without_audio_url_keeps_polling() -> None:
    clip = {k: v for k, v in CLIP.items() if k not in ("audio_url", "wav_url")}
    snap = FAMILY.parse_task("t1", 200, {"status": "SUCCESS", "data": [clip]})
    assert snap.status == "running"
    assert not snap.finished


def test_wav_only_download_answer_exposes_audio_url() -> None:
    clip = {"wav_url": "https://cdn.example/x.wav"}
    snap = FAMILY.parse_task("t9", 200, {"status": "SUCCESS", "data": [clip]})
    assert snap.status == "succeeded"
    assert snap.clips[0].clip_id == "t9"
    assert snap.clips[0].audio_url == "https://cdn.example/x.wav"


def test_failed_carries_the_message() -> None:
    body = {"code": 200, "status": "FAILED", "message": "generation failed; refund processed"}
    snap = FAMILY.parse_task("t1", 200, body)
    assert snap.status == "failed"
    assert snap.message == "generation failed; refund processed"
    snap = FAMILY.parse_task("t1", 200, {**body, "data": [CLIP]})
    assert snap.clips[0].failed
    assert snap.clips[0].error_message == "generation failed; refund processed"


def test_webhook_body_without_status() -> None:
    body = {"code": 200, "task_id": "t1", "platform": "producer", "event": "song.completed",
            "data": [{**CLIP, "state": "succeeded"}]}  # fmt: skip
    assert FAMILY.parse_task("t1", 200, body).status == "succeeded"
    failed = {**body, "event": "song.failed", "data": [{**CLIP, "state": "failed"}]}
    assert FAMILY.parse_task("t1", 200, failed).status == "failed"


@pytest.mark.parametrize(
    "body", ["oops", {"status": "SUCCESS", "data": "nope"}, {"status": "SUCCESS", "data": [3]}]
)
def test_garbled_answers_raise_response_validation_error(body: Any) -> None:
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task("t1", 200, body)
