"""The emulator's audio is music: a few seconds of a tune per clip, as long as its duration says.

Each clip's WAV is composed from the emulator's seed and the request's prompt: it parses, its
length matches the clip's ``duration`` to the sample, it is not silent, it moves between pitches,
two prompts give two tunes, and the same seed and prompt give the same bytes.
"""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from itertools import pairwise
from typing import Any

from aimusic_async.testing import _media

from .conftest import FAST, Api, MakeApi

RATE = 22050
# RMS of 16-bit samples: 1,000 is about -30 dBFS, clearly audible (the songs sit near -14 dBFS).
AUDIBLE_RMS = 1000.0


def desc(prompt: str) -> dict[str, Any]:
    return {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": prompt}


async def finished_clips(api: Api, body: dict[str, Any], family: str = "sonic") -> Any:
    path = "/api/v1/sonic/create" if family == "sonic" else f"/api/v1/{family}/create"
    reply = await api.post(path, body)
    assert reply.status == 200, reply.body
    final = await api.wait(reply.body["task_id"], family)
    return final.body["data"]


async def fetch(api: Api, url: str) -> bytes:
    async with api.session.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


def samples_of(data: bytes) -> tuple[array[int], int]:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        rate = w.getframerate()
        pcm = array("h", w.readframes(w.getnframes()))
    return pcm, rate


def rms(pcm: array[int]) -> float:
    return math.sqrt(sum(x * x for x in pcm) / max(1, len(pcm)))


def crossing_rates(pcm: array[int], segment: int) -> list[int]:
    """Zero crossings per ``segment`` samples, for each sounding segment: it follows pitch."""
    rates = []
    for start in range(0, len(pcm) - segment, segment):
        part = pcm[start : start + segment]
        if rms(part) < AUDIBLE_RMS:
            continue  # a breath between notes
        rates.append(sum(1 for a, b in pairwise(part) if (a < 0) != (b < 0)))
    return rates


async def test_a_clip_is_a_few_seconds_of_music_as_long_as_its_duration(api: Api) -> None:
    clips = await finished_clips(api, desc("a bright indie pop song about a road trip"))
    assert len(clips) == 2
    tunes = []
    for clip in clips:
        assert clip["state"] == "succeeded"
        data = await fetch(api, clip["audio_url"])
        pcm, rate = samples_of(data)
        assert rate == RATE
        seconds = len(pcm) / rate
        # The clip says how long its file is, to within one sample.
        assert abs(seconds - float(clip["duration"])) <= 1 / rate
        assert 4.0 <= seconds <= 8.0
        assert rms(pcm) > AUDIBLE_RMS
        # More than one pitch: the crossing rate moves between notes (8 notes in 0.1 s slices).
        rates = crossing_rates(pcm, rate // 10)
        assert len(rates) > 10
        assert max(rates) > 1.3 * min(rates), rates
        assert len({r // 5 for r in rates}) >= 3, rates
        # Small: mono 16-bit, at most 8 s.
        assert len(data) <= 44 + 8 * RATE * 2
        tunes.append(data)
    # The two clips of one task are two takes, not one file twice.
    assert tunes[0] != tunes[1]


async def test_two_prompts_two_tunes_and_the_same_prompt_the_same_bytes(
    make_api: MakeApi,
) -> None:
    first = await make_api(FAST.replace(seed=11))
    again = await make_api(FAST.replace(seed=11))
    other_seed = await make_api(FAST.replace(seed=12))

    async def song(api: Api, prompt: str) -> bytes:
        clips = await finished_clips(api, desc(prompt))
        return await fetch(api, clips[0]["audio_url"])

    rain = await song(first, "rain on a tin roof, slow piano")
    dance = await song(first, "a fast dance track for a summer night")
    assert rain != dance
    # Not only other bytes: another tune (other pitches where both sound).
    assert crossing_rates(samples_of(rain)[0], RATE // 10) != crossing_rates(
        samples_of(dance)[0], RATE // 10
    )
    # Same seed, same prompt (in another emulator, after other requests): identical bytes.
    await song(again, "something else first")
    assert await song(again, "rain on a tin roof, slow piano") == rain
    # Another seed composes another song for the same prompt.
    assert await song(other_seed, "rain on a tin roof, slow piano") != rain


async def test_every_family_and_upload_reports_its_file_length(api: Api) -> None:
    producer = await finished_clips(
        api, {"task_type": "create_music", "sound": "lo-fi"}, "producer"
    )
    upload = await api.post("/api/v1/sonic/upload", {"url": "https://files.example/demo.mp3"})
    assert upload.status == 200, upload.body
    uploaded = api.emu.clips[upload.body["clip_id"]]
    for clip_id, duration in [
        (producer[0]["clip_id"], producer[0]["duration"]),
        (uploaded.clip_id, uploaded.duration),
    ]:
        pcm, rate = samples_of(api.emu.audio_bytes(clip_id))
        assert abs(len(pcm) / rate - float(duration)) <= 1 / rate
        assert rms(pcm) > AUDIBLE_RMS


async def test_songs_are_rendered_once_and_served_from_the_cache(api: Api) -> None:
    clips = await finished_clips(api, desc("a cached song"))
    clip = api.emu.clips[clips[0]["clip_id"]]
    key = (clip.music, _media.song_frames(float(clip.duration)))
    assert _media.cached_song_wav(*key) is None  # nothing is rendered before it is fetched
    data = await fetch(api, clips[0]["audio_url"])
    rendered = _media.cached_song_wav(*key)
    assert rendered == data
    # Fetched again: served from the cache (the very same bytes object), not rendered again.
    assert await fetch(api, clips[0]["audio_url"]) == data
    assert _media.cached_song_wav(*key) is rendered


def test_the_synthesiser_is_deterministic_and_small() -> None:
    key = "7\ngpt_description_prompt=lo-fi\n0"
    frames = _media.song_frames(_media.clip_seconds(key, 6.0))
    one = _media.render(_media.compose(key), frames)
    assert _media.render(_media.compose(key), frames) == one
    pcm = array("h")
    pcm.frombytes(one)
    if sys.byteorder == "big":  # pragma: no cover - the PCM is little-endian
        pcm.byteswap()
    assert len(pcm) == frames
    # Within the 4.5-7.5 s a 6 s typical length allows.
    assert 4.5 * RATE <= frames <= 7.5 * RATE
    # Never clipped: the two voices together stay well inside 16 bits, and the end fades out.
    assert 8000 < max(map(abs, pcm)) < 32767
    assert pcm[-1] == 0
