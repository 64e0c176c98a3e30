"""``aimusic batch FILE``: run a JSON Lines file of jobs with live progress, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._console import UI
from ._jobsfile import read_jobs
from ._operations import bind_operation
from ._options import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_global_options,
    add_wait_options,
    describe_error,
    make_client,
    run,
)
from ._progress import ProgressDisplay, fmt_duration
from ._render import WIDE_TABLE

if TYPE_CHECKING:
    from .._client import AIMusicClient
    from ..batch import Job, JobOutcome

__all__ = ["add_parser", "outcome_row", "run_jobs"]

# Up to this many jobs the final table lists every job; beyond it only the ones that went wrong.
FULL_TABLE_MAX = 50

EPILOG = """batch file (JSON Lines, one job per line):
  {"key": "intro", "operation": "sonic.create", "params": {"mv": "sonic-v5",
   "custom_mode": false, "gpt_description_prompt": "a calm piano intro"}}
  {"key": "beat", "operation": "producer.create", "params": {"sound": "lo-fi beat"}}

Every line is checked before anything is sent (exit 2 with file:line: field: message).
With --journal FILE a batch that was stopped or killed resumes when run again with the same
file and journal: finished jobs are not redone, started tasks are picked up by id (also those
the server once said it could not find), and jobs whose start had no answer are reported as
unknown, not re-sent (unless --resubmit-unknown). A journal serves one batch at a time.
A wrong key, an empty balance or an inactive subscription stops the batch from starting more
jobs (the first start goes alone); jobs not sent are listed as "not sent" and a rerun with the
same journal starts them.
"""


def add_parser(subparsers: Any) -> None:
    """Register ``aimusic batch``."""
    parser = subparsers.add_parser(
        "batch",
        help="run a JSON Lines file of jobs (resumable with --journal)",
        description="Run many jobs with bounded concurrency, live progress and an optional "
        "journal that makes the batch resumable. Exit 1 if any job failed or is unknown.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the jobs, one JSON object per line")
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="SQLite journal: rerun with the same one to resume without paying twice",
    )
    parser.add_argument(
        "-o", "--out", metavar="DIR", help="download every finished clip into this folder"
    )
    parser.add_argument(
        "-c",
        "--concurrency",
        type=_positive_int,
        default=None,
        metavar="N",
        help="jobs in flight at once (default: 16)",
    )
    parser.add_argument(
        "--resubmit-unknown",
        action="store_true",
        help="re-send jobs whose start had no answer, or whose task is still not found "
        "(may pay twice if the first one worked)",
    )
    add_wait_options(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run(args, _batch))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


async def load_jobs(client: AIMusicClient, path: Path) -> list[Job]:
    """Read and check every job (structure, operation, parameters) without sending anything."""
    import anyio.to_thread

    from ..batch import Job

    parsed = await anyio.to_thread.run_sync(read_jobs, path, Job.model_validate)
    # Build each request model the way the batch will (a dry run): bad parameters are an input
    # error now, with the line number, rather than a failed job later.
    for lineno, job in parsed:
        where = f"{path.name}:{lineno}"
        try:
            bind_operation(client, job.operation, job.params)
            await _dry_run(client, job)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        except Exception as exc:
            raise UsageError(f"{where}: {_explain(exc, job)}") from None
    return [job for _, job in parsed]


async def _dry_run(client: AIMusicClient, job: Job) -> None:
    from ..batch import validate_job

    # The batch runner's own check: it builds the request exactly as the run will, without
    # sending it.
    await validate_job(client, job)


def _explain(exc: Exception, job: Job) -> str:
    import pydantic

    from ._options import format_validation_error

    if isinstance(exc, pydantic.ValidationError):
        return format_validation_error(exc, prefix="params", known=list(job.params))
    return str(exc)


def outcome_row(
    outcome: JobOutcome, *, wide: bool = True, stop: BaseException | None = None
) -> list[Any]:
    """key, operation, status, task, clips, files (paths, or a count when not ``wide``) or
    the error, seconds. An error of the same kind as ``stop`` (the account error that stopped
    the batch, printed once already) is named, not repeated."""
    clips = len(outcome.result.clips) if outcome.result is not None else 0
    if stop is not None and type(outcome.error) is type(stop):
        detail = f"{type(stop).__name__} (the batch stopped: see above)"
    elif outcome.error is not None:
        # describe_error: one line, and an error with no message (TimeoutError()) is fine too.
        detail = describe_error(outcome.error)[:200]
    elif wide:
        detail = ", ".join(str(f) for f in outcome.files)
    else:
        detail = f"{len(outcome.files)} files" if outcome.files else ""
    status = outcome.status + (" (journal)" if outcome.origin == "journal" else "")
    return [
        outcome.job.key,
        outcome.job.operation,
        status,
        outcome.task_id or "",
        clips or "",
        detail,
        f"{outcome.elapsed:.1f}s",
    ]


OUTCOME_COLUMNS = ["key", "operation", "status", "task_id", "clips", "files / error", "time"]


async def run_jobs(
    client: AIMusicClient,
    jobs: list[Job],
    ui: UI,
    *,
    concurrency: int | None,
    journal: str | None = None,
    out: str | None = None,
    resubmit_unknown: bool = False,
    stream_json: bool = True,
) -> list[JobOutcome]:
    """Run the batch through ``client.batch`` with a progress display; all outcomes.

    In JSON mode (and ``stream_json``) each outcome is printed as one JSON line when it lands.
    When the batch stops on an account error, the reason is printed once, not once per job.
    """
    from ..batch import DEFAULT_CONCURRENCY

    outcomes: list[JobOutcome] = []
    batch_run = client.batch(
        jobs,
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        journal=journal,
        download_dir=out,
        resubmit_unknown=resubmit_unknown,
    )
    stop_told = False
    try:
        async with ProgressDisplay(ui, batch_run.progress) as display:
            async for outcome in batch_run:
                outcomes.append(outcome)
                if ui.json_mode and stream_json:
                    ui.emit_json(outcome.summary())
                    continue
                stop = batch_run.stop_reason
                if stop is not None and not stop_told:
                    stop_told = True
                    display.note(stop_note(stop, journal=journal))
                if outcome.status != "finished" and not _told_by_stop(outcome, stop):
                    display.note(f"{outcome.status}: {outcome.job.key}: {outcome_row(outcome)[5]}")
    finally:
        await batch_run.aclose()
    return outcomes


def stop_note(stop: BaseException, *, journal: str | None) -> str:
    """The one line that says why the batch stopped starting jobs, and what to do."""
    rerun = (
        "Jobs not sent stay queued in the journal: rerun the same command to start them."
        if journal
        else "Jobs not sent can be run again (with --journal a rerun skips finished jobs)."
    )
    reason = describe_error(stop)[:300]
    end = "" if reason.endswith((".", "!", "?")) else "."
    return f"stopped starting jobs after {reason}{end} {rerun}"


def _told_by_stop(outcome: JobOutcome, stop: BaseException | None) -> bool:
    # A job not sent, or refused for the same account reason, says nothing the stop line did not.
    if stop is None:
        return False
    return outcome.status == "not_sent" or type(outcome.error) is type(stop)


def show_outcomes(ui: UI, outcomes: list[JobOutcome], *, elapsed: float) -> None:
    """The final table (all jobs, or only the bad ones for a big batch) and the totals.

    Jobs not sent are one line under the table, not a row each: they all have the same reason,
    printed once while the batch ran."""
    from .. import BatchStoppedError

    counts = {
        s: sum(1 for o in outcomes if o.status == s)
        for s in ("finished", "failed", "unknown", "not_sent")
    }
    sent = [o for o in outcomes if o.status != "not_sent"]
    stop = next(
        (o.error.stopped_by for o in outcomes if isinstance(o.error, BatchStoppedError)), None
    )
    shown = sent if len(outcomes) <= FULL_TABLE_MAX else [o for o in sent if not o.ok]
    order = {o.job.key: n for n, o in enumerate(outcomes)}
    shown = sorted(shown, key=lambda o: (o.ok, order[o.job.key]))
    if shown:
        wide = ui.width() >= WIDE_TABLE
        ui.table(OUTCOME_COLUMNS, [outcome_row(o, wide=wide, stop=stop) for o in shown])
    resumed = sum(1 for o in outcomes if o.origin == "journal")
    files = sum(len(o.files) for o in outcomes)
    ui.say(
        f"{len(outcomes)} jobs: {counts['finished']} finished"
        + (f" ({resumed} from the journal)" if resumed else "")
        + f", {counts['failed']} failed, {counts['unknown']} unknown"
        + (f", {counts['not_sent']} not sent" if counts["not_sent"] else "")
        + f"; {files} files; {fmt_duration(elapsed)}"
    )
    if counts["not_sent"]:
        ui.say(
            f"{counts['not_sent']} jobs were not sent: the batch stopped starting jobs (the "
            "reason is above). Nothing was charged for them; fix the account, then rerun."
        )
    if counts["unknown"]:
        ui.say(
            "unknown jobs may or may not have started a task, or their task (with a task_id) "
            "was not found by the server; they were not re-sent. A rerun looks up those with a "
            "task_id again. Check your account, then rerun with --resubmit-unknown if they "
            "did not start."
        )


def _check_out_dir(text: str) -> None:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text}: not a directory")


async def _batch(args: argparse.Namespace, ui: UI) -> int:
    from .. import _clock

    path = Path(args.file)
    if args.out:
        _check_out_dir(args.out)
    async with make_client(args) as client:
        jobs = await load_jobs(client, path)
        began = _clock.monotonic()
        outcomes = await run_jobs(
            client,
            jobs,
            ui,
            concurrency=args.concurrency,
            journal=args.journal,
            out=args.out,
            resubmit_unknown=args.resubmit_unknown,
        )
    if not ui.json_mode:
        show_outcomes(ui, outcomes, elapsed=_clock.monotonic() - began)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
