"""The ``aimusic`` command. Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)`` (or ``add_parsers`` for several), which registers its parser and sets
``handler(args) -> int`` (``func`` is accepted too). See ``_app.py``.
"""

from __future__ import annotations

from ._app import SUBCOMMAND_MODULES, build_parser, main

__all__ = ["SUBCOMMAND_MODULES", "build_parser", "main"]
