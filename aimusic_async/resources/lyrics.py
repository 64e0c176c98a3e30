"""``client.lyrics``: synchronous lyric generation (``POST /api/v1/sonic/lyrics``)."""

from __future__ import annotations

from ..models.lyrics import LyricsResult
from ._base import Resource

__all__ = ["LyricsResource"]


class LyricsResource(Resource):
    """``client.lyrics.generate(description)`` -> ``LyricsResult`` (two variants)."""

    async def generate(self, description: str, *, timeout: float | None = None) -> LyricsResult:
        """Write lyrics about ``description`` (required, fewer than 120 characters; checked
        before sending). Answers at once, no task: usually two variants, each with a ``title``
        and ``lyrics``.

        >>> result = await client.lyrics.generate("a song about the sky")
        >>> print(result.variants[0].title)
        """
        # Charged, so sent under the credit rule (never re-sent after a timeout).
        return await self._sync("lyrics.generate", locals(), LyricsResult)
