"""Real, tiny media files the fake CDN serves (WAV, PNG cover art, MIDI); the bytes depend only on
the clip id, so a test can compare a download with ``Emulator.audio_bytes(clip_id)``."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import struct
import sys
import wave
import zlib
from array import array

__all__ = ["midi_bytes", "png_bytes", "wav_bytes"]

_RATE = 8000


def _seed(clip_id: str) -> int:
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:4], "big")


@functools.lru_cache(maxsize=2048)
def wav_bytes(clip_id: str, seconds: float) -> bytes:
    """A mono 8 kHz 16-bit WAV: a sine tone whose pitch is derived from the clip id."""
    freq = 220.0 + _seed(clip_id) % 440
    frames = max(1, int(_RATE * seconds))
    step = 2 * math.pi * freq / _RATE
    samples = array("h", (int(12000 * math.sin(step * i)) for i in range(frames)))
    if sys.byteorder == "big":  # pragma: no cover - WAV samples are little-endian
        samples.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        out.writeframes(samples.tobytes())
    return buf.getvalue()


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
