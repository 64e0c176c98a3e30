"""The fake CDN: a second listener (another origin) serving the files results point at."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from ._http import STATE
from ._media import cached_song_wav, midi_bytes, png_bytes, song_frames, song_wav
from ._state import ClipRecord, EmulatorState

__all__ = ["cdn_app"]

_KINDS: dict[str, tuple[str, str]] = {
    # path prefix -> (file extension, content type)
    "audio": (".wav", "audio/wav"),
    "wav": (".wav", "audio/wav"),
    "image": (".png", "image/png"),
    "midi": (".mid", "audio/midi"),
}


def _song_key(clip: ClipRecord) -> tuple[str, int]:
    # The file is exactly as long as the clip's duration says (to the nearest sample).
    return clip.music, song_frames(float(clip.duration))


def file_bytes(state: EmulatorState, kind: str, clip_id: str) -> bytes:
    clip = state.clips[clip_id]
    makers: dict[str, Callable[[], bytes]] = {
        "audio": lambda: song_wav(*_song_key(clip)),
        "wav": lambda: song_wav(*_song_key(clip)),
        "image": lambda: png_bytes(clip_id),
        "midi": lambda: midi_bytes(clip_id),
    }
    return makers[kind]()


async def _file_bytes(state: EmulatorState, kind: str, clip_id: str) -> bytes:
    """``file_bytes`` without holding the event loop: a song not rendered yet (a few to a few
    dozen milliseconds of CPU) is rendered in a worker thread."""
    if kind in ("audio", "wav"):
        cached = cached_song_wav(*_song_key(state.clips[clip_id]))
        if cached is not None:
            return cached
        return await asyncio.to_thread(file_bytes, state, kind, clip_id)
    return file_bytes(state, kind, clip_id)


async def serve_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    stats = state.stats
    stats.cdn_requests += 1
    if "Authorization" in request.headers:
        stats.cdn_requests_with_auth += 1
    kind, name = request.match_info["kind"], request.match_info["name"]
    spec = _KINDS.get(kind)
    if spec is None or not name.endswith(spec[0]):
        raise web.HTTPNotFound()
    clip_id = name[: -len(spec[0])]
    if clip_id not in state.clips:
        raise web.HTTPNotFound()
    if state.fault(state.config.cdn_error_rate):
        stats.cdn_errors += 1
        raise web.HTTPServiceUnavailable()
    data = await _file_bytes(state, kind, clip_id)
    if request.method == "HEAD":
        return web.Response(headers={"Content-Length": str(len(data))}, content_type=spec[1])
    if state.fault(state.config.cdn_truncate_rate):
        stats.cdn_truncated += 1
        resp = web.StreamResponse(headers={"Content-Type": spec[1]})
        resp.content_length = len(data)
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        if request.transport is not None:
            request.transport.abort()  # the promised length never arrives
        return resp
    return web.Response(body=data, content_type=spec[1])


def cdn_app(state: EmulatorState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/{kind}/{name}", serve_file)  # GET also answers HEAD
    return app
