"""The ``Hub`` protocol and ``LocalWaiters``, the in-process half every hub shares: one future per
waited-for task id, reference counted, resolved by a verified final snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..models.common import TaskSnapshot

__all__ = ["Hub", "LocalWaiters"]


@runtime_checkable
class Hub(Protocol):
    """Where verified webhook results meet the tasks waiting for them.

    A wait registers interest with ``wait(task_id)`` and sleeps on the future it gets (shared by
    every handle of that id in this process; ``release`` undoes one ``wait``). The future
    resolves with the task's final snapshot when any receiver sharing the hub ``publish``es it,
    or at once when the hub already holds one. ``lookup`` reads a stored snapshot without
    waiting (it never polls the API). ``claim`` takes a delivery's dedupe keys (False: seen
    before, anywhere the hub reaches); ``link`` and ``resolve`` map a start's correlation
    reference to the task id its callback named.

    A hub is a hint, never the only path: while ``healthy`` is False a wait treats the hub as
    absent and polls, and ``health_changed()`` is a future resolved at the next change of
    ``healthy`` (a sleeping wait wakes to re-plan). No method blocks for long: a hub that cannot
    answer in time reports itself unhealthy; ``publish`` raises ``HubUnavailableError`` when it
    could not store the snapshot for other processes (local waiters are resolved first).
    """

    @property
    def shared(self) -> bool:
        """True when other processes reach the same hub (a result may arrive from elsewhere)."""
        ...

    @property
    def healthy(self) -> bool:
        """False while the hub cannot be used (waits poll instead)."""
        ...

    def health_changed(self) -> asyncio.Future[None]:
        """A future resolved the next time ``healthy`` changes."""
        ...

    def wait(self, task_id: str) -> asyncio.Future[TaskSnapshot]:
        """Register interest in ``task_id``; the future resolves with its final snapshot."""
        ...

    def release(self, task_id: str) -> None:
        """Undo one ``wait`` (the last one forgets the id and cancels its future)."""
        ...

    async def publish(self, snapshot: TaskSnapshot) -> bool:
        """Resolve local waiters, store the final snapshot (with a TTL), then notify the other
        processes. True when a waiter in this process was resolved."""
        ...

    async def lookup(self, task_id: str) -> TaskSnapshot | None:
        """The stored final snapshot of ``task_id``, or None (also when the hub is down)."""
        ...

    async def claim(self, keys: Sequence[str]) -> bool:
        """Record a delivery's dedupe keys; False when any of them was seen before."""
        ...

    async def unclaim(self, keys: Sequence[str]) -> None:
        """Forget keys ``claim`` recorded (a delivery whose result could not be stored, so that
        the sender's retry is processed again)."""
        ...

    async def link(self, reference: str, task_id: str) -> None:
        """Record which task a start's correlation reference created (first link wins)."""
        ...

    async def resolve(self, reference: str, timeout: float) -> str | None:
        """The task id linked to ``reference``, waiting up to ``timeout`` seconds for the link;
        None when none came. Raises ``HubUnavailableError`` when the hub could not be asked."""
        ...

    async def aclose(self) -> None:
        """Release connections and background work; waiting futures are cancelled."""
        ...


class LocalWaiters:
    """The futures waits sleep on, per task id and per reference, in this process.

    One future per id however many handles wait for it (``_counts`` holds the extra holders, so
    a single waiter costs one dict entry and one future)."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[TaskSnapshot]] = {}
        self._counts: dict[str, int] = {}
        self._refs: dict[str, asyncio.Future[str]] = {}
        self._health: asyncio.Future[None] | None = None
        # Waits for a task's first audio (``wait(until="streaming")``) sleep on these; a
        # streaming callback resolves them in the process that received it and is not stored
        # or shared: only final snapshots travel through the hub.
        self._progress: dict[str, asyncio.Future[TaskSnapshot]] = {}

    # -- health ------------------------------------------------------------------------------
    def health_changed(self) -> asyncio.Future[None]:
        fut = self._health
        if fut is None or fut.done() or fut.get_loop() is not asyncio.get_running_loop():
            fut = self._health = asyncio.get_running_loop().create_future()
        return fut

    def _signal_health(self) -> None:
        fut, self._health = self._health, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    # -- task ids ----------------------------------------------------------------------------
    def _register(self, task_id: str) -> tuple[asyncio.Future[TaskSnapshot], bool]:
        """The id's future and whether it is new (a new one needs the stored value read)."""
        fut = self._futures.get(task_id)
        if fut is not None and not fut.cancelled():
            self._counts[task_id] = self._counts.get(task_id, 1) + 1
            return fut, False
        fut = asyncio.get_running_loop().create_future()
        self._futures[task_id] = fut
        self._counts.pop(task_id, None)
        return fut, True

    def release(self, task_id: str) -> None:
        count = self._counts.get(task_id)
        if count is not None:
            if count > 2:
                self._counts[task_id] = count - 1
            else:
                del self._counts[task_id]
            return
        fut = self._futures.pop(task_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def future(self, task_id: str) -> asyncio.Future[TaskSnapshot] | None:
        """The future registered for ``task_id``, or None (does not register)."""
        return self._futures.get(task_id)

    def pending(self) -> list[str]:
        """Ids registered and not resolved yet."""
        return [tid for tid, fut in self._futures.items() if not fut.done()]

    def _resolve(self, snapshot: TaskSnapshot) -> bool:
        """Hand a final snapshot to the id's waiters; True when it ended a wait."""
        fut = self._futures.get(snapshot.task_id)
        if fut is None or fut.done():
            return False
        fut.set_result(snapshot)
        return True

    # -- streaming (non-final) callbacks, this process only ------------------------------------
    def progress(self, task_id: str) -> asyncio.Future[TaskSnapshot]:
        """The future a wait for ``task_id``'s first audio sleeps on."""
        fut = self._progress.get(task_id)
        if fut is None or fut.done():
            fut = self._progress[task_id] = asyncio.get_running_loop().create_future()
        return fut

    def notify(self, snapshot: TaskSnapshot) -> bool:
        """Hand a non-final snapshot (a streaming callback) to this process's waits for the
        task's first audio; True when one was waiting. Unknown ids cost nothing."""
        fut = self._progress.pop(snapshot.task_id, None)
        if fut is None or fut.done():
            return False
        fut.set_result(snapshot)
        return True

    def drop_progress(self, task_id: str) -> None:
        """No wait wants the task's first audio any more."""
        fut = self._progress.pop(task_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    # -- references --------------------------------------------------------------------------
    def _ref_future(self, reference: str) -> tuple[asyncio.Future[str], bool]:
        fut = self._refs.get(reference)
        if fut is not None and not fut.done():
            return fut, False
        fut = asyncio.get_running_loop().create_future()
        self._refs[reference] = fut
        return fut, True

    def _resolve_ref(self, reference: str, task_id: str) -> None:
        fut = self._refs.get(reference)
        if fut is not None and not fut.done():
            fut.set_result(task_id)

    def _drop_ref(self, reference: str, fut: asyncio.Future[str]) -> None:
        if self._refs.get(reference) is fut:
            del self._refs[reference]

    def _cancel_all(self) -> None:
        futures: list[asyncio.Future[Any]] = [
            *self._futures.values(),
            *self._refs.values(),
            *self._progress.values(),
        ]
        for fut in futures:
            if not fut.done():
                fut.cancel()
        self._futures.clear()
        self._counts.clear()
        self._refs.clear()
        self._progress.clear()
