"""client.lyrics.generate and client.credits(): models, local limits, and the emulator."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from aiohttp import web

from aimusic_async import AIMusicClient
from aimusic_async._errors import AuthenticationError, InsufficientCreditsError
from aimusic_async._pricing import price
from aimusic_async.models.account import Credits
from aimusic_async.models.lyrics import LyricsRequest, LyricsResult

# -- models -----------------------------------------------------------------------------------


def test_lyrics_request_limits() -> None:
    assert LyricsRequest(description="a song about sky").to_wire() == {
        "description": "a song about sky"
    }
    assert LyricsRequest(description="x" * 119).description == "x" * 119
    for bad in ("x" * 120, "", "   "):
        with pytest.raises(pydantic.ValidationError, match="description"):
            LyricsRequest(description=bad)


def test_lyrics_result_parses_the_documented_answer() -> None:
    result = LyricsResult.model_validate(
        {
            "code": 200,
            "results": [
                {"title": "Whisper of Shadows", "lyrics": "[Verse]\nIn the alley dark as night"},
                {"title": "Midnight Shadows", "lyrics": "[Verse]\nMidnight shadows creeping"},
            ],
            "message": "success",
        }
    )
    assert [v.title for v in result.variants] == ["Whisper of Shadows", "Midnight Shadows"]
    assert result.variants[1].lyrics.startswith("[Verse]")
    with pytest.raises(pydantic.ValidationError):
        LyricsResult.model_validate({"code": 200, "results": [], "message": "success"})


def test_credits_model() -> None:
    credits = Credits.model_validate({"credits": 50, "extra_credits": 7})
    assert (credits.credits, credits.extra_credits, credits.total) == (50, 7, 57)
    assert Credits.model_validate({"credits": 3}).extra_credits == 0
    with pytest.raises(pydantic.ValidationError):
        Credits.model_validate({"extra_credits": 1})


# -- against the emulator ---------------------------------------------------------------------


async def test_generate_two_variants(client: AIMusicClient, emulator: Any) -> None:
    before = emulator.balance().total
    result = await client.lyrics.generate("a song about the sky")
    assert len(result.variants) == 2
    for variant in result.variants:
        assert variant.title
        assert "a song about the sky" in variant.lyrics
    assert result.code == 200
    assert emulator.balance().total == before - price("sonic", "lyrics")


async def test_description_limit_is_local(client: AIMusicClient, emulator: Any) -> None:
    requests = emulator.stats.requests
    for bad in ("x" * 120, "", " \n "):
        with pytest.raises(pydantic.ValidationError, match="description"):
            await client.lyrics.generate(bad)
    assert emulator.stats.requests == requests
    # The longest allowed description goes through.
    assert len((await client.lyrics.generate("y" * 119)).variants) == 2


async def test_credits_typed_balance(client: AIMusicClient, emulator: Any) -> None:
    emulator.set_balance(None, 50, extra_credits=7)
    credits = await client.credits()
    assert isinstance(credits, Credits)
    assert (credits.credits, credits.extra_credits, credits.total) == (50, 7, 57)
    # A charge shows up in the next answer (extra credits are spent first).
    await client.lyrics.generate("rain")
    after = await client.credits()
    assert after.total == 57 - price("sonic", "lyrics")
    assert after.extra_credits == 7 - price("sonic", "lyrics")


async def test_short_balance_raises_before_any_charge(client: AIMusicClient, emulator: Any) -> None:
    emulator.set_balance(None, 1)
    with pytest.raises(InsufficientCreditsError):
        await client.lyrics.generate("rain")
    with pytest.raises(InsufficientCreditsError):
        await client.producer.create(sound="pop")
    assert (await client.credits()).total == 1
    assert emulator.stats.creates == 0


async def test_bad_key(emulator: Any, client_factory: Any) -> None:
    canary = "canary-key-DO-NOT-LEAK-42"
    client = await client_factory(emulator.base_url, canary)
    with pytest.raises(AuthenticationError) as info:
        await client.credits()
    assert canary not in str(info.value)
    assert canary not in repr(info.value)
    with pytest.raises(AuthenticationError):
        await client.lyrics.generate("sky")


async def test_error_envelope_behind_a_200_is_the_mapped_error(
    serve_app: Any, client_factory: Any
) -> None:
    # Sync routes may answer HTTP 200 with {"code": 4xx}: the error, not a parse failure.
    async def lyrics(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 403, "message": "The remaining credits are not enough. You can buy more."}
        )

    app = web.Application()
    app.router.add_post("/api/v1/sonic/lyrics", lyrics)
    client = await client_factory(await serve_app(app), "k")
    with pytest.raises(InsufficientCreditsError):
        await client.lyrics.generate("a song about the sky")
