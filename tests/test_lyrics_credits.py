"""client.lyrics.generate and client.credits(): models, local limits, and the emulator."""

from __future__ import annotations

import pydantic
import pytest

from aimusic_async.models.account import Credits, LyricsRequest, LyricsResult

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
