"""Downloads (atomic, retried, never carrying the key) and the safe file names they use."""

from __future__ import annotations

import asyncio
import os
import stat
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from blockbuster import blockbuster_ctx
from hypothesis import given, settings
from hypothesis import strategies as st

from aimusic_async import AIMusicClient, Clip, DownloadError
from aimusic_async._constants import FILENAME_MAX
from aimusic_async._filenames import clip_filename, numbered, safe_filename, url_extension

ServeApp = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
CANARY = "sk-canary-4a7f1c2e9b"

HOSTILE = [
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "..",
    ".",
    "/",
    "C:\\boot.ini",
    "／etc／shadow",  # fullwidth solidus
    "name\x00with nul",
    "line\nbreak\r\ttab\x1b[31m",
    "evil\u202ewav.exe",  # right-to-left override
    "   .hidden",
    "trailing dots...",
    "CON",
    "con.wav",
    "LPT1",
    "COM¹",
    "x" * 10_000,
    "é" * 500,
    "",
    "\u2028\u2029",
]


def _check(name: str) -> None:
    assert name
    assert "/" not in name
    assert "\\" not in name
    assert ".." not in name
    assert not name.startswith((".", " "))
    assert not name.endswith((".", " "))
    assert len(name.encode("utf-8")) <= FILENAME_MAX
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
    assert not any(c in '<>:"|?*' for c in name)
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "LPT1", "COM1"}


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles(title: str, tmp_path: Path) -> None:
    name = safe_filename(title)
    _check(name)
    target = (tmp_path / name).resolve()
    assert target.parent == tmp_path.resolve()
    full = clip_filename(title, "abc-123", ".wav")
    _check(full)
    assert full.endswith(" [abc-123].wav") or full == "abc-123.wav"
    assert (tmp_path / full).resolve().parent == tmp_path.resolve()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_safe_name(title: str) -> None:
    _check(safe_filename(title))
    _check(clip_filename(title, "id", ".mp3"))


def test_readable_titles_survive() -> None:
    assert safe_filename("Starry Night") == "Starry Night"
    assert safe_filename("Café del Mar — Remix") == "Café del Mar — Remix"
    assert clip_filename("Starry Night", "26c9", ".wav") == "Starry Night [26c9].wav"
    assert clip_filename(None, "26c9", ".wav") == "26c9.wav"


def test_numbered_and_extensions() -> None:
    assert numbered("song.wav", 1) == "song.wav"
    assert numbered("song.wav", 2) == "song (2).wav"
    long = numbered("x" * FILENAME_MAX + ".wav", 12)
    assert long.endswith(" (12).wav")
    assert len(long.encode()) <= FILENAME_MAX + 4
    assert url_extension("https://cdn/a/b.WAV?sig=1") == ".wav"
    assert url_extension("https://cdn/a/b") == ".mp3"
    assert url_extension("https://cdn/a/b.exe%2F..%2Fx") == ".mp3"
    assert clip_filename("t", "id", "../../x") == "t [id].mp3"


# -- downloads against a scripted file host --------------------------------------------------------
class FileHost:
    """A CDN stand-in: serves BODY at /f/<name>, misbehaving as told by ``plan`` (one step per
    request, the last repeats): "ok", "truncate", "503", "404", "stall"."""

    BODY = bytes(range(256)) * 16384  # 4 MiB: many chunks, several batched writes

    def __init__(self, plan: list[str]) -> None:
        self.plan = plan
        self.requests = 0
        self.auth_seen: list[str] = []
        self.stalled = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        step = self.plan[min(self.requests, len(self.plan) - 1)]
        self.requests += 1
        for name in ("Authorization", "Proxy-Authorization"):
            if name in request.headers:
                self.auth_seen.append(request.headers[name])
        if step in ("503", "404"):
            return web.Response(status=int(step), text="no")
        resp = web.StreamResponse()
        resp.content_length = len(self.BODY)
        resp.content_type = "audio/wav"
        await resp.prepare(request)
        if step == "ok":
            await resp.write(self.BODY)
            await resp.write_eof()
            return resp
        await resp.write(self.BODY[: len(self.BODY) // 3])
        if step == "stall":
            self.stalled.set()
            await asyncio.sleep(30)
        assert request.transport is not None
        request.transport.close()  # drop the connection mid-body
        return resp

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/f/{name}", self.handle)
        return app


async def _setup(
    serve_app: ServeApp, client_factory: ClientFactory, plan: list[str], **kw: Any
) -> tuple[FileHost, str, AIMusicClient]:
    host = FileHost(plan)
    cdn = await serve_app(host.app())
    api = await serve_app(web.Application())  # the API's origin differs from the file host's
    client = await client_factory(api, CANARY, **kw)
    return host, cdn, client


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_clip_download_is_exact_named_and_keyless(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    host, cdn, client = await _setup(serve_app, client_factory, ["ok"])
    clip = Clip(clip_id="c-1", title="../../Night Drive", audio_url=f"{cdn}/f/c-1.wav?sig=abc")
    with blockbuster_ctx():  # no file system call may run on the event loop
        path = await client.download(clip, tmp_path)
    assert path == tmp_path.resolve() / "_._Night Drive [c-1].wav"  # noqa: ASYNC240
    assert path.read_bytes() == FileHost.BODY
    assert _listing(tmp_path) == [path.name]
    assert host.auth_seen == []
    if os.name == "posix":  # a finished file gets the usual mode, not the temp file's 0600
        mask = os.umask(0)
        os.umask(mask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
async def test_file_mode_follows_the_umask_of_the_moment(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _host, cdn, client = await _setup(serve_app, client_factory, ["ok"])

    def no_umask(mask: int) -> int:
        raise AssertionError("reading the umask means setting it: a race with other threads")

    # Set after the SDK was imported, as a daemon sets its umask at start-up.
    old = os.umask(0o027)
    try:
        with monkeypatch.context() as mp:
            mp.setattr(os, "umask", no_umask)
            path = await client.download(f"{cdn}/f/song.wav", tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert _listing(tmp_path) == ["song.wav"]  # and no temporary file left behind


async def test_collisions_are_numbered_or_overwritten(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    _host, cdn, client = await _setup(serve_app, client_factory, ["ok"])
    url = f"{cdn}/f/song.wav"
    first = await client.download(url, tmp_path)
    second = await client.download(url, tmp_path)
    third = await client.download(url, tmp_path, overwrite=True)
    assert (first.name, second.name, third.name) == ("song.wav", "song (2).wav", "song.wav")
    explicit = tmp_path / "sub" / "mine.bin"
    assert await client.download(url, explicit) == explicit.resolve()
    with pytest.raises(FileExistsError):
        await client.download(url, explicit)
    assert explicit.read_bytes() == FileHost.BODY


async def test_transient_failures_are_retried_with_backoff(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, fake_clock: Any
) -> None:
    host, cdn, client = await _setup(serve_app, client_factory, ["503", "truncate", "ok"])
    path = await client.download(f"{cdn}/f/a.wav", tmp_path, retries=3)
    assert path.read_bytes() == FileHost.BODY
    assert host.requests == 3
    assert len(fake_clock.sleeps) == 2
    assert all(s > 0 for s in fake_clock.sleeps)
    assert _listing(tmp_path) == ["a.wav"]


@pytest.mark.parametrize(("plan", "requests"), [(["truncate"], 3), (["404"], 1), (["503"], 3)])
async def test_failure_leaves_no_file(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    fake_clock: Any,
    plan: list[str],
    requests: int,
) -> None:
    host, cdn, client = await _setup(serve_app, client_factory, plan)
    with pytest.raises(DownloadError) as info:
        await client.download(f"{cdn}/f/a.wav?token=secret", tmp_path, retries=2)
    assert host.requests == requests
    assert _listing(tmp_path) == []  # no partial file, no temporary file
    assert "secret" not in str(info.value)  # signed query strings stay out of messages
    assert CANARY not in str(info.value)


async def test_cancelled_download_removes_its_temporary_file(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    host, cdn, client = await _setup(serve_app, client_factory, ["stall"])
    job = asyncio.ensure_future(client.download(f"{cdn}/f/a.wav", tmp_path))
    await asyncio.wait_for(host.stalled.wait(), 5)
    for _ in range(50):  # the first third of the body has reached the temporary file
        if _listing(tmp_path):
            break
        await asyncio.sleep(0.01)
    assert len(_listing(tmp_path)) == 1
    assert _listing(tmp_path)[0].endswith(".part")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert _listing(tmp_path) == []


async def test_a_session_with_credentials_never_leaks_them(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {CANARY}"}) as session:
        host, cdn, client = await _setup(serve_app, client_factory, ["ok"], session=session)
        await client.download(f"{cdn}/f/a.wav", tmp_path)
    assert host.requests == 1
    assert host.auth_seen == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.mp3", "javascript:alert(1)", "/x.wav"]
)
async def test_only_http_urls(
    url: str, serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    _host, _cdn, client = await _setup(serve_app, client_factory, ["ok"])
    with pytest.raises(ValueError, match="http"):
        await client.download(url, tmp_path)
    with pytest.raises(ValueError, match="audio_url"):
        await client.download(Clip(clip_id="x"), tmp_path)
    assert os.listdir(tmp_path) == []


async def test_emulator_cdn_faults_are_retried_and_titles_stay_inside(
    emulator_factory: Callable[..., Awaitable[Any]],
    client_factory: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aimusic_async._download as dl

    monkeypatch.setattr(dl, "_backoff", lambda attempt: 0.001)  # keep the retries quick
    emu = await emulator_factory(
        generation_time=(0.02, 0.05), cdn_error_rate=0.3, cdn_truncate_rate=0.3, seed=5
    )
    client = await client_factory(emu.base_url, emu.api_key)
    hostile = "../../..\\\\CON\u202e.wav\x00"
    tasks = [
        await client.sonic.create(
            mv="sonic-v5", custom_mode=True, prompt="la la", title=hostile, tags="pop"
        )
        for _ in range(4)
    ]
    paths = []
    for task in tasks:
        result = await task
        for clip in result.succeeded:
            path = await client.download(clip, tmp_path, retries=8)
            assert path.read_bytes() == emu.audio_bytes(clip.clip_id)
            paths.append(path)
    assert emu.stats.cdn_errors + emu.stats.cdn_truncated > 0  # faults did happen
    assert emu.stats.cdn_requests_with_auth == 0
    assert sorted(_listing(tmp_path)) == sorted(p.name for p in paths)
    assert all(p.parent == tmp_path.resolve() for p in paths)  # noqa: ASYNC240


async def test_errors_never_show_credentials_or_signatures_of_the_url(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    _host, cdn, client = await _setup(serve_app, client_factory, ["404"])
    url = cdn.replace("http://", "http://user:pw-canary-81c2@") + "/f/x.wav?sig=sig-canary#frag"
    with pytest.raises(DownloadError) as caught:
        await client.download(url, tmp_path)
    for text in (str(caught.value), caught.value.url):
        assert "pw-canary" not in text
        assert "sig-canary" not in text
        assert "frag" not in text
    assert caught.value.url == f"{cdn}/f/x.wav"
    assert caught.value.status == 404
