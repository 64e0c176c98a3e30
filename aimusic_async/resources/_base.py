"""The base of every resource namespace: how start requests and sync calls are sent."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel

from .._tasks import Task
from ..models._base import RequestModel

if TYPE_CHECKING:
    from .._runtime import Runtime

__all__ = ["Resource"]

M = TypeVar("M", bound=BaseModel)


class Resource:
    """One API family's namespace on the client (``client.sonic``, ...)."""

    # Families whose start routes deliver webhooks (the docs name sonic, producer and nuro).
    pushes_webhooks = True

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def _start(self, path: str, body: RequestModel, *, family: str, operation: str) -> Task:
        """Send a request that starts server work and return the ``Task`` handle.

        When the client's webhook receiver is on and the body names no ``webhook_url``, the
        receiver's URL and secret are added, and the task will resolve from the callback.
        """
        runtime = self._runtime
        hooks = runtime.webhooks
        payload = body.to_wire()
        push = hooks.enabled and self.pushes_webhooks
        if push and not payload.get("webhook_url"):
            payload["webhook_url"] = hooks.url
            if hooks.secret:
                payload["webhook_secret"] = hooks.secret
        task_id = await runtime.start_task(path, payload, operation=operation)
        # Only callbacks that reach this client's receiver can end the wait; a caller's own
        # webhook_url goes elsewhere, so that task polls as usual.
        task = runtime.task(task_id, family, operation=operation, fresh=True)
        if push and payload.get("webhook_url") == hooks.url:
            runtime.hub.expect(task_id)
            # A handle nobody keeps (a service that stores only the id) would otherwise pin
            # its wake-up future, and later the callback's snapshot, for the client's life.
            weakref.finalize(task, runtime.hub.release, task_id)
        return task

    async def _call(
        self,
        method: str,
        path: str,
        body: RequestModel | None,
        result: type[M],
        *,
        operation: str,
        kind: Literal["safe", "start"] = "safe",
    ) -> M:
        """Send a synchronous request and parse its answer into ``result`` (``kind="start"``
        for a paid call: never re-sent when its fate is unknown)."""
        payload = None if body is None else body.to_wire()
        return await self._runtime.call(
            method, path, payload, result, kind=kind, operation=operation
        )
