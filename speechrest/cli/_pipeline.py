"""``speechrest batch run SOURCE --out DIR``: a whole corpus through batch transcription,
resumable (speechrest.pipeline), with a live status on a terminal and plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ._app import (
    EXIT_FAILED,
    EXIT_OK,
    connection_options,
    is_tty,
    open_target,
    out_folder,
    run_async,
    take_connection,
)
from ._batch import _submit_options, job_options
from ._output import FORMATS, printable
from ._storage import container_of

if TYPE_CHECKING:
    from ..pipeline import PipelineProgress

__all__ = ["run"]


class _Display:
    """Progress: a live bar on a terminal (inputs done of the corpus, jobs by status, ETA);
    otherwise a plain line on standard error at each change of stage, jobs or inputs
    done, and every tenth of the uploads."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        if is_tty(sys.stderr):
            self.bar = Progress(
                TextColumn("{task.description:>10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(stderr=True),
            )
            self.task = self.bar.add_task("scanning", total=None, detail="")
        self.last: tuple[Any, ...] | None = None

    def __enter__(self) -> _Display:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, p: PipelineProgress) -> None:
        if self.bar is not None:
            if p.stage == "upload":
                total, done, detail = p.uploaded + p.to_upload, p.uploaded, "files uploaded"
            else:
                total, done, detail = p.inputs - p.rejected, p.finished - p.rejected, _jobs(p)
            self.bar.update(
                self.task, description=p.stage, total=total, completed=done, detail=detail
            )
            return
        tenth = p.uploaded * 10 // max(1, p.uploaded + p.to_upload)
        key = (p.stage, tenth, p.jobs_running, p.jobs_ended, p.done, p.failed)
        if key != self.last:
            self.last = key
            click.echo(f"speechrest: {_line(p)}", err=True)


def _jobs(p: PipelineProgress) -> str:
    text = f"{p.failed} failed, {p.rejected} rejected; jobs: {p.jobs_running} running, "
    text += f"{p.jobs_ended} ended"
    if p.eta_seconds is not None and p.stage != "done":
        minutes, seconds = divmod(int(p.eta_seconds), 60)
        text += f"; ETA {minutes}m{seconds:02d}s"
    return text


def _line(p: PipelineProgress) -> str:
    if p.stage == "scan":
        return f"scanning: {p.inputs} inputs ({p.rejected} rejected)"
    if p.stage == "upload":
        jobs = f"jobs: {p.jobs_running} running, {p.jobs_ended} ended"
        return f"uploading: {p.uploaded}/{p.uploaded + p.to_upload} files; {jobs}"
    waiting = f"{p.in_jobs} in jobs, {p.waiting} waiting"
    return f"{p.stage}: {p.done}/{p.inputs - p.rejected} inputs done, {waiting}, {_jobs(p)}"


@click.command("run")
@click.argument("source", metavar="FOLDER|LIST|CONTAINER-URL")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    help="Folder for the outputs, report.json and the run's state (.speechrest/).",
)
@click.option(
    "--container",
    metavar="URL|NAME",
    help="Blob container to upload local files to (a URL with a SAS allowing rlw, or a name "
    "with AZURE_STORAGE_CONNECTION_STRING).",
)
@click.option("--prefix", default="", metavar="PATH/", help="Blob name prefix for uploads.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="Format of each output.",
)
@click.option("--locale", default="en-US", show_default=True, help="Locale of the audio.")
@click.option(
    "--files-per-job",
    type=click.IntRange(1, 1000),
    default=1000,
    show_default=True,
    help="Inputs per batch job.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Jobs an input may be submitted in before it is reported failed.",
)
@click.option("--max-jobs", type=click.IntRange(1), metavar="N", help="Jobs running at once.")
@click.option("--keep-jobs", is_flag=True, help="Do not delete jobs once their results are in.")
@click.option(
    "--submit-grace",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a submission in flight may take to reach the service (a resumed run "
    "waits that long before it concludes that an unrecorded job was never created).",
)
@job_options
@connection_options
def run(**kwargs: Any) -> int:
    """Transcribe a whole corpus with batch transcription, resumably.

    SOURCE is a folder (its audio files, recursively), a text file listing local paths
    and URLs one a line, or a blob container URL with a SAS allowing rl. Local files are
    uploaded to --container first. Inputs go into jobs of up to 1,000 files within the
    service's quota; each input gets one output in --out, named after its path (failed
    inputs are retried in new jobs up to --max-attempts). --out also gets report.json.

    Stop it at any time (Ctrl+C, even kill -9) and run the same command again: it resumes
    where it was, without submitting anything twice. Exit status 1 when an input failed;
    rejected inputs (unsupported, unreadable, duplicates) are listed, not fatal.
    """
    conn = take_connection(kwargs)
    if conn.local:
        raise click.UsageError(
            "--local would lose the run's jobs with the command: run 'speechrest emulator' "
            "and set SPEECH_ENDPOINT and SPEECH_KEY to what it prints"
        )
    options = _submit_options({**kwargs, "display_name": None})  # as `batch submit` does
    del options["locale"]

    async def go() -> int:
        from ..pipeline import run_corpus

        async with contextlib.AsyncExitStack() as stack, open_target(conn) as target:
            container: Any = kwargs["container"]
            if container is not None:
                container = container_of(container, "--container")
                if not isinstance(container, str):
                    container = await stack.enter_async_context(container)
            with _Display() as display:
                report = await run_corpus(
                    target.client,
                    kwargs["source"],
                    kwargs["out"],
                    locale=kwargs["locale"],
                    container=container,
                    format=kwargs["fmt"],
                    prefix=kwargs["prefix"],
                    files_per_job=kwargs["files_per_job"],
                    max_attempts=kwargs["max_attempts"],
                    max_jobs=kwargs["max_jobs"],
                    submit_grace=kwargs["submit_grace"],
                    delete_jobs=not kwargs["keep_jobs"],
                    on_progress=display,
                    **options,
                )
        click.echo(printable(report.summary()))
        click.echo(f"report: {kwargs['out'] / 'report.json'}")
        return EXIT_FAILED if report.failed else EXIT_OK

    try:
        result: int = run_async(go)
    except KeyboardInterrupt:
        click.echo("speechrest: stopped; run the same command again to resume", err=True)
        raise
    return result
