"""The ``aimusic`` command through its real entry point (``python -m aimusic_async.cli``) against
an emulator running in a thread: exit codes, JSON output, one-line errors, the key never shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aimusic_async.testing import Emulator, EmulatorConfig

# Accepted by the tests' emulators; must never show up in anything the command prints.
CANARY_KEY = "sk-canary-5d1e0c4b9a7f3e2d"
# Test emulators finish tasks in a fraction of a second; poll to match.
FAST_POLL = ("--poll-interval", "0.05")
TEST_GENERATION_TIME = (0.05, 0.2)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def aimusic(
    *args: str,
    base_url: str | None = None,
    key: str | None = CANARY_KEY,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Run:
    """``python -m aimusic_async.cli ARGS`` with the key and base URL in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    if key is not None:
        env["AIMUSIC_API_KEY"] = key
    if base_url is not None:
        env["AIMUSIC_BASE_URL"] = base_url
    proc = subprocess.run(
        [sys.executable, "-m", "aimusic_async.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(run: Run, *fragments: str) -> None:
    """stderr is exactly one line with every fragment, no traceback, no key."""
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert CANARY_KEY not in run.both


def running_emulator(**fields: Any) -> Emulator:
    config = EmulatorConfig(
        seed=11, api_keys=(CANARY_KEY,), generation_time=TEST_GENERATION_TIME
    ).replace(**fields)
    return Emulator(config).start_in_thread()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = running_emulator()
    try:
        yield emulator
    finally:
        emulator.stop_thread()


def test_help_lists_every_subcommand() -> None:
    run = aimusic("--help", key=None)
    assert run.code == 0
    for name in ("demo", "emulator", "create", "wait", "get", "download", "batch", "credits"):
        assert f"    {name} " in run.out, name
    assert "--api-key" in run.out
    assert "--json" in run.out


def test_usage_errors_exit_2() -> None:
    assert aimusic(key=None).code == 2  # no subcommand
    assert aimusic("frobnicate", key=None).code == 2
    assert aimusic("batch", key=None).code == 2  # FILE missing
    assert aimusic("batch", "x.jsonl", "--concurrency", "0", key=None).code == 2


def test_credits_json_matches_the_emulator(emu: Emulator) -> None:
    emu.set_balance(CANARY_KEY, 1234, extra_credits=56)
    run = aimusic("credits", "--json", base_url=emu.base_url)
    assert run.code == 0, run.err
    assert run.json() == {"credits": 1234, "extra_credits": 56, "total": 1290}
    # --json before the subcommand works the same; human output is a plain table.
    assert aimusic("--json", "credits", base_url=emu.base_url).json()["total"] == 1290
    human = aimusic("credits", base_url=emu.base_url)
    assert human.code == 0
    assert "1234" in human.out
    assert "1290" in human.out
    emu.set_balance(CANARY_KEY, 1_000_000)


def test_create_wait_get_download(emu: Emulator, tmp_path: Path) -> None:
    started = aimusic(
        "create",
        "sonic.create",
        "--param",
        "mv=sonic-v5",
        "--param",
        "custom_mode=false",
        "--param",
        "gpt_description_prompt=calm lo-fi for studying",
        "--json",
        base_url=emu.base_url,
    )
    assert started.code == 0, started.err
    doc = started.json()
    assert doc["status"] == "started"
    assert doc["family"] == "sonic"
    task_id = doc["task_id"]
    record = emu.tasks[task_id]
    assert record.body["gpt_description_prompt"] == "calm lo-fi for studying"
    assert record.body["custom_mode"] is False  # "false" became a JSON boolean

    waited = aimusic("wait", task_id, "--json", *FAST_POLL, base_url=emu.base_url)
    assert waited.code == 0, waited.err
    result = waited.json()
    assert result["task_id"] == task_id
    assert result["status"] == "succeeded"
    assert len(result["clips"]) == 2
    assert all(c["state"] == "succeeded" and c["audio_url"] for c in result["clips"])

    got = aimusic("get", task_id, "--json", base_url=emu.base_url)
    assert got.code == 0
    assert got.json()["status"] == "succeeded"
    assert [c["clip_id"] for c in got.json()["clips"]] == [c["clip_id"] for c in result["clips"]]

    cdn_auth_before = emu.stats.cdn_requests_with_auth
    out = tmp_path / "files"
    dl = aimusic("download", task_id, "--out", str(out), "--json", base_url=emu.base_url)
    assert dl.code == 0, dl.err
    files = dl.json()["files"]
    assert sorted(f["clip_id"] for f in files) == sorted(c["clip_id"] for c in result["clips"])
    for f in files:
        data = Path(f["path"]).read_bytes()
        assert data == emu.audio_bytes(f["clip_id"])
        assert f["bytes"] == len(data)
        assert Path(f["path"]).parent == out
    assert emu.stats.cdn_requests_with_auth == cdn_auth_before == 0

    # One clip of the task, chosen as TASK_ID:CLIP_ID.
    one = result["clips"][1]["clip_id"]
    single = aimusic(
        "download", f"{task_id}:{one}", "-o", str(tmp_path / "one"), "--json", base_url=emu.base_url
    )
    assert single.code == 0, single.err
    assert [f["clip_id"] for f in single.json()["files"]] == [one]


def test_create_with_json_object_and_wait_human_output(emu: Emulator) -> None:
    params = {"mv": "sonic-v5", "custom_mode": True, "make_instrumental": True, "title": "Drift"}
    run = aimusic(
        "create", "sonic.create", json.dumps(params), "--wait", *FAST_POLL, base_url=emu.base_url
    )
    assert run.code == 0, run.err
    assert "started task" in run.out
    assert "succeeded" in run.out
    assert "Drift" in run.out
    # Not a terminal: plain text, no colour codes, no carriage-return redraws.
    assert "\x1b[" not in run.out
    assert "\r" not in run.out


def test_create_sync_utility_prints_its_result(emu: Emulator) -> None:
    run = aimusic(
        "create",
        "lyrics.generate",
        "-p",
        "description=a song about the sea",
        "--json",
        base_url=emu.base_url,
    )
    assert run.code == 0, run.err
    variants = run.json()["variants"]
    assert len(variants) == 2
    assert all(v["lyrics"] for v in variants)


def test_bad_params_are_exit_2_with_the_field_and_send_nothing(emu: Emulator) -> None:
    before = emu.stats.requests
    too_long = aimusic(
        "create",
        "sonic.create",
        "-p",
        "mv=sonic-v5",
        "-p",
        "custom_mode=true",
        "-p",
        "prompt=la la",
        "-p",
        "title=" + "x" * 81,
        base_url=emu.base_url,
    )
    assert too_long.code == 2
    assert_one_line_error(too_long, "params.title", "at most 80 characters")
    missing = aimusic("create", "sonic.extend", "-p", "mv=sonic-v5", base_url=emu.base_url)
    assert missing.code == 2
    assert_one_line_error(missing, "params.clip_id", "required")
    unknown = aimusic("create", "sonic.frobnicate", base_url=emu.base_url)
    assert unknown.code == 2
    assert_one_line_error(unknown, "unknown operation", "sonic.frobnicate")
    not_json = aimusic("create", "sonic.create", "{nope", base_url=emu.base_url)
    assert not_json.code == 2
    assert_one_line_error(not_json, "not valid JSON")
    assert emu.stats.requests == before


def test_missing_key_is_a_usage_error(emu: Emulator) -> None:
    run = aimusic("credits", base_url=emu.base_url, key=None)
    assert run.code == 2
    assert_one_line_error(run, "no API key", "AIMUSIC_API_KEY")


def test_wrong_key_is_one_line_exit_1_without_the_key(emu: Emulator) -> None:
    wrong = "sk-wrong-0a9b8c7d6e5f"
    run = aimusic("credits", base_url=emu.base_url, key=wrong)
    assert run.code == 1
    assert_one_line_error(run, "AuthenticationError")
    assert wrong not in run.both
    # The key from --api-key is honoured over the environment and never printed either.
    flag = aimusic("--api-key", CANARY_KEY, "credits", "--json", base_url=emu.base_url, key=wrong)
    assert flag.code == 0
    assert CANARY_KEY not in flag.both


def test_unknown_task_and_verbose_traceback(emu: Emulator) -> None:
    run = aimusic("get", "no-such-task", base_url=emu.base_url)
    assert run.code == 1
    assert_one_line_error(run, "TaskNotFoundError", "task not found")
    verbose = aimusic("-v", "get", "no-such-task", base_url=emu.base_url)
    assert verbose.code == 1
    assert "Traceback" in verbose.err  # -v: the traceback too
    assert "aimusic_async" in verbose.err  # and the SDK's debug log lines
    assert CANARY_KEY not in verbose.both


def test_download_unknown_id_explains_how_to_name_a_clip(emu: Emulator, tmp_path: Path) -> None:
    run = aimusic("download", "clip-or-nothing", "--out", str(tmp_path), base_url=emu.base_url)
    assert run.code == 2
    assert_one_line_error(run, "no sonic task", "--clip")


def test_download_url_needs_no_key(emu: Emulator, tmp_path: Path) -> None:
    task = next(t for t in emu.tasks.values() if t.clips)
    clip_id = task.clips[0].clip_id
    url = f"{emu.cdn_url}/audio/{clip_id}.wav"
    before = emu.stats.cdn_requests_with_auth
    run = aimusic("download", url, "--out", str(tmp_path), "--json", key=None)
    assert run.code == 0, run.err
    (saved,) = run.json()["files"]
    assert Path(saved["path"]).read_bytes() == emu.audio_bytes(clip_id)
    assert emu.stats.cdn_requests_with_auth == before == 0


def test_failed_task_exits_1_with_json(tmp_path: Path) -> None:
    emulator = running_emulator(clip_failure_rate=1.0)
    try:
        run = aimusic(
            "create",
            "sonic.create",
            '{"mv": "sonic-v5", "custom_mode": false, "gpt_description_prompt": "doomed"}',
            "--wait",
            "--json",
            *FAST_POLL,
            base_url=emulator.base_url,
        )
        assert run.code == 1
        doc = run.json()
        assert doc["status"] == "failed"
        assert doc["error"]["type"] == "TaskFailedError"
        assert doc["task_id"] in emulator.tasks
    finally:
        emulator.stop_thread()


def test_wait_timeout_exits_1_and_names_the_task() -> None:
    emulator = running_emulator(generation_time=(30.0, 30.0))
    try:
        started = aimusic(
            "create",
            "sonic.create",
            '{"mv": "sonic-v5", "custom_mode": false, "gpt_description_prompt": "slow"}',
            "--json",
            base_url=emulator.base_url,
        )
        task_id = started.json()["task_id"]
        run = aimusic("wait", task_id, "--timeout", "0.3", *FAST_POLL, base_url=emulator.base_url)
        assert run.code == 1
        assert_one_line_error(run, "TaskTimeoutError", task_id)
    finally:
        emulator.stop_thread()


def test_producer_task_by_family(emu: Emulator) -> None:
    started = aimusic(
        "create", "producer.create", "-p", "sound=lo-fi beat", "--json", base_url=emu.base_url
    )
    assert started.code == 0, started.err
    doc = started.json()
    assert doc["family"] == "producer"
    waited = aimusic(
        "wait", doc["task_id"], "--family", "producer", "--json", *FAST_POLL, base_url=emu.base_url
    )
    assert waited.code == 0, waited.err
    assert waited.json()["family"] == "producer"
    assert len(waited.json()["clips"]) == 1
    # Polled as a sonic task (the default family) it does not exist.
    wrong = aimusic("get", doc["task_id"], base_url=emu.base_url)
    assert wrong.code == 1
    assert_one_line_error(wrong, "TaskNotFoundError")


@pytest.mark.parametrize(
    ("argv", "still_named"),
    [
        (["--api-keyy=" + CANARY_KEY, "credits"], "--api-keyy"),  # unrecognized arguments
        (["credits", "--api_key", CANARY_KEY], "--api_key"),
        (["credits", "--key=" + CANARY_KEY, "--json"], "--key"),
        (["--apikey", CANARY_KEY, "credits"], "invalid choice"),  # the key taken as COMMAND
        (["get", "t1", "--token", CANARY_KEY, "--json"], "--token"),
    ],
)
def test_usage_errors_never_echo_a_mistyped_key(
    argv: list[str], still_named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process (the real parser and main) and with no key in the environment: the value must
    # be recognised from the command line alone.
    from aimusic_async.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AIMUSIC_API_KEY", raising=False)
        code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert CANARY_KEY not in out + err
    assert still_named in err  # the error still says what was wrong
    assert "***" in err


def test_usage_errors_keep_harmless_values(capsys: pytest.CaptureFixture[str]) -> None:
    from aimusic_async.cli import main

    assert main(["frobnicate"]) == 2
    assert main(["wait", "t1", "--timeout", "abc"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err
    assert "not a number: 'abc'" in err
    assert "***" not in err
