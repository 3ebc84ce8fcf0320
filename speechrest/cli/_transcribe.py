"""``speechrest transcribe``: fast transcription of many files at once."""

from __future__ import annotations

import asyncio
import os
import sys
import weakref
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ..resources.fast import TranscribeOutcome
from ._app import (
    EXIT_FAILED,
    EXIT_OK,
    Connection,
    connection_options,
    is_tty,
    one_line,
    open_target,
    out_folder,
    run_async,
    take_connection,
)
from ._output import FORMATS, Sink, error_json

__all__ = ["PROFANITY", "channels_option", "recognition_options", "transcribe"]

PROFANITY = ("None", "Removed", "Tags", "Masked")


def recognition_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options shared by fast and batch transcription, from the parsed command line:
    ``--diarize``, ``--max-speakers``, ``--channels`` and ``--profanity``."""
    options: dict[str, Any] = {}
    if kwargs["diarize"]:
        options["diarization"] = True
    if kwargs["max_speakers"] is not None:
        options["max_speakers"] = kwargs["max_speakers"]
    if kwargs["channels"] is not None:
        options["channels"] = kwargs["channels"]
    if kwargs["profanity"]:
        choice = kwargs["profanity"].lower()
        options["profanity_filter_mode"] = next(p for p in PROFANITY if p.lower() == choice)
    return options


def _split_commas(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def channels_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("give 0-based channel numbers, e.g. 0,1") from None


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--locale",
    "locales",
    multiple=True,
    metavar="LOCALE",
    help="Candidate locale, e.g. en-US (repeat or comma-separate; default: detect).",
)
@click.option("--diarize", is_flag=True, help="Tell speakers apart.")
@click.option(
    "--max-speakers",
    type=click.IntRange(2, 35),
    metavar="N",
    help="Most speakers to expect, 2..35 (turns --diarize on).",
)
@click.option(
    "--channels",
    callback=channels_option,
    metavar="0,1",
    help="Transcribe these channels separately (at most 2).",
)
@click.option(
    "--profanity",
    type=click.Choice(PROFANITY, case_sensitive=False),
    help="How profanity is filtered.",
)
@click.option("--phrase", "phrases", multiple=True, help="A phrase to favour (repeatable).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Files in flight at once.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    help="Write one file per input (per channel for subtitles) into this folder.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@connection_options
def transcribe(**kwargs: Any) -> int:
    """Transcribe audio files with fast transcription, many at once.

    FILE may be "-" to read file names from standard input, one a line. Results print as
    they complete (JSON lines when --format json and the output is not a terminal); a file
    that fails is reported on standard error and the others go on. Exit status: 0 when
    all succeeded, 1 when any failed, 2 on bad usage.
    """
    conn = take_connection(kwargs)
    files: list[str] = []
    for name in kwargs.pop("files"):
        if name == "-":
            files += [line.strip() for line in sys.stdin if line.strip()]
        else:
            files.append(name)
    if not files:
        raise click.UsageError("no files to transcribe")
    options = recognition_options(kwargs)
    if kwargs["locales"]:
        options["locales"] = _split_commas(kwargs["locales"])
    if kwargs["phrases"]:
        options["phrase_list"] = list(kwargs["phrases"])
    job = _Job(
        files=files,
        options=options,
        concurrency=kwargs["concurrency"],
        fmt=kwargs["fmt"],
        out=kwargs["out"],
        progress=not kwargs["quiet"] and is_tty(sys.stderr),
    )
    result: int = run_async(job.run, conn)
    return result


class _Job:
    def __init__(
        self,
        *,
        files: list[str],
        options: dict[str, Any],
        concurrency: int,
        fmt: str,
        out: Path | None,
        progress: bool,
    ) -> None:
        self.files = files
        self.options = options
        self.concurrency = concurrency
        self.show_progress = progress
        self.sink = Sink(fmt, out, many=len(files) > 1, pretty=is_tty(sys.stdout))
        self.failed = 0
        self.done = 0

    async def run(self, conn: Connection) -> int:
        progress = _progress() if self.show_progress else None
        async with open_target(conn) as target:
            client = target.client
            if progress is None:
                await self._each(client, None)
            else:
                with progress:
                    await self._each(client, progress)
        return EXIT_FAILED if self.failed else EXIT_OK

    async def _each(self, client: Any, progress: Progress | None) -> None:
        options = dict(self.options)
        if progress is not None:
            files = progress.add_task("files", total=len(self.files), failed=0)
            total = sum(_size(f) for f in self.files)
            upload = progress.add_task("upload", total=total or None, failed=None)
            options["on_progress"] = _UploadMeter(progress, upload)
        stream = client.transcribe_many(self.files, concurrency=self.concurrency, **options)
        async with stream:
            async for outcome in stream:
                self._report(outcome)
                if progress is not None:
                    progress.update(files, completed=self.done, failed=self.failed)

    def _report(self, outcome: TranscribeOutcome[str]) -> None:
        self.done += 1
        if outcome.error is not None:
            self.failed += 1
            error = outcome.error
            self.sink.failure(outcome.source, one_line(error), error_json(error))
        else:
            self.sink.result(outcome.source, outcome.result)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class _UploadMeter:
    """Adds up audio bytes sent by every request in flight.

    ``on_progress`` reports the bytes sent so far of one request body; each body is sent
    by one task, so the last count is kept per task (a retry starts from zero again).
    """

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task
        self._last: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = weakref.WeakKeyDictionary()

    def __call__(self, sent: int) -> None:
        current = asyncio.current_task()
        if current is None:
            return
        last = self._last.get(current, 0)
        delta = sent - last if sent >= last else sent
        self._last[current] = sent
        self._progress.advance(self._task, delta)


class _AmountColumn(ProgressColumn):
    """``7/10 done, 1 failed`` for files; ``1.2/3.4 MB 5.6 MB/s`` for bytes."""

    def render(self, task: Task) -> Text:
        failed = task.fields.get("failed")
        if failed is not None:
            text = Text(f"{int(task.completed)}/{int(task.total or 0)} done")
            if failed:
                text.append(f", {failed} failed", style="red")
            return text
        total = decimal(int(task.total)) if task.total else "?"
        speed = f" {decimal(int(task.speed))}/s" if task.speed else ""
        return Text(f"{decimal(int(task.completed))}/{total}{speed}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>6}"),
        BarColumn(),
        _AmountColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
