"""The riffusion family (deprecated by the API): polled at ``GET /api/v1/riffusion/task/{id}``,
two songs per task, each clip with its own ``state``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ResponseValidationError
from ..models.common import TaskSnapshot
from ._parse import check_not_found, parse_clip_list

__all__ = ["RIFFUSION_CLIPS_PER_TASK", "RiffusionFamily"]

# The docs: a finished task holds two songs; one present means the other is still coming.
RIFFUSION_CLIPS_PER_TASK = 2


class RiffusionFamily:
    """Polling and parsing for riffusion tasks: ``{"code", "data": [clips], "message"}``."""

    name = "riffusion"
    # The API's webhook guide lists no riffusion callbacks: its handles never wait for one.
    pushes_webhooks = False

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
