"""Uploading large files from a path: wall time and peak RSS growth of the client.

Each (client, size) case runs in a fresh child process, so that one case's memory cannot
hide another's. The child opens its client, sends a small file to warm everything up,
resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), notes its RSS, uploads the
big file and reads the peak (``VmHWM``): the growth is peak minus the RSS before. Where the
mark cannot be reset, ``ru_maxrss`` is used instead (a lower bound). The loopback server
discards the body as it arrives, so only the client's memory is measured.

Run alone: ``python benchmarks/bench_upload.py [--quick|--smoke]``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    FACTORIES,
    HTTPX,
    RAW,
    SDK,
    SPEECHREST,
    LoopbackServer,
    Scale,
    missing,
    row,
    small_wav,
)

UPLOADERS = (SPEECHREST, RAW, SDK, HTTPX)
MB = 1024 * 1024
RSS_TARGET_MB = 64


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


async def _child(name: str, endpoint: str, small: Path, big: Path) -> dict[str, Any]:
    async with FACTORIES[name](endpoint) as client:
        await client.send(small)
        exact = _reset_peak()
        base_kb = _status_kb("VmRSS")
        t0 = time.perf_counter()
        await client.send(big)
        wall = time.perf_counter() - t0
        peak_kb = (
            _status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
    return {"wall": wall, "growth_mb": max(0, peak_kb - base_kb) / 1024, "exact": exact}


def _write_file(path: Path, size: int) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def _case(name: str, server: LoopbackServer, small: Path, big: Path) -> dict[str, Any]:
    server.reset()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, server.endpoint, str(small), str(big)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} upload of {big.name} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = server.stats()
    if stats["requests"] != 2 or stats["body_bytes"] < big.stat().st_size:
        raise RuntimeError(f"{name}: the server did not receive the whole upload: {stats}")
    return result


def run(quick: bool, scale: Scale | None = None) -> list[dict[str, Any]]:
    from _common import SCALES

    scale = scale or SCALES["quick" if quick else "full"]
    skipped = {name: missing(name) for name in UPLOADERS}
    rows: list[dict[str, Any]] = []
    growth: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        small = small_wav(Path(tmp))
        for mb in scale.upload_mb:
            big = Path(tmp) / f"upload-{mb}mb.wav"
            _write_file(big, mb * MB)
            results = {
                name: _case(name, server, small, big) for name in UPLOADERS if not skipped[name]
            }
            big.unlink()
            base = results[RAW]
            for name in UPLOADERS:
                res = results.get(name)
                rows.append(
                    row(
                        f"upload {mb} MB from a path: wall time, {name}",
                        res["wall"] if res else None,
                        base["wall"],
                        "s",
                        note=skipped[name] or "",
                    )
                )
            for name in UPLOADERS:
                res = results.get(name)
                target = ""
                if res:
                    growth[name, mb] = res["growth_mb"]
                if res and name == SPEECHREST:
                    flat = res["growth_mb"] - growth[name, scale.upload_mb[0]]
                    ok = res["growth_mb"] < RSS_TARGET_MB and flat < RSS_TARGET_MB / 4
                    target = (
                        f"{'met' if ok else 'MISSED'}: < {RSS_TARGET_MB} MB, flat "
                        f"({flat:+.1f} MB vs {scale.upload_mb[0]} MB)"
                    )
                note = skipped[name] or ("" if not res or res["exact"] else "ru_maxrss")
                rows.append(
                    row(
                        f"upload {mb} MB from a path: peak RSS growth, {name}",
                        res["growth_mb"] if res else None,
                        base["growth_mb"],
                        "MB",
                        note=note,
                        target=target,
                    )
                )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        name, endpoint, small, big = sys.argv[2:6]
        print(json.dumps(asyncio.run(_child(name, endpoint, Path(small), Path(big)))))
    else:
        from _common import SCALES

        mode = "smoke" if "--smoke" in sys.argv else "quick" if "--quick" in sys.argv else "full"
        for r in run(mode != "full", SCALES[mode]):
            print(r)
