"""aimusic_async: the asyncio-first SDK for the AI Music API."""

from ._client import AIMusicClient
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._version import __version__
from .models.common import Clip, TaskResult, TaskSnapshot
from .tasks import PollPolicy, Task

__all__ = [
    "AIMusicClient",
    "Clip",
    "PollPolicy",
    "Task",
    "TaskResult",
    "TaskSnapshot",
    "__version__",
    *_errors_all,
]
