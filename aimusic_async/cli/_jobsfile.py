"""Reading a batch file (JSON Lines, one ``{"key", "operation", "params"}`` per line); each problem
is one line naming the file, the line and the field, before any request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from ._options import UsageError, format_validation_error

__all__ = ["read_jobs"]

T = TypeVar("T")

# A batch file bigger than this is almost certainly not a jobs file (a WAV passed by mistake).
MAX_FILE_BYTES = 256 * 1024 * 1024


def _load_lines(path: Path) -> list[str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; not a jobs file?")
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def read_jobs(path: Path, check: Callable[[dict[str, Any]], T]) -> list[tuple[int, T]]:
    """Parse and check every line; ``(line number, whatever check returned)`` per job.

    ``check`` builds a job from one decoded line and raises pydantic.ValidationError (or
    UsageError / ValueError) when the line is bad. Blank lines are skipped. The first bad line
    stops the reading with a UsageError naming it.
    """
    name = path.name
    jobs: list[tuple[int, T]] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(_load_lines(path), start=1):
        text = raw.strip()
        if not text:
            continue
        where = f"{name}:{lineno}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise UsageError(
                f"{where}: expected a JSON object like "
                '{"key": "a", "operation": "sonic.create", "params": {...}}'
            )
        key = data.get("key")
        if isinstance(key, str) and key in seen:
            raise UsageError(f"{where}: key: {key!r} is already used on line {seen[key]}")
        try:
            job = check(data)
        except pydantic.ValidationError as exc:
            params = data.get("params")
            known = list(params) if isinstance(params, dict) else None
            raise UsageError(f"{where}: {_job_error(exc, known)}") from None
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{where}: {exc}") from None
        if isinstance(key, str):
            seen[key] = lineno
        jobs.append((lineno, job))
    if not jobs:
        raise UsageError(f"{name}: no jobs (expected one JSON object per line)")
    return jobs


def _job_error(exc: pydantic.ValidationError, known: list[str] | None) -> str:
    # Errors from the Job model name top-level fields (key, operation, params.x); errors from
    # a request model name the parameter (title) and get the "params." prefix.
    # The Job model's title is "Job: <field>: <rule>", like every request model's.
    title = exc.title or ""
    if title == "Job" or title.startswith("Job: "):
        return format_validation_error(exc, prefix="")
    return format_validation_error(exc, prefix="params", known=known)
