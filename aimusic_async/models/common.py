"""Models shared by every family: a clip, a task snapshot, a finished task's result."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator

from ._base import ResponseModel

__all__ = [
    "FAILED_STATES",
    "SUCCEEDED_STATES",
    "TERMINAL_STATES",
    "Clip",
    "TaskResult",
    "TaskSnapshot",
    "TaskStatus",
]

# Clip states. ``streaming`` has playable partial audio but is not final.
SUCCEEDED_STATES = frozenset({"succeeded", "success", "complete", "completed"})
FAILED_STATES = frozenset({"failed", "error", "timeout"})
TERMINAL_STATES = SUCCEEDED_STATES | FAILED_STATES

TaskStatus = Literal["not_ready", "running", "succeeded", "failed"]


class Clip(ResponseModel):
    """One generated (or uploaded, or stem) track.

    ``duration`` is seconds as a float, though the API sends strings like ``"104.88"``;
    ``mv`` is echoed as the server reports it (often ``chirp-*``). Unknown fields are kept.
    """

    clip_id: str
    state: str = "pending"
    title: str | None = None
    tags: str | None = None
    lyrics: str | None = None
    audio_url: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    duration: float | None = None
    mv: str | None = None
    created_at: datetime | None = None
    error_message: str | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else ("pending" if value is None else value)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
        return value

    @field_validator("created_at", mode="wrap")
    @classmethod
    def _created_at(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # An empty or unparseable timestamp must not cost the user a paid clip.
        try:
            return handler(value)
        except ValidationError:
            return None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCEEDED_STATES

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES


class TaskSnapshot(ResponseModel):
    """What one poll (or one webhook) said about a task, normalised across families.

    ``status`` is ``not_ready`` before any clip exists, ``running`` while a clip is not terminal,
    then ``succeeded`` (at least one clip succeeded) or ``failed``. ``raw`` is the decoded body.
    """

    task_id: str
    family: str = "sonic"
    status: TaskStatus = "not_ready"
    clips: list[Clip] = Field(default_factory=list)
    message: str | None = None
    persona_id: str | None = None
    raw: Any = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")


class TaskResult(ResponseModel):
    """A finished task: every clip is terminal and at least one succeeded.

    ``clips`` lists every clip, ``succeeded`` the good ones, ``failed`` the rest.
    ``persona_id`` is set for create-voice tasks.

    ``task.wait(until="streaming")`` gives one before the end, as soon as the clips are
    playable: then ``final`` is False and ``streaming`` lists the clips whose ``audio_url`` is
    a streaming preview (the others in ``succeeded`` are final already).
    """

    task_id: str
    family: str = "sonic"
    clips: list[Clip] = Field(default_factory=list)
    message: str | None = None
    persona_id: str | None = None
    raw: Any = None

    @property
    def succeeded(self) -> list[Clip]:
        return [c for c in self.clips if c.succeeded]

    @property
    def failed(self) -> list[Clip]:
        return [c for c in self.clips if c.failed]

    @property
    def streaming(self) -> list[Clip]:
        """Clips playable from a streaming URL, their final file not ready yet."""
        return [c for c in self.clips if c.state == "streaming"]

    @property
    def final(self) -> bool:
        """True when every clip is terminal (always, except from ``wait(until="streaming")``)."""
        return all(c.is_terminal for c in self.clips)

    @classmethod
    def from_snapshot(cls, snapshot: TaskSnapshot) -> TaskResult:
        # The snapshot is validated already: its clips pass as they are (instances are not
        # validated again), and the validator builds the result in half the time of
        # ``model_construct``, which is Python.
        return cls.__pydantic_validator__.validate_python(  # type: ignore[no-any-return]
            {
                "task_id": snapshot.task_id,
                "family": snapshot.family,
                "clips": snapshot.clips,
                "message": snapshot.message,
                "persona_id": snapshot.persona_id,
                "raw": snapshot.raw,
            }
        )
