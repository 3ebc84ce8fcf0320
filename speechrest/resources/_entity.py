"""What the custom speech groups share: ids and references, field checks, CRUD calls.

An entity can be named by its id, its URL or the entity object itself (anything with a
``self_`` URL, such as an ``EntityReference``). Every check here runs before any request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs
from yarl import URL

from .._convert import structure
from .._polling import PollPolicy
from ..errors import InvalidInputError, OperationFailedError
from ..types import EntityReference, File
from ..types._common import _id_from_url
from ._base import AsyncPager, Resource

__all__ = [
    "EntityRef",
    "EntityResource",
    "HasSelf",
    "check_custom_properties",
    "check_locale",
    "check_name",
    "entity_id",
]

T = TypeVar("T")

MAX_CUSTOM_PROPERTIES = 10
MAX_PROPERTY_KEY = 64
MAX_PROPERTY_VALUE = 256
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


def check_name(value: object, what: str = "display_name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string; got {value!r}")
    return value


def check_locale(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidInputError(
            f"locale must be a non-empty locale name such as 'en-US'; got {value!r}"
        )
    return value


def check_text(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string; got {type(value).__name__}")
    return value


def check_custom_properties(value: object) -> dict[str, str] | None:
    """At most 10 string entries; keys up to 64 characters, values up to 256."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"custom_properties must be a dict of strings; got {type(value).__name__}"
        )
    if len(value) > MAX_CUSTOM_PROPERTIES:
        raise InvalidInputError(
            f"custom_properties holds at most {MAX_CUSTOM_PROPERTIES} entries; got {len(value)}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInputError(
                f"custom_properties keys and values must be strings; got {key!r}: {item!r}"
            )
        if not key or len(key) > MAX_PROPERTY_KEY:
            raise InvalidInputError(
                f"custom_properties keys must be 1 to {MAX_PROPERTY_KEY} characters; got {key!r}"
            )
        if len(item) > MAX_PROPERTY_VALUE:
            raise InvalidInputError(
                f"custom_properties value of {key!r} is {len(item)} characters; "
                f"at most {MAX_PROPERTY_VALUE} are allowed"
            )
    return dict(value)


def _check_int(value: object, what: str, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{what} must be an integer >= {low}; got {value!r}")
    return value


def list_params(skip: object, top: object, filter: object) -> dict[str, Any]:
    """The query of a list operation, checked."""
    if filter is not None and (not isinstance(filter, str) or not filter.strip()):
        raise InvalidInputError(
            f"filter must be a non-empty expression such as \"status eq 'Succeeded'\"; "
            f"got {filter!r}"
        )
    return {"skip": _check_int(skip, "skip", 0), "top": _check_int(top, "top", 1), "filter": filter}


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
            url = URL(text)
            if url.scheme not in ("http", "https") or not url.host:
                raise InvalidInputError(f"{what} must be an http(s) URL; got {text!r}")
            _uuid(_id_from_url(text), what)
            return EntityReference(self_=text)
        transport = self._client._transport
        target = transport.url(f"{path or self._path}/{_uuid(text, what)}")
        return EntityReference(self_=str(target.with_query({"api-version": transport.api_version})))

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
        response = await self._call(
            "PATCH", target, operation=operation, json=body, headers=MERGE_PATCH
        )
        return structure(response.data, cls, operation, response.request_id)

    async def _delete(self, value: object, operation: str, what: str) -> None:
        await self._call("DELETE", self._target(value, what), operation=operation)

    def _list(
        self,
        cls: type[T],
        operation: str,
        *,
        target: str | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
        **params: Any,
    ) -> AsyncPager[T]:
        query = {**list_params(skip, top, filter), **params}
        return self._pager(target or self._path, cls, operation=operation, params=query)

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
            sasLifetimeMinutes=_check_int(sas_lifetime_minutes, "sas_lifetime_minutes", 0),
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
        params = {"sasLifetimeMinutes": _check_int(sas_lifetime_minutes, "sas_lifetime_minutes", 0)}
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
