"""``aimusic demo``: the SDK end to end (lyrics, a first song, a dozen varied jobs through
``client.batch``, downloads, a table of files) on the embedded emulator, no key and no network;
with ``--base-url`` (and only then) against that API instead."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._console import UI
from ._options import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_global_options,
    add_wait_options,
    make_client,
    run,
)
from ._progress import fmt_duration

if TYPE_CHECKING:
    from .._client import AIMusicClient
    from ..batch import Job, JobOutcome

__all__ = ["add_parser", "demo_jobs"]

DEFAULT_OUT = "aimusic-demo"
DEFAULT_JOBS = 12
# Long enough that the live progress is worth watching, short enough that the whole demo (a
# first song, then the batch) ends in about ten seconds.
DEMO_GENERATION_TIME = (2.0, 5.0)
# --fast (tests, CI): the same flow in about a second.
FAST_GENERATION_TIME = (0.05, 0.25)
# Poll quickly: the emulator is local and its tasks take seconds, not minutes.
DEMO_POLL = (0.25, 1.0)
FAST_POLL = (0.02, 0.1)
# Fixed so the demo's titles and timings are the same every run.
DEMO_SEED = 2026
# All twelve jobs at once (the point is to watch them run in parallel); a bigger --jobs is
# still bounded so a thousand-job demo does not open a thousand connections.
DEMO_CONCURRENCY = 64
# A demo that somehow hangs should say so rather than sit there.
DEMO_TASK_DEADLINE = 120.0


def add_parser(subparsers: Any) -> None:
    """Register ``aimusic demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run a small batch end to end on a local emulator (no key, no network)",
        description="Start the API emulator in-process, run a dozen varied jobs through a batch "
        "with live progress, download the audio and show what it cost. Needs no key and no "
        "network. With --base-url the same jobs go to that API instead, with the key from "
        "--api-key or $AIMUSIC_API_KEY (against the real service this spends real credits; "
        "$AIMUSIC_BASE_URL alone never does that).",
    )
    parser.add_argument(
        "-o",
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where the audio goes (default: ./{DEFAULT_OUT}/)",
    )
    parser.add_argument(
        "--jobs",
        type=_job_count,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"how many jobs the batch runs (default: {DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="tiny generation times (the whole demo in about a second; emulator only)",
    )
    add_wait_options(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run(args, _demo))


def _job_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {text}")
    return value


# -- the jobs -----------------------------------------------------------------------------------
def _templates(
    lyrics: str, lyrics_title: str, clip_a: str, clip_b: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, operation, params) for a dozen different kinds of work."""
    return [
        (
            "custom-lyrics",
            "sonic.create",
            {
                "mv": "sonic-v4-5",
                "custom_mode": True,
                "title": lyrics_title[:80] or "Sunrise Road",
                "tags": "indie pop, warm, acoustic guitar",
                "prompt": lyrics,
            },
        ),
        (
            "description",
            "sonic.create",
            {
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "An upbeat summer pop song about road trips and freedom",
            },
        ),
        (
            "instrumental",
            "sonic.create",
            {
                "mv": "sonic-v5",
                "custom_mode": True,
                "make_instrumental": True,
                "title": "Night Drive",
                "tags": "synthwave, retro, instrumental",
            },
        ),
        (
            "auto-lyrics",
            "sonic.create",
            {
                "mv": "sonic-v4-5",
                "custom_mode": True,
                "auto_lyrics": True,
                "prompt": "a song about city lights after the rain",
                "title": "Neon Puddles",
                "tags": "r&b, smooth",
            },
        ),
        (
            "female-vocals",
            "sonic.create",
            {
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "A soulful ballad with a gospel choir in the last chorus",
                "vocal_gender": "f",
                "style_weight": 0.7,
            },
        ),
        (
            "extend",
            "sonic.extend",
            {
                "clip_id": clip_a,
                "continue_at": 30,
                "mv": "sonic-v5",
                "custom_mode": True,
                "prompt": "[Verse 2]\nThe road goes on and so do we\n\n[Chorus]\nOne more mile",
            },
        ),
        (
            "cover",
            "sonic.cover",
            {
                "clip_id": clip_a,
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "the same song as a slow acoustic folk cover",
                "audio_weight": 0.6,
            },
        ),
        ("remaster", "sonic.remaster", {"clip_id": clip_b, "mv": "sonic-v5"}),
        ("stems", "sonic.stems_basic", {"clip_id": clip_a}),
        (
            "mashup",
            "sonic.mashup",
            {
                "mashup_clip_ids": [clip_a, clip_b],
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "blend both takes into one dance track",
            },
        ),
        (
            "producer",
            "producer.create",
            {"sound": "warm lo-fi piano with vinyl crackle", "title": "Study Session"},
        ),
        (
            "negative-tags",
            "sonic.create",
            {
                "mv": "sonic-v5",
                "custom_mode": False,
                "gpt_description_prompt": "a cheerful jingle for a bakery",
                "negative_tags": "metal, distortion",
                "weirdness_constraint": 0.2,
            },
        ),
    ]


def demo_jobs(count: int, *, lyrics: str, lyrics_title: str, clip_a: str, clip_b: str) -> list[Job]:
    """``count`` jobs cycling through the templates (keys numbered so they stay unique)."""
    from ..batch import Job

    templates = _templates(lyrics, lyrics_title, clip_a, clip_b)
    jobs = []
    for n in range(count):
        key, operation, params = templates[n % len(templates)]
        round_ = n // len(templates)
        jobs.append(
            Job(
                key=f"{n + 1:02d}-{key}" + (f"-{round_ + 1}" if round_ else ""),
                operation=operation,
                params=params,
            )
        )
    return jobs


# -- the run ------------------------------------------------------------------------------------
def _prepare_out(text: str) -> Path:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


async def _first_song(client: AIMusicClient, ui: UI) -> Any:
    task = await client.sonic.create(
        mv="sonic-v5",
        custom_mode=False,
        gpt_description_prompt="a bright indie pop song about a sunrise road trip",
    )
    if ui.live:
        with ui.console().status(f"making a first song (task {task.id}) ..."):
            return await task
    return await task


async def _demo(args: argparse.Namespace, ui: UI) -> int:
    import anyio.to_thread

    from .. import _clock
    from .._client import AIMusicClient
    from .._tasks import PollPolicy
    from ..testing import Emulator, EmulatorConfig

    remote = getattr(args, "base_url", None)
    if not remote and getattr(args, "api_key", None):
        raise UsageError(
            "--api-key needs --base-url: the demo runs on its own local emulator unless "
            "--base-url names the API to run it against"
        )
    if remote and args.fast:
        raise UsageError("--fast sets the local emulator's speed; it has no effect with --base-url")
    out = await anyio.to_thread.run_sync(_prepare_out, args.out)
    began = _clock.monotonic()
    stats: dict[str, Any] | None = None
    if remote:
        # make_client: the key from --api-key or the environment, --timeout / --poll-interval,
        # else the SDK's own polling (a real service must not be polled at the emulator's pace).
        client = make_client(args)
        ui.say(
            f"aimusic demo: against {remote} with your key: {args.jobs + 1} tasks and a "
            "lyrics call (on a paid service this spends credits)"
        )
        async with client:
            before, after, jobs, outcomes = await _run(client, ui, args.jobs, out)
    else:
        generation = FAST_GENERATION_TIME if args.fast else DEMO_GENERATION_TIME
        first, cap = FAST_POLL if args.fast else DEMO_POLL
        if args.poll_interval is not None:
            first, cap = min(first, args.poll_interval), args.poll_interval
        deadline = args.timeout if args.timeout is not None else DEMO_TASK_DEADLINE
        config = EmulatorConfig(seed=DEMO_SEED, generation_time=generation)
        async with Emulator(config) as emu:
            ui.say(f"aimusic demo: API emulator at {emu.base_url} (no key, no network)")
            poll = PollPolicy(initial_interval=first, max_interval=cap, timeout=deadline)
            async with AIMusicClient(
                api_key=emu.api_key, base_url=emu.base_url, poll=poll
            ) as client:
                before, after, jobs, outcomes = await _run(client, ui, args.jobs, out)
            stats = emu.stats.as_dict()
    elapsed = _clock.monotonic() - began
    spent = before.total - after.total
    ok = all(o.ok for o in outcomes)
    files = await anyio.to_thread.run_sync(_file_rows, outcomes)

    if ui.json_mode:
        ui.emit_json(
            {
                "ok": ok,
                "out": str(out),
                "jobs": [o.summary() for o in outcomes],
                "files": files,
                "credits_before": before.total,
                "credits_after": after.total,
                "credits_spent": spent,
                "api": remote or "emulator",
                "emulator": stats,
                "elapsed": round(elapsed, 3),
            }
        )
        return EXIT_OK if ok else EXIT_FAILED

    order = {job.key: n for n, job in enumerate(jobs)}
    outcomes.sort(key=lambda o: order[o.job.key])
    ui.table(
        ["job", "file", "bytes"],
        _summary_rows(outcomes, files, out),
        title="Demo results",
    )
    finished = sum(1 for o in outcomes if o.ok)
    total_bytes = sum(f["bytes"] for f in files)
    ui.say(
        f"{finished}/{len(outcomes)} jobs finished; {len(files)} files ({total_bytes:,} bytes) "
        f"in {out}; credits spent: {spent:,} ({before.total:,} -> {after.total:,}); "
        f"took {fmt_duration(elapsed)}"
    )
    ui.say("Next: point AIMUSIC_API_KEY at your account and try `aimusic batch jobs.jsonl`.")
    return EXIT_OK if ok else EXIT_FAILED


async def _run(
    client: AIMusicClient, ui: UI, count: int, out: Path
) -> tuple[Any, Any, list[Job], list[JobOutcome]]:
    """Lyrics, a first song, then the batch: (credits before, after, the jobs, outcomes)."""
    from .batch_cmd import run_jobs

    before = await client.credits()
    lyrics = await client.lyrics.generate("a sunrise road trip with old friends")
    variant = lyrics.variants[0]
    ui.say(f"1/3 lyrics written: {variant.title!r} ({len(lyrics.variants)} variants)")

    seed = await _first_song(client, ui)
    clip_a, clip_b = (seed.clips + seed.clips)[:2]
    ui.say(f"2/3 first song done: task {seed.task_id}, {len(seed.clips)} clips")

    jobs = demo_jobs(
        count,
        lyrics=variant.lyrics,
        lyrics_title=variant.title,
        clip_a=clip_a.clip_id,
        clip_b=clip_b.clip_id,
    )
    ui.say(f"3/3 running a batch of {len(jobs)} jobs, downloading to {out}")
    outcomes = await run_jobs(
        client,
        jobs,
        ui,
        concurrency=min(len(jobs), DEMO_CONCURRENCY),
        out=str(out),
        stream_json=False,
    )
    after = await client.credits()
    return before, after, jobs, outcomes


def _summary_rows(
    outcomes: list[JobOutcome], files: list[dict[str, Any]], out: Path
) -> list[list[Any]]:
    """One row per file (the job named on its first), or the status and error of a job
    without files. File names are shown relative to ``out`` (the footer names the folder)."""
    rows: list[list[Any]] = []
    for outcome in outcomes:
        mine = [f for f in files if f["job"] == outcome.job.key]
        if not mine:
            error = outcome.error
            detail = f"{type(error).__name__}: {error}" if error is not None else "no files"
            rows.append([outcome.job.key, f"{outcome.status.upper()}: {detail}", ""])
            continue
        for n, f in enumerate(mine):
            shown = Path(f["path"])
            with contextlib.suppress(ValueError):
                shown = shown.relative_to(out)
            rows.append([outcome.job.key if n == 0 else "", str(shown), f"{f['bytes']:,}"])
    return rows


def _file_rows(outcomes: list[JobOutcome]) -> list[dict[str, Any]]:
    """One row per downloaded file: its job, clip (from the name, which holds the id), size."""
    rows = []
    for outcome in outcomes:
        clips = outcome.result.succeeded if outcome.result is not None else []
        for path in outcome.files:
            clip_id = next((c.clip_id for c in clips if c.clip_id in path.name), None)
            rows.append(
                {
                    "job": outcome.job.key,
                    "clip_id": clip_id,
                    "path": str(path),
                    "bytes": path.stat().st_size,
                }
            )
    return rows
