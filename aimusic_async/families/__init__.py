"""How each API family polls its tasks and reads their answers: the ``Family`` protocol, the
shared parse helpers and one module per family (sonic, producer, nuro, riffusion)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..models.common import TaskSnapshot
from ._parse import (
    bad_body,
    check_not_found,
    failure_reason,
    parse_clip_list,
    parse_clips,
    snapshot_from_clips,
    status_of,
)
from .nuro import NURO_REPLACEMENTS, NuroFamily
from .producer import ProducerFamily
from .riffusion import RIFFUSION_CLIPS_PER_TASK, RiffusionFamily
from .sonic import SonicFamily

__all__ = [
    "NURO_REPLACEMENTS",
    "RIFFUSION_CLIPS_PER_TASK",
    "Family",
    "NuroFamily",
    "ProducerFamily",
    "RiffusionFamily",
    "SonicFamily",
    "bad_body",
    "builtin_families",
    "check_not_found",
    "failure_reason",
    "parse_clip_list",
    "parse_clips",
    "snapshot_from_clips",
    "status_of",
]


@runtime_checkable
class Family(Protocol):
    """How one API family polls its tasks and reads their answers."""

    name: str

    def poll_path(self, task_id: str) -> str:
        """The GET path that reports the task's state."""
        ...

    def parse_task(self, task_id: str, status: int, body: Any) -> TaskSnapshot:
        """Normalise a poll answer (or a webhook body, status 200) into a snapshot.

        Raises ``ResponseValidationError`` on a malformed body."""
        ...


def builtin_families() -> dict[str, Family]:
    """The API's task families, by name (a fresh set of instances per call)."""
    families: list[Family] = [SonicFamily(), ProducerFamily(), NuroFamily(), RiffusionFamily()]
    return {family.name: family for family in families}
