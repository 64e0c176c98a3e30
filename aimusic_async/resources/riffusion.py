"""``client.riffusion`` (deprecated family): two songs per task, per-clip ``state``.

Each method warns with ``DeprecationWarning`` the first time it is used on a client (once per
client and method, not per call, so a batch of thousands does not flood the log).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ResponseValidationError
from .._families import check_not_found
from ..models.common import TaskSnapshot
from ..models.riffusion import (
    RiffusionCreateRequest,
    RiffusionTaskType,
    RiffusionUploadRequest,
    RiffusionUploadResult,
)
from ._base import Resource
from .producer import parse_clip_list

if TYPE_CHECKING:
    from .._runtime import Runtime
    from ..tasks import Task

__all__ = ["RIFFUSION_CLIPS_PER_TASK", "RiffusionFamily", "RiffusionResource"]

# The docs: a finished task holds two songs; one present means the other is still coming.
RIFFUSION_CLIPS_PER_TASK = 2


class RiffusionFamily:
    """Polling and parsing for riffusion tasks: ``{"code", "data": [clips], "message"}``."""

    name = "riffusion"

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/riffusion/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """not_ready until clips appear; running until both clips are present and terminal;
        then succeeded (at least one clip succeeded) or failed."""
        path = self.poll_path(task_id)
        if status == 202 or body is None:
            return TaskSnapshot(task_id=task_id, family=self.name, raw=body)
        if not isinstance(body, Mapping):
            raise ResponseValidationError(
                "riffusion task answer is not an object", path=path, status=status, body=body
            )
        check_not_found(task_id, self.name, status, body, path)
        message = body.get("message") or body.get("error")
        message = str(message) if message is not None else None
        if body.get("type") == "not_ready" or not body.get("data"):
            return TaskSnapshot(task_id=task_id, family=self.name, message=message, raw=body)
        clips = parse_clip_list(task_id, body.get("data"), family=self.name)
        # A succeeded clip is only usable with its audio; without it the clip is not done.
        done = [c for c in clips if c.failed or (c.succeeded and c.audio_url)]
        if len(clips) < RIFFUSION_CLIPS_PER_TASK or len(done) < len(clips):
            state = "running"
        else:
            state = "succeeded" if any(c.succeeded for c in clips) else "failed"
            if state == "failed":
                reasons = [c.error_message for c in clips if c.error_message]
                message = reasons[0] if reasons else message
        return TaskSnapshot(
            task_id=task_id,
            family=self.name,
            status=state,
            clips=clips,
            message=message,
            raw=body,
        )


class RiffusionResource(Resource):
    """``client.riffusion`` (deprecated): ``create``, ``upload``, ``get``."""

    # The webhook guide lists sonic, producer and nuro only: riffusion tasks always poll.
    pushes_webhooks = False

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._warned: set[str] = set()

    def _deprecated(self, method: str) -> None:
        if method in self._warned:
            return
        self._warned.add(method)
        # stacklevel 3: the caller's line (this helper, then the public method's coroutine).
        warnings.warn(
            f"client.riffusion.{method} is deprecated: the riffusion family is deprecated by "
            "the AI Music API; use client.sonic or client.producer",
            DeprecationWarning,
            stacklevel=3,
        )

    async def create(
        self,
        *,
        custom_mode: bool,
        task_type: RiffusionTaskType = "create_music",
        mv: str = "FUZZ-1.1 Pro",
        prompt: str | None = None,
        lyrics: str | None = None,
        title: str | None = None,
        sound: str | None = None,
        make_instrumental: bool | None = None,
        continue_clip_id: str | None = None,
        continue_at: float | None = None,
    ) -> Task:
        """Start any riffusion operation (two songs). ``custom_mode=False``: ``prompt``;
        ``custom_mode=True``: ``lyrics``/``sound``/``title``. Other task types act on
        ``continue_clip_id`` (``extend_*`` also need ``continue_at``).

        >>> task = await client.riffusion.create(custom_mode=False, prompt="r&b pop song")
        """
        self._deprecated("create")
        body = RiffusionCreateRequest.model_validate(
            {
                k: v
                for k, v in {
                    "custom_mode": custom_mode,
                    "task_type": task_type,
                    "mv": mv,
                    "prompt": prompt,
                    "lyrics": lyrics,
                    "title": title,
                    "sound": sound,
                    "make_instrumental": make_instrumental,
                    "continue_clip_id": continue_clip_id,
                    "continue_at": continue_at,
                }.items()
                if v is not None
            }
        )
        return await self._start(
            "/api/v1/riffusion/create", body, family="riffusion", operation="riffusion.create"
        )

    async def upload(self, url: str) -> RiffusionUploadResult:
        """Upload a public, copyright-free song; use the answer's ``clip_id`` as
        ``continue_clip_id`` with an ``*_upload_*`` task type."""
        self._deprecated("upload")
        body = RiffusionUploadRequest(url=url)
        return await self._call(
            "POST",
            "/api/v1/riffusion/upload",
            body,
            RiffusionUploadResult,
            operation="riffusion.upload",
            kind="start",
        )

    async def get(self, task_id: str) -> TaskSnapshot:
        """One poll of a riffusion task."""
        self._deprecated("get")
        return await self._runtime.task(task_id, "riffusion").refresh()
