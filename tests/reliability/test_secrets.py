"""Secrets: a canary API key and webhook secret planted in every path never show up in logs
(DEBUG, every logger), reprs, exception messages and attributes, journals or CLI output."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    AIMusicError,
    AuthenticationError,
    PollPolicy,
    SubmissionUnknownError,
    TaskFailedError,
    TaskTimeoutError,
    WebhookVerificationError,
)
from aimusic_async._client import runtime_of
from aimusic_async.batch import Job, run_batch
from aimusic_async.models.producer import ProducerCreateMusic
from aimusic_async.models.sonic_requests import CreateMusicRequest
from aimusic_async.testing import Emulator, EmulatorConfig, sign_webhook

CANARY_KEY = "sk-CANARY-7f3a9c1e5b2d"
WRONG_KEY = "sk-CANARY-wrong-0a9b8c7d"
CANARY_SECRET = "whsec-CANARY-2d8e4b6a1f"
USER_SECRET = "whsec-CANARY-user-5e6f7a8b"  # a webhook_secret passed as a job parameter
CANARIES = (CANARY_KEY, WRONG_KEY, CANARY_SECRET, USER_SECRET)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=20.0)
EmuFactory = Callable[..., Awaitable[Any]]


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def exception_text(exc: BaseException) -> str:
    """Everything an exception shows: message, repr, args, attributes, the whole chain."""
    parts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        parts += [repr(v) for v in vars(current).values()]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: aiohttp, asyncio, the SDK, everything
    return caplog


@pytest.mark.usefixtures("quick_backoff")
async def test_canaries_never_leak_through_the_sdk(
    emulator_factory: EmuFactory, debug_logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    emu = await emulator_factory(
        api_keys=(CANARY_KEY,),
        generation_time=(0.05, 0.2),
        lost_response_rate=0.3,
        server_error_rate=0.1,
        clip_failure_rate=0.6,
        seed=17,
    )
    seen: list[str] = []
    errors: list[BaseException] = []
    async with AIMusicClient(
        api_key=CANARY_KEY, base_url=emu.base_url, webhook_secret=CANARY_SECRET, poll=POLL
    ) as client:
        url = await client.webhooks.serve(grace=0.2)
        seen += [
            repr(client),
            repr(runtime_of(client).transport),
            repr(client.webhooks),
            str(client),
        ]

        # Starts with the receiver on (key + secret on every request), some lost, some failing.
        jobs = [
            Job(
                key=f"s{i}",
                operation="sonic.create",
                params={"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": f"s{i}"},
            )
            for i in range(30)
        ]
        journal = tmp_path / "j.db"
        async with run_batch(client, jobs, concurrency=10, journal=journal) as run:
            async for outcome in run:
                seen += [repr(outcome), json.dumps(outcome.summary()), repr(run.progress)]
                if outcome.error is not None:
                    errors.append(outcome.error)
                if outcome.result is not None:
                    seen.append(outcome.result.model_dump_json())
        assert any(isinstance(e, SubmissionUnknownError) for e in errors)
        assert any(isinstance(e, TaskFailedError) for e in errors)

        # A user's own webhook_secret as a job parameter: unknown outcomes, then the resumed run
        # reports them from the journal; the payload shown must not carry the secret.
        user_jobs = [
            Job(
                key=f"u{i}",
                operation="sonic.create",
                params={
                    "mv": "sonic-v5",
                    "custom_mode": False,
                    "gpt_description_prompt": f"u{i}",
                    "webhook_url": url,
                    "webhook_secret": USER_SECRET,
                },
            )
            for i in range(12)
        ]
        for _ in range(2):  # the second run re-reports unknowns from the journal
            async with run_batch(client, user_jobs, journal=tmp_path / "u.db") as run:
                async for outcome in run:
                    seen += [repr(outcome), json.dumps(outcome.summary())]
                    if outcome.error is not None:
                        errors.append(outcome.error)

        # Tasks, requests models, timeouts.
        task = None
        while task is None:  # the emulator's faults may eat a start or two
            try:
                task = await client.sonic.create(
                    mv="sonic-v5", custom_mode=False, gpt_description_prompt="t"
                )
            except SubmissionUnknownError as exc:
                errors.append(exc)
        seen.append(repr(task))
        try:
            await task.wait(timeout=0.0)
        except TaskTimeoutError as exc:
            errors.append(exc)
        seen.append(
            repr(
                CreateMusicRequest.model_validate(
                    {
                        "mv": "sonic-v5",
                        "custom_mode": False,
                        "gpt_description_prompt": "x",
                        "webhook_secret": CANARY_SECRET,
                    }
                )
            )
        )
        seen.append(repr(ProducerCreateMusic(sound="x", webhook_secret=CANARY_SECRET)))

        # Forged and mis-signed callbacks are rejected and logged without the secret.
        raw = b'{"task_id":"x","code":200,"data":[]}'
        stamp = str(int(time.time()))
        for headers in (
            {
                "X-Webhook-Signature": sign_webhook("nope", stamp, raw)[0],
                "X-Webhook-Timestamp": stamp,
            },
            {"X-Signature": sign_webhook(CANARY_SECRET, stamp, raw + b" ")[1]},
        ):
            try:
                await client.webhooks.handle(raw, headers)
            except WebhookVerificationError as exc:
                errors.append(exc)

    # A wrong key: 401, retried nowhere, key not echoed.
    async with AIMusicClient(api_key=WRONG_KEY, base_url=emu.base_url) as wrong:
        seen.append(repr(wrong))
        try:
            await wrong.credits()
        except AuthenticationError as exc:
            errors.append(exc)

    # Starting with the canary key against nothing at all: connection errors.
    async with AIMusicClient(api_key=CANARY_KEY, base_url="http://127.0.0.1:9", max_retries=1) as c:
        try:
            await c.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x")
        except AIMusicError as exc:
            errors.append(exc)

    kinds = {type(e).__name__ for e in errors}
    assert {
        "SubmissionUnknownError",
        "TaskFailedError",
        "TaskTimeoutError",
        "WebhookVerificationError",
        "AuthenticationError",
        "APIConnectionError",
    } <= kinds
    for exc in errors:
        assert leaks(exception_text(exc)) == [], type(exc).__name__
        if isinstance(exc, SubmissionUnknownError) and "webhook_secret" in exc.payload:
            assert exc.payload["webhook_secret"] == "<redacted>"
    assert leaks("\n".join(seen)) == []
    records = debug_logs.records
    assert any(r.levelno == logging.DEBUG for r in records)  # DEBUG really was captured
    assert leaks(debug_logs.text) == []
    assert leaks("\n".join(r.getMessage() + repr(r.args) for r in records)) == []
    # The journal on disk holds job parameters, never the client's key or webhook secret.
    data = journal.read_bytes()
    assert CANARY_KEY.encode() not in data
    assert CANARY_SECRET.encode() not in data


def test_emulator_side_reprs_hold_no_secrets() -> None:
    config = EmulatorConfig(api_keys=(CANARY_KEY,), default_webhook_secret=CANARY_SECRET)
    assert leaks(repr(config)) == []
    emu = Emulator(config)
    assert leaks(repr(emu)) == []


# -- the command line ------------------------------------------------------------------------
def aimusic(*args: str, base_url: str, key: str = CANARY_KEY, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    env.update(AIMUSIC_API_KEY=key, AIMUSIC_BASE_URL=base_url)
    proc = subprocess.run(
        [sys.executable, "-m", "aimusic_async.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.slow
def test_cli_output_never_shows_the_canaries(tmp_path: Path) -> None:
    config = EmulatorConfig(
        seed=3,
        api_keys=(CANARY_KEY,),
        generation_time=(0.05, 0.2),
        lost_response_rate=0.25,
        clip_failure_rate=0.3,
    )
    emu = Emulator(config).start_in_thread()
    try:
        base = emu.base_url
        body = json.dumps(
            {
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "cli canary",
                "webhook_secret": USER_SECRET,
            }
        )
        jobs = tmp_path / "jobs.jsonl"
        jobs.write_text(
            "\n".join(
                json.dumps(
                    {"key": f"j{i}", "operation": "sonic.create", "params": json.loads(body)}
                )
                for i in range(8)
            )
            + "\n"
        )
        outputs = [
            aimusic("-v", "credits", base_url=base),
            aimusic("-v", "--json", "credits", base_url=base),
            aimusic("-v", "credits", base_url=base, key=WRONG_KEY),
            aimusic("-v", "--api-key", WRONG_KEY, "credits", base_url=base),
            aimusic(
                "-v",
                "create",
                "sonic.create",
                body,
                "--wait",
                "--poll-interval",
                "0.05",
                base_url=base,
            ),
            aimusic("-v", "--json", "create", "sonic.create", body, base_url=base),
            aimusic("-v", "get", "no-such-task", base_url=base),
            aimusic("-v", "create", "sonic.create", body, "-p", "custom_mode=maybe", base_url=base),
            aimusic(
                "-v",
                "--json",
                "batch",
                str(jobs),
                "--journal",
                str(tmp_path / "j.db"),
                "--poll-interval",
                "0.05",
                base_url=base,
            ),
            aimusic("-v", "batch", str(jobs), "--journal", str(tmp_path / "j.db"), base_url=base),
            aimusic("-v", "credits", base_url="http://127.0.0.1:9"),
        ]
    finally:
        emu.stop_thread()
    everything = "\n".join(outputs)
    assert "DEBUG" in everything or "debug" in everything.lower()  # -v really was verbose
    assert leaks(everything) == [], [o[:300] for o in outputs if leaks(o)]


async def test_api_redirects_are_not_followed_so_the_key_stays_home(
    serve_app: Callable[[web.Application], Awaitable[str]],
) -> None:
    """An API answer redirecting elsewhere (a compromised proxy, a misconfigured host) must not
    carry the Authorization header to the other host: redirects are never followed."""
    stolen: list[str] = []

    async def thief(request: web.Request) -> web.Response:
        stolen.append(request.headers.get("Authorization", ""))
        return web.json_response({"task_id": "t"})

    other = web.Application()
    other.router.add_route("*", "/{tail:.*}", thief)
    thief_url = await serve_app(other)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(location=f"{thief_url}{request.path}")

    api = web.Application()
    api.router.add_route("*", "/{tail:.*}", redirect)
    base = await serve_app(api)
    async with AIMusicClient(api_key=CANARY_KEY, base_url=base, max_retries=0) as client:
        errors: list[BaseException] = []
        for call in (
            client.credits(),
            client.sonic.get("t-1"),
            client.sonic.create(mv="sonic-v5", custom_mode=False, gpt_description_prompt="x"),
        ):
            try:
                await call
            except AIMusicError as exc:
                errors.append(exc)
    assert len(errors) == 3
    assert stolen == []
    assert all(leaks(exception_text(e)) == [] for e in errors)
