"""Downloads with hostile titles and URLs: nothing is written outside the destination folder,
nothing but http(s) is ever fetched (redirects included), and failures are typed."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import os
import shutil
import subprocess
import unicodedata
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from aimusic_async import AIMusicClient, Clip, ConfigurationError, DownloadError
from aimusic_async._constants import FILENAME_MAX
from aimusic_async._filenames import clip_filename, safe_filename

ServeApp = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
AUDIO = b"RIFF" + bytes(range(256)) * 8

HOSTILE_TITLES = [
    "../../../../etc/passwd",
    "..\\..\\..\\Windows\\System32\\evil",
    "/etc/cron.d/evil",
    "C:\\boot.ini",
    "\\\\server\\share\\x",
    "a/../../b",
    "..",
    ".",
    "...",
    ".hidden",
    "ends with dot.",
    "nul\x00byte",
    "line\nbreak\rreturn\ttab\x1b[31mred",
    "evil\u202ewav.exe",
    "\u2044fraction\uff0ffullwidth\u2215division",
    "CON",
    "con.mp3",
    "LPT1",
    "\ud7ff" * 3,
    "x" * 10_000,
    "é" * 5_000,
    "   ",
    "",
    "~/.ssh/authorized_keys",
    "$(rm -rf ~)",
    "%2e%2e%2fetc",
]
TITLE_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
title_text = st.one_of(
    st.text(TITLE_CHARS, max_size=300),
    st.lists(
        st.sampled_from(["..", "/", "\\", ".", "\x00", "\u202e", "CON", "a", " "]), max_size=30
    ).map("".join),
    st.sampled_from(HOSTILE_TITLES),
)


def inside(folder: str, name: str) -> bool:
    """Joined with the folder, the name is one entry directly inside it."""
    joined = os.path.normpath(os.path.join(folder, name))
    return os.path.dirname(joined) == folder and os.path.basename(joined) == name


@settings(max_examples=500, deadline=None)
@given(title_text, st.text(TITLE_CHARS, min_size=1, max_size=60))
def test_names_from_titles_stay_one_safe_component(title: str, clip_id: str) -> None:
    for name in (safe_filename(title), clip_filename(title, clip_id, ".mp3")):
        assert name
        assert "/" not in name
        assert "\\" not in name
        assert "\x00" not in name
        assert not name.startswith((".", " "))
        assert ".." not in name
        assert len(name.encode("utf-8")) <= FILENAME_MAX
        # No control, format (bidi overrides), surrogate, private-use or line-separator chars.
        bad = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
        assert not [ch for ch in name if unicodedata.category(ch) in bad], repr(name)
        assert inside("/sandbox/out", name)
        assert inside("C:\\out".replace("\\", "/"), name)


def cdn_app(hits: list[str]) -> web.Application:
    async def serve(request: web.Request) -> web.StreamResponse:
        hits.append(request.path_qs)
        assert "Authorization" not in request.headers
        target = request.query.get("to")
        if request.path == "/loop.mp3":
            raise web.HTTPFound(location="/loop.mp3")
        if target is not None:
            raise web.HTTPFound(location=target)
        return web.Response(body=AUDIO, content_type="audio/mpeg")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    return app


async def listing(root: Path) -> list[Path]:
    def walk() -> list[Path]:
        return sorted(p for p in root.rglob("*"))

    return await asyncio.to_thread(walk)


async def test_hostile_titles_write_only_inside_the_destination(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    hits: list[str] = []
    base = await serve_app(cdn_app(hits))
    client = await client_factory(base, "sk-dl")
    sandbox = tmp_path / "sandbox"
    dest = sandbox / "inner" / "out"
    paths = []
    for i, title in enumerate(HOSTILE_TITLES):
        clip = Clip(clip_id=f"clip-{i}", title=title, audio_url=f"{base}/audio/{i}.mp3")
        paths.append(await client.download(clip, str(dest) + os.sep))
    out = dest.resolve()
    for path in paths:
        assert path.parent == out, path
        assert path.read_bytes() == AUDIO
    # Nothing else anywhere under the sandbox, or beside it.
    assert await listing(sandbox) == sorted([sandbox / "inner", dest, *paths])
    assert sorted(p.name for p in await listing(tmp_path)) == sorted(
        ["sandbox", "inner", "out", *(p.name for p in paths)]
    )
    assert len({p.name for p in paths}) == len(HOSTILE_TITLES)  # the clip id keeps them apart


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2Fevil.mp3",
        "/files/%2e%2e",
        "/files/..%5C..%5Cevil.wav",
        "/files/%00.mp3",
        "/files/.bashrc",
        "/files/",
        "/files/a%2Fb%2F..%2F..%2F..%2Fc.sh",
    ],
)
async def test_names_from_url_paths_stay_inside(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, path: str
) -> None:
    hits: list[str] = []
    base = await serve_app(cdn_app(hits))
    client = await client_factory(base, "sk-dl")
    dest = tmp_path / "out"
    saved = await client.download(base + path, str(dest) + os.sep)
    assert saved.parent == dest.resolve()
    assert not saved.name.startswith(".")
    assert await listing(tmp_path) == [dest, saved]


NON_HTTP = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "ftp://127.0.0.1/song.mp3",
    "gopher://127.0.0.1:70/x",
    "javascript:alert(1)",
    "data:audio/mpeg;base64,AAAA",
    "//127.0.0.1/song.mp3",
    "http:///no-host.mp3",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "",
]


@pytest.mark.parametrize("url", NON_HTTP)
async def test_non_http_urls_are_refused_before_any_io(
    client_factory: ClientFactory, tmp_path: Path, url: str
) -> None:
    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    with pytest.raises(ValueError, match="http"):
        await client.download(url, str(tmp_path / "out") + os.sep)
    with pytest.raises(ValueError, match=r"http|no audio_url"):
        await client.download(Clip(clip_id="c", audio_url=url), str(tmp_path / "out") + os.sep)
    assert await listing(tmp_path) == []


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x.mp3",
        "data:audio/mpeg;base64,AAAA",
        "javascript:alert(1)",
    ],
)
async def test_redirects_to_other_schemes_are_not_followed(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, target: str
) -> None:
    hits: list[str] = []
    base = await serve_app(cdn_app(hits))
    client = await client_factory(base, "sk-dl")
    with pytest.raises(DownloadError):
        await client.download(f"{base}/song.mp3?to={target}", str(tmp_path / "out") + os.sep)
    assert await listing(tmp_path / "out") == []
    assert len(hits) == 1  # not retried either: a bad redirect is not a transient failure


async def test_redirect_loops_end_in_a_typed_error(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    hits: list[str] = []
    base = await serve_app(cdn_app(hits))
    client = await client_factory(base, "sk-dl")
    with pytest.raises(DownloadError):
        await client.download(f"{base}/loop.mp3", str(tmp_path) + "/")
    assert 1 < len(hits) <= 20  # aiohttp's redirect bound, and no retry on top
    assert [p for p in await listing(tmp_path) if p.is_file()] == []


# -- a file host that misbehaves on purpose --------------------------------------------------------
class HostileCDN:
    """Routes that each break one promise of a file host. ``served`` counts body bytes written
    per path, so a test can see that a refused body was not read to its end."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.served: dict[str, int] = {}
        self.auth_seen: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path_qs)
        if "Authorization" in request.headers:
            self.auth_seen.append(request.headers["Authorization"])
        name = request.match_info["name"]
        handler = getattr(self, "route_" + name.replace("-", "_"))
        result: web.StreamResponse = await handler(request)
        return result

    async def route_ok(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=AUDIO, content_type="audio/mpeg")

    async def route_empty204(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def route_empty200(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200, body=b"", content_type="audio/mpeg")

    async def route_empty_chunked(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write_eof()
        return resp

    async def route_encoded(self, request: web.Request) -> web.StreamResponse:
        """The body in ``?enc=`` (gzip, deflate, raw-deflate, br, gzip-corrupt), ignoring the
        client's ``Accept-Encoding: identity`` as some CDNs do."""
        enc = request.query["enc"]
        size = int(request.query.get("size", len(AUDIO)))
        plain = (AUDIO * (size // len(AUDIO) + 1))[:size]
        if enc == "gzip":
            body, header = gzip.compress(plain), "gzip"
        elif enc == "deflate":
            body, header = zlib.compress(plain), "deflate"
        elif enc == "raw-deflate":
            packer = zlib.compressobj(wbits=-15)
            body, header = packer.compress(plain) + packer.flush(), "deflate"
        elif enc == "gzip-corrupt":
            body, header = b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10, "gzip"
        elif enc == "gzip-cut":  # a valid stream cut short, with a Content-Length that matches
            body, header = gzip.compress(plain)[:-20], "gzip"
        else:
            body, header = os.urandom(200), enc
        return web.Response(
            body=body, headers={"Content-Encoding": header, "Content-Type": "audio/mpeg"}
        )

    async def route_big(self, request: web.Request) -> web.StreamResponse:
        """``?size=N`` bytes of zeros, with ``Content-Length`` when ``?cl=1`` (else chunked)."""
        size = int(request.query["size"])
        resp = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        if request.query.get("cl") == "1":
            resp.content_length = size
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = bytes(256 * 1024)
        sent = 0
        try:
            while sent < size:
                n = min(len(chunk), size - sent)
                await resp.write(chunk[:n])
                sent += n
                self.served["big"] = sent
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what a refusal looks like from here
        return resp

    async def route_redirect(self, request: web.Request) -> web.StreamResponse:
        status = int(request.query.get("code", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def route_hops(self, request: web.Request) -> web.StreamResponse:
        """``/f/hops?n=3`` redirects (same origin, relative) n times, then serves AUDIO."""
        n = int(request.query["n"])
        if n == 0:
            return web.Response(body=AUDIO, content_type="audio/mpeg")
        return web.Response(status=302, headers={"Location": f"/f/hops?n={n - 1}"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/f/{name}", self.handle)
        return app


async def hostile_setup(
    serve_app: ServeApp, client_factory: ClientFactory
) -> tuple[HostileCDN, str, AIMusicClient]:
    cdn = HostileCDN()
    base = await serve_app(cdn.app())
    api = await serve_app(web.Application())  # the API is another origin than the file host
    client = await client_factory(api, "sk-canary-dl-77e1")
    return cdn, base, client


async def files_in(folder: Path) -> list[str]:
    def names() -> list[str]:
        return sorted(os.listdir(folder)) if folder.exists() else []

    return await asyncio.to_thread(names)


@pytest.mark.parametrize("route", ["empty204", "empty200", "empty-chunked"])
async def test_an_empty_body_is_refused_not_saved(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, route: str
) -> None:
    cdn, base, client = await hostile_setup(serve_app, client_factory)
    with pytest.raises(DownloadError, match="empty") as caught:
        await client.download(f"{base}/f/{route}", tmp_path)
    assert await files_in(tmp_path) == []  # no 0-byte file, no temporary file
    assert len(cdn.hits) == 1  # the server meant it: not retried
    assert caught.value.status in (200, 204)


@pytest.mark.parametrize("enc", ["gzip", "deflate", "raw-deflate"])
async def test_gzip_and_deflate_answers_are_decoded(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, enc: str
) -> None:
    _cdn, base, client = await hostile_setup(serve_app, client_factory)
    path = await client.download(f"{base}/f/encoded?enc={enc}", tmp_path / "song.mp3")
    assert path.read_bytes() == AUDIO
    assert await files_in(tmp_path) == ["song.mp3"]


@pytest.mark.parametrize(
    ("enc", "words"),
    [
        ("br", "content encoding 'br'"),
        ("x-unheard-of", "content encoding 'x-unheard-of'"),
        ("gzip-corrupt", "gzip"),
        ("gzip-cut", "gzip"),
    ],
)
async def test_unknown_or_broken_encodings_are_refused_by_name(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, enc: str, words: str
) -> None:
    cdn, base, client = await hostile_setup(serve_app, client_factory)
    with pytest.raises(DownloadError) as caught:
        await client.download(f"{base}/f/encoded?enc={enc}", tmp_path, retries=0)
    assert words in str(caught.value)
    assert "truncated" not in str(caught.value)
    assert await files_in(tmp_path) == []
    assert len(cdn.hits) == 1


async def test_a_gzip_bomb_is_measured_after_decoding(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    # 4 MiB that compress to a few KiB: the limit is on what would land on disk.
    _cdn, base, client = await hostile_setup(serve_app, client_factory)
    url = f"{base}/f/encoded?enc=gzip&size={4 * 1024 * 1024}"
    with pytest.raises(DownloadError, match="larger than") as caught:
        await client.download(url, tmp_path, max_bytes=1024 * 1024)
    assert "1048576" in str(caught.value)
    assert await files_in(tmp_path) == []


async def test_the_size_limit_refuses_from_content_length_before_the_body(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    from aimusic_async._constants import DOWNLOAD_MAX_BYTES

    cdn, base, client = await hostile_setup(serve_app, client_factory)
    size = 300 * 1024 * 1024  # above the default limit, which applies without being asked
    assert size > DOWNLOAD_MAX_BYTES
    with pytest.raises(DownloadError, match="larger than") as caught:
        await client.download(f"{base}/f/big?cl=1&size={size}", tmp_path)
    assert str(DOWNLOAD_MAX_BYTES) in str(caught.value)
    assert await files_in(tmp_path) == []
    assert len(cdn.hits) == 1  # a definite answer: not retried
    # Refused from the header: the server got no further than its socket buffers.
    assert cdn.served.get("big", 0) < 64 * 1024 * 1024


@pytest.mark.parametrize("declared", [True, False])
async def test_the_size_limit_stops_a_stream_once_over(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path, declared: bool
) -> None:
    cdn, base, client = await hostile_setup(serve_app, client_factory)
    cl = "1" if declared else "0"
    # Exactly the limit is fine; one byte more is not.
    ok = await client.download(f"{base}/f/big?cl={cl}&size=300000", tmp_path, max_bytes=300_000)
    assert ok.stat().st_size == 300_000
    with pytest.raises(DownloadError, match="larger than"):
        await client.download(
            f"{base}/f/big?cl={cl}&size={64 * 1024 * 1024}", tmp_path, max_bytes=300_000
        )
    assert await files_in(tmp_path) == [ok.name]
    assert cdn.served["big"] < 32 * 1024 * 1024


async def test_max_bytes_none_lifts_the_limit_and_bad_values_fail_before_io(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    cdn, base, client = await hostile_setup(serve_app, client_factory)
    path = await client.download(f"{base}/f/big?cl=1&size=5000", tmp_path, max_bytes=None)
    assert path.stat().st_size == 5000
    for bad in (0, -1):
        with pytest.raises(ConfigurationError, match="max_bytes"):
            await client.download(f"{base}/f/ok", tmp_path / "x", max_bytes=bad)
    assert len(cdn.hits) == 1


# -- redirects -------------------------------------------------------------------------------------
async def test_same_origin_redirects_are_followed_within_a_bound(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    from aimusic_async._constants import DOWNLOAD_MAX_REDIRECTS

    cdn, base, client = await hostile_setup(serve_app, client_factory)
    path = await client.download(f"{base}/f/hops?n={DOWNLOAD_MAX_REDIRECTS}", tmp_path / "a.mp3")
    assert path.read_bytes() == AUDIO
    cdn.hits.clear()
    with pytest.raises(DownloadError, match="redirects"):
        await client.download(f"{base}/f/hops?n={DOWNLOAD_MAX_REDIRECTS + 1}", tmp_path / "b")
    assert len(cdn.hits) == DOWNLOAD_MAX_REDIRECTS + 1  # and never retried
    assert await files_in(tmp_path) == ["a.mp3"]


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["other-port", "localhost", "ip-other-port"])
async def test_redirects_to_another_local_origin_are_refused(
    serve_app: ServeApp,
    client_factory: ClientFactory,
    tmp_path: Path,
    code: int,
    where: str,
) -> None:
    cdn, base, client = await hostile_setup(serve_app, client_factory)
    other = HostileCDN()
    other_base = await serve_app(other.app())  # another loopback port: an internal service
    port = other_base.rsplit(":", 1)[1]
    target = {
        "other-port": f"{other_base}/f/ok",
        "localhost": f"http://localhost:{port}/f/ok",
        "ip-other-port": f"http://127.0.0.2:{port}/f/ok?secret=sig-canary",
    }[where]
    with pytest.raises(DownloadError, match="redirect") as caught:
        await client.download(
            f"{base}/f/redirect?code={code}&to={quote(target, safe='')}", tmp_path
        )
    assert other.hits == []  # the request never left for the other origin
    assert len(cdn.hits) == 1
    assert "sig-canary" not in str(caught.value)
    assert await files_in(tmp_path) == []


async def test_redirects_to_public_hosts_need_https_and_never_downgrade() -> None:
    # The rule itself, for hosts a test may not contact (names resolve through a table here):
    # a CDN may hand over to another host (signed storage URLs do), but only over https, never
    # from https to http, and never to a loopback, private or link-local address unless that
    # is the very origin the caller asked for.
    from aimusic_async._download import _redirect_refusal

    table = {
        "cdn1.example.com": ["93.184.215.14"],
        "cdn2.example.net": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "rebound.example.org": ["93.184.215.15", "10.1.2.3"],  # one internal answer is enough
        "localhost": ["127.0.0.1", "::1"],
    }

    async def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(a) for a in table[host]]

    async def refusal(origin: str, target: str, current: str | None = None) -> str | None:
        return await _redirect_refusal(
            URL(origin), URL(current or origin), URL(target), resolve=resolve
        )

    assert await refusal("https://cdn1.example.com/a", "https://cdn2.example.net/b") is None
    assert await refusal("http://cdn1.example.com/a", "https://cdn1.example.com/a") is None
    assert await refusal("http://cdn1.example.com/a", "http://cdn1.example.com/b") is None
    assert await refusal("http://127.0.0.1:81/a", "http://127.0.0.1:81/b") is None
    # The caller chose a loopback host; hops that come back to it are fine.
    assert (
        await refusal("http://127.0.0.1:81/a", "http://127.0.0.1:81/c", "https://cdn1.example.com")
        is None
    )
    assert await refusal("http://cdn1.example.com/a", "http://cdn2.example.net/b")
    assert await refusal("https://cdn1.example.com/a", "http://cdn1.example.com/a")
    assert await refusal("https://cdn1.example.com/a", "https://rebound.example.org/a")
    for internal in (
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://10.0.0.8/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://localhost/x",
        "https://sub.localhost/x",
    ):
        assert await refusal("https://cdn1.example.com/a", internal), internal
    assert await refusal("http://127.0.0.1:81/a", "http://127.0.0.1:82/a")  # another port
    assert await refusal("http://127.0.0.1:81/a", "http://localhost:81/a")  # another host name


async def test_loopback_hosts_and_the_emulator_cdn_still_work_keyless(
    emulator_factory: Callable[..., Awaitable[Any]],
    client_factory: ClientFactory,
    serve_app: ServeApp,
    tmp_path: Path,
) -> None:
    # The emulator's own CDN (127.0.0.1) redirecting within itself is followed, keyless.
    emu = await emulator_factory()
    client = await client_factory(emu.base_url, emu.api_key)
    task = await client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x")
    clip = (await task).succeeded[0]
    assert clip.audio_url
    cdn = HostileCDN()
    base = await serve_app(cdn.app())
    # A file host on loopback that hands over to the same origin is fine...
    path = await client.download(f"{base}/f/hops?n=2", tmp_path / "a.mp3")
    assert path.read_bytes() == AUDIO
    # ...and the emulator's CDN serves its clips directly.
    saved = await client.download(clip, tmp_path)
    assert saved.read_bytes() == emu.audio_bytes(clip.clip_id)
    assert cdn.auth_seen == []
    assert emu.stats.cdn_requests_with_auth == 0


# -- destinations ----------------------------------------------------------------------------------
async def test_an_existing_destination_is_refused_before_downloading(
    serve_app: ServeApp, client_factory: ClientFactory, tmp_path: Path
) -> None:
    from aimusic_async import DestinationExistsError

    cdn, base, client = await hostile_setup(serve_app, client_factory)
    dest = tmp_path / "mine.mp3"
    await asyncio.to_thread(dest.write_bytes, b"keep me")
    with pytest.raises(DestinationExistsError) as caught:
        await client.download(f"{base}/f/ok", dest)
    assert isinstance(caught.value, FileExistsError)  # existing except clauses keep working
    assert isinstance(caught.value, DownloadError)
    assert str(dest) in str(caught.value)
    assert ".part" not in str(caught.value)
    assert "overwrite" in str(caught.value)
    assert cdn.hits == []  # nothing was downloaded for nothing
    assert await asyncio.to_thread(dest.read_bytes) == b"keep me"
    assert await files_in(tmp_path) == ["mine.mp3"]
    await client.download(f"{base}/f/ok", dest, overwrite=True)
    assert await asyncio.to_thread(dest.read_bytes) == AUDIO


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot create files in (chmod for users, chattr +i for root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    locked_by: str | None = None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        locked_by = "chmod"
    elif shutil.which("chattr"):
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        locked_by = "chattr" if done.returncode == 0 else None
    try:
        probe = folder / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("cannot make a folder unwritable here")
        if locked_by is None:
            pytest.skip("cannot make a folder unwritable here")
        yield folder
    finally:
        if locked_by == "chmod":
            folder.chmod(0o755)
        elif locked_by == "chattr":
            subprocess.run(["chattr", "-i", str(folder)], check=False)


async def test_an_unwritable_folder_is_named_not_the_temporary_file(
    serve_app: ServeApp, client_factory: ClientFactory, unwritable_dir: Path
) -> None:
    from aimusic_async import DestinationNotWritableError

    cdn, base, client = await hostile_setup(serve_app, client_factory)
    folder = str(await asyncio.to_thread(unwritable_dir.resolve))
    for dest in (unwritable_dir, unwritable_dir / "song.mp3"):
        with pytest.raises(DestinationNotWritableError) as caught:
            await client.download(f"{base}/f/ok", dest)
        assert isinstance(caught.value, PermissionError)
        assert isinstance(caught.value, DownloadError)
        assert folder in str(caught.value)
        assert ".part" not in str(caught.value)
    assert cdn.hits == []  # found out before downloading


async def test_bad_arguments_are_typed_errors(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    client = await client_factory("http://127.0.0.1:9", "sk-dl")
    with pytest.raises(ConfigurationError, match="http"):
        await client.download("ftp://127.0.0.1/x.mp3", tmp_path)
    with pytest.raises(ConfigurationError, match="audio_url"):
        await client.download(Clip(clip_id="c"), tmp_path)
    with pytest.raises(ConfigurationError, match="retries"):
        await client.download("http://127.0.0.1:9/x.mp3", tmp_path, retries=-1)
    assert await files_in(tmp_path) == []
