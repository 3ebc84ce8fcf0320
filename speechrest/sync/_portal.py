"""What the blocking client is made of: one event loop in a thread of its own (an anyio
blocking portal) running the async client, and the blocking forms of what its methods
return (:class:`SyncPager` for paged lists, :class:`SyncOutcomes` for fan-outs and waits
on many jobs, plain iterators for async iterators).

The method wrappers themselves are generated from the async classes (``_generated.py``,
by ``python -m speechrest._syncgen``): one typed method per async method, with its
signature and docstring.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .. import _tracing
from .._client import ClientStats
from .._client import SpeechClient as AsyncSpeechClient
from ..errors import ClientStateError

if TYPE_CHECKING:
    from .._limits import OutcomeStream
    from ..resources._base import AsyncPager, Page

__all__ = ["ClientBase", "Group", "SyncOutcomes", "SyncPager"]

T = TypeVar("T")

_CLOSED = "this client is closed; create a new SpeechClient"


class _Loop:
    """The event loop thread of one client and everything that runs on it."""

    def __init__(self) -> None:
        self._portal_cm = start_blocking_portal("asyncio")
        self.portal: BlockingPortal = self._portal_cm.__enter__()
        self.thread = self.portal.call(threading.current_thread)
        """The thread the loop runs in."""
        self._lock = threading.Lock()
        self._stopped = False

    def run(self, work: Awaitable[T], traced: bool) -> T:
        """Run ``work`` on the loop and wait for its result (from any thread but the
        loop's own). With tracing, the caller's current span is the parent of its spans.
        When the wait is interrupted (Ctrl+C, a notebook's interrupt), the work is
        cancelled."""
        parent = _tracing.capture() if traced else None
        try:
            if self._stopped:
                raise RuntimeError("stopped")
            future = self.portal.start_task_soon(_tracing.in_context, parent, work)
        except RuntimeError as exc:
            if not self._stopped:
                raise
            _discard(work)
            raise ClientStateError(_CLOSED) from exc
        try:
            return future.result()
        except BaseException:
            future.cancel()  # (nothing when it is done)
            raise

    def stop(self, client: AsyncSpeechClient | None) -> None:
        """Close ``client`` on the loop, then stop the loop and join its thread (once)."""
        with self._lock:
            if self._stopped:
                return
            try:
                if client is not None:
                    self.portal.call(client.aclose)
            finally:
                self._stopped = True
                self._portal_cm.__exit__(None, None, None)


def _discard(work: Awaitable[Any]) -> None:
    """Close a coroutine that will never run (no "never awaited" warning)."""
    close = getattr(work, "close", None)
    if close is not None:
        close()


class ClientBase:
    """The lifecycle of the blocking client: the loop thread, ``close()``, ``with``."""

    _async: AsyncSpeechClient
    _loop: _Loop
    _traced: bool
    _owner: ClientBase | None = None
    """The client a view (``with_options()``) was made from: kept alive with the view."""

    @classmethod
    def from_region(cls, region: str, *, key: str | None = None, **kwargs: Any) -> Self:
        """A client for ``https://{region}.api.cognitive.microsoft.com``."""
        return cls._of(AsyncSpeechClient.from_region(region, key=key, **kwargs))

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client from ``SPEECH_KEY`` and ``SPEECH_ENDPOINT`` or ``SPEECH_REGION``."""
        return cls._of(AsyncSpeechClient.from_env(**kwargs))

    @classmethod
    def _of(cls, client: AsyncSpeechClient) -> Self:
        made = cls.__new__(cls)
        made._start(client)
        made._attach()
        return made

    def _start(self, client: AsyncSpeechClient) -> None:
        """Open ``client`` on a new loop thread; it is closed by :meth:`close`, at the end
        of a ``with`` block, when this object is collected, or at interpreter exit."""
        loop = _Loop()
        try:
            loop.run(client.__aenter__(), traced=False)
        except BaseException:
            loop.stop(None)
            raise
        self._async = client
        self._loop = loop
        self._traced = client._api.transport.tracer is not None
        self._finalizer = weakref.finalize(self, loop.stop, client)

    def _view(self, client: AsyncSpeechClient) -> Self:
        """A blocking view of ``client`` (a view of this client's async client) on this
        client's loop."""
        view = type(self).__new__(type(self))
        view._async = client
        view._loop = self._loop
        view._traced = self._traced
        view._owner = self
        view._attach()
        return view

    def _attach(self) -> None:
        """Make the operation groups (generated)."""

    def _run(self, work: Awaitable[T]) -> T:
        return self._loop.run(work, self._traced)

    def _iterate(self, items: AsyncIterator[T], *, close: bool = True) -> Iterator[T]:
        """``items`` as a plain iterator: each item is awaited on the loop. Leaving the
        iteration early closes ``items`` (unless ``close`` is False: its owner does)."""
        try:
            while True:
                try:
                    yield self._run(anext(items))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(items, "aclose", None)
            if close and aclose is not None:
                with contextlib.suppress(ClientStateError):
                    self._run(aclose())

    def close(self) -> None:
        """Close the client: its HTTP session, then its event loop thread. Calls still in
        flight from other threads raise :class:`~speechrest.errors.ClientStateError`."""
        if self._owner is not None:
            raise ClientStateError("this is a view made by with_options(): close the client")
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        """The resource's endpoint, e.g. ``https://eastus.api.cognitive.microsoft.com``."""
        return self._async.endpoint

    @property
    def api_version(self) -> str:
        """The ``api-version`` sent with every request (``2025-10-15``)."""
        return self._async.api_version

    @property
    def key(self) -> str | None:
        """The resource key (None with a credential). Assign a new key to rotate it: it is
        used from the next request on, by this client and its views."""
        return self._async.key

    @key.setter
    def key(self, value: str) -> None:
        self._async.key = value

    def stats(self) -> ClientStats:
        """A snapshot of this client's state: its connections."""
        return self._async.stats()

    def __repr__(self) -> str:
        return repr(self._async).replace("SpeechClient(", "speechrest.sync.SpeechClient(", 1)


class Group:
    """Base of the blocking operation groups: the async group, run on the client's loop."""

    __slots__ = ("_async", "_client")

    def __init__(self, client: ClientBase, group: Any) -> None:
        self._client = client
        self._async = group


class SyncPager(Generic[T]):
    """Every item of a paged list, following ``@nextLink``: ``for item in pager`` walks all
    items, ``for page in pager.by_page()`` walks pages, ``pager.to_list()`` collects
    everything. Each page is fetched when the iteration reaches it."""

    def __init__(self, client: ClientBase, pager: AsyncPager[T]) -> None:
        self._client = client
        self._pager = pager

    def __iter__(self) -> Iterator[T]:
        return self._client._iterate(aiter(self._pager))

    def by_page(self) -> Iterator[Page[T]]:
        """Yield one :class:`~speechrest.Page` at a time."""
        return self._client._iterate(self._pager.by_page())

    def to_list(self) -> list[T]:
        """Every item of every page."""
        return self._client._run(self._pager.to_list())


class SyncOutcomes(Generic[T]):
    """The outcomes of a fan-out or of a wait on many jobs, in completion order: a ``with``
    block that yields a plain iterator::

        with client.transcribe_many(paths, concurrency=16) as outcomes:
            for item in outcomes:
                ...

    The work runs while the block is open (on the client's loop thread); leaving the block
    early cancels what is still in flight."""

    def __init__(self, client: ClientBase, stream: OutcomeStream[T]) -> None:
        self._client = client
        self._stream = stream
        self._block: Any = None

    def __enter__(self) -> Iterator[T]:
        if self._block is not None:
            raise ClientStateError("this stream was already used: call the method again")
        client = self._client
        parent = _tracing.capture() if client._traced else None
        self._block = client._loop.portal.wrap_async_context_manager(
            _tracing.Within(parent, self._stream)
        )
        stream: AsyncIterator[T] = self._block.__enter__()
        return client._iterate(stream, close=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._block.__exit__(exc_type, exc, tb)  # type: ignore[no-any-return]
