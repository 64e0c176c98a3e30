"""The sonic family: polled at ``GET /api/v1/sonic/task/{id}``, two clips per generation; the
answer shapes it tolerates are listed in the manual's wire-contract page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models.common import TaskSnapshot
from ._parse import bad_body, check_not_found, parse_clips, snapshot_from_clips

__all__ = ["SonicFamily"]


class SonicFamily:
    """The sonic family: ``GET /api/v1/sonic/task/{task_id}``, two clips per generation."""

    name = "sonic"

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/sonic/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """Normalise one poll answer (or webhook body): not ready (202, ``not_ready``, no
        ``data``), a clip list, a finished create-voice persona, or auto-concat pairs (whose
        ``full`` clip is the deliverable, null while the concat still runs)."""
        name = self.name
        if body is None:
            return snapshot_from_clips(task_id, name, [], raw=body)
        if isinstance(body, list):
            return snapshot_from_clips(
                task_id, name, parse_clips(body, task_id=task_id, family=name), raw=body
            )
        if not isinstance(body, Mapping):
            raise bad_body(task_id, name, "answer is not a JSON object", body)
        message = body.get("message")
        message = message if isinstance(message, str) else None
        check_not_found(task_id, name, status, body, self.poll_path(task_id))
        data = body.get("data")
        if status == 202 or body.get("type") == "not_ready" or data is None:
            return snapshot_from_clips(task_id, name, [], message=message, raw=body)
        if isinstance(data, Mapping):
            if data.get("persona_id"):
                # create-voice: the finished answer is an object naming the new persona.
                return TaskSnapshot(
                    task_id=task_id,
                    family=name,
                    status="succeeded",
                    message=message,
                    persona_id=str(data["persona_id"]),
                    raw=body,
                )
            if "clips" in data and isinstance(data["clips"], list):
                data = data["clips"]
            elif "clip_id" in data or "full" in data:
                data = [data]
            elif not data or data.get("type") == "not_ready":
                return snapshot_from_clips(task_id, name, [], message=message, raw=body)
            else:
                raise bad_body(task_id, name, "data is neither a clip list nor a persona", body)
        if not isinstance(data, list):
            raise bad_body(task_id, name, "data is not a list", body)
        clips = parse_clips(data, task_id=task_id, family=name)
        return snapshot_from_clips(task_id, name, clips, message=message, raw=body)
