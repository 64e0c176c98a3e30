"""The ASGI side of webhooks: ``client.webhooks.asgi_app()``, a plain ASGI 3 app (no web framework
imported) that runs each callback through the receive path the aiohttp receiver shares."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from ._delivery import receive_callback

if TYPE_CHECKING:
    from .webhooks import WebhookManager

__all__ = ["ASGIReceiver"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIReceiver:
    """The receiver as an ASGI app (what ``client.webhooks.asgi_app()`` returns): POST on any
    path (the signature, not the path, authenticates a callback), 405 for other methods,
    lifespan events acknowledged, a WebSocket refused."""

    __slots__ = ("_manager",)

    def __init__(self, manager: WebhookManager) -> None:
        self._manager = manager

    def __repr__(self) -> str:
        return f"ASGIReceiver({self._manager!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _answer(send, 405, {"error": "method not allowed"}, close=True, allow=True)
            return
        headers = _headers(scope.get("headers") or ())
        body = _Body(receive)
        answer = await receive_callback(
            self._manager,
            headers,
            body.read,
            content_length=_content_length(headers.getall("content-length", [])),
            url=_url(scope, headers),
        )
        if answer is None:
            return  # the sender hung up mid-body: nobody to answer
        # After a refusal (408, 413, 503) the connection goes: the server closes it once the
        # answer is out, whatever the sender still has to send.
        await _answer(
            send,
            answer.status,
            answer.fields,
            close=answer.refused is not None,
            retry_after=answer.retry_after,
        )


class _Body:
    """The request body as pieces (``b""`` at its end) from ASGI ``http.request`` messages;
    ``http.disconnect`` is the sender hanging up."""

    __slots__ = ("_done", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._done = False

    async def read(self) -> bytes:
        while not self._done:
            message = await self._receive()
            kind = message.get("type")
            if kind == "http.disconnect":
                self._done = True
                raise ConnectionError("the sender hung up mid-body")
            if kind != "http.request":
                continue
            self._done = not message.get("more_body", False)
            chunk = message.get("body") or b""
            if chunk:
                return bytes(chunk)
        return b""


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> CIMultiDict[str]:
    # HTTP header bytes are latin-1 by definition. Every copy of a repeated header is kept, so
    # verification can refuse one sent twice with different values.
    return CIMultiDict((bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw)


def _content_length(values: list[str]) -> int | None:
    """The declared body size, or None when absent or not one plain number (the read is bounded
    either way; this only refuses an oversized body before reading any of it)."""
    if len(set(values)) != 1:
        return None
    text = values[0].strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _url(scope: Scope, headers: CIMultiDict[str]) -> str:
    """The URL the callback was posted to, as the sender wrote it (query included)."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        name, port = server[0], server[1]
        name = f"[{name}]" if ":" in str(name) else str(name)
        host = name if port is None else f"{name}:{port}"
    raw_path = scope.get("raw_path")
    if raw_path:
        path = bytes(raw_path).decode("latin-1")
    else:
        # Under a mount, ``path`` may or may not include the mount's ``root_path``.
        path, root = str(scope.get("path") or "/"), str(scope.get("root_path") or "")
        path = path if path.startswith(root) else root + path
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    url = f"{scope.get('scheme') or 'http'}://{host}{path}"
    return f"{url}?{query}" if query else url


async def _answer(
    send: Send,
    status: int,
    fields: object,
    *,
    close: bool,
    allow: bool = False,
    retry_after: int | None = None,
) -> None:
    body = json.dumps(fields, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if allow:
        headers.append((b"allow", b"POST"))
    if close:
        headers.append((b"connection", b"close"))
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % retry_after))
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    except OSError:
        pass  # the sender hung up first (servers raise an OSError then): nothing to tell it


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: the client's life is its owner's, not the server's."""
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
