"""The emulator's routes besides sonic: producer, riffusion, nuro (retired: 410) and get-credits."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aimusic_async._pricing import price

from . import _checks as ck
from ._http import EmulatorError, json_body, ok
from ._sonic import file_title
from ._starts import accept_start, afford, pay, rate_limit, state_and_key
from ._state import EmulatorState

__all__ = ["add_routes"]

_PRODUCER_RETIRED = frozenset(
    {
        "extend_music",
        "replace_music",
        "cover_music",
        "cover_upload_music",
        "music_variation",
        "swap_music_vocals",
        "swap_music_sound",
    }
)
_RIFFUSION_MODELS = frozenset({"FUZZ-1.1 Pro", "FUZZ-1.1", "FUZZ-1.0 Pro", "FUZZ-1.0"})
_RIFFUSION_MV_MESSAGE = (
    "The 'mv' field is invalid. The model should be 'FUZZ-1.1 Pro', "
    "'FUZZ-1.1', 'FUZZ-1.0 Pro' or 'FUZZ-1.0'."
)
_RIFFUSION_TASKS = frozenset(
    {
        "create_music",
        "extend_music",
        "cover_music",
        "extend_upload_music",
        "cover_upload_music",
        "replace_music",
        "swap_music_sound",
        "swap_music_vocals",
        "replace_upload_music",
        "swap_upload_music_sound",
        "swap_upload_music_vocals",
    }
)
NURO_MESSAGE = (
    "The Nuro API has been retired. Use POST /api/v1/sonic/create for vocal songs and "
    "POST /api/v1/producer/create for background music (instrumentals)."
)


def _producer_start(
    request: web.Request,
    state: EmulatorState,
    key: str,
    body: dict[str, Any],
    operation: str,
    fields: dict[str, Any],
    *,
    origin: str = "generated",
) -> web.Response:
    url, secret = ck.webhook(body)
    cost = price("producer", operation)
    afford(state, key, cost)
    task = state.new_task(
        key,
        "producer",
        operation,
        body,
        price=cost,
        clips=[fields],
        webhook_url=url,
        webhook_secret=secret,
        origin=origin,
    )
    return accept_start(request, task, {"message": "success", "task_id": task.task_id})


async def producer_create(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    task_type = ck.text(body, "task_type")
    if task_type in _PRODUCER_RETIRED:
        raise EmulatorError(
            410,
            f"The task_type '{task_type}' has been retired. "
            "Use task_type create_music on POST /api/v1/producer/create.",
            type="gone",
        )
    if task_type != "create_music":
        raise ck.bad("The 'task_type' field should be 'create_music'.")
    instrumental = ck.boolean(body, "make_instrumental")
    sound = ck.text(body, "sound")
    words = ck.text(body, "lyrics")
    if not (sound or words):
        raise ck.bad("One of 'sound' or 'lyrics' is required.")
    title = ck.text(
        body, "title", limit=80, limit_message="The title character length should be less than 80."
    )
    seed = body.get("seed")
    if seed is not None and not (isinstance(seed, str) and seed.isdigit()):
        raise ck.bad("The 'seed' field should be a numeric string.")
    mv = ck.text(body, "mv") or "FUZZ-2.0"
    for name in ("lyrics_strength", "weirdness"):
        ck.weight(body, name)
    fields = {
        "title": title or "Untitled",
        "tags": sound or "",
        "lyrics": "" if instrumental else (words or ""),
        "mv": mv,
        "seed": seed or str(state.rng.randrange(10**9)),
    }
    return _producer_start(request, state, key, body, "create_music", fields)


async def producer_upload(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    url = ck.url_field(body, "audio_url")
    fields = {"title": file_title(url), "tags": "", "lyrics": "", "mv": "upload"}
    return _producer_start(request, state, key, body, "upload", fields, origin="upload")


async def producer_download(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    source = ck.clip_ref(state, key, body, "clip_id")
    assert source is not None
    fmt = ck.choice(body, "format", ("mp3", "wav"), "The 'format' field should be 'mp3' or 'wav'.")
    if fmt is None:
        raise ck.bad("The 'format' field should be 'mp3' or 'wav'.")
    fields = {
        "title": source.title,
        "tags": source.tags,
        "lyrics": source.lyrics,
        "mv": source.mv,
        "source_clip_id": source.clip_id,
        "format": fmt,
    }
    return _producer_start(request, state, key, body, "download", fields)


async def producer_lyrics(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    prompt = ck.required_text(body, "prompt")
    fields = {
        "title": "Lyrics",
        "tags": "",
        "mv": "lyrics",
        "lyrics": f"[Verse]\n{prompt[:80]}\n\n[Chorus]\nHold on, hold on",
    }
    # Polls name this task_type "make_lyrics" (the docs' name), not after the route.
    return _producer_start(request, state, key, body, "make_lyrics", fields)


async def producer_video(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    source = ck.clip_ref(state, key, body, "clip_id")
    assert source is not None
    fields = {
        "title": source.title,
        "tags": source.tags,
        "lyrics": source.lyrics,
        "mv": source.mv,
        "source_clip_id": source.clip_id,
    }
    return _producer_start(request, state, key, body, "video_clip", fields)


async def riffusion_create(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    task_type = ck.choice(
        body,
        "task_type",
        _RIFFUSION_TASKS,
        "The 'task_type' field is invalid.",
        default="create_music",
    )
    custom = ck.boolean(body, "custom_mode")
    instrumental = ck.boolean(body, "make_instrumental")
    if custom is None:
        raise ck.bad("The 'custom_mode' field is required.")
    mv = ck.choice(body, "mv", _RIFFUSION_MODELS, _RIFFUSION_MV_MESSAGE)
    if mv is None:
        raise ck.bad(_RIFFUSION_MV_MESSAGE)
    title = ck.text(
        body, "title", limit=80, limit_message="The title character length should be less than 80."
    )
    words = ck.text(body, "lyrics")
    prompt = ck.text(body, "prompt")
    sound = ck.text(body, "sound")
    if custom and not words and not instrumental:
        raise ck.bad("The 'lyrics' field is required when custom_mode = true.")
    if not custom and not prompt:
        raise ck.bad("The 'prompt' field is required when custom_mode = false.")
    if task_type != "create_music":
        context = f" when task_type = {task_type}"
        ck.clip_ref(state, key, body, "continue_clip_id", context=context)
        if task_type in ("extend_music", "extend_upload_music"):
            # The extend page marks continue_at required.
            message = f"The 'continue_at' field is required{context}."
            ck.number(body, "continue_at", required=True, minimum=0, message=message)
    url, secret = ck.webhook(body)
    cost = price("riffusion", "create_music")
    afford(state, key, cost)
    lyrics = (
        "[Instrumental]" if instrumental else (words or f"[Verse]\n{prompt}\n\n[Chorus]\nOh-oh")
    )
    fields = {"title": title or "Riff", "tags": sound or prompt or "", "lyrics": lyrics, "mv": mv}
    task = state.new_task(
        key,
        "riffusion",
        task_type,
        body,
        price=cost,
        clips=[fields] * 2,
        webhook_url=url,
        webhook_secret=secret,
    )
    return accept_start(request, task, {"message": "success", "task_id": task.task_id})


async def riffusion_upload(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    body = await json_body(request)
    url = ck.url_field(body, "url")
    pay(state, key, price("riffusion", "upload"))
    clip = state.add_clip(key, "upload", title=file_title(url), mv="upload")
    return ok({"code": 200, "message": "success", "clip_id": clip.clip_id})


async def nuro_gone(request: web.Request) -> web.Response:
    raise EmulatorError(410, NURO_MESSAGE, type="gone")


async def get_credits(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    account = state.balance(key)
    return ok({"credits": account.credits, "extra_credits": account.extra_credits})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/producer/create", producer_create)
    r.add_post("/api/v1/producer/upload", producer_upload)
    r.add_post("/api/v1/producer/download", producer_download)
    r.add_post("/api/v1/producer/lyrics-create", producer_lyrics)
    r.add_post("/api/v1/producer/video-clip", producer_video)
    r.add_post("/api/v1/riffusion/create", riffusion_create)
    r.add_post("/api/v1/riffusion/upload", riffusion_upload)
    r.add_route("*", "/api/v1/nuro/{tail:.*}", nuro_gone)
    r.add_get("/api/v1/get-credits", get_credits)
