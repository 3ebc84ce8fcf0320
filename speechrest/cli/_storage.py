"""``speechrest batch submit FILE|FOLDER... --container ...``: local audio through Blob
Storage (speechrest.storage), with the transcripts written next to each input or in --out."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from ..errors import InvalidInputError
from ._app import EXIT_FAILED, EXIT_OK, Target, is_tty, one_line
from ._output import plain, render, unique_stem

if TYPE_CHECKING:
    from azure.storage.blob.aio import ContainerClient

    from ..storage import FileResults, StorageProgress

__all__ = ["CONNECTION_STRING", "submit_files_command"]

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"


def _storage() -> Any:
    try:
        from .. import storage
    except ImportError:
        raise InvalidInputError(
            "uploading local files needs azure-storage-blob: pip install 'speechrest[storage]'"
        ) from None
    return storage


def container_of(value: str, what: str) -> str | ContainerClient:
    """A container URL with a SAS as given, or a container name in the storage account of
    ``AZURE_STORAGE_CONNECTION_STRING``."""
    if "://" in value:
        return value
    connection = os.environ.get(CONNECTION_STRING)
    if not connection:
        raise InvalidInputError(
            f"{what} {value!r} is a container name: set {CONNECTION_STRING} to the storage "
            "account's connection string, or give the container's URL with a SAS"
        )
    _storage()
    from azure.storage.blob.aio import ContainerClient

    client: ContainerClient = ContainerClient.from_connection_string(
        connection, value, max_single_put_size=1024 * 1024, max_block_size=1024 * 1024
    )
    return client


class _Status:
    """One status line on a terminal (nothing otherwise)."""

    def __init__(self) -> None:
        self.console = Console(stderr=True) if is_tty(sys.stderr) else None

    def __call__(self, p: StorageProgress) -> None:
        if self.console is None:
            return
        if p.stage == "upload":
            text = f"uploading: {p.files_uploaded + p.files_skipped}/{p.files} files"
            text += f" ({p.files_skipped} already there)" if p.files_skipped else ""
        else:
            text = f"{p.stage}: {p.jobs_done}/{p.jobs} jobs ended"
        self.console.print(text, end="\r", highlight=False, markup=False)


def _write(results: FileResults, fmt: str, out: Path | None) -> int:
    """Write each transcript next to its input (or into ``out``); report the failures."""
    stems: set[str] = set()
    failed = 0
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for path, outcome in results.items():
        if outcome.result is None:
            failed += 1
            click.echo(
                f"speechrest: {plain(path)}: "
                f"{one_line(outcome.error) if outcome.error else 'failed'}",
                err=True,
            )
            continue
        folder, stem = (
            (path.parent, path.stem) if out is None else (out, unique_stem(str(path), stems))
        )
        for suffix, body in render(outcome.result, fmt, pretty=True):
            target = folder / f"{stem}{suffix}"
            target.write_text(body, encoding="utf-8", newline="")  # the text, exactly
            click.echo(plain(target))
    return EXIT_FAILED if failed else EXIT_OK


async def submit_files_command(
    target: Target,
    files: list[str],
    kwargs: dict[str, Any],
    options: dict[str, Any],
) -> int:
    """Upload ``files`` (paths or folders) to ``--container``, submit, and with --wait write
    the transcripts; without it print the job ids."""
    storage = _storage()
    async with contextlib.AsyncExitStack() as stack:
        container = await _enter(stack, container_of(kwargs["container"], "--container"))
        common = {"container": container, "prefix": kwargs["prefix"] or ""}
        destination = kwargs["destination"]
        if kwargs["then_wait"]:
            if destination is not None:
                options["destination_container"] = await _enter(
                    stack, container_of(destination, "--destination")
                )
            return await _transcribe(storage, target, files, kwargs, options, common)
        return await _submit(storage, target, files, kwargs, options, common)


async def _enter(stack: contextlib.AsyncExitStack, value: Any) -> Any:
    """``value``, opened and closed with the stack when it is a client made here."""
    return value if isinstance(value, str) else await stack.enter_async_context(value)


async def _transcribe(
    storage: Any,
    target: Target,
    files: list[str],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    common: dict[str, Any],
) -> int:
    results = await storage.transcribe_files(
        target.client,
        [Path(f) for f in files],
        delete_uploaded=kwargs["delete_uploaded"],
        on_progress=_Status(),
        **common,
        **options,
    )
    for job in results.jobs:
        click.echo(f"job {plain(job.id)}", err=True)
    return _write(results, kwargs["fmt"], kwargs["out"])


async def _submit(
    storage: Any,
    target: Target,
    files: list[str],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    common: dict[str, Any],
) -> int:
    destination = kwargs["destination"]
    if kwargs["delete_uploaded"]:
        raise click.UsageError("--delete-uploaded needs --wait (the audio is read by the job)")
    if destination is not None and "://" not in destination:
        raise click.UsageError("without --wait, give --destination as a container URL with a SAS")
    uploaded = await storage.upload_files([Path(f) for f in files], on_progress=_Status(), **common)
    submitted = await storage.submit_files(
        target.client, uploaded, destination_container_url=destination, **options
    )
    failed = 0
    for job, _ in submitted:
        if isinstance(job, Exception):
            failed += 1
            click.echo(f"speechrest: {one_line(job)}", err=True)
        else:
            click.echo(plain(job.id))
    return EXIT_FAILED if failed else EXIT_OK
