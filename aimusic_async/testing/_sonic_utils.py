"""The sonic family's synchronous routes: persona, bpm, vox, wav, midi, aligned lyrics,
upsample tags and lyrics. Each is charged on the spot and answers its result at once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from aimusic_async._pricing import price

from . import _checks as ck
from ._http import EmulatorError, json_body, ok
from ._sonic import TITLES
from ._starts import pay, state_and_key
from ._state import ClipRecord, EmulatorState

__all__ = ["add_routes"]


async def _clip_request(
    request: web.Request,
) -> tuple[EmulatorState, str, dict[str, Any], ClipRecord]:
    """The common start of a per-clip utility: the caller's account, the body, the clip."""
    state, key = state_and_key(request)
    body = await json_body(request)
    clip = ck.clip_ref(state, key, body, "clip_id")
    assert clip is not None  # clip_id is required here: clip_ref raised otherwise
    return state, key, body, clip


async def persona(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    body = await json_body(request)
    name = ck.text(
        body, "name", limit=80, limit_message="The name character length should be less than 80."
    )
    clip_field = "clip_id" if body.get("clip_id") is not None else "continue_clip_id"
    if not name or body.get(clip_field) is None:
        raise ck.bad("name and continue_clip_id are required fields.")
    ck.text(
        body,
        "describe",
        limit=200,
        limit_message="The description character length should be less than 200.",
    )
    ck.text(
        body,
        "description",
        limit=200,
        limit_message="The description character length should be less than 200.",
    )
    ck.clip_ref(state, key, body, clip_field)
    pay(state, key, price("sonic", "persona"))
    persona_id = state.new_id()
    state.personas[persona_id] = {"key": key, "name": name, "task_id": None}
    return ok({"code": 200, "message": "success", "persona_id": persona_id})


def _digest(clip_id: str) -> int:
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:4], "big")


async def bpm(request: web.Request) -> web.Response:
    state, key, _, clip = await _clip_request(request)
    pay(state, key, price("sonic", "bpm"))
    avg = 70 + _digest(clip.clip_id) % 90
    data = {"avg_bpm": float(avg), "max_bpm": float(avg + 4), "min_bpm": float(avg - 3)}
    return ok({"code": 200, "message": "success", "data": data})


async def vox(request: web.Request) -> web.Response:
    state, key, body, clip = await _clip_request(request)
    start = ck.number(body, "vocal_start_s", minimum=0)
    end = ck.number(body, "vocal_end_s", minimum=0)
    if start is not None and end is not None and not 0 < end - start <= 30:
        raise ck.bad("The vocal window should be longer than 0 and at most 30 seconds.")
    pay(state, key, price("sonic", "vox"))
    extract = state.add_clip(key, "vox", title=f"{clip.title} (vocals)", mv=clip.mv)
    data = {
        "vox_audio_id": extract.clip_id,
        "clip_id": clip.clip_id,
        "audio_url": state.media_urls(extract)["audio_url"],
        "vocal_start_s": start,
        "vocal_end_s": end,
    }
    return ok({"code": 200, "message": "success", "data": data})


async def wav(request: web.Request) -> web.Response:
    state, key, _, clip = await _clip_request(request)
    pay(state, key, price("sonic", "wav"))
    data = {"wav_url": f"{state.cdn_url}/wav/{clip.clip_id}.wav"}
    return ok({"code": 200, "message": "success", "data": data})


async def midi(request: web.Request) -> web.Response:
    state, key, _, clip = await _clip_request(request)
    pay(state, key, price("sonic", "midi"))
    base = 48 + _digest(clip.clip_id) % 24
    notes = [
        {"start": 0.5 * i, "end": 0.5 * i + 0.4, "pitch": base + step, "velocity": 0.5}
        for i, step in enumerate((0, 4, 7, 12))
    ]
    data = {
        "midi_url": f"{state.cdn_url}/midi/{clip.clip_id}.mid",
        "instruments": [{"name": "Synth Voice", "notes": notes}],
    }
    return ok({"code": 200, "message": "success", "data": data})


async def aligned_lyrics(request: web.Request) -> web.Response:
    state, key, _, clip = await _clip_request(request)
    words = [w for w in clip.lyrics.split() if not (w.startswith("[") or w.endswith("]"))]
    if not words:
        raise EmulatorError(404, "lyrics not found.")
    if (key, clip.clip_id) not in state.aligned_paid:  # first call per clip is paid, then cache
        pay(state, key, price("sonic", "aligned_lyrics"))
        state.aligned_paid.add((key, clip.clip_id))
    alignment = [
        {
            "word": w,
            "start_s": round(0.4 * i, 2),
            "end_s": round(0.4 * i + 0.35, 2),
            "p_align": 0.97,
            "success": True,
        }
        for i, w in enumerate(words)
    ]
    return ok({"code": 200, "message": "success", "data": {"alignment": alignment}})


async def upsample_tags(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    body = await json_body(request)
    tags = ck.required_text(body, "tags")
    pay(state, key, price("sonic", "upsample_tags"))
    richer = f"{tags}, polished modern production, warm analog texture, catchy hook"
    return ok({"code": 200, "message": "success", "data": {"upsampled_tags": richer}})


async def lyrics(request: web.Request) -> web.Response:
    state, key = state_and_key(request)
    body = await json_body(request)
    description = ck.required_text(body, "description", "description is required.")
    if len(description) >= 120:
        raise ck.bad("The description character length should be less than 120.")
    pay(state, key, price("sonic", "lyrics"))
    results = [
        {
            "title": state.rng.choice(TITLES),
            "lyrics": f"[Verse]\n{description}\nunder open skies\n\n[Chorus]\nWe rise, we rise",
        }
        for _ in range(2)
    ]
    return ok({"code": 200, "message": "success", "results": results})


def add_routes(app: web.Application) -> None:
    p = "/api/v1/sonic"
    app.router.add_post(f"{p}/persona", persona)
    app.router.add_post(f"{p}/bpm", bpm)
    app.router.add_post(f"{p}/vox", vox)
    app.router.add_post(f"{p}/wav", wav)
    app.router.add_post(f"{p}/midi", midi)
    app.router.add_post(f"{p}/aligned-lyrics", aligned_lyrics)
    app.router.add_post(f"{p}/upsample-tags", upsample_tags)
    app.router.add_post(f"{p}/lyrics", lyrics)
