"""Scenario 4: polls per task and detection lag, adaptive vs fixed interval vs webhooks.

``n`` tasks arrive spread evenly over ``spread`` seconds (a service starting work as requests
come in), with generation times drawn from ``gen``. Each variant gets a fresh emulator with the
same seed, so the same draws:

* ``sdk_adaptive``: ``await task`` with the SDK's default PollPolicy scaled by ``scale``;
* ``fixed``: a hand-written aiohttp loop polling at the official client's default (every 5 s,
  first poll immediate), scaled the same way;
* ``sdk_webhook``: ``client.webhooks.serve()`` then ``await task`` (the embedded receiver gets
  the emulator's signed callback; polling only after the scaled grace period).

Detection lag = the moment the result is in the caller's hands minus the moment the emulator
finished the task (both ``time.monotonic()``, system-wide on Linux). Polls are counted by the
emulator. Lags are reported scaled back to real seconds too (divided by ``scale``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp

from aimusic_async import AIMusicClient
from aimusic_async import _constants as C

from ._common import CREATE_PARAMS, TERMINAL, scaled_policy, summary
from ._emulator import EmulatorProcess

__all__ = ["run"]

# The official client's default poll interval (seconds).
FIXED_INTERVAL = 5.0

# (start the work, then return {task_id: moment the result was in hand})
Variant = Callable[[str, str, int, float, float], Coroutine[Any, Any, dict[str, float]]]


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


async def sdk_adaptive(
    base_url: str, api_key: str, n: int, spread: float, scale: float
) -> dict[str, float]:
    async with AIMusicClient(api_key, base_url, poll=scaled_policy(scale)) as client:

        async def one() -> tuple[str, float]:
            task = await client.sonic.create(**CREATE_PARAMS)
            await task
            return task.id, time.monotonic()

        return await _arrivals(n, spread, one)


async def sdk_webhook(
    base_url: str, api_key: str, n: int, spread: float, scale: float
) -> dict[str, float]:
    async with AIMusicClient(api_key, base_url, poll=scaled_policy(scale)) as client:
        await client.webhooks.serve(grace=C.WEBHOOK_GRACE * scale)

        async def one() -> tuple[str, float]:
            task = await client.sonic.create(**CREATE_PARAMS)
            await task
            return task.id, time.monotonic()

        return await _arrivals(n, spread, one)


async def fixed(
    base_url: str, api_key: str, n: int, spread: float, scale: float
) -> dict[str, float]:
    interval = FIXED_INTERVAL * scale
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


VARIANTS: dict[str, Variant] = {
    "sdk_adaptive": sdk_adaptive,
    "fixed": fixed,
    "sdk_webhook": sdk_webhook,
}


def run(
    *, n: int, spread: float, gen: tuple[float, float], scale: float, seed: int
) -> dict[str, Any]:
    """Run every variant on a fresh emulator; polls per task and lag statistics for each."""
    out: dict[str, Any] = {
        "n": n,
        "spread_s": spread,
        "generation_time": list(gen),
        "scale": scale,
        "fixed_interval_s": FIXED_INTERVAL * scale,
    }
    for name, variant in VARIANTS.items():
        with EmulatorProcess(seed=seed, generation_time=list(gen)) as emu:
            in_hand = asyncio.run(variant(emu.base_url, emu.api_key, n, spread, scale))
            stats = emu.stats()
            finished = {t["id"]: t["done"] for t in emu.timings()}
        lags = [in_hand[i] - finished[i] for i in in_hand]
        lag = summary(lags)
        out[name] = {
            "tasks": len(in_hand),
            "polls_per_task": stats["polls"] / max(1, stats["creates"]),
            "webhooks_sent": stats["webhooks_sent"],
            "lag_s": lag,
            "lag_real_s": {k: v / scale for k, v in lag.items()},
            "early": sum(1 for x in lags if x < 0),
        }
    return out
