"""Riffusion request and response models (``/api/v1/riffusion/*``; deprecated family): one create
route chosen by ``task_type``, lyrics-driven or description-driven by ``custom_mode``."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ._base import RequestModel, ResponseModel, field_error

__all__ = [
    "RIFFUSION_MODELS",
    "RIFFUSION_TASK_TYPES",
    "RiffusionCreateRequest",
    "RiffusionTaskType",
    "RiffusionUploadRequest",
    "RiffusionUploadResult",
]

RiffusionTaskType = Literal[
    "create_music",
    "extend_music",
    "cover_music",
    "extend_upload_music",
    "cover_upload_music",
    "replace_music",
    "swap_music_sound",
    "swap_music_vocals",
    "replace_upload_music",
    "swap_upload_music_sound",
    "swap_upload_music_vocals",
]
RIFFUSION_TASK_TYPES: tuple[str, ...] = get_args(RiffusionTaskType)

# Documented values; other strings pass (the server decides).
RIFFUSION_MODELS: tuple[str, ...] = ("FUZZ-1.1 Pro", "FUZZ-1.0 Pro", "FUZZ-1.1", "FUZZ-1.0")

_EXTEND = frozenset({"extend_music", "extend_upload_music"})
_VOCALS = frozenset({"swap_music_vocals", "swap_upload_music_vocals"})


_CREATE = "RiffusionCreateRequest"


class RiffusionCreateRequest(RequestModel):
    """Every ``/riffusion/create`` operation (two songs per call).

    - ``custom_mode=False``: ``prompt`` describes the song.
    - ``custom_mode=True``: ``lyrics`` (unless ``make_instrumental``), ``sound`` (style),
      ``title`` (<= 80).
    - Any ``task_type`` other than ``create_music`` works on ``continue_clip_id``; the extend
      types also need ``continue_at`` (seconds), the vocal swaps ``lyrics``.
    """

    task_type: RiffusionTaskType = "create_music"
    custom_mode: bool
    mv: Annotated[str, Field(min_length=1, pattern=r"\S")] = "FUZZ-1.1 Pro"
    prompt: str | None = None
    lyrics: str | None = None
    title: Annotated[str, Field(max_length=80)] | None = None
    sound: str | None = None
    make_instrumental: bool | None = None
    continue_clip_id: Annotated[str, Field(min_length=1, pattern=r"\S")] | None = None
    continue_at: Annotated[float, Field(ge=0.0)] | None = None

    @model_validator(mode="after")
    def _rules(self) -> RiffusionCreateRequest:
        if not self.custom_mode and not self.prompt:
            raise field_error(
                _CREATE, "prompt", "missing_prompt", "prompt is required when custom_mode is false"
            )
        if self.custom_mode and not self.lyrics and not self.make_instrumental:
            raise field_error(
                _CREATE,
                "lyrics",
                "missing_lyrics",
                "lyrics is required when custom_mode is true (unless make_instrumental)",
            )
        if self.task_type == "create_music":
            if self.continue_clip_id is not None or self.continue_at is not None:
                raise field_error(
                    _CREATE,
                    "continue_clip_id" if self.continue_clip_id is not None else "continue_at",
                    "continue_on_create",
                    "continue_clip_id / continue_at need a task_type such as extend_music",
                )
            return self
        if self.continue_clip_id is None:
            raise field_error(
                _CREATE,
                "continue_clip_id",
                "missing_continue_clip_id",
                f"continue_clip_id is required for task_type {self.task_type}",
            )
        if self.task_type in _EXTEND and self.continue_at is None:
            raise field_error(
                _CREATE,
                "continue_at",
                "missing_continue_at",
                f"continue_at is required for task_type {self.task_type}",
            )
        if self.task_type in _VOCALS and not self.lyrics:
            raise field_error(
                _CREATE,
                "lyrics",
                "missing_lyrics",
                f"lyrics is required for task_type {self.task_type}",
            )
        return self


class RiffusionUploadRequest(RequestModel):
    """``/riffusion/upload``: a public, copyright-free song URL to use as ``continue_clip_id``."""

    url: Annotated[str, Field(min_length=1, pattern=r"\S")]

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise PydanticCustomError("url_scheme", "url must be an http(s) URL")
        return value


class RiffusionUploadResult(ResponseModel):
    """What ``/riffusion/upload`` answered: a ``clip_id`` (sync) or a ``task_id`` to poll."""

    clip_id: str | None = None
    task_id: str | None = None
    code: int | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _one_id(self) -> RiffusionUploadResult:
        # An answer without either id is not a result (the caller could do nothing with it).
        if not self.clip_id and not self.task_id:
            raise ValueError("the upload answer has neither clip_id nor task_id")
        return self
