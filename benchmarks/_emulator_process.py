"""The emulator in a process of its own, for the benchmarks that measure a client under the
service's rules (quotas, latency, long-running jobs).

``EmulatorProcess(**config)`` starts ``python _emulator_process.py '<config json>'``, which
serves a :class:`~speechrest.testing.SpeechEmulator` and prints one JSON line (endpoint, key,
a served audio URL). It then takes commands on standard input, one per line, and answers
each with one JSON line:

* ``stats``: what the emulator's quotas admitted and throttled, by family;
* ``quotas <fast> <rest>``: set the quotas (``80/1``, ``100/10``, or ``-`` for none), and
  forget what they admitted so far;
* ``reset``: forget the counts;
* ``download_latency <seconds>``: add this latency to every download of a served file (the
  round trip to Blob Storage), instead of the latencies configured.

Closing standard input stops it. The client's CPU is then measured apart from the server's.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class EmulatorProcess:
    """Start with ``with EmulatorProcess(...) as emu:``; ``emu.endpoint``, ``emu.key``,
    ``emu.audio``; ``emu.command("stats")``.

    ``timing``: (queue_delay, run_time, retry_after) of batch jobs; ``fast_quota`` /
    ``rest_quota``: (requests, seconds) or None; ``latency``: operationId -> seconds added
    to each of its requests (the service's work).
    """

    def __init__(self, **config: Any) -> None:
        self.config = config

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, json.dumps(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        info = self._read()
        self.endpoint: str = info["endpoint"]
        self.key: str = info["key"]
        self.audio: str = info["audio"]
        return self

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError("the emulator process ended before it answered")
        data: dict[str, Any] = json.loads(line)
        return data

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _quota(text: str) -> Any:
    from speechrest.testing import Quota

    return None if text == "-" else Quota.parse(text)


async def _serve(config: dict[str, Any]) -> None:
    from speechrest.testing import Fault, FaultPlan, Quota, Quotas, SpeechEmulator, Timing, make_wav

    plan = FaultPlan()
    for operation, seconds in (config.get("latency") or {}).items():
        plan.add(Fault.latency(seconds), operation=operation, times=None)
    quotas = Quotas(
        fast=Quota(*config["fast_quota"]) if config.get("fast_quota") else None,
        rest=Quota(*config["rest_quota"]) if config.get("rest_quota") else None,
    )
    timing = None
    if config.get("timing"):
        queue_delay, run_time, retry_after = config["timing"]
        timing = Timing(queue_delay=queue_delay, run_time=run_time, retry_after=retry_after)
    async with SpeechEmulator(timing=timing, faults=plan, quotas=quotas) as emulator:
        emulator.state.requests.clear()
        emulator.state.requests = type(emulator.state.requests)(maxlen=1000)  # keep it small
        wav = make_wav(seconds=0.5, comment="Hello world.")
        audio = emulator.serve_bytes(wav, "hello.wav", sas_lifetime_minutes=24 * 60)
        print(json.dumps({"endpoint": emulator.endpoint, "key": emulator.key, "audio": audio}))
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            words = line.split()
            if words[:1] == ["quotas"]:
                emulator.quotas.fast, emulator.quotas.rest = map(_quota, words[1:3])
                emulator.quotas.reset()
            elif words[:1] == ["reset"]:
                emulator.quotas.reset()
            elif words[:1] == ["download_latency"]:
                emulator.faults.clear()
                plan.add(Fault.latency(float(words[1])), path="^/blobs/", times=None)
            answer = {
                "admitted": dict(emulator.quotas.admitted),
                "throttled": dict(emulator.quotas.throttled),
            }
            print(json.dumps(answer))
            sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    asyncio.run(_serve(json.loads(sys.argv[1])))
