"""The pytest plugin in a user's fresh project: no asyncio_mode, only warnings as errors.

The project gets a test file and a ``pytest.ini`` holding nothing but ``filterwarnings =
error``, and runs in a subprocess as a user's CI would. Its async tests use the plugin's
fixtures without ``@pytest.mark.asyncio``; the ``aimusic_client`` fixture is an entered client
that polls quickly (a few polls per task, not the SDK's 3 s first poll), closed after the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USER_TESTS = """
import os

import pytest

from aimusic_async import AIMusicClient, ClientClosedError

SEEN = []


async def test_a_song_with_the_client_fixture(aimusic_client, aimusic_emulator,
                                              aimusic_poll_policy):
    assert isinstance(aimusic_client, AIMusicClient)
    assert aimusic_client.poll == aimusic_poll_policy
    assert aimusic_poll_policy.initial_interval <= 0.05
    assert aimusic_poll_policy.timeout <= 60
    task = await aimusic_client.sonic.create(mv="sonic-v5", custom_mode=False,
                                             gpt_description_prompt="a short jingle")
    result = await task
    assert len(result.succeeded) == 2
    # A handful of quick polls found the end (generation takes 0.05-0.2 s here).
    assert 1 <= aimusic_emulator.stats.polls <= 30
    SEEN.append(aimusic_client)


async def test_the_client_was_closed_after_its_test(aimusic_emulator):
    (client,) = SEEN
    with pytest.raises(ClientClosedError):
        await client.credits()


@pytest.mark.aimusic_emulator(clip_failure_rate=1.0)
async def test_marker_reaches_the_clients_emulator(aimusic_client):
    from aimusic_async import TaskFailedError

    task = await aimusic_client.sonic.create(mv="sonic-v5", custom_mode=False,
                                             gpt_description_prompt="doomed")
    with pytest.raises(TaskFailedError):
        await task


@pytest.mark.parametrize("n", [1, 2])
async def test_parametrized(aimusic_client, n):
    assert (await aimusic_client.credits()).total > 0


class TestInAClass:
    async def test_method(self, aimusic_client):
        assert (await aimusic_client.credits()).total > 0


def test_sync_code_too(aimusic_emulator_env):
    assert os.environ["AIMUSIC_BASE_URL"] == aimusic_emulator_env.base_url
"""


def run_project(folder: Path, ini: str, tests: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "pytest.ini").write_text(ini, encoding="utf-8")
    (folder / "test_user.py").write_text(tests, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMUSIC_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_fresh_project_runs_async_tests_with_the_fixtures(tmp_path: Path) -> None:
    proc = run_project(tmp_path / "project", "[pytest]\nfilterwarnings = error\n", USER_TESTS)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "7 passed" in output, output
    assert "skipped" not in output
    assert "warning" not in output.lower(), output


def test_a_project_that_configures_pytest_asyncio_itself_is_left_alone(tmp_path: Path) -> None:
    # Auto mode and an explicit loop scope: the plugin adds nothing that could clash.
    ini = (
        "[pytest]\nfilterwarnings = error\nasyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    proc = run_project(tmp_path / "project", ini, USER_TESTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed" in proc.stdout


def test_async_tests_without_the_plugins_fixtures_are_not_touched(tmp_path: Path) -> None:
    # Strict mode stays strict for the project's other async tests: pytest-asyncio reports them
    # as not run (an error under filterwarnings = error), exactly as without the plugin.
    tests = "async def test_unrelated():\n    pass\n"
    proc = run_project(tmp_path / "project", "[pytest]\nfilterwarnings = error\n", tests)
    assert proc.returncode != 0
    assert "1 passed" not in proc.stdout
    assert "async def functions are not natively supported" in proc.stdout + proc.stderr
