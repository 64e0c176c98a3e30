"""Downloads with hostile titles and URLs: nothing is written outside the destination folder,
nothing but http(s) is ever fetched (redirects included), and failures are typed."""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from aimusic_async import AIMusicClient, Clip
from aimusic_async._constants import FILENAME_MAX
from aimusic_async._filenames import clip_filename, safe_filename
from aimusic_async.download import DownloadError

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
