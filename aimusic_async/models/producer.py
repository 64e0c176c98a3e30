"""Producer request and response models (``/api/v1/producer/*``): the union of the task types
of every generation of the producer docs; a host that retired one answers 410."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._base import RequestModel, field_error, readable_validation_error, union_titles

__all__ = [
    "PRODUCER_MODELS",
    "PRODUCER_REPLACEMENTS",
    "PRODUCER_RETIRED_TASK_TYPES",
    "PRODUCER_TASK_TYPES",
    "ProducerCoverMusic",
    "ProducerCreateMusic",
    "ProducerCreateRequest",
    "ProducerDownloadRequest",
    "ProducerExtendMusic",
    "ProducerLyricsRequest",
    "ProducerMusicVariation",
    "ProducerReplaceMusic",
    "ProducerSwapMusic",
    "ProducerTaskType",
    "ProducerUploadRequest",
    "ProducerVideoRequest",
    "WebhookFields",
    "build_producer_create",
]

ProducerTaskType = Literal[
    "create_music",
    "extend_music",
    "replace_music",
    "cover_music",
    "cover_upload_music",
    "music_variation",
    "swap_music_vocals",
    "swap_music_sound",
]
PRODUCER_TASK_TYPES: tuple[str, ...] = get_args(ProducerTaskType)

# Documented `mv` values across the generations. Any other string is sent as is: the model
# list changes faster than releases and the server decides.
PRODUCER_MODELS: tuple[str, ...] = (
    "Lyria 3 Pro",
    "FUZZ-2.0 Pro",
    "FUZZ-2.0",
    "FUZZ-2.0 Raw",
    "FUZZ-1.1 Pro",
    "FUZZ-1.0 Pro",
    "FUZZ-1.0",
    "FUZZ-1.1",
    "FUZZ-0.8",
    "Lyria 3 preview",
    "FUZZ-3-Demo",
)

# Retired in every generation of the docs (HTTP 410).
PRODUCER_RETIRED_TASK_TYPES = frozenset(
    {"music_variation", "swap_music_vocals", "swap_music_sound"}
)

# What to call when the server answers 410 for a task type. extend/replace/cover are retired on
# api.aimusicapi.ai (but served on api.musicapi.ai); sonic offers the same operation there.
PRODUCER_REPLACEMENTS: dict[str, str] = {
    "extend_music": "client.sonic.extend",
    "replace_music": "client.sonic.replace_section",
    "cover_music": "client.sonic.cover",
    "cover_upload_music": "client.sonic.upload_cover",
    "music_variation": "client.sonic.remaster",
    "swap_music_vocals": "client.sonic.add_vocals",
    "swap_music_sound": "client.sonic.add_instrumental",
}

Title = Annotated[str, Field(max_length=80)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
# pattern \S: a blank string ("  ") is as empty as "" to the API, so refuse it before sending.
NonEmpty = Annotated[str, Field(min_length=1, pattern=r"\S")]


def _http_url(value: str, field: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise PydanticCustomError("url_scheme", "{field} must be an http(s) URL", {"field": field})
    return value


class WebhookFields(RequestModel):
    """``webhook_url`` (<= 1024 chars) and ``webhook_secret`` (never shown in repr).

    A ``ValidationError`` shows no input values: pydantic would print the whole body (secret
    included, in part) after a missing field or a model-level rule.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    webhook_url: Annotated[str, Field(max_length=1024)] | None = None
    webhook_secret: str | None = Field(default=None, repr=False)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "webhook_url")


class _ProducerBase(WebhookFields):
    mv: NonEmpty | None = None


class ProducerCreateMusic(_ProducerBase):
    """``create_music``: a song from a style description (``sound``) and/or ``lyrics``.

    ``lyrics_strength``, ``sound_strength`` and ``weirdness`` are FUZZ-era tuning knobs
    (accepted but ignored by Lyria-era hosts).
    """

    task_type: Literal["create_music"] = "create_music"
    sound: str | None = None
    lyrics: str | None = None
    title: Title | None = None
    seed: Annotated[str, Field(pattern=r"^[0-9]+$")] | None = None
    make_instrumental: bool | None = None
    lyrics_strength: Unit | None = None
    sound_strength: Annotated[float, Field(ge=0.2, le=1.0)] | None = None
    weirdness: Unit | None = None
    cover_url: str | None = None

    @model_validator(mode="after")
    def _needs_input(self) -> ProducerCreateMusic:
        if not (self.sound or self.lyrics):
            raise field_error(
                "ProducerCreateMusic",
                "sound",
                "missing_sound_or_lyrics",
                "sound or lyrics is required for create_music",
            )
        return self


class ProducerExtendMusic(_ProducerBase):
    """``extend_music``: continue ``clip_id`` from ``starts_at`` seconds for ``length`` s."""

    task_type: Literal["extend_music"] = "extend_music"
    clip_id: NonEmpty
    starts_at: Seconds
    instruction: str | None = None
    length: Annotated[int, Field(ge=1, le=240)] | None = None
    sound: str | None = None
    lyrics: str | None = None


class ProducerReplaceMusic(_ProducerBase):
    """``replace_music``: regenerate ``starts_at``..``ends_at`` (omitted end: to the end)."""

    task_type: Literal["replace_music"] = "replace_music"
    clip_id: NonEmpty
    starts_at: Seconds
    ends_at: Seconds | None = None
    instruction: str | None = None
    sound: str | None = None
    lyrics: str | None = None

    @model_validator(mode="after")
    def _window(self) -> ProducerReplaceMusic:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise field_error(
                "ProducerReplaceMusic",
                "ends_at",
                "ends_at_order",
                "ends_at must be greater than starts_at",
            )
        return self


class ProducerCoverMusic(_ProducerBase):
    """``cover_music`` / ``cover_upload_music`` (uploaded clips): restyle ``clip_id``.

    ``strength`` is 0-1 (``cover_strength`` is the FUZZ-era name; send one of them).
    """

    task_type: Literal["cover_music", "cover_upload_music"] = "cover_music"
    clip_id: NonEmpty
    instruction: str | None = None
    strength: Unit | None = None
    cover_strength: Unit | None = None
    title: Title | None = None
    sound: str | None = None
    lyrics: str | None = None
    cover_url: str | None = None

    @model_validator(mode="after")
    def _direction(self) -> ProducerCoverMusic:
        if not (self.instruction or self.sound or self.lyrics):
            raise field_error(
                "ProducerCoverMusic",
                "instruction",
                "missing_instruction",
                "instruction (or sound / lyrics) is required for a cover",
            )
        if self.strength is not None and self.cover_strength is not None:
            raise field_error(
                "ProducerCoverMusic",
                "cover_strength",
                "strength_twice",
                "give strength or cover_strength, not both",
            )
        return self


class ProducerMusicVariation(_ProducerBase):
    """``music_variation`` (retired: the server answers 410)."""

    task_type: Literal["music_variation"] = "music_variation"
    clip_id: NonEmpty
    seed: Annotated[str, Field(pattern=r"^[0-9]+$")] | None = None


class ProducerSwapMusic(_ProducerBase):
    """``swap_music_vocals`` / ``swap_music_sound`` (retired: the server answers 410)."""

    task_type: Literal["swap_music_vocals", "swap_music_sound"]
    clip_id: NonEmpty
    sound: str | None = None
    lyrics: str | None = None
    cover_strength: Unit | None = None


ProducerCreateRequest = Annotated[
    ProducerCreateMusic
    | ProducerExtendMusic
    | ProducerReplaceMusic
    | ProducerCoverMusic
    | ProducerMusicVariation
    | ProducerSwapMusic,
    Field(discriminator="task_type"),
]
_CREATE_ADAPTER: TypeAdapter[ProducerCreateRequest] = TypeAdapter(
    ProducerCreateRequest, config=ConfigDict(title="producer.create", hide_input_in_errors=True)
)


_TITLES = union_titles(get_args(get_args(ProducerCreateRequest)[0]))


def build_producer_create(fields: dict[str, Any]) -> ProducerCreateRequest:
    """Validate the fields of one ``/producer/create`` call (``task_type`` defaults to
    ``create_music``). A field that does not belong to the task type is an error."""
    data = {k: v for k, v in fields.items() if v is not None}
    data.setdefault("task_type", "create_music")
    try:
        return _CREATE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise readable_validation_error(exc, "ProducerCreateRequest", tags=_TITLES) from None


class ProducerUploadRequest(WebhookFields):
    """``/producer/upload``: register a public audio URL so it can be used as a ``clip_id``."""

    audio_url: NonEmpty

    @field_validator("audio_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "audio_url")


class ProducerDownloadRequest(WebhookFields):
    """``/producer/download``: a re-encoded copy of a clip, ``mp3`` or ``wav``."""

    clip_id: NonEmpty
    format: Literal["mp3", "wav"] = "mp3"


class ProducerLyricsRequest(WebhookFields):
    """``/producer/lyrics-create``: lyrics from a text ``prompt`` (field name unconfirmed)."""

    prompt: NonEmpty


class ProducerVideoRequest(WebhookFields):
    """``/producer/video-clip``: a music video for ``clip_id`` (field name unconfirmed)."""

    clip_id: NonEmpty
