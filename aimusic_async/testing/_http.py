"""Shared HTTP plumbing for the emulator's routes: JSON answers, errors, auth, dropped links."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ._state import EmulatorState

__all__ = [
    "STATE",
    "EmulatorError",
    "drop",
    "error",
    "json_body",
    "key_of",
    "ok",
]

STATE = web.AppKey("aimusic_emulator_state", EmulatorState)


class EmulatorError(Exception):
    """Raised inside a handler to answer ``{"code": status, "message": message, ...}``."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        body = {"code": self.status, "message": self.message, **self.extra}
        return ok(body, status=self.status, headers=self.headers)


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error(status: int, message: str, **extra: Any) -> web.Response:
    return ok({"code": status, "message": message, **extra}, status=status)


def drop(request: web.Request) -> web.Response:
    """Abort the TCP connection; the returned response is never written."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 in the API's style."""
    try:
        data = json.loads(await request.read() or b"null")
    except ValueError:
        raise EmulatorError(400, "The request body should be valid JSON.") from None
    if not isinstance(data, dict):
        raise EmulatorError(400, "The request body should be a JSON object.")
    return data


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None or not header.strip():
        raise EmulatorError(401, "Authorization header is missing.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise EmulatorError(401, "Invalid authorization format.")
    return token


def authenticate(request: web.Request, state: EmulatorState) -> None:
    """Bearer auth with the documented 401 messages (an unknown key: "Invalid API key.")."""
    if _bearer(request) not in state.accounts:
        raise EmulatorError(401, "Invalid API key.")


def key_of(request: web.Request) -> str:
    """The caller's key (already checked by the middleware; parsing again beats request
    storage, whose typed keys only exist in recent aiohttp releases)."""
    return _bearer(request)
