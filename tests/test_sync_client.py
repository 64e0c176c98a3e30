"""The blocking client: the async client's namespaces, methods and results without ``await``,
run on an event loop in one background thread; and one async client across event loops.

The emulator runs in a thread of its own here (``start_in_thread``): these tests are plain
functions that block, as a script or a sync web framework would.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aimusic_async._namespaces as namespaces_module
from aimusic_async import (
    AIMusicClient,
    ClientClosedError,
    ConfigurationError,
    Credits,
    Job,
    PollPolicy,
    RawResponse,
    SubmissionUnknownError,
    SyncAIMusicClient,
    SyncBatchRun,
    SyncTask,
    TaskResult,
    TaskSnapshot,
)
from aimusic_async import _constants as C
from aimusic_async._client import runtime_of
from aimusic_async._operations import OPERATIONS, namespaces
from aimusic_async.testing import Emulator, EmulatorConfig

from .conftest import FAST_POLL, TEST_AUDIO_SECONDS, TEST_GENERATION_TIME

DESCRIBE = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "calm lo-fi"}


@pytest.fixture
def threaded_emulator() -> Iterator[Emulator]:
    emu = Emulator(
        EmulatorConfig(
            seed=1, generation_time=TEST_GENERATION_TIME, audio_seconds=TEST_AUDIO_SECONDS
        )
    )
    with emu:
        yield emu


@pytest.fixture
def sync_client(threaded_emulator: Emulator) -> Iterator[SyncAIMusicClient]:
    with SyncAIMusicClient(
        threaded_emulator.api_key, threaded_emulator.base_url, poll=FAST_POLL
    ) as client:
        yield client


def loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == C.SYNC_THREAD_NAME}


def new_loop_thread(before: set[threading.Thread]) -> threading.Thread:
    (thread,) = loop_threads() - before
    return thread


# -- the surface -----------------------------------------------------------------------------------
def test_every_async_method_has_its_blocking_and_raw_counterparts() -> None:
    """Each method of each async namespace exists on the blocking client, on its
    ``with_raw_response`` and on the async ``with_raw_response``, with the same parameters; the
    blocking one returns a ``SyncTask`` where the async one returns a ``Task``."""
    client = SyncAIMusicClient("sk-test", "http://127.0.0.1:9")
    aclient = AIMusicClient("sk-test", "http://127.0.0.1:9")
    try:
        checked = 0
        for op in OPERATIONS.values():
            original = getattr(getattr(aclient, op.namespace), op.method)
            params = inspect.signature(original).parameters
            returns = inspect.signature(original).return_annotation
            flavours = {
                "blocking": getattr(getattr(client, op.namespace), op.method),
                "blocking raw": getattr(getattr(client.with_raw_response, op.namespace), op.method),
                "async raw": getattr(getattr(aclient.with_raw_response, op.namespace), op.method),
            }
            for flavour, counterpart in flavours.items():
                signature = inspect.signature(counterpart)
                assert signature.parameters == params, f"{flavour} {op.name}"
                assert counterpart.__doc__ == original.__doc__, f"{flavour} {op.name}"
            assert inspect.signature(flavours["blocking"]).return_annotation == (
                "SyncTask" if returns == "Task" else returns
            )
            assert inspect.iscoroutinefunction(flavours["async raw"])
            assert not inspect.iscoroutinefunction(flavours["blocking"])
            checked += 1
        assert checked == len(OPERATIONS)
        # The client's own methods: the same parameters too.
        for name in ("credits", "download", "batch"):
            ours = inspect.signature(getattr(client, name)).parameters
            theirs = inspect.signature(getattr(aclient, name)).parameters
            assert ours == theirs, name
        assert (
            inspect.signature(client.task).parameters == inspect.signature(aclient.task).parameters
        )
    finally:
        client.close()


def test_the_blocking_client_offers_what_the_async_one_does() -> None:
    """Every public name of ``AIMusicClient`` is on ``SyncAIMusicClient`` too, except the async
    lifecycle (``aclose`` is ``close``) and the webhook receiver (it serves from an event
    loop: use the async client there)."""
    async_only = {"aclose", "webhooks"}
    public = {name for name in dir(AIMusicClient) if not name.startswith("_")}
    missing = sorted(public - async_only - set(dir(SyncAIMusicClient)))
    assert missing == []


def test_the_constructor_is_the_async_ones_without_a_session() -> None:
    """The same parameters, in order, with the same defaults; no ``session``: an aiohttp session
    belongs to the loop it was made on, which the caller of a blocking client cannot reach."""
    ours = dict(inspect.signature(SyncAIMusicClient.__init__).parameters)
    theirs = dict(inspect.signature(AIMusicClient.__init__).parameters)
    del theirs["session"]
    assert list(ours) == list(theirs)
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
        assert ours[name].kind == param.kind, name


def render_generated() -> str:
    """The generated block of ``_namespaces.py``, from the operation table."""
    client = AIMusicClient("sk-test", "http://127.0.0.1:9")
    out = []
    for namespace in namespaces():
        resource = type(getattr(client, namespace)).__name__
        out.append(f"class {namespace.capitalize()}Methods(Namespace[M]):")
        out.append(
            f'    """``client.{namespace}`` of the blocking client and of ``with_raw_response``."""'
        )
        out.append("")
        for op in OPERATIONS.values():
            if op.namespace == namespace:
                out.append(f"    {op.method} = method({resource}.{op.method})")
        out.append("\n")
    return "\n".join(out).rstrip("\n") + "\n"


GENERATED = re.compile(
    r"(# --- generated from the operation table[^\n]*\n)(.*?)(\n\n# --- end)", re.S
)


def test_the_generated_namespaces_follow_the_operation_table() -> None:
    """The blocking and raw namespaces list every operation (static types need one line per
    method). After adding an operation, run this test with AIMUSIC_REGENERATE=1 to rewrite."""
    path = Path(namespaces_module.__file__)
    source = path.read_text(encoding="utf-8")
    match = GENERATED.search(source)
    assert match is not None
    expected = render_generated()
    if match.group(2) != expected and os.environ.get("AIMUSIC_REGENERATE") == "1":
        path.write_text(source[: match.start(2)] + expected + source[match.end(2) :], "utf-8")
        source = path.read_text(encoding="utf-8")
        match = GENERATED.search(source)
        assert match is not None
    assert match.group(2) == expected


def test_a_bad_setting_fails_before_any_thread_starts() -> None:
    before = loop_threads()
    with pytest.raises(ConfigurationError):
        SyncAIMusicClient("sk-test", "ftp://nowhere")
    with pytest.raises(ConfigurationError):
        SyncAIMusicClient("sk-test", "http://127.0.0.1:9", event_hooks={"sent": [print]})
    assert loop_threads() <= before


# -- against the emulator --------------------------------------------------------------------------
def test_create_wait_and_the_handle(
    threaded_emulator: Emulator, sync_client: SyncAIMusicClient
) -> None:
    task = sync_client.sonic.create(**DESCRIBE)
    assert isinstance(task, SyncTask)
    assert task.family == "sonic"
    assert task.done is False
    assert task.request_id is not None
    assert task.request_id.startswith("req_")
    result = task.wait()
    assert isinstance(result, TaskResult)
    assert result.succeeded
    assert task.done is True
    assert task.result == result
    assert task.last is not None
    assert task.last.status == "succeeded"
    assert task.polls >= 1
    assert task.refresh().status == "succeeded"  # known finished: no request
    # A handle rebuilt from the id, watched to the end: the final snapshot last.
    again = sync_client.task(task.id)
    snapshots = list(again.watch())
    assert snapshots[-1].status == "succeeded"
    assert all(isinstance(s, TaskSnapshot) for s in snapshots)
    # The utilities answer at once, with their typed results.
    credits = sync_client.credits()
    assert isinstance(credits, Credits)
    assert credits.request_id is not None
    bpm = sync_client.sonic.bpm(result.clips[0].clip_id)
    assert bpm.avg_bpm is not None
    assert threaded_emulator.stats.creates == 1


def test_peek_and_recover_never_poll(
    threaded_emulator: Emulator, sync_client: SyncAIMusicClient
) -> None:
    """``peek`` answers from what is known without a request; ``recover`` hands back a blocking
    handle at once for an error that named its task, and None when no callback came in time."""
    task = sync_client.sonic.create(**DESCRIBE)
    polls = threaded_emulator.stats.polls
    assert task.peek() is None
    assert threaded_emulator.stats.polls == polls
    task.wait()
    assert task.peek() == task.last
    named = SubmissionUnknownError(
        "a hook raised", operation="sonic.create", path="/x", task_id=task.id
    )
    found = sync_client.recover(named)
    assert isinstance(found, SyncTask)
    assert found.id == task.id
    lost = SubmissionUnknownError(
        "timed out", operation="sonic.create", path="/x", reference="ref-never-called-back"
    )
    assert sync_client.recover(lost, timeout=0.05) is None


def test_watch_stopped_early_is_closed_on_the_loop(sync_client: SyncAIMusicClient) -> None:
    task = sync_client.sonic.create(**DESCRIBE)
    watching = task.watch()
    first = next(watching)
    assert isinstance(first, TaskSnapshot)
    watching.close()  # the async generator is closed on the loop, not left to the collector
    assert task.wait().succeeded


def test_eight_threads_share_one_client(
    threaded_emulator: Emulator, sync_client: SyncAIMusicClient
) -> None:
    """One client, eight threads, several tasks each: every call runs on the one loop, none
    waits for another thread's, and nothing is sent twice."""
    per_thread = 4
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            tasks = [
                sync_client.sonic.create(**{**DESCRIBE, "gpt_description_prompt": f"song {n}-{i}"})
                for i in range(per_thread)
            ]
            results[n] = [t.wait().task_id for t in tasks]
            sync_client.credits()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ids = [task_id for ids in results.values() for task_id in ids]
    assert len(ids) == 8 * per_thread
    assert len(set(ids)) == len(ids)
    assert threaded_emulator.stats.creates == 8 * per_thread


def test_batch_and_download(
    threaded_emulator: Emulator, sync_client: SyncAIMusicClient, tmp_path: Path
) -> None:
    jobs = [
        Job(key=f"song-{i}", operation="sonic.create", params={**DESCRIBE, "title": f"S{i}"})
        for i in range(3)
    ]
    with sync_client.batch(jobs, concurrency=2) as run:
        assert isinstance(run, SyncBatchRun)
        outcomes = list(run)
        assert run.progress.finished == 3
    assert sorted(o.job.key for o in outcomes) == ["song-0", "song-1", "song-2"]
    assert all(o.ok for o in outcomes)
    clip = outcomes[0].result.succeeded[0] if outcomes[0].result else None
    assert clip is not None
    path = sync_client.download(clip, tmp_path)
    assert path.read_bytes() == threaded_emulator.audio_bytes(clip.clip_id)


def test_a_batch_left_early_stops(sync_client: SyncAIMusicClient) -> None:
    jobs = [Job(key=f"song-{i}", operation="sonic.create", params=DESCRIBE) for i in range(6)]
    with sync_client.batch(jobs, concurrency=1) as run:
        first = next(run)
    assert first.job.key.startswith("song-")
    assert run.progress.finished < 6


def test_raw_responses_of_the_blocking_client(sync_client: SyncAIMusicClient) -> None:
    raw = sync_client.with_raw_response.sonic.create(**DESCRIBE)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.request_id is not None
    assert raw.json()["task_id"] == raw.parse().id
    task = raw.parse()
    assert isinstance(task, SyncTask)
    assert task.request_id == raw.request_id
    assert task.wait().succeeded
    credits = sync_client.with_raw_response.credits()
    assert isinstance(credits.parse(), Credits)
    assert credits.parse().request_id == credits.request_id


def test_a_view_shares_the_loop_and_pool_and_closing_it_closes_nothing(
    sync_client: SyncAIMusicClient,
) -> None:
    view = sync_client.with_options(timeout=7.5, poll=PollPolicy(timeout=0.001))
    assert view.hub is sync_client.hub
    with view:
        task = view.sonic.create(**DESCRIBE)
    # Its poll policy: a deadline this short passes before the task can finish.
    with pytest.raises(TimeoutError):
        task.wait()
    assert not sync_client.is_closed
    assert not view.is_closed
    assert sync_client.task(task.id).wait().succeeded


def test_close_stops_the_thread_and_later_calls_say_closed(threaded_emulator: Emulator) -> None:
    before = loop_threads()
    client = SyncAIMusicClient(threaded_emulator.api_key, threaded_emulator.base_url)
    thread = new_loop_thread(before)
    client.credits()
    client.close()
    client.close()  # twice is fine
    assert client.is_closed
    assert not thread.is_alive()
    with pytest.raises(ClientClosedError):
        client.credits()
    with pytest.raises(ClientClosedError):
        client.sonic.create(**DESCRIBE)


def test_close_from_another_thread_ends_a_blocked_wait() -> None:
    slow = Emulator(EmulatorConfig(seed=1, generation_time=(30.0, 30.0)))
    with slow:
        polled = threading.Event()
        client = SyncAIMusicClient(
            slow.api_key,
            slow.base_url,
            poll=FAST_POLL,
            event_hooks={"poll": [lambda event: polled.set()]},
        )
        task = client.sonic.create(**DESCRIBE)
        caught: list[BaseException] = []

        def wait() -> None:
            try:
                task.wait()
            except BaseException as exc:
                caught.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert polled.wait(10)  # the wait is under way: it has polled
        client.close()
        waiter.join(10)
    assert not waiter.is_alive()
    assert len(caught) == 1
    assert isinstance(caught[0], ClientClosedError)


def test_a_forgotten_client_is_closed_when_collected(threaded_emulator: Emulator) -> None:
    """No close(), no with: the pool is closed (no "Unclosed" warning, which is an error here)
    and the loop thread ends once nothing refers to the client."""
    before = loop_threads()
    client = SyncAIMusicClient(
        threaded_emulator.api_key, threaded_emulator.base_url, poll=FAST_POLL
    )
    thread = new_loop_thread(before)
    client.credits()
    task = client.sonic.create(**DESCRIBE)
    del client
    gc.collect()
    # A handle keeps the loop alive: it can still be waited on.
    assert task.wait().succeeded
    assert thread.is_alive()
    del task
    gc.collect()
    assert not thread.is_alive()


def test_calling_the_blocking_client_from_its_own_loop_thread_says_why(
    threaded_emulator: Emulator,
) -> None:
    """An event hook runs on the client's loop thread; a blocking call there would deadlock."""
    seen: list[BaseException] = []
    holder: dict[str, SyncAIMusicClient] = {}

    def hook(event: Any) -> None:
        try:
            holder["client"].credits()
        except RuntimeError as exc:
            seen.append(exc)

    with SyncAIMusicClient(
        threaded_emulator.api_key, threaded_emulator.base_url, event_hooks={"response": [hook]}
    ) as client:
        holder["client"] = client
        client.credits()
    assert len(seen) == 1
    assert "own event loop thread" in str(seen[0])


# -- one async client, several event loops -------------------------------------------------------
def test_one_async_client_serves_two_asyncio_runs(threaded_emulator: Emulator) -> None:
    """Once ``RuntimeError: Event loop is closed`` and a leaked socket: the pool of a loop that
    ended is closed with it, and the next ``asyncio.run`` gets a new one."""
    client = AIMusicClient(threaded_emulator.api_key, threaded_emulator.base_url, poll=FAST_POLL)

    async def credits() -> int:
        return (await client.credits()).credits

    async def create_and_wait() -> bool:
        task = await client.sonic.create(**DESCRIBE)
        return bool((await task).succeeded)

    first = asyncio.run(credits())
    assert asyncio.run(create_and_wait()) is True
    assert asyncio.run(credits()) < first
    asyncio.run(client.aclose())
    assert client.is_closed
    gc.collect()  # an unclosed session or socket would warn here (warnings are errors)
    assert threaded_emulator.stats.creates == 1


def test_a_client_busy_on_another_running_loop_says_why(threaded_emulator: Emulator) -> None:
    client = AIMusicClient(threaded_emulator.api_key, threaded_emulator.base_url)
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(client.credits(), other).result(10)
        with pytest.raises(ConfigurationError, match="another event loop, which is still running"):
            asyncio.run(client.credits())
    finally:
        asyncio.run_coroutine_threadsafe(client.aclose(), other).result(10)
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()
    assert runtime_of(client).transport.closed
