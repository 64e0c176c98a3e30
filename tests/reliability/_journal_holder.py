"""Child process of the journal tests: runs one batch on a journal and pauses in the middle.

Usage: python _journal_holder.py BASE_URL JOURNAL N_JOBS   (API key in AIMUSIC_API_KEY)

After the first outcome it prints ``holding`` and waits for a line on stdin before consuming the
rest. The journal is a ``Journal`` this process keeps open until then, so the parent can try the
same file while it is certainly still in use here. Each outcome is printed as a JSON line; the
last line is ``done``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aimusic_async import AIMusicClient, Journal, PollPolicy
from aimusic_async.batch import Job, run_batch


def jobs(n: int) -> list[Job]:
    return [
        Job(
            key=f"h{i:02d}",
            operation="sonic.create",
            params={
                "mv": "sonic-v5",
                "custom_mode": True,
                "prompt": f"[Verse]\nsong {i}",
                "title": f"h{i:02d}",
                "tags": "pop",
            },
        )
        for i in range(n)
    ]


async def main(base_url: str, journal: str, n: int) -> int:
    poll = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=30.0)
    loop = asyncio.get_running_loop()
    async with (
        AIMusicClient(base_url=base_url, poll=poll, timeout=5.0) as client,
        Journal(journal) as held,
        run_batch(client, jobs(n), concurrency=n, journal=held) as run,
    ):
        first = True
        async for outcome in run:
            print(json.dumps(outcome.summary()), flush=True)
            if first:
                first = False
                print("holding", flush=True)
                await loop.run_in_executor(None, sys.stdin.readline)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
