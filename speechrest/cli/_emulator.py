"""``speechrest emulator``: serve the local emulator until interrupted."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

import anyio
import click

if TYPE_CHECKING:
    from ..testing import Quotas

from .. import DEFAULT_API_VERSION
from ._app import EXIT_OK, run_async

__all__ = ["emulator"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option("--key", metavar="KEY", help="The key clients must send (default: a random one).")
@click.option(
    "--recognizer",
    type=click.Choice(["auto", "pocketsphinx", "deterministic"]),
    default="auto",
    show_default=True,
    help="What the emulator hears: real words with PocketSphinx (speechrest[local]), or "
    "the transcript embedded in the WAV (else made-up words). auto: PocketSphinx if installed.",
)
@click.option(
    "--quotas",
    "documented_quotas",
    is_flag=True,
    help="Throttle as the service does, at its documented limits: 600 fast transcriptions "
    "per 60 seconds, 100 other requests per 10 seconds (429 with Retry-After beyond them).",
)
@click.option(
    "--fast-quota",
    metavar="REQUESTS/SECONDS",
    help="Throttle fast transcription beyond this many requests per this many seconds, "
    "e.g. 80/1 (with --quotas: instead of its documented limit).",
)
@click.option(
    "--rest-quota",
    metavar="REQUESTS/SECONDS",
    help="Throttle the other operations (batch, custom speech) beyond this many requests "
    "per this many seconds, e.g. 50/10 (with --quotas: instead of its documented limit).",
)
def emulator(
    host: str,
    port: int,
    key: str | None,
    recognizer: str,
    documented_quotas: bool,
    fast_quota: str | None,
    rest_quota: str | None,
) -> int:
    """Serve the Speech to text API emulator until interrupted (Ctrl+C).

    It prints the endpoint and key as SPEECH_ENDPOINT=... and SPEECH_KEY=... lines, ready
    for the environment of the program under test.
    """
    from ..testing import (
        DeterministicRecognizer,
        PocketSphinxRecognizer,
        SpeechEmulator,
        best_local_recognizer,
    )

    quotas = _quotas(documented_quotas, fast_quota, rest_quota)

    chosen = {
        "auto": best_local_recognizer,
        "pocketsphinx": PocketSphinxRecognizer,
        "deterministic": DeterministicRecognizer,
    }[recognizer]
    try:
        hears = chosen()
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None

    async def serve() -> None:
        async with SpeechEmulator(
            host=host, port=port, key=key, recognizer=hears, quotas=quotas
        ) as emu:
            name = type(hears).__name__
            click.echo(f"speechrest emulator: Speech to text API {DEFAULT_API_VERSION}, {name}")
            if quotas is not None:
                click.echo(f"speechrest emulator: throttling at {quotas}")
            click.echo(f"SPEECH_ENDPOINT={emu.endpoint}")
            click.echo(f"SPEECH_KEY={emu.key}")
            click.echo(f"Watch what it receives and does at {emu.endpoint}/", err=True)
            click.echo("Press Ctrl+C to stop.", err=True)
            await _until_stopped()

    try:
        run_async(serve)
    except KeyboardInterrupt:  # Ctrl+C where signals cannot be received (Windows)
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo("speechrest emulator: stopped", err=True)
    return EXIT_OK


def _quotas(documented: bool, fast: str | None, rest: str | None) -> Quotas | None:
    """The quotas the flags ask for (None: no throttling)."""
    from ..testing import FAST_QUOTA, REST_QUOTA, Quota, Quotas

    if not (documented or fast or rest):
        return None

    def parse(text: str | None, flag: str, default: Quota) -> Quota | None:
        if text is None:
            return default if documented else None
        try:
            return Quota.parse(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from None

    return Quotas(
        fast=parse(fast, "--fast-quota", FAST_QUOTA), rest=parse(rest, "--rest-quota", REST_QUOTA)
    )


async def _until_stopped() -> None:
    """Return on SIGINT or SIGTERM. Windows has no signal receiver: there Ctrl+C interrupts
    the event loop instead."""
    if sys.platform == "win32":
        await anyio.sleep_forever()
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return
