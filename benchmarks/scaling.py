"""Scenario 5: cost per job as a batch grows (journal and downloads on), 1,000 to 20,000 jobs.

For each size a fresh emulator process (same seed, same create rate limit and generation times)
and a fresh client process (``python -m benchmarks.scaling``), so neither memory freed by an
earlier size nor a warm cache from it hides growth. The client process:

1. opens a client and runs a small warm-up batch (imports, pydantic schemas, SQLite, the thread
   pool, the connection pool), with its own journal and download folder;
2. reads its RSS (after ``gc.collect()``) and CPU time (``time.process_time``: this process, all
   its threads, so the journal's and the downloads' worker threads count);
3. builds ``n`` jobs and runs them with ``run_batch(client, jobs, journal=...,
   download_dir=...)`` to the end, keeping no outcome (only counts), sampling RSS meanwhile for
   the peak;
4. reads CPU, then RSS after dropping the job list and ``gc.collect()`` (what the run leaves
   behind).

Reported per size: client CPU per job, RSS growth per job (peak during the run, and what is
left after it), polls per task, wall time against ``n / rate``; and, as the scenario's figures,
largest / smallest of CPU per job and of peak RSS growth per job (target: within 20 %), and the
journal's commits per second at the largest size. RSS is a high-water mark (the allocator keeps
freed memory), so growth per job falls with size while the jobs in flight (at most
``concurrency``) dominate it; the marginal growth between the smallest and the largest size,
(growth(largest) - growth(smallest)) / (largest - smallest), is what each further job costs.

A size that runs past its time budget (``BUDGET_FACTOR`` times ``n / rate``, plus slack) is
stopped there and reported per completed job, flagged: a cost per job that grows with the size
would otherwise keep the largest size running for hours.

Commits are counted by SQLite itself, not by the SDK: an audit hook (``sys.addaudithook``) sees
the ``sqlite3.connect`` of the measured journal file and sets a statement trace callback on that
connection (``Connection.set_trace_callback``); a commit is a traced ``COMMIT`` / ``END``, or a
write statement executed outside an explicit transaction (SQLite commits it on its own). The
callback costs one Python call per statement, a few per job, on every size alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ._common import CREATE_PARAMS, cpu_seconds, rss_bytes, rss_bytes_now, scaled_policy
from ._emulator import EmulatorProcess

__all__ = ["run"]

# A few seconds of warm-up work before anything is measured.
WARMUP_JOBS = 50
# 0.1 s of 8 kHz mono audio: a 1.6 KB file per clip, two per job, so 20,000 jobs write 64 MB.
AUDIO_SECONDS = 0.1
# Enough that the emulator's balance never runs out (each start costs a few credits).
CREDITS = 10**9
# How often the client process samples its RSS for the peak (no gc: a plain /proc read).
RSS_SAMPLE_EVERY = 0.25
# A size may take this many times its rate bound (n / rate), plus the longest generation and
# BUDGET_SLACK seconds, before it is stopped (see ``run``).
BUDGET_FACTOR = 2.0
BUDGET_SLACK = 30.0
CHILD_TIMEOUT = 3600


class _CommitCounter:
    """Counts the transactions SQLite commits on one database file (see the module doc)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)
        self.commits = 0
        self.writes = 0
        self.statements = 0
        self._in_txn = False
        self._pending = threading.local()
        self.attached = False

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "sqlite3.connect":
            database = args[0]
            is_ours = isinstance(database, (str, bytes, os.PathLike)) and (
                os.path.realpath(os.fsdecode(database)) == self.path
            )
            self._pending.ours = is_ours
        elif event == "sqlite3.connect/handle" and getattr(self._pending, "ours", False):
            self._pending.ours = False
            # The event fires inside Connection.__init__, before the connection can take a
            # callback: attach at the next profiling event of this thread, once it can.
            conn = args[0]

            def attach(*_: Any) -> None:
                try:
                    conn.set_trace_callback(self._trace)
                except sqlite3.ProgrammingError:
                    return  # not initialised yet
                sys.setprofile(None)
                self.attached = True

            sys.setprofile(attach)

    def _trace(self, sql: str) -> None:
        self.statements += 1
        word = sql.lstrip()[:8].upper()
        if word.startswith("BEGIN"):
            self._in_txn = True
        elif word.startswith(("COMMIT", "END")):
            self._in_txn = False
            self.commits += 1
        elif word.startswith("ROLLBACK") and not word.startswith("ROLLBACK TO"):
            self._in_txn = False
        elif word.startswith(("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")):
            self.writes += 1
            if not self._in_txn:
                self.commits += 1


def _jobs(prefix: str, n: int) -> list[Any]:
    from aimusic_async import Job

    return [
        Job(key=f"{prefix}-{i}", operation="sonic.create", params=dict(CREATE_PARAMS))
        for i in range(n)
    ]


async def _child(
    base_url: str,
    api_key: str,
    n: int,
    workdir: Path,
    *,
    concurrency: int,
    scale: float,
    downloads: bool,
    budget: float,
) -> dict[str, Any]:
    from aimusic_async import AIMusicClient
    from aimusic_async.batch import run_batch

    counter = _CommitCounter(str(workdir / "journal.db"))
    sys.addaudithook(counter.hook)
    async with AIMusicClient(api_key, base_url, poll=scaled_policy(scale)) as client:
        warm_ok = 0
        async for outcome in client.batch(
            _jobs("warm", WARMUP_JOBS),
            concurrency=concurrency,
            journal=workdir / "warmup.db",
            download_dir=workdir / "warmup" if downloads else None,
        ):
            warm_ok += outcome.ok
        rss0 = rss_bytes()
        peak = [rss0]
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_bytes_now())
                await asyncio.sleep(RSS_SAMPLE_EVERY)

        sampler = asyncio.ensure_future(sample())
        statuses: dict[str, int] = {}
        cpu0, t0 = cpu_seconds(), time.monotonic()
        jobs = _jobs("job", n)
        stopped = False
        async with run_batch(
            client,
            jobs,
            concurrency=concurrency,
            journal=workdir / "journal.db",
            download_dir=workdir / "files" if downloads else None,
        ) as batch:
            async for outcome in batch:
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
                if time.monotonic() - t0 > budget:
                    stopped = True
                    break
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
        done.set()
        await sampler
        peak[0] = max(peak[0], rss_bytes_now())
        # What the run leaves behind: the job list (the caller's input) dropped first.
        del jobs
        rss1 = rss_bytes()
    files = list((workdir / "files").iterdir()) if (workdir / "files").exists() else []
    return {
        "n": n,
        "done": sum(statuses.values()),
        "stopped_over_budget": stopped,
        "budget_s": budget,
        "warmup_ok": warm_ok,
        "statuses": statuses,
        "cpu_s": cpu,
        "wall_s": wall,
        "rss_before": rss0,
        "rss_after": rss1,
        "rss_peak": peak[0],
        "files": len(files),
        "file_bytes": sum(f.stat().st_size for f in files),
        "journal_counted": counter.attached,
        "journal_commits": counter.commits if counter.attached else None,
        "journal_writes": counter.writes,
        "journal_statements": counter.statements,
    }


def _run_child(
    n: int,
    emu: EmulatorProcess,
    workdir: Path,
    *,
    concurrency: int,
    scale: float,
    downloads: bool,
    budget: float,
) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["AIMUSIC_API_KEY"] = emu.api_key  # not on the command line, where ps would show it
    cmd = [sys.executable, "-m", "benchmarks.scaling", str(n), emu.base_url, str(workdir)]
    cmd += ["--concurrency", str(concurrency), "--scale", repr(scale), "--budget", repr(budget)]
    if not downloads:
        cmd.append("--no-downloads")
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=False,
        timeout=CHILD_TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scaling child failed: {proc.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _ratio(rows: list[dict[str, Any]], key: str) -> float | None:
    first, last = rows[0][key], rows[-1][key]
    return last / first if first else None


def _marginal(rows: list[dict[str, Any]]) -> float | None:
    """Peak RSS growth per further job between the smallest and the largest size."""
    first, last = rows[0], rows[-1]
    extra = int(last["done"]) - int(first["done"])
    if extra <= 0:
        return None
    grown = (last["rss_peak"] - last["rss_before"]) - (first["rss_peak"] - first["rss_before"])
    return float(grown) / extra / 1024


def run(
    *,
    sizes: list[int],
    rate: float,
    burst: float,
    concurrency: int,
    gen: tuple[float, float],
    scale: float,
    seed: int,
    downloads: bool = True,
    budget_factor: float = BUDGET_FACTOR,
) -> dict[str, Any]:
    """Run one batch per size (smallest first); per-job figures and largest / smallest ratios.

    A size whose batch runs past ``budget_factor`` times its rate bound (plus the longest
    generation and some slack) is stopped there and reported per completed job, flagged: a cost
    per job that grows with the batch would otherwise make the largest size run for hours."""
    sizes = sorted(sizes)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        workdir = Path(tempfile.mkdtemp(prefix="aimusic-bench-scaling-"))
        try:
            with EmulatorProcess(
                seed=seed,
                generation_time=list(gen),
                create_rate_limit=rate,
                create_rate_burst=burst,
                audio_seconds=AUDIO_SECONDS,
                initial_credits=CREDITS,
            ) as emu:
                budget = budget_factor * n / rate + gen[1] + BUDGET_SLACK
                res = _run_child(
                    n,
                    emu,
                    workdir,
                    concurrency=concurrency,
                    scale=scale,
                    downloads=downloads,
                    budget=budget,
                )
                stats = emu.stats()
                res["emulator_cpu_s"] = emu.cpu()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        creates = max(1, stats["creates"])
        done = max(1, res["done"])
        res.update(
            {
                "cpu_ms_per_job": res["cpu_s"] / done * 1000,
                "rss_growth_kb_per_job": (res["rss_after"] - res["rss_before"]) / done / 1024,
                "rss_peak_growth_kb_per_job": (res["rss_peak"] - res["rss_before"]) / done / 1024,
                "polls_per_task": stats["polls"] / creates,
                "rate_limited": stats["rate_limited"],
                "creates": stats["creates"],
                "rate_bound_s": n / rate,
                "commits_per_s": res["journal_commits"] / res["wall_s"],
                "writes_per_commit": res["journal_writes"] / max(1, res["journal_commits"]),
            }
        )
        rows.append(res)
    return {
        "sizes": sizes,
        "rate": rate,
        "burst": burst,
        "concurrency": concurrency,
        "generation_time": list(gen),
        "scale": scale,
        "audio_seconds": AUDIO_SECONDS,
        "downloads": downloads,
        "runs": rows,
        "cpu_ratio": _ratio(rows, "cpu_ms_per_job"),
        "rss_ratio": _ratio(rows, "rss_peak_growth_kb_per_job"),
        "rss_after_ratio": _ratio(rows, "rss_growth_kb_per_job"),
        "rss_marginal_kb_per_job": _marginal(rows),
        "stopped": [r["n"] for r in rows if r["stopped_over_budget"]],
        "commits_per_s_largest": rows[-1]["commits_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling")
    parser.add_argument("n", type=int)
    parser.add_argument("base_url")
    parser.add_argument("workdir")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--budget", type=float, required=True)
    parser.add_argument("--no-downloads", action="store_true")
    args = parser.parse_args()
    # The SDK logs each 429 retry as a warning; the emulator counts them instead.
    import logging

    logging.getLogger("aimusic_async").addHandler(logging.NullHandler())
    gc.collect()
    result = asyncio.run(
        _child(
            args.base_url,
            os.environ["AIMUSIC_API_KEY"],
            args.n,
            Path(args.workdir),
            concurrency=args.concurrency,
            scale=args.scale,
            downloads=not args.no_downloads,
            budget=args.budget,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
