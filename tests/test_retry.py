"""The retry policy, without a server: what is transient, Retry-After, backoff, resends."""

from __future__ import annotations

import email.utils
import time

import pytest

from speechrest import errors
from speechrest._retry import RetryBudget, RetryPolicy, is_throttle, is_transient, parse_retry_after

POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_max=8.0, max_retry_after=60.0)


def status(http: int, *, retry_after: float | None = None, **fields: str) -> errors.APIStatusError:
    return errors.status_error_class(http)(http, retry_after=retry_after, **fields)


def test_parse_retry_after_valid_values() -> None:
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": " 0.5 "}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after({"retry-after": date}) or 0) <= 30
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0


@pytest.mark.parametrize(
    "value", ["soon", "-5", "-1", "nan", "inf", "1e309", "1e3", "1_000", "٣", "+3", "", "0x10"]
)
def test_an_invalid_retry_after_counts_as_absent_never_as_zero(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
    # an invalid retry-after-ms falls back to Retry-After
    assert parse_retry_after({"retry-after-ms": value, "retry-after": "2"}) == 2.0


def test_what_is_transient() -> None:
    for code in (408, 429, 500, 502, 503, 504):
        assert is_transient(status(code))
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 501):
        assert not is_transient(status(code))
    assert not is_transient(status(429, code="QuotaExceeded", message="Out of quota"))
    assert is_transient(errors.APIConnectionError("reset"))
    assert is_transient(errors.APITimeoutError("slow"))
    assert not is_transient(errors.NotReplayableError("once"))
    assert not is_transient(errors.InvalidInputError("bad"))
    assert not is_transient(ValueError("not ours"))


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempt in range(40):
        ceiling = min(8.0, 0.5 * 2**attempt)
        delays = {POLICY.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_is_the_delay_unless_too_long() -> None:
    assert POLICY.decide(status(503, retry_after=2.0), attempt=0, slept=0.0) == 2.0
    error = status(503, retry_after=61.0)
    assert POLICY.decide(error, attempt=0, slept=0.0) is error


def test_retries_are_bounded_in_count_and_in_time() -> None:
    error = status(500)
    assert isinstance(POLICY.decide(error, attempt=2, slept=0.0), float)
    assert POLICY.decide(error, attempt=3, slept=0.0) is error
    assert POLICY.decide(status(503, retry_after=5.0), attempt=0, slept=116.0) is not None
    late = status(503, retry_after=5.0)
    assert POLICY.decide(late, attempt=0, slept=116.0) is late  # 116 + 5 > 120


def test_a_creating_request_is_resent_only_when_safe() -> None:
    reset = errors.APIConnectionError("reset")
    # it may have reached the service: sending again could create it twice
    assert POLICY.decide(reset, attempt=0, slept=0, creates=True) is reset
    # the connection was refused: nothing was sent
    refused = POLICY.decide(reset, attempt=0, slept=0, creates=True, reached_service=False)
    assert isinstance(refused, float)
    # the service asked for it again
    assert POLICY.decide(status(429, retry_after=1.0), attempt=0, slept=0, creates=True) == 1.0
    assert POLICY.decide(status(503, retry_after=1.0), attempt=0, slept=0, creates=True) == 1.0
    plain = status(503)
    assert POLICY.decide(plain, attempt=0, slept=0, creates=True) is plain
    gateway = status(502, retry_after=1.0)
    assert POLICY.decide(gateway, attempt=0, slept=0, creates=True) is gateway


def test_a_one_shot_body_is_never_sent_twice() -> None:
    reset = errors.APIConnectionError("reset", operation="Transcriptions_Transcribe")
    verdict = POLICY.decide(reset, attempt=0, slept=0, replayable=False)
    assert isinstance(verdict, errors.NotReplayableError)
    assert verdict.operation == "Transcriptions_Transcribe" and "one-shot" in str(verdict)
    busy = status(503, retry_after=0.0)
    assert POLICY.decide(busy, attempt=0, slept=0, replayable=False) is busy
    assert any("one-shot" in note for note in busy.__notes__)
    # refused before a byte was read: the stream is intact, so it can be sent
    refused = POLICY.decide(reset, attempt=0, slept=0, replayable=False, reached_service=False)
    assert isinstance(refused, float)


def test_a_quota_error_is_never_retried() -> None:
    quota = status(429, code="QuotaExceeded", message="The quota is exhausted", retry_after=1.0)
    assert POLICY.decide(quota, attempt=0, slept=0) is quota
    assert POLICY.wait_for(quota, 0) is None


def test_a_throttle_waits_its_turn_whatever_the_retries_and_sleep_so_far() -> None:
    throttle = status(429, retry_after=2.0)
    assert is_throttle(throttle) and not is_throttle(status(503, retry_after=2.0))
    assert not is_throttle(status(429, code="QuotaExceeded", message="quota used up"))
    # the gateway's rate limit, linking to a quota increase, is a throttle
    gateway = status(
        429,
        code="429",
        message="Requests have exceeded the rate limit of your pricing tier. Please retry "
        "after 1 second. To raise it, visit https://aka.ms/oai/quotaincrease.",
        retry_after=1.0,
    )
    assert is_throttle(gateway)
    # a throttle of a create is sent again even without Retry-After: it was refused
    refused = status(429)
    assert isinstance(POLICY.decide(refused, attempt=0, slept=0.0, creates=True), float)
    assert not isinstance(POLICY.decide(status(500), attempt=0, slept=0.0, creates=True), float)
    # the 4th and the 40th throttle of one call are retried, after any sleep
    assert POLICY.decide(throttle, attempt=40, slept=500.0, throttles=40) == 2.0
    # ... but they do not make other failures cheaper: max_retries counts the others
    busy = status(503)
    assert isinstance(POLICY.decide(busy, attempt=40, slept=0.0, throttles=38), float)
    assert POLICY.decide(busy, attempt=40, slept=0.0, throttles=37) is busy
    # without a Retry-After, a 429 is retried as other transient failures are: counted
    bare = status(429)
    assert isinstance(POLICY.decide(bare, attempt=2, slept=0.0), float)
    assert POLICY.decide(bare, attempt=3, slept=0.0) is bare
    # a Retry-After longer than the caller accepts is still raised
    long = status(429, retry_after=3600.0)
    assert POLICY.decide(long, attempt=0, slept=0.0) is long


def test_the_retry_budget_stops_retries_that_would_multiply_the_load() -> None:
    budget = RetryBudget(capacity=2.0, refill=0.5)
    busy = status(503, retry_after=0.0)
    assert POLICY.decide(busy, attempt=0, slept=0.0, budget=budget) == 0.0
    assert POLICY.decide(busy, attempt=0, slept=0.0, budget=budget) == 0.0
    spent = status(503, retry_after=0.0)
    assert POLICY.decide(spent, attempt=0, slept=0.0, budget=budget) is spent
    assert any("retry budget" in note for note in spent.__notes__)
    # throttles cost nothing from it; successes refill it
    assert POLICY.decide(status(429, retry_after=0.0), attempt=0, slept=0.0, budget=budget) == 0
    budget.earn()
    budget.earn()
    assert POLICY.decide(busy, attempt=0, slept=0.0, budget=budget) == 0.0
    assert budget.retried == 4 and budget.tokens == 0.0
    for _ in range(10):
        budget.earn()
    assert budget.tokens == 2.0  # never more than its capacity
