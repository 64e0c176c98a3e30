"""Answers of the synchronous sonic routes, parsed tolerantly: the keys of an envelope's ``data``
are lifted to the top, so ``result.wav_url`` works for either answer shape."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ._base import ResponseModel

__all__ = [
    "AlignedLyricsResult",
    "AlignedWord",
    "BpmResult",
    "MidiInstrument",
    "MidiNote",
    "MidiResult",
    "PersonaResult",
    "UploadResult",
    "UpsampleTagsResult",
    "VoxResult",
    "WavResult",
]


class _Envelope(ResponseModel):
    """A result that may arrive wrapped in ``data`` (most utilities) or with top-level keys
    (persona, upload). ``code`` / ``message`` are the envelope's; unknown fields are kept."""

    code: int | None = None
    message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("data"), dict):
            inner = value["data"]
            outer = {k: v for k, v in value.items() if k != "data"}
            # Fields inside ``data`` win over envelope keys of the same name (except code/message,
            # which describe the envelope).
            value = {**outer, **{k: v for k, v in inner.items() if k not in ("code", "message")}}
        return cls._normalise(value) if isinstance(value, dict) else value

    @classmethod
    def _normalise(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Per-result fix-ups, applied to the unwrapped body (subclasses override)."""
        return value


class UploadResult(_Envelope):
    """``/sonic/upload`` in sync mode: the uploaded clip's id (``sonic.upload_async`` returns a
    ``Task`` instead, whose result holds the clip)."""

    clip_id: str = Field(min_length=1)


class BpmResult(_Envelope):
    """``/sonic/bpm``: tempo in beats per minute."""

    avg_bpm: float
    max_bpm: float | None = None
    min_bpm: float | None = None


class VoxResult(_Envelope):
    """``/sonic/vox``: the extracted vocals. The docs do not show the answer's fields; the ids
    and URLs seen are mapped here and everything else is kept in ``model_extra``.
    ``vox_audio_id`` is what ``create_persona`` takes."""

    vox_audio_id: str | None = None
    audio_url: str | None = None
    vocal_start_s: float | None = None
    vocal_end_s: float | None = None

    @classmethod
    def _normalise(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Third-party readings name the id ``id`` or ``vox_id`` and the file ``vocal_url``.
        value = dict(value)
        for alias in ("vox_id", "id"):
            if value.get("vox_audio_id") is None and isinstance(value.get(alias), str):
                value["vox_audio_id"] = value[alias]
        for alias in ("vocal_url", "vox_url", "url"):
            if value.get("audio_url") is None and isinstance(value.get(alias), str):
                value["audio_url"] = value[alias]
        return value


class WavResult(_Envelope):
    """``/sonic/wav``: a lossless copy of the clip."""

    wav_url: str


class MidiNote(ResponseModel):
    """One note: times in seconds, MIDI pitch, velocity 0-1."""

    start: float
    end: float
    pitch: int
    velocity: float | None = None


class MidiInstrument(ResponseModel):
    name: str | None = None
    notes: list[MidiNote] = Field(default_factory=list)


class MidiResult(_Envelope):
    """``/sonic/midi``: a hosted ``.mid`` file plus the notes as JSON.

    ``midi_url`` is ``None`` while the server is still preparing it (``client.sonic.midi`` asks
    again until it is there).
    """

    midi_url: str | None = None
    instruments: list[MidiInstrument] = Field(default_factory=list)

    @classmethod
    def _normalise(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "instruments" in value and value["instruments"] is None:
            value = {**value, "instruments": []}
        return value

    @property
    def ready(self) -> bool:
        return bool(self.midi_url)


class AlignedWord(ResponseModel):
    """One aligned word (or line): times in seconds, ``p_align`` the aligner's confidence."""

    word: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    p_align: float | None = None
    success: bool | None = None


class AlignedLyricsResult(_Envelope):
    """``/sonic/aligned-lyrics``: the lyrics with timings (repeat calls are free)."""

    alignment: list[AlignedWord]


class UpsampleTagsResult(_Envelope):
    """``/sonic/upsample-tags``: the richer style description."""

    upsampled_tags: str


class PersonaResult(_Envelope):
    """``/sonic/persona``: the new persona, for ``create_with_persona``."""

    persona_id: str
