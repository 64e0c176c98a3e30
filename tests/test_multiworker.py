"""The cross-process proof: a FastAPI app run by ``uvicorn --workers 2`` on loopback, each worker
with its own client on one shared Redis hub and the SDK's receiver mounted; the emulator posts
callbacks to the app's public URL, which the kernel hands to either worker. 50 concurrent song
requests all resolve with 0 polls, also those whose callback landed in the other worker. With
Redis killed mid-run every request still resolves (by polling) within its wait.

The app is tests/_multiworker_app.py (uvicorn's workers import it by name)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ._redis import free_port

ROOT = Path(__file__).resolve().parents[1]
N_REQUESTS = 50
WORKERS = 2
SECRET = "multiworker-secret"
# The wait each song request allows (the app's PollPolicy.timeout); every request must end
# well within it.
WAIT = 20.0
# Importing the app and starting two workers takes a second or two; a loaded machine more.
STARTUP_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uvicorn workers, POSIX signals")


@contextlib.asynccontextmanager
async def service(emu: Any, redis_url: str, namespace: str, folder: Path) -> AsyncIterator[str]:
    """``uvicorn --workers 2`` serving the app on a free loopback port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ready = folder / "ready"
    ready.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    env.update(
        AIMUSIC_MW_BASE_URL=emu.base_url,
        AIMUSIC_MW_API_KEY=emu.api_key,
        AIMUSIC_MW_SECRET=SECRET,
        AIMUSIC_MW_REDIS_URL=redis_url,
        AIMUSIC_MW_NAMESPACE=namespace,
        AIMUSIC_MW_PUBLIC_URL=f"{base}/hooks/aimusic",
        AIMUSIC_MW_READY_DIR=str(ready),
        AIMUSIC_MW_WAIT=str(WAIT),
    )
    log = folder / "uvicorn.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "tests._multiworker_app:app",
            "--workers", str(WORKERS), "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink,
            start_new_session=True,  # its own process group: the clean-up reaches the workers
        )  # fmt: skip
    try:
        for _ in range(int(STARTUP_TIMEOUT / 0.05)):
            if proc.returncode is not None or len(os.listdir(ready)) >= WORKERS:
                break
            await asyncio.sleep(0.05)
        assert len(os.listdir(ready)) >= WORKERS, log.read_text()[-3000:]
        yield base
    finally:
        if proc.returncode is None:
            proc.terminate()  # uvicorn's master stops its workers
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


@contextlib.asynccontextmanager
async def song_requests(base: str, n: int) -> AsyncIterator[asyncio.Future[list[Any]]]:
    """``n`` concurrent song requests, each on its own connection (so the kernel spreads them
    over the workers); yields the future of their answers, bounded by the wait and a margin."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True),
        timeout=aiohttp.ClientTimeout(total=WAIT + 20),
    ) as session:

        async def one(i: int) -> dict[str, Any]:
            async with session.post(f"{base}/songs", params={"prompt": f"song {i}"}) as resp:
                assert resp.status == 200, await resp.text()
                body: dict[str, Any] = await resp.json()
                return body

        answers = asyncio.gather(*(one(i) for i in range(n)))
        try:
            yield answers
        finally:
            if not answers.done():
                answers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answers


async def test_fifty_songs_across_two_workers_resolve_without_a_poll(
    emulator_factory: Callable[..., Awaitable[Any]],
    redis_url: str,
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    emu = await emulator_factory(generation_time=(0.2, 0.6))
    async with (
        service(emu, redis_url, redis_namespace, tmp_path) as base,
        song_requests(base, N_REQUESTS) as pending,
    ):
        answers = await asyncio.wait_for(pending, WAIT + 30)

    assert len(answers) == N_REQUESTS
    assert all("error" not in a and a["clips"] == 2 for a in answers), answers
    assert len({a["task_id"] for a in answers}) == emu.stats.creates == N_REQUESTS
    assert emu.stats.polls == 0
    per_worker = collections.Counter(a["pid"] for a in answers)
    crossed = sum(1 for a in answers if not a["callback_here"])
    print(
        f"\nuvicorn --workers {WORKERS}, shared Redis hub: {len(answers)}/{N_REQUESTS} resolved, "
        f"songs per worker {sorted(per_worker.values())}, callbacks that landed in the other "
        f"worker {crossed}, polls {emu.stats.polls}, webhooks sent {emu.stats.webhooks_sent}"
    )
    assert len(per_worker) == WORKERS  # both workers served songs
    assert crossed > 0  # and some results reached their waiter from the other process


async def test_with_redis_killed_mid_run_every_song_still_resolves_by_polling(
    emulator_factory: Callable[..., Awaitable[Any]],
    redis_process: Callable[[], Awaitable[Any]],
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    emu = await emulator_factory(generation_time=(1.0, 2.0))
    redis = await redis_process()
    async with (
        service(emu, redis.url, redis_namespace, tmp_path) as base,
        song_requests(base, N_REQUESTS) as pending,
    ):
        for _ in range(400):  # every start has been accepted: the waits are under way
            if emu.stats.creates >= N_REQUESTS:
                break
            await asyncio.sleep(0.025)
        assert emu.stats.creates == N_REQUESTS
        await asyncio.to_thread(redis.kill)
        answers = await asyncio.wait_for(pending, WAIT + 30)

    assert len(answers) == N_REQUESTS
    # Every request resolved within its wait (a timeout would answer with "error").
    assert all("error" not in a and a["clips"] == 2 for a in answers), answers
    assert emu.stats.creates == N_REQUESTS
    assert emu.stats.polls > 0  # Redis faults cost polls, never results
    print(
        f"\nuvicorn --workers {WORKERS}, Redis killed once every song had started: "
        f"{len(answers)}/{N_REQUESTS} resolved, polls {emu.stats.polls} "
        f"({emu.stats.polls / N_REQUESTS:.1f} per song), webhooks sent {emu.stats.webhooks_sent},"
        f" failed {emu.stats.webhooks_failed}"
    )
