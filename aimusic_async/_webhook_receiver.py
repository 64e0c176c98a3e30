"""The HTTP side of webhooks: a bounded body read, the status mapping, the embedded server.

Kept apart from ``webhooks.py`` so verification and parsing stay framework-free.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from ._constants import RECEIVER_SHUTDOWN_TIMEOUT
from ._errors import ResponseValidationError, WebhookVerificationError

if TYPE_CHECKING:
    from .webhooks import WebhookManager

__all__ = ["Receiver", "read_bounded", "respond"]

logger = logging.getLogger("aimusic_async")

_READ_CHUNK = 64 * 1024


async def read_bounded(request: web.BaseRequest, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` bytes (never read in full)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _json(status: int, **fields: object) -> web.Response:
    return web.json_response(fields, status=status)


async def respond(manager: WebhookManager, request: web.BaseRequest) -> web.Response:
    """Run one callback through ``manager.handle`` and map the outcome to an HTTP answer."""
    body = await read_bounded(request, manager.max_body)
    if body is None:
        return _json(413, error=f"body larger than {manager.max_body} bytes")
    try:
        event = await manager.handle(body, request.headers)
    except WebhookVerificationError:
        # The reason is logged by handle(); the sender learns only that it was refused.
        return _json(401, error="signature verification failed")
    except ResponseValidationError:
        return _json(400, error="unparseable webhook body")
    return _json(200, received=True, duplicate=event is None)


class Receiver:
    """The embedded server behind ``client.webhooks.serve()``: its own AppRunner and TCPSite."""

    def __init__(self, manager: WebhookManager) -> None:
        self._manager = manager
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        return await respond(self._manager, request)

    async def start(self, host: str, port: int) -> str:
        app = web.Application(client_max_size=self._manager.max_body)
        # Any path: behind a proxy or tunnel the public path may differ from the local one,
        # and the signature, not the path, is what authenticates a callback.
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=RECEIVER_SHUTDOWN_TIMEOUT
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
        self.url = f"http://{bound_host}:{bound_port}/webhook"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self.url = None
        if runner is not None:
            await runner.cleanup()
