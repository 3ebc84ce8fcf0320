"""Fan-out under a quota: N fast transcriptions at requested concurrency 64 against a server
that meters them as the service does.

The server is the emulator in a process of its own (``_emulator_process.py``) with a quota
of 80 requests per second on fast transcription (a sliding window; beyond it 429 in the
gateway's shape with ``Retry-After: 1``) and 0.3 s of service work per admitted request.
The floor is N / 80 seconds: no client can be served faster. Each client sends the same
small WAV file N times with at most 64 requests in flight:

* ``speechrest``: ``client.transcribe_many(paths, concurrency=64)`` with the defaults;
* ``azure-ai-transcription``: Microsoft's official SDK with an ``asyncio.Semaphore(64)`` and
  ``asyncio.gather`` (its pipeline retries a 429 that carries ``Retry-After`` three times);
* ``naive retry loop``: raw aiohttp, 64 tasks; each sleeps the ``Retry-After`` of a 429 and
  sends the request again, forever.

Rows per client: inputs lost (no transcript), wall time / floor, and 429s per input (as the
server counted them). Each run starts with an empty quota window.

Run alone: ``python benchmarks/bench_quota.py [--quick|--smoke]``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_VERSION, DEFINITION, PATH, SDK, missing, row, small_wav
from _emulator_process import EmulatorProcess

RATE = 80
"""Admitted requests per second."""
SERVICE_TIME = 0.3
"""Seconds of service work per admitted request."""
CONCURRENCY = 64
LONGER = 2000
"""Inputs of the longer run (full mode, speechrest only)."""
SPEECHREST = "speechrest transcribe_many"
NAIVE = "naive retry loop (raw aiohttp)"
SDK_GATHER = f"{SDK} (semaphore + gather)"
CLIENTS = (SPEECHREST, SDK_GATHER, NAIVE)
TARGETS = {"lost": "0", "wall": "<= 1.15", "throttles": "<= 0.05"}


async def _speechrest(endpoint: str, key: str, path: Path, n: int) -> tuple[int, dict[str, Any]]:
    from speechrest import SpeechClient

    async with SpeechClient(endpoint, key=key) as client:
        lost = 0
        stream = client.transcribe_many(
            [path] * n, concurrency=CONCURRENCY, locales=DEFINITION["locales"]
        )
        async with stream:
            async for outcome in stream:
                lost += not outcome.ok
        stats = client.stats().fast
    return lost, {"limit": stats.limit, "rate": stats.rate}


async def _sdk(endpoint: str, key: str, path: Path, n: int) -> tuple[int, dict[str, Any]]:
    from azure.ai.transcription.aio import TranscriptionClient
    from azure.ai.transcription.models import TranscriptionContent, TranscriptionOptions
    from azure.core.credentials import AzureKeyCredential

    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with TranscriptionClient(endpoint, AzureKeyCredential(key)) as client:

        async def one() -> None:
            async with semaphore:
                with open(path, "rb") as audio:  # as the SDK's samples do
                    content = TranscriptionContent(
                        definition=TranscriptionOptions(locales=DEFINITION["locales"]),
                        audio=audio,
                    )
                    await client.transcribe(content)

        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    return sum(isinstance(r, BaseException) for r in results), {}


async def _naive(endpoint: str, key: str, path: Path, n: int) -> tuple[int, dict[str, Any]]:
    import aiohttp

    url = f"{endpoint}{PATH}?api-version={API_VERSION}"
    audio = path.read_bytes()
    remaining = n

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            while True:
                form = aiohttp.FormData()
                form.add_field("definition", json.dumps(DEFINITION))
                form.add_field("audio", audio, filename=path.name)
                headers = {"Ocp-Apim-Subscription-Key": key}
                async with session.post(url, data=form, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        break
                    if resp.status != 429:
                        raise RuntimeError(f"HTTP {resp.status}")
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return 0, {}


RUNNERS = {SPEECHREST: _speechrest, SDK_GATHER: _sdk, NAIVE: _naive}


def _measure(emu: EmulatorProcess, name: str, path: Path, n: int) -> dict[str, Any]:
    emu.command(f"quotas {RATE}/1 -")  # an empty window, counts at zero
    started = time.perf_counter()
    lost, extra = asyncio.run(RUNNERS[name](emu.endpoint, emu.key, path, n))
    wall = time.perf_counter() - started
    counts = emu.command("stats")
    return {
        "lost": lost,
        "wall": wall,
        "throttled": counts["throttled"].get("fast", 0),
        "admitted": counts["admitted"].get("fast", 0),
        **extra,
    }


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """The rows: 800 inputs, and 2,000 for speechrest alone (``quick``: 400; ``smoke``:
    40)."""
    n = 40 if smoke else 400 if quick else 800
    skipped = {name: missing(SDK) if name == SDK_GATHER else None for name in CLIENTS}
    measured: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(
            fast_quota=(RATE, 1.0), latency={"Transcriptions_Transcribe": SERVICE_TIME}
        ) as emu,
    ):
        path = small_wav(Path(tmp))
        for name in CLIENTS:
            if skipped[name] is None:
                measured[name] = _measure(emu, name, path, n)
                print(f"   {name}: {measured[name]}", file=sys.stderr, flush=True)
        longer = None if quick else _measure(emu, SPEECHREST, path, LONGER)
    rows = _rows(n, measured, skipped)
    if longer is not None:  # the cost of learning the quota, spread over more inputs
        print(f"   {SPEECHREST}, {LONGER} inputs: {longer}", file=sys.stderr, flush=True)
        rows += [r for r in _rows(LONGER, {SPEECHREST: longer}, {}) if SPEECHREST in r["name"]]
    return rows


def _rows(
    n: int, measured: dict[str, dict[str, Any]], skipped: dict[str, str | None]
) -> list[dict[str, Any]]:
    floor = n / RATE
    label = f"{n:,} inputs under {RATE} req/s, c={CONCURRENCY}"
    rows = []
    for name in CLIENTS:
        if name not in measured and name not in skipped:
            continue
        m = measured.get(name)
        note = skipped.get(name) or ""
        if m is not None and name == SPEECHREST:
            rate = f", paced at {m['rate']:.1f}/s" if m["rate"] else ""
            note = f"floor {floor:g} s; final limit {m['limit']}{rate}"
        rows.append(
            row(
                f"{label}: inputs lost, {name}",
                None if m is None else float(m["lost"]),
                float(n),
                "inputs",
                note=note,
                target=_target(name, m, "lost", n),
            )
        )
        rows.append(
            row(
                f"{label}: wall time / floor, {name}",
                None if m is None else m["wall"],
                floor,
                "s",
                note=note or f"floor = {n:,} / {RATE} = {floor:g} s",
                target=_target(name, m, "wall", floor),
            )
        )
        rows.append(
            row(
                f"{label}: 429s per input, {name}",
                None if m is None else m["throttled"] / n,
                1.0,
                "429s",
                note=note or f"{m['throttled'] if m else 0:,} 429s",
                target=_target(name, m, "throttles", n),
            )
        )
    return rows


def _target(name: str, m: dict[str, Any] | None, what: str, base: float) -> str:
    if name != SPEECHREST or m is None:
        return ""
    value = {"lost": m["lost"], "wall": m["wall"] / base, "throttles": m["throttled"] / base}[what]
    bound = {"lost": 0.0, "wall": 1.15, "throttles": 0.05}[what]
    return f"{'met' if value <= bound else 'MISSED'}: {TARGETS[what]}"


if __name__ == "__main__":
    mode = "smoke" if "--smoke" in sys.argv else "quick" if "--quick" in sys.argv else "full"
    for r in run(mode != "full", smoke=mode == "smoke"):
        print(r)
