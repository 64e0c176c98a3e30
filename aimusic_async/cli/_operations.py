"""Operation names on the command line (``sonic.create``, ``producer/create``, ``sonic``) checked
against the operation table and bound to the client's methods."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pydantic

from .._operations import OPERATIONS, Operation, default_operation, namespaces
from ._options import UsageError

if TYPE_CHECKING:
    from .._client import AIMusicClient

__all__ = ["FAMILIES", "bind_operation", "normalise_operation"]

FAMILIES = tuple(namespaces())


def normalise_operation(text: str) -> tuple[str, str]:
    """``"sonic.create"``, ``"sonic/create"``, ``"sonic"`` -> ``("sonic", "create")``."""
    cleaned = text.strip().replace("/", ".").replace("-", "_")
    family, _, method = cleaned.partition(".")
    family = family.lower()
    if family not in FAMILIES:
        raise UsageError(
            f"unknown operation {text!r}: the family must be one of {', '.join(FAMILIES)} "
            "(e.g. sonic.create, producer.create, sonic.extend)"
        )
    if not method:
        default = default_operation(family)
        if default is None:
            example = next(op.name for op in OPERATIONS.values() if op.namespace == family)
            raise UsageError(f"operation {text!r}: name the method, e.g. {example}")
        method = default.method
    return family, method


def _operation(family: str, method: str) -> Operation:
    op = OPERATIONS.get(f"{family}.{method}")
    if op is None:
        offered = sorted(op.method for op in OPERATIONS.values() if op.namespace == family)
        raise UsageError(f"unknown operation {family}.{method}; {family} has: {', '.join(offered)}")
    return op


def bind_operation(
    client: AIMusicClient, operation: str, params: Mapping[str, Any]
) -> Callable[[], Any]:
    """The client method for ``operation`` with ``params`` bound, checked against the
    operation's parameters.

    Calling the result builds the request model (a pydantic ValidationError names the field
    before anything is sent) and returns the method's awaitable.
    """
    op = _operation(*normalise_operation(operation))
    try:
        op.bind(params)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        problem = "Field required" if first["type"] == "missing" else "unknown parameter"
        raise UsageError(f"{op.name}: params.{name}: {problem}") from None
    method = getattr(getattr(client, op.namespace), op.method)

    def call() -> Any:
        return method(**params)

    return call
