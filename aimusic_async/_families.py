"""How each API family's task answers become a ``TaskSnapshot``.

``SonicFamily`` reads ``GET /api/v1/sonic/task/{id}``. The helpers below (``parse_clips``,
``status_of``, ``snapshot_from_clips``, ``failure_reason``) are shared: other families build their
own ``Family`` on them.

The sonic poll answer comes in several documented shapes, all tolerated:

* HTTP 202, or ``{"type": "not_ready", ...}``, or a body with no / null / empty ``data``:
  not ready yet;
* ``{"code": 200, "data": [clip, ...]}``: clips, each on its own schedule (pending, running,
  streaming, succeeded, failed); the task is finished only when every clip is terminal;
* ``{"code": 200, "data": {"persona_id": ..., "name": ...}}``: a finished create-voice task;
* auto-concat pairs ``{"extended" | "replaced": clip, "full": clip | null}``: ``full`` is the
  deliverable and is null while the concat still runs.

Every family refuses an answer listing more than ``MAX_CLIPS_PER_TASK`` clips before validating
any (``parse_clips``), and reads the API's own "task not found" in a JSON envelope as final
(``check_not_found``); a gateway's page never gets this far (the transport maps it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from . import _constants as C
from ._errors import ResponseValidationError, TaskNotFoundError
from ._transport import excerpt, says_task_not_found
from .models.common import Clip, TaskSnapshot, TaskStatus

__all__ = [
    "SonicFamily",
    "check_not_found",
    "failure_reason",
    "parse_clips",
    "snapshot_from_clips",
    "status_of",
]

# Keys of an auto-concat pair whose ``full`` clip is not there yet.
_PAIR_PARTS = ("extended", "replaced")


def _bad(task_id: str, family: str, what: str, body: Any) -> ResponseValidationError:
    return ResponseValidationError(
        f"{family} task {task_id}: {what}; body: {excerpt(body)}", status=200, body=body
    )


def _clip_item(item: Any) -> Any:
    """Unwrap an auto-concat pair into the clip that matters now."""
    if isinstance(item, Mapping) and "clip_id" not in item and "full" in item:
        full = item.get("full")
        if full is not None:
            return full
        for part in _PAIR_PARTS:
            inner = item.get(part)
            if isinstance(inner, Mapping) and inner.get("clip_id"):
                # The part exists but the deliverable is still being joined: not terminal.
                return {**inner, "state": "running"}
    return item


def check_not_found(task_id: str, family: str, status: int, body: Any, path: str) -> None:
    """Raise ``TaskNotFoundError`` when a poll answer (or its envelope) is the API saying the
    task id is unknown, in its own JSON words; anything else is left to the parser."""
    if isinstance(body, Mapping) and says_task_not_found(status, body):
        message = body.get("message") or body.get("error") or body.get("detail")
        code = body.get("code")
        raise TaskNotFoundError(
            message if isinstance(message, str) and message else "task not found.",
            status=code if isinstance(code, int) and not isinstance(code, bool) else status,
            body=dict(body),
            path=path,
            error_type=str(body["type"]) if body.get("type") is not None else None,
        )


def parse_clips(items: Iterable[Any], *, task_id: str, family: str) -> list[Clip]:
    """Validate a list of clip objects. A malformed one is a ResponseValidationError, and so is
    a list longer than ``MAX_CLIPS_PER_TASK`` (refused before any clip is validated)."""
    items = items if isinstance(items, list) else list(items)
    if len(items) > C.MAX_CLIPS_PER_TASK:
        raise ResponseValidationError(
            f"{family} task {task_id}: the answer lists {len(items)} clips, more than the "
            f"{C.MAX_CLIPS_PER_TASK} a task can have (MAX_CLIPS_PER_TASK)",
            status=200,
        )
    clips: list[Clip] = []
    for item in items:
        item = _clip_item(item)
        try:
            clips.append(Clip.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "(clip)"
            raise _bad(
                task_id, family, f"malformed clip: {where}: {first.get('msg')}", item
            ) from None
    return clips


def status_of(clips: list[Clip]) -> TaskStatus:
    """not_ready without clips; running while any clip is not terminal; then succeeded if any
    clip succeeded, else failed."""
    if not clips:
        return "not_ready"
    if not all(c.is_terminal for c in clips):
        return "running"
    return "succeeded" if any(c.succeeded for c in clips) else "failed"


def failure_reason(snapshot: TaskSnapshot) -> str:
    """The server's reason for a failed task: the clips' error messages, else the message."""
    reasons: list[str] = []
    for clip in snapshot.clips:
        text = clip.error_message or (clip.model_extra or {}).get("message")
        if isinstance(text, str) and text and text not in reasons:
            reasons.append(text)
    if reasons:
        return "; ".join(reasons)
    return snapshot.message or "every clip failed"


def snapshot_from_clips(
    task_id: str,
    family: str,
    clips: list[Clip],
    *,
    message: str | None = None,
    raw: Any = None,
    status: TaskStatus | None = None,
) -> TaskSnapshot:
    """Build the normalised snapshot; ``status`` defaults to what the clips say."""
    return TaskSnapshot(
        task_id=task_id,
        family=family,
        status=status or status_of(clips),
        clips=clips,
        message=message,
        raw=raw,
    )


class SonicFamily:
    """The sonic family: ``GET /api/v1/sonic/task/{task_id}``, two clips per generation."""

    name = "sonic"

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/sonic/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """Normalise one poll answer (or webhook body). See the module docstring for shapes."""
        name = self.name
        if body is None:
            return snapshot_from_clips(task_id, name, [], raw=body)
        if isinstance(body, list):
            return snapshot_from_clips(
                task_id, name, parse_clips(body, task_id=task_id, family=name), raw=body
            )
        if not isinstance(body, Mapping):
            raise _bad(task_id, name, "answer is not a JSON object", body)
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
                raise _bad(task_id, name, "data is neither a clip list nor a persona", body)
        if not isinstance(data, list):
            raise _bad(task_id, name, "data is not a list", body)
        clips = parse_clips(data, task_id=task_id, family=name)
        return snapshot_from_clips(task_id, name, clips, message=message, raw=body)
