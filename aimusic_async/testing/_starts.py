"""What every paid request shares: rate limit, the credit check, and the lost-response fault."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import STATE, EmulatorError, drop, key_of, ok
from ._state import EmulatorState, TaskRecord
from ._webhooks import SENDER

__all__ = ["CREDITS_MESSAGE", "accept_start", "afford", "pay", "rate_limit", "state_and_key"]

CREDITS_MESSAGE = (
    "The remaining credits are not enough. You can buy more one-time credit packs or subscribe."
)


def state_and_key(request: web.Request) -> tuple[EmulatorState, str]:
    return request.app[STATE], key_of(request)


def _retry_after(seconds: float) -> str:
    """Decimal seconds ("0.25"): the emulator's limits are sub-second, an integer would lie."""
    text = f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")
    return text or "0.001"


def rate_limit(request: web.Request) -> None:
    """429 with Retry-After when the key's start-request bucket is empty."""
    state, key = state_and_key(request)
    wait = state.take_start_token(key)
    if wait is not None:
        state.stats.rate_limited += 1
        header = _retry_after(wait)
        raise EmulatorError(
            429,
            f"Too many requests. Please retry after {header} seconds.",
            headers={"Retry-After": header},
        )


def afford(state: EmulatorState, key: str, price: int) -> None:
    """403 with the documented message when the balance is short (nothing is charged)."""
    if not state.can_pay(key, price):
        raise EmulatorError(403, CREDITS_MESSAGE)


def pay(state: EmulatorState, key: str, price: int) -> None:
    """Charge a synchronous operation now, or 403 when short."""
    afford(state, key, price)
    state.charge(key, price)


def accept_start(request: web.Request, task: TaskRecord, body: dict[str, Any]) -> web.Response:
    """Schedule the webhook, then answer; or, by lost_response_rate, drop the connection."""
    state = request.app[STATE]
    if task.webhook_url is not None:
        request.app[SENDER].schedule(task)
    if state.fault(state.config.lost_response_rate):
        state.stats.lost_responses += 1
        return drop(request)
    return ok(body)
