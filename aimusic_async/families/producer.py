"""The producer family: polled at ``GET /api/v1/producer/task/{id}``, one song per task; its
top-level ``status`` (``PENDING``/``RUNNING``/``SUCCESS``/``FAILED``) maps onto the shared
snapshot so a producer task is awaited exactly like a sonic one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ResponseValidationError
from ..models.common import Clip, TaskSnapshot
from ._parse import check_not_found, parse_clip_list

__all__ = ["ProducerFamily"]

_RUNNING = frozenset({"PENDING", "RUNNING", "QUEUED", "PROCESSING", "SUBMITTED", "IN_PROGRESS"})
_SUCCESS = frozenset({"SUCCESS", "SUCCEEDED", "COMPLETED", "COMPLETE"})
_FAILED = frozenset({"FAILED", "FAILURE", "ERROR", "TIMEOUT"})


# Poll answers name their task_type; a lyrics task delivers text, the others a file. The
# documented quirk (SUCCESS before the file is in place) is only known for audio, so any media
# URL counts for a video task rather than risk waiting for a field the service may not send.
_TEXT_TASKS = frozenset({"make_lyrics"})


def _delivered(clip: Clip, task_type: Any) -> bool:
    """Whether a SUCCESS clip carries what its task produces (else: keep polling)."""
    if task_type in _TEXT_TASKS:
        return bool(clip.lyrics)
    extra = clip.model_extra or {}
    return bool(clip.audio_url or extra.get("wav_url") or clip.video_url)


def _with_state(clip: Clip, state: str, error: str | None = None) -> Clip:
    update: dict[str, Any] = {"state": state}
    if state == "failed" and error and not clip.error_message:
        update["error_message"] = error
    if state == "succeeded" and not clip.audio_url and (clip.model_extra or {}).get("wav_url"):
        # A wav-only download answer: make the file reachable where every caller looks.
        update["audio_url"] = (clip.model_extra or {}).get("wav_url")
    return clip.model_copy(update=update)


class ProducerFamily:
    """Polling and parsing for every producer task (create, upload, download, lyrics, video)."""

    name = "producer"

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/producer/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """Map ``PENDING``/``RUNNING`` -> running (not_ready without data), ``SUCCESS`` ->
        succeeded once the clip has audio (a SUCCESS without ``audio_url`` keeps polling),
        ``FAILED`` -> failed with the server's message. Webhook bodies (no ``status``, an
        ``event`` instead) parse the same way."""
        path = self.poll_path(task_id)

        def snap(state: Any, clips: list[Clip], message: str | None = None) -> TaskSnapshot:
            return TaskSnapshot(
                task_id=task_id,
                family=self.name,
                status=state,
                clips=clips,
                message=message,
                raw=body,
            )

        if status == 202 or body is None:
            return snap("not_ready", [])
        if not isinstance(body, Mapping):
            raise ResponseValidationError(
                "producer task answer is not an object", path=path, status=status, body=body
            )
        check_not_found(task_id, self.name, status, body, path)
        if body.get("type") == "not_ready":
            return snap("not_ready", [])
        message = body.get("message") or body.get("error")
        message = str(message) if message is not None else None
        clips = parse_clip_list(task_id, body.get("data"), family=self.name)

        top = body.get("status")
        if top is None:
            event = str(body.get("event") or "")
            if event.endswith("failed"):
                top = "FAILED"
            elif event.endswith("completed"):
                top = "SUCCESS"
            elif clips and all(c.is_terminal for c in clips):
                top = "SUCCESS" if any(c.succeeded for c in clips) else "FAILED"
            else:
                top = "RUNNING"
        top = str(top).upper()

        if top in _FAILED:
            reason = message if message and message.lower() != "success" else "task failed"
            return snap("failed", [_with_state(c, "failed", reason) for c in clips], reason)
        if top in _SUCCESS and clips:
            task_type = body.get("task_type")
            if not all(c.failed or _delivered(c, task_type) for c in clips):
                # Documented quirk: SUCCESS can come before the file is in place; keep polling.
                return snap("running", [_with_state(c, "running") for c in clips], message)
            done = [c if c.failed else _with_state(c, "succeeded") for c in clips]
            state = "succeeded" if any(c.succeeded for c in done) else "failed"
            return snap(state, done, message)
        # PENDING / RUNNING, a SUCCESS with no data yet, or a status we do not know: the
        # top-level status is authoritative, so no clip counts as finished yet.
        running = [c if not c.is_terminal else _with_state(c, "running") for c in clips]
        return snap("running" if clips else "not_ready", running, message)
