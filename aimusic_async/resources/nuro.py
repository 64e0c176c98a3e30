"""``client.nuro``: vocal songs and background music (one track per task).

api.aimusicapi.ai retired the family: every route answers HTTP 410, which this module re-raises
as ``EndpointRetiredError`` naming the replacement (``client.sonic.create`` for vocals,
``client.producer.create`` for background music). Models and parsing stay for hosts that still
serve it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._errors import EndpointRetiredError
from ..families import NURO_REPLACEMENTS
from ..models.common import TaskSnapshot
from ..models.nuro import (
    NuroBgmGenre,
    NuroBgmRequest,
    NuroGender,
    NuroInstrument,
    NuroMood,
    NuroSegment,
    NuroTheme,
    NuroTimbre,
    NuroVocalGenre,
    NuroVocalMood,
    NuroVocalRequest,
)
from ._base import Resource
from .producer import _retired

if TYPE_CHECKING:
    from .._tasks import Task

__all__ = ["NuroResource"]

_CREATE = "/api/v1/nuro/create"


class NuroResource(Resource):
    """``client.nuro``: ``create_vocal``, ``create_instrumental``, ``get`` (retired family)."""

    async def create_vocal(
        self,
        *,
        lyrics: str,
        gender: NuroGender | None = None,
        genre: NuroVocalGenre | None = None,
        mood: NuroVocalMood | None = None,
        timbre: NuroTimbre | None = None,
        duration: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """A sung song from ``lyrics`` (<= 2000 chars), ``duration`` 30-240 s.

        Raises ``EndpointRetiredError`` (replacement ``client.sonic.create``) where the
        service retired nuro.
        """
        body = NuroVocalRequest(
            lyrics=lyrics,
            gender=gender,
            genre=genre,
            mood=mood,
            timbre=timbre,
            duration=duration,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
        try:
            return await self._start(_CREATE, body, family="nuro", operation="nuro.create_vocal")
        except EndpointRetiredError as exc:
            raise _retired(exc, NURO_REPLACEMENTS["vocal"]) from None

    async def create_instrumental(
        self,
        *,
        description: str,
        version: Literal["v1.0", "v2.0"] | None = None,
        genre: Sequence[NuroBgmGenre] | None = None,
        mood: Sequence[NuroMood] | None = None,
        instrument: Sequence[NuroInstrument] | None = None,
        theme: Sequence[NuroTheme] | None = None,
        duration: int | None = None,
        segments: Sequence[NuroSegment | Mapping[str, Any]] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Background music from a ``description``; up to 5 values each of ``genre``,
        ``mood``, ``instrument``, ``theme``. v1.0: ``duration`` 1-60 s; ``version="v2.0"``:
        30-120 s, optionally as ``segments`` (``{"name": "intro", "duration": 20}``, ...).

        Raises ``EndpointRetiredError`` (replacement ``client.producer.create``) where the
        service retired nuro.
        """
        body = NuroBgmRequest.model_validate(
            {
                k: v
                for k, v in {
                    "description": description,
                    "version": version,
                    "genre": _listed(genre),
                    "mood": _listed(mood),
                    "instrument": _listed(instrument),
                    "theme": _listed(theme),
                    "duration": duration,
                    "segments": _listed(segments),
                    "webhook_url": webhook_url,
                    "webhook_secret": webhook_secret,
                }.items()
                if v is not None
            }
        )
        try:
            return await self._start(
                _CREATE, body, family="nuro", operation="nuro.create_instrumental"
            )
        except EndpointRetiredError as exc:
            raise _retired(exc, NURO_REPLACEMENTS["bgm"]) from None

    async def get(self, task_id: str) -> TaskSnapshot:
        """One poll of a nuro task (old task ids are gone where the family was retired)."""
        return await self._runtime.task(task_id, "nuro").refresh()


def _listed(value: Sequence[Any] | None) -> list[Any] | None:
    # Tuples are fine for callers; the strict model wants lists.
    return None if value is None else list(value)
