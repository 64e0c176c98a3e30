"""aimusic_async: the asyncio-first SDK for the AI Music API.

>>> async with AIMusicClient() as client:              # key from AIMUSIC_API_KEY
...     task = await client.sonic.create(mv="sonic-v5", custom_mode=False,
...                                      gpt_description_prompt="calm lo-fi for studying")
...     result = await task
"""

from ._client import AIMusicClient
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._version import __version__
from .batch import Job, JobOutcome
from .models.account import Credits
from .models.common import Clip, TaskResult, TaskSnapshot
from .models.lyrics import LyricsResult, LyricsVariant
from .tasks import PollPolicy, Task
from .webhooks import WebhookEvent

__all__ = [
    "AIMusicClient",
    "Clip",
    "Credits",
    "Job",
    "JobOutcome",
    "LyricsResult",
    "LyricsVariant",
    "PollPolicy",
    "Task",
    "TaskResult",
    "TaskSnapshot",
    "WebhookEvent",
    "__version__",
    *_errors_all,
]
