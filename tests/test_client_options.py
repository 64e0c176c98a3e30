"""Per-call options and client views: ``client.with_options(...)`` shares everything but the
options it changes, a method's own ``timeout=`` wins over the view's, the view's over the
client's, and a call option is never sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    APITimeoutError,
    ConfigurationError,
    PollPolicy,
    RequestEvent,
    ServerError,
    SubmissionUnknownError,
    TaskTimeoutError,
)
from aimusic_async._client import runtime_of
from aimusic_async.testing import Emulator

from ._scripted import Hang, Script
from .conftest import FakeClock

DESCRIBE = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm lo-fi"}
Serve = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]


async def test_which_timeout_wins(emulator: Emulator, client_factory: ClientFactory) -> None:
    """Per call > view > client: read off the request hook, which sees each attempt's timeout."""
    seen: list[RequestEvent] = []
    client = await client_factory(
        emulator.base_url, emulator.api_key, timeout=30, event_hooks={"request": [seen.append]}
    )
    view = client.with_options(timeout=10)

    await client.credits()
    await view.credits()
    await view.credits(timeout=2)
    await client.credits(timeout=3)
    task = await view.sonic.create(**DESCRIBE, timeout=5)
    assert [e.timeout for e in seen] == [30, 10, 2, 3, 5]
    # The call's own timeout is for that call: the task it started polls with the view's.
    seen.clear()
    await task.refresh()
    assert seen[0].timeout == 10
    # A view of a view starts from its parent's options.
    seen.clear()
    await view.with_options(max_retries=0).credits()
    assert seen[0].timeout == 10


async def test_a_views_retry_budget(
    serve_app: Serve, client_factory: ClientFactory, fake_clock: FakeClock
) -> None:
    script = Script([(503, {"message": "busy"})])
    client = await client_factory(await serve_app(script.app()), "sk-test", max_retries=2)
    with pytest.raises(ServerError):
        await client.with_options(max_retries=0).credits()
    assert script.count() == 1
    with pytest.raises(ServerError):
        await client.credits()
    assert script.count() == 1 + 3


async def test_a_per_call_timeout_bounds_the_call(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([Hang(5.0)])
    client = await client_factory(await serve_app(script.app()), "sk-test", max_retries=0)
    with pytest.raises(APITimeoutError):
        await client.sonic.bpm("clip-1", timeout=0.05)
    # A start that times out may have been taken: unknown, and not sent again.
    with pytest.raises(SubmissionUnknownError):
        await client.sonic.create(**DESCRIBE, timeout=0.05)
    assert script.count() == 2


async def test_a_call_option_is_never_sent_and_a_bad_one_sends_nothing(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"task_id": "t-1"})])
    client = await client_factory(await serve_app(script.app()), "sk-test")
    await client.sonic.create(**DESCRIBE, timeout=5)
    await client.sonic.extend(
        "clip-1", continue_at=10, mv="sonic-v5", custom_mode=True, prompt="[Verse]", timeout=5
    )
    assert [seen.body for seen in script.seen] == [
        {**DESCRIBE, "task_type": "create_music", "use_suno_cdn": False},
        {
            "task_type": "extend_music",
            "continue_clip_id": "clip-1",
            "continue_at": 10,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": "[Verse]",
            "use_suno_cdn": False,
        },
    ]
    for bad in (-1, 0, float("nan"), "5"):
        with pytest.raises(ConfigurationError, match="timeout"):
            await client.sonic.create(**DESCRIBE, timeout=bad)  # type: ignore[arg-type]
    assert script.count() == 2


async def test_a_view_shares_everything_but_its_options(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    view = client.with_options(timeout=9, poll=PollPolicy(timeout=0.001))
    ours, theirs = runtime_of(view), runtime_of(client)
    assert ours.transport is theirs.transport  # one pool
    assert ours.hub is theirs.hub is view.hub
    assert ours.estimates is theirs.estimates
    assert ours.webhooks is theirs.webhooks
    assert ours.families is theirs.families
    assert view.webhooks is client.webhooks  # one receiver
    assert ours.options.timeout == 9
    assert theirs.options.timeout != 9
    assert "view" in repr(view)
    # Its poll policy: this deadline passes before any task can finish.
    async with view:
        task = await view.sonic.create(**DESCRIBE)
        with pytest.raises(TaskTimeoutError):
            await task
    # Leaving the view closed nothing.
    assert not client.is_closed
    assert (await client.task(task.id)).succeeded
    await client.aclose()
    assert view.is_closed  # the client's pool is the view's


def test_with_options_checks_its_values() -> None:
    client = AIMusicClient("sk-test", "http://127.0.0.1:9")
    for bad in ({"max_retries": -1}, {"timeout": 0}, {"poll": "fast"}):
        with pytest.raises(ConfigurationError):
            client.with_options(**bad)  # type: ignore[arg-type]
    assert runtime_of(client.with_options()).options == runtime_of(client).options
