"""client.sonic against the emulator: every method's happy path, a documented error each, and
bad input that never reaches the server. MIDI's ask-again loop runs against a scripted server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from aimusic_async import AIMusicClient
from aimusic_async._errors import (
    APITimeoutError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    ServerError,
    SubmissionUnknownError,
    TaskNotFoundError,
)
from aimusic_async._tasks import Task
from aimusic_async.models.common import Clip, TaskResult
from aimusic_async.models.sonic import (
    AlignedLyricsResult,
    BpmResult,
    MidiResult,
    PersonaResult,
    UploadResult,
    UpsampleTagsResult,
    VoxResult,
    WavResult,
)
from aimusic_async.resources import sonic as sonic_mod

GEN = (0.02, 0.06)  # seconds from accept to done: quick, still passes through not_ready/running
SONG = {"mv": "sonic-v5", "custom_mode": True, "prompt": "[Verse]\nla la la", "tags": "pop"}
DESC = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm lo-fi"}
AUDIO = "https://example.com/my-song.mp3"
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def emu(emulator_factory: Callable[..., Awaitable[Any]]) -> Any:
    return await emulator_factory(generation_time=GEN, clip_failure_rate=0.0)


@pytest.fixture
async def sonic_client(emu: Any, client_factory: Callable[..., Awaitable[AIMusicClient]]) -> Any:
    return await client_factory(emu.base_url, emu.api_key)


async def song(client: AIMusicClient) -> str:
    """A generated clip id to work on."""
    result = await (await client.sonic.create(**SONG))  # type: ignore[arg-type]
    return result.succeeded[0].clip_id


async def uploaded(client: AIMusicClient) -> str:
    up = await client.sonic.upload(AUDIO)
    assert up.clip_id
    return up.clip_id


def body_of(emu: Any, task_id: str) -> dict[str, Any]:
    return dict(emu.tasks[task_id].body)


def assert_done(result: TaskResult, clips: int = 2) -> None:
    assert len(result.clips) == clips
    assert all(c.succeeded and c.audio_url for c in result.clips)


# -- /sonic/create ------------------------------------------------------------------------------
async def test_create_description_mode_end_to_end(sonic_client: Any, emu: Any) -> None:
    task = await sonic_client.sonic.create(**DESC)
    assert task.family == "sonic"
    result = await task
    assert_done(result)
    assert all(isinstance(c.duration, float) for c in result.clips)
    body = body_of(emu, task.id)
    assert body == {**DESC, "task_type": "create_music", "use_suno_cdn": False}
    snapshot = await sonic_client.sonic.get(task.id)
    assert snapshot.status == "succeeded"
    assert {c.clip_id for c in snapshot.clips} == {c.clip_id for c in result.clips}


async def test_create_takes_any_task_type(sonic_client: Any, emu: Any) -> None:
    clip = await song(sonic_client)
    task = await sonic_client.sonic.create(task_type="concat_music", continue_clip_id=clip)
    assert_done(await task, clips=1)
    assert emu.tasks[task.id].operation == "concat_music"


async def test_extend_cover_concat_remaster(sonic_client: Any, emu: Any) -> None:
    clip = await song(sonic_client)
    sonic = sonic_client.sonic
    extend = await sonic.extend(clip, continue_at=30.5, **SONG)
    cover = await sonic.cover(clip, audio_weight=0.6, **DESC)
    remaster = await sonic.remaster(clip, mv="sonic-v5", variation_category="subtle")
    results = await asyncio.gather(extend, cover, remaster)
    for r in results:
        assert_done(r)
    assert body_of(emu, extend.id)["task_type"] == "extend_music"
    assert body_of(emu, extend.id)["continue_clip_id"] == clip
    assert body_of(emu, extend.id)["continue_at"] == 30.5
    assert body_of(emu, cover.id)["audio_weight"] == 0.6
    assert body_of(emu, remaster.id)["variation_category"] == "subtle"
    concat = await sonic.concat(results[0].clips[0].clip_id)
    assert_done(await concat, clips=1)
    assert body_of(emu, concat.id) == {
        "task_type": "concat_music",
        "continue_clip_id": results[0].clips[0].clip_id,
        "use_suno_cdn": False,
    }


async def test_upload_then_upload_music_task_types(sonic_client: Any, emu: Any) -> None:
    clip = await uploaded(sonic_client)
    sonic = sonic_client.sonic
    tasks = [
        await sonic.create(
            task_type="extend_upload_music", continue_clip_id=clip, continue_at=0.1, **SONG
        ),
        await sonic.create(task_type="cover_upload_music", continue_clip_id=clip, **DESC),
        await sonic.add_vocals(
            clip,
            mv="sonic-v5",
            prompt="[Verse]\nsing",
            vocal_gender="f",
            overpainting_start_s=0,
            overpainting_end_s=20,
        ),
        await sonic.add_instrumental(clip, mv="sonic-v5", tags="acoustic"),
    ]
    for result in await asyncio.gather(*tasks):
        assert_done(result)
    ops = [emu.tasks[t.id].operation for t in tasks]
    assert ops == ["extend_upload_music", "cover_upload_music", "add_vocals", "add_instrumental"]
    assert body_of(emu, tasks[2].id)["overpainting_end_s"] == 20


async def test_voice_persona_and_persona_music(sonic_client: Any, emu: Any) -> None:
    voice = await sonic_client.sonic.create_voice("https://example.com/solo.wav", name="Ann")
    done = await voice
    assert done.persona_id
    task = await sonic_client.sonic.create_with_persona(done.persona_id, **SONG)
    assert_done(await task)
    assert body_of(emu, task.id)["persona_id"] == done.persona_id
    assert body_of(emu, task.id)["task_type"] == "persona_music"
    clip = await song(sonic_client)
    persona = await sonic_client.sonic.create_persona(
        clip, name="Warm voice", describe="warm, soulful", styles="soul"
    )
    assert isinstance(persona, PersonaResult)
    again = await sonic_client.sonic.create_with_persona(persona.persona_id, **DESC)
    assert_done(await again)


async def test_dedicated_generation_routes(sonic_client: Any, emu: Any) -> None:
    a, b = await asyncio.gather(song(sonic_client), song(sonic_client))
    sonic = sonic_client.sonic
    tasks = {
        "upload_extend": await sonic.upload_extend(AUDIO, continue_at=5, **SONG),
        "upload_cover": await sonic.upload_cover(AUDIO, duration=120, **DESC),
        "sample": await sonic.sample(a, chop_sample_start_s=1, chop_sample_end_s=9, **DESC),
        "mashup": await sonic.mashup((a, b), **DESC),
        "replace_section": await sonic.replace_section(
            a, infill_start_s=10, infill_end_s=20, infill_lyrics="new line", mv="sonic-v5"
        ),
    }
    results = await asyncio.gather(*tasks.values())
    for result in results:
        assert_done(result)
    for op, task in tasks.items():
        assert emu.tasks[task.id].operation == op
    assert body_of(emu, tasks["mashup"].id)["mashup_clip_ids"] == [a, b]
    assert body_of(emu, tasks["sample"].id)["sample_clip_id"] == a
    assert "task_type" not in body_of(emu, tasks["upload_cover"].id)


async def test_stems(sonic_client: Any) -> None:
    clip = await song(sonic_client)
    basic = await sonic_client.sonic.stems_basic(clip)
    full = await sonic_client.sonic.stems_full(clip)
    b, f = await asyncio.gather(basic, full)
    assert len(b.clips) == 2
    assert len(f.clips) >= 12
    assert all(c.succeeded for c in b.clips + f.clips)
    assert {(c.model_extra or {}).get("stem_type") for c in b.clips} == {"vocals", "instrumental"}


# -- sync utilities ----------------------------------------------------------------------------
async def test_utilities(sonic_client: Any) -> None:
    sonic = sonic_client.sonic
    clip = await song(sonic_client)
    bpm = await sonic.bpm(clip)
    assert isinstance(bpm, BpmResult)
    assert bpm.min_bpm is not None
    assert bpm.max_bpm is not None
    assert bpm.min_bpm <= bpm.avg_bpm <= bpm.max_bpm
    vox = await sonic.vox(clip, vocal_start_s=0, vocal_end_s=30)
    assert isinstance(vox, VoxResult)
    assert vox.vox_audio_id
    wav = await sonic.wav(clip)
    assert isinstance(wav, WavResult)
    assert wav.wav_url.endswith(".wav")
    midi = await sonic.midi(clip)
    assert isinstance(midi, MidiResult)
    assert midi.ready
    assert midi.instruments[0].notes
    lyrics = await sonic.aligned_lyrics(clip)
    assert isinstance(lyrics, AlignedLyricsResult)
    assert [w.word for w in lyrics.alignment][:3] == ["la", "la", "la"]
    tags = await sonic.upsample_tags("pop, happy")
    assert isinstance(tags, UpsampleTagsResult)
    assert tags.upsampled_tags.startswith("pop, happy")
    persona = await sonic.create_persona(clip, name="P", vox_audio_id=vox.vox_audio_id)
    assert persona.persona_id


async def test_upload_sync_and_async(
    sonic_client: Any, emu: Any, serve_app: Callable[[web.Application], Awaitable[str]]
) -> None:
    sync = await sonic_client.sonic.upload(AUDIO)
    assert isinstance(sync, UploadResult)
    assert isinstance(sync.clip_id, str)
    assert sync.clip_id
    received: list[Any] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/cb", callback)
    url = await serve_app(app)
    # Async mode with the caller's own callback URL: a Task that polls to the uploaded clip.
    task = await sonic_client.sonic.upload_async(AUDIO, callback_url=f"{url}/cb")
    assert isinstance(task, Task)
    assert emu.tasks[task.id].body == {"url": AUDIO, "callback_url": f"{url}/cb"}
    result = await task
    (clip,) = result.clips
    assert isinstance(clip, Clip)
    assert clip.succeeded
    assert clip.title == "my-song"
    assert emu.stats.polls >= 1
    # The clip is an uploaded one: it feeds the *_upload_music task types.
    cover = await sonic_client.sonic.create(
        task_type="cover_upload_music", continue_clip_id=clip.clip_id, **DESC
    )
    assert (await cover).succeeded
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.02)
    assert received[0]["task_id"] == task.id
    assert received[0]["data"][0]["clip_id"] == clip.clip_id


# -- documented errors -------------------------------------------------------------------------
async def test_unknown_clip_is_a_bad_request_and_charges_nothing(
    sonic_client: Any, emu: Any
) -> None:
    before = emu.balance().credits
    sonic = sonic_client.sonic
    calls = [
        sonic.extend(MISSING, continue_at=1, **SONG),
        sonic.cover(MISSING, **SONG),
        sonic.concat(MISSING),
        sonic.remaster(MISSING, mv="sonic-v5"),
        sonic.add_vocals(MISSING, mv="sonic-v5", prompt="x"),
        sonic.add_instrumental(MISSING, mv="sonic-v5"),
        sonic.sample(MISSING, **DESC),
        sonic.mashup([MISSING, MISSING], **DESC),
        sonic.replace_section(MISSING, infill_start_s=1, infill_end_s=2, mv="sonic-v5"),
        sonic.stems_basic(MISSING),
        sonic.stems_full(MISSING),
        sonic.bpm(MISSING),
        sonic.vox(MISSING),
        sonic.wav(MISSING),
        sonic.midi(MISSING),
        sonic.aligned_lyrics(MISSING),
        sonic.create_persona(MISSING, name="x"),
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, BadRequestError), outcome
    assert emu.balance().credits == before
    assert emu.stats.creates == 0


async def test_persona_music_with_unknown_persona(sonic_client: Any) -> None:
    with pytest.raises(BadRequestError, match="persona"):
        await sonic_client.sonic.create_with_persona(MISSING, **SONG)


async def test_no_credits_is_insufficient_credits(sonic_client: Any, emu: Any) -> None:
    clip = await song(sonic_client)
    emu.set_balance(None, 0)
    sonic = sonic_client.sonic
    calls = [
        sonic.create(**DESC),
        sonic.extend(clip, continue_at=1, **SONG),
        sonic.cover(clip, **SONG),
        sonic.concat(clip),
        sonic.remaster(clip, mv="sonic-v5"),
        sonic.upload_extend(AUDIO, continue_at=1, **SONG),
        sonic.upload_cover(AUDIO, **SONG),
        sonic.sample(clip, **DESC),
        sonic.mashup([clip, clip], **DESC),
        sonic.replace_section(clip, infill_start_s=1, infill_end_s=2, mv="sonic-v5"),
        sonic.stems_basic(clip),
        sonic.stems_full(clip),
        sonic.create_voice("https://example.com/v.wav"),
        sonic.upload(AUDIO),
        sonic.upload_async(AUDIO, callback_url="http://127.0.0.1:9/cb"),
        sonic.bpm(clip),
        sonic.vox(clip),
        sonic.wav(clip),
        sonic.midi(clip),
        sonic.aligned_lyrics(clip),
        sonic.upsample_tags("pop"),
        sonic.create_persona(clip, name="x"),
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, InsufficientCreditsError), outcome


async def test_add_vocals_on_generated_clip_rejected(sonic_client: Any) -> None:
    clip = await song(sonic_client)
    with pytest.raises(BadRequestError, match="uploaded"):
        await sonic_client.sonic.add_vocals(clip, mv="sonic-v5", prompt="[Verse]\nx")


async def test_aligned_lyrics_of_instrumental_not_found(sonic_client: Any) -> None:
    result = await (await sonic_client.sonic.create(**{**DESC, "make_instrumental": True}))
    with pytest.raises(NotFoundError):
        await sonic_client.sonic.aligned_lyrics(result.clips[0].clip_id)


async def test_get_unknown_task(sonic_client: Any) -> None:
    with pytest.raises(TaskNotFoundError):
        await sonic_client.sonic.get(MISSING)


# -- bad input never reaches the server -------------------------------------------------------
def _bad_calls(sonic: Any) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    return [
        ("mv", lambda: sonic.create(mv="", custom_mode=False, gpt_description_prompt="x")),
        ("prompt", lambda: sonic.create(mv="sonic-v5", custom_mode=True)),
        ("task_type", lambda: sonic.create(task_type="sing", **DESC)),
        ("custom_mode", lambda: sonic.extend("c", continue_at=1, mv="sonic-v5",
                                             custom_mode="true", prompt="x")),
        ("continue_at", lambda: sonic.extend("c", continue_at=-1, **SONG)),
        ("vocal_gender", lambda: sonic.cover("c", **{**SONG, "mv": "sonic-v4"},
                                             vocal_gender="f")),
        ("continue_clip_id", lambda: sonic.concat("")),
        ("persona_id", lambda: sonic.create_with_persona(" ", **SONG)),
        ("variation_category", lambda: sonic.remaster("c", mv="v", variation_category="wild")),
        ("prompt", lambda: sonic.add_vocals("c", mv="sonic-v5", prompt="")),
        ("overpainting_end_s", lambda: sonic.add_instrumental(
            "c", mv="sonic-v5", overpainting_start_s=5, overpainting_end_s=1)),
        ("url", lambda: sonic.upload_extend("nope", continue_at=1, **SONG)),
        ("duration", lambda: sonic.upload_cover(AUDIO, duration=5, **SONG)),
        ("sample_clip_id", lambda: sonic.sample(None, **DESC)),
        ("mashup_clip_ids", lambda: sonic.mashup(["a"], **DESC)),
        ("infill_end_s", lambda: sonic.replace_section(
            "c", infill_start_s=9, infill_end_s=3, mv="m")),
        ("clip_id", lambda: sonic.stems_basic("")),
        ("clip_id", lambda: sonic.stems_full("  ")),
        ("audio_url", lambda: sonic.create_voice("voice.wav")),
        ("webhook_url", lambda: sonic.stems_full("c", webhook_url="ftp://x")),
        ("url", lambda: sonic.upload("ftp://example.com/a.mp3")),
        ("callback_url", lambda: sonic.upload_async(AUDIO, callback_url="x")),
        ("name", lambda: sonic.create_persona("c", name="n" * 81)),
        ("clip_id", lambda: sonic.bpm("")),
        ("vocal_end_s", lambda: sonic.vox("c", vocal_start_s=0, vocal_end_s=31)),
        ("clip_id", lambda: sonic.wav("")),
        ("clip_id", lambda: sonic.midi("")),
        ("clip_id", lambda: sonic.aligned_lyrics("")),
        ("tags", lambda: sonic.upsample_tags(" ")),
        ("style_weight", lambda: sonic.create(style_weight=1.5, **DESC)),
    ]  # fmt: skip


async def test_bad_input_sends_nothing(sonic_client: Any, emu: Any) -> None:
    before = emu.stats.requests
    calls = _bad_calls(sonic_client.sonic)
    for field, call in calls:
        with pytest.raises(ValidationError) as exc:
            await call()
        assert any(field in e["loc"] for e in exc.value.errors()), (field, exc.value.errors())
    assert emu.stats.requests == before
    # Every public method has a bad-input case (get takes only an id).
    methods = {name for name in dir(sonic_mod.SonicResource) if not name.startswith("_")}
    assert len(calls) >= len(methods - {"get"})


# -- MIDI asks again until the file is there (scripted server, patched clock) -------------------
def _midi_app(ready_after: int | None, hits: list[int]) -> web.Application:
    async def midi(request: web.Request) -> web.Response:
        hits.append(1)
        if ready_after is None or len(hits) <= ready_after:
            return web.json_response({"code": 200, "message": "processing", "data": {}})
        return web.json_response(
            {"code": 200, "data": {"midi_url": "https://cdn.x/m.mid", "instruments": []}}
        )

    app = web.Application()
    app.router.add_post("/api/v1/sonic/midi", midi)
    return app


async def test_midi_retries_until_ready(
    serve_app: Callable[[web.Application], Awaitable[str]],
    client_factory: Callable[..., Awaitable[AIMusicClient]],
    fake_clock: Any,
) -> None:
    hits: list[int] = []
    client = await client_factory(await serve_app(_midi_app(2, hits)), "k")
    result = await client.sonic.midi("clip-1")
    assert result.midi_url == "https://cdn.x/m.mid"
    assert len(hits) == 3
    assert fake_clock.sleeps == [sonic_mod.MIDI_RETRY_DELAY, sonic_mod.MIDI_RETRY_DELAY * 1.5]


async def test_midi_gives_up_after_bounded_attempts(
    serve_app: Callable[[web.Application], Awaitable[str]],
    client_factory: Callable[..., Awaitable[AIMusicClient]],
    fake_clock: Any,
) -> None:
    hits: list[int] = []
    client = await client_factory(await serve_app(_midi_app(None, hits)), "k")
    with pytest.raises(APITimeoutError, match="clip-1"):
        await client.sonic.midi("clip-1")
    assert len(hits) == sonic_mod.MIDI_MAX_ATTEMPTS
    assert max(fake_clock.sleeps) == sonic_mod.MIDI_RETRY_MAX_DELAY


async def test_error_in_envelope_of_a_200(
    serve_app: Callable[[web.Application], Awaitable[str]],
    client_factory: Callable[..., Awaitable[AIMusicClient]],
) -> None:
    async def bpm(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 403, "message": "The remaining credits are not enough. You can buy more."}
        )

    app = web.Application()
    app.router.add_post("/api/v1/sonic/bpm", bpm)
    client = await client_factory(await serve_app(app), "k")
    with pytest.raises(InsufficientCreditsError):
        await client.sonic.bpm("clip-1")


async def test_paid_sync_call_with_a_5xx_envelope_is_unknown_not_failed(
    serve_app: Callable[[web.Application], Awaitable[str]],
    client_factory: Callable[..., Awaitable[AIMusicClient]],
) -> None:
    # The credit rule: after a 2xx the paid upload may exist; a ServerError would invite a
    # re-send (and a second charge). A free-to-repeat utility keeps the plain ServerError.
    async def envelope(request: web.Request) -> web.Response:
        return web.json_response({"code": 500, "message": "Internal Server Error."})

    app = web.Application()
    app.router.add_post("/api/v1/sonic/upload", envelope)
    app.router.add_post("/api/v1/sonic/bpm", envelope)
    client = await client_factory(await serve_app(app), "k")
    with pytest.raises(SubmissionUnknownError) as info:
        await client.sonic.upload(AUDIO)
    assert info.value.operation == "sonic.upload"
    assert info.value.payload == {"url": AUDIO}
    with pytest.raises(ServerError):
        await client.sonic.bpm("clip-1")


async def test_webhook_secret_sent_but_never_logged(
    sonic_client: Any,
    emu: Any,
    serve_app: Callable[[web.Application], Awaitable[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "canary-sonic-secret-7f2e"
    hooks: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        hooks.append((dict(request.headers), await request.read()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    url = await serve_app(app)
    clip = await song(sonic_client)
    caplog.set_level("DEBUG", logger="aimusic_async")
    task = await sonic_client.sonic.stems_basic(
        clip, webhook_url=f"{url}/hook", webhook_secret=secret
    )
    assert emu.tasks[task.id].body["webhook_secret"] == secret
    assert emu.tasks[task.id].body["webhook_url"] == f"{url}/hook"
    # A webhook_url of the caller's own goes elsewhere: the task polls as usual, at once.
    result = await asyncio.wait_for(task.wait(), 10)
    assert result.clips
    assert task.polls >= 1
    # The emulator signs its callback with our secret.
    for _ in range(250):
        if hooks:
            break
        await asyncio.sleep(0.02)
    assert hooks
    headers, raw = hooks[0]
    signed = f"{headers['X-Webhook-Timestamp']}.".encode() + raw
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"
    assert secret not in caplog.text
    assert secret not in repr(task)
