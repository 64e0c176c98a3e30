"""Pydantic v2 models: requests are validated before sending, responses parse tolerantly."""

from .common import Clip, TaskResult, TaskSnapshot, TaskStatus

__all__ = ["Clip", "TaskResult", "TaskSnapshot", "TaskStatus"]
