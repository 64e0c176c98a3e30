"""Fuzzing the emulator's own routes: whatever a client sends, the emulator answers like the API
(a JSON ``{"code", "message"}`` envelope for every refusal), never a 5xx when no fault is
configured, never charges or records anything for a refused request, and keeps serving.

The routes come from the emulator's router, so a new route is fuzzed without touching this file;
a route this file knows gets a valid body to start from, so mutations reach past the first check.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from aimusic_async.testing import Emulator, EmulatorConfig

# Every fault at zero; tasks appear at once (clip ids are usable) but finish in an hour, so no
# webhook is ever due during the test and nothing is refunded behind the counters' back.
CONFIG = EmulatorConfig(seed=12, generation_time=(3600.0, 3600.0), not_ready_fraction=0.0)
# Ceiling on one answer, only so that a hang fails the test instead of stalling the suite.
ANSWER_TIMEOUT = aiohttp.ClientTimeout(total=30)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Placeholders in the starting bodies, replaced by real ids made before fuzzing.
CLIP, UPLOAD, PERSONA, TASK = "$clip", "$upload", "$persona", "$task"
FILE = "https://files.example/audio/song.mp3"  # only a string: the emulator fetches nothing
DESC = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "rainy day jazz"}
LYRICS = {"custom_mode": True, "mv": "sonic-v5", "prompt": "[Verse]\nla la"}
BASES: dict[str, dict[str, Any]] = {
    "/api/v1/sonic/create": {"task_type": "create_music", **DESC},
    "/api/v1/sonic/upload": {"url": FILE},
    "/api/v1/sonic/upload-extend": {**LYRICS, "url": FILE, "continue_at": 10},
    "/api/v1/sonic/upload-cover": {**LYRICS, "url": FILE},
    "/api/v1/sonic/sample": {**DESC, "sample_clip_id": CLIP},
    "/api/v1/sonic/mashup": {**DESC, "mashup_clip_ids": [CLIP, UPLOAD]},
    "/api/v1/sonic/replace-section": {
        "clip_id": CLIP, "mv": "sonic-v5", "infill_start_s": 1, "infill_end_s": 5,
    },
    "/api/v1/sonic/stems/basic": {"clip_id": CLIP},
    "/api/v1/sonic/stems/full": {"clip_id": CLIP},
    "/api/v1/sonic/create-voice": {"audio_url": FILE, "name": "Voice"},
    "/api/v1/sonic/persona": {"name": "Me", "clip_id": CLIP},
    "/api/v1/sonic/bpm": {"clip_id": CLIP},
    "/api/v1/sonic/vox": {"clip_id": CLIP, "vocal_start_s": 1, "vocal_end_s": 5},
    "/api/v1/sonic/wav": {"clip_id": CLIP},
    "/api/v1/sonic/midi": {"clip_id": CLIP},
    "/api/v1/sonic/aligned-lyrics": {"clip_id": CLIP},
    "/api/v1/sonic/upsample-tags": {"tags": "pop"},
    "/api/v1/sonic/lyrics": {"description": "the sea"},
    "/api/v1/producer/create": {"task_type": "create_music", "sound": "lofi piano"},
    "/api/v1/producer/upload": {"audio_url": FILE},
    "/api/v1/producer/download": {"clip_id": CLIP, "format": "mp3"},
    "/api/v1/producer/lyrics-create": {"prompt": "summer"},
    "/api/v1/producer/video-clip": {"clip_id": CLIP},
    "/api/v1/riffusion/create": {
        "task_type": "create_music", "custom_mode": False, "mv": "FUZZ-1.1", "prompt": "surf",
    },
    "/api/v1/riffusion/upload": {"url": FILE},
}  # fmt: skip

# Every field name the API documents on any route, so random objects hit real checks.
FIELDS = sorted(
    {name for body in BASES.values() for name in body}
    | {
        "task_type", "make_instrumental", "auto_lyrics", "use_suno_cdn", "auto_concat", "tags",
        "negative_tags", "title", "style_weight", "weirdness_constraint", "audio_weight",
        "vocal_gender", "duration", "continue_clip_id", "continue_at", "persona_id",
        "variation_category", "overpainting_start_s", "overpainting_end_s", "webhook_url",
        "webhook_secret", "callback_url", "describe", "description", "sample_clip_id",
        "chop_sample_start_s", "chop_sample_end_s", "infill_lyrics", "lyrics", "seed",
        "lyrics_strength", "weirdness", "format", "name",
    }
)  # fmt: skip
WORDS = [
    "create_music", "extend_music", "cover_music", "concat_music", "persona_music",
    "extend_upload_music", "cover_upload_music", "remaster", "add_vocals", "add_instrumental",
    "replace_music", "swap_music_vocals", "sonic-v5", "sonic-v3-5", "chirp-v4", "FUZZ-1.1",
    "FUZZ-2.0", "mp3", "wav", "f", "m", "subtle", "high", "123", "", " ", "\x00", "\ud800",
    "http://[::1", "https://[", "http://127.0.0.1:99999/hook", "http://127.0.0.1:9/hook",
    "http://localhost/x\ud800", "https://\xad/", "https://\u2028x/", "https://",
    "ftp://127.0.0.1/x", "http://127.0.0.1:9/" + "a" * 2000,
    CLIP, UPLOAD, PERSONA, TASK,
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(WORDS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=12,
)
# Hand-written value literals JSON libraries disagree on, and nesting deep enough to matter.
RAW_VALUES = [
    b"NaN", b"-Infinity", b"Infinity", b"1e400", b"-1e400", b"1" + b"0" * 400, b"9" * 5000,
    b"1e-400", b"-0", b'"\\ud800"', b'"\\u0000"', b"[]", b"{}", b"123456789012345678901234567890",
]  # fmt: skip
# A value of each JSON type, for a field whose type the route relies on.
WRONG_TYPES: list[Any] = [{}, {"a": 1}, [], ["x"], True, 0, -1, 0.5, 10**30, "x", "", None]
# How often each kind of body is drawn (repeats weigh a kind up).
SHAPES = ["mutate"] * 4 + ["wrong type"] * 2 + ["deep"] * 2 + ["raw", "object", "junk"]
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
]  # fmt: skip


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"1" + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'[{"a":' * (depth // 2) + b"[]" + b"}]" * (depth // 2)


@dataclass
class World:
    emu: Emulator
    session: aiohttp.ClientSession
    ids: dict[str, str]
    routes: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # keeps hypothesis' failure report short
        return f"World({self.emu.base_url})"

    def fill(self, value: Any) -> Any:
        """Put the real ids where a placeholder stands."""
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def footprint(self) -> tuple[Any, ...]:
        """Everything a refused request must leave as it was."""
        stats = self.emu.stats
        balance = self.emu.balance()
        return (
            balance.credits,
            balance.extra_credits,
            stats.credits_charged,
            stats.credits_refunded,
            stats.creates,
            len(self.emu.tasks),
            self.emu.webhooks_pending,
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with Emulator(CONFIG) as emu, aiohttp.ClientSession(timeout=ANSWER_TIMEOUT) as session:
        auth = {"Authorization": f"Bearer {emu.api_key}"}
        base = emu.base_url + "/api/v1/sonic"

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with session.post(base + path, json=body, headers=auth) as resp:
                answer: dict[str, Any] = await resp.json()
                assert resp.status == 200, answer
                return answer

        task = await post("/create", DESC)
        async with session.get(f"{base}/task/{task['task_id']}", headers=auth) as resp:
            clip_id = (await resp.json())["data"][0]["clip_id"]
        upload = await post("/upload", {"url": FILE})
        persona = await post("/persona", {"name": "Me", "clip_id": clip_id})
        ids = {
            CLIP: clip_id,
            UPLOAD: upload["clip_id"],
            PERSONA: persona["persona_id"],
            TASK: task["task_id"],
        }
        yield World(emu, session, ids, emu.routes)


@st.composite
def body_bytes(draw: st.DrawFn, world: World, path: str) -> bytes:
    """A request body: a known-good body with fields changed or added, a random object, a
    deeply nested value, a hand-written literal, or raw junk."""
    shape = draw(st.sampled_from(SHAPES))
    base = world.fill(dict(BASES.get(path, {})))
    if shape == "wrong type":
        name = draw(st.sampled_from(sorted(base) or FIELDS))
        base[name] = draw(st.sampled_from(WRONG_TYPES))
        return json.dumps(base).encode()
    if shape == "mutate":
        for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
            base[name] = world.fill(draw(json_values))
        for name in draw(st.lists(st.sampled_from(sorted(base) or ["x"]), max_size=1)):
            base.pop(name, None)
        return json.dumps(base).encode()
    if shape == "object":
        return json.dumps(world.fill(draw(json_values))).encode()
    head = json.dumps(base)[:-1] + ("," if base else "")
    field = draw(st.sampled_from(FIELDS)).encode()
    if shape == "deep":
        depth = draw(st.sampled_from([10, 31, 32, 33, 64, 1_000, 3_000, 100_000]))
        value = nested(depth, draw(st.sampled_from(["list", "object", "mixed"])))
        if draw(st.booleans()):
            return value  # the whole body
        return head.encode() + b'"' + field + b'":' + value + b"}"
    if shape == "raw":
        value = draw(st.sampled_from(RAW_VALUES))
        if draw(st.booleans()):
            return value
        return head.encode() + b'"' + field + b'":' + value + b"}"
    junk = draw(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"", b"\xff\xfe{}", b"\xef\xbb\xbf{}", b"{", b"{}}", b'{"a":1,}']),
            st.just(json.dumps(base).encode("utf-16")),
            st.just(json.dumps(base).encode()[: draw(st.integers(0, 40))]),
        )
    )
    return junk


@st.composite
def path_param(draw: st.DrawFn, world: World) -> str:
    """A task id or tail: real, empty, odd characters, or long (within the HTTP line limit)."""
    value = draw(
        st.one_of(
            st.sampled_from([world.ids[TASK], "", " ", ".", "..", "%", "%00", "a/b", "?x=1"]),
            st.text(max_size=30),
            st.text(alphabet="a%/.\\\x00\u00e9\U0001f600", min_size=200, max_size=500),
        )
    )
    return quote(value, safe="")


async def exchange(
    world: World, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request; asserts what every answer must be: no 5xx, JSON, and a refusal in the
    ``{"code": status, "message": ...}`` envelope that changed no balance, counter or task."""
    if headers is None:
        headers = {"Authorization": f"Bearer {world.emu.api_key}"}
    before = world.footprint()
    url = URL(world.emu.base_url + path, encoded=True)
    async with world.session.request(method, url, data=body, headers=headers) as resp:
        raw = await resp.read()
        status, ctype = resp.status, resp.content_type
    where = (method, path[:80], body[:80], status, raw[:300])
    assert status < 500, where
    if method == "HEAD":
        return status, None  # no body to check
    assert ctype == "application/json", where
    answer = json.loads(raw)
    assert isinstance(answer, dict), where
    if status >= 400:
        assert answer.get("code") == status, where
        assert isinstance(answer.get("message"), str), where
        assert answer["message"], where
        assert world.footprint() == before, where
    return status, answer


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_fuzzed_requests_to_every_route_get_json_refusals_and_no_5xx(
    world: World, data: st.DataObject
) -> None:
    method, pattern = data.draw(st.sampled_from(world.routes), label="route")
    if method == "*" or data.draw(st.integers(0, 9), label="other method") == 0:
        method = data.draw(st.sampled_from(METHODS), label="method")
    path = pattern
    for name in ("{task_id}", "{tail}"):
        if name in path:
            path = path.replace(name, data.draw(path_param(world), label=name))
    if data.draw(st.integers(0, 4), label="query") == 0:
        path += "?" + quote(data.draw(st.text(max_size=40), label="query string"), safe="=&")
    body = data.draw(body_bytes(world, pattern), label="body") if method != "GET" else b""
    headers = {"Authorization": f"Bearer {world.emu.api_key}"}
    auth = data.draw(st.integers(0, 19), label="auth")
    if auth == 0:
        headers.pop("Authorization")
    elif auth == 1:
        headers["Authorization"] = "Bearer sk-not-a-key"
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content type")
    if content_type:
        headers["Content-Type"] = content_type
    await exchange(world, method, path, body, headers)


# Bodies every route gets in the sweep below: each hostile shape once.
HOSTILE_BODIES = [
    b"", b"null", b"[]", b'"text"', b"42", b"\xff\xfe\x00garbage", b"\xef\xbb\xbf{}", b"{",
    nested(100_000, "list"), nested(3_000, "object"), nested(1_000, "mixed"),
    b'{"x": NaN}', b'{"x": -Infinity}', b'{"x": 1e400}', b'{"x": ' + b"9" * 5000 + b"}",
    json.dumps({"task_type": "create_music"}).encode("utf-16"),
]  # fmt: skip


async def test_every_route_refuses_each_wrong_type_and_hostile_body_then_still_serves(
    world: World,
) -> None:
    """The deterministic half of the fuzzing: every route, every field of its valid body set to
    a value of every other JSON type, and every hostile body shape; then a normal create and
    poll still work."""
    odd_ids = ["", "%20", "%00", quote("\u00e9\U0001f600/..", safe=""), "a" * 2_000]
    for method, pattern in world.routes:
        if "{task_id}" in pattern or "{tail}" in pattern:
            for raw_id in odd_ids:
                path = pattern.replace("{task_id}", raw_id).replace("{tail}", raw_id)
                await exchange(world, "GET" if method == "*" else method, path)
            continue
        if method == "GET":
            await exchange(world, method, pattern)
            continue
        base = world.fill(BASES.get(pattern, {}))
        for name in sorted(base):
            for wrong in WRONG_TYPES:
                body = {**base, name: wrong}
                await exchange(world, method, pattern, json.dumps(body).encode())
        for raw in HOSTILE_BODIES:
            await exchange(world, method, pattern, raw)

    status, answer = await exchange(
        world, "POST", "/api/v1/sonic/create", json.dumps(DESC).encode()
    )
    assert status == 200, answer
    status, answer = await exchange(world, "GET", f"/api/v1/sonic/task/{answer['task_id']}")
    assert status == 200, answer
