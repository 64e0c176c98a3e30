"""What every family's parser shares: clip lists, the API's "task not found", the task status
from its clips, the failure reason, malformed-answer errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .. import _constants as C
from .._errors import ResponseValidationError, TaskNotFoundError
from .._transport import excerpt, says_task_not_found
from ..models.common import Clip, TaskSnapshot, TaskStatus

__all__ = [
    "bad_body",
    "check_not_found",
    "failure_reason",
    "parse_clip_list",
    "parse_clips",
    "snapshot_from_clips",
    "status_of",
]

# Keys of an auto-concat pair whose ``full`` clip is not there yet.
_PAIR_PARTS = ("extended", "replaced")


def bad_body(task_id: str, family: str, what: str, body: Any) -> ResponseValidationError:
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


def _needs_unwrap(item: Any) -> bool:
    return isinstance(item, Mapping) and "clip_id" not in item and "full" in item


_CLIP_LIST: TypeAdapter[list[Clip]] = TypeAdapter(list[Clip])


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
    if not any(_needs_unwrap(item) for item in items):
        # The usual answer: plain clip objects, validated in one call (each clip on its own
        # costs a round trip into the validator); a bad one is found again below, by itself,
        # for an error that names it.
        try:
            return _CLIP_LIST.validate_python(items)
        except ValidationError:
            pass
    clips: list[Clip] = []
    for item in items:
        item = _clip_item(item)
        try:
            clips.append(Clip.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "(clip)"
            raise bad_body(
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


def parse_clip_list(task_id: str, items: Any, *, family: str) -> list[Clip]:
    """A ``data`` value as clips (one object or a list); a clip without an id (an upload or
    download answer may omit it) gets the task id, or ``<task_id>-<n>`` when there are several."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise ResponseValidationError(
            f"{family} task {task_id}: 'data' is not a list of clips", status=200, body=items
        )
    filled = [
        {"clip_id": task_id if len(items) == 1 else f"{task_id}-{n}", **item}
        if isinstance(item, Mapping) and "clip_id" not in item
        else item
        for n, item in enumerate(items)
    ]
    return parse_clips(filled, task_id=task_id, family=family)
