"""``client.producer``: one song per task; each method is one row of the operation table."""

from __future__ import annotations

from typing import Literal

from .._tasks import Task
from ..models.common import TaskSnapshot
from ..models.producer import (
    ProducerTaskType,
)
from ._base import Resource

__all__ = ["ProducerResource"]


class ProducerResource(Resource):
    """``client.producer``: create (every documented task type), upload, download, get; also
    make_lyrics and video_clip (their request fields are not confirmed by the docs)."""

    async def create(
        self,
        *,
        task_type: ProducerTaskType = "create_music",
        sound: str | None = None,
        lyrics: str | None = None,
        mv: str | None = None,
        title: str | None = None,
        seed: str | None = None,
        make_instrumental: bool | None = None,
        lyrics_strength: float | None = None,
        sound_strength: float | None = None,
        weirdness: float | None = None,
        cover_url: str | None = None,
        clip_id: str | None = None,
        starts_at: float | None = None,
        ends_at: float | None = None,
        instruction: str | None = None,
        length: int | None = None,
        strength: float | None = None,
        cover_strength: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Start a producer task (one song). Fields are the API's own; which ones apply depends
        on ``task_type`` (a field that does not belong to it is a ValidationError):

        - ``create_music``: ``sound`` and/or ``lyrics``, ``title`` (<= 80), ``mv``, ``seed``,
          ``make_instrumental``, FUZZ-era ``lyrics_strength``/``weirdness`` (0-1),
          ``sound_strength`` (0.2-1).
        - ``extend_music``: ``clip_id``, ``starts_at``, ``instruction``, ``length`` (1-240).
        - ``replace_music``: ``clip_id``, ``starts_at``, ``ends_at``, ``instruction``.
        - ``cover_music`` / ``cover_upload_music``: ``clip_id``, ``instruction``,
          ``strength`` (0-1).
        - ``music_variation``, ``swap_music_vocals``, ``swap_music_sound``: retired.

        A task type the host retired raises ``EndpointRetiredError`` (HTTP 410) whose
        ``replacement`` names what to call instead.

        >>> task = await client.producer.create(sound="warm lo-fi piano, vinyl crackle")
        >>> result = await task
        """
        return await self._task("producer.create", locals())

    async def upload(
        self,
        audio_url: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Register a public audio URL; the finished task's clip id can be used as ``clip_id``
        (e.g. ``cover_upload_music``). 2 credits."""
        return await self._task("producer.upload", locals())

    async def download(
        self,
        clip_id: str,
        *,
        format: Literal["mp3", "wav"] = "mp3",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Start a re-encoded download of a producer clip (``mp3`` or ``wav``; 2 credits,
        refunded if it fails). The finished task's clip carries the file URL."""
        return await self._task("producer.download", locals())

    async def make_lyrics(
        self,
        prompt: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Start producer lyric writing from a text prompt (1 credit); the finished clip's
        ``lyrics`` holds the text. The request field name is not confirmed by the docs."""
        return await self._task("producer.make_lyrics", locals())

    async def video_clip(
        self,
        clip_id: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Start rendering a music video for a producer clip (5 credits); the finished clip
        carries ``video_url``. The request field name is not confirmed by the docs."""
        return await self._task("producer.video_clip", locals())

    async def get(self, task_id: str, *, timeout: float | None = None) -> TaskSnapshot:
        """One poll of a producer task: its current snapshot (free)."""
        return await self._get("producer.get", task_id, timeout)
