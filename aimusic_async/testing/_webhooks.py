"""Signed webhook deliveries, one timer per task that asked for one: the finished poll answer
plus ``task_id``, ``platform`` and ``event``, signed with both header schemes (wire contract)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from ._render import is_failed, render
from ._state import EmulatorState, TaskRecord

__all__ = ["SENDER", "WebhookSender", "sign"]

# A receiver that takes longer than this to answer counts as a failed attempt.
_DELIVERY_TIMEOUT = 10.0


def sign(secret: str, timestamp: str, raw: bytes) -> tuple[str, str]:
    """(X-Webhook-Signature, X-Signature) header values for a body."""
    key = secret.encode()
    current = hmac.new(key, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    legacy = hmac.new(key, raw, hashlib.sha256).hexdigest()
    return f"sha256={current}", legacy


class WebhookSender:
    """Schedules and performs deliveries; owns the one ClientSession used for them."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=_DELIVERY_TIMEOUT)
        )

    async def close(self) -> None:
        """Drop undelivered webhooks, cancel deliveries in flight, close the session."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._inflight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def pending(self) -> int:
        """Deliveries scheduled or in flight."""
        return len(self._timers) + len(self._inflight)

    def schedule(self, task: TaskRecord) -> None:
        """One timer for the final event; one more for song.streaming when configured."""
        loop = asyncio.get_running_loop()
        now = self.state.now()
        delay = max(0.0, task.t_done - now)
        self._timers[task.task_id] = loop.call_later(delay, self._fire, task.task_id, None)
        cfg = self.state.config
        if cfg.webhook_streaming and cfg.streaming and task.kind == "clips":
            starts = [c.t_stream for c in task.clips if not c.failed]
            if starts and min(starts) < task.t_done:
                at = min(starts)
                key = f"{task.task_id}#streaming"
                self._timers[key] = loop.call_later(max(0.0, at - now), self._fire, key, at)

    def payload(self, task: TaskRecord, streaming_at: float | None = None) -> dict[str, Any]:
        """The delivery body: the poll answer at the event's moment plus task_id/platform/event."""
        if streaming_at is None:
            now = max(self.state.now(), task.t_done)
            outcome = "failed" if is_failed(task) else "completed"
        else:
            now = max(self.state.now(), streaming_at)
            outcome = "streaming"
        _, body = render(self.state, task, now)
        return {
            "code": body.get("code", 200),
            "message": body.get("message", "success"),
            "task_id": task.task_id,
            "platform": task.family,
            "event": f"{task.webhook_event_prefix}.{outcome}",
            **{k: v for k, v in body.items() if k not in ("code", "message", "task_id")},
        }

    def _fire(self, key: str, streaming_at: float | None) -> None:
        self._timers.pop(key, None)
        state = self.state
        task = state.tasks.get(key.partition("#")[0])
        if task is None or task.webhook_url is None:
            return
        if state.fault(state.config.webhook_loss_rate):
            state.stats.webhooks_lost += 1
            return
        duplicate = state.fault(state.config.webhook_duplicate_rate)
        payload = self.payload(task, streaming_at)
        raw = json.dumps(payload, separators=(",", ":")).encode()
        secret = task.webhook_secret or state.config.default_webhook_secret
        timestamp = str(int(time.time()))
        signature, legacy = sign(secret, timestamp, raw)
        event_id = f"evt_{state.new_id(state.fault_rng).replace('-', '')}"
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Id": event_id,
            "Idempotency-Key": event_id,
            "X-Webhook-Event": str(payload["event"]),
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature,
            "X-Signature": legacy,
        }
        job = asyncio.ensure_future(self._deliver(task.webhook_url, raw, headers, duplicate))
        self._inflight.add(job)
        job.add_done_callback(self._inflight.discard)

    async def _deliver(
        self, url: str, raw: bytes, headers: dict[str, str], duplicate: bool
    ) -> None:
        delivered = await self._post(url, raw, headers)
        if delivered and duplicate:
            self.state.stats.webhooks_duplicated += 1
            await self._post(url, raw, headers)  # same event, same id, same signature

    async def _post(self, url: str, raw: bytes, headers: dict[str, str]) -> bool:
        """One delivery with retries on connection errors and 5xx; never retried on 4xx."""
        cfg, stats = self.state.config, self.state.stats
        session = self._session
        if session is None:
            return False
        for attempt in range(cfg.webhook_attempts):
            if attempt:
                await asyncio.sleep(cfg.webhook_retry_delay * 2 ** (attempt - 1))
            try:
                async with session.post(url, data=raw, headers=headers) as resp:
                    await resp.read()
                    stats.webhooks_sent += 1
                    if resp.status < 300:
                        return True
                    if resp.status < 500:
                        break
            except (aiohttp.ClientError, asyncio.TimeoutError):
                continue
            except ValueError:  # a URL the client refuses: no retry can succeed
                break
        stats.webhooks_failed += 1
        return False


SENDER = web.AppKey("aimusic_emulator_sender", WebhookSender)
