"""pytest plugin (the ``aimusic_emulator`` pytest11 entry point): a running emulator per test,
in a daemon thread on its own loop (sync tests and async ones on any loop), configured by the
``aimusic_emulator`` marker or by overriding the ``aimusic_emulator_config`` fixture.

    async def test_song(aimusic_client):             # a client on a fresh emulator
        task = await aimusic_client.sonic.create(mv="sonic-v5", custom_mode=False,
                                                 gpt_description_prompt="a jingle")
        assert len((await task).succeeded) == 2

    def test_something(aimusic_emulator):          # sync or async test
        url, key = aimusic_emulator.base_url, aimusic_emulator.api_key

    @pytest.mark.aimusic_emulator(clip_failure_rate=1.0, seed=3)
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest

# The client side through its public names only: the emulator itself imports none of it.
from aimusic_async import AIMusicClient, PollPolicy

from ._config import EmulatorConfig
from ._server import Emulator

__all__ = [
    "aimusic_client",
    "aimusic_emulator",
    "aimusic_emulator_config",
    "aimusic_emulator_env",
    "aimusic_poll_policy",
]

# Fixture default: fast enough for unit tests, slow enough to see every lifecycle stage.
FIXTURE_GENERATION_TIME = (0.05, 0.2)
# About a second of each song: a real tune to download and check, a sixth of the demo's size.
FIXTURE_AUDIO_SECONDS = 1.0
# The fixture client's polling: the emulator finishes in tenths of a second, and the SDK's own
# first poll after 3 s would make each test wait that long. 20 ms is a few polls per task
# (cheap on loopback); the deadline fails a stuck test in seconds rather than ten minutes.
FIXTURE_POLL = PollPolicy(initial_interval=0.02, max_interval=0.1, multiplier=1.5, timeout=30.0)
# The fixtures that make a test one of ours (for the automatic asyncio marker).
_FIXTURES = frozenset(
    {
        "aimusic_client",
        "aimusic_emulator",
        "aimusic_emulator_config",
        "aimusic_emulator_env",
        "aimusic_poll_policy",
    }
)
_LOOP_SCOPE_UNSET = 'The configuration option "asyncio_default_fixture_loop_scope" is unset'

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture then explains what to install
    pytest_asyncio = None  # type: ignore[assignment]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aimusic_emulator(**fields): EmulatorConfig fields for the aimusic_emulator fixture",
    )
    if config.pluginmanager.hasplugin("asyncio") and not _ini_is_set(
        config, "asyncio_default_fixture_loop_scope"
    ):
        # Runs before pytest-asyncio's own pytest_configure, inside the warning filters pytest
        # applies to it (the filter is dropped with them when the session ends).
        warnings.filterwarnings("ignore", message=_LOOP_SCOPE_UNSET)


def _ini_is_set(config: pytest.Config, name: str) -> bool:
    try:
        return bool(config.getini(name))
    except ValueError:  # not registered (another pytest-asyncio generation)
        return False


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Any, Any]:
    """Mark ``async def`` tests that use the plugin's fixtures ``asyncio``.

    This wrapper sits inside pytest-asyncio's, so the mark is there when that one decides
    which collected functions it runs.
    """
    result = yield
    if not inspect.iscoroutinefunction(obj) or not collector.config.pluginmanager.hasplugin(
        "asyncio"
    ):
        return result
    items = result if isinstance(result, list) else [result]
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and _FIXTURES.intersection(item.fixturenames)
            and item.get_closest_marker("asyncio") is None
        ):
            item.add_marker(pytest.mark.asyncio)
    return result


@pytest.fixture
def aimusic_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The config the ``aimusic_emulator`` fixture uses (marker fields applied)."""
    config = EmulatorConfig(
        generation_time=FIXTURE_GENERATION_TIME, audio_seconds=FIXTURE_AUDIO_SECONDS
    )
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


@pytest.fixture
def aimusic_poll_policy() -> PollPolicy:
    """How the ``aimusic_client`` fixture polls (override it to test other policies)."""
    return FIXTURE_POLL


def _async_fixture(function: Callable[..., AsyncIterator[Any]]) -> Any:
    if pytest_asyncio is not None:
        # The test's own loop: a function-scoped fixture, whatever the project's default.
        return pytest_asyncio.fixture(function, loop_scope="function")

    @pytest.fixture(name=function.__name__)
    def missing() -> Any:
        pytest.fail("the aimusic_client fixture needs pytest-asyncio (pip install pytest-asyncio)")

    missing.__doc__ = function.__doc__
    return missing


@_async_fixture
async def aimusic_client(
    aimusic_emulator: Emulator, aimusic_poll_policy: PollPolicy
) -> AsyncIterator[AIMusicClient]:
    """An ``AIMusicClient`` entered on the test's event loop, talking to ``aimusic_emulator``
    with ``aimusic_poll_policy`` (a first poll after 20 ms), closed after the test."""
    async with AIMusicClient(
        api_key=aimusic_emulator.api_key,
        base_url=aimusic_emulator.base_url,
        poll=aimusic_poll_policy,
    ) as client:
        yield client
