"""The Emulator: the API listener, the CDN listener and the webhook sender, started together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from . import _other_routes, _polls, _sonic, _sonic_utils
from ._cdn import cdn_app, file_bytes
from ._config import EmulatorConfig
from ._http import MAX_BODY_BYTES, STATE, TOO_LARGE, EmulatorError, authenticate, drop, ok
from ._state import Account, ClipRecord, EmulatorState, TaskRecord
from ._stats import EmulatorStats
from ._webhooks import SENDER, WebhookSender

__all__ = ["Emulator"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every refusal of this listener in the API's JSON envelope, aiohttp's own ones (unknown
    path, wrong method, body too large) included."""
    try:
        return await handler(request)
    except EmulatorError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # 405 must keep its Allow header; other aiohttp headers describe aiohttp's text body.
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        message = _AIOHTTP_MESSAGES.get(exc.status) or f"{exc.reason}."
        return EmulatorError(exc.status, message, headers=headers).response()


_AIOHTTP_MESSAGES = {404: "Not Found.", 405: "Method Not Allowed.", 413: TOO_LARGE}


@web.middleware
async def _api_faults(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Count, delay, fault and authenticate every /api/ request."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    state = request.app[STATE]
    cfg = state.config
    state.stats.requests += 1
    if cfg.latency:
        await asyncio.sleep(cfg.latency)
    if state.fault(cfg.disconnect_rate):
        state.stats.disconnects += 1
        return drop(request)
    if state.fault(cfg.server_error_rate):
        state.stats.server_errors += 1
        return EmulatorError(500, "Internal Server Error.").response()
    authenticate(request, state)
    return await handler(request)


async def _request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every API answer carries an ``x-request-id``, as hosted APIs (and the proxies in front
    of them) do: what a client quotes to support, and reads back from errors and raw answers."""
    if request.path.startswith("/api/") and "x-request-id" not in response.headers:
        response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.settle()
    return ok(state.stats.as_dict())


class Emulator:
    """A local stand-in for the AI Music API on 127.0.0.1 (API and CDN on free ports).

    ``async with Emulator(EmulatorConfig(...)) as emu:`` then point a client at
    ``emu.base_url`` with ``emu.api_key``. See ``start_in_thread()`` for synchronous code.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._state = EmulatorState(self.config)
        self._sender = WebhookSender(self._state)
        self._api_runner: web.AppRunner | None = None
        self._cdn_runner: web.AppRunner | None = None
        self.base_url = ""
        self.cdn_url = ""
        self._thread: Any = None  # set by start_in_thread (see _threaded)

    # -- lifecycle -------------------------------------------------------------------------
    def _api_app(self) -> web.Application:
        app = web.Application(
            middlewares=[_json_errors, _api_faults], client_max_size=MAX_BODY_BYTES
        )
        app[STATE] = self._state
        app[SENDER] = self._sender
        app.on_response_prepare.append(_request_id)
        _sonic.add_routes(app)
        _sonic_utils.add_routes(app)
        _other_routes.add_routes(app)
        _polls.add_routes(app)
        app.router.add_get("/_emulator/stats", _stats)
        return app

    async def start(self) -> None:
        """Start both listeners and the webhook sender."""
        if self._api_runner is not None:
            raise RuntimeError("the emulator is already running")
        cfg = self.config
        try:
            await self._sender.start()
            self._cdn_runner = web.AppRunner(cdn_app(self._state), access_log=None)
            await self._cdn_runner.setup()
            cdn_site = web.TCPSite(self._cdn_runner, cfg.host, cfg.cdn_port)
            await cdn_site.start()
            self.cdn_url = f"http://{cfg.host}:{_port(self._cdn_runner)}"
            self._state.cdn_url = self.cdn_url
            self._api_runner = web.AppRunner(self._api_app(), access_log=None)
            await self._api_runner.setup()
            api_site = web.TCPSite(self._api_runner, cfg.host, cfg.port)
            await api_site.start()
            self.base_url = f"http://{cfg.host}:{_port(self._api_runner)}"
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, drop pending webhooks, close the delivery session."""
        await self._sender.close()
        for runner in (self._api_runner, self._cdn_runner):
            if runner is not None:
                await runner.cleanup()
        self._api_runner = self._cdn_runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- inspection ------------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        """The first configured key (a generated one when the config lists none)."""
        return self._state.api_keys[0]

    @property
    def api_keys(self) -> tuple[str, ...]:
        return self._state.api_keys

    @property
    def stats(self) -> EmulatorStats:
        """Live counters (refunds due by now are settled first)."""
        self._state.settle()
        return self._state.stats

    @property
    def tasks(self) -> Mapping[str, TaskRecord]:
        """Every accepted task by id: family, operation, request body, key, clips...

        Live view; from another thread (thread mode) take a copy first: ``dict(emu.tasks)``.
        """
        return self._state.tasks

    @property
    def clips(self) -> Mapping[str, ClipRecord]:
        """Every clip by id: generated, uploaded, stems, vocal extracts (title, duration ...).

        Live view; from another thread (thread mode) take a copy first: ``dict(emu.clips)``.
        """
        return self._state.clips

    @property
    def routes(self) -> tuple[tuple[str, str], ...]:
        """``(method, path pattern)`` of every route of the API listener, e.g.
        ``("POST", "/api/v1/sonic/create")``, ``("GET", "/api/v1/sonic/task/{task_id}")``;
        ``"*"`` is any method. For tests that must cover every route, new ones included.
        """
        return tuple(
            (route.method, route.resource.canonical)
            for route in self._api_app().router.routes()
            if route.method != "HEAD" and route.resource is not None  # HEAD mirrors GET
        )

    @property
    def webhooks_pending(self) -> int:
        """Webhook deliveries scheduled or in flight."""
        return self._sender.pending

    def balance(self, key: str | None = None) -> Account:
        """The key's balance (default: ``api_key``)."""
        return self._state.balance(key or self.api_key)

    def set_balance(self, key: str | None, credits: int, extra_credits: int = 0) -> None:
        """Set a key's balance; an unknown key is added as a valid key."""
        key = key or self.api_key
        state = self._state
        state.settle()
        with state.lock:
            account = state.accounts.get(key)
            if account is None:
                state.accounts[key] = Account(credits, extra_credits)
                state.api_keys = (*state.api_keys, key)
            else:
                account.credits, account.extra_credits = credits, extra_credits

    def audio_bytes(self, clip_id: str) -> bytes:
        """Exactly the bytes the CDN serves at a clip's audio_url."""
        if clip_id not in self._state.clips:
            raise KeyError(clip_id)
        return file_bytes(self._state, "audio", clip_id)

    # -- thread mode -----------------------------------------------------------------------
    def start_in_thread(self) -> Emulator:
        """Run on its own event loop in a daemon thread (for sync code); returns self."""
        from ._threaded import EmulatorThread

        if self._thread is not None:
            raise RuntimeError("the emulator is already running in a thread")
        thread = EmulatorThread(self)
        thread.start()  # raises what start() raised (e.g. the port is taken)
        self._thread = thread
        return self

    def stop_thread(self) -> None:
        """Stop a thread started by ``start_in_thread`` (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    def __enter__(self) -> Emulator:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r}, cdn_url={self.cdn_url!r})"


def _port(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        if isinstance(addr, tuple):
            return int(addr[1])
    raise RuntimeError("listener has no TCP address")
