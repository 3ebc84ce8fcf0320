"""Operations: the status of a model copy, the API's only long-running operation."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._common import EntityError, Status

__all__ = ["Operation", "OperationResult"]


@attrs.frozen(kw_only=True)
class OperationResult:
    """What a finished operation produced (``result``)."""

    link: str | None = None
    """The URL of what the operation produced (for a model copy: the new model)."""


@attrs.frozen(kw_only=True)
class Operation:
    """A long-running operation (``Models_Copy``), polled with ``Operations_GetModelCopy``."""

    id: str
    """The operation's id (a UUID)."""
    self_: str | None = None
    """The operation's URL (the ``Operation-Location`` of ``Models_Copy``)."""
    created_date_time: datetime | None = None
    """When the operation was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    status: Status | None = None
    """``NotStarted``, ``Running``, ``Succeeded`` or ``Failed``."""
    result: OperationResult | None = None
    """What the operation produced, once it succeeded."""
    error: EntityError | None = None
    """Why the operation failed, when it did."""
