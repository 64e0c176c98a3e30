"""The base of every resource namespace: a method's arguments become the request its operation
(in the operation table) names, sent to start a ``Task`` or answered at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from .._errors import ConfigurationError, EndpointRetiredError, SubmissionUnknownError
from .._operations import OPERATIONS, WEBHOOK_FIELDS, Callbacks
from .._tasks import Task
from ..models._base import RequestModel
from ..models.common import TaskSnapshot
from ..webhooks import new_reference, with_reference

if TYPE_CHECKING:
    from .._runtime import Runtime
    from .._transport import RequestOptions

__all__ = ["Resource"]

M = TypeVar("M", bound=BaseModel)


class Resource:
    """One API family's namespace on the client (``client.sonic``, ...)."""

    # Families whose start routes deliver webhooks (the docs name sonic, producer and nuro).
    pushes_webhooks = True

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    # -- the operation table's methods -----------------------------------------------------------
    async def _task(self, name: str, args: Mapping[str, Any]) -> Task:
        """Start operation ``name`` with a method's arguments (``locals()``, whose call options
        such as ``timeout`` say how this one call is sent)."""
        op = OPERATIONS[name]
        options = self._runtime.options_for(args.get("timeout"))
        body = op.build(args)
        # Every task-starting operation has a request model and a family (tests check the table).
        assert body is not None
        assert op.family is not None
        try:
            return await self._start(
                op.route,
                body,
                family=op.family,
                operation=op.reported_name(body),
                callbacks=op.callbacks,
                options=options,
            )
        except EndpointRetiredError as exc:
            if op.replacement is None:
                raise
            # The server's 410, with the replacement named (the transport cannot know it).
            retired = EndpointRetiredError(
                exc.message,
                status=exc.status,
                body=exc.body,
                path=exc.path,
                error_type=exc.error_type,
                replacement=op.replacement_for(body) or exc.replacement,
            )
            retired.request_id = exc.request_id
            raise retired from None

    async def _sync(self, name: str, args: Mapping[str, Any], result: type[M]) -> M:
        """Call operation ``name`` (answered at once) with a method's arguments; ``result`` is
        the table's result model (a test keeps the two in step)."""
        op = OPERATIONS[name]
        kind: Literal["safe", "start"] = "start" if op.kind == "paid" else "safe"
        options = self._runtime.options_for(args.get("timeout"))
        return await self._call(
            op.http_method,
            op.route,
            op.build(args),
            result,
            operation=op.name,
            kind=kind,
            options=options,
        )

    async def _get(self, name: str, task_id: str, timeout: float | None = None) -> TaskSnapshot:
        """One poll of a task of operation ``name``'s family: its current snapshot."""
        family = OPERATIONS[name].family
        assert family is not None  # every poll operation names its family
        runtime = self._runtime
        options = runtime.options_for(timeout)
        if options is not None:
            runtime = runtime.derive(options=options)
        return await runtime.task(task_id, family, push=False).refresh()

    # -- the two ways of sending -------------------------------------------------------------------

    async def _start(
        self,
        path: str,
        body: RequestModel,
        *,
        family: str,
        operation: str,
        callbacks: Callbacks = WEBHOOK_FIELDS,
        options: RequestOptions | None = None,
    ) -> Task:
        """Send a request that starts server work and return the ``Task`` handle (``options``:
        this one request's, the handle polls with the namespace's own).

        When the client's webhook receiver is on and the body names no callback URL (the field
        ``callbacks`` names), the receiver's URL (with a fresh correlation reference in its query)
        and secret are added, and the task will resolve from the callback. A
        ``SubmissionUnknownError`` of such a start carries the reference, for ``client.recover``.
        """
        runtime = self._runtime
        hooks = runtime.webhooks
        payload = body.to_wire()
        url_field = callbacks.url_field
        ours = hooks.enabled and self.pushes_webhooks and not payload.get(url_field)
        reference = None
        if ours and hooks.url is not None:
            if callbacks.secret_field is None and not hooks.account_secret:
                raise ConfigurationError(
                    f"{operation} sends no webhook secret, so its callback is signed with your "
                    "account's default webhook secret, which this client does not know: pass "
                    f"account_webhook_secret= to the client, or {url_field}= to receive the "
                    "callback elsewhere (the task then polls)"
                )
            reference = new_reference()
            payload[url_field] = with_reference(hooks.url, reference)
            if callbacks.secret_field is not None and hooks.secret:
                payload[callbacks.secret_field] = hooks.secret
        if callbacks.required and not payload.get(url_field):
            raise ConfigurationError(
                f"{operation} needs a {url_field}: start the client's webhook receiver "
                f"(client.webhooks.serve() or use()), or pass {url_field}="
            )
        try:
            task_id, request_id = await runtime.start(
                path, payload, operation=operation, options=options
            )
        except SubmissionUnknownError as exc:
            exc.reference = reference
            raise
        # Only callbacks that reach this client's receiver, signed with a secret it knows, can
        # end the wait; a caller's own callback URL goes elsewhere, so that task polls as usual.
        verifiable = callbacks.secret_field is not None or bool(hooks.account_secret)
        return runtime.task(
            task_id,
            family,
            operation=operation,
            fresh=True,
            push=ours and verifiable,
            request_id=request_id,
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: RequestModel | None,
        result: type[M],
        *,
        operation: str,
        kind: Literal["safe", "start"] = "safe",
        options: RequestOptions | None = None,
    ) -> M:
        """Send a synchronous request and parse its answer into ``result`` (``kind="start"``
        for a paid call: never re-sent when its fate is unknown)."""
        payload = None if body is None else body.to_wire()
        return await self._runtime.call(
            method, path, payload, result, kind=kind, operation=operation, options=options
        )
