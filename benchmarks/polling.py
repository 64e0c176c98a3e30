"""Scenario 4: polls per task against detection lag, for several polling policies.

``n`` tasks arrive spread evenly over ``spread`` seconds (a service starting work as requests
come in), with generation times drawn from ``gen``. Each variant gets a fresh emulator with the
same seed, so the same draws. The variants (``variants()``, the one place that lists them):

* ``sdk_adaptive``: ``await task`` with the SDK's default PollPolicy, scaled by ``scale``;
* ``sdk_knob_*``: the same with the lag-target knob at three settings (``KNOB_FIELD``,
  ``KNOB_SETTINGS``); skipped with a note while PollPolicy has no such field;
* ``sdk_custom_*``: any PollPolicy given on the command line (``--poll-policy``);
* ``fixed``, ``fixed_15``, ``fixed_20``: a hand-written aiohttp loop polling every 5 s (the
  official client's default), 15 s and 20 s (the API docs advise 15-25 s), first poll immediate,
  scaled the same way;
* ``sdk_webhook``: ``client.webhooks.serve()`` then ``await task`` (the embedded receiver gets
  the emulator's signed callback; polling only after the scaled grace period).

Detection lag = the moment the result is in the caller's hands minus the moment the emulator
finished the task (both ``time.monotonic()``, system-wide on Linux). Polls are counted by the
emulator. Lags are reported scaled back to real seconds too (divided by ``scale``).

The curve: every polling variant as a point (polls per task, mean lag, p95 lag). The target
compares the SDK's curve with fixed 5 s polling at the same mean lag: the SDK's polls per task at
fixed 5 s's mean lag, interpolated between the two SDK points around it, over fixed 5 s's polls
(target: at most 0.6x).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from aimusic_async import AIMusicClient
from aimusic_async import _constants as C

from ._common import CREATE_PARAMS, TERMINAL, scaled_policy, summary
from ._emulator import EmulatorProcess

__all__ = ["KNOB_FIELD", "KNOB_SETTINGS", "PollVariant", "match_lag", "run", "variants"]

# The official client's default poll interval, then the range the API docs advise (seconds).
FIXED_INTERVAL = 5.0
FIXED_INTERVALS = (5.0, 15.0, 20.0)

# The documented PollPolicy knob that trades polls for lag (a target mean detection lag, in
# real seconds), and the three settings the curve shows. While PollPolicy has no field of this
# name the knob's variants are skipped with a note; once it exists, set the name here (or pass
# --poll-knob NAME) and the curve gains three points.
KNOB_FIELD = "lag_target"
KNOB_SETTINGS: tuple[float, ...] = (2.0, 5.0, 10.0)

# The polls of the SDK at fixed 5 s's mean lag, over fixed 5 s's polls, must not exceed this.
POLLS_RATIO_TARGET = 0.6


@dataclass(frozen=True)
class PollVariant:
    """One way of waiting for the tasks: the SDK with a PollPolicy, fixed polling, webhooks."""

    name: str
    label: str
    kind: Literal["sdk", "fixed", "webhook"]
    # sdk / webhook: PollPolicy fields in real seconds, over the SDK's defaults (scaled later).
    policy: dict[str, Any] = field(default_factory=dict)
    # fixed: the interval in real seconds.
    interval: float = 0.0


def _num(value: float) -> str:
    return f"{value:g}"


def variants(
    *,
    knob_field: str = KNOB_FIELD,
    knob_settings: Sequence[float] = KNOB_SETTINGS,
    fixed_intervals: Sequence[float] = FIXED_INTERVALS,
    custom: Sequence[tuple[str, dict[str, Any]]] = (),
) -> list[PollVariant]:
    """Every variant the scenario runs, in order (the curve's points, then webhooks)."""
    out = [PollVariant("sdk_adaptive", "SDK default", "sdk")]
    for value in knob_settings:
        out.append(
            PollVariant(
                f"sdk_knob_{_num(value)}",
                f"SDK {knob_field}={_num(value)} s",
                "sdk",
                policy={knob_field: value},
            )
        )
    for label, policy in custom:
        out.append(PollVariant(f"sdk_custom_{label}", f"SDK {label}", "sdk", policy=dict(policy)))
    for interval in fixed_intervals:
        name = "fixed" if interval == FIXED_INTERVAL else f"fixed_{_num(interval)}"
        out.append(PollVariant(name, f"fixed {_num(interval)} s", "fixed", interval=interval))
    out.append(PollVariant("sdk_webhook", "SDK webhook mode", "webhook"))
    return out


def parse_policy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``LABEL:FIELD=VALUE[,FIELD=VALUE...]`` (``--poll-policy``) -> (label, PollPolicy kwargs);
    values are numbers in real seconds (durations are scaled like the defaults)."""
    label, sep, rest = spec.partition(":")
    if not sep or not label or not rest:
        raise ValueError(f"--poll-policy wants LABEL:FIELD=VALUE[,FIELD=VALUE], got {spec!r}")
    kwargs: dict[str, Any] = {}
    for part in rest.split(","):
        name, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"--poll-policy: {part!r} is not FIELD=VALUE")
        kwargs[name.strip()] = float(value)
    return label, kwargs


async def _arrivals(
    n: int, spread: float, one: Callable[[], Awaitable[tuple[str, float]]]
) -> dict[str, float]:
    """Start ``one`` n times, evenly over ``spread`` seconds; gather {task_id: done_at}."""
    gap = spread / n if n else 0.0
    t0 = time.monotonic()

    async def delayed(i: int) -> tuple[str, float]:
        await asyncio.sleep(max(0.0, t0 + i * gap - time.monotonic()))
        return await one()

    pairs = await asyncio.gather(*(delayed(i) for i in range(n)))
    return dict(pairs)


async def _sdk(
    base_url: str,
    api_key: str,
    n: int,
    spread: float,
    scale: float,
    policy: dict[str, Any],
    webhook: bool,
) -> dict[str, float]:
    async with AIMusicClient(api_key, base_url, poll=scaled_policy(scale, **policy)) as client:
        if webhook:
            await client.webhooks.serve(grace=C.WEBHOOK_GRACE * scale)

        async def one() -> tuple[str, float]:
            task = await client.sonic.create(**CREATE_PARAMS)
            await task
            return task.id, time.monotonic()

        return await _arrivals(n, spread, one)


async def _fixed(
    base_url: str, api_key: str, n: int, spread: float, interval: float
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one() -> tuple[str, float]:
            async with session.post(f"{base_url}/api/v1/sonic/create", json=CREATE_PARAMS) as r:
                r.raise_for_status()
                task_id = (await r.json())["task_id"]
            while True:
                async with session.get(f"{base_url}/api/v1/sonic/task/{task_id}") as r:
                    r.raise_for_status()
                    body = await r.json()
                clips = body.get("data") if r.status == 200 else None
                if isinstance(clips, list) and clips and all(c["state"] in TERMINAL for c in clips):
                    return task_id, time.monotonic()
                await asyncio.sleep(interval)

        return await _arrivals(n, spread, one)


def _check(variant: PollVariant, scale: float) -> str | None:
    """Why an SDK variant cannot run (a PollPolicy field it names does not exist, a bad value),
    or None."""
    if variant.kind == "fixed":
        return None
    try:
        scaled_policy(scale, **variant.policy)
    except Exception as exc:  # any refusal is reported as a skip, not a failed run
        return f"skipped: {type(exc).__name__}: {exc}"
    return None


def _interpolate(points: list[tuple[float, float]], lag: float) -> float | None:
    """Polls at ``lag`` on a curve of (mean lag, polls) points, linear between the two points
    around it; None outside the points' range."""
    pts = sorted(points)
    for (l0, p0), (l1, p1) in itertools.pairwise(pts):
        if l0 <= lag <= l1:
            return p0 if l1 == l0 else p0 + (p1 - p0) * (lag - l0) / (l1 - l0)
    if pts and pts[0][0] == lag:
        return pts[0][1]
    return None


def match_lag(results: dict[str, Any], sdk_names: Sequence[str]) -> dict[str, Any]:
    """The SDK's polls per task at fixed 5 s's mean lag, and over fixed 5 s's polls.

    Exact when some SDK points lie on both sides of that lag (linear interpolation). With every
    SDK point at a lower lag, the one with the fewest polls among them is an upper bound (a
    policy allowed more lag needs no more polls); with every one at a higher lag there is no
    figure."""
    ref = results.get("fixed")
    sdk = [
        (results[n]["lag_real_s"]["mean"], results[n]["polls_per_task"])
        for n in sdk_names
        if n in results and "polls_per_task" in results[n]
    ]
    if not ref or "polls_per_task" not in ref or not sdk:
        return {"how": "n/a: no fixed 5 s or no SDK point"}
    lag, polls = ref["lag_real_s"]["mean"], ref["polls_per_task"]
    exact = _interpolate(sdk, lag)
    if exact is not None:
        found, how = exact, "interpolated between SDK points"
    else:
        below = [p for lg, p in sdk if lg <= lag]
        if below:
            found, how = min(below), "upper bound: every SDK point has a lower lag"
        else:
            best = min(sdk)
            return {
                "lag_real_s": lag,
                "fixed_polls": polls,
                "how": f"n/a: no SDK point reaches that lag (the closest: {best[0]:.1f} s)",
            }
    ratio = found / polls if polls else None
    return {
        "lag_real_s": lag,
        "fixed_polls": polls,
        "sdk_polls": found,
        "ratio": ratio,
        "how": how,
        "target": POLLS_RATIO_TARGET,
        "met": None if ratio is None else ratio <= POLLS_RATIO_TARGET,
    }


def fixed_polls_at(results: dict[str, Any], fixed_names: Sequence[str], lag: float) -> float | None:
    """What fixed-interval polling costs (polls per task) at a given mean lag, interpolated
    between the fixed-interval points around it."""
    pts = [
        (results[n]["lag_real_s"]["mean"], results[n]["polls_per_task"])
        for n in fixed_names
        if n in results and "polls_per_task" in results[n]
    ]
    return _interpolate(pts, lag)


def run(
    *,
    n: int,
    spread: float,
    gen: tuple[float, float],
    scale: float,
    seed: int,
    chosen: Sequence[PollVariant] | None = None,
) -> dict[str, Any]:
    """Run every variant on a fresh emulator; polls per task and lag statistics for each."""
    todo = list(chosen) if chosen is not None else variants()
    out: dict[str, Any] = {
        "n": n,
        "spread_s": spread,
        "generation_time": list(gen),
        "scale": scale,
        "fixed_interval_s": FIXED_INTERVAL * scale,
        "variants": [v.name for v in todo],
        "labels": {v.name: v.label for v in todo},
        "kinds": {v.name: v.kind for v in todo},
    }
    for v in todo:
        skip = _check(v, scale)
        if skip is not None:
            out[v.name] = {"skipped": skip, "policy": v.policy}
            continue
        with EmulatorProcess(seed=seed, generation_time=list(gen)) as emu:
            if v.kind == "fixed":
                work = _fixed(emu.base_url, emu.api_key, n, spread, v.interval * scale)
            else:
                work = _sdk(
                    emu.base_url, emu.api_key, n, spread, scale, v.policy, v.kind == "webhook"
                )
            in_hand = asyncio.run(work)
            stats = emu.stats()
            finished = {t["id"]: t["done"] for t in emu.timings()}
        lags = [in_hand[i] - finished[i] for i in in_hand]
        lag = summary(lags)
        out[v.name] = {
            "label": v.label,
            "policy": v.policy,
            "interval_s": v.interval or None,
            "tasks": len(in_hand),
            "polls_per_task": stats["polls"] / max(1, stats["creates"]),
            "webhooks_sent": stats["webhooks_sent"],
            "lag_s": lag,
            "lag_real_s": {k: x / scale for k, x in lag.items()},
            "early": sum(1 for x in lags if x < 0),
        }
    sdk_names = [v.name for v in todo if v.kind == "sdk"]
    fixed_names = [v.name for v in todo if v.kind == "fixed"]
    out["curve"] = [
        {
            "name": name,
            "label": out[name]["label"],
            "polls_per_task": out[name]["polls_per_task"],
            "lag_mean_real_s": out[name]["lag_real_s"]["mean"],
            "lag_p95_real_s": out[name]["lag_real_s"]["p95"],
        }
        for name in sdk_names + fixed_names
        if "polls_per_task" in out[name]
    ]
    out["match_fixed_5s"] = match_lag(out, sdk_names)
    default = out.get("sdk_adaptive", {})
    if "lag_real_s" in default:
        # The other way round: what fixed polling would cost at the SDK default's lag.
        out["fixed_polls_at_sdk_default_lag"] = fixed_polls_at(
            out, fixed_names, default["lag_real_s"]["mean"]
        )
    return out
