"""`aimusic emulator` as a subprocess, thread mode, and the pytest fixture."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from aimusic_async.testing import Emulator, EmulatorConfig

CLI = "from aimusic_async.cli import main; raise SystemExit(main())"


async def start_cli(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI, "emulator", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = [
        (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().rstrip("\n") for _ in range(2)
    ]
    env = dict(line.split("=", 1) for line in lines)
    assert list(env) == ["AIMUSIC_BASE_URL", "AIMUSIC_API_KEY"]
    return proc, env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cli_runs_until_signalled(sig: signal.Signals) -> None:
    proc, env = await start_cli("--port", "0", "--seed", "3", "--generation-time", "0.01", "0.02")
    try:
        assert env["AIMUSIC_BASE_URL"].startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {env['AIMUSIC_API_KEY']}"}
        async with aiohttp.ClientSession() as session:
            url = env["AIMUSIC_BASE_URL"] + "/api/v1/get-credits"
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert err.decode() == ""


async def test_cli_config_file_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "emu.json"
    cfg.write_text(json.dumps({"api_keys": ["k-1", "k-2"], "initial_credits": 42}))
    proc, env = await start_cli(
        "--port", "0", "--config", str(cfg), "--initial-credits", "7", "--webhook-streaming"
    )  # fmt: skip
    try:
        assert env["AIMUSIC_API_KEY"] == "k-1"
        async with aiohttp.ClientSession() as session:
            url = env["AIMUSIC_BASE_URL"] + "/api/v1/get-credits"
            async with session.get(url, headers={"Authorization": "Bearer k-2"}) as resp:
                assert (await resp.json())["credits"] == 7  # flags override the file
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0


async def test_cli_rejects_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"no_such_field": 1}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLI, "emulator", "--port", "0", "--config", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert out == b""
    assert b"no_such_field" in err


def test_thread_mode_from_sync_code() -> None:
    with Emulator(EmulatorConfig(generation_time=(0.01, 0.02))) as emu:
        request = urllib.request.Request(
            emu.base_url + "/api/v1/sonic/create",
            data=json.dumps(
                {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"}
            ).encode(),
            headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            task_id = json.loads(resp.read())["task_id"]
        assert emu.stats.creates == 1
        assert task_id in emu.tasks
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(emu.base_url + "/_emulator/stats", timeout=2)


def test_thread_mode_reports_start_errors() -> None:
    with Emulator() as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        clash = Emulator(EmulatorConfig(port=port))
        with pytest.raises(OSError, match=str(port)):
            clash.start_in_thread()
        # a failed start leaves no thread behind: trying again fails the same way
        with pytest.raises(OSError, match=str(port)):
            clash.start_in_thread()


def test_fixture_in_a_sync_test(aimusic_emulator: Emulator) -> None:
    url = aimusic_emulator.base_url + "/_emulator/stats"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert json.loads(resp.read())["requests"] == 0
    assert aimusic_emulator.config.generation_time[1] <= 0.5


@pytest.mark.aimusic_emulator(initial_credits=5, seed=9)
async def test_fixture_in_an_async_test_with_marker(aimusic_emulator: Emulator) -> None:
    assert aimusic_emulator.config.seed == 9
    headers = {"Authorization": f"Bearer {aimusic_emulator.api_key}"}
    async with aiohttp.ClientSession() as session:
        url = aimusic_emulator.base_url + "/api/v1/get-credits"
        async with session.get(url, headers=headers) as resp:
            assert await resp.json() == {"credits": 5, "extra_credits": 0}
    assert aimusic_emulator.stats.requests == 1


def test_env_fixture(aimusic_emulator_env: Emulator) -> None:
    import os

    assert os.environ["AIMUSIC_BASE_URL"] == aimusic_emulator_env.base_url
    assert os.environ["AIMUSIC_API_KEY"] == aimusic_emulator_env.api_key


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="generation_time"):
        EmulatorConfig(generation_time=(2.0, 1.0))
    with pytest.raises(ValueError, match="clip_failure_rate"):
        EmulatorConfig(clip_failure_rate=1.5)
    with pytest.raises(ValueError, match="create_rate_limit"):
        EmulatorConfig(create_rate_limit=0)
    assert EmulatorConfig.from_mapping({"generation_time": [0.1, 0.2]}).generation_time == (
        0.1,
        0.2,
    )
    assert "webhook-secret" not in repr(EmulatorConfig())


def test_cli_flags_map_to_config(tmp_path: Path) -> None:
    import argparse

    from aimusic_async.cli import emulator_cmd

    parser = argparse.ArgumentParser()
    emulator_cmd.add_parser(parser.add_subparsers())
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"seed": 5, "latency": 0.5}))
    args = parser.parse_args(
        ["emulator", "--config", str(cfg), "--port", "0", "--latency", "0.1",
         "--webhook-streaming", "--create-rate-limit", "2.5", "--generation-time", "1", "2",
         "--api-key", "a", "--api-key", "b"]
    )  # fmt: skip
    config = emulator_cmd._config(args)
    assert config.seed == 5
    assert config.latency == 0.1
    assert config.webhook_streaming is True
    assert config.create_rate_limit == 2.5
    assert config.generation_time == (1.0, 2.0)
    assert config.api_keys == ("a", "b")
    assert config.port == 0
    defaults = emulator_cmd._config(parser.parse_args(["emulator"]))
    assert defaults.port == emulator_cmd.DEFAULT_PORT
    assert defaults.webhook_streaming is False
