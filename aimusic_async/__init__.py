"""aimusic_async: the asyncio-first SDK for the AI Music API."""

from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._version import __version__
from .models.common import Clip, TaskResult, TaskSnapshot

__all__ = ["Clip", "TaskResult", "TaskSnapshot", "__version__", *_errors_all]
