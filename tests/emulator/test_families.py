"""Producer, riffusion, nuro and get-credits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import FAST, Api, MakeApi


async def test_producer_lifecycle(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(generation_time=(0.3, 0.3)))
    reply = await api.post(
        "/api/v1/producer/create",
        {"task_type": "create_music", "sound": "warm synths", "title": "Back to You"},
    )
    assert reply.status == 200
    assert reply.body["message"] == "success"
    task_id = reply.body["task_id"]
    statuses = []
    while True:
        poll = await api.get(f"/api/v1/producer/task/{task_id}")
        assert poll.status == 200
        statuses.append(poll.body["status"])
        if poll.body["status"] == "SUCCESS":
            break
        assert poll.body["data"] == []
        await asyncio.sleep(0.02)
    assert {"PENDING", "RUNNING", "SUCCESS"} <= set(statuses)
    (clip,) = poll.body["data"]
    assert clip["title"] == "Back to You"
    assert clip["audio_url"].startswith(api.emu.cdn_url)
    assert clip["wav_url"].startswith(api.emu.cdn_url)
    assert isinstance(clip["duration"], float)
    assert api.emu.stats.credits_charged == 10


async def test_producer_failure_refunds(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(clip_failure_rate=1.0))
    before = api.emu.balance().total
    reply = await api.post("/api/v1/producer/create", {"task_type": "create_music", "lyrics": "la"})
    final = await api.wait(reply.body["task_id"], family="producer")
    assert final.body["status"] == "FAILED"
    assert "Refund" in final.body["message"]
    assert api.emu.balance().total == before


@pytest.mark.parametrize("task_type", ["extend_music", "swap_music_vocals", "music_variation"])
async def test_producer_retired_task_types(api: Api, task_type: str) -> None:
    reply = await api.post("/api/v1/producer/create", {"task_type": task_type, "sound": "x"})
    assert reply.status == 410
    assert "create_music" in reply.body["message"]
    assert api.emu.stats.credits_charged == 0


async def test_producer_validation_and_other_routes(api: Api) -> None:
    reply = await api.post("/api/v1/producer/create", {"task_type": "create_music"})
    assert (reply.status, reply.body["message"]) == (400, "One of 'sound' or 'lyrics' is required.")
    reply = await api.post(
        "/api/v1/producer/create", {"task_type": "create_music", "sound": "x", "title": "t" * 81}
    )
    assert reply.body["message"] == "The title character length should be less than 80."
    reply = await api.post("/api/v1/producer/upload", {"audio_url": "https://e.com/s.mp3"})
    upload = await api.wait(reply.body["task_id"], family="producer")
    clip_id = upload.body["data"][0]["clip_id"]
    assert upload.body["task_type"] == "upload"
    reply = await api.post("/api/v1/producer/download", {"clip_id": clip_id, "format": "wav"})
    down = await api.wait(reply.body["task_id"], family="producer")
    assert down.body["data"][0]["wav_url"]
    reply = await api.post("/api/v1/producer/download", {"clip_id": clip_id, "format": "flac"})
    assert reply.body["message"] == "The 'format' field should be 'mp3' or 'wav'."
    reply = await api.post("/api/v1/producer/lyrics-create", {"prompt": "summer love"})
    lyr = await api.wait(reply.body["task_id"], family="producer")
    assert "summer love" in lyr.body["data"][0]["lyrics"]
    assert lyr.body["task_type"] == "make_lyrics"  # the documented name, not the route's
    reply = await api.post("/api/v1/producer/video-clip", {"clip_id": clip_id})
    assert reply.status == 200
    assert (await api.get("/api/v1/producer/task/nope")).body["message"] == "task not found."


async def test_riffusion_songs_appear_one_by_one(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(generation_time=(0.8, 0.8), not_ready_fraction=0.1))
    reply = await api.post(
        "/api/v1/riffusion/create", {"mv": "FUZZ-1.0", "prompt": "x", "custom_mode": False}
    )
    counts = set()
    while True:
        poll = await api.get(f"/api/v1/riffusion/task/{reply.body['task_id']}")
        data = poll.body.get("data") or []
        counts.add(len(data))
        if len(data) == 2 and all(c["state"] == "succeeded" for c in data):
            break
        await asyncio.sleep(0.01)
    assert counts >= {1, 2}


async def test_riffusion(api: Api) -> None:
    reply = await api.post(
        "/api/v1/riffusion/create",
        {"mv": "FUZZ-1.1 Pro", "prompt": "r&b pop", "custom_mode": False},
    )
    assert reply.status == 200
    final = await api.wait(reply.body["task_id"], family="riffusion")
    assert len(final.body["data"]) == 2
    assert isinstance(final.body["data"][0]["duration"], float)
    assert api.emu.stats.credits_charged == 12
    up = await api.post("/api/v1/riffusion/upload", {"url": "https://e.com/a.mp3"})
    assert up.body["clip_id"]
    reply = await api.post("/api/v1/riffusion/create", riffusion_extend_body(up.body["clip_id"]))
    assert reply.status == 200
    extend = {**riffusion_extend_body(up.body["clip_id"]), "continue_at": None}
    bad = await api.post("/api/v1/riffusion/create", extend)
    assert (bad.status, bad.body["message"]) == (
        400,
        "The 'continue_at' field is required when task_type = extend_upload_music.",
    )
    bad = await api.post("/api/v1/riffusion/create", {"mv": "sonic-v5", "custom_mode": False})
    assert bad.status == 400
    bad = await api.post("/api/v1/riffusion/create", {"mv": "FUZZ-1.0", "prompt": "x"})
    assert bad.body["message"] == "The 'custom_mode' field is required."


def riffusion_extend_body(clip_id: str) -> dict[str, Any]:
    return {
        "task_type": "extend_upload_music",
        "continue_clip_id": clip_id,
        "continue_at": 10,
        "custom_mode": True,
        "lyrics": "[Verse] x",
        "sound": "pop",
        "mv": "FUZZ-1.0",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/nuro/create"), ("GET", "/api/v1/nuro/task/abc")],
)
async def test_nuro_is_retired(api: Api, method: str, path: str) -> None:
    reply = await (api.post(path, {"type": "vocal"}) if method == "POST" else api.get(path))
    assert reply.status == 410
    assert "/api/v1/sonic/create" in reply.body["message"]
    assert "/api/v1/producer/create" in reply.body["message"]


async def test_stats_endpoint_needs_no_auth(api: Api) -> None:
    await api.create()
    async with api.session.get(api.emu.base_url + "/_emulator/stats") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body == api.emu.stats.as_dict()
    assert body["creates"] == 1
    assert body["requests"] == 1  # the stats call itself is not counted
    for name in (
        "requests", "creates", "polls", "credits_charged", "credits_refunded", "webhooks_sent",
        "webhooks_lost", "webhooks_duplicated", "cdn_requests", "cdn_requests_with_auth",
        "rate_limited", "server_errors", "disconnects", "lost_responses",
    ):  # fmt: skip
        assert isinstance(body[name], int)
