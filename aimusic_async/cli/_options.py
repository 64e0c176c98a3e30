"""What every subcommand shares: global flags, the client, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from .._constants import API_KEY_ENV, BASE_URL_ENV
from ._console import UI

if TYPE_CHECKING:
    import pydantic

    from .._client import AIMusicClient

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "HintedError",
    "UsageError",
    "add_global_options",
    "add_wait_options",
    "describe_error",
    "error_json",
    "format_validation_error",
    "make_client",
    "make_ui",
    "parse_params",
    "resume_command",
    "run",
]

EXIT_OK = 0
# A task or job failed, or its outcome is unknown; also API errors at run time.
EXIT_FAILED = 1
# Bad command line or bad input file (argparse uses 2 as well).
EXIT_USAGE = 2
# The conventional 128 + SIGINT.
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class HintedError(Exception):
    """An error reported as it is, followed by one sentence saying what to do about it."""

    def __init__(self, error: BaseException, hint: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.hint = hint


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The flags every subcommand takes, before or after its name.

    The subparsers get them with ``suppress=True`` (default SUPPRESS) so a flag given before the
    subcommand is not overwritten by the subparser's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help=f"API key (default: ${API_KEY_ENV}; never printed)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=f"API base URL (default: ${BASE_URL_ENV}, else https://api.aimusicapi.ai)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine output: one JSON document (JSON Lines for batch outcomes)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="debug logging on stderr, tracebacks on errors",
    )


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    """How long and how often to poll (for commands that wait on tasks)."""
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        default=None,
        help="give up waiting after this long (default: the SDK's poll deadline, 10 minutes)",
    )
    parser.add_argument(
        "--poll-interval",
        type=_positive_float,
        metavar="SECONDS",
        default=None,
        help="poll at most this often (default: adaptive, backing off to 20 s)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def api_key_from(args: argparse.Namespace) -> str | None:
    key: str | None = getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV)
    return key or None


def make_ui(args: argparse.Namespace) -> UI:
    return UI(json_mode=bool(getattr(args, "json", False)), secrets=[api_key_from(args) or ""])


def make_client(args: argparse.Namespace) -> AIMusicClient:
    """The client from --api-key/--base-url (or the environment) and the wait options."""
    from .._client import AIMusicClient
    from .._tasks import PollPolicy

    key = api_key_from(args)
    if not key:
        raise UsageError(
            f"no API key: pass --api-key or set {API_KEY_ENV} "
            "(try `aimusic demo`, which needs none, or `aimusic emulator` for a local API)"
        )
    base_url = getattr(args, "base_url", None) or os.environ.get(BASE_URL_ENV) or None
    poll: PollPolicy | None = None
    interval = getattr(args, "poll_interval", None)
    timeout = getattr(args, "timeout", None)
    if interval is not None or timeout is not None:
        poll = PollPolicy()
        if interval is not None:
            poll = dataclasses.replace(
                poll, initial_interval=min(interval, poll.initial_interval), max_interval=interval
            )
        if timeout is not None:
            poll = dataclasses.replace(poll, timeout=timeout)
    try:
        return AIMusicClient(api_key=key, base_url=base_url, poll=poll)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- parameters -----------------------------------------------------------------------------------
def parse_params(pairs: Sequence[str], document: str | None) -> dict[str, Any]:
    """Operation parameters from a JSON object and/or ``k=v`` pairs (pairs win).

    A value that reads as JSON (``true``, ``0.5``, ``["a"]``, ``null``) is taken as such;
    anything else is a string. Quote a string that looks like JSON: ``title='"2024"'``.
    """
    params: dict[str, Any] = {}
    if document is not None:
        text = document
        if document.startswith("@"):
            try:
                with open(document[1:], encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise UsageError(f"cannot read {document[1:]}: {exc.strerror}") from None
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"params: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(loaded, dict):
            raise UsageError('params: expected a JSON object like {"mv": "sonic-v5"}')
        params.update(loaded)
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name] = value
    return params


def format_validation_error(
    exc: pydantic.ValidationError,
    *,
    prefix: str = "params",
    known: Collection[str] | None = None,
) -> str:
    """The first error of a pydantic ValidationError as ``params.title: <message>``.

    A tagged union validated by pydantic alone puts the tag first in the location
    (``create_music.title``); it is dropped when it is not one of the ``known`` parameter names
    (or, without them, when the error comes from a union).
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return f"{prefix}: {exc}"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    if len(loc) > 1 and _is_union_tag(loc[0], exc, known):
        loc = loc[1:]
    where = ".".join([p for p in (prefix, *loc) if p]) or "input"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def _is_union_tag(part: str, exc: pydantic.ValidationError, known: Collection[str] | None) -> bool:
    if known is not None:
        return part not in known
    # The SDK's request errors carry no tag (their first location is the field); a union
    # validated by pydantic alone says so in its title.
    return "union" in (exc.title or "")


def error_json(exc: BaseException) -> dict[str, Any]:
    """An error as a JSON object: ``type``, a one-line ``message`` and what else it names."""
    doc: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": describe_error(exc).split(": ", 1)[-1],
    }
    for attr in ("status", "task_id", "reason", "operation"):
        value = getattr(exc, attr, None)
        if isinstance(value, (str, int, float)):
            doc[attr] = value
    return doc


def resume_command(args: argparse.Namespace, task_id: str, family: str) -> str:
    """The command that picks a task up again (the key is never part of it)."""
    command = f"aimusic wait {task_id} --family {family}"
    base_url = getattr(args, "base_url", None)
    return command + (f" --base-url {base_url}" if base_url else "")


def describe_error(exc: BaseException) -> str:
    """One line: the class name and its message (no traceback, never a secret)."""
    import pydantic

    if isinstance(exc, pydantic.ValidationError):
        return f"ValidationError: {format_validation_error(exc)}"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


# -- running -------------------------------------------------------------------------------------
class _Redact(logging.Filter):
    """Scrubs a secret from every log line, should any code ever log it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            text = record.getMessage()
            if self.secret in text:
                record.msg = text.replace(self.secret, "***")
                record.args = None
        return True


def setup_logging(args: argparse.Namespace) -> None:
    if not getattr(args, "verbose", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact(api_key_from(args) or ""))
    logger = logging.getLogger("aimusic_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _report(
    ui: UI, exc: BaseException, code: int, *, verbose: bool, hint: str | None = None
) -> int:
    """One line on stderr (plus the traceback with -v); in JSON mode also one JSON document on
    stdout, so a script reading stdout learns what went wrong. Returns ``code``."""
    if verbose:
        ui.error(ui.scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
    line = f"error: {exc}" if isinstance(exc, UsageError) else f"error: {describe_error(exc)}"
    ui.error(line + (f" ({hint})" if hint else ""))
    if ui.json_mode:
        doc = error_json(exc)
        if isinstance(exc, UsageError):
            doc["message"] = str(exc)
        if hint:
            doc["hint"] = hint
        ui.emit_json({"ok": False, "exit_code": code, "error": doc})
    return code


def report_interrupt(
    ui: UI, *, resume: str | None = None, task: tuple[str, str] | None = None
) -> int:
    """Ctrl-C: one line saying how to pick the work up again, and exit code 130."""
    ui.error("interrupted" + (f"; {resume}" if resume else ""))
    if ui.json_mode:
        doc: dict[str, Any] = {"ok": False, "exit_code": EXIT_INTERRUPTED}
        if task is not None:
            doc["task_id"], doc["family"] = task
        doc["error"] = {"type": "KeyboardInterrupt", "message": "interrupted"}
        if resume:
            doc["error"]["hint"] = resume
        ui.emit_json(doc)
    return EXIT_INTERRUPTED


def run(
    args: argparse.Namespace,
    body: Callable[[argparse.Namespace, UI], Coroutine[Any, Any, int]],
) -> int:
    """Run one subcommand's coroutine; turn every error into one line and an exit code.

    A body that starts or follows a task sets ``args.resume_task`` to ``(task_id, family)``:
    Ctrl-C then says how to pick the task up again instead of leaving the user without its id.
    """
    ui = make_ui(args)
    setup_logging(args)
    verbose = bool(getattr(args, "verbose", False))
    try:
        return asyncio.run(body(args, ui))
    except KeyboardInterrupt:
        journal = getattr(args, "journal", None)
        task: tuple[str, str] | None = getattr(args, "resume_task", None)
        resume = None
        if task is not None:
            resume = f"the task goes on; follow it with: {resume_command(args, *task)}"
        elif journal:
            resume = f"run the same command again to resume from {journal}"
        return report_interrupt(ui, resume=resume, task=task)
    except UsageError as exc:
        return _report(ui, exc, EXIT_USAGE, verbose=False)
    except HintedError as exc:
        import pydantic

        code = EXIT_USAGE if isinstance(exc.error, pydantic.ValidationError) else EXIT_FAILED
        return _report(ui, exc.error, code, verbose=verbose, hint=exc.hint)
    except Exception as exc:
        import pydantic

        code = EXIT_USAGE if isinstance(exc, pydantic.ValidationError) else EXIT_FAILED
        return _report(ui, exc, code, verbose=verbose)
