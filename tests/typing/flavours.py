"""Static types of the client's flavours, checked by mypy (``tests/test_typing.py``): the
blocking and raw-response namespaces have the async methods' parameters and the right results."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from typing_extensions import assert_type

from aimusic_async import (
    AIMusicClient,
    Credits,
    RawResponse,
    SyncAIMusicClient,
    SyncBatchRun,
    SyncTask,
    Task,
    TaskResult,
    TaskSnapshot,
)
from aimusic_async.models.sonic_results import BpmResult, UploadResult


def blocking(client: SyncAIMusicClient) -> None:
    task = client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x")
    assert_type(task, SyncTask)
    assert_type(task.wait(timeout=5), TaskResult)
    assert_type(task.refresh(), TaskSnapshot)
    assert_type(client.sonic.extend("c", continue_at=1, mv="sonic-v5", custom_mode=True), SyncTask)
    assert_type(client.sonic.bpm("c", timeout=3), BpmResult)
    assert_type(client.sonic.upload("https://example.com/a.mp3"), UploadResult)
    assert_type(client.sonic.get("t"), TaskSnapshot)
    assert_type(client.credits(), Credits)
    assert_type(client.download("https://example.com/a.mp3", "out/"), Path)
    assert_type(client.batch([]), SyncBatchRun)
    assert_type(client.task("t"), SyncTask)
    assert_type(client.with_options(timeout=1), SyncAIMusicClient)
    raw = client.with_raw_response.sonic.create(mv="sonic-v5", custom_mode=False)
    assert_type(raw, RawResponse[SyncTask])
    assert_type(raw.parse(), SyncTask)
    assert_type(client.with_raw_response.credits(), RawResponse[Credits])
    client.sonic.bpm(clip_id="c", no_such_field=1)  # type: ignore[call-arg]
    client.sonic.bpm(42)  # type: ignore[arg-type]


async def asynchronous(client: AIMusicClient) -> None:
    create = client.with_raw_response.sonic.create(mv="sonic-v5", custom_mode=False)
    _ = assert_type(create, Coroutine[Any, Any, RawResponse[Task]])
    raw = await create
    assert_type(raw.parse(), Task)
    assert_type(raw.request_id, str | None)
    assert_type(await client.with_raw_response.account.credits(), RawResponse[Credits])
    assert_type(client.with_options(max_retries=0), AIMusicClient)
    assert_type(await client.sonic.create(mv="sonic-v5", timeout=2.5), Task)
    assert_type((await client.credits()).request_id, str | None)
    await client.with_raw_response.sonic.bpm("c", tempo=1)  # type: ignore[call-arg]
