"""The client end to end: configuration, lifecycle, starts, and many tasks against the emulator.

Start requests go through the raw ``Resource._start`` with a small local request model, so these
tests depend only on the core pieces and the emulator.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    PollPolicy,
    ResponseValidationError,
    SubmissionUnknownError,
    Task,
    TaskResult,
)
from aimusic_async import _constants as C
from aimusic_async._client import runtime_of
from aimusic_async.families import SonicFamily
from aimusic_async.models._base import RequestModel
from aimusic_async.resources._base import Resource
from aimusic_async.webhooks import reference_of

from ._scripted import Script
from .conftest import FAST_POLL

CANARY = "sk-canary-0d9e8f7a6b5c4d3e"
CREATE = "/api/v1/sonic/create"
Serve = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
EmuFactory = Callable[..., Awaitable[Any]]


class Create(RequestModel):
    """The smallest valid sonic create body (description mode)."""

    task_type: str = "create_music"
    custom_mode: bool = False
    mv: str = "sonic-v5"
    gpt_description_prompt: str
    use_suno_cdn: bool = False
    webhook_url: str | None = None


def sonic(client: AIMusicClient) -> Resource:
    client.register_family(SonicFamily())
    return Resource(runtime_of(client))


async def start(res: Resource, prompt: str) -> Task:
    return await res._start(
        CREATE, Create(gpt_description_prompt=prompt), family="sonic", operation="sonic.create"
    )


# -- configuration ----
def test_missing_key_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(C.API_KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=C.API_KEY_ENV):
        AIMusicClient()


def test_key_and_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(C.API_KEY_ENV, CANARY)
    monkeypatch.setenv(C.BASE_URL_ENV, "http://127.0.0.1:9/")
    c = AIMusicClient()
    assert c.base_url == "http://127.0.0.1:9"
    assert CANARY not in repr(c) + repr(runtime_of(c).transport) + str(vars(c))
    monkeypatch.delenv(C.BASE_URL_ENV)
    assert AIMusicClient().base_url == C.DEFAULT_BASE_URL


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": "ftp://x"}, {"max_retries": -1}, {"timeout": 0}],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))) as info:
        AIMusicClient(api_key="k", **kwargs)
    assert isinstance(info.value, ValueError)


async def test_lifecycle_closes_owned_session(serve_app: Serve) -> None:
    base = await serve_app(Script([(200, {"credits": 1})]).app())
    async with AIMusicClient(api_key="k", base_url=base) as c:
        await runtime_of(c).transport.request("GET", "/api/v1/get-credits")
        session = runtime_of(c).transport.session
    assert session.closed
    await c.aclose()  # twice is fine
    gc.collect()


async def test_user_session_is_never_closed(serve_app: Serve) -> None:
    base = await serve_app(Script([(200, {"credits": 1})]).app())
    async with aiohttp.ClientSession() as session:
        async with AIMusicClient(api_key="k", base_url=base, session=session) as c:
            await runtime_of(c).transport.request("GET", "/api/v1/get-credits")
        assert not session.closed


async def test_cancelled_inside_async_with_closes_everything(serve_app: Serve) -> None:
    script = Script([(202, None)])
    base = await serve_app(script.app())
    seen: dict[str, Any] = {}

    async def user() -> None:
        async with AIMusicClient(api_key="k", base_url=base, poll=FAST_POLL) as c:
            seen["session"] = runtime_of(c).transport.session
            c.register_family(SonicFamily())
            await c.task("abc")

    job = asyncio.ensure_future(user())
    await asyncio.sleep(0.2)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert seen["session"].closed
    count = script.count()
    await asyncio.sleep(0.1)
    assert script.count() == count
    gc.collect()  # an unclosed session would warn here, and warnings are errors


# -- Resource._start ----
async def test_start_reads_top_level_or_nested_task_id(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"task_id": "a"}), (200, {"code": 200, "data": {"task_id": "b"}})])
    c = await client_factory(await serve_app(script.app()), "k")
    res = sonic(c)
    assert (await start(res, "x")).id == "a"
    task = await start(res, "y")
    assert (task.id, task.family) == ("b", "sonic")
    assert script.seen[0].body == {
        "task_type": "create_music",
        "custom_mode": False,
        "mv": "sonic-v5",
        "gpt_description_prompt": "x",
        "use_suno_cdn": False,
    }


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"message": "success"}, "names no task_id"),
        ({"code": 500, "message": "Internal Server Error."}, "server answered 500 inside a 200"),
        ("<html>ok</html>", "not JSON"),
    ],
    ids=["no-task-id", "5xx-envelope", "not-json"],
)
async def test_start_with_an_unreadable_2xx_is_unknown_not_failed(
    serve_app: Serve, client_factory: ClientFactory, answer: Any, reason: str
) -> None:
    # The server took the request: the task may exist and be charged. A ResponseValidationError
    # here would read as a definite failure, and a batch re-runs failed jobs: paying twice.
    script = Script([(200, answer), (200, {"task_id": "second"})])
    c = await client_factory(await serve_app(script.app()), "k", webhook_secret=CANARY)
    c.webhooks.use("https://hooks.example/cb")  # a receiver mounted elsewhere
    with pytest.raises(SubmissionUnknownError) as info:
        await start(sonic(c), "x")
    assert not isinstance(info.value, ResponseValidationError)
    assert reason in info.value.reason
    assert info.value.operation == "sonic.create"
    assert info.value.payload["gpt_description_prompt"] == "x"
    assert info.value.payload["webhook_secret"] == "<redacted>"
    assert CANARY not in str(info.value)
    assert script.count() == 1


async def test_start_error_envelope_behind_200_is_mapped(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"code": 403, "message": "The remaining credits are not enough."})])
    c = await client_factory(await serve_app(script.app()), "k")
    with pytest.raises(InsufficientCreditsError):
        await start(sonic(c), "x")


async def test_start_adds_webhook_when_receiver_is_on(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"task_id": "w1"})])
    c = await client_factory(await serve_app(script.app()), "k", webhook_secret="whsec-1")
    c.webhooks.use("https://hooks.example/cb")  # a receiver mounted elsewhere
    task = await start(sonic(c), "x")
    body = script.seen[0].body
    assert body["webhook_url"].startswith("https://hooks.example/cb?aimusic_ref=")
    assert reference_of(body["webhook_url"]) is not None
    assert body["webhook_secret"] == "whsec-1"
    assert c.hub.future(task.id) is not None
    c.hub.release(task.id)


async def test_a_dropped_webhook_task_does_not_pin_its_callback(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    # A service may keep only the id (and fetch the result later with client.task(id)); the
    # hub must not hold that task's future, and later its callback's snapshot, forever.
    script = Script([(200, {"task_id": "w1"}), (200, {"task_id": "w2"})])
    c = await client_factory(await serve_app(script.app()), "k", webhook_secret="whsec-1")
    c.webhooks.use("https://hooks.example/cb")  # a receiver mounted elsewhere
    kept = await start(sonic(c), "x")
    task_id = (await start(sonic(c), "y")).id  # the handle is dropped at once
    gc.collect()
    assert c.hub.future(task_id) is None
    assert c.hub.future(kept.id) is not None  # a live handle keeps its wake-up


async def test_sync_call_parses_result(serve_app: Serve, client_factory: ClientFactory) -> None:
    from pydantic import BaseModel

    class Bpm(BaseModel):
        avg_bpm: float

    script = Script([(200, {"avg_bpm": 120.5})])
    c = await client_factory(await serve_app(script.app()), "k")
    out = await Resource(runtime_of(c))._call(
        "POST", "/api/v1/sonic/bpm", None, Bpm, operation="sonic.bpm"
    )
    assert out.avg_bpm == 120.5


# -- against the emulator ----
async def test_200_concurrent_tasks_complete(emulator: Any, client: AIMusicClient) -> None:
    res = sonic(client)
    tasks = await asyncio.gather(*(start(res, f"song {i}") for i in range(200)))
    results = await asyncio.gather(*tasks)
    assert all(isinstance(r, TaskResult) and len(r.clips) == 2 for r in results)
    assert all(c.audio_url and c.is_terminal for r in results for c in r.clips)
    assert len({t.id for t in tasks}) == 200
    assert emulator.stats.creates == 200
    polls = sum(t.polls for t in tasks) / len(tasks)
    assert polls == emulator.stats.polls / 200
    print(f"\npolls per task (200 concurrent): {polls:.2f}")
    assert polls <= 6


async def test_bad_key_is_authentication_error(
    emulator: Any, client_factory: ClientFactory
) -> None:
    c = await client_factory(emulator.base_url, "sk-not-a-key")
    with pytest.raises(AuthenticationError) as info:
        await start(sonic(c), "x")
    assert info.value.status == 401
    assert emulator.stats.creates == 0


async def test_no_credits_is_insufficient_credits(emulator: Any, client: AIMusicClient) -> None:
    emulator.set_balance(emulator.api_key, 0)
    with pytest.raises(InsufficientCreditsError) as info:
        await start(sonic(client), "x")
    assert info.value.status == 403
    assert emulator.stats.creates == 0
    assert emulator.stats.credits_charged == 0


async def test_rebuilt_handle_and_reawait(
    emulator: Any, client: AIMusicClient, client_factory: ClientFactory
) -> None:
    task = await start(sonic(client), "x")
    other = await client_factory(emulator.base_url, emulator.api_key)
    sonic(other)
    rebuilt = other.task(task.id)
    result = await rebuilt
    assert [c.clip_id for c in result.clips] == [c.clip_id for c in (await task).clips]
    polls = emulator.stats.polls
    assert await rebuilt is result
    assert emulator.stats.polls == polls


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry backoff in milliseconds: the faults are real, only the waiting is shortened."""
    monkeypatch.setattr(C, "RETRY_INITIAL_DELAY", 0.01)
    monkeypatch.setattr(C, "RETRY_MAX_DELAY", 0.05)


@pytest.mark.usefixtures("quick_backoff")
async def test_faults_never_duplicate_starts_and_polls_recover(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(
        seed=7, server_error_rate=0.1, disconnect_rate=0.1, lost_response_rate=0.1
    )
    c = await client_factory(
        emu.base_url,
        emu.api_key,
        max_retries=4,
        poll=PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=30),
    )
    res = sonic(c)
    n = 300
    outcomes: dict[str, Task | BaseException] = {}
    gate = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with gate:
            try:
                outcomes[f"job-{i}"] = await start(res, f"job-{i}")
            except SubmissionUnknownError as exc:
                outcomes[f"job-{i}"] = exc

    await asyncio.gather(*(one(i) for i in range(n)))
    started = {k: v for k, v in outcomes.items() if isinstance(v, Task)}
    unknown = {k for k, v in outcomes.items() if isinstance(v, SubmissionUnknownError)}
    assert len(started) + len(unknown) == n
    assert unknown, "the fault rates should have produced some unknown outcomes"

    per_job = Counter(rec.body["gpt_description_prompt"] for rec in emu.tasks.values())
    assert max(per_job.values()) == 1  # no job was ever created twice
    for key, task in started.items():
        assert emu.tasks[task.id].body["gpt_description_prompt"] == key
    created_unknown = {k for k in per_job if k in unknown}
    assert set(per_job) == set(started) | created_unknown
    assert emu.stats.creates == len(started) + len(created_unknown)
    assert emu.stats.lost_responses > 0
    assert emu.stats.credits_charged == sum(rec.price for rec in emu.tasks.values())

    results = await asyncio.gather(*started.values())
    assert all(len(r.clips) == 2 for r in results)
    assert emu.stats.server_errors + emu.stats.disconnects > 0


@pytest.mark.usefixtures("quick_backoff")
async def test_canary_key_never_leaks(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu = await emulator_factory(api_keys=(CANARY,), server_error_rate=0.3, seed=3)
    caplog.set_level(logging.DEBUG, logger="aimusic_async")
    c = await client_factory(emu.base_url, CANARY, max_retries=3)
    res = sonic(c)
    errors: list[BaseException] = []
    tasks = []
    for i in range(10):
        try:
            tasks.append(await start(res, f"s{i}"))
        except SubmissionUnknownError as exc:
            errors.append(exc)
    for t in tasks:
        await t
    bad = await client_factory(emu.base_url, CANARY + "x")
    for _ in range(20):  # the emulator's 500s come before its auth check
        try:
            await start(sonic(bad), "nope")
        except SubmissionUnknownError as exc:
            errors.append(exc)
        except AuthenticationError as exc:
            errors.append(exc)
            break
    assert isinstance(errors[-1], AuthenticationError)
    assert "aimusic_async" in caplog.text or caplog.records
    text = caplog.text + repr(c) + repr(bad) + repr(tasks)
    for exc in errors:
        text += "".join(traceback.format_exception(exc)) + repr(exc)
    assert CANARY not in text


async def test_rate_limited_starts_all_land_once(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(create_rate_limit=40.0, create_rate_burst=5)
    c = await client_factory(emu.base_url, emu.api_key)
    res = sonic(c)
    tasks = await asyncio.gather(*(start(res, f"r{i}") for i in range(40)))
    assert len({t.id for t in tasks}) == 40
    assert emu.stats.creates == 40  # every 429 was re-sent, none twice
    assert emu.stats.rate_limited > 0
    assert runtime_of(c).transport.limiter.rate is not None  # the client slowed down
