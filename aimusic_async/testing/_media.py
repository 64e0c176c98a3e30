"""Real, small media files the fake CDN serves: WAV songs composed from a clip's "music key"
(seed, prompt, place in its task; the same key gives the same bytes), PNG cover art, MIDI.
The synthesis is described in docs/emulator.md."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import random
import struct
import sys
import threading
import wave
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ._config import AUDIO_SAMPLE_RATE, SONG_CACHE_SIZE

__all__ = [
    "Song",
    "cached_song_wav",
    "clip_seconds",
    "compose",
    "midi_bytes",
    "png_bytes",
    "song_frames",
    "song_wav",
]

_RATE = AUDIO_SAMPLE_RATE

# Scales as semitones above the root; the first two are major-like, the last two minor-like.
_SCALES: tuple[tuple[int, ...], ...] = (
    (0, 2, 4, 7, 9),  # major pentatonic
    (0, 2, 4, 5, 7, 9, 11),  # major
    (0, 3, 5, 7, 10),  # minor pentatonic
    (0, 2, 3, 5, 7, 8, 10),  # natural minor
)
# One chord root per bar, as semitones above the key's root (I-V-vi-IV, i-VI-III-VII ...).
_MAJOR_PROGRESSIONS = ((0, 7, 9, 5), (0, 5, 7, 5), (0, 9, 5, 7), (0, 5, 9, 7))
_MINOR_PROGRESSIONS = ((0, 8, 3, 10), (0, 5, 10, 3), (0, 10, 8, 7), (0, 3, 8, 7))
_TEMPOS = (84, 96, 108, 120, 132)
# Melody keys between C4 and G4; the tune spans an octave and a half above.
_ROOTS = range(60, 68)
# Loudness steps of a note's envelope (each step lasts one loop of a few cycles).
_LEVELS = 32
_MELODY_PEAK = 12_000
_BASS_PEAK = 8_000
# Harmonic mixes (fundamental, 2nd, 3rd): a soft organ for the tune, a round bass whose second
# harmonic carries it on small speakers.
_VOICES = {"melody": (1.0, 0.35, 0.18), "bass": (1.0, 0.5, 0.0)}
# Envelope: decay time constant (s) and the level it settles at.
_DECAY = {"melody": (0.35, 0.35), "bass": (0.6, 0.45)}
# Gains of a note's first (and, reversed, last) loops.
_RAMP = (0.15, 0.4, 0.75, 1.0)
# The last few milliseconds of a file fade out, so it ends without a click.
_FADE_SECONDS = 0.03


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def clip_seconds(key: str, typical: float) -> float:
    """The length of a clip's song: 0.75-1.25 times ``typical``, chosen by its key, in
    hundredths of a second (the API's ``duration`` strings have two decimals)."""
    fraction = int.from_bytes(_digest("length:" + key)[:4], "big") / 2**32
    return max(0.01, round(typical * (0.75 + 0.5 * fraction), 2))


def song_frames(seconds: float) -> int:
    """Samples in a song of ``seconds`` (within one sample of it)."""
    return max(1, round(seconds * _RATE))


@dataclass(frozen=True)
class Song:
    """What a key composes: tempo, key, and per-beat notes (MIDI numbers; None is a rest)."""

    bpm: int
    root: int
    scale: tuple[int, ...]
    # Each melody note: (pitch or None, length in eighth notes).
    melody: tuple[tuple[int | None, int], ...]
    # One bass note per beat.
    bass: tuple[int, ...]

    @property
    def eighth_frames(self) -> int:
        return round(_RATE * 30 / self.bpm)


def _phrase(
    rng: random.Random, pitches: list[int], octave: int, beats: int
) -> list[tuple[int | None, int]]:
    """``beats`` beats of melody: a random walk on the scale that comes home to the key's root
    (``pitches[0]``, or ``pitches[octave]`` an octave up) on its last beat."""
    top = len(pitches) - 1
    index = rng.choice((0, 2, 4)) % top
    notes: list[tuple[int | None, int]] = []
    for _ in range(beats - 1):
        for length in (2,) if rng.random() < 0.4 else (1, 1):
            index = min(max(index + rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3)), 0), top)
            # Now and then a breath.
            notes.append((None if rng.random() < 0.08 else pitches[index], length))
    home = 0 if index < octave // 2 else octave
    notes.append((pitches[home], 2))
    return notes


@functools.lru_cache(maxsize=256)
def compose(key: str) -> Song:
    """The song for ``key``: everything is drawn from its hash, so it is reproducible."""
    rng = random.Random(int.from_bytes(_digest("song:" + key)[:8], "big"))
    scale_index = rng.randrange(len(_SCALES))
    scale = _SCALES[scale_index]
    root = rng.choice(_ROOTS)
    bpm = rng.choice(_TEMPOS)
    # An octave and a half of the scale above the root.
    octave = len(scale)
    span = octave * 3 // 2 + 1
    pitches = [root + 12 * (i // octave) + scale[i % octave] for i in range(span)]
    # A two-bar theme, then an answer that starts like it and ends differently.
    theme = _phrase(rng, pitches, octave, 8)
    opening = theme[: len(theme) // 2]
    answer = opening + _phrase(rng, pitches, octave, 8 - sum(n for _, n in opening) // 2)
    melody = tuple(theme + answer)
    progressions = _MAJOR_PROGRESSIONS if scale_index < 2 else _MINOR_PROGRESSIONS
    chords = rng.choice(progressions)
    bass_root = root - 24
    # Per bar of four beats: root, root, fifth, octave.
    pattern = (0, 0, 7, 12)
    beats = sum(length for _, length in melody) // 2
    bass = tuple(bass_root + chords[(beat // 4) % 4] + pattern[beat % 4] for beat in range(beats))
    return Song(bpm=bpm, root=root, scale=scale, melody=melody, bass=bass)


def _loop_length(freq: float) -> tuple[int, int]:
    """(samples, cycles): the shortest loop of whole cycles whose pitch is within 0.1 %."""
    best = (1.0, max(1, round(_RATE / freq)), 1)
    for cycles in range(1, 9):
        exact = cycles * _RATE / freq
        samples = max(1, round(exact))
        error = abs(samples - exact) / exact
        if error < best[0]:
            best = (error, samples, cycles)
        if error < 0.001:
            break
    return best[1], best[2]


# Tracks are built as 32-bit little-endian lanes holding ``sample + _OFFSET``: two tracks are then
# mixed by adding them as two big integers (one C-level operation instead of a Python loop over
# every sample). Both voices' peaks stay below the offset, so no lane ever borrows or carries,
# and a sum lane holds ``mix + 2 * _OFFSET`` = the mix in 16-bit offset binary.
_OFFSET = 1 << 14
_SILENT_LANE = _OFFSET.to_bytes(4, "little")


@functools.lru_cache(maxsize=256)
def _loops(pitch: int, voice: str) -> tuple[tuple[bytes, ...], int]:
    """The pitch's loop at each loudness level (as lanes), and the loop's length in samples."""
    freq = 440.0 * 2 ** ((pitch - 69) / 12)
    samples, cycles = _loop_length(freq)
    mix = _VOICES[voice]
    peak = _MELODY_PEAK if voice == "melody" else _BASS_PEAK
    wave_ = [
        sum(a * math.sin((h + 1) * 2 * math.pi * cycles * i / samples) for h, a in enumerate(mix))
        for i in range(samples)
    ]
    top = max(abs(v) for v in wave_) or 1.0
    levels = tuple(
        b"".join(
            (_OFFSET + round(peak * level / (_LEVELS - 1) * v / top)).to_bytes(4, "little")
            for v in wave_
        )
        for level in range(_LEVELS)
    )
    return levels, samples


@functools.lru_cache(maxsize=1024)
def _note(pitch: int | None, frames: int, voice: str) -> bytes:
    """One note of ``frames`` samples (as lanes): a quick attack, a decay to a sustain level, a
    quick release, and a short silence at the end (what does not fill a whole loop)."""
    if pitch is None:
        return _SILENT_LANE * frames
    levels, loop = _loops(pitch, voice)
    tau, floor = _DECAY[voice]
    count = frames // loop
    parts = []
    for i in range(count):
        t = i * loop / _RATE
        gain = max(floor, math.exp(-t / tau))
        # Ramps of a few loops in and out: a step from silence to full level is a click.
        gain *= min(_RAMP[min(i, len(_RAMP) - 1)], _RAMP[min(count - 1 - i, len(_RAMP) - 1)])
        parts.append(levels[round(gain * (_LEVELS - 1))])
    parts.append(_SILENT_LANE * (frames - count * loop))
    return b"".join(parts)


def _track(notes: Sequence[tuple[int | None, int]], voice: str, total: int) -> int:
    """``total`` samples of ``notes`` (cut or padded with silence), as one big integer."""
    parts = []
    length = 0
    for pitch, frames in notes:
        if length >= total:
            break
        parts.append(_note(pitch, frames, voice))
        length += frames
    if length < total:
        parts.append(_SILENT_LANE * (total - length))
    return int.from_bytes(b"".join(parts)[: 4 * total], "little")


@functools.lru_cache(maxsize=64)
def _sign_mask(frames: int) -> int:
    # XOR with 0x8000 turns 16-bit offset binary into two's complement.
    return int.from_bytes(b"\x00\x80" * frames, "little")


def render(song: Song, frames: int) -> bytes:
    """``frames`` samples of ``song`` (repeated as needed), faded out at the end: 16-bit
    little-endian PCM."""
    eighth = song.eighth_frames
    melody_notes = [(p, n * eighth) for p, n in song.melody]
    bass_notes = [(p, 2 * eighth) for p in song.bass]
    # Repeat the tune until the file is full.
    period = sum(n for _, n in melody_notes)
    repeats = frames // period + 1
    lanes = _track(melody_notes * repeats, "melody", frames)
    lanes += _track(bass_notes * repeats, "bass", frames)
    # The low two bytes of each lane are the mix in offset binary; the high two are zero.
    offset_binary = memoryview(lanes.to_bytes(4 * frames, "little")).cast("B")
    low = bytes(offset_binary[0::4]), bytes(offset_binary[1::4])
    pcm = bytearray(2 * frames)
    pcm[0::2], pcm[1::2] = low
    signed = (int.from_bytes(pcm, "little") ^ _sign_mask(frames)).to_bytes(2 * frames, "little")
    # Fade out the tail (a few hundred samples: a Python loop is fine here).
    fade = min(frames, round(_FADE_SECONDS * _RATE))
    tail = array("h")
    tail.frombytes(signed[2 * (frames - fade) :])
    if sys.byteorder == "big":  # pragma: no cover - the PCM is little-endian
        tail.byteswap()
    for i in range(fade):
        tail[i] = int(tail[i] * (fade - i - 1) / fade)
    if sys.byteorder == "big":  # pragma: no cover
        tail.byteswap()
    return signed[: 2 * (frames - fade)] + tail.tobytes()


def _wav(pcm: bytes) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        out.writeframes(pcm)
    return buf.getvalue()


_cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_cache_lock = threading.Lock()


def cached_song_wav(key: str, frames: int) -> bytes | None:
    """The WAV for ``key`` if it was rendered recently, else None (without rendering)."""
    with _cache_lock:
        data = _cache.get((key, frames))
        if data is not None:
            _cache.move_to_end((key, frames))
        return data


def song_wav(key: str, frames: int) -> bytes:
    """A mono 16-bit WAV of ``frames`` samples of the song composed from ``key``."""
    data = cached_song_wav(key, frames)
    if data is not None:
        return data
    data = _wav(render(compose(key), frames))
    with _cache_lock:
        _cache[(key, frames)] = data
        while len(_cache) > SONG_CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def _seed(clip_id: str) -> int:
    return int.from_bytes(_digest(clip_id)[:4], "big")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=2048)
def png_bytes(clip_id: str) -> bytes:
    """An 8x8 single-colour RGB PNG, the colour derived from the clip id."""
    seed = _seed(clip_id)
    pixel = bytes(((seed >> 16) & 255, (seed >> 8) & 255, seed & 255))
    rows = b"".join(b"\x00" + pixel * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=512)
def midi_bytes(clip_id: str) -> bytes:
    """A format-0 MIDI file with four notes, the first pitch derived from the clip id."""
    base = 48 + _seed(clip_id) % 24
    events = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # tempo 500,000 us per quarter
    for offset in (0, 4, 7, 12):
        events += bytes((0x00, 0x90, base + offset, 0x60))  # note on
        events += bytes((0x60, 0x80, base + offset, 0x40))  # note off after 96 ticks
    events += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96)
    return header + b"MTrk" + struct.pack(">I", len(events)) + bytes(events)
