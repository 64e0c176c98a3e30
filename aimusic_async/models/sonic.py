"""Sonic models in one import: request bodies (``sonic_requests``) and sync results
(``sonic_results``). Task results use ``models.common`` (``TaskResult``, ``Clip``)."""

from __future__ import annotations

from .sonic_requests import *  # noqa: F403
from .sonic_requests import __all__ as _requests_all
from .sonic_results import *  # noqa: F403
from .sonic_results import __all__ as _results_all

__all__ = [*_requests_all, *_results_all]
