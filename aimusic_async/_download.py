"""Streaming, atomic downloads of generated audio (or any http/https URL): part files, size and
redirect checks, retries, and never the API key (the rules: the manual's Downloads section)."""

from __future__ import annotations

import asyncio
import contextlib
import errno as _errno
import ipaddress
import logging
import os
import random
import re
import secrets
import socket
import stat
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import anyio
import anyio.to_thread
from yarl import URL

from . import _clock
from . import _constants as C
from ._errors import (
    ConfigurationError,
    DestinationError,
    DestinationExistsError,
    DestinationNotWritableError,
    DownloadError,
)
from ._filenames import clip_filename, numbered, safe_filename, url_extension
from .models.common import Clip

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["download", "download_url", "public_url"]

logger = logging.getLogger("aimusic_async")
T = TypeVar("T")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[Sequence[IPAddress]]]

# Chunks are gathered in memory up to this size before one thread hop writes them, so a large
# file costs a few dozen hops instead of one per 64 KiB chunk.
_WRITE_BATCH = 1024 * 1024
# Decoded output per zlib call: a chunk that inflates a thousandfold (a "zip bomb") is produced
# in slices, each checked against the limit, and no slice holds the loop for long.
_DECODE_STEP = 256 * 1024
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_EMPTY = frozenset({204, 205})  # "no content" by definition
# Serialises "pick a free name, rename into it" between concurrent downloads in this process.
_PLACE_LOCK = threading.Lock()
# Folder -> monotonic time of its last sweep in this process (insertion-ordered, bounded).
_SWEPT: dict[Path, float] = {}
# O_EXCL: a fresh file of our own, never one planted at the name. O_BINARY: Windows only.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
# Random 48-bit names: a second try is already unlikely.
_TEMP_NAME_TRIES = 8
# Our part files and nothing else: hidden, our marker, 12 lowercase hex digits.
_PART_NAME = re.compile(r"\..*\.aimusic-[0-9a-f]{12}\.part", re.DOTALL)
# Part files of downloads running in this process: never stale, however slow (guarded by
# _PLACE_LOCK). Other processes' live files are told apart by their age alone.
_LIVE_PARTS: set[str] = set()


class _Transient(Exception):
    """A failure worth retrying; carries what to tell the caller if retries run out."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def public_url(url: str | URL) -> str:
    """``url`` fit for a message: no query (often a signature), fragment or ``user:password@``."""
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# -- the destination -----------------------------------------------------------------------------
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
            raise ConfigurationError(f"unsafe file name {filename!r}")
        return _Target(folder, filename, True)
    folder = path.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return _Target(folder, path.name, False)


def _destination_error(exc: OSError, folder: Path, url: str) -> DestinationError:
    """The file system's refusal, naming the destination folder (not our hidden part file)."""
    reason = exc.strerror or exc.__class__.__name__
    kind = DestinationNotWritableError if isinstance(exc, PermissionError) else DestinationError
    return kind(f"cannot write into {folder}: {reason}", url=url, path=folder, errno=exc.errno)


def _sweep_stale_parts(folder: Path) -> int:
    """Remove our part files in ``folder`` untouched for ``C.DOWNLOAD_STALE_PART_AGE`` (at most
    once per ``C.DOWNLOAD_SWEEP_INTERVAL`` per folder).

    Only regular files with our exact name pattern (and, on POSIX, our owner) qualify: never a
    symlink, a folder, or anyone else's file. Races with another sweeper are harmless.
    """
    now = _clock.monotonic()
    with _PLACE_LOCK:
        last = _SWEPT.get(folder)
        if last is not None and now - last < C.DOWNLOAD_SWEEP_INTERVAL:
            return 0
        _SWEPT.pop(folder, None)
        _SWEPT[folder] = now
        while len(_SWEPT) > C.DOWNLOAD_SWEPT_FOLDERS:
            del _SWEPT[next(iter(_SWEPT))]
    # Wall clock, not _clock: file times are the file system's wall clock.
    cutoff = time.time() - C.DOWNLOAD_STALE_PART_AGE
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    removed = 0
    try:
        entries = os.scandir(folder)
    except OSError:
        return 0
    with _PLACE_LOCK:
        live = set(_LIVE_PARTS)
    with entries:
        for entry in entries:
            if not _PART_NAME.fullmatch(entry.name) or entry.path in live:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode) or info.st_mtime > cutoff:
                    continue
                if uid is not None and info.st_uid != uid:
                    continue
                os.unlink(entry.path)
                removed += 1
            except OSError:
                continue
    if removed:
        logger.debug("removed %d stale part file(s) in %s", removed, folder)
    return removed


def _open_temp(target: _Target) -> tuple[str, IO[bytes]]:
    # Not mkstemp: its files are owner-only, and fixing the mode afterwards needs the umask,
    # which can only be read by setting it (a race with every other thread creating files).
    # Mode 0o666 here lets the kernel apply the current umask, as for any new file.
    prefix = "." + target.filename[:40] + ".aimusic-"
    for _ in range(_TEMP_NAME_TRIES):
        tmp = os.path.join(target.folder, f"{prefix}{secrets.token_hex(6)}.part")
        try:
            fd = os.open(tmp, _TEMP_FLAGS, 0o666)
        except FileExistsError:
            continue
        with _PLACE_LOCK:
            _LIVE_PARTS.add(tmp)
        return tmp, os.fdopen(fd, "wb")
    raise FileExistsError(f"no free temporary name in {target.folder}")


def _exists_error(final: Path, url: str) -> DestinationExistsError:
    return DestinationExistsError(
        f"{final} already exists; pass overwrite=True to replace it",
        url=url,
        path=final,
        errno=_errno.EEXIST,
    )


def _prepare(
    dest: str | os.PathLike[str], filename: str, overwrite: bool, url: str
) -> tuple[_Target, str, IO[bytes]]:
    """Runs in a thread, before any request: the target, its checks, and our part file.

    Creating the part file now is the real test that the folder takes files, so an unwritable
    folder is reported before a byte is downloaded.
    """
    try:
        target = _resolve_target(dest, filename)
    except OSError as exc:
        raw = os.fspath(dest)
        path = Path(raw).expanduser()
        folder = path if raw.endswith(("/", os.sep)) or path.is_dir() else path.parent
        raise _destination_error(exc, folder, url) from None
    final = target.folder / target.filename
    if not target.auto_named and not overwrite and os.path.lexists(final):
        raise _exists_error(final, url)
    _sweep_stale_parts(target.folder)
    try:
        tmp, handle = _open_temp(target)
    except OSError as exc:
        raise _destination_error(exc, target.folder, url) from None
    return target, tmp, handle


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


def _finish(tmp: str, handle: IO[bytes], target: _Target, overwrite: bool, url: str) -> Path:
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
                if not os.path.lexists(final):
                    break
                if not target.auto_named:
                    # Appeared while we downloaded: still never replaced without being asked.
                    raise _exists_error(final, url)
                n += 1
        os.replace(tmp, final)
        _LIVE_PARTS.discard(tmp)
    _fsync_dir(target.folder)
    return final


def _discard(tmp: str, handle: IO[bytes]) -> None:
    try:
        handle.close()
    finally:
        with _PLACE_LOCK:
            _LIVE_PARTS.discard(tmp)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write(handle: IO[bytes], chunks: list[bytes]) -> None:
    handle.write(b"".join(chunks))


def _rewind(handle: IO[bytes]) -> None:
    handle.seek(0)
    handle.truncate()


def _backoff(attempt: int) -> float:
    cap = min(C.RETRY_MAX_DELAY, C.RETRY_INITIAL_DELAY * (2**attempt))
    return random.uniform(cap / 2, cap)


class _Spool:
    """Body bytes on their way to our part file in the destination folder.

    Chunks gather in memory up to ``_WRITE_BATCH`` before one thread hop writes them; a small
    file (most audio previews) is written, fsynced and renamed in the single hop of ``commit``.
    File system errors become ``DestinationError`` naming the folder.
    """

    def __init__(self, target: _Target, tmp: str, handle: IO[bytes], url: str) -> None:
        self.target = target
        self.tmp: str | None = tmp
        self.handle: IO[bytes] | None = handle
        self.url = url
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.received = 0

    async def _fs(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except DestinationError:
            raise
        except OSError as exc:
            raise _destination_error(exc, self.target.folder, self.url) from None

    async def add(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.pending_size += len(chunk)
        self.received += len(chunk)
        if self.pending_size >= _WRITE_BATCH:
            assert self.handle is not None
            chunks, self.pending, self.pending_size = self.pending, [], 0
            await self._fs(_write, self.handle, chunks)

    async def reset(self) -> None:
        """Forget a failed attempt's bytes; the next attempt starts the same file afresh."""
        self.pending, self.pending_size, self.received = [], 0, 0
        assert self.handle is not None
        await self._fs(_rewind, self.handle)

    async def commit(self, overwrite: bool) -> Path:
        return await self._fs(self._commit, overwrite)

    def _commit(self, overwrite: bool) -> Path:
        assert self.tmp is not None
        assert self.handle is not None
        try:
            _write(self.handle, self.pending)
            return _finish(self.tmp, self.handle, self.target, overwrite, self.url)
        except BaseException:
            _discard(self.tmp, self.handle)
            raise
        finally:
            self.tmp = self.handle = None

    async def discard(self) -> None:
        if self.tmp is not None and self.handle is not None:
            tmp, handle, self.tmp, self.handle = self.tmp, self.handle, None, None
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(_discard, tmp, handle)


# -- content encodings ---------------------------------------------------------------------------
class _Decoder:
    """Undoes a gzip or deflate ``Content-Encoding`` a host applied although we asked for
    ``identity``. ``feed`` yields the decoded bytes in slices of at most ``_DECODE_STEP``."""

    def __init__(self, encoding: str, url: str, status: int) -> None:
        self.encoding = encoding
        self.gzip = encoding in ("gzip", "x-gzip")
        self.url = url
        self.status = status
        # "deflate" means zlib-wrapped, but some servers send it raw: tried if zlib fails at once.
        self.raw_fallback = not self.gzip
        self.started = False
        self.z = zlib.decompressobj(wbits=31 if self.gzip else 15)

    def _corrupt(self, detail: str) -> DownloadError:
        return DownloadError(
            f"the {self.encoding}-encoded body is corrupt ({detail})",
            url=self.url,
            status=self.status,
        )

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.z.decompress(data, _DECODE_STEP)
            except zlib.error as exc:
                if self.raw_fallback and not self.started:
                    self.raw_fallback = False
                    self.z = zlib.decompressobj(wbits=-15)
                    continue
                raise self._corrupt(str(exc)) from None
            self.started = True
            data = self.z.unconsumed_tail
            if out:
                yield out
            if self.z.eof:
                rest = self.z.unused_data
                if not rest:
                    return
                if not self.gzip:
                    raise self._corrupt("data after the end of the stream")
                # gzip allows several members one after the other: decode them all.
                self.z = zlib.decompressobj(wbits=31)
                data = rest
                continue
            if not data and len(out) < _DECODE_STEP:
                return

    def finish(self, *, length_known: bool) -> None:
        if self.z.eof and not self.z.unused_data:
            return
        if length_known:  # every promised byte came, and still the stream is cut short
            raise self._corrupt("it ends before the end of the compressed stream")
        raise _Transient(f"the {self.encoding}-encoded body ended early", self.status)


def _decoder_for(resp: aiohttp.ClientResponse, url: str) -> _Decoder | None:
    codings = [
        c.strip().lower()
        for value in resp.headers.getall("Content-Encoding", ())
        for c in value.split(",")
    ]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Decoder(codings[0], url, resp.status)
    raise DownloadError(
        f"the server sent content encoding {', '.join(codings)!r} although identity was asked "
        "for; only gzip and deflate can be decoded",
        url=url,
        status=resp.status,
    )


# -- redirects -----------------------------------------------------------------------------------
def _origin(url: URL) -> tuple[str, str, int | None]:
    return ((url.scheme or "").lower(), (url.raw_host or "").lower(), url.port)


def _internal(address: IPAddress) -> bool:
    """Loopback, private, link-local, unspecified, multicast or reserved: not the internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
    except ValueError:
        return None


async def _resolve_host(host: str) -> Sequence[IPAddress]:
    """Every address ``host`` resolves to (a DNS failure raises ``OSError``)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), C.DOWNLOAD_CONNECT_TIMEOUT
    )
    found = (_ip_literal(str(info[4][0])) for info in infos)
    return [a for a in found if a is not None]


async def _redirect_refusal(
    original: URL, current: URL, target: URL, *, resolve: Resolver = _resolve_host
) -> str | None:
    """Why the hop from ``current`` to ``target`` may not be followed, or None when it may.

    ``original`` is the URL the caller gave: coming back to its origin is always fine (the
    caller chose that host, loopback or not). Any other hop must be https, must not leave https
    for http, and must reach only public addresses.
    """
    scheme = (target.scheme or "").lower()
    if scheme not in ("http", "https") or not target.raw_host:
        return "only http and https URLs are followed"
    if _origin(target) == _origin(original):
        return None
    if (current.scheme or "").lower() == "https" and scheme != "https":
        return "it leaves https for plain http"
    if scheme != "https":
        return "a hop to another origin must use https"
    host = target.raw_host.lower()
    literal = _ip_literal(host)
    if literal is not None:
        addresses: Sequence[IPAddress] = [literal]
    elif host == "localhost" or host.endswith(".localhost"):
        addresses = [ipaddress.IPv4Address("127.0.0.1")]  # loopback by definition, no DNS
    else:
        addresses = await resolve(host)
    if not addresses or any(_internal(a) for a in addresses):
        return "it leads to a loopback, private or otherwise non-public address"
    return None


def _redirect_target(resp: aiohttp.ClientResponse, url: str) -> URL:
    location = resp.headers.get("Location")
    if not location:
        raise DownloadError(
            f"HTTP {resp.status} without a Location to follow", url=url, status=resp.status
        )
    try:
        return resp.url.join(URL(location))
    except ValueError:
        raise DownloadError(
            f"HTTP {resp.status} with a malformed Location", url=url, status=resp.status
        ) from None


# -- one attempt ---------------------------------------------------------------------------------
def _too_large(url: str, status: int, max_bytes: int, detail: str) -> DownloadError:
    return DownloadError(
        f"the file is larger than max_bytes={max_bytes} ({detail})", url=url, status=status
    )


async def _receive(
    resp: aiohttp.ClientResponse, spool: _Spool, max_bytes: int | None, url: str
) -> None:
    """Check one final (non-redirect) answer and stream its body into ``spool``."""
    status = resp.status
    if status in _RETRYABLE:
        raise _Transient(f"HTTP {status}", status)
    if status >= 400:
        raise DownloadError(f"HTTP {status}", url=url, status=status)
    if status in _EMPTY:
        raise DownloadError(f"empty body: HTTP {status} carries no file", url=url, status=status)
    if status == 206:  # we never ask for a range: part of a file is not the file
        raise DownloadError(
            "HTTP 206: a partial answer that was not asked for", url=url, status=206
        )
    if not 200 <= status < 300:
        raise DownloadError(f"HTTP {status}: not a file", url=url, status=status)
    decoder = _decoder_for(resp, url)
    expected = resp.content_length
    if decoder is None and expected is not None:
        if expected == 0:
            raise DownloadError("empty body: Content-Length is 0", url=url, status=status)
        if max_bytes is not None and expected > max_bytes:
            raise _too_large(url, status, max_bytes, f"{expected} bytes announced")
    wire = 0
    async for chunk in resp.content.iter_chunked(C.DOWNLOAD_CHUNK):
        wire += len(chunk)
        # A compressed body is bounded on the wire too: empty deflate blocks decode to nothing.
        if max_bytes is not None and wire > max_bytes:
            raise _too_large(url, status, max_bytes, f"stopped after {wire} bytes")
        pieces: Iterator[bytes] | tuple[bytes] = (
            (chunk,) if decoder is None else decoder.feed(chunk)
        )
        for piece in pieces:
            if max_bytes is not None and spool.received + len(piece) > max_bytes:
                raise _too_large(url, status, max_bytes, "stopped at the limit")
            await spool.add(piece)
    if expected is not None and wire != expected:
        raise _Transient(f"truncated body: {wire} of {expected} bytes")
    if decoder is not None:
        decoder.finish(length_known=expected is not None)
    if spool.received == 0:
        raise DownloadError("empty body: the server sent no bytes", url=url, status=status)


async def _fetch_once(
    session: aiohttp.ClientSession, url: URL, spool: _Spool, max_bytes: int | None
) -> None:
    public = public_url(url)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=C.DOWNLOAD_CONNECT_TIMEOUT, sock_read=C.DOWNLOAD_READ_TIMEOUT
    )
    # identity: the byte count must match Content-Length. Hosts that compress anyway are
    # decoded here, not by aiohttp, so the length is checked on the wire bytes.
    headers = {"Accept-Encoding": "identity"}
    current = url
    try:
        for hop in range(C.DOWNLOAD_MAX_REDIRECTS + 1):
            async with session.get(
                current,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                auto_decompress=False,
            ) as resp:
                if resp.status not in _REDIRECTS:
                    await _receive(resp, spool, max_bytes, public)
                    return
                target = _redirect_target(resp, public)
                status = resp.status
            if hop == C.DOWNLOAD_MAX_REDIRECTS:
                break
            reason = await _redirect_refusal(url, current, target)
            if reason is not None:
                raise DownloadError(
                    f"redirect to {public_url(target)} refused: {reason}",
                    url=public,
                    status=status,
                )
            current = target
        raise DownloadError(
            f"more than {C.DOWNLOAD_MAX_REDIRECTS} redirects", url=public, status=status
        )
    except aiohttp.ClientPayloadError as exc:
        raise _Transient(f"body interrupted: {exc.__class__.__name__}") from exc
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
        raise _Transient(f"connection failed: {exc.__class__.__name__}") from exc
    except aiohttp.ClientError as exc:
        # A malformed answer: not transient, and the caller gets a DownloadError like for any
        # other refusal.
        raise DownloadError(f"refused: {exc.__class__.__name__}", url=public) from exc
    except (DownloadError, _Transient):
        raise
    except OSError as exc:  # resolving a redirect's host failed: DNS trouble passes
        raise _Transient(f"cannot resolve a redirect's host: {exc.__class__.__name__}") from exc


# -- entry points --------------------------------------------------------------------------------
def _check_arguments(url: str, retries: int, max_bytes: int | None) -> URL:
    parts = URL(url) if url else URL()
    if (parts.scheme or "").lower() not in ("http", "https") or not parts.raw_host:
        raise ConfigurationError(
            f"only http and https URLs can be downloaded, got {public_url(url)!r}"
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError("retries must be an int >= 0")
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1
    ):
        raise ConfigurationError("max_bytes must be an int >= 1, or None for no limit")
    return parts


async def download_url(
    session: aiohttp.ClientSession,
    url: str,
    dest: str | os.PathLike[str],
    *,
    filename: str | None = None,
    retries: int = C.DOWNLOAD_RETRIES,
    overwrite: bool = False,
    max_bytes: int | None = C.DOWNLOAD_MAX_BYTES,
) -> Path:
    """Download ``url`` with ``session`` (which must not carry credentials) to ``dest``.

    ``dest`` is a directory (an existing one, or a path ending in a separator), where the file
    is named ``filename`` (sanitised) or after the URL; or a file path. ``max_bytes`` bounds the
    file's size (None: no bound). Returns the final path.
    """
    try:
        parsed = _check_arguments(url, retries, max_bytes)
    except ValueError as exc:  # yarl refuses some malformed URLs outright
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"not a URL that can be downloaded: {public_url(url)!r}") from None
    if filename is None:
        stem = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
        ext = url_extension(url, default="")
        stem = stem[: len(stem) - len(ext)] if ext and stem.lower().endswith(ext) else stem
        filename = safe_filename(stem, default="download") + ext
    else:
        filename = safe_filename(filename, default="download")
    public = public_url(url)
    target, tmp, handle = await anyio.to_thread.run_sync(
        _prepare, dest, filename, overwrite, public
    )
    spool = _Spool(target, tmp, handle, public)
    try:
        attempt = 0
        while True:
            try:
                await _fetch_once(session, parsed, spool, max_bytes)
                break
            except _Transient as exc:
                if attempt >= retries:
                    raise DownloadError(
                        f"download failed after {attempt + 1} attempts: {exc}",
                        url=public,
                        status=exc.status,
                    ) from exc
                await spool.reset()
                await _clock.sleep(_backoff(attempt))
                attempt += 1
        return await spool.commit(overwrite)
    except BaseException:
        # Shielded: a cancelled download must still remove its part file.
        with anyio.CancelScope(shield=True):
            await spool.discard()
        raise


def _has_auth_header(session: aiohttp.ClientSession) -> bool:
    return any(name.lower() in ("authorization", "proxy-authorization") for name in session.headers)


async def download(
    runtime: Runtime,
    clip_or_url: Clip | str,
    dest: str | os.PathLike[str],
    *,
    retries: int = C.DOWNLOAD_RETRIES,
    overwrite: bool = False,
    max_bytes: int | None = C.DOWNLOAD_MAX_BYTES,
) -> Path:
    """Stream a clip's audio (or any http/https URL) to ``dest`` atomically; returns the path.

    For a clip saved into a directory the name is ``"<title> [<clip id>].<ext>"``, sanitised.
    An existing file is kept and the new one numbered (``" (2)"``) unless ``overwrite=True``;
    for an explicit file path that exists, ``DestinationExistsError`` (a ``FileExistsError``)
    before anything is downloaded. Files above ``max_bytes`` (default ``C.DOWNLOAD_MAX_BYTES``,
    None for no limit) are refused; see the module docstring for what else a host may not do.

    >>> path = await client.download(result.succeeded[0], "out/")
    """
    if isinstance(clip_or_url, Clip):
        url = clip_or_url.audio_url
        if not url:
            raise ConfigurationError(f"clip {clip_or_url.clip_id} has no audio_url yet")
        name: str | None = clip_filename(clip_or_url.title, clip_or_url.clip_id, url_extension(url))
    else:
        url, name = clip_or_url, None
    session = runtime.transport.session
    if _has_auth_header(session):
        # A session supplied by the caller with credentials baked in: never let those reach a
        # file host. A private, header-free session costs one connection setup.
        async with aiohttp.ClientSession() as private:
            return await download_url(
                private,
                url,
                dest,
                filename=name,
                retries=retries,
                overwrite=overwrite,
                max_bytes=max_bytes,
            )
    return await download_url(
        session, url, dest, filename=name, retries=retries, overwrite=overwrite, max_bytes=max_bytes
    )
