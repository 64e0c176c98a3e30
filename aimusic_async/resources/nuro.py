"""``client.nuro``: vocal songs and background music (one track per task).

api.aimusicapi.ai retired the family: every route answers HTTP 410, which this module re-raises
as ``EndpointRetiredError`` naming the replacement (``client.sonic.create`` for vocals,
``client.producer.create`` for background music). Models and parsing stay for hosts that still
serve it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from .._errors import EndpointRetiredError, ResponseValidationError
from .._families import check_not_found
from ..models.common import Clip, TaskSnapshot
from ..models.nuro import (
    NuroBgmGenre,
    NuroBgmRequest,
    NuroGender,
    NuroInstrument,
    NuroMood,
    NuroSegment,
    NuroTaskInfo,
    NuroTheme,
    NuroTimbre,
    NuroVocalGenre,
    NuroVocalMood,
    NuroVocalRequest,
)
from ._base import Resource
from .producer import _retired

if TYPE_CHECKING:
    from ..tasks import Task

__all__ = ["NURO_REPLACEMENTS", "NuroFamily", "NuroResource"]

NURO_REPLACEMENTS = {
    "vocal": "client.sonic.create",
    "bgm": "client.producer.create",
    "get": "client.sonic.create (vocals) or client.producer.create (background music)",
}
_CREATE = "/api/v1/nuro/create"


class NuroFamily:
    """Polling and parsing for nuro tasks: a flat object, not a clip list."""

    name = "nuro"
    # Named by EndpointRetiredError when a poll of a retired host answers 410.
    replacement = NURO_REPLACEMENTS["get"]

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/nuro/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """``pending`` -> not_ready; ``running`` -> one running clip (``progress`` kept on it);
        ``succeeded`` with an ``audio_url`` -> one succeeded clip built from the flat fields;
        ``failed`` -> failed with the message."""
        path = self.poll_path(task_id)
        if status == 202 or body is None:
            return TaskSnapshot(task_id=task_id, family=self.name, raw=body)
        if not isinstance(body, Mapping):
            raise ResponseValidationError(
                "nuro task answer is not an object", path=path, status=status, body=body
            )
        check_not_found(task_id, self.name, status, body, path)
        flat: Any = body
        data = body.get("data")
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, Mapping) and "status" in data:
            flat = data  # a wrapped answer (webhook body)
        if flat.get("type") == "not_ready":
            return TaskSnapshot(task_id=task_id, family=self.name, raw=body)
        try:
            info = NuroTaskInfo.model_validate(flat)
        except pydantic.ValidationError as exc:
            raise ResponseValidationError(
                f"nuro task answer does not parse: {exc.errors()[0]['msg']}", path=path, body=body
            ) from None

        state = info.status
        if state in ("succeeded", "success", "completed") and not info.audio_url:
            state = "running"  # done but the file is not there yet: keep polling
        elif state in ("failed", "error", "timeout"):
            state = "failed"
        elif state not in ("succeeded", "success", "completed", "pending"):
            state = "running"
        if state == "pending":
            return TaskSnapshot(task_id=task_id, family=self.name, message=info.message, raw=body)

        fields = info.model_dump(exclude_none=True)
        fields.pop("task_id", None)
        fields.pop("status", None)
        fields.update(clip_id=info.task_id or task_id, state=state)
        if state == "failed":
            fields["error_message"] = info.message or "nuro task failed"
        clip = Clip.model_validate(fields)
        snapshot_state = "running" if not clip.is_terminal else state
        if snapshot_state not in ("running", "failed"):
            snapshot_state = "succeeded"
        return TaskSnapshot(
            task_id=task_id,
            family=self.name,
            status=snapshot_state,
            clips=[clip],
            message=info.message if state != "failed" else fields["error_message"],
            raw=body,
        )


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
