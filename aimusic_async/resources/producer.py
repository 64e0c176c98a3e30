"""``client.producer``: one song per task, polled at ``/api/v1/producer/task/{id}``.

The producer task endpoint reports a top-level ``status`` (``PENDING``/``RUNNING``/``SUCCESS``/
``FAILED``) instead of per-clip states; ``ProducerFamily`` maps it onto the shared
``TaskSnapshot`` so ``await task`` behaves exactly as for sonic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._errors import EndpointRetiredError, ResponseValidationError
from .._families import check_not_found, parse_clips
from ..models.common import Clip, TaskSnapshot
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
    from ..tasks import Task

__all__ = ["ProducerFamily", "ProducerResource"]

_RUNNING = frozenset({"PENDING", "RUNNING", "QUEUED", "PROCESSING", "SUBMITTED", "IN_PROGRESS"})
_SUCCESS = frozenset({"SUCCESS", "SUCCEEDED", "COMPLETED", "COMPLETE"})
_FAILED = frozenset({"FAILED", "FAILURE", "ERROR", "TIMEOUT"})


def parse_clip_list(task_id: str, items: Any, *, family: str) -> list[Clip]:
    """A ``data`` value as clips (one object or a list); a clip without an id (an upload or
    download answer may omit it) gets the task id, or ``<task_id>-<n>`` when there are several."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise ResponseValidationError(
            f"{family} task {task_id}: 'data' is not a list of clips", status=200, body=items
        )
    filled = [
        {"clip_id": task_id if len(items) == 1 else f"{task_id}-{n}", **item}
        if isinstance(item, Mapping) and "clip_id" not in item
        else item
        for n, item in enumerate(items)
    ]
    return parse_clips(filled, task_id=task_id, family=family)


# Poll answers name their task_type; a lyrics task delivers text, the others a file. The
# documented quirk (SUCCESS before the file is in place) is only known for audio, so any media
# URL counts for a video task rather than risk waiting for a field the service may not send.
_TEXT_TASKS = frozenset({"make_lyrics"})


def _delivered(clip: Clip, task_type: Any) -> bool:
    """Whether a SUCCESS clip carries what its task produces (else: keep polling)."""
    if task_type in _TEXT_TASKS:
        return bool(clip.lyrics)
    extra = clip.model_extra or {}
    return bool(clip.audio_url or extra.get("wav_url") or clip.video_url)


def _with_state(clip: Clip, state: str, error: str | None = None) -> Clip:
    update: dict[str, Any] = {"state": state}
    if state == "failed" and error and not clip.error_message:
        update["error_message"] = error
    if state == "succeeded" and not clip.audio_url and (clip.model_extra or {}).get("wav_url"):
        # A wav-only download answer: make the file reachable where every caller looks.
        update["audio_url"] = (clip.model_extra or {}).get("wav_url")
    return clip.model_copy(update=update)


class ProducerFamily:
    """Polling and parsing for every producer task (create, upload, download, lyrics, video)."""

    name = "producer"

    def poll_path(self, task_id: str) -> str:
        return f"/api/v1/producer/task/{task_id}"

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """Map ``PENDING``/``RUNNING`` -> running (not_ready without data), ``SUCCESS`` ->
        succeeded once the clip has audio (a SUCCESS without ``audio_url`` keeps polling),
        ``FAILED`` -> failed with the server's message. Webhook bodies (no ``status``, an
        ``event`` instead) parse the same way."""
        path = self.poll_path(task_id)

        def snap(state: Any, clips: list[Clip], message: str | None = None) -> TaskSnapshot:
            return TaskSnapshot(
                task_id=task_id,
                family=self.name,
                status=state,
                clips=clips,
                message=message,
                raw=body,
            )

        if status == 202 or body is None:
            return snap("not_ready", [])
        if not isinstance(body, Mapping):
            raise ResponseValidationError(
                "producer task answer is not an object", path=path, status=status, body=body
            )
        check_not_found(task_id, self.name, status, body, path)
        if body.get("type") == "not_ready":
            return snap("not_ready", [])
        message = body.get("message") or body.get("error")
        message = str(message) if message is not None else None
        clips = parse_clip_list(task_id, body.get("data"), family=self.name)

        top = body.get("status")
        if top is None:
            event = str(body.get("event") or "")
            if event.endswith("failed"):
                top = "FAILED"
            elif event.endswith("completed"):
                top = "SUCCESS"
            elif clips and all(c.is_terminal for c in clips):
                top = "SUCCESS" if any(c.succeeded for c in clips) else "FAILED"
            else:
                top = "RUNNING"
        top = str(top).upper()

        if top in _FAILED:
            reason = message if message and message.lower() != "success" else "task failed"
            return snap("failed", [_with_state(c, "failed", reason) for c in clips], reason)
        if top in _SUCCESS and clips:
            task_type = body.get("task_type")
            if not all(c.failed or _delivered(c, task_type) for c in clips):
                # Documented quirk: SUCCESS can come before the file is in place; keep polling.
                return snap("running", [_with_state(c, "running") for c in clips], message)
            done = [c if c.failed else _with_state(c, "succeeded") for c in clips]
            state = "succeeded" if any(c.succeeded for c in done) else "failed"
            return snap(state, done, message)
        # PENDING / RUNNING, a SUCCESS with no data yet, or a status we do not know: the
        # top-level status is authoritative, so no clip counts as finished yet.
        running = [c if not c.is_terminal else _with_state(c, "running") for c in clips]
        return snap("running" if clips else "not_ready", running, message)


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
