"""Operation names on the command line (``sonic.create``, ``producer/create``) -> client methods."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._options import UsageError

if TYPE_CHECKING:
    from .._client import AIMusicClient

__all__ = ["FAMILIES", "bind_operation", "normalise_operation"]

FAMILIES = ("sonic", "producer", "nuro", "riffusion", "lyrics")
# A bare family name means its main start method.
_DEFAULT_METHOD = {
    "sonic": "create",
    "producer": "create",
    "riffusion": "create",
    "lyrics": "generate",
}


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
        if family not in _DEFAULT_METHOD:
            raise UsageError(f"operation {text!r}: name the method, e.g. {family}.create_vocal")
        method = _DEFAULT_METHOD[family]
    return family, method


def bind_operation(
    client: AIMusicClient, operation: str, params: Mapping[str, Any]
) -> Callable[[], Any]:
    """The client method for ``operation`` with ``params`` bound, checked against its signature.

    Calling the result builds the request model (a pydantic ValidationError names the field
    before anything is sent) and returns the method's awaitable.
    """
    family, method_name = normalise_operation(operation)
    resource = getattr(client, family)
    method = getattr(resource, method_name, None)
    if method_name.startswith("_") or method is None or not callable(method):
        public = sorted(
            n for n in dir(resource) if not n.startswith("_") and callable(getattr(resource, n))
        )
        raise UsageError(
            f"unknown operation {family}.{method_name}; {family} has: {', '.join(public)}"
        )
    try:
        inspect.signature(method).bind(**params)
    except TypeError as exc:
        raise UsageError(f"{family}.{method_name}: {_signature_problem(exc)}") from None
    except ValueError:  # no signature available: let the call itself complain
        pass

    def call() -> Any:
        return method(**params)

    return call


def _signature_problem(exc: TypeError) -> str:
    text = str(exc)
    if "missing a required argument" in text:
        name = text.split("'")[1] if "'" in text else text
        return f"params.{name}: Field required"
    if "unexpected keyword argument" in text:
        name = text.split("'")[1] if "'" in text else text
        return f"params.{name}: unknown parameter"
    return text
