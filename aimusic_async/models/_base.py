"""Base classes: strict requests (checked before anything is sent; a ValidationError's first line
names model, field and rule, never an input value; see docs/errors.md), tolerant responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import Self

from .._constants import VALIDATION_SUMMARY_MAX

__all__ = [
    "REQUEST_ID_KEY",
    "RequestModel",
    "ResponseModel",
    "field_error",
    "readable_validation_error",
    "union_titles",
]

_UNION_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
# Where the transport leaves the request id of the answer a result was read from: the instance's
# __dict__, like a cached property's value, so it is neither a field nor dumped nor compared.
REQUEST_ID_KEY = "_aimusic_request_id"


def _clip(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    # A long enum lists every value; cut at a value boundary when there is one nearby.
    cut = text[: max(budget - 1, 0)]
    comma = cut.rfind(", ")
    if comma > budget // 2:
        cut = cut[:comma] + ","
    return cut + "…"


def _summary(model: str, count: int, loc: tuple[Any, ...], message: str) -> str:
    where = ".".join(str(p) for p in loc)
    # "'prompt' is required ..." after "prompt: " says the name twice.
    if where and message.startswith(f"'{where}' "):
        message = message[len(where) + 3 :]
    head = f"{model}: {where}: " if where else f"{model}: "
    more = f" (and {count - 1} more)" if count > 1 else ""
    # What pydantic prints before the title: "12 validation errors for ".
    prefix = len(f"{count} validation error{'s' if count > 1 else ''} for ")
    budget = VALIDATION_SUMMARY_MAX - prefix - len(head) - len(more)
    return head + _clip(message, max(budget, 10)) + more


def _safe_input(loc: tuple[Any, ...], value: Any) -> Any:
    # ``errors()`` is often logged or returned to a caller as it is: a missing field or a rule
    # across fields carries the whole body (webhook secret included), a secret field its value.
    if isinstance(value, Mapping) or any("secret" in str(part) for part in loc):
        return None
    return value


def readable_validation_error(
    exc: ValidationError,
    model: str,
    *,
    tags: Mapping[str, str] | None = None,
    discriminator: str = "task_type",
) -> ValidationError:
    """``exc`` again, titled ``Model: field: rule`` and with input values hidden.

    ``tags`` maps the tags of a discriminated union to the model each selects: the tag pydantic
    puts first in a location (``create_music.mv``) is dropped, since the caller never wrote it,
    and the summary names that model. An unknown tag is reported at ``discriminator``.
    """
    details: list[InitErrorDetails] = []
    title_model = model
    for index, err in enumerate(exc.errors(include_url=False)):
        loc = tuple(err["loc"])
        kind = err["type"]
        if tags is not None and loc and loc[0] in tags:
            if index == 0:
                title_model = tags[str(loc[0])]
            loc = loc[1:]
        message = err["msg"]
        ctx = err.get("ctx")
        if kind in _UNION_TAG_ERRORS:
            loc = (discriminator,)
            # pydantic's message quotes the unknown tag, an input value.
            expected = (ctx or {}).get("expected_tags")
            message = f"should be one of {expected}" if expected else "is not a known value"
            ctx = None
        # The message is rendered already; a context whose keys it still spells in braces would
        # be substituted a second time.
        if ctx and any("{" + key + "}" in message for key in ctx):
            ctx = None
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(kind, message, ctx),
                loc=loc,
                input=_safe_input(loc, err.get("input")),
            )
        )
    if not details:
        return exc
    first = details[0]
    first_type = first["type"]
    assert isinstance(first_type, PydanticCustomError)
    title = _summary(title_model, len(details), tuple(first["loc"]), first_type.message())
    return ValidationError.from_exception_data(title, details, hide_input=True)


def field_error(model: str, field: str, kind: str, message: str) -> ValidationError:
    """A rule that involves several fields, reported at the one to fix (pydantic gives a model
    validator's error an empty location). Raise it from a ``model_validator``."""
    detail = InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)
    return ValidationError.from_exception_data(model, [detail], hide_input=True)


def union_titles(
    members: Iterable[type[BaseModel]], discriminator: str = "task_type"
) -> dict[str, str]:
    """Each tag of a discriminated union mapped to the name of the model it selects."""
    titles: dict[str, str] = {}
    for member in members:
        annotation = member.model_fields[discriminator].annotation
        for tag in get_args(annotation):
            titles[str(tag)] = member.__name__
    return titles


def _given(**options: Any) -> dict[str, Any]:
    # Only the options the caller set: older pydantic releases lack some of these keywords.
    return {name: value for name, value in options.items() if value is not None}


class RequestModel(BaseModel):
    """A request body. Unknown fields are an error (a typo must not be silently dropped);
    ``strict`` keeps ``"false"`` from passing for a boolean, as the server refuses it too.

    A ``ValidationError`` shows no input values (a body may carry a webhook secret), and its first
    line names the field and the rule.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)

    def __init__(self, /, **data: Any) -> None:
        __tracebackhide__ = True
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise readable_validation_error(exc, type(self).__name__) from None

    # pydantic calls a model's own ``__init__`` when validating it as a nested field unless it is
    # marked as the base one; this override only retitles the error, so the fast path is right.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        try:
            return super().model_validate(
                obj,
                **_given(
                    strict=strict,
                    extra=extra,
                    from_attributes=from_attributes,
                    context=context,
                    by_alias=by_alias,
                    by_name=by_name,
                ),
            )
        except ValidationError as exc:
            raise readable_validation_error(exc, cls.__name__) from None

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Any = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        try:
            return super().model_validate_json(
                json_data,
                **_given(
                    strict=strict, extra=extra, context=context, by_alias=by_alias, by_name=by_name
                ),
            )
        except ValidationError as exc:
            raise readable_validation_error(exc, cls.__name__) from None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body as the API documents it: only fields that were set or have a value."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ResponseModel(BaseModel):
    """An answer from the server. Unknown fields are kept (``model_extra``): the API grows
    faster than releases, and a field we do not know yet must not break a paid result."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @property
    def request_id(self) -> str | None:
        """The request id of the API answer this result was read from (``x-request-id``, or a
        proxy's such as ``cf-ray``), to quote to support; None when the answer had none or the
        object was not read from one answer (a clip inside a result, a webhook's snapshot)."""
        value = self.__dict__.get(REQUEST_ID_KEY)
        return value if isinstance(value, str) else None
