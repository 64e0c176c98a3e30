"""The operation table is the one source: every resource method has its row and every row its
method, and each method's signature is its request model's fields (names, defaults, types,
after renames), so the keyword arguments written out for IDEs cannot drift from the models."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from aimusic_async import AIMusicClient, ConfigurationError, Job, Task, TaskSnapshot
from aimusic_async._operations import CALL_OPTIONS, OPERATIONS, Operation, default_operation
from aimusic_async.batch import validate_job
from aimusic_async.families import builtin_families
from aimusic_async.resources._base import Resource

CLIENT = AIMusicClient(api_key="sk-operations-test", base_url="http://127.0.0.1:9")
NAMESPACES = sorted({op.namespace for op in OPERATIONS.values()})


def resource_class(namespace: str) -> type[Resource]:
    resource = getattr(CLIENT, namespace)
    assert isinstance(resource, Resource)
    return type(resource)


def public_methods(cls: type[Resource]) -> set[str]:
    return {
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }


# -- types, as a caller sees them ------------------------------------------------------------------
def normalised(annotation: Any) -> frozenset[Any]:
    """A type as the set of inputs it admits, in a form both sides can be compared in: metadata
    (``Annotated``) dropped, unions flattened, ``SecretStr`` taken as the ``str`` it is given,
    any sequence as a list, a nested model as the model or a mapping of its fields, and string
    literals next to ``str`` (offered for completion) folded into ``str``."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return normalised(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        atoms = frozenset().union(*(normalised(arg) for arg in get_args(annotation)))
    elif origin is Literal:
        atoms = frozenset(("literal", value) for value in get_args(annotation))
    elif origin in (list, Sequence):
        (item,) = get_args(annotation)
        atoms = frozenset({("list", normalised(item))})
    elif origin in (dict, Mapping) or annotation in (dict, Mapping):
        atoms = frozenset({"mapping"})
    elif annotation is SecretStr:
        atoms = frozenset({str})
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        atoms = frozenset({annotation, "mapping"})
    else:
        atoms = frozenset({annotation})
    if str in atoms:
        atoms = frozenset(a for a in atoms if not (isinstance(a, tuple) and a[0] == "literal"))
    return atoms


def test_the_normaliser_compares_what_callers_can_pass() -> None:
    assert normalised(Literal["a", "b"] | str) == normalised(str)
    assert normalised(Sequence[str] | None) == normalised(list[typing.Annotated[str, 1]] | None)
    assert normalised(SecretStr | None) == normalised(str | None)
    assert normalised(int) != normalised(float)
    assert normalised(Literal["a"]) != normalised(Literal["a", "b"])


def method_signature(op: Operation) -> inspect.Signature:
    method = getattr(resource_class(op.namespace), op.method)
    return inspect.signature(method, eval_str=True)


# -- the table and the methods ---------------------------------------------------------------------
@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_row_has_a_method_and_every_method_a_row(namespace: str) -> None:
    rows = {op.method for op in OPERATIONS.values() if op.namespace == namespace}
    assert rows == public_methods(resource_class(namespace))


def test_the_client_namespaces_are_the_tables() -> None:
    # credits() on the client is the documented shortcut for client.account.credits().
    assert set(NAMESPACES) == {"sonic", "producer", "nuro", "riffusion", "lyrics", "account"}


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS.values() if not op.variadic], ids=lambda op: op.name
)
def test_a_methods_signature_is_its_models_fields(op: Operation) -> None:
    signature = method_signature(op)
    params = [
        p for name, p in signature.parameters.items() if name != "self" and name not in CALL_OPTIONS
    ]
    expected = op.parameters
    assert {p.name for p in params} == set(expected), "names"
    for param in params:
        want = expected[param.name]
        if param.name == op.positional:
            assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, param.name
            assert params[0] is param, "the positional parameter comes first"
        else:
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, param.name
        if want.required:
            assert param.default is inspect.Parameter.empty, f"{param.name} is required"
        else:
            assert param.default == want.default, f"{param.name} defaults to {want.default!r}"
        assert normalised(param.annotation) == normalised(want.annotation), param.name


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS.values() if op.variadic], ids=lambda op: op.name
)
def test_a_variadic_methods_fields_are_its_unions_fields(op: Operation) -> None:
    """``sonic.create(**fields: Unpack[SonicCreateFields])``: the TypedDict is every field of
    every body ``task_type`` can choose, typed as the models type it (None means "not given")."""
    signature = method_signature(op)
    (fields,) = [p for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    typed = get_args(fields.annotation)[0]  # Unpack[SonicCreateFields]
    hints = typing.get_type_hints(typed)
    assert set(hints) == set(op.parameters)
    for name, hint in hints.items():
        want = normalised(op.parameters[name].annotation) - {type(None)}
        assert normalised(hint) == want, name


@pytest.mark.parametrize("op", list(OPERATIONS.values()), ids=lambda op: op.name)
def test_every_method_takes_the_call_options_as_keywords(op: Operation) -> None:
    """``timeout=`` (how this one call is sent) on every method, keyword-only, None meaning the
    client's; never a field of any request model, so it can never be sent."""
    parameters = method_signature(op).parameters
    for name in CALL_OPTIONS:
        param = parameters[name]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert param.default is None, name
        assert normalised(param.annotation) == normalised(float | None), name
        assert name not in op.parameters, f"{name} is a call option, not an API field"
        models = [*op.union, *([op.model] if op.model is not None else [])]
        assert all(name not in m.model_fields for m in models), name


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("sonic.create", {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "a"}),
        (
            "sonic.extend",
            {"clip_id": "c1", "continue_at": 10.0, "mv": "sonic-v5", "custom_mode": False},
        ),
        ("sonic.bpm", {"clip_id": "c1"}),
    ],
)
async def test_a_call_option_is_not_a_job_parameter(operation: str, params: dict[str, Any]) -> None:
    """A batch job (or the command line) names API fields only: ``timeout`` there is refused
    with a message that says what it is, for a variadic operation too."""
    with pytest.raises(ValidationError) as caught:
        OPERATIONS[operation].bind({**params, "timeout": 5})
    assert "timeout" in str(caught.value)
    assert "option of the method call, not an API field" in str(caught.value)
    if OPERATIONS[operation].kind == "task":
        job = Job(key="k1", operation=operation, params={**params, "timeout": 5})
        with pytest.raises(ValidationError, match="not an API field"):
            await validate_job(CLIENT, job)


def test_build_leaves_call_options_out_of_the_body() -> None:
    body = OPERATIONS["sonic.bpm"].build({"self": None, "clip_id": "c1", "timeout": 5.0})
    assert body is not None
    assert body.to_wire() == {"clip_id": "c1"}


@pytest.mark.parametrize("op", list(OPERATIONS.values()), ids=lambda op: op.name)
def test_a_methods_return_type_is_its_kind(op: Operation) -> None:
    returns = method_signature(op).return_annotation
    if op.kind == "task":
        assert returns is Task
    elif op.kind == "poll":
        assert returns is TaskSnapshot
    else:
        assert returns is op.result


@pytest.mark.parametrize("op", list(OPERATIONS.values()), ids=lambda op: op.name)
def test_every_row_is_complete(op: Operation) -> None:
    assert op.route.startswith("/api/v1/")
    if op.kind in ("task", "poll"):
        assert op.family in builtin_families()
    if op.kind == "task":
        assert op.model is not None
    if op.kind in ("sync", "paid"):
        assert op.result is not None
    if op.positional is not None:
        assert op.positional in op.parameters
    for parameter, api_field in op.renames.items():
        assert parameter in op.parameters
        assert op.model is not None
        assert api_field in op.model.model_fields


# -- what reads the table --------------------------------------------------------------------------
def test_a_create_of_a_task_type_with_its_own_method_is_reported_under_it() -> None:
    create = OPERATIONS["sonic.create"]
    body = create.build(
        {
            "task_type": "extend_music",
            "continue_clip_id": "c",
            "continue_at": 1.0,
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "x",
        }
    )
    assert create.reported_name(body) == "sonic.extend"
    upload = create.build(
        {
            "task_type": "extend_upload_music",
            "continue_clip_id": "c",
            "continue_at": 1.0,
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "x",
        }
    )
    assert create.reported_name(upload) == "sonic.extend_upload_music"
    producer = OPERATIONS["producer.create"]
    assert producer.reported_name(producer.build({"sound": "x"})) == "producer.create"


def test_renamed_and_positional_parameters_reach_the_api_fields() -> None:
    extend = OPERATIONS["sonic.extend"]
    body = extend.build(
        {
            "self": object(),
            "clip_id": "c1",
            "continue_at": 30,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": "la",
            "title": None,
        }
    )
    assert body is not None
    wire = body.to_wire()
    assert wire["continue_clip_id"] == "c1"
    assert "clip_id" not in wire
    assert "title" not in wire  # None means not given
    mashup = OPERATIONS["sonic.mashup"].build(
        {
            "mashup_clip_ids": ("a", "b"),
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "x",
        }
    )
    assert mashup is not None
    assert mashup.to_wire()["mashup_clip_ids"] == ["a", "b"]  # a tuple is sent as a list


def test_binding_names_an_unknown_or_missing_parameter_without_its_value() -> None:
    extend = OPERATIONS["sonic.extend"]
    with pytest.raises(ValidationError) as missing:
        extend.bind({"mv": "sonic-v5", "custom_mode": False, "continue_at": 1})
    assert [e["loc"] for e in missing.value.errors()] == [("clip_id",)]
    with pytest.raises(ValidationError) as unknown:
        extend.bind(
            {
                "clip_id": "c",
                "continue_at": 1,
                "mv": "m",
                "custom_mode": False,
                "wierdness": "s3cret-looking",
            }
        )
    assert [e["loc"] for e in unknown.value.errors()] == [("wierdness",)]
    assert "s3cret-looking" not in str(unknown.value)
    # **fields methods leave unknown names to their model (which refuses them, by name).
    OPERATIONS["sonic.create"].bind({"anything": 1})


async def test_batch_validation_reads_the_table_and_sends_nothing() -> None:
    ok = Job(
        key="a",
        operation="sonic.extend",
        params={
            "clip_id": "c",
            "continue_at": 5,
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "x",
        },
    )
    assert await validate_job(CLIENT, ok) == "sonic"
    with pytest.raises(ConfigurationError, match="does not start a task"):
        await validate_job(CLIENT, Job(key="b", operation="sonic.bpm", params={"clip_id": "c"}))
    with pytest.raises(ConfigurationError, match="unknown operation"):
        await validate_job(CLIENT, Job(key="c", operation="sonic.frobnicate"))
    with pytest.raises(ValidationError):
        await validate_job(CLIENT, Job(key="d", operation="sonic.extend", params={"clip_id": "c"}))
    # The client at 127.0.0.1:9 was never opened: nothing was sent, not even a connection.
    assert not CLIENT.is_closed


def test_the_command_lines_defaults_come_from_the_table() -> None:
    assert default_operation("sonic") is OPERATIONS["sonic.create"]
    assert default_operation("lyrics") is OPERATIONS["lyrics.generate"]
    assert default_operation("nuro") is None  # two ways to start: name one
