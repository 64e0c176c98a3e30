"""The slow-body attack on the embedded webhook receiver, measured (run by hand, not in CI).

Shape: many connections each declare a body just under the receiver's limit, send most of it
slowly, then go silent, while a genuine signed callback is posted every so often. The receiver
runs in a child process (``client.webhooks.serve()`` with its defaults), so the numbers are its
own: resident memory before, at peak and after, how long the attack holds its connections, and
whether the genuine callbacks get through meanwhile. Loopback only; no key, no network.

    python -m benchmarks.webhook_attack                      # 1,000 connections x ~1 MiB
    python -m benchmarks.webhook_attack --connections 200 --hold 30
    python -m benchmarks.webhook_attack --head --chunk 4000 --send 248000 --pace 0.1

Measured on 2 cores (receiver RSS before -> peak; how long the attack's connections stayed open;
genuine callbacks answered 200 during it):

* slow bodies, 1,000 x 1 MB: before the bounds 51 -> 1,024 MiB, all 1,000 still open when the
  attacker gave up at 60 s; with them 51 -> 95 MiB, the last closed at 10.2 s (p50 0.3 s),
  25/25 genuine callbacks accepted (slowest 0.2 s).
* slow heads, 1,000 x 248 KB of header lines: before 51 -> 542 MiB, all open at 60 s; with
  them 51 -> 115 MiB, the last closed at 10.1 s, 22/22 genuine callbacks accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import aiohttp

from aimusic_async import AIMusicClient
from aimusic_async.testing import sign_webhook

SECRET = "attack-benchmark-secret-0123456789"


# -- the receiver (child process) ------------------------------------------------------------------
async def _serve() -> None:
    async with AIMusicClient(
        api_key="bench", base_url="http://127.0.0.1:9", webhook_secret=SECRET
    ) as client:
        url = await client.webhooks.serve()
        print(url, flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip() == b"stats":
                stats = dict(vars(client.webhooks.stats))
                print(json.dumps(stats), flush=True)


def _rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


# -- the attacker ---------------------------------------------------------------------------------
async def _slow_sender(
    host: str,
    port: int,
    declared: int,
    send: int,
    chunk: int,
    pace: float,
    hold: float,
    head_only: bool = False,
) -> dict[str, Any]:
    """Declare ``declared`` bytes, send ``send`` of them ``chunk`` at a time every ``pace``
    seconds, then stay silent; returns when the server closes (or ``hold`` s have passed).
    ``head_only``: send ``send`` bytes of header lines instead, never ending the head."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        return {"connected": False, "error": type(exc).__name__}
    if head_only:
        # The head itself, never finished: header lines just under aiohttp's size limit.
        head = f"POST /webhook HTTP/1.1\r\nHost: {host}\r\n".encode()
        block = b"X-Pad: " + b"p" * (chunk - 9) + b"\r\n"
        chunk = len(block)
    else:
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-Signature: {'0' * 64}\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
        block = b"x" * chunk
    sent = 0
    answer = b""
    closed_at: float | None = None
    try:
        writer.write(head)
        while sent < send:
            writer.write(block[: min(chunk, send - sent)])
            sent += min(chunk, send - sent)
            await writer.drain()
            # Stop sending as soon as the server has answered or closed.
            try:
                answer = await asyncio.wait_for(reader.read(256), pace)
                closed_at = time.monotonic()
                break
            except asyncio.TimeoutError:
                pass
        if closed_at is None:
            remaining = hold - (time.monotonic() - started)
            try:
                answer = await asyncio.wait_for(reader.read(256), max(0.0, remaining))
                closed_at = time.monotonic()
            except asyncio.TimeoutError:
                pass
    except (ConnectionError, OSError):
        closed_at = time.monotonic()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "reset/eof"
    return {
        "connected": True,
        "sent": sent,
        "held": (closed_at or time.monotonic()) - started,
        "cut": closed_at is not None,
        "status": status,
    }


async def _genuine(url: str, n: int, every: float, duration: float) -> list[tuple[int, float]]:
    """Post a genuine signed callback every ``every`` s for ``duration`` s: (status, seconds)."""
    out: list[tuple[int, float]] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        end = time.monotonic() + duration
        i = 0
        while time.monotonic() < end:
            body = json.dumps(
                {
                    "code": 200,
                    "task_id": f"genuine-{n}-{i}",
                    "event": "song.completed",
                    "data": [{"clip_id": f"c{i}", "state": "succeeded"}],
                }
            ).encode()
            stamp = str(int(time.time()))
            current, legacy = sign_webhook(SECRET, stamp, body)
            headers = {
                "X-Webhook-Signature": current,
                "X-Webhook-Timestamp": stamp,
                "X-Signature": legacy,
                "Content-Type": "application/json",
            }
            t0 = time.monotonic()
            try:
                async with http.post(url, data=body, headers=headers) as r:
                    await r.read()
                    out.append((r.status, time.monotonic() - t0))
            except (aiohttp.ClientError, asyncio.TimeoutError):
                out.append((0, time.monotonic() - t0))
            i += 1
            await asyncio.sleep(every)
    return out


async def _attack(args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.webhook_attack", "--serve",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    url = (await proc.stdout.readline()).decode().strip()
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    await asyncio.sleep(0.5)
    # Warm the receiver with one genuine callback so the baseline includes aiohttp's imports.
    await _genuine(url, -1, 0.0, 0.01)
    before, _ = _rss(proc.pid)
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(_rss(proc.pid)[0])
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    t0 = time.monotonic()
    senders = [
        asyncio.create_task(
            _slow_sender(
                host,
                int(port),
                args.declared,
                args.send,
                args.chunk,
                args.pace,
                args.hold,
                args.head,
            )
        )
        for _ in range(args.connections)
    ]
    genuine = asyncio.create_task(_genuine(url, 0, args.genuine_every, args.send_time + 5))
    results = await asyncio.gather(*senders)
    elapsed = time.monotonic() - t0
    callbacks = await genuine
    sampler.cancel()
    await asyncio.sleep(1.0)
    after, peak_hwm = _rss(proc.pid)
    proc.stdin.write(b"stats\n")
    await proc.stdin.drain()
    stats = json.loads((await proc.stdout.readline()).decode())
    proc.stdin.close()
    await proc.wait()

    held = sorted(r["held"] for r in results if r.get("connected"))
    statuses: dict[str, int] = {}
    for r in results:
        key = r.get("status", "not connected")
        statuses[key] = statuses.get(key, 0) + 1
    ok = [s for s, _ in callbacks if s == 200]
    return {
        "shape": "slow heads" if args.head else "slow bodies",
        "connections": args.connections,
        "declared_bytes": args.declared,
        "sent_bytes_each": args.send,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_peak_mib": round(max([*samples, peak_hwm]) / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "attack_seconds": round(elapsed, 1),
        "held_p50_s": round(held[len(held) // 2], 1) if held else None,
        "held_max_s": round(held[-1], 1) if held else None,
        "still_open_at_hold": sum(1 for r in results if r.get("connected") and not r["cut"]),
        "attacker_answers": statuses,
        "genuine_ok": f"{len(ok)}/{len(callbacks)}",
        "genuine_max_s": round(max((t for _, t in callbacks), default=0.0), 3),
        "receiver_stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--declared", type=int, default=1_040_000, help="Content-Length sent")
    parser.add_argument("--send", type=int, default=1_000_000, help="bytes actually sent")
    parser.add_argument("--chunk", type=int, default=64 * 1024)
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between chunks")
    parser.add_argument("--hold", type=float, default=60.0, help="give up waiting after this")
    parser.add_argument("--genuine-every", type=float, default=0.5)
    parser.add_argument("--head", action="store_true", help="slow request heads instead")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    args.send_time = (args.send / args.chunk) * args.pace
    print(json.dumps(asyncio.run(_attack(args)), indent=2))


if __name__ == "__main__":
    main()
