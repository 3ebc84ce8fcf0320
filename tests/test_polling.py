"""The many-jobs scheduler of ``speechrest._polling``, with a scripted poll function."""

from __future__ import annotations

import itertools
from collections import defaultdict

import anyio
import pytest

from speechrest._polling import Polled, PollPolicy, WaitOutcome, poll_many
from speechrest._retry import RetryPolicy
from speechrest.errors import InternalServerError, NotFoundError
from speechrest.types import Status

pytestmark = pytest.mark.anyio

POLICY = PollPolicy(initial_interval=0.01, min_interval=0.0, max_interval=0.2)


async def collect(ids, poll, *, concurrency: int = 4, policy: PollPolicy = POLICY):
    send, receive = anyio.create_memory_object_stream[WaitOutcome[str]](100)
    async with receive, anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: poll_many(
                ids,
                poll,
                send,
                policy=policy,
                retry=RetryPolicy(backoff_base=0.001),
                concurrency=concurrency,
                failure=lambda entity: RuntimeError(f"{entity} failed"),
            )
        )
        return [o async for o in receive]


async def test_polls_never_sooner_than_retry_after_and_slots_only_while_polling() -> None:
    calls: dict[str, list[float]] = defaultdict(list)
    in_flight = peak = 0

    async def poll(job_id: str) -> Polled[str]:
        nonlocal in_flight, peak
        calls[job_id].append(anyio.current_time())
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.005)
        in_flight -= 1
        done = len(calls[job_id]) == 3
        status = Status.SUCCEEDED if done else Status.RUNNING
        return Polled(entity=job_id, status=status, retry_after=None if done else 0.08)

    ids = [f"job{i}" for i in range(20)]
    outcomes = await collect(ids, poll, concurrency=4)
    assert sorted(o.id for o in outcomes) == sorted(ids) and all(o.ok for o in outcomes)
    assert peak == 4  # bounded, yet 20 jobs were waiting at once
    for times in calls.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.08 for g in gaps), gaps  # never sooner than Retry-After


async def test_retry_after_is_bounded_by_the_policy_as_in_wait() -> None:
    """A Retry-After beyond ``max_interval`` is capped there, as ``wait()`` caps it: a
    hostile or broken server cannot park a wait for hours."""
    calls: dict[str, list[float]] = defaultdict(list)

    async def poll(job_id: str) -> Polled[str]:
        calls[job_id].append(anyio.current_time())
        done = len(calls[job_id]) == 3
        status = Status.SUCCEEDED if done else Status.RUNNING
        return Polled(entity=job_id, status=status, retry_after=None if done else 100_000.0)

    with anyio.fail_after(5):
        outcomes = await collect(["a", "b"], poll)
    assert all(o.ok for o in outcomes)
    for times in calls.values():
        assert all(b - a < 1 for a, b in itertools.pairwise(times))


async def test_failures_transient_retried_others_reported() -> None:
    attempts: dict[str, int] = defaultdict(int)

    async def poll(job_id: str) -> Polled[str]:
        attempts[job_id] += 1
        if job_id == "flaky" and attempts[job_id] <= 2:
            raise InternalServerError(503, message="busy", retry_after=0.0)
        if job_id == "gone":
            raise NotFoundError(404, message="no such job")
        status = Status.FAILED if job_id == "bad" else Status.SUCCEEDED
        return Polled(entity=job_id, status=status, retry_after=None)

    outcomes = {o.id: o for o in await collect(["flaky", "gone", "bad", "flaky"], poll)}
    assert outcomes["flaky"].ok and attempts["flaky"] == 3
    assert isinstance(outcomes["gone"].error, NotFoundError) and outcomes["gone"].entity is None
    assert str(outcomes["bad"].error) == "bad failed" and outcomes["bad"].entity == "bad"
    assert len(outcomes) == 3
