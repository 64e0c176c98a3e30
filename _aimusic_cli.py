"""The ``aimusic`` command's launcher, installed as a top-level module.

Importing the SDK takes a few tenths of a second (aiohttp, the pydantic models). A Ctrl-C in that
time would end the command with an import traceback; this module runs first, with nothing but the
standard library loaded, and turns it into exit code 130 like a Ctrl-C at any later moment.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

# The conventional 128 + SIGINT (the command's own code for an interruption).
_INTERRUPTED = 130


def main() -> int:
    try:
        from aimusic_async.cli import main as command
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return _INTERRUPTED
    return command()


if __name__ == "__main__":
    sys.exit(main())
