"""``speechrest batch run`` on a large corpus against the emulator: requests per input, the
peak of requests in any 10 seconds (the batch API allows 100), the pipeline's memory, and
its wall time against the emulator's own processing time.

Usage::

    python benchmarks/bench_pipeline.py                  # 10,000 inputs
    python benchmarks/bench_pipeline.py --inputs 500     # fewer
    python benchmarks/bench_pipeline.py --write          # also into benchmarks/RESULTS.md
    python benchmarks/run.py --pipeline                  # as a section of the full run

The emulator runs in a process of its own (``--serve``), metering the REST API at its
documented quota (100 requests per 10 s: a request beyond it would be answered 429 and
counted), serving every input as a URL (a 0.2 s WAV each), and recording, from its side,
every REST request's time and each job's creation and completion. The pipeline runs as
users run it: ``speechrest batch run LIST --out DIR`` in a process of its own, whose peak
resident memory is read from ``getrusage`` once it has exited.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import row  # noqa: E402

MARK = "<!-- bench_pipeline -->"
"""Where the pipeline section of RESULTS.md starts (run.py keeps it when it rewrites)."""
TIMING = (0.5, 1.0, 2)
"""The emulator's jobs: 0.5 s queued, at least 1 s running; Retry-After: 2 on polls."""


async def _serve(config: dict[str, Any]) -> None:
    """The emulator process: serve the inputs, meter, record; answer ``stats``."""
    from aiohttp import web

    from speechrest.testing import Quota, Quotas, SpeechEmulator, Timing, make_wav

    rest: list[float] = []
    other: Counter[str] = Counter()
    jobs: dict[str, list[float]] = {}

    @web.middleware
    async def meter(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/speechtotext"):
            rest.append(time.monotonic())
        else:
            other["downloads by the pipeline or the emulator"] += 1
        response: web.StreamResponse = await handler(request)
        return response

    async def lifecycle(event: str, url: str) -> None:
        job = url.split("?", 1)[0].rsplit("/", 1)[1]
        if event == "transcriptionCreation":
            jobs[job] = [time.monotonic()]
        elif event == "transcriptionCompletion":
            jobs[job].append(time.monotonic())

    queue_delay, run_time, retry_after = config["timing"]
    emulator = SpeechEmulator(
        timing=Timing(queue_delay=queue_delay, run_time=run_time, retry_after=retry_after),
        quotas=Quotas(fast=None, rest=Quota(100, 10.0)),
    )
    emulator.state.metering.insert(0, meter)
    emulator.state.listeners.append(lifecycle)
    async with emulator:
        emulator.state.requests = type(emulator.state.requests)(maxlen=100)
        listing = Path(config["listing"])
        with listing.open("w") as f:
            for i in range(config["inputs"]):
                wav = make_wav(seconds=0.2, comment=f"Input {i}.")
                f.write(emulator.serve_bytes(wav, f"in{i:05d}.wav", sas_lifetime_minutes=600))
                f.write("\n")
        print(json.dumps({"endpoint": emulator.endpoint, "key": emulator.key}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "stats":
                peak = max((_window(rest, i) for i in range(len(rest))), default=0)
                spans = [t for t in jobs.values() if len(t) == 2]
                answer = {
                    "rest": len(rest),
                    "peak10s": peak,
                    "throttled": emulator.quotas.throttled["rest"],
                    "other": sum(other.values()),
                    "jobs": len(jobs),
                    "first_created": min((t[0] for t in spans), default=None),
                    "last_completed": max((t[1] for t in spans), default=None),
                    "job_seconds": sum(t[1] - t[0] for t in spans),
                }
                print(json.dumps(answer), flush=True)


def _window(times: list[float], start: int) -> int:
    """Requests in the 10 s from ``times[start]`` (``times`` is sorted)."""
    end = start
    while end < len(times) and times[end] - times[start] < 10.0:
        end += 1
    return end - start


def measure(inputs: int) -> dict[str, Any]:
    """Run the pipeline on ``inputs`` URLs; the figures."""
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "inputs.txt"
        config = {"inputs": inputs, "listing": str(listing), "timing": TIMING}
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            info = json.loads(server.stdout.readline())
            env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECH_")}
            command = [
                sys.executable, "-m", "speechrest", "batch", "run", str(listing),
                "--out", str(Path(folder) / "out"), "--format", "json",
                "--endpoint", info["endpoint"], "--key", info["key"],
            ]  # fmt: skip
            started_wall = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            wall = time.monotonic() - started_wall
            if done.returncode != 0:
                raise RuntimeError(f"batch run failed ({done.returncode}): {done.stderr[-2000:]}")
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            server.stdin.write("stats\n")
            server.stdin.flush()
            stats = json.loads(server.stdout.readline())
            report = json.loads((Path(folder) / "out" / "report.json").read_text())
        finally:
            server.stdin.close()
            server.wait(timeout=60)
    span = stats["last_completed"] - stats["first_created"]
    return {
        "inputs": inputs,
        "succeeded": report["succeeded"],
        "jobs": stats["jobs"],
        "rest": stats["rest"],
        "peak10s": stats["peak10s"],
        "throttled": stats["throttled"],
        "wall": wall,
        "emulator_span": span,
        "memory_mib": peak_kib / 1024,
        "report_seconds": report["seconds"],
    }


def rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    n = m["inputs"]
    label = f"batch run, {n:,} URL inputs"
    return [
        row(f"{label}: REST requests per input", m["rest"] / n, None, "req",
            note=f"{m['rest']} requests, {m['jobs']} jobs"),
        row(f"{label}: peak REST requests in 10 s", m["peak10s"], 100, "req",
            target="met: <= 100" if m["peak10s"] <= 100 else "MISSED: <= 100",
            note=f"{m['throttled']} answered 429 by the emulator's quota"),
        row(f"{label}: peak memory of the pipeline process", m["memory_mib"], None, "MiB"),
        row(f"{label}: wall time vs the emulator's own processing", m["wall"],
            m["emulator_span"], "s",
            note="baseline: first job created to last job completed, on the emulator"),
        row(f"{label}: inputs transcribed", m["succeeded"], n, "inputs"),
    ]  # fmt: skip


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """For run.py: 10,000 inputs (1,000 quick, 100 smoke)."""
    return rows(measure(100 if smoke else 1000 if quick else 10_000))


def write(table: str, command: str) -> None:
    """Put the section into RESULTS.md, after ``MARK`` (replacing a previous one)."""
    results = HERE / "RESULTS.md"
    text = results.read_text() if results.exists() else ""
    head = text.split(MARK, 1)[0].rstrip("\n")
    section = f"""{MARK}
## Batch pipeline at scale

Produced by `{command}` ({time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}). The emulator
meters the REST API at 100 requests per 10 s and counts from its side every REST request
(submissions, lists, polls, result file listings, deletions) and each job's life; its jobs
sit 0.5 s queued and at least 1 s running, and ask for polls every 2 s (`Retry-After`).
Result and input downloads are not REST requests (Blob Storage links) and are not counted.

| benchmark | value | baseline | ratio | unit | target | note |
| --- | ---: | ---: | ---: | --- | --- | --- |
{table}
"""
    results.write_text(f"{head}\n\n{section}" if head else section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help="also into benchmarks/RESULTS.md")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(json.loads(args.serve)))
        return 0
    from run import table

    body = table([("Batch pipeline", rows(measure(args.inputs)))]).split("\n", 2)[2]
    print(body)
    if args.write:
        flags = f" --inputs {args.inputs}" if args.inputs != 10_000 else ""
        write(body, f"python benchmarks/bench_pipeline.py{flags} --write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
