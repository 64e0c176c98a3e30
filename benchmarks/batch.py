"""Scenario 2: a batch of jobs under a create rate limit, wall time vs the lower bound.

The emulator draws each task's generation time from ``gen`` (scaled: the default 0.5-2 s stands
for 50-200 s at ``scale`` 0.01) and lets ``rate`` starts per second through (token bucket of
``burst``). The lower bound is computed afterwards from the generation times the emulator drew:
the i-th accepted start cannot come before ``max(0, i - burst + 1) / rate`` seconds, and its task
cannot finish before that plus its generation time, so no client can finish the batch sooner
than the maximum over all tasks. (``max(jobs / rate, longest generation)`` is reported too.)

Runs: the SDK's ``client.batch`` with its default adaptive polling scaled by ``scale``; and the
official sync client ``musicapi-sdk`` (when installed) in a thread pool of the same size,
polling at its documented default (every 5 s, first poll immediate) scaled the same way.
Each run gets a fresh emulator with the same seed.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import gc
import threading
import time
from typing import Any

from aimusic_async import AIMusicClient
from aimusic_async._client import runtime_of
from aimusic_async.batch import Job

from ._common import CREATE_PARAMS, TERMINAL, cpu_seconds, scaled_policy
from ._emulator import EmulatorProcess

__all__ = ["lower_bound", "run"]

# The official client's default poll interval (PollOptions.poll_interval_ms = 5000).
OFFICIAL_POLL_INTERVAL = 5.0
# How often the SDK run records its start limiter's rate (seconds).
RATE_SAMPLE_EVERY = 0.5


def lower_bound(timings: list[dict[str, Any]], rate: float, burst: float) -> float:
    """Earliest possible end of the batch (seconds after its start) for these generation times."""
    gens = [t["done"] - t["created"] for t in timings]
    first = int(burst) - 1
    return float(max(max(0, i - first) / rate + g for i, g in enumerate(gens)))


def _bounds(
    res: dict[str, Any],
    timings: list[dict[str, Any]],
    stats: dict[str, int],
    n: int,
    rate: float,
    burst: float,
) -> dict[str, Any]:
    """Lower bound, ratio and server counters of one run; no ratio unless every job finished
    (a bound over fewer tasks would flatter a client that dropped jobs)."""
    bound = lower_bound(timings, rate, burst) if timings else float("nan")
    complete = res["finished"] == n
    # Where the time above the bound went: starting (the last accepted start vs the earliest it
    # could be) and noticing (the batch's end vs the last task's finish on the server).
    last_start = max((t["created"] for t in timings), default=float("nan")) - res["t0"]
    last_done = max((t["done"] for t in timings), default=float("nan")) - res["t0"]
    return {
        "last_start_s": last_start,
        "earliest_last_start_s": max(0.0, n - burst) / rate,
        "last_done_s": last_done,
        "tail_lag_s": res["wall_s"] - last_done,
        "lower_bound_s": bound,
        "ratio": res["wall_s"] / bound if complete else None,
        "polls_per_task": stats["polls"] / max(1, stats["creates"]),
        "rate_limited": stats["rate_limited"],
        "creates": stats["creates"],
    }


def _emulator(seed: int, gen: tuple[float, float], rate: float, burst: float) -> EmulatorProcess:
    return EmulatorProcess(
        seed=seed,
        generation_time=list(gen),
        create_rate_limit=rate,
        create_rate_burst=burst,
    )


async def _sdk(
    base_url: str, api_key: str, n: int, concurrency: int, scale: float
) -> dict[str, Any]:
    jobs = [
        Job(key=f"job-{i}", operation="sonic.create", params=dict(CREATE_PARAMS)) for i in range(n)
    ]
    finished = failed = 0
    trace: list[tuple[float, float | None]] = []
    async with AIMusicClient(api_key, base_url, poll=scaled_policy(scale)) as client:
        limiter = runtime_of(client).transport.limiter

        async def sample() -> None:
            # The adaptive start limiter's pace over time: where a batch loses time to it.
            while True:
                trace.append((round(time.monotonic() - t0, 2), limiter.rate))
                await asyncio.sleep(RATE_SAMPLE_EVERY)

        t0 = time.monotonic()
        sampler = asyncio.ensure_future(sample())
        try:
            async for outcome in client.batch(jobs, concurrency=concurrency):
                if outcome.ok:
                    finished += 1
                else:
                    failed += 1
            end = time.monotonic()
        finally:
            sampler.cancel()
    rates = [r for _, r in trace if r is not None]
    return {
        "t0": t0,
        "wall_s": end - t0,
        "finished": finished,
        "failed": failed,
        "limiter_rate_mean": sum(rates) / len(rates) if rates else None,
        "limiter_trace": [(t, None if r is None else round(r, 2)) for t, r in trace],
    }


class _Pacer:
    """A thread-safe "one start every 1/rate seconds" gate: what a careful user adds around a
    sync client that knows the account's rate limit."""

    def __init__(self, rate: float | None) -> None:
        self._gap = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._gap:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._gap
        if slot > now:
            time.sleep(slot - now)


def _official(
    base_url: str, api_key: str, n: int, threads: int, interval: float, pace: float | None
) -> dict[str, Any]:
    """The same jobs through musicapi-sdk's HTTP layer (its retries, backoff and connection
    pool) in a thread pool: create, then poll every ``interval`` seconds (first poll immediate,
    as its poll loop does) until every clip is terminal.

    Its public ``sonic.create`` / ``generate_and_wait`` cannot be used as they are: see
    ``_official_public_methods``."""
    from musicapi import MusicAPI

    client = MusicAPI(api_key=api_key, base_url=f"{base_url}/api/v1")
    http = client._http  # the official client's own transport
    errors: list[str] = []
    lock = threading.Lock()
    pacer = _Pacer(pace)

    slowest = [0.0]

    def one(_: int) -> bool:
        began = time.monotonic()
        try:
            pacer.wait()
            _, body = http.request("POST", "/sonic/create", body=dict(CREATE_PARAMS))
            task_id = body["task_id"]
            while True:
                status, body = http.request("GET", f"/sonic/task/{task_id}")
                clips = body.get("data") if status == 200 and isinstance(body, dict) else None
                if isinstance(clips, list) and clips and all(c["state"] in TERMINAL for c in clips):
                    return True
                time.sleep(interval)
        except Exception as exc:  # counted, not raised: one failed job must not stop the rest
            with lock:
                errors.append(f"{type(exc).__name__}({getattr(exc, 'code', '')})")
            return False
        finally:
            with lock:
                slowest[0] = max(slowest[0], time.monotonic() - began)

    try:
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            ok = sum(pool.map(one, range(n)))
        end = time.monotonic()
    finally:
        client.close()
    return {
        "t0": t0,
        "wall_s": end - t0,
        "finished": ok,
        "failed": n - ok,
        "errors": dict(collections.Counter(errors)),
        # One slow job stretches the whole run (httpx's 60 s timeout, then its retry).
        "slowest_job_s": slowest[0],
    }


def _official_public_methods(base_url: str, api_key: str, tries: int = 5) -> dict[str, Any]:
    """What the official client's public one-call path does against the documented answers.

    ``sonic.create`` builds ``TaskSubmitResponse(**body)`` and the documented create answer has
    a ``code`` key it does not declare; ``generate_and_wait`` stops at the first ``code == 200``
    answer, which the API also sends while the task is still running."""
    from musicapi import MusicAPI, PollOptions, SonicCreateParams

    client = MusicAPI(api_key=api_key, base_url=f"{base_url}/api/v1")
    outcomes: list[str] = []
    try:
        for _ in range(tries):
            try:
                result = client.sonic.generate_and_wait(
                    SonicCreateParams(**CREATE_PARAMS),
                    options=PollOptions(poll_interval_ms=20, timeout_ms=30_000),
                )
            except Exception as exc:
                outcomes.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                continue
            states = [c.state for c in result.data]
            done = bool(states) and all(s in TERMINAL for s in states)
            outcomes.append("finished" if done else f"returned early: clips {states}")
    finally:
        client.close()
    return {"generate_and_wait": sorted(set(outcomes))}


def _official_available() -> bool:
    try:
        import musicapi  # noqa: F401
    except ImportError:
        return False
    return True


def run(
    *,
    n: int,
    concurrency: int,
    rate: float,
    burst: float,
    gen: tuple[float, float],
    scale: float,
    seed: int,
) -> dict[str, Any]:
    """Run the scenario (SDK, then the official client when installed)."""
    out: dict[str, Any] = {
        "n": n,
        "concurrency": concurrency,
        "rate": rate,
        "burst": burst,
        "generation_time": list(gen),
        "scale": scale,
    }
    with _emulator(seed, gen, rate, burst) as emu:
        gc.collect()
        cpu0 = cpu_seconds()
        sdk = asyncio.run(_sdk(emu.base_url, emu.api_key, n, concurrency, scale))
        sdk["cpu_s"] = cpu_seconds() - cpu0
        timings = emu.timings()
        stats = emu.stats()
    sdk.update(_bounds(sdk, timings, stats, n, rate, burst))
    sdk["simple_bound_s"] = max(n / rate, gen[1])
    out["sdk"] = sdk
    if not _official_available():
        out["official"] = {"skipped": "musicapi-sdk is not installed (pip install -e '.[bench]')"}
        return out
    interval = OFFICIAL_POLL_INTERVAL * scale
    # As a user would drive it (a thread pool, its own 429 retries), and with a hand-written
    # pacer at the known rate (the best a sync client can do here).
    try:
        for name, pace in (("official", None), ("official_paced", rate)):
            with _emulator(seed, gen, rate, burst) as emu:
                gc.collect()
                cpu0 = cpu_seconds()
                res = _official(emu.base_url, emu.api_key, n, concurrency, interval, pace)
                res["cpu_s"] = cpu_seconds() - cpu0
                timings = emu.timings()
                stats = emu.stats()
            res.update(_bounds(res, timings, stats, n, rate, burst))
            res["poll_interval_s"] = interval
            out[name] = res
        with EmulatorProcess(seed=seed, generation_time=list(gen)) as emu:
            out["official"]["public_methods"] = _official_public_methods(emu.base_url, emu.api_key)
    except Exception as exc:  # another musicapi-sdk version: report, do not fail the whole run
        reason = f"musicapi-sdk could not be driven: {type(exc).__name__}: {exc}"
        out.setdefault("official", {"skipped": reason})
        out.setdefault("official_paced", {"skipped": reason})
    return out
