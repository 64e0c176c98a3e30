"""Task polling, results, failures, deadlines, sharing, cancellation, webhooks, adaptivity."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from aimusic_async import (
    AIMusicClient,
    AuthenticationError,
    PollPolicy,
    ResponseValidationError,
    ServerError,
    TaskFailedError,
    TaskNotFoundError,
    TaskSnapshot,
    TaskTimeoutError,
)
from aimusic_async import _constants as C
from aimusic_async import _tasks as tasks_module
from aimusic_async._client import runtime_of
from aimusic_async._tasks import DurationEstimates
from aimusic_async.families import SonicFamily
from aimusic_async.models.common import Clip

from ._scripted import DROP, Hang, Script

Serve = Callable[[web.Application], Awaitable[str]]
POLICY = PollPolicy(initial_interval=0.01, max_interval=0.03, multiplier=1.5, timeout=10.0)
TID = "51bc6dd0-508a-414d-9ef3-71f7bad81cf7"
PATH = f"/api/v1/sonic/task/{TID}"


def clip(n: int, state: str, **extra: Any) -> dict[str, Any]:
    base = {
        "clip_id": f"clip-{n}",
        "state": state,
        "title": "Song",
        "duration": "104.88",
        "mv": "chirp-v5",
        "video_url": None,
        "created_at": "2025-10-12T13:13:02.488Z",
    }
    if state == "succeeded":
        base["audio_url"] = f"https://cdn.example/{n}.mp3"
    base.update(extra)
    return base


def ok(*clips: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return (200, {"code": 200, "message": "success", "data": list(clips)})


LIFECYCLE = [
    (202, {"code": 202, "type": "not_ready", "error": "not ready"}),
    (200, {"type": "not_ready", "message": "Task is not ready yet"}),
    (200, {"code": 200, "message": "success"}),
    ok(clip(1, "pending"), clip(2, "pending")),
    ok(clip(1, "succeeded"), clip(2, "streaming")),
    ok(clip(1, "succeeded"), clip(2, "succeeded")),
]


@pytest.fixture
async def scripted_client(
    serve_app: Serve,
) -> AsyncIterator[Callable[..., Awaitable[tuple[AIMusicClient, Script]]]]:
    clients: list[AIMusicClient] = []

    async def make(steps: list[Any], **kw: Any) -> tuple[AIMusicClient, Script]:
        script = Script(steps)
        base = await serve_app(script.app())
        kw.setdefault("poll", POLICY)
        kw.setdefault("max_retries", 0)
        c = AIMusicClient(api_key="sk-test", base_url=base, **kw)
        c.register_family(SonicFamily())
        await c.__aenter__()
        clients.append(c)
        return c, script

    yield make
    for c in clients:
        await c.aclose()


Make = Callable[..., Awaitable[tuple[AIMusicClient, Script]]]


async def test_lifecycle_to_result_and_reawait(scripted_client: Make) -> None:
    client, script = await scripted_client(LIFECYCLE)
    task = client.task(TID)
    assert repr(task) == f"Task(id={TID!r}, family='sonic', state='pending')"
    result = await task
    assert [c.clip_id for c in result.clips] == ["clip-1", "clip-2"]
    assert result.clips[0].duration == pytest.approx(104.88)
    assert len(result.succeeded) == 2
    assert task.polls == script.count(PATH) == len(LIFECYCLE)
    assert task.result is result
    assert "succeeded" in repr(task)
    # Re-await: the same result, no request.
    assert await task is result
    assert await task.wait() is result
    assert script.count() == len(LIFECYCLE)


async def test_partial_failure_is_a_result(scripted_client: Make) -> None:
    client, _ = await scripted_client(
        [ok(clip(1, "succeeded"), clip(2, "failed", error_message="moderation"))]
    )
    result = await client.task(TID)
    assert [c.clip_id for c in result.succeeded] == ["clip-1"]
    assert [c.clip_id for c in result.failed] == ["clip-2"]


async def test_all_failed_raises_with_reason_and_reraises(scripted_client: Make) -> None:
    client, script = await scripted_client(
        [ok(clip(1, "running")), ok(clip(1, "failed", error_message="Upstream error"))]
    )
    task = client.task(TID)
    with pytest.raises(TaskFailedError) as info:
        await task
    assert info.value.task_id == TID
    assert info.value.reason == "Upstream error"
    n = script.count()
    with pytest.raises(TaskFailedError):
        await task
    assert script.count() == n
    assert "failed" in repr(task)


async def test_provider_timeout_504_means_failed(scripted_client: Make) -> None:
    client, _ = await scripted_client(
        [(504, {"message": "Task failed due to timeout. Credits were previously refunded."})]
    )
    with pytest.raises(TaskFailedError) as info:
        await client.task(TID)
    assert "timeout" in info.value.reason


async def test_deadline_raises_task_timeout(scripted_client: Make) -> None:
    client, _ = await scripted_client([(202, None)])
    task = client.task(TID)
    with pytest.raises(TaskTimeoutError) as info:
        await task.wait(timeout=0.15)
    assert info.value.task_id == TID
    assert isinstance(info.value, TimeoutError)
    assert info.value.waited >= 0.15
    assert task.polls >= 3


async def test_deadline_holds_while_a_poll_hangs_and_is_retried(scripted_client: Make) -> None:
    # Each poll attempt may take the client's whole timeout, and safe requests are retried:
    # without a bound from the deadline, wait(timeout=0.3) would take three timeouts and more.
    client, script = await scripted_client(
        [Hang(2.5, then=(202, None))], timeout=2.0, max_retries=2
    )
    task = client.task(TID)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TaskTimeoutError):
        await task.wait(timeout=0.3)
    assert loop.time() - began < 1.5
    assert script.count(PATH) == 1  # no retry was started past the deadline


async def test_policy_timeout_is_the_default_deadline(scripted_client: Make) -> None:
    client, _ = await scripted_client(
        [(202, None)], poll=PollPolicy(initial_interval=0.01, max_interval=0.02, timeout=0.1)
    )
    with pytest.raises(TaskTimeoutError):
        await client.task(TID)


async def test_transient_poll_errors_are_absorbed(scripted_client: Make) -> None:
    steps = [
        (500, {"message": "Internal Server Error."}),
        DROP,
        (200, "<<garbled>>"),
        (429, {"message": "slow"}, {"Retry-After": "0.01"}),
        (408, {"message": "Request Timeout"}),  # retryable like a 5xx
        (200, {"code": 200, "data": [{"state": "running"}]}),  # clip without id: malformed
        ok(clip(1, "succeeded")),
    ]
    client, script = await scripted_client(steps)
    result = await client.task(TID)
    assert result.clips[0].clip_id == "clip-1"
    assert script.count() == len(steps)


async def test_too_many_consecutive_errors_raise_the_last(scripted_client: Make) -> None:
    client, script = await scripted_client([(503, {"message": "down"})])
    with pytest.raises(ServerError):
        await client.task(TID)
    assert script.count() == C.POLL_MAX_CONSECUTIVE_ERRORS


async def test_garbled_bodies_forever_raise_response_validation(scripted_client: Make) -> None:
    client, _ = await scripted_client([(200, {"code": 200, "data": "nonsense"})])
    with pytest.raises(ResponseValidationError):
        await client.task(TID)


@pytest.mark.parametrize(
    ("step", "exc"),
    [
        ((400, {"code": 400, "message": "task not found."}), TaskNotFoundError),
        ((401, {"message": "Invalid authorization format."}), AuthenticationError),
    ],
)
async def test_fatal_errors_propagate_at_once(
    scripted_client: Make, step: Any, exc: type[Exception]
) -> None:
    client, script = await scripted_client([step])
    with pytest.raises(exc):
        await client.task(TID)
    assert script.count() == 1


async def test_create_voice_object_answer(scripted_client: Make) -> None:
    client, _ = await scripted_client(
        [(202, None), (200, {"code": 200, "data": {"persona_id": "p-1", "name": "Me"}})]
    )
    result = await client.task(TID)
    assert result.persona_id == "p-1"


async def test_refresh_is_one_poll(scripted_client: Make) -> None:
    client, script = await scripted_client(LIFECYCLE)
    task = client.task(TID)
    snap = await task.refresh()
    assert isinstance(snap, TaskSnapshot)
    assert snap.status == "not_ready"
    assert task.last is snap
    assert script.count() == 1
    result = await task
    # Once finished, refresh answers from memory: the final snapshot, no request.
    polls = script.count()
    final = await task.refresh()
    assert final.status == "succeeded"
    assert [c.clip_id for c in final.clips] == [c.clip_id for c in result.clips]
    assert script.count() == polls


async def test_watch_yields_changes_in_order(scripted_client: Make) -> None:
    client, _ = await scripted_client(LIFECYCLE)
    task = client.task(TID)
    statuses = []
    async for snap in task.watch():
        statuses.append((snap.status, tuple(c.state for c in snap.clips)))
    # Three "not ready" shapes collapse into one change; every clip transition is seen.
    assert statuses == [
        ("not_ready", ()),
        ("running", ("pending", "pending")),
        ("running", ("succeeded", "streaming")),
        ("succeeded", ("succeeded", "succeeded")),
    ]
    assert task.result is not None


async def test_concurrent_awaits_share_one_poll_loop(scripted_client: Make) -> None:
    client, script = await scripted_client(LIFECYCLE)
    task = client.task(TID)
    results = await asyncio.gather(*(task.wait() for _ in range(20)), task.refresh())
    assert all(r is results[0] for r in results[:20])
    # The 20 waiters and one refresh cost what a single waiter costs (+ the refresh).
    assert script.count() == len(LIFECYCLE)


async def test_follower_takes_over_when_driver_is_cancelled(scripted_client: Make) -> None:
    client, _ = await scripted_client([(202, None)] * 8 + [ok(clip(1, "succeeded"))])
    task = client.task(TID)
    first = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0.03)
    second = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0.02)
    first.cancel()
    result = await second
    assert result.clips[0].clip_id == "clip-1"
    with pytest.raises(asyncio.CancelledError):
        await first


def _client_side(tasks: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    # The scripted server's keep-alive handlers are the server's business, not the client's.
    return {t for t in tasks if "RequestHandler" not in repr(t.get_coro())}


async def test_cancellation_leaves_nothing_running(scripted_client: Make) -> None:
    client, script = await scripted_client([(202, None)] * 10 + [ok(clip(1, "succeeded"))])
    before = asyncio.all_tasks()
    task = client.task(TID)
    waiter = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    seen = script.count()
    await asyncio.sleep(0.1)
    assert script.count() == seen  # no polling after cancellation
    assert _client_side(asyncio.all_tasks()) == _client_side(before)
    connector = runtime_of(client).transport.session.connector
    assert connector is not None
    assert not connector._acquired  # no connection held by a cancelled poll
    # The handle is still usable.
    assert (await task).clips[0].clip_id == "clip-1"


async def test_webhook_push_resolves_without_polls(scripted_client: Make) -> None:
    client, script = await scripted_client([(202, None)])
    client.webhooks.grace = 30.0
    task = runtime_of(client).task(TID, SonicFamily(), fresh=True, push=True)
    waiter = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    snap = SonicFamily().parse_task(TID, 200, ok(clip(1, "succeeded"))[1])
    assert client.hub.deliver(snap)
    result = await asyncio.wait_for(waiter, 1.0)
    assert result.clips[0].clip_id == "clip-1"
    assert script.count() == 0
    assert client.hub.future(TID) is None  # released


async def test_webhook_lost_falls_back_to_polling(scripted_client: Make) -> None:
    client, script = await scripted_client([(202, None), ok(clip(1, "succeeded"))])
    client.webhooks.grace = 0.05
    result = await runtime_of(client).task(TID, SonicFamily(), fresh=True, push=True).wait()
    assert result.clips[0].clip_id == "clip-1"
    assert script.count() == 2


async def test_webhook_wait_learns_from_the_batch(scripted_client: Make) -> None:
    """A task whose grace ran out does not poll while the batch says it is not late yet."""
    client, script = await scripted_client([(202, None)])
    client.webhooks.grace = 0.1
    task = runtime_of(client).task(
        TID, SonicFamily(), operation="sonic.create", fresh=True, push=True
    )
    waiter = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0.05)
    runtime_of(client).estimates.observe("sonic.create", 1.0)  # a sibling finished after about 1 s
    await asyncio.sleep(0.25)  # past the grace
    assert script.count() == 0
    client.hub.deliver(SonicFamily().parse_task(TID, 200, ok(clip(1, "succeeded"))[1]))
    assert (await asyncio.wait_for(waiter, 1.0)).clips[0].clip_id == "clip-1"
    assert script.count() == 0


async def test_webhook_failed_push_raises(scripted_client: Make) -> None:
    client, _ = await scripted_client([(202, None)])
    snap = SonicFamily().parse_task(TID, 200, ok(clip(1, "failed", error_message="nope"))[1])
    client.hub.deliver(snap)
    with pytest.raises(TaskFailedError, match="nope"):
        await runtime_of(client).task(TID, SonicFamily(), fresh=True, push=True)


# -- adaptive schedule (virtual time) ----
async def test_adaptive_schedule_learns_durations(
    serve_app: Serve, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks take 30 s. Unlearned, one costs 5-6 polls (3, 4.8, 7.7, 12.3, 19.7 s ...) and is
    noticed up to ~20 s late; once learned, about 2-3 polls with a lag of a couple of seconds."""
    monkeypatch.setattr(tasks_module, "_jitter_rng", random.Random(5))
    finish_at: dict[str, float] = {}

    async def handler(request: web.Request) -> web.Response:
        tid = request.match_info["tid"]
        if fake_clock.now < finish_at[tid]:
            return web.json_response({"type": "not_ready"})
        return web.json_response({"code": 200, "data": [clip(1, "succeeded")]})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", handler)
    base = await serve_app(app)
    policy = PollPolicy(initial_interval=3.0, max_interval=20.0, multiplier=1.6, timeout=600.0)
    polls: list[int] = []
    lags: list[float] = []
    async with AIMusicClient(api_key="k", base_url=base, poll=policy) as client:
        client.register_family(SonicFamily())
        for i in range(20):
            tid = f"t{i}"
            finish_at[tid] = fake_clock.now + 30.0
            task = runtime_of(client).task(tid, SonicFamily(), operation="sonic.create", fresh=True)
            await task
            polls.append(task.polls)
            lags.append(fake_clock.now - finish_at[tid])
    assert polls[0] >= 5
    assert sum(polls[-6:]) / 6 <= 3.0
    assert max(polls[-6:]) <= 4
    assert sum(lags[-6:]) / 6 <= 4.0
    est = runtime_of(client).estimates.get("sonic.create")
    assert est is not None
    assert 27.0 <= est <= 36.0


async def test_tasks_done_at_their_first_poll_do_not_teach_a_growing_wait(
    serve_app: Serve, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instant tasks are found done at the first poll: the finish lies somewhere before it, so
    the estimate must not learn the whole wait (that taught the planned delay itself, and the
    first poll of every later task drifted later than initial_interval)."""
    monkeypatch.setattr(tasks_module, "_jitter_rng", random.Random(3))

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"code": 200, "data": [clip(1, "succeeded")]})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", handler)
    base = await serve_app(app)
    policy = PollPolicy(initial_interval=2.0, max_interval=20.0, multiplier=1.6, timeout=600.0)
    waits: list[float] = []
    async with AIMusicClient(api_key="k", base_url=base, poll=policy) as client:
        client.register_family(SonicFamily())
        for i in range(30):
            begun = fake_clock.now
            task = runtime_of(client).task(
                f"i{i}", SonicFamily(), operation="sonic.create", fresh=True
            )
            await task
            assert task.polls == 1
            waits.append(fake_clock.now - begun)
    est = runtime_of(client).estimates.get("sonic.create")
    assert est is not None
    assert est <= 0.6 * policy.initial_interval
    # Every first poll stays within the jittered initial interval: nothing drifts later.
    assert max(waits) <= policy.initial_interval * (1 + C.POLL_JITTER) + 1e-6


async def test_adaptive_beats_plain_backoff_on_spread_durations(
    serve_app: Serve, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durations spread over 60-180 s (a realistic generation): once learned, the schedule
    notices the finish about ``lag_target`` late, with fewer polls than a steady cadence giving
    the same lag; asked for a lag near the plain backoff's, it costs fewer polls AND notices
    the finish sooner than the plain backoff to 20 s."""
    monkeypatch.setattr(tasks_module, "_jitter_rng", random.Random(11))
    durations = random.Random(3)
    finish_at: dict[str, float] = {}

    async def handler(request: web.Request) -> web.Response:
        if fake_clock.now < finish_at[request.match_info["tid"]]:
            return web.json_response({"type": "not_ready"})
        return web.json_response({"code": 200, "data": [clip(1, "succeeded")]})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", handler)
    base = await serve_app(app)

    async def run(fresh: bool, policy: PollPolicy) -> tuple[float, float]:
        polls: list[int] = []
        lags: list[float] = []
        async with AIMusicClient(api_key="k", base_url=base, poll=policy) as client:
            for i in range(60):
                tid = f"{fresh}-{policy.lag_target}-{i}"
                finish_at[tid] = fake_clock.now + durations.uniform(60.0, 180.0)
                task = runtime_of(client).task(
                    tid, SonicFamily(), operation="sonic.create", fresh=fresh
                )
                await task
                if i >= 20:  # after learning
                    polls.append(task.polls)
                    lags.append(fake_clock.now - finish_at[tid])
        return sum(polls) / len(polls), sum(lags) / len(lags)

    plain_polls, plain_lag = await run(False, PollPolicy())
    learned_polls, learned_lag = await run(True, PollPolicy())  # the default lag target
    assert learned_lag < plain_lag
    assert learned_lag <= 1.5 * PollPolicy().lag
    # A steady cadence noticing the finish as soon costs twice that lag per poll.
    assert learned_polls < 120.0 / (2 * learned_lag)
    relaxed_polls, relaxed_lag = await run(True, PollPolicy(lag_target=6.0))
    assert relaxed_polls < plain_polls
    assert relaxed_lag < plain_lag


def test_duration_estimates_ewma() -> None:
    est = DurationEstimates()
    assert est.get("x") is None
    est.observe("x", 10.0)
    assert est.get("x") == 10.0
    assert est.window("x") == (10.0, 2.5)  # one sample: a wide window
    est.observe("x", 20.0)
    assert est.get("x") == pytest.approx(12.0)
    assert est.window("x") == (pytest.approx(12.0), pytest.approx(2.5 + 0.25 * (10.0 - 2.5)))
    for _ in range(50):
        est.observe("x", 12.0)
    mean, dev = est.window("x") or (0.0, 0.0)
    assert dev == pytest.approx(0.05 * mean)  # floored for near-constant durations
    est.observe("x", 0.0)  # ignored
    assert est.get("x") == pytest.approx(12.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_interval": 0},
        {"max_interval": -1},
        {"multiplier": 0.5},
        {"timeout": 0},
        {"initial_interval": 5, "max_interval": 1},
    ],
)
def test_poll_policy_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**kwargs)


def test_poll_policy_is_immutable_and_backs_off() -> None:
    p = PollPolicy(initial_interval=1, max_interval=5, multiplier=2, timeout=60)
    assert [p.interval(i) for i in range(5)] == [1, 2, 4, 5, 5]
    with pytest.raises(AttributeError):
        p.timeout = 5  # type: ignore[misc]


# -- SonicFamily shapes ----
FAMILY = SonicFamily()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (202, None),
        (202, {"code": 202, "type": "not_ready", "error": "x"}),
        (200, {"type": "not_ready", "message": "not ready"}),
        (200, {"code": 200, "message": "success"}),
        (200, {"code": 200, "message": "success", "data": None}),
        (200, {"code": 200, "message": "success", "data": []}),
    ],
)
def test_not_ready_shapes(status: int, body: Any) -> None:
    snap = FAMILY.parse_task(TID, status, body)
    assert snap.status == "not_ready"
    assert not snap.finished


def test_clip_states_make_the_status() -> None:
    def status(*states: str) -> str:
        body = {"code": 200, "data": [clip(i, s) for i, s in enumerate(states)]}
        return FAMILY.parse_task(TID, 200, body).status

    assert status("pending", "running") == "running"
    assert status("succeeded", "streaming") == "running"
    assert status("succeeded", "running") == "running"
    assert status("succeeded", "failed") == "succeeded"
    assert status("failed", "failed") == "failed"
    assert status("SUCCEEDED") == "succeeded"


def test_auto_concat_pairs_wait_for_full() -> None:
    running = {"code": 200, "data": [{"extended": clip(1, "succeeded"), "full": None}]}
    snap = FAMILY.parse_task(TID, 200, running)
    assert snap.status == "running"
    done = {"code": 200, "data": [{"extended": clip(1, "succeeded"), "full": clip(2, "succeeded")}]}
    snap = FAMILY.parse_task(TID, 200, done)
    assert snap.status == "succeeded"
    assert snap.clips[0].clip_id == "clip-2"


@pytest.mark.parametrize(
    "body",
    [
        "text",
        42,
        {"code": 200, "data": "x"},
        {"code": 200, "data": [{"state": "running"}]},
        {"code": 200, "data": {"unexpected": 1}},
    ],
)
def test_malformed_bodies(body: Any) -> None:
    with pytest.raises(ResponseValidationError):
        FAMILY.parse_task(TID, 200, body)


def test_clip_model_tolerates_quirks() -> None:
    c = Clip.model_validate(clip(1, "succeeded", new_field="kept", created_at=""))
    assert c.duration == pytest.approx(104.88)
    assert c.created_at is None
    assert c.model_extra == {"new_field": "kept"}


async def test_client_task_rejects_bad_ids(scripted_client: Make) -> None:
    client, _ = await scripted_client([(202, None)])
    with pytest.raises(ValueError, match="task_id"):
        client.task("  ")
    with pytest.raises(ValueError, match="family"):
        client.task(TID, family="nope")


def test_a_waiting_handle_is_small() -> None:
    """Benchmarks hold 10,000 tasks in flight; a handle with its last snapshot stays ~2 KB."""
    import tracemalloc

    client = AIMusicClient(api_key="k", base_url="http://127.0.0.1:9")
    family = SonicFamily()
    body = {"code": 202, "type": "not_ready", "error": "Task is not ready yet"}
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        handles = []
        for i in range(2000):
            t = runtime_of(client).task(f"51bc6dd0-508a-414d-9ef3-{i:012d}", family, fresh=True)
            t.last = family.parse_task(t.id, 202, dict(body))
            handles.append(t)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    per_task = sum(d.size_diff for d in after.compare_to(before, "filename")) / len(handles)
    assert per_task < 4096


async def test_poll_retry_after_hint_sets_the_next_interval(
    scripted_client: Make, fake_clock: Any
) -> None:
    client, _ = await scripted_client([(202, None, {"Retry-After": "7"}), ok(clip(1, "succeeded"))])
    await client.task(TID)
    first, second = fake_clock.sleeps
    assert first == pytest.approx(POLICY.initial_interval, rel=C.POLL_JITTER + 0.01)
    assert second == pytest.approx(7.0, rel=C.POLL_JITTER + 0.01)


async def test_a_handle_awaited_late_polls_at_once(scripted_client: Make, fake_clock: Any) -> None:
    # tasks = [await create() ...]; for t in tasks: await t  -- by the time a later task is
    # awaited its planned first poll (initial_interval after its start) is long past: waiting
    # a whole initial_interval more per task would add seconds per task for nothing.
    slow_start = PollPolicy(initial_interval=3.0, max_interval=20.0, timeout=600.0)
    client, script = await scripted_client([ok(clip(1, "succeeded"))], poll=slow_start)
    fresh = runtime_of(client).task(TID, SonicFamily(), fresh=True)
    fake_clock.advance(60.0)  # the caller was busy awaiting other tasks
    await fresh
    assert script.count() == 1
    assert fake_clock.sleeps[0] <= slow_start.initial_interval * C.POLL_JITTER
    # A handle awaited as soon as it is made still waits the initial interval, and so does
    # one that was just refreshed (planned from that poll, not polled again at once).
    await client.task(TID)
    assert fake_clock.sleeps[1] == pytest.approx(3.0, rel=C.POLL_JITTER + 0.01)
    client, script = await scripted_client([(202, None), ok(clip(1, "succeeded"))], poll=slow_start)
    late = runtime_of(client).task(TID, SonicFamily(), fresh=True)
    fake_clock.advance(60.0)
    assert (await late.refresh()).status == "not_ready"
    await late
    assert fake_clock.sleeps[2] == pytest.approx(3.0, rel=C.POLL_JITTER + 0.01)
    assert script.count() == 2


async def test_a_webhook_task_awaited_late_falls_back_from_its_start(
    scripted_client: Make, fake_clock: Any
) -> None:
    # Its callback was lost while the caller awaited other tasks: the grace counts from the
    # task's start, so the fallback poll is due already instead of a whole grace from now.
    client, script = await scripted_client([ok(clip(1, "succeeded"))])
    client.webhooks.grace = 30.0
    task = runtime_of(client).task(TID, SonicFamily(), fresh=True, push=True)
    fake_clock.advance(100.0)
    assert (await task).clips[0].clip_id == "clip-1"
    assert script.count() == 1
    assert sum(fake_clock.sleeps) < 1.0
