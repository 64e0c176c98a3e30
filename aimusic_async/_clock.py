"""The one time seam: every wait and clock reading of the SDK goes through ``sleep``,
``monotonic``, ``time`` and ``sane_wait`` here, so tests patch only this module."""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time as _time
from collections.abc import Awaitable
from typing import Any

__all__ = ["monotonic", "sane_wait", "sleep", "time"]


# The clock itself, not a wrapper around it: read a dozen times per task lifecycle, and callers
# look it up here at each call, so patching this module still reaches every reading.
monotonic = _time.monotonic


def time() -> float:
    return _time.time()


def sane_wait(seconds: float | None, cap: float) -> float | None:
    """A server-supplied wait made safe to sleep on: None when it says nothing usable (missing,
    NaN), else clamped into ``0 .. cap`` (so "inf", 1e400 or a date far ahead become ``cap``, a
    negative or past value 0)."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def _wake(waiter: asyncio.Future[None], *_: Any) -> None:
    if not waiter.done():
        waiter.set_result(None)


# The context our own callbacks run in: they read no context variables, and one shared context
# saves a copy of the caller's per callback (thousands of sleeping tasks hold three each). One per
# thread: a context cannot be entered by two threads (two event loops) at once.
_callback_contexts = threading.local()


def _callback_context() -> contextvars.Context:
    try:
        return _callback_contexts.context  # type: ignore[no-any-return]
    except AttributeError:
        context = _callback_contexts.context = contextvars.Context()
        return context


class _Sleep:
    """The bookkeeping of one ``sleep`` with ``wake`` futures, itself the callback of the timer,
    of each ``wake`` and of the sleep's end (no bound method per callback): whichever of the
    timer and the ``wake`` futures comes first ends the sleep, and the end (cancellation
    included) removes the others, so a shared ``wake`` (the client's closing signal) collects no
    stale callbacks."""

    __slots__ = ("handle", "waiter", "wake")

    def __init__(self, waiter: asyncio.Future[None], wake: tuple[asyncio.Future[Any], ...]) -> None:
        self.waiter = waiter
        self.wake = wake
        self.handle: asyncio.TimerHandle | None = None

    def __call__(self, future: asyncio.Future[Any] | None = None) -> None:
        if future is not self.waiter:  # the timer (no argument) or a ``wake``
            _wake(self.waiter)
            return
        if self.handle is not None:
            self.handle.cancel()
        for wake in self.wake:
            wake.remove_done_callback(self)


def sleep(
    delay: float, wake: asyncio.Future[Any] | tuple[asyncio.Future[Any], ...] | None = None
) -> Awaitable[None]:
    """Wait ``delay`` seconds, or less if ``wake`` (a future, or any of several) completes
    first. Cancellation propagates.

    With ``wake`` it is a plain future, not a coroutine: a ``Task`` waiting hours is held by its
    caller's frame, one future and one timer handle, not by a frame of its own here."""
    if wake is None:
        return asyncio.sleep(max(0.0, delay))
    wakes = wake if isinstance(wake, tuple) else (wake,)
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    if any(w.done() for w in wakes):
        waiter.set_result(None)
        return waiter
    state = _Sleep(waiter, wakes)
    context = _callback_context()
    state.handle = loop.call_later(max(0.0, delay), state, context=context)
    for w in wakes:
        w.add_done_callback(state, context=context)
    waiter.add_done_callback(state, context=context)
    return waiter
