"""Live progress for long work (started / running / done / failed / unknown, rate, ETA) from the
batch's own counters: one redrawn bar on a terminal, a plain line now and then elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any, Protocol

from .. import _clock
from .._constants import PROGRESS_RATE_MIN_ELAPSED
from ._console import UI

__all__ = ["ProgressDisplay", "ProgressSource", "fmt_duration"]

# A plain progress line at most this often: enough to see a batch move in a CI log, few enough
# lines that a 1,000-job batch does not flood it.
PLAIN_INTERVAL = 5.0
# Redraws per second of the live bar; more is wasted CPU on a busy batch.
LIVE_REFRESH = 8


class ProgressSource(Protocol):
    """What the display reads (``aimusic_async.batch.BatchProgress`` has all of it)."""

    total: int
    started: int
    running: int
    finished: int
    failed: int
    unknown: int
    # Jobs never sent: the batch stopped on an account error.
    not_sent: int
    # Finished jobs that came from the journal, not from this run's work.
    resumed: int

    @property
    def done(self) -> int: ...
    @property
    def elapsed(self) -> float: ...


def fmt_duration(seconds: float) -> str:
    whole = max(0, int(seconds + 0.5))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _two_line_progress() -> Any:
    """A rich Progress that draws the counts on a second line (fits an 80-column terminal)."""
    from rich.progress import Progress
    from rich.text import Text

    class TwoLineProgress(Progress):
        counts_line = ""

        def get_renderables(self) -> Any:
            yield self.make_tasks_table(self.tasks)
            yield Text(self.counts_line)

    return TwoLineProgress


class ProgressDisplay:
    """Shows a ProgressSource while a batch runs: ``async with ProgressDisplay(ui, src): ...``."""

    def __init__(self, ui: UI, source: ProgressSource, *, label: str = "jobs") -> None:
        self.ui = ui
        self.source = source
        self.label = label
        self._progress: Any = None
        self._bar: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_core = ""
        self._last_plain = -PLAIN_INTERVAL

    def counts(self) -> str:
        s = self.source
        counts = (
            f"started {s.started} | running {s.running} | done {s.finished} | "
            f"failed {s.failed} | unknown {s.unknown}"
        )
        return counts + (f" | not sent {s.not_sent}" if s.not_sent else "")

    def rate(self) -> float | None:
        """Jobs per second, from the jobs this run finished successfully; None until there are
        some and enough time has passed for the figure to mean anything."""
        s = self.source
        succeeded = s.finished - s.resumed
        elapsed = s.elapsed
        if succeeded < 1 or elapsed < PROGRESS_RATE_MIN_ELAPSED:
            return None
        return succeeded / elapsed

    def speed(self) -> tuple[str, str]:
        """The rate and the ETA as shown ("-" where there is no honest figure yet)."""
        rate = self.rate()
        if rate is None:
            return "-/min", "-"
        remaining = max(0, self.source.total - self.source.done)
        return f"{rate * 60:.1f}/min", fmt_duration(remaining / rate)

    def line(self) -> str:
        """One line: ``7/12 jobs | started 12 | running 5 | done 6 | failed 1 | ...``."""
        rate, eta = self.speed()
        s = self.source
        return f"{s.done}/{s.total} {self.label} | {self.counts()} | {rate} | ETA {eta}"

    def refresh(self, *, force: bool = False) -> None:
        if self.ui.json_mode:
            return
        line = self.line()
        if self._progress is not None:
            rate, eta = self.speed()
            self._progress.counts_line = self.counts()
            self._progress.update(
                self._bar,
                completed=self.source.done,
                total=max(self.source.total, 1),
                rate=rate,
                eta=eta,
            )
            return
        now = _clock.monotonic()
        # The counts without rate and ETA: print only when a job moved.
        core = line.rsplit(" | ", 2)[0]
        if force or (core != self._last_core and now - self._last_plain >= PLAIN_INTERVAL):
            self._last_core = core
            self._last_plain = now
            self.ui.say(line)

    def note(self, text: str) -> None:
        """A line printed above the live bar (or plainly), e.g. a failed job."""
        if self.ui.json_mode:
            return
        if self._progress is not None:
            self._progress.console.print(self.ui.scrub(text), markup=False, highlight=False)
        else:
            self.ui.say(text)

    async def _tick(self) -> None:
        # Real time on purpose: a display tick is not SDK behaviour that tests fake via _clock.
        interval = 1 / LIVE_REFRESH if self._progress is not None else 0.5
        while True:
            await asyncio.sleep(interval)
            self.refresh()

    async def __aenter__(self) -> ProgressDisplay:
        if self.ui.json_mode:
            return self
        if self.ui.live:
            from rich.progress import BarColumn, SpinnerColumn, TextColumn

            self._progress = _two_line_progress()(
                SpinnerColumn(),
                BarColumn(bar_width=24),
                TextColumn("{task.completed}/{task.total} " + self.label, markup=False),
                TextColumn("{task.fields[rate]}  ETA {task.fields[eta]}", markup=False),
                console=self.ui.console(),
                refresh_per_second=LIVE_REFRESH,
                transient=False,
            )
            self._progress.counts_line = self.counts()
            self._progress.start()
            rate, eta = self.speed()
            self._bar = self._progress.add_task(
                self.label, total=max(self.source.total, 1), rate=rate, eta=eta
            )
        self._ticker = asyncio.ensure_future(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._progress is not None:
            self.refresh()
            self._progress.stop()
            self._progress = None
        elif not self.ui.json_mode:
            self.refresh(force=True)
