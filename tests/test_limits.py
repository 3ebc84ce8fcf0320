"""The client's admission of each quota family (``speechrest._limits``): the adaptive gate
on its own, then a client against the emulator's quotas.

No test bounds the wall-clock time from above: waits are checked from below ("not before
the pause ended"), and counts (requests, throttles, inputs) are what is asserted."""

from __future__ import annotations

import time

import anyio
import pytest

from speechrest import QuotaPolicy, SpeechClient
from speechrest._limits import Family, Gate
from speechrest.errors import InvalidInputError
from speechrest.testing import Fault, FaultPlan, Quota, Quotas, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

WAV = make_wav(seconds=0.2, comment="Hello world.")


def gate(**policy: object) -> Gate:
    return Gate(Family.FAST, QuotaPolicy(**policy))  # type: ignore[arg-type]


async def answer(g: Gate, count: int, status: int = 200) -> None:
    """``count`` attempts that go through and get ``status``, one after another."""
    for _ in range(count):
        g.done(await g.acquire(), status)


# -- the gate on its own ---------------------------------------------------------------------


async def test_the_limit_grows_only_while_it_holds_requests_back() -> None:
    g = gate(initial_concurrency=2, increase=2)
    await answer(g, 20)  # one at a time: the limit is never what holds them back
    assert g.stats().limit == 2
    tickets = [await g.acquire(), await g.acquire()]
    async with anyio.create_task_group() as tg:
        tg.start_soon(g.acquire)  # a third waits for a slot
        await anyio.wait_all_tasks_blocked()
        assert g.stats().waiting == 1
        for ticket in tickets:
            g.done(ticket, 200)
    assert g.stats().limit == 3 and g.stats().in_flight == 1  # +2 per round of 2 answers
    assert g.stats().requests == 23


async def test_a_throttle_pauses_the_family_then_resumes_at_most_halved() -> None:
    g = gate(initial_concurrency=20)
    await answer(g, 5)
    g.done(await g.acquire(), 429, throttled=True, retry_after=0.2)
    throttled_at = time.monotonic()
    await g.acquire()  # waits for the pause: the service's Retry-After
    assert time.monotonic() - throttled_at >= 0.2
    stats = g.stats()
    # Five answers measure little: the limit is halved, no less.
    assert (stats.limit, stats.throttled, stats.in_flight) == (10, 1, 1)


async def test_after_a_throttle_admissions_are_paced_below_the_rate_accepted() -> None:
    g = gate(initial_concurrency=30, increase=0)
    for ticket in [await g.acquire() for _ in range(30)]:
        g.done(ticket, 200)
    ticket = await g.acquire()
    throttled_at = time.monotonic()
    g.done(ticket, 429, throttled=True, retry_after=1)  # whole seconds: the quota's window
    starts = []
    for _ in range(4):
        g.done(await g.acquire(), 200)
        starts.append(time.monotonic())
    # 30 accepted within the throttle's window (its Retry-After): at most 95 % of that,
    # evenly spaced; the limit is what sends at that rate, with room for slow answers.
    rate = g.stats().rate
    assert rate is not None and 0 < rate <= 0.95 * 30
    # the first after the pause, the fourth three intervals later (timers may fire a
    # millisecond early)
    assert starts[-1] - throttled_at >= 1 + 3 / rate - 0.003
    assert (g.stats().limit or 0) <= 30


async def test_without_a_window_the_rate_is_measured_while_the_client_sent() -> None:
    """A throttle without whole seconds of Retry-After (none, or 0) names no quota window:
    the accepted rate is measured over the time the client was sending, so that an early
    refusal does not take the client down to a crawl."""
    g = gate(initial_concurrency=30, increase=0)
    for ticket in [await g.acquire() for _ in range(30)]:
        g.done(ticket, 200)
    g.done(await g.acquire(), 429, throttled=True, retry_after=0)
    await g.acquire()
    rate = g.stats().rate
    assert rate is not None and rate > 0.95 * 30  # 30 in far less than a second


async def test_no_increase_while_holding_after_a_throttle() -> None:
    held = gate(initial_concurrency=2, increase=2, holds=(3600,))
    g_free = gate(initial_concurrency=2, increase=2, holds=(0,))
    for g in (held, g_free):
        g.done(await g.acquire(), 429, throttled=True, retry_after=0)
        for _ in range(5):  # five rounds in which the limit holds requests back
            tickets = [await g.acquire() for _ in range(g.stats().limit or 0)]
            for ticket in tickets:
                g.done(ticket, 200)
    assert held.stats().limit == 1  # halved, then held
    assert (g_free.stats().limit or 0) > 2


async def test_throttles_of_one_episode_count_once() -> None:
    """Attempts sent together and throttled together are one episode: the first hold
    (here none) applies, not the second (an hour)."""
    g = gate(initial_concurrency=8, increase=8, holds=(0, 3600))
    tickets = [await g.acquire() for _ in range(8)]
    for ticket in tickets:
        g.done(ticket, 429, throttled=True, retry_after=0)
    after = g.stats()
    assert (after.throttled, after.limit) == (8, 4)  # halved once, not eight times
    for _ in range(3):  # rounds in which the limit holds requests back: it grows again
        for ticket in [await g.acquire() for _ in range(g.stats().limit or 0)]:
            g.done(ticket, 200)
    assert (g.stats().limit or 0) > 4


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    g = gate(initial_concurrency=1)
    first = await g.acquire()
    with anyio.move_on_after(0.05):
        await g.acquire()
    assert g.stats().waiting == 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(g.acquire)
        await anyio.wait_all_tasks_blocked()
        g.done(first, 200)
    assert g.stats().in_flight == 1 and g.stats().waiting == 0


async def test_the_hard_budget_counts_each_request_until_a_window_after_it_ended() -> None:
    g = Gate(Family.REST, QuotaPolicy(rate_limit=(3, 0.2)))
    ends = []
    for _ in range(3):
        g.done(await g.acquire(), 200)
        ends.append(time.monotonic())
    await g.acquire()
    assert time.monotonic() - ends[0] >= 0.2


async def test_a_throttle_asking_longer_than_max_pause_pauses_nothing() -> None:
    """The quota is spent for long: the calls raise it (max_retry_after), the family goes on."""
    g = gate(initial_concurrency=4, max_pause=60)
    g.done(await g.acquire(), 429, throttled=True, retry_after=3600)
    assert g.admit() is not None  # at once
    assert g.stats().throttled == 1 and g.stats().rate is None


async def test_not_adaptive_means_no_pause_no_limit() -> None:
    g = gate(adaptive=False)
    g.done(await g.acquire(), 429, throttled=True, retry_after=1000)
    await g.acquire()  # at once: no pause
    assert g.stats().limit is None and g.stats().throttled == 1


def test_quota_policy_checks_its_fields() -> None:
    for field, value, message in [
        ("initial_concurrency", 0, "positive"),
        ("increase", -1, "increase"),
        ("ramp_interval", float("nan"), "finite"),
        ("max_concurrency", 0, "positive"),
        ("holds", (), "at least one"),
        ("holds", "60", "holds"),
        ("max_pause", -1, "max_pause"),
        ("rate_limit", 100, "rate_limit"),
        ("rate_limit", (0, 10.0), "requests"),
        ("adaptive", "yes", "True or False"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            QuotaPolicy(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="QuotaPolicy"):
        SpeechClient("http://127.0.0.1:9", key="k", fast_quota=20)  # type: ignore[arg-type]


# -- a client against the emulator's quotas ---------------------------------------------------


async def fan_out(emulator: SpeechEmulator, inputs: int, **options: object) -> tuple[int, int]:
    """(inputs lost, 429s the emulator sent) for ``transcribe_many`` at concurrency 32."""
    emulator.quotas.reset()
    async with SpeechClient(emulator.endpoint, key=emulator.key, **options) as client:  # type: ignore[arg-type]
        async with client.transcribe_many([WAV] * inputs, concurrency=32) as outcomes:
            lost = sum(1 for o in [o async for o in outcomes] if not o.ok)
        stats = client.stats().fast
    assert stats.throttled == emulator.quotas.throttled["fast"] == stats.retried
    assert stats.in_flight == stats.waiting == 0
    return lost, emulator.quotas.throttled["fast"]


async def test_a_fan_out_under_a_quota_loses_nothing_and_is_rarely_throttled() -> None:
    plan = FaultPlan()
    plan.add(Fault.latency(0.1), operation="Transcriptions_Transcribe", times=None)
    quotas = Quotas(fast=Quota(40, 1.0), rest=None)
    async with SpeechEmulator(faults=plan, quotas=quotas) as emulator:
        lost, throttled = await fan_out(emulator, 120)
        naive_lost, naive_throttled = await fan_out(
            emulator, 120, fast_quota=QuotaPolicy(adaptive=False)
        )
    assert lost == 0 and naive_lost == 0  # a 429 never costs an input
    # Each task retrying on its own keeps hitting the quota; the shared gate slows down.
    assert throttled * 4 <= naive_throttled, (throttled, naive_throttled)


async def test_a_throttle_pauses_every_call_of_the_family(emulator: SpeechEmulator) -> None:
    emulator.faults.add(Fault.throttled(retry_after=0.3), operation="Transcriptions_Transcribe")
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        view = client.with_options(max_retries=0)  # shares the client's limits
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.transcribe, WAV)
            while not client.stats().fast.throttled:  # the client has seen the 429
                await anyio.sleep(0.001)
            started = time.monotonic()
            await view.transcribe(WAV)  # not sent before the pause ends
            waited = time.monotonic() - started
        assert client.stats().fast.throttled == 1
    assert waited >= 0.25  # the pause, less the time the 429 took to be seen here


async def test_the_rest_budget_keeps_a_client_within_the_quota() -> None:
    async with SpeechEmulator(quotas=Quotas(fast=None, rest=Quota(20, 1.0))) as emulator:

        async def burst(policy: QuotaPolicy) -> int:
            emulator.quotas.reset()
            async with (
                SpeechClient(emulator.endpoint, key=emulator.key, rest_quota=policy) as client,
                anyio.create_task_group() as tg,
            ):
                for _ in range(45):
                    tg.start_soon(client.transcriptions.list_supported_locales)
            assert emulator.quotas.admitted["rest"] == 45  # every call got its answer
            return emulator.quotas.throttled["rest"]

        assert await burst(QuotaPolicy(rate_limit=(20, 1.0))) == 0
        assert await burst(QuotaPolicy(rate_limit=None, adaptive=False)) > 0


async def test_stats_per_family_and_downloads_apart(emulator: SpeechEmulator) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        await client.transcribe(WAV)
        url = emulator.serve_bytes(WAV, "a.wav")
        await client.transcribe(audio_url=url)
        await client.transcriptions.list_supported_locales()
        stats = client.stats()
    assert (stats.fast.requests, stats.rest.requests, stats.storage.requests) == (2, 1, 0)
    assert stats.fast.limit == 20 and stats.rest.limit == 20  # Microsoft's start
    assert stats.fast.throttled == stats.fast.retried == 0
