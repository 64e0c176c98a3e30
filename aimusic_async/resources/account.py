"""Account queries: the credit balance (``GET /api/v1/get-credits``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models.account import Credits

if TYPE_CHECKING:
    from .._runtime import Runtime

__all__ = ["CREDITS_PATH", "get_credits"]

CREDITS_PATH = "/api/v1/get-credits"


async def get_credits(runtime: Runtime) -> Credits:
    """The remaining balance (free to ask; retried like any safe request)."""
    response = await runtime.request("GET", CREDITS_PATH, kind="safe", operation="credits")
    return runtime.transport.parse(Credits, response)
