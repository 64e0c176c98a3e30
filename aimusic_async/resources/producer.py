"""``client.producer``: one song per task, polled at ``/api/v1/producer/task/{id}``.

The producer task endpoint reports a top-level ``status`` (``PENDING``/``RUNNING``/``SUCCESS``/
``FAILED``) instead of per-clip states; ``ProducerFamily`` maps it onto the shared
``TaskSnapshot`` so ``await task`` behaves exactly as for sonic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._errors import EndpointRetiredError
from ..models.common import TaskSnapshot
from ..models.producer import (
    PRODUCER_REPLACEMENTS,
    ProducerDownloadRequest,
    ProducerLyricsRequest,
    ProducerTaskType,
    ProducerUploadRequest,
    ProducerVideoRequest,
    build_producer_create,
)
from ._base import Resource

if TYPE_CHECKING:
    from .._tasks import Task

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
        body = build_producer_create(
            {
                "task_type": task_type,
                "sound": sound,
                "lyrics": lyrics,
                "mv": mv,
                "title": title,
                "seed": seed,
                "make_instrumental": make_instrumental,
                "lyrics_strength": lyrics_strength,
                "sound_strength": sound_strength,
                "weirdness": weirdness,
                "cover_url": cover_url,
                "clip_id": clip_id,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "instruction": instruction,
                "length": length,
                "strength": strength,
                "cover_strength": cover_strength,
                "webhook_url": webhook_url,
                "webhook_secret": webhook_secret,
            }
        )
        try:
            return await self._start(
                "/api/v1/producer/create", body, family="producer", operation="producer.create"
            )
        except EndpointRetiredError as exc:
            raise _retired(exc, PRODUCER_REPLACEMENTS.get(body.task_type)) from None

    async def upload(
        self,
        audio_url: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Register a public audio URL; the finished task's clip id can be used as ``clip_id``
        (e.g. ``cover_upload_music``). 2 credits."""
        body = ProducerUploadRequest(
            audio_url=audio_url, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        return await self._start(
            "/api/v1/producer/upload", body, family="producer", operation="producer.upload"
        )

    async def download(
        self,
        clip_id: str,
        *,
        format: Literal["mp3", "wav"] = "mp3",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Start a re-encoded download of a producer clip (``mp3`` or ``wav``; 2 credits,
        refunded if it fails). The finished task's clip carries the file URL."""
        body = ProducerDownloadRequest(
            clip_id=clip_id, format=format, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        return await self._start(
            "/api/v1/producer/download", body, family="producer", operation="producer.download"
        )

    async def make_lyrics(
        self,
        prompt: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Start producer lyric writing from a text prompt (1 credit); the finished clip's
        ``lyrics`` holds the text. The request field name is not confirmed by the docs."""
        body = ProducerLyricsRequest(
            prompt=prompt, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        return await self._start(
            "/api/v1/producer/lyrics-create",
            body,
            family="producer",
            operation="producer.make_lyrics",
        )

    async def video_clip(
        self,
        clip_id: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Task:
        """Start rendering a music video for a producer clip (5 credits); the finished clip
        carries ``video_url``. The request field name is not confirmed by the docs."""
        body = ProducerVideoRequest(
            clip_id=clip_id, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        return await self._start(
            "/api/v1/producer/video-clip",
            body,
            family="producer",
            operation="producer.video_clip",
        )

    async def get(self, task_id: str) -> TaskSnapshot:
        """One poll of a producer task: its current snapshot (free)."""
        return await self._runtime.task(task_id, "producer").refresh()


def _retired(exc: EndpointRetiredError, replacement: str | None) -> EndpointRetiredError:
    """The server's 410, re-raised with the replacement named (the transport cannot know it)."""
    return EndpointRetiredError(
        exc.message,
        status=exc.status,
        body=exc.body,
        path=exc.path,
        error_type=exc.error_type,
        replacement=replacement or exc.replacement,
    )
