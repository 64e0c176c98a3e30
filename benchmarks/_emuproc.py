"""Child process: the emulator, plus a tiny side listener with the task timings it drew.

The benchmark needs to know when each task really finished on the server (to measure how late
a client noticed) and the generation times of a run (for the batch's lower bound). The emulator's
HTTP API does not expose them, so this launcher runs ``Emulator`` like ``aimusic emulator`` does
and serves ``emu.tasks`` timings on a second port. Times are ``time.monotonic()`` values, which on
Linux are system-wide and so comparable with the benchmark process's own clock.

Prints ``AIMUSIC_BASE_URL=``, ``AIMUSIC_API_KEY=`` and ``BENCH_INFO_URL=`` lines, then serves
until SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys

from aiohttp import web

from aimusic_async.testing import Emulator, EmulatorConfig


async def _serve(config: EmulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(config) as emu:

        async def timings(_: web.Request) -> web.Response:
            rows = sorted(emu.tasks.values(), key=lambda t: t.created)
            return web.json_response(
                [{"id": t.task_id, "created": t.created, "done": t.t_done} for t in rows]
            )

        async def cpu(_: web.Request) -> web.Response:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return web.json_response({"cpu": usage.ru_utime + usage.ru_stime})

        app = web.Application()
        app.router.add_get("/timings", timings)
        app.router.add_get("/cpu", cpu)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        sys.stdout.write(
            f"AIMUSIC_BASE_URL={emu.base_url}\nAIMUSIC_API_KEY={emu.api_key}\n"
            f"BENCH_INFO_URL=http://127.0.0.1:{port}\n"
        )
        sys.stdout.flush()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._emuproc")
    parser.add_argument("--config", required=True, help="JSON object of EmulatorConfig fields")
    args = parser.parse_args()
    asyncio.run(_serve(EmulatorConfig.from_mapping(json.loads(args.config))))


if __name__ == "__main__":
    main()
