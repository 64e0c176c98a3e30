"""A scripted proxy in front of the emulator: it forwards every request, except the task polls
it is told to answer itself (a JSON "task not found.", a gateway's HTML 404, a 500 ...).

The emulator behind it stays the one record of what was created (``emu.stats.creates``), so a
test sees exactly how many paid starts a batch made while its polls met the proxy's faults.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["FAULTS", "PollFaultProxy"]

_POLL = re.compile(r"^/api/v1/[a-z]+/task/(?P<tid>[^/]+)$")
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}

_HTML_404 = (
    "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
)

# name -> (status, body, content type); "drop" closes the connection without an answer.
FAULTS: dict[str, tuple[int, str, str]] = {
    "json-not-found": (
        400,
        json.dumps({"code": 400, "message": "task not found."}),
        "application/json",
    ),
    "html-404": (404, _HTML_404, "text/html"),
    "json-500": (500, json.dumps({"code": 500, "message": "internal error"}), "application/json"),
    "html-502": (502, "<html><body>502 Bad Gateway</body></html>", "text/html"),
    "garbled-200": (200, "<html>maintenance</html>", "text/html"),
    "wrong-shape-200": (200, json.dumps({"code": 200, "data": "nope"}), "application/json"),
    "json-401": (401, json.dumps({"code": 401, "message": "Invalid API key."}), "application/json"),
}


class PollFaultProxy:
    """Forward to ``upstream``; a poll for which ``fault_for(task_id, nth_poll)`` names a fault
    (a key of ``FAULTS``, or ``"drop"``) gets that answer instead of the emulator's.

    ``polls`` counts every poll seen per task id (faulted or not)."""

    def __init__(
        self, upstream: str, fault_for: Callable[[str, int], str | None] | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault_for = fault_for or (lambda _tid, _n: None)
        self.polls: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = _POLL.match(request.path)
        if match is not None and request.method == "GET":
            tid = match["tid"]
            self.polls[tid] += 1
            fault = self.fault_for(tid, self.polls[tid])
            if fault is not None:
                self.faulted[tid] += 1
                if fault == "drop":
                    assert request.transport is not None
                    request.transport.close()
                    # Nothing is written: the client sees the connection vanish.
                    await asyncio.sleep(0.01)
                    raise asyncio.CancelledError
                status, body, ctype = FAULTS[fault]
                return web.Response(status=status, text=body, content_type=ctype)
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.Response:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers: dict[str, Any] = {
            k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS | {"host"}
        }
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=await request.read(),
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=upstream.status, body=body, headers=out)
