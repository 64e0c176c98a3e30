"""Streaming, atomic downloads of generated audio (or any http/https URL).

``await download(client, clip_or_url, dest)`` streams the body with the client's session into a
hidden temporary file in the destination folder, fsyncs it, checks the byte count against
``Content-Length`` and only then renames it into place. Any failure (HTTP error, dropped or
truncated body, cancellation) removes the temporary file: a file at the final path is always
complete. Transient failures (connection errors, 408/429/5xx, truncation) are retried with
backoff through ``_clock.sleep``.

The API key is never sent: a download never adds an ``Authorization`` header (the client's
session does not carry one; the key is added per API request only). File system work runs in
worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import anyio
import anyio.to_thread

from . import _clock
from ._constants import (
    DOWNLOAD_CHUNK,
    DOWNLOAD_CONNECT_TIMEOUT,
    DOWNLOAD_READ_TIMEOUT,
    DOWNLOAD_RETRIES,
    RETRY_INITIAL_DELAY,
    RETRY_MAX_DELAY,
)
from ._errors import AIMusicError
from ._filenames import clip_filename, numbered, safe_filename, url_extension
from .models.common import Clip

if TYPE_CHECKING:
    from ._client import AIMusicClient

__all__ = ["DOWNLOAD_RETRIES", "DownloadError", "download", "download_url"]

# Chunks are gathered in memory up to this size before one thread hop writes them, so a large
# file costs a few dozen hops instead of one per 64 KiB chunk.
_WRITE_BATCH = 1024 * 1024
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
# Serialises "pick a free name, rename into it" between concurrent downloads in this process.
_PLACE_LOCK = threading.Lock()
# O_EXCL: a fresh file of our own, never one planted at the name. O_BINARY: Windows only.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
# Random 48-bit names: a second try is already unlikely.
_TEMP_NAME_TRIES = 8


class DownloadError(AIMusicError):
    """A file could not be downloaded. ``url`` has its query string and any credentials
    removed (CDN URLs are often signed); ``status`` is the HTTP status when the server answered,
    else None."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


class _Transient(Exception):
    """A failure worth retrying; carries what to tell the caller if retries run out."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _public_url(url: str) -> str:
    """``url`` fit for a message: no query (often a signature), fragment or ``user:password@``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class _Target:
    folder: Path
    filename: str
    auto_named: bool  # True: name made by us, collisions get " (2)"; False: the caller's path


def _resolve_target(dest: str | os.PathLike[str], filename: str) -> _Target:
    """Runs in a thread: decide folder and name, create the folder, keep names inside it."""
    raw = os.fspath(dest)
    path = Path(raw).expanduser()
    if path.is_dir() or raw.endswith(("/", os.sep)):
        folder = path.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        # Defence in depth: the sanitiser already guarantees this.
        if (folder / filename).resolve().parent != folder:
            raise ValueError(f"unsafe file name {filename!r}")
        return _Target(folder, filename, True)
    folder = path.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return _Target(folder, path.name, False)


def _open_temp(target: _Target) -> tuple[str, IO[bytes]]:
    # Not mkstemp: its files are owner-only, and fixing the mode afterwards needs the umask,
    # which can only be read by setting it (a race with every other thread creating files).
    # Mode 0o666 here lets the kernel apply the current umask, as for any new file.
    prefix = "." + target.filename[:40] + "."
    for _ in range(_TEMP_NAME_TRIES):
        tmp = os.path.join(target.folder, f"{prefix}{secrets.token_hex(6)}.part")
        try:
            fd = os.open(tmp, _TEMP_FLAGS, 0o666)
        except FileExistsError:
            continue
        return tmp, os.fdopen(fd, "wb")
    raise FileExistsError(f"no free temporary name in {target.folder}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; rename durability is the FS's there.
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _finish(tmp: str, handle: IO[bytes], target: _Target, overwrite: bool) -> Path:
    """Runs in a thread: make the bytes durable, then rename into place (never half a file)."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    with _PLACE_LOCK:
        if overwrite:
            final = target.folder / target.filename
        else:
            n = 1
            while True:
                final = target.folder / numbered(target.filename, n)
                if not final.exists():
                    break
                if not target.auto_named:
                    raise FileExistsError(f"{final} exists; pass overwrite=True to replace it")
                n += 1
        os.replace(tmp, final)
    _fsync_dir(target.folder)
    return final


def _discard(tmp: str, handle: IO[bytes]) -> None:
    try:
        handle.close()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write(handle: IO[bytes], chunks: list[bytes]) -> None:
    handle.write(b"".join(chunks))


def _backoff(attempt: int) -> float:
    cap = min(RETRY_MAX_DELAY, RETRY_INITIAL_DELAY * (2**attempt))
    return random.uniform(cap / 2, cap)


class _Spool:
    """Body bytes on their way to a temporary file in the destination folder.

    Chunks gather in memory up to ``_WRITE_BATCH``; the temporary file is only created when that
    fills, so a small file (most audio previews) costs a single thread hop for create, write,
    fsync and rename together.
    """

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.tmp: str | None = None
        self.handle: IO[bytes] | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.received = 0

    async def add(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.pending_size += len(chunk)
        self.received += len(chunk)
        if self.pending_size >= _WRITE_BATCH:
            handle = self.handle
            if handle is None:
                self.tmp, handle = await anyio.to_thread.run_sync(_open_temp, self.target)
                self.handle = handle
            assert handle is not None
            chunks, self.pending, self.pending_size = self.pending, [], 0
            await anyio.to_thread.run_sync(_write, handle, chunks)

    async def commit(self, overwrite: bool) -> Path:
        return await anyio.to_thread.run_sync(self._commit, overwrite)

    def _commit(self, overwrite: bool) -> Path:
        if self.handle is None:
            self.tmp, self.handle = _open_temp(self.target)
        assert self.tmp is not None
        try:
            _write(self.handle, self.pending)
            return _finish(self.tmp, self.handle, self.target, overwrite)
        except BaseException:
            _discard(self.tmp, self.handle)
            self.tmp = self.handle = None
            raise

    async def discard(self) -> None:
        if self.tmp is not None and self.handle is not None:
            await anyio.to_thread.run_sync(_discard, self.tmp, self.handle)
            self.tmp = self.handle = None


async def _fetch_once(
    session: aiohttp.ClientSession, url: str, target: _Target, overwrite: bool
) -> Path:
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=DOWNLOAD_CONNECT_TIMEOUT, sock_read=DOWNLOAD_READ_TIMEOUT
    )
    # identity: the byte count must match Content-Length, so no transparent decompression.
    headers = {"Accept-Encoding": "identity"}
    try:
        async with session.get(url, headers=headers, timeout=timeout) as resp:
            if resp.status in _RETRYABLE:
                raise _Transient(f"HTTP {resp.status}", resp.status)
            if resp.status >= 400:
                raise DownloadError(f"HTTP {resp.status}", url=_public_url(url), status=resp.status)
            expected = resp.content_length
            spool = _Spool(target)
            try:
                async for chunk in resp.content.iter_chunked(DOWNLOAD_CHUNK):
                    await spool.add(chunk)
                if expected is not None and spool.received != expected:
                    raise _Transient(f"truncated body: {spool.received} of {expected} bytes")
                return await spool.commit(overwrite)
            except BaseException:
                # Shielded: a cancelled download must still remove its temporary file.
                with anyio.CancelScope(shield=True):
                    await spool.discard()
                raise
    except aiohttp.ClientPayloadError as exc:
        raise _Transient(f"body interrupted: {exc.__class__.__name__}") from exc
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
        raise _Transient(f"connection failed: {exc.__class__.__name__}") from exc
    except aiohttp.ClientError as exc:
        # A redirect to a non-http(s) URL (never followed) or in circles, a malformed answer:
        # not transient, and the caller gets a DownloadError like for any other refusal.
        raise DownloadError(
            f"refused: {exc.__class__.__name__}", url=_public_url(url), status=None
        ) from exc


async def download_url(
    session: aiohttp.ClientSession,
    url: str,
    dest: str | os.PathLike[str],
    *,
    filename: str | None = None,
    retries: int = DOWNLOAD_RETRIES,
    overwrite: bool = False,
) -> Path:
    """Download ``url`` with ``session`` (which must not carry credentials) to ``dest``.

    ``dest`` is a directory (an existing one, or a path ending in a separator), where the file
    is named ``filename`` (sanitised) or after the URL; or a file path. Returns the final path.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"only http and https URLs can be downloaded, got {_public_url(url)!r}")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if filename is None:
        stem = unquote(parts.path).rsplit("/", 1)[-1]
        ext = url_extension(url, default="")
        stem = stem[: len(stem) - len(ext)] if ext and stem.lower().endswith(ext) else stem
        filename = safe_filename(stem, default="download") + ext
    else:
        filename = safe_filename(filename, default="download")
    target = await anyio.to_thread.run_sync(_resolve_target, dest, filename)
    attempt = 0
    while True:
        try:
            return await _fetch_once(session, url, target, overwrite)
        except _Transient as exc:
            if attempt >= retries:
                raise DownloadError(
                    f"download failed after {attempt + 1} attempts: {exc}",
                    url=_public_url(url),
                    status=exc.status,
                ) from exc
            await _clock.sleep(_backoff(attempt))
            attempt += 1


def _has_auth_header(session: aiohttp.ClientSession) -> bool:
    return any(name.lower() in ("authorization", "proxy-authorization") for name in session.headers)


async def download(
    client: AIMusicClient,
    clip_or_url: Clip | str,
    dest: str | os.PathLike[str],
    *,
    retries: int = DOWNLOAD_RETRIES,
    overwrite: bool = False,
) -> Path:
    """Stream a clip's audio (or any http/https URL) to ``dest`` atomically; returns the path.

    For a clip saved into a directory the name is ``"<title> [<clip id>].<ext>"``, sanitised.
    An existing file is kept and the new one numbered (``" (2)"``) unless ``overwrite=True``
    (for an explicit file path, ``FileExistsError`` instead).

    >>> path = await client.download(result.succeeded[0], "out/")
    """
    if isinstance(clip_or_url, Clip):
        url = clip_or_url.audio_url
        if not url:
            raise ValueError(f"clip {clip_or_url.clip_id} has no audio_url yet")
        name: str | None = clip_filename(clip_or_url.title, clip_or_url.clip_id, url_extension(url))
    else:
        url, name = clip_or_url, None
    session = client._transport.session
    if _has_auth_header(session):
        # A session supplied by the caller with credentials baked in: never let those reach a
        # file host. A private, header-free session costs one connection setup.
        async with aiohttp.ClientSession() as private:
            return await download_url(
                private, url, dest, filename=name, retries=retries, overwrite=overwrite
            )
    return await download_url(
        session, url, dest, filename=name, retries=retries, overwrite=overwrite
    )
