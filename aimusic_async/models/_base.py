"""Base classes: strict requests (checked before anything is sent), tolerant responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["RequestModel", "ResponseModel"]


class RequestModel(BaseModel):
    """A request body. Unknown fields are an error (a typo must not be silently dropped);
    ``strict`` keeps ``"false"`` from passing for a boolean, as the server refuses it too."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body as the API documents it: only fields that were set or have a value."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ResponseModel(BaseModel):
    """An answer from the server. Unknown fields are kept (``model_extra``): the API grows
    faster than releases, and a field we do not know yet must not break a paid result."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
