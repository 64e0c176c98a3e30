"""Shared pieces: the scale factor, the job every scenario sends, CPU and memory readings."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from aimusic_async import PollPolicy
from aimusic_async import _constants as C

__all__ = [
    "CREATE_PARAMS",
    "TERMINAL",
    "cpu_seconds",
    "percentile",
    "rss_bytes",
    "scaled_policy",
    "summary",
]

# What every lifecycle starts: the README's first example (description mode, two clips).
CREATE_PARAMS: dict[str, Any] = {
    "mv": "sonic-v5",
    "custom_mode": False,
    "gpt_description_prompt": "calm lo-fi for studying",
}
# Clip states after which a clip no longer changes (the wire contract's terminal states).
TERMINAL = frozenset(
    {"succeeded", "success", "complete", "completed", "failed", "error", "timeout"}
)
# A waiting task must never time out in a benchmark: the deadline is not what is measured.
BENCH_TASK_TIMEOUT = 120.0


def scaled_policy(scale: float) -> PollPolicy:
    """The SDK's default adaptive PollPolicy with every interval multiplied by ``scale``."""
    return PollPolicy(
        initial_interval=C.POLL_INITIAL_INTERVAL * scale,
        max_interval=C.POLL_MAX_INTERVAL * scale,
        multiplier=C.POLL_MULTIPLIER,
        timeout=BENCH_TASK_TIMEOUT,
    )


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    return time.process_time()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size now, after a full garbage collection (Linux /proc/self/statm)."""
    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * _PAGE


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    """mean / p50 / p95 / max of a sample."""
    if not values:
        return {"mean": float("nan"), "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {
        "mean": statistics.fmean(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values),
    }
