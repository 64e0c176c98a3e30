"""Terminal output for the ``aimusic`` command: JSON for machines, rich tables for people (rich
is optional, imported lazily and only here; without it the output is plain text)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["RICH_HINT", "UI", "have_rich"]

RICH_HINT = (
    "hint: install the [cli] extra (pip install 'aimusic-async[cli]') for tables and live progress"
)


def have_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class UI:
    """Where and how the command speaks.

    ``json_mode``: stdout carries only JSON (one document, or JSON Lines for batch outcomes);
    human text goes nowhere. ``live`` is true when stdout is a terminal and rich is present:
    only then is anything redrawn in place.
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        # Defence in depth: whatever we print is scrubbed of these strings (the API key).
        self._secrets = [s for s in secrets if s]
        self._rich = have_rich()
        self._hinted = False
        self.is_tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._console: Any = None

    # -- plumbing --------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def live(self) -> bool:
        return self.is_tty and self._rich and not self.json_mode

    def console(self) -> Any:
        """The rich Console writing to stdout (None without rich)."""
        if not self._rich:
            if not self._hinted and not self.json_mode:
                self._hinted = True
                print(RICH_HINT, file=self.err)
            return None
        if self._console is None:
            from rich.console import Console

            # Not a terminal: no colours, no cursor tricks, a fixed width so logs stay readable.
            self._console = Console(
                file=self.out,
                highlight=False,
                soft_wrap=False,
                force_terminal=None if self.is_tty else False,
                width=None if self.is_tty else 120,
            )
        return self._console

    def width(self) -> int:
        """Columns available: the terminal's, or unbounded for a pipe (plain rows never wrap)."""
        if not self.is_tty:
            return 10_000
        console = self.console()
        if console is not None:
            return int(console.width)
        import shutil

        return shutil.get_terminal_size().columns

    # -- output ----------------------------------------------------------------------------------
    def emit_json(self, document: Any) -> None:
        """One JSON document (or one JSON Lines record) on stdout."""
        self.out.write(self.scrub(json.dumps(document, default=str, ensure_ascii=False)) + "\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """A line for people (suppressed in JSON mode)."""
        if self.json_mode:
            return
        self.out.write(self.scrub(text) + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        """A one-line error on stderr (always, JSON mode included)."""
        self.err.write(self.scrub(text) + "\n")
        self.err.flush()

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
    ) -> None:
        """A plain final table (suppressed in JSON mode)."""
        if self.json_mode:
            return
        cells = [[self.scrub("" if v is None else str(v)) for v in row] for row in rows]
        # Rich tables on a terminal; elsewhere plain aligned columns that never wrap, so logs
        # and pipes get one line per row.
        console = self.console() if self.is_tty else None
        if console is not None:
            from rich import box
            from rich.table import Table
            from rich.text import Text

            table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
            for name in columns:
                table.add_column(name, overflow="fold")
            for row in cells:
                # Text, not markup: file names like "Song [clip-id].wav" must print as they are.
                table.add_row(*(Text(v) for v in row))
            console.print(table)
            return
        widths = [len(c) for c in columns]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        if title:
            self.say(title)
        self.say("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for row in cells:
            self.say("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
