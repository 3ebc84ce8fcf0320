"""The retry policy: which failures are transient, how long to wait, and whether a request
may be sent again. Pure decisions, no I/O: the transport and the pollers ask it, and it is
tested without a server.

Rules:

* transient: a connection failure, or HTTP 408, 429, 500, 502, 503, 504;
* a 429 that says the quota is exhausted will not clear by waiting: never retried;
* any other 429 is a throttle; with a valid ``Retry-After`` the request waits its turn and
  is sent again, for as long as the caller's deadline allows: such throttles do not count
  toward ``max_retries`` or ``max_retry_time`` (the client's admission control paces them,
  see :mod:`speechrest._limits`); without one it is retried like other transient failures;
* the wait is the service's ``Retry-After`` (or ``retry-after-ms``) when it sends a valid
  one, else an exponential backoff with jitter; a ``Retry-After`` longer than
  ``max_retry_after`` is not waited out;
* a request that creates something (``creates``) is sent again only when it provably did
  not reach the service, the service throttled it (429: refused), or asked for it with 503
  and a ``Retry-After``;
* a body that can be sent only once (a one-shot stream) is never sent again once any of it
  may have been read;
* at most ``max_retries`` retries, and ``max_retry_time`` seconds of sleep, per call;
* every other retry takes a token from the client's :class:`RetryBudget`, which successful
  requests refill: when many requests fail, retries stop before they multiply the load.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Mapping

import attrs

from . import errors

__all__ = [
    "TRANSIENT_STATUSES",
    "RetryBudget",
    "RetryPolicy",
    "is_quota_error",
    "is_throttle",
    "is_transient",
    "parse_retry_after",
    "waits_its_turn",
]

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_SAID_RETRY = frozenset({429, 503})
"""Statuses with which the service asks for the request again (with a Retry-After)."""
_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?", re.ASCII)
"""A valid delay: plain ASCII digits, no sign, exponent, underscore, nan or inf."""
_NOT_REPLAYABLE = (
    "the request body is a one-shot stream (an async iterable, an async reader or a "
    "non-seekable file) and cannot be sent again: pass a path, bytes or a seekable file "
    "to get automatic retries"
)
_BUDGET_SPENT = (
    "the client's retry budget is spent: so many of its requests failed that retrying "
    "would only add load to a service in trouble; try again later"
)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP
    date). A value that is not a valid delay (``nan``, ``-1``, ``1e3``, ``1_000``...) counts
    as absent, never as zero."""
    ms = headers.get("retry-after-ms")
    if ms is not None and _NUMBER.fullmatch(ms.strip()):
        return float(ms) / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if _NUMBER.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a naive one cannot be compared safely
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_QUOTA_WORD = re.compile(r"\bquota\b", re.IGNORECASE)


def is_quota_error(error: errors.APIStatusError) -> bool:
    """A 429 (or 403) that says the resource's quota is used up: waiting will not help. Its
    code says ``Quota...``, or its message speaks of the quota (a rate limit's message that
    only links to a quota increase page, ``.../quotaincrease``, is not one)."""
    codes = " ".join(filter(None, (error.code, error.inner_code)))
    return "quota" in codes.lower() or bool(_QUOTA_WORD.search(error.message or ""))


def is_throttle(error: BaseException) -> bool:
    """Whether ``error`` is a rate limit that will clear by waiting: a 429 that does not say
    the quota is used up."""
    return (
        isinstance(error, errors.APIStatusError)
        and error.status == 429
        and not is_quota_error(error)
    )


def waits_its_turn(error: BaseException) -> bool:
    """Whether ``error`` is a throttle that says when to come back (a valid ``Retry-After``):
    the request is sent again then, however many retries and sleeps came before."""
    return is_throttle(error) and getattr(error, "retry_after", None) is not None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may clear if the same request is sent again later."""
    if isinstance(error, errors.APIStatusError):
        return error.status in TRANSIENT_STATUSES and not (
            error.status == 429 and is_quota_error(error)
        )
    return isinstance(error, errors.APIConnectionError) and not isinstance(
        error, errors.NotReplayableError
    )


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How one call retries transient failures."""

    max_retries: int = 3
    """Retries after the first attempt."""
    backoff_base: float = 0.5
    """First backoff delay in seconds; doubles per attempt, with jitter."""
    backoff_max: float = 8.0
    """Largest backoff delay when the service sends no Retry-After."""
    max_retry_after: float = 60.0
    """A Retry-After longer than this is not waited out: the error is raised instead."""
    max_retry_time: float = 120.0
    """Total seconds of sleep between the retries of one call, at most."""

    def backoff(self, attempt: int) -> float:
        """The delay before retry ``attempt + 1`` without a Retry-After: exponential, with
        jitter in its upper half (so that clients that failed together spread out)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 32))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto

    def wait_for(self, error: BaseException, attempt: int) -> float | None:
        """How long to wait before sending again after ``error``, whatever the request; or
        None when waiting cannot help (not transient, or a Retry-After too long)."""
        if not is_transient(error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_retry_after else None

    def decide(
        self,
        error: errors.SpeechRestError,
        *,
        attempt: int,
        slept: float,
        throttles: int = 0,
        creates: bool = False,
        replayable: bool = True,
        reached_service: bool = True,
        budget: RetryBudget | None = None,
    ) -> float | errors.SpeechRestError:
        """After attempt number ``attempt`` (0 for the first) failed with ``error``: the
        seconds to wait before sending the request again, or the error to raise.

        ``throttles`` of the attempts so far were throttled, and ``slept`` seconds were
        slept after the others: only those count toward ``max_retries`` and
        ``max_retry_time``. A throttle (see :func:`is_throttle`) is sent again whatever
        they are, and costs nothing from ``budget``. ``reached_service`` is False when the
        request provably never reached the service (the connection was refused or never
        established), so no byte of it was read.
        """
        delay = self.wait_for(error, attempt)
        if delay is None:
            return error
        throttled = waits_its_turn(error)
        if not throttled and (
            attempt - throttles >= self.max_retries or slept + delay > self.max_retry_time
        ):
            return error
        if creates and reached_service and not (is_throttle(error) or _asked_to_retry(error)):
            return error  # it may have been created: sending it again could duplicate it
        if not replayable and reached_service:
            if isinstance(error, errors.APIConnectionError):
                replacement = errors.NotReplayableError(f"{error}; {_NOT_REPLAYABLE}")
                replacement.operation = error.operation
                return replacement
            error.add_note(f"not retried: {_NOT_REPLAYABLE}")
            return error
        if budget is not None and not budget.spend(throttled):
            error.add_note(f"not retried: {_BUDGET_SPENT}")
            return error
        return delay


class RetryBudget:
    """How many retries a client may still send: a bucket of tokens that retries spend and
    successful requests refill (in the manner of AWS's retry quota and the SRE book's retry
    budget). A retry other than a throttle costs one token; each request that succeeds
    gives back ``refill``. With the bucket empty, a failure is raised instead of retried,
    so that retries cannot multiply the load on a service that is failing."""

    def __init__(self, capacity: float = 100.0, refill: float = 0.2) -> None:
        self.capacity = capacity
        self.refill = refill
        self.tokens = capacity
        self.retried = 0
        """Retries sent so far (throttles included)."""

    def earn(self) -> None:
        """A request succeeded."""
        if self.tokens < self.capacity:
            self.tokens = min(self.capacity, self.tokens + self.refill)

    def spend(self, throttled: bool) -> bool:
        """Whether a retry may be sent now; takes a token unless it follows a throttle."""
        if not throttled:
            if self.tokens < 1.0:
                return False
            self.tokens -= 1.0
        self.retried += 1
        return True


def _asked_to_retry(error: BaseException) -> bool:
    return (
        isinstance(error, errors.APIStatusError)
        and error.status in _SAID_RETRY
        and error.retry_after is not None
    )
