"""Fan-out: transcribe every audio file in a folder, many at once, writing a transcript
and subtitles next to each (in OUT).

    python examples/transcribe_folder.py FOLDER [--out OUT] [--concurrency 16] [--local]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
from _connect import speech_client

AUDIO = {".wav", ".mp3", ".ogg", ".flac", ".opus", ".m4a", ".webm"}


async def transcribe_folder(folder: Path, out: Path, concurrency: int, local: bool) -> int:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO)  # noqa: ASYNC240
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    failed = 0
    async with (
        speech_client(local) as client,
        # One outcome per file, as each completes; a failure does not stop the others.
        client.transcribe_many(files, concurrency=concurrency) as outcomes,
    ):
        async for outcome in outcomes:
            name = outcome.source.name
            if not outcome.ok:
                failed += 1
                print(f"{name}: FAILED: {outcome.error}", file=sys.stderr)
                continue
            result = outcome.result
            stem = out / outcome.source.stem
            stem.with_suffix(".txt").write_text(result.text + "\n")
            stem.with_suffix(".srt").write_text(result.to_srt())
            print(f"{name}: {result.duration_ms / 1000:.1f} s: {result.text[:60]}")
    print(f"{len(files) - failed} of {len(files)} files transcribed into {out}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, help="output folder (default: FOLDER/transcripts)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--local", action="store_true", help="use the bundled emulator")
    args = parser.parse_args(argv)
    out = args.out or args.folder / "transcripts"
    return anyio.run(transcribe_folder, args.folder, out, args.concurrency, args.local)


if __name__ == "__main__":
    sys.exit(main())
