"""The flavours' static types, checked by mypy: ``tests/typing/flavours.py`` asserts the types of
the blocking client's and ``with_raw_response``'s methods (and that wrong arguments are refused),
so a change that made them ``Any`` or wrong fails here, not in a user's editor."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_flavours_are_typed_like_the_async_methods() -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(ROOT / "tests" / "typing" / "flavours.py"),
        ]
    )
    assert status == 0, stdout + stderr
