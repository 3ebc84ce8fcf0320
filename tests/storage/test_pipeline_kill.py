"""The acceptance test of ``speechrest batch run``: a 200-input run stopped with Ctrl+C
(SIGINT), then killed with SIGKILL at random points, several times, then resumed with the
same command.

The emulator runs in the test's process and tells, from its own side, which job every
input was in and when each job was alive; the pipeline runs in a child process that the
test kills. At the end: every input has exactly one output with its own words, no input
was ever in two jobs (none fails here, so one job each; and never two alive at once), every
submission the emulator received created a job the run collected, and the report accounts
for all 200.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest

from speechrest.testing import FaultPlan, SpeechEmulator, Timing, make_wav
from tests.azurite import Azurite

pytest.importorskip("azure.storage.blob")

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

INPUTS = 200
KILLS = 5
SEED = int(os.environ.get("SPEECHREST_KILL_SEED", "0")) or random.randrange(1, 10**6)


def _corpus(root: Path) -> dict[str, str]:
    words = {}
    for i in range(INPUTS):
        folder = root / f"part{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        text = f"Recording {i} says its own words."
        (folder / f"rec{i:03d}.wav").write_bytes(make_wav(seconds=0.05, comment=text))
        words[f"part{i % 4}/rec{i:03d}"] = text
    return words


class _Lives:
    """The emulator's own account of its jobs: inputs, creation and end (monotonic)."""

    def __init__(self, emulator: SpeechEmulator) -> None:
        self.emulator = emulator
        self.jobs: dict[str, dict[str, object]] = {}

    async def __call__(self, event: str, url: str) -> None:
        job_id = urlsplit(url).path.rsplit("/", 1)[1]
        if event == "transcriptionCreation":
            job = self.emulator.state.stores.transcriptions[job_id]
            inputs = [urlsplit(u).path.rsplit("/", 1)[1] for u in job["_contentUrls"]]
            self.jobs[job_id] = {"inputs": inputs, "born": time.monotonic(), "ended": None}
        elif event == "transcriptionCompletion":
            self.jobs[job_id]["ended"] = time.monotonic()


async def _start(args: list[str], log: Path) -> anyio.abc.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEECH_", "AZURE_"))}
    with log.open("ab") as sink:
        return await anyio.open_process(
            [sys.executable, "-m", "speechrest", *args], stdout=sink, stderr=sink, env=env
        )


async def _until(
    process: anyio.abc.Process, log: Path, start: int, rng: random.Random, ctrl_c: bool
) -> None:
    """Wait for a random point of this process's run: at random after its start, during
    its uploads (Ctrl+C: there), or while it submits, waits and collects jobs."""
    choices = [((), 3.0), ((b"uploading:", b"transcribe:"), 0.5), ((b"transcribe:",), 2.0)]
    markers, extra = choices[1] if ctrl_c else rng.choice(choices)
    while markers and process.returncode is None:  # (a resumed run may have no uploads)
        with log.open("rb") as f:
            f.seek(start)
            said = f.read()
        if any(m in said for m in markers):
            break
        await anyio.sleep(0.05)
    await anyio.sleep(rng.uniform(0.0, extra))


async def test_killed_at_random_points_and_resumed(azurite: Azurite, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    words = _corpus(tmp_path / "corpus")
    out, log = tmp_path / "out", tmp_path / "pipeline.log"
    plan = FaultPlan()
    submissions = plan.record(operation="Transcriptions_Submit")
    timing = Timing(queue_delay=0.3, run_time=0.6, retry_after=1)
    async with SpeechEmulator(timing=timing, faults=plan) as emulator:
        lives = _Lives(emulator)
        emulator.state.listeners.append(lives)
        container = azurite.sas_url(await azurite.create(), "rlw")
        args = [
            "batch", "run", str(tmp_path / "corpus"), "--out", str(out), "--format", "text",
            "--container", container, "--files-per-job", "10", "--max-jobs", "4",
            "--submit-grace", "1", "--endpoint", emulator.endpoint, "--key", emulator.key,
        ]  # fmt: skip
        kills = 0
        for how in [signal.SIGINT] + [signal.SIGKILL] * KILLS:
            start = log.stat().st_size if log.exists() else 0
            process = await _start(args, log)
            await _until(process, log, start, rng, how == signal.SIGINT)
            if process.returncode is None:
                process.send_signal(how)
                kills += how == signal.SIGKILL
                with log.open("a") as f:
                    f.write(f"--- test: {how.name} ---\n")
            await process.wait()
            await process.aclose()
            if how == signal.SIGINT and process.returncode != 0:  # Ctrl+C: a clean stop
                said = log.read_text(errors="replace")[start:]
                assert process.returncode == 130, f"seed {SEED}: {said[-3000:]}"
                assert "stopped; run the same command again to resume" in said
                assert "Traceback" not in said
            if process.returncode == 0:
                break
        process = await _start(args, log)
        status = await process.wait()
        await process.aclose()
        output = log.read_text(errors="replace")
        assert status == 0, f"seed {SEED}: exit {status}\n{output[-3000:]}"
        # Each job deleted once collected (those a killed process left behind too).
        assert dict(emulator.state.stores.transcriptions) == {}, f"seed {SEED}"

    assert kills >= 2, f"seed {SEED}: the run ended before it could be killed twice"
    # Every input: exactly one output, with its own words; nothing else in the folder.
    written = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".speechrest"
        not in p.parts
    )  # fmt: skip
    assert written == sorted([*(f"{n}.txt" for n in words), "report.json"]), f"seed {SEED}"
    for name, text in words.items():
        assert (out / f"{name}.txt").read_text() == text + "\n"
    # The emulator's side: each input in exactly one job (none failed), so never in two
    # live jobs at once; every submission it received created a job.
    jobs_of: dict[str, list[dict[str, object]]] = {}
    for job in lives.jobs.values():
        for name in job["inputs"]:  # type: ignore[attr-defined]
            jobs_of.setdefault(name, []).append(job)
    assert sorted(jobs_of) == sorted(f"rec{i:03d}.wav" for i in range(INPUTS))
    twice = {name: len(jobs) for name, jobs in jobs_of.items() if len(jobs) > 1}
    assert twice == {}, f"seed {SEED}: inputs submitted more than once: {twice}"
    assert len(submissions.requests) == len(lives.jobs)
    assert all(job["ended"] is not None for job in lives.jobs.values())
    # The report accounts for all 200.
    report = json.loads((out / "report.json").read_text())
    assert (report["inputs"], report["succeeded"], report["failed"]) == (INPUTS, INPUTS, 0)
    assert report["jobs"] == len(lives.jobs)
    assert sorted(Path(i["source"]).name for i in report["items"]) == sorted(jobs_of)
