"""The client-wide adaptive rate limiter for start requests (AIMD).

The service documents no rate limit, yet answers 429 when start requests come too fast. So the
limiter lets start requests through unpaced until the first 429; from then on it paces them at
a rate that halves on a 429 (multiplicative decrease) and creeps back up with every accepted
start, like TCP's congestion window. A burst of 429s that answer requests sent together counts
as one signal (one halving per cooldown), else a single burst would collapse the rate.

Two refinements keep throughput close to the server's limit (a batch's wall time is bounded by
it): the first rate is estimated from what the server showed (its ``Retry-After`` spacing, or the
starts it accepted in the last second), and after a halving the rate climbs back quickly to just
below the rate that was refused (``ceiling``), then probes above it only slowly (as TCP CUBIC
does around its last loss point).

All waiting goes through ``_clock.sleep`` so tests can run it without real time passing.
"""

from __future__ import annotations

from collections import deque

from . import _clock

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
    """Paces start requests once the server has said 429. ``rate`` is None while unlimited."""

    __slots__ = ("_accepted", "_cooldown_until", "_next_slot", "ceiling", "rate")

    def __init__(self) -> None:
        self.rate: float | None = None
        self.ceiling = 0.0
        self._next_slot = 0.0
        self._cooldown_until = 0.0
        self._accepted: deque[float] = deque()

    async def acquire(self) -> None:
        """Wait for this start request's slot (returns at once while unlimited)."""
        if self.rate is None:
            return
        now = _clock.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            await _clock.sleep(slot - now)

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
