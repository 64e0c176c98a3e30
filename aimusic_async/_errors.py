"""The error tree. Every exception the SDK raises on purpose is an ``AIMusicError``.

```text
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
├── DeliveryRefused               a callback turned away by the receiver's bounds (408/413/503)
├── ConfigurationError            a setting or argument the SDK cannot use (a ValueError)
├── ClientClosedError             the client was closed before or during a call (a RuntimeError)
├── HubUnavailableError           the shared hub (Redis) cannot be reached (a ConnectionError)
├── DownloadError                 a file could not be downloaded
│   └── DestinationError          the destination cannot take it (an OSError)
│       ├── DestinationExistsError        the file exists (a FileExistsError)
│       └── DestinationNotWritableError   the folder is not writable (a PermissionError)
├── BatchStoppedError            a batch job not sent: the batch stopped on an account error
└── JournalError                  the batch journal cannot be used
    ├── JournalInUseError         another run holds it
    ├── JournalConflictError      a job key whose request changed (a ValueError)
    └── UnknownJobError           a write names a key the journal lacks (a KeyError)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "AIMusicError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchStoppedError",
    "ClientClosedError",
    "ConfigurationError",
    "ContentRejectedError",
    "DeliveryRefused",
    "DestinationError",
    "DestinationExistsError",
    "DestinationNotWritableError",
    "DownloadError",
    "EndpointRetiredError",
    "HubUnavailableError",
    "InsufficientCreditsError",
    "JournalConflictError",
    "JournalError",
    "JournalInUseError",
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
    "UnknownJobError",
    "WebhookVerificationError",
]


class AIMusicError(Exception):
    """Base of every error this SDK raises.

    Messages quote the server's own text, verbatim; no exception ever carries the API key or a
    webhook secret (they live only in request headers and HMAC keys, never in bodies we echo).
    """


class APIError(AIMusicError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``message`` the server's text (verbatim), ``body`` the decoded
    JSON answer (or the raw text when it was not JSON), ``error_type`` a machine ``type`` field
    when the server sent one, ``path`` the request path, ``request_id`` the answer's request id
    (``x-request-id``, or a proxy's such as ``cf-ray``) to quote to support, None when it had none.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        path: str | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.path = path
        self.error_type = error_type
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.status}{where}: {self.message}"


class BadRequestError(APIError):
    """400: the server rejected the input. The message names the field."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class TaskNotFoundError(BadRequestError, NotFoundError):
    """The task id is unknown to the server (400 "task not found.", or a 404 on a task route)."""


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
    ``request_id`` is the answer's request id when an answer came (support can tell from it
    whether a task was created); ``task_id`` the task the answer named, when it named one.
    ``reference`` is the correlation reference a start that asked for a webhook carried in its
    ``webhook_url`` (None otherwise): ``await client.recover(error)`` finds the task by it once
    the task's callback arrived.
    """

    def __init__(
        self,
        reason: str,
        *,
        operation: str,
        path: str,
        payload: dict[str, Any] | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        reference: str | None = None,
    ) -> None:
        super().__init__(
            f"the {operation} request may or may not have started a task ({reason}); "
            "it was not re-sent so no credits are spent twice"
        )
        self.reason = reason
        self.operation = operation
        self.path = path
        self.payload = payload or {}
        self.request_id = request_id
        self.task_id = task_id
        self.reference = reference


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


class HubUnavailableError(AIMusicError, ConnectionError):
    """The shared hub (Redis) could not be reached or did not answer in time.

    Waits never raise it (they poll instead). The webhook receiver raises it when a verified
    callback could not be stored for other processes (answer 503 so the sender retries), and
    ``client.recover`` when it cannot tell whether a callback arrived."""


class DownloadError(AIMusicError):
    """A file could not be downloaded. ``url`` has its query string and any credentials
    removed (CDN URLs are often signed); ``status`` is the HTTP status when the server answered,
    else None."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


class DestinationError(DownloadError, OSError):
    """The destination cannot take the file (also an ``OSError``, as before). ``path`` is the
    destination file or folder, never the hidden part file; ``errno`` the system's code."""

    def __init__(self, message: str, *, url: str, path: Path, errno: int | None = None) -> None:
        super().__init__(message, url=url)
        self.path = path
        if errno is not None:
            self.errno = errno


class DestinationExistsError(DestinationError, FileExistsError):
    """The destination file exists and ``overwrite`` was not asked for. Raised before any byte is
    downloaded (or, if the file appeared meanwhile, before the rename: it is never replaced)."""


class DestinationNotWritableError(DestinationError, PermissionError):
    """The destination folder does not let us create the file. Raised before downloading."""


class BatchStoppedError(AIMusicError):
    """A batch job that was not sent: the batch stopped starting jobs after ``stopped_by``, an
    error about the account (``AuthenticationError``, ``InsufficientCreditsError``,
    ``SubscriptionInactiveError``) that every further start would have met too. Nothing was
    charged for the job; its journal state is unchanged, so a rerun starts it."""

    def __init__(self, stopped_by: BaseException) -> None:
        super().__init__(
            f"not sent: the batch stopped after {type(stopped_by).__name__}: {stopped_by}"
        )
        self.stopped_by = stopped_by


class JournalError(AIMusicError):
    """The journal cannot be used: not a journal, not SQLite, no permission, in use, closed.

    ``path`` is the journal file, when the error is about one."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class JournalInUseError(JournalError):
    """Another batch run holds this journal (through the same ``Journal`` object, another
    handle on the file, or another process). One journal serves one run at a time: nothing of
    the refused run was planned or sent."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"journal {path} is in use by another batch run; one journal serves one run at a "
            "time (wait for that run to end, or use another journal)",
            path=path,
        )


class UnknownJobError(JournalError, KeyError):
    """A write names a job key the journal does not have (also a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError's own str() would quote the whole message


class JournalConflictError(JournalError, ValueError):
    """A job key is in the journal with a different operation or parameters.

    Re-using a key for different work would attach the old task's result to the new request
    (or start it twice); use a new key, or a new journal.
    """

    def __init__(self, key: str, state: str) -> None:
        super().__init__(
            f"job {key!r} is in the journal ({state}) with a different operation or params; "
            "use a new key or a new journal"
        )
        self.key = key
        self.state = state


class DeliveryRefused(AIMusicError):
    """A callback turned away or cut off by the receiver's bounds; receivers map it to an answer.

    ``status`` is that answer: 503 (the receiver is full, or this read was the oldest when room
    was needed), 408 (the body did not arrive within the read deadline), 413 (the body is larger
    than ``max_body``). The connection should be closed after it.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
