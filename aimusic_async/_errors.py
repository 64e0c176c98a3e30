"""The error tree. Every exception the SDK raises on purpose is an ``AIMusicError``.

    AIMusicError
    ├── APIError                      the server answered with an error status
    │   ├── BadRequestError           400
    │   │   └── TaskNotFoundError     400 "task not found." (also a NotFoundError)
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403 (and 402)
    │   │   ├── InsufficientCreditsError
    │   │   ├── SubscriptionInactiveError
    │   │   └── ContentRejectedError  lyrics / description moderation
    │   ├── NotFoundError             404
    │   ├── EndpointRetiredError      410, names the replacement
    │   ├── RateLimitError            429, ``retry_after`` in seconds
    │   └── ServerError               5xx
    ├── APIConnectionError            no usable answer (refused, reset, DNS, ...)
    │   └── APITimeoutError           the answer did not come in time (also a TimeoutError)
    ├── ResponseValidationError       an answer that does not parse into the documented shape
    ├── SubmissionUnknownError        a start request may have reached the server; no answer came
    ├── TaskFailedError               every clip of a task failed
    ├── TaskTimeoutError              the wait deadline passed (also a TimeoutError)
    ├── WebhookVerificationError      a callback that is not signed with our secret (a ValueError)
    ├── ConfigurationError            a setting or argument the SDK cannot work with (a ValueError)
    └── ClientClosedError             the client was closed before or during a call (a RuntimeError)

Messages are the server's own text, verbatim; no exception ever carries the API key or the
webhook secret (they live only in request headers and HMAC keys, never in bodies we echo).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AIMusicError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ContentRejectedError",
    "EndpointRetiredError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "SubmissionUnknownError",
    "SubscriptionInactiveError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "WebhookVerificationError",
]


class AIMusicError(Exception):
    """Base of every error this SDK raises."""


class APIError(AIMusicError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``message`` the server's text (verbatim), ``body`` the decoded
    JSON answer (or the raw text when it was not JSON), ``error_type`` a machine ``type`` field
    when the server sent one, ``path`` the request path.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        path: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.path = path
        self.error_type = error_type

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.status}{where}: {self.message}"


class BadRequestError(APIError):
    """400: the server rejected the input. The message names the field."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class TaskNotFoundError(BadRequestError, NotFoundError):
    """The API says the task id is unknown (400 "task not found.", or a JSON 404 saying so)."""


class AuthenticationError(APIError):
    """401: missing, malformed or unknown API key."""


class PermissionDeniedError(APIError):
    """403 (or 402): the key may not do this. Subclasses say why."""


class InsufficientCreditsError(PermissionDeniedError):
    """The balance does not cover the operation. Nothing was charged."""


class SubscriptionInactiveError(PermissionDeniedError):
    """The account has no active subscription."""


class ContentRejectedError(PermissionDeniedError):
    """The lyrics or description were rejected by moderation; the message says what."""


class EndpointRetiredError(APIError):
    """410: the route or task type was retired by the service.

    ``replacement`` names what to call instead, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 410,
        body: Any = None,
        path: str | None = None,
        error_type: str | None = None,
        replacement: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, path=path, error_type=error_type)
        self.replacement = replacement

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} Use {self.replacement} instead." if self.replacement else base


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        body: Any = None,
        path: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, path=path, error_type=error_type)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed. Safe requests were already retried."""


class APIConnectionError(AIMusicError):
    """No usable answer: the connection was refused, reset or dropped."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class APITimeoutError(APIConnectionError, TimeoutError):
    """The answer did not arrive within the request timeout."""


class ResponseValidationError(AIMusicError):
    """The server's answer does not have the documented shape.

    ``status`` and ``path`` say which answer; ``body`` holds it (decoded JSON, or text).
    """

    def __init__(
        self, message: str, *, status: int | None = None, path: str | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.body = body


class SubmissionUnknownError(AIMusicError):
    """A request that starts paid work may have reached the server, but no answer came back.

    The SDK does not re-send it (that could pay twice). ``operation`` and ``payload`` say what
    was sent (secrets removed) so the caller can check and decide; ``reason`` says what happened.
    """

    def __init__(
        self,
        reason: str,
        *,
        operation: str,
        path: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            f"the {operation} request may or may not have started a task ({reason}); "
            "it was not re-sent so no credits are spent twice"
        )
        self.reason = reason
        self.operation = operation
        self.path = path
        self.payload = payload or {}


class TaskFailedError(AIMusicError):
    """Every clip of the task failed (credits for failed clips are refunded by the service).

    ``snapshot`` is the last state seen, when there is one.
    """

    def __init__(self, task_id: str, reason: str, *, snapshot: Any = None) -> None:
        super().__init__(f"task {task_id} failed: {reason}")
        self.task_id = task_id
        self.reason = reason
        self.snapshot = snapshot


class TaskTimeoutError(AIMusicError, TimeoutError):
    """The wait deadline passed. The task may still finish: rebuild it with ``client.task(id)``."""

    def __init__(self, task_id: str, waited: float) -> None:
        super().__init__(
            f"task {task_id} was not finished after {waited:.1f}s; "
            f"resume later with client.task({task_id!r})"
        )
        self.task_id = task_id
        self.waited = waited


class WebhookVerificationError(AIMusicError, ValueError):
    """A webhook request is not authentic. ``reason`` never contains the secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigurationError(AIMusicError, ValueError):
    """A setting or argument the SDK cannot work with: no API key, a malformed base URL, a
    ``PollPolicy`` value out of range. Raised before anything is sent."""


class ClientClosedError(AIMusicError, RuntimeError):
    """The client was closed before the call, or while the call was waiting."""
