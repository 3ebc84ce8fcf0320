"""A whole corpus through batch transcription, durably (``pip install 'speechrest[storage,cli]'``).

::

    from speechrest.pipeline import run_corpus

    async with SpeechClient.from_env() as client:
        report = await run_corpus(
            client, "calls/", "transcripts/", locale="en-US",
            container="https://acct.blob.core.windows.net/audio?<SAS>",
        )
    print(report.summary())

:func:`run_corpus` takes a folder, a list file (paths and URLs, one a line) or a blob
container URL with a SAS; uploads what is local (:mod:`speechrest.storage`), submits jobs of
at most 1,000 inputs within the client's quota, waits on them by list sweeps, downloads the
results in parallel and writes one output per input into the output folder, with
``report.json``. Its state is a SQLite database in ``<out>/.speechrest/``: stopped at any
moment (Ctrl+C, a crash, ``kill -9``) and started again with the same arguments, it resumes
without submitting an input twice while its job is alive, without losing one, and without
redoing finished work.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from ..errors import InvalidInputError
from ._report import InputOutcome, PipelineProgress, PipelineReport
from ._run import REPORT, STATE_FOLDER, Progress, Settings, check_settings, execute

if TYPE_CHECKING:
    from azure.storage.blob.aio import ContainerClient

    from .._client import SpeechClient
    from .._polling import PollPolicy
    from ..storage import BatchOptions

__all__ = [
    "FORMATS",
    "REPORT",
    "STATE_FOLDER",
    "InputOutcome",
    "PipelineProgress",
    "PipelineReport",
    "run_corpus",
]

FORMATS = ("json", "text", "srt", "vtt")
"""Output formats: the result file as JSON, its display text, SubRip or WebVTT subtitles."""


def _tools() -> tuple[Any, Any]:
    """The renderers of the command line (``speechrest[cli]``) and the storage module."""
    try:
        from .. import storage
        from ..cli._output import render
    except ImportError as exc:
        raise InvalidInputError(
            f"speechrest.pipeline needs {exc.name}: pip install 'speechrest[storage,cli]'"
        ) from None
    return render, storage


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(path))


async def run_corpus(
    client: SpeechClient,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    locale: str,
    container: str | ContainerClient | None = None,
    format: str = "json",
    prefix: str = "",
    files_per_job: int = 1000,
    max_attempts: int = 3,
    max_jobs: int | None = None,
    submit_grace: float = 60.0,
    delete_jobs: bool = True,
    poll: PollPolicy | None = None,
    concurrency: int = 8,
    sas_lifetime: timedelta | None = None,
    on_progress: Progress | None = None,
    **options: Unpack[BatchOptions],
) -> PipelineReport:
    """Transcribe every input of ``source`` with batch transcription; one output per input
    in the folder ``out``; return the :class:`PipelineReport` (also ``out/report.json``).

    ``source``: a folder (its audio files, recursively; other files are rejected), a text
    file listing local paths (relative to it) and ``http(s)`` URLs one a line (``#``
    comments), or a blob container URL with a SAS allowing ``rl``. Local files are uploaded
    to ``container`` (a container URL with a SAS allowing ``rlw``, or an
    ``azure.storage.blob.aio.ContainerClient`` with an account key) under ``prefix``, with
    their path relative to the folder; a blob already there with the same content is kept.

    Inputs go into jobs of at most ``files_per_job``; at most ``max_jobs`` jobs run at once
    (None: no limit but the client's quota). An input the service could not transcribe, or
    whose job failed, is submitted again in a new job, up to ``max_attempts`` jobs in all,
    then reported failed with the last reason. Bad inputs (unsupported extensions,
    unreadable or empty files, duplicates by content) are rejected before any upload and
    listed in the report. Outputs are ``out/<name>.<json|txt|srt|vtt>`` (``format``), named
    after each input's path relative to the source (``-2`` added to a name taken twice).

    Every job is named by a token recorded before it is submitted; a run killed between
    the request and the record finds its job by that name when it resumes, after
    ``submit_grace`` seconds (how long a request in flight may still take to arrive). Jobs
    are deleted once their results are written, unless ``delete_jobs`` is False. ``poll``
    overrides the waiting cadence (by default the service's ``Retry-After``, else
    Microsoft's guidance: once a minute growing to every 10 minutes). ``concurrency``
    bounds parallel hashing, uploads and result downloads. ``sas_lifetime`` (default 24 h
    30 min) is how long the links given to the service stay valid. The other options are
    those of ``client.transcriptions.submit`` for every job (not ``display_name``: the
    token is the name).

    Bad arguments raise :class:`~speechrest.errors.InvalidInputError` before any request;
    an output folder holding a run with another source, locale, format or options, too.
    """
    render, storage = _tools()
    if "display_name" in options:
        raise InvalidInputError("display_name is not an option here: each job is named by a token")
    fmt = format if format in FORMATS else None
    if fmt is None:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    settings = Settings(
        source=str(source),
        out=_absolute(out),
        container=container,
        locale=locale,
        fmt=fmt,
        prefix=prefix,
        files_per_job=files_per_job,
        max_attempts=max_attempts,
        max_jobs=max_jobs,
        submit_grace=submit_grace,
        delete_jobs=delete_jobs,
        poll=poll,
        concurrency=concurrency,
        options=dict(options),
        render=lambda result, f: render(result, f, pretty=True),
        suffixes=storage.AUDIO_SUFFIXES,
        sas_lifetime=sas_lifetime or storage.DEFAULT_SAS_LIFETIME,
    )
    check_settings(settings)
    return await execute(client, settings, on_progress)
