"""Operations (``client.operations``): the status of model copies."""

from __future__ import annotations

from collections.abc import Callable

from .._polling import PollPolicy
from ..errors import InvalidInputError
from ..types import Operation
from ._base import Resource
from ._entity import entity_id

__all__ = ["Operations"]

_PATH = "/operations/models/copy"


def _operation_id(value: object) -> str:
    if isinstance(value, Operation):
        return entity_id(value.id, "operation")
    if isinstance(value, str):
        return entity_id(value, "operation")
    raise InvalidInputError(
        "operation must be the Operation returned by client.models.copy(), its id or its "
        f"URL (the Operation-Location); got {type(value).__name__}"
    )


class Operations(Resource):
    """``client.operations``: follow a model copy started with ``client.models.copy()``."""

    async def get_model_copy(self, operation: Operation | str) -> Operation:
        """The current state of a model copy (``Operations_GetModelCopy``)."""
        target = f"{_PATH}/{_operation_id(operation)}"
        return await self._fetch("GET", target, Operation, operation="Operations_GetModelCopy")

    async def wait(
        self,
        operation: Operation | str,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Operation], object] | None = None,
    ) -> Operation:
        """Poll ``Operations_GetModelCopy`` until the copy ends: return the ``Succeeded``
        operation (``result.link`` is the new model) or raise
        :class:`~speechrest.errors.OperationFailedError`. Bound the wait with
        ``anyio.fail_after``."""
        key = _operation_id(operation)
        return await self._wait(
            f"{_PATH}/{key}",
            Operation,
            operation="Operations_GetModelCopy",
            what=f"model copy {key}",
            policy=policy,
            on_status=on_status,
        )
