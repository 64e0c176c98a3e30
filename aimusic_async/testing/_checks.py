"""Field checks that answer 400 with the API's documented wording (or its style where none is
documented); each checks the JSON type first, so a wrong type is a 400, never an exception."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Collection
from typing import Any, overload

from yarl import URL

from ._http import EmulatorError
from ._state import ClipRecord, EmulatorState

__all__ = [
    "MV_MESSAGE",
    "boolean",
    "check_mv",
    "choice",
    "clip_ref",
    "integer_range",
    "number",
    "required_text",
    "text",
    "url_field",
    "webhook",
    "weight",
]

MV_MESSAGE = "The 'mv' field is invalid. The model should be 'sonic-v3-5' or 'sonic-v4'."
KNOWN_SONIC_MODELS = frozenset(
    {
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
    }
)
# The model list changes faster than the docs: anything shaped like a model id is accepted.
_MODEL_LIKE = re.compile(r"^(sonic|chirp)-v[0-9][a-z0-9-]*$")
_WEBHOOK_MAX = 1024
# Whitespace or control characters in a host: no resolver would take it, the API would not either.
_BAD_HOST = re.compile(r"[\s\x00-\x1f\x7f]")


def bad(message: str) -> EmulatorError:
    return EmulatorError(400, message)


def present(body: dict[str, Any], name: str) -> bool:
    """A field counts as given unless missing or null."""
    return body.get(name) is not None


def boolean(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad(f"The '{name}' field should be boolean.")
    return value


def text(
    body: dict[str, Any], name: str, *, limit: int | None = None, limit_message: str | None = None
) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"The '{name}' field should be a string.")
    if limit is not None and len(value) > limit:
        raise bad(limit_message or f"The '{name}' character length should be less than {limit}.")
    return value


def required_text(body: dict[str, Any], name: str, message: str | None = None, **kw: Any) -> str:
    value = text(body, name, **kw)
    if value is None or not value.strip():
        raise bad(message or f"The '{name}' field is required.")
    return value


def number(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: float | None = None,
    message: str | None = None,
) -> float | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad(message or f"The '{name}' field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise bad(f"The '{name}' field should be a number.")
    if minimum is not None and value < minimum:
        raise bad(f"The '{name}' field should be at least {minimum:g}.")
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


@overload
def choice(
    body: dict[str, Any], name: str, options: Collection[str], message: str, *, default: str
) -> str: ...
@overload
def choice(
    body: dict[str, Any],
    name: str,
    options: Collection[str],
    message: str,
    *,
    default: None = None,
) -> str | None: ...
def choice(
    body: dict[str, Any],
    name: str,
    options: Collection[str],
    message: str,
    *,
    default: str | None = None,
) -> str | None:
    """One of ``options`` (``default`` when missing or null); anything else, of any JSON type,
    is a 400 with ``message``. The type is checked first: a list or an object cannot be looked
    up in a set."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in options:
        raise bad(message)
    return value


def weight(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise bad(f"The '{name}' field should be a number between 0 and 1.")
    return float(value)


def integer_range(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(f"The '{name}' field should be an integer between {low} and {high}.")
    return value


def check_mv(
    body: dict[str, Any], *, required: bool = True, also: frozenset[str] = frozenset()
) -> str | None:
    """A known sonic model, anything shaped like one, or a family-specific extra."""
    value = body.get("mv")
    if value is None:
        if required:
            raise bad("The 'mv' field is required.")
        return None
    if not isinstance(value, str) or not (
        value in KNOWN_SONIC_MODELS or value in also or _MODEL_LIKE.match(value)
    ):
        raise bad(MV_MESSAGE)
    return value


def _split_url(value: Any) -> URL | None:
    """The URL if it is http(s) with a host and port aiohttp can connect to, else None; never
    raises. Parsed as the webhook sender's HTTP client parses it, so a URL accepted here is
    one a delivery can be attempted to."""
    if not isinstance(value, str):
        return None
    try:
        url = URL(value)
        host = url.raw_host  # IDNA-encoded: raises for characters no host can hold
    except (ValueError, UnicodeError):  # "http://[::1" (bad IPv6), "http://h:99999", "http://\xad"
        return None
    if url.scheme not in ("http", "https") or not host or _BAD_HOST.search(host):
        return None
    return url


def url_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad(f"The '{name}' field is required.")
        return None
    if _split_url(value) is None:
        raise bad(f"The '{name}' field should be a valid http(s) URL.")
    assert isinstance(value, str)  # _split_url accepts only strings
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook(
    body: dict[str, Any], *, url_name: str = "webhook_url"
) -> tuple[str | None, str | None]:
    """(url, secret) of a start request: https anywhere, plain http only to a loopback host."""
    url = body.get(url_name)
    secret = text(body, "webhook_secret")
    if url is None:
        return None, secret
    message = f"The '{url_name}' field should be a valid https URL."
    parts = _split_url(url)
    if parts is None or len(url) > _WEBHOOK_MAX:
        raise bad(message)
    if parts.scheme == "http" and not _is_loopback(parts.raw_host or ""):
        raise bad(message)
    return url, secret


def clip_ref(
    state: EmulatorState,
    key: str,
    body: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    context: str = "",
) -> ClipRecord | None:
    """The referenced clip; 400 when missing (if required) or unknown for this key."""
    value = body.get(name)
    if value is None:
        if required:
            raise bad(f"The '{name}' field is required{context}.")
        return None
    clip = state.clip_for(key, value)
    if clip is None:
        raise bad(f"The '{name}' field refers to a clip that does not exist.")
    return clip
