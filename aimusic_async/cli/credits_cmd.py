"""``aimusic credits``: the remaining balance."""

from __future__ import annotations

import argparse
from typing import Any

from ._console import UI
from ._options import EXIT_OK, add_global_options, make_client, run

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Register ``aimusic credits``."""
    parser = subparsers.add_parser(
        "credits",
        help="show the remaining credits",
        description="Show the account's remaining credits (plan and extra).",
    )
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run(args, _credits))


async def _credits(args: argparse.Namespace, ui: UI) -> int:
    async with make_client(args) as client:
        balance = await client.credits()
    credits = int(balance.credits)
    extra = int(balance.extra_credits)
    if ui.json_mode:
        ui.emit_json({"credits": credits, "extra_credits": extra, "total": credits + extra})
    else:
        ui.table(
            ["credits", "extra_credits", "total"],
            [[credits, extra, credits + extra]],
            title="Credits",
        )
    return EXIT_OK
