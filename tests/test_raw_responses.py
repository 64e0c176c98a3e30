"""Raw responses and request ids: ``client.with_raw_response`` for every kind of call, and the
request id on tasks, results and errors, read from whichever header the API or a proxy sets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    AuthenticationError,
    Credits,
    LyricsResult,
    RawResponse,
    ServerError,
    SubmissionUnknownError,
    Task,
    TaskSnapshot,
)
from aimusic_async.models.sonic_results import BpmResult as Bpm
from aimusic_async.testing import Emulator

from ._scripted import Script

DESCRIBE = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm lo-fi"}
Serve = Callable[[web.Application], Awaitable[str]]
ClientFactory = Callable[..., Awaitable[AIMusicClient]]


async def test_every_api_answer_of_the_emulator_has_a_request_id(emulator: Emulator) -> None:
    auth = {"Authorization": f"Bearer {emulator.api_key}"}
    async with aiohttp.ClientSession() as session:
        answers = [
            await session.get(f"{emulator.base_url}/api/v1/get-credits", headers=auth),
            await session.post(
                f"{emulator.base_url}/api/v1/sonic/create", headers=auth, json=DESCRIBE
            ),
            await session.get(f"{emulator.base_url}/api/v1/sonic/task/nope", headers=auth),
            await session.get(f"{emulator.base_url}/api/v1/no-such-route", headers=auth),
            await session.get(f"{emulator.base_url}/api/v1/get-credits"),  # no key: 401
        ]
        ids = []
        for answer in answers:
            ids.append(answer.headers.get("x-request-id"))
            answer.release()
    assert [a.status for a in answers][::4] == [200, 401]
    assert all(i is not None and i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)


async def test_raw_responses_of_every_kind_of_call(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    raw = client.with_raw_response

    started = await raw.sonic.create(**DESCRIBE)  # starts a task
    assert isinstance(started, RawResponse)
    assert started.status_code == 200
    assert started.method == "POST"
    assert started.path == "/api/v1/sonic/create"
    assert started.request_id == started.headers["x-request-id"]
    task = started.parse()
    assert isinstance(task, Task)
    assert started.json()["task_id"] == task.id
    assert task.request_id == started.request_id
    result = await task
    clip = result.succeeded[0].clip_id

    polled = await raw.sonic.get(task.id)  # one poll
    assert isinstance(polled.parse(), TaskSnapshot)
    assert polled.parse().status == "succeeded"
    assert polled.path.endswith(task.id)
    assert [c["clip_id"] for c in json.loads(polled.content)["data"]] == [
        c.clip_id for c in result.clips
    ]

    bpm = await raw.sonic.bpm(clip)  # free utility
    assert isinstance(bpm.parse(), Bpm)
    assert bpm.parse().model_dump() == (await client.sonic.bpm(clip)).model_dump()
    assert bpm.parse().request_id == bpm.request_id

    lyrics = await raw.lyrics.generate("the sky")  # paid, answered at once
    assert isinstance(lyrics.parse(), LyricsResult)
    assert lyrics.text.startswith("{")

    for credits in (await raw.credits(), await raw.account.credits()):
        assert isinstance(credits.parse(), Credits)
        assert credits.parse().credits == credits.json()["credits"]
    ids = {started.request_id, polled.request_id, bpm.request_id, lyrics.request_id}
    assert len(ids) == 4
    assert started.request_id is not None
    assert started.request_id in repr(started)


async def test_concurrent_raw_calls_each_get_their_own_answer(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    raws = await asyncio.gather(
        *(client.with_raw_response.sonic.create(**DESCRIBE) for _ in range(10))
    )
    assert all(r.json()["task_id"] == r.parse().id for r in raws)
    assert len({r.request_id for r in raws}) == 10


async def test_request_ids_on_tasks_results_and_errors(
    emulator: Emulator, client_factory: ClientFactory
) -> None:
    client = await client_factory(emulator.base_url, emulator.api_key)
    task = await client.sonic.create(**DESCRIBE)
    assert task.request_id is not None
    credits = await client.credits()
    assert credits.request_id is not None
    # Not a field: neither dumped nor compared.
    assert "request_id" not in credits.model_dump()
    assert "aimusic" not in credits.model_dump_json()
    assert credits == Credits.model_validate(credits.model_dump())
    assert Credits.model_validate(credits.model_dump()).request_id is None
    # A rebuilt handle was not started by an answer of ours.
    assert client.task(task.id).request_id is None
    wrong = await client_factory(emulator.base_url, "sk-wrong")
    with pytest.raises(AuthenticationError) as caught:
        await wrong.credits()
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")
    with pytest.raises(AuthenticationError):
        await wrong.with_raw_response.credits()  # errors raise as usual


async def test_a_proxys_request_id_is_read_when_the_api_sends_none(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script(
        [(200, {"credits": 3, "extra_credits": 0}, {"CF-Ray": "8f1e2d3c4b5a6978-FRA"})],
        routes={
            "/api/v1/sonic/create": [(502, "bad gateway", {"X-Request-Id": "req-proxy-1"})],
            "/api/v1/sonic/bpm": [(503, {"message": "down"}, {"Request-Id": "req-plain-2"})],
        },
    )
    client = await client_factory(await serve_app(script.app()), "sk-test", max_retries=0)
    assert (await client.credits()).request_id == "8f1e2d3c4b5a6978-FRA"
    with pytest.raises(SubmissionUnknownError) as unknown:
        await client.sonic.create(**DESCRIBE)
    assert unknown.value.request_id == "req-proxy-1"  # support can say whether it started
    with pytest.raises(ServerError) as server:
        await client.sonic.bpm("c1")
    assert server.value.request_id == "req-plain-2"


async def test_a_scripted_answer_without_any_id_gives_none(
    serve_app: Serve, client_factory: ClientFactory
) -> None:
    script = Script([(200, {"task_id": "t-1"})])
    client = await client_factory(await serve_app(script.app()), "sk-test")
    raw = await client.with_raw_response.sonic.create(**DESCRIBE)
    assert raw.request_id is None
    assert raw.parse().request_id is None
    assert raw.content == b'{"task_id": "t-1"}'
