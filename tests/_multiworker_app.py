"""A FastAPI service as a user runs it under ``uvicorn --workers 2``: each worker process imports
this module and gets its own client, all sharing one Redis hub; the SDK's receiver is mounted at
/hooks/aimusic; ``POST /songs`` starts a song and awaits it.

Configured from the environment (the test sets it): AIMUSIC_MW_BASE_URL, AIMUSIC_MW_API_KEY,
AIMUSIC_MW_SECRET, AIMUSIC_MW_REDIS_URL, AIMUSIC_MW_NAMESPACE, AIMUSIC_MW_PUBLIC_URL (the
receiver's public URL), AIMUSIC_MW_READY_DIR (each worker drops a file there once it serves),
AIMUSIC_MW_WAIT (the wait of a song request, seconds).

Only for the test's bookkeeping, the mount records the task id of every callback this worker
received, so that a song's answer can say whether its callback landed in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from aimusic_async import AIMusicClient, PollPolicy, TaskTimeoutError
from aimusic_async.hubs import RedisHub

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]

ENV = os.environ

client = AIMusicClient(
    ENV["AIMUSIC_MW_API_KEY"],
    ENV["AIMUSIC_MW_BASE_URL"],
    webhook_secret=ENV["AIMUSIC_MW_SECRET"],
    hub=RedisHub(ENV["AIMUSIC_MW_REDIS_URL"], namespace=ENV["AIMUSIC_MW_NAMESPACE"]),
    poll=PollPolicy(initial_interval=0.1, max_interval=0.5, timeout=float(ENV["AIMUSIC_MW_WAIT"])),
)
received_here: set[str] = set()


def recording(inner: ASGIApp) -> ASGIApp:
    """``inner`` with the task id of each callback body noted first (test bookkeeping)."""

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            received_here.add(str(json.loads(body)["task_id"]))
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await inner(scope, replay, send)

    return app


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with client:
        client.webhooks.use(ENV["AIMUSIC_MW_PUBLIC_URL"])
        await asyncio.to_thread(Path(ENV["AIMUSIC_MW_READY_DIR"], str(os.getpid())).touch)
        yield


app = FastAPI(lifespan=lifespan)
app.mount("/hooks/aimusic", recording(client.webhooks.asgi_app()))


@app.post("/songs")
async def song(prompt: str) -> dict[str, Any]:
    task = await client.sonic.create(
        mv="sonic-v5", custom_mode=False, gpt_description_prompt=prompt
    )
    try:
        result = await task.wait()
    except TaskTimeoutError as exc:
        return {"pid": os.getpid(), "task_id": task.id, "error": str(exc)}
    return {
        "pid": os.getpid(),
        "task_id": task.id,
        "clips": len(result.clips),
        "callback_here": task.id in received_here,
    }
