"""The file-name cleaner's per-character table gives the same names as cleaning each character
afresh, and stays bounded whatever text it sees."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimusic_async import _constants as C
from aimusic_async import _filenames


def _reference(text: str) -> str:
    return "".join(_filenames._clean_char(ch) for ch in text)


@given(st.text(max_size=200))
def test_the_table_cleans_like_each_character_afresh(text: str) -> None:
    assert text.translate(_filenames._CLEAN) == _reference(text)


def test_the_table_stays_bounded() -> None:
    # Every code point of the first planes once (surrogates included): far more than the bound.
    text = "".join(chr(c) for c in range(0x0, 0x20000))
    assert text.translate(_filenames._CLEAN) == _reference(text)
    assert len(_filenames._CLEAN) <= C.FILENAME_CLEAN_CACHE
    assert "\u202e".translate(_filenames._CLEAN) == " "  # a bidi override, cached or not
    assert "a/b".translate(_filenames._CLEAN) == "a_b"
