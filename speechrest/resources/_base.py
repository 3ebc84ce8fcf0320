"""What every resource class shares: the client's API (:class:`Api`), and paging."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from .. import _tracing
from .._convert import page_fields, structure, unstructure
from .._http import Body, Response, Transport
from .._limits import ClientLimits
from .._polling import Polled, PollPolicy, wait_until_terminal
from .._redact import redact_url
from .._retry import RetryPolicy
from ..errors import OperationFailedError, ResponseValidationError
from ..types import Status

__all__ = ["Api", "AsyncPager", "Page", "Resource"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list: its items and the link to the next page (None on the last)."""

    values: list[T]
    next_link: str | None
    retry_after: float | None = None
    """The service's ``Retry-After``: seconds before entities of the page that have not
    finished are worth looking at again."""
    date: datetime | None = None
    """When the service answered (its ``Date``)."""


@attrs.frozen
class Api:
    """What a resource needs of its client: the transport, the client-wide limits and the
    retry policy of this view of the client (see ``SpeechClient.with_options``)."""

    transport: Transport
    limits: ClientLimits
    retry: RetryPolicy

    def request(
        self,
        method: str,
        target: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        body: Body | None = None,
        creates: bool = False,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        expect: str = "json",
        download: bool = False,
    ) -> Coroutine[Any, Any, Response]:
        """Send a request; model instances in ``json`` are unstructured to the wire form.
        ``authenticated=False`` sends no credentials (for SAS URLs such as ``contentUrl``);
        ``download=True`` reads a result file (capped by ``max_download_bytes``)."""
        return self.transport.request(
            method,
            target,
            operation=operation,
            retry=self.retry,
            gate=self.limits.gate(operation, authenticated),
            params=params,
            json_body=unstructure(json) if json is not None else None,
            body=body,
            creates=creates,
            headers=headers,
            authenticated=authenticated,
            expect=expect,
            download=download,
        )

    def reference(self, path: str) -> str:
        """The absolute URL of an API path with ``api-version``, as entities refer to
        each other (``{"self": ...}``)."""
        url = self.transport.url(path)
        return str(url.with_query({"api-version": self.transport.api_version}))


class Resource:
    """Base of the operation-group classes (``client.transcriptions`` and friends)."""

    def __init__(self, api: Api) -> None:
        self._api = api

    async def _fetch(
        self,
        method: str,
        target: str,
        cls: type[T],
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        creates: bool = False,
    ) -> T:
        """Send a request and structure its JSON body as ``cls``."""
        response = await self._api.request(
            method, target, operation=operation, params=params, json=json, creates=creates
        )
        return structure(response.data, cls, operation, response.request_id)

    async def _wait(
        self,
        target: str,
        cls: type[T],
        *,
        operation: str,
        what: str,
        policy: PollPolicy | None = None,
        on_status: Callable[[T], object] | None = None,
        failed_error: type[OperationFailedError] = OperationFailedError,
    ) -> T:
        """Poll ``GET target`` until the entity is Succeeded (returned) or Failed (raised as
        ``failed_error`` with its ``properties.error``). The one waiting loop of every group."""

        async def poll() -> Polled[T]:
            return await self._poll(target, cls, operation=operation)

        if self._traced:
            on_status = _seen(on_status)
        polled = await wait_until_terminal(poll, policy or PollPolicy(), on_status)
        if polled.status == Status.FAILED:
            raise self._failure(polled.entity, failed_error, what)
        return polled.entity

    @property
    def _traced(self) -> bool:
        """Whether the client traces its calls (OpenTelemetry)."""
        return self._api.transport.tracer is not None

    async def _poll(self, target: str, cls: type[T], *, operation: str) -> Polled[T]:
        """One status poll: ``GET target`` structured as ``cls``, with its Retry-After."""
        response = await self._api.request("GET", target, operation=operation)
        entity = structure(response.data, cls, operation, response.request_id)
        status = getattr(entity, "status", None)
        if not isinstance(status, Status):
            raise ResponseValidationError(
                operation,
                ["the entity has no status @ $.status"],
                request_id=response.request_id,
            )
        return Polled(entity=entity, status=status, retry_after=response.retry_after)

    @staticmethod
    def _failure(
        entity: object, failed_error: type[OperationFailedError], what: str
    ) -> OperationFailedError:
        """The error for an entity that ended ``Failed``."""
        # Entities report ``properties.error``; an Operation reports ``error``.
        error = getattr(getattr(entity, "properties", None), "error", None) or getattr(
            entity, "error", None
        )
        return failed_error(
            entity,
            code=getattr(error, "code", None),
            message=getattr(error, "message", None),
            what=what,
        )

    def _pager(
        self,
        target: str,
        cls: type[T],
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncPager[T]:
        return AsyncPager(self._api, target, cls, operation=operation, params=params or {})


def _seen(on_status: Callable[[T], object] | None) -> Callable[[T], object]:
    """``on_status``, after a ``status_changed`` event on the current span."""

    def seen(entity: T) -> None:
        _tracing.status_event(entity)
        if on_status is not None:
            on_status(entity)

    return seen


class AsyncPager(Generic[T]):
    """An async iterator over every item of a paged list, following ``@nextLink`` as given.

    ``async for item in pager`` walks all items; ``async for page in pager.by_page()`` walks
    pages; ``await pager.to_list()`` collects everything.
    """

    def __init__(
        self,
        api: Api,
        target: str,
        cls: type[T],
        *,
        operation: str,
        params: Mapping[str, Any],
    ) -> None:
        self._api = api
        self._target = target
        self._cls = cls
        self._operation = operation
        self._params = params

    async def by_page(self) -> AsyncGenerator[Page[T], None]:
        """Yield one :class:`Page` at a time. An ``@nextLink`` already followed (a loop)
        raises :class:`~speechrest.errors.ResponseValidationError` instead of being read
        again."""
        target: str | None = self._target
        params: Mapping[str, Any] | None = self._params
        followed: set[str] = set()
        while target is not None:
            response = await self._api.request(
                "GET", target, operation=self._operation, params=params
            )
            page = page_fields(response.data)
            if page is None:
                raise ResponseValidationError(
                    self._operation,
                    ["expected an object with a 'values' list @ $"],
                    request_id=response.request_id,
                )
            items, next_link = page
            values = [structure(v, self._cls, self._operation, response.request_id) for v in items]
            yield Page(
                values=values,
                next_link=next_link,
                retry_after=response.retry_after,
                date=response.date,
            )
            if next_link is not None:
                if next_link in followed:
                    raise ResponseValidationError(
                        self._operation,
                        [f"the @nextLink {redact_url(next_link)[:200]!r} leads back to a page "
                         "already read: the list loops, and is not followed further"],
                        request_id=response.request_id,
                    )  # fmt: skip
                followed.add(next_link)
            target = next_link
            params = None  # the next link already carries skip, top, filter and api-version

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.by_page():
            for item in page.values:
                yield item

    async def to_list(self) -> list[T]:
        """Every item of every page."""
        return [item async for item in self]
