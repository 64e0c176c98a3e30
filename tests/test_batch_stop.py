"""A batch stops starting jobs after an account error (401, no credits, inactive subscription):
one reason, nothing charged, the unsent jobs left queued for the rerun."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    AuthenticationError,
    BatchStoppedError,
    ContentRejectedError,
    InsufficientCreditsError,
    Journal,
    SubscriptionInactiveError,
)
from aimusic_async.batch import BatchRun, Job, JobOutcome

EmulatorFactory = Callable[..., Awaitable[Any]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
GOOD_KEY = "sk-good-3f9a0c7d21b84e56"
WRONG_KEY = "sk-wrong-0000000000000000"
# What one sonic.create costs on the emulator (its price list).
CREATE_PRICE = 15


def song(key: str) -> Job:
    params: dict[str, Any] = {
        "mv": "sonic-v5",
        "custom_mode": False,
        "gpt_description_prompt": f"song {key}",
    }
    return Job(key=key, operation="sonic.create", params=params)


async def collect(run: BatchRun) -> dict[str, JobOutcome]:
    out: dict[str, JobOutcome] = {}
    async with run:
        async for outcome in run:
            assert outcome.job.key not in out, "one outcome per job"
            out[outcome.job.key] = outcome
    return out


def statuses(outcomes: dict[str, JobOutcome]) -> collections.Counter[str]:
    return collections.Counter(o.status for o in outcomes.values())


async def test_a_wrong_key_sends_one_start_and_leaves_the_rest_queued(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    emu = await emulator_factory(api_keys=(GOOD_KEY,))
    wrong = await client_factory(emu.base_url, WRONG_KEY)
    jobs = [song(f"s{i:02d}") for i in range(20)]
    journal = tmp_path / "j.db"

    run = wrong.batch(jobs, concurrency=8, journal=journal)
    outcomes = await collect(run)

    assert len(outcomes) == 20
    assert emu.stats.requests == 1  # one start went out alone, and was refused
    assert emu.stats.creates == 0
    assert statuses(outcomes) == {"failed": 1, "not_sent": 19}
    refused = next(o for o in outcomes.values() if o.status == "failed")
    assert isinstance(refused.error, AuthenticationError)
    assert run.stop_reason is refused.error
    for o in outcomes.values():
        if o.status == "not_sent":
            assert isinstance(o.error, BatchStoppedError)
            assert o.error.stopped_by is refused.error
            assert str(o.error).startswith("not sent: the batch stopped after AuthenticationError")
            assert o.task_id is None
            assert not o.ok
    assert run.progress.not_sent == 19
    assert run.progress.done == 20
    assert run.progress.started == 0

    # The journal: the refused job is a definite failure, the others were never touched.
    async with Journal(journal) as j:
        states = collections.Counter(e.state for e in (await j.entries()).values())
    assert states == {"failed": 1, "planned": 19}

    # The rerun with the right key starts exactly those 20 jobs, once each.
    good = await client_factory(emu.base_url, GOOD_KEY)
    again = await collect(good.batch(jobs, concurrency=8, journal=journal))
    assert statuses(again) == {"finished": 20}
    assert {o.origin for o in again.values()} == {"run"}
    assert emu.stats.creates == 20


async def test_running_out_of_credits_stops_new_starts_and_awaits_the_started(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory, tmp_path: Path
) -> None:
    # Enough for three songs, not four.
    emu = await emulator_factory(
        api_keys=(GOOD_KEY,), initial_credits=3 * CREATE_PRICE + CREATE_PRICE // 2
    )
    client = await client_factory(emu.base_url, GOOD_KEY)
    jobs = [song(f"s{i:02d}") for i in range(30)]
    journal = tmp_path / "j.db"

    run = client.batch(jobs, concurrency=6, journal=journal)
    outcomes = await collect(run)

    counts = statuses(outcomes)
    assert emu.stats.creates == 3
    assert counts["finished"] == 3  # started before the refusal, awaited to their result
    # The refusals: the starts already in flight when the first one came back (a few at most).
    refused = [o for o in outcomes.values() if o.status == "failed"]
    assert 1 <= len(refused) <= 4
    assert all(isinstance(o.error, InsufficientCreditsError) for o in refused)
    assert counts["not_sent"] == 30 - 3 - len(refused)
    assert isinstance(run.stop_reason, InsufficientCreditsError)
    assert emu.stats.requests - emu.stats.polls == 3 + len(refused)  # no start after the stop
    assert emu.balance(GOOD_KEY).total == CREATE_PRICE // 2  # nothing charged for the refused

    # Topped up, the rerun starts exactly the 27 that made no song; the three come back.
    emu.set_balance(GOOD_KEY, 1_000)
    again = await collect(client.batch(jobs, concurrency=6, journal=journal))
    assert statuses(again) == {"finished": 30}
    assert collections.Counter(o.origin for o in again.values()) == {"run": 27, "journal": 3}
    assert emu.stats.creates == 30


async def _scripted_refusals(
    serve_app: Callable[[web.Application], Awaitable[str]], status: int, message: str
) -> tuple[str, list[str]]:
    """An API whose every start is refused with ``status`` and ``message``."""
    seen: list[str] = []

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body["gpt_description_prompt"])
        return web.json_response({"code": status, "message": message}, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/sonic/create", create)
    return await serve_app(app), seen


async def test_an_inactive_subscription_stops_the_batch(
    serve_app: Callable[[web.Application], Awaitable[str]], client_factory: ClientFactory
) -> None:
    url, seen = await _scripted_refusals(serve_app, 403, "Your subscription is not active.")
    client = await client_factory(url, GOOD_KEY)
    run = client.batch([song(f"s{i}") for i in range(10)], concurrency=4)
    outcomes = await collect(run)
    assert len(seen) == 1
    assert isinstance(run.stop_reason, SubscriptionInactiveError)
    assert statuses(outcomes) == {"failed": 1, "not_sent": 9}


async def test_a_refusal_about_one_job_does_not_stop_the_others(
    serve_app: Callable[[web.Application], Awaitable[str]], client_factory: ClientFactory
) -> None:
    # Moderation judges each job's own text: the next job may well pass.
    url, seen = await _scripted_refusals(
        serve_app, 403, "The song description needs moderation review."
    )
    client = await client_factory(url, GOOD_KEY)
    run = client.batch([song(f"s{i}") for i in range(10)], concurrency=4)
    outcomes = await collect(run)
    assert len(seen) == 10
    assert run.stop_reason is None
    assert statuses(outcomes) == {"failed": 10}
    assert all(isinstance(o.error, ContentRejectedError) for o in outcomes.values())
