"""AIMusicClient: configuration, lifecycle and the resource namespaces; its views
(``with_options``) and its raw-response flavour (``with_raw_response``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from typing_extensions import Self

from . import _constants as C
from ._errors import ConfigurationError
from ._hooks import EventHooks, Hooks
from ._hub import PushHub
from ._namespaces import (
    AccountMethods,
    AsyncRaw,
    LyricsMethods,
    Namespace,
    NuroMethods,
    ProducerMethods,
    RiffusionMethods,
    SonicMethods,
    method,
)
from ._runtime import FamilyRegistry, Runtime, WebhookSettings
from ._tasks import DurationEstimates, PollPolicy, Task
from ._transport import RequestOptions, Transport
from .families import Family, builtin_families

if TYPE_CHECKING:
    from .batch import Job, JobOutcome
    from .models.account import Credits
    from .models.common import Clip
    from .resources.account import AccountResource
    from .resources.lyrics import LyricsResource
    from .resources.nuro import NuroResource
    from .resources.producer import ProducerResource
    from .resources.riffusion import RiffusionResource
    from .resources.sonic import SonicResource
    from .webhooks import WebhookManager

__all__ = ["AIMusicClient", "AsyncRawClient", "runtime_of"]


class AIMusicClient:
    """The async client. One connection pool; every operation returns a ``Task`` or a result.

    >>> async with AIMusicClient() as client:            # key from AIMUSIC_API_KEY
    ...     task = await client.sonic.create(mv="sonic-v5", custom_mode=False,
    ...                                      gpt_description_prompt="calm lo-fi for studying")
    ...     result = await task
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        poll: PollPolicy | None = None,
        webhook_secret: str | None = None,
        session: aiohttp.ClientSession | None = None,
        event_hooks: EventHooks | None = None,
    ) -> None:
        """``event_hooks``: callables (plain or async) per event, ``{"request": [...],
        "response": [...], "retry": [...], "poll": [...]}``; each gets a frozen event (the
        manual's Hooks section says what each holds and what a hook that raises does)."""
        key = api_key if api_key is not None else os.environ.get(C.API_KEY_ENV)
        if not key or not isinstance(key, str) or not key.strip():
            raise ConfigurationError(
                f"no API key: pass api_key=... or set {C.API_KEY_ENV} "
                "(for a local emulator, see aimusic_async.testing)"
            )
        url = base_url or os.environ.get(C.BASE_URL_ENV) or C.DEFAULT_BASE_URL
        _check_base_url(url)
        options = RequestOptions(timeout=timeout, max_retries=max_retries)
        if poll is not None and not isinstance(poll, PollPolicy):
            raise ConfigurationError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        hooks = Hooks.build(event_hooks)
        # The client this one is a view of (with_options); None for a client made here.
        self._parent: AIMusicClient | None = None
        self._runtime = Runtime(
            transport=Transport(
                api_key=key, base_url=url.rstrip("/"), session=session, hooks=hooks
            ),
            options=options,
            poll=poll or PollPolicy(),
            hub=PushHub(),
            # How long tasks of each operation take, learned as they finish (adaptive polling).
            estimates=DurationEstimates(),
            webhooks=WebhookSettings(secret=webhook_secret),
            families=FamilyRegistry(builtin_families()),
        )

    def __repr__(self) -> str:
        view = ", view" if self._parent is not None else ""
        return f"AIMusicClient(base_url={self.base_url!r}{view})"

    @property
    def base_url(self) -> str:
        return self._runtime.transport.base_url

    @property
    def poll(self) -> PollPolicy:
        """The ``PollPolicy`` tasks of this client wait with (unless ``wait`` says otherwise)."""
        return self._runtime.poll

    @property
    def hub(self) -> PushHub:
        """Where webhook results meet the tasks waiting for them (in-process)."""
        return self._runtime.hub

    @property
    def is_closed(self) -> bool:
        """True once ``aclose()`` ran: requests then raise ``ClientClosedError``."""
        return self._runtime.transport.closed

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> AIMusicClient:
        await self._runtime.transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close everything the client owns (a session passed in by the caller stays open).
        A view (``with_options``) owns nothing: closing it leaves its client open."""
        if self._parent is not None:
            return
        try:
            if "webhooks" in self.__dict__:
                await self.webhooks.aclose()
        finally:
            # The pool is closed even when stopping the receiver failed or was cancelled.
            await self._runtime.transport.aclose()

    # -- namespaces --------------------------------------------------------------------------
    @cached_property
    def sonic(self) -> SonicResource:
        from .resources.sonic import SonicResource

        return SonicResource(self._runtime)

    @cached_property
    def producer(self) -> ProducerResource:
        from .resources.producer import ProducerResource

        return ProducerResource(self._runtime)

    @cached_property
    def nuro(self) -> NuroResource:
        from .resources.nuro import NuroResource

        return NuroResource(self._runtime)

    @cached_property
    def riffusion(self) -> RiffusionResource:
        from .resources.riffusion import RiffusionResource

        return RiffusionResource(self._runtime)

    @cached_property
    def lyrics(self) -> LyricsResource:
        from .resources.lyrics import LyricsResource

        return LyricsResource(self._runtime)

    @cached_property
    def account(self) -> AccountResource:
        from .resources.account import AccountResource

        return AccountResource(self._runtime)

    @cached_property
    def webhooks(self) -> WebhookManager:
        if self._parent is not None:
            return self._parent.webhooks  # one receiver per client, shared by its views
        from .webhooks import WebhookManager

        return WebhookManager(self._runtime)

    # -- views and flavours ------------------------------------------------------------------
    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        poll: PollPolicy | None = None,
    ) -> Self:
        """A view of this client sending with other request options or polling with another
        policy; None keeps this client's. It shares the connection pool, the hub, the duration
        estimates, the webhook receiver and the hooks; closing it closes nothing (close the
        client). A method's own ``timeout=`` wins over the view's, the view's over the client's.

        >>> patient = client.with_options(timeout=120, max_retries=5)
        >>> up = await patient.sonic.upload("https://example.com/long-song.mp3")
        """
        options = self._runtime.options
        if timeout is not None or max_retries is not None:
            options = RequestOptions(
                timeout=options.timeout if timeout is None else timeout,
                max_retries=options.max_retries if max_retries is None else max_retries,
            )
        if poll is not None and not isinstance(poll, PollPolicy):
            raise ConfigurationError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        view = object.__new__(type(self))
        view._parent = self._parent or self
        view._runtime = self._runtime.derive(options=options, poll=poll)
        return view

    @cached_property
    def with_raw_response(self) -> AsyncRawClient:
        """The same namespaces, each call returning a ``RawResponse`` (status, headers, raw
        bytes, request id; ``parse()`` gives what the normal call returns).

        >>> raw = await client.with_raw_response.sonic.create(mv="sonic-v5", custom_mode=False,
        ...                                                   gpt_description_prompt="rain")
        >>> print(raw.status_code, raw.request_id)
        >>> task = raw.parse()
        """
        return AsyncRawClient(AsyncRaw(), self)

    # -- tasks -------------------------------------------------------------------------------
    def register_family(self, family: Family) -> None:
        """Make ``client.task(id, family=family.name)`` poll with ``family`` (a name that is
        taken keeps its first family)."""
        self._runtime.families.register(family)

    def family(self, name: str) -> Family:
        """The ``Family`` (poll path and answer parser) named ``name``; ``ConfigurationError`` (a
        ValueError) if unknown."""
        return self._runtime.family(name)

    def task(self, task_id: str, family: str = "sonic") -> Task:
        """Rebuild a handle for a task started earlier (after a restart, say).

        >>> result = await client.task("51bc6dd0-508a-414d-9ef3-71f7bad81cf7")
        """
        if not isinstance(task_id, str) or not task_id.strip():
            raise ConfigurationError("task_id must be a non-empty string")
        return self._runtime.task(task_id.strip(), family)

    # -- account, batch, downloads -------------------------------------------------------------
    async def credits(self, *, timeout: float | None = None) -> Credits:
        """The remaining balance: ``credits`` (plan) and ``extra_credits`` (bought); the same as
        ``client.account.credits()``."""
        return await self.account.credits(timeout=timeout)

    def batch(
        self,
        jobs: Iterable[Job],
        *,
        concurrency: int = C.BATCH_CONCURRENCY,
        journal: str | Path | None = None,
        download_dir: str | Path | None = None,
        resubmit_unknown: bool = False,
    ) -> AsyncIterator[JobOutcome]:
        """Run many jobs; yields one outcome per job in completion order (``run_batch`` in
        ``aimusic_async.batch`` says more)."""
        from .batch import run_batch

        return run_batch(
            self,
            jobs,
            concurrency=concurrency,
            journal=journal,
            download_dir=download_dir,
            resubmit_unknown=resubmit_unknown,
        )

    async def download(self, clip_or_url: Clip | str, dest: str | Path, **kwargs: Any) -> Path:
        """Stream a clip's audio (or any http/https URL) to ``dest`` atomically; returns the path.

        For a clip saved into a folder the name is ``"<title> [<clip id>].<ext>"``, sanitised; an
        existing file is kept and the new one numbered unless ``overwrite=True``. Keyword
        arguments: ``retries``, ``overwrite``, ``max_bytes`` (the manual's Downloads section
        lists what a file host may not do).

        >>> path = await client.download(result.succeeded[0], "out/")
        """
        from ._download import download

        return await download(self._runtime, clip_or_url, dest, **kwargs)


class AsyncRawClient(Namespace[AsyncRaw]):
    """``client.with_raw_response``: every namespace of the client and ``credits()``, each call
    returning a ``RawResponse`` whose ``parse()`` is what the normal call returns."""

    credits = method(AIMusicClient.credits)

    @cached_property
    def sonic(self) -> SonicMethods[AsyncRaw]:
        return SonicMethods(self._mode, self._target.sonic)

    @cached_property
    def producer(self) -> ProducerMethods[AsyncRaw]:
        return ProducerMethods(self._mode, self._target.producer)

    @cached_property
    def nuro(self) -> NuroMethods[AsyncRaw]:
        return NuroMethods(self._mode, self._target.nuro)

    @cached_property
    def riffusion(self) -> RiffusionMethods[AsyncRaw]:
        return RiffusionMethods(self._mode, self._target.riffusion)

    @cached_property
    def lyrics(self) -> LyricsMethods[AsyncRaw]:
        return LyricsMethods(self._mode, self._target.lyrics)

    @cached_property
    def account(self) -> AccountMethods[AsyncRaw]:
        return AccountMethods(self._mode, self._target.account)


def runtime_of(client: AIMusicClient) -> Runtime:
    """The client's ``Runtime``: a seam for tests and extensions that need the transport, the
    duration estimates or the webhook settings without reaching into the client."""
    return client._runtime


def _check_base_url(url: str) -> None:
    """An absolute http(s) URL with a host: anything else fails every request later, with a
    far less helpful error (the key is never part of the message: only the URL is)."""
    try:
        parsed = urlsplit(url)
        host = parsed.hostname
        _ = parsed.port  # an out-of-range port raises here
    except (TypeError, ValueError):
        raise ConfigurationError(f"base_url is not a valid URL: {url!r}") from None
    if parsed.scheme not in ("http", "https"):
        raise ConfigurationError(f"base_url must start with http:// or https://, got {url!r}")
    if not host or any(c.isspace() for c in host):
        raise ConfigurationError(f"base_url has no valid host: {url!r}")
