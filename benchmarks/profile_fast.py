"""Profile speechrest's fast-transcription request path with pyinstrument.

Sends ``--requests`` small-file transcriptions at ``--concurrency`` to the minimal loopback
server (its own process) and prints pyinstrument's call tree of the client process, so the
per-request work that costs CPU shows up by function::

    python benchmarks/profile_fast.py --requests 3000 --concurrency 64
    python benchmarks/profile_fast.py --client "raw aiohttp"     # the floor, for comparison
    python benchmarks/profile_fast.py --html profile.html
    python benchmarks/profile_fast.py --cprofile   # cProfile instead, sorted by tottime

Needs the ``bench`` extra (pyinstrument) unless ``--cprofile`` is given. cProfile counts
every resumption of a coroutine as a call and inflates small functions: use it to see
which functions run per request, and the sampling profile to see where time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CLIENTS, FACTORIES, SPEECHREST, LoopbackServer, small_wav
from bench_fanout import drive


async def _cprofile(args: argparse.Namespace, endpoint: str, path: Path) -> None:
    import cProfile
    import pstats

    async with FACTORIES[args.client](endpoint) as client:
        await drive(args.client, client, path, args.concurrency, args.concurrency)  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        await drive(args.client, client, path, args.requests, args.concurrency)
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


async def _profile(args: argparse.Namespace, endpoint: str, path: Path) -> None:
    if args.cprofile:
        return await _cprofile(args, endpoint, path)
    from pyinstrument import Profiler

    async with FACTORIES[args.client](endpoint) as client:
        await drive(args.client, client, path, args.concurrency, args.concurrency)  # warm-up
        profiler = Profiler(interval=args.interval, async_mode="disabled")
        profiler.start()
        await drive(args.client, client, path, args.requests, args.concurrency)
        profiler.stop()
    if args.html:
        Path(args.html).write_text(profiler.output_html())
        print(f"written to {args.html}")
    else:
        print(profiler.output_text(unicode=True, color=False, show_all=args.all))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", default=SPEECHREST, choices=CLIENTS)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.0002, help="sampling interval (s)")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--html", help="write an HTML report here instead of text")
    parser.add_argument("--cprofile", action="store_true", help="cProfile, sorted by tottime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        asyncio.run(_profile(args, server.endpoint, small_wav(Path(tmp))))


if __name__ == "__main__":
    main()
