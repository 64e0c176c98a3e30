"""The ``aimusic`` argument parser: global flags plus one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import NoReturn

from .._constants import API_KEY_ENV
from .._version import __version__
from ._options import EXIT_INTERRUPTED, EXIT_USAGE, add_global_options

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


# An option whose name says it carries a credential: its value is never echoed in an error.
_SECRET_OPTION = re.compile(r"key|secret|token|passw|auth", re.IGNORECASE)


class _UsageExit(Exception):
    """A usage error, raised to ``main`` instead of printed (see ``_Parser``)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse that raises its usage errors instead of printing them.

    argparse echoes what it did not understand ("unrecognized arguments: --api-keyy=sk-...",
    "invalid choice: 'sk-...'"), so a mistyped ``--api-key`` would print the key; ``main``
    removes such values before printing. Subparsers are of this class too (argparse's default).
    """

    def error(self, message: str) -> NoReturn:
        raise _UsageExit(self, message)


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and its subcommands."""
    names: set[str] = set()
    for action in parser._actions:
        names.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= _option_strings(sub)
    return names


def _hidden_values(argv: Sequence[str], known: set[str]) -> set[str]:
    """Command-line values that must not be echoed: the value of a credential option or of an
    option the parser does not know (a misspelt ``--api-key``), and the key in the environment.
    """
    hidden = {os.environ.get(API_KEY_ENV, "")}
    for i, token in enumerate(argv):
        if not token.startswith("-") or token in ("-", "--"):
            continue
        name, eq, value = token.partition("=")
        secret = bool(_SECRET_OPTION.search(name))
        if not secret and name in known:
            continue
        if eq:
            hidden.add(value)
        elif i + 1 < len(argv) and (secret or not argv[i + 1].startswith("-")):
            hidden.add(argv[i + 1])
    hidden.discard("")
    return hidden


def _scrub(message: str, values: Iterable[str]) -> str:
    # Whole words only (bounded by space, quotes or "="): a short value like "a" must not eat
    # letters out of "arguments".
    for value in sorted(values, key=len, reverse=True):
        for form in (value, repr(value)[1:-1]):
            message = re.sub(rf"(?<![^\s'\"=]){re.escape(form)}(?![^\s'\"])", "***", message)
    return message


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    """Run the command; the exit code (argparse errors are 2, Ctrl-C is 130)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Before a subcommand runs (building the parser, importing it): nothing started yet.
        # A subcommand's own Ctrl-C is reported by it (with how to resume).
        sys.stderr.write("interrupted\n")
        if "--json" in argv:
            _json_error("KeyboardInterrupt", "interrupted", EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED


def _json_error(kind: str, message: str, code: int) -> None:
    doc = {"ok": False, "exit_code": code, "error": {"type": kind, "message": message}}
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageExit as exc:
        exc.parser.print_usage(sys.stderr)
        message = _scrub(exc.message, _hidden_values(argv, _option_strings(parser)))
        sys.stderr.write(f"{exc.parser.prog}: error: {message}\n")
        if "--json" in argv:
            _json_error("UsageError", f"{exc.parser.prog}: {message}", EXIT_USAGE)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version, usage errors: keep argparse's code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))
