"""Scenario 3: resident memory per task in flight.

Runs in a fresh child process (``python -m benchmarks.memory``) so memory that earlier scenarios
freed cannot be reused and hide growth. The child opens a client, warms the connection pool with
a few tasks, reads RSS (after ``gc.collect()``), then starts ``n`` tasks against an emulator whose
tasks take an hour, each awaited by its own asyncio task (the way a service awaits them), and
reads RSS again once every task is started and waiting. The polling policy waits an hour before
the first poll, so nothing polls during the measurement. Growth / n is the cost of one
in-flight task: its ``Task`` handle, the awaiting coroutine and asyncio task, its timer.

The floor: the same number of bare asyncio tasks each awaiting ``asyncio.sleep(3600)``; the
ratio SDK / floor is the target's figure (within 2x).

Where the bytes go: the same run once more with ``tracemalloc`` on, in a third child with a fifth
of the tasks (at least 100, at most 2,000; tracing slows allocation and costs memory itself, so
it never feeds the RSS figures). The difference between a snapshot after the warm-up and one
with every task waiting, per task, grouped three ways: by the allocating line, by the innermost
SDK line on the allocation's stack (what to change in the SDK), and by file. The same for the
bare asyncio tasks, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import linecache
import os
import subprocess
import sys
import time
import tracemalloc
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
# One waiting SDK task may cost at most this many bare asyncio tasks awaiting a sleep.
RATIO_TARGET = 2.0
# Stack depth tracemalloc keeps per allocation: deep enough to reach the SDK frame behind an
# allocation made inside asyncio or aiohttp.
TRACE_FRAMES = 8
TOP = 10
# Tasks in the traced run: tracing is slow and allocations per task repeat exactly, so a fifth
# of n (within these bounds) gives the same per-task figures.
TRACE_MIN, TRACE_MAX = 100, 2000
_SDK_DIR = os.sep + "aimusic_async" + os.sep


def _short(filename: str) -> str:
    """A path as a reader knows it: from the package directory on (site-packages dropped)."""
    for marker, keep in (
        (_SDK_DIR, "aimusic_async/"),
        (os.sep + "site-packages" + os.sep, ""),
        (os.sep + "benchmarks" + os.sep, "benchmarks/"),
    ):
        _, sep, tail = filename.rpartition(marker)
        if sep:
            return keep + tail
    return os.path.basename(filename)


def _rows(
    pairs: dict[str, tuple[int, int]], n: int, where: dict[str, tuple[str, int]] | None = None
) -> list[dict[str, Any]]:
    top = sorted(pairs.items(), key=lambda kv: -kv[1][0])[:TOP]
    rows: list[dict[str, Any]] = []
    for key, (size, count) in top:
        row: dict[str, Any] = {
            "where": key,
            "bytes_per_task": size / n,
            "blocks_per_task": count / n,
        }
        if where and key in where:
            row["code"] = linecache.getline(*where[key]).strip()
        rows.append(row)
    return rows


def _breakdown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int) -> dict[str, Any]:
    """Growth per task between two snapshots: by line, by innermost SDK line, by file."""
    by_line: dict[str, tuple[int, int]] = {}
    by_sdk: dict[str, tuple[int, int]] = {}
    by_file: dict[str, tuple[int, int]] = {}
    source: dict[str, tuple[str, int]] = {}
    total = 0
    for diff in after.compare_to(before, "traceback"):
        if not diff.size_diff:
            continue
        total += diff.size_diff
        frames = list(diff.traceback)  # oldest first
        top = frames[-1]
        line = f"{_short(top.filename)}:{top.lineno}"
        sdk = next((f for f in reversed(frames) if _SDK_DIR in f.filename), None)
        owner = f"{_short(sdk.filename)}:{sdk.lineno}" if sdk else f"(no SDK frame) {line}"
        source[line] = (top.filename, top.lineno)
        if sdk is not None:
            source[owner] = (sdk.filename, sdk.lineno)
        for table, key in ((by_line, line), (by_sdk, owner), (by_file, _short(top.filename))):
            size, count = table.get(key, (0, 0))
            table[key] = (size + diff.size_diff, count + diff.count_diff)
    return {
        "traced_bytes_per_task": total / n,
        "by_line": _rows(by_line, n, source),
        "by_sdk_line": _rows(by_sdk, n, source),
        "by_file": _rows(by_file, n),
    }


async def _sdk(base_url: str, api_key: str, n: int, trace: bool = False) -> dict[str, Any]:
    if trace:
        tracemalloc.start(TRACE_FRAMES)
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
        snap0 = tracemalloc.take_snapshot() if trace else None
        t0 = time.perf_counter()
        await start(n)
        fill_s = time.perf_counter() - t0
        after = rss_bytes()
        snap1 = tracemalloc.take_snapshot() if trace else None
        pending = sum(1 for w in waiters if not w.done())
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    out: dict[str, Any] = {
        "rss_before": before,
        "rss_after": after,
        "bytes_per_task": (after - before) / n,
        "waiting": pending - WARMUP_TASKS,
        "fill_s": fill_s,
    }
    if snap0 is not None and snap1 is not None:
        out["tracemalloc"] = _breakdown(snap0, snap1, n)
    return out


async def _bare(n: int, trace: bool = False) -> dict[str, Any]:
    if trace:
        tracemalloc.start(TRACE_FRAMES)
    warm = [asyncio.ensure_future(asyncio.sleep(HOUR)) for _ in range(WARMUP_TASKS)]
    await asyncio.sleep(0.05)
    before = rss_bytes()
    snap0 = tracemalloc.take_snapshot() if trace else None
    tasks = [asyncio.ensure_future(asyncio.sleep(HOUR)) for _ in range(n)]
    await asyncio.sleep(0.05)
    after = rss_bytes()
    snap1 = tracemalloc.take_snapshot() if trace else None
    for t in warm + tasks:
        t.cancel()
    await asyncio.gather(*warm, *tasks, return_exceptions=True)
    out: dict[str, Any] = {
        "rss_before": before,
        "rss_after": after,
        "bytes_per_task": (after - before) / n,
    }
    if snap0 is not None and snap1 is not None:
        out["tracemalloc"] = _breakdown(snap0, snap1, n)
    return out


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
    trace_n = min(TRACE_MAX, max(TRACE_MIN, n // 5))
    with EmulatorProcess(seed=seed, generation_time=[HOUR, HOUR]) as emu:
        sdk = _child("sdk", n, emu.base_url, emu.api_key)
        traced = _child("sdk-trace", trace_n, emu.base_url, emu.api_key)
    bare = _child("bare", n, "", "")
    bare_traced = _child("bare-trace", trace_n, "", "")
    bare_bytes = bare["bytes_per_task"]
    return {
        "n": n,
        "traced_n": trace_n,
        "sdk": sdk,
        "bare_asyncio_task": bare,
        "ratio": sdk["bytes_per_task"] / bare_bytes if bare_bytes > 0 else None,
        "ratio_target": RATIO_TARGET,
        "breakdown": {
            "sdk": traced.get("tracemalloc"),
            "bare_asyncio_task": bare_traced.get("tracemalloc"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("mode", choices=("sdk", "sdk-trace", "bare", "bare-trace"))
    parser.add_argument("n", type=int)
    parser.add_argument("base_url")
    args = parser.parse_args()
    trace = args.mode.endswith("-trace")
    if args.mode.startswith("sdk"):
        key = os.environ["AIMUSIC_API_KEY"]
        result = asyncio.run(_sdk(args.base_url, key, args.n, trace))
    else:
        result = asyncio.run(_bare(args.n, trace))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
