"""Event hooks: the typed, frozen events the client hands to the callables given as
``AIMusicClient(event_hooks={...})``, and the one helper that calls them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from typing_extensions import TypedDict

from ._errors import ConfigurationError

__all__ = [
    "EventHooks",
    "Hooks",
    "PollEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "emit",
]


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """An API request about to go out (once per attempt, retries included).

    ``attempt`` is 1 for the first try; ``kind`` is ``"start"`` for a request that may start
    paid work (never re-sent when its fate is unknown); ``timeout`` the seconds this attempt may
    take; ``body`` the JSON body with ``webhook_secret`` redacted (None for a GET). No header is
    given: the only one that matters is the API key's.
    """

    method: str
    path: str
    operation: str
    attempt: int
    kind: Literal["safe", "start"]
    timeout: float
    body: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """An answer arrived (any status, before the SDK reads its meaning).

    ``elapsed`` is the seconds from sending to the last byte; ``request_id`` the id the API (or
    a proxy) gave the answer, None when it gave none; ``headers`` the answer's headers.
    """

    method: str
    path: str
    operation: str
    attempt: int
    status: int
    elapsed: float
    request_id: str | None
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """An attempt failed and the request will be sent again after ``delay`` seconds.

    ``attempt`` is the attempt that failed (1 for the first); ``reason`` says why in words,
    ``status`` is the answer's HTTP status (None when no answer came) and ``error`` the name of
    the error the attempt would have raised.
    """

    method: str
    path: str
    operation: str
    attempt: int
    delay: float
    reason: str
    status: int | None
    error: str


@dataclass(frozen=True, slots=True)
class PollEvent:
    """A task was polled: ``status`` is the snapshot's (``not_ready``, ``running``,
    ``succeeded``, ``failed``), ``polls`` how many polls this handle has made so far."""

    task_id: str
    family: str
    status: str
    polls: int
    request_id: str | None


E = TypeVar("E")
# A hook is any callable taking the event: a plain function, or an async one (awaited).
Hook = Callable[[E], object]


class EventHooks(TypedDict, total=False):
    """``event_hooks=`` of the client: for each event, the callables that receive it."""

    request: Sequence[Hook[RequestEvent]]
    response: Sequence[Hook[ResponseEvent]]
    retry: Sequence[Hook[RetryEvent]]
    poll: Sequence[Hook[PollEvent]]


class Hooks:
    """The hooks of one client, checked once: a tuple per event (empty when none)."""

    __slots__ = ("poll", "request", "response", "retry")

    def __init__(
        self,
        *,
        request: Sequence[Hook[RequestEvent]] = (),
        response: Sequence[Hook[ResponseEvent]] = (),
        retry: Sequence[Hook[RetryEvent]] = (),
        poll: Sequence[Hook[PollEvent]] = (),
    ) -> None:
        self.request = tuple(request)
        self.response = tuple(response)
        self.retry = tuple(retry)
        self.poll = tuple(poll)

    @classmethod
    def build(cls, given: EventHooks | Mapping[str, Any] | None) -> Hooks | None:
        """Check ``event_hooks=``; None when there is no hook at all (the pipeline then skips
        every hook step with one check)."""
        if not given:
            return None
        if not isinstance(given, Mapping):
            raise ConfigurationError(
                f"event_hooks must be a dict of event name to a list of callables, "
                f"got {type(given).__name__}"
            )
        known = ("request", "response", "retry", "poll")
        unknown = sorted(str(name) for name in given if name not in known)
        if unknown:
            raise ConfigurationError(
                f"unknown event hook name(s) {unknown}; expected some of {list(known)}"
            )
        lists: dict[str, tuple[Any, ...]] = {}
        for name, value in given.items():
            if callable(value) or isinstance(value, (str, bytes)) or not _iterable(value):
                raise ConfigurationError(f"event_hooks[{name!r}] must be a list of callables")
            hooks = tuple(cast("Iterable[Any]", value))
            for hook in hooks:
                if not callable(hook):
                    raise ConfigurationError(
                        f"event_hooks[{name!r}] holds {type(hook).__name__}, not a callable"
                    )
            lists[name] = hooks
        if not any(lists.values()):
            return None
        return cls(**lists)

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(getattr(self, name))}" for name in self.__slots__)
        return f"Hooks({counts})"


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


async def emit(hooks: tuple[Hook[E], ...], event: E) -> None:
    """Call each hook with ``event`` in order, in the caller's task; an async hook is awaited.
    A hook that raises stops the rest and the exception propagates (the caller decides what it
    means for the request)."""
    for hook in hooks:
        result = hook(event)
        if inspect.isawaitable(result):
            await result
