"""``client.lyrics``: synchronous lyric generation (``POST /api/v1/sonic/lyrics``)."""

from __future__ import annotations

from ..models.lyrics import LyricsRequest, LyricsResult
from ._base import Resource

__all__ = ["LyricsResource"]


class LyricsResource(Resource):
    """``client.lyrics.generate(description)`` -> ``LyricsResult`` (two variants)."""

    async def generate(self, description: str) -> LyricsResult:
        """Write lyrics about ``description`` (required, fewer than 120 characters; checked
        before sending). Answers at once, no task: usually two variants, each with a ``title``
        and ``lyrics``.

        >>> result = await client.lyrics.generate("a song about the sky")
        >>> print(result.variants[0].title)
        """
        body = LyricsRequest(description=description)
        # The call is charged, so it goes as a start request: never re-sent after a timeout or
        # a dropped connection, where the service may already have billed it.
        return await self._call(
            "POST",
            "/api/v1/sonic/lyrics",
            body,
            LyricsResult,
            operation="lyrics.generate",
            kind="start",
        )
