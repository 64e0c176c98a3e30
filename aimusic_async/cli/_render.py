"""Turning results into JSON documents and table rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._console import UI
from ._options import error_json

if TYPE_CHECKING:
    from ..models.common import Clip, TaskResult, TaskSnapshot

__all__ = ["clip_json", "clip_rows", "error_json", "show_clips", "task_json"]

CLIP_COLUMNS = ["clip_id", "state", "title", "duration", "audio_url"]
# Terminal columns needed for the clip table with its URL column unfolded.
WIDE_TABLE = 150


def clip_json(clip: Clip) -> dict[str, Any]:
    return clip.model_dump(mode="json", exclude_none=True)


def task_json(item: TaskSnapshot | TaskResult, *, status: str | None = None) -> dict[str, Any]:
    """A snapshot or a result as one JSON object (the raw body left out)."""
    doc: dict[str, Any] = {
        "task_id": item.task_id,
        "family": item.family,
        "status": status or getattr(item, "status", "succeeded"),
    }
    if item.message:
        doc["message"] = item.message
    if item.persona_id:
        doc["persona_id"] = item.persona_id
    doc["clips"] = [clip_json(c) for c in item.clips]
    return doc


def clip_rows(clips: list[Clip]) -> list[list[Any]]:
    return [
        [
            c.clip_id,
            c.state,
            c.title or "",
            f"{c.duration:.1f}s" if c.duration else "",
            c.audio_url or "",
        ]
        for c in clips
    ]


def show_clips(ui: UI, item: TaskSnapshot | TaskResult, *, status: str | None = None) -> None:
    state = status or getattr(item, "status", "succeeded")
    ui.say(
        f"task {item.task_id} ({item.family}): {state}"
        + (f" - {item.message}" if item.message and item.message != "success" else "")
    )
    if item.persona_id:
        ui.say(f"persona_id: {item.persona_id}")
    if not item.clips:
        return
    if ui.width() >= WIDE_TABLE:
        ui.table(CLIP_COLUMNS, clip_rows(item.clips))
        return
    # A narrow terminal would fold the URLs into unusable fragments: one per line instead.
    ui.table(CLIP_COLUMNS[:-1], [row[:-1] for row in clip_rows(item.clips)])
    for clip in item.clips:
        if clip.audio_url:
            ui.say(f"{clip.clip_id}: {clip.audio_url}")
