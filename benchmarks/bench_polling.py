"""Waiting on many batch jobs: what ``transcriptions.wait_many`` costs the batch API's budget.

The emulator runs in its own process (``_emulator_process.py``). Its jobs take about ten
seconds and answer ``Retry-After: 1`` while unfinished. The jobs are submitted first (by a
client without the REST budget, the emulator not metering), then the emulator enforces the
batch API's documented quota (100 requests per 10 seconds, 429 beyond it) and a client with
the defaults waits on all of them:

* ``wait_many``: ``client.transcriptions.wait_many(ids)`` with the default policy (rounds
  at the service's ``Retry-After``; list sweeps; the client-wide budget of 100 requests per
  10 seconds);
* baseline (the smaller batch only, without any quota): the loop people write, one task per
  job, ``get()`` then sleep the ``Retry-After``.

Rows: status requests (``Transcriptions_Get`` and list pages) per job, the most status
requests in any 10 seconds, 429s the emulator answered, and the wall time until every job
ended. Run alone: ``python benchmarks/bench_polling.py [--quick|--smoke]``.
"""

from __future__ import annotations

import asyncio
import bisect
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import row
from _emulator_process import EmulatorProcess

from speechrest import QuotaPolicy, SpeechClient
from speechrest.types import Status

TIMING = (2.0, 8.0, 1)
"""(queue_delay, run_time, Retry-After) of the emulator's jobs: about ten seconds each."""
SMOKE_TIMING = (0.2, 0.5, 1)
WINDOW = 10.0
BUDGET = 100
UNMETERED = QuotaPolicy(rate_limit=None, adaptive=False)


class _StatusCounter:
    """When each status request (a job's ``GET`` or a page of the job list) started."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._start)

    async def _start(self, session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        path = params.url.path
        if params.method == "GET" and path.startswith("/speechtotext/transcriptions"):
            self.times.append(time.monotonic())

    def peak(self, window: float = WINDOW) -> int:
        """The most requests that started within any ``window`` seconds."""
        times = self.times
        ends = (bisect.bisect_right(times, t + window) - i for i, t in enumerate(times))
        return max(ends, default=0)


async def _submit(emu: EmulatorProcess, jobs: int) -> list[str]:
    ids: list[str] = []
    limiter = anyio.CapacityLimiter(32)
    async with SpeechClient(emu.endpoint, key=emu.key, rest_quota=UNMETERED) as client:

        async def one() -> None:
            async with limiter:
                job = await client.transcriptions.submit(content_urls=[emu.audio], locale="en-US")
            ids.append(job.id)

        async with anyio.create_task_group() as tg:
            for _ in range(jobs):
                tg.start_soon(one)
    return ids


async def _wait_many(client: SpeechClient, ids: list[str]) -> None:
    ended = 0
    async with client.transcriptions.wait_many(ids) as outcomes:
        async for outcome in outcomes:
            # (a loaded emulator may fail a job that could not read its audio in time: it
            # ended all the same)
            assert outcome.entity is not None, outcome.error
            ended += 1
    assert ended == len(ids)


async def _naive(client: SpeechClient, ids: list[str]) -> None:
    async def one(job_id: str) -> None:
        ended = (Status.SUCCEEDED, Status.FAILED)
        while (await client.transcriptions.get(job_id)).status not in ended:
            await anyio.sleep(1.0)  # the emulator's Retry-After

    async with anyio.create_task_group() as tg:
        for job_id in ids:
            tg.start_soon(one, job_id)


async def _measure(emu: EmulatorProcess, jobs: int, naive: bool) -> dict[str, float]:
    emu.command("quotas - -")
    ids = await _submit(emu, jobs)
    emu.command("quotas - -" if naive else f"quotas - {BUDGET}/{WINDOW:g}")
    counter = _StatusCounter()
    policy = UNMETERED if naive else QuotaPolicy(rate_limit=(BUDGET, WINDOW))
    async with (
        aiohttp.ClientSession(trace_configs=[counter.trace]) as session,
        SpeechClient(emu.endpoint, key=emu.key, session=session, rest_quota=policy) as client,
    ):
        started = time.perf_counter()
        await (_naive if naive else _wait_many)(client, ids)
        wall = time.perf_counter() - started
    throttled = emu.command("stats")["throttled"].get("rest", 0)
    return {
        "per_job": len(counter.times) / jobs,
        "peak": counter.peak(),
        "throttled": throttled,
        "wall": wall,
    }


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """The rows: 300 and 3,000 jobs (``quick``: 300; ``smoke``: 30 short ones)."""
    sizes = (30,) if smoke else (300,) if quick else (300, 3000)
    timing = SMOKE_TIMING if smoke else TIMING
    rows: list[dict[str, Any]] = []
    with EmulatorProcess(timing=timing) as emu:
        for jobs in sizes:
            smart = asyncio.run(_measure(emu, jobs, naive=False))
            print(f"   {jobs} jobs, wait_many: {smart}", file=sys.stderr, flush=True)
            base = asyncio.run(_measure(emu, jobs, naive=True)) if jobs == sizes[0] else None
            if base is not None:
                print(f"   {jobs} jobs, naive: {base}", file=sys.stderr, flush=True)
            label = f"{jobs:,} jobs"
            note = "" if base else f"no baseline: a task per job would send {jobs:,} requests/s"
            per_job, peak = smart["per_job"], smart["peak"]
            rows += [
                row(
                    f"{label}: status requests per job, wait_many",
                    per_job,
                    base and base["per_job"],
                    "requests",
                    target=f"{'met' if per_job <= 0.25 else 'MISSED'}: <= 0.25",
                    note=note
                    or (
                        f"jobs run ~{timing[0] + timing[1]:g} s, Retry-After: {timing[2]} s; "
                        "baseline: a task per job, get() then sleep(Retry-After)"
                    ),
                ),
                row(
                    f"{label}: most status requests in 10 s, wait_many",
                    float(peak),
                    base and float(base["peak"]),
                    "requests",
                    target=f"{'met' if peak <= BUDGET else 'MISSED'}: <= {BUDGET}",
                    note=note,
                ),
                row(
                    f"{label}: 429s from the REST quota (100 per 10 s), wait_many",
                    float(smart["throttled"]),
                    None,
                    "429s",
                    note="the baseline runs without the quota",
                ),
                row(
                    f"{label}: wall time until every job ended, wait_many",
                    smart["wall"],
                    base and base["wall"],
                    "s",
                    note=note,
                ),
            ]
    return rows


if __name__ == "__main__":
    mode = "smoke" if "--smoke" in sys.argv else "quick" if "--quick" in sys.argv else "full"
    for r in run(mode != "full", smoke=mode == "smoke"):
        print(r)
