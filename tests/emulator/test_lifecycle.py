"""A task's life on the sonic poll route: not-ready shapes, independent clip states, fields."""

from __future__ import annotations

import asyncio
import re

from aimusic_async.testing import EmulatorConfig

from .conftest import FAST, Api, MakeApi

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_lifecycle_from_not_ready_to_succeeded(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(generation_time=(0.6, 0.6), not_ready_fraction=0.4))
    task_id = await api.create(
        {"custom_mode": True, "mv": "sonic-v4-5", "prompt": "[Verse]\nla la", "title": "T"}
    )
    seen_not_ready: set[str] = set()
    seen_states: set[str] = set()
    final = None
    for _ in range(200):
        reply = await api.get(f"/api/v1/sonic/task/{task_id}")
        body = reply.body
        if "data" not in body:
            assert reply.status in (200, 202)
            if reply.status == 202:
                assert body == {"code": 202, "type": "not_ready", "error": body["error"]}
                seen_not_ready.add("202")
            elif body.get("type") == "not_ready":
                seen_not_ready.add("type")
            else:
                assert body == {"code": 200, "message": "success"}
                seen_not_ready.add("no-data")
            assert not seen_states, "not-ready after clips appeared"
            await asyncio.sleep(0.01)
            continue
        assert reply.status == 200
        clips = body["data"]
        assert len(clips) == 2
        seen_states.update(c["state"] for c in clips)
        if all(c["state"] in ("succeeded", "failed") for c in clips):
            final = clips
            break
        await asyncio.sleep(0.01)
    assert final is not None
    assert seen_not_ready == {"202", "type", "no-data"}
    assert {"pending", "running", "streaming", "succeeded"} <= seen_states
    for clip in final:
        assert clip["state"] == "succeeded"
        assert isinstance(clip["duration"], str)
        assert float(clip["duration"]) > 0
        assert ISO_Z.match(clip["created_at"])
        assert clip["mv"] in ("sonic-v4-5", "chirp-v4-5")
        assert clip["title"] == "T"
        assert clip["lyrics"] == "[Verse]\nla la"
        assert clip["video_url"] is None
        assert clip["audio_url"].startswith(api.emu.cdn_url)
    record = api.emu.tasks[task_id]
    assert record.family == "sonic"
    assert record.task_type == "create_music"
    assert record.body["prompt"] == "[Verse]\nla la"
    assert record.key == api.emu.api_key
    assert [c.clip_id for c in record.clips] == [c["clip_id"] for c in final]


async def test_clips_progress_independently(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(generation_time=(0.8, 0.8), streaming=False))
    task_id = await api.create()
    mixed = False
    for _ in range(200):
        reply = await api.get(f"/api/v1/sonic/task/{task_id}")
        states = [c["state"] for c in reply.body.get("data") or []]
        assert "streaming" not in states
        if len(set(states)) > 1:
            mixed = True
        if states and all(s == "succeeded" for s in states):
            break
        await asyncio.sleep(0.01)
    assert mixed, "both clips always moved together"


async def test_generation_time_bounds_completion(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(generation_time=(0.3, 0.3)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    task_id = await api.create()
    await api.wait(task_id)
    elapsed = loop.time() - started
    assert 0.28 <= elapsed < 1.5


async def test_unknown_and_missing_task_ids(api: Api) -> None:
    reply = await api.get("/api/v1/sonic/task/nope")
    assert (reply.status, reply.body) == (400, {"code": 400, "message": "task not found."})
    reply = await api.get("/api/v1/sonic/task/")
    assert (reply.status, reply.body) == (400, {"code": 400, "message": "missing task id."})


async def test_tasks_are_private_to_their_key(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(api_keys=("key-a", "key-b")))
    task_id = await api.create(key="key-a")
    reply = await api.get(f"/api/v1/sonic/task/{task_id}", key="key-b")
    assert (reply.status, reply.body["message"]) == (400, "task not found.")
    # ...and a sonic id is not a producer task
    reply = await api.get(f"/api/v1/producer/task/{task_id}", key="key-a")
    assert reply.status == 400


async def test_same_seed_same_answers_however_polled(make_api: MakeApi) -> None:
    config = EmulatorConfig(seed=42, generation_time=(0.05, 0.1), clip_failure_rate=0.5)

    async def run(eager: bool) -> tuple[list[str], list[list[tuple[str, str, str]]]]:
        api = await make_api(config)
        ids = [await api.create() for _ in range(4)]
        if eager:
            finals = [await api.wait(t) for t in ids]  # many polls
        else:
            await asyncio.sleep(0.15)
            finals = [await api.get(f"/api/v1/sonic/task/{t}") for t in ids]  # one poll each
        clips = [
            [(c["clip_id"], c["state"], c["duration"]) for c in f.body["data"]] for f in finals
        ]
        return ids, clips

    first, second = await run(eager=True), await run(eager=False)
    assert first == second
    states = {state for task in first[1] for _, state, _ in task}
    assert states == {"succeeded", "failed"}


async def test_records_keep_keys_and_secrets_out_of_repr(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(api_keys=("sk-very-secret",)))
    task_id = await api.create(
        {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x",
         "webhook_url": "https://example.com/h", "webhook_secret": "whsec-hidden"}
    )  # fmt: skip
    record = api.emu.tasks[task_id]
    text = repr(record) + repr(api.emu.config) + repr(api.emu) + repr(record.clips)
    assert "sk-very-secret" not in text
    assert "whsec-hidden" not in text
    assert record.body["webhook_secret"] == "whsec-hidden"  # still there for tests to check
