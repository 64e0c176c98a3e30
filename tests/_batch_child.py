"""Child process of the SIGKILL test: runs one batch and prints each outcome as a JSON line.

Usage: python tests/_batch_child.py BASE_URL JOURNAL N_JOBS   (API key in AIMUSIC_API_KEY)
The job list is the same on every run, so a rerun with the same journal resumes it.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aimusic_async import AIMusicClient, PollPolicy
from aimusic_async.batch import Job, run_batch


def jobs(n: int) -> list[Job]:
    return [
        Job(
            key=f"k{i:03d}",
            operation="sonic.create",
            params={
                "mv": "sonic-v5",
                "custom_mode": True,
                "prompt": f"[Verse]\nsong {i}",
                "title": f"k{i:03d}",  # the key in the title: the test maps tasks back to jobs
                "tags": "pop",
            },
        )
        for i in range(n)
    ]


async def main(base_url: str, journal: str, n: int) -> int:
    poll = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=30.0)
    async with (
        AIMusicClient(base_url=base_url, poll=poll, timeout=5.0) as client,
        run_batch(client, jobs(n), concurrency=8, journal=journal) as run,
    ):
        async for outcome in run:
            print(json.dumps(outcome.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
