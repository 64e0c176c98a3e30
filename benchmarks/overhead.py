"""Scenario 1: client CPU per complete task lifecycle, SDK vs a minimal aiohttp loop.

Instant generation (``generation_time=(0, 0)``), so each lifecycle is one create and, after the
same fixed tiny pause, one poll that returns the finished clips, on both sides. Both sides run
``concurrency`` workers that each take the next lifecycle until ``n`` are done. The measured
figure is this process's CPU time (``time.process_time``), which other load on the machine does
not inflate the way it inflates wall time. Runs alternate SDK / baseline ``reps`` times; the
median of each is compared, and their spread (min / median / max, coefficient of variation) is
reported for both sides: the SDK's own CPU per lifecycle has varied far more between identical
runs than the hand-written loop's.

Diagnostics (``diagnose``) re-run the closed-loop comparison under changed conditions, to find
where that variance comes from:

* ``instrumented``: each run on an event loop that counts its iterations (one selector call
  each), the selector calls that could block (the loop went idle), the timers and callbacks
  scheduled, plus the garbage collector's collections and the CPU time spent in them
  (``gc.callbacks``) and the process's context switches; each run's CPU is then set against
  its counts (correlation over the runs).
* ``gc_frozen``: ``gc.collect(); gc.freeze(); gc.disable()`` around the measured part of each
  run: what is left of the spread without the collector.
* ``seeded_jitter``: the SDK's poll-jitter random generator seeded identically before each SDK
  run (a private attribute, looked up tolerantly; skipped with a note when absent): whether
  the spread follows the random draws.
* ``pinned``: this process and the emulator pinned to one CPU each (``os.sched_setaffinity``):
  whether moving between cores (cold caches, another frequency) makes the spread.

Every run, main or diagnostic, also records its context switches and garbage collections.
``pooled`` then sets, over all closed-loop runs of each side (main and diagnostics), each run's
CPU against its wall time, its preemptions and (SDK) the finish window the client learned in
that run: the hand-written loop's schedule is fixed, the SDK's follows what it learned.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import importlib
import os
import pstats
import resource
import selectors
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import aiohttp

from aimusic_async import AIMusicClient, PollPolicy
from aimusic_async._client import runtime_of

from ._common import BENCH_TASK_TIMEOUT, CREATE_PARAMS, TERMINAL, cpu_seconds
from ._emulator import EmulatorProcess

__all__ = ["diagnose", "raw_lifecycles", "run", "sdk_lifecycles", "spread"]

T = TypeVar("T")

# The pause before each poll on both sides: long enough to be a real timer, short enough that
# the run is CPU-bound. Jitter aside, the SDK sleeps the same (multiplier 1, no growth).
POLL_PAUSE = 0.002
# The emulator's starting balance: no run may end on a 403 for want of credits.
CREDITS = 10**9


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


class _CountingSelector(selectors.DefaultSelector):
    """The loop's selector, counting its calls: one per loop iteration; those with a timeout
    other than 0 are iterations where the loop had nothing ready and could go idle."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.may_block = 0
        self.events = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.calls += 1
        if timeout is None or timeout > 0:
            self.may_block += 1
        ready = super().select(timeout)
        self.events += len(ready)
        return ready


class _CountingLoop(asyncio.SelectorEventLoop):
    """An ordinary selector event loop that counts iterations, timers and callbacks."""

    def __init__(self) -> None:
        self.counting_selector = _CountingSelector()
        super().__init__(self.counting_selector)
        self.timers = 0
        self.callbacks = 0

    def call_at(  # type: ignore[override]  # counts, then the same call
        self, when: float, callback: Callable[..., object], *args: Any, **kw: Any
    ) -> Any:
        self.timers += 1
        return super().call_at(when, callback, *args, **kw)

    def call_soon(  # type: ignore[override]  # counts, then the same call
        self, callback: Callable[..., object], *args: Any, **kw: Any
    ) -> Any:
        self.callbacks += 1
        return super().call_soon(callback, *args, **kw)

    def counts(self) -> dict[str, int]:
        sel = self.counting_selector
        return {
            "loop_iterations": sel.calls,
            "loop_idle_selects": sel.may_block,
            "loop_io_events": sel.events,
            "loop_timers": self.timers,
            "loop_callbacks": self.callbacks,
        }


def _run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a given loop (``asyncio.Runner`` takes a loop factory only from 3.11)."""
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class _GcTimer:
    """Collections per generation and the CPU seconds spent in them (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.collections = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.process_time()
        else:
            self.cpu_s += time.process_time() - self._t0
            self.collections[info["generation"]] += 1


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """No garbage collection inside: everything alive now moved out of the collector's sight."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _jitter_rng() -> Any:
    """The SDK's poll-jitter random generator (private; its module is being renamed), or None."""
    for name in ("aimusic_async._tasks", "aimusic_async.tasks"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        rng = getattr(module, "_jitter_rng", None)
        if rng is not None and hasattr(rng, "seed"):
            return rng
    return None


def _measure(
    runner: Runner,
    emu: EmulatorProcess,
    n: int,
    drive: Drive,
    *,
    instrument: bool = False,
    frozen: bool = False,
    seed_jitter: bool = False,
) -> dict[str, Any]:
    gc.collect()
    if seed_jitter and runner is sdk_lifecycles:
        rng = _jitter_rng()
        if rng is not None:
            rng.seed(1234)
    before = emu.stats()
    notes: dict[str, Any] = {}
    loop = _CountingLoop() if instrument else asyncio.new_event_loop()
    timer = _GcTimer()
    if instrument:
        gc.callbacks.append(timer)
    gc_before = [g["collections"] for g in gc.get_stats()]
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    try:
        with _gc_frozen() if frozen else contextlib.nullcontext():
            polls = _run_on(loop, runner(emu.base_url, emu.api_key, n, drive, notes))
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        if instrument:
            gc.callbacks.remove(timer)
    gc_after = [g["collections"] for g in gc.get_stats()]
    after = emu.stats()
    out: dict[str, Any] = {
        "cpu_s": cpu,
        "wall_s": wall,
        "polls_client": polls,
        "creates_server": after["creates"] - before["creates"],
        "polls_server": after["polls"] - before["polls"],
        "requests_server": after["requests"] - before["requests"],
        "voluntary_switches": usage1.ru_nvcsw - usage0.ru_nvcsw,
        "involuntary_switches": usage1.ru_nivcsw - usage0.ru_nivcsw,
        "gc_collections": [b - a for a, b in zip(gc_before, gc_after, strict=True)],
        **notes,
    }
    if instrument:
        assert isinstance(loop, _CountingLoop)
        out.update(loop.counts())
        out["gc_cpu_s"] = timer.cpu_s
    return out


def spread(values: Sequence[float]) -> dict[str, float]:
    """min / median / max, max over min, and the coefficient of variation (stdev / mean)."""
    vals = list(values)
    mean = statistics.fmean(vals)
    return {
        "min": min(vals),
        "median": statistics.median(vals),
        "max": max(vals),
        "max_over_min": max(vals) / min(vals) if min(vals) > 0 else float("nan"),
        "cv": statistics.stdev(vals) / mean if len(vals) > 1 and mean else 0.0,
    }


def _compare(
    emu: EmulatorProcess, n: int, drive: Drive, reps: int, **conditions: bool
) -> dict[str, Any]:
    """``reps`` alternating SDK / baseline runs; medians per 1000 lifecycles, the ratio, and
    the spread of each side's runs."""
    sdk_runs, raw_runs = [], []
    for _ in range(reps):
        sdk_runs.append(_measure(sdk_lifecycles, emu, n, drive, **conditions))
        raw_runs.append(_measure(raw_lifecycles, emu, n, drive, **conditions))
    per_k = 1000.0 / n
    sdk_cpu = statistics.median(r["cpu_s"] for r in sdk_runs)
    raw_cpu = statistics.median(r["cpu_s"] for r in raw_runs)
    return {
        "sdk": {
            "cpu_s_per_1000": sdk_cpu * per_k,
            "wall_s": statistics.median(r["wall_s"] for r in sdk_runs),
            "spread": spread([r["cpu_s"] * per_k for r in sdk_runs]),
            "runs": sdk_runs,
        },
        "baseline": {
            "cpu_s_per_1000": raw_cpu * per_k,
            "wall_s": statistics.median(r["wall_s"] for r in raw_runs),
            "spread": spread([r["cpu_s"] * per_k for r in raw_runs]),
            "runs": raw_runs,
        },
        "polls_per_task_sdk": sdk_runs[-1]["polls_server"] / n,
        "polls_per_task_baseline": raw_runs[-1]["polls_server"] / n,
        "ratio": sdk_cpu / raw_cpu,
    }


def _correlations(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Per lifecycle: the mean of each count over the runs, and its correlation with CPU."""
    keys = (
        "loop_iterations",
        "loop_idle_selects",
        "loop_timers",
        "loop_callbacks",
        "voluntary_switches",
        "involuntary_switches",
        "gc_cpu_s",
        "wall_s",
    )
    cpu = [r["cpu_s"] for r in runs]
    out: dict[str, Any] = {}
    for key in keys:
        vals = [float(r[key]) for r in runs if key in r]
        if len(vals) != len(runs):
            continue
        corr = None
        if len(vals) > 2 and len(set(vals)) > 1 and len(set(cpu)) > 1:
            corr = statistics.correlation(cpu, vals)
        out[key] = {"per_lifecycle": statistics.fmean(vals) / n, "corr_with_cpu": corr}
    gc_share = [r["gc_cpu_s"] / r["cpu_s"] for r in runs if "gc_cpu_s" in r and r["cpu_s"]]
    if gc_share:
        out["gc_share_of_cpu"] = statistics.fmean(gc_share)
    return out


def _corr(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def pooled(groups: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Over every closed-loop run of every group (the main comparison and each diagnostic), per
    side: how the run's CPU goes with its wall time, its preemptions and (SDK) the finish window
    it learned. The baseline's schedule is fixed (a 2 ms pause); the SDK's follows that window."""
    out: dict[str, Any] = {"pause_ms": POLL_PAUSE * 1000}
    for side in ("sdk", "baseline"):
        runs = [r for g in groups if side in g for r in g[side]["runs"]]
        cpu = [r["cpu_s"] for r in runs]
        row: dict[str, Any] = {
            "runs": len(runs),
            "corr_cpu_wall": _corr(cpu, [r["wall_s"] for r in runs]),
            "corr_cpu_preemptions": _corr(cpu, [float(r["involuntary_switches"]) for r in runs]),
        }
        windows = [r.get("learned_window_s") for r in runs]
        if runs and all(windows):
            means = [w[0] for w in windows if w]
            row["learned_window_ms"] = {"min": min(means) * 1000, "max": max(means) * 1000}
            row["corr_cpu_window"] = _corr(cpu, means)
            row["corr_wall_window"] = _corr([r["wall_s"] for r in runs], means)
        out[side] = row
    return out


def diagnose(emu: EmulatorProcess, n: int, concurrency: int, reps: int) -> dict[str, Any]:
    """The closed-loop comparison again under each diagnostic condition (see the module doc)."""
    drive = closed_loop(concurrency)
    out: dict[str, Any] = {}
    inst = _compare(emu, n, drive, reps, instrument=True)
    inst["sdk"]["counts"] = _correlations(inst["sdk"]["runs"], n)
    inst["baseline"]["counts"] = _correlations(inst["baseline"]["runs"], n)
    out["instrumented"] = inst
    out["gc_frozen"] = _compare(emu, n, drive, reps, frozen=True)
    if _jitter_rng() is None:
        out["seeded_jitter"] = {"skipped": "the SDK's poll-jitter generator was not found"}
    else:
        out["seeded_jitter"] = _compare(emu, n, drive, reps, seed_jitter=True)
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cpus = sorted(os.sched_getaffinity(0))
        mine = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {cpus[0]})
            os.sched_setaffinity(emu.pid, {cpus[1]})
            out["pinned"] = _compare(emu, n, drive, reps)
            out["pinned"]["cpus"] = {"client": cpus[0], "emulator": cpus[1]}
        finally:
            os.sched_setaffinity(0, mine)
            with contextlib.suppress(OSError):
                os.sched_setaffinity(emu.pid, mine)
    else:
        out["pinned"] = {"skipped": "fewer than two CPUs to pin to"}
    return out


def run(
    *,
    n: int,
    concurrency: int,
    reps: int,
    seed: int,
    rate: float = 1000.0,
    profile: str | None = None,
    diagnostics: bool = True,
) -> dict[str, Any]:
    """Closed loop at ``concurrency`` (the target's definition), then open loop at ``rate``
    lifecycles per second; each compared SDK vs baseline; then the variance diagnostics."""
    # The diagnostics send five times the lifecycles of the comparisons: more than the
    # emulator's default balance pays for.
    with EmulatorProcess(seed=seed, generation_time=[0.0, 0.0], initial_credits=CREDITS) as emu:
        # Warm-up: imports, pydantic schemas, the emulator's first answers.
        _measure(sdk_lifecycles, emu, min(50, n), closed_loop(min(10, concurrency)))
        _measure(raw_lifecycles, emu, min(50, n), closed_loop(min(10, concurrency)))
        closed = _compare(emu, n, closed_loop(concurrency), reps)
        opened = _compare(emu, n, open_loop(rate), reps)
        diag = diagnose(emu, n, concurrency, reps) if diagnostics else None
        if diag is not None:
            diag["pooled"] = pooled([closed, *(v for v in diag.values() if "sdk" in v)])
        profiled = _profiled(emu, n, concurrency, profile) if profile else None
    return {
        "n": n,
        "concurrency": concurrency,
        "reps": reps,
        "poll_pause_s": POLL_PAUSE,
        **closed,
        "open_loop": {"rate": rate, **opened},
        "diagnostics": diag,
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
