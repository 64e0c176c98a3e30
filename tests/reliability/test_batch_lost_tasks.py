"""A poll error on a task the batch started never makes the batch pay for that job again.

The emulator sits behind a scripted proxy that answers some polls itself. Whatever a poll meets
(the API's own "task not found.", a gateway's HTML 404, 5xx pages, garbage, a dropped
connection, a 401), the journal keeps the task's id, and a rerun re-attaches to it by id: the
emulator's ``creates`` count stays at one per job. Only ``resubmit_unknown=True`` re-sends a job
whose task is still not found, and only on a rerun, after one more look by id.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aimusic_async import (
    AIMusicClient,
    Journal,
    PollPolicy,
    SubmissionUnknownError,
    TaskNotFoundError,
)
from aimusic_async import _constants as C
from aimusic_async.batch import Job, JobOutcome, run_batch

from ._proxy import PollFaultProxy

EmuFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
ServeApp = Callable[..., Awaitable[str]]

TINY = (0.02, 0.08)
N_JOBS = 5


def song(key: str) -> Job:
    params: dict[str, Any] = {
        "mv": "sonic-v5",
        "custom_mode": True,
        "prompt": f"[Verse]\nsong {key}",
        "title": key,  # the key in the title maps the emulator's tasks back to jobs
        "tags": "pop",
    }
    return Job(key=key, operation="sonic.create", params=params)


JOBS = [song(f"lost-{i}") for i in range(N_JOBS)]


def creates_by_key(emu: Any) -> collections.Counter[str]:
    return collections.Counter(str(t.body.get("title")) for t in emu.tasks.values())


async def collect(run: Any) -> dict[str, JobOutcome]:
    out: dict[str, JobOutcome] = {}
    async with run:
        async for outcome in run:
            assert outcome.job.key not in out, "one outcome per job"
            out[outcome.job.key] = outcome
    return out


async def journal_states(path: Path) -> dict[str, str]:
    async with Journal(path) as journal:
        return {k: e.state for k, e in (await journal.entries()).items()}


@pytest.mark.parametrize("fault", ["json-not-found", "html-404"])
async def test_not_found_on_the_first_poll_never_pays_twice(
    fault: str,
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    serve_app: ServeApp,
    tmp_path: Path,
    quick_backoff: None,
    no_blocking: Any,
) -> None:
    emu = await emulator_factory(generation_time=TINY)
    proxy = PollFaultProxy(emu.base_url, lambda _tid, nth: fault if nth == 1 else None)
    client = await client_factory(await serve_app(proxy.app()), emu.api_key)
    journal = tmp_path / "j.db"

    first = await collect(run_batch(client, JOBS, journal=journal))
    assert emu.stats.creates == N_JOBS
    assert sum(proxy.faulted.values()) == N_JOBS  # every task met the fault once
    states = await journal_states(journal)
    lost = {k for k, o in first.items() if o.status != "finished"}
    if fault == "json-not-found":
        # The API's own words: the job is reported, with its task id, and is not failed.
        assert lost == set(first)
    for key in lost:
        outcome = first[key]
        assert outcome.status == "unknown"
        assert isinstance(outcome.error, TaskNotFoundError)
        assert outcome.task_id is not None
        assert states[key] == "lost"
    assert "failed" not in states.values()

    # The rerun looks the tasks up by id (the proxy lets later polls through): no new start.
    second = await collect(run_batch(client, JOBS, journal=journal))
    assert emu.stats.creates == N_JOBS
    assert creates_by_key(emu) == collections.Counter(j.key for j in JOBS)
    assert {o.status for o in second.values()} == {"finished"}
    for key, outcome in second.items():
        assert outcome.task_id == first[key].task_id
        assert outcome.origin == ("reattached" if key in lost else "journal")

    third = await collect(run_batch(client, JOBS, journal=journal))
    assert {o.origin for o in third.values()} == {"journal"}
    assert emu.stats.creates == N_JOBS


async def test_still_not_found_is_reported_again_and_resent_only_when_asked(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    serve_app: ServeApp,
    tmp_path: Path,
) -> None:
    emu = await emulator_factory(generation_time=TINY)
    gone: set[str] = set()
    losing = True

    def fault_for(tid: str, _nth: int) -> str | None:
        # While "losing", every task the proxy sees is gone for good; later tasks are fine.
        if losing:
            gone.add(tid)
        return "json-not-found" if tid in gone else None

    proxy = PollFaultProxy(emu.base_url, fault_for)
    client = await client_factory(await serve_app(proxy.app()), emu.api_key)
    journal = tmp_path / "j.db"

    # Even with resubmit_unknown, a task lost in this run is not re-sent in the same run.
    first = await collect(run_batch(client, JOBS, journal=journal, resubmit_unknown=True))
    assert {o.status for o in first.values()} == {"unknown"}
    assert emu.stats.creates == N_JOBS

    polls = sum(proxy.polls.values())
    second = await collect(run_batch(client, JOBS, journal=journal))
    assert emu.stats.creates == N_JOBS  # not re-sent...
    assert sum(proxy.polls.values()) > polls  # ...but looked up again by id
    for key, outcome in second.items():
        assert outcome.status == "unknown"
        assert outcome.origin == "reattached"
        assert outcome.task_id == first[key].task_id
        assert isinstance(outcome.error, TaskNotFoundError)
    assert set((await journal_states(journal)).values()) == {"lost"}

    # The user's say-so: re-sent once each, after one more look by id.
    losing = False
    third = await collect(run_batch(client, JOBS, journal=journal, resubmit_unknown=True))
    assert emu.stats.creates == 2 * N_JOBS
    assert max(creates_by_key(emu).values()) == 2
    for key, outcome in third.items():
        assert outcome.status == "finished"
        assert outcome.origin == "run"
        assert outcome.task_id not in gone
        assert proxy.polls[str(first[key].task_id)] >= 3  # run 1, run 2, and the look in run 3
    fourth = await collect(run_batch(client, JOBS, journal=journal, resubmit_unknown=True))
    assert {o.origin for o in fourth.values()} == {"journal"}
    assert emu.stats.creates == 2 * N_JOBS


@pytest.mark.parametrize(
    "fault",
    [
        "html-404",
        "json-500",
        "html-502",
        "garbled-200",
        "wrong-shape-200",
        "json-401",
        "drop",
    ],
)
async def test_no_poll_error_makes_a_started_job_resendable(
    fault: str,
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    serve_app: ServeApp,
    tmp_path: Path,
    quick_backoff: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every poll of the first run fails; transient ones give up quickly (a short deadline, few
    # tolerated errors) so each job ends with that poll error, whatever it is mapped to.
    monkeypatch.setattr(C, "POLL_MAX_CONSECUTIVE_ERRORS", 2)
    emu = await emulator_factory(generation_time=TINY)
    healthy = False
    proxy = PollFaultProxy(emu.base_url, lambda _tid, _nth: None if healthy else fault)
    poll = PollPolicy(initial_interval=0.02, max_interval=0.05, multiplier=1.5, timeout=1.0)
    client = await client_factory(
        await serve_app(proxy.app()), emu.api_key, poll=poll, max_retries=1
    )
    journal = tmp_path / "j.db"
    jobs = JOBS[:3]

    first = await collect(run_batch(client, jobs, journal=journal))
    assert {o.status for o in first.values()} <= {"failed", "unknown"}
    for outcome in first.values():
        assert outcome.task_id is not None
        assert not isinstance(outcome.error, SubmissionUnknownError)
    states = await journal_states(journal)
    assert set(states.values()) <= {"started", "lost"}, states

    healthy = True
    second = await collect(run_batch(client, jobs, journal=journal))
    assert emu.stats.creates == len(jobs)
    assert {o.status for o in second.values()} == {"finished"}
    assert {o.origin for o in second.values()} == {"reattached"}
    for key, outcome in second.items():
        assert outcome.task_id == first[key].task_id


async def test_a_refused_start_is_still_rerun(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    tmp_path: Path,
) -> None:
    # The other side of the rule: a refusal before any task id existed paid for nothing, so a
    # rerun sends it again (here: credits for one job of three, then a top-up).
    emu = await emulator_factory(generation_time=TINY, initial_credits=20)
    client = await client_factory(emu.base_url, emu.api_key)
    journal = tmp_path / "j.db"
    jobs = JOBS[:3]
    first = await collect(run_batch(client, jobs, journal=journal, concurrency=1))
    refused = {k for k, o in first.items() if o.status == "failed"}
    # The refusal was about the account: the batch sent no more, the rest is still queued.
    unsent = {k for k, o in first.items() if o.status == "not_sent"}
    assert len(refused) == 1
    assert len(unsent) == 1
    assert all(first[k].task_id is None for k in refused | unsent)
    states = await journal_states(journal)
    assert {s for k, s in states.items() if k in refused} == {"failed"}
    assert {s for k, s in states.items() if k in unsent} == {"planned"}
    creates = emu.stats.creates
    emu.set_balance(None, 1000)
    second = await collect(run_batch(client, jobs, journal=journal))
    assert {o.status for o in second.values()} == {"finished"}
    assert emu.stats.creates == creates + len(refused | unsent)
    assert {second[k].origin for k in refused | unsent} == {"run"}
