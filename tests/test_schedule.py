"""The polling schedule: the lag target, the finish-time distribution and the clip states.

The pure rules (``aimusic_async._schedule``) with plain numbers, then a task's whole schedule in
virtual time against a scripted server whose clips stream before they finish."""

from __future__ import annotations

import random

import pytest
from aiohttp import web

from aimusic_async import AIMusicClient, ConfigurationError, PollPolicy, TaskSnapshot
from aimusic_async import _constants as C
from aimusic_async import _tasks as tasks_module
from aimusic_async._client import runtime_of
from aimusic_async._schedule import DurationEstimates, next_poll, streaming_ready
from aimusic_async.families import SonicFamily
from aimusic_async.models.common import Clip

from .conftest import FakeClock
from .test_tasks import Serve, clip


def spread(n: int, lo: float = 60.0, hi: float = 180.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.uniform(lo, hi) for _ in range(n))


def simulate(
    policy: PollPolicy, samples: list[float], finishes: list[float]
) -> tuple[float, float]:
    """(polls per task, mean lag) of the schedule for tasks finishing at ``finishes``, without
    jitter, the first poll as ``Task`` places it."""
    polls = 0
    lags = 0.0
    for finish in finishes:
        age, step, n = 0.0, 0, 0
        while True:
            plan = next_poll(policy, step, age, samples)
            step += plan.backoff
            if n == 0 and not plan.delay > max(plan.spread, policy.initial_interval):
                age += policy.initial_interval
            else:
                age += plan.delay
            n += 1
            if age >= finish:
                break
        polls += n
        lags += age - finish
    return polls / len(finishes), lags / len(finishes)


def test_without_knowledge_the_plain_backoff() -> None:
    """A rebuilt handle backs off to max_interval; a fresh task of an unknown kind keeps to
    twice the lag target (a steady cadence that notices the finish about that late)."""
    policy = PollPolicy(lag_target=4.0)
    rebuilt = [next_poll(policy, step, 0.0, None).delay for step in range(8)]
    assert rebuilt == [policy.interval(step) for step in range(8)]
    assert rebuilt[-1] == policy.max_interval
    fresh = [next_poll(policy, step, 0.0, []).delay for step in range(8)]
    assert fresh[0] == policy.initial_interval
    assert max(fresh) == 8.0
    assert all(next_poll(policy, s, 0.0, []).backoff for s in range(3))


def test_the_first_poll_waits_for_the_earliest_finish() -> None:
    samples = spread(64)
    plan = next_poll(PollPolicy(), 0, 0.0, samples)
    assert plan.delay == pytest.approx(samples[0])
    assert plan.spread < plan.delay / 3  # jittered by a share of the cadence, not of the wait
    # Too few samples prove nothing about the quiet time: no skipping.
    few = samples[:: len(samples) // (C.SCHEDULE_MIN_SAMPLES - 1)][: C.SCHEDULE_MIN_SAMPLES - 1]
    assert next_poll(PollPolicy(), 0, 0.0, few).delay < few[0]


def test_polls_bunch_where_finishes_are_likely() -> None:
    """With finishes spread evenly, the chance to finish within the next second grows as the
    spread runs out: the spacing shrinks toward its end."""
    samples = spread(64)
    policy = PollPolicy(lag_target=5.0)
    early = next_poll(policy, 0, 70.0, samples).delay
    late = next_poll(policy, 0, 170.0, samples).delay
    assert late < early * 0.6
    assert late >= min(policy.initial_interval, policy.lag)


@pytest.mark.parametrize("lag", [2.0, 5.0, 10.0])
def test_the_lag_target_is_met_with_fewer_polls_than_a_steady_cadence(lag: float) -> None:
    samples = spread(64)
    finishes = spread(2000, seed=2)
    polls, mean_lag = simulate(PollPolicy(lag_target=lag), samples, finishes)
    assert 0.7 * lag <= mean_lag <= 1.3 * lag
    # A steady cadence noticing the finish that late on average polls every 2 * mean_lag.
    steady = sum(finishes) / len(finishes) / (2 * mean_lag)
    assert polls < 0.8 * steady


def test_a_longer_lag_target_costs_fewer_polls() -> None:
    samples = spread(64)
    finishes = spread(500, seed=3)
    curve = [simulate(PollPolicy(lag_target=lag), samples, finishes) for lag in (1, 2, 5, 10)]
    polls = [p for p, _ in curve]
    lags = [lg for _, lg in curve]
    assert polls == sorted(polls, reverse=True)
    assert lags == sorted(lags)


def test_lag_target_is_validated_and_defaults_to_the_initial_interval() -> None:
    for bad in (0, -1.0, float("nan"), True, "3"):
        with pytest.raises(ConfigurationError, match="lag_target"):
            PollPolicy(lag_target=bad)  # type: ignore[arg-type]
    assert PollPolicy().lag == PollPolicy().initial_interval == 3.0
    assert PollPolicy(initial_interval=0.1).lag == 0.1  # quick test policies stay quick
    assert PollPolicy(lag_target=8).lag == 8


def test_finish_ages_follow_the_clip_states() -> None:
    est = DurationEstimates()
    for d in spread(20):
        est.observe("op", d, streamed=True)
        est.observe_stream("op", d - 30.0, d)  # streaming always lasts 30 s
    tails = est.tails("op")
    assert tails == pytest.approx([30.0] * 20)
    # Streaming began about 50 s in: the finish is 30 s later (the narrower of the two models:
    # a fixed time after streaming began, or a fixed multiple of that moment).
    assert est.finish_ages("op", 60.0, 50.0, False, 3.0)[0] == pytest.approx([80.0] * 20)
    # Not streaming yet at 100 s: no finish before 100 s plus the shortest such time.
    before = est.finish_ages("op", 100.0, None, False, 3.0)[0]
    assert before
    assert min(before) > 130.0
    # A wait for the first audio aims at when clips start streaming.
    assert est.finish_ages("op", 0.0, None, True, 3.0)[0] == est.streams("op")

    scaled = DurationEstimates()
    for d in spread(20):
        scaled.observe("op", d, streamed=True)
        scaled.observe_stream("op", 0.8 * d, d)  # streaming is the last fifth of the work
    assert scaled.finish_ages("op", 60.0, 80.0, False, 3.0)[0] == pytest.approx([100.0] * 20)
    before = scaled.finish_ages("op", 100.0, None, False, 3.0)[0]
    assert before
    assert min(before) > 125.0

    # A kind that often finishes without streaming is not pushed later.
    for d in spread(20, seed=4):
        est.observe("op", d, streamed=False)
    assert est.finish_ages("op", 100.0, None, False, 3.0)[0] == est.durations("op")


def snapshot(*states: str, audio: bool = True) -> TaskSnapshot:
    clips = [
        Clip(clip_id=f"c{i}", state=s, audio_url=f"https://cdn/{i}" if audio else None)
        for i, s in enumerate(states)
    ]
    return TaskSnapshot(task_id="t", status="running", clips=clips)


def test_streaming_ready() -> None:
    assert not streaming_ready(None)
    assert not streaming_ready(TaskSnapshot(task_id="t"))
    assert not streaming_ready(snapshot("streaming", "running"))
    assert streaming_ready(snapshot("streaming", "running"), first=True)
    assert streaming_ready(snapshot("streaming", "succeeded"))
    assert streaming_ready(snapshot("streaming", "failed"))  # a failed clip will never play
    assert not streaming_ready(snapshot("failed", "failed"))
    assert not streaming_ready(snapshot("streaming", audio=False))


async def test_streaming_states_save_polls_at_the_same_lag(
    serve_app: Serve, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks take 60-180 s; their clips stream for the last 28 %. Once the client learned how
    long tasks run after they stream, a task that is not streaming yet is not polled as if
    it could finish any second: fewer polls for the same lag target than when the server
    reports no streaming state."""
    tasks: dict[str, tuple[float, float, bool]] = {}  # id -> (start, finish, streams)

    async def handler(request: web.Request) -> web.Response:
        start, finish, streams = tasks[request.match_info["tid"]]
        now = fake_clock.now
        if now >= finish:
            return web.json_response({"code": 200, "data": [clip(1, "succeeded")]})
        if streams and now >= start + 0.72 * (finish - start):
            state = clip(1, "streaming", audio_url="https://cdn.example/1.mp3?stream=1")
        else:
            state = clip(1, "running")
        return web.json_response({"code": 200, "data": [state]})

    app = web.Application()
    app.router.add_get("/api/v1/sonic/task/{tid}", handler)
    base = await serve_app(app)

    async def run(streams: bool) -> tuple[float, float]:
        # The same durations and jitter in both runs: only the clip states differ.
        monkeypatch.setattr(tasks_module, "_jitter_rng", random.Random(7))
        durations = random.Random(5)
        polls: list[int] = []
        lags: list[float] = []
        async with AIMusicClient(api_key="k", base_url=base) as client:
            for i in range(80):
                tid = f"{streams}-{i}"
                finish = fake_clock.now + durations.uniform(60.0, 180.0)
                tasks[tid] = (fake_clock.now, finish, streams)
                task = runtime_of(client).task(
                    tid, SonicFamily(), operation="sonic.create", fresh=True
                )
                await task
                if i >= 20:
                    polls.append(task.polls)
                    lags.append(fake_clock.now - finish)
        return sum(polls) / len(polls), sum(lags) / len(lags)

    plain_polls, plain_lag = await run(streams=False)
    informed_polls, informed_lag = await run(streams=True)
    target = PollPolicy().lag  # the default: initial_interval, 3 s
    assert plain_lag <= 1.5 * target
    assert informed_lag <= 1.5 * target
    assert informed_polls < 0.8 * plain_polls
