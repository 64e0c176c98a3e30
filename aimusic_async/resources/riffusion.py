"""``client.riffusion`` (deprecated family): each method warns once per client and method, then is
one row of the operation table."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from .._tasks import Task
from ..models.common import TaskSnapshot
from ..models.riffusion import (
    RiffusionTaskType,
    RiffusionUploadResult,
)
from ._base import Resource

if TYPE_CHECKING:
    from .._runtime import Runtime
    from .._tasks import Task

__all__ = ["RiffusionResource"]


class RiffusionResource(Resource):
    """``client.riffusion`` (deprecated): ``create``, ``upload``, ``get``."""

    # The webhook guide lists sonic, producer and nuro only: riffusion tasks always poll.
    pushes_webhooks = False

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._warned: set[str] = set()

    def _deprecated(self, method: str) -> None:
        # Once per client and method, not per call: a batch of thousands must not flood the log.
        if method in self._warned:
            return
        self._warned.add(method)
        # stacklevel 3: the caller's line (this helper, then the public method's coroutine).
        warnings.warn(
            f"client.riffusion.{method} is deprecated: the riffusion family is deprecated by "
            "the AI Music API; use client.sonic or client.producer",
            DeprecationWarning,
            stacklevel=3,
        )

    async def create(
        self,
        *,
        custom_mode: bool,
        task_type: RiffusionTaskType = "create_music",
        mv: str = "FUZZ-1.1 Pro",
        prompt: str | None = None,
        lyrics: str | None = None,
        title: str | None = None,
        sound: str | None = None,
        make_instrumental: bool | None = None,
        continue_clip_id: str | None = None,
        continue_at: float | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Start any riffusion operation (two songs). ``custom_mode=False``: ``prompt``;
        ``custom_mode=True``: ``lyrics``/``sound``/``title``. Other task types act on
        ``continue_clip_id`` (``extend_*`` also need ``continue_at``).

        >>> task = await client.riffusion.create(custom_mode=False, prompt="r&b pop song")
        """
        self._deprecated("create")
        return await self._task("riffusion.create", locals())

    async def upload(self, url: str, *, timeout: float | None = None) -> RiffusionUploadResult:
        """Upload a public, copyright-free song; use the answer's ``clip_id`` as
        ``continue_clip_id`` with an ``*_upload_*`` task type."""
        self._deprecated("upload")
        return await self._sync("riffusion.upload", locals(), RiffusionUploadResult)

    async def get(self, task_id: str, *, timeout: float | None = None) -> TaskSnapshot:
        """One poll of a riffusion task."""
        self._deprecated("get")
        return await self._get("riffusion.get", task_id, timeout)
