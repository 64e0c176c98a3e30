"""When a task polls next: the per-operation record of how long tasks take, and the pure rules
that turn it, the task's age and its clips' states into the next poll (explained in the manual's
design note "How a task waits"; ``_tasks.py`` calls ``next_poll`` and applies the jitter)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _constants as C
from .models.common import TaskSnapshot

if TYPE_CHECKING:
    from ._tasks import PollPolicy

__all__ = ["DurationEstimates", "Plan", "next_poll", "streaming_ready"]

# Weights of the newest observation in the running mean and mean deviation of task durations
# (TCP's RTT estimator uses 1/8 and 1/4): adapts within a handful of tasks, while one outlier
# moves it only a little. The mean and deviation place the webhook fallback (late edge of the
# usual finish window: mean + 3 deviations).
EWMA_ALPHA = 0.2
DEVIATION_BETA = 0.25
WINDOW_AFTER = 3.0
# Even tasks of a near-constant duration get a window (+15 % of the mean: three floored
# deviations): clocks and queues vary.
MIN_DEVIATION_SHARE = 0.05


class DurationEstimates:
    """Per operation: a running mean and mean deviation of seconds from start to finish, and
    the most recent durations themselves (the finish-time distribution the schedule polls by);
    for operations whose clips stream first, the recent ages at which every clip streamed and
    the times from then to the finish."""

    __slots__ = (
        "_counts",
        "_ratios",
        "_samples",
        "_scales",
        "_sorted",
        "_streaming",
        "_streams",
        "_tails",
        "_values",
    )

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}
        self._samples: dict[str, deque[float]] = {}
        self._streams: dict[str, deque[float]] = {}
        self._tails: dict[str, deque[float]] = {}
        self._ratios: dict[str, deque[float]] = {}
        # Per operation: the durations sorted (dropped when one is added) and, per lag target,
        # the spacing constant with the count of observations it was made from.
        self._sorted: dict[str, list[float]] = {}
        self._counts: dict[str, int] = {}
        self._scales: dict[tuple[str, float], tuple[int, float]] = {}
        # How often recent tasks were seen streaming before they finished (a running share).
        self._streaming: dict[str, float] = {}

    def get(self, key: str) -> float | None:
        """The running mean duration, or None before the first observation."""
        value = self._values.get(key)
        return None if value is None else value[0]

    def window(self, key: str) -> tuple[float, float] | None:
        """(mean, deviation) with the deviation floored at ``MIN_DEVIATION_SHARE`` of the mean."""
        value = self._values.get(key)
        if value is None:
            return None
        mean, dev = value
        return mean, max(dev, mean * MIN_DEVIATION_SHARE)

    def durations(self, key: str) -> list[float]:
        """The recent durations, sorted (at most ``SCHEDULE_SAMPLES``; do not modify)."""
        done = self._sorted.get(key)
        if done is None:
            done = self._sorted[key] = sorted(self._samples.get(key, ()))
        return done

    def scale(self, key: str, lag: float) -> float:
        """``calibrate(durations(key), lag)``, made again after every ``SCHEDULE_RECALIBRATE``
        observations once there are a few (one more sample moves it by about a 64th; a poll
        should not pay for a pass over every sample)."""
        count = self._counts.get(key, 0)
        cached = self._scales.get((key, lag))
        if (
            cached is not None
            and count >= C.SCHEDULE_MIN_SAMPLES
            and count - cached[0] < C.SCHEDULE_RECALIBRATE
        ):
            return cached[1]
        value = calibrate(self.durations(key), lag)
        if len(self._scales) > 64:  # a handful of (operation, lag) pairs in practice
            self._scales.clear()
        self._scales[(key, lag)] = (count, value)
        return value

    def streams(self, key: str) -> list[float]:
        """The recent ages at which every clip streamed, sorted."""
        return sorted(self._streams.get(key, ()))

    def tails(self, key: str) -> list[float]:
        """The recent times from "every clip streams" to the finish, sorted."""
        return sorted(self._tails.get(key, ()))

    def finish_ages(
        self, key: str, age: float, streamed: float | None, want_stream: bool, lag: float
    ) -> tuple[list[float], float | None]:
        """What the schedule of a task ``age`` seconds old aims at, as sorted ages since its
        start: when tasks of its kind finish or, for a wait that wants the first audio, when
        their clips stream.

        Once its clips were seen streaming (having begun about ``streamed`` seconds after its
        start: half way from the last answer that did not show it), its finish
        follows as it did for the recent tasks of its kind: either a learned time after that
        moment, or a learned multiple of it, whichever of the two predicted those tasks more
        narrowly (a service whose streaming phase takes a fixed time, or a fixed share of the
        generation). While it is not streaming yet, and tasks of its kind nearly always stream
        first, it cannot finish before both the shortest time and the smallest multiple past
        its current age.

        Also the spacing constant for those ages when it comes from the durations (cached), or
        None to make it from the ages themselves."""
        tails = self._tails.get(key)
        ratios = self._ratios.get(key)
        known = (
            tails is not None and ratios is not None and len(tails) >= C.SCHEDULE_MIN_STREAM_SAMPLES
        )
        if streamed is not None:
            if tails is None or ratios is None or not known:
                return self.durations(key), self.scale(key, lag)
            after = sorted(streamed + t for t in tails)
            scaled = sorted(streamed * r for r in ratios)
            return (after if _width(after) <= _width(scaled) else scaled), None
        if want_stream:
            streams = self.streams(key)
            if streams:
                return streams, None
        samples = self.durations(key)
        if not samples:
            return samples, None
        if (
            tails is not None
            and ratios is not None
            and known
            and self._streaming.get(key, 0.0) >= C.SCHEDULE_STREAMING_SHARE
        ):
            soonest = max(age + min(tails), age * min(ratios))
            later = samples[bisect_right(samples, soonest) :]
            if later:
                # Spaced as for the whole spread: one constant for the whole wait.
                return later, self.scale(key, lag)
        return samples, self.scale(key, lag)

    def observe(self, key: str, seconds: float, *, streamed: bool = False) -> None:
        """A task of ``key`` took ``seconds`` from start to finish (``streamed``: its clips
        were seen streaming before)."""
        if seconds <= 0:
            return
        _push(self._samples, key, seconds)
        self._sorted.pop(key, None)
        self._counts[key] = self._counts.get(key, 0) + 1
        share = self._streaming.get(key)
        hit = 1.0 if streamed else 0.0
        self._streaming[key] = hit if share is None else share + EWMA_ALPHA * (hit - share)
        old = self._values.get(key)
        if old is None:
            # One sample says little about the spread: start wide, as TCP does.
            self._values[key] = (seconds, seconds / 4)
            return
        mean, dev = old
        dev += DEVIATION_BETA * (abs(seconds - mean) - dev)
        mean += EWMA_ALPHA * (seconds - mean)
        self._values[key] = (mean, dev)

    def observe_stream(self, key: str, began: float, finished: float) -> None:
        """A task whose clips all began streaming about ``began`` seconds after its start
        finished ``finished`` seconds after it."""
        if not 0 < began <= finished:
            return
        _push(self._streams, key, began)
        _push(self._tails, key, finished - began)
        _push(self._ratios, key, finished / began)


def _width(values: list[float]) -> float:
    """The spread of sorted values: from the 10th to the 90th percentile."""
    top = len(values) - 1
    return values[round(0.9 * top)] - values[round(0.1 * top)]


def _push(store: dict[str, deque[float]], key: str, value: float) -> None:
    ring = store.get(key)
    if ring is None:
        ring = store[key] = deque(maxlen=C.SCHEDULE_SAMPLES)
    ring.append(value)


def streaming_ready(snapshot: TaskSnapshot | None, first: bool = False) -> bool:
    """True when the snapshot's clips are playable before the final file: every clip that did
    not fail has an audio URL and streams or is done (``first``: at least one clip does)."""
    if snapshot is None or not snapshot.clips:
        return False
    if snapshot.finished:
        return True
    playable = 0
    for clip in snapshot.clips:
        if clip.failed:
            continue
        if clip.audio_url and (clip.state == "streaming" or clip.succeeded):
            playable += 1
        elif not first:
            return False
    return playable > 0


@dataclass(frozen=True, slots=True)
class Plan:
    """The next poll: ``delay`` seconds from now, jittered by a share of ``spread`` (the
    cadence, not a long quiet time ahead of it); ``backoff`` when it was a step of the plain
    growing backoff (the caller counts those steps)."""

    delay: float
    spread: float
    backoff: bool


def next_poll(
    policy: PollPolicy,
    step: int,
    age: float,
    samples: list[float] | None,
    scale: float | None = None,
) -> Plan:
    """The next poll of a task ``age`` seconds after its start.

    ``samples``: sorted ages at which tasks like this one finished (or streamed, for a wait that
    wants the first audio), shifted to this task's clock; None or empty when nothing is known
    (a handle rebuilt from an id, the first tasks of a kind). Without knowledge, or for a task
    older than every sample (an outlier), the plain backoff, its interval capped at twice the
    lag target: a steady cadence of ``2 * lag`` notices a finish ``lag`` late on average.
    ``scale``: ``calibrate(samples, lag)`` or that of the distribution they were taken from
    (made here when None)."""
    lag = policy.lag
    floor = min(policy.initial_interval, lag)
    rest = samples[bisect_right(samples, age) :] if samples else []
    if samples is None or not rest:
        # A rebuilt handle (samples None) knows neither its start nor its kind: the plain
        # backoff to max_interval. A fresh task keeps the target's cadence.
        cap = policy.max_interval
        if samples is not None:
            cap = max(floor, min(cap, 2.0 * lag))
        interval = min(policy.interval(step), cap)
        return Plan(interval, interval, True)
    if scale is None:
        scale = calibrate(samples, lag)
    cadence = min(policy.max_interval, max(floor, hazard_interval(scale, rest, age, lag)))
    delay = cadence
    if len(samples) >= C.SCHEDULE_MIN_SAMPLES and len(rest) == len(samples):
        # Nothing of the sample finished before its earliest: sleep through the quiet time.
        # (Only before it: a gap between later samples, an outlier's, is no quiet time.)
        delay = max(cadence, rest[0] - age)
    return Plan(delay, cadence, False)


def calibrate(samples: list[float], lag: float) -> float:
    """The spacing constant ``c`` for finish ages ``samples`` (sorted) and a mean lag ``lag``.

    Polls spaced ``d(t)`` apart around a finish at ``t`` notice it ``d(t) / 2`` late on average;
    a poll at ``t`` is spent unless the task finished before it. Minimising polls for a given
    mean lag gives ``d(t) = c * sqrt(S(t) / f(t))`` (S: the share still running, f: the density
    of finishes) with one constant ``c`` for the whole wait; ``S / f`` is the inverse hazard:
    poll often where finishing is likely. The mean residual life ``r(t)`` (how long tasks still
    running at ``t`` run on) stands in for ``S / f`` (equal for a memoryless tail, half of it
    for an even spread: a constant factor, which ``c`` absorbs). ``c`` makes the expected lag
    over every sample meet ``lag``: ``mean_i d(samples_i) / 2 = lag``. Residual lives are
    floored at ``lag``, so the last sample and anything later get a steady cadence instead of a
    vanishing interval."""
    n = len(samples)
    if not n:
        return 2.0 * math.sqrt(lag)  # the steady 2 * lag cadence (unused: no samples, no plan)
    suffix = 0.0
    roots = 0.0
    for i in range(n - 1, -1, -1):
        suffix += samples[i]
        roots += math.sqrt(max(suffix / (n - i) - samples[i], lag))
    return 2.0 * lag * n / roots


def hazard_interval(scale: float, rest: list[float], age: float, lag: float) -> float:
    """Seconds to the next poll at ``age``: ``c * sqrt(r)``, ``r`` the mean residual life of
    the finish ages ``rest`` (all past ``age``), floored at ``lag`` (see ``calibrate``)."""
    return scale * math.sqrt(max(sum(rest) / len(rest) - age, lag))
