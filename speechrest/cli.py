"""The ``speechrest`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from . import SpeechClient
from .errors import SpeechRestError


async def _transcribe(args: argparse.Namespace) -> int:
    from .testing import SpeechEmulator

    failed = 0
    if args.local:
        async with SpeechEmulator() as emu, SpeechClient(emu.endpoint, key=emu.key) as client:
            async for item in client.transcribe_many(args.files, locales=args.locale or None):
                failed += _report(item.source, item.result, item.error)
    else:
        async with SpeechClient.from_env() as client:
            async for item in client.transcribe_many(args.files, locales=args.locale or None):
                failed += _report(item.source, item.result, item.error)
    return 1 if failed else 0


def _report(source: object, result: object, error: BaseException | None) -> int:
    if error is not None:
        print(f"{source}: error: {error}", file=sys.stderr)
        return 1
    print(getattr(result, "text", ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="speechrest")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transcribe", help="fast transcription of audio files")
    t.add_argument("files", nargs="+")
    t.add_argument("--locale", action="append")
    t.add_argument("--local", action="store_true", help="run against an in-process emulator")
    args = parser.parse_args(argv)
    try:
        return anyio.run(_transcribe, args)
    except SpeechRestError as exc:
        print(f"speechrest: {exc}", file=sys.stderr)
        return 2
