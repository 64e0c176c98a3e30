"""Event hooks: what each hook receives (typed, frozen events, never a secret), when it is
called, and what a hook that raises does to the request, the credit rule above all."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    ConfigurationError,
    Job,
    PollEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SubmissionUnknownError,
    run_batch,
)
from aimusic_async._client import runtime_of
from aimusic_async._transport import before_start
from aimusic_async.testing import Emulator

from ._scripted import Script
from .conftest import FAST_POLL, FakeClock

CANARY_KEY = "sk-canary-hooks-1f2e3d4c5b6a"
CANARY_SECRET = "whsec-canary-hooks-9a8b7c6d"
DESCRIBE = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm lo-fi"}
Serve = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]
EmulatorFactory = Callable[..., Awaitable[Emulator]]


class Boom(Exception):
    """A hook's own failure."""


def recorder() -> tuple[list[Any], dict[str, list[Callable[[Any], Any]]]]:
    """A list of every event, and hooks (a plain one and an async one) that fill it."""
    seen: list[Any] = []

    def plain(event: Any) -> None:
        seen.append(event)

    async def later(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(("async", event))

    hooks = {name: [plain, later] for name in ("request", "response", "retry", "poll")}
    return seen, hooks


def events(seen: list[Any], kind: type) -> list[Any]:
    return [e for e in seen if isinstance(e, kind)]


async def test_hooks_see_a_task_from_start_to_finish(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    seen, hooks = recorder()
    client = await client_factory(emulator.base_url, emulator.api_key, event_hooks=hooks)
    task = await client.sonic.create(**DESCRIBE)
    result = await task
    assert result.succeeded

    # Every hook got every event, the async one awaited right after the plain one.
    plain = [e for e in seen if not isinstance(e, tuple)]
    assert [e for e in seen if isinstance(e, tuple)] == [("async", e) for e in plain]
    start, *polls = events(seen, RequestEvent)
    assert (start.method, start.path, start.operation, start.attempt, start.kind) == (
        "POST",
        "/api/v1/sonic/create",
        "sonic.create",
        1,
        "start",
    )
    assert start.timeout == 60.0  # the client's default
    assert start.body is not None
    assert start.body["gpt_description_prompt"] == "calm lo-fi"
    assert all(p.kind == "safe" and p.method == "GET" for p in polls)
    answers = events(seen, ResponseEvent)
    assert answers[0].status == 200
    assert answers[0].request_id == task.request_id
    assert answers[0].elapsed >= 0
    assert len(answers) == 1 + len(polls)
    poll_events = events(seen, PollEvent)
    assert [p.polls for p in poll_events] == list(range(1, task.polls + 1))
    assert poll_events[-1].status == "succeeded"
    assert poll_events[-1].task_id == task.id
    assert poll_events[-1].request_id == answers[-1].request_id
    assert events(seen, RetryEvent) == []
    # Frozen: a hook cannot change what the next one sees.
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.path = "/elsewhere"  # type: ignore[misc]


async def test_the_retry_hook_sees_each_retry(
    serve_app: Serve, client_factory: ClientFactory, fake_clock: FakeClock
) -> None:
    script = Script(
        [
            (503, {"message": "busy"}, {"Retry-After": "2"}),
            (502, "bad gateway"),
            (200, {"credits": 5, "extra_credits": 0}),
        ]
    )
    seen, hooks = recorder()
    client = await client_factory(await serve_app(script.app()), "sk-test", event_hooks=hooks)
    credits = await client.credits()
    assert credits.credits == 5
    retries = events(seen, RetryEvent)
    assert [(r.attempt, r.status, r.error) for r in retries] == [
        (1, 503, "ServerError"),
        (2, 502, "ServerError"),
    ]
    assert retries[0].delay == 2.0  # the server's Retry-After
    assert retries[0].reason == "HTTP 503"
    assert [r.attempt for r in events(seen, RequestEvent)] == [1, 2, 3]
    assert [r.status for r in events(seen, ResponseEvent)] == [503, 502, 200]


def _strings(value: Any) -> list[str]:
    """Every string inside an event: its fields, mappings and sequences, recursively."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return [repr(value)]


async def test_no_event_holds_the_key_or_a_webhook_secret(
    emulator_factory: EmulatorFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(api_keys=(CANARY_KEY,))
    seen, hooks = recorder()
    client = await client_factory(
        emu.base_url, CANARY_KEY, webhook_secret=CANARY_SECRET, event_hooks=hooks
    )
    # A secret in the body (the caller's own webhook), a poll, a paid call and an error answer.
    task = await client.sonic.create(
        **DESCRIBE, webhook_url="https://example.com/hook", webhook_secret=CANARY_SECRET
    )
    await task
    await client.lyrics.generate("the sky")
    await client.credits()
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal: only its events matter
        await client.sonic.bpm("no-such-clip")
    assert len(events(seen, RequestEvent)) >= 5
    body = events(seen, RequestEvent)[0].body
    assert body is not None
    assert body["webhook_secret"] == "<redacted>"
    for event in seen:
        text = repr(event) + "".join(_strings(event))
        assert CANARY_KEY not in text
        assert CANARY_SECRET not in text
        assert "Bearer" not in text


async def test_a_request_hook_that_raises_sends_nothing(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"task_id": "t-1"})])

    def refuse(event: RequestEvent) -> None:
        raise Boom(f"not now: {event.operation}")

    client = await client_factory(
        await serve_app(script.app()), "sk-test", event_hooks={"request": [refuse]}
    )
    journal: list[str] = []

    async def commit() -> None:
        journal.append("starting")

    token = before_start.set(commit)
    try:
        with pytest.raises(Boom, match=r"not now: sonic\.create"):
            await client.sonic.create(**DESCRIBE)
    finally:
        before_start.reset(token)
    assert script.count() == 0
    # The batch journal's "starting" is committed after the hooks: a refused request is never
    # recorded as one that may have been sent.
    assert journal == []


async def test_a_response_hook_that_raises_after_the_server_took_a_start_is_unknown(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    """The task exists and is paid for: the caller hears "may have started" (with the id the
    answer named), never a plain error a caller or a batch would read as "nothing happened"."""

    def fail(event: ResponseEvent) -> None:
        raise Boom("the hook's own bug")

    client = await client_factory(
        emulator.base_url, emulator.api_key, event_hooks={"response": [fail]}
    )
    with pytest.raises(SubmissionUnknownError) as caught:
        await client.sonic.create(**DESCRIBE)
    error = caught.value
    assert isinstance(error.__cause__, Boom)
    assert "a response hook raised Boom" in str(error)
    assert error.task_id is not None
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert emulator.stats.creates == 1  # sent once, never again
    plain = await client_factory(emulator.base_url, emulator.api_key)
    assert (await plain.task(error.task_id)).succeeded


async def test_a_response_hook_that_raises_after_a_5xx_to_a_start_is_unknown(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(500, {"message": "oops"})])

    def fail(event: ResponseEvent) -> None:
        raise Boom

    client = await client_factory(
        await serve_app(script.app()), "sk-test", event_hooks={"response": [fail]}
    )
    with pytest.raises(SubmissionUnknownError) as caught:
        await client.sonic.create(**DESCRIBE)
    assert caught.value.task_id is None
    assert script.count() == 1


async def test_a_response_hook_that_raises_elsewhere_propagates(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    """A safe request, or a start the server refused (nothing taken): the hook's exception as
    it is, like httpx's hooks."""

    def fail(event: ResponseEvent) -> None:
        raise Boom(event.status)

    client = await client_factory(
        emulator.base_url, emulator.api_key, event_hooks={"response": [fail]}
    )
    with pytest.raises(Boom):
        await client.credits()
    wrong = await client_factory(emulator.base_url, "sk-wrong", event_hooks={"response": [fail]})
    with pytest.raises(Boom) as caught:
        await wrong.sonic.create(**DESCRIBE)
    assert caught.value.args == (401,)
    assert emulator.stats.creates == 0


async def test_a_batch_whose_hook_raises_after_a_start_reports_it_unknown(
    emulator: Emulator, client_factory: ClientFactory, tmp_path: Path
) -> None:
    calls = 0

    def fail_once(event: ResponseEvent) -> None:
        nonlocal calls
        if event.operation == "sonic.create":
            calls += 1
            if calls == 1:
                raise Boom

    client = await client_factory(
        emulator.base_url, emulator.api_key, event_hooks={"response": [fail_once]}
    )
    journal = tmp_path / "jobs.sqlite"
    jobs = [Job(key="one", operation="sonic.create", params=DESCRIBE)]
    outcomes = [o async for o in run_batch(client, jobs, journal=journal)]
    assert [o.status for o in outcomes] == ["unknown"]
    # A rerun does not send it again (it may exist and be paid for).
    again = [o async for o in run_batch(client, jobs, journal=journal)]
    assert [o.status for o in again] == ["unknown"]
    assert emulator.stats.creates == 1


async def test_a_poll_hook_that_raises_stops_the_wait_not_the_task(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    raised = 0

    def fail_first(event: PollEvent) -> None:
        nonlocal raised
        if raised == 0:
            raised += 1
            raise Boom

    client = await client_factory(
        emulator.base_url, emulator.api_key, event_hooks={"poll": [fail_first]}
    )
    task = await client.sonic.create(**DESCRIBE)
    with pytest.raises(Boom):
        await task
    assert (await task).succeeded  # awaited again, it goes on


async def test_a_retry_hook_that_raises_stops_the_retries(
    serve_app: Serve, client_factory: ClientFactory, fake_clock: FakeClock
) -> None:
    script = Script([(503, {"message": "busy"}), (200, {"credits": 1, "extra_credits": 0})])

    def stop(event: RetryEvent) -> None:
        raise Boom

    client = await client_factory(
        await serve_app(script.app()), "sk-test", event_hooks={"retry": [stop]}
    )
    with pytest.raises(Boom):
        await client.credits()
    assert script.count() == 1


async def test_a_view_shares_the_hooks(emulator: Emulator, client_factory: ClientFactory) -> None:
    seen, hooks = recorder()
    client = await client_factory(emulator.base_url, emulator.api_key, event_hooks=hooks)
    await client.with_options(timeout=5).credits()
    assert [e.timeout for e in events(seen, RequestEvent)] == [5]


@pytest.mark.parametrize(
    "hooks",
    [
        {"requests": [print]},
        {"request": print},
        {"request": [1]},
        {"response": "print"},
        [("request", [print])],
    ],
    ids=["unknown name", "not a list", "not callable", "a string", "not a dict"],
)
def test_event_hooks_are_checked(hooks: Any) -> None:
    with pytest.raises(ConfigurationError):
        AIMusicClient("sk-test", "http://127.0.0.1:9", event_hooks=hooks)


async def test_no_hooks_means_no_hook_step(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    """Empty lists are no hooks at all: the pipeline skips every hook step with one check."""
    client = await client_factory(
        emulator.base_url, emulator.api_key, event_hooks={"request": [], "poll": []}
    )
    assert runtime_of(client).transport.hooks is None
    assert (await client.credits()).credits > 0
    assert FAST_POLL is client.poll
