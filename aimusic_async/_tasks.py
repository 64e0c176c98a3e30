"""The awaitable ``Task`` handle, its ``PollPolicy``, the per-operation ``DurationEstimates`` and
the wait logic (explained in the manual's design note "How a task waits")."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from . import _clock
from . import _constants as C
from ._errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    EndpointRetiredError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from ._hooks import PollEvent, emit
from ._raw import request_id_of
from ._schedule import WINDOW_AFTER, DurationEstimates, Plan, next_poll, streaming_ready
from ._transport import Response, is_task_timeout, off_loop, parse_retry_after
from .families import Family, failure_reason
from .models.common import TaskResult, TaskSnapshot

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["DurationEstimates", "PollPolicy", "Task"]

# Event-loop timers may fire up to a clock tick early; that is still "on time" for a poll.
_EARLY_WAKE = 0.005

_jitter_rng = random.Random()


class _Plan(NamedTuple):
    """One step's first half, for its second: what it sleeps on and what it saw before."""

    pause: Awaitable[None] | None
    push: asyncio.Future[TaskSnapshot] | None  # the hub's future for the final callback
    pushing: bool  # a callback is expected and the hub is healthy
    looked: bool  # the last look before the deadline was taken
    healthy: bool  # the hub's health when planned (a change means: plan again)
    progress: asyncio.Future[TaskSnapshot] | None  # a streaming callback, for early audio


logger = logging.getLogger("aimusic_async")


@dataclass(frozen=True)
class PollPolicy:
    """How a ``Task`` polls: first interval, cap, growth factor, overall deadline (seconds).

    ``lag_target``: the mean delay, in seconds, the caller accepts between a task's finish and
    noticing it: the knob that trades polls for lag (None, the default: ``initial_interval``,
    3 s). Once the client has seen tasks of the same operation finish, it polls where their
    finishes cluster (and, once a task's clips stream, where the finish follows), with the
    fewest polls that meet this delay on average; a longer target costs fewer polls (see the
    manual's "Tasks and polling"). Before that, the backoff from ``initial_interval`` grows by
    ``multiplier`` but never past twice the target; a handle rebuilt from an id (its start
    unknown) backs off to ``max_interval``.

    ``webhook_grace``: how long a task that expects a callback trusts it, past the usual finish
    of its kind, before polling as a safety net (at most a quarter of the wait, so a short wait
    still polls well before its deadline). ``client.webhooks.use(..., grace=)`` overrides it.
    """

    initial_interval: float = C.POLL_INITIAL_INTERVAL
    max_interval: float = C.POLL_MAX_INTERVAL
    multiplier: float = C.POLL_MULTIPLIER
    timeout: float = C.POLL_TIMEOUT
    webhook_grace: float = C.WEBHOOK_GRACE
    lag_target: float | None = None

    def __post_init__(self) -> None:
        names = ("initial_interval", "max_interval", "multiplier", "timeout", "lag_target")
        for name in names:
            value = getattr(self, name)
            if name == "lag_target" and value is None:
                continue
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigurationError(
                    f"PollPolicy.{name} must be a finite number > 0, got {value!r}"
                )
        grace = self.webhook_grace
        if (
            not isinstance(grace, (int, float))
            or isinstance(grace, bool)
            or not math.isfinite(grace)
            or grace < 0
        ):
            raise ConfigurationError(
                f"PollPolicy.webhook_grace must be a finite number >= 0, got {grace!r}"
            )
        if self.multiplier < 1:
            raise ConfigurationError(f"PollPolicy.multiplier must be >= 1, got {self.multiplier!r}")
        if self.max_interval < self.initial_interval:
            raise ConfigurationError("PollPolicy.max_interval must be >= initial_interval")

    @property
    def lag(self) -> float:
        """The lag target in force: ``lag_target``, or ``initial_interval`` when it is None."""
        return self.initial_interval if self.lag_target is None else self.lag_target

    def interval(self, step: int) -> float:
        """The un-jittered interval before poll number ``step`` (0-based) of the quick schedule."""
        return min(self.max_interval, self.initial_interval * self.multiplier ** min(step, 64))


def _jittered(delay: float) -> float:
    return delay * _jitter_rng.uniform(1.0 - C.POLL_JITTER, 1.0 + C.POLL_JITTER)


def _spread(plan: Plan) -> float:
    """A planned delay, jittered by a share of its cadence."""
    return plan.delay + plan.spread * _jitter_rng.uniform(-C.POLL_JITTER, C.POLL_JITTER)


def _is_transient(exc: APIError) -> bool:
    """An error answer a later poll may not repeat: 408, 429, 5xx (as the transport retries),
    and a 404 that is not the API's own "task not found" (a proxy's page, a route miss)."""
    if isinstance(exc, NotFoundError):
        return not isinstance(exc, TaskNotFoundError)
    return isinstance(exc, (ServerError, RateLimitError)) or exc.status == 408


def _deadline_of(timeout: float | None, default: float) -> float:
    """The ``_clock.monotonic()`` time a wait ends; a bad ``timeout`` fails before any poll."""
    if timeout is None:
        return _clock.monotonic() + default
    if (
        not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise ConfigurationError(
            f"timeout must be a finite number of seconds >= 0, got {timeout!r}"
        )
    return _clock.monotonic() + timeout


def _last_look_margin(span: float) -> float:
    """How long before its deadline a wait polls for a last look (shorter for short waits)."""
    return min(C.LAST_LOOK_MARGIN, C.LAST_LOOK_SHARE * max(0.0, span))


class Task:
    """A handle on server work: ``await task`` gives the ``TaskResult``.

    ``id`` and ``family`` identify it (rebuild it later with ``client.task(id, family)``);
    ``last`` is the latest snapshot seen, ``result`` the result once finished, ``polls`` how many
    polls this handle made (a poll the transport retried counts once), ``request_id`` the request
    id of the answer that started it (to quote to support; None for a handle rebuilt from an id).

    A handle that expects a callback (started while the client's webhooks were on, or rebuilt
    with ``client.task(id)`` on a client that receives callbacks or shares a hub) registers
    with the client's hub: a verified callback shows at once in ``done``, ``last`` and
    ``result`` without anyone awaiting, ``await task.peek()`` reads the hub without polling,
    and a wait sleeps on the hub until the callback or its fallback poll (see ``wait``).
    """

    __slots__ = (
        "__weakref__",
        "_errors",
        "_failure",
        "_family",
        "_fresh",
        "_key",
        "_last",
        "_looked",
        "_next_at",
        "_prev_poll",
        "_push",
        "_push_wanted",
        "_registered",
        "_result",
        "_running",
        "_runtime",
        "_sent",
        "_signal",
        "_started",
        "_step",
        "_stream_began",
        "_streamed",
        "_want_stream",
        "id",
        "polls",
        "request_id",
    )

    def __init__(
        self,
        runtime: Runtime,
        task_id: str,
        family: Family,
        *,
        operation: str | None = None,
        fresh: bool = False,
        push: bool = False,
    ) -> None:
        self._runtime = runtime
        self.id = task_id
        self._family = family
        # Tasks of one operation take similar times; the family is the fallback grouping.
        self._key = operation or family.name
        # Only a task whose start we saw teaches the estimate how long tasks take.
        self._fresh = fresh
        self._started = _clock.monotonic()
        self._last: TaskSnapshot | None = None
        self._result: TaskResult | None = None
        self.polls = 0
        self.request_id: str | None = None
        self._failure: TaskFailedError | None = None
        self._next_at: float | None = None
        self._prev_poll: float | None = None
        self._looked: float | None = None
        self._sent: float | None = None  # when the latest poll left
        self._step = 0
        # The moment every clip was found streaming (the finish is near), when that most
        # likely began, and how many waits want the first audio rather than the final files
        # (the schedule then aims at streaming).
        self._streamed: float | None = None
        self._stream_began = 0.0
        self._want_stream = 0
        self._errors = 0
        self._running = False
        self._signal: asyncio.Future[None] | None = None
        self._push: asyncio.Future[TaskSnapshot] | None = None
        self._push_wanted = push
        self._registered = False  # holds a registration in the hub (undone by _release/__del__)
        if push and _loop_running():
            self._hub_future()

    @property
    def family(self) -> str:
        """The API family name: "sonic", "producer", ..."""
        return self._family.name

    @property
    def last(self) -> TaskSnapshot | None:
        """The latest snapshot seen (a poll, or a callback the hub delivered), or None."""
        self._absorb()
        return self._last

    @last.setter
    def last(self, snapshot: TaskSnapshot | None) -> None:
        self._last = snapshot

    @property
    def result(self) -> TaskResult | None:
        """The result once the task succeeded (None before, and after a failure)."""
        self._absorb()
        return self._result

    @property
    def done(self) -> bool:
        """True once the task finished (succeeded or failed) and this handle knows it."""
        self._absorb()
        return self._result is not None or self._failure is not None

    def __repr__(self) -> str:
        self._absorb()
        if self._result is not None:
            state = "succeeded"
        elif self._failure is not None:
            state = "failed"
        else:
            state = self._last.status if self._last is not None else "pending"
        return f"Task(id={self.id!r}, family={self.family!r}, state={state!r})"

    def __await__(self) -> Generator[Any, None, TaskResult]:
        return self.wait().__await__()

    # -- public API ----------------------------------------------------------------------------
    async def wait(
        self,
        timeout: float | None = None,
        *,
        until: Literal["finished", "streaming"] = "finished",
        first: bool = False,
    ) -> TaskResult:
        """Wait until every clip is terminal; return the result.

        ``timeout`` defaults to the client's ``PollPolicy.timeout``. Raises ``TaskFailedError``
        when every clip failed and ``TaskTimeoutError`` past the deadline (the task may still
        finish: await it again or rebuild it with ``client.task(id)``).

        ``until="streaming"`` returns earlier, as soon as every clip that did not fail has a
        playable streaming URL (``first=True``: as soon as one has), for services that start
        playback before the final files exist. That result's ``final`` says whether the task
        had finished already, ``streaming`` lists the clips still streaming (their
        ``audio_url`` is a preview) and ``succeeded`` those final; ``task.result`` stays None
        until the task finishes, and a later ``await task`` gives the final result.

        A task that expects a callback sleeps on the client's hub: the callback ends the wait at
        once. It polls as a safety net once the grace (``PollPolicy.webhook_grace``, at most a
        quarter of the wait) has passed after the usual finish of its kind, and on the polling
        schedule while the hub is unhealthy. A ``song.streaming`` callback received by this
        process wakes ``until="streaming"`` waits here (streaming callbacks are not shared
        through the hub); one that shows only some clips streaming makes an every-clip wait
        poll on the schedule. Every wait, with a hub or without, polls once shortly before its
        deadline (1 s, or a tenth of a short wait) unless it polled since, and raises
        ``TaskTimeoutError`` only after that poll said "not finished".
        """
        if until not in ("finished", "streaming"):
            raise ConfigurationError(f'until must be "finished" or "streaming", got {until!r}')
        begun = _clock.monotonic()
        deadline = _deadline_of(timeout, self._runtime.poll.timeout)
        last_call = deadline - _last_look_margin(deadline - begun)
        early = until == "streaming"
        if early:
            self._want_stream += 1
        try:
            while True:
                self._absorb()
                if self._result is not None:
                    return self._result
                if self._failure is not None:
                    raise self._failure
                if early and streaming_ready(self._last, first):
                    assert self._last is not None  # streaming_ready says so
                    return TaskResult.from_snapshot(self._last)
                if _clock.monotonic() >= deadline:
                    if not self._looked_since(last_call):
                        await self._look(deadline)
                        continue
                    raise TaskTimeoutError(self.id, _clock.monotonic() - begun)
                if self._running:
                    await self._advance(deadline, last_call)  # another wait drives: follow it
                    continue
                # ``_advance``'s driving half, inlined: while the task sleeps (for hours,
                # thousands of tasks at once) it is held by this frame and one future, not a
                # chain of frames.
                self._running = True
                try:
                    plan = self._plan_step(deadline, last_call)
                    if plan is not None:
                        if plan[0] is not None:
                            await plan[0]
                        await self._finish_step(deadline, last_call, plan)
                finally:
                    self._end_step()
        finally:
            if early:
                self._want_stream -= 1
                if not self._want_stream:
                    drop = getattr(self._runtime.hub, "drop_progress", None)
                    if drop is not None:
                        drop(self.id)

    async def refresh(self) -> TaskSnapshot:
        """Poll once now and return the snapshot (also stored as ``last``); a task already
        known to be finished answers with its final snapshot, without a request."""
        if self.done and self._last is not None:
            return self._last
        snapshot, _ = await self._poll()
        if not snapshot.finished:
            self._prev_poll = _clock.monotonic()  # a "not yet": the next poll is planned from it
        self._record(snapshot)
        return snapshot

    async def peek(self) -> TaskSnapshot | None:
        """The latest state known without polling: a final snapshot from the client's hub (a
        callback received by this process or, with a shared hub, by any other), else the last
        snapshot this handle saw (None when it saw none). Never sends a request to the API;
        a hub that is down answers "nothing" at once."""
        push = self._hub_future()
        if self.done:
            return self._last
        snapshot = await self._runtime.hub.lookup(self.id)
        if snapshot is not None and snapshot.finished and not self.done:
            self._record(snapshot, learn=False)
        elif push is not None:
            self._absorb()
        return self._last

    async def watch(self, timeout: float | None = None) -> AsyncIterator[TaskSnapshot]:
        """Yield a snapshot each time the task's state changes, the final one last.

        Ends after the final snapshot; raises like ``wait`` (``TaskFailedError`` after yielding
        the failed snapshot, ``TaskTimeoutError`` past the deadline, after a last look).
        """
        begun = _clock.monotonic()
        deadline = _deadline_of(timeout, self._runtime.poll.timeout)
        last_call = deadline - _last_look_margin(deadline - begun)
        seen: tuple[Any, ...] | None = None
        while True:
            self._absorb()
            snapshot = self._last
            if snapshot is not None:
                marker = _fingerprint(snapshot)
                if marker != seen:
                    seen = marker
                    yield snapshot
            if self._result is not None:
                return
            if self._failure is not None:
                raise self._failure
            if _clock.monotonic() >= deadline:
                if not self._looked_since(last_call):
                    await self._look(deadline)
                    continue
                raise TaskTimeoutError(self.id, _clock.monotonic() - begun)
            await self._advance(deadline, last_call)

    # -- the hub -------------------------------------------------------------------------------
    def _hub_future(self) -> asyncio.Future[TaskSnapshot] | None:
        """The hub future this handle sleeps on, registered on first need (it needs a running
        loop); None for a handle that expects no callback or has finished."""
        if self._push is None and self._push_wanted:
            hub = self._runtime.hub
            self._push = hub.wait(self.id)
            self._registered = True
        push = self._push
        if push is not None and push.cancelled():
            return None  # the hub was closed
        return push

    def _absorb(self) -> None:
        """Take a callback the hub delivered while nobody was awaiting."""
        push = self._push
        if (
            push is not None
            and push.done()
            and not push.cancelled()
            and self._result is None
            and self._failure is None
        ):
            self._record(push.result(), learn=False)

    def _partly_streaming(self) -> bool:
        """A wait wants every clip's first audio, and a callback (or poll) showed only some:
        no callback announces the rest, so the task polls on the schedule meanwhile."""
        last = self._last
        return (
            self._want_stream > 0
            and self._streamed is None
            and last is not None
            and any(c.state == "streaming" for c in last.clips)
        )

    def _looked_since(self, moment: float) -> bool:
        return self._looked is not None and self._looked >= moment - _EARLY_WAKE

    # -- the wait machinery --------------------------------------------------------------------
    async def _advance(self, deadline: float, last_call: float) -> None:
        """Make progress: drive one poll step, or sleep until the current driver reports."""
        if self._running:
            signal = self._signal
            if signal is None:
                signal = self._signal = asyncio.get_running_loop().create_future()
            # The driver plans for its own deadline; this waiter takes its last look itself.
            wake_at = deadline if self._looked_since(last_call) else last_call
            await _clock.sleep(max(0.0, wake_at - _clock.monotonic()), wake=signal)
            if (
                self._running
                and not self.done
                and not self._looked_since(last_call)
                and _clock.monotonic() >= last_call - _EARLY_WAKE
            ):
                await self._look(deadline)
            return
        self._running = True
        try:
            plan = self._plan_step(deadline, last_call)
            if plan is not None:
                if plan[0] is not None:
                    await plan[0]
                await self._finish_step(deadline, last_call, plan)
        finally:
            self._end_step()

    def _end_step(self) -> None:
        """The driver's step is over: wake the waits that follow it."""
        self._running = False
        signal, self._signal = self._signal, None
        if signal is not None and not signal.done():
            signal.set_result(None)

    def _first_poll_at(self, pushing: bool, deadline: float) -> float:
        policy = self._runtime.poll
        now = _clock.monotonic()
        if pushing:
            # Counted from the task's start, like the polls below: a handle awaited late whose
            # callback was lost meanwhile polls now, not a whole grace from now.
            return self._webhook_due(deadline)
        # Planned from the task's start (or a refresh() since): a handle first awaited after
        # that moment (the caller was awaiting other tasks) polls at once, spread a little so
        # that a batch awaited late does not poll in one burst.
        last = self._started if self._prev_poll is None else self._prev_poll
        plan = self._plan(last)
        if not plan.backoff and plan.delay > max(plan.spread, policy.initial_interval):
            # Sleep through the time in which no task of its kind finishes; a small jitter (a
            # share of the cadence, not of the whole wait) keeps a batch started together from
            # polling at once. Otherwise the first poll comes initial_interval after the start:
            # a task found done at it teaches half that wait, and nothing drifts later.
            first = last + _spread(plan)
        else:
            first = last + _jittered(policy.initial_interval)
        soon = now + policy.initial_interval * _jitter_rng.uniform(0.0, C.POLL_JITTER)
        return max(first, soon)

    def _webhook_due(self, deadline: float) -> float:
        """When a task waiting for its callback polls as a fallback: the grace after the late
        edge of the usual finish window (0 while nothing is known), the grace cut to a share of
        the time from the task's start to the wait's deadline."""
        window = self._window()
        late_edge = 0.0 if window is None else window[0] + WINDOW_AFTER * window[1]
        grace = self._runtime.webhooks.grace
        if grace is None:
            grace = self._runtime.poll.webhook_grace
        grace = min(grace, C.WEBHOOK_GRACE_SHARE * max(0.0, deadline - self._started))
        return self._started + late_edge + grace

    def _window(self) -> tuple[float, float] | None:
        return self._runtime.estimates.window(self._key) if self._fresh else None

    def _plan(self, moment: float) -> Plan:
        """The next poll after one at ``moment`` (see ``_schedule``)."""
        policy = self._runtime.poll
        samples, scale = None, None
        if self._fresh:
            streamed = None if self._streamed is None else self._stream_began - self._started
            samples, scale = self._runtime.estimates.finish_ages(
                self._key, moment - self._started, streamed, self._want_stream > 0, policy.lag
            )
        return next_poll(policy, self._step, moment - self._started, samples, scale)

    def _plan_step(self, deadline: float, last_call: float) -> _Plan | None:
        """One step, first half: what to sleep on until the planned poll (or a callback, or the
        last look before the deadline); None when the step is already over. The caller awaits
        the sleep itself (no frame of ours stays on the stack while it sleeps), then
        ``_finish_step``."""
        transport = self._runtime.transport
        transport.check_open()
        hub = self._runtime.hub
        push = self._hub_future()
        if push is not None and push.done():
            self._record(push.result())
            return None
        # An unhealthy hub counts as absent: the task polls on the usual schedule meanwhile.
        healthy = hub.healthy
        pushing = push is not None and healthy and not self._partly_streaming()
        # A wait for the first audio also wakes for a streaming callback (this process only).
        progress = None
        if pushing and self._want_stream and self._streamed is None:
            progress = _progress_future(hub, self.id)
        if self._next_at is None:
            self._next_at = self._first_poll_at(pushing, deadline)
        looked = self._looked_since(last_call)
        due = self._next_at if looked else min(self._next_at, last_call)
        delay = min(due, deadline) - _clock.monotonic()
        pause: Awaitable[None] | None = None
        if delay > 0:
            closing = transport.closing_signal()
            if push is None:
                pause = _clock.sleep(delay, wake=closing)
            else:
                wakers = (push, closing, hub.health_changed())
                pause = _clock.sleep(delay, wakers if progress is None else (*wakers, progress))
        return _Plan(pause, push, pushing, looked, healthy, progress)

    async def _finish_step(self, deadline: float, last_call: float, plan: _Plan) -> None:
        """One step, second half (after the sleep): poll once if the poll is due."""
        pause, push, pushing, looked, healthy, progress = plan
        if pause is not None:
            self._runtime.transport.check_open()
        hub = self._runtime.hub
        if push is not None and push.done() and not push.cancelled():
            self._record(push.result())
            return
        if progress is not None and progress.done() and not progress.cancelled():
            if not self.done:
                self._record(progress.result(), learn=False)
            self._next_at = None  # some clips stream: plan again (polls, if more must)
            return
        if push is not None and hub.healthy != healthy:
            self._next_at = None  # the hub went down or came back: plan again
            return
        next_at = self._next_at
        if next_at is None:
            return  # finished meanwhile (a refresh() saw it): nothing to poll
        now = _clock.monotonic()
        if looked or now < last_call - _EARLY_WAKE:
            if now < next_at - _EARLY_WAKE:
                return  # the deadline came first; the caller raises TaskTimeoutError
            if pushing and now < self._webhook_due(deadline) - _EARLY_WAKE:
                # Tasks of the same batch finished meanwhile and taught us this one is not late
                # yet: keep waiting for its callback instead of polling.
                self._next_at = self._webhook_due(deadline)
                return
        await self._poll_step(deadline, pushing)

    async def _look(self, deadline: float) -> None:
        """The last look before (or at) the deadline: one poll, whatever the schedule says."""
        self._runtime.transport.check_open()
        push = self._hub_future()
        await self._poll_step(deadline, push is not None and self._runtime.hub.healthy)

    async def _poll_step(self, deadline: float, pushing: bool) -> None:
        """Poll once, record the answer and plan the next poll."""
        policy = self._runtime.poll
        try:
            snapshot, hint = await self._poll(deadline)
        except (APIConnectionError, APIError, ResponseValidationError) as exc:
            if isinstance(exc, ServerError) and is_task_timeout(exc):
                self._fail(exc.message, None)
                return
            if isinstance(exc, APIError) and not _is_transient(exc):
                raise  # task not found, auth, a retired route ...: no later poll fixes it
            self._errors += 1
            if self._errors >= C.POLL_MAX_CONSECUTIVE_ERRORS:
                self._errors = 0
                raise
            retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            backoff = retry_after if retry_after is not None else policy.interval(self._errors)
            self._next_at = self._server_paced(backoff, deadline)
            return
        self._errors = 0
        self._record(snapshot)
        if self.done:
            return
        self._prev_poll = _clock.monotonic()
        if pushing:
            interval = _jittered(policy.max_interval)
        else:
            plan = self._plan(self._prev_poll)
            if plan.backoff:
                self._step += 1
            interval = _spread(plan)
        if hint is not None:
            self._next_at = self._server_paced(hint, deadline)
        else:
            self._next_at = _clock.monotonic() + max(interval, C.POLL_MIN_INTERVAL)

    def _server_paced(self, seconds: float, deadline: float) -> float:
        """When to poll next after the server set the pace (a Retry-After hint, or the pause
        after a failed poll): never sooner than the policy's own quickest cadence, jitter aside
        (a "retry at once" must not become a busy loop), never later than ``RETRY_AFTER_CAP``,
        and not past the caller's deadline while a last poll still fits before it."""
        floor = max(self._runtime.poll.initial_interval, C.POLL_MIN_INTERVAL)
        pause = _clock.sane_wait(seconds, C.RETRY_AFTER_CAP)
        pause = floor if pause is None else max(pause, floor)
        now = _clock.monotonic()
        due = now + _jittered(pause)
        last_call = deadline - C.POLL_DEADLINE_MARGIN
        if due > deadline and now + floor <= last_call:
            due = last_call
        return due

    async def _poll(self, deadline: float | None = None) -> tuple[TaskSnapshot, float | None]:
        """One GET of the task's state: the snapshot and the server's Retry-After hint.

        ``deadline`` bounds the poll, its retries included, so a hanging server cannot hold
        ``wait(timeout=...)`` past its deadline."""
        self._sent = _clock.monotonic()
        try:
            response = await self._runtime.request(
                "GET",
                self._family.poll_path(self.id),
                kind="safe",
                operation=f"{self._family.name}.poll",
                deadline=deadline,
                max_bytes=C.POLL_MAX_RESPONSE_BYTES,
            )
        except EndpointRetiredError as exc:
            # A retired family (nuro) names where its work moved, however the handle was made.
            exc.replacement = exc.replacement or getattr(self._family, "replacement", None)
            raise
        finally:
            self.polls += 1
            # When it ended: a poll that hung until the deadline was the wait's last look.
            self._looked = _clock.monotonic()
        if response.size > C.API_THREAD_THRESHOLD:
            # Validating a big answer (hundreds of clips, long lyrics) would hold the loop.
            snapshot = await off_loop(
                partial(self._parse_logged, response), deadline=deadline, path=response.path
            )
        else:
            snapshot = self._family.parse_task(self.id, response.status, response.data)
        hooks = self._runtime.transport.hooks
        if hooks is not None and hooks.poll:
            await emit(
                hooks.poll,
                PollEvent(
                    task_id=self.id,
                    family=self._family.name,
                    status=snapshot.status,
                    polls=self.polls,
                    request_id=request_id_of(response.headers),
                ),
            )
        hint = parse_retry_after(response.headers.get("Retry-After"))
        return snapshot, hint

    def _parse_logged(self, response: Response) -> TaskSnapshot:
        """``parse_task`` in a worker thread (see ``_poll``)."""
        snapshot = self._family.parse_task(self.id, response.status, response.data)
        logger.debug(
            "parsed a %d-byte poll answer of task %s in a worker thread", response.size, self.id
        )
        return snapshot

    def _record(self, snapshot: TaskSnapshot, *, learn: bool = True) -> None:
        """Store a snapshot; a final one becomes the result (or the failure). ``learn``: a
        final answer the wait saw as it came teaches the duration estimates."""
        self._last = snapshot
        if self._result is not None or self._failure is not None:
            return
        if not snapshot.finished:
            if self._streamed is None and streaming_ready(snapshot):
                # Every clip streams: the finish is near. Streaming began between the last
                # "not yet" and this answer (a callback: as it came).
                now = _clock.monotonic()
                not_yet = self._started if self._prev_poll is None else self._prev_poll
                self._streamed = now
                self._stream_began = (not_yet + now) / 2 if learn else now
            return
        push = self._push
        # A webhook task whose answer came from a fallback poll finished at some unknown moment
        # before it: learning "now" would teach the fallback delay itself, lengthen the next
        # task's wait, and feed back until lost callbacks wait past the deadline.
        pushed = push is not None and push.done() and not push.cancelled()
        polled_instead_of_pushed = push is not None and not pushed
        if learn and self._fresh and not polled_instead_of_pushed:
            now = _clock.monotonic()
            if pushed:
                finished_at = now  # a callback comes as the task finishes
            else:
                # The task finished somewhere between the last "not yet" (a poll, or the start
                # itself) and this answer: the midpoint keeps the polling schedule out of the
                # estimate. (Learning "now" for a task found done at its first poll would teach
                # the planned first-poll delay itself, which then only ever grows.)
                # The finish came before the poll that saw it left: the answer's trip and the
                # time the event loop took to handle it (it grows with load) are not the task's.
                not_yet = self._started if self._prev_poll is None else self._prev_poll
                found = now if self._sent is None else max(not_yet, min(self._sent, now))
                finished_at = (not_yet + found) / 2
            estimates = self._runtime.estimates
            estimates.observe(
                self._key, finished_at - self._started, streamed=self._streamed is not None
            )
            if self._streamed is not None:
                estimates.observe_stream(
                    self._key, self._stream_began - self._started, finished_at - self._started
                )
        if snapshot.status == "failed":
            self._fail(failure_reason(snapshot), snapshot)
        else:
            self._result = TaskResult.from_snapshot(snapshot)
            self._release()

    def _fail(self, reason: str, snapshot: TaskSnapshot | None) -> None:
        self._failure = TaskFailedError(self.id, reason, snapshot=snapshot)
        self._release()

    def _release(self) -> None:
        """Forget the schedule and the hub registration: the result is in hand."""
        self._next_at = None
        self._push_wanted = False
        self._unregister()

    def _unregister(self) -> None:
        push = self._push
        if self._registered and push is not None:
            self._registered = False
            _release_on(push.get_loop(), self._runtime.hub.release, self.id)

    def __del__(self) -> None:
        # A handle nobody keeps (a service that stores only the id) would otherwise pin its
        # wake-up future in the hub, and later the callback's snapshot, for the client's life.
        # A method, not a weakref.finalize per task: that costs about 330 bytes per waiting task.
        try:
            if getattr(self, "_registered", False):
                self._unregister()
        except Exception:  # interpreter shutdown: the hub and its loop are going away too
            pass


def _release_on(
    loop: asyncio.AbstractEventLoop, release: Callable[[str], None], task_id: str
) -> None:
    """Undo a hub registration on the loop its future belongs to: a handle may be collected in
    another thread (the blocking client's caller), where touching the hub's futures is unsafe."""
    if loop.is_closed() or _running_loop() is loop:
        release(task_id)
        return
    try:
        loop.call_soon_threadsafe(release, task_id)
    except RuntimeError:  # the loop closed meanwhile: nothing else touches the hub now
        release(task_id)


def _progress_future(hub: Any, task_id: str) -> asyncio.Future[TaskSnapshot] | None:
    """The hub's future for the task's next streaming callback (None for a hub without one)."""
    progress = getattr(hub, "progress", None)
    return None if progress is None else progress(task_id)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop_running() -> bool:
    return _running_loop() is not None


def _fingerprint(snapshot: TaskSnapshot) -> tuple[Any, ...]:
    """What counts as a change worth yielding from ``watch``."""
    return (
        snapshot.status,
        snapshot.persona_id,
        tuple((c.clip_id, c.state, c.audio_url) for c in snapshot.clips),
    )
