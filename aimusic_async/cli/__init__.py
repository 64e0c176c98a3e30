"""The ``aimusic`` command. Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers its parser and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from .._version import __version__

__all__ = ["SUBCOMMAND_MODULES", "build_parser", "main"]

# Subcommand modules (relative to this package), in the order `aimusic --help` lists them.
SUBCOMMAND_MODULES: list[str] = ["emulator_cmd"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimusic", description="AI Music API from the command line."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aimusic`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))
