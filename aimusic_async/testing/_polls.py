"""The task routes of every family: GET /api/v1/{family}/task/{task_id} (polls are free)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from . import _checks as ck
from ._http import ok
from ._render import render
from ._starts import state_and_key

__all__ = ["add_routes"]

_FAMILIES = ("sonic", "producer", "riffusion")


def poll(request: web.Request, family: str) -> web.Response:
    state, key = state_and_key(request)
    state.stats.polls += 1
    task_id = request.match_info.get("task_id", "").strip()
    if not task_id:
        raise ck.bad("missing task id.")
    task = state.task_for(key, task_id, family)
    if task is None:
        raise ck.bad("task not found.")
    status, body = render(state, task, state.now())
    return ok(body, status=status)


async def missing_task_id(request: web.Request) -> web.Response:
    state, _ = state_and_key(request)
    state.stats.polls += 1
    raise ck.bad("missing task id.")


def _poller(family: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return poll(request, family)

    return handler


def add_routes(app: web.Application) -> None:
    for family in _FAMILIES:
        app.router.add_get(f"/api/v1/{family}/task/{{task_id}}", _poller(family))
        app.router.add_get(f"/api/v1/{family}/task/", missing_task_id)
