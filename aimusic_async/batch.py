"""Run many jobs through the API: bounded, observable, restartable without paying twice
(``run_batch``, ``client.batch``; the manual's Batches page says how a rerun behaves)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
from pydantic import Field, JsonValue, ValidationError

from . import _clock
from ._constants import BATCH_CONCURRENCY as DEFAULT_CONCURRENCY
from ._constants import BATCH_START_WINDOW as START_WINDOW
from ._constants import WEBHOOK_GRACE_SHARE
from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BatchStoppedError,
    ClientClosedError,
    ConfigurationError,
    HubUnavailableError,
    InsufficientCreditsError,
    JournalConflictError,
    SubmissionUnknownError,
    SubscriptionInactiveError,
    TaskFailedError,
    TaskNotFoundError,
)
from ._journal import Journal, JournalEntry, JournalStore, fingerprint
from ._operations import OPERATIONS, Operation
from ._transport import before_start, redact
from .models._base import RequestModel
from .models.common import TaskResult
from .webhooks import reference_sink

if TYPE_CHECKING:
    from ._client import AIMusicClient
    from ._tasks import Task

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchProgress",
    "BatchRun",
    "Job",
    "JobOutcome",
    "OutcomeOrigin",
    "OutcomeStatus",
    "ProgressHook",
    "run_batch",
    "validate_job",
]

logger = logging.getLogger("aimusic_async.batch")

# not_sent: the batch stopped on an account error before this job's start request went out.
OutcomeStatus = Literal["finished", "failed", "unknown", "not_sent"]
# run: started in this run. reattached: started by an earlier run, awaited now by id.
# recovered: a start whose answer never came (in this run or an earlier one), matched to the task
# it created by the correlation reference its callback carried, and awaited by that task's id.
# journal: finished in an earlier run; the stored result is re-emitted without a request.
OutcomeOrigin = Literal["run", "reattached", "recovered", "journal"]


class Job(RequestModel):
    """One unit of batch work: ``operation`` (``"<family>.<method>"``) called with ``params``.

    >>> Job(key="song-1", operation="sonic.create",
    ...     params={"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "lo-fi"})
    """

    # A request model's config and errors: unknown fields refused, strict types, and a
    # ValidationError whose first line names the field without quoting params (secrets).

    key: str = Field(min_length=1, max_length=500)
    operation: str = Field(pattern=r"^[a-z_]+\.[a-z_][a-z0-9_]*$")
    params: dict[str, JsonValue] = Field(default_factory=dict)

    def __repr_args__(self) -> Any:
        # A job may carry its own webhook_secret; a logged job or outcome must not show it.
        for name, value in super().__repr_args__():
            yield name, redact(value) if name == "params" and isinstance(value, dict) else value


@dataclass
class JobOutcome:
    """What became of one job.

    ``status``: ``finished`` (``result`` holds the task's result; ``files`` the downloads),
    ``failed`` (``error`` says why; ``result`` may still be set when only a download failed),
    ``unknown``: paid work whose fate is not known, not re-sent. Either the start request may
    or may not have created a task (``task_id`` is None, ``error`` a ``SubmissionUnknownError``)
    or the server no longer finds the task it named (``task_id`` set, ``error`` a
    ``TaskNotFoundError``; a rerun looks it up again). ``not_sent``: the batch stopped starting
    jobs after an account error before this one went out (``error`` a ``BatchStoppedError``
    naming it); nothing was charged and a rerun starts it.
    """

    job: Job
    status: OutcomeStatus
    origin: OutcomeOrigin = "run"
    task_id: str | None = None
    family: str | None = None
    result: TaskResult | None = None
    error: BaseException | None = None
    files: list[Path] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest (what ``aimusic batch --json`` prints per job)."""
        clips = []
        if self.result is not None:
            clips = [
                {
                    "clip_id": c.clip_id,
                    "state": c.state,
                    "title": c.title,
                    "audio_url": c.audio_url,
                    "duration": c.duration,
                }
                for c in self.result.clips
            ]
        return {
            "key": self.job.key,
            "operation": self.job.operation,
            "status": self.status,
            "origin": self.origin,
            "task_id": self.task_id,
            "family": self.family,
            "clips": clips,
            "files": [str(p) for p in self.files],
            "error": None
            if self.error is None
            else {"type": type(self.error).__name__, "message": str(self.error)},
            "elapsed": round(self.elapsed, 3),
        }


class BatchProgress:
    """Live counters of a batch, for progress displays (read them at any time).

    ``queued`` jobs wait for a slot; ``starting`` have a start request in flight; ``running``
    wait for their result (or download it); ``finished`` / ``failed`` / ``unknown`` /
    ``not_sent`` are done (``resumed`` of the finished came straight from the journal;
    ``not_sent`` were never sent because the batch stopped on an account error). ``started``
    counts start requests the server accepted in this run; ``recovered`` the starts whose answer
    was lost (in this run or before a crash) that were matched to their task by its callback
    (a job waiting for that callback counts as ``running``).
    """

    def __init__(self, total: int = 0) -> None:
        self.total = total
        self.queued = total
        self.starting = 0
        self.running = 0
        self.started = 0
        self.finished = 0
        self.failed = 0
        self.unknown = 0
        self.not_sent = 0
        self.resumed = 0
        self.recovered = 0
        self.began = _clock.monotonic()

    @property
    def done(self) -> int:
        return self.finished + self.failed + self.unknown + self.not_sent

    @property
    def elapsed(self) -> float:
        return max(0.0, _clock.monotonic() - self.began)

    @property
    def rate(self) -> float:
        """Jobs completed per second by this run (journal re-emits and jobs not sent do not
        count)."""
        worked = self.done - self.resumed - self.not_sent
        elapsed = self.elapsed
        return worked / elapsed if elapsed > 0 and worked > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until every job is done at the current rate; None before the first result."""
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        rate = self.rate
        return remaining / rate if rate > 0 else None

    def as_dict(self) -> dict[str, Any]:
        eta = self.eta
        return {
            "total": self.total,
            "queued": self.queued,
            "starting": self.starting,
            "running": self.running,
            "started": self.started,
            "finished": self.finished,
            "failed": self.failed,
            "unknown": self.unknown,
            "not_sent": self.not_sent,
            "resumed": self.resumed,
            "recovered": self.recovered,
            "done": self.done,
            "rate": round(self.rate, 3),
            "eta": None if eta is None else round(eta, 1),
            "elapsed": round(self.elapsed, 3),
        }

    def __repr__(self) -> str:
        return f"BatchProgress({self.as_dict()})"


ProgressHook = Callable[[BatchProgress], None]


# -- validation without sending ------------------------------------------------------------------
def _operation_of(name: str) -> Operation:
    """The task-starting operation a job names; ``ConfigurationError`` for any other."""
    op = OPERATIONS.get(name)
    if op is None:
        raise ConfigurationError(
            f"unknown operation {name!r}: expected '<family>.<method>' naming a method that "
            "starts a task (for example 'sonic.create')"
        )
    if not op.starts_task:
        raise ConfigurationError(
            f"{name} does not start a task; a batch runs task-starting operations only"
        )
    return op


async def validate_job(client: AIMusicClient, job: Job) -> str:
    """Build the job's request exactly as the real call would, without sending; returns the
    family its task will belong to. Raises ``pydantic.ValidationError`` for bad parameters (an
    unknown or missing one included) or ``ConfigurationError`` (a ``ValueError``) for an
    unknown operation or one that does not start a task."""
    op = _operation_of(job.operation)
    op.build(op.bind(job.params))
    assert op.family is not None  # every task-starting operation names its family
    return op.family


# -- the run -------------------------------------------------------------------------------------
_END = object()


@dataclass
class _Work:
    job: Job
    fp: str
    entry: JournalEntry | None
    invalid: BaseException | None = None  # why the job cannot be sent (found before any send)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# Journal states of paid work whose fate is unknown: reported, re-sent only on request.
_IN_DOUBT = ("starting", "unknown", "lost")


# Refusals about the account, not the job: every further start would meet them too.
_ACCOUNT_ERRORS = (AuthenticationError, InsufficientCreditsError, SubscriptionInactiveError)


def _refused(exc: BaseException) -> bool:
    """Did this error from a start request prove the server took nothing? A 4xx refusal (429
    included) or a connection never made. (The transport already turns every ambiguous
    answer, 5xx or unreadable 2xx, into ``SubmissionUnknownError``.)"""
    if isinstance(exc, APIError):
        return exc.status < 500
    return isinstance(exc, APIConnectionError)


class BatchRun(AsyncIterator[JobOutcome]):
    """The running batch: an async iterator of outcomes with live ``progress``.

    Breaking out of an ``async for`` over it, or cancelling the task that iterates it, stops the
    batch; ``await run.aclose()`` (or ``async with run_batch(...) as run``) does so at once and
    waits until everything stopped.

    The first start request of a run goes out alone. A start refused for the account
    (``AuthenticationError``, ``InsufficientCreditsError``, ``SubscriptionInactiveError``) stops
    the batch from sending more: ``stop_reason`` is that error, the jobs not yet sent come out
    as ``not_sent`` (their journal state untouched, so a rerun starts them), and the jobs
    already started are still awaited to their result.
    """

    def __init__(
        self,
        client: AIMusicClient,
        jobs: Iterable[Job | Mapping[str, Any]],
        *,
        concurrency: int,
        journal: str | os.PathLike[str] | Journal | None,
        download_dir: str | os.PathLike[str] | None,
        resubmit_unknown: bool,
        progress: ProgressHook | None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be >= 1")
        self._jobs = [j if isinstance(j, Job) else Job.model_validate(j) for j in jobs]
        seen: set[str] = set()
        for job in self._jobs:
            if job.key in seen:
                raise ConfigurationError(
                    f"duplicate job key {job.key!r}: keys must be unique in a batch"
                )
            seen.add(job.key)
        self._client = client
        self._concurrency = concurrency
        self._start_window: anyio.CapacityLimiter | None = None
        self._journal_arg = journal
        self._download_dir = None if download_dir is None else Path(download_dir)
        self._resubmit_unknown = resubmit_unknown
        self._hook = progress
        self.progress = BatchProgress(len(self._jobs))
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        # The run sees only the store's interface (a journal kept elsewhere plugs in there).
        self._journal: JournalStore | None = None
        self._closed = False
        self._stop: BaseException | None = None
        # Until the first start request has been answered, starts go one at a time: with a
        # wrong key or an empty balance, one refusal is all the batch sends.
        self._first_start = asyncio.Lock()
        self._first_answered = False
        # The longest any task of an operation took from its start to its result in this run
        # (seconds): how long a start whose answer was lost waits for its callback.
        self._longest: dict[str, float] = {}

    @property
    def stop_reason(self) -> BaseException | None:
        """The account error after which this run stopped starting jobs; None while it has not
        stopped (a batch whose jobs fail one by one is not stopped)."""
        return self._stop

    # -- iterator protocol -------------------------------------------------------------------
    def __aiter__(self) -> AsyncGenerator[JobOutcome, None]:
        # An async generator, not ``self``: the running batch holds a reference to this object,
        # so dropping it after ``break`` would never stop it (jobs kept starting, paid). The
        # loop finalizes a dropped generator, and its ``finally`` closes the batch.
        return self._outcomes()

    async def _outcomes(self) -> AsyncGenerator[JobOutcome, None]:
        try:
            while True:
                try:
                    outcome = await self.__anext__()
                except StopAsyncIteration:
                    return
                yield outcome
        finally:
            # Synchronous: after a ``break`` this runs in the loop's finalizer task, which must
            # not outlive an ``async with`` around the loop. The runner cleans up as it stops.
            self._closed = True
            if self._runner is not None and not self._runner.done():
                self._runner.cancel()

    async def __anext__(self) -> JobOutcome:
        if self._closed:
            raise StopAsyncIteration
        if self._runner is None:
            self.progress.began = _clock.monotonic()
            self._runner = asyncio.ensure_future(self._run())
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            # The consumer is being cancelled (Ctrl-C, a request handler torn down): the runner
            # holds a reference to this object, so nothing else would ever stop it, and it would
            # go on starting paid jobs in the background. Stop it, clean up, re-raise.
            await self.aclose()
            raise
        if item is _END:
            self._queue.put_nowait(_END)  # later calls end too
            if not self._runner.cancelled():
                await self._runner  # raises what stopped the batch, if anything did
            raise StopAsyncIteration
        outcome: JobOutcome = item
        return outcome

    async def aclose(self) -> None:
        """Cancel whatever is still running and wait until it has stopped."""
        self._closed = True
        runner = self._runner
        if runner is None:
            return
        runner.cancel()
        interrupted = False
        while not runner.done():
            try:
                await asyncio.wait([runner])
            except asyncio.CancelledError:
                # Our caller is being cancelled too: still wait for the clean-up to finish
                # (tasks stopped, journal closed), then let the cancellation through.
                interrupted = True
        if not runner.cancelled():
            runner.exception()  # retrieved: a failure surfaces via __anext__, not the loop log
        if interrupted:
            raise asyncio.CancelledError

    async def __aenter__(self) -> BatchRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        runner = getattr(self, "_runner", None)  # None when __init__ raised
        if runner is not None and not runner.done():
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                runner.cancel()

    # -- the runner --------------------------------------------------------------------------
    def _changed(self) -> None:
        if self._hook is not None:
            try:
                self._hook(self.progress)
            except Exception:  # a broken display must not break the batch
                logger.exception("batch progress hook failed")

    def _emit(self, outcome: JobOutcome) -> None:
        p = self.progress
        if outcome.status == "finished":
            p.finished += 1
            if outcome.origin == "journal":
                p.resumed += 1
        elif outcome.status == "failed":
            p.failed += 1
        elif outcome.status == "not_sent":
            p.not_sent += 1
        else:
            p.unknown += 1
        self._queue.put_nowait(outcome)
        self._changed()

    async def _run(self) -> None:
        try:
            async with self._journal_held():
                if self._download_dir is not None:
                    await anyio.to_thread.run_sync(
                        functools.partial(self._download_dir.mkdir, parents=True, exist_ok=True)
                    )
                work = await self._plan()
                limiter = anyio.CapacityLimiter(self._concurrency)
                self._start_window = anyio.CapacityLimiter(START_WINDOW)
                async with anyio.create_task_group() as tg:
                    for item in work:
                        # Holding a slot before spawning keeps live tasks at `concurrency`, so
                        # a batch of 100,000 jobs costs memory for its in-flight jobs only.
                        token = object()
                        await limiter.acquire_on_behalf_of(token)
                        tg.start_soon(self._job, item, limiter, token)
        finally:
            self._queue.put_nowait(_END)

    @contextlib.asynccontextmanager
    async def _journal_held(self) -> AsyncIterator[None]:
        """The journal, open and held by this run alone until every job is done.

        The claim comes first, before the file is even opened: a second run on the same
        ``Journal`` object would otherwise plan the same jobs and start each one again. Another
        handle or process is kept out by the file's exclusive lock (taken by ``open``)."""
        arg = self._journal_arg
        if arg is None:
            yield
            return
        journal: JournalStore = arg if isinstance(arg, Journal) else Journal(arg)
        try:
            async with journal.claim():
                await journal.open()
                self._journal = journal
                yield
        finally:
            if journal is not arg:  # ours alone: close it (the caller closes theirs)
                with anyio.CancelScope(shield=True):
                    await journal.aclose()

    async def _plan(self) -> list[_Work]:
        work = [_Work(job, fingerprint(job.operation, job.params), None) for job in self._jobs]
        if self._journal is not None:
            existing = await self._journal.plan(
                (w.job.key, w.job.operation, w.fp, w.job.params) for w in work
            )
            for w in work:
                w.entry = existing.get(w.job.key)
                if (
                    w.entry is not None
                    and w.entry.fingerprint != w.fp
                    and w.entry.state in ("planned", "failed")
                ):
                    # Nothing usable was paid for under the old request: take the new one.
                    await self._journal.replan(w.job.key, w.job.operation, w.fp, w.job.params)
                    w.entry = None
        # Every job that will be sent is validated before the first request of the batch.
        for w in work:
            if self._needs_start(w.entry, w.fp):
                try:
                    await validate_job(self._client, w.job)
                except (ValidationError, TypeError, ValueError) as exc:
                    w.invalid = exc
        return work

    def _needs_start(self, entry: JournalEntry | None, fp: str) -> bool:
        if entry is None or entry.state in ("planned", "failed"):
            return True
        if entry.fingerprint != fp:
            return False  # a conflict, reported as such
        return entry.state in _IN_DOUBT and self._resubmit_unknown

    async def _job(self, work: _Work, limiter: anyio.CapacityLimiter, token: object) -> None:
        began = _clock.monotonic()
        p = self.progress
        p.queued -= 1
        try:
            outcome = await self._job_outcome(work)
        except Exception as exc:  # a bug or a broken journal: still one outcome per job
            logger.exception("batch job %r failed unexpectedly", work.job.key)
            outcome = JobOutcome(work.job, "failed", error=exc)
        finally:
            limiter.release_on_behalf_of(token)
        outcome.elapsed = _clock.monotonic() - began
        self._emit(outcome)

    async def _job_outcome(self, work: _Work) -> JobOutcome:
        job, entry, journal = work.job, work.entry, self._journal
        if entry is not None and entry.fingerprint != work.fp:
            return JobOutcome(
                job,
                "failed",
                task_id=entry.task_id,
                family=entry.family,
                error=JournalConflictError(job.key, entry.state),
            )
        if entry is not None and entry.state == "finished" and entry.result is not None:
            result = TaskResult.model_validate(entry.result)
            outcome = JobOutcome(
                job,
                "finished",
                origin="journal",
                task_id=entry.task_id,
                family=entry.family,
                result=result,
                files=[Path(f) for f in entry.files],
            )
            return await self._ensure_files(outcome, entry)
        if entry is not None and entry.state in ("started", "lost") and entry.task_id:
            handle = self._client.task(entry.task_id, entry.family or "sonic")
            outcome = await self._await(work, handle, origin="reattached")
            # A job already lost before this run, and still not found: the user's say-so
            # (resubmit_unknown) sends it again. Anything else is this job's outcome.
            still_lost = isinstance(outcome.error, TaskNotFoundError)
            if not (entry.state == "lost" and still_lost and self._resubmit_unknown):
                return outcome
        elif entry is not None and entry.state in _IN_DOUBT:
            reason = entry.error or "the process stopped while its start request was in flight"
            error = self._unknown(job, reason, entry.reference)
            if entry.reference is not None:
                # The start asked for a webhook: its callback, received by whichever process
                # shares the hub, names the task it created. Never a blind re-send.
                found = await self._recover(work, error, entry.sent_at, in_run=False)
                if found is not None:
                    return found
            if not self._resubmit_unknown:
                return JobOutcome(job, "unknown", error=error)

        # A new start; a job that failed validation in _plan sends nothing.
        if work.invalid is not None:
            if journal is not None and (entry is None or entry.state in ("planned", "failed")):
                # Nothing was ever sent for it. (A job in doubt keeps its state: what an
                # earlier attempt may have paid for is still unknown.)
                await journal.mark_failed(job.key, _describe(work.invalid))
            return JobOutcome(job, "failed", error=work.invalid)

        if self._stop is not None:
            return JobOutcome(job, "not_sent", error=BatchStoppedError(self._stop))
        p = self.progress
        p.starting += 1
        self._changed()

        sent = False
        sent_at: float | None = None
        # Receives the correlation reference the start makes (if it asks for a webhook), so
        # the journal holds it before the request leaves.
        references: list[str] = []

        async def mark_starting() -> None:
            # Committed after the rate limiter's wait and before a byte is sent (see
            # _transport.before_start): only a request that may have gone out is "starting".
            nonlocal sent, sent_at
            if self._client.is_closed:
                # Checked here, right before the send: a batch iterated on a closed client
                # fails its jobs as never sent, instead of leaving them in doubt.
                raise ClientClosedError("the client is closed; the start request was not sent")
            if self._stop is not None:
                # The batch stopped while this job waited for its turn: send nothing.
                raise BatchStoppedError(self._stop)
            if journal is not None:
                await journal.mark_starting(job.key, references[-1] if references else None)
            sent, sent_at = True, _clock.time()

        try:
            op = _operation_of(job.operation)
            # The client's own method: the very call a user would make.
            method = getattr(getattr(self._client, op.namespace), op.method)
            # At most START_WINDOW start requests are in flight: what a crash can leave unknown.
            assert self._start_window is not None  # set by the runner before any job
            async with self._start_window:
                hook = before_start.set(mark_starting)
                sink = reference_sink.set(references)
                try:
                    task: Task = await self._send_start(method, job.params)
                finally:
                    reference_sink.reset(sink)
                    before_start.reset(hook)
        except BatchStoppedError as exc:
            # Raised by mark_starting before anything was sent or journaled: still queued.
            return JobOutcome(job, "not_sent", error=exc)
        except Exception as exc:
            unknown: SubmissionUnknownError | None = None
            if isinstance(exc, SubmissionUnknownError):
                unknown = exc
            elif sent and not _refused(exc):
                # The request may have left and nothing proves the server refused it: as
                # unknown as a lost answer, so it is never re-sent unasked.
                unknown = SubmissionUnknownError(
                    _describe(exc), operation=job.operation, path="", payload=redact(job.params)
                )
                unknown.__cause__ = exc
            if unknown is None:
                # Refused, or never sent: nothing was paid for, a rerun may send it.
                if journal is not None:
                    await journal.mark_failed(job.key, _describe(exc))
                return JobOutcome(job, "failed", error=exc)
            if unknown.reference is None and references:
                unknown.reference = references[-1]
            if journal is not None:
                # Kept with the reference committed at "starting": a crash during the wait
                # below leaves the rerun the same way to the task.
                await journal.mark_unknown(job.key, unknown.reason)
        else:
            unknown = None
        finally:
            p.starting -= 1
        if unknown is not None:
            if unknown.reference is not None:
                found = await self._recover(work, unknown, sent_at, in_run=True)
                if found is not None:
                    return found
            return JobOutcome(job, "unknown", error=unknown)
        p.started += 1
        if journal is not None:
            await journal.mark_started(job.key, task.id, task.family)
        return await self._await(work, task, origin="run", sent_at=sent_at)

    @staticmethod
    def _unknown(job: Job, reason: str, reference: str | None) -> SubmissionUnknownError:
        # redact: the job's own webhook_secret must not ride along in the error.
        return SubmissionUnknownError(
            reason,
            operation=job.operation,
            path="",
            payload=redact(job.params),
            reference=reference,
        )

    async def _recover(
        self, work: _Work, error: SubmissionUnknownError, sent_at: float | None, *, in_run: bool
    ) -> JobOutcome | None:
        """Wait a bounded time for the callback of a start whose answer was lost; with it, the
        job continues as started (journal ``started``, outcome origin ``recovered``). None when
        no callback came, or the hub could not be asked: the job stays unknown.

        A start that created a task is matched when that task calls back, which it does when it
        finishes. So the wait ends where a started task would stop trusting its callback and
        poll (``_callback_due``), counted from when the start was sent: a rerun long after a
        crash only looks. With neither a shared hub nor a receiver of this client's own, no
        callback can arrive: it only looks."""
        client, job, p = self._client, work.job, self.progress
        sent = _clock.time() if sent_at is None else sent_at
        can_arrive = client.hub.shared or client.webhooks.enabled
        p.running += 1
        self._changed()
        try:
            while True:
                left = self._callback_due(job.operation, sent) - _clock.time()
                try:
                    task = await client.recover(error, timeout=max(0.0, left) if can_arrive else 0)
                except HubUnavailableError as exc:
                    logger.warning(
                        "batch job %r: could not look up its lost start (%s); reported unknown",
                        job.key,
                        exc,
                    )
                    return None
                # Tasks of this batch that finished meanwhile may have moved the end further.
                if task is not None or not can_arrive:
                    break
                if self._callback_due(job.operation, sent) <= _clock.time():
                    break
        finally:
            p.running -= 1
        if task is None:
            return None
        p.recovered += 1
        if in_run:
            p.started += 1  # a start of this run that the server accepted, as the others
        if self._journal is not None:
            await self._journal.mark_started(job.key, task.id, task.family)
        return await self._await(work, task, origin="recovered", sent_at=sent)

    def _callback_due(self, operation: str, sent_at: float) -> float:
        """When a lost start's callback is no longer worth waiting for (wall clock): the longest
        a task of this operation (or of any, before one finished) took from its start to its
        result in this run, plus the webhook grace cut to its share of the wait, as a started
        task waits before it polls; never more than the wait (``PollPolicy.timeout``)."""
        policy, longest = self._client.poll, self._longest
        grace = min(self._client.webhooks.grace, WEBHOOK_GRACE_SHARE * policy.timeout)
        usual = longest.get(operation, max(longest.values(), default=0.0))
        return sent_at + min(policy.timeout, usual + grace)

    async def _send_start(self, method: Callable[..., Awaitable[Task]], params: Any) -> Task:
        if not self._first_answered:
            async with self._first_start:
                if not self._first_answered:
                    try:
                        return await self._send(method, params)
                    finally:
                        # Whatever came back: a refusal has already stopped the batch.
                        self._first_answered = True
        return await self._send(method, params)

    async def _send(self, method: Callable[..., Awaitable[Task]], params: Any) -> Task:
        try:
            return await method(**params)
        except _ACCOUNT_ERRORS as exc:
            # Set before anything else runs: no start waiting for its turn goes out after it.
            self._stop_starting(exc)
            raise

    def _stop_starting(self, exc: BaseException) -> None:
        if self._stop is None:
            self._stop = exc
            logger.info("batch stops starting jobs after %s", _describe(exc))

    async def _await(
        self,
        work: _Work,
        task: Task,
        *,
        origin: OutcomeOrigin,
        sent_at: float | None = None,
    ) -> JobOutcome:
        """Wait for the task's result and record it; ``sent_at`` (wall clock) is when this run
        sent its start, so that its duration bounds the wait for lost starts' callbacks."""
        job, journal, p = work.job, self._journal, self.progress
        p.running += 1
        self._changed()
        try:
            try:
                result = await task.wait()
            except TaskFailedError as exc:
                # Definite: every clip failed and the service refunds them; a rerun tries again.
                if journal is not None:
                    await journal.mark_failed(job.key, _describe(exc))
                return JobOutcome(
                    job, "failed", origin=origin, task_id=task.id, family=task.family, error=exc
                )
            except TaskNotFoundError as exc:
                # The server gave us this id, so the task was accepted and maybe charged; a
                # "not found" now (a replica lagging, a proxy, a purge) is no proof that it
                # will not finish. Keep the id; paying again is the user's call.
                if journal is not None:
                    await journal.mark_lost(job.key, _describe(exc))
                return JobOutcome(
                    job, "unknown", origin=origin, task_id=task.id, family=task.family, error=exc
                )
            except Exception as exc:
                # Timeout, outage...: the task may still finish. The journal keeps "started",
                # so a rerun re-attaches to it instead of paying again.
                return JobOutcome(
                    job, "failed", origin=origin, task_id=task.id, family=task.family, error=exc
                )
            if sent_at is not None:
                took = _clock.time() - sent_at
                if took > self._longest.get(job.operation, 0.0):
                    self._longest[job.operation] = took
            if journal is not None:
                await journal.mark_finished(job.key, result.model_dump(mode="json"))
            outcome = JobOutcome(
                job, "finished", origin=origin, task_id=task.id, family=task.family, result=result
            )
            return await self._ensure_files(outcome, None)
        finally:
            p.running -= 1

    async def _ensure_files(self, outcome: JobOutcome, entry: JournalEntry | None) -> JobOutcome:
        """Download every succeeded clip into ``download_dir`` (again, if files went missing)."""
        folder = self._download_dir
        if folder is None or outcome.result is None:
            return outcome
        if entry is not None and entry.files:
            present = await anyio.to_thread.run_sync(
                lambda: all(os.path.isfile(f) for f in entry.files)
            )
            if present:
                return outcome
        files: list[Path] = []
        try:
            for clip in outcome.result.succeeded:
                if clip.audio_url:
                    # overwrite: the name holds the clip id, so an existing file is this clip.
                    files.append(
                        await self._client.download(clip, str(folder) + os.sep, overwrite=True)
                    )
        except Exception as exc:
            outcome.status, outcome.error = "failed", exc
            return outcome
        outcome.files = files
        if self._journal is not None:
            await self._journal.set_files(outcome.job.key, [str(f) for f in files])
        return outcome


def run_batch(
    client: AIMusicClient,
    jobs: Iterable[Job | Mapping[str, Any]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    journal: str | os.PathLike[str] | Journal | None = None,
    download_dir: str | os.PathLike[str] | None = None,
    resubmit_unknown: bool = False,
    progress: ProgressHook | None = None,
) -> BatchRun:
    """Run ``jobs`` with at most ``concurrency`` in flight; iterate the result for outcomes.

    >>> async with run_batch(client, jobs, concurrency=32, journal="batch.db") as run:
    ...     async for outcome in run:
    ...         print(outcome.job.key, outcome.status, run.progress.done)

    ``progress`` is called (synchronously, on the loop) after every change of ``run.progress``.
    Raises ``ConfigurationError`` (a ``ValueError``) at once for duplicate keys or a bad
    ``concurrency``; everything else is a per-job outcome, except a journal that cannot be used
    (``JournalError``, raised by the iteration before any job is planned or sent).

    One journal serves one run at a time, whatever the handle: while this run holds it, another
    run on the same ``Journal`` object, on another ``Journal`` of the same file, or in another
    process waits up to ``JOURNAL_BUSY_TIMEOUT`` (2 s) and then fails with
    ``JournalInUseError``, having planned and sent nothing. A ``Journal`` object passed in is
    opened if needed and left open; a path is opened and closed by the run.
    """
    return BatchRun(
        client,
        jobs,
        concurrency=concurrency,
        journal=journal,
        download_dir=download_dir,
        resubmit_unknown=resubmit_unknown,
        progress=progress,
    )
