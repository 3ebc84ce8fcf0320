"""The benchmark harness runs end to end in its smoke mode and produces every row.

Nothing here is timed: the numbers are whatever they are; only the shape is checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = (
    "speechrest",
    "speechrest transcribe_many",
    "raw aiohttp",
    "azure-ai-transcription",
    "httpx (openai-style)",
)
UPLOADERS = ("speechrest", "raw aiohttp", "azure-ai-transcription", "httpx (openai-style)")


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| **"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
def test_smoke_run_produces_every_row(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(proc.stdout)

    def present(name: str) -> None:
        assert name in rows, f"missing row {name!r}; rows: {sorted(rows)}"
        value, _baseline, ratio, _unit, _target, note = rows[name]
        # Either a measurement (with its ratio to the baseline) or a note saying why not.
        assert (value and ratio) or note.startswith("skipped"), (name, rows[name])

    for c in (1, 4):
        for client in CLIENTS:
            present(f"fan-out 29 KB c={c}: throughput, {client}")
            present(f"fan-out 29 KB c={c}: client CPU/request, {client}")
        assert rows[f"fan-out 29 KB c={c}: throughput, raw aiohttp"][2] == "1.00x"
    for client in ("raw aiohttp", "speechrest", "speechrest transcribe_many"):
        present(f"8 transcriptions c=64: wall time, {client}")
    for client in CLIENTS:
        present(f"connections per 1,000 requests c=8, {client}")
    for mb in (1, 2):
        for client in UPLOADERS:
            present(f"upload {mb} MB from a path: wall time, {client}")
            present(f"upload {mb} MB from a path: peak RSS growth, {client}")
    # Sections owned by other benchmark modules are present, measured or explained.
    assert "Structuring a 2-hour batch transcript" in proc.stdout
    # Fan-out under a quota, waiting on many jobs, results downloads (issue 14's figures).
    for client in (
        "speechrest transcribe_many",
        "azure-ai-transcription (semaphore + gather)",
        "naive retry loop (raw aiohttp)",
    ):
        for what in ("inputs lost", "wall time / floor", "429s per input"):
            present(f"40 inputs under 80 req/s, c=64: {what}, {client}")
    assert rows["40 inputs under 80 req/s, c=64: inputs lost, speechrest transcribe_many"][0] == "0"
    for what in ("status requests per job", "most status requests in 10 s"):
        present(f"30 jobs: {what}, wait_many")
    assert rows["30 jobs: 429s from the REST quota (100 per 10 s), wait_many"][0] == "0"
    present("20 result files: wall time, results() (8 at a time)")

    report = out.read_text()
    for label in ("| CPU |", "| RAM |", "| Python |", "| aiohttp |", "| Date |"):
        assert label in report
    assert "python benchmarks/run.py --smoke" in report


def test_unknown_section_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--only", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown section" in proc.stderr
