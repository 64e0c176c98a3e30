"""Child process of the SIGKILL recovery test: one batch whose tasks call back to a receiver in
another process (the test's), sharing a Redis hub with it; prints each outcome as a JSON line.

Usage: python tests/_batch_recover_child.py BASE_URL JOURNAL N_JOBS REDIS_URL NAMESPACE HOOK_URL
(API key in AIMUSIC_API_KEY, webhook secret in AIMUSIC_TEST_WEBHOOK_SECRET). The job list is the
same on every run, so a rerun with the same journal resumes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

# Run as a script: its folder is on sys.path. The same jobs as the plain SIGKILL test's child.
from _batch_child import jobs  # type: ignore[import-not-found]

from aimusic_async import AIMusicClient, PollPolicy
from aimusic_async.batch import run_batch
from aimusic_async.hubs import RedisHub


async def main(argv: list[str]) -> int:
    base_url, journal, n, redis_url, namespace, hook_url = argv
    # A short wait: it also bounds how long a start that never reached the server is waited for.
    poll = PollPolicy(initial_interval=0.05, max_interval=0.2, multiplier=1.5, timeout=5.0)
    async with AIMusicClient(
        base_url=base_url,
        poll=poll,
        timeout=5.0,
        webhook_secret=os.environ["AIMUSIC_TEST_WEBHOOK_SECRET"],
        hub=RedisHub(redis_url, namespace=namespace),
    ) as client:
        # Every process of the service announces the same public URL (here: the test's receiver).
        client.webhooks.use(hook_url)
        async with run_batch(client, jobs(int(n)), concurrency=8, journal=journal) as run:
            async for outcome in run:
                print(json.dumps(outcome.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
