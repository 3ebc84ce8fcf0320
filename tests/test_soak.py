"""Soak: 10,000 fast transcriptions through transcribe_many with 10% injected faults, on
loopback. Every input gets exactly one outcome with its own transcript, and nothing leaks:
file descriptors, tasks, connections, memory."""

from __future__ import annotations

import asyncio
import collections
import os
import resource
import time
from collections.abc import Iterator

import pytest

from speechrest import SpeechClient
from speechrest.testing import Fault, FaultPlan, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

COUNT = 10_000
RATE = 0.02  # per fault kind: five kinds, 10% of requests in all
TEMPLATE = make_wav(seconds=0.05, comment="Item 00000.")
MARK = b"Item 00000."


def sources() -> Iterator[bytes]:
    """Small WAVs whose transcript is ``Item <n>.``, made on demand."""
    for i in range(COUNT):
        yield TEMPLATE.replace(MARK, f"Item {i:05d}.".encode())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_soak_fast_transcriptions_under_faults() -> None:
    plan = FaultPlan(seed=20251015)
    for fault in (
        Fault.unavailable(retry_after=0),
        Fault.throttled(retry_after=0),
        Fault.server_error(),
        Fault.reset_during_upload(after_bytes=512),
        Fault.reset_during_response(),
    ):
        plan.add(fault, operation="Transcriptions_Transcribe", rate=RATE)
    async with SpeechEmulator(faults=plan) as emulator:
        # Keep the emulator's own request log small: we measure the client.
        emulator.state.requests = collections.deque(maxlen=1000)
        if hasattr(emulator.state, "transcribe_definitions"):
            emulator.state.transcribe_definitions = collections.deque(maxlen=1000)
        fds_before, tasks_before = fds(), len(asyncio.all_tasks())
        async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=6) as client:
            client = client.with_options(backoff_base=0.001)
            started = time.perf_counter()
            seen: collections.Counter[int] = collections.Counter()
            wrong: list[tuple[int, str | None]] = []
            failed: list[BaseException] = []
            rss_2000 = 0.0
            async with client.transcribe_many(sources(), concurrency=32) as stream:
                async for outcome in stream:
                    seen[outcome.index] += 1
                    if outcome.error is not None:
                        failed.append(outcome.error)
                    elif outcome.result.text != (f"Item {outcome.index:05d}."):
                        wrong.append((outcome.index, outcome.result.text))
                    if sum(seen.values()) == 2000:
                        rss_2000 = rss_mb()
            elapsed = time.perf_counter() - started
            rss_end = rss_mb()
            stats = client.stats()
            fds_open, tasks_open = fds(), len(asyncio.all_tasks())
        # Closing the client closes its pool; the emulator then sees the hang-ups.
        await asyncio.sleep(0.1)
        fds_after, tasks_after = fds(), len(asyncio.all_tasks())
    print(
        f"\nsoak: {COUNT} transcriptions in {elapsed:.1f}s ({COUNT / elapsed:.0f}/s); "
        f"faults {dict(plan.injected)} ({plan.total} in all); "
        f"RSS {rss_2000:.1f} MB after 2000 -> {rss_end:.1f} MB at the end; "
        f"fds {fds_before} -> {fds_open} with the pool open -> {fds_after} closed; "
        f"tasks {tasks_before} -> {tasks_open} -> {tasks_after}; connections {stats}"
    )
    assert sorted(seen) == list(range(COUNT)) and set(seen.values()) == {1}
    assert failed == [] and wrong == []
    assert plan.total > COUNT * 0.08  # the faults really happened
    assert set(plan.injected) == {
        "http_503",
        "http_429",
        "http_500",
        "reset_upload",
        "reset_response",
    }
    assert stats.connections_in_use == 0 and stats.connections_idle <= 32
    # With the pool open: its sockets (both ends on loopback) and nothing else.
    assert fds_open <= fds_before + 2 * stats.connections_idle + 2
    assert fds_after <= fds_before and tasks_after <= tasks_before
    assert rss_end < rss_2000 + 40  # MB: a leak of 4 KB per transcription would show
