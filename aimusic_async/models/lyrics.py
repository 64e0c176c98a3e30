"""Lyrics generation (``POST /api/v1/sonic/lyrics``): the request and its two variants."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._base import RequestModel, ResponseModel

__all__ = ["LYRICS_DESCRIPTION_MAX", "LyricsRequest", "LyricsResult", "LyricsVariant"]

# The service refuses descriptions of 120 characters or more ("should be less than 120").
LYRICS_DESCRIPTION_MAX = 119


class LyricsRequest(RequestModel):
    """``POST /api/v1/sonic/lyrics``: what the lyrics should be about (< 120 characters)."""

    description: Annotated[
        str, Field(min_length=1, max_length=LYRICS_DESCRIPTION_MAX, pattern=r"\S")
    ]


class LyricsVariant(ResponseModel):
    """One generated lyric: a ``title`` and the ``lyrics`` text with section tags."""

    title: str = ""
    lyrics: str


class LyricsResult(ResponseModel):
    """The answer of a lyrics generation: usually two ``variants`` (the API's ``results``)."""

    variants: list[LyricsVariant] = Field(alias="results", min_length=1)
    code: int | None = None
    message: str | None = None
