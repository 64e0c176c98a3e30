"""``MemoryHub``, the default: results meet waiting tasks inside one process, with no server."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeVar

from .. import _clock
from .. import _constants as C
from ..models.common import TaskSnapshot
from ._base import LocalWaiters

__all__ = ["MemoryHub"]

_V = TypeVar("_V")


class MemoryHub(LocalWaiters):
    """The in-process hub: a verified callback resolves the tasks of this process.

    It keeps the last ``limit`` final snapshots for ``ttl`` seconds (a callback can beat its
    start's answer home; a handle rebuilt with ``client.task(id)`` or ``peek()`` may ask later)
    and the links of correlation references, equally bounded. It is always healthy and never
    shared; duplicates are dropped by the webhook manager of each client, so ``claim`` accepts.
    """

    def __init__(self, *, ttl: float = C.HUB_TTL, limit: int = C.HUB_MEMORY_LIMIT) -> None:
        super().__init__()
        self.ttl = ttl
        self.limit = limit
        self._stored: OrderedDict[str, tuple[float, TaskSnapshot]] = OrderedDict()
        self._links: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryHub(waiting={len(self._futures)}, stored={len(self._stored)})"

    @property
    def shared(self) -> bool:
        return False

    @property
    def healthy(self) -> bool:
        return True

    def wait(self, task_id: str) -> asyncio.Future[TaskSnapshot]:
        fut, new = self._register(task_id)
        if new:
            stored = self._get(self._stored, task_id)
            if stored is not None:
                fut.set_result(stored)
        return fut

    def expect(self, task_id: str) -> None:
        """Register interest without keeping the future (tests; ``future`` finds it)."""
        self.wait(task_id)

    def deliver(self, snapshot: TaskSnapshot) -> bool:
        """``publish`` without awaiting: resolve and store a final snapshot at once."""
        if not snapshot.finished:
            return False
        self._put(self._stored, snapshot.task_id, snapshot)
        return self._resolve(snapshot)

    async def publish(self, snapshot: TaskSnapshot) -> bool:
        return self.deliver(snapshot)

    async def lookup(self, task_id: str) -> TaskSnapshot | None:
        return self._get(self._stored, task_id)

    async def claim(self, keys: Sequence[str]) -> bool:
        return True

    async def unclaim(self, keys: Sequence[str]) -> None:
        return None

    async def link(self, reference: str, task_id: str) -> None:
        if self._get(self._links, reference) is None:
            self._put(self._links, reference, task_id)
        self._resolve_ref(reference, self._get(self._links, reference) or task_id)

    async def resolve(self, reference: str, timeout: float) -> str | None:
        found = self._get(self._links, reference)
        if found is not None or timeout <= 0:
            return found
        fut, _ = self._ref_future(reference)
        try:
            await _clock.sleep(timeout, wake=fut)
        finally:
            self._drop_ref(reference, fut)
        return fut.result() if fut.done() and not fut.cancelled() else None

    async def aclose(self) -> None:
        self._cancel_all()

    # -- the bounded stores ------------------------------------------------------------------
    def _put(self, store: OrderedDict[str, tuple[float, _V]], key: str, value: _V) -> None:
        store[key] = (_clock.monotonic() + self.ttl, value)
        store.move_to_end(key)
        while len(store) > self.limit:
            store.popitem(last=False)

    def _get(self, store: OrderedDict[str, tuple[float, _V]], key: str) -> _V | None:
        entry = store.get(key)
        if entry is None:
            return None
        if entry[0] <= _clock.monotonic():
            del store[key]
            return None
        return entry[1]
