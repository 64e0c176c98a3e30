"""``aimusic emulator``: the local API emulator in the foreground until Ctrl-C / SIGTERM; it first
prints ``AIMUSIC_BASE_URL=...`` and ``AIMUSIC_API_KEY=...`` for scripts to read."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

__all__ = ["add_parser", "run"]

# The port the docs and README use in examples; --port 0 picks a free one.
DEFAULT_PORT = 8787

# flag -> EmulatorConfig field, for the simple numeric knobs.
_FLOAT_FLAGS = {
    "--clip-failure-rate": "clip_failure_rate",
    "--create-rate-limit": "create_rate_limit",
    "--create-rate-burst": "create_rate_burst",
    "--latency": "latency",
    "--server-error-rate": "server_error_rate",
    "--disconnect-rate": "disconnect_rate",
    "--lost-response-rate": "lost_response_rate",
    "--webhook-loss-rate": "webhook_loss_rate",
    "--webhook-duplicate-rate": "webhook_duplicate_rate",
    "--cdn-error-rate": "cdn_error_rate",
    "--cdn-truncate-rate": "cdn_truncate_rate",
    "--audio-seconds": "audio_seconds",
}


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "emulator",
        help="run the local API emulator",
        description="Run the AI Music API emulator (API + CDN) in the foreground.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port; 0 = any free port")
    p.add_argument("--cdn-port", type=int, default=0, help="CDN port (default: any free port)")
    p.add_argument("--config", metavar="FILE", help="JSON object of EmulatorConfig fields")
    p.add_argument("--seed", type=int)
    p.add_argument("--generation-time", type=float, nargs=2, metavar=("MIN", "MAX"))
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept this key (repeatable; default: one generated key)",
    )
    p.add_argument("--initial-credits", type=int)
    p.add_argument(
        "--webhook-streaming",
        action="store_true",
        default=None,
        help="also send song.streaming webhooks when the first clip starts streaming",
    )
    for flag, field in _FLOAT_FLAGS.items():
        p.add_argument(flag, type=float, dest=field)
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> Any:
    from aimusic_async.testing import EmulatorConfig

    config = EmulatorConfig.from_json_file(args.config) if args.config else EmulatorConfig()
    changes: dict[str, Any] = {"host": args.host, "port": args.port, "cdn_port": args.cdn_port}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.generation_time is not None:
        changes["generation_time"] = tuple(args.generation_time)
    if args.api_keys:
        changes["api_keys"] = tuple(args.api_keys)
    if args.initial_credits is not None:
        changes["initial_credits"] = args.initial_credits
    if args.webhook_streaming:
        changes["webhook_streaming"] = True
    for field in _FLOAT_FLAGS.values():
        value = getattr(args, field)
        if value is not None:
            changes[field] = value
    return config.replace(**changes)


async def _serve(config: Any) -> None:
    from aimusic_async.testing import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers; Ctrl-C then raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(config) as emu:
        sys.stdout.write(f"AIMUSIC_BASE_URL={emu.base_url}\nAIMUSIC_API_KEY={emu.api_key}\n")
        sys.stdout.flush()
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except (OSError, ValueError, TypeError) as exc:
        print(f"aimusic emulator: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are unavailable
        pass
    except OSError as exc:
        print(f"aimusic emulator: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
