"""The nuro family: polled at ``GET /api/v1/nuro/task/{id}``, a flat task object rather than a
clip list. The service retired the family (HTTP 410); parsing stays for hosts that serve it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from .._errors import ResponseValidationError
from ..models.common import Clip, TaskSnapshot
from ..models.nuro import NuroTaskInfo
from ._parse import check_not_found

__all__ = ["NURO_REPLACEMENTS", "NuroFamily"]

# What a retired nuro route's EndpointRetiredError names instead.
NURO_REPLACEMENTS = {
    "vocal": "client.sonic.create",
    "bgm": "client.producer.create",
    "get": "client.sonic.create (vocals) or client.producer.create (background music)",
}


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
