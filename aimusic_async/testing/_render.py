"""Poll answers per family, computed from a task's schedule at a given moment (a webhook body is
the finished poll answer plus ``task_id``, ``platform`` and ``event``)."""

from __future__ import annotations

from typing import Any

from ._state import ClipRecord, EmulatorState, TaskRecord

__all__ = ["is_failed", "render"]


def is_failed(task: TaskRecord) -> bool:
    """Finished without a usable result: every clip failed, or the voice clone failed."""
    if task.kind == "voice":
        return bool(task.result and task.result.get("failed"))
    return task.failed()


def _reason(task: TaskRecord) -> str:
    for clip in task.clips:
        if clip.error_message:
            return clip.error_message
    return "Generation failed upstream. Credits were refunded."


def _sonic(state: EmulatorState, task: TaskRecord, now: float) -> tuple[int, dict[str, Any]]:
    if task.kind == "voice":
        if now < task.t_done:
            return state.not_ready()
        result = dict(task.result or {})
        if result.pop("failed", False):
            return 200, {
                "code": 200,
                "message": _reason(task),
                "data": {
                    **result,
                    "persona_id": None,
                    "state": "failed",
                    "error_message": "Voice creation failed: no clear vocals found.",
                },
            }
        return 200, {"code": 200, "message": "success", "data": {**result, "state": "succeeded"}}
    if now < task.t_ready:
        return state.not_ready()
    clips: list[dict[str, Any]] = [state.clip_json(c, now) for c in task.clips]
    if task.pair_key is not None:
        clips = [
            _pair(task.pair_key, state.clip_json(part, now), full)
            for part, full in zip(task.parts, clips, strict=True)
        ]
    message = _reason(task) if now >= task.t_done and task.failed() else "success"
    return 200, {"code": 200, "message": message, "data": clips}


def _pair(key: str, part: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """An auto_concat result: ``full`` stays null until the joined song is terminal."""
    done = full["state"] in ("succeeded", "failed")
    return {key: part, "full": full if done else None}


def _producer_clip(state: EmulatorState, clip: ClipRecord, now: float) -> dict[str, Any]:
    state_name = clip.state(now, False)
    urls = state.media_urls(clip)
    out: dict[str, Any] = {
        "clip_id": clip.clip_id,
        "state": state_name,
        "title": clip.title,
        "sound": clip.tags or None,
        "lyrics": clip.lyrics,
        "audio_url": urls["audio_url"],
        "wav_url": f"{state.cdn_url}/wav/{clip.clip_id}.wav",
        "image_url": urls["image_url"],
        "video_url": None,
        "created_at": clip.created_at,
        "mv": clip.mv,
        "duration": float(clip.duration),
    }
    out.update(clip.extra)
    return out


def _producer(state: EmulatorState, task: TaskRecord, now: float) -> tuple[int, dict[str, Any]]:
    base = {"code": 200, "task_id": task.task_id, "task_type": task.operation}
    if now < task.t_ready:
        return 200, {**base, "status": "PENDING", "message": "success", "data": []}
    if now < task.t_done:
        return 200, {**base, "status": "RUNNING", "message": "success", "data": []}
    if task.failed():
        return 200, {
            **base,
            "status": "FAILED",
            "type": "failed",
            "message": f"{_reason(task)} Refund processed.",
            "data": [],
        }
    data = [_producer_clip(state, c, now) for c in task.clips]
    return 200, {**base, "status": "SUCCESS", "message": "success", "data": data}


def _riffusion(state: EmulatorState, task: TaskRecord, now: float) -> tuple[int, dict[str, Any]]:
    status, body = _sonic(state, task, now)
    if isinstance(body.get("data"), list):
        # The docs: a task may briefly hold one of its two songs; a song is listed from the
        # moment it starts running, so the two appear one after the other.
        body["data"] = [c for c in body["data"] if c["state"] != "pending"]
        for clip in body["data"]:
            if clip.get("duration") is not None:
                clip["duration"] = float(clip["duration"])  # riffusion documents a number
    return status, body


_RENDERERS = {"sonic": _sonic, "producer": _producer, "riffusion": _riffusion}


def render(state: EmulatorState, task: TaskRecord, now: float) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of a poll of ``task`` at monotonic time ``now``."""
    return _RENDERERS[task.family](state, task, now)
