"""The sonic routes that start tasks: create (every task_type), uploads, edits, stems, voice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aimusic_async._pricing import price

from . import _checks as ck
from ._http import json_body, ok
from ._starts import accept_start, afford, pay, rate_limit, state_and_key
from ._state import ClipRecord, EmulatorState

__all__ = ["TITLES", "add_routes", "file_title"]

TASK_TYPES = frozenset(
    {
        "create_music",
        "extend_music",
        "cover_music",
        "concat_music",
        "persona_music",
        "extend_upload_music",
        "cover_upload_music",
        "remaster",
        "add_vocals",
        "add_instrumental",
    }
)
_NEEDS_CUSTOM_MODE = frozenset(
    {
        "create_music",
        "extend_music",
        "cover_music",
        "persona_music",
        "extend_upload_music",
        "cover_upload_music",
    }
)
_NEEDS_CLIP = frozenset(TASK_TYPES - {"create_music", "persona_music"})
_UPLOADED_ONLY = frozenset(
    {"extend_upload_music", "cover_upload_music", "add_vocals", "add_instrumental"}
)
_NEEDS_CONTINUE_AT = frozenset({"extend_music", "extend_upload_music"})
# Older models have the shorter lyric/tag limits and no vocal_gender (Sonic Instructions).
_SHORT_LIMIT_MODELS = frozenset({"sonic-v3-5", "sonic-v4", "chirp-v3-5", "chirp-v4"})
# Reported "invalid" on /sonic/create; valid only for sample and mashup.
_SAMPLE_MASHUP_ONLY = frozenset({"sonic-v4-5-all"})
TITLES = ("Midnight Drive", "Paper Lanterns", "Golden Hour", "Static Hearts", "Low Tide")
_BASIC_STEMS = ("vocals", "instrumental")
_FULL_STEMS = (
    "vocals",
    "backing_vocals",
    "drums",
    "bass",
    "guitar",
    "keys",
    "synth",
    "strings",
    "brass",
    "woodwinds",
    "percussion",
    "fx",
)


def _style(body: dict[str, Any], mv: str | None) -> None:
    """Checks shared by every generation route: booleans, text limits, weights, gender."""
    for name in ("custom_mode", "make_instrumental", "auto_lyrics", "use_suno_cdn", "auto_concat"):
        ck.boolean(body, name)
    short = mv in _SHORT_LIMIT_MODELS
    prompt_limit = 3000 if short else 5000
    ck.text(
        body,
        "prompt",
        limit=prompt_limit,
        limit_message=f"The prompt character length should be less than {prompt_limit}.",
    )
    ck.text(body, "gpt_description_prompt", limit=400)
    tags_limit = 200 if short else 1000
    ck.text(
        body,
        "tags",
        limit=tags_limit,
        limit_message=f"The tags character length should be less than {tags_limit}.",
    )
    ck.text(body, "negative_tags")
    ck.text(
        body, "title", limit=80, limit_message="The title character length should be less than 80."
    )
    for name in ("style_weight", "weirdness_constraint", "audio_weight"):
        ck.weight(body, name)
    gender = ck.choice(
        body, "vocal_gender", ("f", "m"), "The 'vocal_gender' field should be 'f' or 'm'."
    )
    if gender is not None and short:
        raise ck.bad("The 'vocal_gender' field is only supported on sonic-v4-5 and later.")
    ck.integer_range(body, "duration", 10, 360)


def _mode(body: dict[str, Any], required: bool, context: str) -> None:
    """custom_mode present when required; lyrics or a description to match it."""
    custom = ck.boolean(body, "custom_mode")
    if custom is None:
        if required:
            raise ck.bad(f"The 'custom_mode' field is required{context}.")
        return
    # Instrumentals need no lyrics; with auto_lyrics the AI writes them.
    auto_lyrics = ck.boolean(body, "auto_lyrics")
    lyrics_free = ck.boolean(body, "make_instrumental") or auto_lyrics
    if custom and not lyrics_free and not ck.present(body, "prompt"):
        raise ck.bad("The 'prompt' field is required when custom_mode = true.")
    if not custom:
        if auto_lyrics:
            raise ck.bad("The 'auto_lyrics' field requires custom_mode = true.")
        if not ck.present(body, "gpt_description_prompt"):
            raise ck.bad("The 'gpt_description_prompt' field is required when custom_mode = false.")


def _echo_mv(state: EmulatorState, mv: str) -> str:
    """Results sometimes name the model in its chirp- spelling, as the live API does."""
    if mv.startswith("sonic-") and state.chance(state.config.chirp_echo_rate):
        return "chirp-" + mv[len("sonic-") :]
    return mv


def _song_fields(
    state: EmulatorState, body: dict[str, Any], mv: str, source: ClipRecord | None = None
) -> dict[str, Any]:
    """Per-clip fields of a generated song, echoing what the request asked for."""
    title = ck.text(body, "title") or (source.title if source else _random_title(state))
    tags = ck.text(body, "tags") or (source.tags if source else "pop")
    prompt = ck.text(body, "prompt")
    description = ck.text(body, "gpt_description_prompt")
    if ck.boolean(body, "make_instrumental"):
        lyrics = "[Instrumental]"
    elif ck.boolean(body, "custom_mode") and prompt and not ck.boolean(body, "auto_lyrics"):
        lyrics = prompt
    elif source is not None and source.lyrics:
        lyrics = source.lyrics
    else:
        topic = description or prompt or "the night"
        lyrics = f"[Verse]\nA song about {topic[:60]}\n\n[Chorus]\nSing it once again"
    return {
        "title": title,
        "tags": tags,
        "lyrics": lyrics,
        "mv": _echo_mv(state, mv),
        "gpt_description_prompt": description,
        "negative_tags": ck.text(body, "negative_tags"),
        "style_weight": ck.weight(body, "style_weight"),
        "weirdness_constraint": ck.weight(body, "weirdness_constraint"),
    }


def _random_title(state: EmulatorState) -> str:
    return state.rng.choice(TITLES)


def _start(
    request: web.Request,
    body: dict[str, Any],
    operation: str,
    cost: int,
    clips: list[dict[str, Any]],
    *,
    kind: str = "clips",
    result: dict[str, Any] | None = None,
    answer: dict[str, Any] | None = None,
    url_name: str = "webhook_url",
    event_prefix: str = "song",
    origin: str = "generated",
    pair_key: str | None = None,
) -> web.Response:
    state, key = state_and_key(request)
    url, secret = ck.webhook(body, url_name=url_name)
    afford(state, key, cost)
    task = state.new_task(
        key,
        "sonic",
        operation,
        body,
        price=cost,
        clips=clips,
        kind=kind,
        result=result,
        webhook_url=url,
        webhook_secret=secret,
        event_prefix=event_prefix,
        origin=origin,
        pair_key=pair_key if ck.boolean(body, "auto_concat") else None,
    )
    reply = {"code": 200, "message": "success", "task_id": task.task_id, **(answer or {})}
    return accept_start(request, task, reply)


async def create(request: web.Request) -> web.Response:
    """POST /api/v1/sonic/create: every task_type of the unified create endpoint."""
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    task_type = ck.choice(
        body, "task_type", TASK_TYPES, "The 'task_type' field is invalid.", default="create_music"
    )
    context = f" when task_type = {task_type}"
    mv = ck.check_mv(body, required=task_type != "concat_music")
    if mv in _SAMPLE_MASHUP_ONLY:
        raise ck.bad(ck.MV_MESSAGE)
    _style(body, mv)
    if task_type in _NEEDS_CUSTOM_MODE:
        # Elsewhere the mode picks no text field: add_vocals always sings ``prompt`` (checked
        # below), add_instrumental sings nothing, concat and remaster take no text.
        _mode(body, True, context)
    source = None
    if task_type in _NEEDS_CLIP:
        source = ck.clip_ref(state, key, body, "continue_clip_id", context=context)
        assert source is not None
        if task_type in _UPLOADED_ONLY and source.origin != "upload":
            raise ck.bad(f"The 'continue_clip_id' field must be an uploaded clip{context}.")
        if task_type in ("extend_music", "cover_music") and source.origin == "upload":
            raise ck.bad("Uploaded clips need task_type extend_upload_music or cover_upload_music.")
    if task_type in _NEEDS_CONTINUE_AT:
        ck.number(
            body,
            "continue_at",
            required=True,
            minimum=0,
            message=f"The 'continue_at' field is required{context}.",
        )
    if task_type == "persona_music":
        persona = ck.text(body, "persona_id")
        if persona is None:
            raise ck.bad("The 'persona_id' field is required when task_type = persona_music.")
        if not _persona_ready(state, key, persona):
            raise ck.bad("The 'persona_id' field refers to a persona that does not exist.")
    if task_type == "add_vocals" and not ck.present(body, "prompt"):
        raise ck.bad(f"The 'prompt' field is required{context}.")
    if task_type == "remaster":
        ck.choice(
            body,
            "variation_category",
            ("subtle", "normal", "high"),
            "The 'variation_category' field should be 'subtle', 'normal' or 'high'.",
        )
    start = ck.number(body, "overpainting_start_s", minimum=0)
    end = ck.number(body, "overpainting_end_s", minimum=0)
    if start is not None and end is not None and end <= start:
        raise ck.bad(
            "The 'overpainting_end_s' field should be greater than 'overpainting_start_s'."
        )
    model = mv or (source.mv if source else "sonic-v5")
    fields = _song_fields(state, body, model, source)
    count = 1 if task_type == "concat_music" else 2
    return _start(request, body, task_type, price("sonic", task_type), [fields] * count)


def _persona_ready(state: EmulatorState, key: str, persona_id: str) -> bool:
    persona = state.personas.get(persona_id)
    if persona is None or persona["key"] != key:
        return False
    task = state.tasks.get(persona.get("task_id") or "")
    if task is None:
        return True
    done = state.now() >= task.t_done
    return done and not (task.result or {}).get("failed")


async def upload(request: web.Request) -> web.Response:
    """POST /api/v1/sonic/upload: sync (clip_id) or, with callback_url, async (task_id)."""
    state, key = state_and_key(request)
    body = await json_body(request)
    url = ck.url_field(body, "url")
    cost = price("sonic", "upload")
    if ck.present(body, "callback_url"):
        rate_limit(request)
        fields = {"title": file_title(url), "tags": "", "lyrics": "", "mv": "upload"}
        return _start(
            request,
            body,
            "upload",
            cost,
            [fields],
            url_name="callback_url",
            event_prefix="upload",
            origin="upload",
        )
    pay(state, key, cost)
    clip = state.add_clip(key, "upload", title=file_title(url), mv="upload")
    return ok({"code": 200, "message": "success", "clip_id": clip.clip_id})


def file_title(url: str | None) -> str:
    """An uploaded clip's title: the file name without its extension."""
    name = (url or "").rstrip("/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] or "Uploaded audio"


async def upload_extend(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    url = ck.url_field(body, "url")
    mv = ck.check_mv(body)
    _style(body, mv)
    _mode(body, True, "")
    ck.number(body, "continue_at", required=True, minimum=0)
    ck.webhook(body)  # before the upload clip exists: a bad hook URL must leave nothing behind
    cost = price("sonic", "upload_extend")
    afford(state, key, cost)
    source = state.add_clip(key, "upload", title=file_title(url), mv="upload")
    fields = _song_fields(state, body, mv or "sonic-v5", source)
    return _start(request, body, "upload_extend", cost, [fields] * 2, pair_key="extended")


async def upload_cover(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    url = ck.url_field(body, "url")
    mv = ck.check_mv(body)
    _style(body, mv)
    _mode(body, True, "")
    ck.webhook(body)  # before the upload clip exists: a bad hook URL must leave nothing behind
    cost = price("sonic", "upload_cover")
    afford(state, key, cost)
    source = state.add_clip(key, "upload", title=file_title(url), mv="upload")
    fields = _song_fields(state, body, mv or "sonic-v5", source)
    steps = {"upload": {"clip_id": source.clip_id, "state": "succeeded"}}
    return _start(request, body, "upload_cover", cost, [fields] * 2, answer={"steps": steps})


async def sample(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    mv = ck.check_mv(body)
    _style(body, mv)
    _mode(body, True, "")
    source = ck.clip_ref(state, key, body, "sample_clip_id", required=False)
    if source is None:
        if not ck.present(body, "url"):
            raise ck.bad("One of 'url' or 'sample_clip_id' is required.")
        ck.url_field(body, "url")
    start = ck.number(body, "chop_sample_start_s", minimum=0)
    end = ck.number(body, "chop_sample_end_s", minimum=0)
    if start is not None and end is not None and end <= start:
        raise ck.bad("The 'chop_sample_end_s' field should be greater than 'chop_sample_start_s'.")
    fields = _song_fields(state, body, mv or "sonic-v5")
    return _start(request, body, "sample", price("sonic", "sample"), [fields] * 2)


async def mashup(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    mv = ck.check_mv(body)
    _style(body, mv)
    _mode(body, True, "")
    ids = body.get("mashup_clip_ids")
    if not isinstance(ids, list) or len(ids) != 2:
        raise ck.bad("The 'mashup_clip_ids' field should contain exactly two clip ids.")
    for clip_id in ids:
        if state.clip_for(key, clip_id) is None:
            raise ck.bad("The 'mashup_clip_ids' field refers to a clip that does not exist.")
    fields = _song_fields(state, body, mv or "sonic-v5")
    return _start(request, body, "mashup", price("sonic", "mashup"), [fields] * 2)


async def replace_section(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    source = ck.clip_ref(state, key, body, "clip_id")
    mv = ck.check_mv(body)
    _style(body, mv)
    ck.text(body, "infill_lyrics")
    start = ck.number(body, "infill_start_s", required=True, minimum=0)
    end = ck.number(body, "infill_end_s", required=True, minimum=0)
    if start is None or end is None:  # pragma: no cover - required=True raised already
        raise ck.bad("The 'infill_start_s' and 'infill_end_s' fields are required.")
    if end <= start:
        raise ck.bad("The 'infill_end_s' field should be greater than 'infill_start_s'.")
    fields = _song_fields(state, body, mv or "sonic-v5", source)
    cost = price("sonic", "replace_section")
    return _start(request, body, "replace_section", cost, [fields] * 2, pair_key="replaced")


def _stems(
    names: tuple[str, ...], operation: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        state, key = state_and_key(request)
        rate_limit(request)
        body = await json_body(request)
        source = ck.clip_ref(state, key, body, "clip_id")
        assert source is not None
        clips = [
            {
                "title": f"{source.title} ({name})",
                "tags": source.tags,
                "lyrics": "",
                "mv": source.mv,
                "stem_type": name,
            }
            for name in names
        ]
        return _start(request, body, operation, price("sonic", operation), clips, origin="stem")

    return handler


async def create_voice(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    rate_limit(request)
    body = await json_body(request)
    ck.url_field(body, "audio_url")
    name = ck.text(
        body, "name", limit=80, limit_message="The name character length should be less than 80."
    )
    persona_id = state.new_id()
    result = {"persona_id": persona_id, "name": name or "Custom Voice"}
    response = _start(
        request,
        body,
        "create_voice",
        price("sonic", "create_voice"),
        [],
        kind="voice",
        result=result,
    )
    task_id = next(reversed(state.tasks))  # the task _start just stored
    state.personas[persona_id] = {"key": key, "name": result["name"], "task_id": task_id}
    return response


def add_routes(app: web.Application) -> None:
    p = "/api/v1/sonic"
    app.router.add_post(f"{p}/create", create)
    app.router.add_post(f"{p}/upload", upload)
    app.router.add_post(f"{p}/upload-extend", upload_extend)
    app.router.add_post(f"{p}/upload-cover", upload_cover)
    app.router.add_post(f"{p}/sample", sample)
    app.router.add_post(f"{p}/mashup", mashup)
    app.router.add_post(f"{p}/replace-section", replace_section)
    app.router.add_post(f"{p}/stems/basic", _stems(_BASIC_STEMS, "stems_basic"))
    app.router.add_post(f"{p}/stems/full", _stems(_FULL_STEMS, "stems_full"))
    app.router.add_post(f"{p}/create-voice", create_voice)
