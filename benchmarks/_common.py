"""Shared pieces: the scale factor, the job every scenario sends, CPU and memory readings."""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from aimusic_async import PollPolicy

__all__ = [
    "CREATE_PARAMS",
    "TERMINAL",
    "cpu_seconds",
    "percentile",
    "policy_fields",
    "rss_bytes",
    "rss_bytes_now",
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


# PollPolicy fields that are not durations: kept as they are when the time scale applies. Every
# other numeric field (intervals, a lag target, ...) is multiplied by the scale; a new
# non-duration field (a share, a count) belongs here.
UNSCALED_FIELDS = frozenset({"multiplier"})


def policy_fields() -> list[str]:
    """The names of PollPolicy's fields (a dataclass today; a pydantic model would do too)."""
    if dataclasses.is_dataclass(PollPolicy):
        return [f.name for f in dataclasses.fields(PollPolicy)]
    return list(getattr(PollPolicy, "model_fields", {}))


def scaled_policy(scale: float, **overrides: Any) -> PollPolicy:
    """The SDK's default PollPolicy, with ``overrides`` (real seconds) applied, and every
    duration multiplied by ``scale``; the timeout is the benchmark's own (never reached).

    Raises ``TypeError`` for an override PollPolicy does not have (no silent no-op), and
    whatever PollPolicy raises for a bad value."""
    fields = policy_fields()
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise TypeError(
            f"PollPolicy has no field {', '.join(unknown)} (fields: {', '.join(fields)})"
        )
    default = PollPolicy()
    values: dict[str, Any] = {}
    for name in fields:
        value = overrides.get(name, getattr(default, name))
        if name == "timeout":
            value = BENCH_TASK_TIMEOUT
        elif (
            name not in UNSCALED_FIELDS
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            value = value * scale
        values[name] = value
    return PollPolicy(**values)


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    return time.process_time()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size now, after a full garbage collection (Linux /proc/self/statm)."""
    gc.collect()
    return rss_bytes_now()


def rss_bytes_now() -> int:
    """Resident set size now, as it is (no collection first): for sampling a peak."""
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
