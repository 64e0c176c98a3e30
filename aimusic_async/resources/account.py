"""``client.account``: the credit balance (``GET /api/v1/get-credits``)."""

from __future__ import annotations

from ..models.account import Credits
from ._base import Resource

__all__ = ["AccountResource"]


class AccountResource(Resource):
    """``client.account.credits()`` -> ``Credits`` (``await client.credits()`` is the same)."""

    async def credits(self, *, timeout: float | None = None) -> Credits:
        """The remaining balance: ``credits`` (plan) and ``extra_credits`` (bought). Free to
        ask, and retried like any request that is safe to repeat."""
        return await self._sync("account.credits", locals(), Credits)
