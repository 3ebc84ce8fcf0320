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

from . import _checks as check
from . import errors
from ._retry import RetryPolicy
from .types import Status

__all__ = ["PollPolicy", "Polled", "WaitOutcome", "poll_many", "wait_until_terminal"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How often to poll. Every value is checked when the policy is made (finite, in
    range): :class:`~speechrest.errors.InvalidInputError` otherwise."""

    initial_interval: float = 1.0
    """Seconds before the second poll when the service sends no Retry-After (> 0)."""
    min_interval: float | None = None
    """Never poll sooner than this, even if Retry-After says so (a ``Retry-After: 0`` would
    otherwise poll back to back); None: ``initial_interval``."""
    max_interval: float = 60.0
    """Never wait longer than this between polls (it wins over ``min_interval``)."""
    growth: float = 1.5
    """Factor (>= 1) by which the interval grows without Retry-After."""

    def __attrs_post_init__(self) -> None:
        check.number(self.initial_interval, "initial_interval", low=1e-3)
        check.optional(check.number, self.min_interval, "min_interval", 0.0)
        check.number(self.max_interval, "max_interval", low=1e-3)
        check.number(self.growth, "growth", low=1.0, high=100.0)

    def next_interval(self, previous: float | None, retry_after: float | None) -> float:
        """Seconds until the next poll: the service's ``Retry-After`` when it sent one,
        else ``previous`` grown by ``growth`` (``initial_interval`` first), within
        ``min_interval`` and ``max_interval``."""
        if retry_after is not None:
            interval = retry_after
        elif previous is None:
            interval = self.initial_interval
        else:
            interval = previous * self.growth
        return self.clamp(interval)

    def clamp(self, interval: float) -> float:
        """``interval`` within the floor (``min_interval``) and the ceiling."""
        floor = self.initial_interval if self.min_interval is None else self.min_interval
        return min(self.max_interval, max(floor, interval))


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


_FATAL = (errors.ClientStateError, errors.AuthenticationError, errors.PermissionDeniedError)
"""Errors that end every wait: nothing will poll successfully after them."""


@attrs.define
class _Due:
    """A job waiting for its next poll."""

    job_id: str
    interval: float | None = None
    """The last interval between polls (grows without Retry-After)."""
    failures: int = 0
    """Polls in a row that failed transiently."""


async def poll_many(
    ids: Iterable[str],
    poll: Callable[[str], Awaitable[Polled[T]]],
    send: MemoryObjectSendStream[WaitOutcome[T]],
    *,
    policy: PollPolicy,
    retry: RetryPolicy,
    concurrency: int,
    failure: Callable[[T], BaseException],
    jitter: float = 0.1,
) -> None:
    """Poll every id until its entity is terminal; send one :class:`WaitOutcome` per id.

    One scheduler loop keeps a heap of next-poll times. A poll starts when its time has
    come and fewer than ``concurrency`` polls are in flight; a slot is held only for the
    HTTP exchange, never while a job waits for its next poll. The interval follows the
    service's ``Retry-After`` within the ``policy`` (as :func:`wait_until_terminal` does),
    plus up to ``jitter`` (a fraction) so that jobs submitted together spread out.

    A failed poll is judged by the client's retry policy: a transient failure polls that
    job again after the policy's delay; any other error ends that job's wait with an
    outcome that carries the error. Credentials that are refused (401, 403) or a closed
    client end the whole wait: the error is raised once the polls in flight have stopped.
    Duplicate ids are waited on once.
    """
    heap: list[tuple[float, int, _Due]] = []
    order = itertools.count()
    remaining = 0
    wake = anyio.Event()
    limiter = anyio.CapacityLimiter(concurrency)

    def schedule(due: _Due, delay: float) -> None:
        when = anyio.current_time() + delay * (1.0 + random.uniform(0.0, jitter))  # noqa: S311
        heapq.heappush(heap, (when, next(order), due))
        wake.set()

    async def finish(outcome: WaitOutcome[T]) -> None:
        nonlocal remaining
        await send.send(outcome)
        remaining -= 1
        wake.set()

    async def one(due: _Due, token: object) -> None:
        try:
            polled = await poll(due.job_id)
        except Exception as exc:
            limiter.release_on_behalf_of(token)
            if isinstance(exc, _FATAL):
                raise
            delay = retry.wait_for(exc, due.failures)
            if delay is None:
                await finish(WaitOutcome(id=due.job_id, error=exc))
            else:  # within the policy too: a "Retry-After: 0" must not poll back to back
                schedule(attrs.evolve(due, failures=due.failures + 1), policy.clamp(delay))
            return
        limiter.release_on_behalf_of(token)
        if polled.status in (Status.SUCCEEDED, Status.FAILED):
            error = failure(polled.entity) if polled.status == Status.FAILED else None
            await finish(WaitOutcome(id=due.job_id, entity=polled.entity, error=error))
        else:
            interval = policy.next_interval(due.interval, polled.retry_after)
            schedule(_Due(due.job_id, interval), interval)

    for job_id in dict.fromkeys(ids):
        schedule(_Due(job_id), 0.0)
        remaining += 1
    async with send, anyio.create_task_group() as tg:
        while remaining:
            if heap and heap[0][0] <= anyio.current_time():
                due = heapq.heappop(heap)[2]
                token = object()
                await limiter.acquire_on_behalf_of(token)
                tg.start_soon(one, due, token)
                continue
            wake = anyio.Event()
            with anyio.move_on_after(heap[0][0] - anyio.current_time() if heap else math.inf):
                await wake.wait()
