"""Waiting for long-running entities: one loop for every operation group.

The interval between polls is the service's ``Retry-After`` when it sends one, kept within
the caller's floor and ceiling; otherwise it grows from ``initial_interval``. Callers bound
the total wait with ``anyio.fail_after``.

:func:`poll_many` waits on many entities with one scheduler: a heap of next-poll times,
and a task per poll in flight, at most as many as a capacity limiter allows.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from . import errors
from .types import Status

__all__ = ["PollPolicy", "Polled", "WaitOutcome", "poll_many", "wait_until_terminal"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How often to poll."""

    initial_interval: float = 1.0
    """Seconds before the second poll when the service sends no Retry-After."""
    min_interval: float = 0.0
    """Never poll sooner than this, even if Retry-After says so."""
    max_interval: float = 60.0
    """Never wait longer than this between polls."""
    growth: float = 1.5
    """Factor by which the interval grows without Retry-After."""

    def next_interval(self, previous: float | None, retry_after: float | None) -> float:
        if retry_after is not None:
            interval = retry_after
        elif previous is None:
            interval = self.initial_interval
        else:
            interval = previous * self.growth
        return min(self.max_interval, max(self.min_interval, interval))


@attrs.frozen(kw_only=True)
class Polled(Generic[T]):
    """One poll's outcome: the entity, its status and the service's Retry-After."""

    entity: T
    status: Status
    retry_after: float | None


async def wait_until_terminal(
    poll: Callable[[], Awaitable[Polled[T]]],
    policy: PollPolicy,
    on_status: Callable[[T], object] | None = None,
) -> Polled[T]:
    """Poll until the status is Succeeded or Failed; return the last poll."""
    previous_status: Status | None = None
    interval: float | None = None
    while True:
        polled = await poll()
        if polled.status != previous_status:
            previous_status = polled.status
            if on_status is not None:
                on_status(polled.entity)
        if polled.status in (Status.SUCCEEDED, Status.FAILED):
            return polled
        interval = policy.next_interval(interval, polled.retry_after)
        await anyio.sleep(interval)


@attrs.frozen(kw_only=True)
class WaitOutcome(Generic[T]):
    """How the wait on one entity ended, in :meth:`Transcriptions.wait_many` and friends.

    ``entity`` is the entity as last fetched (``Succeeded`` or ``Failed``). ``error`` is
    None when it succeeded; an :class:`~speechrest.errors.OperationFailedError` (with the
    entity's ``properties.error``) when it ended ``Failed``; a
    :class:`~speechrest.errors.NotFoundError` when it no longer exists (deleted, or
    expired after its time to live), with ``entity`` None; or another non-transient error
    its polls got (such as a response that cannot be read).
    """

    id: str
    """The entity id, as given."""
    entity: T | None = None
    """The entity as last fetched."""
    error: BaseException | None = None
    """Why it did not succeed; None when it did."""

    @property
    def ok(self) -> bool:
        """Whether the entity ended ``Succeeded``."""
        return self.error is None


_TRANSIENT = (errors.APIConnectionError, errors.InternalServerError, errors.RateLimitError)
_FATAL = (errors.ClientStateError, errors.AuthenticationError, errors.PermissionDeniedError)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT) or (
        isinstance(exc, errors.APIStatusError) and exc.status == 408
    )


async def poll_many(
    ids: Iterable[str],
    poll: Callable[[str], Awaitable[Polled[T]]],
    send: MemoryObjectSendStream[WaitOutcome[T]],
    *,
    policy: PollPolicy,
    limiter: anyio.CapacityLimiter,
    failure: Callable[[T], BaseException],
    jitter: float = 0.1,
) -> None:
    """Poll every id until its entity is terminal; send one :class:`WaitOutcome` per id.

    One scheduler loop keeps a heap of next-poll times. A poll starts when its time has
    come and the ``limiter`` has a free slot; the slot is held only for the HTTP exchange,
    never while a job waits for its next poll. A job is never polled sooner than the
    ``Retry-After`` of its last response (that floor wins over ``policy.max_interval``);
    up to ``jitter`` (a fraction) is added so that jobs submitted together spread out.

    Transient failures (connection errors, timeouts, 408, 429, 5xx) are retried for that
    job with exponential backoff; other errors end that job's wait with an outcome that
    carries the error. Credentials that are refused (401, 403) or a closed client end the
    whole wait: the error is raised once the polls in flight have stopped. Duplicate ids
    are waited on once.
    """
    heap: list[tuple[float, int, str, float | None, int]] = []
    order = itertools.count()
    now = anyio.current_time()
    for job_id in dict.fromkeys(ids):
        heapq.heappush(heap, (now, next(order), job_id, None, 0))
    remaining = len(heap)
    wake = anyio.Event()
    fatal: list[BaseException] = []

    def schedule(job_id: str, delay: float, previous: float | None, failures: int) -> None:
        due = anyio.current_time() + delay * (1.0 + random.uniform(0.0, jitter))  # noqa: S311
        heapq.heappush(heap, (due, next(order), job_id, previous, failures))
        wake.set()

    async def one(job_id: str, previous: float | None, failures: int, token: object) -> None:
        nonlocal remaining
        outcome: WaitOutcome[T] | None = None
        try:
            polled = await poll(job_id)
        except Exception as exc:
            if isinstance(exc, _FATAL):
                fatal.append(exc)
                tg.cancel_scope.cancel()
                return
            if _transient(exc):
                ceiling = min(policy.max_interval, max(policy.initial_interval, 0.1) * 2**failures)
                floor = getattr(exc, "retry_after", None) or 0.0
                schedule(job_id, max(floor, ceiling / 2), previous, failures + 1)
            else:
                outcome = WaitOutcome(id=job_id, error=exc)
        else:
            if polled.status in (Status.SUCCEEDED, Status.FAILED):
                error = failure(polled.entity) if polled.status == Status.FAILED else None
                outcome = WaitOutcome(id=job_id, entity=polled.entity, error=error)
            else:
                interval = policy.next_interval(previous, polled.retry_after)
                schedule(job_id, max(interval, polled.retry_after or 0.0), interval, 0)
        finally:
            limiter.release_on_behalf_of(token)
        if outcome is not None:
            await send.send(outcome)
            remaining -= 1
            wake.set()

    async with send:
        async with anyio.create_task_group() as tg:
            while remaining:
                if heap and heap[0][0] <= anyio.current_time():
                    _, _, job_id, previous, failures = heapq.heappop(heap)
                    token = object()
                    try:  # a free slot is taken without a trip through the event loop
                        limiter.acquire_on_behalf_of_nowait(token)
                    except anyio.WouldBlock:
                        await limiter.acquire_on_behalf_of(token)
                    tg.start_soon(one, job_id, previous, failures, token)
                    continue
                wake = anyio.Event()
                timeout = heap[0][0] - anyio.current_time() if heap else math.inf
                with anyio.move_on_after(timeout):
                    await wake.wait()
        if fatal:
            raise fatal[0]
