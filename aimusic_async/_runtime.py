"""The ``Runtime``: the narrow object that resources, tasks, downloads and webhooks are given
instead of the client (transport, request options, poll policy, hub, duration estimates, webhook
settings, the family registry)."""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ._errors import ConfigurationError
from ._tasks import DurationEstimates, PollPolicy, Task
from .families import Family

if TYPE_CHECKING:
    from ._transport import RequestKind, RequestOptions, Response, Transport
    from .hubs import Hub

__all__ = ["FamilyRegistry", "Runtime", "WebhookSettings"]

M = TypeVar("M", bound=BaseModel)


class WebhookSettings:
    """Where new tasks ask for their callbacks and how waits trust them; shared by every view of
    one client. ``url`` is None while webhooks are off; the secrets never show in a repr.
    ``account_secret``: the account's default webhook secret, which signs the callbacks of
    requests that sent none (async uploads)."""

    __slots__ = ("account_secret", "grace", "secret", "url")

    def __init__(
        self,
        *,
        secret: str | None = None,
        grace: float | None = None,
        account_secret: str | None = None,
    ) -> None:
        self.url: str | None = None
        self.secret = secret
        self.account_secret = account_secret
        # How long a task started with a webhook waits for it before polling as a safety net;
        # None: the poll policy's ``webhook_grace``.
        self.grace = grace

    @property
    def enabled(self) -> bool:
        """True while new tasks are created with a ``webhook_url``."""
        return self.url is not None

    def __repr__(self) -> str:
        return f"WebhookSettings(url={self.url!r}, grace={self.grace!r})"


class FamilyRegistry(Mapping[str, Family]):
    """The task families a client can poll, by name: the built-in ones, plus any registered."""

    __slots__ = ("_families",)

    def __init__(self, families: Mapping[str, Family] | None = None) -> None:
        self._families: dict[str, Family] = dict(families or {})

    def register(self, family: Family) -> None:
        """Add a family; a name that is taken keeps its first family."""
        self._families.setdefault(family.name, family)

    def __getitem__(self, name: str) -> Family:
        return self._families[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._families)

    def __len__(self) -> int:
        return len(self._families)

    def family(self, name: str) -> Family:
        """The family named ``name``; ``ConfigurationError`` (a ValueError) if unknown."""
        try:
            return self._families[name]
        except KeyError:
            known = ", ".join(self._families)
            raise ConfigurationError(
                f"unknown task family {name!r}; expected one of {known}"
            ) from None

    def __repr__(self) -> str:
        return f"FamilyRegistry({list(self._families)})"


@dataclass(frozen=True, eq=False)
class Runtime:
    """What one client's operations run on. ``derive`` makes a sibling that shares the pool,
    the hub, the estimates, the webhook settings and the families but sends with other options
    or polls with another policy."""

    transport: Transport
    options: RequestOptions
    poll: PollPolicy
    hub: Hub
    estimates: DurationEstimates
    webhooks: WebhookSettings
    families: FamilyRegistry

    def __repr__(self) -> str:
        return f"Runtime(base_url={self.transport.base_url!r})"

    def derive(
        self, *, options: RequestOptions | None = None, poll: PollPolicy | None = None
    ) -> Runtime:
        """A sibling with other request options or poll policy; everything else is shared
        (the pool, the hub, the estimates, the webhook settings, the families, the hooks)."""
        changes: dict[str, Any] = {}
        if options is not None:
            changes["options"] = options
        if poll is not None:
            changes["poll"] = poll
        return dataclasses.replace(self, **changes)

    def options_for(self, timeout: float | None) -> RequestOptions | None:
        """The request options of one call given its own ``timeout`` (None: the runtime's);
        a bad value is a ``ConfigurationError`` before anything is sent."""
        if timeout is None:
            return None
        return dataclasses.replace(self.options, timeout=timeout)

    def family(self, name: str) -> Family:
        """The registered family named ``name`` (``ConfigurationError`` if unknown)."""
        return self.families.family(name)

    def task(
        self,
        task_id: str,
        family: str | Family = "sonic",
        *,
        operation: str | None = None,
        fresh: bool = False,
        push: bool | None = None,
        request_id: str | None = None,
    ) -> Task:
        """A ``Task`` handle on this runtime. ``fresh``: its start was just seen (it teaches the
        duration estimates); ``operation`` groups it with tasks of the same kind; ``push``: it
        expects a callback through the hub (None: when this client receives callbacks or
        shares its hub with other processes); ``request_id`` is the start answer's."""
        resolved = self.family(family) if isinstance(family, str) else family
        if push is None:
            # A family may say it never calls back (``pushes_webhooks = False``).
            calls_back = getattr(resolved, "pushes_webhooks", True)
            push = bool(calls_back) and (self.webhooks.enabled or self.hub.shared)
        task = Task(self, task_id, resolved, operation=operation, fresh=fresh, push=push)
        if request_id is not None:
            task.request_id = request_id
        return task

    # The ones below hand back the transport's own coroutine rather than awaiting it in one of
    # their own: one coroutine less on every request. ``options`` (a per-call timeout) wins over
    # the runtime's own.
    def start(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        operation: str,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, tuple[str, str | None]]:
        """``Transport.start`` with this runtime's request options: the new task's id and the
        answer's request id."""
        return self.transport.start(
            path, payload, operation=operation, options=options or self.options
        )

    def call(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None,
        result: type[M],
        *,
        kind: RequestKind = "safe",
        operation: str,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, M]:
        """``Transport.call`` with this runtime's request options: the parsed answer."""
        return self.transport.call(
            method,
            path,
            payload,
            result,
            kind=kind,
            operation=operation,
            options=options or self.options,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        kind: RequestKind = "safe",
        operation: str = "",
        deadline: float | None = None,
        max_bytes: int | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """``Transport.request`` with this runtime's request options."""
        return self.transport.request(
            method,
            path,
            json=json,
            kind=kind,
            operation=operation,
            options=self.options,
            deadline=deadline,
            max_bytes=max_bytes,
        )
