"""Waiting for long-running entities: one loop for every operation group.

The interval between polls is the service's ``Retry-After`` when it sends one, kept within
the caller's floor and ceiling; otherwise it grows from ``initial_interval``. Callers bound
the total wait with ``anyio.fail_after``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio
import attrs

from .types import Status

__all__ = ["PollPolicy", "Polled", "wait_until_terminal"]

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
