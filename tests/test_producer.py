"""client.producer: request validation, status mapping, and every method against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from aimusic_async import AIMusicClient
from aimusic_async._errors import (
    BadRequestError,
    EndpointRetiredError,
    ResponseValidationError,
    TaskFailedError,
    TaskNotFoundError,
)
from aimusic_async._pricing import price
from aimusic_async.batch import Job
from aimusic_async.families import ProducerFamily
from aimusic_async.models.nuro import NuroBgmRequest
from aimusic_async.models.producer import (
    PRODUCER_REPLACEMENTS,
    PRODUCER_RETIRED_TASK_TYPES,
    PRODUCER_TASK_TYPES,
    ProducerDownloadRequest,
    ProducerUploadRequest,
    build_producer_create,
)

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


@pytest.mark.parametrize(
    "make",
    [
        # pydantic prints the whole input dict after a missing field or a model-level rule,
        # cut to its first and last characters: a secret at either end showed in part.
        lambda: build_producer_create({"webhook_secret": "canary-SECRET-123", "title": "t"}),
        lambda: build_producer_create({"task_type": "extend_music",
                                       "webhook_secret": "canary-SECRET-123"}),
        lambda: NuroBgmRequest.model_validate(
            {"description": "d", "duration": 90, "webhook_secret": "canary-SECRET-123"}
        ),
    ],
)  # fmt: skip
def test_webhook_secret_never_in_validation_errors(make: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as exc:
        make()
    assert "SECRET" not in str(exc.value)


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


def test_what_counts_as_delivered_depends_on_the_task_type() -> None:
    lyrics = {"clip_id": "l1", "title": "Lyrics", "lyrics": "[Verse]\nhello"}
    body = {"status": "SUCCESS", "task_type": "make_lyrics", "data": [lyrics]}
    assert FAMILY.parse_task("t", 200, body).status == "succeeded"
    empty = {**body, "data": [{**lyrics, "lyrics": ""}]}
    assert FAMILY.parse_task("t", 200, empty).status == "running"
    bare = {k: v for k, v in CLIP.items() if not k.endswith("_url")}
    video = {"status": "SUCCESS", "task_type": "video_clip", "data": [bare]}
    assert FAMILY.parse_task("t", 200, video).status == "running"  # no file yet
    done = {**video, "data": [{**bare, "video_url": "https://cdn.example/v.mp4"}]}
    assert FAMILY.parse_task("t", 200, done).status == "succeeded"


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


# -- against the emulator ---------------------------------------------------------------------


async def test_create_happy_path(client: AIMusicClient, emulator: Any) -> None:
    before = emulator.balance(emulator.api_key).total
    task = await client.producer.create(sound="emotional pop with gentle piano", title="Back")
    assert task.family == "producer"
    result = await task
    assert result.family == "producer"
    (clip,) = result.clips
    assert clip.succeeded
    assert clip.title == "Back"
    assert clip.audio_url is not None
    assert clip.audio_url.startswith(emulator.cdn_url)
    assert clip.duration is not None
    assert clip.duration > 0
    record = emulator.tasks[task.id]
    assert record.family == "producer"
    assert record.body["task_type"] == "create_music"
    assert emulator.balance(emulator.api_key).total == before - price("producer", "create_music")
    # get(): one poll, same answer as the finished task.
    snap = await client.producer.get(task.id)
    assert snap.status == "succeeded"
    assert snap.clips[0].clip_id == clip.clip_id
    # A rebuilt handle resolves the same result.
    again = await client.task(task.id, family="producer")
    assert again.clips[0].clip_id == clip.clip_id


async def test_watch_shows_progress_before_success(client: AIMusicClient) -> None:
    task = await client.producer.create(lyrics="[Verse]\nla la", sound="folk")
    seen = [snap.status async for snap in task.watch()]
    assert seen[-1] == "succeeded"
    assert set(seen) <= {"not_ready", "running", "succeeded"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sound": "pop", "title": "x" * 81},
        {"title": "only a title"},
        {"sound": "pop", "weirdness": 1.5},
        {"sound": "pop", "seed": "abc"},
        {"sound": "pop", "make_instrumental": "yes"},
        {"task_type": "extend_music", "clip_id": "c"},
        {"task_type": "replace_music", "clip_id": "c", "starts_at": 9, "ends_at": 3},
        {"task_type": "cover_music", "clip_id": "c"},
    ],
)
async def test_invalid_input_sends_nothing(
    client: AIMusicClient, emulator: Any, kwargs: dict[str, Any]
) -> None:
    requests = emulator.stats.requests
    with pytest.raises(pydantic.ValidationError):
        await client.producer.create(**kwargs)
    with pytest.raises(pydantic.ValidationError):
        await client.producer.download("c", format="flac")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        await client.producer.upload("not a url")
    assert emulator.stats.requests == requests


RETIRED_CALLS: dict[str, dict[str, Any]] = {
    "extend_music": {"clip_id": "c", "starts_at": 10, "instruction": "more strings"},
    "replace_music": {"clip_id": "c", "starts_at": 10, "ends_at": 20, "instruction": "guitar"},
    "cover_music": {"clip_id": "c", "instruction": "as jazz"},
    "cover_upload_music": {"clip_id": "c", "instruction": "as jazz", "strength": 0.4},
    "music_variation": {"clip_id": "c"},
    "swap_music_vocals": {"clip_id": "c", "lyrics": "new words"},
    "swap_music_sound": {"clip_id": "c", "sound": "orchestral"},
}


@pytest.mark.parametrize("task_type", sorted(RETIRED_CALLS))
async def test_retired_task_types_name_the_replacement(
    client: AIMusicClient, emulator: Any, task_type: str
) -> None:
    balance = emulator.balance(emulator.api_key).total
    with pytest.raises(EndpointRetiredError) as info:
        await client.producer.create(task_type=task_type, **RETIRED_CALLS[task_type])  # type: ignore[arg-type]
    err = info.value
    assert err.status == 410
    assert err.replacement == PRODUCER_REPLACEMENTS[task_type]
    assert err.replacement is not None
    assert err.replacement in str(err)
    assert task_type in err.message  # the server's own text is kept
    assert emulator.stats.creates == 0
    assert emulator.balance(emulator.api_key).total == balance


async def test_failed_task_raises_with_the_reason(
    emulator_factory: Any, client_factory: Any
) -> None:
    emu = await emulator_factory(clip_failure_rate=1.0)
    client = await client_factory(emu.base_url, emu.api_key)
    task = await client.producer.create(sound="doomed")
    with pytest.raises(TaskFailedError) as info:
        await task
    assert info.value.task_id == task.id
    assert "Refund processed" in info.value.reason
    assert task.last is not None
    assert task.last.status == "failed"


async def test_upload_then_download_both_formats(client: AIMusicClient, emulator: Any) -> None:
    upload = await client.producer.upload("https://example.com/audio/my-song.mp3")
    uploaded = (await upload).clips[0]
    assert uploaded.succeeded
    assert emulator.tasks[upload.id].body == {"audio_url": "https://example.com/audio/my-song.mp3"}

    song = (await (await client.producer.create(sound="pop"))).clips[0]
    for fmt in ("mp3", "wav"):
        task = await client.producer.download(song.clip_id, format=fmt)
        assert emulator.tasks[task.id].body == {"clip_id": song.clip_id, "format": fmt}
        (clip,) = (await task).clips
        assert clip.succeeded
        assert clip.audio_url is not None
    # The uploaded clip is a valid clip_id too.
    await (await client.producer.download(uploaded.clip_id))


async def test_make_lyrics_and_video_clip(client: AIMusicClient, emulator: Any) -> None:
    lyrics_task = await client.producer.make_lyrics("a song about harbour lights")
    assert emulator.tasks[lyrics_task.id].body == {"prompt": "a song about harbour lights"}
    (text,) = (await lyrics_task).clips
    assert text.lyrics
    assert "harbour lights" in text.lyrics
    song = (await (await client.producer.create(sound="pop"))).clips[0]
    video_task = await client.producer.video_clip(song.clip_id)
    assert emulator.tasks[video_task.id].body == {"clip_id": song.clip_id}
    assert emulator.tasks[video_task.id].family == "producer"
    assert (await video_task).clips[0].succeeded
    requests = emulator.stats.requests
    with pytest.raises(pydantic.ValidationError, match="prompt"):
        await client.producer.make_lyrics("")
    assert emulator.stats.requests == requests


async def test_server_side_errors_surface(client: AIMusicClient) -> None:
    with pytest.raises(BadRequestError):
        await client.producer.download("no-such-clip", format="mp3")
    with pytest.raises(TaskNotFoundError):
        await client.producer.get("no-such-task")


async def test_batch_runs_producer_jobs(client: AIMusicClient, emulator: Any) -> None:
    jobs = [
        Job(key=f"p{n}", operation="producer.create", params={"sound": "ambient", "title": f"p{n}"})
        for n in range(3)
    ]
    jobs.append(Job(key="bad", operation="producer.create", params={"title": "no sound"}))
    outcomes = {o.job.key: o async for o in client.batch(jobs, concurrency=4)}
    for n in range(3):
        out = outcomes[f"p{n}"]
        assert out.status == "finished", out.error
        assert out.result is not None
        assert out.result.family == "producer"
        assert out.result.clips[0].title == f"p{n}"
    assert outcomes["bad"].status == "failed"
    assert isinstance(outcomes["bad"].error, pydantic.ValidationError)
    assert emulator.stats.creates == 3


async def test_webhook_resolves_producer_tasks_without_polling(
    emulator_factory: Any, client_factory: Any
) -> None:
    emu = await emulator_factory()
    client = await client_factory(emu.base_url, emu.api_key, webhook_secret="wh-secret")
    await client.webhooks.serve()
    task = await client.producer.create(sound="pop")
    result = await task
    assert result.clips[0].succeeded
    assert task.polls == 0
    assert emu.stats.polls == 0
    assert emu.tasks[task.id].body["webhook_url"].startswith("http://127.0.0.1:")

    failing = await emulator_factory(clip_failure_rate=1.0)
    client = await client_factory(failing.base_url, failing.api_key, webhook_secret="s")
    await client.webhooks.serve()
    task = await client.producer.create(sound="doomed")
    with pytest.raises(TaskFailedError, match="Refund processed"):
        await task
    assert failing.stats.polls == 0


def test_cli_batch_runs_producer_and_riffusion_jobs(
    aimusic_emulator_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aimusic_async.cli import main

    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"key": "p1", "operation": "producer.create", "params": {"sound": "drone", "title": "D"}},
        {"key": "u1", "operation": "producer.upload",
         "params": {"audio_url": "https://example.com/a.mp3"}},
        {"key": "r1", "operation": "riffusion.create",
         "params": {"custom_mode": False, "prompt": "r&b pop song"}},
    ]  # fmt: skip
    jobs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.warns(DeprecationWarning, match="riffusion"):
        code = main(["batch", str(jobs), "--json", "--poll-interval", "0.05"])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    by_key = {o["key"]: o for o in out}
    assert set(by_key) == {"p1", "u1", "r1"}
    assert all(o["status"] == "finished" for o in out)
    assert by_key["p1"]["family"] == "producer"
    assert by_key["p1"]["clips"][0]["title"] == "D"
    assert len(by_key["r1"]["clips"]) == 2
    assert aimusic_emulator_env.stats.creates == 3
