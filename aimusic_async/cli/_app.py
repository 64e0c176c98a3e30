"""The ``aimusic`` argument parser: global flags plus one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from .._version import __version__
from ._options import add_global_options

__all__ = ["SUBCOMMAND_MODULES", "build_parser", "main"]

# Each module exposes ``add_parser(subparsers)`` and sets a ``handler(args) -> int`` default
# (``func`` also works: the emulator subcommand uses that name).
# Order is the order of ``aimusic --help``.
SUBCOMMAND_MODULES = (
    "demo_cmd",
    "create_cmd",
    "task_cmds",
    "download_cmd",
    "batch_cmd",
    "credits_cmd",
    "emulator_cmd",
)

DESCRIPTION = """The AI Music API from the command line.

Start with `aimusic demo` (no key, no network: it runs a local emulator). Against the real API set
AIMUSIC_API_KEY (or pass --api-key). Exit codes: 0 all good, 1 a task or job failed or its outcome
is unknown, 2 bad command line or input file."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimusic",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aimusic {__version__}")
    add_global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        register = getattr(module, "add_parsers", None) or module.add_parser
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit code (argparse errors are 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: keep argparse's code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))
