"""The ``aimusic`` command's rough edges, each through the real entry point (a subprocess):
the demo's --base-url, the emulator's help, a task id of another family, JSON errors, the
progress rate, and Ctrl-C while waiting and while starting up."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimusic_async.testing import Emulator

from .test_cli import CANARY_KEY, FAST_POLL, Run, aimusic, assert_one_line_error, running_emulator

SCRIPT = Path(sys.executable).with_name("aimusic")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = running_emulator()
    try:
        yield emulator
    finally:
        emulator.stop_thread()


def env_without_aimusic(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
    env.update(extra)
    return env


def json_error(run: Run) -> dict[str, Any]:
    """stdout is exactly one JSON document describing the error, with the process's exit code."""
    lines = [line for line in run.out.splitlines() if line.strip()]
    assert len(lines) == 1, run.out
    doc: dict[str, Any] = json.loads(lines[0])
    assert doc["ok"] is False
    assert doc["exit_code"] == run.code
    assert doc["error"]["type"]
    assert doc["error"]["message"]
    assert CANARY_KEY not in run.both
    return doc


# -- demo: --base-url runs it against that API; nothing else does -------------------------------
def test_demo_runs_against_the_api_named_by_base_url(tmp_path: Path) -> None:
    target = running_emulator()
    try:
        run = aimusic(
            "demo",
            "--base-url",
            target.base_url,
            "--api-key",
            CANARY_KEY,
            "--jobs",
            "2",
            "--json",
            "--out",
            str(tmp_path / "out"),
            *FAST_POLL,
            key=None,
        )
        assert run.code == 0, run.err
        doc = run.json()
        assert doc["api"] == target.base_url
        assert doc["emulator"] is None  # no embedded emulator was started
        assert [j["status"] for j in doc["jobs"]] == ["finished", "finished"]
        # The first song and both jobs were created on the named API, with the given key.
        assert target.stats.creates == 3
        assert {t.key for t in target.tasks.values()} == {CANARY_KEY}
        assert doc["credits_spent"] > 0
        assert CANARY_KEY not in run.both
    finally:
        target.stop_thread()


def test_demo_ignores_the_environment_and_refuses_half_given_flags(
    emu: Emulator, tmp_path: Path
) -> None:
    creates = emu.stats.creates
    # AIMUSIC_BASE_URL / AIMUSIC_API_KEY alone never send the demo's jobs anywhere.
    local = aimusic(
        "demo", "--fast", "--jobs", "1", "--json", "--out", str(tmp_path), base_url=emu.base_url
    )
    assert local.code == 0, local.err
    assert local.json()["api"] == "emulator"
    assert emu.stats.creates == creates
    # --api-key without --base-url would be ignored: refused instead.
    key_only = aimusic("demo", "--api-key", CANARY_KEY, key=None)
    assert key_only.code == 2
    assert_one_line_error(key_only, "--api-key needs --base-url")
    fast_remote = aimusic("demo", "--base-url", emu.base_url, "--fast")
    assert fast_remote.code == 2
    assert_one_line_error(fast_remote, "--fast")
    assert emu.stats.creates == creates


# -- every emulator flag says what it does ------------------------------------------------------
def test_every_emulator_flag_has_help_text() -> None:
    run = aimusic("emulator", "--help", key=None)
    assert run.code == 0, run.err
    options = run.out.split("options:", 1)[1].splitlines()
    described: dict[str, str] = {}
    current: str | None = None
    for line in options:
        match = re.match(r"^  (-{1,2}[\w-]+)(?:, --[\w-]+)?(?: [A-Z_ ]+?)?(?:\s{2,}(.*))?$", line)
        if match:
            current = match.group(1)
            described[current] = match.group(2) or ""
        elif current is not None and line.startswith(" " * 10):
            described[current] += " " + line.strip()
    flags = set(re.findall(r"\[(--[\w-]+)", run.out.split("options:")[0]))
    assert len(flags) >= 20
    assert flags <= set(described), flags - set(described)
    missing = sorted(flag for flag in flags if len(described[flag].strip()) < 10)
    assert not missing, missing


# -- a task id of another family -------------------------------------------------------------
def test_get_and_wait_on_another_familys_task_hint_at_family(emu: Emulator) -> None:
    started = aimusic(
        "create", "producer.create", "-p", "sound=lo-fi beat", "--json", base_url=emu.base_url
    )
    assert started.code == 0, started.err
    producer_id = started.json()["task_id"]
    for command in (["get", producer_id], ["wait", producer_id, *FAST_POLL]):
        run = aimusic(*command, base_url=emu.base_url)
        assert run.code == 1
        assert_one_line_error(run, "TaskNotFoundError", "--family producer")
        as_json = aimusic(*command, "--json", base_url=emu.base_url)
        doc = json_error(as_json)
        assert doc["error"]["type"] == "TaskNotFoundError"
        assert "--family producer" in doc["error"]["hint"]
    # The other way round: a sonic task asked for as a producer one.
    sonic = aimusic(
        "create", "sonic.create", "-p", "mv=sonic-v5", "-p", "custom_mode=false",
        "-p", "gpt_description_prompt=x", "--json", base_url=emu.base_url,
    )  # fmt: skip
    sonic_id = sonic.json()["task_id"]
    wrong = aimusic("get", sonic_id, "--family", "producer", base_url=emu.base_url)
    assert wrong.code == 1
    assert_one_line_error(wrong, "--family sonic")


# -- --json: errors are JSON on stdout too ------------------------------------------------------
def test_json_errors_are_one_json_document_on_stdout(emu: Emulator, tmp_path: Path) -> None:
    usage = aimusic("--json", "frobnicate", key=None)
    assert usage.code == 2
    assert json_error(usage)["error"]["type"] == "UsageError"

    bad_param = aimusic("create", "sonic.create", "-p", "mv=5", "-p", "custom_mode=false", "--json")
    assert bad_param.code == 2
    doc = json_error(bad_param)
    assert doc["error"]["message"].startswith("params.mv:")

    no_key = aimusic("credits", "--json", key=None)
    assert no_key.code == 2
    assert "no API key" in json_error(no_key)["error"]["message"]

    wrong_key = aimusic("credits", "--json", base_url=emu.base_url, key="sk-wrong-77c1d2e3f4")
    assert wrong_key.code == 1
    assert json_error(wrong_key)["error"]["type"] == "AuthenticationError"

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"key": "a", "operation": "sonic.nope", "params": {}}\n', encoding="utf-8")
    bad_file = aimusic("batch", str(jobs), "--json", base_url=emu.base_url)
    assert bad_file.code == 2
    assert "jobs.jsonl:1" in json_error(bad_file)["error"]["message"]
    # stderr still carries the one line for people.
    assert_one_line_error(bad_file, "jobs.jsonl:1")


# -- no rate for jobs that failed at once -------------------------------------------------------
def test_no_rate_from_jobs_that_failed_instantly(emu: Emulator, tmp_path: Path) -> None:
    jobs = tmp_path / "doomed.jsonl"
    lines = [
        {
            "key": f"j{i}",
            "operation": "sonic.cover",
            "params": {
                "clip_id": f"no-such-clip-{i}",
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "x",
            },
        }
        for i in range(20)
    ]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    run = aimusic("batch", str(jobs), *FAST_POLL, base_url=emu.base_url)
    assert run.code == 1
    progress = [line for line in run.out.splitlines() if " jobs | started" in line]
    assert progress, run.out
    assert "20/20 jobs" in progress[-1]
    assert "failed 20" in progress[-1]
    # A rate needs jobs that finished, over a real stretch of time: none here.
    assert not re.search(r"\d/min", run.out), progress
    assert "-/min | ETA -" in progress[-1]


# -- Ctrl-C ---------------------------------------------------------------------------------------
def test_ctrl_c_during_create_wait_prints_the_resume_command() -> None:
    emulator = running_emulator(generation_time=(2.0, 2.0))
    try:
        env = env_without_aimusic(AIMUSIC_API_KEY=CANARY_KEY, AIMUSIC_BASE_URL=emulator.base_url)
        for extra in ([], ["--json"]):
            creates = emulator.stats.creates
            argv = [sys.executable, "-m", "aimusic_async.cli", "create", "sonic.create"]
            argv += ["-p", "mv=sonic-v5", "-p", "custom_mode=false"]
            argv += ["-p", "gpt_description_prompt=slow", "--wait", *FAST_POLL, *extra]
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            try:
                deadline = time.monotonic() + 30
                while emulator.stats.creates == creates:
                    assert proc.poll() is None
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                time.sleep(0.3)  # now it is polling
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            task_id = next(t for t in emulator.tasks if t not in seen(emulator, creates))
            assert proc.returncode == 130, err
            assert "Traceback" not in err
            resume = f"aimusic wait {task_id} --family sonic"
            assert resume in err
            if extra:
                doc = json.loads(out)
                assert doc["exit_code"] == 130
                assert doc["task_id"] == task_id
                assert resume in doc["error"]["hint"]
        # The printed command picks the task up and sees it finish.
        follow = aimusic(
            "wait", task_id, "--family", "sonic", *FAST_POLL, base_url=emulator.base_url
        )
        assert follow.code == 0, follow.err
        assert "succeeded" in follow.out
    finally:
        emulator.stop_thread()


def seen(emulator: Emulator, count: int) -> list[str]:
    """The ids of the first ``count`` tasks (the emulator keeps them in creation order)."""
    return list(emulator.tasks)[:count]


# A sitecustomize that holds one import until the test interrupts it: the signal then lands
# exactly inside that import, wherever the process otherwise would be after some fixed delay.
HOLD = """
import sys, time

class _Hold:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            sys.stderr.write("holding the import\\n")
            sys.stderr.flush()
            time.sleep(60)
        return None

sys.meta_path.insert(0, _Hold())
"""


def interrupt_while_importing(argv: list[str], module: str, tmp_path: Path) -> Run:
    (tmp_path / "sitecustomize.py").write_text(HOLD.format(module=module), encoding="utf-8")
    env = env_without_aimusic(AIMUSIC_API_KEY=CANARY_KEY, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline() == "holding the import\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Run(proc.returncode, out, err)


@pytest.mark.skipif(not SCRIPT.exists(), reason="the aimusic script is not installed here")
def test_ctrl_c_while_the_sdk_is_still_importing_exits_130_quietly(tmp_path: Path) -> None:
    run = interrupt_while_importing([str(SCRIPT), "credits"], "aimusic_async", tmp_path)
    assert run.code == 130, run.err
    assert "Traceback" not in run.err
    assert run.err == "interrupted\n"


def test_ctrl_c_while_the_command_is_starting_exits_130_quietly(tmp_path: Path) -> None:
    # Later in start-up: the SDK is loaded, the parser is importing its subcommands.
    argv = [sys.executable, "-m", "aimusic_async.cli", "credits", "--json"]
    run = interrupt_while_importing(argv, "aimusic_async.cli.emulator_cmd", tmp_path)
    assert run.code == 130, run.err
    assert "Traceback" not in run.err
    assert run.err == "interrupted\n"
    assert json.loads(run.out)["exit_code"] == 130
