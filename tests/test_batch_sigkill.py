"""A batch in a subprocess killed with SIGKILL at random moments, then resumed from its journal.

The emulator runs in this process, so it sees every start request the child ever sent. Each
job's key is its title, which maps the emulator's tasks back to jobs.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

CHILD = Path(__file__).with_name("_batch_child.py")
N_JOBS = 60
KILLS = 6

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def parse_outcomes(stdout: bytes) -> list[dict[str, Any]]:
    # A kill can cut the last line short; complete lines are complete outcomes.
    lines = stdout.decode().splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            assert line is lines[-1], f"garbled line in the middle: {line!r}"
    return out


async def _spawn(emu: Any, journal: Path) -> asyncio.subprocess.Process:
    env = dict(os.environ, AIMUSIC_API_KEY=emu.api_key)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        emu.base_url,
        str(journal),
        str(N_JOBS),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def test_sigkill_and_resume_never_starts_a_job_twice(
    emulator_factory: Callable[..., Awaitable[Any]], tmp_path: Path
) -> None:
    # Latency keeps start requests in flight long enough for some kills to land mid-request.
    emu = await emulator_factory(generation_time=(0.3, 0.8), latency=0.05, seed=11)
    journal = tmp_path / "batch.db"
    rng = random.Random(20261127)
    finished_before: dict[str, str] = {}  # key -> task id, reported by a run later killed
    kills = 0
    for _ in range(KILLS):
        proc = await _spawn(emu, journal)
        await asyncio.sleep(rng.uniform(0.4, 1.0))  # the child needs ~0.3 s to import
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        stdout, _stderr = await proc.communicate()
        for o in parse_outcomes(stdout):
            if o["status"] == "finished":
                finished_before.setdefault(o["key"], o["task_id"])
                assert finished_before[o["key"]] == o["task_id"]

    proc = await _spawn(emu, journal)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    final = {o["key"]: o for o in parse_outcomes(stdout)}

    # Every job ends exactly once, finished or unknown.
    assert len(final) == N_JOBS
    status = collections.Counter(o["status"] for o in final.values())
    assert set(status) <= {"finished", "unknown"}, status
    # No job was ever created twice.
    creates = collections.Counter(str(t.body.get("title")) for t in emu.tasks.values())
    assert max(creates.values()) == 1
    # Nothing finished is lost: same task, still finished.
    for key, task_id in finished_before.items():
        assert final[key]["status"] == "finished"
        assert final[key]["task_id"] == task_id
    ids = {str(t.body.get("title")): tid for tid, t in emu.tasks.items()}
    for key, o in final.items():
        if o["status"] == "finished":
            assert ids[key] == o["task_id"]
    unknown = [k for k, o in final.items() if o["status"] == "unknown"]
    unknown_created = [k for k in unknown if creates[k]]
    assert emu.stats.creates == status["finished"] + len(unknown_created)
    # One more run: everything comes from the journal, not one request reaches the server.
    requests = emu.stats.requests
    proc = await _spawn(emu, journal)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    again = {o["key"]: o for o in parse_outcomes(stdout)}
    assert emu.stats.requests == requests
    assert {k: o["status"] for k, o in again.items()} == {k: o["status"] for k, o in final.items()}
    assert all(o["origin"] == "journal" for o in again.values() if o["status"] == "finished")
    print(
        f"\nSIGKILL test: kills={kills} finished={status['finished']} unknown={len(unknown)} "
        f"(created on the server: {len(unknown_created)}) creates={emu.stats.creates} "
        f"finished-before-a-kill={len(finished_before)}"
    )
