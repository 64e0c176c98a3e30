"""The fake CDN: another origin, real files, exact bytes and lengths, auth counted, faults."""

from __future__ import annotations

import io
import wave
from urllib.parse import urlsplit

import aiohttp
import pytest

from .conftest import FAST, Api, MakeApi, clip_of


async def test_cdn_is_another_origin_with_exact_audio(api: Api) -> None:
    clip = await clip_of(api)
    api_origin = urlsplit(api.emu.base_url)
    cdn = urlsplit(clip["audio_url"])
    assert (cdn.hostname, cdn.port) != (api_origin.hostname, api_origin.port)
    assert clip["audio_url"].startswith(api.emu.cdn_url)
    async with api.session.get(clip["audio_url"]) as resp:
        data = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "audio/wav"
        assert int(resp.headers["Content-Length"]) == len(data)
    assert data == api.emu.audio_bytes(clip["clip_id"])
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1
        assert w.getframerate() == 22050
        assert w.getnframes() == round(22050 * float(clip["duration"]))
    other = api.emu.tasks[next(iter(api.emu.tasks))].clips[1].clip_id
    assert api.emu.audio_bytes(other) != data  # each clip of a task is its own song
    assert api.emu.stats.cdn_requests == 1
    assert api.emu.stats.cdn_requests_with_auth == 0


async def test_image_wav_and_midi_files(api: Api) -> None:
    clip = await clip_of(api)
    async with api.session.get(clip["image_url"]) as resp:
        assert (await resp.read()).startswith(b"\x89PNG\r\n\x1a\n")
    reply = await api.post("/api/v1/sonic/wav", {"clip_id": clip["clip_id"]})
    async with api.session.get(reply.body["data"]["wav_url"]) as resp:
        assert (await resp.read())[:4] == b"RIFF"
    reply = await api.post("/api/v1/sonic/midi", {"clip_id": clip["clip_id"]})
    async with api.session.get(reply.body["data"]["midi_url"]) as resp:
        assert (await resp.read())[:4] == b"MThd"


async def test_auth_header_is_counted_and_unknown_files_404(api: Api) -> None:
    clip = await clip_of(api)
    async with api.session.get(clip["audio_url"], headers={"Authorization": "Bearer x"}) as resp:
        assert resp.status == 200
    assert api.emu.stats.cdn_requests_with_auth == 1
    for path in ("/audio/nope.wav", f"/audio/{clip['clip_id']}.mp3", "/other/x.wav"):
        async with api.session.get(api.emu.cdn_url + path) as resp:
            assert resp.status == 404
    # the API listener does not serve files
    async with api.session.get(api.emu.base_url + f"/audio/{clip['clip_id']}.wav") as resp:
        assert resp.status == 404


async def test_cdn_faults(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(cdn_error_rate=1.0))
    clip = await clip_of(api)
    async with api.session.get(clip["audio_url"]) as resp:
        assert resp.status == 503
    assert api.emu.stats.cdn_errors == 1
    api = await make_api(FAST.replace(cdn_truncate_rate=1.0))
    clip = await clip_of(api)
    async with api.session.get(clip["audio_url"]) as resp:
        assert int(resp.headers["Content-Length"]) == len(api.emu.audio_bytes(clip["clip_id"]))
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert api.emu.stats.cdn_truncated == 1


async def test_audio_length_follows_config(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(audio_seconds=0.1))
    clip = await clip_of(api)
    # 0.75-1.25 times the configured length, as the clip's duration says.
    seconds = float(clip["duration"])
    assert 0.075 <= seconds <= 0.125
    assert len(api.emu.audio_bytes(clip["clip_id"])) == 44 + round(22050 * seconds) * 2
    with pytest.raises(KeyError):
        api.emu.audio_bytes("nope")
