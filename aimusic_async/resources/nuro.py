"""``client.nuro`` (retired where the service answers 410, which names the replacement): each
method is one row of the operation table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._tasks import Task
from ..models.common import TaskSnapshot
from ..models.nuro import (
    NuroBgmGenre,
    NuroGender,
    NuroInstrument,
    NuroMood,
    NuroSegment,
    NuroTheme,
    NuroTimbre,
    NuroVocalGenre,
    NuroVocalMood,
)
from ._base import Resource

__all__ = ["NuroResource"]


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
        timeout: float | None = None,
    ) -> Task:
        """A sung song from ``lyrics`` (<= 2000 chars), ``duration`` 30-240 s.

        Raises ``EndpointRetiredError`` (replacement ``client.sonic.create``) where the
        service retired nuro.
        """
        return await self._task("nuro.create_vocal", locals())

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
        timeout: float | None = None,
    ) -> Task:
        """Background music from a ``description``; up to 5 values each of ``genre``,
        ``mood``, ``instrument``, ``theme``. v1.0: ``duration`` 1-60 s; ``version="v2.0"``:
        30-120 s, optionally as ``segments`` (``{"name": "intro", "duration": 20}``, ...).

        Raises ``EndpointRetiredError`` (replacement ``client.producer.create``) where the
        service retired nuro.
        """
        return await self._task("nuro.create_instrumental", locals())

    async def get(self, task_id: str, *, timeout: float | None = None) -> TaskSnapshot:
        """One poll of a nuro task (old task ids are gone where the family was retired)."""
        return await self._get("nuro.get", task_id, timeout)
