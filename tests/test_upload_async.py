"""``sonic.upload_async`` end to end against the emulator, and the secrets that verify callbacks:
the client's own ``webhook_secret`` (sent with every start) and the account's default one
(``account_webhook_secret``), which signs the callbacks of requests that send none: uploads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    ConfigurationError,
    PollPolicy,
    Task,
    WebhookVerificationError,
)
from aimusic_async._client import runtime_of
from aimusic_async.models.common import Clip
from aimusic_async.testing import Emulator
from aimusic_async.webhooks import reference_of
from tests.reliability.test_receiver_exhaustion import genuine_body
from tests.test_webhooks_receiver import signed

EmuFactory = Callable[..., Awaitable[Emulator]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]

GEN_TIME = (0.05, 0.2)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=20.0)
AUDIO = "https://example.com/audio/field-recording.wav"
DESC = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "a jazz trio cover"}
CANARY = "acct-secret-canary-7f3a9c2e"
GUARD = 10.0


async def test_an_async_upload_resolves_from_its_callback_with_no_poll(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(
        emu.base_url,
        emu.api_key,
        poll=POLL,
        webhook_secret="per-client-secret",
        account_webhook_secret=emu.config.default_webhook_secret,
    )
    url = await client.webhooks.serve()
    task = await client.sonic.upload_async(AUDIO)
    assert isinstance(task, Task)
    # The documented fields only: the route takes no webhook_secret. The callback URL is the
    # receiver's, with a correlation reference in its query (for client.recover).
    body = emu.tasks[task.id].body
    assert set(body) == {"url", "callback_url"}
    assert body["url"] == AUDIO
    assert body["callback_url"].startswith(url + "?")
    assert reference_of(body["callback_url"]) is not None
    result = await asyncio.wait_for(task, GUARD)

    (clip,) = result.clips
    assert isinstance(clip, Clip)
    assert clip.clip_id == emu.tasks[task.id].clips[0].clip_id
    assert clip.succeeded
    assert clip.title == "field-recording"
    assert str(clip.audio_url).startswith(emu.cdn_url)
    assert emu.stats.polls == 0
    stats = client.webhooks.stats
    assert (stats.delivered, stats.rejected) == (1, 0)
    # The uploaded clip feeds the *_upload_music tasks.
    cover = await client.sonic.create(
        task_type="cover_upload_music", continue_clip_id=clip.clip_id, **DESC
    )
    assert (await asyncio.wait_for(cover, GUARD)).succeeded
    assert emu.stats.polls == 0


async def test_the_account_secret_alone_verifies_every_callback(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """With only the account's secret, starts send it as their webhook_secret: one secret for
    every callback (and every process sharing it)."""
    emu = await emulator_factory(generation_time=GEN_TIME)
    account = emu.config.default_webhook_secret
    client = await client_factory(
        emu.base_url, emu.api_key, poll=POLL, account_webhook_secret=account
    )
    await client.webhooks.serve()
    song = await client.sonic.create(**DESC)  # type: ignore[arg-type]
    upload = await client.sonic.upload_async(AUDIO)
    assert emu.tasks[song.id].webhook_secret == account
    assert emu.tasks[upload.id].webhook_secret is None
    await asyncio.wait_for(asyncio.gather(song, upload), GUARD)
    assert emu.stats.polls == 0
    assert client.webhooks.stats.delivered == 2


async def test_a_lost_upload_callback_falls_back_to_polling(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME, webhook_loss_rate=1.0)
    client = await client_factory(
        emu.base_url, emu.api_key, poll=POLL, account_webhook_secret="whatever"
    )
    await client.webhooks.serve(grace=0)
    task = await client.sonic.upload_async(AUDIO)
    result = await asyncio.wait_for(task, GUARD)
    assert result.clips[0].clip_id == emu.tasks[task.id].clips[0].clip_id
    assert emu.stats.webhooks_lost == 1
    assert emu.stats.polls >= 1


async def test_without_the_account_secret_an_upload_callback_cannot_be_verified(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    """The issue's report: the upload sends no secret, so the emulator signs its callback with
    the account's default, which a client that knows only its own secret rejects. Such a task
    does not wait for that callback; it polls."""
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL, webhook_secret="mine")
    url = await client.webhooks.serve()
    before = emu.stats.requests
    with pytest.raises(ConfigurationError, match="account_webhook_secret"):
        await client.sonic.upload_async(AUDIO)
    assert emu.stats.requests == before  # refused before anything was sent

    task = await client.sonic.upload_async(AUDIO, callback_url=url)  # the caller insists
    result = await asyncio.wait_for(task, GUARD)
    assert result.clips
    assert emu.stats.polls >= 1
    for _ in range(200):  # the callback's fate, for the record (a bounded wait, not a timing)
        if client.webhooks.stats.received:
            break
        await asyncio.sleep(0.01)
    assert client.webhooks.stats.rejected == 1


async def test_an_async_upload_needs_somewhere_to_post(
    emulator_factory: EmuFactory, client_factory: ClientFactory
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, account_webhook_secret="a")
    with pytest.raises(ConfigurationError, match="callback_url"):
        await client.sonic.upload_async(AUDIO)
    assert emu.stats.requests == 0


async def test_an_async_upload_to_your_own_endpoint_polls(
    emulator_factory: EmuFactory,
    client_factory: ClientFactory,
    serve_app: Callable[[web.Application], Awaitable[str]],
) -> None:
    emu = await emulator_factory(generation_time=GEN_TIME)
    client = await client_factory(emu.base_url, emu.api_key, poll=POLL, account_webhook_secret="a")
    await client.webhooks.serve()  # the receiver is on, but this callback goes elsewhere

    async def elsewhere(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/cb", elsewhere)
    own = await serve_app(app) + "/cb"
    task = await client.sonic.upload_async(AUDIO, callback_url=own)
    assert emu.tasks[task.id].body["callback_url"] == own
    assert client.hub.future(task.id) is None  # nothing waits on this client's receiver
    assert (await asyncio.wait_for(task, GUARD)).clips


# -- the two secrets -------------------------------------------------------------------------------
async def test_the_receiver_accepts_either_secret_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with AIMusicClient(
        api_key="k",
        base_url="http://127.0.0.1:9",
        webhook_secret="client-secret",
        account_webhook_secret=CANARY,
    ) as client:
        for n, secret in enumerate(("client-secret", CANARY)):
            body = genuine_body(f"t-{n}")
            assert await client.webhooks.handle(body, signed(body, secret)) is not None
        body = genuine_body("t-x")
        with (
            caplog.at_level(logging.DEBUG, logger="aimusic_async"),
            pytest.raises(WebhookVerificationError) as info,
        ):
            await client.webhooks.handle(body, signed(body, "a-third-secret"))
        assert "does not match" in info.value.reason
        assert client.webhooks.stats.rejected == 1
        # The account's secret shows nowhere.
        texts = [repr(client), repr(client.webhooks), repr(runtime_of(client).webhooks)]
        texts += [str(info.value), caplog.text]
        assert not [t for t in texts if CANARY in t]


async def test_use_sends_the_account_secret_only_when_the_client_has_none() -> None:
    settings: list[Any] = []
    for own in ("mine", None):
        async with AIMusicClient(
            api_key="k", base_url="http://127.0.0.1:9", webhook_secret=own,
            account_webhook_secret=CANARY,
        ) as client:  # fmt: skip
            client.webhooks.use("https://hooks.example.com/x")
            settings.append(runtime_of(client).webhooks.secret)
    assert settings == ["mine", CANARY]
    async with AIMusicClient(api_key="k", base_url="http://127.0.0.1:9") as client:
        client.webhooks.use("https://hooks.example.com/x")
        generated = runtime_of(client).webhooks.secret
        assert generated
        assert len(generated) >= 32


@pytest.mark.parametrize("bad", ["", "  ", 42])
def test_a_blank_account_secret_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="account_webhook_secret"):
        AIMusicClient(api_key="k", base_url="http://127.0.0.1:9", account_webhook_secret=bad)
