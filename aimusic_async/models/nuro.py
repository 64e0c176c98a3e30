"""Nuro request and response models (``/api/v1/nuro/*``; retired where the service answers 410).
Enum values are exact: the vocal ``genre`` is one string, the background-music ``genre`` a list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ._base import RequestModel, ResponseModel, field_error
from .producer import WebhookFields

__all__ = [
    "NuroBgmGenre",
    "NuroBgmRequest",
    "NuroGender",
    "NuroInstrument",
    "NuroMood",
    "NuroSegment",
    "NuroTaskInfo",
    "NuroTheme",
    "NuroTimbre",
    "NuroVocalGenre",
    "NuroVocalMood",
    "NuroVocalRequest",
]

NuroGender = Literal["Female", "Male"]
NuroVocalGenre = Literal[
    "Folk", "Pop", "Rock", "Chinese Style", "Hip Hop/Rap", "R&B/Soul", "Punk", "Electronic",
    "Jazz", "Reggae", "DJ", "Pop Punk", "Disco", "Future Bass", "Pop Rap", "Trap Rap", "R&B Rap",
    "Chinoiserie Electronic", "GuFeng Music", "Pop Rock", "Jazz Pop", "Bossa Nova",
    "Contemporary R&B",
]  # fmt: skip
NuroVocalMood = Literal[
    "Happy", "Dynamic/Energetic", "Sentimental/Melancholic/Lonely", "Inspirational/Hopeful",
    "Nostalgic/Memory", "Excited", "Sorrow/Sad", "Chill", "Romantic", "Miss", "Groovy/Funky",
    "Dreamy/Ethereal", "Calm/Relaxing",
]  # fmt: skip
NuroTimbre = Literal[
    "Warm", "Bright", "Husky", "Electrified voice", "Sweet_AUDIO_TIMBRE", "Cute_AUDIO_TIMBRE",
    "Loud and sonorous", "Powerful", "Sexy/Lazy",
]  # fmt: skip
NuroBgmGenre = Literal[
    "corporate", "dance/edm", "orchestral", "chill out", "rock", "hip hop", "folk", "funk",
    "ambient", "holiday", "jazz", "kids", "world", "travel", "commercial", "advertising",
    "driving", "cinematic", "upbeat", "epic", "inspiring", "business", "video game", "dark",
    "pop", "trailer", "modern", "electronic", "documentary", "soundtrack", "fashion", "acoustic",
    "movie", "tv", "high tech", "industrial", "dance", "video", "vlog", "marketing", "game",
    "radio", "promotional", "sports", "party", "summer", "beauty",
]  # fmt: skip
NuroMood = Literal[
    "positive", "uplifting", "energetic", "happy", "bright", "optimistic", "hopeful", "cool",
    "dreamy", "fun", "light", "powerful", "calm", "confident", "joyful", "dramatic", "peaceful",
    "playful", "soft", "groovy", "reflective", "easy", "relaxed", "lively", "smooth", "romantic",
    "intense", "elegant", "mellow", "emotional", "sentimental", "cheerful happy", "contemplative",
    "soothing", "proud", "passionate", "sweet", "mystical", "tranquil", "cheerful", "casual",
    "beautiful", "ethereal", "melancholy", "sad", "aggressive", "haunting", "adventure", "serene",
    "sincere", "funky", "funny",
]  # fmt: skip
NuroInstrument = Literal[
    "piano", "drums", "guitar", "percussion", "synth", "electric guitar", "acoustic guitar",
    "bass guitar", "brass", "violin", "cello", "flute", "organ", "trumpet", "ukulele",
    "saxophone", "double bass", "harp", "glockenspiel", "synthesizer", "keyboard", "marimba",
    "bass", "banjo", "strings",
]  # fmt: skip
NuroTheme = Literal[
    "inspirational", "motivational", "achievement", "discovery", "every day", "love",
    "technology", "lifestyle", "journey", "meditation", "drama", "children", "hope", "fantasy",
    "holiday", "health", "family", "real estate", "media", "kids", "science", "education",
    "progress", "world", "vacation", "training", "christmas", "sales",
]  # fmt: skip


class NuroVocalRequest(WebhookFields):
    """``type: "vocal"``: a sung song from ``lyrics`` (<= 2000 chars), 30-240 s.

    Omitted ``gender`` / ``genre`` / ``mood`` / ``timbre`` are predicted by the service.
    """

    type: Literal["vocal"] = "vocal"
    lyrics: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]
    gender: NuroGender | None = None
    genre: NuroVocalGenre | None = None
    mood: NuroVocalMood | None = None
    timbre: NuroTimbre | None = None
    duration: Annotated[int, Field(ge=30, le=240)] | None = None


class NuroSegment(RequestModel):
    """One section of a v2.0 background track: ``name`` and ``duration`` (5-120 s)."""

    name: Literal["intro", "verse", "chorus", "bridge", "inst", "outro"]
    duration: Annotated[int, Field(ge=5, le=120)]


def _at_most_five(value: list[Any] | None, field: str) -> list[Any] | None:
    if value is not None and len(value) > 5:
        raise PydanticCustomError(
            "too_many", "{field} takes at most 5 values, got {n}", {"field": field, "n": len(value)}
        )
    return value


_BGM = "NuroBgmRequest"


class NuroBgmRequest(WebhookFields):
    """``type: "bgm"``: background music from a ``description``.

    v1.0 (default): ``duration`` 1-60 s. v2.0: ``duration`` 30-120 s and optional ``segments``
    (5-120 s each, 30-120 s in total). ``genre``, ``mood``, ``instrument``, ``theme``: up to 5
    documented values each.
    """

    type: Literal["bgm"] = "bgm"
    description: Annotated[str, Field(min_length=1, pattern=r"\S")]
    version: Literal["v1.0", "v2.0"] | None = None
    genre: list[NuroBgmGenre] | None = None
    mood: list[NuroMood] | None = None
    instrument: list[NuroInstrument] | None = None
    theme: list[NuroTheme] | None = None
    duration: Annotated[int, Field(ge=1, le=120)] | None = None
    segments: list[NuroSegment] | None = None

    @field_validator("genre", "mood", "instrument", "theme")
    @classmethod
    def _five(cls, value: list[Any] | None, info: Any) -> list[Any] | None:
        return _at_most_five(value, info.field_name)

    @model_validator(mode="after")
    def _version_rules(self) -> NuroBgmRequest:
        v2 = self.version == "v2.0"
        if not v2:
            if self.segments is not None:
                raise field_error(_BGM, "segments", "segments_v2", 'segments need version "v2.0"')
            if self.duration is not None and self.duration > 60:
                raise field_error(
                    _BGM,
                    "duration",
                    "duration_v1",
                    "duration must be 1-60 seconds for version v1.0",
                )
            return self
        if self.duration is not None and self.duration < 30:
            raise field_error(
                _BGM, "duration", "duration_v2", "duration must be 30-120 seconds for v2.0"
            )
        if self.segments is not None:
            total = sum(s.duration for s in self.segments)
            if not 30 <= total <= 120:
                raise field_error(
                    _BGM,
                    "segments",
                    "segments_total",
                    f"segments must add up to 30-120 seconds, got {total}",
                )
            if self.duration is not None and self.duration != total:
                raise field_error(
                    _BGM,
                    "duration",
                    "duration_segments",
                    f"duration ({self.duration}) must equal the sum of segments ({total})",
                )
        return self


class NuroTaskInfo(ResponseModel):
    """The flat nuro poll answer: ``status`` pending/running/succeeded/failed, ``progress``
    0-100, then ``audio_url`` (WAV), ``lyrics``, ``duration`` and the chosen enums."""

    task_id: str | None = None
    status: str = "pending"
    progress: float | None = None
    audio_url: str | None = None
    lyrics: str | None = None
    duration: float | None = None
    genre: Any = None
    mood: Any = None
    gender: str | None = None
    timbre: str | None = None
    message: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else ("pending" if value is None else value)

    @field_validator("duration", "progress", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # While running the service sends empty strings / 0 for fields not known yet.
        if isinstance(value, str) and not value.strip():
            return None
        return value
