"""The operation table: every API operation by name ("sonic.extend") with its request model,
route, task family, kind and result. Resource methods, batch validation, the command line and
the manual's operation list all read it."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._errors import ConfigurationError
from .families import NURO_REPLACEMENTS, builtin_families
from .models._base import RequestModel
from .models.account import Credits
from .models.lyrics import LyricsRequest, LyricsResult
from .models.nuro import NuroBgmRequest, NuroVocalRequest
from .models.producer import (
    PRODUCER_REPLACEMENTS,
    ProducerCreateMusic,
    ProducerCreateRequest,
    ProducerDownloadRequest,
    ProducerLyricsRequest,
    ProducerUploadRequest,
    ProducerVideoRequest,
    build_producer_create,
)
from .models.riffusion import RiffusionCreateRequest, RiffusionUploadRequest, RiffusionUploadResult
from .models.sonic_requests import (
    AddInstrumentalRequest,
    AddVocalsRequest,
    AlignedLyricsRequest,
    AsyncUploadRequest,
    BpmRequest,
    ConcatMusicRequest,
    CoverMusicRequest,
    CreateMusicRequest,
    CreatePersonaRequest,
    CreateVoiceRequest,
    ExtendMusicRequest,
    MashupRequest,
    MidiRequest,
    PersonaMusicRequest,
    RemasterRequest,
    ReplaceSectionRequest,
    SampleRequest,
    SonicCreateRequest,
    StemsBasicRequest,
    StemsFullRequest,
    UploadCoverRequest,
    UploadExtendRequest,
    UploadRequest,
    UpsampleTagsRequest,
    VoxRequest,
    WavRequest,
    build_create_request,
)
from .models.sonic_results import (
    AlignedLyricsResult,
    BpmResult,
    MidiResult,
    PersonaResult,
    UploadResult,
    UpsampleTagsResult,
    VoxResult,
    WavResult,
)

__all__ = [
    "CALL_OPTIONS",
    "OPERATIONS",
    "Callbacks",
    "Kind",
    "Operation",
    "Parameter",
    "default_operation",
    "operation",
]

# task: starts server work, answers with a task id (never re-sent when its fate is unknown).
# paid: answers at once but is charged, so it is sent under the same credit rule as a task.
# sync: answers at once and is free to repeat. poll: one look at a task's state.
Kind = Literal["task", "paid", "sync", "poll"]

# Keyword arguments every method takes besides its model's fields: how this one call is sent, not
# what is sent. Never part of a request body, a batch job's params or the command line's fields.
CALL_OPTIONS = frozenset({"timeout"})


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation's method: its name (after renames), whether it must be
    given, its default otherwise, and its type as the request model declares it."""

    name: str
    required: bool
    default: Any
    annotation: Any


@dataclass(frozen=True)
class Callbacks:
    """How a task-starting operation asks for its callback: the request field naming the URL,
    the one carrying the secret (None: the route takes none, so the account's default webhook
    secret signs its callbacks), and whether the route needs a URL at all."""

    url_field: str = "webhook_url"
    secret_field: str | None = "webhook_secret"
    required: bool = False


# What every generation route takes (an optional webhook_url and webhook_secret).
WEBHOOK_FIELDS = Callbacks()
# The async mode of /sonic/upload: callback_url is what makes it a task, and the route takes no
# secret of its own.
UPLOAD_CALLBACK = Callbacks("callback_url", None, required=True)


@dataclass(frozen=True)
class Operation:
    """One row of the table. ``name`` is ``"<namespace>.<method>"``: ``client.<namespace>``
    has the method."""

    name: str
    kind: Kind
    route: str
    # The request body: one model, or (``union``) the models ``task_type`` chooses among, checked
    # by ``builder``; ``model`` is then the default member. None for a body-less route.
    model: type[RequestModel] | None = None
    union: tuple[type[RequestModel], ...] = ()
    builder: Callable[[dict[str, Any]], RequestModel] | None = None
    family: str | None = None  # the task family of a "task" or "poll" operation
    result: type[BaseModel] | None = None  # the answer of a "sync" or "paid" operation
    http_method: str = "POST"
    positional: str | None = None  # the method's first, positional parameter
    renames: Mapping[str, str] = field(default_factory=dict)  # parameter -> API field
    # The method takes ``**fields`` (every field of the union, each optional).
    variadic: bool = False
    # A start of a task type that has a method of its own is reported under that method's name
    # (errors, duration estimates, journals); another task type as "<namespace>.<task_type>".
    name_by_task_type: bool = False
    # What a retired route (HTTP 410) names instead: one text, or one per task type.
    replacement: str | Mapping[str, str] | None = None
    # Parameters the model's own checks require although the field is typed optional (it is
    # shared with task types that do not need it), like the lyrics add_vocals sings.
    requires: tuple[str, ...] = ()
    # How a "task" operation asks for its callback.
    callbacks: Callbacks = WEBHOOK_FIELDS

    @property
    def namespace(self) -> str:
        return self.name.partition(".")[0]

    @property
    def method(self) -> str:
        return self.name.partition(".")[2]

    @property
    def starts_task(self) -> bool:
        return self.kind == "task"

    @cached_property
    def parameters(self) -> Mapping[str, Parameter]:
        """The method's parameters, the positional one first, derived from the request model
        (fields the route fixes, like ``task_type`` of ``extend``, are not parameters)."""
        found: dict[str, Parameter] = {}
        if self.kind == "poll":
            found["task_id"] = Parameter("task_id", True, None, str)
        fields_of = {v: k for k, v in self.renames.items()}
        if self.union:
            # Any member's field may be given (each optional); task_type picks the member, and
            # a field's default is the default member's.
            defaults = self.model.model_fields if self.model is not None else {}
            for member in self.union:
                for api_name, info in member.model_fields.items():
                    name = fields_of.get(api_name, api_name)
                    old = found.get(name)
                    types = [info.annotation] if old is None else [old.annotation, info.annotation]
                    base = defaults.get(api_name)
                    default = None if base is None or base.is_required() else base.default
                    if default is None:
                        types.append(None)  # optional even where a member requires it
                    found[name] = Parameter(name, False, default, _either(types))
        elif self.model is not None:
            for api_name, info in self.model.model_fields.items():
                if _fixed(info.annotation, info.default):
                    continue
                name = fields_of.get(api_name, api_name)
                if name in self.requires:
                    found[name] = Parameter(name, True, None, _without_none(info.annotation))
                    continue
                required = info.is_required()
                found[name] = Parameter(
                    name, required, None if required else info.default, info.annotation
                )
        if self.positional is not None and self.positional in found:
            found = {self.positional: found[self.positional], **found}
        return MappingProxyType(found)

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check keyword arguments against the method's parameters, as a call would: an unknown
        name or a missing required one is a ``pydantic.ValidationError`` naming it (and nothing
        of a value). Operations taking ``**fields`` leave unknown names to their model."""
        known = self.parameters
        problems: list[InitErrorDetails] = [
            {"type": "missing", "loc": (p.name,), "input": None}
            for p in known.values()
            if p.required and params.get(p.name) is None
        ]
        problems += [
            {
                "type": PydanticCustomError(
                    "call_option",
                    "is an option of the method call, not an API field: set it on the client "
                    "or with client.with_options(...)",
                ),
                "loc": (name,),
                "input": None,
            }
            for name in params
            if name in CALL_OPTIONS and name not in known
        ]
        if not self.variadic:
            problems += [
                {"type": "extra_forbidden", "loc": (name,), "input": None}
                for name in params
                if name not in known and name not in CALL_OPTIONS
            ]
        if problems:
            raise ValidationError.from_exception_data(self.name, problems, hide_input=True)
        return dict(params)

    def build(self, args: Mapping[str, Any]) -> RequestModel | None:
        """The request body from a method's arguments: ``self`` and the call options dropped,
        None meaning "not given", tuples and other sequences as lists, parameters renamed to the
        API's fields. Raises ``pydantic.ValidationError`` naming the field; nothing is sent."""
        data: dict[str, Any] = {}
        for name, value in args.items():
            if name == "self" or value is None or name in CALL_OPTIONS:
                continue
            if not isinstance(value, _PLAIN) and isinstance(value, Sequence):
                value = list(value)  # strict models take lists; callers may pass tuples
            data[self.renames.get(name, name)] = value
        if self.builder is not None:
            return self.builder(data)
        if self.model is None:
            if data:
                raise ConfigurationError(f"{self.name} takes no parameters, got {sorted(data)}")
            return None
        return self.model.model_validate(data)

    def reported_name(self, body: RequestModel | None) -> str:
        """The name a start is reported under (see ``name_by_task_type``)."""
        if not self.name_by_task_type:
            return self.name
        task_type = getattr(body, "task_type", None)
        sibling = _BY_TASK_TYPE.get((self.route, task_type))
        return sibling if sibling is not None else f"{self.namespace}.{task_type}"

    def replacement_for(self, body: RequestModel | None) -> str | None:
        """What a 410 on this operation should name instead."""
        if isinstance(self.replacement, Mapping):
            return self.replacement.get(str(getattr(body, "task_type", "")))
        return self.replacement


# Values passed on as they are (checked first: an ABC isinstance check is slower).
_PLAIN = (str, bytes, bytearray, list, dict, bool, int, float)


def _fixed(annotation: Any, default: Any) -> bool:
    """A field the route decides: a one-value Literal that is also its default."""
    return get_origin(annotation) is Literal and get_args(annotation) == (default,)


def _either(types: list[Any]) -> Any:
    """``A | B | ...`` of annotations (None for NoneType)."""
    return functools.reduce(operator.or_, [type(None) if t is None else t for t in types])


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) not in (Union, UnionType):
        return annotation
    return _either([arg for arg in get_args(annotation) if arg is not type(None)])


def _union(annotated: Any) -> tuple[type[RequestModel], ...]:
    """The members of ``Annotated[A | B | ..., Field(discriminator=...)]``."""
    return tuple(get_args(get_args(annotated)[0]))


_S = "/api/v1/sonic"
_POLL = {name: family.poll_path("{task_id}") for name, family in builtin_families().items()}
_CLIP = {"clip_id": "continue_clip_id"}


def _task(name: str, route: str, model: type[RequestModel], **kw: Any) -> Operation:
    return Operation(name, "task", route, model, family=name.partition(".")[0], **kw)


def _get(namespace: str) -> Operation:
    route = _POLL[namespace]
    return Operation(
        f"{namespace}.get", "poll", route, family=namespace, http_method="GET", positional="task_id"
    )


_ROWS: tuple[Operation, ...] = (
    # -- sonic: /sonic/create by task type, the dedicated generation routes, the utilities --
    Operation(
        "sonic.create",
        "task",
        f"{_S}/create",
        CreateMusicRequest,
        union=_union(SonicCreateRequest),
        builder=build_create_request,
        family="sonic",
        variadic=True,
        name_by_task_type=True,
    ),
    _task("sonic.extend", f"{_S}/create", ExtendMusicRequest, positional="clip_id", renames=_CLIP),
    _task("sonic.cover", f"{_S}/create", CoverMusicRequest, positional="clip_id", renames=_CLIP),
    _task("sonic.concat", f"{_S}/create", ConcatMusicRequest, positional="clip_id", renames=_CLIP),
    _task(
        "sonic.create_with_persona", f"{_S}/create", PersonaMusicRequest, positional="persona_id"
    ),
    _task("sonic.remaster", f"{_S}/create", RemasterRequest, positional="clip_id", renames=_CLIP),
    _task(
        "sonic.add_vocals",
        f"{_S}/create",
        AddVocalsRequest,
        positional="clip_id",
        renames=_CLIP,
        requires=("prompt",),
    ),
    _task(
        "sonic.add_instrumental",
        f"{_S}/create",
        AddInstrumentalRequest,
        positional="clip_id",
        renames=_CLIP,
    ),
    _task("sonic.upload_extend", f"{_S}/upload-extend", UploadExtendRequest, positional="url"),
    _task("sonic.upload_cover", f"{_S}/upload-cover", UploadCoverRequest, positional="url"),
    _task(
        "sonic.sample",
        f"{_S}/sample",
        SampleRequest,
        positional="clip_id",
        renames={"clip_id": "sample_clip_id"},
    ),
    _task("sonic.mashup", f"{_S}/mashup", MashupRequest, positional="mashup_clip_ids"),
    _task(
        "sonic.replace_section",
        f"{_S}/replace-section",
        ReplaceSectionRequest,
        positional="clip_id",
    ),
    _task("sonic.stems_basic", f"{_S}/stems/basic", StemsBasicRequest, positional="clip_id"),
    _task("sonic.stems_full", f"{_S}/stems/full", StemsFullRequest, positional="clip_id"),
    _task("sonic.create_voice", f"{_S}/create-voice", CreateVoiceRequest, positional="audio_url"),
    Operation(
        "sonic.upload", "paid", f"{_S}/upload", UploadRequest, result=UploadResult, positional="url"
    ),
    _task(
        "sonic.upload_async",
        f"{_S}/upload",
        AsyncUploadRequest,
        positional="url",
        callbacks=UPLOAD_CALLBACK,
    ),
    Operation(
        "sonic.create_persona",
        "paid",
        f"{_S}/persona",
        CreatePersonaRequest,
        result=PersonaResult,
        positional="clip_id",
    ),
    Operation("sonic.bpm", "sync", f"{_S}/bpm", BpmRequest, result=BpmResult, positional="clip_id"),
    Operation("sonic.vox", "sync", f"{_S}/vox", VoxRequest, result=VoxResult, positional="clip_id"),
    Operation("sonic.wav", "sync", f"{_S}/wav", WavRequest, result=WavResult, positional="clip_id"),
    Operation(
        "sonic.midi", "sync", f"{_S}/midi", MidiRequest, result=MidiResult, positional="clip_id"
    ),
    Operation(
        "sonic.aligned_lyrics",
        "sync",
        f"{_S}/aligned-lyrics",
        AlignedLyricsRequest,
        result=AlignedLyricsResult,
        positional="clip_id",
    ),
    Operation(
        "sonic.upsample_tags",
        "sync",
        f"{_S}/upsample-tags",
        UpsampleTagsRequest,
        result=UpsampleTagsResult,
        positional="tags",
    ),
    _get("sonic"),
    # -- producer: one song per task; retired task types name their replacement --
    Operation(
        "producer.create",
        "task",
        "/api/v1/producer/create",
        ProducerCreateMusic,
        union=_union(ProducerCreateRequest),
        builder=build_producer_create,
        family="producer",
        replacement=PRODUCER_REPLACEMENTS,
    ),
    _task(
        "producer.upload", "/api/v1/producer/upload", ProducerUploadRequest, positional="audio_url"
    ),
    _task(
        "producer.download",
        "/api/v1/producer/download",
        ProducerDownloadRequest,
        positional="clip_id",
    ),
    _task(
        "producer.make_lyrics",
        "/api/v1/producer/lyrics-create",
        ProducerLyricsRequest,
        positional="prompt",
    ),
    _task(
        "producer.video_clip",
        "/api/v1/producer/video-clip",
        ProducerVideoRequest,
        positional="clip_id",
    ),
    _get("producer"),
    # -- nuro: retired by the service (every route answers 410) --
    _task(
        "nuro.create_vocal",
        "/api/v1/nuro/create",
        NuroVocalRequest,
        replacement=NURO_REPLACEMENTS["vocal"],
    ),
    _task(
        "nuro.create_instrumental",
        "/api/v1/nuro/create",
        NuroBgmRequest,
        replacement=NURO_REPLACEMENTS["bgm"],
    ),
    _get("nuro"),
    # -- riffusion: deprecated by the service --
    _task("riffusion.create", "/api/v1/riffusion/create", RiffusionCreateRequest),
    Operation(
        "riffusion.upload",
        "paid",
        "/api/v1/riffusion/upload",
        RiffusionUploadRequest,
        result=RiffusionUploadResult,
        positional="url",
    ),
    _get("riffusion"),
    # -- lyrics and the account --
    Operation(
        "lyrics.generate",
        "paid",
        f"{_S}/lyrics",
        LyricsRequest,
        result=LyricsResult,
        positional="description",
    ),
    Operation("account.credits", "sync", "/api/v1/get-credits", result=Credits, http_method="GET"),
)

OPERATIONS: Mapping[str, Operation] = MappingProxyType({op.name: op for op in _ROWS})
"""Every operation by name, in the order the manual lists them."""

# Task types of /sonic/create that have a method of their own: create(task_type=...) of one is
# reported under that method's name.
_BY_TASK_TYPE: dict[tuple[str, Any], str] = {
    (op.route, op.model.model_fields["task_type"].default): op.name
    for op in _ROWS
    if op.model is not None and "task_type" in op.model.model_fields and op.kind == "task"
}


def operation(name: str) -> Operation:
    """The operation named ``name`` (``"sonic.extend"``); ``ConfigurationError`` if unknown."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise ConfigurationError(f"unknown operation {name!r}") from None


def namespaces() -> Iterator[str]:
    """The client namespaces that have operations, in table order."""
    return iter(dict.fromkeys(op.namespace for op in _ROWS))


def default_operation(namespace: str) -> Operation | None:
    """What a bare namespace means on the command line: its ``create``, else its only
    operation that is not a poll."""
    ops = [op for op in _ROWS if op.namespace == namespace and op.kind != "poll"]
    named = [op for op in ops if op.method == "create"]
    if named:
        return named[0]
    return ops[0] if len(ops) == 1 else None
