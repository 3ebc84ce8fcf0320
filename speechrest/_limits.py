"""Client-owned concurrency: the admission of each quota family, bounded fan-out, and the
structured streams that fan-outs and waits yield their outcomes through.

* :class:`ClientLimits` holds one :class:`Gate` per quota family of the service (fast
  transcription; the batch and custom speech REST API; downloads from Blob Storage), shared
  by every call of a client and its ``with_options`` views. The transport takes a slot of
  the request's family around each HTTP attempt (never while it sleeps between retries) and
  reports how the attempt ended.
* A gate is adaptive (:class:`QuotaPolicy`): it learns from the service's answers how many
  requests it may have in flight, and pauses the whole family when it is throttled.
* :func:`bounded_map` runs work on many items with at most ``concurrency`` at once.
* :class:`OutcomeStream` is an ``async with`` block owning the task group of a fan-out:
  no work outlives it.
"""

from __future__ import annotations

import collections
import enum
import itertools
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sized
from types import TracebackType
from typing import Generic, Self, TypeVar

import anyio
import anyio.abc
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _checks as check
from ._retry import RetryBudget
from .errors import ClientStateError, InvalidInputError

__all__ = [
    "FAST_QUOTA",
    "REST_QUOTA",
    "STORAGE_QUOTA",
    "ClientLimits",
    "Family",
    "Gate",
    "OutcomeStream",
    "QuotaPolicy",
    "QuotaStats",
    "bounded_map",
    "first_error",
    "send",
]

T = TypeVar("T")
R = TypeVar("R")


class Family(enum.Enum):
    """The quota families: each is metered on its own."""

    FAST = "fast transcription"
    REST = "batch and custom speech REST API"
    STORAGE = "downloads from Blob Storage"


def _holds(value: object) -> tuple[float, ...]:
    example = "(60, 120, 240, 240)"
    holds = tuple(
        check.number(h, "each of holds", low=0) for h in check.items(value, "holds", example)
    )
    if not holds:
        raise InvalidInputError("holds must hold at least one duration in seconds, e.g. (60,)")
    return holds


def _rate_limit(value: object) -> tuple[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, tuple) or len(value) != 2:
        raise InvalidInputError(
            f"rate_limit must be (requests, seconds), e.g. (100, 10.0); got {value!r}"
        )
    return check.positive(value[0], "rate_limit requests"), check.number(
        value[1], "rate_limit seconds", low=1e-3
    )


@attrs.frozen(kw_only=True)
class QuotaPolicy:
    """How a client admits the requests of one quota family (``SpeechClient(fast_quota=,
    rest_quota=, storage_quota=)``).

    Adaptive (the default), the client starts with ``initial_concurrency`` requests in flight
    and adds ``increase`` each round of answers (as many answers as the limit, and at least
    ``ramp_interval`` seconds) while the limit is in use and the service does not throttle;
    until the first throttle, without a ``ramp_interval``, it may double per round instead
    (a slow start).
    On a throttle (HTTP 429 that is not an exhausted quota) the whole family pauses for the
    service's ``Retry-After`` (one second when it sends none; a longer one than
    ``max_pause`` is no pause: the calls raise it), then resumes at 95 % of the rate the
    service accepted, paced evenly, and holds that rate for
    ``holds[0]`` seconds before it tries more; if the service throttles again, for
    ``holds[1]``, and so on (Microsoft's 1-2-4-4 minutes by default). Retries other than
    throttles spend a client-wide budget that successes refill (100 retries, plus one per
    five successful requests), so that they cannot multiply the load on a failing service.

    ``adaptive=False`` turns all that off: requests are only bounded by
    ``max_concurrency`` and ``rate_limit``, and each retries on its own.
    ``rate_limit=(requests, seconds)`` is a hard budget, whatever the service answers:
    never more than ``requests`` requests in any ``seconds`` (the REST API's documented 100
    per 10 seconds by default).
    """

    adaptive: bool = True
    """Whether the limit follows the service's answers."""
    initial_concurrency: int = 20
    """Requests in flight at first (Microsoft's guidance: start around 20)."""
    increase: int = 20
    """Requests added to the limit per round of answers without a throttle."""
    ramp_interval: float = 0.0
    """Least seconds between two increases; 0: one round of answers (the limit's worth),
    so the ramp follows how fast the service answers. 90 follows Microsoft's template."""
    max_concurrency: int | None = None
    """The most requests of the family in flight, whatever the service admits."""
    holds: tuple[float, ...] = attrs.field(default=(60.0, 120.0, 240.0, 240.0), converter=_holds)
    """Seconds without an increase after the 1st, 2nd, ... throttle in a row."""
    max_pause: float = 60.0
    """The longest shared pause a throttle causes; a throttle asking for longer does not
    pause the family (the quota is spent for long: the calls raise it at once)."""
    rate_limit: tuple[int, float] | None = attrs.field(default=None, converter=_rate_limit)
    """A hard budget ``(requests, seconds)``: never more in any window of that length."""

    def __attrs_post_init__(self) -> None:
        check.flag(self.adaptive, "adaptive")
        check.positive(self.initial_concurrency, "initial_concurrency")
        check.integer(self.increase, "increase", 0)
        check.number(self.ramp_interval, "ramp_interval", low=0)
        check.optional(check.positive, self.max_concurrency, "max_concurrency")
        check.number(self.max_pause, "max_pause", low=0)


FAST_QUOTA = QuotaPolicy()
"""Fast transcription: 600 requests per minute by default, adjustable per resource, so the
client learns the rate from the service's answers."""
REST_QUOTA = QuotaPolicy(rate_limit=(100, 10.0))
"""The batch and custom speech REST API: 100 requests per 10 seconds, a documented limit
shared by every call (submit, list, get, polls, block uploads)."""
STORAGE_QUOTA = QuotaPolicy()
"""Result and file downloads from their SAS links: Blob Storage, not the Speech API."""


@attrs.frozen(kw_only=True)
class QuotaStats:
    """The state of one quota family of a client (:meth:`SpeechClient.stats`)."""

    limit: int | None
    """Requests it may have in flight now (None: no bound)."""
    in_flight: int
    """Requests in flight now."""
    waiting: int
    """Requests waiting for their turn now."""
    requests: int
    """Requests sent so far (every attempt)."""
    throttled: int
    """Answers that throttled (HTTP 429) so far."""
    retried: int
    """Retries sent so far (after throttles and other transient failures)."""
    rate: float | None = None
    """Requests per second it paces admissions at, once the service throttled (None:
    not paced)."""


class _Window:
    """The hard budget: at most ``requests`` attempts in any ``seconds``. An attempt counts
    from its start until ``seconds`` after its end, so that however long it took to reach
    the service, the service never sees more than ``requests`` in one window."""

    def __init__(self, requests: int, seconds: float) -> None:
        self.requests = requests
        self.seconds = seconds
        self.ends: collections.deque[float] = collections.deque()

    def delay(self, now: float, in_flight: int) -> float:
        """Seconds until one more attempt fits (inf: when an attempt in flight ends)."""
        ends = self.ends
        while ends and ends[0] <= now - self.seconds:
            ends.popleft()
        excess = in_flight + len(ends) - self.requests + 1
        if excess <= 0:
            return 0.0
        if excess > len(ends):
            return math.inf
        return ends[excess - 1] + self.seconds - now


class _Waiter:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = anyio.Event()


_monotonic = time.monotonic
_SAFETY = 0.95
"""After a throttle, the share of the measured accepted rate the client resumes at."""
_NOISE = 0.9
"""A throttle while the service accepted at least this share of the paced rate does not lower
it (the service refused a few: it is scaling, or it refused at random), it only pauses."""
_ROOM = 1.5
"""After a throttle, the limit's room for answers slower than the mean (the rate binds)."""
_SMOOTHING = 0.25
"""Weight of the newest answer sampled in the running mean of the answer time."""


class Gate:
    """Admission of the HTTP attempts of one quota family (see :class:`QuotaPolicy`).

    :meth:`acquire` waits for the attempt's turn and returns a ticket (when it was
    admitted); :meth:`done` hears how the attempt ended. Waiting never blocks the event
    loop, and requests wait in line: one that arrives goes at once only when there is room
    for every request waiting too.
    """

    def __init__(self, family: Family, policy: QuotaPolicy) -> None:
        self.family = family
        self.policy = policy
        self.adaptive = policy.adaptive
        self.budget = RetryBudget() if policy.adaptive else RetryBudget(capacity=math.inf)
        """Retries the family may still send (unbounded when not adaptive)."""
        cap = policy.max_concurrency or math.inf
        self._cap: float = cap
        self.limit: float = min(policy.initial_concurrency, cap) if policy.adaptive else cap
        self.in_flight = 0
        self.requests = 0
        self.throttled = 0
        self._window = _Window(*policy.rate_limit) if policy.rate_limit else None
        self._queue: collections.deque[_Waiter] = collections.deque()
        self._not_before = 0.0
        """No admission before this (monotonic): the end of a pause, the next paced slot."""
        self._rate: float | None = None
        """Admissions per second, spread evenly (from the first throttle on; None before)."""
        self._latency = 0.0
        """Running mean of the answer time of the attempts the service accepted (one in
        eight, from the first)."""
        self._answers = 0
        """Answers accepted so far."""
        self._grew = 0.0
        """When the limit last grew."""
        self._grown = 0.0
        """How much it grew since the last throttle."""
        self._hold_until = 0.0
        self._throttles = 0
        """Throttle episodes since an increase last held."""
        self._episode = -math.inf
        """Throttles of attempts admitted before this belong to an episode already handled."""
        self._resize_at: tuple[float, float, bool] | None = None
        """(when, over how many seconds, whether that is the quota's window) to measure the
        accepted rate once the pause ends."""
        self._plain = self._window is None
        """Whether an attempt may be admitted by :meth:`admit` alone: no hard budget, no
        pacing, no resize due."""
        self._admitted: collections.deque[float] = collections.deque(maxlen=8192)
        self._rejected: collections.deque[float] = collections.deque(maxlen=8192)
        """Tickets (admission times) of recent attempts, and of those throttled."""

    # -- admission -------------------------------------------------------------------------

    def admit(self) -> float | None:
        """This attempt's ticket for :meth:`done` if it may go at once (without a trip
        through the event loop: the common case); None when it must :meth:`acquire`."""
        queue = self._queue
        if self._plain and self.in_flight + (len(queue) if queue else 0) < self.limit:
            now = _monotonic()  # (room for everyone waiting too)
            if now >= self._not_before:  # (the common case, inline: it runs per request)
                self.in_flight += 1
                self.requests += 1
                self._admitted.append(now)
                return now
        return None

    async def acquire(self) -> float:
        """Wait for this attempt's turn; return its ticket for :meth:`done`."""
        ticket = self.admit()
        return await self._wait() if ticket is None else ticket

    async def _wait(self) -> float:
        waiter = _Waiter()
        self._queue.append(waiter)
        try:
            while True:
                delay = math.inf
                if self._queue[0] is waiter:
                    now = _monotonic()
                    delay = self._delay(now)
                    if delay <= 0:
                        self._queue.popleft()
                        ticket = self._admit(now)
                        self._wake()  # the next in line may fit too
                        return ticket
                if waiter.event.is_set():
                    waiter.event = anyio.Event()
                if delay == math.inf:
                    await waiter.event.wait()  # until a slot frees or the limit grows
                else:
                    with anyio.move_on_after(delay):
                        await waiter.event.wait()
        except BaseException:
            head = self._queue[0] is waiter
            self._queue.remove(waiter)
            if head:
                self._wake()
            raise

    def _delay(self, now: float) -> float:
        """Seconds until the head of the line may go (0: now; inf: when a slot frees)."""
        if self._resize_at is not None and now >= self._not_before:
            self._resize(now)
        if self.in_flight >= self.limit:
            return math.inf
        delay = self._not_before - now
        if self._window is not None:
            delay = max(delay, self._window.delay(now, self.in_flight))
        return delay

    def _admit(self, now: float) -> float:
        self.in_flight += 1
        self.requests += 1
        if self.adaptive:
            if self._rate is not None:
                # Once the service throttled, requests go one by one at the rate it
                # accepted: a burst of answers never turns into a burst of requests. The
                # schedule is kept when the wake-up was late, not after a quiet spell.
                spacing = 1.0 / self._rate
                slot = self._not_before if now - self._not_before < spacing else now
                self._not_before = slot + spacing
            self._admitted.append(now)
        return now

    def _wake(self) -> None:
        if self._queue:
            self._queue[0].event.set()

    # -- what the service answered ---------------------------------------------------------

    def done(
        self,
        ticket: float,
        status: int | None,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The attempt admitted with ``ticket`` ended: its HTTP ``status`` (None: no answer),
        whether it was throttled, and the service's ``Retry-After``."""
        self.in_flight -= 1
        if self._window is not None:
            self._window.ends.append(_monotonic())
        if throttled:
            self.throttled += 1
            if self.adaptive:
                self._throttle(ticket, retry_after)
        elif status is not None and self.adaptive:  # accepted (inline: it runs per request)
            budget = self.budget
            if status < 500 and budget.tokens < budget.capacity:
                budget.earn()
            self._answers += 1
            if self._answers & 7 == 1:  # the answer time of one answer in eight
                latency, took = self._latency, _monotonic() - ticket
                self._latency = latency + _SMOOTHING * (took - latency) if latency else took
            queue = self._queue
            if (
                self.in_flight + (len(queue) if queue else 0) + 1 >= self.limit  # it holds
                and self.limit < self._cap  # requests back
            ):
                now = _monotonic()
                if now >= self._hold_until:
                    self._grow(now)
        if self._queue:
            self._queue[0].event.set()

    def _grow(self, now: float) -> None:
        """Additive increase spread over the answers, so that a step never sends a burst:
        ``increase`` per round of answers (the limit's worth), and per ``ramp_interval``
        seconds at most. Until the service first throttles (and without a
        ``ramp_interval``), the limit may double per round instead: a slow start, as TCP's,
        that finds a high admissible rate in a few rounds."""
        step = self.policy.increase / self.limit
        if self._episode == -math.inf and self.policy.increase and not self.policy.ramp_interval:
            step = max(step, 1.0)
        if self.policy.ramp_interval:
            step = min(step, self.policy.increase * (now - self._grew) / self.policy.ramp_interval)
        self._grew = now
        grown = min(self._cap, self.limit + step)
        if self._rate is not None:
            self._rate *= grown / self.limit
        self.limit = grown
        self._grown += step
        if self._grown >= self.policy.increase:
            self._throttles = 0  # an increase held: Microsoft's 1-2-4-4 starts over

    def _throttle(self, ticket: float, retry_after: float | None) -> None:
        """Pause the family; once per episode, plan to resize and hold."""
        now = time.monotonic()
        if retry_after is not None and retry_after > self.policy.max_pause:
            return  # not a pause: the quota is spent for long (the calls raise it at once)
        self._rejected.append(ticket)
        pause = 1.0 if retry_after is None else retry_after
        self._not_before = max(self._not_before, now + pause)
        if ticket <= self._episode:
            return  # sent before the client slowed down: the same episode
        self._episode = now
        # Whole seconds of Retry-After name the quota's window: the rate is measured over
        # it; without, over the last second at most (as long as the client was sending).
        window = retry_after is not None and retry_after >= 1.0
        self._resize_at = (now, max(1.0, pause), window)
        self._plain = False
        holds = self.policy.holds
        self._hold_until = now + holds[min(self._throttles, len(holds) - 1)]
        self._throttles += 1
        self._grew, self._grown = now, 0.0

    def _resize(self, now: float) -> None:
        """After a throttle's pause: admissions paced evenly at the rate the service
        accepted (attempts it did not throttle, per second, over the window of the
        ``Retry-After`` before the throttle, as a quota counts them), and the limit that
        sends at that rate, by Little's law, with room for slower answers."""
        assert self._resize_at is not None
        when, span, window = self._resize_at
        self._resize_at = None
        since = when - span
        admitted = sum(1 for t in self._admitted if since < t <= when)
        if not window and admitted:
            first = next(t for t in self._admitted if since < t)
            span = min(span, max(when - first, 1e-3))
        accepted = admitted - sum(1 for t in self._rejected if since < t <= when)
        if self._rate is not None and accepted / span >= _NOISE * self._rate:
            return  # it took nearly all we sent at this pace: a refusal (autoscaling), no limit
        if accepted < self.limit or not self._latency:
            # Too few answers measure little (a throttle after a quiet spell): halve.
            self.limit = max(1.0, self.limit / 2)
            rate = self.limit / self._latency if self._latency else None
        else:
            rate = _SAFETY * accepted / span
            self.limit = max(1.0, min(self.limit, _ROOM * rate * self._latency))
        if rate is not None and self._rate is not None:
            rate = min(rate, self._rate)
        self._rate = rate or self._rate
        self._plain = self._window is None and self._rate is None

    def stats(self) -> QuotaStats:
        if self._resize_at is not None and time.monotonic() >= self._not_before:
            self._resize(time.monotonic())
        return QuotaStats(
            limit=None if self.limit == math.inf else int(self.limit),
            in_flight=self.in_flight,
            waiting=len(self._queue),
            requests=self.requests,
            throttled=self.throttled,
            retried=self.budget.retried,
            rate=self._rate,
        )


class ClientLimits:
    """The limits a client owns, one gate per quota family, shared by all its calls."""

    def __init__(
        self,
        fast: QuotaPolicy = FAST_QUOTA,
        rest: QuotaPolicy = REST_QUOTA,
        storage: QuotaPolicy = STORAGE_QUOTA,
    ) -> None:
        self.fast = Gate(Family.FAST, fast)
        self.rest = Gate(Family.REST, rest)
        self.storage = Gate(Family.STORAGE, storage)

    def gate(self, operation: str, authenticated: bool = True) -> Gate:
        """The gate of the family that meters ``operation``; requests without the client's
        credentials (downloads from SAS links) go to Blob Storage."""
        if not authenticated:
            return self.storage
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
    rest and is raised itself (the first failure, not an exception group).

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
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)
    except BaseExceptionGroup as failures:
        raise first_error(failures) from None


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
