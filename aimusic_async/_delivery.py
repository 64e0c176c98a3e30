"""The webhook receiver's bounds on unauthenticated senders (``DeliveryBudget``), free of any
web framework: how many callbacks at once, their bytes in flight, a whole-body read deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _constants as C
from ._errors import DeliveryRefused

if TYPE_CHECKING:
    from .webhooks import WebhookStats

__all__ = ["Delivery", "DeliveryBudget"]

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
