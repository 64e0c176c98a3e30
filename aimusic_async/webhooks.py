"""Webhooks: signature verification, typed events, deduplication and ``client.webhooks``, the
manager whose verified callbacks resolve waiting tasks (the manual's Webhooks page)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import ValidationError

from . import _clock
from . import _constants as C
from ._delivery import Delivery, DeliveryBudget
from ._errors import (
    AIMusicError,
    ConfigurationError,
    DeliveryRefused,
    HubUnavailableError,
    ResponseValidationError,
    WebhookVerificationError,
)
from ._transport import excerpt
from .families import Family, SonicFamily
from .models._base import ResponseModel
from .models.common import Clip, TaskSnapshot

if TYPE_CHECKING:
    from aiohttp import web

    from ._asgi import ASGIReceiver
    from ._runtime import Runtime
    from ._webhook_receiver import Receiver

__all__ = [
    "Delivery",
    "DeliveryBudget",
    "DeliveryRefused",
    "WebhookEvent",
    "WebhookManager",
    "WebhookStats",
    "dedupe_keys",
    "parse_event",
    "reference_of",
    "verify_signature",
]

logger = logging.getLogger("aimusic_async")

# The platform names the API puts in callbacks, mapped to the SDK's family names ("suno" is the
# old brand of sonic).
PLATFORM_FAMILIES = {
    "suno": "sonic",
    "sonic": "sonic",
    "producer": "producer",
    "nuro": "nuro",
    "riffusion": "riffusion",
}

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# Unix seconds, optionally with a fraction; bounded length so a hostile header costs nothing.
_TIMESTAMP = re.compile(r"\d{1,15}(\.\d{1,9})?")

HeadersLike = Mapping[str, str]


# -- verification --------------------------------------------------------------------------------
def _lower_headers(headers: HeadersLike) -> dict[str, str]:
    """Header names folded to lower case. A header sent twice with different values is refused:
    which copy a framework hands over is not defined, so neither can be trusted."""
    out: dict[str, str] = {}
    items = headers.items()
    for name, value in items:
        # Raw ASGI headers are bytes; HTTP header bytes are latin-1 by definition.
        raw_name = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
        key = raw_name.lower()
        text = value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
        if key in out and out[key] != text:
            raise WebhookVerificationError(f"conflicting values for the {raw_name} header")
        out[key] = text
    return out


def _hmac_hex(secret: str, *parts: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest()


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    # A str is almost always a body that was decoded (or re-serialised) already; its bytes may
    # differ from what was signed, so refuse it rather than fail verification mysteriously.
    raise TypeError(
        f"webhook body must be the raw request bytes, not {type(body).__name__}; "
        "verify before decoding or parsing the JSON"
    )


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = C.WEBHOOK_TOLERANCE,
    now: float | None = None,
    legacy_signatures: bool = C.WEBHOOK_LEGACY_SIGNATURES,
) -> None:
    """Check that ``body`` was signed with ``secret``; raise ``WebhookVerificationError`` if not.

    ``body`` is the raw request body (bytes, never re-serialised JSON); header names are
    case-insensitive. When ``X-Webhook-Signature`` is present the current scheme is required
    (timestamp within ``tolerance`` seconds of ``now``, default the current time, both ways);
    otherwise the legacy ``X-Signature`` is checked, unless ``legacy_signatures`` is False.
    Comparison is constant-time, and the error's ``reason`` names what was wrong without the
    secret or the expected signature.

    ``legacy_signatures`` (default True): the legacy scheme signs the body alone, with no
    timestamp, so a callback captured once (from a log, a proxy, a leaked request) verifies
    forever, and its unsigned ``X-Webhook-Id`` can be changed at will. This function cannot tell
    a replay from the original; deduplicate on what is signed (as ``client.webhooks`` does, see
    :func:`dedupe_keys`) so a replay changes nothing. It stays on by default because the vendor's
    older guide documents that header and nothing in its current one says the service stopped
    sending it, so refusing it could refuse every callback of an account still on it. Pass False
    once your callbacks carry ``X-Webhook-Signature``: then a replay outside the tolerance window
    is refused outright.
    """
    raw = _as_bytes(body)
    if not isinstance(secret, str) or not secret:
        raise WebhookVerificationError("no webhook secret to verify with")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError("tolerance must be a finite number of seconds >= 0")
    h = _lower_headers(headers)

    signature = h.get("x-webhook-signature")
    if signature is not None:
        scheme, sep, digest = signature.strip().partition("=")
        if not sep or scheme.strip().lower() != "sha256" or not _HEX_SHA256.fullmatch(digest):
            raise WebhookVerificationError(
                "malformed X-Webhook-Signature header (expected 'sha256=<64 hex digits>')"
            )
        stamp = h.get("x-webhook-timestamp")
        if stamp is None:
            raise WebhookVerificationError("missing X-Webhook-Timestamp header")
        stamp = stamp.strip()
        if not _TIMESTAMP.fullmatch(stamp):
            raise WebhookVerificationError(
                "malformed X-Webhook-Timestamp header (expected Unix seconds)"
            )
        current = _clock.time() if now is None else now
        skew = float(stamp) - current
        if skew < -tolerance:
            raise WebhookVerificationError(
                f"X-Webhook-Timestamp is too old ({-skew:.0f}s, tolerance {tolerance:.0f}s)"
            )
        if skew > tolerance:
            raise WebhookVerificationError(
                f"X-Webhook-Timestamp is in the future ({skew:.0f}s, tolerance {tolerance:.0f}s)"
            )
        expected = _hmac_hex(secret, stamp.encode("ascii"), b".", raw)
        if not hmac.compare_digest(expected, digest.lower()):
            raise WebhookVerificationError(
                "X-Webhook-Signature does not match (wrong secret, or the body or timestamp "
                "was altered; verify the raw request bytes)"
            )
        return

    legacy = h.get("x-signature")
    if legacy is not None and not legacy_signatures:
        raise WebhookVerificationError(
            "legacy X-Signature refused (legacy_signatures=False); expected X-Webhook-Signature"
        )
    if legacy is not None:
        digest = legacy.strip()
        # Some senders prefix the legacy header like the current one; accept both spellings.
        if digest[:7].lower() == "sha256=":
            digest = digest[7:]
        if not _HEX_SHA256.fullmatch(digest):
            raise WebhookVerificationError("malformed X-Signature header (expected 64 hex digits)")
        if not hmac.compare_digest(_hmac_hex(secret, raw), digest.lower()):
            raise WebhookVerificationError(
                "X-Signature does not match (wrong secret, or the body was altered; "
                "verify the raw request bytes)"
            )
        return

    raise WebhookVerificationError(
        "missing signature: neither X-Webhook-Signature nor X-Signature header is present"
    )


# -- typed events --------------------------------------------------------------------------------
EventKind = Literal["completed", "failed", "streaming"]

_KIND_BY_SUFFIX: dict[str, EventKind] = {
    "completed": "completed",
    "complete": "completed",
    "succeeded": "completed",
    "success": "completed",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "streaming": "streaming",
    "stream": "streaming",
}


class WebhookEvent(ResponseModel):
    """One verified callback, parsed.

    ``kind`` is ``completed``, ``failed`` or ``streaming`` (from ``X-Webhook-Event`` / the body's
    ``event``, else from ``code`` and the clips). ``snapshot`` is the task state in the same
    normalised form polling gives; ``final`` says whether it ends the task's wait.
    """

    id: str | None = None
    event: str | None = None
    kind: EventKind
    task_id: str
    platform: str | None = None
    family: str = "sonic"
    code: int | None = None
    message: str | None = None
    timestamp: float | None = None
    snapshot: TaskSnapshot

    @property
    def clips(self) -> list[Clip]:
        return self.snapshot.clips

    @property
    def final(self) -> bool:
        return self.snapshot.finished


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nested deeper than the parser can go (a hostile body, not a crash).
        raise ResponseValidationError(f"webhook body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ResponseValidationError(
            f"webhook body must be a JSON object, got {type(payload).__name__}"
        )
    return payload


def family_for_platform(platform: str | None) -> str:
    """The SDK family name for a callback's ``platform`` (missing means sonic, the default)."""
    if not platform:
        return "sonic"
    return PLATFORM_FAMILIES.get(platform.strip().lower(), platform.strip().lower())


def _task_id(payload: Mapping[str, Any]) -> str:
    value = payload.get("task_id")
    data = payload.get("data")
    if value is None and isinstance(data, Mapping):
        value = data.get("task_id")
    if not isinstance(value, str) or not value.strip():
        raise ResponseValidationError("webhook body has no task_id", body=excerpt(payload))
    return value.strip()


def _kind(name: str | None, code: int | None, snapshot: TaskSnapshot) -> EventKind:
    if name:
        suffix = name.strip().rsplit(".", 1)[-1].lower()
        if suffix in _KIND_BY_SUFFIX:
            return _KIND_BY_SUFFIX[suffix]
    if code is not None and code != 200:
        return "failed"
    if snapshot.status == "failed":
        return "failed"
    return "completed" if snapshot.status == "succeeded" else "streaming"


def _build_event(
    payload: dict[str, Any],
    h: Mapping[str, str],
    resolve: Callable[[str], Family | None],
) -> WebhookEvent:
    task_id = _task_id(payload)
    platform = payload.get("platform")
    platform = platform if isinstance(platform, str) else None
    family_name = family_for_platform(platform)
    family = resolve(family_name)
    try:
        if family is not None:
            snapshot = family.parse_task(task_id, 200, payload)
        else:
            # Without a client, read the body as sonic's clip list (the shape all families use).
            snapshot = SonicFamily().parse_task(task_id, 200, payload)
            if snapshot.family != family_name:
                snapshot = snapshot.model_copy(update={"family": family_name})
    except ResponseValidationError:
        raise
    except ValidationError as exc:
        raise ResponseValidationError(
            f"webhook body for task {task_id} does not parse: {exc.errors()[0].get('msg')}",
            body=excerpt(payload),
        ) from None
    except AIMusicError as exc:
        # e.g. an error envelope the poll parser maps to an API error: nonsense for a callback.
        raise ResponseValidationError(
            f"webhook body for task {task_id} is not a task state: {exc}", body=excerpt(payload)
        ) from None
    code = payload.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    # The signed body's event wins: the X-Webhook-Event header is not covered by the signature,
    # so a replayed callback with an edited header must not turn "streaming" into "failed".
    name = payload.get("event") or h.get("x-webhook-event")
    name = name if isinstance(name, str) else None
    kind = _kind(name, code, snapshot)
    message = payload.get("message")
    message = message if isinstance(message, str) else None
    # Only the signed body may end a task that its clips say is still running: its own event
    # name, or an error code. The X-Webhook-Event header alone is not signed.
    body_says = bool(payload.get("event")) and isinstance(payload.get("event"), str)
    if kind == "failed" and not snapshot.finished and (body_says or code not in (None, 200)):
        # A failure event is final even when it carries no (or unfinished) clips: the task will
        # not produce anything more, and the waiting caller should hear the server's reason.
        snapshot = snapshot.model_copy(
            update={"status": "failed", "message": snapshot.message or message}
        )
    stamp = h.get("x-webhook-timestamp", "").strip()
    return WebhookEvent(
        id=h.get("x-webhook-id") or h.get("idempotency-key") or None,
        event=name,
        kind=kind,
        task_id=task_id,
        platform=platform,
        family=snapshot.family or family_name,
        code=code,
        message=message,
        timestamp=float(stamp) if _TIMESTAMP.fullmatch(stamp) else None,
        snapshot=snapshot,
    )


def parse_event(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    family: Family | None = None,
) -> WebhookEvent:
    """Parse a (verified) callback body into a :class:`WebhookEvent`.

    ``family`` parses the task state the way that family's polls are parsed; without it a
    clip-list body is read directly. Raises ``ResponseValidationError`` for a malformed body.
    Call :func:`verify_signature` first: this function trusts its input.
    """
    payload = _decode(_as_bytes(body))
    h = _lower_headers(headers or {})
    return _build_event(payload, h, lambda _name: family)


def _grace(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError("grace must be a finite number of seconds >= 0")
    return float(value)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1")
    return value


# -- correlation references ----------------------------------------------------------------------
# What new_reference makes: 128 random bits, URL-safe base64 without padding.
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{22}")


# A batch learns the reference of the start it is about to send through this: while it holds a
# list (set per asyncio task), every reference made in that context is appended to it, and the
# batch's journal commits it before the request goes out.
reference_sink: ContextVar[list[str] | None] = ContextVar("aimusic_reference_sink", default=None)


def new_reference() -> str:
    """A fresh correlation reference for a start's ``webhook_url``."""
    reference = secrets.token_urlsafe(C.REFERENCE_BYTES)
    sink = reference_sink.get()
    if sink is not None:
        sink.append(reference)
    return reference


def with_reference(url: str, reference: str) -> str:
    """``url`` with ``aimusic_ref=<reference>`` added to its query; the rest of the query is kept
    byte for byte (it may be signed or encoded in a way a round trip would change)."""
    parts = urlsplit(url)
    kept = [
        part
        for part in parts.query.split("&")
        if part and part.partition("=")[0] != C.REFERENCE_PARAM
    ]
    kept.append(f"{C.REFERENCE_PARAM}={reference}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def reference_of(url: str | None) -> str | None:
    """The correlation reference in a callback's URL (path and query, or a full URL), if it
    has one of the SDK's format; anything else in that unsigned query is ignored."""
    if not url:
        return None
    try:
        values = [v for k, v in parse_qsl(urlsplit(str(url)).query) if k == C.REFERENCE_PARAM]
    except ValueError:
        return None
    if len(values) != 1 or not _REFERENCE.fullmatch(values[0]):
        return None
    return values[0]


# -- deduplication -------------------------------------------------------------------------------
def dedupe_keys(event: WebhookEvent, body: bytes) -> tuple[str, ...]:
    """The keys under which a verified callback counts as seen; one seen before makes it a
    duplicate, which changes nothing.

    * ``id:`` the sender's event id (``X-Webhook-Id`` / ``Idempotency-Key``), what the API says
      to deduplicate on; it is not signed, so whoever replays a callback can change it;
    * ``body:`` a digest of the signed body, which a replay cannot change without breaking the
      signature (the current scheme's timestamp is a header, so a retry keeps its body);
    * ``final:`` for an event that ends its task, the family, task id and final state: the same
      outcome sent again with a different body still resolves nothing new.

    Pure and cheap, so the same keys serve a store shared by several processes.
    """
    keys = ["body:" + hashlib.sha256(body).hexdigest()]
    if event.id:
        keys.append("id:" + event.id)
    if event.final:
        keys.append(f"final:{event.family}:{event.task_id}:{event.snapshot.status}")
    return tuple(keys)


# -- the manager ---------------------------------------------------------------------------------
@dataclass
class WebhookStats:
    """Counters of what the receiver saw. ``delivered`` counts callbacks that ended a wait.

    ``unstored``: verified callbacks the shared hub could not store (answered 503, so the
    sender retries; waiters of this process were resolved). ``linked``: callbacks whose
    correlation reference was recorded for ``client.recover``.

    Requests cut off before ``handle`` saw them: ``too_large`` (413), ``timed_out`` (408, body
    not in within the read deadline), ``shed`` (503: turned away while full, or cut off to
    admit a newer callback or make room for its bytes). Gauges of the
    :class:`DeliveryBudget`: ``deliveries_in_flight``, ``bytes_in_flight`` and the highest
    ``peak_bytes_in_flight`` seen.
    """

    received: int = 0
    rejected: int = 0
    invalid: int = 0
    duplicates: int = 0
    accepted: int = 0
    delivered: int = 0
    unstored: int = 0
    linked: int = 0
    too_large: int = 0
    timed_out: int = 0
    shed: int = 0
    deliveries_in_flight: int = 0
    bytes_in_flight: int = 0
    peak_bytes_in_flight: int = 0


class WebhookManager:
    """Webhook delivery for one client (``client.webhooks``).

    Either ``await serve()`` an embedded receiver, or mount :meth:`aiohttp_handler` or
    :meth:`asgi_app` (or call :meth:`handle` from any framework) in your own app and call
    :meth:`use` with its public URL. From then on tasks are created with ``webhook_url`` and the
    client's ``webhook_secret`` (else its ``account_webhook_secret``, else one generated at
    random), and ``await task`` resolves from the callback, falling back to polling if none
    arrives within the grace period. A callback verifies with either secret of the client.

    Settings (keywords here, or attributes of ``client.webhooks``, read on every callback):

    * ``tolerance``: seconds a current-scheme timestamp may differ from the clock;
    * ``legacy_signatures``: accept the legacy ``X-Signature`` scheme (default True). It has no
      timestamp, so a captured callback verifies forever; every callback is deduplicated on its
      signed body and its task's final state (:func:`dedupe_keys`), which makes a replay change
      nothing. On by default because the vendor's older guide documents the header and its
      current one does not say it is no longer sent; set False once your callbacks carry
      ``X-Webhook-Signature``, and legacy-only callbacks get 401;
    * ``max_body``: bytes per callback body (413 beyond);
    * ``max_deliveries``, ``max_bytes_in_flight``, ``read_timeout``: the bounds on callbacks
      being read or verified, across every receiver of this manager (see
      :class:`DeliveryBudget`): how many at once, how many body bytes they hold together, and
      the deadline for a whole body. A sender that stalls or overflows them is cut off (408 or
      503) and its connection closed, and the ones that send at once still get through.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        tolerance: float = C.WEBHOOK_TOLERANCE,
        max_body: int = C.WEBHOOK_MAX_BODY,
        legacy_signatures: bool = C.WEBHOOK_LEGACY_SIGNATURES,
        max_deliveries: int = C.WEBHOOK_MAX_DELIVERIES,
        max_bytes_in_flight: int = C.WEBHOOK_MAX_BYTES_IN_FLIGHT,
        read_timeout: float = C.WEBHOOK_READ_TIMEOUT,
    ) -> None:
        self._runtime = runtime
        self.tolerance = tolerance
        self.max_body = max_body
        self.legacy_signatures = legacy_signatures
        self.stats = WebhookStats()
        self.budget = DeliveryBudget(self.stats)
        self.max_deliveries = max_deliveries
        self.max_bytes_in_flight = max_bytes_in_flight
        self.read_timeout = read_timeout
        self._receiver: Receiver | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        return f"WebhookManager(url={self.url!r}, serving={self._receiver is not None})"

    # -- configuration -----------------------------------------------------------------------
    @property
    def max_deliveries(self) -> int:
        """Callbacks being read or verified at once, across this manager's receivers."""
        return self.budget.max_deliveries

    @max_deliveries.setter
    def max_deliveries(self, value: int) -> None:
        self.budget.max_deliveries = _positive_int("max_deliveries", value)

    @property
    def max_bytes_in_flight(self) -> int:
        """Body bytes those callbacks may hold together (keep it at least ``max_body``)."""
        return self.budget.max_bytes

    @max_bytes_in_flight.setter
    def max_bytes_in_flight(self, value: int) -> None:
        self.budget.max_bytes = _positive_int("max_bytes_in_flight", value)

    @property
    def read_timeout(self) -> float:
        """Seconds for a whole body to arrive once its head has (a deadline, not per chunk)."""
        return self.budget.read_timeout

    @read_timeout.setter
    def read_timeout(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError("read_timeout must be a number of seconds")
        if not (math.isfinite(value) and value > 0):
            raise ConfigurationError("read_timeout must be a finite number of seconds > 0")
        self.budget.read_timeout = float(value)

    @property
    def url(self) -> str | None:
        """The URL new tasks get as ``webhook_url`` (None while webhooks are off)."""
        return self._runtime.webhooks.url

    @property
    def grace(self) -> float:
        """Seconds a task started with a webhook trusts it (past the usual finish of its kind)
        before it polls as a safety net: ``use(grace=)``, else ``PollPolicy.webhook_grace``."""
        grace = self._runtime.webhooks.grace
        return self._runtime.poll.webhook_grace if grace is None else grace

    @grace.setter
    def grace(self, value: float) -> None:
        self._runtime.webhooks.grace = _grace(value)

    @property
    def local_url(self) -> str | None:
        """Where the embedded receiver listens (None unless ``serve()`` is running)."""
        return self._receiver.url if self._receiver is not None else None

    @property
    def enabled(self) -> bool:
        """True while new tasks are created with ``webhook_url`` (after ``serve`` or ``use``)."""
        return self._runtime.webhooks.enabled

    def use(self, public_url: str, *, grace: float | None = None) -> None:
        """Send ``public_url`` as ``webhook_url`` with every task created from now on.

        For a receiver mounted in your own app (see :meth:`aiohttp_handler`). ``grace`` is how
        long a waiting task trusts the webhook before it starts polling as a safety net.
        """
        if not isinstance(public_url, str) or not public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must be an absolute http:// or https:// URL")
        if len(with_reference(public_url, "x" * 22)) > C.WEBHOOK_URL_MAX:
            raise ValueError(
                f"public_url is too long: with the correlation reference the SDK adds to its "
                f"query it must fit the API's {C.WEBHOOK_URL_MAX} characters"
            )
        if grace is not None:
            grace = _grace(grace)
        settings = self._runtime.webhooks
        if settings.secret is None:
            # The API signs with the account's default secret when none is sent: send that one
            # when the client knows it, else a fresh random one, so callbacks can be verified.
            settings.secret = settings.account_secret or secrets.token_urlsafe(32)
        settings.url = public_url
        if grace is not None:
            settings.grace = grace

    def disable(self) -> None:
        """Stop adding ``webhook_url`` to new tasks. Tasks already waiting still take callbacks
        that reach ``handle`` and fall back to polling as usual."""
        self._runtime.webhooks.url = None

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        *,
        grace: float | None = None,
    ) -> str:
        """Start the embedded receiver and return the URL it listens on.

        Tasks created afterwards carry ``webhook_url`` = ``public_url`` (when the API reaches
        you through a proxy or tunnel) or the listening URL. The receiver accepts POST on any
        path; it stops with ``aclose()`` (called by ``client.aclose()``).
        """
        if self._receiver is not None:
            raise RuntimeError(f"the webhook receiver is already serving at {self.local_url}")
        from ._webhook_receiver import Receiver

        receiver = Receiver(self)
        local = await receiver.start(host, port)
        self._receiver = receiver
        try:
            self.use(public_url or local, grace=grace)
        except BaseException:
            self._receiver = None
            await receiver.stop()
            raise
        logger.info("webhook receiver listening on %s", local)
        return local

    async def aclose(self) -> None:
        """Stop the embedded receiver, if any. New tasks are created without a webhook."""
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            self.disable()
            await receiver.stop()

    # -- receiving ---------------------------------------------------------------------------
    def _resolve_family(self, name: str) -> Family | None:
        return self._runtime.families.get(name)

    def _verify_and_parse(self, raw: bytes, h: dict[str, str], now: float) -> WebhookEvent:
        settings = self._runtime.webhooks
        # The client's own secret signs the callbacks of the tasks it started; the account's
        # default signs those of requests that sent none (async uploads).
        keys = dict.fromkeys(s for s in (settings.secret, settings.account_secret) if s)
        if not keys:
            raise WebhookVerificationError(
                "no webhook secret configured: call client.webhooks.serve() or use() first, "
                "or pass webhook_secret= (or account_webhook_secret=) to the client"
            )
        first: WebhookVerificationError | None = None
        for secret in keys:
            try:
                verify_signature(
                    raw, h, secret, tolerance=self.tolerance, now=now,
                    legacy_signatures=self.legacy_signatures,
                )  # fmt: skip
            except WebhookVerificationError as exc:
                first = first or exc
                continue
            return _build_event(_decode(raw), h, self._resolve_family)
        assert first is not None
        raise first

    async def handle(
        self, body: bytes, headers: Mapping[str, str], *, url: str | None = None
    ) -> WebhookEvent | None:
        """Verify, parse and apply one callback; the entry point for any web framework.

        ``url``: the request's URL (full, or path and query), where the SDK's starts put their
        correlation reference; pass it so that ``client.recover`` can match a start whose
        answer was lost (it is recorded only for a verified callback).

        Returns the event, or None for a duplicate that was ignored: the same ``X-Webhook-Id``,
        the same signed body, or the same final state of the same task (see :func:`dedupe_keys`),
        here or, with a shared hub, in any process. Raises ``WebhookVerificationError`` (answer
        401) for a bad signature, ``ResponseValidationError`` (answer 400) for an unparseable
        body, and ``HubUnavailableError`` (answer 503) when a shared hub could not store the
        result for other processes (this process's waiters were resolved; the sender's retry
        is processed again); otherwise answer 200, also for task ids this client does not
        know, so the sender stops retrying.
        """
        raw = _as_bytes(body)
        self.stats.received += 1
        now = _clock.time()
        try:
            h = _lower_headers(headers)
            if len(raw) >= C.WEBHOOK_THREAD_THRESHOLD:
                event = await asyncio.to_thread(self._verify_and_parse, raw, h, now)
            else:
                event = self._verify_and_parse(raw, h, now)
        except WebhookVerificationError as exc:
            self.stats.rejected += 1
            logger.warning("webhook rejected: %s", exc.reason)
            raise
        except ResponseValidationError:
            self.stats.invalid += 1
            raise
        # No await before the keys are recorded here: a duplicate arriving meanwhile in this
        # process sees them.
        keys = dedupe_keys(event, raw)
        seen = [key for key in keys if key in self._seen]
        if seen:
            # Only the keys seen before are refreshed: a replay's fresh (unsigned) id is not
            # remembered, so replays cannot push genuine entries out.
            for key in seen:
                self._seen.move_to_end(key)
            self.stats.duplicates += 1
            logger.debug("duplicate webhook for task %s ignored (%s)", event.task_id, seen[0])
            return None
        for key in keys:
            self._seen[key] = None
        while len(self._seen) > C.WEBHOOK_DEDUPE_LIMIT:
            self._seen.popitem(last=False)
        hub = self._runtime.hub
        if not await hub.claim(keys):
            self.stats.duplicates += 1
            logger.debug("webhook for task %s was taken by another process", event.task_id)
            return None
        failure: HubUnavailableError | None = None
        if not event.final:
            # Early audio (song.streaming) wakes waits in this process only: it is not a
            # result, so it is neither stored nor shared (the final callback follows).
            notify = getattr(hub, "notify", None)
            if notify is not None:
                notify(event.snapshot)
        if event.final:
            try:
                if await hub.publish(event.snapshot):
                    self.stats.delivered += 1
            except HubUnavailableError as exc:
                failure = exc
        reference = reference_of(url)
        if reference is not None:
            try:
                await hub.link(reference, event.task_id)
                self.stats.linked += 1
            except HubUnavailableError as exc:
                failure = failure or exc
        if failure is not None:
            # Not counted as seen, here or anywhere: the sender's retry stores it.
            self.stats.unstored += 1
            for key in keys:
                self._seen.pop(key, None)
            await hub.unclaim(keys)
            raise failure
        self.stats.accepted += 1
        logger.debug("webhook %s for task %s (%s)", event.event, event.task_id, event.kind)
        return event

    async def aiohttp_handler(self, request: web.Request) -> web.StreamResponse:
        """A ready aiohttp handler to mount in your app (then call :meth:`use`):

        ``app.router.add_post("/hook", client.webhooks.aiohttp_handler)``.
        Reads the body within this manager's bounds (413 beyond ``max_body``, 408 past
        ``read_timeout``, 503 when the receiver is full; the connection is closed after those),
        then answers 401 for a bad signature, 400 for an unparseable body, 503 when a shared
        hub could not store the result, 200 otherwise (duplicates and unknown tasks too).
        """
        from ._webhook_receiver import respond

        return await respond(self, request)

    def asgi_app(self) -> ASGIReceiver:
        """A ready ASGI app for the receiver (then call :meth:`use` with its public URL), for
        FastAPI, Starlette or any ASGI server, in one line:

        ``app.mount("/hooks/aimusic", client.webhooks.asgi_app())``.
        It answers POST on any path below where it is mounted (405 otherwise), within the same
        bounds and with the same answers as :meth:`aiohttp_handler`; lifespan events are
        acknowledged and nothing else. It must run on the event loop of the tasks it resolves.
        """
        from ._asgi import ASGIReceiver

        return ASGIReceiver(self)
