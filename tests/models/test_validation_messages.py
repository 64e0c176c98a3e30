"""A request ValidationError's first line names the field and the rule, briefly, and no input.

``str(exc).splitlines()[0]`` is what a log line or a terminal shows first. For every request
model and every kind of bad input (wrong type, wrong enum value, missing field, unknown field,
a rule across fields, a field of a tagged union) it must be under 200 characters, name the field
and carry the rule's message, and no input value may appear anywhere in the error's text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from pydantic import ValidationError

from aimusic_async.models import nuro, producer, riffusion
from aimusic_async.models import sonic_requests as s
from aimusic_async.models._base import RequestModel
from tests.reliability.test_request_properties import BASES, MODELS

# A bad value: never shown in the error's text (it may be kept in errors(), for the caller).
CANARY = "canary-input-7f3a"
# A webhook secret beside the bad value: shown nowhere, errors() included.
SECRET = "canary-secret-91c2"
FIRST_LINE_MAX = 200


def first_line(exc: ValidationError) -> str:
    return str(exc).splitlines()[0]


def assert_readable(exc: ValidationError, field: str, *, model: str | None = None) -> None:
    line = first_line(exc)
    assert len(line) < FIRST_LINE_MAX, line
    assert field in line, line
    # The rule: the first error's own message (its start, when the summary had to shorten it).
    message = exc.errors()[0]["msg"]
    assert message[:40].removeprefix(f"'{field}' ") in line, (line, message)
    for noise in ("tagged-union", "function-after", "function-wrap"):
        assert noise not in line, line
    if model is not None:
        assert model in line, line
    for hidden in (CANARY, SECRET):
        assert hidden not in str(exc)
        assert hidden not in repr(exc)
    # errors() is often logged or returned as it is: a body (secret included) is not kept there.
    assert SECRET not in repr(exc.errors())
    # The error is still pydantic's own type, with the field as the first location.
    assert isinstance(exc, ValidationError)
    assert str(exc.errors()[0]["loc"][0]) == field, exc.errors()


def with_secret(model: type[RequestModel], body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "webhook_secret": SECRET} if "webhook_secret" in model.model_fields else body


def fails(call: Callable[[], Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


MODEL_NAMES = sorted(MODELS)


def test_the_model_list_covers_every_request_model() -> None:
    assert len(MODEL_NAMES) >= 40
    assert all(issubclass(m, RequestModel) for m in MODELS.values())


# -- every field of every model, generically ------------------------------------------------------
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_wrong_type_on_every_field(name: str) -> None:
    model = MODELS[name]
    for field in model.model_fields:
        body = {**with_secret(model, BASES[name]), field: {"nested": CANARY}}
        assert_readable(fails(partial(model.model_validate, body)), field, model=name)
        assert_readable(fails(partial(model, **body)), field, model=name)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_missing_required_field(name: str) -> None:
    model = MODELS[name]
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    for field in required:
        body = {k: v for k, v in with_secret(model, BASES[name]).items() if k != field}
        assert_readable(fails(partial(model.model_validate, body)), field, model=name)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_unknown_field(name: str) -> None:
    model = MODELS[name]
    body = {**with_secret(model, BASES[name]), "colour": CANARY}
    assert_readable(fails(lambda: model.model_validate(body)), "colour", model=name)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_json_input_reads_as_well(name: str) -> None:
    model = MODELS[name]
    exc = fails(lambda: model.model_validate_json('{"colour": "' + CANARY + '"}'))
    assert len(first_line(exc)) < FIRST_LINE_MAX
    assert name in first_line(exc)
    assert CANARY not in str(exc)


# -- wrong enum values, including the long ones -------------------------------------------------
ENUMS: list[tuple[type[RequestModel], dict[str, Any], str]] = [
    (s.CreateMusicRequest, {"vocal_gender": CANARY}, "vocal_gender"),
    (s.RemasterRequest, {"variation_category": CANARY}, "variation_category"),
    (producer.ProducerDownloadRequest, {"format": CANARY}, "format"),
    (riffusion.RiffusionCreateRequest, {"task_type": CANARY}, "task_type"),
    (nuro.NuroVocalRequest, {"genre": CANARY}, "genre"),
    (nuro.NuroVocalRequest, {"timbre": CANARY}, "timbre"),
    # 47 documented values: pydantic lists all of them (over 600 characters).
    (nuro.NuroBgmRequest, {"genre": [CANARY]}, "genre"),
    (nuro.NuroBgmRequest, {"mood": ["happy", CANARY]}, "mood"),
    (nuro.NuroBgmRequest, {"segments": [{"name": CANARY, "duration": 20}]}, "segments"),
]


@pytest.mark.parametrize(("model", "bad", "field"), ENUMS, ids=[f for _, _, f in ENUMS])
def test_wrong_enum_value(model: type[RequestModel], bad: dict[str, Any], field: str) -> None:
    body = {**with_secret(model, BASES[model.__name__]), **bad}
    exc = fails(lambda: model.model_validate(body))
    assert_readable(exc, field, model=model.__name__)
    assert "Input should be" in first_line(exc)


# -- rules across fields, reported at the field to fix ------------------------------------------
V5 = {"mv": "sonic-v5"}
RULES: list[tuple[type[RequestModel], dict[str, Any], str]] = [
    (s.CreateMusicRequest, {**V5, "custom_mode": False}, "gpt_description_prompt"),
    (s.CreateMusicRequest, {**V5, "custom_mode": True}, "prompt"),
    (
        s.CreateMusicRequest,
        {**V5, "custom_mode": False, "gpt_description_prompt": "x", "auto_lyrics": True},
        "auto_lyrics",
    ),
    (
        s.CreateMusicRequest,
        {"mv": "sonic-v4", "custom_mode": True, "prompt": "x", "vocal_gender": "f"},
        "vocal_gender",
    ),
    (s.CreateMusicRequest, {"mv": "sonic-v4", "custom_mode": True, "prompt": "x" * 3001}, "prompt"),
    (s.CreateMusicRequest, {**V5, "custom_mode": True, "prompt": "x", "tags": "t" * 1001}, "tags"),
    (s.AddVocalsRequest, {**V5, "continue_clip_id": "c"}, "prompt"),
    (
        s.AddInstrumentalRequest,
        {**V5, "continue_clip_id": "c", "overpainting_start_s": 5, "overpainting_end_s": 1},
        "overpainting_end_s",
    ),
    (
        s.SampleRequest,
        {**V5, "custom_mode": False, "gpt_description_prompt": "x"},
        "sample_clip_id",
    ),
    (
        s.ReplaceSectionRequest,
        {**V5, "clip_id": "c", "infill_start_s": 3.0, "infill_end_s": 2.0},
        "infill_end_s",
    ),
    (s.VoxRequest, {"clip_id": "c", "vocal_start_s": 1.0}, "vocal_end_s"),
    (s.VoxRequest, {"clip_id": "c", "vocal_start_s": 0.0, "vocal_end_s": 31.0}, "vocal_end_s"),
    (
        s.CreatePersonaRequest,
        {"name": "n", "clip_id": "c", "vocal_start_s": 5.0, "vocal_end_s": 1.0},
        "vocal_end_s",
    ),
    (producer.ProducerCreateMusic, {}, "sound"),
    (producer.ProducerReplaceMusic, {"clip_id": "c", "starts_at": 5.0, "ends_at": 1.0}, "ends_at"),
    (producer.ProducerCoverMusic, {"clip_id": "c"}, "instruction"),
    (
        producer.ProducerCoverMusic,
        {"clip_id": "c", "instruction": "x", "strength": 0.5, "cover_strength": 0.5},
        "cover_strength",
    ),
    (riffusion.RiffusionCreateRequest, {"custom_mode": False}, "prompt"),
    (riffusion.RiffusionCreateRequest, {"custom_mode": True}, "lyrics"),
    (
        riffusion.RiffusionCreateRequest,
        {"custom_mode": False, "prompt": "x", "continue_clip_id": "c"},
        "continue_clip_id",
    ),
    (
        riffusion.RiffusionCreateRequest,
        {"custom_mode": False, "prompt": "x", "task_type": "cover_music"},
        "continue_clip_id",
    ),
    (
        riffusion.RiffusionCreateRequest,
        {"custom_mode": False, "prompt": "x", "task_type": "extend_music", "continue_clip_id": "c"},
        "continue_at",
    ),
    (
        riffusion.RiffusionCreateRequest,
        {
            "custom_mode": False,
            "prompt": "x",
            "task_type": "swap_music_vocals",
            "continue_clip_id": "c",
        },
        "lyrics",
    ),
    (nuro.NuroBgmRequest, {"description": "d", "segments": []}, "segments"),
    (nuro.NuroBgmRequest, {"description": "d", "duration": 90}, "duration"),
    (nuro.NuroBgmRequest, {"description": "d", "version": "v2.0", "duration": 10}, "duration"),
    (
        nuro.NuroBgmRequest,
        {"description": "d", "version": "v2.0", "segments": [{"name": "verse", "duration": 10}]},
        "segments",
    ),
    (
        nuro.NuroBgmRequest,
        {
            "description": "d",
            "version": "v2.0",
            "duration": 60,
            "segments": [{"name": "verse", "duration": 40}],
        },
        "duration",
    ),
    (nuro.NuroBgmRequest, {"description": "d", "genre": ["rock"] * 6}, "genre"),
]


@pytest.mark.parametrize(("model", "body", "field"), RULES, ids=[f for _, _, f in RULES])
def test_rule_across_fields(model: type[RequestModel], body: dict[str, Any], field: str) -> None:
    exc = fails(lambda: model.model_validate(with_secret(model, body)))
    assert_readable(exc, field, model=model.__name__)


# -- tagged unions: the model the tag selects, not pydantic's union -----------------------------
UNIONS: list[tuple[Callable[[dict[str, Any]], Any], dict[str, Any], str, str]] = [
    (
        s.build_create_request,
        {"mv": 5, "custom_mode": True, "prompt": "x"},
        "mv",
        "CreateMusicRequest",
    ),
    (
        s.build_create_request,
        {**V5, "custom_mode": True, "prompt": "x", "vocal_gender": CANARY},
        "vocal_gender",
        "CreateMusicRequest",
    ),
    (s.build_create_request, {**V5, "custom_mode": False}, "gpt_description_prompt", "Create"),
    (
        s.build_create_request,
        {**V5, "custom_mode": False, "gpt_description_prompt": "x", "persona_id": CANARY},
        "persona_id",
        "CreateMusicRequest",
    ),
    (
        s.build_create_request,
        {
            "task_type": "extend_music",
            **V5,
            "custom_mode": False,
            "gpt_description_prompt": "x",
            "continue_at": 1.0,
        },
        "continue_clip_id",
        "ExtendMusicRequest",
    ),
    (s.build_create_request, {"task_type": CANARY}, "task_type", "SonicCreateRequest"),
    (producer.build_producer_create, {"sound": 5}, "sound", "ProducerCreateMusic"),
    (
        producer.build_producer_create,
        {"task_type": "cover_music", "clip_id": "c"},
        "instruction",
        "ProducerCoverMusic",
    ),
    (producer.build_producer_create, {"task_type": CANARY}, "task_type", "ProducerCreateRequest"),
]


@pytest.mark.parametrize(
    ("build", "body", "field", "model"), UNIONS, ids=[f"{m}-{f}" for _, _, f, m in UNIONS]
)
def test_union_field(
    build: Callable[[dict[str, Any]], Any], body: dict[str, Any], field: str, model: str
) -> None:
    exc = fails(lambda: build({**body, "webhook_secret": SECRET}))
    assert_readable(exc, field, model=model)
    # One error for one bad value: the union reports the chosen member's error only.
    assert len(exc.errors()) == 1, exc.errors()


def test_every_error_is_kept_and_counted() -> None:
    exc = fails(lambda: s.CreateMusicRequest.model_validate({"mv": 5, "custom_mode": "yes"}))
    assert len(exc.errors()) == 2
    assert first_line(exc).startswith("2 validation errors for CreateMusicRequest: mv: ")
    assert first_line(exc).endswith("(and 1 more)")
    assert [e["loc"] for e in exc.errors()] == [("mv",), ("custom_mode",)]
    assert [e["type"] for e in exc.errors()] == ["string_type", "bool_type"]


# -- through the client: the same error, raised before anything is sent -------------------------
async def test_client_calls_raise_the_readable_error_before_sending(
    client: Any, emulator: Any
) -> None:
    before = emulator.stats.requests
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("mv", lambda: client.sonic.create(mv=5, custom_mode=True, prompt="x")),
        (
            "vocal_gender",
            lambda: client.sonic.create(
                mv="sonic-v5", custom_mode=True, prompt="x", vocal_gender=CANARY
            ),
        ),
        (
            "gpt_description_prompt",
            lambda: client.sonic.create(mv="sonic-v5", custom_mode=False, webhook_secret=SECRET),
        ),
        ("sound", lambda: client.producer.create(sound=5)),
        ("genre", lambda: client.nuro.create_instrumental(description="calm", genre=[CANARY])),
    ]
    for field, call in calls:
        with pytest.raises(ValidationError) as caught:
            await call()
        assert_readable(caught.value, field)
    assert emulator.stats.requests == before
