"""The client-wide adaptive rate limiter for start requests (AIMD, see ``AdaptiveRateLimiter``)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from . import _clock
from . import _constants as C
from ._errors import RateLimitError

__all__ = ["AdaptiveRateLimiter"]

# A rate below one start every ten seconds means the service is refusing us, not pacing us;
# the per-request retry bound then surfaces the 429 to the caller instead.
MIN_RATE = 0.1
# On each congestion signal the rate halves (the "multiplicative decrease" of AIMD).
DECREASE_FACTOR = 0.5
# Above the ceiling, each accepted start adds this much divided by the current rate, so the rate
# grows by about this many starts per second, every second (the "additive increase").
INCREASE_PER_SECOND = 0.5
# Below the ceiling, each accepted start closes this share of the gap: back near the ceiling within
# about ten starts.
RECOVERY_SHARE = 0.25
# The ceiling sits just below the refused rate, so the recovery itself does not trigger a 429.
CEILING_SHARE = 0.95
# Accepted starts are counted over this window to seed the first rate: the server's own
# acceptance rate is the best first guess of its limit.
WINDOW = 1.0


class AdaptiveRateLimiter:
    """Paces start requests once the server has said 429. ``rate`` is None while unlimited.

    The service documents no rate limit, yet answers 429 when starts come too fast. So starts go
    through unpaced until the first 429; from then on they are paced at a rate that halves on a
    429 (multiplicative decrease) and creeps back up with every accepted start, like TCP's
    congestion window. A burst of 429s answering requests sent together counts as one signal
    (one halving per cooldown), else a single burst would collapse the rate.

    Two refinements keep throughput close to the server's limit: the first rate is estimated
    from what the server showed (its ``Retry-After`` spacing, or the starts it accepted in the
    last second), and after a halving the rate climbs back quickly to just below the rate that
    was refused (``ceiling``), then probes above it only slowly (as TCP CUBIC does).

    A server cannot wedge it: ``Retry-After`` is clamped (``RETRY_AFTER_CAP``) before it moves
    the next slot or the cooldown, and a start whose slot is further away than the caller can
    wait (``START_MAX_WAIT``, or its deadline) is refused at once with ``RateLimitError``,
    unsent. Every wait goes through ``_clock.sleep``.
    """

    __slots__ = ("_accepted", "_cooldown_until", "_next_slot", "ceiling", "rate")

    def __init__(self) -> None:
        self.rate: float | None = None
        self.ceiling = 0.0
        self._next_slot = 0.0
        self._cooldown_until = 0.0
        self._accepted: deque[float] = deque()

    async def acquire(
        self,
        *,
        limit: float | None = None,
        wake: asyncio.Future[Any] | None = None,
        path: str | None = None,
    ) -> None:
        """Wait for this start request's slot (returns at once while unlimited).

        ``limit`` is how long the caller can wait (``START_MAX_WAIT`` when None, never more): a
        slot further away raises ``RateLimitError`` (``retry_after`` = the wait it would need)
        without taking the slot. ``wake`` (the client closing) ends the wait early; the caller
        checks why."""
        if self.rate is None:
            return
        bound = C.START_MAX_WAIT if limit is None else min(limit, C.START_MAX_WAIT)
        now = _clock.monotonic()
        slot = max(now, self._next_slot)
        wait = slot - now
        if wait > bound:
            reason = (
                f"the {C.START_MAX_WAIT:g}s the SDK waits at most (the service keeps refusing "
                "starts)"
                if limit is None or limit >= C.START_MAX_WAIT
                else f"the {max(bound, 0.0):.1f}s left before the caller's deadline"
            )
            raise RateLimitError(
                f"start request not sent: the client's start rate limit would hold it "
                f"{wait:.1f}s, more than {reason}; retry after {wait:.1f}s",
                path=path,
                retry_after=wait,
            )
        self._next_slot = slot + 1.0 / self.rate
        if wait > 0:
            await _clock.sleep(wait, wake)

    def on_success(self) -> None:
        """A start request was accepted: remember it and let the rate creep up."""
        now = _clock.monotonic()
        accepted = self._accepted
        accepted.append(now)
        while accepted and accepted[0] < now - WINDOW:
            accepted.popleft()
        rate = self.rate
        if rate is not None:
            if rate < self.ceiling:
                step = max((self.ceiling - rate) * RECOVERY_SHARE, INCREASE_PER_SECOND / rate)
                self.rate = min(self.ceiling, rate + step)
            else:
                self.rate = rate + INCREASE_PER_SECOND / rate

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """The server answered 429: slow down (at most once per cooldown)."""
        # Clamped here too, whoever parsed it: an uncapped hint would push the next slot (and
        # every later start) out forever.
        retry_after = _clock.sane_wait(retry_after, C.RETRY_AFTER_CAP)
        now = _clock.monotonic()
        if now < self._cooldown_until and self.rate is not None:
            return
        if self.rate is None:
            recent = sum(1 for t in self._accepted if t >= now - WINDOW)
            # A server that says "retry after 25 ms" admits about 40 starts a second.
            hinted = 1.0 / retry_after if retry_after else 0.0
            base = max(float(recent) / WINDOW, hinted, MIN_RATE / DECREASE_FACTOR)
        else:
            base = self.rate
        self.ceiling = base * CEILING_SHARE
        self.rate = max(MIN_RATE, base * DECREASE_FACTOR)
        # Requests already in flight answer within about a round trip; one interval (at least
        # the server's hint) is enough to let them land before the next halving counts.
        self._cooldown_until = now + max(1.0 / self.rate, retry_after or 0.0)
        # Nothing more goes out before the server's hint.
        if retry_after:
            self._next_slot = max(self._next_slot, now + retry_after)
