"""``aimusic get TASK_ID`` (one poll) and ``aimusic wait TASK_ID`` (until finished)."""

from __future__ import annotations

import argparse
from typing import Any

from .._errors import TaskFailedError, TaskNotFoundError, TaskTimeoutError
from ._console import UI
from ._operations import FAMILIES
from ._options import (
    EXIT_FAILED,
    EXIT_OK,
    HintedError,
    add_global_options,
    add_wait_options,
    make_client,
    run,
)
from ._render import error_json, show_clips, task_json

__all__ = ["add_parsers", "wait_for_task"]

TASK_FAMILIES = [f for f in FAMILIES if f != "lyrics"]


def _add_task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task_id", metavar="TASK_ID", help="the id a start request returned")
    parser.add_argument(
        "--family",
        choices=TASK_FAMILIES,
        default="sonic",
        help="which API family started the task (default: sonic)",
    )


def add_parsers(subparsers: Any) -> None:
    """Register ``aimusic get`` and ``aimusic wait``."""
    get = subparsers.add_parser(
        "get",
        help="poll a task once and show its state",
        description="Poll a task once and show its state and clips (exit 0 when the poll worked).",
    )
    _add_task_arguments(get)
    add_global_options(get, suppress=True)
    get.set_defaults(handler=lambda args: run(args, _get))

    wait = subparsers.add_parser(
        "wait",
        help="wait until a task is finished",
        description="Wait until every clip of a task is finished; exit 1 if it failed or timed "
        "out.",
    )
    _add_task_arguments(wait)
    add_wait_options(wait)
    add_global_options(wait, suppress=True)
    wait.set_defaults(handler=lambda args: run(args, _wait))


def family_hint(family: str) -> str:
    """What to try when ``family`` does not know a task: the id may be another family's."""
    others = [f for f in TASK_FAMILIES if f != family]
    return f"if this is a {'/'.join(others)} task, pass --family {'|'.join(others)}"


async def _get(args: argparse.Namespace, ui: UI) -> int:
    async with make_client(args) as client:
        try:
            snapshot = await client.task(args.task_id, family=args.family).refresh()
        except TaskNotFoundError as exc:
            raise HintedError(exc, family_hint(args.family)) from None
    if ui.json_mode:
        ui.emit_json(task_json(snapshot))
    else:
        show_clips(ui, snapshot)
    return EXIT_OK


async def wait_for_task(task: Any, ui: UI, *, timeout: float | None) -> int:
    """Wait for ``task`` with a spinner on a terminal; print the result; the exit code."""
    try:
        if ui.live:
            with ui.console().status(f"waiting for task {task.id} ...") as status:
                async for snapshot in task.watch():
                    done = sum(1 for c in snapshot.clips if c.is_terminal)
                    total = len(snapshot.clips)
                    status.update(f"task {task.id}: {snapshot.status} ({done}/{total} clips final)")
                    if snapshot.finished:
                        break
        result = await task.wait(timeout=timeout)
    except (TaskFailedError, TaskTimeoutError) as exc:
        status_name = "failed" if isinstance(exc, TaskFailedError) else "timeout"
        if ui.json_mode:
            ui.emit_json(
                {
                    "task_id": task.id,
                    "family": task.family,
                    "status": status_name,
                    "error": error_json(exc),
                }
            )
        else:
            ui.error(f"error: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    if ui.json_mode:
        ui.emit_json(task_json(result, status="succeeded"))
    else:
        show_clips(ui, result, status="succeeded")
    return EXIT_OK


async def _wait(args: argparse.Namespace, ui: UI) -> int:
    async with make_client(args) as client:
        task = client.task(args.task_id, family=args.family)
        args.resume_task = (task.id, task.family)
        try:
            return await wait_for_task(task, ui, timeout=args.timeout)
        except TaskNotFoundError as exc:
            raise HintedError(exc, family_hint(args.family)) from None
