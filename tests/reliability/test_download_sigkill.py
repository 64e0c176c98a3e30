"""Downloads killed with SIGKILL mid-body leave a hidden part file behind (nothing can stop
that); the next download into the same folder removes the stale ones that are ours, and
nothing else."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async import _constants as C

ServeApp = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
CHILD = Path(__file__).with_name("_download_child.py")
BODY = bytes(range(256)) * 1024  # 256 KiB
KILLS = 3
# Bounds on waiting for the child (it needs about half a second to import).
CHILD_START_TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def file_host() -> web.Application:
    async def stall(request: web.Request) -> web.StreamResponse:
        """Promise 8 MiB, send 2 MiB, then wait for the client to go away."""
        resp = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        resp.content_length = 8 * 1024 * 1024
        await resp.prepare(request)
        for _ in range(8):
            await resp.write(BODY)
        # Polled: aiohttp offers no event for a client that went away.
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return resp

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(body=BODY, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/stall/{name}", stall)
    app.router.add_get("/ok/{name}", ok)
    return app


def hidden_parts(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(".") and n.endswith(".part"))


async def kill_mid_body(url: str, folder: Path) -> None:
    """Start a child downloading ``url`` into ``folder``; SIGKILL it once its part file exists."""
    before = set(await asyncio.to_thread(hidden_parts, folder))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        url,
        str(folder),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHILD_START_TIMEOUT
        while set(await asyncio.to_thread(hidden_parts, folder)) == before:
            assert proc.returncode is None, (await proc.communicate())[1].decode()[-2000:]
            assert loop.time() < deadline, "the child never started writing"
            await asyncio.sleep(0.02)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.communicate(), CHILD_START_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL


async def test_killed_downloads_part_files_are_swept_by_the_next_download(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = await serve_app(file_host())
    folder = tmp_path / "out"
    await asyncio.to_thread(folder.mkdir)
    for i in range(KILLS):
        await kill_mid_body(f"{base}/stall/song{i}.wav", folder)
    parts = await asyncio.to_thread(hidden_parts, folder)
    assert len(parts) == KILLS  # SIGKILL leaves them: nothing in the process can run

    # Files that are not ours, some with names close to ours, all older than any threshold.
    foreign = {
        "notes.part": b"mine",
        ".song0.wav.part": b"another tool's",
        ".song0.wav.0123456789ab.part": b"looks like an old temp name, but who knows",
        "song0.wav.aimusic-0123456789ab.part": b"not hidden: not ours",
        ".song0.wav.aimusic-0123456789AB.part": b"not our spelling",
        ".song0.wav.aimusic-0123456789ab.part.bak": b"a backup of one",
        "song.wav": b"a finished file",
    }

    def plant() -> None:
        old = time.time() - 7 * 24 * 3600
        for name, data in foreign.items():
            (folder / name).write_bytes(data)
            os.utime(folder / name, (old, old))
        (folder / ".dir.aimusic-0123456789ab.part").mkdir()  # a folder with our kind of name
        os.utime(folder / ".dir.aimusic-0123456789ab.part", (old, old))
        # The killed downloads' files: a minute old, which is stale only under the patched age.
        minute_ago = time.time() - 60
        for name in parts:
            os.utime(folder / name, (minute_ago, minute_ago))

    await asyncio.to_thread(plant)
    monkeypatch.setattr(C, "DOWNLOAD_STALE_PART_AGE", 1.0)

    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    saved = await client.download(f"{base}/ok/fresh.wav", str(folder) + os.sep)

    def listing() -> dict[str, bytes | None]:
        return {p.name: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.iterdir())}

    after = await asyncio.to_thread(listing)
    assert not set(parts) & set(after)  # every stale part file of ours is gone
    for name, data in foreign.items():
        assert after[name] == data, name  # and nothing else was touched
    assert ".dir.aimusic-0123456789ab.part" in after
    assert after[saved.name] == BODY
    assert set(after) == {*foreign, ".dir.aimusic-0123456789ab.part", saved.name}


async def test_fresh_part_files_survive_the_sweep(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    # Under the default age, a part file written a minute ago may be a live download of another
    # process: it stays. One untouched for longer than the age goes.
    base = await serve_app(file_host())
    fresh = tmp_path / ".live.wav.aimusic-00112233aabb.part"
    stale = tmp_path / ".dead.wav.aimusic-ffeeddccbbaa.part"

    def plant() -> None:
        for path, age in ((fresh, 60.0), (stale, C.DOWNLOAD_STALE_PART_AGE + 60.0)):
            path.write_bytes(b"partial")
            then = time.time() - age
            os.utime(path, (then, then))

    await asyncio.to_thread(plant)
    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    await client.download(f"{base}/ok/a.wav", tmp_path)
    names = await asyncio.to_thread(os.listdir, tmp_path)
    assert sorted(names) == sorted([fresh.name, "a.wav"])


async def test_a_slow_live_download_of_this_process_is_never_swept(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # However old its part file looks, a download still running here keeps it.
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        resp.content_length = 2 * len(BODY)
        await resp.prepare(request)
        await resp.write(BODY)
        started.set()
        await release.wait()
        await resp.write(BODY)
        await resp.write_eof()
        return resp

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(body=BODY, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/slow/{name}", slow)
    app.router.add_get("/ok/{name}", ok)
    base = await serve_app(app)
    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    monkeypatch.setattr(C, "DOWNLOAD_STALE_PART_AGE", 1.0)
    slow_job = asyncio.ensure_future(client.download(f"{base}/slow/slow.wav", tmp_path))
    await asyncio.wait_for(started.wait(), 10)
    (part,) = await asyncio.to_thread(hidden_parts, tmp_path)

    def age_it() -> None:
        then = time.time() - 7200
        os.utime(tmp_path / part, (then, then))

    await asyncio.to_thread(age_it)
    await client.download(f"{base}/ok/other.wav", tmp_path)
    assert await asyncio.to_thread(hidden_parts, tmp_path) == [part]
    release.set()
    path = await asyncio.wait_for(slow_job, 10)
    assert await asyncio.to_thread(path.read_bytes) == BODY * 2
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == ["other.wav", "slow.wav"]


async def test_a_folder_is_swept_once_per_interval_not_before_every_download(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch writes thousands of files into one folder: scanning it before every download
    # would cost quadratic time. A part file turning stale between two downloads is swept by
    # the first download after the interval, not by the very next one.
    base = await serve_app(file_host())
    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    await client.download(f"{base}/ok/first.wav", tmp_path)  # sweeps the (empty) folder
    stale = tmp_path / ".dead.wav.aimusic-ffeeddccbbaa.part"

    def plant() -> None:
        stale.write_bytes(b"partial")
        then = time.time() - C.DOWNLOAD_STALE_PART_AGE - 60
        os.utime(stale, (then, then))

    await asyncio.to_thread(plant)
    await client.download(f"{base}/ok/second.wav", tmp_path)
    assert await asyncio.to_thread(stale.exists)  # within the interval: not scanned again

    monkeypatch.setattr(C, "DOWNLOAD_SWEEP_INTERVAL", 0.0)
    await client.download(f"{base}/ok/third.wav", tmp_path)
    assert not await asyncio.to_thread(stale.exists)  # past it: swept
