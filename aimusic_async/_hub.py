"""Where pushed results (webhooks) meet waiting tasks: a start ``expect``s its task id, the wait
sleeps on its ``future``, the receiver ``deliver``s a verified final snapshot."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from .models.common import TaskSnapshot

__all__ = ["PushHub"]

# Early callbacks kept for ids not yet registered; each is a few KB, so this is bounded memory.
_EARLY_LIMIT = 4096
# Ids whose wait already ended, remembered so late duplicates are not parked as "early" callbacks.
_DONE_LIMIT = 4096


class PushHub:
    """One client's registry of tasks waiting for a webhook.

    A callback can beat the start request's answer home (instant tasks), so final snapshots for
    ids not expected yet are kept, boundedly, until ``expect`` asks for them; ids whose wait
    ended are remembered, boundedly, so late duplicates are not parked as early callbacks."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[TaskSnapshot]] = {}
        self._early: OrderedDict[str, TaskSnapshot] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()

    def expect(self, task_id: str) -> None:
        """Register a task started with a webhook; a callback may already be waiting for it."""
        self._done.pop(task_id, None)
        fut = self._futures.get(task_id)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._futures[task_id] = fut
        early = self._early.pop(task_id, None)
        if early is not None and not fut.done():
            fut.set_result(early)

    def future(self, task_id: str) -> asyncio.Future[TaskSnapshot] | None:
        """The future a waiting task sleeps on, or None when no webhook was requested."""
        return self._futures.get(task_id)

    def deliver(self, snapshot: TaskSnapshot) -> bool:
        """Hand over a verified, final snapshot. Returns True when it resolved a waiting task;
        duplicates and snapshots for finished waits return False and change nothing."""
        if not snapshot.finished:
            return False
        fut = self._futures.get(snapshot.task_id)
        if fut is None:
            if snapshot.task_id in self._done:
                return False
            self._early[snapshot.task_id] = snapshot
            while len(self._early) > _EARLY_LIMIT:
                self._early.popitem(last=False)
            return False
        if fut.done():
            return False
        fut.set_result(snapshot)
        return True

    def release(self, task_id: str) -> None:
        """Forget a task once its result is in the caller's hands."""
        fut = self._futures.pop(task_id, None)
        if fut is not None:
            if not fut.done():
                fut.cancel()
            self._done[task_id] = None
            while len(self._done) > _DONE_LIMIT:
                self._done.popitem(last=False)
