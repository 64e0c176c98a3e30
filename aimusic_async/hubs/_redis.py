"""``RedisHub``: results meet waiting tasks across processes and machines through one Redis
(``redis.asyncio``, the ``aimusic-async[redis]`` extra), with polling as the fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from .. import _clock
from .. import _constants as C
from .._errors import ConfigurationError, HubUnavailableError
from ..models.common import TaskSnapshot
from ._base import LocalWaiters

__all__ = ["RedisHub"]

logger = logging.getLogger("aimusic_async")

T = TypeVar("T")

# Every seen key set only if none of them exists yet, all or nothing (one atomic step).
_CLAIM = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
end
return 1
"""


class _Reconnect(Exception):
    """The listener's signal that a command failed: reconnect, re-subscribe, re-read."""


class RedisHub(LocalWaiters):
    """A hub shared through Redis: a callback received by any process resolves the waiting
    tasks of all of them.

    ``RedisHub("redis://host:6379/0", namespace="aimusic", ttl=86400, timeout=1.0)``. Keys are
    ``<namespace>:task:<id>`` (the final snapshot, JSON), ``<namespace>:ref:<reference>`` (a
    task id) and ``<namespace>:seen:<dedupe key>``, each expiring after ``ttl`` seconds; one
    pubsub channel, ``<namespace>:events``, carries hints (``task:<id>``, ``ref:<reference>``).

    One pubsub connection per hub, subscribed once, however many tasks wait, plus a small pool
    for commands. A waiter registers its future, then the stored value is read (in batches);
    the subscription is confirmed before any read, and a writer stores before it publishes, so
    a result lands either in the read or in a hint after it. Every hint is re-read from the
    stored value, and after a reconnect every pending id is re-read. Every call is bounded by
    ``timeout``; a failure marks the hub unhealthy (one warning per outage), waits poll, and
    the hub reconnects with capped backoff and is used again when it is back.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "aimusic",
        ttl: float = C.HUB_TTL,
        timeout: float = C.HUB_REDIS_TIMEOUT,
    ) -> None:
        super().__init__()
        if not isinstance(url, str) or urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError("RedisHub needs a redis://, rediss:// or unix:// URL")
        if not isinstance(namespace, str) or not namespace or any(c.isspace() for c in namespace):
            raise ConfigurationError("namespace must be a non-empty string without spaces")
        for name, value in (("ttl", ttl), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(f"{name} must be a number of seconds > 0")
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise ConfigurationError(
                'RedisHub needs the redis package: pip install "aimusic-async[redis]"'
            ) from None
        self.namespace = namespace
        self.ttl = float(ttl)
        self.timeout = float(timeout)
        self._url = url
        # No retries inside redis-py: a failed call marks the hub down at once and the waits
        # poll; reconnecting is this class's job, with its own backoff.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=C.HUB_REDIS_MAX_CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._pool: Any = pool
        self._redis: Any = Redis(connection_pool=pool)
        self._channel = f"{namespace}:events"
        self._claim_script: Any = self._redis.register_script(_CLAIM)
        self._healthy = False
        self._warned = False
        self._closed = False
        self._jobs: list[asyncio.Task[None]] = []
        # Keys (without the namespace) whose stored value must be read: new waiters and hints.
        self._dirty: set[str] = set()
        self._dirty_signal: asyncio.Future[None] | None = None
        self._broken: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return (
            f"RedisHub({_redacted(self._url)!r}, namespace={self.namespace!r}, "
            f"healthy={self._healthy}, waiting={len(self._futures)})"
        )

    @property
    def shared(self) -> bool:
        return True

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- the Hub protocol --------------------------------------------------------------------
    def wait(self, task_id: str) -> asyncio.Future[TaskSnapshot]:
        fut, new = self._register(task_id)
        if new:
            self._mark_dirty("task:" + task_id)
        return fut

    def expect(self, task_id: str) -> None:
        """Register interest without keeping the future (``future`` finds it)."""
        self.wait(task_id)

    async def publish(self, snapshot: TaskSnapshot) -> bool:
        if not snapshot.finished:
            return False
        delivered = self._resolve(snapshot)
        self._start()
        hint = "task:" + snapshot.task_id
        # Store first, then hint: a waiter that subscribed before reading finds one or the other.
        await self._call(
            self._redis.set(self._key(hint), snapshot.model_dump_json(), px=self._ttl_ms())
        )
        await self._call(self._redis.publish(self._channel, hint))
        return delivered

    async def lookup(self, task_id: str) -> TaskSnapshot | None:
        fut = self._futures.get(task_id)
        if fut is not None and fut.done() and not fut.cancelled():
            return fut.result()
        self._start()
        if self._warned:
            return None  # a known outage: answer at once rather than wait for a timeout
        try:
            raw = await self._call(self._redis.get(self._key("task:" + task_id)))
        except HubUnavailableError:
            return None
        return _snapshot(raw, task_id)

    async def claim(self, keys: Sequence[str]) -> bool:
        if not keys:
            return True
        self._start()
        if self._warned:
            return True  # a known outage: each process still drops its own duplicates
        names = [self._key("seen:" + key) for key in keys]
        try:
            won = await self._call(self._claim_script(keys=names, args=[self._ttl_ms()]))
        except HubUnavailableError:
            return True  # cannot tell: each process still drops its own duplicates
        return bool(won)

    async def unclaim(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        with contextlib.suppress(HubUnavailableError):  # else the keys expire with their TTL
            await self._call(self._redis.delete(*(self._key("seen:" + k) for k in keys)))

    async def link(self, reference: str, task_id: str) -> None:
        self._start()
        hint = "ref:" + reference
        await self._call(self._redis.set(self._key(hint), task_id, px=self._ttl_ms(), nx=True))
        await self._call(self._redis.publish(self._channel, hint))

    async def resolve(self, reference: str, timeout: float) -> str | None:
        """Wait for the link; a missing link is reported as None only after a read that
        succeeded (``HubUnavailableError`` when the hub was down to the end)."""
        fut, _ = self._ref_future(reference)
        self._mark_dirty("ref:" + reference)
        try:
            if timeout > 0:
                await _clock.sleep(timeout, wake=fut)
            if fut.done() and not fut.cancelled():
                return fut.result()
            # The last word is a read of its own: hints may have been lost while the hub was
            # down, and a missing key only means "no callback" when Redis could be asked.
            raw = await self._call(self._redis.get(self._key("ref:" + reference)))
            return raw.decode() if isinstance(raw, bytes) else raw
        finally:
            self._drop_ref(reference, fut)

    async def aclose(self) -> None:
        self._closed = True
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        self._cancel_all()
        if self._healthy:
            self._healthy = False
            self._signal_health()
        # A client built on a pool it was given leaves the pool open: close both.
        await _quietly(self._redis.aclose(), self.timeout)
        await _quietly(self._pool.disconnect(), self.timeout)

    # -- background work ---------------------------------------------------------------------
    def _start(self) -> None:
        """Start the subscription and the reader on first use (they need a running loop)."""
        if self._closed or (self._jobs and not all(job.done() for job in self._jobs)):
            return
        loop = asyncio.get_running_loop()
        self._jobs = [loop.create_task(self._supervise()), loop.create_task(self._read_dirty())]

    async def _supervise(self) -> None:
        """Keep one subscription alive: subscribe, confirm, re-read everything pending, listen;
        on any failure mark the hub down and try again after a capped, jittered backoff."""
        delay = C.HUB_RECONNECT_INITIAL
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                await asyncio.wait_for(self._subscribe(pubsub), self.timeout)
                await self._call(self._redis.ping(), mark=False)
                delay = C.HUB_RECONNECT_INITIAL
                self._up()
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means "down, retry"
                self._down(exc)
            finally:
                await _quietly(pubsub.aclose(), self.timeout)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, C.HUB_RECONNECT_MAX)

    async def _subscribe(self, pubsub: Any) -> None:
        await pubsub.subscribe(self._channel)
        while True:
            message = await pubsub.get_message(timeout=self.timeout)
            if message is None:
                raise TimeoutError("no confirmation of the subscription")
            if message.get("type") == "subscribe":
                return

    async def _listen(self, pubsub: Any) -> None:
        broken = self._broken = asyncio.get_running_loop().create_future()
        tick = min(self.timeout, C.HUB_HEALTH_INTERVAL)
        heard = _clock.monotonic()
        pinged: float | None = None
        while not broken.done():
            message = await pubsub.get_message(timeout=tick)
            now = _clock.monotonic()
            if message is not None:
                heard, pinged = now, None
                if message.get("type") == "message":
                    self._hint(message.get("data"))
                continue
            if pinged is not None and now - pinged > self.timeout:
                raise TimeoutError("the subscription's ping went unanswered")
            if pinged is None and now - heard > C.HUB_HEALTH_INTERVAL:
                await asyncio.wait_for(pubsub.ping(), self.timeout)
                pinged = now
        raise _Reconnect("a command failed")

    def _hint(self, data: Any) -> None:
        hint = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        kind, _, name = hint.partition(":")
        if kind == "task":
            fut = self._futures.get(name)
            if fut is not None and not fut.done():
                self._mark_dirty(hint)
        elif kind == "ref" and name in self._refs:
            self._mark_dirty(hint)

    def _mark_dirty(self, hint: str) -> None:
        self._dirty.add(hint)
        self._start()
        signal = self._dirty_signal
        if signal is not None and not signal.done():
            signal.set_result(None)

    async def _read_dirty(self) -> None:
        """Read the stored values of pending keys, a chunk per MGET, while the hub is up."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not self._dirty or not self._healthy:
                self._dirty_signal = loop.create_future()
                await self._dirty_signal
                continue
            batch = [self._dirty.pop() for _ in range(min(len(self._dirty), C.HUB_READ_CHUNK))]
            batch = [hint for hint in batch if self._still_pending(hint)]
            if not batch:
                continue
            try:
                values = await self._call(self._redis.mget([self._key(h) for h in batch]))
            except HubUnavailableError:
                continue  # a reconnect re-reads every pending key
            for hint, raw in zip(batch, values, strict=False):
                if raw is not None:
                    self._apply(hint, raw)

    def _still_pending(self, hint: str) -> bool:
        kind, _, name = hint.partition(":")
        fut = self._futures.get(name) if kind == "task" else self._refs.get(name)
        return fut is not None and not fut.done()

    def _apply(self, hint: str, raw: Any) -> None:
        kind, _, name = hint.partition(":")
        if kind == "task":
            snapshot = _snapshot(raw, name)
            if snapshot is not None and snapshot.finished:
                self._resolve(snapshot)
        elif kind == "ref":
            self._resolve_ref(name, raw.decode() if isinstance(raw, bytes) else str(raw))

    def _mark_all_dirty(self) -> None:
        for task_id in self.pending():
            self._dirty.add("task:" + task_id)
        for reference, fut in self._refs.items():
            if not fut.done():
                self._dirty.add("ref:" + reference)

    # -- health ------------------------------------------------------------------------------
    def _up(self) -> None:
        if not self._healthy:
            if self._warned:
                logger.warning("the Redis hub is reachable again; waits use it again")
            self._warned = False
            self._healthy = True
            self._signal_health()
        self._mark_all_dirty()
        self._mark_dirty_signal()

    def _mark_dirty_signal(self) -> None:
        signal = self._dirty_signal
        if signal is not None and not signal.done():
            signal.set_result(None)

    def _down(self, exc: BaseException) -> None:
        if not self._warned and not self._closed:
            self._warned = True
            logger.warning(
                "the Redis hub is unreachable (%s); waits poll until it is back",
                type(exc).__name__,
            )
        if self._healthy:
            self._healthy = False
            self._signal_health()
        broken = self._broken
        if broken is not None and not broken.done():
            broken.set_result(None)

    async def _call(self, call: Awaitable[T], *, mark: bool = True) -> T:
        """One Redis call within ``timeout``; a failure marks the hub down (and reconnects)
        and raises ``HubUnavailableError``."""
        try:
            return await asyncio.wait_for(call, self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # redis, OS and timeout errors alike
            if mark:
                self._down(exc)
            raise HubUnavailableError(
                f"the Redis hub did not answer ({type(exc).__name__})"
            ) from None

    def _key(self, hint: str) -> str:
        return f"{self.namespace}:{hint}"

    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))


def _snapshot(raw: Any, task_id: str) -> TaskSnapshot | None:
    if raw is None:
        return None
    try:
        snapshot = TaskSnapshot.model_validate_json(raw)
    except (ValidationError, ValueError):
        logger.debug("ignored an unreadable stored snapshot for task %s", task_id)
        return None
    return snapshot if snapshot.task_id == task_id else None


def _redacted(url: str) -> str:
    """The URL without its password (a Redis URL may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


async def _quietly(call: Awaitable[Any], timeout: float) -> None:
    # Cleanup of a connection that may be dead already: nothing to report.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(call, timeout)
