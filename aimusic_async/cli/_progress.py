"""Live progress for long work: started / running / done / failed / unknown, rate and ETA.

On a terminal with rich: one redrawn bar. Otherwise (a pipe, a log file, no rich): a plain line
now and then, never a redraw. In JSON mode: nothing (stdout is for the JSON only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .. import _clock
from ._console import UI

__all__ = ["Counts", "ProgressDisplay"]

# A plain progress line at most this often: enough to see a batch move in a CI log, few enough
# lines that a 1,000-job batch does not flood it.
PLAIN_INTERVAL = 5.0
# Redraws per second of the live bar; more is wasted CPU on a busy batch.
LIVE_REFRESH = 8


@dataclass
class Counts:
    """Where the jobs are. ``done`` and ``failed`` and ``unknown`` are final."""

    total: int = 0
    started: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.unknown + self.skipped


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressDisplay:
    """Shows a Counts object as it changes. Use as a context manager; call ``refresh()``."""

    def __init__(self, ui: UI, counts: Counts, *, label: str = "jobs") -> None:
        self.ui = ui
        self.counts = counts
        self.label = label
        self._started_at = _clock.monotonic()
        self._last_plain = 0.0
        self._last_line = ""
        self._progress: Any = None
        self._task_id: Any = None

    # -- figures ---------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return _clock.monotonic() - self._started_at

    def rate(self) -> float:
        """Finished jobs per second so far."""
        elapsed = self.elapsed()
        return self.counts.finished / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        remaining = self.counts.total - self.counts.finished
        if remaining <= 0:
            return 0.0
        return remaining / rate if rate > 0 else None

    def summary(self) -> str:
        c = self.counts
        parts = [
            f"{c.finished}/{c.total} {self.label}",
            f"started {c.started}",
            f"running {c.running}",
            f"done {c.done}",
            f"failed {c.failed}",
            f"unknown {c.unknown}",
        ]
        if c.skipped:
            parts.append(f"skipped {c.skipped}")
        parts.append(f"{self.rate() * 60:.1f}/min")
        eta = self.eta()
        parts.append(f"ETA {_fmt_duration(eta)}" if eta is not None else "ETA -")
        return " | ".join(parts)

    # -- drawing ---------------------------------------------------------------------------------
    def __enter__(self) -> ProgressDisplay:
        self._started_at = _clock.monotonic()
        if self.ui.json_mode or not self.ui.live:
            return self
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

        self._progress = Progress(
            SpinnerColumn(),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[line]}"),
            console=self.ui.console(),
            refresh_per_second=LIVE_REFRESH,
            transient=False,
        )
        self._progress.start()
        self._task_id = self._progress.add_task(
            self.label, total=max(self.counts.total, 1), line=self.summary()
        )
        return self

    def refresh(self, *, force: bool = False) -> None:
        if self.ui.json_mode:
            return
        line = self.summary()
        if self._progress is not None:
            self._progress.update(
                self._task_id,
                completed=self.counts.finished,
                total=max(self.counts.total, 1),
                line=line,
            )
            return
        now = _clock.monotonic()
        if force or now - self._last_plain >= PLAIN_INTERVAL:
            # Skip a line identical to the last one (nothing moved).
            core = line.rsplit(" | ", 2)[0]
            if force or core != self._last_line:
                self._last_line = core
                self._last_plain = now
                self.ui.say(line)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self.refresh()
            self._progress.stop()
            self._progress = None
        elif not self.ui.json_mode:
            self.refresh(force=True)
