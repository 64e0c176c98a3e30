"""Scenario 3: resident memory per task in flight.

Runs in a fresh child process (``python -m benchmarks.memory``) so memory that earlier scenarios
freed cannot be reused and hide growth. The child opens a client, warms the connection pool with
a few tasks, reads RSS (after ``gc.collect()``), then starts ``n`` tasks against an emulator whose
tasks take an hour, each awaited by its own asyncio task (the way a service awaits them), and
reads RSS again once every task is started and waiting. The polling policy waits an hour before
the first poll, so nothing polls during the measurement. Growth / n is the cost of one
in-flight task: its ``Task`` handle, the awaiting coroutine and asyncio task, its timer.

The floor: the same number of bare asyncio tasks each awaiting ``asyncio.sleep(3600)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aimusic_async import AIMusicClient, PollPolicy

from ._common import CREATE_PARAMS, rss_bytes
from ._emulator import EmulatorProcess

__all__ = ["run"]

HOUR = 3600.0
# Starts in flight at once while filling up: enough to keep the emulator busy.
START_CONCURRENCY = 64
WARMUP_TASKS = 200


async def _sdk(base_url: str, api_key: str, n: int) -> dict[str, Any]:
    policy = PollPolicy(initial_interval=HOUR, max_interval=HOUR, multiplier=1.0, timeout=2 * HOUR)
    async with AIMusicClient(api_key, base_url, poll=policy) as client:
        waiters: list[asyncio.Task[Any]] = []

        async def start(count: int) -> None:
            left = count

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    task = await client.sonic.create(**CREATE_PARAMS)
                    waiters.append(asyncio.ensure_future(task.wait()))

            await asyncio.gather(*(worker() for _ in range(START_CONCURRENCY)))
            await asyncio.sleep(0.2)  # let every waiter reach its sleep

        await start(WARMUP_TASKS)
        before = rss_bytes()
        t0 = time.perf_counter()
        await start(n)
        fill_s = time.perf_counter() - t0
        after = rss_bytes()
        pending = sum(1 for w in waiters if not w.done())
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return {
        "rss_before": before,
        "rss_after": after,
        "bytes_per_task": (after - before) / n,
        "waiting": pending - WARMUP_TASKS,
        "fill_s": fill_s,
    }


async def _bare(n: int) -> dict[str, Any]:
    warm = [asyncio.ensure_future(asyncio.sleep(HOUR)) for _ in range(WARMUP_TASKS)]
    await asyncio.sleep(0.05)
    before = rss_bytes()
    tasks = [asyncio.ensure_future(asyncio.sleep(HOUR)) for _ in range(n)]
    await asyncio.sleep(0.05)
    after = rss_bytes()
    for t in warm + tasks:
        t.cancel()
    await asyncio.gather(*warm, *tasks, return_exceptions=True)
    return {"rss_before": before, "rss_after": after, "bytes_per_task": (after - before) / n}


def _child(mode: str, n: int, base_url: str, api_key: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["AIMUSIC_API_KEY"] = api_key  # not on the command line, where ps would show it
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", mode, str(n), base_url],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed: {proc.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(*, n: int, seed: int) -> dict[str, Any]:
    """Run the scenario in child processes; returns per-task bytes for the SDK and the floor."""
    with EmulatorProcess(seed=seed, generation_time=[HOUR, HOUR]) as emu:
        sdk = _child("sdk", n, emu.base_url, emu.api_key)
    bare = _child("bare", n, "", "")
    return {"n": n, "sdk": sdk, "bare_asyncio_task": bare}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("mode", choices=("sdk", "bare"))
    parser.add_argument("n", type=int)
    parser.add_argument("base_url")
    args = parser.parse_args()
    if args.mode == "sdk":
        key = os.environ["AIMUSIC_API_KEY"]
        result = asyncio.run(_sdk(args.base_url, key, args.n))
    else:
        result = asyncio.run(_bare(args.n))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
