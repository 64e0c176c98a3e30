# ruff: noqa: E501  (expected messages are quoted whole)
"""Hostile or malformed requests: each gets a JSON refusal in the API's envelope (never a 500),
and a refused request charges, creates and schedules nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from yarl import URL

from .conftest import Api

DESC = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "rainy day jazz"}
NOT_JSON = "The request body should be valid JSON."
TOO_DEEP = "The request body is nested too deeply (at most 32 levels)."
OUT_OF_RANGE = "The request body holds a number out of range."


async def send(
    api: Api,
    path: str,
    raw: bytes | io.BytesIO = b"",
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Any]:
    """(status, content type, JSON body) of a raw request with the emulator's key."""
    all_headers = {"Authorization": f"Bearer {api.emu.api_key}", **(headers or {})}
    url = URL(api.emu.base_url + path, encoded=True)
    async with api.session.request(method, url, data=raw, headers=all_headers) as resp:
        text = await resp.read()
        assert resp.content_type == "application/json", (resp.status, text[:200])
        return resp.status, resp.content_type, json.loads(text)


def body(base: dict[str, Any] | None = None, **fields: Any) -> bytes:
    return json.dumps({**(base or {}), **fields}).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


WRONG_TYPES = [
    # (route, body, message): a list or an object where a string is looked up in a set
    ("/api/v1/sonic/create", body(DESC, task_type={"a": 1}), "The 'task_type' field is invalid."),
    (
        "/api/v1/sonic/create",
        body(DESC, task_type=["create_music"]),
        "The 'task_type' field is invalid.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, vocal_gender=["f"]),
        "The 'vocal_gender' field should be 'f' or 'm'.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, custom_mode="false"),
        "The 'custom_mode' field should be boolean.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, auto_lyrics=[]),
        "The 'auto_lyrics' field should be boolean.",
    ),
    (
        "/api/v1/sonic/create",
        body(
            task_type="persona_music",
            persona_id={"id": 1},
            mv="sonic-v5",
            custom_mode=True,
            prompt="x",
        ),
        "The 'persona_id' field should be a string.",
    ),
    (
        "/api/v1/producer/create",
        body(task_type={"a": 1}, sound="lofi"),
        "The 'task_type' field should be a string.",
    ),
    (
        "/api/v1/producer/create",
        body(task_type=["extend_music"], sound="lofi"),
        "The 'task_type' field should be a string.",
    ),
    (
        "/api/v1/riffusion/create",
        body(task_type=[], custom_mode=False, mv="FUZZ-1.1", prompt="x"),
        "The 'task_type' field is invalid.",
    ),
    (
        "/api/v1/riffusion/create",
        body(custom_mode=False, mv=["FUZZ-1.1"], prompt="x"),
        "The 'mv' field is invalid. The model should be 'FUZZ-1.1 Pro', 'FUZZ-1.1', 'FUZZ-1.0 Pro' or 'FUZZ-1.0'.",
    ),
    (
        "/api/v1/riffusion/create",
        body(custom_mode=False, mv="FUZZ-1.1", prompt="x", make_instrumental="yes"),
        "The 'make_instrumental' field should be boolean.",
    ),
    # URLs that make the URL parser raise, or that no client could connect to
    (
        "/api/v1/sonic/upload",
        body(url="http://[::1"),
        "The 'url' field should be a valid http(s) URL.",
    ),
    (
        "/api/v1/sonic/upload",
        body(url="https://host:99999/a.mp3"),
        "The 'url' field should be a valid http(s) URL.",
    ),
    (
        "/api/v1/sonic/upload",
        body(url="https://bad host/a.mp3"),
        "The 'url' field should be a valid http(s) URL.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, webhook_url="https://["),
        "The 'webhook_url' field should be a valid https URL.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, webhook_url="http://127.0.0.1:70000/hook"),
        "The 'webhook_url' field should be a valid https URL.",
    ),
    (
        "/api/v1/sonic/upload",
        body(url="https://x/a.mp3", callback_url="http://[::1/"),
        "The 'callback_url' field should be a valid https URL.",
    ),
    (
        "/api/v1/sonic/create",
        body(DESC, webhook_url="https://\u2028host/hook"),  # no IDNA encoding exists for it
        "The 'webhook_url' field should be a valid https URL.",
    ),
    (
        "/api/v1/producer/upload",
        body(audio_url="https://\xad/a.mp3"),
        "The 'audio_url' field should be a valid http(s) URL.",
    ),
]


@pytest.mark.parametrize(("path", "raw", "message"), WRONG_TYPES)
async def test_wrong_types_and_broken_urls_get_a_json_400_naming_the_field(
    api: Api, path: str, raw: bytes, message: str
) -> None:
    assert await send(api, path, raw) == (
        400,
        "application/json",
        {"code": 400, "message": message},
    )


HOSTILE_BODIES = [
    (nested(100_000), TOO_DEEP),
    (b'{"a":' * 3_000 + b"1" + b"}" * 3_000, TOO_DEEP),
    (body(DESC, title=json.loads(nested(32))), TOO_DEEP),  # 33 levels with the body itself
    (b"NaN", NOT_JSON),
    (body(DESC)[:-1] + b',"continue_at":Infinity}', NOT_JSON),
    (body(DESC)[:-1] + b',"continue_at":-Infinity}', NOT_JSON),
    (body(DESC)[:-1] + b',"continue_at":1e400}', OUT_OF_RANGE),
    (body(DESC)[:-1] + b',"duration":' + b"9" * 400 + b"}", OUT_OF_RANGE),
    (body(DESC)[:-1] + b',"duration":' + b"9" * 5_000 + b"}", OUT_OF_RANGE),
    (b"\xff\xfe{}", "The request body should be UTF-8 encoded JSON."),
    (json.dumps(DESC).encode("utf-16"), "The request body should be UTF-8 encoded JSON."),
    (
        body(DESC)[:-1] + b',"webhook_secret":"\\ud800"}',
        "The request body holds a string that is not valid Unicode.",
    ),
    (b"mv=sonic-v5&custom_mode=false", NOT_JSON),
    (b'{"mv": "sonic-v5",}', NOT_JSON),
    (b'"' + b'\\"' * 100_000, NOT_JSON),  # an unterminated string full of escaped quotes
    (b"", "The request body should be a JSON object."),
    (b"[]", "The request body should be a JSON object."),
    (b'"create_music"', "The request body should be a JSON object."),
]


@pytest.mark.parametrize(("raw", "message"), HOSTILE_BODIES, ids=lambda v: repr(v)[:40])
async def test_hostile_bodies_get_a_json_400_saying_why(api: Api, raw: bytes, message: str) -> None:
    status, _, answer = await send(api, "/api/v1/sonic/create", raw)
    assert (status, answer) == (400, {"code": 400, "message": message})


async def test_what_the_body_gate_lets_through(api: Api) -> None:
    """The limits refuse only what is hostile: 32 levels, a leading BOM, big finite numbers,
    escaped surrogate pairs and a JSON body sent as text/plain are all read as JSON."""
    deep_ok = body(DESC, title=json.loads(nested(31)))  # 32 levels: read, then the field check
    status, _, answer = await send(api, "/api/v1/sonic/create", deep_ok)
    assert (status, answer["message"]) == (400, "The 'title' field should be a string.")
    for raw in (
        b"\xef\xbb\xbf" + body(DESC),
        body(DESC, title="\U0001f600 emoji"),  # json.dumps escapes it as a surrogate pair
        body(DESC)[:-1] + b',"overpainting_start_s":1e308,"overpainting_end_s":1.5e308}',
    ):
        status, _, answer = await send(api, "/api/v1/sonic/create", raw)
        assert status == 200, answer
    headers = {"Content-Type": "text/plain"}
    status, _, answer = await send(api, "/api/v1/sonic/create", body(DESC), headers=headers)
    assert status == 200, answer


async def test_oversized_body_is_a_json_413(api: Api) -> None:
    raw = io.BytesIO(body(DESC, prompt="a" * (256 * 1024)))  # aiohttp warns on big raw bytes
    status, _, answer = await send(api, "/api/v1/sonic/create", raw)
    assert (status, answer) == (
        413,
        {"code": 413, "message": "The request body is too large (at most 262144 bytes)."},
    )


async def test_aiohttp_refusals_use_the_api_envelope(api: Api) -> None:
    assert await send(api, "/api/v1/sonic/nope", b"{}") == (
        404, "application/json", {"code": 404, "message": "Not Found."},
    )  # fmt: skip
    assert await send(api, "/not-the-api", method="GET") == (
        404, "application/json", {"code": 404, "message": "Not Found."},
    )  # fmt: skip
    url = URL(api.emu.base_url + "/api/v1/sonic/create")
    async with api.session.delete(url, headers={"Authorization": f"Bearer {api.emu.api_key}"}) as r:
        assert (r.status, await r.json()) == (405, {"code": 405, "message": "Method Not Allowed."})
        assert r.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "task_id",
    ["%00", "%FF%FE", "..%2F..%2Fetc", "%F0%9F%98%80", "a%20b", "x" * 4_000, "%25" * 1_000],
)
async def test_odd_task_ids_are_not_found(api: Api, task_id: str) -> None:
    status, _, answer = await send(api, f"/api/v1/sonic/task/{task_id}", method="GET")
    assert (status, answer) == (400, {"code": 400, "message": "task not found."})


async def test_an_id_beyond_the_http_line_limit_is_refused_and_the_emulator_serves_on(
    api: Api,
) -> None:
    """Past 8 KiB the request line is refused by the HTTP layer itself (plain text, before any
    route runs, as a proxy would with 414): a client error all the same, and nothing breaks."""
    url = URL(api.emu.base_url).with_path("/api/v1/sonic/task/" + "x" * 10_000, encoded=True)
    async with api.session.get(url, headers={"Authorization": f"Bearer {api.emu.api_key}"}) as r:
        assert 400 <= r.status < 500
    assert (await api.get("/api/v1/get-credits")).status == 200


async def test_refused_requests_charge_create_and_schedule_nothing(api: Api) -> None:
    """Every kind of refusal above, on every paid route, leaves balance, counters and tasks
    exactly as they were; only the request counter (every /api/ request) moves."""
    emu = api.emu
    before = (emu.balance().credits, emu.stats.credits_charged, emu.stats.creates, len(emu.tasks))
    requests_before = emu.stats.requests
    refused = [
        ("/api/v1/sonic/create", body(DESC, task_type=["x"], webhook_url="https://x.example/h")),
        ("/api/v1/sonic/create", body(DESC, webhook_url="http://[::1/")),
        ("/api/v1/sonic/upload", body(url="http://[::1")),
        ("/api/v1/sonic/upload-extend", body(DESC, url="https://x/a.mp3", webhook_url="https://[")),
        ("/api/v1/sonic/upload-cover", body(DESC, url="https://x/a.mp3", continue_at=1e400)),
        (
            "/api/v1/sonic/create-voice",
            body(audio_url="https://x/v.mp3", webhook_url="http://127.0.0.1:99999/"),
        ),
        ("/api/v1/sonic/upsample-tags", nested(5_000)),
        ("/api/v1/producer/create", body(task_type={}, sound="lofi")),
        (
            "/api/v1/riffusion/create",
            body(task_type="create_music", custom_mode=False, mv=[], prompt="x"),
        ),
        ("/api/v1/riffusion/upload", b"NaN"),
    ]
    for path, raw in refused:
        status, _, answer = await send(api, path, raw)
        assert status == 400, (path, answer)
    after = (emu.balance().credits, emu.stats.credits_charged, emu.stats.creates, len(emu.tasks))
    assert after == before
    assert emu.webhooks_pending == 0
    assert emu.stats.requests == requests_before + len(refused)
    assert emu.stats.server_errors == 0
