# ruff: noqa: E501  (the validation table reads best one case per line)
"""Every sonic route: the happy path and its documented (or documented-style) 400s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import FAST, Api, MakeApi, clip_of

MV_MESSAGE = "The 'mv' field is invalid. The model should be 'sonic-v3-5' or 'sonic-v4'."
DESC = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "rainy day jazz"}


async def uploaded(api: Api) -> str:
    reply = await api.post("/api/v1/sonic/upload", {"url": "https://example.com/a/song.mp3"})
    assert reply.status == 200, reply.body
    assert reply.body["code"] == 200
    clip_id: str = reply.body["clip_id"]
    return clip_id


async def test_every_create_task_type(api: Api) -> None:
    clip = await clip_of(api)
    up = await uploaded(api)
    voice = await api.post(
        "/api/v1/sonic/persona", {"name": "Me", "clip_id": clip["clip_id"], "describe": "warm"}
    )
    assert voice.status == 200, voice.body
    persona_id = voice.body["persona_id"]
    cid = clip["clip_id"]
    bodies: dict[str, dict[str, Any]] = {
        "create_music": {"task_type": "create_music", **DESC},
        "extend_music": {
            "task_type": "extend_music",
            "continue_clip_id": cid,
            "continue_at": 30,
            **DESC,
        },
        "cover_music": {"task_type": "cover_music", "continue_clip_id": cid, **DESC},
        "concat_music": {"task_type": "concat_music", "continue_clip_id": cid},
        "persona_music": {
            "task_type": "persona_music",
            "persona_id": persona_id,
            "custom_mode": True,
            "prompt": "[Verse] hi",
            "mv": "sonic-v3-5",
        },
        "extend_upload_music": {
            "task_type": "extend_upload_music",
            "continue_clip_id": up,
            "continue_at": 0.1,
            "custom_mode": True,
            "mv": "sonic-v4-5",
            "prompt": "[Verse 2]\nmore",
        },
        "cover_upload_music": {
            "task_type": "cover_upload_music",
            "continue_clip_id": up,
            "audio_weight": 0.6,
            **DESC,
        },
        "remaster": {
            "task_type": "remaster",
            "continue_clip_id": cid,
            "mv": "sonic-v5",
            "variation_category": "subtle",
        },
        "add_vocals": {
            "task_type": "add_vocals",
            "continue_clip_id": up,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": "[Verse] sing",
            "overpainting_start_s": 0,
            "overpainting_end_s": 30,
            "vocal_gender": "f",
        },
        "add_instrumental": {
            "task_type": "add_instrumental",
            "continue_clip_id": up,
            "mv": "sonic-v5",
        },
    }
    for task_type, body in bodies.items():
        reply = await api.post("/api/v1/sonic/create", body)
        assert reply.status == 200, (task_type, reply.body)
        assert reply.body["message"] == "success"
        task_id = reply.body["task_id"]
        assert api.emu.tasks[task_id].task_type == task_type
        final = await api.wait(task_id)
        expected = 1 if task_type == "concat_music" else 2
        assert len(final.body["data"]) == expected


async def test_task_type_defaults_to_create_music(api: Api) -> None:
    task_id = await api.create(DESC)
    assert api.emu.tasks[task_id].task_type == "create_music"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**DESC, "mv": "garbage"}, MV_MESSAGE),
        ({**DESC, "mv": "sonic-v4-5-all"}, MV_MESSAGE),  # sample / mashup only
        ({**DESC, "mv": None}, "The 'mv' field is required."),
        ({**DESC, "custom_mode": "false"}, "The 'custom_mode' field should be boolean."),
        ({**DESC, "make_instrumental": 1}, "The 'make_instrumental' field should be boolean."),
        ({"mv": "sonic-v5", "gpt_description_prompt": "x"}, "The 'custom_mode' field is required when task_type = create_music."),
        ({"custom_mode": True, "mv": "sonic-v5"}, "The 'prompt' field is required when custom_mode = true."),
        ({"custom_mode": False, "mv": "sonic-v5"}, "The 'gpt_description_prompt' field is required when custom_mode = false."),
        ({"custom_mode": True, "mv": "sonic-v4", "prompt": "a" * 3001}, "The prompt character length should be less than 3000."),
        ({"custom_mode": True, "mv": "sonic-v5", "prompt": "a" * 5001}, "The prompt character length should be less than 5000."),
        ({**DESC, "gpt_description_prompt": "a" * 401}, "The 'gpt_description_prompt' character length should be less than 400."),
        ({**DESC, "mv": "sonic-v4", "tags": "a" * 201}, "The tags character length should be less than 200."),
        ({**DESC, "tags": "a" * 1001}, "The tags character length should be less than 1000."),
        ({**DESC, "title": "a" * 81}, "The title character length should be less than 80."),
        ({**DESC, "style_weight": 1.01}, "The 'style_weight' field should be a number between 0 and 1."),
        ({**DESC, "weirdness_constraint": -0.01}, "The 'weirdness_constraint' field should be a number between 0 and 1."),
        ({**DESC, "audio_weight": True}, "The 'audio_weight' field should be a number between 0 and 1."),
        ({**DESC, "vocal_gender": "x"}, "The 'vocal_gender' field should be 'f' or 'm'."),
        ({**DESC, "mv": "sonic-v4", "vocal_gender": "m"}, "The 'vocal_gender' field is only supported on sonic-v4-5 and later."),
        ({**DESC, "task_type": "persona_music"}, "The 'persona_id' field is required when task_type = persona_music."),
        ({**DESC, "task_type": "persona_music", "persona_id": "nope"}, "The 'persona_id' field refers to a persona that does not exist."),
        ({**DESC, "task_type": "extend_music"}, "The 'continue_clip_id' field is required when task_type = extend_music."),
        ({**DESC, "task_type": "cover_music", "continue_clip_id": "nope"}, "The 'continue_clip_id' field refers to a clip that does not exist."),
        ({**DESC, "task_type": "bogus"}, "The 'task_type' field is invalid."),
        ({**DESC, "duration": 5}, "The 'duration' field should be an integer between 10 and 360."),
        ({**DESC, "webhook_url": "http://example.com/hook"}, "The 'webhook_url' field should be a valid https URL."),
    ],
)  # fmt: skip
async def test_create_validation(api: Api, body: dict[str, Any], message: str) -> None:
    before = api.emu.stats.credits_charged
    reply = await api.post("/api/v1/sonic/create", body)
    assert (reply.status, reply.body) == (400, {"code": 400, "message": message})
    assert api.emu.stats.credits_charged == before
    assert not api.emu.tasks


async def test_model_like_mv_accepted_and_limits_inclusive(api: Api) -> None:
    for mv in ("sonic-v7", "chirp-v5", "sonic-v6-mini"):
        await api.create({**DESC, "mv": mv})
    await api.create(
        {
            "custom_mode": True,
            "mv": "sonic-v5",
            "prompt": "a" * 5000,
            "title": "t" * 80,
            "style_weight": 1,
            "weirdness_constraint": 0,
        }
    )


async def test_custom_mode_without_prompt_when_the_lyrics_are_not_needed(api: Api) -> None:
    # The API docs: prompt is required in custom mode "unless instrumental / auto_lyrics".
    for flag in ("make_instrumental", "auto_lyrics"):
        task_id = await api.create({"custom_mode": True, "mv": "sonic-v5", flag: True})
        assert api.emu.tasks[task_id].body[flag] is True


async def test_add_tasks_need_no_text_for_their_mode(api: Api) -> None:
    # The API docs: add_vocals sings the lyrics in prompt (custom_mode is an extra);
    # add_instrumental needs only the clip and mv, whatever custom_mode says.
    up = await uploaded(api)
    base = {"continue_clip_id": up, "mv": "sonic-v5"}
    bodies = [
        {**base, "task_type": "add_vocals", "custom_mode": False, "prompt": "[Verse] sing"},
        {**base, "task_type": "add_instrumental", "custom_mode": True},
    ]
    for body in bodies:
        reply = await api.post("/api/v1/sonic/create", body)
        assert reply.status == 200, reply.body


async def test_extend_needs_continue_at_and_upload_variants(api: Api) -> None:
    clip = await clip_of(api)
    up = await uploaded(api)
    reply = await api.post(
        "/api/v1/sonic/create",
        {**DESC, "task_type": "extend_music", "continue_clip_id": clip["clip_id"]},
    )
    assert (
        reply.body["message"]
        == "The 'continue_at' field is required when task_type = extend_music."
    )
    reply = await api.post(
        "/api/v1/sonic/create", {**DESC, "task_type": "cover_music", "continue_clip_id": up}
    )
    assert reply.status == 400
    assert "cover_upload_music" in reply.body["message"]
    reply = await api.post(
        "/api/v1/sonic/create",
        {"task_type": "add_instrumental", "continue_clip_id": clip["clip_id"], "mv": "sonic-v5"},
    )
    assert reply.body["message"] == (
        "The 'continue_clip_id' field must be an uploaded clip when task_type = add_instrumental."
    )


async def test_upload_sync(api: Api) -> None:
    clip_id = await uploaded(api)
    assert api.emu.audio_bytes(clip_id)[:4] == b"RIFF"
    reply = await api.post("/api/v1/sonic/upload", {})
    assert (reply.status, reply.body["message"]) == (400, "The 'url' field is required.")
    reply = await api.post("/api/v1/sonic/upload", {"url": "ftp://x/y.mp3"})
    assert reply.body["message"] == "The 'url' field should be a valid http(s) URL."


@pytest.mark.parametrize(
    ("path", "body", "clips"),
    [
        ("/api/v1/sonic/upload-extend", {"url": "https://e.com/a.mp3", "continue_at": 0.1, **DESC}, 2),
        ("/api/v1/sonic/upload-cover", {"url": "https://e.com/a.mp3", "audio_weight": 0.5, **DESC}, 2),
        ("/api/v1/sonic/sample", {"url": "https://e.com/a.mp3", "chop_sample_start_s": 1, "chop_sample_end_s": 9, **DESC, "mv": "sonic-v4-5-all"}, 2),
    ],
)  # fmt: skip
async def test_upload_and_generate_routes(
    api: Api, path: str, body: dict[str, Any], clips: int
) -> None:
    reply = await api.post(path, body)
    assert reply.status == 200, reply.body
    final = await api.wait(reply.body["task_id"])
    assert len(final.body["data"]) == clips
    if path.endswith("upload-cover"):
        assert api.emu.audio_bytes(reply.body["steps"]["upload"]["clip_id"])[:4] == b"RIFF"


async def test_mashup_replace_section_and_stems(api: Api) -> None:
    a, b = await clip_of(api), await clip_of(api)
    reply = await api.post(
        "/api/v1/sonic/mashup",
        {"mashup_clip_ids": [a["clip_id"], b["clip_id"]], **DESC, "mv": "chirp-v5"},
    )
    assert reply.status == 200, reply.body
    assert len((await api.wait(reply.body["task_id"])).body["data"]) == 2
    reply = await api.post("/api/v1/sonic/mashup", {"mashup_clip_ids": [a["clip_id"]], **DESC})
    assert (
        reply.body["message"] == "The 'mashup_clip_ids' field should contain exactly two clip ids."
    )
    reply = await api.post(
        "/api/v1/sonic/replace-section",
        {
            "clip_id": a["clip_id"],
            "mv": "sonic-v5",
            "infill_start_s": 30,
            "infill_end_s": 45,
            "prompt": "soaring chorus",
        },
    )
    assert reply.status == 200, reply.body
    await api.wait(reply.body["task_id"])
    reply = await api.post(
        "/api/v1/sonic/replace-section",
        {"clip_id": a["clip_id"], "mv": "sonic-v5", "infill_start_s": 45, "infill_end_s": 30},
    )
    assert (
        reply.body["message"] == "The 'infill_end_s' field should be greater than 'infill_start_s'."
    )
    for route, count in (("basic", 2), ("full", 12)):
        reply = await api.post(f"/api/v1/sonic/stems/{route}", {"clip_id": a["clip_id"]})
        assert reply.status == 200, reply.body
        stems = (await api.wait(reply.body["task_id"])).body["data"]
        assert len(stems) == count
        assert len({s["stem_type"] for s in stems}) == count
        assert "vocals" in {s["stem_type"] for s in stems}
    reply = await api.post("/api/v1/sonic/stems/full", {"clip_id": "nope"})
    assert reply.body["message"] == "The 'clip_id' field refers to a clip that does not exist."


async def test_create_voice_then_persona_music(api: Api) -> None:
    reply = await api.post(
        "/api/v1/sonic/create-voice", {"audio_url": "https://e.com/voice.wav", "name": "Ada"}
    )
    assert reply.status == 200, reply.body
    final = await api.wait(reply.body["task_id"])
    data = final.body["data"]
    assert final.body["code"] == 200
    assert data["name"] == "Ada"
    assert data["persona_id"]
    task_id = await api.create(
        {
            "task_type": "persona_music",
            "persona_id": data["persona_id"],
            "custom_mode": True,
            "prompt": "[Verse] hi",
            "mv": "sonic-v5",
        }
    )
    assert len((await api.wait(task_id)).body["data"]) == 2
    reply = await api.post("/api/v1/sonic/create-voice", {})
    assert reply.body["message"] == "The 'audio_url' field is required."


async def test_persona_validation(api: Api) -> None:
    clip = await clip_of(api)
    reply = await api.post("/api/v1/sonic/persona", {"name": "x"})
    assert reply.body["message"] == "name and continue_clip_id are required fields."
    reply = await api.post(
        "/api/v1/sonic/persona", {"name": "n" * 81, "continue_clip_id": clip["clip_id"]}
    )
    assert reply.body["message"] == "The name character length should be less than 80."
    reply = await api.post(
        "/api/v1/sonic/persona",
        {"name": "ok", "continue_clip_id": clip["clip_id"], "description": "d" * 201},
    )
    assert reply.body["message"] == "The description character length should be less than 200."


async def test_sync_utilities(api: Api) -> None:
    clip = await clip_of(api)
    cid = {"clip_id": clip["clip_id"]}
    bpm = await api.post("/api/v1/sonic/bpm", cid)
    assert bpm.status == 200
    assert bpm.body["data"]["min_bpm"] <= bpm.body["data"]["avg_bpm"] <= bpm.body["data"]["max_bpm"]
    vox = await api.post("/api/v1/sonic/vox", {**cid, "vocal_start_s": 10, "vocal_end_s": 30})
    assert vox.status == 200
    assert vox.body["data"]["vox_audio_id"]
    bad = await api.post("/api/v1/sonic/vox", {**cid, "vocal_start_s": 0, "vocal_end_s": 31})
    assert bad.status == 400
    wav = await api.post("/api/v1/sonic/wav", cid)
    assert wav.body["data"]["wav_url"].startswith(api.emu.cdn_url)
    midi = await api.post("/api/v1/sonic/midi", cid)
    assert midi.body["data"]["midi_url"].endswith(".mid")
    assert midi.body["data"]["instruments"][0]["notes"]
    aligned = await api.post("/api/v1/sonic/aligned-lyrics", cid)
    assert aligned.status == 200
    assert {"word", "start_s", "end_s", "p_align", "success"} <= set(
        aligned.body["data"]["alignment"][0]
    )
    tags = await api.post("/api/v1/sonic/upsample-tags", {"tags": "pop, happy"})
    assert tags.body["data"]["upsampled_tags"].startswith("pop, happy")
    missing = await api.post("/api/v1/sonic/upsample-tags", {})
    assert missing.body["message"] == "The 'tags' field is required."
    for route in ("bpm", "vox", "wav", "midi", "aligned-lyrics"):
        reply = await api.post(f"/api/v1/sonic/{route}", {"clip_id": "nope"})
        assert reply.status == 400, route
    up = await uploaded(api)  # an upload has no lyrics to align
    reply = await api.post("/api/v1/sonic/aligned-lyrics", {"clip_id": up})
    assert (reply.status, reply.body["message"]) == (404, "lyrics not found.")


async def test_lyrics(api: Api) -> None:
    reply = await api.post("/api/v1/sonic/lyrics", {"description": "a song about sky"})
    assert reply.status == 200
    assert reply.body["code"] == 200
    assert len(reply.body["results"]) == 2
    assert {"title", "lyrics"} == set(reply.body["results"][0])
    reply = await api.post("/api/v1/sonic/lyrics", {})
    assert reply.body == {"code": 400, "message": "description is required."}
    reply = await api.post("/api/v1/sonic/lyrics", {"description": "d" * 120})
    assert reply.body["message"] == "The description character length should be less than 120."


async def test_async_upload_polls_to_a_clip(api: Api) -> None:
    reply = await api.post(
        "/api/v1/sonic/upload",
        {"url": "https://e.com/mine.mp3", "callback_url": "http://127.0.0.1:9/cb"},
    )
    assert reply.status == 200
    assert "task_id" in reply.body
    assert "clip_id" not in reply.body
    final = await api.wait(reply.body["task_id"])
    (clip,) = final.body["data"]
    assert clip["title"] == "mine"
    # the uploaded clip is usable like any upload
    task_id = await api.create(
        {"task_type": "add_instrumental", "continue_clip_id": clip["clip_id"], "mv": "sonic-v5"}
    )
    assert task_id in api.emu.tasks


async def test_auth_errors(api: Api) -> None:
    async def call(headers: dict[str, str]) -> tuple[int, Any]:
        async with api.session.get(api.emu.base_url + "/api/v1/get-credits", headers=headers) as r:
            return r.status, await r.json()

    assert await call({}) == (401, {"code": 401, "message": "Authorization header is missing."})
    assert await call({"Authorization": "Token abc"}) == (
        401,
        {"code": 401, "message": "Invalid authorization format."},
    )
    assert await call({"Authorization": "Bearer"}) == (
        401,
        {"code": 401, "message": "Invalid authorization format."},
    )
    assert await call({"Authorization": "Bearer wrong"}) == (
        401,
        {"code": 401, "message": "Invalid API key."},
    )
    status, body = await call({"Authorization": f"Bearer {api.emu.api_key}"})
    assert status == 200
    assert body["credits"] > 0


async def test_bad_json_and_unknown_route(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.emu.api_key}", "Content-Type": "application/json"}
    async with api.session.post(
        api.emu.base_url + "/api/v1/sonic/create", data=b"{nope", headers=headers
    ) as r:
        assert r.status == 400
        assert (await r.json())["message"] == "The request body should be valid JSON."
    reply = await api.get("/api/v1/sonic/nothing-here")
    assert reply.status == 404
    assert reply.body["code"] == 404


@pytest.mark.parametrize(
    ("path", "part"),
    [("/api/v1/sonic/replace-section", "replaced"), ("/api/v1/sonic/upload-extend", "extended")],
)
async def test_auto_concat_pairs_part_and_full(make_api: MakeApi, path: str, part: str) -> None:
    api = await make_api(FAST.replace(generation_time=(0.3, 0.3), not_ready_fraction=0.1))
    if part == "replaced":
        clip = await clip_of(api)
        body = {
            "clip_id": clip["clip_id"],
            "mv": "sonic-v5",
            "infill_start_s": 1,
            "infill_end_s": 5,
        }
    else:
        body = {"url": "https://e.com/a.mp3", "continue_at": 3, **DESC}
    reply = await api.post(path, {**body, "auto_concat": True})
    task_id = reply.body["task_id"]
    saw_part_only = False
    while True:
        poll = await api.get(f"/api/v1/sonic/task/{task_id}")
        items = poll.body.get("data")
        if items:
            assert all(set(item) == {part, "full"} for item in items)
            if any(item["full"] is None and item[part]["state"] == "succeeded" for item in items):
                saw_part_only = True
            if all(item["full"] is not None for item in items):
                break
        await asyncio.sleep(0.02)
    assert saw_part_only
    fulls = [item["full"] for item in items]
    assert [f["clip_id"] for f in fulls] == [c.clip_id for c in api.emu.tasks[task_id].clips]
    assert all(f["state"] == "succeeded" for f in fulls)
    # without auto_concat the same route answers plain clips
    reply = await api.post(path, body)
    final = await api.wait(reply.body["task_id"])
    assert all("clip_id" in c for c in final.body["data"])
