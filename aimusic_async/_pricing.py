"""The price table: credits per operation, per API family. Pure data, the one place prices live;
informational (the emulator charges by it, the server's bill is the truth)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PRICES", "price"]

# The vendor's pages disagree between brands and dates; where they conflict, the MusicAPI figure
# is used. The combined upload-and-X routes cost an upload plus the operation (undocumented: our
# assumption). The manual's wire contract lists the prices and their sources' disagreements.

_SONIC: dict[str, int] = {
    # /sonic/create task types
    "create_music": 15,
    "extend_music": 15,
    "cover_music": 15,
    "persona_music": 15,
    "extend_upload_music": 15,
    "cover_upload_music": 15,
    "concat_music": 2,
    "remaster": 10,
    "add_vocals": 10,
    "add_instrumental": 10,
    # dedicated routes
    "upload": 2,
    "upload_extend": 17,  # upload (2) + extend (15): undocumented, assumed additive
    "upload_cover": 17,  # upload (2) + cover (15): undocumented, assumed additive
    "sample": 14,
    "mashup": 10,
    "replace_section": 10,
    "stems_basic": 15,
    "stems_full": 75,
    "create_voice": 4,
    "persona": 1,
    "bpm": 1,
    "vox": 1,
    "wav": 2,
    "midi": 1,
    "aligned_lyrics": 1,  # first call per clip; repeats are free
    "upsample_tags": 1,
    # Not the MusicAPI guide's 10: those are "lyrics credits", a separate allowance; 2 from the
    # shared pool per the sister guide and the musicapi.ai product page.
    "lyrics": 2,
}

_PRODUCER: dict[str, int] = {
    "create_music": 10,
    "make_lyrics": 1,  # POST /producer/lyrics-create (polls report task_type make_lyrics)
    "video_clip": 5,
    "upload": 2,
    "download": 2,
}

_RIFFUSION: dict[str, int] = {"create_music": 12, "upload": 2}

_NURO: dict[str, int] = {"create": 10}

PRICES: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "sonic": MappingProxyType(_SONIC),
        "producer": MappingProxyType(_PRODUCER),
        "riffusion": MappingProxyType(_RIFFUSION),
        "nuro": MappingProxyType(_NURO),
    }
)


def price(family: str, operation: str) -> int:
    """Credits one call of ``operation`` in ``family`` costs (KeyError if unknown)."""
    return PRICES[family][operation]
