"""Raw responses and request ids: ``RawResponse`` (what ``client.with_raw_response`` calls
return), the capture the transport fills while such a call runs, and ``request_id_of``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from . import _constants as C
from ._errors import ConfigurationError

__all__ = ["CAPTURE", "RawCapture", "RawResponse", "raw_call", "request_id_of"]

T = TypeVar("T")
U = TypeVar("U")


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The request id an answer carries: the first of ``REQUEST_ID_HEADERS`` present (the API's
    ``x-request-id``, else a proxy's), or None."""
    if not headers:
        return None
    for name in C.REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


class RawCapture:
    """Filled by the transport with each answer of the call it watches; the last one is what the
    call's result came from."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        # (method, path, status, headers, body bytes)
        self.last: tuple[str, str, int, Mapping[str, str], bytes] | None = None


# Set only while a ``with_raw_response`` call runs (in that call's own context): the transport
# reads it once per answer and does nothing more when it is unset.
CAPTURE: ContextVar[RawCapture | None] = ContextVar("aimusic_raw_capture", default=None)


class RawResponse(Generic[T]):
    """The HTTP answer of one call: ``status_code``, ``headers``, ``content`` (the body's bytes as
    received), ``request_id``, and ``parse()`` for what the normal call returns.

    When a call sends several requests (``midi`` asking until the file is ready), this is the
    last answer: the one the result was read from. Error answers raise as usual (each
    ``APIError`` carries its ``request_id`` too).
    """

    __slots__ = ("_value", "content", "headers", "method", "path", "status_code")

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        value: T,
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self._value = value

    @property
    def request_id(self) -> str | None:
        """The answer's request id (``x-request-id``, or a proxy's id such as ``cf-ray``)."""
        return request_id_of(self.headers)

    @property
    def text(self) -> str:
        """``content`` decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """``content`` decoded as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.content)

    def parse(self) -> T:
        """What the same call without ``with_raw_response`` returns (a ``Task``, a result)."""
        return self._value

    def map(self, convert: Callable[[T], U]) -> RawResponse[U]:
        """The same answer with ``parse()`` giving ``convert(parse())`` (the blocking client
        turns a ``Task`` into its blocking handle this way)."""
        return RawResponse(
            method=self.method,
            path=self.path,
            status_code=self.status_code,
            headers=self.headers,
            content=self.content,
            value=convert(self._value),
        )

    def __repr__(self) -> str:
        return (
            f"RawResponse(status_code={self.status_code}, method={self.method!r}, "
            f"path={self.path!r}, request_id={self.request_id!r})"
        )


async def raw_call(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> RawResponse[T]:
    """Run ``fn(*args, **kwargs)`` while capturing its answers; its last answer and result."""
    capture = RawCapture()
    token = CAPTURE.set(capture)
    try:
        value = await fn(*args, **kwargs)
    finally:
        CAPTURE.reset(token)
    last = capture.last
    if last is None:
        name = getattr(fn, "__qualname__", repr(fn))
        raise ConfigurationError(f"{name} sent no API request: there is no raw response to give")
    method, path, status, headers, content = last
    return RawResponse(
        method=method, path=path, status_code=status, headers=headers, content=content, value=value
    )
