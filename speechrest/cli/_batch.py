"""``speechrest batch``: submit jobs, wait for them, download their results, list, delete."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.status import Status as Spinner
from rich.table import Table
from rich.text import Text

from .. import SpeechClient, redact_url, unstructure
from ..types import Transcription
from ._app import (
    EXIT_FAILED,
    EXIT_OK,
    connection_options,
    is_tty,
    one_line,
    open_target,
    out_folder,
    remote_connection_options,
    run_async,
    take_connection,
)
from ._output import FORMATS, Sink, dumps, plain
from ._storage import submit_files_command
from ._transcribe import PROFANITY, channels_option, recognition_options

__all__ = ["batch"]


@click.group()
def batch() -> None:
    """Batch transcription: submit audio URLs, wait, download the results."""


def job_options(func: Any) -> Any:
    """The recognition options of a batch job, and how long it is kept (``--ttl-hours``)."""
    for option in reversed(_JOB_OPTIONS):
        func = option(func)
    return func


_JOB_OPTIONS = (
    click.option("--diarize", is_flag=True, help="Tell speakers apart."),
    click.option(
        "--max-speakers", type=click.IntRange(2, 35), metavar="N", help="Turns --diarize on."
    ),
    click.option(
        "--channels", callback=channels_option, metavar="0,1", help="Channels to transcribe."
    ),
    click.option("--profanity", type=click.Choice(PROFANITY, case_sensitive=False)),
    click.option("--words", is_flag=True, help="Word-level timestamps (better subtitles)."),
    click.option("--model", metavar="ID", help="A custom model id."),
    click.option(
        "--ttl-hours",
        type=click.IntRange(6, 744),
        default=48,
        show_default=True,
        help="How long each job and its results are kept after it ends.",
    ),
)


def _output_options(func: Any) -> Any:
    func = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        callback=out_folder,
        help="Write one file per input (per channel for subtitles) into this folder.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="Format of the results.",
    )(func)


@batch.command()
@click.argument("sources", nargs=-1, metavar="URL|FILE|FOLDER...")
@click.option(
    "--container",
    metavar="URL|NAME",
    help="With local files: the blob container to upload them to (a URL with a SAS allowing "
    "rlw, or a container name with AZURE_STORAGE_CONNECTION_STRING). Alone: a container "
    "SAS URL (rl) whose blobs to transcribe.",
)
@click.option(
    "--destination",
    metavar="URL|NAME",
    help="A blob container the service writes the results to (SAS allowing rw).",
)
@click.option("--prefix", metavar="PATH/", help="Blob name prefix for uploaded files.")
@click.option(
    "--delete-uploaded", is_flag=True, help="Delete the uploaded audio once the jobs ended."
)
@click.option("--locale", default="en-US", show_default=True, help="Locale of the audio.")
@click.option("--name", "display_name", help="Display name of the job.")
@job_options
@click.option("--wait", "then_wait", is_flag=True, help="Wait for the job, then print results.")
@_output_options
@connection_options
def submit(**kwargs: Any) -> int:
    """Submit a batch transcription job and print its id.

    URL... are audio URLs the service can read (SAS URLs for private blobs), or give
    --container. Local files and folders (their audio files) given with --container are
    uploaded to that container first (already uploaded files are skipped), in jobs of up to
    1,000 files; with --wait their transcripts are written next to each input (or into
    --out). With --local, local files may be given without a container: the emulator serves
    them. With --wait, waits for the job and prints its results as `batch results` does.
    """
    conn = take_connection(kwargs)
    sources: tuple[str, ...] = kwargs.pop("sources")
    container = kwargs["container"]
    local_files = [s for s in sources if "://" not in s]
    upload = bool(local_files and container)
    _check_sources(sources, local_files, container, upload, conn.local)
    if conn.local and not kwargs["then_wait"]:
        raise click.UsageError("a --local job lives only as long as the command: add --wait")
    options = _submit_options(kwargs)

    async def go() -> int:
        async with open_target(conn) as target:
            if upload:
                return await submit_files_command(target, local_files, kwargs, options)
            served = {s: target.serve(s) for s in local_files}
            urls = [served.get(s, s) for s in sources]
            if urls:
                options["content_urls"] = urls
            elif container:
                options["content_container_url"] = container
            if kwargs["destination"]:
                options["destination_container_url"] = kwargs["destination"]
            job = await target.client.transcriptions.submit(**options)
            if not kwargs["then_wait"]:
                click.echo(plain(job.id))
                return EXIT_OK
            click.echo(f"submitted {plain(job.id)}", err=True)
            status = await _wait(target.client, [job.id], err=True)
            if status != EXIT_OK:
                return status
            labels = {_plain(url): path for path, url in served.items()}
            return await _results(target.client, job.id, kwargs["fmt"], kwargs["out"], labels)

    result: int = run_async(go)
    return result


def _check_sources(
    sources: tuple[str, ...],
    local_files: list[str],
    container: str | None,
    upload: bool,
    local: bool,
) -> None:
    if not sources and not container:
        raise click.UsageError("give audio URLs, local files with --container, or --container")
    if upload and len(local_files) != len(sources):
        raise click.UsageError("give local files or URLs with --container, not both")
    if sources and container and not upload:
        raise click.UsageError("give audio URLs or --container URL (one of them)")
    if local_files and not upload and not local:
        raise click.UsageError(
            f"{local_files[0]} is not a URL: give --container to upload local files to Blob "
            "Storage (use `speechrest transcribe` for fast transcription, or --local to try "
            "the emulator)"
        )


def _submit_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "locale": kwargs["locale"],
        "time_to_live_hours": kwargs["ttl_hours"],
    }
    for key in ("display_name", "model"):
        if kwargs[key] is not None:
            options[key] = kwargs[key]
    options.update(recognition_options(kwargs))
    if kwargs["words"]:
        options["word_level_timestamps"] = True
        options["display_form_word_level_timestamps"] = True
    return options


def _plain(url: str) -> str:
    return url.split("?", 1)[0]


@batch.command()
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@remote_connection_options
def wait(**kwargs: Any) -> int:
    """Wait until jobs end; print "ID<TAB>STATUS" for each as it ends.

    Exit status 0 when every job succeeded, 1 when any failed or is gone.
    """
    conn = take_connection(kwargs)
    ids: tuple[str, ...] = kwargs["ids"]

    async def go() -> int:
        async with open_target(conn) as target:
            return await _wait(target.client, list(ids))

    result: int = run_async(go)
    return result


@batch.command()
@click.argument("job_id", metavar="ID")
@_output_options
@remote_connection_options
def results(**kwargs: Any) -> int:
    """Download and print the results of a finished job, one per input.

    Inputs that failed are reported on standard error (exit status 1).
    """
    conn = take_connection(kwargs)

    async def go() -> int:
        async with open_target(conn) as target:
            return await _results(target.client, kwargs["job_id"], kwargs["fmt"], kwargs["out"])

    result: int = run_async(go)
    return result


@batch.command("list")
@click.option("--filter", "filter_", metavar="EXPR", help="e.g. \"status eq 'Running'\".")
@click.option("--top", type=click.IntRange(1), metavar="N", help="List at most N jobs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document per job.")
@remote_connection_options
def list_(**kwargs: Any) -> int:
    """List batch transcription jobs (a table on a terminal, tab-separated otherwise)."""
    conn = take_connection(kwargs)

    async def go() -> list[Transcription]:
        jobs: list[Transcription] = []
        async with open_target(conn) as target:
            async for job in target.client.transcriptions.list(filter=kwargs["filter_"]):
                jobs.append(job)
                if kwargs["top"] is not None and len(jobs) >= kwargs["top"]:
                    break
        return jobs

    jobs: list[Transcription] = run_async(go)
    tty = is_tty(sys.stdout)
    if kwargs["as_json"]:
        for job in jobs:
            click.echo(dumps(unstructure(job), pretty=tty))
    elif tty:
        table = Table("id", "status", "created", "locale", "name")
        for job in jobs:
            table.add_row(*(Text(cell) for cell in _row(job)))  # text, never markup
        Console(highlight=False).print(table)
    else:
        for job in jobs:
            click.echo("\t".join(_row(job)))
    return EXIT_OK


@batch.command()
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@remote_connection_options
def delete(**kwargs: Any) -> int:
    """Delete jobs and their results (a job that has not ended cannot be deleted)."""
    conn = take_connection(kwargs)

    async def go() -> int:
        failed = 0
        async with open_target(conn) as target:
            for job_id in kwargs["ids"]:
                try:
                    await target.client.transcriptions.delete(job_id)
                except Exception as exc:
                    failed += 1
                    click.echo(f"speechrest: {plain(job_id)}: {one_line(exc)}", err=True)
                else:
                    click.echo(f"deleted {plain(job_id)}")
        return EXIT_FAILED if failed else EXIT_OK

    result: int = run_async(go)
    return result


def _row(job: Transcription) -> tuple[str, str, str, str, str]:
    """A job's columns, each on one line and safe to print (see :func:`plain`)."""
    created = job.created_date_time.strftime("%Y-%m-%d %H:%M:%S") if job.created_date_time else ""
    status = job.status.value if job.status is not None else ""
    return plain(job.id), plain(status), created, plain(job.locale), plain(job.display_name)


@contextlib.contextmanager
def _spinner(text: str) -> Iterator[Spinner | None]:
    if not is_tty(sys.stderr):
        yield None
        return
    with Console(stderr=True).status(Text(text)) as spinner:
        yield spinner


async def _wait(client: SpeechClient, ids: list[str], *, err: bool = False) -> int:
    """Wait for the jobs with a live status on a terminal; print "ID<TAB>STATUS" per job
    (on standard error with ``err``, to keep standard output for the results)."""
    failed = 0
    if len(ids) == 1:
        with _spinner(f"job {ids[0]}: waiting") as spinner:

            def show(job: Transcription) -> None:
                if spinner is not None and job.status is not None:
                    spinner.update(Text(f"job {plain(job.id)}: {plain(job.status.value)}"))

            try:
                job = await client.transcriptions.wait(ids[0], on_status=show)
            except Exception as exc:
                click.echo(f"{ids[0]}\tFailed", err=err)
                click.echo(f"speechrest: {ids[0]}: {one_line(exc)}", err=True)
                return EXIT_FAILED
        status = job.status.value if job.status else "Succeeded"
        click.echo(f"{plain(job.id)}\t{plain(status)}", err=err)
        return EXIT_OK
    with _spinner(f"waiting for {len(ids)} jobs") as spinner:
        done = 0
        async with client.transcriptions.wait_many(ids) as outcomes:
            async for outcome in outcomes:
                done += 1
                if outcome.ok:
                    click.echo(f"{outcome.id}\tSucceeded", err=err)
                else:
                    failed += 1
                    click.echo(f"{outcome.id}\tFailed", err=err)
                    reason = one_line(outcome.error) if outcome.error else "failed"
                    click.echo(f"speechrest: {outcome.id}: {reason}", err=True)
                if spinner is not None:
                    spinner.update(Text(f"{done}/{len(ids)} jobs ended ({failed} failed)"))
    return EXIT_FAILED if failed else EXIT_OK


async def _results(
    client: SpeechClient,
    job_id: str,
    fmt: str,
    out: Path | None,
    labels: dict[str, str] | None = None,
) -> int:
    """Print or write each result of a job, then report the inputs that failed. ``labels``
    names inputs (local files the emulator serves) by their URL without the query."""
    labels = labels or {}

    def label(url: str) -> str:
        return labels.get(_plain(url)) or redact_url(url)

    report = await client.transcriptions.report(job_id)
    count = len(report.details) if report is not None else 2
    sink = Sink(fmt, out, many=count > 1, pretty=is_tty(sys.stdout))
    async for result in client.transcriptions.results(job_id):
        sink.result(label(result.source), result)
    failures = report.failed if report is not None else []
    for detail in failures:
        message = ": ".join(m for m in (detail.error_kind, detail.error_message) if m)
        error = {"type": detail.error_kind, "message": detail.error_message}
        sink.failure(label(detail.input_url or "(unknown input)"), message or "failed", error)
    return EXIT_FAILED if failures else EXIT_OK
