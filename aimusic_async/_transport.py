"""One request pipeline: auth, JSON, timeouts, retries, error mapping and logging.

Every API call of the SDK goes through ``Transport.request``. Two kinds of request exist:

* ``kind="safe"``: repeating it is harmless (polls, sync utilities, reads). Connection errors,
  408, 429 and 5xx are retried with exponential backoff and full jitter, ``Retry-After``
  honoured (capped), at most ``max_retries`` times.
* ``kind="start"``: it starts paid work. It is re-sent only when the server provably did not
  take it: a 429, or a connection that was never established. A timeout, a dropped connection,
  a 5xx after the body went out, or a 2xx whose body is not JSON raises
  ``SubmissionUnknownError`` instead, so the SDK never spends a user's credits twice. Start
  requests also pass the client-wide adaptive limiter.

The API key lives only in the per-request ``Authorization`` header: the session itself carries
no auth header, because the same pool downloads files from the CDN, which must never see it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json as _json
import logging
import random
import reprlib
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from . import _clock
from . import _constants as C
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentRejectedError,
    EndpointRetiredError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    SubmissionUnknownError,
    SubscriptionInactiveError,
    TaskNotFoundError,
)
from ._ratelimit import AdaptiveRateLimiter
from ._version import __version__

__all__ = [
    "Response",
    "Transport",
    "before_start",
    "error_from_response",
    "is_task_timeout",
    "parse_retry_after",
]

# Awaited once right before a start request first goes out (after the rate limiter's wait), in
# the caller's context. The batch journal commits "starting" here: a crash can then leave
# "starting" only on a request that may really have been sent, not on one still queued.
before_start: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "aimusic_before_start", default=None
)

logger = logging.getLogger("aimusic_async")

M = TypeVar("M", bound=BaseModel)

RequestKind = Literal["safe", "start"]

# Error bodies and garbled answers are quoted in exceptions and logs only this far.
BODY_EXCERPT = 300
# The provider's "Task failed due to timeout" 504 is a final answer about the task, not a
# transient failure: retrying the poll only repeats it.
_TASK_TIMEOUT_MARK = "failed due to timeout"
_MESSAGE_KEYS = ("detail", "error", "message", "msg")
# Words of the documented moderation refusals (403): "The lyrics contain ...", "The song
# description needs moderation review.", "... contains artist names / producer tags ...".
_CONTENT_WORDS = ("lyrics", "description", "content", "moderation", "copyright", "artist")
_SECRET_FIELDS = frozenset({"webhook_secret"})
_USER_AGENT = f"aimusic-async/{__version__}"
# Failures that prove the request never left: the connection was not established. aiohttp
# names a connect timeout separately from 3.10 on (earlier it is a plain timeout: unknown).
_CONNECT_TIMEOUT = getattr(aiohttp, "ConnectionTimeoutError", None)
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    *((_CONNECT_TIMEOUT,) if isinstance(_CONNECT_TIMEOUT, type) else ()),
)


class Response:
    """A successful (2xx) answer: status, decoded JSON (or None when empty), headers, path."""

    __slots__ = ("data", "headers", "path", "status")

    def __init__(self, status: int, data: Any, headers: Mapping[str, str], path: str) -> None:
        self.status = status
        self.data = data
        self.headers = headers
        self.path = path

    def __repr__(self) -> str:
        return f"Response(status={self.status}, path={self.path!r})"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: decimal seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (_clock.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _excerpt(body: Any) -> str:
    try:
        text = body if isinstance(body, str) else repr(body)
    except RecursionError:  # nested deeper than repr can go: a depth-bounded repr instead
        text = reprlib.repr(body)
    return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "..."


def _message_of(body: Any, fallback: str) -> tuple[str, str | None]:
    """The server's message (first of detail / error / message / msg) and its ``type``."""
    if isinstance(body, Mapping):
        error_type = body.get("type")
        for key in _MESSAGE_KEYS:
            value = body.get(key)
            if value is None or value == "":
                continue
            if isinstance(value, Mapping):  # {"error": {"message": ...}}
                inner, inner_type = _message_of(value, "")
                if inner:
                    return inner, inner_type or (str(error_type) if error_type else None)
                continue
            return (value if isinstance(value, str) else _excerpt(value)), (
                str(error_type) if error_type is not None else None
            )
        return fallback, str(error_type) if error_type is not None else None
    if isinstance(body, str) and body.strip():
        return _excerpt(body.strip()), None
    return fallback, None


def error_from_response(
    status: int, body: Any, path: str, headers: Mapping[str, str] | None = None
) -> APIError:
    """Map an error answer onto the error tree (the message is the server's, verbatim)."""
    message, error_type = _message_of(body, f"HTTP {status}")
    low = message.lower()
    kw: dict[str, Any] = {"status": status, "body": body, "path": path, "error_type": error_type}
    if status == 400:
        if "task not found" in low:
            return TaskNotFoundError(message, **kw)
        return BadRequestError(message, **kw)
    if status == 401:
        return AuthenticationError(message, **kw)
    if status in (402, 403):
        if "credit" in low:
            return InsufficientCreditsError(message, **kw)
        if "subscription" in low:
            return SubscriptionInactiveError(message, **kw)
        if status == 403 and any(word in low for word in _CONTENT_WORDS):
            return ContentRejectedError(message, **kw)
        # Anything else (nuro's usage / QPS / queue limits, a proxy's bare "Forbidden") says
        # nothing about the user's text: no subclass claims to know why.
        return PermissionDeniedError(message, **kw)
    if status == 404:
        if "/task/" in path:
            return TaskNotFoundError(message, **kw)
        return NotFoundError(message, **kw)
    if status == 410:
        return EndpointRetiredError(message, **kw)
    if status == 429:
        retry_after = parse_retry_after((headers or {}).get("Retry-After"))
        return RateLimitError(message, retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    return APIError(message, **kw)


def is_task_timeout(error: APIError) -> bool:
    """The provider's 504 "Task failed due to timeout": a final answer about the task (its
    credits refunded), not an outage, so neither retried nor absorbed."""
    return error.status == 504 and _TASK_TIMEOUT_MARK in error.message.lower()


def redact(payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a request body safe to put in an exception: secrets replaced."""
    if payload is None:
        return None
    return {k: ("<redacted>" if k in _SECRET_FIELDS else v) for k, v in payload.items()}


class Transport:
    """The request pipeline of one client. See the module docstring for the retry rules."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        session: aiohttp.ClientSession | None = None,
        limiter: AdaptiveRateLimiter | None = None,
    ) -> None:
        # Built once: a request with no body sends the auth header alone, a JSON one adds the
        # content type (both read-only here; aiohttp copies them into each request).
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._auth_json = {**self._auth, "Content-Type": "application/json"}
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=C.DEFAULT_CONNECT_TIMEOUT)
        self.max_retries = max_retries
        self.limiter = limiter or AdaptiveRateLimiter()
        self._session = session
        self._owns_session = session is None
        self._closed = False
        # The backoff jitter needs no cryptographic quality; a private RNG keeps tests' seeds
        # of the global one unaffected.
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the owned session now (otherwise it is created on first use)."""
        _ = self.session

    @property
    def session(self) -> aiohttp.ClientSession:
        """The client's one connection pool. It never carries the Authorization header."""
        if self._session is None:
            if self._closed:
                raise RuntimeError("the client is closed")
            connector = aiohttp.TCPConnector(limit=C.DEFAULT_CONNECTION_LIMIT)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": _USER_AGENT}
            )
        return self._session

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the owned session; a caller's session is left open. Safe to call twice."""
        self._closed = True
        session, self._session = self._session, None
        if session is None or not self._owns_session or session.closed:
            return
        closing = asyncio.ensure_future(session.close())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            # Finish closing even when the caller is cancelled: a half-closed connector would
            # warn "Unclosed client session" at garbage collection.
            await closing
            raise

    # -- requests ----------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        kind: RequestKind = "safe",
        operation: str = "",
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> Response:
        """Send one API request and return its 2xx answer, retrying per ``kind``.

        ``deadline`` (a ``_clock.monotonic()`` time) bounds the call, retries included: each
        attempt's timeout is cut to the time left, and no retry starts past it.

        Raises the mapped ``APIError`` subclass for an error status, ``APIConnectionError`` /
        ``APITimeoutError`` when no answer came (safe requests), ``SubmissionUnknownError`` when
        a start request may have been taken (a non-JSON 2xx included), ``ResponseValidationError``
        for a non-JSON 2xx to a safe request.
        """
        url = self.base_url + path
        body = None if json is None else _json.dumps(json, separators=(",", ":")).encode()
        headers = self._auth if body is None else self._auth_json
        client_timeout = (
            self._timeout
            if timeout is None
            else aiohttp.ClientTimeout(total=timeout, connect=C.DEFAULT_CONNECT_TIMEOUT)
        )
        op = operation or f"{method} {path}"
        attempt = 0
        while True:
            attempt_timeout = client_timeout
            if deadline is not None:
                left = deadline - _clock.monotonic()
                if client_timeout.total is None or left < client_timeout.total:
                    # Floored: aiohttp reads a total of 0 as "no timeout at all".
                    attempt_timeout = aiohttp.ClientTimeout(
                        total=max(left, _MIN_ATTEMPT_TIMEOUT), connect=client_timeout.connect
                    )
            if kind == "start":
                await self.limiter.acquire()
                hook = before_start.get()
                if hook is not None and attempt == 0:
                    await hook()
            started = _clock.monotonic()
            try:
                status, raw, resp_headers = await self._send(
                    method, url, body, headers, attempt_timeout
                )
            except _NOT_SENT as exc:
                # The connection was never established: nothing was sent, any kind may retry.
                failure: Exception = (
                    APITimeoutError(f"connect timed out: {path}", path=path)
                    if isinstance(exc, asyncio.TimeoutError)
                    else APIConnectionError(f"cannot connect: {_describe(exc)}", path=path)
                )
                if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                    raise failure from exc
                delay = self._backoff(attempt)
                if attempt >= self.max_retries or _too_late(deadline, delay):
                    raise failure from exc
                self._log_retry(method, path, attempt, f"connect failed ({_describe(exc)})", delay)
                attempt += 1
                await _clock.sleep(delay)
                continue
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
                timed_out = isinstance(exc, asyncio.TimeoutError)
                reason = "timed out" if timed_out else f"connection lost ({_describe(exc)})"
                if kind == "start":
                    logger.warning("%s %s: %s; not re-sent (start request)", method, path, reason)
                    raise SubmissionUnknownError(
                        reason, operation=op, path=path, payload=redact(json)
                    ) from exc
                delay = self._backoff(attempt)
                if attempt >= self.max_retries or _too_late(deadline, delay):
                    if timed_out:
                        raise APITimeoutError(f"request timed out: {path}", path=path) from exc
                    raise APIConnectionError(reason, path=path) from exc
                self._log_retry(method, path, attempt, reason, delay)
                attempt += 1
                await _clock.sleep(delay)
                continue

            elapsed = _clock.monotonic() - started
            logger.debug(
                "%s %s -> %d (attempt %d, %.3fs)", method, path, status, attempt + 1, elapsed
            )
            data = _decode(raw)
            if 200 <= status < 300:
                if kind == "start":
                    self.limiter.on_success()
                if data is _GARBLED:
                    excerpt = _excerpt(_text(raw))
                    if kind == "start":
                        # The server took the request (2xx): the work may exist and be paid
                        # for, but its id is unreadable. Unknown, not failed, so that nothing
                        # (a batch re-running failed jobs, say) sends it again.
                        logger.warning(
                            "%s %s: %d is not JSON; outcome unknown", method, path, status
                        )
                        raise SubmissionUnknownError(
                            f"answer {status} is not JSON: {excerpt}",
                            operation=op,
                            path=path,
                            payload=redact(json),
                        )
                    raise ResponseValidationError(
                        f"{path}: answer is not JSON: {excerpt}",
                        status=status,
                        path=path,
                        body=excerpt,
                    )
                return Response(status, data, resp_headers, path)

            error = error_from_response(
                status, _text(raw) if data is _GARBLED else data, path, resp_headers
            )
            if status == 429:
                retry_after = error.retry_after if isinstance(error, RateLimitError) else None
                if kind == "start":
                    self.limiter.on_rate_limited(retry_after)
                delay = self._backoff(attempt, retry_after)
                if attempt >= max(self.max_retries, C.RATE_LIMIT_MIN_RETRIES) or _too_late(
                    deadline, delay
                ):
                    raise error
                self._log_retry(method, path, attempt, "429 rate limited", delay)
                attempt += 1
                await _clock.sleep(delay)
                continue
            if kind == "start":
                if status >= 500:
                    # The request reached the server and failed somewhere inside it: whether a
                    # task was created (and charged) is unknown.
                    logger.warning("%s %s: %d; not re-sent (start request)", method, path, status)
                    raise SubmissionUnknownError(
                        f"server answered {status}: {error.message}",
                        operation=op,
                        path=path,
                        payload=redact(json),
                    ) from error
                # Any other refusal (400, 403, 408 ...) is final for a start request.
                raise error
            retryable = status in C.RETRYABLE_STATUSES or status >= 500
            if is_task_timeout(error):
                retryable = False
            if not retryable or attempt >= self.max_retries:
                raise error
            retry_after = parse_retry_after(resp_headers.get("Retry-After"))
            delay = self._backoff(attempt, retry_after)
            if _too_late(deadline, delay):
                raise error
            self._log_retry(method, path, attempt, f"HTTP {status}", delay)
            attempt += 1
            await _clock.sleep(delay)

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        async with self.session.request(
            method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as resp:
            raw = await resp.read()
            return resp.status, raw, resp.headers

    def _backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, or the server's hint (capped) when given."""
        if retry_after is not None:
            return min(retry_after, C.RETRY_AFTER_CAP)
        ceiling = min(C.RETRY_MAX_DELAY, C.RETRY_INITIAL_DELAY * (2**attempt))
        return self._rng.uniform(0.0, ceiling)

    @staticmethod
    def _log_retry(method: str, path: str, attempt: int, reason: str, delay: float) -> None:
        logger.warning("%s %s: %s; retry %d in %.2fs", method, path, reason, attempt + 1, delay)

    # -- parsing -----------------------------------------------------------------------------
    def parse(self, model: type[M], response: Response) -> M:
        """Validate an answer into ``model``; a shape mismatch is a ResponseValidationError."""
        try:
            return model.model_validate(response.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "(body)"
            raise ResponseValidationError(
                f"{response.path}: unexpected answer for {model.__name__}: {where}: "
                f"{first.get('msg')}; body: {_excerpt(response.data)}",
                status=response.status,
                path=response.path,
                body=response.data,
            ) from None


_GARBLED: Any = object()
# The shortest timeout an attempt gets under a deadline that is (nearly) spent.
_MIN_ATTEMPT_TIMEOUT = 0.01


def _too_late(deadline: float | None, delay: float) -> bool:
    """Whether a retry after ``delay`` seconds would start past the caller's deadline."""
    return deadline is not None and _clock.monotonic() + delay >= deadline


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _decode(raw: bytes) -> Any:
    """Decoded JSON, None for an empty body, or the _GARBLED marker."""
    if not raw.strip():
        return None
    try:
        return _json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a hostile or broken body nested deeper than the parser can go.
        return _GARBLED


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
