"""The one request pipeline (``Transport``): auth, JSON, retries as small named steps, error
mapping, envelope checks and the credit rule for start requests (design note: Architecture)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json as _json
import logging
import math
import random
import reprlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property, partial
from types import MappingProxyType
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
    ClientClosedError,
    ConfigurationError,
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
from ._hooks import Hooks, RequestEvent, ResponseEvent, RetryEvent, emit
from ._ratelimit import AdaptiveRateLimiter
from ._raw import CAPTURE, request_id_of
from ._version import __version__
from .models._base import REQUEST_ID_KEY

__all__ = [
    "RequestOptions",
    "Response",
    "Transport",
    "before_start",
    "error_from_response",
    "excerpt",
    "is_task_timeout",
    "off_loop",
    "parse_retry_after",
    "says_task_not_found",
    "task_id_of",
]

# Awaited once right before a start request first goes out (after the rate limiter's wait), in
# the caller's context. The batch journal commits "starting" here: a crash can then leave
# "starting" only on a request that may really have been sent, not on one still queued.
before_start: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "aimusic_before_start", default=None
)

logger = logging.getLogger("aimusic_async")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

RequestKind = Literal["safe", "start"]

# A non-JSON error page is kept (as the exception's ``body``) only this far: enough for any
# real page, while a hostile multi-MB one is not pinned by every exception that quotes it.
_ERROR_TEXT_KEEP = 64 * 1024
# The provider's "Task failed due to timeout" 504 is a final answer about the task, not a
# transient failure: retrying the poll only repeats it.
_TASK_TIMEOUT_MARK = "failed due to timeout"
_MESSAGE_KEYS = ("detail", "error", "message", "msg")
# Words of the documented moderation refusals (403): "The lyrics contain ...", "The song
# description needs moderation review.", "... contains artist names / producer tags ...".
_CONTENT_WORDS = ("lyrics", "description", "content", "moderation", "copyright", "artist")
_SECRET_FIELDS = frozenset({"webhook_secret"})
# How the API itself says a task id is unknown: "task not found." (400), nuro's 404 with type
# "not_found". A proxy's or framework's 404 ("Not Found", an HTML page) names no task.
_GONE_TYPES = frozenset({"not_found", "task_not_found"})
_GONE_WORDS = ("not found", "not exist", "no such", "unknown task")
_NOT_FOUND_CODES = (400, 404)
_USER_AGENT = f"aimusic-async/{__version__}"
# Failures that prove the request never left: the connection was not established. aiohttp
# names a connect timeout separately from 3.10 on (earlier it is a plain timeout: unknown).
_CONNECT_TIMEOUT = getattr(aiohttp, "ConnectionTimeoutError", None)
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    *((_CONNECT_TIMEOUT,) if isinstance(_CONNECT_TIMEOUT, type) else ()),
)


@dataclass(frozen=True)
class RequestOptions:
    """How one request is sent: each attempt's ``timeout`` (seconds) and how many times a safe
    request is retried (``max_retries``). A client holds one set; a request may carry its own."""

    timeout: float = C.DEFAULT_TIMEOUT
    max_retries: int = C.DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        retries = self.max_retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {retries!r}")
        timeout = self.timeout
        if (
            not isinstance(timeout, (int, float))
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ConfigurationError(
                f"timeout must be a finite number of seconds > 0, got {timeout!r}"
            )

    @cached_property
    def client_timeout(self) -> aiohttp.ClientTimeout:
        """The aiohttp form, built once per set of options (not per request)."""
        return aiohttp.ClientTimeout(total=self.timeout, connect=C.DEFAULT_CONNECT_TIMEOUT)


class Response:
    """A successful (2xx) answer: status, decoded JSON (or None when empty), headers, path."""

    __slots__ = ("data", "headers", "path", "size", "status")

    def __init__(
        self, status: int, data: Any, headers: Mapping[str, str], path: str, size: int = 0
    ) -> None:
        self.status = status
        self.data = data
        self.headers = headers
        self.path = path
        # Bytes of the answer as read (decoded JSON can be far bigger in memory); callers parse
        # big answers off the loop.
        self.size = size

    def __repr__(self) -> str:
        return f"Response(status={self.status}, path={self.path!r})"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (decimal seconds or an HTTP-date), always
    sane: None when unusable (missing, garbled, NaN), else within ``0 .. RETRY_AFTER_CAP`` (an
    "inf", 999999999 or a date an hour ahead asks for more than any caller will wait)."""
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
    return _clock.sane_wait(seconds, C.RETRY_AFTER_CAP)


def excerpt(body: Any, limit: int = C.BODY_EXCERPT) -> str:
    """A body fit to quote in an exception or a log line: its text (or repr), cut at ``limit``
    characters. Safe on anything, bodies nested deeper than ``repr`` can go included."""
    try:
        text = body if isinstance(body, str) else repr(body)
    except RecursionError:  # nested deeper than repr can go: a depth-bounded repr instead
        text = reprlib.repr(body)
    return text if len(text) <= limit else text[:limit] + "..."


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
            return (value if isinstance(value, str) else excerpt(value)), (
                str(error_type) if error_type is not None else None
            )
        return fallback, str(error_type) if error_type is not None else None
    if isinstance(body, str) and body.strip():
        return excerpt(body.strip()), None
    return fallback, None


def says_task_not_found(status: int, body: Any) -> bool:
    """Whether an answer is the API saying, in its own JSON words, that a task id is unknown.

    Only a JSON object with status (or envelope ``code``) 400/404 whose ``type`` is
    ``not_found`` or whose message names a missing task qualifies. A gateway's HTML 404, an
    empty 404 or a framework's ``{"detail": "Not Found"}`` does not: a task we hold an id for
    is not given up because something in between failed to route one poll."""
    if not isinstance(body, Mapping):
        return False
    code = body.get("code")
    if status not in _NOT_FOUND_CODES and not (
        isinstance(code, int) and not isinstance(code, bool) and code in _NOT_FOUND_CODES
    ):
        return False
    error_type = body.get("type")
    if isinstance(error_type, str) and error_type.lower() in _GONE_TYPES:
        return True
    for key in _MESSAGE_KEYS:
        value = body.get(key)
        if isinstance(value, Mapping):  # {"error": {"message": ...}}
            value = value.get("message")
        if isinstance(value, str):
            low = value.lower()
            if "task" in low and any(words in low for words in _GONE_WORDS):
                return True
    return False


def error_from_response(
    status: int, body: Any, path: str, headers: Mapping[str, str] | None = None
) -> APIError:
    """Map an error answer onto the error tree (the message is the server's, verbatim), with the
    answer's request id."""
    error = _error_of(status, body, path, headers)
    error.request_id = request_id_of(headers)
    return error


def _error_of(
    status: int, body: Any, path: str, headers: Mapping[str, str] | None = None
) -> APIError:
    message, error_type = _message_of(body, f"HTTP {status}")
    low = message.lower()
    kw: dict[str, Any] = {"status": status, "body": body, "path": path, "error_type": error_type}
    if status == 400:
        if says_task_not_found(status, body):
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
        if says_task_not_found(status, body):
            return TaskNotFoundError(message, **kw)
        # Any other 404 (on a poll: a proxy's page) is a plain NotFoundError; the wait loop
        # treats it as transient, and the transport retries a non-JSON one like a 502.
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
        hooks: Hooks | None = None,
    ) -> None:
        # Built once: a request with no body sends the auth header alone, a JSON one adds the
        # content type (both read-only here; aiohttp copies them into each request).
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._auth_json = {**self._auth, "Content-Type": "application/json"}
        self.base_url = base_url.rstrip("/")
        # Used only by a request that brings no options of its own (the client always does).
        self.defaults = RequestOptions(timeout=timeout, max_retries=max_retries)
        self.limiter = limiter or AdaptiveRateLimiter()
        self._session = session
        self._owns_session = session is None
        # The event loop the owned session was made on, and the async generator that closes it
        # when that loop shuts down (see _new_session): a client outlives one asyncio.run().
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._loop_watch: AsyncGenerator[None, None] | None = None
        self._closed = False
        # The client's event hooks; None when it has none (every hook step is then one check).
        self.hooks = hooks
        # Resolved by aclose(): every wait inside a request (retry pause, limiter) wakes on it.
        self._closing: asyncio.Future[None] | None = None
        # Answers above this are refused unread (see API_MAX_RESPONSE_BYTES); an attribute so a
        # caller (or a test) can lower it for one client.
        self.max_response_bytes = C.API_MAX_RESPONSE_BYTES
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
        """The client's one connection pool. It never carries the Authorization header.

        An owned pool belongs to the event loop it was made on: on another loop (a second
        ``asyncio.run()``) a new pool is made once the old loop has ended."""
        session = self._session
        if session is not None and (
            not self._owns_session or self._session_loop is _running_loop()
        ):
            return session
        return self._new_session()

    def _new_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = _running_loop()
        old = self._session
        if old is not None:
            old_loop = self._session_loop
            if old_loop is not None and not old_loop.is_closed() and not old.closed:
                state = (
                    "is still running (another thread?)"
                    if old_loop.is_running()
                    else "was stopped but not closed (asyncio.run() closes its loop)"
                )
                raise ConfigurationError(
                    f"this client's connection pool belongs to another event loop, which "
                    f"{state}: an AIMusicClient serves one event loop at a time. Use one client "
                    "per loop, or SyncAIMusicClient from threads."
                )
            # The old loop has ended (its pool was closed as it shut down): start afresh.
            self._session = None
        connector = aiohttp.TCPConnector(limit=C.DEFAULT_CONNECTION_LIMIT)
        session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": _USER_AGENT})
        self._session = session
        self._session_loop = loop
        if loop is not None:
            self._loop_watch = _close_at_loop_end(session)
        return session

    @property
    def closed(self) -> bool:
        return self._closed

    def closing_signal(self) -> asyncio.Future[None]:
        """A future that is done once the client is closed (waits pass it as their ``wake``)."""
        loop = asyncio.get_running_loop()
        signal = self._closing
        if signal is None or signal.get_loop() is not loop:
            # Bound to the running loop: a client reused on another loop gets a fresh one.
            signal = self._closing = loop.create_future()
            if self._closed:
                signal.set_result(None)
        return signal

    def check_open(self) -> None:
        """Raise ``ClientClosedError`` once the client is closed."""
        if self._closed:
            raise ClientClosedError("the client is closed")

    async def aclose(self) -> None:
        """Close the owned session; a caller's session is left open. Safe to call twice."""
        self._closed = True
        signal = self._closing
        if signal is not None and not signal.done():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if signal.get_loop() is running:
                signal.set_result(None)
            elif not signal.get_loop().is_closed():
                signal.get_loop().call_soon_threadsafe(_resolve, signal)
        session, self._session = self._session, None
        watch, self._loop_watch = self._loop_watch, None
        try:
            if session is None or not self._owns_session or session.closed:
                return
            closing = asyncio.ensure_future(session.close())
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                # Finish closing even when the caller is cancelled: a half-closed connector
                # would warn "Unclosed client session" at garbage collection.
                await closing
                raise
        finally:
            if watch is not None:
                await watch.aclose()  # its session is closed: it only ends

    # -- the pipeline ------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        kind: RequestKind = "safe",
        operation: str = "",
        options: RequestOptions | None = None,
        deadline: float | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """Send one API request and return its 2xx answer, retrying per ``kind``.

        ``options`` sets the attempt timeout and the retry budget (``defaults`` when None).
        ``deadline`` (a ``_clock.monotonic()``
        time) bounds the call, retries included: each attempt's timeout is cut to the time left,
        and no retry starts past it. A start request whose turn at the rate limiter would come
        past it (or past ``START_MAX_WAIT``) fails at once with ``RateLimitError``, unsent.
        ``max_bytes`` lowers the answer size limit (``max_response_bytes``) for this call (polls
        pass ``POLL_MAX_RESPONSE_BYTES``).

        Raises the mapped ``APIError`` subclass for an error status, ``APIConnectionError`` /
        ``APITimeoutError`` when no answer came (safe requests), ``SubmissionUnknownError`` when
        a start request may have been taken (a non-JSON or oversized 2xx included),
        ``ResponseValidationError`` for a non-JSON or oversized 2xx to a safe request,
        ``ClientClosedError`` when the client is (or gets) closed.
        """
        self.check_open()
        opts = options or self.defaults
        call = _Call(
            method=method,
            path=path,
            url=self.base_url + path,
            body=None if json is None else _json.dumps(json, separators=(",", ":")).encode(),
            payload=json,
            kind=kind,
            operation=operation or f"{method} {path}",
            timeout=opts.client_timeout,
            deadline=deadline,
            size_limit=(
                self.max_response_bytes
                if max_bytes is None
                else min(self.max_response_bytes, max_bytes)
            ),
        )
        attempt = 0
        while True:
            if kind == "start":
                await self._before_start(call, attempt)
            elif self.hooks is not None:
                await self._announce(call, attempt)
            outcome = await self._attempt(call, attempt)
            if isinstance(outcome, Response):
                return outcome
            delay = self._retry_delay(attempt, outcome.retry_after) if outcome.retryable else 0.0
            if not self._should_retry(outcome, attempt, opts, deadline, delay):
                raise outcome.exception()
            self._log_retry(method, path, attempt, outcome.reason, delay)
            if self.hooks is not None:
                await self._announce_retry(call, attempt, outcome, delay)
            attempt += 1
            await self._sleep_for_retry(delay)

    async def _before_start(self, call: _Call, attempt: int) -> None:
        """A start request waits for its turn at the rate limiter; the request hooks run, and
        on the first attempt the ``before_start`` hook."""
        limit = None if call.deadline is None else call.deadline - _clock.monotonic()
        await self.limiter.acquire(limit=limit, wake=self.closing_signal(), path=call.path)
        self.check_open()
        if self.hooks is not None:
            # Before the journal commits "starting": a request hook that raises stops a request
            # that was never sent, and the journal must not think it may have been.
            await self._announce(call, attempt)
        hook = before_start.get()
        if hook is not None and attempt == 0:
            await hook()

    # -- event hooks (only reached when the client has hooks) -----------------------------------
    async def _announce(self, call: _Call, attempt: int) -> None:
        """The request hooks, before an attempt: nothing is sent when one raises."""
        hooks = self.hooks
        if hooks is None or not hooks.request:
            return
        body = redact(call.payload)
        event = RequestEvent(
            method=call.method,
            path=call.path,
            operation=call.operation,
            attempt=attempt + 1,
            kind=call.kind,
            timeout=_attempt_timeout(call.timeout, call.deadline).total or 0.0,
            body=None if body is None else MappingProxyType(body),
        )
        await emit(hooks.request, event)

    async def _answered(
        self,
        call: _Call,
        attempt: int,
        status: int,
        headers: Mapping[str, str],
        data: Any,
        elapsed: float,
    ) -> None:
        """The response hooks, once an answer is read. For a start the server may have taken
        (a 2xx or a 5xx), a hook that raises cannot undo that: the caller gets
        ``SubmissionUnknownError`` (with the task id when the answer named one), never a plain
        error a batch or a caller would read as "nothing happened" and send again."""
        hooks = self.hooks
        if hooks is None or not hooks.response:
            return
        request_id = request_id_of(headers)
        event = ResponseEvent(
            method=call.method,
            path=call.path,
            operation=call.operation,
            attempt=attempt + 1,
            status=status,
            elapsed=elapsed,
            request_id=request_id,
            headers=headers,
        )
        try:
            await emit(hooks.response, event)
        except Exception as exc:
            taken = 200 <= status < 300 or status >= 500
            if call.kind != "start" or not taken:
                raise
            task_id = task_id_of(data) if 200 <= status < 300 and data is not _GARBLED else None
            named = f"; the answer named task {task_id}" if task_id else ""
            logger.warning(
                "%s %s: a response hook raised after a %d%s; outcome reported unknown",
                call.method,
                call.path,
                status,
                named,
            )
            raise SubmissionUnknownError(
                f"a response hook raised {_describe(exc)} after the server answered "
                f"{status}{named}",
                operation=call.operation,
                path=call.path,
                payload=redact(call.payload),
                request_id=request_id,
                task_id=task_id,
            ) from exc

    async def _announce_retry(
        self, call: _Call, attempt: int, failure: _Failure, delay: float
    ) -> None:
        """The retry hooks, before the pause: the request is not sent again when one raises."""
        hooks = self.hooks
        if hooks is None or not hooks.retry:
            return
        error = failure.error
        status = getattr(error, "status", None)
        event = RetryEvent(
            method=call.method,
            path=call.path,
            operation=call.operation,
            attempt=attempt + 1,
            delay=delay,
            reason=failure.reason,
            status=status if isinstance(status, int) else None,
            error=type(error).__name__,
        )
        await emit(hooks.retry, event)

    async def _attempt(self, call: _Call, attempt: int) -> Response | _Failure:
        """Send once; the 2xx answer, or what went wrong (classified)."""
        timeout = _attempt_timeout(call.timeout, call.deadline)
        self.check_open()  # the before_start hook may have awaited a close
        started = _clock.monotonic()
        try:
            status, raw, headers, oversized = await self._send(call, timeout)
        except ClientClosedError:
            raise  # closed before the request could start: nothing was sent
        except RuntimeError as exc:
            # aiohttp's "Session is closed" comes before anything is sent; any other
            # RuntimeError is a bug, not a network failure.
            self._raise_if_closed(exc)
            raise
        except _NOT_SENT as exc:
            return self._classify_not_sent(call, exc)
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
            return self._classify_lost(call, exc)
        elapsed = _clock.monotonic() - started
        logger.debug(
            "%s %s -> %d (attempt %d, %.3fs)", call.method, call.path, status, attempt + 1, elapsed
        )
        capture = CAPTURE.get()
        if capture is not None:
            capture.last = (call.method, call.path, status, headers, raw)
        ok = 200 <= status < 300
        if ok and call.kind == "start":
            self.limiter.on_success()
        if ok and oversized:
            if self.hooks is not None:
                await self._answered(call, attempt, status, headers, _GARBLED, elapsed)
            return self._classify_oversized(call, status, headers)
        if len(raw) > C.API_THREAD_THRESHOLD:
            # A start's answer is awaited in full whatever the deadline: it names the task.
            bound = None if call.kind == "start" else call.deadline
            data = await off_loop(partial(_decode_big, raw), deadline=bound, path=call.path)
        else:
            data = _decode(raw)
        if self.hooks is not None:
            await self._answered(call, attempt, status, headers, data, elapsed)
        return self._classify_answer(call, status, raw, data, headers)

    async def _send(
        self, call: _Call, timeout: aiohttp.ClientTimeout
    ) -> tuple[int, bytes, Mapping[str, str], bool]:
        """Status, body, headers and whether the body went past the size limit.

        The body is read as it arrives and reading stops at the limit (the connection is then
        closed, not reused): an oversized answer never sits in memory whole. A 2xx that is too
        big is refused by the caller; an error answer keeps its status, and the prefix read
        serves as its message."""
        headers = self._auth if call.body is None else self._auth_json
        limit = call.size_limit
        async with self.session.request(
            call.method,
            call.url,
            data=call.body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            declared = resp.content_length
            if declared is not None:
                if declared > limit:
                    resp.close()
                    return resp.status, b"", resp.headers, True
                # The parser stops at the declared length: the body cannot grow past the limit,
                # and one read costs less than a loop over chunks.
                return resp.status, await resp.read(), resp.headers, False
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if size > limit:
                    resp.close()
                    return resp.status, b"".join(chunks), resp.headers, True
                chunks.append(chunk)
            return resp.status, b"".join(chunks), resp.headers, False

    # -- classify: what one attempt's outcome means --------------------------------------------
    def _classify_not_sent(self, call: _Call, exc: BaseException) -> _Failure:
        """The connection was never established: nothing was sent, any kind may retry."""
        self._raise_if_closed(exc)
        error: Exception = (
            APITimeoutError(f"connect timed out: {call.path}", path=call.path)
            if isinstance(exc, asyncio.TimeoutError)
            else APIConnectionError(f"cannot connect: {_describe(exc)}", path=call.path)
        )
        return _Failure(
            error,
            f"connect failed ({_describe(exc)})",
            # A certificate the host will present again is not a blip.
            retryable=not isinstance(exc, aiohttp.ClientConnectorCertificateError),
            cause=exc,
        )

    def _classify_lost(self, call: _Call, exc: BaseException) -> _Failure:
        """A timeout or dropped connection after the request may have gone out."""
        timed_out = isinstance(exc, asyncio.TimeoutError)
        reason = "timed out" if timed_out else f"connection lost ({_describe(exc)})"
        if call.kind == "start":
            # Even when the client is closing: the request may have gone out, and the caller
            # must hear that it may have been paid for.
            logger.warning("%s %s: %s; not re-sent (start request)", call.method, call.path, reason)
            return _Failure(self._unknown(call, reason), reason, retryable=False, cause=exc)
        self._raise_if_closed(exc)
        error: Exception = (
            APITimeoutError(f"request timed out: {call.path}", path=call.path)
            if timed_out
            else APIConnectionError(reason, path=call.path)
        )
        return _Failure(error, reason, retryable=True, cause=exc)

    def _classify_oversized(self, call: _Call, status: int, headers: Mapping[str, str]) -> _Failure:
        """A 2xx larger than the size limit: refused unread."""
        reason = f"answer {status} is larger than the {_size(call.size_limit)} limit on API answers"
        if call.kind == "start":
            # The server took the request; its answer (and the task id in it) is lost.
            logger.warning("%s %s: %s; outcome unknown", call.method, call.path, reason)
            return _Failure(self._unknown(call, reason, headers), reason, retryable=False)
        error = ResponseValidationError(f"{call.path}: {reason}", status=status, path=call.path)
        return _Failure(error, reason, retryable=False)

    def _classify_answer(
        self, call: _Call, status: int, raw: bytes, data: Any, headers: Mapping[str, str]
    ) -> Response | _Failure:
        """A 2xx becomes the ``Response``; anything else a failure, retryable or not."""
        start = call.kind == "start"
        if 200 <= status < 300:
            if data is not _GARBLED:
                return Response(status, data, headers, call.path, len(raw))
            text = excerpt(_text(raw[: C.BODY_EXCERPT * 4]))
            reason = f"answer {status} is not JSON"
            if start:
                # The server took the request (2xx): the work may exist and be paid for, but its
                # id is unreadable. Unknown, not failed, so that nothing (a batch re-running
                # failed jobs, say) sends it again.
                logger.warning(
                    "%s %s: %d is not JSON; outcome unknown", call.method, call.path, status
                )
                unknown = self._unknown(call, f"{reason}: {text}", headers)
                return _Failure(unknown, reason, retryable=False)
            error = ResponseValidationError(
                f"{call.path}: answer is not JSON: {text}",
                status=status,
                path=call.path,
                body=text,
            )
            return _Failure(error, reason, retryable=False)

        api_error = error_from_response(
            status, _text(raw[:_ERROR_TEXT_KEEP]) if data is _GARBLED else data, call.path, headers
        )
        if status == 429:
            retry_after = api_error.retry_after if isinstance(api_error, RateLimitError) else None
            if start:
                self.limiter.on_rate_limited(retry_after)
            # A 429 proves the server took nothing: even a start may retry, and gets more tries.
            return _Failure(
                api_error,
                "429 rate limited",
                retryable=True,
                retry_after=retry_after,
                min_retries=C.RATE_LIMIT_MIN_RETRIES,
            )
        if start:
            if status >= 500:
                # The request reached the server and failed somewhere inside it: whether a task
                # was created (and charged) is unknown.
                logger.warning(
                    "%s %s: %d; not re-sent (start request)", call.method, call.path, status
                )
                unknown = self._unknown(
                    call, f"server answered {status}: {api_error.message}", headers
                )
                return _Failure(unknown, f"HTTP {status}", retryable=False, cause=api_error)
            # Any other refusal (400, 403, 408 ...) is final for a start request.
            return _Failure(api_error, f"HTTP {status}", retryable=False)
        retryable = status in C.RETRYABLE_STATUSES or status >= 500
        if status == 404 and not isinstance(data, Mapping):
            # Not the API's JSON: a proxy or gateway page in between, as transient as a 502.
            retryable = True
        if is_task_timeout(api_error):
            retryable = False
        return _Failure(
            api_error,
            f"HTTP {status}",
            retryable=retryable,
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )

    def _unknown(
        self, call: _Call, reason: str, headers: Mapping[str, str] | None = None
    ) -> SubmissionUnknownError:
        """The credit rule's error: this start may have been taken (and paid for)."""
        return SubmissionUnknownError(
            reason,
            operation=call.operation,
            path=call.path,
            payload=redact(call.payload),
            request_id=request_id_of(headers),
        )

    # -- retry: whether, when, and the pause ---------------------------------------------------
    @staticmethod
    def _should_retry(
        failure: _Failure,
        attempt: int,
        options: RequestOptions,
        deadline: float | None,
        delay: float,
    ) -> bool:
        """Retry a retryable failure while its budget lasts and the retry starts before the
        caller's deadline."""
        if not failure.retryable:
            return False
        if attempt >= max(options.max_retries, failure.min_retries):
            return False
        return not _too_late(deadline, delay)

    def _retry_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, or the server's hint (made sane) when given."""
        hint = _clock.sane_wait(retry_after, C.RETRY_AFTER_CAP)
        if hint is not None:
            return hint
        ceiling = min(C.RETRY_MAX_DELAY, C.RETRY_INITIAL_DELAY * (2**attempt))
        return self._rng.uniform(0.0, ceiling)

    async def _sleep_for_retry(self, delay: float) -> None:
        """A retry pause that ends at once (``ClientClosedError``) when the client closes."""
        await _clock.sleep(delay, wake=self.closing_signal())
        self.check_open()

    def _raise_if_closed(self, exc: BaseException) -> None:
        """A failure caused by closing the client mid-request is reported as that."""
        if self._closed:
            raise ClientClosedError("the client was closed during the request") from exc

    @staticmethod
    def _log_retry(method: str, path: str, attempt: int, reason: str, delay: float) -> None:
        logger.warning("%s %s: %s; retry %d in %.2fs", method, path, reason, attempt + 1, delay)

    # -- answers: envelopes, task ids, typed results ---------------------------------------------
    async def start(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        operation: str,
        options: RequestOptions | None = None,
    ) -> tuple[str, str | None]:
        """Send a request that starts server work (never re-sent when its fate is unknown);
        the new task's id and the answer's request id.

        A 2xx that names no task is ``SubmissionUnknownError`` (the work may exist and be paid
        for), unless its envelope carries a 4xx ``code``: that is a refusal, the same error as
        the status itself would be."""
        response = await self.request(
            "POST", path, json=payload, kind="start", operation=operation, options=options
        )
        task_id = task_id_of(response.data)
        if task_id is not None:
            return task_id, request_id_of(response.headers)
        self._check_envelope(response, "start", operation, payload)
        # The server took the request (2xx) but names no task: it may exist and be paid for.
        # Unknown, like a real 5xx to a start, so nothing sends it again unasked (a batch re-runs
        # failed jobs, never unknown ones).
        raise SubmissionUnknownError(
            f"the answer names no task_id: {excerpt(response.data)}",
            operation=operation,
            path=path,
            payload=redact(payload),
            request_id=request_id_of(response.headers),
        )

    async def call(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None,
        result: type[M],
        *,
        kind: RequestKind = "safe",
        operation: str,
        options: RequestOptions | None = None,
    ) -> M:
        """Send a request that answers at once and parse the answer into ``result``.

        An error only in the envelope (HTTP 200 with ``{"code": 4xx/5xx}``) raises the same
        error as the status itself would, never a hollow result. For a paid call
        (``kind="start"``) the credit rule holds: a 4xx envelope is a refusal, but a 5xx envelope
        or an answer that does not parse came after the server took the request, so it is
        ``SubmissionUnknownError`` (the work may be done and paid for)."""
        response = await self.request(
            method, path, json=payload, kind=kind, operation=operation, options=options
        )
        self._check_envelope(response, kind, operation, payload)
        try:
            parsed = self.parse(result, response)
        except ResponseValidationError as exc:
            if kind != "start":
                raise
            raise SubmissionUnknownError(
                str(exc),
                operation=operation,
                path=path,
                payload=redact(payload),
                request_id=request_id_of(response.headers),
            ) from exc
        request_id = request_id_of(response.headers)
        if request_id is not None:
            # Read by the result's ``request_id`` property; kept out of its fields (not dumped,
            # not compared), as a cached property would be.
            parsed.__dict__[REQUEST_ID_KEY] = request_id
        return parsed

    @staticmethod
    def _check_envelope(
        response: Response,
        kind: RequestKind,
        operation: str,
        payload: Mapping[str, Any] | None,
    ) -> None:
        """Raise what an error ``code`` inside a 2xx body means: a refusal (4xx), a server error
        (5xx), or, for a start, ``SubmissionUnknownError`` on a 5xx (the server took it)."""
        data = response.data
        code = data.get("code") if isinstance(data, Mapping) else None
        if not isinstance(code, int) or isinstance(code, bool) or code < 400:
            return
        if kind == "start" and code >= 500:
            raise SubmissionUnknownError(
                f"server answered {code} inside a {response.status}: {excerpt(data)}",
                operation=operation,
                path=response.path,
                payload=redact(payload),
                request_id=request_id_of(response.headers),
            )
        raise error_from_response(code, data, response.path, response.headers)

    def parse(self, model: type[M], response: Response) -> M:
        """Validate an answer into ``model``; a shape mismatch is a ResponseValidationError."""
        try:
            return model.model_validate(response.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "(body)"
            raise ResponseValidationError(
                f"{response.path}: unexpected answer for {model.__name__}: {where}: "
                f"{first.get('msg')}; body: {excerpt(response.data)}",
                status=response.status,
                path=response.path,
                body=response.data,
            ) from None


class _Call:
    """One request as prepared once, before its first attempt (a plain class: it is made for
    every request, and a frozen dataclass's ``__init__`` costs several times more)."""

    __slots__ = (
        "body",
        "deadline",
        "kind",
        "method",
        "operation",
        "path",
        "payload",
        "size_limit",
        "timeout",
        "url",
    )

    def __init__(
        self,
        *,
        method: str,
        path: str,
        url: str,
        body: bytes | None,
        payload: Mapping[str, Any] | None,
        kind: RequestKind,
        operation: str,
        timeout: aiohttp.ClientTimeout,
        deadline: float | None,
        size_limit: int,
    ) -> None:
        self.method = method
        self.path = path
        self.url = url
        self.body = body
        self.payload = payload
        self.kind = kind
        self.operation = operation
        self.timeout = timeout
        self.deadline = deadline
        self.size_limit = size_limit


@dataclass(frozen=True, slots=True)
class _Failure:
    """An attempt without a usable answer: the error to raise, and whether a retry may help."""

    error: Exception
    reason: str  # for the retry log line
    retryable: bool
    retry_after: float | None = None  # the server's hint, when it gave one
    min_retries: int = 0  # tries this failure gets even when max_retries is lower
    cause: BaseException | None = None

    def exception(self) -> Exception:
        if self.cause is not None:
            self.error.__cause__ = self.cause
        return self.error


_GARBLED: Any = object()
# The shortest timeout an attempt gets under a deadline that is (nearly) spent.
_MIN_ATTEMPT_TIMEOUT = 0.01


def _attempt_timeout(
    timeout: aiohttp.ClientTimeout, deadline: float | None
) -> aiohttp.ClientTimeout:
    """The attempt's timeout, cut to the time left before the caller's deadline."""
    if deadline is None:
        return timeout
    left = deadline - _clock.monotonic()
    if timeout.total is None or left < timeout.total:
        # Floored: aiohttp reads a total of 0 as "no timeout at all".
        return aiohttp.ClientTimeout(total=max(left, _MIN_ATTEMPT_TIMEOUT), connect=timeout.connect)
    return timeout


def task_id_of(data: Any) -> str | None:
    """The new task's id in a start's answer: top-level ``task_id``, or ``data.task_id``."""
    if not isinstance(data, Mapping):
        return None
    value = data.get("task_id")
    if value is None and isinstance(data.get("data"), Mapping):
        value = data["data"].get("task_id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


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
        # UTF-8 (the usual answer) decoded directly skips the encoding detection of bytes.
        return _json.loads(raw.decode())
    except RecursionError:
        return _GARBLED  # decoding the bytes themselves would nest as deep
    except ValueError:  # not UTF-8 (UnicodeDecodeError), a BOM, or not JSON: the general path
        pass
    try:
        return _json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a hostile or broken body nested deeper than the parser can go.
        return _GARBLED


def _decode_big(raw: bytes) -> Any:
    """``_decode`` for an answer above ``API_THREAD_THRESHOLD``, run in a worker thread."""
    data = _decode(raw)
    logger.debug("decoded a %s answer in a worker thread", _size(len(raw)))
    return data


async def off_loop(
    fn: Callable[[], T], *, deadline: float | None = None, path: str | None = None
) -> T:
    """Run CPU-heavy ``fn()`` (decoding, parsing a big answer) in a worker thread, so the event
    loop keeps serving every other task meanwhile. With a ``deadline`` the caller stops waiting
    for it there (``APITimeoutError``; the thread finishes on its own and its result is
    dropped), so a wait's deadline holds however big the answer."""
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    if deadline is None:
        return await work
    left = deadline - _clock.monotonic()
    try:
        return await asyncio.wait_for(work, timeout=max(left, 0.0))
    except asyncio.TimeoutError:
        raise APITimeoutError(
            f"the answer was not processed before the deadline: {path or fn.__name__}", path=path
        ) from None


def _size(n: int) -> str:
    """A byte count the way the limits are documented: 16 MiB, 256 KiB, 300 bytes."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _close_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """An async generator, started and left suspended, that closes ``session`` when the running
    loop shuts down: ``asyncio.run()`` (and every runner) closes the async generators still
    suspended on its loop before closing the loop. The pool's sockets are then closed on the
    loop they belong to, instead of leaking when the next ``asyncio.run()`` needs a new pool."""

    async def watch() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if not session.closed:
                await session.close()

    gen = watch()
    # Run it to its yield now (nothing before the yield awaits): this registers it with the
    # running loop's async generator hooks, which is what gets it closed at shutdown.
    with contextlib.suppress(StopIteration):
        gen.asend(None).send(None)
    return gen


def _resolve(signal: asyncio.Future[None]) -> None:
    if not signal.done():
        signal.set_result(None)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
