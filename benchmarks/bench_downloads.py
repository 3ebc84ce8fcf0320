"""The results of a 1,000-file batch job: ``transcriptions.results()`` downloading its result
files in parallel (the default, 8 at a time) against one at a time (``concurrency=1``).

The emulator runs in its own process (``_emulator_process.py``). One job of 1,000 inputs is
submitted and waited on first; then every download of a result file takes 20 ms more (the
round trip to Blob Storage, which loopback does not have). Both runs list the job's files
(``Transcriptions_ListFiles``, 100 per page) and download and parse every result, with the
same client. Run alone: ``python benchmarks/bench_downloads.py [--quick|--smoke]``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import row
from _emulator_process import EmulatorProcess

from speechrest import PollPolicy, QuotaPolicy, SpeechClient

LATENCY = 0.02
PARALLEL = 8
UNMETERED = QuotaPolicy(rate_limit=None)


async def _measure(emu: EmulatorProcess, files: int) -> dict[str, float]:
    async with SpeechClient(emu.endpoint, key=emu.key, rest_quota=UNMETERED) as client:
        job = await client.transcriptions.submit(
            content_urls=[emu.audio] * files, locale="en-US", display_name="bench"
        )
        job = await client.transcriptions.wait(job, policy=PollPolicy(initial_interval=0.5))
        emu.command(f"download_latency {LATENCY}")
        walls = {}
        for concurrency in (PARALLEL, 1):
            started = time.perf_counter()
            count = 0
            async for result in client.transcriptions.results(job, concurrency=concurrency):
                assert result.combined_recognized_phrases
                count += 1
            walls[concurrency] = time.perf_counter() - started
            assert count == files, (count, files)
        emu.command("download_latency 0")
    return {"parallel": walls[PARALLEL], "serial": walls[1]}


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """The rows: 1,000 files (``quick``: 300; ``smoke``: 20)."""
    files = 20 if smoke else 300 if quick else 1000
    with EmulatorProcess(timing=(0.1, 0.2, 1)) as emu:
        m = asyncio.run(_measure(emu, files))
    print(f"   {files} result files: {m}", file=sys.stderr, flush=True)
    note = f"{LATENCY * 1e3:g} ms added to each download; baseline: results(concurrency=1)"
    return [
        row(
            f"{files:,} result files: wall time, results() ({PARALLEL} at a time)",
            m["parallel"],
            m["serial"],
            "s",
            note=note,
        ),
        row(
            f"{files:,} result files: wall time, results(concurrency=1)",
            m["serial"],
            m["serial"],
            "s",
        ),
    ]


if __name__ == "__main__":
    mode = "smoke" if "--smoke" in sys.argv else "quick" if "--quick" in sys.argv else "full"
    for r in run(mode != "full", smoke=mode == "smoke"):
        print(r)
