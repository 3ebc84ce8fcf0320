"""Waiting on 1,000 batch jobs: ``transcriptions.wait_many`` against a naive polling loop.

The emulator runs in its own process, so the client's CPU time (``time.process_time`` of
this process while waiting) is the client's alone. Its jobs take a few seconds and answer
``Retry-After: 2`` while unfinished, as the service tells clients how long to wait.

* ``wait_many``: one scheduler for every job, polls only when Retry-After has passed, at
  most 16 requests in flight;
* baseline, the naive loop people write: one task per job, ``while True: get(); sleep(1)``.

Both wait on a fresh batch of the same size, with the same client; polls are counted on the
client's aiohttp session. Run alone: ``python benchmarks/bench_polling.py [--quick|--smoke]``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import row

from speechrest import PollPolicy, SpeechClient
from speechrest.testing import SpeechEmulator, Timing, make_wav
from speechrest.types import Status

TIMING = Timing(queue_delay=1.5, run_time=3.0, retry_after=2)
SMOKE_TIMING = Timing(queue_delay=0.2, run_time=0.3, retry_after=1)
NAIVE_INTERVAL = 1.0
CONCURRENCY = 16


async def _serve(timing: Timing) -> None:
    """The emulator process: prints its endpoint, key and an audio URL, then serves until
    standard input closes."""
    async with SpeechEmulator(timing=timing) as emulator:
        wav = make_wav(seconds=0.5, comment="Hello world.")
        audio = emulator.serve_bytes(wav, "hello.wav", sas_lifetime_minutes=24 * 60)
        print(json.dumps({"endpoint": emulator.endpoint, "key": emulator.key, "audio": audio}))
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


class _Emulator:
    def __init__(self, timing: Timing) -> None:
        self.timing = timing

    def __enter__(self) -> dict[str, str]:
        t = self.timing
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"]
            + [str(v) for v in (t.queue_delay, t.run_time, t.retry_after)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        info: dict[str, str] = json.loads(self.proc.stdout.readline())
        return info

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _PollCounter:
    """Counts ``Transcriptions_Get`` requests on the client's session."""

    def __init__(self) -> None:
        self.polls = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._end)

    async def _end(self, session: Any, ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.method == "GET" and "/transcriptions/" in params.url.path:
            self.polls += 1


async def _submit(client: SpeechClient, audio: str, jobs: int) -> list[str]:
    ids: list[str] = []
    limiter = anyio.CapacityLimiter(32)

    async def one() -> None:
        async with limiter:
            job = await client.transcriptions.submit(content_urls=[audio], locale="en-US")
        ids.append(job.id)

    async with anyio.create_task_group() as tg:
        for _ in range(jobs):
            tg.start_soon(one)
    return ids


async def _wait_many(client: SpeechClient, ids: list[str]) -> int:
    done = 0
    policy = PollPolicy(initial_interval=1.0, max_interval=30.0)
    stream = client.transcriptions.wait_many(ids, concurrency=CONCURRENCY, policy=policy)
    async with stream:
        async for outcome in stream:
            assert outcome.ok, outcome.error
            done += 1
    return done


async def _naive(client: SpeechClient, ids: list[str]) -> int:
    done = 0

    async def one(job_id: str) -> None:
        nonlocal done
        while True:
            job = await client.transcriptions.get(job_id)
            if job.status in (Status.SUCCEEDED, Status.FAILED):
                done += 1
                return
            await anyio.sleep(NAIVE_INTERVAL)

    async with anyio.create_task_group() as tg:
        for job_id in ids:
            tg.start_soon(one, job_id)
    return done


async def _measure(info: dict[str, str], jobs: int, strategy: Any) -> dict[str, float]:
    counter = _PollCounter()
    connector = aiohttp.TCPConnector(limit=100)
    async with (
        aiohttp.ClientSession(connector=connector, trace_configs=[counter.trace]) as session,
        SpeechClient(info["endpoint"], key=info["key"], session=session) as client,
    ):
        ids = await _submit(client, info["audio"], jobs)
        counter.polls = 0
        cpu, wall = time.process_time(), time.perf_counter()
        done = await strategy(client, ids)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert done == jobs
    return {"polls": counter.polls, "cpu": cpu, "wall": wall}


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """The rows; ``quick`` waits on 200 jobs instead of 1,000, ``smoke`` on 20 short ones."""
    jobs = 20 if smoke else 200 if quick else 1000
    timing = SMOKE_TIMING if smoke else TIMING
    with _Emulator(timing) as info:
        smart = asyncio.run(_measure(info, jobs, _wait_many))
        naive = asyncio.run(_measure(info, jobs, _naive))
    label = f"{jobs:,} jobs"
    note = (
        f"jobs run ~{timing.queue_delay + timing.run_time:.1f} s, Retry-After: "
        f"{timing.retry_after} s; baseline: a task per job, get() then sleep({NAIVE_INTERVAL:g})"
    )
    return [
        row(
            f"{label}: polls per job, wait_many",
            smart["polls"] / jobs,
            naive["polls"] / jobs,
            "polls",
            note=note,
        ),
        row(
            f"{label}: client CPU per poll, wait_many",
            smart["cpu"] / max(1, smart["polls"]) * 1e6,
            naive["cpu"] / max(1, naive["polls"]) * 1e6,
            "µs",
        ),
        row(
            f"{label}: client CPU per job, wait_many",
            smart["cpu"] / jobs * 1e3,
            naive["cpu"] / jobs * 1e3,
            "ms",
        ),
        row(
            f"{label}: wall time until every job is done, wait_many",
            smart["wall"],
            naive["wall"],
            "s",
            note=f"wait_many at most {CONCURRENCY} polls in flight; the baseline unbounded",
        ),
    ]


def main() -> None:
    if "--serve" in sys.argv:
        queue_delay, run_time, retry_after = sys.argv[sys.argv.index("--serve") + 1 :]
        timing = Timing(
            queue_delay=float(queue_delay), run_time=float(run_time), retry_after=int(retry_after)
        )
        asyncio.run(_serve(timing))
        return
    rows = run("--quick" in sys.argv, smoke="--smoke" in sys.argv)
    print("| benchmark | value | baseline | ratio | unit | note |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r['name']} | {r['value']:.2f} | {r['baseline']:.2f} | {r['ratio']:.2f}x "
            f"| {r['unit']} | {r['note']} |"
        )


if __name__ == "__main__":
    main()
