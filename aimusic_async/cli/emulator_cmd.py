"""``aimusic emulator``: the local API emulator in the foreground until Ctrl-C / SIGTERM; it first
prints ``AIMUSIC_BASE_URL=...`` and ``AIMUSIC_API_KEY=...`` for scripts to read."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from ..testing._config import (
    DEFAULT_AUDIO_SECONDS,
    DEFAULT_GENERATION_TIME,
    DEFAULT_INITIAL_CREDITS,
)

__all__ = ["add_parser", "run"]

# The port the docs and README use in examples; --port 0 picks a free one.
DEFAULT_PORT = 8787

# flag -> (EmulatorConfig field, metavar, help), for the simple numeric knobs.
_FLOAT_FLAGS = {
    "--clip-failure-rate": (
        "clip_failure_rate",
        "P",
        "chance (0-1) that each clip fails; its share of the price is refunded (default 0)",
    ),
    "--create-rate-limit": (
        "create_rate_limit",
        "PER_SECOND",
        "start requests per second per key before 429 + Retry-After (default: unlimited)",
    ),
    "--create-rate-burst": (
        "create_rate_burst",
        "N",
        "start requests that may arrive back to back under --create-rate-limit (default 1)",
    ),
    "--latency": ("latency", "SECONDS", "added to every API answer (default 0)"),
    "--server-error-rate": (
        "server_error_rate",
        "P",
        "chance of a 500 before a request does anything (default 0)",
    ),
    "--disconnect-rate": (
        "disconnect_rate",
        "P",
        "chance the connection is dropped before a request does anything (default 0)",
    ),
    "--lost-response-rate": (
        "lost_response_rate",
        "P",
        "chance a start request creates and charges its task but its answer is lost (default 0)",
    ),
    "--webhook-loss-rate": (
        "webhook_loss_rate",
        "P",
        "chance a webhook delivery is never sent (default 0)",
    ),
    "--webhook-duplicate-rate": (
        "webhook_duplicate_rate",
        "P",
        "chance a webhook is delivered twice with the same id (default 0)",
    ),
    "--cdn-error-rate": ("cdn_error_rate", "P", "chance a CDN file answers 503 (default 0)"),
    "--cdn-truncate-rate": (
        "cdn_truncate_rate",
        "P",
        "chance a CDN file is cut off half-way (full Content-Length promised) (default 0)",
    ),
    "--audio-seconds": (
        "audio_seconds",
        "SECONDS",
        "typical clip length; each song lasts 0.75-1.25 times this "
        f"(default {DEFAULT_AUDIO_SECONDS:g})",
    ),
}


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "emulator",
        help="run the local API emulator",
        description="Run the AI Music API emulator (API + CDN) in the foreground.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"API port; 0 = any free port (default {DEFAULT_PORT})",
    )
    p.add_argument("--cdn-port", type=int, default=0, help="CDN port (default: any free port)")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="JSON object of EmulatorConfig fields (the flags given here win)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seeds every random decision: the same requests give the same answers and the "
        "same songs (default 0)",
    )
    p.add_argument(
        "--generation-time",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="seconds from a start request to its last clip finishing, drawn between MIN and "
        "MAX (default {:g} {:g})".format(*DEFAULT_GENERATION_TIME),
    )
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept this key (repeatable; default: one generated key)",
    )
    p.add_argument(
        "--initial-credits",
        type=int,
        metavar="N",
        help=f"starting balance of each key (default {DEFAULT_INITIAL_CREDITS})",
    )
    p.add_argument(
        "--webhook-streaming",
        action="store_true",
        default=None,
        help="also send song.streaming webhooks when the first clip starts streaming",
    )
    for flag, (field, metavar, text) in _FLOAT_FLAGS.items():
        p.add_argument(flag, type=float, dest=field, metavar=metavar, help=text)
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
    for field, _, _ in _FLOAT_FLAGS.values():
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
