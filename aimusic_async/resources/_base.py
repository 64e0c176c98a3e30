"""The base of every resource namespace: how start requests and sync calls are sent."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from .._errors import ResponseValidationError, SubmissionUnknownError
from .._transport import _excerpt, error_from_response, redact
from ..models._base import RequestModel
from ..tasks import Task

if TYPE_CHECKING:
    from .._runtime import Runtime

__all__ = ["Resource"]

M = TypeVar("M", bound=BaseModel)


def _task_id_of(data: Any) -> str | None:
    """The new task's id: top-level ``task_id``, or ``data.task_id``."""
    if not isinstance(data, Mapping):
        return None
    value = data.get("task_id")
    if value is None and isinstance(data.get("data"), Mapping):
        value = data["data"].get("task_id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


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
        The request is sent with ``kind="start"``: never re-sent when its fate is unknown. A
        2xx answer without a readable ``task_id`` is ``SubmissionUnknownError`` too (an error
        envelope with a 4xx ``code`` is that error: a refusal).
        """
        runtime = self._runtime
        hooks = runtime.webhooks
        payload = body.to_wire()
        push = hooks.enabled and self.pushes_webhooks
        if push and not payload.get("webhook_url"):
            payload["webhook_url"] = hooks.url
            if hooks.secret:
                payload["webhook_secret"] = hooks.secret
        response = await runtime.request(
            "POST", path, json=payload, kind="start", operation=operation
        )
        task_id = _task_id_of(response.data)
        if task_id is None:
            data = response.data
            code = data.get("code") if isinstance(data, Mapping) else None
            if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 500:
                # A refusal in an envelope behind a 2xx status: the same error as a real status.
                raise error_from_response(code, data, path, response.headers)
            # The server took the request (2xx) but names no task: it may exist and be paid
            # for. Unknown, like a real 5xx to a start, so nothing sends it again unasked (a
            # batch re-runs failed jobs, never unknown ones).
            reason = f"the answer names no task_id: {_excerpt(data)}"
            if isinstance(code, int) and not isinstance(code, bool) and code >= 500:
                reason = f"server answered {code} inside a {response.status}: {_excerpt(data)}"
            raise SubmissionUnknownError(
                reason, operation=operation, path=path, payload=redact(payload)
            )
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
        """Send a synchronous request and parse its answer into ``result``.

        Some answers carry an error only in the envelope (HTTP 200 with ``{"code": 4xx/5xx}``);
        that raises the same error as the status itself would, never a hollow result. For a paid
        call (``kind="start"``) the credit rule of ``_start`` holds: a 4xx envelope is a refusal,
        but a 5xx envelope or an answer that does not parse came after the server took the
        request, so it is ``SubmissionUnknownError`` (the work may be done and paid for).
        """
        transport = self._runtime.transport
        payload = None if body is None else body.to_wire()
        response = await self._runtime.request(
            method, path, json=payload, kind=kind, operation=operation
        )
        data = response.data
        code = data.get("code") if isinstance(data, Mapping) else None
        if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
            if kind == "start" and code >= 500:
                reason = f"server answered {code} inside a {response.status}: {_excerpt(data)}"
                raise SubmissionUnknownError(
                    reason, operation=operation, path=path, payload=redact(payload)
                )
            raise error_from_response(code, data, path)
        try:
            return transport.parse(result, response)
        except ResponseValidationError as exc:
            if kind != "start":
                raise
            raise SubmissionUnknownError(
                str(exc), operation=operation, path=path, payload=redact(payload)
            ) from exc
