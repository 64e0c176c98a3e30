"""The one time seam: every wait and clock reading of the SDK goes through ``sleep``,
``monotonic``, ``time`` and ``sane_wait`` here, so tests patch only this module."""

from __future__ import annotations

import asyncio
import math
import time as _time
from typing import Any

__all__ = ["monotonic", "sane_wait", "sleep", "time"]


def monotonic() -> float:
    return _time.monotonic()


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


async def sleep(delay: float, wake: asyncio.Future[Any] | None = None) -> None:
    """Wait ``delay`` seconds, or less if ``wake`` completes first. Cancellation propagates.

    It costs one future and one timer handle, not a task, so thousands of waiting ``Task``
    handles stay cheap."""
    if wake is None:
        await asyncio.sleep(max(0.0, delay))
        return
    if wake.done():
        return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    handle = loop.call_later(max(0.0, delay), _wake, waiter)

    def on_wake(_f: asyncio.Future[Any]) -> None:
        _wake(waiter)

    wake.add_done_callback(on_wake)
    try:
        await waiter
    finally:
        handle.cancel()
        wake.remove_done_callback(on_wake)
