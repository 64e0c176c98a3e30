"""``SyncAIMusicClient``: the blocking client (the async client, run on an event loop in one
background thread through an anyio blocking portal) and its handles ``SyncTask`` and
``SyncBatchRun``."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, TypeVar, cast, overload

import anyio
from anyio.from_thread import BlockingPortal
from typing_extensions import ParamSpec, Self

from . import _constants as C
from ._client import AIMusicClient
from ._errors import ClientClosedError, SubmissionUnknownError
from ._hooks import EventHooks
from ._namespaces import (
    AccountMethods,
    LyricsMethods,
    Mode,
    Namespace,
    NuroMethods,
    ProducerMethods,
    RiffusionMethods,
    SonicMethods,
    method,
    signature_returning,
)
from ._raw import RawResponse, raw_call
from ._tasks import PollPolicy, Task
from .families import Family
from .hubs import Hub

if TYPE_CHECKING:
    from .batch import BatchProgress, BatchRun, JobOutcome
    from .models.common import TaskResult, TaskSnapshot

__all__ = ["Blocking", "BlockingRaw", "SyncAIMusicClient", "SyncBatchRun", "SyncTask"]

P = ParamSpec("P")
T = TypeVar("T")

_END: Any = object()


class _Loop:
    """The blocking client's event loop: a daemon thread running an anyio ``BlockingPortal``.
    Thread-safe: any thread may ``run`` a coroutine on it and block for the result.

    It closes the async client and stops when ``close()`` is called, when nothing refers to it
    any more, or at interpreter exit, whichever comes first."""

    def __init__(self, client: AIMusicClient) -> None:
        ready: concurrent.futures.Future[BlockingPortal] = concurrent.futures.Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                ready.set_result(portal)
                await portal.sleep_until_stopped()

        def main() -> None:
            try:
                anyio.run(serve, backend="asyncio")
            except BaseException as exc:  # pragma: no cover - the loop failed to start
                if not ready.done():
                    ready.set_exception(exc)

        # A daemon: a script that forgets close() still exits (the finalizer closes the pool
        # at exit, while the thread still runs).
        thread = threading.Thread(target=main, name=C.SYNC_THREAD_NAME, daemon=True)
        thread.start()
        self.portal = ready.result()
        self.thread = thread
        self._finalizer = weakref.finalize(self, _shut_down, self.portal, thread, client.aclose)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Close the async client on the loop, then stop the loop (idempotent)."""
        self._finalizer()

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """``await fn(*args, **kwargs)`` on the loop; blocks this thread until it is done.
        Interrupting the wait (Ctrl-C) cancels the coroutine."""
        if threading.current_thread() is self.thread:
            raise RuntimeError(
                "a blocking client method was called on its own event loop thread (from an "
                "event hook?): use the async client there"
            )
        if self.closed:
            raise ClientClosedError("the client is closed")
        try:
            future: concurrent.futures.Future[T] = self.portal.start_task_soon(
                functools.partial(fn, *args, **kwargs)
            )
        except RuntimeError:  # the portal stopped between the check and the call
            raise ClientClosedError("the client is closed") from None
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise ClientClosedError("the client was closed during the call") from None
        except BaseException:
            future.cancel()  # no-op once done; stops the coroutine on Ctrl-C
            raise

    def sync(self, value: Any) -> Any:
        """A result as the blocking client returns it: a ``Task`` as a ``SyncTask``."""
        return SyncTask(value, self) if isinstance(value, Task) else value


def _shut_down(
    portal: BlockingPortal,
    thread: threading.Thread,
    aclose: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    if threading.current_thread() is thread:  # pragma: no cover - collected on the loop itself
        portal.start_task_soon(aclose)
        return
    # Closing may fail or hang (a hook blocking the loop): the loop is stopped anyway.
    with contextlib.suppress(Exception):
        portal.start_task_soon(aclose).result(timeout=C.SYNC_CLOSE_TIMEOUT)
    with contextlib.suppress(Exception):
        portal.start_task_soon(portal.stop, True).result(timeout=C.SYNC_CLOSE_TIMEOUT)
    thread.join(C.SYNC_CLOSE_TIMEOUT)


class Blocking(Mode):
    """The blocking client's namespaces: each call runs on the client's loop and blocks."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop

    def bind(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        loop = self.loop

        def call(*args: Any, **kwargs: Any) -> Any:
            return loop.sync(loop.run(fn, *args, **kwargs))

        functools.update_wrapper(call, fn)
        returns = inspect_return(fn)
        call.__signature__ = signature_returning(  # type: ignore[attr-defined]
            fn, "SyncTask" if returns == "Task" else returns
        )
        return call


class BlockingRaw(Mode):
    """``with_raw_response`` of the blocking client: a blocking call returning a
    ``RawResponse`` (whose ``parse()`` gives a ``SyncTask`` for a task)."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop

    def bind(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        loop = self.loop

        def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            raw: RawResponse[Any] = loop.run(raw_call, fn, *args, **kwargs)
            return raw.map(loop.sync)

        functools.update_wrapper(call, fn)
        call.__signature__ = signature_returning(fn, "RawResponse")  # type: ignore[attr-defined]
        return call


def inspect_return(fn: Callable[..., Any]) -> str:
    """The return annotation of ``fn`` as written (a string under postponed annotations)."""
    returns = getattr(fn, "__annotations__", {}).get("return", "")
    return returns if isinstance(returns, str) else getattr(returns, "__name__", str(returns))


class SyncTask:
    """The blocking handle on server work: ``task.wait()`` blocks until it finishes.

    The same attributes as ``Task``: ``id``, ``family``, ``done``, ``last``, ``result``,
    ``polls``, ``request_id``; ``refresh()`` polls once, ``watch()`` is a blocking iterator of
    snapshots. Safe to use from any thread; ``task.aio`` is the async ``Task`` underneath.
    """

    __slots__ = ("_loop", "aio")

    def __init__(self, task: Task, loop: _Loop) -> None:
        self.aio = task
        self._loop = loop

    @property
    def id(self) -> str:
        return self.aio.id

    @property
    def family(self) -> str:
        """The API family name: "sonic", "producer", ..."""
        return self.aio.family

    @property
    def done(self) -> bool:
        """True once the task finished (succeeded or failed) and this handle knows it."""
        return self.aio.done

    @property
    def last(self) -> TaskSnapshot | None:
        """The latest snapshot seen."""
        return self.aio.last

    @property
    def result(self) -> TaskResult | None:
        """The result, once finished."""
        return self.aio.result

    @property
    def polls(self) -> int:
        """How many polls this handle made."""
        return self.aio.polls

    @property
    def request_id(self) -> str | None:
        """The request id of the answer that started the task (to quote to support)."""
        return self.aio.request_id

    def __repr__(self) -> str:
        return f"Sync{self.aio!r}"

    def wait(
        self,
        timeout: float | None = None,
        *,
        until: Literal["finished", "streaming"] = "finished",
        first: bool = False,
    ) -> TaskResult:
        """Block until every clip is terminal; the result (raises like ``Task.wait``:
        ``TaskFailedError``, ``TaskTimeoutError`` past ``timeout``). ``until="streaming"``
        returns as soon as every clip (``first=True``: one) has a playable streaming URL; see
        ``Task.wait``."""
        return self._loop.run(self.aio.wait, timeout, until=until, first=first)

    def refresh(self) -> TaskSnapshot:
        """Poll once now; the snapshot (also stored as ``last``)."""
        return self._loop.run(self.aio.refresh)

    def peek(self) -> TaskSnapshot | None:
        """The latest state known without polling (see ``Task.peek``): never sends a request."""
        return self._loop.run(self.aio.peek)

    def watch(self, timeout: float | None = None) -> Iterator[TaskSnapshot]:
        """Yield a snapshot each time the task's state changes, the final one last (raises
        like ``wait``)."""
        return _blocking_iter(self._loop, self.aio.watch(timeout))


async def _next(iterator: AsyncIterator[T]) -> T:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        # A StopAsyncIteration crossing threads would read as a plain error: a marker instead.
        return cast(T, _END)


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _blocking_iter(loop: _Loop, iterator: AsyncIterator[T]) -> Generator[T, None, None]:
    """An async iterator, driven from this thread one item at a time on the client's loop;
    closed on the loop when the caller stops early."""
    try:
        while True:
            item = loop.run(_next, iterator)
            if item is _END:
                return
            yield item
    finally:
        if not loop.closed:
            loop.run(_aclose, iterator)


class SyncBatchRun(Iterator["JobOutcome"]):
    """``client.batch(...)`` of the blocking client: an iterator of outcomes in completion order
    with the live ``progress``; ``close()`` (or leaving ``with``) stops the batch."""

    def __init__(self, run: BatchRun, loop: _Loop) -> None:
        self._run = run
        self._loop = loop
        self._items = _blocking_iter(loop, run)

    @property
    def progress(self) -> BatchProgress:
        """Counts so far (the async ``BatchRun.progress``)."""
        return self._run.progress

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> JobOutcome:
        return next(self._items)

    def close(self) -> None:
        """Stop the batch now and wait until everything stopped."""
        self._items.close()
        if not self._loop.closed:
            self._loop.run(self._run.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _BatchMethod(Generic[P]):
    """``client.batch`` of the blocking client: ``AIMusicClient.batch``'s parameters, a
    ``SyncBatchRun``."""

    def __init__(
        self, fn: Callable[Concatenate[AIMusicClient, P], AsyncIterator[JobOutcome]]
    ) -> None:
        self.fn = fn

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: SyncAIMusicClient, owner: type) -> Callable[P, SyncBatchRun]: ...
    def __get__(self, obj: SyncAIMusicClient | None, owner: type) -> Any:
        if obj is None:
            return self
        loop = obj._mode.loop
        target = obj._target

        def batch(*args: Any, **kwargs: Any) -> SyncBatchRun:
            # Built on the loop: a batch run makes its queues and tasks there.
            run = loop.portal.call(functools.partial(self.fn, target, *args, **kwargs))
            return SyncBatchRun(run, loop)  # type: ignore[arg-type]

        functools.update_wrapper(batch, self.fn)
        batch.__signature__ = signature_returning(  # type: ignore[attr-defined]
            functools.partial(self.fn, target), "SyncBatchRun"
        )
        return batch


class SyncAIMusicClient(Namespace[Blocking]):
    """The blocking client, for scripts, notebooks and sync web frameworks: the constructor,
    namespaces, method names and results of ``AIMusicClient``, without ``await``.

    It runs the async client on an event loop in one background thread: safe to use from many
    threads at once (the calls run concurrently on that loop), and closed by ``close()`` or the
    ``with`` block (or, if forgotten, when the client is collected or the interpreter exits).
    Event hooks run on that loop's thread. It takes no ``session``: an aiohttp session belongs
    to the loop it was made on, which the caller cannot reach.

    >>> with SyncAIMusicClient() as client:               # key from AIMUSIC_API_KEY
    ...     task = client.sonic.create(mv="sonic-v5", custom_mode=False,
    ...                                gpt_description_prompt="calm lo-fi for studying")
    ...     result = task.wait()
    """

    credits = method(AIMusicClient.credits)
    download = method(AIMusicClient.download)
    batch = _BatchMethod(AIMusicClient.batch)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        poll: PollPolicy | None = None,
        webhook_secret: str | None = None,
        account_webhook_secret: str | None = None,
        hub: Hub | str | None = None,
        event_hooks: EventHooks | None = None,
    ) -> None:
        # Built here, on the caller's thread: a bad setting raises before any thread starts.
        client = AIMusicClient(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            webhook_secret=webhook_secret,
            account_webhook_secret=account_webhook_secret,
            hub=hub,
            event_hooks=event_hooks,
        )
        super().__init__(Blocking(_Loop(client)), client)
        self._parent: SyncAIMusicClient | None = None

    @property
    def _client(self) -> AIMusicClient:
        client: AIMusicClient = self._target
        return client

    @property
    def _loop(self) -> _Loop:
        return self._mode.loop

    def __repr__(self) -> str:
        view = ", view" if self._parent is not None else ""
        return f"SyncAIMusicClient(base_url={self.base_url!r}{view})"

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def poll(self) -> PollPolicy:
        """The ``PollPolicy`` tasks of this client wait with."""
        return self._client.poll

    @property
    def hub(self) -> Hub:
        """Where webhook results meet the tasks waiting for them (see ``AIMusicClient.hub``);
        it lives on this client's event loop."""
        return self._client.hub

    @property
    def is_closed(self) -> bool:
        """True once ``close()`` ran."""
        return self._loop.closed or self._client.is_closed

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool and stop the client's event loop thread (safe to call twice). A view
        (``with_options``) owns nothing: closing it leaves its client open."""
        if self._parent is None:
            self._loop.close()

    # -- namespaces --------------------------------------------------------------------------
    @cached_property
    def sonic(self) -> SonicMethods[Blocking]:
        return SonicMethods(self._mode, self._client.sonic)

    @cached_property
    def producer(self) -> ProducerMethods[Blocking]:
        return ProducerMethods(self._mode, self._client.producer)

    @cached_property
    def nuro(self) -> NuroMethods[Blocking]:
        return NuroMethods(self._mode, self._client.nuro)

    @cached_property
    def riffusion(self) -> RiffusionMethods[Blocking]:
        return RiffusionMethods(self._mode, self._client.riffusion)

    @cached_property
    def lyrics(self) -> LyricsMethods[Blocking]:
        return LyricsMethods(self._mode, self._client.lyrics)

    @cached_property
    def account(self) -> AccountMethods[Blocking]:
        return AccountMethods(self._mode, self._client.account)

    # -- views and flavours ------------------------------------------------------------------
    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        poll: PollPolicy | None = None,
    ) -> Self:
        """A view sending with other request options or polling with another policy (see
        ``AIMusicClient.with_options``); it shares this client's loop, pool and hub."""
        view = object.__new__(type(self))
        Namespace.__init__(
            view,
            self._mode,
            self._client.with_options(timeout=timeout, max_retries=max_retries, poll=poll),
        )
        # The view keeps its client (and so the loop) alive.
        view._parent = self._parent or self
        return view

    @cached_property
    def with_raw_response(self) -> SyncRawClient:
        """The same namespaces, each call returning a ``RawResponse`` (see
        ``AIMusicClient.with_raw_response``); ``parse()`` gives a ``SyncTask`` for a task."""
        return SyncRawClient(BlockingRaw(self._loop), self._client)

    # -- tasks and families --------------------------------------------------------------------
    def task(self, task_id: str, family: str = "sonic") -> SyncTask:
        """Rebuild a blocking handle for a task started earlier."""
        return SyncTask(self._client.task(task_id, family), self._loop)

    def recover(
        self, error: SubmissionUnknownError, *, timeout: float | None = None
    ) -> SyncTask | None:
        """The task a start whose answer was lost created, once its callback arrived (see
        ``AIMusicClient.recover``); None when none came within ``timeout``."""
        task = self._loop.run(self._client.recover, error, timeout=timeout)
        return None if task is None else SyncTask(task, self._loop)

    def register_family(self, family: Family) -> None:
        """See ``AIMusicClient.register_family``."""
        self._client.register_family(family)

    def family(self, name: str) -> Family:
        """See ``AIMusicClient.family``."""
        return self._client.family(name)


class SyncRawClient(Namespace[BlockingRaw]):
    """``with_raw_response`` of the blocking client."""

    credits = method(AIMusicClient.credits)

    @cached_property
    def sonic(self) -> SonicMethods[BlockingRaw]:
        return SonicMethods(self._mode, self._target.sonic)

    @cached_property
    def producer(self) -> ProducerMethods[BlockingRaw]:
        return ProducerMethods(self._mode, self._target.producer)

    @cached_property
    def nuro(self) -> NuroMethods[BlockingRaw]:
        return NuroMethods(self._mode, self._target.nuro)

    @cached_property
    def riffusion(self) -> RiffusionMethods[BlockingRaw]:
        return RiffusionMethods(self._mode, self._target.riffusion)

    @cached_property
    def lyrics(self) -> LyricsMethods[BlockingRaw]:
        return LyricsMethods(self._mode, self._target.lyrics)

    @cached_property
    def account(self) -> AccountMethods[BlockingRaw]:
        return AccountMethods(self._mode, self._target.account)
