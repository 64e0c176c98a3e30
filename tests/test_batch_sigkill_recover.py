"""A batch with webhooks killed with SIGKILL while starts are in doubt, then rerun: through a
Redis hub shared with the service's receiver (here, the test process) the rerun finds the tasks
its in-flight starts created, re-attaches to them, and reports only the starts that never
reached the server as unknown. Each job's key is its title, which maps tasks back to jobs."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aimusic_async import AIMusicClient, Journal
from aimusic_async.hubs import RedisHub

from .test_batch_sigkill import parse_outcomes

CHILD = Path(__file__).with_name("_batch_recover_child.py")
N_JOBS = 40
SECRET = "sigkill-recover-secret"
# Kill the child once this many more start answers were lost (the jobs then wait for their
# callbacks, which take at least the shortest generation time to come).
KILL_AFTER_LOST = (2, 3)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


async def _spawn(
    emu: Any, journal: Path, redis_url: str, namespace: str, hook_url: str
) -> asyncio.subprocess.Process:
    env = dict(os.environ, AIMUSIC_API_KEY=emu.api_key, AIMUSIC_TEST_WEBHOOK_SECRET=SECRET)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        emu.base_url,
        str(journal),
        str(N_JOBS),
        redis_url,
        namespace,
        hook_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def _in_doubt(journal: Path) -> dict[str, str]:
    """Jobs whose start may have reached the server, with the reference it carried."""
    async with Journal(journal) as j:
        entries = await j.entries()
    return {
        k: e.reference
        for k, e in entries.items()
        if e.state in ("starting", "unknown") and e.reference is not None
    }


async def test_a_batch_killed_mid_starts_recovers_them_through_the_hub(
    emulator_factory: Callable[..., Awaitable[Any]],
    client_factory: Callable[..., Awaitable[AIMusicClient]],
    redis_url: str,
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    # Lost start answers leave jobs waiting for their callbacks when the kill lands; latency
    # keeps start requests in flight so that some kills land mid-request too.
    emu = await emulator_factory(
        generation_time=(0.3, 0.8), latency=0.05, lost_response_rate=0.3, seed=12
    )
    receiver = await client_factory(
        emu.base_url,
        emu.api_key,
        webhook_secret=SECRET,
        hub=RedisHub(redis_url, namespace=redis_namespace),
    )
    hook_url = await receiver.webhooks.serve()
    journal = tmp_path / "batch.db"

    doubted: dict[str, str] = {}  # key -> reference, in doubt after some kill
    kills = 0
    for more in KILL_AFTER_LOST:
        target = emu.stats.lost_responses + more
        proc = await _spawn(emu, journal, redis_url, redis_namespace, hook_url)
        for _ in range(1500):  # up to 15 s
            if emu.stats.lost_responses >= target or proc.returncode is not None:
                break
            await asyncio.sleep(0.01)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        await asyncio.wait_for(proc.communicate(), 30)
        doubted.update(await _in_doubt(journal))
    assert kills == len(KILL_AFTER_LOST)

    proc = await _spawn(emu, journal, redis_url, redis_namespace, hook_url)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    final = {o["key"]: o for o in parse_outcomes(stdout)}
    assert len(final) == N_JOBS

    # No job was ever created twice.
    created: dict[str, list[str]] = collections.defaultdict(list)
    for task_id, record in emu.tasks.items():
        created[str(record.body.get("title"))].append(task_id)
    assert max(len(v) for v in created.values()) == 1
    # Every job the server created ends finished with that very task: its callback reached the
    # receiver, which linked the job's reference to it in Redis. Only starts that never reached
    # the server stay unknown.
    status = collections.Counter(o["status"] for o in final.values())
    assert set(status) <= {"finished", "unknown"}, status
    for key, o in final.items():
        if key in created:
            assert (o["status"], o["task_id"]) == ("finished", created[key][0]), o
        else:
            assert o["status"] == "unknown", o
    # The kills left created tasks in doubt, and the rerun recovered them (not a vacuous pass).
    doubted_created = [k for k in doubted if k in created]
    assert doubted_created
    recovered = [k for k, o in final.items() if o["origin"] == "recovered"]
    assert set(doubted_created) <= set(recovered) | {
        k for k, o in final.items() if o["origin"] == "journal"
    }
    assert emu.stats.creates == len(emu.tasks) == status["finished"]
    assert receiver.webhooks.stats.linked == emu.stats.creates
    print(
        f"\nSIGKILL + Redis hub: kills={kills} lost answers={emu.stats.lost_responses} "
        f"in doubt after the kills={len(doubted)} (created on the server: "
        f"{len(doubted_created)}); final: {dict(status)}, recovered in the last run="
        f"{len(recovered)}, creates={emu.stats.creates}"
    )
