"""``speechrest emulator``: serve the local emulator until interrupted."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING

import anyio
import click
from yarl import URL

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
@click.option(
    "--key",
    metavar="KEY",
    callback=lambda ctx, param, value: _nonempty_key(value),
    help="The key clients must send (default: a random one).",
)
@click.option(
    "--recognizer",
    type=click.Choice(["auto", "pocketsphinx", "deterministic"]),
    default="auto",
    show_default=True,
    help="What the emulator hears: real words with PocketSphinx (speechrest[local]), or "
    "the transcript embedded in the WAV (else made-up words). auto: PocketSphinx if installed.",
)
@click.option(
    "--https",
    is_flag=True,
    help="Serve HTTPS with a certificate authority made for this run (speechrest[emulator]); "
    "its certificate's path is printed as SPEECH_CA_CERT=... for clients to trust.",
)
@click.option(
    "--token",
    "tokens",
    metavar="TOKEN",
    multiple=True,
    help="A bearer token clients may sign in with (Authorization: Bearer TOKEN), as with "
    "Microsoft Entra ID; repeatable. Azure SDKs send tokens over HTTPS only: add --https.",
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
    https: bool,
    tokens: tuple[str, ...],
    documented_quotas: bool,
    fast_quota: str | None,
    rest_quota: str | None,
) -> int:
    """Serve the Speech to text API emulator until interrupted (Ctrl+C).

    It prints the endpoint and key as SPEECH_ENDPOINT=... and SPEECH_KEY=... lines (with
    --https also SPEECH_CA_CERT=...), ready for the environment of the program under test.
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
        if https:
            _needs_trustme()
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None

    _log_to_stderr()

    async def serve() -> None:
        async with SpeechEmulator(
            host=host,
            port=port,
            key=key,
            recognizer=hears,
            https=https,
            tokens=tokens,
            quotas=quotas,
        ) as emu:
            name = type(hears).__name__
            click.echo(f"speechrest emulator: Speech to text API {DEFAULT_API_VERSION}, {name}")
            if quotas is not None:
                click.echo(f"speechrest emulator: throttling at {quotas}")
            click.echo(f"SPEECH_ENDPOINT={emu.endpoint}")
            click.echo(f"SPEECH_KEY={emu.key}")
            if emu.ca_cert is not None:
                click.echo(f"SPEECH_CA_CERT={emu.ca_cert}")
                click.echo(
                    "Trust that certificate in clients (e.g. SSL_CERT_FILE or "
                    "REQUESTS_CA_BUNDLE, connection_verify= in Azure SDKs); it is deleted "
                    "when the emulator stops.",
                    err=True,
                )
            loopback = URL(emu.endpoint).host
            if loopback != host.strip("[]"):  # listening on every interface
                click.echo(
                    f"Listening on every interface ({host}): from another machine, use this "
                    f"machine's address instead of {loopback}.",
                    err=True,
                )
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


def _log_to_stderr() -> None:
    """The emulator's log (a request its client cut short, ...) as lines on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("speechrest emulator: %(message)s"))
    log = logging.getLogger("speechrest.emulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _nonempty_key(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("the key must not be empty (omit --key for a random one)")
    return value


def _needs_trustme() -> None:
    """Fail before serving when --https cannot be honoured."""
    import importlib.util

    if importlib.util.find_spec("trustme") is None:
        raise ImportError("--https needs trustme: pip install 'speechrest[emulator]'")


async def _until_stopped() -> None:
    """Return on SIGINT or SIGTERM. Windows has no signal receiver: there Ctrl+C interrupts
    the event loop instead."""
    if sys.platform == "win32":
        await anyio.sleep_forever()
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return
