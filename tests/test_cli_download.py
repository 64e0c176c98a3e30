"""``aimusic download URL`` against hostile file hosts: a refused download is one line on
stderr and a non-zero exit, never a traceback, a table of failures or a file left behind."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web

ServeApp = Callable[[web.Application], Awaitable[str]]


def hostile_host() -> web.Application:
    async def empty(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def brotli(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x8b\x02\x80hello", headers={"Content-Encoding": "br"})

    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"RIFF" + bytes(1000), content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/empty.wav", empty)
    app.router.add_get("/br.wav", brotli)
    app.router.add_get("/redirect.wav", redirect)
    app.router.add_get("/ok.wav", ok)
    return app


async def aimusic(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aimusic_async.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/empty.wav", "empty"),
        ("/br.wav", "content encoding 'br'"),
        ("/redirect.wav?to=OTHER", "redirect"),
    ],
)
async def test_a_refused_url_download_is_one_line_and_exit_1(
    serve_app: ServeApp, tmp_path: Path, path: str, words: str
) -> None:
    base = await serve_app(hostile_host())
    other = await serve_app(hostile_host())  # another loopback port
    url = base + path.replace("OTHER", quote(f"{other}/ok.wav", safe=""))
    out_dir = tmp_path / "out"
    code, out, err = await aimusic("download", url, "--out", str(out_dir))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "DownloadError" in lines[0]
    assert words in lines[0]
    assert out.strip() == ""  # no table of one failed row
    assert await asyncio.to_thread(os.listdir, out_dir) == []

    if words != "empty":
        return  # one JSON run is enough: each costs a process start
    code, out, err = await aimusic("download", url, "--out", str(out_dir), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["files"] == []
    (row,) = doc["errors"]
    assert row["url"] == base + path.split("?")[0]  # no query: it may be a signature
    assert row["error"]["type"] == "DownloadError"
    assert words in row["error"]["message"]
