"""Client-owned concurrency: the limits of each quota family, bounded fan-out, and the
structured streams that fan-outs and waits yield their outcomes through.

* :class:`ClientLimits` holds one :class:`Gate` per quota family of the service (fast
  transcription; the batch and custom speech REST API), shared by every call of a client.
  The transport takes a slot of the request's family around each HTTP attempt (never while
  it sleeps between retries) and reports how the attempt ended.
* :func:`bounded_map` runs work on many items with at most ``concurrency`` at once.
* :class:`OutcomeStream` is an ``async with`` block owning the task group of a fan-out:
  no work outlives it.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sized
from types import TracebackType
from typing import Generic, Self, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import ClientStateError

__all__ = [
    "ClientLimits",
    "Family",
    "Gate",
    "OutcomeStream",
    "bounded_map",
    "first_error",
    "send",
]

T = TypeVar("T")
R = TypeVar("R")


class Family(enum.Enum):
    """The service's quota families: each is metered on its own."""

    FAST = "fast transcription"
    REST = "batch and custom speech REST API"


class Gate:
    """Admission of HTTP attempts of one quota family.

    ``limit`` attempts may be in flight at once (None: no bound beyond the connection
    pool). :meth:`done` hears how each attempt ended, so that the admission can follow the
    service's answers.
    """

    def __init__(self, family: Family, limit: int | None = None) -> None:
        self.family = family
        self._limiter = None if limit is None else anyio.CapacityLimiter(limit)

    async def acquire(self) -> None:
        if self._limiter is not None:
            await self._limiter.acquire()

    def done(self, status: int | None, retry_after: float | None) -> None:
        """An attempt admitted by :meth:`acquire` ended, with an HTTP ``status`` (None: no
        answer) and the service's ``Retry-After``."""
        if self._limiter is not None:
            self._limiter.release()


class ClientLimits:
    """The limits a client owns, one gate per quota family, shared by all its calls."""

    def __init__(self) -> None:
        self.fast = Gate(Family.FAST)
        self.rest = Gate(Family.REST)

    def gate(self, operation: str) -> Gate:
        """The gate of the family that meters ``operation``."""
        return self.fast if operation == "Transcriptions_Transcribe" else self.rest


async def send(stream: MemoryObjectSendStream[T], item: T) -> None:
    """Send ``item``; without a trip through the event loop while the buffer has room.
    Once the block that reads the outcomes has ended (a worker may still run up to its next
    checkpoint), the item is dropped: nobody reads it any more."""
    try:
        stream.send_nowait(item)
    except anyio.WouldBlock:
        await stream.send(item)
    except anyio.BrokenResourceError:
        pass


async def bounded_map(
    items: Iterable[T] | AsyncIterable[T],
    work: Callable[[int, T], Awaitable[R]],
    concurrency: int,
    emit: Callable[[R], Awaitable[None]],
) -> None:
    """Run ``work(index, item)`` on every item, at most ``concurrency`` at once, and pass
    each result to ``emit`` as it comes. An exception from ``work`` or ``emit`` cancels the
    rest and is raised (inside an exception group, as task groups do).

    ``concurrency`` workers each take the next item when they are free: no task or lock
    per item (an async iterable is read under a lock, one item at a time).
    """
    counter = itertools.count()
    pull: Callable[[], Awaitable[tuple[int, T] | None]]
    if isinstance(items, AsyncIterable):
        iterator = aiter(items)
        lock = anyio.Lock()

        async def pull() -> tuple[int, T] | None:
            async with lock:
                try:
                    return next(counter), await anext(iterator)
                except StopAsyncIteration:
                    return None

    else:
        sync_iterator = iter(items)

        async def pull() -> tuple[int, T] | None:
            for item in sync_iterator:
                return next(counter), item
            return None

    async def worker() -> None:
        while (pulled := await pull()) is not None:
            await emit(await work(*pulled))

    workers = min(concurrency, len(items)) if isinstance(items, Sized) else concurrency
    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)


class OutcomeStream(Generic[T]):
    """The outcomes of a fan-out or a wait on many jobs, in completion order.

    Use it as an ``async with`` block, and iterate it inside::

        async with client.transcribe_many(paths) as outcomes:
            async for item in outcomes:
                ...

    The block owns the work: it starts on entry, and whatever is still running when the
    block ends (after ``break``, an exception or a cancellation) is cancelled and has
    stopped before the block is left.
    """

    def __init__(
        self,
        produce: Callable[[MemoryObjectSendStream[T]], Awaitable[None]],
        *,
        buffer: int,
        usage: str,
    ) -> None:
        self._produce = produce
        self._buffer = buffer
        self._usage = usage
        self._group: anyio.abc.TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[T] | None = None

    async def __aenter__(self) -> Self:
        if self._group is not None or self._receive is not None:
            raise ClientStateError("this stream was already used: call the method again")
        send_stream, self._receive = anyio.create_memory_object_stream[T](self._buffer)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._run, send_stream)
        return self

    async def _run(self, send_stream: MemoryObjectSendStream[T]) -> None:
        async with send_stream:
            await self._produce(send_stream)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        group, receive = self._group, self._receive
        assert group is not None and receive is not None
        group.cancel_scope.cancel()  # the work still in flight ends with the block
        receive.close()
        try:
            return await group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as failures:
            raise first_error(failures) from None

    def __aiter__(self) -> Self:
        if self._receive is None:
            raise ClientStateError(
                f"iterate this stream inside an `async with` block: "
                f"`async with {self._usage} as outcomes: async for item in outcomes: ...`"
            )
        return self

    async def __anext__(self) -> T:
        assert self._receive is not None
        try:
            return self._receive.receive_nowait()  # no trip through the loop when one is ready
        except anyio.WouldBlock:
            pass
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real failure in a task group's exception group (not a cancellation)."""
    cancelled = anyio.get_cancelled_exc_class()
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, cancelled):
            return exc
    return group
