"""Scenario 1: client CPU per complete task lifecycle, SDK vs a minimal aiohttp loop.

Instant generation (``generation_time=(0, 0)``), so each lifecycle is one create and, after the
same fixed tiny pause, one poll that returns the finished clips, on both sides. Both sides run
``concurrency`` workers that each take the next lifecycle until ``n`` are done. The measured
figure is this process's CPU time (``time.process_time``), which other load on the machine does
not inflate the way it inflates wall time. Runs alternate SDK / baseline ``reps`` times; the
median of each is compared.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp

from aimusic_async import AIMusicClient, PollPolicy
from aimusic_async._client import runtime_of

from ._common import BENCH_TASK_TIMEOUT, CREATE_PARAMS, TERMINAL, cpu_seconds
from ._emulator import EmulatorProcess

__all__ = ["raw_lifecycles", "run", "sdk_lifecycles"]

# The pause before each poll on both sides: long enough to be a real timer, short enough that
# the run is CPU-bound. Jitter aside, the SDK sleeps the same (multiplier 1, no growth).
POLL_PAUSE = 0.002


One = Callable[[], Awaitable[int]]
# How lifecycles are started: given n and one lifecycle, run them all, return the polls.
Drive = Callable[[int, One], Awaitable[int]]


def closed_loop(concurrency: int) -> Drive:
    """``concurrency`` workers, each starting the next lifecycle as soon as its last ended."""

    async def drive(n: int, one: One) -> int:
        left = n
        polls = 0

        async def worker() -> None:
            nonlocal left, polls
            while left > 0:
                left -= 1
                got = await one()
                polls += got

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return polls

    return drive


def open_loop(rate: float) -> Drive:
    """A new lifecycle every 1/rate seconds whatever the others do (a service under a steady
    load): both sides then idle and wake on the same schedule."""

    async def drive(n: int, one: One) -> int:
        t0 = time.monotonic()

        async def at(i: int) -> int:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            return await one()

        return sum(await asyncio.gather(*(at(i) for i in range(n))))

    return drive


async def sdk_lifecycles(
    base_url: str, api_key: str, n: int, drive: Drive, notes: dict[str, Any] | None = None
) -> int:
    """``n`` lifecycles through the SDK (create, await the task); returns polls sent.
    ``notes`` receives the duration window the client learned (mean, deviation)."""
    policy = PollPolicy(
        initial_interval=POLL_PAUSE,
        max_interval=POLL_PAUSE,
        multiplier=1.0,
        timeout=BENCH_TASK_TIMEOUT,
    )
    async with AIMusicClient(api_key, base_url, poll=policy) as client:

        async def one() -> int:
            task = await client.sonic.create(**CREATE_PARAMS)
            result = await task
            assert result.clips
            return task.polls

        polls = await drive(n, one)
        if notes is not None:
            window = getattr(runtime_of(client).estimates, "window", None)
            notes["learned_window_s"] = window("sonic.create") if window else None
        return polls


async def raw_lifecycles(
    base_url: str, api_key: str, n: int, drive: Drive, notes: dict[str, Any] | None = None
) -> int:
    """The same lifecycles by hand: aiohttp, json, a fixed pause, a terminal-state check."""
    headers = {"Authorization": f"Bearer {api_key}"}
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def one() -> int:
            async with session.post(f"{base_url}/api/v1/sonic/create", json=CREATE_PARAMS) as r:
                r.raise_for_status()
                task_id = (await r.json())["task_id"]
            polls = 0
            while True:
                await asyncio.sleep(POLL_PAUSE)
                async with session.get(f"{base_url}/api/v1/sonic/task/{task_id}") as r:
                    polls += 1
                    r.raise_for_status()
                    body = await r.json()
                clips = body.get("data") if r.status == 200 else None
                if isinstance(clips, list) and clips and all(c["state"] in TERMINAL for c in clips):
                    return polls

        return await drive(n, one)


Runner = Callable[..., Coroutine[Any, Any, int]]


def _measure(runner: Runner, emu: EmulatorProcess, n: int, drive: Drive) -> dict[str, Any]:
    gc.collect()
    before = emu.stats()
    notes: dict[str, Any] = {}
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    polls = asyncio.run(runner(emu.base_url, emu.api_key, n, drive, notes))
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    after = emu.stats()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "polls_client": polls,
        "creates_server": after["creates"] - before["creates"],
        "polls_server": after["polls"] - before["polls"],
        "requests_server": after["requests"] - before["requests"],
        **notes,
    }


def _compare(emu: EmulatorProcess, n: int, drive: Drive, reps: int) -> dict[str, Any]:
    """``reps`` alternating SDK / baseline runs; medians per 1000 lifecycles and the ratio."""
    sdk_runs, raw_runs = [], []
    for _ in range(reps):
        sdk_runs.append(_measure(sdk_lifecycles, emu, n, drive))
        raw_runs.append(_measure(raw_lifecycles, emu, n, drive))
    per_k = 1000.0 / n
    sdk_cpu = statistics.median(r["cpu_s"] for r in sdk_runs)
    raw_cpu = statistics.median(r["cpu_s"] for r in raw_runs)
    return {
        "sdk": {
            "cpu_s_per_1000": sdk_cpu * per_k,
            "wall_s": statistics.median(r["wall_s"] for r in sdk_runs),
            "runs": sdk_runs,
        },
        "baseline": {
            "cpu_s_per_1000": raw_cpu * per_k,
            "wall_s": statistics.median(r["wall_s"] for r in raw_runs),
            "runs": raw_runs,
        },
        "polls_per_task_sdk": sdk_runs[-1]["polls_server"] / n,
        "polls_per_task_baseline": raw_runs[-1]["polls_server"] / n,
        "ratio": sdk_cpu / raw_cpu,
    }


def run(
    *,
    n: int,
    concurrency: int,
    reps: int,
    seed: int,
    rate: float = 1000.0,
    profile: str | None = None,
) -> dict[str, Any]:
    """Closed loop at ``concurrency`` (the target's definition), then open loop at ``rate``
    lifecycles per second; each compared SDK vs baseline."""
    with EmulatorProcess(seed=seed, generation_time=[0.0, 0.0]) as emu:
        # Warm-up: imports, pydantic schemas, the emulator's first answers.
        _measure(sdk_lifecycles, emu, min(50, n), closed_loop(min(10, concurrency)))
        _measure(raw_lifecycles, emu, min(50, n), closed_loop(min(10, concurrency)))
        closed = _compare(emu, n, closed_loop(concurrency), reps)
        opened = _compare(emu, n, open_loop(rate), reps)
        profiled = _profiled(emu, n, concurrency, profile) if profile else None
    return {
        "n": n,
        "concurrency": concurrency,
        "reps": reps,
        "poll_pause_s": POLL_PAUSE,
        **closed,
        "open_loop": {"rate": rate, **opened},
        "profile": profiled,
    }


def _profiled(emu: EmulatorProcess, n: int, concurrency: int, out: str) -> str:
    """One more SDK run under cProfile timed by CPU (not wall) time; writes the functions with
    the most own CPU time, then the most cumulative, to ``out``."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    asyncio.run(sdk_lifecycles(emu.base_url, emu.api_key, n, closed_loop(concurrency)))
    profiler.disable()
    with open(out, "w", encoding="utf-8") as f:
        stats = pstats.Stats(profiler, stream=f)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
    return out
