"""Shared HTTP plumbing for the emulator's routes: JSON answers, errors, auth, dropped links,
and the one step that turns a request body into a JSON object (or a 400 saying why not).
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

from aiohttp import web

from ._state import EmulatorState

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "STATE",
    "TOO_LARGE",
    "EmulatorError",
    "decode_body",
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


# The API documents no body limit. A valid request is a flat object of short fields (the longest,
# a 5,000-character prompt, is at most 60 KiB even with every character written as a \u escape
# pair), so 256 KiB refuses nothing real while keeping the worst hostile body cheap to refuse
# (tens of milliseconds). 32 levels leave room for any object a client could mean (a clip id list
# is the deepest valid value) and keep the parser far from the interpreter's recursion limit.
MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# The API's JavaScript runtime reads every JSON number as a double: one that does not fit (1e400,
# a 400-digit integer) is refused here, not turned into infinity or into an int that later code
# cannot convert. Integers are bounded by their digits, before Python converts them at all.
_MAX_INT_DIGITS = 309  # 10**309 is beyond the largest double
# What a number needs to leave the double range: 309 digits, or a three-digit exponent. Only a
# body holding one (anywhere, strings included) pays for the per-number checks.
_BIG_NUMBER = re.compile(rb"[0-9]{309}|[eE]\+?0*[1-9][0-9][0-9]")

_INVALID_JSON = "The request body should be valid JSON."
_NOT_OBJECT = "The request body should be a JSON object."
_NOT_UTF8 = "The request body should be UTF-8 encoded JSON."
_TOO_DEEP = f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels)."
_OUT_OF_RANGE = "The request body holds a number out of range."
_NOT_UNICODE = "The request body holds a string that is not valid Unicode."
TOO_LARGE = f"The request body is too large (at most {MAX_BODY_BYTES} bytes)."

# A JSON string, its closing quote optional: an unterminated string then runs to the end instead
# of failing and being tried again from every later quote (quadratic on hostile input). Bytes
# are scanned, not text: quotes, backslashes and brackets never occur inside a UTF-8 sequence.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
# An escaped half of a UTF-16 surrogate pair: the only way to smuggle a lone surrogate in.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _BadBody(ValueError):
    """A body refused for a reason more precise than "not valid JSON"."""


def _too_deep(raw: bytes) -> bool:
    """True when arrays and objects nest deeper than ``MAX_JSON_DEPTH`` (outside strings);
    C-speed passes over the bytes, no recursion."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False  # the common case: too few brackets to nest that deep at all
    steps = _STRING.sub(b"", raw).translate(_OPEN_CLOSE, _NOT_BRACKET)
    if len(steps) <= MAX_JSON_DEPTH:
        return False
    return max(accumulate(array("b", steps))) > MAX_JSON_DEPTH


def _no_constant(name: str) -> Any:
    raise _BadBody(_INVALID_JSON)  # NaN and Infinity are not JSON, whatever Python accepts


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadBody(_OUT_OF_RANGE)
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _BadBody(_OUT_OF_RANGE)
    return int(text)


def decode_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or an ``EmulatorError`` 400 in the API's envelope.

    The one gate every route's body passes: UTF-8 (a leading BOM tolerated), nesting at most
    ``MAX_JSON_DEPTH`` levels, only numbers a double can hold, no NaN or Infinity, strings of
    valid Unicode, and an object at the top. An empty body reads as ``null`` (not an object).
    Its size is bounded before this, by the listener (``MAX_BODY_BYTES``).
    """
    try:
        text = raw.decode("utf-8-sig") if raw else "null"
    except UnicodeDecodeError:
        raise EmulatorError(400, _NOT_UTF8) from None
    if _too_deep(raw):
        raise EmulatorError(400, _TOO_DEEP)
    big = _BIG_NUMBER.search(raw) is not None
    try:
        data = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float if big else None,
            parse_int=_bounded_int if big else None,
        )
    except _BadBody as exc:
        raise EmulatorError(400, str(exc)) from None
    except RecursionError:  # unreachable after the depth check: a last line of defence
        raise EmulatorError(400, _TOO_DEEP) from None
    except ValueError:
        raise EmulatorError(400, _INVALID_JSON) from None
    if not isinstance(data, dict):
        raise EmulatorError(400, _NOT_OBJECT)
    if _SURROGATE_ESCAPE.search(raw):
        # A lone surrogate decodes to a str that cannot be encoded (a webhook secret, a URL):
        # refused here rather than failing later, far from the request.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise EmulatorError(400, _NOT_UNICODE) from None
    return data


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (see ``decode_body``), or a 400/413 in the API's envelope."""
    try:
        raw = await request.read()  # bounded by the listener's client_max_size
    except web.HTTPRequestEntityTooLarge:
        raise EmulatorError(413, TOO_LARGE) from None
    return decode_body(raw)


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
