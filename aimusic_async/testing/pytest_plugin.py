"""pytest plugin (the ``aimusic_emulator`` pytest11 entry point): a running emulator per test,
in a daemon thread on its own loop (sync tests and async ones on any loop), configured by the
``aimusic_emulator`` marker or by overriding the ``aimusic_emulator_config`` fixture.

    def test_something(aimusic_emulator):          # sync or async test
        url, key = aimusic_emulator.base_url, aimusic_emulator.api_key

    @pytest.mark.aimusic_emulator(clip_failure_rate=1.0, seed=3)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._config import EmulatorConfig
from ._server import Emulator

__all__ = ["aimusic_emulator", "aimusic_emulator_config", "aimusic_emulator_env"]

# Fixture default: fast enough for unit tests, slow enough to see every lifecycle stage.
FIXTURE_GENERATION_TIME = (0.05, 0.2)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aimusic_emulator(**fields): EmulatorConfig fields for the aimusic_emulator fixture",
    )


@pytest.fixture
def aimusic_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The config the ``aimusic_emulator`` fixture uses (marker fields applied)."""
    config = EmulatorConfig(generation_time=FIXTURE_GENERATION_TIME)
    marker = request.node.get_closest_marker("aimusic_emulator")
    if marker is not None:
        config = config.replace(**marker.kwargs)
    return config


@pytest.fixture
def aimusic_emulator(aimusic_emulator_config: EmulatorConfig) -> Iterator[Emulator]:
    """A running emulator (own thread and loop), stopped after the test."""
    emulator = Emulator(aimusic_emulator_config)
    emulator.start_in_thread()
    try:
        yield emulator
    finally:
        emulator.stop_thread()


@pytest.fixture
def aimusic_emulator_env(aimusic_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The running emulator, with AIMUSIC_BASE_URL / AIMUSIC_API_KEY pointing at it."""
    monkeypatch.setenv("AIMUSIC_BASE_URL", aimusic_emulator.base_url)
    monkeypatch.setenv("AIMUSIC_API_KEY", aimusic_emulator.api_key)
    return aimusic_emulator
