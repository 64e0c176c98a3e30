"""AIMusicClient: configuration, lifecycle and the resource namespaces; its views
(``with_options``) and its raw-response flavour (``with_raw_response``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from typing_extensions import Self

from . import _constants as C
from ._errors import ConfigurationError, SubmissionUnknownError
from ._hooks import EventHooks, Hooks
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
from .hubs import Hub, MemoryHub

if TYPE_CHECKING:
    from ._journal import Journal
    from .batch import BatchRun, Job, ProgressHook
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
        account_webhook_secret: str | None = None,
        hub: Hub | str | None = None,
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
            hub=_hub_from(hub),
            # How long tasks of each operation take, learned as they finish (adaptive polling).
            estimates=DurationEstimates(),
            webhooks=WebhookSettings(
                secret=webhook_secret, account_secret=_secret(account_webhook_secret)
            ),
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
    def hub(self) -> Hub:
        """Where webhook results meet the tasks waiting for them: ``hub=`` (a ``RedisHub`` to
        share results between processes), else a ``MemoryHub`` of this client's own."""
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
            # The pool and the hub are closed even when stopping the receiver failed or was
            # cancelled (the hub given to this client is its own: it closes with it).
            try:
                await self._runtime.transport.aclose()
            finally:
                await self._runtime.hub.aclose()

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

    async def recover(
        self, error: SubmissionUnknownError, *, timeout: float | None = None
    ) -> Task | None:
        """The task a start whose answer was lost created, once its callback arrived.

        ``error`` is the ``SubmissionUnknownError`` of a start that asked for a webhook (its
        ``reference`` is set). Waits up to ``timeout`` seconds (default ``RECOVER_TIMEOUT``,
        ten minutes: callbacks come when tasks finish) for a callback carrying that reference
        to reach any receiver sharing this client's hub, and returns a handle on the task, or
        None when none came (the start most likely never happened). ``timeout`` bounds that
        wait, not a request (``with_options`` does not change it). When an answer came and
        named its task (a response hook raised after it), the handle is returned at once.
        Never re-sends the start. Raises ``HubUnavailableError`` when the hub could not be
        asked, and ``ConfigurationError`` for an error with neither a task id nor a reference.
        """
        if not isinstance(error, SubmissionUnknownError):
            raise ConfigurationError("recover() takes the SubmissionUnknownError of a start")
        if timeout is None:
            timeout = C.RECOVER_TIMEOUT
        elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ConfigurationError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        reference = error.reference
        family, _, _ = error.operation.partition(".")
        if family not in self._runtime.families:
            family = "sonic"
        if error.task_id is not None:
            # The answer came and named the task: nothing to wait for. A start that sent this
            # client's callback URL (it has a reference) resolves from its callback.
            return self._runtime.task(
                error.task_id,
                family,
                operation=error.operation,
                push=True if reference is not None else None,
                request_id=error.request_id,
            )
        if reference is None:
            raise ConfigurationError(
                "this start asked for no webhook, so it carries no reference to recover by; "
                "start tasks after client.webhooks.serve() or use()"
            )
        task_id = await self._runtime.hub.resolve(reference, float(timeout))
        if task_id is None:
            return None
        return self._runtime.task(task_id, family, operation=error.operation, push=True)

    # -- account, batch, downloads -------------------------------------------------------------
    async def credits(self, *, timeout: float | None = None) -> Credits:
        """The remaining balance: ``credits`` (plan) and ``extra_credits`` (bought); the same as
        ``client.account.credits()``."""
        return await self.account.credits(timeout=timeout)

    def batch(
        self,
        jobs: Iterable[Job | Mapping[str, Any]],
        *,
        concurrency: int = C.BATCH_CONCURRENCY,
        journal: str | os.PathLike[str] | Journal | None = None,
        download_dir: str | os.PathLike[str] | None = None,
        resubmit_unknown: bool = False,
        progress: ProgressHook | None = None,
    ) -> BatchRun:
        """Run many jobs: ``run_batch(client, jobs, ...)`` (in ``aimusic_async.batch``, which
        says more). Iterate the ``BatchRun`` for one outcome per job in completion order; use it
        with ``async with`` to stop it on leaving, and read ``run.progress`` at any time.

        >>> async with client.batch(jobs, journal="songs.db") as run:
        ...     async for outcome in run:
        ...         print(outcome.job.key, outcome.status, run.progress.done)
        """
        from .batch import run_batch

        return run_batch(
            self,
            jobs,
            concurrency=concurrency,
            journal=journal,
            download_dir=download_dir,
            resubmit_unknown=resubmit_unknown,
            progress=progress,
        )

    async def download(
        self,
        clip_or_url: Clip | str,
        dest: str | os.PathLike[str],
        *,
        retries: int = C.DOWNLOAD_RETRIES,
        overwrite: bool = False,
        max_bytes: int | None = C.DOWNLOAD_MAX_BYTES,
    ) -> Path:
        """Stream a clip's audio (or any http/https URL) to ``dest`` atomically; returns the path.

        For a clip saved into a folder the name is ``"<title> [<clip id>].<ext>"``, sanitised; an
        existing file is kept and the new one numbered unless ``overwrite=True``. ``retries``:
        attempts after a transient failure; ``max_bytes``: the largest file accepted (None: no
        limit). The manual's Downloads section lists what a file host may not do.

        >>> path = await client.download(result.succeeded[0], "out/")
        """
        from ._download import download

        return await download(
            self._runtime,
            clip_or_url,
            dest,
            retries=retries,
            overwrite=overwrite,
            max_bytes=max_bytes,
        )


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


def _hub_from(hub: Hub | str | None) -> Hub:
    """The hub a client was given: a hub object, a ``redis://`` URL, or None for its own
    in-process hub."""
    if hub is None:
        return MemoryHub()
    if isinstance(hub, str):
        from .hubs import RedisHub

        return RedisHub(hub)
    if not isinstance(hub, Hub):
        raise ConfigurationError(
            f"hub must be a Hub (MemoryHub, RedisHub) or a redis:// URL, got {type(hub).__name__}"
        )
    return hub


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


def _secret(value: str | None) -> str | None:
    """A webhook secret as given (None: not given); never echoed in the error."""
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigurationError("account_webhook_secret must be a non-empty string")
    return value
