"""Waiting for long-running entities: one loop for every operation group.

The interval between polls is the service's ``Retry-After`` when it sends one, kept within
the caller's floor and ceiling; otherwise it grows from ``initial_interval``. Callers bound
the total wait with ``anyio.fail_after``.

:func:`wait_many` waits on many entities in rounds. A round learns the status of every job
still pending from list pages (a *sweep*: one request per 100 jobs, filtered to the jobs
still running and those that changed since the previous sweep), then polls one by one only
the jobs the sweep did not show; with few jobs pending, it polls each. Its default cadence
follows Microsoft's guidance for batch jobs (see :data:`WAIT_MANY_POLICY`).
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from . import _checks as check
from . import errors
from ._convert import sweep_filter
from ._limits import bounded_map
from ._retry import RetryPolicy
from .types import Status

__all__ = [
    "WAIT_MANY_POLICY",
    "Listed",
    "PollPolicy",
    "Polled",
    "WaitOutcome",
    "wait_many",
    "wait_until_terminal",
]

log = logging.getLogger("speechrest")

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


WAIT_MANY_POLICY = PollPolicy(initial_interval=60.0, min_interval=1.0, max_interval=600.0)
"""The cadence of ``wait_many``: the service's ``Retry-After`` (never sooner than a second);
without one, after a first look once a minute, growing to once every 10 minutes (Microsoft:
"checking the status every 10 minutes is sufficient, and polling more often than once per
minute isn't recommended")."""


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
SWEEP_OVERLAP = timedelta(seconds=5)
"""How far before the previous sweep a sweep looks for jobs that changed: the service's
clock and its timestamps have whole seconds, and its machines' clocks may differ a little.
(A job that ended unseen is still found: every pending job a sweep misses is polled.)"""


@attrs.frozen(kw_only=True)
class Listed(Generic[T]):
    """One page of a sweep: the listed entities by id, as polls; the page's Retry-After;
    the time the service answered (its ``Date``)."""

    polled: dict[str, Polled[T]]
    retry_after: float | None
    date: datetime | None


Sweep = Callable[[str | None], AsyncGenerator[Listed[T], None]]
"""Pages of the entity list with this ``filter`` (None: every entity)."""


async def wait_many(
    ids: Iterable[str],
    send: MemoryObjectSendStream[WaitOutcome[T]],
    *,
    poll: Callable[[str], Awaitable[Polled[T]]],
    sweep: Sweep[T] | None,
    policy: PollPolicy,
    retry: RetryPolicy,
    concurrency: int,
    failure: Callable[[T], BaseException],
    jitter: float = 0.1,
) -> None:
    """Wait until the entity of every id is terminal; send one :class:`WaitOutcome` per id.

    Each round looks at every pending job once: by ``sweep`` when that costs fewer requests
    than polling each (more jobs pending than pages the last sweep read), then by ``poll``
    for the jobs the sweep did not show, at most ``concurrency`` at once. Between rounds it
    sleeps the interval of ``policy`` (the service's ``Retry-After`` within its bounds), plus
    up to ``jitter`` of it.

    A failed poll is judged by the client's retry policy: a transient failure polls that
    job again next round; any other error ends that job's wait with an outcome that
    carries the error. A sweep the service refuses (a filter it does not support, say)
    turns sweeping off for this wait. Credentials that are refused (401, 403) or a closed
    client end the whole wait: the error is raised once the polls in flight have stopped.
    Duplicate ids are waited on once.
    """
    waits = _Waits(list(dict.fromkeys(ids)), send, poll, sweep, retry, concurrency, failure)
    interval: float | None = None
    async with send:
        while waits.pending:
            retry_after = await waits.round()
            if not waits.pending:
                break
            interval = policy.next_interval(interval, retry_after)
            await anyio.sleep(interval * (1.0 + random.uniform(0.0, jitter)))  # noqa: S311


class _Waits(Generic[T]):
    """The state of one :func:`wait_many`."""

    def __init__(
        self,
        ids: list[str],
        send: MemoryObjectSendStream[WaitOutcome[T]],
        poll: Callable[[str], Awaitable[Polled[T]]],
        sweep: Sweep[T] | None,
        retry: RetryPolicy,
        concurrency: int,
        failure: Callable[[T], BaseException],
    ) -> None:
        self.pending = dict.fromkeys(ids)
        self.send = send
        self.poll = poll
        self.sweep = sweep
        self.retry = retry
        self.concurrency = concurrency
        self.failure = failure
        self.failures: dict[str, int] = {}
        """Transient poll failures in a row, by job."""
        self.pages = 1
        """Pages the last sweep read: what a sweep is expected to cost."""
        self.since: datetime | None = None
        """The jobs that changed since this time are in the next sweep (None: first)."""
        self.retry_after: float | None = None

    def _hint(self, seconds: float | None) -> None:
        """The round's Retry-After: the soonest any answer asked for."""
        if seconds is not None and (self.retry_after is None or seconds < self.retry_after):
            self.retry_after = seconds

    async def round(self) -> float | None:
        """Look at every pending job once; return the round's Retry-After."""
        self.retry_after = None
        unseen = list(self.pending)
        if self.sweep is not None and len(unseen) > self.pages:
            unseen = await self._sweep_round(unseen)
        await bounded_map(unseen, self._poll_one, self.concurrency, self._done)
        return self.retry_after

    async def _sweep_round(self, ids: list[str]) -> list[str]:
        """Sweep; return the pending jobs the sweep did not show."""
        first = self.since is None
        seen = await self._read(sweep_filter(self.since), ids, max_pages=None)
        if seen is None:
            return [] if self.sweep is not None else ids  # a transient failure: next round
        unseen = [i for i in ids if i not in seen]
        if first and len(unseen) > 2 * self.pages:
            # Jobs that had ended before the wait began: look for them in the whole list,
            # for no more pages than half the polls it saves.
            more = await self._read(None, unseen, max_pages=len(unseen) // 2)
            unseen = [i for i in unseen if i not in (more or ())]
        return unseen

    async def _read(
        self, expression: str | None, ids: list[str], *, max_pages: int | None
    ) -> set[str] | None:
        """Read sweep pages until every id in ``ids`` was listed (or the list ends, or
        ``max_pages``); settle what they show; return the ids listed. None when the sweep
        failed: then a refusal turns sweeping off."""
        assert self.sweep is not None
        wanted, seen, pages, date = set(ids), set[str](), 0, None
        try:
            async with contextlib.aclosing(self.sweep(expression)) as listing:
                async for page in listing:
                    pages += 1
                    date = date or page.date or datetime.now(UTC)
                    self._hint(page.retry_after)
                    for job_id, polled in page.polled.items():
                        if job_id in wanted:
                            seen.add(job_id)
                            await self._settle(job_id, polled)
                    if len(seen) == len(wanted) or pages == max_pages:
                        break
        except Exception as exc:
            if isinstance(exc, _FATAL):
                raise
            delay = self.retry.wait_for(exc, 0)
            if delay is None:
                log.warning("sweeps refused (%s): polling each job instead", exc)
                self.sweep = None
            self._hint(delay)
            return None
        if expression is not None:
            self.pages = max(1, pages)
            self.since = (date or datetime.now(UTC)) - SWEEP_OVERLAP
        return seen

    async def _poll_one(self, index: int, job_id: str) -> tuple[str, Polled[T] | BaseException]:
        try:
            return job_id, await self.poll(job_id)
        except Exception as exc:
            if isinstance(exc, _FATAL):
                raise
            return job_id, exc

    async def _done(self, answer: tuple[str, Polled[T] | BaseException]) -> None:
        job_id, polled = answer
        if isinstance(polled, Polled):
            self._hint(polled.retry_after)
            await self._settle(job_id, polled)
            return
        failures = self.failures.get(job_id, 0)
        delay = self.retry.wait_for(polled, failures)
        if delay is None:
            await self._finish(WaitOutcome(id=job_id, error=polled))
        else:
            self.failures[job_id] = failures + 1
            self._hint(delay)

    async def _settle(self, job_id: str, polled: Polled[T]) -> None:
        """Send the outcome of a job that ended."""
        self.failures.pop(job_id, None)
        if polled.status in (Status.SUCCEEDED, Status.FAILED) and job_id in self.pending:
            error = self.failure(polled.entity) if polled.status == Status.FAILED else None
            await self._finish(WaitOutcome(id=job_id, entity=polled.entity, error=error))

    async def _finish(self, outcome: WaitOutcome[T]) -> None:
        del self.pending[outcome.id]
        await self.send.send(outcome)
