"""The fake CDN: a second listener (another origin) serving the files results point at."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ._http import STATE
from ._media import midi_bytes, png_bytes, wav_bytes
from ._state import EmulatorState

__all__ = ["cdn_app"]

_KINDS: dict[str, tuple[str, str]] = {
    # path prefix -> (file extension, content type)
    "audio": (".wav", "audio/wav"),
    "wav": (".wav", "audio/wav"),
    "image": (".png", "image/png"),
    "midi": (".mid", "audio/midi"),
}


def file_bytes(state: EmulatorState, kind: str, clip_id: str) -> bytes:
    makers: dict[str, Callable[[], bytes]] = {
        "audio": lambda: wav_bytes(clip_id, state.config.audio_seconds),
        "wav": lambda: wav_bytes(clip_id, state.config.audio_seconds),
        "image": lambda: png_bytes(clip_id),
        "midi": lambda: midi_bytes(clip_id),
    }
    return makers[kind]()


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
    data = file_bytes(state, kind, clip_id)
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
