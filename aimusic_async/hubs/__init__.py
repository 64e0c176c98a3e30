"""Hubs: where verified webhook results meet the tasks waiting for them, in this process
(``MemoryHub``, the default) or across processes and machines (``RedisHub``)."""

from ._base import Hub
from ._memory import MemoryHub
from ._redis import RedisHub

__all__ = ["Hub", "MemoryHub", "RedisHub"]
