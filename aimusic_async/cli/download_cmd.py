"""``aimusic download CLIP_OR_TASK_OR_URL --out DIR``: save audio files."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import AIMusicError, TaskFailedError, TaskNotFoundError, TaskTimeoutError
from ._console import UI
from ._options import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_global_options,
    add_wait_options,
    describe_error,
    make_client,
    run,
)
from ._render import error_json
from .task_cmds import TASK_FAMILIES

if TYPE_CHECKING:
    from .._client import AIMusicClient
    from ..models.common import Clip

__all__ = ["add_parser"]

# Files of one task downloaded at once: a full stem split is a dozen files or more.
DOWNLOAD_PARALLEL = 8


def add_parser(subparsers: Any) -> None:
    """Register ``aimusic download``."""
    parser = subparsers.add_parser(
        "download",
        help="download a task's clips (or one clip, or a URL) to a folder",
        description="Download audio. TARGET is a task id (every succeeded clip; waits for the "
        "task if it is still running), TASK_ID:CLIP_ID or a task id with --clip (one clip), or "
        "an http(s) URL (no API key needed). The API has no clip lookup, so a clip is found "
        "through its task.",
    )
    parser.add_argument("target", metavar="CLIP_OR_TASK_OR_URL")
    parser.add_argument(
        "-o", "--out", default=".", metavar="DIR", help="destination folder (default: .)"
    )
    parser.add_argument("--clip", metavar="CLIP_ID", help="only this clip of the task")
    parser.add_argument(
        "--family",
        choices=TASK_FAMILIES,
        default="sonic",
        help="the task's family (default: sonic)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing files instead of numbering"
    )
    add_wait_options(parser)
    add_global_options(parser, suppress=True)
    parser.set_defaults(handler=lambda args: run(args, _download))


def _out_dir(text: str) -> Path:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


async def _download(args: argparse.Namespace, ui: UI) -> int:
    target: str = args.target.strip()
    if target.lower().startswith(("http://", "https://")):
        return await _download_url(args, ui, target)
    task_id, _, clip_id = target.partition(":")
    clip_id = clip_id or args.clip or ""
    out = _out_dir(args.out)
    async with make_client(args) as client:
        task = client.task(task_id, family=args.family)
        try:
            snapshot = await task.refresh()
            result: Any = snapshot if snapshot.finished else await task.wait(timeout=args.timeout)
        except TaskNotFoundError:
            raise UsageError(
                f"no {args.family} task {task_id!r}. To download one clip, pass its task id "
                "with --clip CLIP_ID (or TASK_ID:CLIP_ID), or the clip's audio URL"
            ) from None
        except (TaskFailedError, TaskTimeoutError) as exc:
            return _report_failure(ui, task_id, exc)
        clips = [c for c in result.clips if c.succeeded and c.audio_url]
        if clip_id:
            clips = [c for c in result.clips if c.clip_id == clip_id]
            if not clips:
                known = ", ".join(c.clip_id for c in result.clips) or "none"
                raise UsageError(f"task {task_id} has no clip {clip_id!r} (its clips: {known})")
            if not clips[0].audio_url:
                raise UsageError(f"clip {clip_id} has no audio yet (state {clips[0].state})")
        if not clips:
            ui.error(f"error: task {task_id} has no succeeded clip to download")
            return EXIT_FAILED
        rows = await _fetch_all(client, clips, out, overwrite=args.overwrite)
    return _report(ui, rows)


async def _fetch_all(
    client: AIMusicClient, clips: list[Clip], out: Path, *, overwrite: bool
) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(DOWNLOAD_PARALLEL)

    async def one(clip: Clip) -> dict[str, Any]:
        async with limit:
            try:
                path = await client.download(clip, out, overwrite=overwrite)
            except Exception as exc:  # one bad file must not hide the others
                return {"clip_id": clip.clip_id, "error": error_json(exc)}
        return {"clip_id": clip.clip_id, "path": str(path), "bytes": path.stat().st_size}

    return list(await asyncio.gather(*(one(c) for c in clips)))


async def _download_url(args: argparse.Namespace, ui: UI, url: str) -> int:
    import aiohttp

    from .._download import download_url, public_url

    out = _out_dir(args.out)
    # A plain URL needs no key: a fresh session that never carries credentials.
    async with aiohttp.ClientSession() as session:
        try:
            path = await download_url(session, url, out, overwrite=args.overwrite)
        except AIMusicError as exc:
            # One file, one refusal: a line on stderr (or the JSON document), not a table.
            if ui.json_mode:
                row = {"url": public_url(url), "error": error_json(exc)}
                ui.emit_json({"files": [], "errors": [row]})
            else:
                ui.error(f"error: {describe_error(exc)}")
            return EXIT_FAILED
    return _report(ui, [{"url": public_url(url), "path": str(path), "bytes": path.stat().st_size}])


def _report(ui: UI, rows: list[dict[str, Any]]) -> int:
    failed = [r for r in rows if "error" in r]
    if ui.json_mode:
        ui.emit_json({"files": [r for r in rows if "path" in r], "errors": failed})
    else:
        ui.table(
            ["source", "file", "bytes"],
            [
                [
                    r.get("clip_id") or r.get("url"),
                    r.get("path") or f"FAILED: {r['error']['type']}: {r['error']['message']}",
                    r.get("bytes", ""),
                ]
                for r in rows
            ],
        )
    return EXIT_FAILED if failed else EXIT_OK


def _report_failure(ui: UI, task_id: str, exc: BaseException) -> int:
    if ui.json_mode:
        ui.emit_json({"task_id": task_id, "files": [], "errors": [error_json(exc)]})
    else:
        ui.error(f"error: {type(exc).__name__}: {exc}")
    return EXIT_FAILED
