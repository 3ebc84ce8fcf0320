"""What the custom speech groups share: ids and references, field checks, CRUD calls.

An entity can be named by its id, its URL or the entity object itself (anything with a
``self_`` URL, such as an ``EntityReference``). Every check here runs before any request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import attrs

from .. import _checks as check
from .._convert import query, structure
from .._polling import PollPolicy
from ..errors import InvalidInputError, OperationFailedError
from ..types import EntityReference, File
from ..types._common import _id_from_url
from ._base import AsyncPager, Resource

__all__ = ["EntityRef", "EntityResource", "HasSelf", "entity_id", "list_query", "sas_minutes"]

T = TypeVar("T")

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class HasSelf(Protocol):
    """An entity or an ``EntityReference``: anything with a ``self_`` URL."""

    @property
    def self_(self) -> str | None: ...


EntityRef = str | HasSelf
"""How an entity is named: its id, its URL, or the entity (or reference) object."""


def _uuid(text: str, what: str) -> str:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(
            f"{what} must be a UUID such as 9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1, the "
            f"entity's URL or the entity itself; got {text!r}"
        ) from None


def entity_id(value: object, what: str) -> str:
    """The id of an entity given as an id, a URL or an object with ``self_``."""
    raw = value if isinstance(value, str) else getattr(value, "self_", None)
    if not isinstance(raw, str):
        raise InvalidInputError(
            f"{what} must be an id, a URL or an entity object; got {type(value).__name__}"
        )
    text = raw.strip()
    return _uuid(_id_from_url(text) if "://" in text else text, what)


def list_query(skip: object, top: object, filter: object) -> dict[str, Any]:
    """The query of a list operation, checked, with its wire names."""
    if filter is not None and (not isinstance(filter, str) or not filter.strip()):
        raise InvalidInputError(
            f"filter must be a non-empty expression such as \"status eq 'Succeeded'\"; "
            f"got {filter!r}"
        )
    return query(
        skip=check.optional(check.integer, skip, "skip", 0, check.MAX_INT32),
        top=check.optional(check.integer, top, "top", 1, check.MAX_INT32),
        filter=filter,
    )


def sas_minutes(value: object, low: int = 0) -> dict[str, Any]:
    """The query that sets how long the SAS links of files stay valid."""
    minutes = check.optional(check.integer, value, "sas_lifetime_minutes", low, check.MAX_INT32)
    return query(sas_lifetime_minutes=minutes)


class EntityResource(Resource):
    """Base of the custom speech groups: ``_path`` is the collection (``/datasets``)."""

    _path = ""

    # -- references ------------------------------------------------------------------------

    def _ref(self, value: object, what: str, path: str | None = None) -> EntityReference:
        """An ``EntityReference`` to ``value`` (an id of an entity under ``path``, a URL or
        an entity object)."""
        raw = value if isinstance(value, str) else getattr(value, "self_", None)
        if not isinstance(raw, str):
            raise InvalidInputError(
                f"{what} must be an id, a URL or an entity object; got {type(value).__name__}"
            )
        text = raw.strip()
        if "://" in text:
            check.http_url(text, what)
            _uuid(_id_from_url(text), what)
            return EntityReference(self_=text)
        return EntityReference(
            self_=self._api.reference(f"{path or self._path}/{_uuid(text, what)}")
        )

    def _opt_ref(self, value: object, what: str, path: str | None = None) -> EntityReference | None:
        return None if value is None else self._ref(value, what, path)

    def _target(self, value: object, what: str, suffix: str = "") -> str:
        return f"{self._path}/{entity_id(value, what)}{suffix}"

    # -- operations ------------------------------------------------------------------------

    async def _create(self, body: Any, cls: type[T], operation: str) -> T:
        return await self._fetch(
            "POST", self._path, cls, operation=operation, json=body, creates=True
        )

    async def _get(self, value: object, cls: type[T], operation: str, what: str) -> T:
        return await self._fetch("GET", self._target(value, what), cls, operation=operation)

    async def _update(self, value: object, body: Any, cls: type[T], operation: str, what: str) -> T:
        """PATCH only the given fields, as ``application/merge-patch+json``."""
        target = self._target(value, what)
        if all(getattr(body, a.name) is None for a in attrs.fields(type(body))):
            raise InvalidInputError("nothing to update: give at least one field to change")
        response = await self._api.request(
            "PATCH", target, operation=operation, json=body, headers=MERGE_PATCH
        )
        return structure(response.data, cls, operation, response.request_id)

    async def _delete(self, value: object, operation: str, what: str) -> None:
        await self._api.request("DELETE", self._target(value, what), operation=operation)

    def _list(
        self,
        cls: type[T],
        operation: str,
        *,
        target: str | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AsyncPager[T]:
        params = {**list_query(skip, top, filter), **(extra or {})}
        return self._pager(target or self._path, cls, operation=operation, params=params)

    def _list_files(
        self,
        value: object,
        operation: str,
        what: str,
        *,
        sas_lifetime_minutes: int | None,
        skip: int | None,
        top: int | None,
        filter: str | None,
    ) -> AsyncPager[File]:
        return self._list(
            File,
            operation,
            target=self._target(value, what, "/files"),
            skip=skip,
            top=top,
            filter=filter,
            extra=sas_minutes(sas_lifetime_minutes),
        )

    async def _get_file(
        self,
        value: object,
        file: object,
        operation: str,
        what: str,
        sas_lifetime_minutes: int | None,
    ) -> File:
        target = self._target(value, what, f"/files/{entity_id(file, 'file')}")
        params = sas_minutes(sas_lifetime_minutes)
        return await self._fetch("GET", target, File, operation=operation, params=params)

    async def _locales(self, operation: str) -> list[str]:
        return await self._fetch("GET", f"{self._path}/locales", list[str], operation=operation)

    async def _wait_for(
        self,
        value: object,
        cls: type[T],
        operation: str,
        what: str,
        policy: PollPolicy | None,
        on_status: Callable[[T], object] | None,
    ) -> T:
        entity_key = entity_id(value, what)
        return await self._wait(
            f"{self._path}/{entity_key}",
            cls,
            operation=operation,
            what=f"{what} {entity_key}",
            policy=policy,
            on_status=on_status,
            failed_error=OperationFailedError,
        )
