"""``aimusic create OPERATION [--param k=v ...] [JSON] [--wait]``: start one operation."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

import pydantic
from pydantic import BaseModel

from ._console import UI
from ._operations import bind_operation
from ._options import (
    EXIT_OK,
    UsageError,
    add_global_options,
    add_wait_options,
    format_validation_error,
    make_client,
    parse_params,
    resume_command,
    run,
)
from ._render import show_clips
from .task_cmds import wait_for_task

__all__ = ["add_parser"]

EPILOG = """examples:
  aimusic create sonic.create --param mv=sonic-v5 --param custom_mode=false \\
      --param gpt_description_prompt="calm lo-fi for studying" --wait
  aimusic create sonic.extend '{"clip_id": "...", "continue_at": 30, "mv": "sonic-v5",
      "custom_mode": false}'
  aimusic create lyrics.generate --param description="a song about the sea"
  aimusic create sonic.bpm --param clip_id=...         (sync utilities print their result)

A --param value that reads as JSON (true, 0.5, ["a"], null) is taken as such; quote strings that
look like JSON: --param title='"2024"'. A JSON argument starting with @ is read from that file.
"""


def add_parser(subparsers: Any) -> None:
    """Register ``aimusic create``."""
    parser = subparsers.add_parser(
        "create",
        help="start one operation (sonic.create, producer.create, ...)",
        description="Start one operation of the API with the given parameters and print the task "
        "id (or the result of a synchronous utility). Parameters are checked before anything is "
        "sent.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "operation",
        metavar="OPERATION",
        help="family.method, e.g. sonic.create, sonic.extend, producer.create, lyrics.generate",
    )
    parser.add_argument(
        "params_json",
        metavar="JSON",
        nargs="?",
        default=None,
        help="the parameters as one JSON object (or @file.json)",
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one parameter (repeatable; wins over the JSON object)",
    )
    parser.add_argument("--wait", action="store_true", help="wait for the task and show its clips")
    add_wait_options(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run(args, _create))


async def _create(args: argparse.Namespace, ui: UI) -> int:
    from .._tasks import Task

    params = parse_params(args.param, args.params_json)
    async with make_client(args) as client:
        call = bind_operation(client, args.operation, params)
        try:
            outcome = call()
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except pydantic.ValidationError as exc:
            # Bad input, caught before anything was sent.
            raise UsageError(format_validation_error(exc, known=params)) from None
        if not isinstance(outcome, Task):
            # A synchronous utility (bpm, wav, lyrics ...): its typed result is the answer.
            _show_result(ui, outcome)
            return EXIT_OK
        if args.wait:
            # Ctrl-C from here on leaves a running task: say how to pick it up again.
            args.resume_task = (outcome.id, outcome.family)
            if not ui.json_mode:
                ui.say(f"started task {outcome.id} ({outcome.family})")
            return await wait_for_task(outcome, ui, timeout=args.timeout)
        if ui.json_mode:
            ui.emit_json({"task_id": outcome.id, "family": outcome.family, "status": "started"})
        else:
            ui.say(f"started task {outcome.id} ({outcome.family})")
            ui.say(f"follow it with: {resume_command(args, outcome.id, outcome.family)}")
        return EXIT_OK


def _show_result(ui: UI, result: Any) -> None:
    if isinstance(result, BaseModel):
        doc: Any = result.model_dump(mode="json", exclude_none=True)
    else:
        doc = result
    if ui.json_mode:
        ui.emit_json(doc)
        return
    variants = getattr(result, "variants", None)
    if isinstance(variants, list):  # lyrics: show them as text, not as a table cell
        for n, variant in enumerate(variants, start=1):
            ui.say(f"--- {n}. {getattr(variant, 'title', '') or '(untitled)'}")
            ui.say(str(getattr(variant, "lyrics", "")).rstrip())
        return
    if hasattr(result, "task_id") and hasattr(result, "clips"):
        show_clips(ui, result)
        return
    if isinstance(doc, dict):
        rows = [[k, _short(v)] for k, v in doc.items() if k != "raw"]
        ui.table(["field", "value"], rows)
    else:
        ui.say(str(doc))


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:397] + "..."
