"""aimusic_async: the asyncio-first SDK for the AI Music API. Every public name is importable
from here.

>>> async with AIMusicClient() as client:              # key from AIMUSIC_API_KEY
...     task = await client.sonic.create(mv="sonic-v5", custom_mode=False,
...                                      gpt_description_prompt="calm lo-fi for studying")
...     result = await task
"""

import logging as _logging

from ._client import AIMusicClient
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._hooks import EventHooks, PollEvent, RequestEvent, ResponseEvent, RetryEvent
from ._journal import Journal
from ._raw import RawResponse
from ._sync_client import SyncAIMusicClient, SyncBatchRun, SyncTask
from ._tasks import PollPolicy, Task
from ._version import __version__
from .batch import BatchProgress, BatchRun, Job, JobOutcome, run_batch
from .families import Family
from .models.account import Credits
from .models.common import Clip, TaskResult, TaskSnapshot
from .models.lyrics import LyricsResult, LyricsVariant
from .webhooks import WebhookEvent, WebhookManager, WebhookStats, parse_event, verify_signature

__all__ = [
    "AIMusicClient",
    "BatchProgress",
    "BatchRun",
    "Clip",
    "Credits",
    "EventHooks",
    "Family",
    "Job",
    "JobOutcome",
    "Journal",
    "LyricsResult",
    "LyricsVariant",
    "PollEvent",
    "PollPolicy",
    "RawResponse",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "SyncAIMusicClient",
    "SyncBatchRun",
    "SyncTask",
    "Task",
    "TaskResult",
    "TaskSnapshot",
    "WebhookEvent",
    "WebhookManager",
    "WebhookStats",
    "__version__",
    "parse_event",
    "run_batch",
    "verify_signature",
    *_errors_all,
]

# A library adds no handler but a NullHandler (the logging HOWTO's advice): without it, Python's
# last-resort handler prints our warnings to stderr of programs that chose no logging at all.
_logging.getLogger("aimusic_async").addHandler(_logging.NullHandler())
