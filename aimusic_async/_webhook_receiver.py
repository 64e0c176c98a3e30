"""The aiohttp side of webhooks: a request through the shared receive path (``_delivery``), the
answer in aiohttp's terms, and the embedded server with its bounds on connections."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._constants import (
    RECEIVER_SHUTDOWN_TIMEOUT,
    WEBHOOK_HEAD_TIMEOUT,
    WEBHOOK_LINGER,
    WEBHOOK_MAX_CONNECTIONS,
    WEBHOOK_MAX_HEADER_LINE,
    WEBHOOK_MAX_HEADERS,
    WEBHOOK_READ_BUFFER,
)
from ._delivery import receive_callback
from ._errors import DeliveryRefused

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .webhooks import WebhookManager

    _Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

__all__ = ["Receiver", "respond"]

logger = logging.getLogger("aimusic_async")

_READ_CHUNK = 64 * 1024


def _json(status: int, **fields: object) -> web.Response:
    return web.json_response(fields, status=status)


async def _refuse(request: web.BaseRequest, refused: DeliveryRefused) -> web.StreamResponse:
    """Answer a refusal and close the connection. After a 413 the server may still read and
    drop the rest of the body for a moment (so the sender sees the answer); a stalled or
    evicted sender (408, 503) is closed at once, whatever it still has to send."""
    resp = _json(refused.status, error=refused.reason)
    resp.force_close()
    if refused.status == 413:
        return resp
    try:
        await resp.prepare(request)
        await resp.write_eof()
    except ConnectionError:
        pass  # the sender hung up first: nothing to tell it
    transport = request.transport
    if transport is not None:
        transport.close()
    return resp


async def respond(
    manager: WebhookManager, request: web.BaseRequest, *, expect_continue: bool = False
) -> web.StreamResponse:
    """Run one callback through the shared receive path and turn its answer into aiohttp's.

    ``expect_continue``: answer ``Expect: 100-continue`` here, once the body is wanted (the
    embedded server; a mounted handler's router already did).
    """

    async def read_chunk() -> bytes:
        return await request.content.read(_READ_CHUNK)

    async def send_continue() -> None:
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    answer = await receive_callback(
        manager,
        request.headers,
        read_chunk,
        content_length=request.content_length,
        url=str(request.url),
        before_read=send_continue if expect_continue else None,
    )
    if answer is None:
        # The sender hung up mid-body; there is no one to answer.
        resp = _json(400, error="incomplete body")
        resp.force_close()
        return resp
    if answer.refused is not None:
        return await _refuse(request, answer.refused)
    resp = web.json_response(dict(answer.fields), status=answer.status)
    if answer.retry_after is not None:
        resp.headers["Retry-After"] = str(answer.retry_after)
    return resp


class _GuardedServer(web.Server):
    """aiohttp's low-level server with two more bounds on connections that have not sent a
    complete request head (new, or idle between requests): each gets ``head_timeout`` seconds
    to send one, and at most ``max_connections`` are open at once, the oldest waiting one closed
    to admit a newcomer. (aiohttp's keep-alive timeout covers idle connections too, but older
    releases arm it only after a first request, so a connection that never sends one stays.)"""

    def __init__(
        self, handler: _Handler, *, head_timeout: float, max_connections: int, **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._head_timeout = head_timeout
        self._max_connections = max_connections
        # Connections waiting for a request head, oldest first, with their deadline.
        self._waiting: dict[web.RequestHandler, asyncio.TimerHandle] = {}
        self.closed_waiting = 0

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self.connections) > self._max_connections:
            # Full: the connection that has waited longest for a head goes; an honest sender
            # sends its head at once and is in the handler long before it is the oldest.
            victim = next(iter(self._waiting), None)
            if victim is None:  # every connection is a delivery in progress: refuse the new one
                handler.force_close()
                return
            self._close_waiting(victim)
        self.await_head(handler)

    def connection_lost(
        self, handler: web.RequestHandler, exc: BaseException | None = None
    ) -> None:
        timer = self._waiting.pop(handler, None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(handler, exc)

    def await_head(self, handler: web.RequestHandler) -> None:
        """``handler``'s connection is waiting for a request head (new, or after an answer)."""
        transport = handler.transport
        if transport is None or transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        old = self._waiting.pop(handler, None)
        if old is not None:
            old.cancel()
        self._waiting[handler] = loop.call_later(self._head_timeout, self._close_waiting, handler)

    def head_arrived(self, handler: web.RequestHandler) -> None:
        timer = self._waiting.pop(handler, None)
        if timer is not None:
            timer.cancel()

    def _close_waiting(self, handler: web.RequestHandler) -> None:
        timer = self._waiting.pop(handler, None)
        if timer is not None:
            timer.cancel()
            self.closed_waiting += 1
            handler.force_close()


class Receiver:
    """The embedded server behind ``client.webhooks.serve()``: its own runner and TCP site."""

    def __init__(self, manager: WebhookManager) -> None:
        self._manager = manager
        self._runner: web.ServerRunner | None = None
        self._server: _GuardedServer | None = None
        self.url: str | None = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        server = self._server
        if server is not None:
            server.head_arrived(request.protocol)
        try:
            # Any path: behind a proxy or tunnel the public path may differ from the local
            # one, and the signature, not the path, is what authenticates a callback.
            if request.method != "POST":
                return web.Response(status=405, headers={"Allow": "POST"})
            return await respond(self._manager, request, expect_continue=True)
        finally:
            if server is not None:
                server.await_head(request.protocol)  # the next request on this connection

    async def start(self, host: str, port: int) -> str:
        server = _GuardedServer(
            self._handle,
            head_timeout=WEBHOOK_HEAD_TIMEOUT,
            max_connections=WEBHOOK_MAX_CONNECTIONS,
            access_log=None,
            keepalive_timeout=WEBHOOK_HEAD_TIMEOUT,
            max_headers=WEBHOOK_MAX_HEADERS,
            max_field_size=WEBHOOK_MAX_HEADER_LINE,
            max_line_size=WEBHOOK_MAX_HEADER_LINE,
            lingering_time=WEBHOOK_LINGER,
            read_bufsize=WEBHOOK_READ_BUFFER,
        )
        runner = web.ServerRunner(
            server, handle_signals=False, shutdown_timeout=RECEIVER_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            sockname = runner.addresses[0]
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = sockname[0], sockname[1]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self._runner = runner
        self._server = server
        self.url = f"http://{bound_host}:{bound_port}/webhook"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._server = None
        self.url = None
        if runner is not None:
            await runner.cleanup()
