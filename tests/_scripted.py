"""A scripted aiohttp.web server for exact fault shapes (shared by the core tests).

``Script`` answers each request with the next step of a list; the last step repeats. A step is
``(status, body)`` / ``(status, body, headers)`` (dict bodies become JSON, str bodies raw text),
or one of the markers ``DROP`` (close the connection without an answer) and ``Hang(seconds)``.
Every request is recorded (method, path, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DROP = "drop"


@dataclass
class Hang:
    seconds: float
    then: Any = (200, {})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Script:
    steps: list[Any]
    routes: dict[str, list[Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    _pos: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def count(self, path: str | None = None) -> int:
        return sum(1 for s in self.seen if path is None or s.path == path)

    def _next(self, path: str) -> Any:
        steps = self.routes.get(path, self.steps)
        key = path if path in self.routes else "*"
        i = self._pos.get(key, 0)
        self._pos[key] = i + 1
        return steps[min(i, len(steps) - 1)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        step = self._next(request.path)
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
            step = step.then
        if callable(step):
            step = step(request, body)
        if step == DROP:
            assert request.transport is not None
            request.transport.close()
            # Nothing is written: the client sees the connection vanish.
            await asyncio.sleep(0.01)
            raise asyncio.CancelledError
        status, payload, *rest = step
        headers = rest[0] if rest else {}
        if isinstance(payload, (dict, list)) or payload is None:
            text = "" if payload is None else json.dumps(payload)
            return web.Response(
                status=status, text=text, content_type="application/json", headers=headers
            )
        return web.Response(status=status, text=str(payload), headers=headers)
