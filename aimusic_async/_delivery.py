"""The webhook receiver's bounds on unauthenticated senders (``DeliveryBudget``) and the receive
path every receiver shares (``receive_callback``: admit, bounded read, ``handle``, the answer),
free of any web framework: the aiohttp and ASGI receivers only adapt a request and a response."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from . import _constants as C
from ._errors import (
    DeliveryRefused,
    HubUnavailableError,
    ResponseValidationError,
    WebhookVerificationError,
)

if TYPE_CHECKING:
    from .webhooks import WebhookManager, WebhookStats

__all__ = ["Answer", "Delivery", "DeliveryBudget", "read_body", "receive_callback"]

T = TypeVar("T")


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A read abandoned after a cut-off may still fail (the sender hangs up); nobody awaits it.
    if not task.cancelled():
        task.exception()


class Delivery:
    """One admitted callback (see :class:`DeliveryBudget`): a slot, its share of the byte budget
    and its read deadline. A receiver reads the body through :meth:`read`, accounts each chunk
    with :meth:`take`, calls :meth:`body_read` once the body is complete, and :meth:`close` when
    it has answered (always, in a ``finally``)."""

    __slots__ = ("_budget", "_cut", "_timer", "bytes", "reading")

    def __init__(self, budget: DeliveryBudget, cut: asyncio.Future[DeliveryRefused]) -> None:
        self._budget = budget
        self._cut = cut
        self._timer: asyncio.TimerHandle | None = None
        self.bytes = 0
        self.reading = True

    @property
    def cut(self) -> asyncio.Future[DeliveryRefused]:
        """Done (with the refusal) once this delivery has been cut off."""
        return self._cut

    async def read(self, read: Awaitable[T]) -> T:
        """Await one read of the body, unless the delivery is cut off first: then the read is
        cancelled and ``DeliveryRefused`` raised."""
        if self._cut.done():
            if inspect.iscoroutine(read):
                read.close()
            raise self._cut.result()
        task = asyncio.ensure_future(read)
        try:
            await asyncio.wait((task, self._cut), return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished = task.done()
            if not finished:
                task.add_done_callback(_retrieve)
                task.cancel()
        if finished:
            return task.result()
        raise self._cut.result()

    def take(self, size: int) -> None:
        """Account ``size`` more body bytes held by this delivery. Raises ``DeliveryRefused``
        (503) when the budget has no room, even after cutting off older reads."""
        if self._cut.done():
            raise self._cut.result()
        self._budget._reserve(self, size)

    def body_read(self) -> None:
        """The whole body is in: no deadline any more, and never cut off to make room."""
        self.reading = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Give the slot and the bytes back (idempotent)."""
        self._budget._release(self)


class DeliveryBudget:
    """The receiver's bounds on unauthenticated senders, shared by every receiver of one manager
    (the embedded server, a mounted aiohttp handler) and free of any web framework.

    ``admit()`` hands out a :class:`Delivery` per request whose head has arrived, at most
    ``max_deliveries`` at once; the bytes they hold together stay within ``max_bytes``; each
    body must be in within ``read_timeout`` seconds of admission. When full, the oldest delivery
    still reading its body is cut off (503) to admit a newcomer or make room for its bytes:
    a genuine callback sends its body at once and finishes before it is the oldest, while a
    sender that stalls ages into the first to go. Only when every slot is past its read (being
    verified) is a newcomer refused outright.
    """

    def __init__(
        self,
        stats: WebhookStats,
        *,
        max_deliveries: int = C.WEBHOOK_MAX_DELIVERIES,
        max_bytes: int = C.WEBHOOK_MAX_BYTES_IN_FLIGHT,
        read_timeout: float = C.WEBHOOK_READ_TIMEOUT,
    ) -> None:
        self.stats = stats
        self.max_deliveries = max_deliveries
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        # Insertion order is admission order: the first entry still reading is the oldest.
        self._active: dict[Delivery, None] = {}
        self._bytes = 0

    @property
    def deliveries(self) -> int:
        return len(self._active)

    @property
    def bytes_in_flight(self) -> int:
        return self._bytes

    def admit(self) -> Delivery:
        """A slot for one callback whose head has arrived; raises ``DeliveryRefused`` (503) when
        every slot is taken by a delivery past its read."""
        if len(self._active) >= self.max_deliveries:
            victim = self._oldest_reading()
            if victim is None:
                self.stats.shed += 1
                raise DeliveryRefused(503, "webhook receiver busy")
            self._cut_off(victim, DeliveryRefused(503, "cut off to admit a newer callback"))
        loop = asyncio.get_running_loop()
        delivery = Delivery(self, loop.create_future())
        # A server-side deadline on the loop's own timer, not an SDK wait: nothing sleeps on it.
        delivery._timer = loop.call_later(self.read_timeout, self._expire, delivery)
        self._active[delivery] = None
        self.stats.deliveries_in_flight = len(self._active)
        return delivery

    def _oldest_reading(self) -> Delivery | None:
        return next((d for d in self._active if d.reading), None)

    def _reserve(self, delivery: Delivery, size: int) -> None:
        while self._bytes + size > self.max_bytes:
            victim = self._oldest_reading()
            if victim is None or victim is delivery:
                refused = DeliveryRefused(503, "webhook receiver has no room for this body")
                self._cut_off(delivery, refused)
                raise refused
            self._cut_off(victim, DeliveryRefused(503, "cut off to make room for a newer body"))
        delivery.bytes += size
        self._bytes += size
        self.stats.bytes_in_flight = self._bytes
        self.stats.peak_bytes_in_flight = max(self.stats.peak_bytes_in_flight, self._bytes)

    def _expire(self, delivery: Delivery) -> None:
        delivery._timer = None
        self._cut_off(
            delivery, DeliveryRefused(408, f"body not received within {self.read_timeout:g}s")
        )

    def _cut_off(self, delivery: Delivery, refused: DeliveryRefused) -> None:
        if delivery._cut.done():
            return
        delivery._cut.set_result(refused)
        if refused.status == 408:
            self.stats.timed_out += 1
        else:
            self.stats.shed += 1
        self._release(delivery)

    def _release(self, delivery: Delivery) -> None:
        if delivery._timer is not None:
            delivery._timer.cancel()
            delivery._timer = None
        if delivery in self._active:
            del self._active[delivery]
            self._bytes -= delivery.bytes
            delivery.bytes = 0
            self.stats.bytes_in_flight = self._bytes
            self.stats.deliveries_in_flight = len(self._active)


# -- the receive path every receiver shares --------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """What a receiver answers one callback: the status and JSON fields, and for a refusal by
    the bounds (408, 413, 503) the refusal itself: the connection is closed after answering."""

    status: int
    fields: Mapping[str, object] = field(default_factory=dict)
    refused: DeliveryRefused | None = None
    # Seconds for a Retry-After header (a 503 the sender should retry soon).
    retry_after: int | None = None


def _refusal(refused: DeliveryRefused) -> Answer:
    return Answer(refused.status, {"error": refused.reason}, refused)


async def read_body(
    delivery: Delivery, limit: int, read_chunk: Callable[[], Awaitable[bytes]]
) -> bytes:
    """The request body, read within ``delivery``'s bounds; ``read_chunk`` gives the next piece
    (``b""`` at the end) and raises ``ConnectionError`` when the sender hung up. Raises
    ``DeliveryRefused``: 413 as soon as it exceeds ``limit`` bytes (never read in full), 408 at
    the read deadline, 503 when the receiver needs the room."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await delivery.read(read_chunk())
        if not chunk:
            delivery.body_read()
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise DeliveryRefused(413, f"body larger than {limit} bytes")
        delivery.take(len(chunk))
        chunks.append(chunk)


async def receive_callback(
    manager: WebhookManager,
    headers: Mapping[str, str],
    read_chunk: Callable[[], Awaitable[bytes]],
    *,
    content_length: int | None,
    url: str | None,
    before_read: Callable[[], Awaitable[None]] | None = None,
) -> Answer | None:
    """One callback through ``manager``'s bounds and ``manager.handle``: the answer to send, or
    None when the sender hung up mid-body (nobody to answer).

    A declared ``content_length`` above ``max_body`` is refused before anything is read; then a
    slot is taken (``before_read`` runs once it is, e.g. to send ``100 Continue``), the body read
    with :func:`read_body`, and ``handle``'s outcome mapped: 401 for a bad signature (the reason
    is logged by ``handle``, the sender learns only that it was refused), 400 for a body that
    does not parse, 503 (``Retry-After: 1``) when a shared hub cannot store the result, 200
    otherwise (duplicates and unknown tasks too). ``url`` is the URL the
    callback was posted to, query included.
    """
    limit = manager.max_body
    if content_length is not None and content_length > limit:
        manager.stats.too_large += 1
        return _refusal(DeliveryRefused(413, f"body larger than {limit} bytes"))
    try:
        delivery = manager.budget.admit()
    except DeliveryRefused as refused:
        return _refusal(refused)
    try:
        if before_read is not None:
            await before_read()
        try:
            body = await read_body(delivery, limit, read_chunk)
        except DeliveryRefused as refused:
            if refused.status == 413:
                manager.stats.too_large += 1
            return _refusal(refused)
        except ConnectionError:
            return None
        try:
            event = await manager.handle(body, headers, url=url)
        except WebhookVerificationError:
            return Answer(401, {"error": "signature verification failed"})
        except ResponseValidationError:
            return Answer(400, {"error": "unparseable webhook body"})
        except HubUnavailableError:
            # Stored nowhere for the other processes (local waiters already have it): the
            # sender's retry gets another chance to store it.
            return Answer(503, {"error": "result store unavailable"}, retry_after=1)
        return Answer(200, {"received": True, "duplicate": event is None})
    finally:
        delivery.close()
