"""The account: the credit balance."""

from __future__ import annotations

from ._base import ResponseModel

__all__ = ["Credits"]


class Credits(ResponseModel):
    """The balance from ``GET /api/v1/get-credits``.

    ``credits`` are the plan's (reset each billing cycle), ``extra_credits`` bought on top (never
    expire, spent first). ``total`` is what is available now.
    """

    credits: int
    extra_credits: int = 0

    @property
    def total(self) -> int:
        return self.credits + self.extra_credits
