"""Run every benchmark and print one table; write it to ``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --quick    # under a minute
    python benchmarks/run.py --smoke    # seconds: proves every row is produced (no file written)
    python benchmarks/run.py --only fanout,upload --output /path/to/RESULTS.md
    python benchmarks/run.py --pipeline # adds batch run on 10,000 inputs (minutes)

Every row is a ratio against a baseline measured in the same run: raw aiohttp for the
client rows, ``json.loads`` for result structuring, a naive loop for polling, the floor
(inputs / admitted rate) under a quota, one download at a time for results. Peers that are
not installed (``pip install -e '.[bench]'``) and benchmarks that do not exist yet are
listed with a note instead of a number. The exit status is 1 when a benchmark failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import inspect
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import SCALES, Scale, row  # noqa: E402


def _external(module: str, label: str) -> Callable[[bool, Scale], list[dict[str, Any]]]:
    """A benchmark module that exposes ``run(quick: bool) -> list[dict]`` (and optionally a
    ``smoke`` keyword for tiny counts, passed in ``--smoke`` mode)."""

    def run(quick: bool, scale: Scale) -> list[dict[str, Any]]:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            return [row(label, None, None, "", note=f"skipped: benchmarks/{module}.py not found")]
        smoke = scale.name == "smoke" and "smoke" in inspect.signature(mod.run).parameters
        rows: list[dict[str, Any]] = mod.run(quick, smoke=True) if smoke else mod.run(quick)
        return rows

    return run


def _local(module: str) -> Callable[[bool, Scale], list[dict[str, Any]]]:
    def run(quick: bool, scale: Scale) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = importlib.import_module(module).run(quick, scale)
        return rows

    return run


SECTIONS: dict[str, tuple[str, Callable[[bool, Scale], list[dict[str, Any]]]]] = {
    "fanout": ("Fast transcription fan-out and connection reuse", _local("bench_fanout")),
    "upload": ("Uploading large files from a path", _local("bench_upload")),
    "quota": (
        "Fan-out under a quota (80 requests/s, 0.3 s of service work)",
        _external("bench_quota", "fan-out under a quota"),
    ),
    "polling": (
        "Waiting on many batch jobs within the REST budget",
        _external("bench_polling", "waiting on many batch jobs"),
    ),
    "downloads": (
        "Results of a 1,000-file batch job",
        _external("bench_downloads", "results of a 1,000-file job"),
    ),
    "results": (
        "Structuring a 2-hour batch transcript",
        _external("bench_results", "structuring a 2-hour transcript"),
    ),
}
OPT_IN: dict[str, tuple[str, Callable[[bool, Scale], list[dict[str, Any]]]]] = {
    "pipeline": (
        "Batch pipeline: 10,000 inputs",
        _external("bench_pipeline", "batch run on 10,000 inputs"),
    ),
}
"""Sections run only when asked for (``--pipeline``, or by name in ``--only``)."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> list[tuple[str, str]]:
    return [
        ("Date", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{_cpu_model()} ({os.cpu_count()} cores)"),
        ("RAM", _ram()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("speechrest", _version("speechrest")),
        ("aiohttp", _version("aiohttp")),
        ("azure-ai-transcription", _version("azure-ai-transcription")),
        ("azure-core", _version("azure-core")),
        ("httpx", _version("httpx")),
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def table(sections: list[tuple[str, list[dict[str, Any]]]]) -> str:
    lines = [
        "| benchmark | value | baseline | ratio | unit | target | note |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for title, rows in sections:
        lines.append(f"| **{title}** | | | | | | |")
        for r in rows:
            ratio = r.get("ratio")
            cells = [
                str(r.get("name", "")),
                _fmt(r.get("value")),
                _fmt(r.get("baseline")),
                f"{ratio:.2f}x" if isinstance(ratio, int | float) else "",
                str(r.get("unit", "")),
                str(r.get("target", "") or ""),
                str(r.get("note", "") or ""),
            ]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def report(mode: str, command: str, body: str, seconds: float) -> str:
    info = "\n".join(f"| {k} | {v} |" for k, v in machine())
    return f"""# Benchmark results

Produced by `{command}` ({mode} mode, {seconds:.0f} s). Each row's ratio is value / baseline,
with the baseline measured in the same run: raw aiohttp (a hand-written multipart POST of the
same bytes, with a fresh random boundary per request, on one shared `ClientSession`) for the
client rows. For throughput a ratio below 1 means slower than the baseline; for CPU, time,
memory and connections a ratio above 1 means more. The throughput and upload rows use a
minimal loopback server in its own process, so the client's CPU (`time.process_time()` of the
client process) is measured apart from the server's. Both share the machine below. Fan-out
runs take turns between the clients and are repeated (raw aiohttp and speechrest more often
than the slower peers); each cell keeps the best run, and each timed run starts after a
garbage collection, so that no client pays for the garbage of the one measured before it.

| machine | |
| --- | --- |
{info}

{body}
"""


def _kept_section(output: Path) -> str:
    """The section ``bench_pipeline.py --write`` put at the end of the report, if any."""
    from bench_pipeline import MARK

    text = output.read_text() if output.exists() else ""
    return MARK + text.split(MARK, 1)[1] if MARK in text else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer requests; under a minute")
    group.add_argument("--smoke", action="store_true", help="tiny counts; proves every row runs")
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    parser.add_argument("--pipeline", action="store_true", help="add the batch pipeline run")
    args = parser.parse_args(argv)

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    scale = SCALES[mode]
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    chosen += ["pipeline"] if args.pipeline and "pipeline" not in chosen else []
    SECTIONS.update(OPT_IN)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    output = args.output or (None if args.smoke else HERE / "RESULTS.md")

    started = time.perf_counter()
    failed = False
    done: list[tuple[str, list[dict[str, Any]]]] = []
    for key in chosen:
        title, bench = SECTIONS[key]
        print(f"-- {title} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            rows = bench(mode != "full", scale)
        except Exception as exc:
            traceback.print_exc()
            failed = True
            rows = [row(title, None, None, "", note=f"FAILED: {type(exc).__name__}: {exc}")]
        print(f"   {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        done.append((title, rows))

    body = table(done)
    print(body)
    flags = {"full": "", "quick": " --quick", "smoke": " --smoke"}[mode]
    flags += " --pipeline" if args.pipeline else ""
    command = "python benchmarks/run.py" + flags + (f" --only {args.only}" if args.only else "")
    if output is not None:
        text = report(mode, command, body, time.perf_counter() - started)
        kept = _kept_section(output)
        output.write_text(text + (f"\n{kept}" if kept else ""))
        print(f"\nwritten to {output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
