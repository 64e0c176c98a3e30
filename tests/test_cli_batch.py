"""``aimusic batch`` and ``aimusic demo`` through the real entry point (a subprocess)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimusic_async.testing import Emulator

from .test_cli import CANARY_KEY, FAST_POLL, aimusic, assert_one_line_error, running_emulator


def job(key: str, operation: str = "sonic.create", **params: Any) -> dict[str, Any]:
    if operation == "sonic.create" and not params:
        params = {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": f"song {key}"}
    return {"key": key, "operation": operation, "params": params}


def write_jobs(path: Path, jobs: list[dict[str, Any]], *, blank_line_after: int = -1) -> Path:
    lines = []
    for n, item in enumerate(jobs):
        lines.append(json.dumps(item))
        if n == blank_line_after:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = running_emulator()
    try:
        yield emulator
    finally:
        emulator.stop_thread()


def test_batch_json_lines_downloads_and_resume(emu: Emulator, tmp_path: Path) -> None:
    jobs = [job(f"song-{n}") for n in range(4)]
    jobs.append(job("instrumental", mv="sonic-v5", custom_mode=True, make_instrumental=True))
    jobs.append(job("beat", "producer.create", sound="lo-fi beat", title="Beat"))
    path = write_jobs(tmp_path / "jobs.jsonl", jobs, blank_line_after=1)
    journal, out = tmp_path / "batch.db", tmp_path / "out"
    creates = emu.stats.creates

    args = ("batch", str(path), "--journal", str(journal), "--out", str(out), "-c", "3")
    run = aimusic(*args, "--json", *FAST_POLL, base_url=emu.base_url)
    assert run.code == 0, run.err
    outcomes = run.json_lines()  # one JSON document per job, nothing else on stdout
    assert sorted(o["key"] for o in outcomes) == sorted(j["key"] for j in jobs)
    assert {o["status"] for o in outcomes} == {"finished"}
    assert {o["origin"] for o in outcomes} == {"run"}
    assert emu.stats.creates == creates + len(jobs)
    for o in outcomes:
        record = emu.tasks[o["task_id"]]
        assert record.family == o["family"]
        assert len(o["files"]) == len(o["clips"]) >= 1
        for file in o["files"]:
            assert Path(file).parent == out
            clip_id = next(c["clip_id"] for c in o["clips"] if c["clip_id"] in file)
            assert Path(file).read_bytes() == emu.audio_bytes(clip_id)
    assert emu.stats.cdn_requests_with_auth == 0

    # Run it again with the same journal: nothing is started twice, results come back.
    again = aimusic(*args, "--json", *FAST_POLL, base_url=emu.base_url)
    assert again.code == 0, again.err
    resumed = again.json_lines()
    assert {o["origin"] for o in resumed} == {"journal"}
    by_key = {o["key"]: o["task_id"] for o in outcomes}
    assert {o["key"]: o["task_id"] for o in resumed} == by_key
    assert emu.stats.creates == creates + len(jobs)

    # Human output: a plain progress line, the table and the totals (no terminal: no redraws).
    human = aimusic(*args, *FAST_POLL, base_url=emu.base_url)
    assert human.code == 0, human.err
    assert f"{len(jobs)}/{len(jobs)} jobs | started 0" in human.out
    assert f"{len(jobs)} jobs: {len(jobs)} finished ({len(jobs)} from the journal)" in human.out
    assert "\r" not in human.out
    assert "\x1b[" not in human.out
    assert CANARY_KEY not in human.both


BAD_FILES = [
    pytest.param(
        [json.dumps(job("a")), "{not json", json.dumps(job("c"))],
        ["jobs.jsonl:2:", "not valid JSON"],
        id="bad-json",
    ),
    pytest.param(
        [
            json.dumps(job("a")),
            json.dumps(job("b")),
            json.dumps(job("c", mv="sonic-v5", custom_mode=True, prompt="la", title="t" * 81)),
        ],
        ["jobs.jsonl:3: params.title: String should have at most 80 characters"],
        id="title-too-long",
    ),
    pytest.param(
        [json.dumps({"operation": "sonic.create", "params": {}})],
        ["jobs.jsonl:1: key: Field required"],
        id="no-key",
    ),
    pytest.param(
        [json.dumps(job("a")), json.dumps(job("a"))],
        ["jobs.jsonl:2: key: 'a' is already used on line 1"],
        id="duplicate-key",
    ),
    pytest.param(
        [json.dumps(job("a", "sonic.frobnicate", x=1))],
        ["jobs.jsonl:1:", "unknown operation", "frobnicate"],
        id="unknown-operation",
    ),
    pytest.param(
        [json.dumps(job("a", "sonic.extend", mv="sonic-v5", custom_mode=False))],
        ["jobs.jsonl:1:", "params.clip_id", "required"],
        id="missing-param",
    ),
    pytest.param(
        [json.dumps(job("a", "sonic.create", mv="sonic-v5", custom_mode="yes", prompt="x"))],
        ["jobs.jsonl:1: params.custom_mode:", "boolean"],
        id="string-for-boolean",
    ),
    pytest.param(
        [json.dumps(job("a", "lyrics.generate", description="the sea"))],
        ["jobs.jsonl:1:", "lyrics.generate"],
        id="not-a-task",
    ),
    pytest.param(["", "   "], ["jobs.jsonl: no jobs"], id="empty"),
]


@pytest.mark.parametrize(("lines", "fragments"), BAD_FILES)
def test_bad_batch_file_is_one_line_exit_2_and_sends_nothing(
    emu: Emulator, tmp_path: Path, lines: list[str], fragments: list[str]
) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = emu.stats.requests
    run = aimusic("batch", str(path), base_url=emu.base_url)
    assert run.code == 2
    assert_one_line_error(run, *fragments)
    assert emu.stats.requests == before


def test_batch_missing_file_is_exit_2(tmp_path: Path) -> None:
    run = aimusic("batch", str(tmp_path / "nope.jsonl"), base_url="http://127.0.0.1:9")
    assert run.code == 2
    assert_one_line_error(run, "nope.jsonl", "no such file")


def test_failed_jobs_exit_1_and_are_listed(tmp_path: Path) -> None:
    emulator = running_emulator(clip_failure_rate=1.0)
    try:
        path = write_jobs(tmp_path / "jobs.jsonl", [job("x"), job("y")])
        run = aimusic("batch", str(path), "--json", *FAST_POLL, base_url=emulator.base_url)
        assert run.code == 1
        outcomes = run.json_lines()
        assert [o["status"] for o in outcomes] == ["failed", "failed"]
        assert {o["error"]["type"] for o in outcomes} == {"TaskFailedError"}
        human = aimusic("batch", str(path), *FAST_POLL, base_url=emulator.base_url)
        assert human.code == 1
        assert "2 jobs: 0 finished, 2 failed, 0 unknown" in human.out
        assert "TaskFailedError" in human.out
    finally:
        emulator.stop_thread()


def test_unknown_starts_are_reported_not_resent(tmp_path: Path) -> None:
    # Every start is created and charged, then its answer is lost: the outcome is unknown.
    emulator = running_emulator(lost_response_rate=1.0)
    try:
        path = write_jobs(tmp_path / "jobs.jsonl", [job("p"), job("q")])
        journal = tmp_path / "j.db"
        args = ("batch", str(path), "--journal", str(journal), "--json", *FAST_POLL)
        first = aimusic(*args, base_url=emulator.base_url)
        assert first.code == 1
        assert [o["status"] for o in first.json_lines()] == ["unknown", "unknown"]
        creates = emulator.stats.creates
        assert creates == 2

        again = aimusic(*args, base_url=emulator.base_url)
        assert again.code == 1
        assert {o["status"] for o in again.json_lines()} == {"unknown"}
        assert emulator.stats.creates == creates  # not re-sent

        human = aimusic(*args[:-3], *FAST_POLL, base_url=emulator.base_url)
        assert human.code == 1
        assert "were not re-sent" in human.out

        forced = aimusic(*args, "--resubmit-unknown", base_url=emulator.base_url)
        assert forced.code == 1  # lost again, but this time sent on purpose
        assert emulator.stats.creates == creates + 2
    finally:
        emulator.stop_thread()


def test_demo_fast_json_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = aimusic("demo", "--fast", "--json", "--out", str(out), key=None, cwd=tmp_path)
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["ok"] is True
    assert Path(doc["out"]) == out.resolve()
    jobs = doc["jobs"]
    assert len(jobs) == 12
    assert {j["status"] for j in jobs} == {"finished"}
    operations = {j["operation"] for j in jobs}
    assert {"sonic.create", "sonic.extend", "sonic.cover", "producer.create"} <= operations
    assert len(operations) >= 6
    # Every succeeded clip was downloaded, byte for byte what the emulator's CDN serves.
    clips = {c["clip_id"] for j in jobs for c in j["clips"] if c["state"] == "succeeded"}
    files = doc["files"]
    assert {f["clip_id"] for f in files} == clips
    # Each file is the clip's song: a WAV exactly as long as the clip's duration says, a few
    # seconds of music, and the prompts' songs differ from each other.
    durations = {c["clip_id"]: c["duration"] for j in jobs for c in j["clips"]}
    songs = set()
    for f in files:
        path = Path(f["path"])
        assert path.parent == out.resolve()
        data = path.read_bytes()
        assert len(data) == f["bytes"]
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
            seconds = w.getnframes() / w.getframerate()
        assert abs(seconds - durations[f["clip_id"]]) <= 1 / 22050
        assert 4.0 <= seconds <= 8.0
        songs.add(data)
    assert len(songs) == len(files)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(f["path"]).name for f in files)
    assert doc["credits_spent"] == doc["credits_before"] - doc["credits_after"] > 0
    assert doc["emulator"]["cdn_requests_with_auth"] == 0
    assert doc["emulator"]["creates"] == 13  # the first song + 12 jobs


def test_demo_human_output_with_fewer_jobs(tmp_path: Path) -> None:
    run = aimusic("demo", "--fast", "--jobs", "3", key=None, cwd=tmp_path)
    assert run.code == 0, run.err
    default_out = tmp_path / "aimusic-demo"
    files = sorted(p.name for p in default_out.iterdir())
    assert len(files) == 6  # three two-clip songs
    assert "Demo results" in run.out
    for name in files:
        assert name in run.out
    assert "3/3 jobs finished" in run.out
    assert "credits spent" in run.out
    assert "\x1b[" not in run.out


def test_ctrl_c_stops_cleanly_and_the_journal_resumes(tmp_path: Path) -> None:
    emulator = running_emulator(generation_time=(1.5, 1.5))
    try:
        path = write_jobs(tmp_path / "jobs.jsonl", [job("m"), job("n"), job("o")])
        journal = tmp_path / "j.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIMUSIC_")}
        env.update(AIMUSIC_API_KEY=CANARY_KEY, AIMUSIC_BASE_URL=emulator.base_url)
        argv = [sys.executable, "-m", "aimusic_async.cli", "batch", str(path)]
        argv += ["--journal", str(journal), *FAST_POLL]
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A shell may have left SIGINT ignored for background children; restore it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 20
        while emulator.stats.creates < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emulator.stats.creates == 3
        # Let the answers land in the journal ("started"); the tasks still run for a second.
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130
        assert "Traceback" not in err
        assert f"resume from {journal}" in err

        again = aimusic(
            "batch",
            str(path),
            "--journal",
            str(journal),
            "--json",
            *FAST_POLL,
            base_url=emulator.base_url,
        )
        assert again.code == 0, again.err
        assert {o["origin"] for o in again.json_lines()} == {"reattached"}
        assert emulator.stats.creates == 3  # picked up by id, not started again
    finally:
        emulator.stop_thread()


def test_a_wrong_key_stops_the_batch_and_says_why_once(emu: Emulator, tmp_path: Path) -> None:
    jobs = [job(f"song-{n:02d}") for n in range(50)]
    path = write_jobs(tmp_path / "jobs.jsonl", jobs)
    journal = str(tmp_path / "j.db")
    requests, creates = emu.stats.requests, emu.stats.creates

    run = aimusic(
        "batch",
        str(path),
        "--journal",
        journal,
        *FAST_POLL,
        base_url=emu.base_url,
        key="sk-wrong-key-00000000",
    )
    assert run.code == 1
    assert emu.stats.requests == requests + 1  # the first start went alone and was refused
    assert emu.stats.creates == creates
    lines = [line for line in run.both.splitlines() if line.strip()]
    # The reason once (the refused job's row points at it), not once per job.
    assert sum("Invalid API key" in line for line in lines) == 1
    assert sum("stopped starting jobs after AuthenticationError" in line for line in lines) == 1
    assert "49 not sent" in run.out
    assert "rerun the same command" in run.out
    assert len(lines) < 10

    # JSON: still one document per job, the unsent ones saying why.
    as_json = aimusic(
        "batch", str(path), "--json", *FAST_POLL, base_url=emu.base_url, key="sk-wrong-key-00000000"
    )
    outcomes = as_json.json_lines()
    assert len(outcomes) == 50
    assert sorted(o["status"] for o in outcomes).count("not_sent") == 49
    unsent = next(o for o in outcomes if o["status"] == "not_sent")
    assert unsent["error"]["type"] == "BatchStoppedError"
    assert unsent["error"]["message"].startswith("not sent: the batch stopped after")

    # The right key: the rerun with the journal starts all 50, once each.
    again = aimusic(
        "batch", str(path), "--journal", journal, "--json", *FAST_POLL, base_url=emu.base_url
    )
    assert again.code == 0, again.err
    assert {o["status"] for o in again.json_lines()} == {"finished"}
    assert emu.stats.creates == creates + 50
