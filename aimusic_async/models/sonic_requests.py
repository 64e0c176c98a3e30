"""Request bodies of every sonic route, validated before anything is sent: one model per
``task_type`` of ``/sonic/create`` (the union ``SonicCreateRequest``) and one per other route."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import Self

from ._base import RequestModel, readable_validation_error, union_titles

__all__ = [
    "GPT_DESCRIPTION_LIMIT",
    "KNOWN_MODELS",
    "LEGACY_MODELS",
    "PERSONA_NAME_LIMIT",
    "TITLE_LIMIT",
    "VOX_WINDOW_LIMIT",
    "AddInstrumentalRequest",
    "AddVocalsRequest",
    "AlignedLyricsRequest",
    "AsyncUploadRequest",
    "BpmRequest",
    "ConcatMusicRequest",
    "CoverMusicRequest",
    "CoverUploadMusicRequest",
    "CreateMusicRequest",
    "CreatePersonaRequest",
    "CreateVoiceRequest",
    "ExtendMusicRequest",
    "ExtendUploadMusicRequest",
    "MashupRequest",
    "MidiRequest",
    "PersonaMusicRequest",
    "RemasterRequest",
    "ReplaceSectionRequest",
    "SampleRequest",
    "SonicCreateRequest",
    "SonicModel",
    "SonicTaskType",
    "StartRequest",
    "StemsBasicRequest",
    "StemsFullRequest",
    "UploadCoverRequest",
    "UploadExtendRequest",
    "UploadRequest",
    "UpsampleTagsRequest",
    "VoxRequest",
    "WavRequest",
    "build_create_request",
    "prompt_limit",
    "supports_vocal_gender",
    "tags_limit",
]

# -- models and their limits ---------------------------------------------------------------------
# Known ids, offered for IDE completion. ``mv`` also takes any other non-empty string: the roster
# changes faster than releases (v5-5, v6 ...) and the server is the judge of what it accepts.
SonicModel = Literal[
    "sonic-v3-5",
    "sonic-v4",
    "sonic-v4-5",
    "sonic-v4-5-plus",
    "sonic-v4-5-all",
    "sonic-v5",
    "sonic-v5-5",
    "sonic-v6",
    "sonic-v6-wild",
    "sonic-v6-mini",
]
KNOWN_MODELS: frozenset[str] = frozenset(get_args(SonicModel))
# The two oldest models (and their chirp-* spellings) have the short limits and no vocal_gender.
LEGACY_MODELS: frozenset[str] = frozenset({"sonic-v3-5", "sonic-v4", "chirp-v3-5", "chirp-v4"})
# prompt: 3,000 chars on v3-5/v4, 5,000 on later models (5,001 rejected live on v5-5).
PROMPT_LIMIT_LEGACY = 3000
PROMPT_LIMIT = 5000
# tags: 200 chars on v3-5/v4 (error list), 1,000 on v4-5 and later (1,001 rejected live).
TAGS_LIMIT_LEGACY = 200
TAGS_LIMIT = 1000
# Current docs say 400 (401 rejected live); the error page's "200" is stale.
GPT_DESCRIPTION_LIMIT = 400
# 80 per the error list (81 rejected live); an older page's 120 is superseded.
TITLE_LIMIT = 80
PERSONA_NAME_LIMIT = 80
# duration is a target length in whole seconds, 10-360 (documented; no live call confirmed it).
DURATION_MIN = 10
DURATION_MAX = 360
# get VOX takes an optional window of at most 30 s (docs).
VOX_WINDOW_LIMIT = 30.0

SonicTaskType = Literal[
    "create_music",
    "extend_music",
    "cover_music",
    "concat_music",
    "persona_music",
    "extend_upload_music",
    "cover_upload_music",
    "remaster",
    "add_vocals",
    "add_instrumental",
]


def prompt_limit(mv: str | None) -> int:
    """The longest ``prompt`` the model takes; unknown models get the most permissive limit."""
    return PROMPT_LIMIT_LEGACY if mv in LEGACY_MODELS else PROMPT_LIMIT


def tags_limit(mv: str | None) -> int:
    """The longest ``tags`` string the model takes; unknown models get the most permissive."""
    return TAGS_LIMIT_LEGACY if mv in LEGACY_MODELS else TAGS_LIMIT


def supports_vocal_gender(mv: str | None) -> bool:
    """``vocal_gender`` works on v4-5 and later; unknown models are given the benefit of doubt."""
    return mv not in LEGACY_MODELS


# -- field types ---------------------------------------------------------------------------------
def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must be a non-empty string")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise PydanticCustomError("url_scheme", "must be an http:// or https:// URL")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]
# At runtime a plain string (a union with the Literal would report two errors for one bad value);
# the resource methods annotate ``mv`` as ``SonicModel | str`` so IDEs still offer the known ids.
ModelId = Annotated[str, AfterValidator(_not_blank)]
Url = Annotated[str, AfterValidator(_http_url)]
Weight = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(ge=0)]
Duration = Annotated[int, Field(ge=DURATION_MIN, le=DURATION_MAX)]
VocalGender = Literal["f", "m"]


def _problem(field: str, kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)


def _missing(field: str, why: str) -> InitErrorDetails:
    return _problem(field, "missing", f"'{field}' is required {why}", None)


def _window(
    start_field: str, end_field: str, start: float | None, end: float | None
) -> Iterator[InitErrorDetails]:
    if start is not None and end is not None and end <= start:
        yield _problem(
            end_field,
            "window_order",
            f"'{end_field}' must be greater than '{start_field}'",
            end,
        )


class _Checked(RequestModel):
    """Runs the cross-field rules (custom mode needs a prompt, per-model text limits, time
    windows) after the fields and reports each one at its own field, so a ``ValidationError``
    always names what to fix."""

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        problems = list(self._problems())
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def _problems(self) -> Iterator[InitErrorDetails]:
        return iter(())


class StartRequest(_Checked):
    """A body that starts a task: the webhook fields are accepted on every one.

    ``webhook_secret`` is a ``SecretStr``: masked in ``repr`` and ``model_dump()``, sent in clear
    only by ``to_wire()``. A ``ValidationError`` shows no input values: pydantic would print the
    whole body (secret included, in part) after a missing field or a cross-field rule.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    webhook_url: Url | None = None
    webhook_secret: SecretStr | None = Field(default=None, repr=False)

    def to_wire(self) -> dict[str, Any]:
        body = super().to_wire()
        if self.webhook_secret is not None:
            body["webhook_secret"] = self.webhook_secret.get_secret_value()
        return body


class _Styled(StartRequest):
    """Style fields shared by every generating route, with the per-model limits."""

    mv: ModelId
    prompt: str | None = None
    title: str | None = Field(default=None, max_length=TITLE_LIMIT)
    tags: str | None = None
    negative_tags: str | None = None
    vocal_gender: VocalGender | None = None
    style_weight: Weight | None = None
    weirdness_constraint: Weight | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        mv = self.mv
        if self.prompt is not None and len(self.prompt) > prompt_limit(mv):
            yield _problem(
                "prompt",
                "too_long",
                f"'prompt' may have at most {prompt_limit(mv)} characters on {mv}",
                len(self.prompt),
            )
        if self.tags is not None and len(self.tags) > tags_limit(mv):
            yield _problem(
                "tags",
                "too_long",
                f"'tags' may have at most {tags_limit(mv)} characters on {mv}",
                len(self.tags),
            )
        if self.vocal_gender is not None and not supports_vocal_gender(mv):
            yield _problem(
                "vocal_gender",
                "unsupported",
                f"'vocal_gender' needs sonic-v4-5 or later, not {mv}",
                self.vocal_gender,
            )


class _Generation(_Styled):
    """A generation with lyrics (custom mode) or a description (description mode)."""

    # Where custom_mode is required, the mode decides which text field must be present.
    _MODE_RULES: ClassVar[bool] = True
    # add_vocals sings the lyrics in ``prompt`` whatever the mode.
    _PROMPT_REQUIRED: ClassVar[bool] = False

    custom_mode: bool | None = None
    make_instrumental: bool | None = None
    auto_lyrics: bool | None = None
    gpt_description_prompt: str | None = Field(default=None, max_length=GPT_DESCRIPTION_LIMIT)
    audio_weight: Weight | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        has_prompt = bool(self.prompt and self.prompt.strip())
        if self._PROMPT_REQUIRED and not has_prompt:
            yield _missing("prompt", "(the lyrics to sing)")
        elif (
            self._MODE_RULES
            and self.custom_mode is True
            and not has_prompt
            and not (self.make_instrumental or self.auto_lyrics)
        ):
            yield _missing(
                "prompt", "when custom_mode is true (unless make_instrumental or auto_lyrics)"
            )
        if self._MODE_RULES and self.custom_mode is False:
            if not (self.gpt_description_prompt and self.gpt_description_prompt.strip()):
                yield _missing("gpt_description_prompt", "when custom_mode is false")
            if self.auto_lyrics:
                yield _problem(
                    "auto_lyrics",
                    "needs_custom_mode",
                    "'auto_lyrics' works only with custom_mode true",
                    True,
                )


class _Timed(_Generation):
    """Generations that take a target ``duration`` (create, extend, cover, persona, uploads)."""

    duration: Duration | None = None


class _Overpainting(_Generation):
    """add_vocals / add_instrumental: a source clip and an optional window to paint over."""

    _MODE_RULES: ClassVar[bool] = False

    continue_clip_id: NonBlank
    overpainting_start_s: Seconds | None = None
    overpainting_end_s: Seconds | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        yield from _window(
            "overpainting_start_s",
            "overpainting_end_s",
            self.overpainting_start_s,
            self.overpainting_end_s,
        )


# -- POST /api/v1/sonic/create, one model per task_type ------------------------------------------
# ``use_suno_cdn`` is sent explicitly as false on every create body: the schema marks it required
# and one client saw 400 without it.


class CreateMusicRequest(_Timed):
    """A new song: lyrics in ``prompt`` (custom mode) or a ``gpt_description_prompt``."""

    task_type: Literal["create_music"] = "create_music"
    custom_mode: bool
    use_suno_cdn: bool = False


class ExtendMusicRequest(_Timed):
    """Continue a generated clip from ``continue_at`` seconds (the answer holds only the new part;
    ``concat_music`` joins it with the source)."""

    task_type: Literal["extend_music"] = "extend_music"
    continue_clip_id: NonBlank
    continue_at: Seconds
    custom_mode: bool
    use_suno_cdn: bool = False


class CoverMusicRequest(_Timed):
    """Restyle a generated clip."""

    task_type: Literal["cover_music"] = "cover_music"
    continue_clip_id: NonBlank
    custom_mode: bool
    use_suno_cdn: bool = False


class ConcatMusicRequest(StartRequest):
    """Join an extension with its source into one full song (only the extension's clip id)."""

    task_type: Literal["concat_music"] = "concat_music"
    continue_clip_id: NonBlank
    use_suno_cdn: bool = False


class PersonaMusicRequest(_Timed):
    """Sing with a persona (from create persona or create voice)."""

    task_type: Literal["persona_music"] = "persona_music"
    persona_id: NonBlank
    custom_mode: bool
    use_suno_cdn: bool = False


class ExtendUploadMusicRequest(_Timed):
    """Extend audio uploaded with ``/sonic/upload`` (docs recommend ``continue_at=0.1``)."""

    task_type: Literal["extend_upload_music"] = "extend_upload_music"
    continue_clip_id: NonBlank
    continue_at: Seconds
    custom_mode: bool
    use_suno_cdn: bool = False


class CoverUploadMusicRequest(_Timed):
    """Cover audio uploaded with ``/sonic/upload`` (``audio_weight`` sets how close to stay)."""

    task_type: Literal["cover_upload_music"] = "cover_upload_music"
    continue_clip_id: NonBlank
    custom_mode: bool
    use_suno_cdn: bool = False


class RemasterRequest(StartRequest):
    """Remaster a generated clip; ``variation_category`` is reported for sonic-v5."""

    task_type: Literal["remaster"] = "remaster"
    continue_clip_id: NonBlank
    mv: ModelId
    variation_category: Literal["subtle", "normal", "high"] | None = None
    use_suno_cdn: bool = False


class AddVocalsRequest(_Overpainting):
    """Sing ``prompt`` over an uploaded instrumental (clip uploaded in the last 24 h)."""

    _PROMPT_REQUIRED: ClassVar[bool] = True

    task_type: Literal["add_vocals"] = "add_vocals"
    use_suno_cdn: bool = False


class AddInstrumentalRequest(_Overpainting):
    """Accompany uploaded vocals (clip uploaded in the last 24 h)."""

    task_type: Literal["add_instrumental"] = "add_instrumental"
    use_suno_cdn: bool = False


SonicCreateRequest = Annotated[
    CreateMusicRequest
    | ExtendMusicRequest
    | CoverMusicRequest
    | ConcatMusicRequest
    | PersonaMusicRequest
    | ExtendUploadMusicRequest
    | CoverUploadMusicRequest
    | RemasterRequest
    | AddVocalsRequest
    | AddInstrumentalRequest,
    Field(discriminator="task_type"),
]
"""Any body of ``POST /api/v1/sonic/create``, chosen by ``task_type``."""

_CREATE_ADAPTER: TypeAdapter[SonicCreateRequest] = TypeAdapter(
    SonicCreateRequest, config=ConfigDict(hide_input_in_errors=True)
)
_TASK_TYPES: tuple[str, ...] = get_args(SonicTaskType)
# Which request model each task_type selects: the error names it, not the union.
_TITLES = union_titles(get_args(get_args(SonicCreateRequest)[0]))


def build_create_request(fields: Mapping[str, Any]) -> SonicCreateRequest:
    """The ``/sonic/create`` body for ``fields`` (``task_type`` defaults to ``create_music``;
    ``None`` values count as not given). Raises ``ValidationError`` naming the field."""
    data = {k: v for k, v in fields.items() if v is not None}
    task_type = data.setdefault("task_type", "create_music")
    if task_type not in _TASK_TYPES:
        # The union alone would report an unknown tag with an empty loc.
        problem = _problem(
            "task_type",
            "task_type",
            "'task_type' must be one of " + ", ".join(_TASK_TYPES),
            task_type,
        )
        raise readable_validation_error(
            ValidationError.from_exception_data("SonicCreateRequest", [problem]),
            "SonicCreateRequest",
        )
    try:
        return _CREATE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise readable_validation_error(exc, "SonicCreateRequest", tags=_TITLES) from None


# -- other generating routes ---------------------------------------------------------------------
class UploadRequest(_Checked):
    """``POST /sonic/upload`` in sync mode: the server fetches ``url`` and answers the clip id."""

    url: Url


class AsyncUploadRequest(_Checked):
    """``POST /sonic/upload`` in async mode: ``callback_url`` makes the server answer a task id at
    once and post the uploaded clip there (signed with the account's default webhook secret:
    the route takes no secret of its own). The SDK fills in its receiver's URL when it has one."""

    url: Url
    callback_url: Url | None = None


class UploadExtendRequest(_Timed):
    """``POST /sonic/upload-extend``: upload ``url`` and extend it in one call."""

    url: Url
    custom_mode: bool
    continue_at: Seconds
    auto_concat: bool | None = None


class UploadCoverRequest(_Timed):
    """``POST /sonic/upload-cover``: upload ``url`` and cover it in one call."""

    url: Url
    custom_mode: bool


class SampleRequest(_Generation):
    """``POST /sonic/sample``: a song from a fragment, given by ``url`` or ``sample_clip_id``."""

    custom_mode: bool
    url: Url | None = None
    sample_clip_id: NonBlank | None = None
    chop_sample_start_s: Seconds | None = None
    chop_sample_end_s: Seconds | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        if (self.url is None) == (self.sample_clip_id is None):
            yield _problem(
                "sample_clip_id",
                "one_source",
                "give exactly one of 'url' or 'sample_clip_id'",
                self.sample_clip_id,
            )
        yield from _window(
            "chop_sample_start_s",
            "chop_sample_end_s",
            self.chop_sample_start_s,
            self.chop_sample_end_s,
        )


class MashupRequest(_Generation):
    """``POST /sonic/mashup``: blend exactly two clips into a new song."""

    custom_mode: bool
    mashup_clip_ids: Annotated[list[NonBlank], Field(min_length=2, max_length=2)]

    @model_validator(mode="before")
    @classmethod
    def _tuple_ids(cls, data: Any) -> Any:
        # Strict mode refuses a tuple for a list; a pair of ids is naturally written as one.
        if isinstance(data, dict) and isinstance(data.get("mashup_clip_ids"), tuple):
            data = {**data, "mashup_clip_ids": list(data["mashup_clip_ids"])}
        return data


class ReplaceSectionRequest(_Styled):
    """``POST /sonic/replace-section``: regenerate ``infill_start_s``..``infill_end_s`` of a clip.

    ``prompt`` is the whole song's lyrics for context, ``infill_lyrics`` the new lines; with
    ``auto_concat`` the result also holds the re-assembled full song.
    """

    clip_id: NonBlank
    infill_start_s: Seconds
    infill_end_s: Seconds
    infill_lyrics: str | None = None
    auto_concat: bool | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        yield from _window("infill_start_s", "infill_end_s", self.infill_start_s, self.infill_end_s)


class StemsBasicRequest(StartRequest):
    """``POST /sonic/stems/basic``: vocals + instrumental."""

    clip_id: NonBlank


class StemsFullRequest(StartRequest):
    """``POST /sonic/stems/full``: one track per instrument group."""

    clip_id: NonBlank


class CreateVoiceRequest(StartRequest):
    """``POST /sonic/create-voice``: a persona cloned from a clear solo vocal (> 10 s)."""

    audio_url: Url
    # Not on the stored pages; the finished task echoes a ``name`` with the persona id.
    name: Annotated[NonBlank, Field(max_length=PERSONA_NAME_LIMIT)] | None = None


# -- sync utilities ------------------------------------------------------------------------------
class CreatePersonaRequest(_Checked):
    """``POST /sonic/persona``: a reusable voice from a clip (optionally a VOX window)."""

    name: Annotated[NonBlank, Field(max_length=PERSONA_NAME_LIMIT)]
    clip_id: NonBlank
    describe: str | None = None
    styles: str | None = None
    vox_audio_id: NonBlank | None = None
    vocal_start_s: Seconds | None = None
    vocal_end_s: Seconds | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        yield from _window("vocal_start_s", "vocal_end_s", self.vocal_start_s, self.vocal_end_s)


class _OneClip(_Checked):
    clip_id: NonBlank


class BpmRequest(_OneClip):
    """``POST /sonic/bpm``."""


class WavRequest(_OneClip):
    """``POST /sonic/wav``."""


class MidiRequest(_OneClip):
    """``POST /sonic/midi`` (a full song or a single-instrument stem clip)."""


class AlignedLyricsRequest(_OneClip):
    """``POST /sonic/aligned-lyrics`` (a clip with lyrics)."""


class VoxRequest(_OneClip):
    """``POST /sonic/vox``: the vocals of a clip, optionally a window of at most 30 s."""

    vocal_start_s: Seconds | None = None
    vocal_end_s: Seconds | None = None

    def _problems(self) -> Iterator[InitErrorDetails]:
        yield from super()._problems()
        start, end = self.vocal_start_s, self.vocal_end_s
        # A half-open window cannot be checked against the 30 s cap, so both or neither.
        if start is not None and end is None:
            yield _missing("vocal_end_s", "when vocal_start_s is given")
        elif end is not None and start is None:
            yield _missing("vocal_start_s", "when vocal_end_s is given")
        elif start is not None and end is not None:
            if end <= start:
                yield from _window("vocal_start_s", "vocal_end_s", start, end)
            elif end - start > VOX_WINDOW_LIMIT:
                yield _problem(
                    "vocal_end_s",
                    "window_too_long",
                    f"the vocal window may span at most {VOX_WINDOW_LIMIT:g} s",
                    end,
                )


class UpsampleTagsRequest(_Checked):
    """``POST /sonic/upsample-tags``: expand short style tags into a richer description."""

    tags: NonBlank
