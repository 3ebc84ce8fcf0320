"""The command tree, connection options, and how errors become exit statuses."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import click

from .. import SpeechClient, __version__
from ..errors import InvalidInputError, SpeechRestError
from ._output import plain

if TYPE_CHECKING:
    from ..testing import SpeechEmulator

__all__ = [
    "Connection",
    "Target",
    "connection_options",
    "one_line",
    "open_target",
    "out_folder",
    "remote_connection_options",
    "run",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@attrs.frozen(kw_only=True)
class Connection:
    """Where the command sends its requests."""

    endpoint: str | None = None
    region: str | None = None
    key: str | None = attrs.field(default=None, repr=False)
    local: bool = False


def connection_options(func: F) -> F:
    """``--endpoint/--region/--key`` (or ``SPEECH_*``) and ``--local``, as ``conn``."""
    return _connection_options(func, local=True)


def remote_connection_options(func: F) -> F:
    """The connection options of a command about jobs that already exist (``batch wait``,
    ...): ``--local`` would start a new, empty emulator for that command alone, so it is
    refused with a message that says what to do instead."""
    return _connection_options(func, local=False)


def _refuse_local(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        raise click.UsageError(
            "--local would start a new, empty emulator for this command alone, with no jobs "
            "in it: use 'speechrest batch submit --local --wait ...', or run 'speechrest "
            "emulator' and set SPEECH_ENDPOINT and SPEECH_KEY to what it prints",
            ctx=ctx,
        )
    return value


def _connection_options(func: F, *, local: bool) -> F:
    options = [
        click.option(
            "--local",
            is_flag=True,
            hidden=not local,
            callback=None if local else _refuse_local,
            help="Run against an in-process emulator (real words with speechrest[local]).",
        ),
        click.option(
            "--key",
            envvar="SPEECH_KEY",
            show_envvar=True,
            metavar="KEY",
            help="The Speech resource key.",
        ),
        click.option(
            "--region",
            envvar="SPEECH_REGION",
            show_envvar=True,
            metavar="REGION",
            help="Azure region of the resource, e.g. eastus.",
        ),
        click.option(
            "--endpoint",
            envvar="SPEECH_ENDPOINT",
            show_envvar=True,
            metavar="URL",
            help="Endpoint URL of the resource (instead of --region).",
        ),
    ]
    for option in options:
        func = option(func)
    return func


def take_connection(kwargs: dict[str, Any]) -> Connection:
    """Pop the connection options out of a command's keyword arguments."""
    return Connection(
        endpoint=kwargs.pop("endpoint"),
        region=kwargs.pop("region"),
        key=kwargs.pop("key"),
        local=kwargs.pop("local"),
    )


@attrs.frozen
class Target:
    """An open client, and the emulator behind it with ``--local``."""

    client: SpeechClient
    emulator: SpeechEmulator | None = None

    def serve(self, path: str) -> str:
        """A URL the emulator serves a local file at (``--local`` only)."""
        if self.emulator is None:
            raise InvalidInputError(f"{path} is not a URL")
        file = Path(path)
        if not file.is_file():
            raise InvalidInputError(f"audio file not found: {path}")
        return self.emulator.serve_file(file)


@contextlib.asynccontextmanager
async def open_target(conn: Connection) -> AsyncIterator[Target]:
    """An open client for ``conn``; with ``--local``, on an emulator living as long."""
    if conn.local:
        from ..testing import SpeechEmulator, best_local_recognizer

        async with (
            SpeechEmulator(recognizer=best_local_recognizer()) as emulator,
            SpeechClient(emulator.endpoint, key=emulator.key) as client,
        ):
            yield Target(client, emulator)
        return
    if not conn.key:
        raise InvalidInputError(
            "no key: pass --key or set SPEECH_KEY (or try --local to use the emulator)"
        )
    if conn.endpoint:
        client = SpeechClient(conn.endpoint, key=conn.key)
    elif conn.region:
        client = SpeechClient.from_region(conn.region, key=conn.key)
    else:
        raise InvalidInputError(
            "no endpoint: pass --endpoint or --region, or set SPEECH_ENDPOINT or SPEECH_REGION"
        )
    async with client:
        yield Target(client)


def out_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``--out``: the folder, created now, so that a folder that cannot be created is a
    usage error before any work is done."""
    if value is not None:
        try:
            value.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot create the folder {value}: {exc.strerror}") from None
    return value


def one_line(exc: BaseException) -> str:
    """An exception as one line of text, safe to print (see :func:`._output.plain`)."""
    return plain(one_line_text(str(exc))) or type(exc).__name__


def one_line_text(text: str) -> str:
    """``text`` with its lines and runs of white space joined by single spaces."""
    return " ".join(text.split())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="speechrest")
def cli() -> None:
    """Azure Speech to text (REST API 2025-10-15) from the command line.

    Credentials come from --endpoint/--region/--key or the SPEECH_ENDPOINT, SPEECH_REGION
    and SPEECH_KEY variables; --local runs against a local emulator instead.
    """


def _register() -> None:
    from . import _batch, _emulator, _pipeline, _transcribe

    cli.add_command(_transcribe.transcribe)
    cli.add_command(_emulator.emulator)
    cli.add_command(_batch.batch)
    _batch.batch.add_command(_pipeline.run)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command tree and map outcomes to exit statuses. Every failure is one line
    on standard error (``SPEECHREST_DEBUG=1`` adds the traceback of an unexpected one)."""
    _register()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="speechrest", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "speechrest"
        hint = f" (see '{where} --help')" if exc.ctx is not None else ""
        return _fail(f"{plain(one_line_text(exc.format_message()))}{hint}", EXIT_USAGE, where)
    except click.ClickException as exc:
        return _fail(plain(one_line_text(exc.format_message())), exc.exit_code)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    except SpeechRestError as exc:
        return _fail(
            one_line(exc), EXIT_USAGE if isinstance(exc, InvalidInputError) else EXIT_FAILED
        )
    except OSError as exc:  # e.g. an --out folder that cannot be created
        return _fail(_os_error(exc), EXIT_FAILED)
    except Exception as exc:
        if os.environ.get("SPEECHREST_DEBUG"):
            raise
        message = f"unexpected error: {type(exc).__name__}: {one_line(exc)}"
        return _fail(f"{message} (set SPEECHREST_DEBUG=1 to see where)", EXIT_FAILED)
    return status if isinstance(status, int) else EXIT_OK


def _fail(message: str, status: int, where: str = "speechrest") -> int:
    click.echo(f"{where}: {message}", err=True)
    return status


def _os_error(exc: OSError) -> str:
    """``cannot write subs/a.srt: Permission denied``, from any OSError."""
    if exc.filename is None or exc.strerror is None:
        return one_line(exc)
    target = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{target}: {exc.strerror}"


def run_async(func: Callable[..., Any], *args: Any) -> Any:
    """Run a coroutine function on asyncio (aiohttp's loop)."""
    return anyio.run(func, *args, backend="asyncio")


def is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
