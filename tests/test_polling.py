"""``wait_many`` of ``speechrest._polling``, against a scripted service: rounds, list sweeps
(read by the emulator's own filter engine), polls of the jobs a sweep did not show."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from speechrest._convert import sweep_filter
from speechrest._polling import SWEEP_OVERLAP, Listed, Polled, PollPolicy, WaitOutcome, wait_many
from speechrest._retry import RetryPolicy
from speechrest.errors import BadRequestError, InternalServerError, NotFoundError
from speechrest.testing._filter import FILTERABLE, compile_filter
from speechrest.types import Status

pytestmark = pytest.mark.anyio

POLICY = PollPolicy(initial_interval=0.01, min_interval=0.0, max_interval=0.05)
START = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)


class Service:
    """Jobs that end after a given number of rounds, a clock that moves one minute per
    round, and the two ways to look at them: a list (pages of 100, with ``filter``) and a
    poll per job. Counts every request."""

    def __init__(self, jobs: dict[str, int], *, page_size: int = 100) -> None:
        self.ends = jobs  # job id -> the round (minute) in which it ends (< 1: before the wait)
        self.page_size = page_size
        self.round = 0
        self.calls: Counter[str] = Counter()
        self.filters: list[str | None] = []
        self.sweep_failures: list[BaseException] = []
        self.poll_failures: dict[str, list[BaseException]] = {}
        self.retry_after: float | None = 0.0

    def now(self) -> datetime:
        return START + timedelta(minutes=self.round)

    def status(self, job_id: str) -> Status:
        return Status.SUCCEEDED if self.round >= self.ends[job_id] else Status.RUNNING

    def wire(self, job_id: str) -> dict[str, str]:
        ended = self.status(job_id) == Status.SUCCEEDED
        when = START + timedelta(minutes=self.ends[job_id] if ended else 0)
        return {
            "status": self.status(job_id).value,
            "lastActionDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    async def sweep(self, expression: str | None) -> AsyncGenerator[Listed[str], None]:
        self.filters.append(expression)
        if self.sweep_failures:
            self.calls["list"] += 1
            raise self.sweep_failures.pop(0)
        keep = compile_filter(expression, FILTERABLE["transcriptions"]) if expression else None
        listed = [j for j in self.ends if keep is None or keep(self.wire(j))]
        for start in range(0, max(1, len(listed)), self.page_size):
            self.calls["list"] += 1
            page = listed[start : start + self.page_size]
            polled = {j: Polled(entity=j, status=self.status(j), retry_after=None) for j in page}
            yield Listed(polled=polled, retry_after=self.retry_after, date=self.now())

    async def poll(self, job_id: str) -> Polled[str]:
        self.calls["get"] += 1
        failures = self.poll_failures.get(job_id)
        if failures:
            raise failures.pop(0)
        if job_id not in self.ends:
            raise NotFoundError(404, message="no such job")
        return Polled(entity=job_id, status=self.status(job_id), retry_after=self.retry_after)


async def wait(service: Service, ids, *, concurrency: int = 4, sweeps: bool = True):
    send, receive = anyio.create_memory_object_stream[WaitOutcome[str]](100)
    outcomes: list[WaitOutcome[str]] = []

    async def rounds() -> None:  # the clock moves on between rounds
        async for outcome in receive:
            outcomes.append(outcome)

    async def run() -> None:
        await wait_many(
            ids,
            send,
            poll=service.poll,
            sweep=service.sweep if sweeps else None,
            policy=POLICY,
            retry=RetryPolicy(backoff_base=0.001),
            concurrency=concurrency,
            failure=lambda entity: RuntimeError(f"{entity} failed"),
        )

    original = anyio.sleep

    async def sleep_and_tick(seconds: float) -> None:
        service.round += 1
        await original(0)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("speechrest._polling.anyio.sleep", sleep_and_tick)
        async with receive, anyio.create_task_group() as tg:
            tg.start_soon(rounds)
            await run()
    return outcomes


async def test_many_jobs_cost_a_page_per_round_not_a_request_per_job() -> None:
    jobs = {f"job{i:03d}": 1 + i % 5 for i in range(250)}  # end in rounds 1 to 5
    service = Service(jobs)
    outcomes = await wait(service, list(jobs))
    assert sorted(o.id for o in outcomes) == sorted(jobs) and all(o.ok for o in outcomes)
    assert service.calls["get"] == 0  # every job was seen in a list page
    # Six rounds; 3 pages while all 250 run, then fewer as they end.
    assert service.calls["list"] <= 6 * 3 and service.calls["list"] / len(jobs) <= 0.08
    first, second, *_ = service.filters
    assert first == sweep_filter(None)  # the jobs still running
    assert second == sweep_filter(START - SWEEP_OVERLAP)  # ... and those that ended since
    assert "lastActionDateTime ge 2026-05-01T09:59:55Z" in second


async def test_a_few_jobs_are_polled_one_by_one() -> None:
    service = Service({"a": 2})
    outcomes = await wait(service, ["a", "a"])  # duplicates are waited on once
    assert [o.id for o in outcomes] == ["a"]
    assert service.calls == {"get": 3}  # rounds 0, 1, 2: polling one costs one request


async def test_jobs_that_ended_before_the_wait_come_from_the_whole_list() -> None:
    # 300 ended an hour before the wait began; 50 end in its second round.
    jobs = {f"old{i:03d}": -60 for i in range(300)} | {f"new{i}": 2 for i in range(50)}
    service = Service(jobs)
    outcomes = await wait(service, list(jobs))
    assert len(outcomes) == 350 and all(o.ok for o in outcomes)
    # Round 0: the running ones (1 page), then the whole list, until the 300 that had ended
    # were found (3 of its 4 pages); rounds 1 and 2 read one page each. No job needs a
    # request of its own.
    assert service.filters[:2] == [sweep_filter(None), None]
    assert service.calls == {"list": 1 + 3 + 1 + 1}


async def test_jobs_a_sweep_does_not_show_are_polled_and_gone_ones_reported() -> None:
    service = Service({f"job{i}": 1 for i in range(5)})
    outcomes = {o.id: o for o in await wait(service, [*service.ends, "gone"])}
    assert isinstance(outcomes["gone"].error, NotFoundError) and outcomes["gone"].entity is None
    assert all(outcomes[j].ok for j in service.ends)
    assert service.calls["get"] == 1  # only the one no list shows


async def test_a_refused_sweep_falls_back_to_polls_and_a_transient_one_is_retried() -> None:
    service = Service({f"job{i}": 2 for i in range(4)})
    service.sweep_failures = [InternalServerError(503, message="busy", retry_after=0.0)]
    outcomes = await wait(service, list(service.ends))
    assert all(o.ok for o in outcomes) and service.calls["get"] == 0  # swept next round

    service = Service({f"job{i}": 2 for i in range(4)})
    service.sweep_failures = [BadRequestError(400, code="InvalidArgument", message="filter")]
    outcomes = await wait(service, list(service.ends))
    assert all(o.ok for o in outcomes)
    assert service.calls["list"] == 1 and service.calls["get"] == 4 * 3  # polls from then on


async def test_failures_transient_retried_others_reported() -> None:
    service = Service({"flaky": 0, "bad": 0})
    service.poll_failures["flaky"] = [InternalServerError(503, message="busy", retry_after=0.0)] * 2
    service.poll_failures["bad"] = [BadRequestError(400, message="no")]
    outcomes = {o.id: o for o in await wait(service, ["flaky", "bad"], sweeps=False)}
    assert outcomes["flaky"].ok and service.calls["get"] == 3 + 1
    assert isinstance(outcomes["bad"].error, BadRequestError) and outcomes["bad"].entity is None


async def test_failed_jobs_are_yielded_with_the_failure() -> None:
    service = Service({"a": 0})
    service.status = lambda job_id: Status.FAILED  # type: ignore[method-assign]
    (outcome,) = await wait(service, ["a"])
    assert str(outcome.error) == "a failed" and outcome.entity == "a"


async def test_rounds_follow_retry_after_within_the_policy() -> None:
    """The interval is the service's Retry-After (here under the floor, over the
    ceiling), kept within the policy as ``wait()`` keeps it."""
    policy = PollPolicy(initial_interval=0.03, min_interval=0.02, max_interval=0.05, growth=1)
    for retry_after, expected in ((0.001, 0.02), (100_000.0, 0.05), (None, 0.03)):
        service = Service({"a": 3})
        service.retry_after = retry_after
        intervals: list[float] = []

        async def tick(
            seconds: float, service: Service = service, intervals: list[float] = intervals
        ) -> None:
            intervals.append(seconds)
            service.round += 1

        send, receive = anyio.create_memory_object_stream[WaitOutcome[str]](10)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("speechrest._polling.anyio.sleep", tick)
            async with receive:
                await wait_many(
                    ["a"],
                    send,
                    poll=service.poll,
                    sweep=None,
                    policy=policy,
                    retry=RetryPolicy(),
                    concurrency=1,
                    failure=RuntimeError,
                    jitter=0.0,
                )
        assert intervals == [expected] * 3, (retry_after, intervals)
