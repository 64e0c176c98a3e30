"""``client.sonic``: every sonic operation; each method is one row of the operation table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from typing_extensions import TypedDict, Unpack

from .. import _clock
from .._constants import (
    MIDI_MAX_ATTEMPTS,
    MIDI_RETRY_DELAY,
    MIDI_RETRY_MAX_DELAY,
    MIDI_RETRY_MULTIPLIER,
)
from .._errors import APITimeoutError
from .._operations import OPERATIONS
from .._tasks import Task
from ..models.common import TaskSnapshot
from ..models.sonic_requests import (
    SonicModel,
    SonicTaskType,
    VocalGender,
)
from ..models.sonic_results import (
    AlignedLyricsResult,
    BpmResult,
    MidiResult,
    PersonaResult,
    UploadResult,
    UpsampleTagsResult,
    VoxResult,
    WavResult,
)
from ._base import Resource

__all__ = ["SonicCreateFields", "SonicResource"]


class SonicCreateFields(TypedDict, total=False):
    """Every field ``/sonic/create`` takes; which ones apply depends on ``task_type``."""

    task_type: SonicTaskType
    mv: SonicModel | str
    custom_mode: bool
    prompt: str
    gpt_description_prompt: str
    title: str
    tags: str
    negative_tags: str
    make_instrumental: bool
    auto_lyrics: bool
    vocal_gender: VocalGender
    style_weight: float
    weirdness_constraint: float
    audio_weight: float
    duration: int
    continue_clip_id: str
    continue_at: float
    persona_id: str
    variation_category: Literal["subtle", "normal", "high"]
    overpainting_start_s: float
    overpainting_end_s: float
    use_suno_cdn: bool
    webhook_url: str
    webhook_secret: str


class SonicResource(Resource):
    """``client.sonic``: generation tasks, uploads, edits, stems and analysis utilities.

    Methods that start server work return a ``Task``; the utilities return a typed result. Each
    builds its request model first, so bad input raises ``pydantic.ValidationError`` naming the
    field before anything is sent. Field names are the API's own; a method on one clip takes
    that clip's id first.

    >>> task = await client.sonic.create(mv="sonic-v5", custom_mode=False,
    ...                                  gpt_description_prompt="calm lo-fi for studying")
    >>> result = await task
    """

    # -- /sonic/create -------------------------------------------------------------------------
    async def create(
        self, *, timeout: float | None = None, **fields: Unpack[SonicCreateFields]
    ) -> Task:
        """Start any ``/sonic/create`` task; ``task_type`` defaults to ``create_music``.

        Custom mode sings your ``prompt`` (lyrics); description mode writes a song from
        ``gpt_description_prompt`` (<= 400 chars). The typed helpers (``extend``, ``cover``, ...)
        start the other task types with their own required fields.

        >>> task = await client.sonic.create(mv="sonic-v5", custom_mode=True,
        ...     title="Starry Night", tags="pop, dreamy", prompt="[Verse]\\nStars they shine")
        """
        return await self._task("sonic.create", {**fields, "timeout": timeout})

    async def extend(
        self,
        clip_id: str,
        *,
        continue_at: float,
        mv: SonicModel | str,
        custom_mode: bool,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        duration: int | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Continue a generated clip from ``continue_at`` seconds (``extend_music``).

        The result holds only the new part; ``concat`` joins it with its source. For audio you
        uploaded use ``upload_extend`` or ``create(task_type="extend_upload_music", ...)``.

        >>> more = await client.sonic.extend(clip.clip_id, continue_at=60, mv="sonic-v5",
        ...                                  custom_mode=True, prompt="[Verse 2]\\n...")
        """
        return await self._task("sonic.extend", locals())

    async def cover(
        self,
        clip_id: str,
        *,
        mv: SonicModel | str,
        custom_mode: bool,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        duration: int | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Restyle a generated clip (``cover_music``); ``audio_weight`` 0-1 sets how close."""
        return await self._task("sonic.cover", locals())

    async def concat(
        self,
        clip_id: str,
        *,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Join an extension (its clip id) with its source into the full song (2 credits)."""
        return await self._task("sonic.concat", locals())

    async def create_with_persona(
        self,
        persona_id: str,
        *,
        mv: SonicModel | str,
        custom_mode: bool,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        duration: int | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """A new song sung by a persona (``persona_music``): the id from ``create_persona`` or
        from a finished ``create_voice`` task (``result.persona_id``)."""
        return await self._task("sonic.create_with_persona", locals())

    async def remaster(
        self,
        clip_id: str,
        *,
        mv: SonicModel | str,
        variation_category: Literal["subtle", "normal", "high"] | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Remaster a generated clip (best on clips under 24 h old)."""
        return await self._task("sonic.remaster", locals())

    async def add_vocals(
        self,
        clip_id: str,
        *,
        mv: SonicModel | str,
        prompt: str,
        custom_mode: bool | None = None,
        gpt_description_prompt: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        overpainting_start_s: float | None = None,
        overpainting_end_s: float | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Sing the lyrics in ``prompt`` over an instrumental you uploaded (< 24 h old);
        optionally only between ``overpainting_start_s`` and ``overpainting_end_s``."""
        return await self._task("sonic.add_vocals", locals())

    async def add_instrumental(
        self,
        clip_id: str,
        *,
        mv: SonicModel | str,
        prompt: str | None = None,
        custom_mode: bool | None = None,
        gpt_description_prompt: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        overpainting_start_s: float | None = None,
        overpainting_end_s: float | None = None,
        use_suno_cdn: bool = False,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Accompany vocals you uploaded (< 24 h old) with an instrumental."""
        return await self._task("sonic.add_instrumental", locals())

    # -- dedicated generation routes -----------------------------------------------------------
    async def upload_extend(
        self,
        url: str,
        *,
        continue_at: float,
        mv: SonicModel | str,
        custom_mode: bool,
        auto_concat: bool | None = None,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        duration: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Upload the audio at ``url`` and extend it in one call (``/sonic/upload-extend``);
        with ``auto_concat`` the result is the whole song."""
        return await self._task("sonic.upload_extend", locals())

    async def upload_cover(
        self,
        url: str,
        *,
        mv: SonicModel | str,
        custom_mode: bool,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        duration: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Upload the audio at ``url`` and cover it in one call (``/sonic/upload-cover``)."""
        return await self._task("sonic.upload_cover", locals())

    async def sample(
        self,
        clip_id: str | None = None,
        *,
        url: str | None = None,
        mv: SonicModel | str,
        custom_mode: bool,
        chop_sample_start_s: float | None = None,
        chop_sample_end_s: float | None = None,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """A full song from a fragment: a clip (sent as ``sample_clip_id``) or an audio ``url``,
        optionally chopped to ``chop_sample_start_s``..``chop_sample_end_s``."""
        return await self._task("sonic.sample", locals())

    async def mashup(
        self,
        mashup_clip_ids: Sequence[str],
        *,
        mv: SonicModel | str,
        custom_mode: bool,
        prompt: str | None = None,
        gpt_description_prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        make_instrumental: bool | None = None,
        auto_lyrics: bool | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Blend exactly two clips into a new song (sonic-* or chirp-* models)."""
        return await self._task("sonic.mashup", locals())

    async def replace_section(
        self,
        clip_id: str,
        *,
        infill_start_s: float,
        infill_end_s: float,
        mv: SonicModel | str,
        prompt: str | None = None,
        infill_lyrics: str | None = None,
        auto_concat: bool | None = None,
        title: str | None = None,
        tags: str | None = None,
        negative_tags: str | None = None,
        vocal_gender: VocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Regenerate ``infill_start_s``..``infill_end_s`` of a clip with ``infill_lyrics``
        (``prompt``: the whole song's lyrics, for context). ``auto_concat`` also returns the
        re-assembled song."""
        return await self._task("sonic.replace_section", locals())

    async def stems_basic(
        self,
        clip_id: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Split a clip into vocals and instrumental; the result has one clip per stem."""
        return await self._task("sonic.stems_basic", locals())

    async def stems_full(
        self,
        clip_id: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Split a clip into one track per instrument group (a dozen or more stems)."""
        return await self._task("sonic.stems_full", locals())

    async def create_voice(
        self,
        audio_url: str,
        *,
        name: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Clone a voice from a clear solo vocal (> 10 s, MP3/WAV); the finished task's
        ``result.persona_id`` feeds ``create_with_persona``."""
        return await self._task("sonic.create_voice", locals())

    async def upload_async(
        self, url: str, *, callback_url: str | None = None, timeout: float | None = None
    ) -> Task:
        """Upload audio you own from a public ``url`` in the API's async mode: the server answers
        at once and posts the uploaded clip to a callback URL; the ``Task`` resolves to it
        (``result.clips[0]``, whose ``clip_id`` feeds the same tasks as ``upload``'s).

        Without ``callback_url`` the client's webhook receiver gets the callback (``serve()`` or
        ``use()`` first), and the task resolves from it. The route takes no webhook secret, so
        the API signs that callback with your account's default one: the client must know it
        (``account_webhook_secret=``), else this raises ``ConfigurationError`` before sending.
        With your own ``callback_url`` the task polls.

        >>> task = await client.sonic.upload_async("https://example.com/my-song.mp3")
        >>> clip = (await task).clips[0]
        """
        return await self._task("sonic.upload_async", locals())

    # -- synchronous utilities -----------------------------------------------------------------
    async def upload(self, url: str, *, timeout: float | None = None) -> UploadResult:
        """Upload audio you own from a public ``url``; ``result.clip_id`` feeds the
        ``*_upload_music`` tasks, ``upload_*``, ``add_vocals`` ... The server fetches the file
        before it answers (about 20 s); ``upload_async`` answers at once with a ``Task``.
        Sent like a start request (never re-sent blind): an upload is paid and creates a clip.

        >>> up = await client.sonic.upload("https://example.com/my-song.mp3")
        >>> task = await client.sonic.create(task_type="extend_upload_music", ...)
        """
        return await self._sync("sonic.upload", locals(), UploadResult)

    async def create_persona(
        self,
        clip_id: str,
        *,
        name: str,
        describe: str | None = None,
        styles: str | None = None,
        vox_audio_id: str | None = None,
        vocal_start_s: float | None = None,
        vocal_end_s: float | None = None,
        timeout: float | None = None,
    ) -> PersonaResult:
        """A reusable voice from a clip (optionally the ``vox_audio_id`` from ``vox``);
        ``result.persona_id`` feeds ``create_with_persona``. The docs mark this route
        unavailable upstream at times: expect an ``APIError`` then."""
        return await self._sync("sonic.create_persona", locals(), PersonaResult)

    async def bpm(self, clip_id: str, *, timeout: float | None = None) -> BpmResult:
        """The clip's tempo: ``avg_bpm``, ``max_bpm``, ``min_bpm``."""
        return await self._sync("sonic.bpm", locals(), BpmResult)

    async def vox(
        self,
        clip_id: str,
        *,
        vocal_start_s: float | None = None,
        vocal_end_s: float | None = None,
        timeout: float | None = None,
    ) -> VoxResult:
        """The clip's vocals, optionally a window of at most 30 s; ``result.vox_audio_id``
        feeds ``create_persona``."""
        return await self._sync("sonic.vox", locals(), VoxResult)

    async def wav(self, clip_id: str, *, timeout: float | None = None) -> WavResult:
        """A lossless WAV of the clip: ``result.wav_url``."""
        return await self._sync("sonic.wav", locals(), WavResult)

    async def midi(self, clip_id: str, *, timeout: float | None = None) -> MidiResult:
        """The clip's notes as JSON plus a ``.mid`` URL. The server may answer before the file is
        ready; the call asks again (bounded) until ``midi_url`` is there, else raises
        ``APITimeoutError``."""
        delay = MIDI_RETRY_DELAY
        for attempt in range(1, MIDI_MAX_ATTEMPTS + 1):
            result = await self._sync(
                "sonic.midi", {"clip_id": clip_id, "timeout": timeout}, MidiResult
            )
            if result.ready:
                return result
            if attempt < MIDI_MAX_ATTEMPTS:
                await _clock.sleep(delay)
                delay = min(delay * MIDI_RETRY_MULTIPLIER, MIDI_RETRY_MAX_DELAY)
        raise APITimeoutError(
            f"the MIDI of clip {clip_id} was not ready after {MIDI_MAX_ATTEMPTS} attempts",
            path=OPERATIONS["sonic.midi"].route,
        )

    async def aligned_lyrics(
        self, clip_id: str, *, timeout: float | None = None
    ) -> AlignedLyricsResult:
        """Word timings of the clip's lyrics (the first call per clip costs 1 credit)."""
        return await self._sync("sonic.aligned_lyrics", locals(), AlignedLyricsResult)

    async def upsample_tags(self, tags: str, *, timeout: float | None = None) -> UpsampleTagsResult:
        """Expand short style tags into a richer description: ``result.upsampled_tags``."""
        return await self._sync("sonic.upsample_tags", locals(), UpsampleTagsResult)

    # -- tasks ---------------------------------------------------------------------------------
    async def get(self, task_id: str, *, timeout: float | None = None) -> TaskSnapshot:
        """One poll of a sonic task (``GET /sonic/task/{id}``): its current snapshot (free)."""
        return await self._get("sonic.get", task_id, timeout)
